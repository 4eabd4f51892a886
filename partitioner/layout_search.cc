#include "partitioner/layout_search.h"

#include <algorithm>
#include <numeric>

#include "absl/strings/str_cat.h"

namespace tangram::partitioner {
namespace {

bool Pinned(const std::optional<int>& pin, int64_t value) { return pin && *pin != value; }

std::vector<std::vector<int>> PoolOrders(const GridEvaluator& grid, std::vector<int> order) {
  const int k = static_cast<int>(order.size());
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

// Pool subsets to try: all pools, then (on oracle-sized fleets, where a slow kind's batch
// granularity or allreduce can cost more than its compute brings) the fastest k pools for every k.
std::vector<std::vector<int>> PoolSubsets(const GridEvaluator& grid) {
  const std::vector<Pool>& pools = grid.pools();
  std::vector<int> order(pools.size());
  std::iota(order.begin(), order.end(), 0);
  std::vector<std::vector<int>> out = {order};
  int64_t units = 0;
  for (const Pool& p : pools) units += p.size();
  if (units > 16 || grid.cost().slots().size() > 16 || pools.size() < 2) return out;
  const CostModel& cost = grid.cost();
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    return cost.GroupTflops(pools[a].group) > cost.GroupTflops(pools[b].group);
  });
  for (size_t k = 1; k < order.size(); ++k) {
    std::vector<int> subset(order.begin(), order.begin() + k);
    std::sort(subset.begin(), subset.end());
    out.push_back(subset);
  }
  return out;
}

// Balance minimises the slowest stage; the step also pays for the exposed allreduce and the
// optimizer, which depend on where the boundaries fall. Move single boundaries by one layer while
// the predicted step improves.
void RefineBounds(const GridEvaluator& grid, ScoredLayout* s) {
  std::vector<int64_t>& b = s->layout.bounds;
  if (b.size() > 17) return;  // deep pipelines: the bottleneck term dominates; not worth the time
  for (int round = 0; round < 4; ++round) {
    bool improved = false;
    for (size_t i = 1; i + 1 < b.size(); ++i) {
      for (int delta : {-1, 1}) {
        const int64_t moved = b[i] + delta;
        if (moved <= b[i - 1] || moved >= b[i + 1]) continue;
        const int64_t keep = b[i];
        b[i] = moved;
        const double t = grid.StepTime(s->layout);
        if (t < s->step_time_s * (1 - 1e-9)) {
          s->step_time_s = t;
          improved = true;
        } else {
          b[i] = keep;
        }
      }
    }
    if (!improved) break;
  }
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
  int64_t units = 0;
  for (const Pool& p : pools) units += p.size();
  // On oracle-sized fleets a replica may also take fewer than its 1/dp share of a pool (the rest
  // idles); the combinations grow too fast to try this on larger ones.
  const bool partial = units <= 16 && grid.cost().slots().size() <= 16 && pools.size() <= 3;
  for (const std::vector<int>& subset : PoolSubsets(grid)) {
    int64_t g = 0, most = 0;
    for (int p : subset) {
      g = std::gcd(g, pools[p].size());
      most = std::max(most, pools[p].size());
    }
    const std::vector<std::vector<int>> orders = PoolOrders(grid, subset);
    for (int64_t dp = 1; dp <= (partial ? most : g); ++dp) {
      if ((!partial && g % dp != 0) || Pinned(pin.dp, dp)) continue;
      // Stages per pool in each replica: the full share, or (partial) every count from 1 up.
      std::vector<int64_t> count(subset.size()), top(subset.size());
      bool possible = true;
      for (size_t i = 0; i < subset.size(); ++i) {
        top[i] = pools[subset[i]].size() / dp;
        count[i] = partial ? 1 : top[i];
        possible &= top[i] >= 1;
      }
      while (possible) {
        int64_t pp = 0;
        for (int64_t c : count) pp += c;
        if (pp <= grid.cost().num_layers() && !Pinned(pin.pp, pp)) {
          for (const std::vector<int>& order : orders) {
            ScoredLayout s;
            s.family = "mixed-pipeline";
            s.layout.tp = grid.tp();
            s.layout.micro_batch = micro_batch;
            ReplicaClass rc;
            rc.count = dp;
            for (int p : order) {
              const size_t i = std::find(subset.begin(), subset.end(), p) - subset.begin();
              rc.pools.insert(rc.pools.end(), count[i], p);
            }
            s.layout.classes.push_back(std::move(rc));
            s.step_time_s = grid.BalanceAndTime(&s.layout);
            if (s.step_time_s < kInfeasible) out.push_back(std::move(s));
          }
        }
        size_t i = 0;  // next composition (odometer)
        while (i < count.size() && count[i] == top[i]) {
          count[i] = partial ? 1 : top[i];
          ++i;
        }
        if (i == count.size()) break;
        ++count[i];
      }
    }
  }
  return out;
}

std::vector<ScoredLayout> HomogeneousReplicaLayouts(const GridEvaluator& grid,
                                                    int64_t micro_batch) {
  std::vector<ScoredLayout> out;
  const PinnedLayout& pin = grid.cost().training().layout;
  const std::vector<Pool>& pools = grid.pools();
  for (const std::vector<int>& subset : PoolSubsets(grid)) {
    int64_t largest = 0;
    for (int p : subset) largest = std::max(largest, pools[p].size());
    const int64_t max_pp = std::min<int64_t>(largest, grid.cost().num_layers());
    double best = kInfeasible;
    int worse_in_a_row = 0;
    for (int64_t pp = 1; pp <= max_pp; ++pp) {
      if (Pinned(pin.pp, pp)) continue;
      // Every pool with enough units, then without those that cannot hold the model at this depth.
      std::vector<int> members;
      for (int p : subset) {
        if (pools[p].size() >= pp) members.push_back(p);
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
    RefineBounds(grid, &layouts[i]);
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
