// The coordinator's side of measure → plan: each rank calibrates itself on the job's own layers,
// rank 0 gathers the reports, builds the *measured* fleet (one device per rank, its throughput
// the figure the rank measured) and runs the partitioner on it.
#ifndef TANGRAM_ORCHESTRATOR_RUNTIME_COORDINATOR_H_
#define TANGRAM_ORCHESTRATOR_RUNTIME_COORDINATOR_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "orchestrator/job_config.h"
#include "orchestrator/model/corpus.h"
#include "orchestrator/model/gpt.h"
#include "orchestrator/model/probe.h"
#include "orchestrator/runtime/node_report.h"
#include "partitioner/cost_model.h"
#include "partitioner/device_catalog.h"
#include "partitioner/fleet.h"
#include "partitioner/plan.h"

namespace tangram::orchestrator {

// How CalibrateThisRank measures: `probes` probes of `warmup` untimed then up to `passes` timed
// passes per layer (train::ProbeStage), the median probe counts. One probe is easily disturbed
// when ranks share cores; the median of three is not, and still reflects the sharing that
// training will see.
struct CalibrationOptions {
  int probes = 3;
  int warmup = 2;
  int passes = 10;
  // Wall-clock budget of the whole calibration, EMULATION's idle time included; infinite = none.
  // Each probe gets an equal share (÷ the slowdown, whose idle time follows each probe), and a
  // layer past its part of that share stops after `min_passes` timed passes: with three probes,
  // three timed passes per layer at least. What ran is in the report (calibration_passes,
  // calibration_budget_hit). With a budget the passes take, nothing changes.
  absl::Duration budget = absl::InfiniteDuration();
  int min_passes = 1;
  // Called between passes and probes (train::ProbeOptions::between_passes); an error stops the
  // calibration and is returned.
  std::function<absl::Status()> between_passes;
};

// Measures this rank: forward + backward of every layer of the model on micro-batches of
// `micro_batch` sequences, after a warm-up (train::ProbeStage). With `slowdown` > 1 the measured
// time is stretched by that factor: EMULATION of a slower device, reported as such. After the
// probes it times one optimizer step of the whole model per probe (NodeReport::
// optimizer_ns_per_parameter, the median). With `layers`
// given, it receives each layer's timed passes of every probe (LayerThroughput::passes; the
// layer-time probe reuses them for tp 1).
absl::StatusOr<NodeReport> CalibrateThisRank(int rank, const train::GptOptions& model,
                                             const train::MarkovCorpus& corpus, int64_t micro_batch,
                                             double slowdown,
                                             const CalibrationOptions& options = {},
                                             std::vector<train::LayerThroughput>* layers = nullptr);

// `report`'s tp-1 layer times (embedding, one block, head; forward and backward, at its
// calibration's micro-batch) for fleet group `group` at `tflops`: one micro-batch's forward +
// backward at that rate (its flops_per_sample × micro-batch ÷ tflops), split as its calibration
// split it (NodeReport::layer_shares). Why: on the CPU runtime a block's backward took 1.1–1.4×
// its forward, not the 2× its FLOPs say, and the head's rate is not the blocks' — pipeline stages
// and their overlap with communication follow the measured split. Empty when the report has none.
std::vector<partitioner::MeasuredLayerTime> LayerTimesAt(const NodeReport& report, double tflops,
                                                         int group);

// One node group per rank (count 1, its host, the catalog entry of its device kind, its measured
// throughput and optimizer step); emulate_slowdown is 1 because the measurement already includes
// it. With `tp` > 1 (the job pins tensor parallelism), each run of `tp` consecutive ranks on one
// host with one device kind becomes one node of `tp` devices instead, at the slowest member's
// throughput (a tensor-parallel group runs in lockstep), so that the partitioner can place a tp
// group on it; device index == rank either way. A group whose (slowest) report carries its
// calibration's split over the layer kinds gets tp-1 layer times from it (LayerTimesAt): the
// cost model and simulator then time the embedding, blocks and head, forward and backward, as
// measured instead of splitting one rate by FLOPs.
absl::StatusOr<partitioner::Fleet> MeasuredFleet(const std::vector<NodeReport>& reports,
                                                 const partitioner::DeviceCatalog& catalog,
                                                 const partitioner::NetworkSpec& network,
                                                 int tp = 1);

// The tensor parallelism the runtime plans with: the job's `layout: {tp: N}` when it pins one,
// else 1 (CPU ranks gain nothing from tp, so planning does not search it).
int RuntimeTensorParallel(const JobConfig& job);

// The CPU runtime shards every stage over one tensor-parallel group size (its stage exchange
// sends whole activations between equal groups): kInvalidArgument naming the stages when
// `stage_tp` (a pinned layout's, or a plan's) gives stages different sizes. plan and simulate
// take such layouts; train refuses them before any rank starts.
absl::Status CheckRuntimeStageTp(const std::vector<int>& stage_tp);

// Plans `job` on `fleet` with `strategy`, with tp = RuntimeTensorParallel(job). The plan's devices
// are world ranks.
absl::StatusOr<partitioner::Plan> PlanOnFleet(const partitioner::Fleet& fleet, const JobConfig& job,
                                              partitioner::StrategyKind strategy);

// The cost model's prediction of `plan` on `fleet` (plan is copied and evaluated).
absl::StatusOr<double> PredictStepTime(const partitioner::Fleet& fleet, const JobConfig& job,
                                       partitioner::Plan plan);

// The fleet simulator's step time for `plan` on `fleet` (1F1B, contention on).
absl::StatusOr<double> SimulateStepTime(const partitioner::Fleet& fleet, const JobConfig& job,
                                        const partitioner::Plan& plan);

// `fleet` with rank r's measured throughput replaced by tflops[r] (entries <= 0 are kept); a
// group of several ranks (in FlattenFleet order) takes its slowest member's figure. A group's
// layer times scale with it (old rate ÷ new): live re-balancing moves the rate, the split stays.
partitioner::Fleet WithThroughput(partitioner::Fleet fleet, const std::vector<double>& tflops);

}  // namespace tangram::orchestrator

#endif  // TANGRAM_ORCHESTRATOR_RUNTIME_COORDINATOR_H_
