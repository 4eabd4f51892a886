#include "partitioner/strategy.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"

namespace tangram::partitioner {

std::vector<std::string> StrategyNames() {
  return {"auto", "hetero-pipeline", "proportional", "uniform", "oracle"};
}

absl::StatusOr<std::unique_ptr<Strategy>> CreateStrategy(std::string_view name) {
  if (name == "uniform") return NewUniformStrategy();
  if (name == "proportional") return NewProportionalStrategy();
  if (name == "hetero-pipeline") return NewHeteroPipelineStrategy();
  if (name == "auto") return NewAutoStrategy();
  if (name == "oracle") return NewOracleStrategy();
  return absl::InvalidArgumentError(
      absl::StrCat("unknown strategy \"", std::string(name),
                   "\" (known: ", absl::StrJoin(StrategyNames(), ", "), ")"));
}

absl::StatusOr<Plan> MakePlan(const CostModel& cost, std::string_view strategy) {
  TANGRAM_ASSIGN_OR_RETURN(std::unique_ptr<Strategy> s, CreateStrategy(strategy));
  TANGRAM_ASSIGN_OR_RETURN(std::vector<Plan> plans, s->Generate(cost, StrategyOptions{}));
  if (plans.empty())
    return absl::InternalError(absl::StrCat(std::string(strategy), " returned no plan"));
  return std::move(plans.front());
}

}  // namespace tangram::partitioner
