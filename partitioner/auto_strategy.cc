// auto: the joint search. For each micro-batch size (the job's; halved only when nothing fits),
// each tensor-parallel degree inside a node, it enumerates two layout families (layout_search.h):
// homogeneous replicas of every pipeline depth, their samples water-filled by speed, and mixed
// pipelines of every replica count with every pool order, stage ranges balanced exactly. A search
// ranks layouts with GridEvaluator (class-level, so 4,096 devices cost what a handful of pools
// cost); the best few are materialized and evaluated exactly, together with the plans of uniform,
// proportional and hetero-pipeline, so auto is never worse than any of them. Pruning: pipeline
// depths stop once the step time has risen for several depths in a row, and replicas of one pool
// sequence are evaluated once.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "partitioner/layout_search.h"
#include "partitioner/strategy.h"

namespace tangram::partitioner {
namespace {

class AutoStrategy : public Strategy {
 public:
  StrategyKind kind() const override { return StrategyKind::kAuto; }
  std::string_view description() const override {
    return "joint search over tp, pp, dp, grouping, stage ranges and batch shares";
  }

  absl::StatusOr<std::vector<Plan>> Generate(const CostModel& cost,
                                             const StrategyOptions& options) const override {
    if (!cost.training().layout.stage_tp.empty()) return PinnedStageTpPlans(cost, name());
    const size_t keep = static_cast<size_t>(options.alternatives) + 1;
    std::vector<Plan> plans;
    absl::Status error;
    for (int64_t b : MicroBatchCandidates(cost)) {
      for (int tp : TpCandidates(cost)) {
        if (cost.training().layout.tp && *cost.training().layout.tp != tp) continue;
        GridEvaluator grid(cost, tp);
        // Each family keeps its own best few, so auto never loses to hetero-pipeline either.
        std::vector<ScoredLayout> moved;
        for (auto* family : {&HomogeneousReplicaLayouts, &MixedPipelineLayouts}) {
          std::vector<ScoredLayout> layouts = family(grid, b);
          std::stable_sort(layouts.begin(), layouts.end(),
                           [](const ScoredLayout& x, const ScoredLayout& y) {
                             return x.step_time_s < y.step_time_s;
                           });
          // Small fleets: local moves from the best few (up to 64 on oracle-sized
          // fleets of ≤ 8 units, where each move is cheap) reach replicas of different shapes.
          // ImproveByMoves does nothing on larger fleets.
          int64_t units = 0;
          for (const Pool& pool : grid.pools()) units += pool.size();
          const size_t starts = units <= 8 ? 64 : 8;
          for (size_t i = 0; i < std::min(layouts.size(), starts); ++i) {
            ScoredLayout s = layouts[i];
            ImproveByMoves(grid, &s);
            if (s.step_time_s < layouts[i].step_time_s) {
              s.family = "mixed-replicas";
              moved.push_back(std::move(s));
            }
          }
          for (Plan& p : EvaluateBest(grid, std::move(layouts), keep, kind(), &error)) {
            plans.push_back(std::move(p));
          }
        }
        for (Plan& p : EvaluateBest(grid, std::move(moved), keep, kind(), &error)) {
          plans.push_back(std::move(p));
        }
      }
      if (!plans.empty()) break;
    }
    // The baselines are candidates too: auto never loses to them.
    for (auto make : {NewUniformStrategy, NewProportionalStrategy}) {
      absl::StatusOr<std::vector<Plan>> baseline = make()->Generate(cost, StrategyOptions{});
      if (!baseline.ok()) continue;
      Plan& p = baseline->front();
      p.notes.push_back(absl::StrCat("layout: ", StrategyName(p.strategy)));
      p.strategy = kind();
      plans.push_back(std::move(p));
    }
    if (plans.empty()) {
      // Say what does not fit, with sizes: the deepest equal split is the closest to fitting.
      absl::StatusOr<std::vector<Plan>> uniform = NewUniformStrategy()->Generate(cost, {});
      return absl::FailedPreconditionError(
          absl::StrCat("auto: no layout fits the fleet's memory",
                       uniform.ok() ? "" : absl::StrCat("; e.g. ", uniform.status().message()),
                       error.ok() ? "" : absl::StrCat(" (", error.message(), ")")));
    }
    std::stable_sort(plans.begin(), plans.end(), [](const Plan& x, const Plan& y) {
      return x.predicted.step_time_s < y.predicted.step_time_s;
    });
    plans.resize(std::min(plans.size(), keep));
    return plans;
  }
};

}  // namespace

std::unique_ptr<Strategy> NewAutoStrategy() { return std::make_unique<AutoStrategy>(); }

}  // namespace tangram::partitioner
