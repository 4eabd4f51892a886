// The fleet a `train` run planned on, as a fleet file (`train --measured-fleet FILE`).
//
// Why: the start of every run measures its ranks' compute and its links and plans and simulates on
// them, but that fleet lived only in the run. Written out, the in-run prediction can be simulated
// again, traced and compared offline (`tangram simulate --job` on a job naming the file), and a
// team can commit what its run measured, as it can `tangram probe --out`'s file.
//
// The file is the planning fleet itself: one node per rank (a tensor-parallel group's ranks on one
// host: one node), with its host, island and measured throughput, and a `measured:` section
// (partitioner/measurements.h) holding the rest of what the run measured — each node's optimizer
// step and tp-1 layer times, the links, NIC, fan-out, host pairs and CPU pools. Reading it back
// gives the fleet the run planned on, to the printed precision.
#ifndef TANGRAM_ORCHESTRATOR_RUNTIME_MEASURED_FLEET_FILE_H_
#define TANGRAM_ORCHESTRATOR_RUNTIME_MEASURED_FLEET_FILE_H_

#include <string>

#include "partitioner/fleet.h"
#include "partitioner/measurements.h"

namespace tangram::orchestrator {

// `planning` (a measured fleet: coordinator.h's MeasuredFleet, links applied) as fleet-file text;
// `m` holds what the run's probe measured of the network and the CPU pools (its hosts
// included), `ranks` the run's world size, `how` how it was measured.
std::string MeasuredFleetYaml(const partitioner::Fleet& planning, partitioner::Measurements m,
                              int64_t ranks, const std::string& how);

}  // namespace tangram::orchestrator

#endif  // TANGRAM_ORCHESTRATOR_RUNTIME_MEASURED_FLEET_FILE_H_
