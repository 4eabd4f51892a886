// Fleet design: the search over mixes (whole nodes per candidate kind) of a DesignSpace for the
// fleets that train a job best, each planned by the auto strategy on the planner's cost model.
//
// Bound. A mix's tokens/s cannot exceed its compute bound: Σ devices × the kind's throughput on
// this job (CostModel::GroupTflops: model FLOPs per token ÷ the device's time per token) ÷ the
// model's FLOPs per token — the cost model's own bound, which no plan beats (efficiency ≤ 1). The
// bound is linear in the counts, hence monotone, and so are the objectives' bounds (bound ÷ cost,
// bound ÷ power).
//
// Search. (1) The lattice: every count of a candidate with ≤ `max_levels` counts, else
// `max_levels` evenly spaced counts from min to max. (2) Best-first: feasible lattice mixes in
// decreasing order of their objective's bound, planned in batches of `threads`; the search stops
// when the next bound cannot beat the `top`-th best found. (3) Frontier: mixes in increasing cost
// (or power), a mix skipped when the time to train its bound gives is no better than that of a
// cheaper mix already planned (it is dominated); on a coarse space this pass walks a coarser
// lattice (`frontier_levels` counts per candidate, geometrically spaced: 0, 1, 5, 13, 32), and the
// frontier is that of every mix planned.
// (4) When the lattice was coarse: pattern search around the best, halving each candidate's step to
// one node, then ±1-node moves until none improves. Plans are cached by mix, so the passes, the
// refinement and a quota sweep share them. On a space whose every candidate has ≤ max_levels counts
// the lattice is the whole space and the result equals exhaustive enumeration
// (tests/partitioner/fleet_design_test.cc).
//
// Thread-safe to use one FleetDesigner from one thread; it runs its own worker threads.
#ifndef TANGRAM_PARTITIONER_FLEET_DESIGN_H_
#define TANGRAM_PARTITIONER_FLEET_DESIGN_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "partitioner/cost_model.h"
#include "partitioner/design_space.h"
#include "partitioner/model.h"
#include "partitioner/training.h"

namespace tangram::partitioner {

// The frontier's resource axis.
enum class FrontierAxis { kCost, kPower };

struct DesignOptions {
  DesignObjective objective = DesignObjective::kTimeToTrain;
  FrontierAxis axis = FrontierAxis::kCost;
  double train_tokens = 1e12;  // tokens to train: time to train = train_tokens ÷ tokens/s
  int top = 5;                 // best fleets to return
  int threads = 0;             // planning threads; 0 = hardware concurrency
  int max_levels = 9;          // lattice counts per candidate before the search goes coarse
  // Counts per candidate on the frontier's lattice when the space is coarse (a frontier needs a
  // plan at nearly every point: the bound prunes little there). Small spaces: every mix.
  int frontier_levels = 5;
  bool frontier = true;     // also compute the Pareto frontier
  bool exhaustive = false;  // plan every feasible mix of the whole space (the baseline)
};

// The best plan's summary for a mix (the full plan is re-made on demand: a 4,096-device plan is
// large, and hundreds are searched).
struct MixPlan {
  bool ok = false;
  std::string error;  // when !ok: why auto found no plan (usually memory)
  int tp = 0, pp = 0, dp = 0;
  double step_time_s = 0, tokens_per_s = 0, efficiency = 0, mfu = 0;
  std::string bottleneck;
};

struct DesignPoint {
  std::vector<int64_t> nodes;  // per candidate
  int64_t devices = 0;
  double cost = 0;     // USD, or USD per hour
  double power_w = 0;  // board power
  double tokens_per_s = 0;
  double bound_tokens_per_s = 0;
  double time_to_train_s = 0;
  double objective = 0;  // the objective's value (larger is better)
  MixPlan plan;
  std::vector<std::string> binding;  // DesignSpace::Binding
};

struct DesignStats {
  double space_mixes = 0;     // every count of every candidate (product), feasible or not
  int64_t lattice_mixes = 0;  // mixes on the searched lattice
  int64_t feasible = 0;       // lattice mixes meeting every constraint
  int64_t planned = 0;        // auto strategy runs (cache misses)
  int64_t cache_hits = 0;
  int64_t pruned = 0;   // feasible lattice mixes never planned (skipped by a bound)
  int64_t no_plan = 0;  // planned mixes the model does not fit
  int64_t refined = 0;  // mixes planned by the refinement
  bool coarse = false;  // the lattice skipped counts
  double seconds = 0;
};

struct DesignResult {
  // By objective, best first; a runner-up is listed only when it is cheaper or draws less power
  // than every fleet above it (else it is the same answer with idle nodes).
  std::vector<DesignPoint> best;
  std::vector<DesignPoint> frontier;  // by increasing cost (power), strictly decreasing time
  DesignStats stats;
};

// The objective's value of (tokens/s, cost, power) — larger is better.
double ObjectiveValue(DesignObjective o, Pricing pricing, double tokens_per_s, double cost,
                      double power_w);

class FleetDesigner {
 public:
  // `space` is copied; its constraints may be replaced later (SetConstraints) while the plan cache
  // stays valid (the cache depends only on the candidates, the model and the training).
  // `cost`: the options of every cost model it builds (the orchestrator passes its islands
  // allreduce, orchestrator/islands_cost.h, so that mixes spanning islands are costed as they run).
  static absl::StatusOr<std::unique_ptr<FleetDesigner>> Create(const DesignSpace& space,
                                                               const ModelSpec& model,
                                                               const TrainingSpec& training,
                                                               CostOptions cost = {});

  // Runs the search. kFailedPrecondition when no mix is feasible (naming the binding constraints,
  // ExplainInfeasible) or when the model fits no feasible mix (with auto's reason).
  absl::StatusOr<DesignResult> Search(const DesignOptions& options);

  void SetConstraints(const DesignConstraints& constraints) { space_.constraints = constraints; }
  const DesignSpace& space() const { return space_; }
  // Upper bound on a mix's tokens/s (see the file comment).
  double BoundTokensPerS(const std::vector<int64_t>& nodes) const;
  // The auto strategy's plan for a mix, from the cache or planned now.
  MixPlan PlanMix(const std::vector<int64_t>& nodes);

 private:
  friend class DesignSearch;  // one Search's phases (fleet_design.cc)
  FleetDesigner(DesignSpace space, ModelSpec model, TrainingSpec training, CostOptions cost)
      : space_(std::move(space)),
        model_(std::move(model)),
        training_(std::move(training)),
        cost_(std::move(cost)) {}
  // Plans the mixes not cached yet, `threads` at a time.
  void PlanAll(const std::vector<std::vector<int64_t>>& mixes, int threads, DesignStats* stats);
  DesignPoint Point(const std::vector<int64_t>& nodes, const DesignOptions& options);

  DesignSpace space_;
  ModelSpec model_;
  TrainingSpec training_;
  CostOptions cost_;
  std::vector<double> tokens_per_device_;  // per candidate: its bound tokens/s per device
  std::mutex mu_;
  std::map<std::vector<int64_t>, MixPlan> cache_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tangram::partitioner

#endif  // TANGRAM_PARTITIONER_FLEET_DESIGN_H_
