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

// Same stages, devices and samples (hence the same prediction).
bool SamePlacement(const Plan& a, const Plan& b) {
  if (a.tp != b.tp || a.pp != b.pp || a.dp != b.dp || a.stages.size() != b.stages.size() ||
      a.replicas.size() != b.replicas.size()) {
    return false;
  }
  for (size_t s = 0; s < a.stages.size(); ++s) {
    const PlanStage &x = a.stages[s], &y = b.stages[s];
    if (x.layer_begin != y.layer_begin || x.layer_end != y.layer_end ||
        x.cells.size() != y.cells.size()) {
      return false;
    }
    for (size_t c = 0; c < x.cells.size(); ++c) {
      if (x.cells[c].devices != y.cells[c].devices) return false;
    }
  }
  for (size_t r = 0; r < a.replicas.size(); ++r) {
    if (a.replicas[r].samples != b.replicas[r].samples ||
        a.replicas[r].micro_batch_size != b.replicas[r].micro_batch_size) {
      return false;
    }
  }
  return true;
}

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
      // The whole fleet too small says it all; an example from uniform could then be about
      // something else (its batch split), which misled.
      if (std::string shortfall = FleetMemoryShortfall(cost); !shortfall.empty()) {
        return absl::FailedPreconditionError(
            absl::StrCat("auto: no layout fits the fleet's memory: ", shortfall));
      }
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
    // The families reach some layouts alike (a one-pool mixed pipeline is a homogeneous layout):
    // list each plan once among the runners-up.
    std::vector<Plan> distinct;
    for (Plan& p : plans) {
      if (distinct.size() == keep) break;
      if (std::none_of(distinct.begin(), distinct.end(),
                       [&](const Plan& q) { return SamePlacement(p, q); })) {
        distinct.push_back(std::move(p));
      }
    }
    return distinct;
  }
};

}  // namespace

std::unique_ptr<Strategy> NewAutoStrategy() { return std::make_unique<AutoStrategy>(); }

}  // namespace tangram::partitioner
