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
                                                                     const TrainingSpec& training,
                                                                     CostOptions cost) {
  std::unique_ptr<FleetDesigner> d(new FleetDesigner(space, model, training, cost));
  for (const DesignCandidate& c : space.candidates) {
    // One node of the candidate alone: its per-device throughput on this job does not depend on
    // the rest of the fleet.
    Fleet one;
    one.name = "bound";
    one.groups.push_back(c.group);
    one.groups.back().count = 1;
    TANGRAM_ASSIGN_OR_RETURN(CostModel cost, CostModel::Create(one, model, training, d->cost_));
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
      CostModel::Create(space_.MakeFleet(nodes, space_.name), model_, training_, cost_);
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

// One run of FleetDesigner::Search: the mixes planned so far (the top list and the frontier read
// them) and the phases that choose what to plan next.
class DesignSearch {
 public:
  DesignSearch(FleetDesigner& designer, const DesignOptions& options, int threads,
               DesignStats* stats)
      : designer_(designer),
        space_(designer.space_),
        options_(options),
        threads_(threads),
        stats_(stats) {}

  // (2) Best first, by the objective's bound, until no bound can reach the top list.
  void BestFirst(std::vector<Mix> mixes) {
    std::vector<std::pair<double, Mix>> order;
    for (Mix& m : mixes) order.emplace_back(BoundObjective(m), std::move(m));
    std::stable_sort(order.begin(), order.end(),
                     [](const auto& a, const auto& b) { return a.first > b.first; });
    size_t i = 0;
    while (i < order.size()) {
      const double t = Threshold();
      if (!options_.exhaustive && order[i].first * (1 + kBoundMargin) <= t) break;
      std::vector<Mix> batch;
      while (i < order.size() && static_cast<int>(batch.size()) < threads_ &&
             (options_.exhaustive || order[i].first * (1 + kBoundMargin) > t)) {
        batch.push_back(order[i++].second);
      }
      PlanAndRecord(batch);
    }
  }

  // (3) The frontier: increasing resource; a mix whose bound's time to train is no better than a
  // cheaper planned mix's is dominated. On a coarse lattice, the frontier walks a geometric one.
  void Frontier(const std::vector<Mix>& feasible, const std::vector<std::vector<int64_t>>& levels) {
    auto resource = [&](const Mix& m) {
      return options_.axis == FrontierAxis::kCost ? space_.Cost(m) : space_.PowerW(m);
    };
    std::vector<Mix> grid = feasible;
    if (stats_->coarse && !options_.exhaustive) {
      std::vector<std::vector<int64_t>> coarse(levels.size());
      for (size_t i = 0; i < levels.size(); ++i) {
        const DesignCandidate& c = space_.candidates[i];
        coarse[i] = c.levels() <= options_.frontier_levels
                        ? levels[i]
                        : GeometricLevels(c, std::max(2, options_.frontier_levels));
      }
      grid.clear();
      for (Mix& m : Product(coarse)) {
        if (space_.Violations(m).empty()) grid.push_back(std::move(m));
      }
    }
    std::vector<std::pair<std::pair<double, double>, Mix>> order;
    for (const Mix& m : grid) order.push_back({{resource(m), -designer_.BoundTokensPerS(m)}, m});
    std::stable_sort(order.begin(), order.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    double best_time = kInf;
    size_t i = 0;
    while (i < order.size()) {
      std::vector<Mix> batch;
      while (i < order.size() && static_cast<int>(batch.size()) < threads_) {
        const Mix& m = order[i++].second;
        const double lower = options_.train_tokens / designer_.BoundTokensPerS(m);
        if (!options_.exhaustive && lower * (1 + kBoundMargin) >= best_time) {
          continue;
        }
        batch.push_back(m);
      }
      PlanAndRecord(batch);
      for (const Mix& m : batch) {
        auto it = planned_.find(m);
        if (it != planned_.end()) best_time = std::min(best_time, it->second.time_to_train_s);
      }
    }
  }

  // (4) Refinement around the best when the lattice skipped counts: halve the steps and search
  // the neighbours of the best so far, until the steps are 1 and the best stays put.
  void Refine(std::vector<int64_t> steps) {
    const int64_t before = stats_->planned;
    for (int round = 0; round < 64; ++round) {
      const Mix center = Best().nodes;
      bool unit = true;
      for (int64_t& s : steps) {
        s = std::max<int64_t>(1, (s + 1) / 2);
        unit = unit && s == 1;
      }
      std::vector<std::vector<int64_t>> around(steps.size());
      for (size_t i = 0; i < steps.size(); ++i) {
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
      BestFirst(std::move(local));
      if (unit && Best().nodes == center) break;
    }
    stats_->refined = stats_->planned - before;
  }

  const std::map<Mix, DesignPoint>& planned() const { return planned_; }

 private:
  double BoundObjective(const Mix& m) const {
    return ObjectiveValue(options_.objective, space_.pricing, designer_.BoundTokensPerS(m),
                          space_.Cost(m), space_.PowerW(m));
  }
  // The objective a mix must beat to enter the top list (-inf while it is not full).
  double Threshold() const {
    if (static_cast<int>(planned_.size()) < options_.top) return -kInf;
    std::vector<double> v;
    for (const auto& [m, p] : planned_) v.push_back(p.objective);
    std::nth_element(v.begin(), v.begin() + (options_.top - 1), v.end(), std::greater<double>());
    return v[options_.top - 1];
  }
  const DesignPoint& Best() const {
    const DesignPoint* best = nullptr;
    for (const auto& [m, p] : planned_) {
      if (best == nullptr || Better(p, *best)) best = &p;
    }
    return *best;
  }
  void PlanAndRecord(const std::vector<Mix>& batch) {
    designer_.PlanAll(batch, threads_, stats_);
    for (const Mix& m : batch) {
      DesignPoint p = designer_.Point(m, options_);
      if (p.plan.ok) {
        planned_.emplace(m, std::move(p));
      } else {
        ++stats_->no_plan;
      }
    }
  }

  FleetDesigner& designer_;
  const DesignSpace& space_;
  const DesignOptions& options_;
  const int threads_;
  DesignStats* stats_;
  std::map<Mix, DesignPoint> planned_;
};

namespace {

// (1) The lattice: each candidate's counts (all, or max_levels of them), and the mixes of them
// that meet the space's constraints. `steps`: each candidate's spacing on the lattice.
std::vector<Mix> FeasibleLattice(const DesignSpace& space, const DesignOptions& options,
                                 std::vector<std::vector<int64_t>>* levels,
                                 std::vector<int64_t>* steps, DesignStats* stats) {
  const size_t k = space.candidates.size();
  levels->assign(k, {});
  steps->assign(k, 0);
  stats->space_mixes = 1;
  for (size_t i = 0; i < k; ++i) {
    (*levels)[i] =
        Levels(space.candidates[i], options.exhaustive ? 0 : options.max_levels, &(*steps)[i]);
    stats->space_mixes *= static_cast<double>(space.candidates[i].levels());
    stats->coarse = stats->coarse || (*steps)[i] > 1;
  }
  std::vector<Mix> feasible;
  for (Mix& m : Product(*levels)) {
    ++stats->lattice_mixes;
    if (space.Violations(m).empty()) feasible.push_back(std::move(m));
  }
  return feasible;
}

// The top list (best first; runners-up that cost and draw no less than a better fleet are left
// out: an extra node the plan leaves idle would otherwise fill the list with copies of the best)
// and, when asked, the frontier (each point better in time to train than every cheaper one).
void SelectResults(std::vector<DesignPoint> all, const DesignSpace& space,
                   const DesignOptions& options, DesignResult* result) {
  std::sort(all.begin(), all.end(), Better);
  for (const DesignPoint& p : all) {
    if (static_cast<int>(result->best.size()) >= options.top) break;
    bool dominated = false;
    for (const DesignPoint& q : result->best) {
      dominated = dominated || (q.cost <= p.cost && q.power_w <= p.power_w);
    }
    if (dominated) continue;
    result->best.push_back(p);
    result->best.back().binding = space.Binding(p.nodes);
  }
  if (!options.frontier) return;
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
      result->frontier.push_back(p);
      result->frontier.back().binding = space.Binding(p.nodes);
    }
  }
}

}  // namespace

absl::StatusOr<DesignResult> FleetDesigner::Search(const DesignOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const int threads = options.threads > 0
                          ? options.threads
                          : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  DesignResult result;
  DesignStats& stats = result.stats;
  std::vector<std::vector<int64_t>> levels;
  std::vector<int64_t> steps;
  const std::vector<Mix> feasible = FeasibleLattice(space_, options, &levels, &steps, &stats);
  stats.feasible = static_cast<int64_t>(feasible.size());
  if (feasible.empty()) {
    TANGRAM_RETURN_IF_ERROR(ExplainInfeasible(space_));
    return absl::FailedPreconditionError(absl::StrCat(
        space_.path, ": feasible mixes exist but none lies on the searched lattice (",
        options.max_levels, " counts per kind); search a finer lattice (--max-levels)"));
  }
  DesignSearch search(*this, options, threads, &stats);
  search.BestFirst(feasible);
  if (options.frontier) search.Frontier(feasible, levels);
  if (stats.coarse && !options.exhaustive && !search.planned().empty()) search.Refine(steps);
  if (search.planned().empty()) {
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
  for (const auto& [m, p] : search.planned()) all.push_back(p);
  SelectResults(std::move(all), space_, options, &result);
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const Mix& m : feasible) stats.pruned += cache_.count(m) ? 0 : 1;
  }
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace tangram::partitioner
