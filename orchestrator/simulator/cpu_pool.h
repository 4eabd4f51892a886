// CPU pools in the simulator: ranks whose compute shares one machine's cores
// (partitioner::MeasuredCpuPool, measured by the probe) compute as processor sharing.
//
// Where it matters. The CPU runtime oversubscribing a host, and — on this project's development
// machine — every namespace host of the netns harness (EMULATION of hosts: they all run on this
// machine's cores). Calibration measures a rank's rate with every rank of its pool computing; in a
// pipeline the ranks waiting in bubbles and pipeline receives give their cores back, and the ones
// computing run faster. A pool of C effective cores (MeasuredCpuPool::EffectiveCores) runs each of
// its computing tasks at rate min(1, C ÷ D), D the summed core demand of the tasks computing at
// that instant; every start and end reshares the pool and moves the others' completion times.
// Fleets without a measured pool (every GPU fleet) build no pool: the engine takes its plain path
// and its results are unchanged, to the bit.
//
// A pooled op's end is known only when it ends, so its gradient buckets are released then (what
// the CPU runtime does: it reduces after the last backward); with overlap_grad_reduce they would
// go out during the backward, which a pooled op does not model.
//
// Thread-compatible; internal to the simulator.
#ifndef TANGRAM_ORCHESTRATOR_SIMULATOR_CPU_POOL_H_
#define TANGRAM_ORCHESTRATOR_SIMULATOR_CPU_POOL_H_

#include <cstdint>
#include <vector>

#include "orchestrator/simulator/engine.h"
#include "orchestrator/simulator/simulator.h"
#include "partitioner/fleet.h"
#include "partitioner/plan.h"

namespace tangram::simulator::internal {

// Processor sharing over pools of cores. Tasks are small non-negative ids (the engine's cells);
// one task per id at a time.
class ProcessorSharing {
 public:
  // One completion time that moved: the task's (re)scheduled end. Older versions are stale.
  struct Due {
    int32_t id = 0;
    uint32_t version = 0;
    double t = 0;
  };

  // `cores` per pool (> 0); ids below `tasks`.
  ProcessorSharing(std::vector<double> cores, int32_t tasks);

  // Task `id` starts `work` seconds of compute (its time with the cores to itself) in `pool`,
  // using `demand` cores while it runs. Fills changed() with every task of the pool.
  void Start(int32_t id, int32_t pool, double work, double demand, double now);
  // Task `id` ended (its current Due came due). Fills changed() with the pool's survivors.
  void Finish(int32_t id, double now);
  // Whether (id, version) is the task's current completion.
  bool Current(int32_t id, uint32_t version) const;
  const std::vector<Due>& changed() const { return changed_; }

 private:
  struct Task {
    int32_t pool = -1;  // -1: not running
    double remaining = 0, demand = 1, rate = 1, updated = 0;
    uint32_t version = 0;
  };
  void Reshare(int32_t pool, double now);

  std::vector<double> cores_;
  std::vector<std::vector<int32_t>> running_;  // per pool
  std::vector<double> load_;                   // per pool: summed demand of running tasks
  std::vector<Task> tasks_;
  std::vector<Due> changed_;
};

// Fills the pool fields of `work` from `fleet`'s measured CPU pools (none: left empty). `cells`
// are the labelled result cells (devices, slowdown), one per work cell. A pool whose ranks the CPU
// runtime pins under `plan` (orchestrator/runtime/cpu_pinning.h: ranks a whole multiple of its
// CPUs) runs as one pool per CPU, each with the ranks pinned there and 1/CPUs of its effective
// cores; any other pool as one.
void AttachCpuPools(const partitioner::Fleet& fleet, const partitioner::Plan& plan,
                    const std::vector<CellResult>& cells, Workload* work);

}  // namespace tangram::simulator::internal

#endif  // TANGRAM_ORCHESTRATOR_SIMULATOR_CPU_POOL_H_
