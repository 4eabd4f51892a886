// The coordinator's side of measure → plan: each rank calibrates itself on the job's own layers,
// rank 0 gathers the reports, builds the *measured* fleet (one device per rank, its throughput
// the figure the rank measured) and runs the partitioner on it.
#ifndef TANGRAM_ORCHESTRATOR_RUNTIME_COORDINATOR_H_
#define TANGRAM_ORCHESTRATOR_RUNTIME_COORDINATOR_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "orchestrator/job_config.h"
#include "orchestrator/model/corpus.h"
#include "orchestrator/model/gpt.h"
#include "orchestrator/runtime/node_report.h"
#include "partitioner/cost_model.h"
#include "partitioner/device_catalog.h"
#include "partitioner/fleet.h"
#include "partitioner/plan.h"

namespace tangram::orchestrator {

// Measures this rank: forward + backward of every layer of the model on micro-batches of
// `micro_batch` sequences, after a warm-up (train::ProbeStage). With `slowdown` > 1 the measured
// time is stretched by that factor: EMULATION of a slower device, reported as such.
absl::StatusOr<NodeReport> CalibrateThisRank(int rank, const train::GptOptions& model,
                                             const train::MarkovCorpus& corpus, int64_t micro_batch,
                                             double slowdown);

// One node group per rank (count 1, its host, the catalog entry of its device kind, its measured
// throughput); emulate_slowdown is 1 because the measurement already includes it. With `tp` > 1
// (the job pins tensor parallelism), each run of `tp` consecutive ranks on one host with one
// device kind becomes one node of `tp` devices instead, at the slowest member's throughput (a
// tensor-parallel group runs in lockstep), so that the partitioner can place a tp group on it;
// device index == rank either way.
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
// group of several ranks (in FlattenFleet order) takes its slowest member's figure.
partitioner::Fleet WithThroughput(partitioner::Fleet fleet, const std::vector<double>& tflops);

}  // namespace tangram::orchestrator

#endif  // TANGRAM_ORCHESTRATOR_RUNTIME_COORDINATOR_H_
