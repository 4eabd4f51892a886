// Partition strategies: pluggable, chosen by kind (StrategyKind, kinds.h) or by its name.
//
//   auto             joint search over tp, pp, dp, the grouping of devices into stages and
//                    replicas, micro-batch count (and size, when memory needs it); best +
//                    runners-up
//   hetero-pipeline  one kind-mixed pipeline shape repeated dp times, stage ranges sized to speed
//   proportional     data parallel only; each device's samples ∝ its throughput
//   uniform          Megatron-LM's layout: equal layers per stage, equal batch per replica
//   oracle           exhaustive search, small cases only (≤ 8 devices, ≤ 16 decoder layers)
//
// A strategy reads a CostModel (fleet, model, training and the cost formulas) and returns
// evaluated Plans (CostModel::Evaluate has filled their predictions). A job that cannot fit is
// kFailedPrecondition with a message that says what does not fit, by how much, and what would help;
// bad input (a pinned layout the fleet cannot hold) is kInvalidArgument.
//
// Strategies are stateless; Generate may be called from several threads at once.
#ifndef TANGRAM_PARTITIONER_STRATEGY_H_
#define TANGRAM_PARTITIONER_STRATEGY_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "partitioner/cost_model.h"
#include "partitioner/kinds.h"
#include "partitioner/plan.h"

namespace tangram::partitioner {

struct StrategyOptions {
  int alternatives = 0;  // runners-up wanted after the best plan (auto and oracle)
};

class Strategy {
 public:
  virtual ~Strategy() = default;
  virtual StrategyKind kind() const = 0;
  std::string_view name() const { return StrategyName(kind()); }  // kinds.h
  virtual std::string_view description() const = 0;
  // The best plan first, then up to options.alternatives runners-up, all evaluated.
  virtual absl::StatusOr<std::vector<Plan>> Generate(const CostModel& cost,
                                                     const StrategyOptions& options) const = 0;
};

// The strategy of kind `kind`.
std::unique_ptr<Strategy> CreateStrategy(StrategyKind kind);
// The strategy called `name` (StrategyNames(), kinds.h), or ParseStrategy's kInvalidArgument
// listing the known names.
absl::StatusOr<std::unique_ptr<Strategy>> CreateStrategy(std::string_view name);

// A job's pinned layout (TrainingSpec::layout) against the fleet, the model and the batch, before
// any search: kInvalidArgument naming the pin when no strategy can honour it (tp not 1, 2, 4 or 8,
// not dividing the model's heads and FFN width, or dividing no node's devices; pp above the
// model's layers; virtual_stages > 1 with pp 1, or more chunks than the pinned stages have
// layers for; dp above the global batch; tp × pp × dp above the fleet's devices). Without this a
// search that finds nothing reported "no layout fits the fleet's memory". A per-stage tp list is
// checked where it is read (job_config). Every strategy CreateStrategy returns runs this first.
absl::Status CheckPinnedLayout(const CostModel& cost);

// Whether `plan`'s stages can be split into the job's virtual stages (chunks.h ChunkRanges; OK
// without interleaving or without a pipeline): kFailedPrecondition naming the stage otherwise.
// Every strategy CreateStrategy returns drops plans that fail it (the simulator refuses them).
absl::Status CheckPlanChunks(const CostModel& cost, const Plan& plan);

// A pinned scalar tp against the model alone: it must be 1, 2, 4 or 8 (the sizes the strategies
// search) and divide the heads and the FFN width (as a per-stage list's entries must), else
// kInvalidArgument. Fleet-independent, so a job is checked with it when it loads.
absl::Status CheckPinnedTp(const PinnedLayout& layout, const ModelSpec& model);

// CreateStrategy → Generate → the best plan.
absl::StatusOr<Plan> MakePlan(const CostModel& cost, StrategyKind strategy);
absl::StatusOr<Plan> MakePlan(const CostModel& cost, std::string_view strategy);

// The plan of a pinned tensor-parallel size per stage (TrainingSpec::layout.stage_tp), for every
// strategy (the layout leaves nothing to search): equal decoder blocks per stage and equal samples
// per replica as uniform builds them, stage s in dp cells of stage_tp[s] devices in Megatron's rank
// order (stage s takes the dp·stage_tp[s] devices after those of the stages before it). dp is the
// pinned one or devices ÷ Σ stage_tp. kInvalidArgument when the list's length is not pp, dp × Σ
// stage_tp is not the fleet's device count, or a stage's tp does not divide its nodes' devices.
absl::StatusOr<std::vector<Plan>> PinnedStageTpPlans(const CostModel& cost,
                                                     std::string_view strategy);

// Direct constructors, one per file.
std::unique_ptr<Strategy> NewUniformStrategy();
std::unique_ptr<Strategy> NewProportionalStrategy();
std::unique_ptr<Strategy> NewHeteroPipelineStrategy();
std::unique_ptr<Strategy> NewAutoStrategy();
std::unique_ptr<Strategy> NewOracleStrategy();

}  // namespace tangram::partitioner

#endif  // TANGRAM_PARTITIONER_STRATEGY_H_
