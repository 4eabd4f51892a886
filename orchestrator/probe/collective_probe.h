// The cost of one small collective among a tensor-parallel group as training pays it: every rank
// computing between collectives, waiting with the transport's wait policy.
//
// Why. Tensor parallelism runs several small allreduces per layer and micro-batch; each completes
// only when every rank of the group has reached it. With more runnable ranks than cores (the CPU
// runtime oversubscribing a host; the netns harness's namespace hosts, which all share this
// machine's cores: EMULATION of hosts), a rank that arrives first waits for a partner the scheduler
// has not yet run, and the wake-up after the wait loop's naps adds to it. A ping-pong between idle
// ranks (ProbeLinks) measures microseconds; training pays milliseconds. So the probe does what
// tensor-parallel training does — all groups at once, each rank alternating `compute_s` of busy
// arithmetic with an allreduce of `bytes` over its group — and reports the mean time a rank spends
// in one allreduce. The comm model takes it as the fixed cost of each tensor-parallel collective
// (partitioner::LinkSpec::collective_us) in place of the ring's latency terms.
//
// Thread-compatible: one call per rank.
#ifndef TANGRAM_ORCHESTRATOR_PROBE_COLLECTIVE_PROBE_H_
#define TANGRAM_ORCHESTRATOR_PROBE_COLLECTIVE_PROBE_H_

#include <cstddef>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "collectives/communicator.h"
#include "orchestrator/probe/link_probe.h"

namespace tangram::orchestrator {

struct CollectiveProbeOptions {
  int group_size = 2;    // consecutive ranks form a group (the runtime's tensor-parallel groups)
  double compute_s = 0;  // busy arithmetic between collectives, at the all-ranks-busy rate
  size_t bytes = 65536;  // per allreduce
  int iterations = 60;   // collectives timed per rank, after 3 untimed
};

// Collective over `world`. Seconds one allreduce costs a rank, mean over the ranks and
// iterations; nullopt (after taking part) when the world does not split into groups of
// `group_size` ranks each on one host (`places`), or group_size < 2.
absl::StatusOr<std::optional<double>> ProbeGroupCollective(collectives::Communicator& world,
                                                           const std::vector<RankPlace>& places,
                                                           const CollectiveProbeOptions& options);

}  // namespace tangram::orchestrator

#endif  // TANGRAM_ORCHESTRATOR_PROBE_COLLECTIVE_PROBE_H_
