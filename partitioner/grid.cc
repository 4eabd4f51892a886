#include "partitioner/grid.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "partitioner/chunks.h"

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

std::string_view UnitOrderName(UnitOrder order) {
  return order == UnitOrder::kStageMajor ? "stage-major" : "replica-major";
}

GridEvaluator::GridEvaluator(const CostModel& cost, int tp)
    : cost_(cost), tp_(tp), pools_(BuildPools(cost, tp)) {
  const size_t k = pools_.size();
  far_alpha_.assign(k, std::vector<double>(k, 0));
  far_gbs_.assign(k, std::vector<double>(k, 1e30));
  near_alpha_.assign(k, 0);
  near_gbs_.assign(k, 1e30);
  // A pool's first unit on another node than `unit`'s, else its second unit, else -1.
  auto other = [&](size_t b, const Unit& unit, bool same_node) -> int64_t {
    for (const Unit& u : pools_[b].units) {
      if (&u != &unit && (u.node == unit.node) == same_node) return u.devices[0];
    }
    return -1;
  };
  for (size_t a = 0; a < k; ++a) {
    const Unit& first = pools_[a].units[0];
    for (size_t b = 0; b < k; ++b) {
      int64_t to = other(b, first, /*same_node=*/false);
      if (to < 0) to = other(b, first, /*same_node=*/true);
      if (to < 0) continue;  // a pool of one unit: no link to itself
      far_alpha_[a][b] = cost.LinkLatency(first.devices[0], to);
      far_gbs_[a][b] = cost.LinkGbs(first.devices[0], to);
    }
    const int64_t to = other(a, first, /*same_node=*/true);
    near_alpha_[a] = to < 0 ? far_alpha_[a][a] : cost.LinkLatency(first.devices[0], to);
    near_gbs_[a] = to < 0 ? far_gbs_[a][a] : cost.LinkGbs(first.devices[0], to);
  }
  for (const Pool& p : pools_) usable_bytes_.push_back(cost.AdmissibleBytes(p.group));
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

double GridEvaluator::ComputeTime(int pool, int s, int pp, int64_t dp, int64_t begin, int64_t end,
                                  int64_t micro_batch) const {
  const double b = static_cast<double>(micro_batch);
  const MemoryBreakdown m = cost_.StageMemory(tp_, static_cast<int>(dp), begin, end, pp - s, b);
  if (m.total() > usable_bytes_[pool]) return kInfeasible;
  if (const ComputeTable* table = FindTable(micro_batch); table != nullptr) {
    return table->seconds[pool][begin * (cost_.num_layers() + 1) + end];
  }
  const CostModel::CellCost c = cost_.Cell(pools_[pool].group, tp_, begin, end, b);
  return c.forward_s + c.backward_s;
}

std::vector<std::vector<double>> GridEvaluator::SendTimes(const std::vector<ReplicaClass>& classes,
                                                          int pp, UnitOrder order,
                                                          int64_t micro_batch) const {
  std::vector<std::vector<double>> out(classes.size(), std::vector<double>(pp, 0));
  if (pp <= 1) return out;
  const ComputeTable* table = FindTable(micro_batch);
  const double bytes = table != nullptr
                           ? table->boundary_bytes
                           : cost_.BoundaryBytes(tp_, static_cast<double>(micro_batch));
  // Rendezvous p2p (DeepSpeed's pipeline engine) also keeps the stage through its receives.
  const bool rendezvous = cost_.training().pipeline_p2p == PipelineP2p::kRendezvous;
  const int v = VirtualStagesOf(cost_.training().layout, pp);
  auto link = [&](int a, int64_t node_a, int b, int64_t node_b) {
    const bool near = a == b && node_a == node_b;
    const double alpha = near ? near_alpha_[a] : far_alpha_[a][b];
    const double gbs = near ? near_gbs_[a] : far_gbs_[a][b];
    return alpha + bytes / (gbs * 1e9);
  };
  // The node of each replica's unit at each stage, one class at a time (a class's replicas are
  // taken together in either order).
  std::vector<std::vector<int64_t>> node(classes.size());
  for (size_t c = 0; c < classes.size(); ++c) node[c].assign(classes[c].count * pp, 0);
  ForEachCell(pools_, classes, pp, order, [&](size_t c, int64_t k, int s, int p, size_t u) {
    node[c][k * pp + s] = pools_[p].units[u].node;
  });
  for (size_t c = 0; c < classes.size(); ++c) {
    const std::vector<int>& p = classes[c].pools;
    for (int64_t k = 0; k < classes[c].count; ++k) {
      const int64_t* n = &node[c][k * pp];
      for (int s = 0; s < pp; ++s) {
        double send = 0;
        for (int step : {1, -1}) {
          // v sends to each neighbour, v − 1 around the wrap (CostModel::Evaluate's rule).
          const int t = (s + step + pp) % pp;
          const int count = (s + step < 0 || s + step >= pp) ? v - 1 : v;
          if (count <= 0) continue;
          double one = link(p[s], n[s], p[t], n[t]);
          if (rendezvous) one += link(p[t], n[t], p[s], n[s]);
          send += count * one;
        }
        out[c][s] = std::max(out[c][s], send);
      }
    }
  }
  return out;
}

bool GridEvaluator::UnitOrderMatters(const GridLayout& layout) const {
  if (layout.classes.empty() || layout.classes[0].pools.size() <= 1 || layout.dp() <= 1) {
    return false;
  }
  for (const ReplicaClass& c : layout.classes) {
    for (int p : c.pools) {
      if (pools_[p].size() > pools_[p].nodes) return true;
    }
  }
  return false;
}

double GridEvaluator::CellTime(double compute, double send) const {
  // Overlapped sends (pipeline_p2p: overlapped) run beside the compute, as in CostModel::Evaluate.
  return cost_.training().pipeline_p2p == PipelineP2p::kOverlapped ? std::max(compute, send)
                                                                   : compute + send;
}

bool GridEvaluator::StageSplits(int s, int pp, int64_t begin, int64_t end) const {
  const PinnedLayout& layout = cost_.training().layout;
  return partitioner::StageSplits(end - begin, s == 0, s + 1 == pp, VirtualStagesOf(layout, pp),
                                  layout.chunk_split);
}

std::vector<int64_t> GridEvaluator::Balance(const std::vector<ReplicaClass>& classes, int pp,
                                            int64_t micro_batch, const std::vector<double>& weights,
                                            UnitOrder order) const {
  const int64_t L = cost_.num_layers();
  if (pp < 1 || pp > L || classes.empty()) return {};
  int64_t dp = 0;
  for (const ReplicaClass& c : classes) dp += c.count;
  const std::vector<std::vector<double>> send = SendTimes(classes, pp, order, micro_batch);
  auto stage_cost = [&](int s, int64_t a, int64_t e) {
    double worst = 0;
    for (size_t c = 0; c < classes.size(); ++c) {
      const double t =
          CellTime(ComputeTime(classes[c].pools[s], s, pp, dp, a, e, micro_batch), send[c][s]);
      worst = std::max(worst, t * (weights.empty() ? 1.0 : weights[c]));
    }
    return worst;
  };
  auto splits = [&](int s, int64_t a, int64_t e) { return StageSplits(s, pp, a, e); };
  // f[e]: the best bottleneck of stages 0..s covering layers [0, e).
  std::vector<double> f(L + 1, kInfeasible), g(L + 1, kInfeasible);
  std::vector<std::vector<int64_t>> arg(pp, std::vector<int64_t>(L + 1, -1));
  for (int64_t e = 1; e <= L - pp + 1; ++e)
    f[e] = splits(0, 0, e) ? stage_cost(0, 0, e) : kInfeasible;
  for (int s = 1; s < pp; ++s) {
    std::fill(g.begin(), g.end(), kInfeasible);
    for (int64_t e = s + 1; e <= L - pp + s + 1; ++e) {
      double best = kInfeasible;
      for (int64_t a = e - 1; a >= s; --a) {
        if (!splits(s, a, e)) continue;  // too few layers yet; a smaller `a` adds some
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
  // Σ over the stages at a smaller micro-batch n, [c][n] (0: not yet computed): a replica with
  // fewer samples than the micro-batch runs them as one micro-batch of that size, as
  // CostModel::Evaluate costs it. Filled on demand (PartialSum).
  std::vector<std::vector<double>> partial;
  const GridEvaluator* grid = nullptr;
  const GridLayout* layout = nullptr;
};

// Class c's Σ over its stages of one micro-batch of n samples (n < the layout's micro-batch).
double PartialSum(ClassPaces& paces, size_t c, int64_t n) {
  std::vector<double>& cache = paces.partial[c];
  if (cache.empty()) cache.assign(paces.layout->micro_batch, 0);
  if (cache[n] > 0) return cache[n];
  const GridEvaluator& grid = *paces.grid;
  const GridLayout& layout = *paces.layout;
  const int pp = layout.pp();
  const std::vector<int>& p = layout.classes[c].pools;
  const std::vector<std::vector<double>> send =
      grid.SendTimes({layout.classes[c]}, pp, layout.order, n);
  double sum = 0;
  for (int s = 0; s < pp; ++s) {
    sum += grid.CellTime(
        grid.ComputeTime(p[s], s, pp, layout.dp(), layout.bounds[s], layout.bounds[s + 1], n),
        send[0][s]);
  }
  return cache[n] = sum;
}

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
  out->partial.assign(nc, {});
  out->grid = &grid;
  out->layout = &layout;
  const std::vector<std::vector<double>> send =
      grid.SendTimes(layout.classes, pp, layout.order, layout.micro_batch);
  for (size_t c = 0; c < nc; ++c) {
    const std::vector<int>& p = layout.classes[c].pools;
    for (int s = 0; s < pp; ++s) {
      const int64_t a = layout.bounds[s], e = layout.bounds[s + 1];
      const double t =
          grid.CellTime(grid.ComputeTime(p[s], s, pp, dp, a, e, layout.micro_batch), send[c][s]);
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
  // Interleaved 1F1B (v chunks per stage): fill and drain shrink by v, (Σ c + (m·v − 1)·max c)/v
  // = [(Σ c − max c)/v + max c] + (m − 1)·max c, so Pace's 1F1B form holds with that Σ.
  const double v = VirtualStagesOf(cost.training().layout, pp);
  for (size_t c = 0; c < nc && v > 1; ++c)
    out->sum[c] = (out->sum[c] - out->max[c]) / v + out->max[c];
  return true;
}

// Class c's 1F1B time with n samples per replica: Σ c + (micro-batches − 1) · max c, the last
// micro-batch fractional; fewer whole samples than a micro-batch run as one smaller micro-batch.
double Pace(ClassPaces& paces, size_t c, double n, double b) {
  if (n < b && n >= 1 && n == std::floor(n) && paces.grid != nullptr) {
    return PartialSum(paces, c, static_cast<int64_t>(n));
  }
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
bool WholeSamples(const GridLayout& layout, ClassPaces& paces, const std::vector<double>& shares,
                  int64_t batch, std::vector<WholeShare>* out) {
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
  out->assign(layout.pp(), {});
  return ForEachCell(pools, layout.classes, layout.pp(), layout.order,
                     [&](size_t, int64_t, int st, int p, size_t u) {
                       const std::pair<int, int64_t> at{pools[p].island, pools[p].units[u].node};
                       std::vector<std::pair<int, int64_t>>& seen = (*out)[st];
                       if (std::find(seen.begin(), seen.end(), at) == seen.end())
                         seen.push_back(at);
                     });
}

// The data-parallel part of a step: the largest exposed gradient reduction over the stages,
// ZeRO-3's parameter gathers (their sum and maximum over the stages) and ZeRO-2's after the step.
struct DataParallelCost {
  double exposed = 0, gather_sum = 0, gather_max = 0;
  double after_step = 0;  // ZeRO-2's parameter allgather after the optimizer step, longest stage
};

// Per stage, the allreduce group summarised per island from the pools; the node counts are exact
// when `stage_nodes` is given, else bounded by the pool's node count (replica-major: a node per
// replica) or by the nodes the stage's replicas fill (stage-major: a node's units side by side).
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
      int64_t nodes = std::min<int64_t>(rc.count, pool.nodes);
      if (layout.order == UnitOrder::kStageMajor) {
        const int64_t per_node = (pool.size() + pool.nodes - 1) / pool.nodes;
        nodes = std::min<int64_t>(pool.nodes, (rc.count + per_node - 1) / per_node);
      }
      group.Add(fleet, pool.group, pool.island, rc.count, nodes);
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
    // Interleaved: only the last chunk's backward (1/v of the stage's) follows the last
    // micro-batch's gradients, as CostModel::Evaluate takes it.
    const double hide = window[st] / VirtualStagesOf(cost.training().layout, layout.pp());
    out.exposed = std::max(out.exposed, ar - (cost.training().overlap_grad_reduce ? hide : 0.0));
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
  for (int st = 0; st < pp; ++st) {
    if (!StageSplits(st, pp, layout.bounds[st], layout.bounds[st + 1])) return kInfeasible;
  }
  const double b = static_cast<double>(layout.micro_batch);
  ClassPaces paces;
  if (!ComputePaces(*this, layout, &paces)) return kInfeasible;
  std::vector<double> s = WaterFill(layout, paces, batch);
  std::vector<WholeShare> w;
  if (!WholeSamples(layout, paces, s, batch, &w)) return kInfeasible;
  double pipeline = 0;
  for (size_t c = 0; c < w.size(); ++c) {
    pipeline = std::max(pipeline, Pace(paces, c, static_cast<double>(MostSamples(w[c])), b));
    // A replica's smaller last micro-batch has a shorter backward to hide the allreduce behind.
    if (w[c].samples < layout.micro_batch) {
      const std::vector<int>& p = layout.classes[c].pools;
      for (int st = 0; st < pp; ++st) {
        paces.window[st] = std::min(
            paces.window[st], cost_
                                  .Cell(pools_[p[st]].group, tp_, layout.bounds[st],
                                        layout.bounds[st + 1], static_cast<double>(w[c].samples))
                                  .backward_s);
      }
    }
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
    layout->bounds = Balance(layout->classes, pp, layout->micro_batch, weights, layout->order);
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
