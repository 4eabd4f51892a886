// hetero-pipeline: contiguous layer ranges per stage, sized to each stage's speed.
//
// Every replica is the same pipeline through a 1/dp share of every device pool; the stage ranges
// minimise the slowest stage exactly (GridEvaluator::Balance: dynamic programming over contiguous
// ranges under each stage's memory, with 1F1B's in-flight activations at each position), and the
// order of the pools along the pipeline is searched (all orders up to four pools). tp and dp are
// searched too unless the job pins them. The best layout wins; ties go to the shallower pipeline.
#include "absl/strings/str_cat.h"
#include "partitioner/layout_search.h"
#include "partitioner/strategy.h"

namespace tangram::partitioner {
namespace {

class HeteroPipelineStrategy : public Strategy {
 public:
  StrategyKind kind() const override { return StrategyKind::kHeteroPipeline; }
  std::string_view description() const override {
    return "speed-sized contiguous stages through every device kind, pool order searched";
  }

  absl::StatusOr<std::vector<Plan>> Generate(const CostModel& cost,
                                             const StrategyOptions& options) const override {
    if (!cost.training().layout.stage_tp.empty()) return PinnedStageTpPlans(cost, name());
    absl::Status error;
    bool any_layout = false;  // whether the pinned layout left any pipeline to evaluate
    std::string pools_text;   // "4 × H200, 2 × H20" units per pool (tp of the last try)
    for (int64_t b : MicroBatchCandidates(cost)) {
      std::vector<Plan> plans;
      for (int tp : TpCandidates(cost)) {
        if (cost.training().layout.tp && *cost.training().layout.tp != tp) continue;
        GridEvaluator grid(cost, tp);
        std::vector<ScoredLayout> layouts = MixedPipelineLayouts(grid, b);
        any_layout |= !layouts.empty();
        pools_text.clear();
        for (const Pool& p : grid.pools()) {
          absl::StrAppend(&pools_text, pools_text.empty() ? "" : ", ", p.size(), " x ", p.kind,
                          " (tp ", tp, ")");
        }
        std::vector<Plan> some =
            EvaluateBest(grid, std::move(layouts), options.alternatives + 1, kind(), &error);
        for (Plan& p : some) plans.push_back(std::move(p));
      }
      if (!plans.empty()) {
        std::stable_sort(plans.begin(), plans.end(), [](const Plan& x, const Plan& y) {
          return x.predicted.step_time_s < y.predicted.step_time_s;
        });
        plans.resize(std::min<size_t>(plans.size(), options.alternatives + 1));
        return plans;
      }
    }
    if (!error.ok()) return error;
    // No pipeline to try at all: the pinned layout rules every one out, which is not a memory
    // problem; say which pin does it.
    const PinnedLayout& pin = cost.training().layout;
    if (!any_layout && (pin.pp || pin.dp)) {
      std::string why;
      if (pin.pp && *pin.pp == 1) {
        why = "the pinned pp = 1 leaves no pipeline to build (use uniform or proportional)";
      } else if (pin.dp) {
        why = absl::StrCat("the pinned dp = ", *pin.dp,
                           " does not divide the units of the fleet's pools (", pools_text,
                           "): every replica needs the same share of each pool");
      } else {
        why = absl::StrCat("no split of the fleet's pools (", pools_text, ") gives pp = ", *pin.pp);
      }
      return absl::FailedPreconditionError(absl::StrCat("hetero-pipeline: ", why));
    }
    // Say what does not fit, with sizes: the deepest equal split is the closest to fitting.
    absl::StatusOr<std::vector<Plan>> uniform = NewUniformStrategy()->Generate(cost, {});
    return absl::FailedPreconditionError(
        absl::StrCat("hetero-pipeline: no pipeline through the fleet's pools fits memory",
                     uniform.ok() ? "" : absl::StrCat("; e.g. ", uniform.status().message())));
  }
};

}  // namespace

std::unique_ptr<Strategy> NewHeteroPipelineStrategy() {
  return std::make_unique<HeteroPipelineStrategy>();
}

}  // namespace tangram::partitioner
