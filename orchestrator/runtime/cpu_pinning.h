// Which CPU each rank of an oversubscribed machine trains on.
//
// On a machine holding more ranks than CPUs (the CPU runtime oversubscribing a host; on this
// project's development machine, every namespace host of the netns harness) the kernel chooses
// which ranks share a core, and it keeps its first choice for the whole run: the same pp2dp2 case
// (4 ranks, 2 cores, tiny-gpt over 1 Gbit/s) trained at 0.110 s a step in one run and 0.140 s in
// the next; pinned with taskset so that each stage's two ranks sat on different cores it trained
// at 0.107 and 0.118 s, pinned so that they shared one at 0.162 and 0.123 s (docs/simulator.md,
// "Session 20"). Ranks that compute at the same time — the replicas of one stage, the
// tensor-parallel ranks of one cell — must sit on different cores, which is what the simulator's
// CPU pool (processor sharing, simulator/cpu_pool.h) assumes of them.
//
// So training pins them: the ranks of one pool (partitioner::MeasuredCpuPool: one machine's ranks)
// in the plan's stage-major order (stage, then replica, then tensor-parallel rank; ranks the plan
// leaves idle last) take the machine's CPUs round-robin. Only for a pipeline (pp > 1) and only
// when the ranks are a whole multiple of the CPUs. Without a pipeline every rank computes at once
// and every placement shares alike, while the kernel keeps one thing pinning would take away: a
// CPU whose ranks finished first runs a rank from the other (pinned, dp4 over 1 Gbit/s trained its
// two CPUs' ranks at 0.103 and 0.133 s of compute a step and left the faster CPU idle meanwhile).
// With 3 ranks on 2 CPUs one CPU would hold two ranks for the whole run while the other held one:
// the kernel mostly keeps such a pairing too, but moves a waiting pair's rank to the idle CPU now
// and then, and pinned `pp3` trained slower (1.44 and 1.49 s a step against 1.18 and 1.21 s;
// docs/simulator.md, "Session 21"). A machine with a CPU per rank is not touched.
//
// TANGRAM_CPU_PINNING=0 in the environment turns pinning off (the kernel's placement, as before).
// Thread-compatible.
#ifndef TANGRAM_ORCHESTRATOR_RUNTIME_CPU_PINNING_H_
#define TANGRAM_ORCHESTRATOR_RUNTIME_CPU_PINNING_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "partitioner/measurements.h"
#include "partitioner/plan.h"

namespace tangram::orchestrator {

// Per rank of `pool` (in `pool.ranks` order): the index, among its machine's CPUs (ascending), of
// the CPU it is pinned to under `plan`; empty when the pool is not pinned (one stage, ranks not a
// whole multiple above its cores, or TANGRAM_CPU_PINNING=0).
std::vector<int> PinnedCpus(const partitioner::Plan& plan,
                            const partitioner::MeasuredCpuPool& pool);

// The index, among its machine's CPUs (ascending), of the CPU `rank` is pinned to under `plan`;
// nullopt when it is not pinned: `plan` has one stage, `rank` is in no pool, its pool's ranks do
// not exceed its cores by a whole multiple, or TANGRAM_CPU_PINNING=0 (the simulator asks this too,
// so that it models what this process's training would do).
std::optional<int> PinnedCpuIndex(const partitioner::Plan& plan,
                                  const std::vector<partitioner::MeasuredCpuPool>& pools, int rank);

// One line for the log: each pinned pool's CPUs and the ranks on each ("ranks 0,2 on CPU 1 of 2,
// ranks 1,3 on CPU 2 of 2"); "" when nothing is pinned.
std::string DescribePinning(const partitioner::Plan& plan,
                            const std::vector<partitioner::MeasuredCpuPool>& pools);

// Pins this process, world rank `rank`, to its CPU under `plan` (sched_setaffinity), counted among
// the CPUs this process could run on at its first call (the launcher's affinity, kept so that a
// later plan can pin it elsewhere). Not pinned (returns false) when PinnedCpuIndex says so or when
// that affinity does not hold exactly the pool's CPU count (the launcher bound the ranks itself);
// a process an earlier plan pinned then gets the launcher's affinity back. kInternal when the
// kernel refuses the affinity.
absl::StatusOr<bool> PinThisRank(const partitioner::Plan& plan,
                                 const std::vector<partitioner::MeasuredCpuPool>& pools, int rank);

}  // namespace tangram::orchestrator

#endif  // TANGRAM_ORCHESTRATOR_RUNTIME_CPU_PINNING_H_
