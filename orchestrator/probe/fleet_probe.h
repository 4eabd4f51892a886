// `tangram probe`: every rank measures its compute on a job's own layers (as `train` does) and
// the network (ProbeLinks); rank 0 turns that into a fleet file with a `measured:` section that
// plan, simulate and compare then use in place of catalog figures (partitioner/measurements.h).
//
// Ranks map to the fleet's devices in FlattenFleet order (rank r is device r); groups no rank ran
// on keep their catalog figures (group_tflops 0). A group's figure is its slowest rank's. For a
// group of one node, its `host` becomes the host its ranks ran on. Emulated slowdowns stay in the
// nodes (labelled EMULATION) and are included in the measured figures, as in `train`.
#ifndef TANGRAM_ORCHESTRATOR_PROBE_FLEET_PROBE_H_
#define TANGRAM_ORCHESTRATOR_PROBE_FLEET_PROBE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "collectives/communicator.h"
#include "collectives/link_model.h"
#include "orchestrator/job_config.h"
#include "orchestrator/probe/layer_time_probe.h"
#include "orchestrator/probe/link_probe.h"
#include "orchestrator/probe/probe_budget.h"
#include "orchestrator/runtime/node_report.h"
#include "partitioner/fleet.h"

namespace tangram::orchestrator {

struct FleetProbeOptions {
  const JobConfig* job = nullptr;  // compute on its layers; nullptr = links only
  bool links = true;               // measure the network
  // With a job: also time its embedding, one block and its head, forward and backward, at tp 1
  // and at each tensor-parallel degree the ranks' hosts can form (layer_time_probe.h).
  bool layer_times = true;
  // Wall-clock budget of the compute parts together (probe_budget.h): each runs passes until its
  // pass count or its share is reached, never fewer than its minimum, and `how:` says which.
  // Infinite: the full pass counts, however long they take.
  absl::Duration budget = absl::Seconds(kDefaultProbeBudgetSeconds);
  // Per rank: the host it stands for; empty = gethostname(). The simulated transport runs every
  // rank on one machine and passes the fleet's nodes (SimHosts).
  std::vector<std::string> hosts;
  LinkProbeOptions link_options;
};

struct FleetProbeResult {
  std::vector<NodeReport> reports;     // every rank's (compute 0 without a job)
  partitioner::Measurements measured;  // the `measured:` section
  partitioner::Fleet fleet;            // the input fleet with the figures applied and hosts set
  // Wall time on this rank of the whole probe and of its parts (0: the part did not run).
  double seconds = 0;
  double compute_seconds = 0;     // calibration (the job's layers, every rank at once)
  double cpu_pool_seconds = 0;    // CPU pools: each machine's first rank alone
  double layer_time_seconds = 0;  // layer times per kind and tp degree
  double link_seconds = 0;        // the network probe
  double collective_seconds = 0;  // one tensor-parallel allreduce as training pays it
};

// Collective over `world`. Every rank returns the same result. kInvalidArgument when `world` has
// more ranks than the fleet has devices (rank r is fleet device r).
absl::StatusOr<FleetProbeResult> ProbeFleet(collectives::Communicator& world,
                                            const partitioner::Fleet& fleet,
                                            const FleetProbeOptions& options);

// Host and island of every rank: hosts from the reports, islands from the fleet's device r.
std::vector<RankPlace> PlacesOf(const std::vector<NodeReport>& reports,
                                const partitioner::Fleet& fleet);

// The reports' distinct hosts in rank order of first appearance (Measurements::hosts).
std::vector<std::string> DistinctHosts(const std::vector<NodeReport>& reports);

// One host name per device of `fleet`: its group's host, else "node<k>" (FlattenFleet's node).
std::vector<std::string> SimHosts(const partitioner::Fleet& fleet);

// The α-β link model of `fleet`'s first `ranks` devices for the simulated transport, three levels
// (same node: the first group's intra-node link and latency; same island: its NIC share; across
// islands: the inter-island link), from the fleet's figures (catalog unless measured).
absl::StatusOr<collectives::LinkModel> SimLinks(const partitioner::Fleet& fleet, int ranks);

// The fleet as a fleet file, with its measured section (the reverse of LoadFleet). `written_by`
// opens the file's first comment line: who wrote it and what its nodes are.
std::string FleetToYaml(const partitioner::Fleet& fleet,
                        const std::string& written_by = "`tangram probe`: the fleet as given");

}  // namespace tangram::orchestrator

#endif  // TANGRAM_ORCHESTRATOR_PROBE_FLEET_PROBE_H_
