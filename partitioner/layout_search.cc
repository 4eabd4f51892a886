#include "partitioner/layout_search.h"

#include <algorithm>
#include <numeric>

#include "absl/strings/str_cat.h"

namespace tangram::partitioner {
namespace {

bool Pinned(const std::optional<int>& pin, int64_t value) { return pin && *pin != value; }

std::vector<std::vector<int>> PoolOrders(const GridEvaluator& grid) {
  const int k = static_cast<int>(grid.pools().size());
  std::vector<int> order(k);
  std::iota(order.begin(), order.end(), 0);
  std::vector<std::vector<int>> out;
  if (k <= 4) {
    do out.push_back(order);
    while (std::next_permutation(order.begin(), order.end()));
    return out;
  }
  const CostModel& cost = grid.cost();
  auto memory = [&](int p) { return cost.UsableBytes(grid.pools()[p].group); };
  auto speed = [&](int p) { return cost.GroupTflops(grid.pools()[p].group); };
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return memory(a) > memory(b); });
  out.push_back(order);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return speed(a) > speed(b); });
  out.push_back(order);
  return out;
}

}  // namespace

std::vector<int64_t> MicroBatchCandidates(const CostModel& cost) {
  std::vector<int64_t> out;
  for (int64_t b = cost.training().micro_batch; b >= 1; b /= 2) out.push_back(b);
  return out;
}

std::vector<ScoredLayout> MixedPipelineLayouts(const GridEvaluator& grid, int64_t micro_batch) {
  std::vector<ScoredLayout> out;
  const PinnedLayout& pin = grid.cost().training().layout;
  const std::vector<Pool>& pools = grid.pools();
  if (pools.empty()) return out;
  int64_t g = 0;
  for (const Pool& p : pools) g = std::gcd(g, p.size());
  const std::vector<std::vector<int>> orders = PoolOrders(grid);
  for (int64_t dp = 1; dp <= g; ++dp) {
    if (g % dp != 0 || Pinned(pin.dp, dp)) continue;
    int64_t pp = 0;
    for (const Pool& p : pools) pp += p.size() / dp;
    if (pp > grid.cost().num_layers() || Pinned(pin.pp, pp)) continue;
    for (const std::vector<int>& order : orders) {
      ScoredLayout s;
      s.family = "mixed-pipeline";
      s.layout.tp = grid.tp();
      s.layout.micro_batch = micro_batch;
      ReplicaClass rc;
      rc.count = dp;
      for (int p : order) rc.pools.insert(rc.pools.end(), pools[p].size() / dp, p);
      s.layout.classes.push_back(std::move(rc));
      s.step_time_s = grid.BalanceAndTime(&s.layout);
      if (s.step_time_s < kInfeasible) out.push_back(std::move(s));
    }
  }
  return out;
}

std::vector<ScoredLayout> HomogeneousReplicaLayouts(const GridEvaluator& grid,
                                                    int64_t micro_batch) {
  std::vector<ScoredLayout> out;
  const PinnedLayout& pin = grid.cost().training().layout;
  const std::vector<Pool>& pools = grid.pools();
  int64_t largest = 0;
  for (const Pool& p : pools) largest = std::max(largest, p.size());
  const int64_t max_pp = std::min<int64_t>(largest, grid.cost().num_layers());
  double best = kInfeasible;
  int worse_in_a_row = 0;
  for (int64_t pp = 1; pp <= max_pp; ++pp) {
    if (Pinned(pin.pp, pp)) continue;
    // Every pool with enough units, then without those that cannot hold the model at this depth.
    std::vector<int> members;
    for (size_t p = 0; p < pools.size(); ++p) {
      if (pools[p].size() >= pp) members.push_back(static_cast<int>(p));
    }
    ScoredLayout s;
    for (int attempt = 0; attempt < 2 && !members.empty(); ++attempt) {
      s = ScoredLayout{};
      s.family = "homogeneous-replicas";
      s.layout.tp = grid.tp();
      s.layout.micro_batch = micro_batch;
      for (int p : members) {
        s.layout.classes.push_back({std::vector<int>(pp, p), pools[p].size() / pp});
      }
      if (Pinned(pin.dp, s.layout.dp())) break;
      s.step_time_s = grid.BalanceAndTime(&s.layout);
      if (s.step_time_s < kInfeasible) break;
      // Keep only the pools that fit alone.
      std::vector<int> fitting;
      for (int p : members) {
        if (!grid.Balance({{std::vector<int>(pp, p), pools[p].size() / pp}}, static_cast<int>(pp),
                          micro_batch)
                 .empty()) {
          fitting.push_back(p);
        }
      }
      if (fitting.size() == members.size()) break;
      members = std::move(fitting);
    }
    if (!(s.step_time_s < kInfeasible)) continue;
    // The step time is close to unimodal in pp once the model fits: stop after a few worse.
    if (s.step_time_s < best) {
      best = s.step_time_s;
      worse_in_a_row = 0;
    } else if (++worse_in_a_row > 4 && s.step_time_s > 1.02 * best) {
      out.push_back(std::move(s));
      break;
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<Plan> EvaluateBest(const GridEvaluator& grid, std::vector<ScoredLayout> layouts,
                               size_t keep, const std::string& strategy,
                               absl::Status* first_error) {
  std::stable_sort(
      layouts.begin(), layouts.end(),
      [](const ScoredLayout& a, const ScoredLayout& b) { return a.step_time_s < b.step_time_s; });
  std::vector<Plan> plans;
  for (size_t i = 0; i < layouts.size() && plans.size() < keep; ++i) {
    absl::StatusOr<Plan> plan = MaterializeAndEvaluate(grid, layouts[i].layout, strategy);
    if (!plan.ok()) {
      if (first_error != nullptr && first_error->ok()) *first_error = plan.status();
      continue;
    }
    plan->notes.push_back(absl::StrCat("layout: ", layouts[i].family));
    plans.push_back(std::move(*plan));
  }
  std::stable_sort(plans.begin(), plans.end(), [](const Plan& a, const Plan& b) {
    return a.predicted.step_time_s < b.predicted.step_time_s;
  });
  return plans;
}

}  // namespace tangram::partitioner
