// oracle: exhaustive search, for small cases (≤ 8 devices, ≤ 16 decoder layers), used by tests to
// check that auto and hetero-pipeline find (nearly) the optimum of the cost model.
//
// It enumerates every tensor-parallel degree, every pipeline depth and replica count, every
// multiset of replica pool sequences the fleet's units allow (a replica may run any of its stages
// on any pool, in any order), and every contiguous split of the layer list into stages — by brute
// force, not dynamic programming — in both unit orders (a replica's stages side by side in a node,
// or a stage's replicas) — and water-fills the batch over the replicas. It shares the cost
// model with the other strategies but none of their search. Branch-and-bound prunes splits whose
// partial stages already guarantee a worse step than the best found:
//   T ≥ B ÷ (b·Σ_c n_c ÷ max_s c_cs)  and  T ≥ Σ_s c_cs  for every class c.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "partitioner/layout_search.h"
#include "partitioner/strategy.h"

namespace tangram::partitioner {
namespace {

constexpr int64_t kMaxDevices = 8;
constexpr int64_t kMaxBlocks = 16;

class Search {
 public:
  Search(const GridEvaluator& grid, int64_t micro_batch, size_t keep)
      : grid_(grid), b_(micro_batch), keep_(keep) {}

  void Run(std::vector<ScoredLayout>* out) {
    out_ = out;
    int64_t units = 0;
    for (const Pool& p : grid_.pools()) units += p.size();
    const PinnedLayout& pin = grid_.cost().training().layout;
    for (int pp = 1; pp <= std::min<int64_t>(units, grid_.cost().num_layers()); ++pp) {
      if (pin.pp && *pin.pp != pp) continue;
      sequences_.clear();
      std::vector<int> seq;
      Sequences(pp, &seq);
      for (int64_t dp = 1; dp * pp <= units; ++dp) {
        if (pin.dp && *pin.dp != dp) continue;
        std::vector<int64_t> left;
        for (const Pool& p : grid_.pools()) left.push_back(p.size());
        std::vector<ReplicaClass> classes;
        Multisets(dp, 0, &left, &classes);
      }
    }
  }

 private:
  void Sequences(int pp, std::vector<int>* seq) {
    if (static_cast<int>(seq->size()) == pp) {
      sequences_.push_back(*seq);
      return;
    }
    for (size_t p = 0; p < grid_.pools().size(); ++p) {
      int64_t used = std::count(seq->begin(), seq->end(), static_cast<int>(p));
      if (used >= grid_.pools()[p].size()) continue;
      seq->push_back(static_cast<int>(p));
      Sequences(pp, seq);
      seq->pop_back();
    }
  }

  // Chooses dp sequences (non-decreasing index: a multiset) that the pools can fill.
  void Multisets(int64_t dp, size_t first, std::vector<int64_t>* left,
                 std::vector<ReplicaClass>* classes) {
    if (dp == 0) {
      GridLayout layout;
      layout.tp = grid_.tp();
      layout.micro_batch = b_;
      layout.classes = *classes;
      const int pp = static_cast<int>(classes->front().pools.size());
      layout.bounds.assign(pp + 1, 0);
      // Each cell's p2p in either unit order; the bounds take the smaller, a lower bound on both.
      send_ = grid_.SendTimes(layout.classes, pp, UnitOrder::kReplicaMajor, b_);
      const auto stage_major = grid_.SendTimes(layout.classes, pp, UnitOrder::kStageMajor, b_);
      for (size_t c = 0; c < send_.size(); ++c) {
        for (int s = 0; s < pp; ++s) send_[c][s] = std::min(send_[c][s], stage_major[c][s]);
      }
      sums_.assign(classes->size(), 0);
      Splits(&layout, 0);
      return;
    }
    for (size_t i = first; i < sequences_.size(); ++i) {
      bool fits = true;
      for (int p : sequences_[i]) fits &= --(*left)[p] >= 0;
      if (fits) {
        if (!classes->empty() && classes->back().pools == sequences_[i]) {
          ++classes->back().count;
          Multisets(dp - 1, i, left, classes);
          --classes->back().count;
        } else {
          classes->push_back({sequences_[i], 1});
          Multisets(dp - 1, i, left, classes);
          classes->pop_back();
        }
      }
      for (int p : sequences_[i]) ++(*left)[p];
    }
  }

  // Every split of the layer list into pp non-empty contiguous stages, with branch-and-bound.
  void Splits(GridLayout* layout, int s) {
    const int pp = layout->pp();
    const int64_t L = grid_.cost().num_layers();
    if (s == pp) {
      Consider(*layout);
      return;
    }
    const int64_t a = layout->bounds[s];
    const int64_t dp = layout->dp();
    const size_t nc = layout->classes.size();
    std::vector<double> saved_max = maxes_, saved_sum = sums_;
    if (s == 0) maxes_.assign(nc, 0), saved_max = maxes_;
    for (int64_t e = (s == pp - 1 ? L : a + 1); e <= L - (pp - 1 - s); ++e) {
      layout->bounds[s + 1] = e;
      bool feasible = true;
      double rate = 0, floor = 0;
      for (size_t c = 0; c < nc && feasible; ++c) {
        const double t = grid_.CellTime(
            grid_.ComputeTime(layout->classes[c].pools[s], s, pp, dp, a, e, b_), send_[c][s]);
        feasible = t < kInfeasible;
        maxes_[c] = std::max(saved_max[c], t);
        sums_[c] = saved_sum[c] + t;
        rate += layout->classes[c].count / maxes_[c];
        floor = std::max(floor, sums_[c]);
      }
      // Later stages only take more layers from here on, and this stage only grows with e.
      if (!feasible) break;
      const double bound =
          std::max(floor, grid_.cost().training().global_batch / (static_cast<double>(b_) * rate));
      if (bound < Threshold()) Splits(layout, s + 1);
    }
    maxes_ = saved_max;
    sums_ = saved_sum;
  }

  double Threshold() const { return out_->size() < keep_ ? kInfeasible : out_->back().step_time_s; }

  // Both unit orders of the layout (they differ only where a node holds several units).
  void Consider(GridLayout layout) {
    for (UnitOrder order : {UnitOrder::kReplicaMajor, UnitOrder::kStageMajor}) {
      layout.order = order;
      if (order == UnitOrder::kStageMajor && !grid_.UnitOrderMatters(layout)) break;
      const double t = grid_.StepTime(layout);
      if (!(t < Threshold())) continue;
      ScoredLayout s{layout, t, "exhaustive"};
      auto at = std::upper_bound(out_->begin(), out_->end(), t,
                                 [](double v, const ScoredLayout& x) { return v < x.step_time_s; });
      out_->insert(at, std::move(s));
      if (out_->size() > keep_) out_->pop_back();
    }
  }

  const GridEvaluator& grid_;
  const int64_t b_;
  const size_t keep_;
  std::vector<ScoredLayout>* out_ = nullptr;
  std::vector<std::vector<int>> sequences_;
  std::vector<double> maxes_, sums_;
  std::vector<std::vector<double>> send_;  // per class and stage, the smaller of the two orders
};

class OracleStrategy : public Strategy {
 public:
  StrategyKind kind() const override { return StrategyKind::kOracle; }
  std::string_view description() const override {
    return "exhaustive search (<= 8 devices, <= 16 layers), for tests";
  }

  absl::StatusOr<std::vector<Plan>> Generate(const CostModel& cost,
                                             const StrategyOptions& options) const override {
    if (!cost.training().layout.stage_tp.empty()) return PinnedStageTpPlans(cost, name());
    if (static_cast<int64_t>(cost.slots().size()) > kMaxDevices ||
        cost.model().layers > kMaxBlocks) {
      return absl::InvalidArgumentError(
          absl::StrCat("oracle is exhaustive and only plans small cases (<= ", kMaxDevices,
                       " devices, <= ", kMaxBlocks, " decoder layers); this one has ",
                       cost.slots().size(), " and ", cost.model().layers, ": use auto"));
    }
    // The search ranks by GridEvaluator, whose class-level allreduce and link summaries can
    // misorder layouts a few percent apart; the best 16 are evaluated exactly (with only 3, a
    // layout ranked 4th could be beaten by hetero-pipeline's exactly evaluated plans).
    const size_t keep = static_cast<size_t>(options.alternatives) + 16;
    absl::Status error;
    for (int64_t b : MicroBatchCandidates(cost)) {
      std::vector<Plan> plans;
      for (int tp : TpCandidates(cost)) {
        if (cost.training().layout.tp && *cost.training().layout.tp != tp) continue;
        GridEvaluator grid(cost, tp);
        std::vector<ScoredLayout> found;
        Search(grid, b, keep).Run(&found);
        for (Plan& p : EvaluateBest(grid, std::move(found), keep, kind(), &error)) {
          plans.push_back(std::move(p));
        }
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
    return absl::FailedPreconditionError("oracle: no layout fits the fleet's memory");
  }
};

}  // namespace

std::unique_ptr<Strategy> NewOracleStrategy() { return std::make_unique<OracleStrategy>(); }

}  // namespace tangram::partitioner
