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
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
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

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

// The layout closest to fitting a device's memory among those a search could take: per tp it
// tries (a pinned one only) and pool, every pipeline depth the pool's units and the layers allow
// (a pinned one only), the layers split evenly, micro-batch 1 (the smallest it tries) and the most
// replicas the pool and the batch allow (what ZeRO shards over; a pinned dp as pinned). Its
// heaviest stage, at the grid's pp − s micro-batches in flight, has the least overflow.
struct ClosestLayout {
  int tp = 0, pp = 0, stage = 0;
  int64_t dp = 0, begin = 0, end = 0;
  int group = 0;
  double need = 0;            // bytes per device at its heaviest stage
  double over = kInfeasible;  // need − usable
};

ClosestLayout ClosestToFitting(const CostModel& cost) {
  const PinnedLayout& pin = cost.training().layout;
  const int64_t layers = cost.num_layers();
  ClosestLayout best;
  for (int tp : TpCandidates(cost)) {
    if (pin.tp && *pin.tp != tp) continue;
    for (const Pool& pool : BuildPools(cost, tp)) {
      const double usable = cost.UsableBytes(pool.group);
      for (int pp = 1; pp <= std::min(pool.size(), layers); ++pp) {
        if (pin.pp && *pin.pp != pp) continue;
        const int64_t dp =
            pin.dp ? *pin.dp
                   : std::max<int64_t>(1, std::min(pool.size() / pp, cost.training().global_batch));
        if (dp * pp > pool.size()) continue;
        ClosestLayout at{tp, pp, 0, dp, 0, 0, pool.group, 0, -kInfeasible};
        for (int s = 0; s < pp; ++s) {
          const int64_t b = s * layers / pp, e = (s + 1) * layers / pp;
          const double need = cost.StageMemory(tp, static_cast<int>(dp), b, e, pp - s, 1).total();
          if (need - usable > at.over) at = {tp, pp, s, dp, b, e, pool.group, need, need - usable};
        }
        if (at.over < best.over) best = at;
      }
    }
  }
  return best;
}

// Why auto found no plan, when the fleet as a whole could hold the model's state. Memory is named
// only when it is what stops the search (the search finds plans with memory ignored), with the
// closest layout's need against a device's room; otherwise the message says memory is not it.
// `error`: the search's first failure to evaluate a plan.
absl::Status NothingFits(const CostModel& cost, const absl::Status& error) {
  const std::string why = error.ok() ? "" : absl::StrCat(" (", error.message(), ")");
  const ClosestLayout near = ClosestToFitting(cost);
  bool memory_binds = false;
  if (!cost.options().ignore_memory && near.over > 0) {
    CostOptions ignore = cost.options();
    ignore.ignore_memory = true;
    absl::StatusOr<CostModel> what_if =
        CostModel::Create(cost.fleet(), cost.model(), cost.training(), ignore);
    memory_binds = what_if.ok() && NewAutoStrategy()->Generate(*what_if, {}).ok();
  }
  if (memory_binds) {
    const TrainingSpec& t = cost.training();
    const NodeGroup& g = cost.fleet().groups[near.group];
    const double usable = cost.UsableBytes(near.group);
    // Recompute frees activations only: no help when the stage's state alone overflows.
    const double state =
        cost.StageMemory(near.tp, static_cast<int>(near.dp), near.begin, near.end, 0, 1).total();
    std::string help =
        t.recompute == Recompute::kFull || state > usable ? "" : "enable full recompute, ";
    if (t.zero_stage < 3 && near.dp > 1) help += "use ZeRO-3, ";
    const std::string layers = near.end - near.begin == 1
                                   ? absl::StrCat("layer ", near.begin)
                                   : absl::StrCat("layers ", near.begin, "-", near.end - 1);
    return absl::FailedPreconditionError(absl::StrFormat(
        "auto: no layout fits the fleet's memory: the closest, tp %d × pp %d × dp %d on %s at "
        "micro-batch 1 (layers split evenly), needs %.1f GiB per device at stage %d (%s), and %s "
        "has %.1f GiB usable (%.3g GiB less %.3g reserved); %suse devices with more memory, or a "
        "smaller model%s",
        near.tp, near.pp, near.dp, g.device.kind, near.need / kGiB, near.stage, layers,
        g.device.kind, usable / kGiB, g.device.memory_gib, cost.options().reserved_gib, help, why));
  }
  absl::StatusOr<std::vector<Plan>> uniform = NewUniformStrategy()->Generate(cost, {});
  return absl::FailedPreconditionError(absl::StrCat(
      "auto: no layout of fleet ", cost.fleet().name, " runs this job, and memory is not what ",
      "stops it", uniform.ok() ? "" : absl::StrCat("; e.g. ", uniform.status().message()), why));
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
      return NothingFits(cost, error);
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
