#include "partitioner/grid.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace tangram::partitioner {

int64_t GridLayout::dp() const {
  int64_t n = 0;
  for (const ReplicaClass& c : classes) n += c.count;
  return n;
}

std::vector<int> TpCandidates(const CostModel& cost) {
  std::vector<int> out;
  for (int t : {1, 2, 4, 8}) {
    for (const NodeGroup& g : cost.fleet().groups) {
      if (g.devices_per_node % t == 0) {
        out.push_back(t);
        break;
      }
    }
  }
  return out;
}

std::vector<Pool> BuildPools(const CostModel& cost, int tp) {
  const Fleet& fleet = cost.fleet();
  // Devices of each (group, node), in fleet order.
  std::map<std::pair<int, int64_t>, std::vector<int64_t>> node_devices;
  std::vector<std::pair<int, int64_t>> order;
  for (const DeviceSlot& s : cost.slots()) {
    auto [it, fresh] = node_devices.try_emplace({s.group, s.node});
    if (fresh) order.push_back({s.group, s.node});
    it->second.push_back(s.index);
  }
  using Key = std::tuple<std::string, double, double, int, int, double, double>;
  std::map<Key, int> pool_of;
  std::vector<Pool> pools;
  for (const auto& [group, node] : order) {
    const NodeGroup& g = fleet.groups[group];
    const std::vector<int64_t>& devices = node_devices[{group, node}];
    Key key{g.device.kind,
            cost.GroupTflops(group),
            g.device.memory_gib,
            cost.slots()[devices[0]].island,
            g.devices_per_node,
            g.nic_gbps,
            g.device.intra_node_link_gbs};
    auto [it, fresh] = pool_of.emplace(key, static_cast<int>(pools.size()));
    if (fresh) {
      Pool p;
      p.group = group;
      p.kind = g.device.kind;
      p.island = cost.slots()[devices[0]].island;
      pools.push_back(p);
    }
    Pool& pool = pools[it->second];
    const size_t before = pool.units.size();
    for (size_t i = 0; i + tp <= devices.size(); i += tp) {
      pool.units.push_back(
          {group, node, std::vector<int64_t>(devices.begin() + i, devices.begin() + i + tp)});
    }
    if (pool.units.size() > before) ++pool.nodes;
  }
  std::erase_if(pools, [](const Pool& p) { return p.units.empty(); });
  return pools;
}

GridEvaluator::GridEvaluator(const CostModel& cost, int tp)
    : cost_(cost), tp_(tp), pools_(BuildPools(cost, tp)) {
  const size_t k = pools_.size();
  link_alpha_.assign(k, std::vector<double>(k, 0));
  link_gbs_.assign(k, std::vector<double>(k, 1e30));
  for (size_t a = 0; a < k; ++a) {
    for (size_t b = 0; b < k; ++b) {
      int64_t from = pools_[a].units[0].devices[0];
      int64_t to = pools_[b].units[0].devices[0];
      if (a == b) {
        if (pools_[a].units.size() < 2) continue;
        to = pools_[a].units[1].devices[0];
      }
      link_alpha_[a][b] = cost.LinkLatency(from, to);
      link_gbs_[a][b] = cost.LinkGbs(from, to);
    }
  }
  for (const Pool& p : pools_) usable_bytes_.push_back(cost.UsableBytes(p.group));
  const int64_t L = cost.num_layers();
  for (int64_t mb = cost.training().micro_batch; mb >= 1; mb /= 2) {
    ComputeTable table;
    table.micro_batch = mb;
    const double b = static_cast<double>(mb);
    table.boundary_bytes = cost.BoundaryBytes(tp_, b);
    for (const Pool& p : pools_) {
      std::vector<double>& seconds = table.seconds.emplace_back((L + 1) * (L + 1), kInfeasible);
      for (int64_t begin = 0; begin < L; ++begin) {
        for (int64_t end = begin + 1; end <= L; ++end) {
          const CostModel::CellCost c = cost.Cell(p.group, tp_, begin, end, b);
          seconds[begin * (L + 1) + end] = c.forward_s + c.backward_s;
        }
      }
    }
    tables_.push_back(std::move(table));
  }
}

const GridEvaluator::ComputeTable* GridEvaluator::FindTable(int64_t micro_batch) const {
  for (const ComputeTable& t : tables_) {
    if (t.micro_batch == micro_batch) return &t;
  }
  return nullptr;
}

double GridEvaluator::CellTime(int pool, int prev_pool, int next_pool, int s, int pp, int64_t dp,
                               int64_t begin, int64_t end, int64_t micro_batch) const {
  const double b = static_cast<double>(micro_batch);
  const MemoryBreakdown m = cost_.StageMemory(tp_, static_cast<int>(dp), begin, end, pp - s, b);
  if (m.total() > usable_bytes_[pool]) return kInfeasible;
  double t, bytes;
  if (const ComputeTable* table = FindTable(micro_batch); table != nullptr) {
    t = table->seconds[pool][begin * (cost_.num_layers() + 1) + end];
    bytes = table->boundary_bytes;
  } else {
    const CostModel::CellCost c = cost_.Cell(pools_[pool].group, tp_, begin, end, b);
    t = c.forward_s + c.backward_s;
    bytes = cost_.BoundaryBytes(tp_, b);
  }
  // Rendezvous p2p (DeepSpeed's pipeline engine) also keeps the stage through its receives.
  const bool rendezvous = cost_.training().pipeline_p2p == PipelineP2p::kRendezvous;
  double send = 0;
  if (next_pool >= 0) {
    send += link_alpha_[pool][next_pool] + bytes / (link_gbs_[pool][next_pool] * 1e9);
    if (rendezvous)
      send += link_alpha_[next_pool][pool] + bytes / (link_gbs_[next_pool][pool] * 1e9);
  }
  if (prev_pool >= 0) {
    send += link_alpha_[pool][prev_pool] + bytes / (link_gbs_[pool][prev_pool] * 1e9);
    if (rendezvous)
      send += link_alpha_[prev_pool][pool] + bytes / (link_gbs_[prev_pool][pool] * 1e9);
  }
  // Overlapped sends (pipeline_p2p: overlapped) run beside the compute, as in CostModel::Evaluate.
  return cost_.training().pipeline_p2p == PipelineP2p::kOverlapped ? std::max(t, send) : t + send;
}

std::vector<int64_t> GridEvaluator::Balance(const std::vector<ReplicaClass>& classes, int pp,
                                            int64_t micro_batch,
                                            const std::vector<double>& weights) const {
  const int64_t L = cost_.num_layers();
  if (pp < 1 || pp > L || classes.empty()) return {};
  int64_t dp = 0;
  for (const ReplicaClass& c : classes) dp += c.count;
  auto stage_cost = [&](int s, int64_t a, int64_t e) {
    double worst = 0;
    for (size_t c = 0; c < classes.size(); ++c) {
      const std::vector<int>& p = classes[c].pools;
      double t = CellTime(p[s], s > 0 ? p[s - 1] : -1, s + 1 < pp ? p[s + 1] : -1, s, pp, dp, a, e,
                          micro_batch);
      worst = std::max(worst, t * (weights.empty() ? 1.0 : weights[c]));
    }
    return worst;
  };
  // f[e]: the best bottleneck of stages 0..s covering layers [0, e).
  std::vector<double> f(L + 1, kInfeasible), g(L + 1, kInfeasible);
  std::vector<std::vector<int64_t>> arg(pp, std::vector<int64_t>(L + 1, -1));
  for (int64_t e = 1; e <= L - pp + 1; ++e) f[e] = stage_cost(0, 0, e);
  for (int s = 1; s < pp; ++s) {
    std::fill(g.begin(), g.end(), kInfeasible);
    for (int64_t e = s + 1; e <= L - pp + s + 1; ++e) {
      double best = kInfeasible;
      for (int64_t a = e - 1; a >= s; --a) {
        // A stage's cost only grows as it takes more layers, so once it alone reaches the best
        // found, starting earlier cannot help.
        const double c = stage_cost(s, a, e);
        if (c >= best) break;
        const double v = std::max(f[a], c);
        if (v < best) {
          best = v;
          arg[s][e] = a;
        }
      }
      g[e] = best;
    }
    std::swap(f, g);
  }
  if (!(f[L] < kInfeasible)) return {};
  std::vector<int64_t> bounds(pp + 1);
  bounds[pp] = L;
  for (int s = pp - 1; s >= 1; --s) bounds[s] = arg[s][bounds[s + 1]];
  bounds[0] = 0;
  return bounds;
}

namespace {

// What the 1F1B pace of each replica class needs from its cells: Σ and max over the stages of one
// micro-batch's cell time, and per stage the shortest backward (the window that hides the
// gradient reduction) and the slowest optimizer step.
struct ClassPaces {
  std::vector<double> sum, max, window;
  double optimizer = 0;
};

// False when a cell does not fit its pool's memory.
bool ComputePaces(const GridEvaluator& grid, const GridLayout& layout, ClassPaces* out) {
  const CostModel& cost = grid.cost();
  const int pp = layout.pp();
  const int64_t dp = layout.dp();
  const double b = static_cast<double>(layout.micro_batch);
  const size_t nc = layout.classes.size();
  out->sum.assign(nc, 0);
  out->max.assign(nc, 0);
  out->window.assign(pp, kInfeasible);
  for (size_t c = 0; c < nc; ++c) {
    const std::vector<int>& p = layout.classes[c].pools;
    for (int s = 0; s < pp; ++s) {
      const int64_t a = layout.bounds[s], e = layout.bounds[s + 1];
      const double t = grid.CellTime(p[s], s > 0 ? p[s - 1] : -1, s + 1 < pp ? p[s + 1] : -1, s, pp,
                                     dp, a, e, layout.micro_batch);
      if (!(t < kInfeasible)) return false;
      out->sum[c] += t;
      out->max[c] = std::max(out->max[c], t);
      const int group = grid.pools()[p[s]].group;
      out->window[s] = std::min(out->window[s], cost.Cell(group, grid.tp(), a, e, b).backward_s);
      out->optimizer =
          std::max(out->optimizer,
                   cost.OptimizerTime(
                       group, cost.StageMemory(grid.tp(), static_cast<int>(dp), a, e, pp - s, b)));
    }
  }
  return true;
}

// Class c's 1F1B time with n samples per replica: Σ c + (micro-batches − 1) · max c.
double Pace(const ClassPaces& paces, size_t c, double n, double b) {
  return paces.sum[c] + (std::max(n, b) / b - 1) * paces.max[c];
}

// Samples per replica of each class (at least one) with which all classes finish together and
// take the whole batch: water-filling, bisecting the common pace.
std::vector<double> WaterFill(const GridLayout& layout, const ClassPaces& paces, int64_t batch) {
  const double b = static_cast<double>(layout.micro_batch);
  const size_t nc = layout.classes.size();
  const std::vector<double>& sum = paces.sum;
  const std::vector<double>& max = paces.max;
  auto share = [&](size_t c, double T) { return std::max(1.0, b * (1 + (T - sum[c]) / max[c])); };
  std::vector<double> s(nc);
  if (nc == 1) {
    s[0] = static_cast<double>(batch) / layout.dp();
    return s;
  }
  double lo = 0, hi = 0;
  for (size_t c = 0; c < nc; ++c) hi = std::max(hi, sum[c] + batch / b * max[c]);
  for (int it = 0; it < 64; ++it) {
    double mid = 0.5 * (lo + hi), total = 0;
    for (size_t c = 0; c < nc; ++c) total += layout.classes[c].count * share(c, mid);
    (total >= batch ? hi : lo) = mid;
  }
  double total = 0;
  for (size_t c = 0; c < nc; ++c) total += layout.classes[c].count * (s[c] = share(c, hi));
  // Trim the overshoot of the last bisection step proportionally (never below one sample).
  double excess = total - batch;
  for (size_t c = 0; c < nc && excess > 0; ++c) {
    double cut = std::min(excess / layout.classes[c].count, s[c] - 1) * (s[c] > 1 ? 1 : 0);
    s[c] -= cut;
    excess -= cut * layout.classes[c].count;
  }
  return s;
}

// The largest whole-sample count a replica of the class holds.
int64_t MostSamples(const WholeShare& w) { return w.samples + (w.extra > 0); }

// Whole samples from the continuous shares: the floors, then the remainder one sample at a time
// (a class's replicas in turn) to the class whose replicas finish earliest with one more —
// optimal for the slowest replica, which is what the step waits for. False when the one-sample
// minimum cannot be met.
bool WholeSamples(const GridLayout& layout, const ClassPaces& paces,
                  const std::vector<double>& shares, int64_t batch, std::vector<WholeShare>* out) {
  const double b = static_cast<double>(layout.micro_batch);
  const size_t nc = layout.classes.size();
  std::vector<WholeShare>& w = *out;
  w.assign(nc, WholeShare{});
  int64_t left = batch;
  for (size_t c = 0; c < nc; ++c) {
    w[c].samples = std::max<int64_t>(1, static_cast<int64_t>(std::floor(shares[c] + 1e-9)));
    left -= w[c].samples * layout.classes[c].count;
  }
  while (left > 0) {
    size_t best = 0;
    double best_t = kInfeasible;
    for (size_t c = 0; c < nc; ++c) {
      const double t = Pace(paces, c, static_cast<double>(w[c].samples + 1), b);
      if (t < best_t) best_t = t, best = c;
    }
    const int64_t give = std::min(left, layout.classes[best].count - w[best].extra);
    w[best].extra += give;
    left -= give;
    if (w[best].extra == layout.classes[best].count) ++w[best].samples, w[best].extra = 0;
  }
  while (left < 0) {  // floors above the share (the one-sample minimum): take back from the slowest
    size_t worst = nc;
    double worst_t = -1;
    for (size_t c = 0; c < nc; ++c) {
      if (MostSamples(w[c]) <= 1) continue;
      const double t = Pace(paces, c, static_cast<double>(MostSamples(w[c])), b);
      if (t > worst_t) worst_t = t, worst = c;
    }
    if (worst == nc) return false;
    if (w[worst].extra == 0) --w[worst].samples, w[worst].extra = layout.classes[worst].count;
    const int64_t take = std::min(-left, w[worst].extra);
    w[worst].extra -= take;
    left += take;
  }
  return true;
}

// The (island, node) pairs each stage's units occupy, taking units in Materialize's order (a pool
// of several nodes may still hold a stage's replicas inside one). False when a pool runs out.
using StageNodes = std::vector<std::vector<std::pair<int, int64_t>>>;
bool CountStageNodes(const std::vector<Pool>& pools, const GridLayout& layout, StageNodes* out) {
  const int pp = layout.pp();
  out->assign(pp, {});
  std::vector<size_t> next(pools.size(), 0);
  for (const ReplicaClass& rc : layout.classes) {
    for (int64_t k = 0; k < rc.count; ++k) {
      for (int st = 0; st < pp; ++st) {
        const Pool& pool = pools[rc.pools[st]];
        if (next[rc.pools[st]] >= pool.units.size()) return false;
        const std::pair<int, int64_t> at{pool.island, pool.units[next[rc.pools[st]]++].node};
        std::vector<std::pair<int, int64_t>>& seen = (*out)[st];
        if (std::find(seen.begin(), seen.end(), at) == seen.end()) seen.push_back(at);
      }
    }
  }
  return true;
}

// The data-parallel part of a step: the largest exposed gradient reduction over the stages,
// ZeRO-3's parameter gathers (their sum and maximum over the stages) and ZeRO-2's after the step.
struct DataParallelCost {
  double exposed = 0, gather_sum = 0, gather_max = 0;
  double after_step = 0;  // ZeRO-2's parameter allgather after the optimizer step, longest stage
};

// Per stage, the allreduce group summarised per island from the pools; the node counts are exact
// when `stage_nodes` is given, else bounded by the pool's node count.
DataParallelCost DataParallel(const GridEvaluator& grid, const GridLayout& layout,
                              const std::vector<double>& window, const StageNodes& stage_nodes) {
  const CostModel& cost = grid.cost();
  const Fleet& fleet = cost.fleet();
  DataParallelCost out;
  if (layout.dp() <= 1) return out;
  for (int st = 0; st < layout.pp(); ++st) {
    AllreduceGroup group;
    for (const ReplicaClass& rc : layout.classes) {
      const Pool& pool = grid.pools()[rc.pools[st]];
      group.Add(fleet, pool.group, pool.island, rc.count, std::min<int64_t>(rc.count, pool.nodes));
    }
    if (!stage_nodes.empty()) {
      for (AllreduceGroup::Part& part : group.parts) {
        part.nodes =
            std::count_if(stage_nodes[st].begin(), stage_nodes[st].end(),
                          [&](const std::pair<int, int64_t>& n) { return n.first == part.island; });
      }
    }
    const int64_t a = layout.bounds[st], e = layout.bounds[st + 1];
    const double ar =
        cost.GradientAllreduceTime(group, cost.GradientAllreduceBytes(grid.tp(), a, e));
    const double g = cost.ParameterGatherTime(group, grid.tp(), a, e);
    out.after_step =
        std::max(out.after_step, cost.ParameterGatherAfterStepTime(group, grid.tp(), a, e));
    out.gather_sum += g;
    out.gather_max = std::max(out.gather_max, g);
    out.exposed =
        std::max(out.exposed, ar - (cost.training().overlap_grad_reduce ? window[st] : 0.0));
  }
  return out;
}

}  // namespace

double GridEvaluator::StepTime(const GridLayout& layout, std::vector<double>* samples,
                               std::vector<WholeShare>* whole) const {
  const int pp = layout.pp();
  const int64_t dp = layout.dp();
  const int64_t batch = cost_.training().global_batch;
  if (pp < 1 || dp < 1 || dp > batch) return kInfeasible;
  const double b = static_cast<double>(layout.micro_batch);
  ClassPaces paces;
  if (!ComputePaces(*this, layout, &paces)) return kInfeasible;
  std::vector<double> s = WaterFill(layout, paces, batch);
  std::vector<WholeShare> w;
  if (!WholeSamples(layout, paces, s, batch, &w)) return kInfeasible;
  double pipeline = 0;
  for (size_t c = 0; c < w.size(); ++c) {
    pipeline = std::max(pipeline, Pace(paces, c, static_cast<double>(MostSamples(w[c])), b));
  }
  // The nodes a stage spans decide between the intra-node and the inter-node ring: counted
  // exactly on layouts of few units.
  StageNodes stage_nodes;
  if (dp * pp <= 256 && !CountStageNodes(pools_, layout, &stage_nodes)) return kInfeasible;
  const DataParallelCost dpc = DataParallel(*this, layout, paces.window, stage_nodes);
  // ZeRO-3's gathers, one forward and one backward per micro-batch at every stage: they lengthen
  // each stage's per-micro-batch time, so the 1F1B pace grows by 2·(Σ g + (m − 1)·max g) for the
  // replica with the most micro-batches (exact at pp = 1; Evaluate adds them cell by cell).
  if (dpc.gather_max > 0) {
    double m = 1;
    for (const WholeShare& ws : w) m = std::max(m, std::ceil(MostSamples(ws) / b));
    pipeline += 2 * (dpc.gather_sum + (m - 1) * dpc.gather_max);
  }
  if (samples != nullptr) *samples = s;
  if (whole != nullptr) *whole = std::move(w);
  return pipeline + dpc.exposed + paces.optimizer + dpc.after_step;
}

double GridEvaluator::BalanceAndTime(GridLayout* layout) const {
  const int pp = static_cast<int>(layout->classes.at(0).pools.size());
  double best = kInfeasible;
  std::vector<double> weights;
  std::vector<int64_t> best_bounds;
  for (int round = 0; round < (layout->classes.size() > 1 ? 2 : 1); ++round) {
    layout->bounds = Balance(layout->classes, pp, layout->micro_batch, weights);
    if (layout->bounds.empty()) break;
    std::vector<double> samples;
    double t = StepTime(*layout, &samples);
    if (t < best) {
      best = t;
      best_bounds = layout->bounds;
    }
    weights = samples;  // micro-batches per replica ∝ samples
  }
  layout->bounds = best_bounds;
  return best;
}

}  // namespace tangram::partitioner
