// The training run on one rank: measure → plan → train, with re-balancing and checkpoints.
//
// Every rank calls TrainOnRank with its world communicator (one rank per process under mpirun,
// or one per thread on the simulated transport). Rank 0 is the coordinator: it gathers every
// rank's calibration, plans on the measured fleet (or runs --plan, or plans on the fleet file's
// figures), broadcasts the plan, logs progress (base/log.h: info lines, warnings at warn) and
// writes the metrics; every rank then trains its stage of its replica. See docs/training.md.
#ifndef TANGRAM_ORCHESTRATOR_RUNTIME_TRAINER_H_
#define TANGRAM_ORCHESTRATOR_RUNTIME_TRAINER_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "collectives/communicator.h"
#include "orchestrator/job_config.h"
#include "orchestrator/model/layer_state.h"
#include "orchestrator/probe/probe_budget.h"
#include "orchestrator/runtime/node_report.h"
#include "partitioner/device_catalog.h"
#include "partitioner/measurements.h"
#include "partitioner/plan.h"

namespace tangram::orchestrator {

// EMULATION: from step `step` (0-based) on, rank `rank` stretches its compute `factor` times.
struct SlowdownChange {
  int rank = 0;
  int64_t step = 0;
  double factor = 1;
};

struct TrainOptions {
  std::optional<partitioner::StrategyKind> strategy;  // none = the job's strategy
  std::string plan_path;            // run this plan file instead of planning (devices = ranks)
  bool catalog_throughput = false;  // plan on the fleet file's figures instead of measurements
  // Rank 0 writes the fleet the run measured and first planned on here (measured_fleet_file.h);
  // "" = not written. Only when planning from measurements.
  std::string measured_fleet_path;
  // Measure the links (orchestrator/probe/link_probe.h) after the compute and plan on them.
  bool link_probe = true;
  // Wall-clock budget of the start-of-run compute probe (calibration and, off the simulated
  // transport, the CPU pools' solo rate; orchestrator/probe/probe_budget.h). Infinite: the full
  // pass counts.
  absl::Duration probe_budget = absl::Seconds(kDefaultProbeBudgetSeconds);
  int64_t steps = 0;              // total steps; 0 = the job's
  std::string checkpoint_dir;     // "" = the job's checkpoint_dir
  int64_t checkpoint_every = -1;  // -1 = the job's
  bool resume = false;            // continue from the latest checkpoint in checkpoint_dir
  std::string resume_dir;         // resume from here instead ("" = checkpoint_dir)
  std::string metrics_path;       // rank 0 appends one JSON line per step; "" = none
  // Re-balancing (only when planning from measurements with a strategy other than uniform).
  bool rebalance = true;
  double rebalance_threshold = 0.10;  // re-plan when the new plan is predicted this much faster
  int rebalance_patience = 2;         // ... for this many consecutive steps
  double ema_alpha = 0.5;             // weight of the newest step in the moving average
  std::vector<SlowdownChange> slowdown_changes;
  // Per-rank emulated slowdown; empty = the fleet file's emulate_slowdown of device `rank`.
  std::vector<double> slowdowns;
  bool collect_layers = false;  // rank 0 gathers every layer's final state into the result
  // Check each rank's host name against the fleet's `host` of its device (hosts.h); off on the
  // simulated transport, whose ranks are threads of one process.
  bool check_hosts = false;
  // Warn when the measured step exceeds the plan's prediction by more than `slow_step_margin`
  // (0.5 = 50 %) for `slow_step_patience` consecutive steps.
  double slow_step_margin = 0.5;
  int slow_step_patience = 3;
  // Each such warning also re-probes the links (with link_probe, on more than one rank) and
  // re-plans on them, at most this many times per run: a host that is only busy is not probed
  // forever.
  int max_reprobes = 3;
  // ... and re-plans only when a link class's bandwidth or latency moved by more than this
  // fraction (either way: 0.5 = beyond 1.5x or below 1/1.5 of the figure planned on), or a class
  // was measured for the first time: on unchanged links the slowness is not the network's, and
  // drifting compute throughput is re-balancing's to handle.
  double reprobe_link_change = 0.5;
};

struct TrainResult {
  int rank = 0;            // the rank this result is from (0: the coordinator)
  int64_t first_step = 0;  // the step training started from (a checkpoint's, when resuming)
  int64_t steps_done = 0;  // the step reached
  // A rank was asked to stop (stop_request.h): the run ended after steps_done, below the job's
  // steps, with a checkpoint of that step committed.
  bool stopped_on_request = false;
  std::vector<double> losses;       // mean loss of each step run
  std::vector<double> step_times;   // seconds, as rank 0 measured them
  std::vector<NodeReport> reports;  // calibration of every rank
  // The network as measured at the start, or at the last re-probe that was planned on (empty when
  // not probed or not timed).
  std::vector<partitioner::MeasuredLink> links;
  std::optional<partitioner::MeasuredNic> nic;
  std::vector<partitioner::MeasuredHostLink> host_links;  // pairs of hosts (link_probe.h 3b)
  std::optional<partitioner::MeasuredFanout> fanout;      // link_probe.h 3c
  std::vector<partitioner::MeasuredCpuPool> cpu_pools;    // ranks sharing a machine's cores
  // Wall time on this rank of the start-of-run probe, and of its parts.
  double probe_seconds = 0;        // calibration, CPU pools, links and the tp collective
  double calibration_seconds = 0;  // every rank's calibration, gathered
  double cpu_pool_seconds = 0;
  double link_probe_seconds = 0;
  // Rank 0, when it was pinned: which CPU each rank of its machine trains on under the latest plan
  // (cpu_pinning.h); "" when not pinned.
  std::string cpu_pinning;
  partitioner::Plan initial_plan;
  partitioner::Plan plan;            // the plan at the end
  double predicted_step_time_s = 0;  // the cost model's figure for the initial plan
  double simulated_step_time_s = 0;  // the fleet simulator's figure for the initial plan
  // At the end of the run, on the throughput each rank showed in training (moving average):
  std::vector<double> final_tflops;        // per rank
  double final_simulated_step_time_s = 0;  // the simulator's figure for the final plan
  double final_ideal_step_time_s = 0;      // the last step's FLOPs ÷ the summed throughput
  int replans = 0;
  std::vector<std::string> replan_log;   // reason and layer moves of each re-plan
  int reprobes = 0;                      // link re-probes after slow steps (every rank counts)
  std::vector<std::string> reprobe_log;  // rank 0: what each re-probe measured and decided
  std::vector<std::string> warnings;     // rank 0: e.g. steps slower than predicted
  int64_t layers_moved = 0;  // moves made; with tp > 1, one per shard (tp per layer and cell)
  std::map<std::string, train::LayerState> layers;  // rank 0 with collect_layers: final states
  // Rank 0 with collect_layers and tp > 1: the largest difference between a tensor that every
  // rank of a cell holds whole (norms, biases, embedding, head) on any rank of replica 0 and the
  // same tensor on the cell's tp_rank 0 (0 when they stayed identical).
  double tp_replica_difference = 0;
};

absl::StatusOr<TrainResult> TrainOnRank(collectives::Communicator& world, const JobConfig& job,
                                        const partitioner::DeviceCatalog& catalog,
                                        const TrainOptions& options);

}  // namespace tangram::orchestrator

#endif  // TANGRAM_ORCHESTRATOR_RUNTIME_TRAINER_H_
