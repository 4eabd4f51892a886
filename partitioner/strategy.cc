#include "partitioner/strategy.h"

#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "partitioner/chunks.h"

namespace tangram::partitioner {
namespace {

std::unique_ptr<Strategy> NewStrategy(StrategyKind kind) {
  switch (kind) {
    case StrategyKind::kAuto:
      return NewAutoStrategy();
    case StrategyKind::kHeteroPipeline:
      return NewHeteroPipelineStrategy();
    case StrategyKind::kProportional:
      return NewProportionalStrategy();
    case StrategyKind::kUniform:
      return NewUniformStrategy();
    case StrategyKind::kOracle:
      return NewOracleStrategy();
  }
  return NewAutoStrategy();
}

// Checks the job's pinned layout (CheckPinnedLayout) before the strategy searches.
class PinCheckedStrategy : public Strategy {
 public:
  explicit PinCheckedStrategy(std::unique_ptr<Strategy> inner) : inner_(std::move(inner)) {}
  StrategyKind kind() const override { return inner_->kind(); }
  std::string_view description() const override { return inner_->description(); }
  absl::StatusOr<std::vector<Plan>> Generate(const CostModel& cost,
                                             const StrategyOptions& options) const override {
    TANGRAM_RETURN_IF_ERROR(CheckPinnedLayout(cost));
    TANGRAM_ASSIGN_OR_RETURN(std::vector<Plan> plans, inner_->Generate(cost, options));
    // A plan whose stages cannot hold the pinned virtual stages is not one the simulator (or a
    // trainer) can run: drop it, and fail naming the first when none is left.
    absl::Status first = absl::OkStatus();
    std::erase_if(plans, [&](const Plan& plan) {
      absl::Status s = CheckPlanChunks(cost, plan);
      if (first.ok()) first = s;
      return !s.ok();
    });
    if (plans.empty() && !first.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat(StrategyName(kind()), ": ", first.message()));
    }
    return plans;
  }

 private:
  std::unique_ptr<Strategy> inner_;
};

}  // namespace

absl::Status CheckPlanChunks(const CostModel& cost, const Plan& plan) {
  const PinnedLayout& pin = cost.training().layout;
  const int v = VirtualStagesOf(pin, plan.pp);
  if (v <= 1) return absl::OkStatus();
  auto ranges = ChunkRanges(plan, v, pin.chunk_split);
  if (!ranges.ok()) return absl::FailedPreconditionError(ranges.status().message());
  return absl::OkStatus();
}

absl::Status CheckPinnedTp(const PinnedLayout& layout, const ModelSpec& model) {
  if (!layout.tp || !layout.stage_tp.empty()) return absl::OkStatus();
  const int tp = *layout.tp;
  if (tp != 1 && tp != 2 && tp != 4 && tp != 8) {
    return absl::InvalidArgumentError(
        absl::StrCat("layout.tp = ", tp, ": tensor-parallel sizes are 1, 2, 4 or 8"));
  }
  if (model.heads % tp != 0 || model.ffn_hidden % tp != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("layout.tp = ", tp, ": tp must divide model ", model.name, "'s heads (",
                     model.heads, ") and FFN width (", model.ffn_hidden, ") to shard them"));
  }
  return absl::OkStatus();
}

namespace {

// Interleaving needs a pipeline, and each of the pinned stages at least virtual_stages layers to
// split into chunks (chunks.h StageSplits: decoder layers, or every layer with chunk_split
// all_layers); the simulator refused such plans after every strategy had made one.
absl::Status CheckPinnedVirtualStages(const CostModel& cost) {
  const PinnedLayout& pin = cost.training().layout;
  const int v = pin.virtual_stages.value_or(1);
  if (v <= 1 || !pin.pp) return absl::OkStatus();
  const int pp = *pin.pp;
  if (pp == 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("layout.virtual_stages = ", v,
                     " interleaves a pipeline, but layout.pp is 1: pin pp >= 2 "
                     "or drop virtual_stages"));
  }
  const bool all_layers = pin.chunk_split == ChunkSplit::kAllLayers;
  const int64_t layers = cost.num_layers() - (all_layers ? 0 : 2);
  if (int64_t{pp} * v > layers) {
    return absl::InvalidArgumentError(
        absl::StrCat("layout.pp = ", pp, " with layout.virtual_stages = ", v, " needs ", v,
                     all_layers ? " layers" : " decoder layers", " in each stage (",
                     int64_t{pp} * v, " in all), but model ", cost.model().name, " has ", layers,
                     all_layers ? " layers (embedding and head counted)" : " decoder layers"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckPinnedLayout(const CostModel& cost) {
  const PinnedLayout& pin = cost.training().layout;
  if (!pin.stage_tp.empty()) return absl::OkStatus();  // job_config checks a per-stage list
  const Fleet& fleet = cost.fleet();
  if (pin.tp) {
    const int tp = *pin.tp;
    TANGRAM_RETURN_IF_ERROR(CheckPinnedTp(pin, cost.model()));
    std::set<int> sizes;
    bool fits = false;
    for (const NodeGroup& g : fleet.groups) {
      fits |= g.devices_per_node % tp == 0;
      sizes.insert(g.devices_per_node);
    }
    if (!fits) {
      return absl::InvalidArgumentError(absl::StrCat(
          "layout.tp = ", tp, ": tensor parallelism stays inside one node, and no node of fleet ",
          fleet.name, " holds a multiple of ", tp,
          " devices (devices per node: ", absl::StrJoin(sizes, ", "), ")"));
    }
  }
  // A stage holds at least one of the cost model's layers (embedding, decoder blocks or their
  // halves, head); a stage of the embedding alone is valid, so the bound is their count.
  if (pin.pp && *pin.pp > cost.num_layers()) {
    return absl::InvalidArgumentError(
        absl::StrCat("layout.pp = ", *pin.pp, ": model ", cost.model().name, " has only ",
                     cost.num_layers(), " layers to split into stages (embedding, ",
                     cost.model().layers, " decoder layers, head)"));
  }
  TANGRAM_RETURN_IF_ERROR(CheckPinnedVirtualStages(cost));
  if (pin.dp && *pin.dp > cost.training().global_batch) {
    return absl::InvalidArgumentError(
        absl::StrCat("layout.dp = ", *pin.dp, ": more replicas than the global batch's ",
                     cost.training().global_batch, " sequences (each replica needs at least one)"));
  }
  const int64_t needed =
      static_cast<int64_t>(pin.tp.value_or(1)) * pin.pp.value_or(1) * pin.dp.value_or(1);
  const int64_t devices = static_cast<int64_t>(cost.slots().size());
  if (needed > devices) {
    return absl::InvalidArgumentError(absl::StrCat("layout tp ", pin.tp.value_or(1), " x pp ",
                                                   pin.pp.value_or(1), " x dp ", pin.dp.value_or(1),
                                                   " needs ", needed, " devices, but fleet ",
                                                   fleet.name, " has ", devices));
  }
  return absl::OkStatus();
}

std::unique_ptr<Strategy> CreateStrategy(StrategyKind kind) {
  return std::make_unique<PinCheckedStrategy>(NewStrategy(kind));
}

absl::StatusOr<std::unique_ptr<Strategy>> CreateStrategy(std::string_view name) {
  TANGRAM_ASSIGN_OR_RETURN(StrategyKind kind, ParseStrategy(name));
  return CreateStrategy(kind);
}

absl::StatusOr<Plan> MakePlan(const CostModel& cost, StrategyKind strategy) {
  TANGRAM_ASSIGN_OR_RETURN(std::vector<Plan> plans,
                           CreateStrategy(strategy)->Generate(cost, StrategyOptions{}));
  if (plans.empty()) {
    return absl::InternalError(absl::StrCat(StrategyName(strategy), " returned no plan"));
  }
  return std::move(plans.front());
}

absl::StatusOr<Plan> MakePlan(const CostModel& cost, std::string_view strategy) {
  TANGRAM_ASSIGN_OR_RETURN(StrategyKind kind, ParseStrategy(strategy));
  return MakePlan(cost, kind);
}

}  // namespace tangram::partitioner
