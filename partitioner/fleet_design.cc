#include "partitioner/fleet_design.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <thread>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "partitioner/cost_model.h"
#include "partitioner/strategy.h"

namespace tangram::partitioner {
namespace {

using Mix = std::vector<int64_t>;
constexpr double kInf = std::numeric_limits<double>::infinity();
// The bound is exact arithmetic on the same doubles as the plans' prediction; this margin keeps a
// rounding difference from pruning a mix that ties.
constexpr double kBoundMargin = 1e-9;

// Counts of one candidate on the lattice: all of them, or `levels` evenly spaced from min to max.
std::vector<int64_t> Levels(const DesignCandidate& c, int levels, int64_t* step) {
  std::vector<int64_t> out;
  if (c.levels() <= levels || levels < 2) {
    for (int64_t n = c.min_nodes; n <= c.max_nodes; ++n) out.push_back(n);
    *step = 1;
    return out;
  }
  const double span = static_cast<double>(c.max_nodes - c.min_nodes);
  for (int i = 0; i < levels; ++i) {
    const int64_t n = c.min_nodes + std::llround(span * i / (levels - 1));
    if (out.empty() || out.back() != n) out.push_back(n);
  }
  *step = static_cast<int64_t>(std::ceil(span / (levels - 1)));
  return out;
}

// `levels` counts of one candidate spaced geometrically from min to max (min, min + 1, ...), so
// that a frontier walked on them reaches from the smallest fleets to the largest.
std::vector<int64_t> GeometricLevels(const DesignCandidate& c, int levels) {
  std::vector<int64_t> out;
  const double range = static_cast<double>(c.max_nodes - c.min_nodes + 1);
  for (int i = 0; i < levels; ++i) {
    const int64_t n =
        c.min_nodes + std::llround(std::pow(range, static_cast<double>(i) / (levels - 1)) - 1);
    if (out.empty() || out.back() != n) out.push_back(std::min(n, c.max_nodes));
  }
  return out;
}

// Every combination of `levels` (one list per candidate).
std::vector<Mix> Product(const std::vector<std::vector<int64_t>>& levels) {
  std::vector<Mix> out = {Mix()};
  for (const auto& l : levels) {
    std::vector<Mix> next;
    next.reserve(out.size() * l.size());
    for (const Mix& m : out) {
      for (int64_t n : l) {
        next.push_back(m);
        next.back().push_back(n);
      }
    }
    out = std::move(next);
  }
  return out;
}

double Resource(const DesignPoint& p, FrontierAxis axis) {
  return axis == FrontierAxis::kCost ? p.cost : p.power_w;
}

// Best first; ties go to the cheaper, then the lower-power, then the smaller mix.
bool Better(const DesignPoint& a, const DesignPoint& b) {
  if (a.objective != b.objective) return a.objective > b.objective;
  if (a.cost != b.cost) return a.cost < b.cost;
  if (a.power_w != b.power_w) return a.power_w < b.power_w;
  return a.nodes < b.nodes;
}

}  // namespace

double ObjectiveValue(DesignObjective o, Pricing pricing, double tokens_per_s, double cost,
                      double power_w) {
  switch (o) {
    case DesignObjective::kTimeToTrain:
      return tokens_per_s;
    case DesignObjective::kTokensPerDollar:
      // Capital: tokens/s per dollar of the fleet. Per hour: tokens per dollar spent.
      return cost <= 0 ? 0 : tokens_per_s * (pricing == Pricing::kPerHour ? 3600 : 1) / cost;
    case DesignObjective::kTokensPerWatt:
      return power_w <= 0 ? 0 : tokens_per_s / power_w;
  }
  return 0;
}

absl::StatusOr<std::unique_ptr<FleetDesigner>> FleetDesigner::Create(const DesignSpace& space,
                                                                     const ModelSpec& model,
                                                                     const TrainingSpec& training) {
  std::unique_ptr<FleetDesigner> d(new FleetDesigner(space, model, training));
  for (const DesignCandidate& c : space.candidates) {
    // One node of the candidate alone: its per-device throughput on this job does not depend on
    // the rest of the fleet.
    Fleet one;
    one.name = "bound";
    one.groups.push_back(c.group);
    one.groups.back().count = 1;
    TANGRAM_ASSIGN_OR_RETURN(CostModel cost, CostModel::Create(one, model, training));
    const double tokens_per_step =
        static_cast<double>(training.global_batch) * static_cast<double>(model.seq_len);
    d->tokens_per_device_.push_back(cost.GroupTflops(0) * 1e12 * tokens_per_step /
                                    cost.ModelFlopsPerStep());
  }
  return d;
}

double FleetDesigner::BoundTokensPerS(const Mix& nodes) const {
  double t = 0;
  for (size_t i = 0; i < nodes.size(); ++i) {
    t += static_cast<double>(nodes[i] * space_.candidates[i].group.devices_per_node) *
         tokens_per_device_[i];
  }
  return t;
}

MixPlan FleetDesigner::PlanMix(const Mix& nodes) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cache_.find(nodes);
    if (it != cache_.end()) return it->second;
  }
  MixPlan out;
  absl::StatusOr<CostModel> cost =
      CostModel::Create(space_.MakeFleet(nodes, space_.name), model_, training_);
  absl::StatusOr<Plan> plan = cost.ok() ? MakePlan(*cost, StrategyKind::kAuto) : cost.status();
  if (plan.ok()) {
    out.ok = true;
    out.tp = plan->tp;
    out.pp = plan->pp;
    out.dp = plan->dp;
    out.step_time_s = plan->predicted.step_time_s;
    out.tokens_per_s = plan->predicted.tokens_per_s;
    out.efficiency = plan->efficiency;
    out.mfu = plan->predicted.mfu;
    out.bottleneck = plan->predicted.bottleneck;
  } else {
    out.error = std::string(plan.status().message());
  }
  std::lock_guard<std::mutex> lock(mu_);
  cache_.emplace(nodes, out);
  return out;
}

void FleetDesigner::PlanAll(const std::vector<Mix>& mixes, int threads, DesignStats* stats) {
  std::vector<Mix> todo;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const Mix& m : mixes) {
      if (cache_.count(m)) {
        ++stats->cache_hits;
      } else if (std::find(todo.begin(), todo.end(), m) == todo.end()) {
        todo.push_back(m);
      }
    }
  }
  stats->planned += static_cast<int64_t>(todo.size());
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < todo.size(); i = next++) PlanMix(todo[i]);
  };
  const int n = std::min<int>(threads, static_cast<int>(todo.size()));
  std::vector<std::thread> pool;
  for (int t = 1; t < n; ++t) pool.emplace_back(work);
  work();
  for (std::thread& t : pool) t.join();
}

DesignPoint FleetDesigner::Point(const Mix& nodes, const DesignOptions& options) {
  DesignPoint p;
  p.nodes = nodes;
  p.devices = space_.Devices(nodes);
  p.cost = space_.Cost(nodes);
  p.power_w = space_.PowerW(nodes);
  p.bound_tokens_per_s = BoundTokensPerS(nodes);
  p.plan = PlanMix(nodes);
  p.tokens_per_s = p.plan.ok ? p.plan.tokens_per_s : 0;
  p.time_to_train_s = p.tokens_per_s > 0 ? options.train_tokens / p.tokens_per_s : kInf;
  p.objective =
      ObjectiveValue(options.objective, space_.pricing, p.tokens_per_s, p.cost, p.power_w);
  return p;
}

absl::StatusOr<DesignResult> FleetDesigner::Search(const DesignOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const int threads = options.threads > 0
                          ? options.threads
                          : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  DesignResult result;
  DesignStats& stats = result.stats;
  const size_t k = space_.candidates.size();

  // (1) The lattice.
  std::vector<std::vector<int64_t>> levels(k);
  std::vector<int64_t> steps(k);
  stats.space_mixes = 1;
  for (size_t i = 0; i < k; ++i) {
    levels[i] =
        Levels(space_.candidates[i], options.exhaustive ? 0 : options.max_levels, &steps[i]);
    stats.space_mixes *= static_cast<double>(space_.candidates[i].levels());
    stats.coarse = stats.coarse || steps[i] > 1;
  }
  std::vector<Mix> feasible;
  for (Mix& m : Product(levels)) {
    ++stats.lattice_mixes;
    if (space_.Violations(m).empty()) feasible.push_back(std::move(m));
  }
  stats.feasible = static_cast<int64_t>(feasible.size());
  if (feasible.empty()) {
    TANGRAM_RETURN_IF_ERROR(ExplainInfeasible(space_));
    return absl::FailedPreconditionError(absl::StrCat(
        space_.path, ": feasible mixes exist but none lies on the searched lattice (",
        options.max_levels, " counts per kind); search a finer lattice (--max-levels)"));
  }

  auto bound_objective = [&](const Mix& m) {
    return ObjectiveValue(options.objective, space_.pricing, BoundTokensPerS(m), space_.Cost(m),
                          space_.PowerW(m));
  };
  // Every planned, feasible mix with a plan, by mix (the top list and the frontier read it).
  std::map<Mix, DesignPoint> planned;
  auto record = [&](const std::vector<Mix>& batch) {
    for (const Mix& m : batch) {
      DesignPoint p = Point(m, options);
      if (p.plan.ok) {
        planned.emplace(m, std::move(p));
      } else {
        ++stats.no_plan;
      }
    }
  };
  auto threshold = [&] {
    if (static_cast<int>(planned.size()) < options.top) return -kInf;
    std::vector<double> v;
    for (const auto& [m, p] : planned) v.push_back(p.objective);
    std::nth_element(v.begin(), v.begin() + (options.top - 1), v.end(), std::greater<double>());
    return v[options.top - 1];
  };

  // (2) Best first, by the objective's bound.
  auto best_first = [&](std::vector<Mix> mixes) -> void {
    std::vector<std::pair<double, Mix>> order;
    for (Mix& m : mixes) order.emplace_back(bound_objective(m), std::move(m));
    std::stable_sort(order.begin(), order.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    size_t i = 0;
    while (i < order.size()) {
      const double t = threshold();
      if (!options.exhaustive && order[i].first * (1 + kBoundMargin) <= t) break;
      std::vector<Mix> batch;
      while (i < order.size() && static_cast<int>(batch.size()) < threads &&
             (options.exhaustive || order[i].first * (1 + kBoundMargin) > t)) {
        batch.push_back(order[i++].second);
      }
      PlanAll(batch, threads, &stats);
      record(batch);
    }
  };
  best_first(feasible);

  // (3) The frontier: increasing resource; a mix whose bound's time to train is no better than a
  // cheaper planned mix's is dominated.
  if (options.frontier) {
    auto resource = [&](const Mix& m) {
      return options.axis == FrontierAxis::kCost ? space_.Cost(m) : space_.PowerW(m);
    };
    std::vector<Mix> grid = feasible;
    if (stats.coarse && !options.exhaustive) {
      std::vector<std::vector<int64_t>> coarse(k);
      for (size_t i = 0; i < k; ++i) {
        const DesignCandidate& c = space_.candidates[i];
        coarse[i] = c.levels() <= options.frontier_levels
                        ? levels[i]
                        : GeometricLevels(c, std::max(2, options.frontier_levels));
      }
      grid.clear();
      for (Mix& m : Product(coarse)) {
        if (space_.Violations(m).empty()) grid.push_back(std::move(m));
      }
    }
    std::vector<std::pair<std::pair<double, double>, Mix>> order;
    for (const Mix& m : grid) order.push_back({{resource(m), -BoundTokensPerS(m)}, m});
    std::stable_sort(order.begin(), order.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    double best_time = kInf;
    size_t i = 0;
    while (i < order.size()) {
      std::vector<Mix> batch;
      while (i < order.size() && static_cast<int>(batch.size()) < threads) {
        const Mix& m = order[i++].second;
        const double lower = options.train_tokens / BoundTokensPerS(m);
        if (!options.exhaustive && lower * (1 + kBoundMargin) >= best_time) {
          continue;
        }
        batch.push_back(m);
      }
      PlanAll(batch, threads, &stats);
      record(batch);
      for (const Mix& m : batch) {
        auto it = planned.find(m);
        if (it != planned.end()) best_time = std::min(best_time, it->second.time_to_train_s);
      }
    }
  }

  // (4) Refinement around the best when the lattice skipped counts.
  if (stats.coarse && !options.exhaustive && !planned.empty()) {
    const int64_t before = stats.planned;
    for (int round = 0; round < 64; ++round) {
      const DesignPoint* best = nullptr;
      for (const auto& [m, p] : planned) {
        if (best == nullptr || Better(p, *best)) best = &p;
      }
      const Mix center = best->nodes;
      bool unit = true;
      for (int64_t& s : steps) {
        s = std::max<int64_t>(1, (s + 1) / 2);
        unit = unit && s == 1;
      }
      std::vector<std::vector<int64_t>> around(k);
      for (size_t i = 0; i < k; ++i) {
        const DesignCandidate& c = space_.candidates[i];
        for (int64_t d : {-steps[i], int64_t{0}, steps[i]}) {
          const int64_t n = center[i] + d;
          if (n >= c.min_nodes && n <= c.max_nodes) around[i].push_back(n);
        }
      }
      std::vector<Mix> local;
      for (Mix& m : Product(around)) {
        if (space_.Violations(m).empty()) local.push_back(std::move(m));
      }
      best_first(std::move(local));
      const DesignPoint* after = nullptr;
      for (const auto& [m, p] : planned) {
        if (after == nullptr || Better(p, *after)) after = &p;
      }
      if (unit && after->nodes == center) break;
    }
    stats.refined = stats.planned - before;
  }

  if (planned.empty()) {
    // The largest feasible mix is the likeliest to hold the model: quote why it cannot.
    const Mix* largest = &feasible.front();
    for (const Mix& m : feasible) {
      if (space_.Devices(m) > space_.Devices(*largest)) largest = &m;
    }
    return absl::FailedPreconditionError(
        absl::StrCat(space_.path, ": the model fits no fleet of the space; e.g. the largest, ",
                     space_.Describe(*largest), ": ", PlanMix(*largest).error));
  }

  std::vector<DesignPoint> all;
  for (auto& [m, p] : planned) all.push_back(p);
  std::sort(all.begin(), all.end(), Better);
  // Runners-up that cost and draw no less than a better fleet are left out: an extra node the plan
  // leaves idle would otherwise fill the list with copies of the best.
  for (const DesignPoint& p : all) {
    if (static_cast<int>(result.best.size()) >= options.top) break;
    bool dominated = false;
    for (const DesignPoint& q : result.best) {
      dominated = dominated || (q.cost <= p.cost && q.power_w <= p.power_w);
    }
    if (dominated) continue;
    result.best.push_back(p);
    result.best.back().binding = space_.Binding(p.nodes);
  }
  if (options.frontier) {
    std::sort(all.begin(), all.end(), [&](const DesignPoint& a, const DesignPoint& b) {
      const double ra = Resource(a, options.axis), rb = Resource(b, options.axis);
      if (ra != rb) return ra < rb;
      if (a.time_to_train_s != b.time_to_train_s) return a.time_to_train_s < b.time_to_train_s;
      return a.nodes < b.nodes;
    });
    double best_time = kInf;
    for (const DesignPoint& p : all) {
      if (p.time_to_train_s < best_time * (1 - 1e-12)) {
        best_time = p.time_to_train_s;
        result.frontier.push_back(p);
        result.frontier.back().binding = space_.Binding(p.nodes);
      }
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const Mix& m : feasible) stats.pruned += cache_.count(m) ? 0 : 1;
  }
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace tangram::partitioner
