#include "partitioner/strategy.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"

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
    return inner_->Generate(cost, options);
  }

 private:
  std::unique_ptr<Strategy> inner_;
};

}  // namespace

absl::Status CheckPinnedLayout(const CostModel& cost) {
  const PinnedLayout& pin = cost.training().layout;
  if (!pin.stage_tp.empty()) return absl::OkStatus();  // job_config checks a per-stage list
  const Fleet& fleet = cost.fleet();
  if (pin.tp) {
    const int tp = *pin.tp;
    if (tp != 1 && tp != 2 && tp != 4 && tp != 8) {
      return absl::InvalidArgumentError(
          absl::StrCat("layout.tp = ", tp, ": tensor-parallel sizes are 1, 2, 4 or 8"));
    }
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
