#include "partitioner/layout_search.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "absl/functional/function_ref.h"
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
  auto memory = [&](int p) { return cost.AdmissibleBytes(grid.pools()[p].group); };
  auto speed = [&](int p) { return cost.GroupTflops(grid.pools()[p].group); };
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return memory(a) > memory(b); });
  out.push_back(order);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return speed(a) > speed(b); });
  out.push_back(order);
  return out;
}

// `s` with its units taken stage by stage (UnitOrder::kStageMajor), balanced and scored, when the
// order can change its cost and it fits; the families try every layout in both orders.
bool StageMajorTwin(const GridEvaluator& grid, const ScoredLayout& s, ScoredLayout* twin) {
  if (s.layout.order == UnitOrder::kStageMajor || !grid.UnitOrderMatters(s.layout)) return false;
  *twin = s;
  twin->layout.order = UnitOrder::kStageMajor;
  twin->step_time_s = grid.BalanceAndTime(&twin->layout);
  // Scored alike (e.g. every unit of the layout on one node): the twin adds nothing.
  return twin->step_time_s < kInfeasible &&
         std::abs(twin->step_time_s - s.step_time_s) > 1e-12 * s.step_time_s;
}

// Oracle-sized fleets (≤ 16 devices and units), where a search may afford what would not scale.
bool SmallFleet(const GridEvaluator& grid) {
  int64_t units = 0;
  for (const Pool& p : grid.pools()) units += p.size();
  return units <= 16 && grid.cost().slots().size() <= 16;
}

// Pool subsets to try: all pools, then (on oracle-sized fleets, where a slow kind's batch
// granularity or allreduce can cost more than its compute brings) every proper subset — not only
// the fastest k pools: two pools of one kind that differ in node size, or a fast kind whose memory
// or link is poor, may be the ones worth leaving out.
std::vector<std::vector<int>> PoolSubsets(const GridEvaluator& grid) {
  const std::vector<Pool>& pools = grid.pools();
  std::vector<int> order(pools.size());
  std::iota(order.begin(), order.end(), 0);
  std::vector<std::vector<int>> out = {order};
  if (!SmallFleet(grid) || pools.size() < 2) return out;
  if (pools.size() <= 6) {
    const uint32_t all = (1u << pools.size()) - 1;
    for (uint32_t mask = all - 1; mask >= 1; --mask) {
      std::vector<int> subset;
      for (size_t p = 0; p < pools.size(); ++p) {
        if (mask & (1u << p)) subset.push_back(static_cast<int>(p));
      }
      out.push_back(std::move(subset));
    }
    return out;
  }
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

// Distinct arrangements of a multiset with these multiplicities.
double Arrangements(const std::vector<int64_t>& count) {
  double n = 1;
  int64_t placed = 0;
  for (int64_t c : count) {
    for (int64_t i = 1; i <= c; ++i) n = n * static_cast<double>(++placed) / static_cast<double>(i);
  }
  return n;
}

// Every split of L layers into pp non-empty stages, when there are at most `limit` of them
// (C(L − 1, pp − 1)); false when there are more.
bool SmallSplitCount(int64_t L, int64_t pp, int64_t limit) {
  double n = 1;
  for (int64_t i = 1; i < pp; ++i) {
    n = n * static_cast<double>(L - i) / static_cast<double>(i);
    if (n > static_cast<double>(limit)) return false;
  }
  return true;
}

// Tries every split (SmallSplitCount) against the full step time; keeps the best in *s.
void ExhaustiveBounds(const GridEvaluator& grid, ScoredLayout* s) {
  GridLayout trial = s->layout;
  std::vector<int64_t>& b = trial.bounds;
  const int pp = trial.pp();
  const int64_t L = b[pp];
  for (int i = 1; i < pp; ++i) b[i] = i;  // first split in lexicographic order
  while (true) {
    const double t = grid.StepTime(trial);
    if (t < s->step_time_s * (1 - 1e-12)) {
      s->step_time_s = t;
      s->layout.bounds = b;
    }
    int i = pp - 1;  // next split: advance the last boundary that can move
    while (i >= 1 && b[i] == L - (pp - i)) --i;
    if (i < 1) break;
    ++b[i];
    for (int j = i + 1; j < pp; ++j) b[j] = b[j - 1] + 1;
  }
}

// Balance minimises the slowest stage; the step also pays for the exposed allreduce and the
// optimizer, which depend on where the boundaries fall. Move single boundaries by one layer while
// the predicted step improves.
void RefineBounds(const GridEvaluator& grid, ScoredLayout* s) {
  std::vector<int64_t>& b = s->layout.bounds;
  // Few splits (small models): balance ties and the allreduce/optimizer terms are settled by
  // trying them all.
  if (b.size() >= 3 && SmallSplitCount(b.back(), static_cast<int64_t>(b.size()) - 1, 512)) {
    ExhaustiveBounds(grid, s);
    return;
  }
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

// On small fleets: every smaller replica count per class of a homogeneous layout (a pool's
// extra replicas can cost more in allreduce or batch granularity than they bring).
void FewerReplicas(const GridEvaluator& grid, const GridLayout& full,
                   std::vector<ScoredLayout>* out) {
  const PinnedLayout& pin = grid.cost().training().layout;
  std::vector<int64_t> count(full.classes.size(), 1);
  while (true) {
    ScoredLayout s;
    s.family = "homogeneous-replicas";
    s.layout = full;
    bool all = true;
    for (size_t c = 0; c < count.size(); ++c) {
      s.layout.classes[c].count = count[c];
      all &= count[c] == full.classes[c].count;
    }
    if (!all && !Pinned(pin.dp, s.layout.dp())) {
      s.step_time_s = grid.BalanceAndTime(&s.layout);
      if (s.step_time_s < kInfeasible) out->push_back(std::move(s));
    }
    size_t i = 0;  // odometer
    while (i < count.size() && count[i] == full.classes[i].count) count[i++] = 1;
    if (i == count.size()) break;
    ++count[i];
  }
}

// Units of each pool a layout leaves free.
std::vector<int64_t> SpareUnits(const GridEvaluator& grid, const GridLayout& layout) {
  std::vector<int64_t> spare;
  for (const Pool& p : grid.pools()) spare.push_back(p.size());
  for (const ReplicaClass& c : layout.classes) {
    for (int p : c.pools) spare[p] -= c.count;
  }
  return spare;
}

// Adds `seq` as one more replica of layout (merging with an equal class).
void AddReplica(GridLayout* layout, const std::vector<int>& seq) {
  for (ReplicaClass& c : layout->classes) {
    if (c.pools == seq) {
      ++c.count;
      return;
    }
  }
  layout->classes.push_back({seq, 1});
}

// Calls f with every sequence of pp pools that `units` can fill, when there are at most `limit`
// sequences of pp pools.
template <typename F>
void ForEachSequence(const std::vector<int64_t>& units, int pp, double limit, F f) {
  double n = 1;
  for (int i = 0; i < pp; ++i) n *= static_cast<double>(units.size());
  if (n > limit) return;
  std::vector<int> seq(pp, 0);
  std::vector<int64_t> left = units;
  auto fill = [&](auto& self, int st) -> void {
    if (st == pp) {
      f(seq);
      return;
    }
    for (size_t p = 0; p < left.size(); ++p) {
      if (left[p] < 1) continue;
      --left[p];
      seq[st] = static_cast<int>(p);
      self(self, st + 1);
      ++left[p];
    }
  };
  fill(fill, 0);
}

// The neighbours ImproveByMoves tries from `base`, each passed to `consider` in a fixed order (ties
// keep the first, so the order is part of the result). `spare`: the pools' units `base` leaves
// free.
using Consider = absl::FunctionRef<void(GridLayout)>;

// One replica (or the whole class) of class c moves one stage to a pool with free units.
void MoveOneStage(const GridLayout& base, const std::vector<int64_t>& spare, size_t c,
                  Consider consider) {
  for (int st = 0; st < base.pp(); ++st) {
    for (size_t q = 0; q < spare.size(); ++q) {
      if (spare[q] < 1 || static_cast<int>(q) == base.classes[c].pools[st]) continue;
      std::vector<int> seq = base.classes[c].pools;
      seq[st] = static_cast<int>(q);
      GridLayout one = base;
      if (--one.classes[c].count == 0) one.classes.erase(one.classes.begin() + c);
      AddReplica(&one, seq);
      consider(std::move(one));
      if (spare[q] >= base.classes[c].count && base.classes[c].count > 1) {
        GridLayout all = base;
        all.classes[c].pools = seq;
        consider(std::move(all));
      }
    }
  }
}

// Swaps: one replica of class c trades a stage's pool with one replica of a class at or after it
// (unit counts unchanged, so no free units are needed) — which reaches replicas of three or more
// shapes that single moves cannot.
void SwapStages(const GridLayout& base, size_t c, Consider consider) {
  const int pp = base.pp();
  for (size_t d = c; d < base.classes.size(); ++d) {
    if (d == c && base.classes[c].count < 2) continue;
    for (int sc = 0; sc < pp; ++sc) {
      for (int sd = 0; sd < pp; ++sd) {
        const int pc = base.classes[c].pools[sc], pd = base.classes[d].pools[sd];
        if (pc == pd) continue;
        std::vector<int> seq_c = base.classes[c].pools, seq_d = base.classes[d].pools;
        seq_c[sc] = pd;
        seq_d[sd] = pc;
        GridLayout swapped = base;
        swapped.classes[c].count -= 1;
        swapped.classes[d].count -= 1;
        std::erase_if(swapped.classes, [](const ReplicaClass& x) { return x.count == 0; });
        if (swapped.classes.empty()) {
          swapped.classes.push_back({seq_c, 1});
        } else {
          AddReplica(&swapped, seq_c);
        }
        AddReplica(&swapped, seq_d);
        consider(std::move(swapped));
      }
    }
  }
}

// One replica of class c fewer, or rebuilt as any sequence of the units then free (few pools and
// stages only: pools^pp sequences).
void DropOrRebuildReplica(const GridEvaluator& grid, const GridLayout& base,
                          const std::vector<int64_t>& spare, size_t c, Consider consider) {
  if (base.dp() <= 1) return;
  const int pp = base.pp();
  GridLayout fewer = base;
  if (--fewer.classes[c].count == 0) fewer.classes.erase(fewer.classes.begin() + c);
  std::vector<int64_t> free_units = spare;
  for (int p : base.classes[c].pools) ++free_units[p];
  ForEachSequence(free_units, pp, 256, [&](const std::vector<int>& seq) {
    GridLayout rebuilt = fewer;
    AddReplica(&rebuilt, seq);
    if (seq != base.classes[c].pools) consider(rebuilt);
    // ... or as two replicas (few sequences only), which a move through a worse layout
    // with one replica added first would otherwise be needed to reach.
    std::vector<int64_t> after = free_units;
    for (int p : seq) --after[p];
    ForEachSequence(after, pp, 16, [&](const std::vector<int>& second) {
      if (second < seq) return;
      GridLayout two = rebuilt;
      AddReplica(&two, second);
      if (two.dp() <= grid.cost().training().global_batch) consider(std::move(two));
    });
  });
  consider(std::move(fewer));
}

// One more replica: class c's sequence with each stage on its pool or a free one.
void AddReplicaLikeClass(const GridEvaluator& grid, const GridLayout& base,
                         const std::vector<int64_t>& spare, size_t c, Consider consider) {
  std::vector<int64_t> left = spare;
  std::vector<int> seq = base.classes[c].pools;
  bool ok = true;
  for (int st = 0; st < base.pp() && ok; ++st) {
    if (left[seq[st]] < 1) {
      auto most = std::max_element(left.begin(), left.end());
      seq[st] = static_cast<int>(most - left.begin());
    }
    ok = --left[seq[st]] >= 0;
  }
  if (ok && base.dp() < grid.cost().training().global_batch) {
    GridLayout more = base;
    AddReplica(&more, seq);
    consider(std::move(more));
  }
}

// One more replica of any sequence the free units can fill (few pools and stages only): a
// replica that mixes kinds no existing class has (a fast kind's stage beside a slow kind's).
void AddMixedReplica(const GridEvaluator& grid, const GridLayout& base,
                     const std::vector<int64_t>& spare, Consider consider) {
  if (base.dp() >= grid.cost().training().global_batch) return;
  ForEachSequence(spare, base.pp(), 64, [&](const std::vector<int>& seq) {
    GridLayout more = base;
    AddReplica(&more, seq);
    // ... or two of it at once: one alone may split the batch worse than it adds speed.
    std::vector<int64_t> after = spare;
    for (int p : seq) after[p] -= 2;
    const bool twice = base.dp() + 1 < grid.cost().training().global_batch &&
                       std::all_of(after.begin(), after.end(), [](int64_t u) { return u >= 0; });
    if (twice) {
      GridLayout two = more;
      AddReplica(&two, seq);
      consider(std::move(two));
    }
    consider(std::move(more));
  });
}

}  // namespace

void ImproveByMoves(const GridEvaluator& grid, ScoredLayout* s) {
  if (!SmallFleet(grid)) return;
  const PinnedLayout& pin = grid.cost().training().layout;
  for (int round = 0; round < 8; ++round) {
    const GridLayout base = s->layout;
    const std::vector<int64_t> spare = SpareUnits(grid, base);
    ScoredLayout best = *s;
    auto consider = [&](GridLayout layout) {
      if (Pinned(pin.dp, layout.dp())) return;
      ScoredLayout moved;
      moved.step_time_s = grid.BalanceAndTime(&layout);
      moved.layout = std::move(layout);
      // Balance minimises the slowest stage; close candidates are judged with their best bounds
      // (the allreduce and optimizer terms depend on where the boundaries fall).
      if (moved.step_time_s < 1.02 * best.step_time_s) RefineBounds(grid, &moved);
      if (moved.step_time_s < best.step_time_s * (1 - 1e-9)) best = std::move(moved);
    };
    for (size_t c = 0; c < base.classes.size(); ++c) {
      MoveOneStage(base, spare, c, consider);
      SwapStages(base, c, consider);
      DropOrRebuildReplica(grid, base, spare, c, consider);
      AddReplicaLikeClass(grid, base, spare, c, consider);
    }
    AddMixedReplica(grid, base, spare, consider);
    if (!(best.step_time_s < s->step_time_s)) return;
    *s = std::move(best);
  }
}

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
          // The stage sequences: each pool's stages contiguous, in every pool order; on small
          // fleets with few arrangements, every arrangement (a pool may take both ends, where
          // memory and the head's extra work differ from the middle).
          std::vector<std::vector<int>> sequences;
          for (const std::vector<int>& order : orders) {
            std::vector<int> seq;
            for (int p : order) {
              const size_t i = std::find(subset.begin(), subset.end(), p) - subset.begin();
              seq.insert(seq.end(), count[i], p);
            }
            sequences.push_back(std::move(seq));
          }
          if (partial && subset.size() > 1 && Arrangements(count) <= 64) {
            std::vector<int> seq = sequences.front();
            std::sort(seq.begin(), seq.end());
            sequences.clear();
            do sequences.push_back(seq);
            while (std::next_permutation(seq.begin(), seq.end()));
          }
          for (std::vector<int>& seq : sequences) {
            ScoredLayout s;
            s.family = "mixed-pipeline";
            s.layout.tp = grid.tp();
            s.layout.micro_batch = micro_batch;
            s.layout.classes.push_back({std::move(seq), dp});
            s.step_time_s = grid.BalanceAndTime(&s.layout);
            if (!(s.step_time_s < kInfeasible)) continue;
            if (ScoredLayout twin; StageMajorTwin(grid, s, &twin)) out.push_back(std::move(twin));
            out.push_back(std::move(s));
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
      if (SmallFleet(grid)) FewerReplicas(grid, s.layout, &out);
      // The same replicas with each stage's units side by side; the depth counts as its better.
      if (ScoredLayout twin; StageMajorTwin(grid, s, &twin)) {
        if (SmallFleet(grid)) FewerReplicas(grid, twin.layout, &out);
        if (twin.step_time_s < s.step_time_s) std::swap(s, twin);
        out.push_back(std::move(twin));
      }
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

bool SameLayout(const GridLayout& a, const GridLayout& b) {
  if (a.tp != b.tp || a.order != b.order || a.micro_batch != b.micro_batch ||
      a.bounds != b.bounds || a.classes.size() != b.classes.size()) {
    return false;
  }
  for (size_t c = 0; c < a.classes.size(); ++c) {
    if (a.classes[c].pools != b.classes[c].pools || a.classes[c].count != b.classes[c].count) {
      return false;
    }
  }
  return true;
}

std::vector<Plan> EvaluateBest(const GridEvaluator& grid, std::vector<ScoredLayout> layouts,
                               size_t keep, StrategyKind strategy, absl::Status* first_error) {
  std::stable_sort(
      layouts.begin(), layouts.end(),
      [](const ScoredLayout& a, const ScoredLayout& b) { return a.step_time_s < b.step_time_s; });
  std::vector<Plan> plans;
  // The class-level ranking uses continuous sample shares; whole samples can reorder close
  // candidates, so on small fleets a few more are evaluated exactly. On any fleet, up to
  // kCloseExtra more whose class-level score is within kCloseMargin of the best are too: the
  // class-level summaries (a pool's representative links, node counts bounded on large layouts)
  // can misorder layouts a few percent apart, and a misordered winner would never be evaluated.
  constexpr size_t kCloseExtra = 4;
  constexpr double kCloseMargin = 0.05;
  const size_t extra = SmallFleet(grid) ? 7 : 0;
  const double close = layouts.empty() ? 0 : layouts.front().step_time_s * (1 + kCloseMargin);
  std::vector<GridLayout> seen;
  size_t evaluated = 0;
  for (size_t i = 0; i < layouts.size(); ++i) {
    const bool wanted = plans.size() < keep || evaluated < keep + extra ||
                        (evaluated < keep + extra + kCloseExtra && layouts[i].step_time_s <= close);
    if (!wanted) break;
    RefineBounds(grid, &layouts[i]);
    // The families and the moves reach some layouts more than once: evaluate each once.
    if (std::any_of(seen.begin(), seen.end(),
                    [&](const GridLayout& l) { return SameLayout(l, layouts[i].layout); })) {
      continue;
    }
    seen.push_back(layouts[i].layout);
    ++evaluated;
    absl::StatusOr<Plan> plan = MaterializeAndEvaluate(grid, layouts[i].layout, strategy);
    if (!plan.ok()) {
      if (first_error != nullptr && first_error->ok()) *first_error = plan.status();
      continue;
    }
    plan->notes.push_back(absl::StrCat(
        "layout: ", layouts[i].family,
        layouts[i].layout.order == UnitOrder::kStageMajor ? ", units stage-major" : ""));
    plans.push_back(std::move(*plan));
  }
  std::stable_sort(plans.begin(), plans.end(), [](const Plan& a, const Plan& b) {
    return a.predicted.step_time_s < b.predicted.step_time_s;
  });
  return plans;
}

}  // namespace tangram::partitioner
