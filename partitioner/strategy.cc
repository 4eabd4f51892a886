#include "partitioner/strategy.h"

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace tangram::partitioner {

std::unique_ptr<Strategy> CreateStrategy(StrategyKind kind) {
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
