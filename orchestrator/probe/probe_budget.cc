#include "orchestrator/probe/probe_budget.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace tangram::orchestrator {

ProbeBudgetShares SplitProbeBudget(absl::Duration total, bool cpu_pools, bool layer_times) {
  ProbeBudgetShares shares;
  if (total == absl::InfiniteDuration()) return shares;
  const double weights = 3.0 + (cpu_pools ? 1.0 : 0.0) + (layer_times ? 1.0 : 0.0);
  shares.compute = total * (3.0 / weights);
  if (cpu_pools) shares.cpu_pools = total / weights;
  if (layer_times) shares.layer_times = total / weights;
  return shares;
}

std::string DescribeBudget(absl::Duration budget, int ranks_reached, int ranks) {
  if (budget == absl::InfiniteDuration()) return "no time budget";
  const std::string head = absl::StrFormat("budget %.3g s", absl::ToDoubleSeconds(budget));
  if (ranks_reached == 0) return absl::StrCat(head, ", not reached");
  return absl::StrCat(head, ", reached on ", ranks_reached, " of ", ranks, " ranks");
}

}  // namespace tangram::orchestrator
