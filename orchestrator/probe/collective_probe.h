// The cost of one small collective among a tensor-parallel group as training pays it: every rank
// computing between collectives, waiting with the transport's wait policy.
//
// Why. Tensor parallelism runs several small allreduces per layer and micro-batch; each completes
// only when every rank of the group has reached it. With more runnable ranks than cores (the CPU
// runtime oversubscribing a host; the netns harness's namespace hosts, which all share this
// machine's cores: EMULATION of hosts), a rank that arrives first waits for a partner the scheduler
// has not yet run. A ping-pong between idle ranks (ProbeLinks) measures microseconds, and the
// time a rank spends inside an allreduce measures milliseconds, but neither is what the step
// pays: while a rank waits (yielding, wait_policy.h) its core runs the partner or another group,
// so most of that wait is compute the simulator already charges (the cell's compute at the pool's
// busy rate). Summing it on top charged tp2's 64 collectives a step 3.8 ms each, a step 64 % too
// slow (docs/simulator.md). So the probe does what tensor-parallel training does — all groups at
// once, each rank alternating `compute_s` of busy arithmetic with an allreduce of `bytes` over its
// group — and also the same arithmetic without the allreduces, with every rank at it; the cost of
// one collective is the wall-time difference per collective (never below 0). The comm model takes
// it as the fixed cost of each tensor-parallel collective (partitioner::LinkSpec::collective_us) in
// place of the ring's latency terms.
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

// Collective over `world`. Seconds one allreduce adds to a rank's loop of compute and allreduces
// over the same compute alone, per allreduce, mean over the ranks (>= 0); nullopt (after taking
// part) when the world does not split into groups of `group_size` ranks each on one host
// (`places`), or group_size < 2.
absl::StatusOr<std::optional<double>> ProbeGroupCollective(collectives::Communicator& world,
                                                           const std::vector<RankPlace>& places,
                                                           const CollectiveProbeOptions& options);

}  // namespace tangram::orchestrator

#endif  // TANGRAM_ORCHESTRATOR_PROBE_COLLECTIVE_PROBE_H_
