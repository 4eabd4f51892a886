// Uses the installed headers and libraries: loads the built-in catalog and a shipped fleet.
#include <iostream>

#include "orchestrator/job_config.h"
#include "partitioner/device_catalog.h"
#include "partitioner/fleet.h"

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  auto catalog = tangram::partitioner::DeviceCatalog::BuiltIn();
  if (!catalog.ok()) return 1;
  auto fleet = tangram::partitioner::LoadFleet(argv[1], *catalog);
  if (!fleet.ok()) {
    std::cerr << fleet.status() << "\n";
    return 1;
  }
  std::cout << "consumer: " << fleet->name << " has " << fleet->num_devices() << " devices\n";
  return 0;
}
