// Which ranks share a machine's cores, and how much faster one of them computes alone: the
// `cpu_pools` of a measured fleet (partitioner/measurements.h), which the simulator runs as
// processor sharing (orchestrator/simulator/cpu_pool.h).
//
// Ranks share a machine when they read the same kernel boot id (/proc/sys/kernel/random/boot_id):
// network namespaces and containers of one machine do, separate machines do not. A pool's cores
// are the union of its ranks' CPU affinity (sched_getaffinity): a launcher that binds every
// "host"'s first rank to core 0 shows as one core. Every machine with two or more ranks is a pool:
// its busy rate is the mean of its ranks' calibrated rates (every rank computing, EMULATION
// undone); its solo rate is measured by its lowest rank computing alone while the others wait —
// in receives, the wait policy of training, so that waiting ranks take from the cores what they
// take in a pipeline bubble. Machines measure their solo rate at the same time (they share
// nothing). Every other rank waits for each leader pulse by pulse (pulse.h): a leader's solo
// measurement (up to its share of the probe budget) may outlast one call's timeout.
//
// On this project's development machine every namespace host of the netns harness is one pool:
// EMULATION of hosts, which the model then accounts for. A GPU fleet's ranks compute on their
// devices; `train` and `probe` measure CPU compute, so pools describe the CPU runtime only.
// Thread-compatible: one call per rank.
#ifndef TANGRAM_ORCHESTRATOR_PROBE_CPU_POOL_PROBE_H_
#define TANGRAM_ORCHESTRATOR_PROBE_CPU_POOL_PROBE_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "collectives/communicator.h"
#include "orchestrator/runtime/node_report.h"
#include "partitioner/measurements.h"

namespace tangram::orchestrator {

struct ThisMachine {
  std::string machine;    // boot id prefix; "" when unreadable (then every rank is its own machine)
  int cores = 1;          // CPUs this process may run on
  std::vector<int> cpus;  // which (sched_getaffinity); empty = unknown
};
ThisMachine DescribeThisMachine();

// Collective over `world`. `busy_tflops`: this rank's calibrated rate with every rank computing
// (EMULATION undone); `demand`: the cores it uses while computing (1 ÷ its EMULATION slowdown);
// `solo` measures this rank's rate computing alone (EMULATION off), called on pool leaders only;
// it must call `pulse` between its steps (which sends at most once per `pulse_interval`, keep it
// well below the communicator's timeout). `machine_override` (tests: the simulated transport)
// replaces DescribeThisMachine when set. Every rank returns the same pools, ranks ascending.
using SoloProbe = std::function<absl::StatusOr<double>(const std::function<absl::Status()>& pulse)>;
absl::StatusOr<std::vector<partitioner::MeasuredCpuPool>> ProbeCpuPools(
    collectives::Communicator& world, double busy_tflops, double demand, const SoloProbe& solo,
    const ThisMachine* machine_override = nullptr,
    absl::Duration pulse_interval = absl::Seconds(1));

// The ranks of one pool that carry one EMULATION slowdown get one share of its cores over a run,
// but not within a calibration of a second or two: the scheduler hands them unequal shares there
// (4 ranks on 2 cores read 0.012 and 0.025 TFLOP/s side by side), and a group's slowest rank would
// carry the low reading into every step. Replaces each such rank's `measured_tflops` with the mean
// over those peers (which keeps the pool's busy rate, their mean).
//
// A rank with a larger slowdown than the pool's least slowed ranks takes their mean × (their
// slowdown ÷ its own): its compute runs among the same busy peers, and its own reading is partly
// taken alone — the others finish their calibration first and wait for it (uneven4 over
// 500 Mbit/s: ranks 0–2 calibrated in 1.75 s, the 2×-slowed rank 3 in 2.95 s and read 0.0145
// TFLOP/s, above half its peers' 0.0165; it trained at 0.0087, and the step was simulated 19 %
// fast; docs/simulator.md, "Session 21"). Ranks outside every pool keep their reading. `reports`
// is indexed by rank.
void ShareCalibrationWithinPools(const std::vector<partitioner::MeasuredCpuPool>& pools,
                                 std::vector<NodeReport>& reports);

}  // namespace tangram::orchestrator

#endif  // TANGRAM_ORCHESTRATOR_PROBE_CPU_POOL_PROBE_H_
