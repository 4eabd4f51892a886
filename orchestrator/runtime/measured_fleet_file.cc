#include "orchestrator/runtime/measured_fleet_file.h"

#include "absl/time/clock.h"
#include "orchestrator/probe/fleet_probe.h"
#include "orchestrator/version.h"

namespace tangram::orchestrator {

std::string MeasuredFleetYaml(const partitioner::Fleet& planning, partitioner::Measurements m,
                              int64_t ranks, const std::string& how) {
  partitioner::Fleet fleet = planning;
  m.when = absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone());
  m.how = how;
  m.tool_version = kTangramVersion;
  m.ranks = ranks;
  m.group_tflops.clear();
  m.group_optimizer_ns.clear();
  m.layer_times.clear();
  for (size_t g = 0; g < fleet.groups.size(); ++g) {
    partitioner::NodeGroup& group = fleet.groups[g];
    m.group_tflops.push_back(group.measured_tflops.value_or(0));
    m.group_optimizer_ns.push_back(group.measured_optimizer_ns.value_or(0));
    for (partitioner::MeasuredLayerTime t : group.layer_times) {
      t.group = static_cast<int>(g);
      m.layer_times.push_back(t);
    }
    // The section carries them; the file read back applies it once.
    group.layer_times.clear();
  }
  fleet.measured = m;
  return FleetToYaml(
      fleet, "`tangram train --measured-fleet`: the fleet the run planned on, one node per rank");
}

}  // namespace tangram::orchestrator
