// Materialize: from an abstract GridLayout to a concrete Plan.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "partitioner/grid.h"

namespace tangram::partitioner {
namespace {

// Whole samples per replica: floor of each share (at least 1), then the remainder to the largest
// fractional parts, or taken back from the smallest ones. Sums to `batch` whenever batch >= n.
std::vector<int64_t> RoundShares(const std::vector<double>& share, int64_t batch) {
  const size_t n = share.size();
  std::vector<int64_t> out(n);
  int64_t total = 0;
  for (size_t i = 0; i < n; ++i) {
    out[i] = std::max<int64_t>(1, static_cast<int64_t>(std::floor(share[i])));
    total += out[i];
  }
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  auto frac = [&](size_t i) { return share[i] - static_cast<double>(out[i]); };
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return frac(a) > frac(b); });
  for (size_t k = 0; total < batch; k = (k + 1) % n) {
    ++out[order[k]];
    ++total;
  }
  for (size_t k = n; total > batch;) {
    k = (k == 0 ? n : k) - 1;
    if (out[order[k]] > 1) {
      --out[order[k]];
      --total;
    }
  }
  return out;
}

// Per-replica shares (`whole`: already whole samples, kept as they are).
absl::StatusOr<Plan> MaterializeShares(const GridEvaluator& grid, const GridLayout& layout,
                                       const std::vector<double>& replica_shares,
                                       StrategyKind strategy) {
  const CostModel& cost = grid.cost();
  const int pp = layout.pp();
  const int64_t dp = layout.dp();
  const int64_t batch = cost.training().global_batch;
  if (pp < 1 || dp < 1) return absl::InternalError("materialize: empty layout");
  if (dp > batch) {
    return absl::FailedPreconditionError(
        absl::StrCat("the global batch (", batch, ") is smaller than the ", dp,
                     " data-parallel replicas: every replica needs at least one sample"));
  }
  Plan plan;
  plan.strategy = strategy;
  plan.fleet = cost.fleet().name;
  plan.model = cost.model().name;
  plan.tp = grid.tp();
  plan.pp = pp;
  plan.dp = static_cast<int>(dp);
  plan.global_batch = batch;
  plan.seq_len = cost.model().seq_len;
  plan.zero_stage = cost.training().zero_stage;
  plan.precision = cost.training().precision;
  plan.recompute = cost.training().recompute;
  for (const Layer& l : cost.layers()) plan.layer_names.push_back(l.name);
  plan.stages.resize(pp);
  for (int s = 0; s < pp; ++s) {
    plan.stages[s].index = s;
    plan.stages[s].layer_begin = layout.bounds[s];
    plan.stages[s].layer_end = layout.bounds[s + 1];
  }
  // Replica indices: the classes' replicas in turn, whichever order the units are taken in.
  std::vector<int64_t> first_replica(layout.classes.size() + 1, 0);
  for (size_t c = 0; c < layout.classes.size(); ++c) {
    first_replica[c + 1] = first_replica[c] + layout.classes[c].count;
  }
  for (int s = 0; s < pp; ++s) plan.stages[s].cells.resize(dp);
  std::vector<char> used(cost.slots().size(), 0);
  const bool enough = ForEachCell(grid.pools(), layout.classes, pp, layout.order,
                                  [&](size_t c, int64_t k, int s, int p, size_t u) {
                                    const Unit& unit = grid.pools()[p].units[u];
                                    for (int64_t d : unit.devices) used[d] = 1;
                                    PlanCell& cell = plan.stages[s].cells[first_replica[c] + k];
                                    cell.replica = static_cast<int>(first_replica[c] + k);
                                    cell.devices = unit.devices;
                                  });
  if (!enough) return absl::InternalError("materialize: a pool has too few units for the layout");
  std::vector<int64_t> whole = RoundShares(replica_shares, batch);
  for (int r = 0; r < plan.dp; ++r) {
    PlanReplica rep;
    rep.index = r;
    rep.samples = whole[r];
    rep.micro_batch_size = std::min(layout.micro_batch, rep.samples);
    rep.micro_batches = (rep.samples + rep.micro_batch_size - 1) / rep.micro_batch_size;
    plan.replicas.push_back(rep);
  }
  for (size_t d = 0; d < used.size(); ++d) {
    if (!used[d]) plan.unused_devices.push_back(static_cast<int64_t>(d));
  }
  if (!plan.unused_devices.empty()) {
    plan.notes.push_back(absl::StrCat(plan.unused_devices.size(),
                                      " devices left idle (they do not fill a whole replica or "
                                      "tensor-parallel group of this layout)"));
  }
  return plan;
}

}  // namespace

absl::StatusOr<Plan> Materialize(const GridEvaluator& grid, const GridLayout& layout,
                                 const std::vector<double>& samples, StrategyKind strategy) {
  std::vector<double> shares;
  const double even = static_cast<double>(grid.cost().training().global_batch) /
                      static_cast<double>(std::max<int64_t>(1, layout.dp()));
  for (size_t c = 0; c < layout.classes.size(); ++c) {
    shares.insert(shares.end(), layout.classes[c].count, samples.empty() ? even : samples[c]);
  }
  return MaterializeShares(grid, layout, shares, strategy);
}

absl::StatusOr<Plan> Materialize(const GridEvaluator& grid, const GridLayout& layout,
                                 const std::vector<WholeShare>& whole, StrategyKind strategy) {
  if (whole.size() != layout.classes.size())
    return Materialize(grid, layout, std::vector<double>{}, strategy);
  std::vector<double> shares;
  for (size_t c = 0; c < layout.classes.size(); ++c) {
    for (int64_t k = 0; k < layout.classes[c].count; ++k) {
      shares.push_back(static_cast<double>(whole[c].samples + (k < whole[c].extra ? 1 : 0)));
    }
  }
  return MaterializeShares(grid, layout, shares, strategy);
}

absl::StatusOr<Plan> MaterializeAndEvaluate(const GridEvaluator& grid, const GridLayout& layout,
                                            StrategyKind strategy) {
  std::vector<WholeShare> whole;
  grid.StepTime(layout, nullptr, &whole);
  TANGRAM_ASSIGN_OR_RETURN(Plan plan, Materialize(grid, layout, whole, strategy));
  TANGRAM_RETURN_IF_ERROR(grid.cost().Evaluate(&plan));
  // The search tries the job's micro-batch and its halvings; a smaller one is said, not silent.
  const int64_t asked = grid.cost().training().micro_batch;
  if (layout.micro_batch != asked) {
    plan.notes.push_back(absl::StrCat("micro-batch ", layout.micro_batch, " (the job's is ", asked,
                                      "): predicted faster, or the job's does not fit"));
  }
  return plan;
}

}  // namespace tangram::partitioner
