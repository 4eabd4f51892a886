#include "orchestrator/simulator/cpu_pool.h"

#include <algorithm>

#include "orchestrator/runtime/cpu_pinning.h"

namespace tangram::simulator::internal {

ProcessorSharing::ProcessorSharing(std::vector<double> cores, int32_t tasks)
    : cores_(std::move(cores)),
      running_(cores_.size()),
      load_(cores_.size(), 0.0),
      tasks_(static_cast<size_t>(tasks)) {}

void ProcessorSharing::Start(int32_t id, int32_t pool, double work, double demand, double now) {
  Task& t = tasks_[id];
  t.pool = pool;
  t.remaining = std::max(0.0, work);
  t.demand = demand;
  t.updated = now;
  running_[pool].push_back(id);
  load_[pool] += demand;
  Reshare(pool, now);
}

void ProcessorSharing::Finish(int32_t id, double now) {
  Task& t = tasks_[id];
  const int32_t pool = t.pool;
  changed_.clear();
  if (pool < 0) return;
  auto& list = running_[pool];
  list.erase(std::find(list.begin(), list.end(), id));
  load_[pool] = list.empty() ? 0.0 : load_[pool] - t.demand;
  t.pool = -1;
  ++t.version;
  Reshare(pool, now);
}

bool ProcessorSharing::Current(int32_t id, uint32_t version) const {
  return tasks_[id].pool >= 0 && tasks_[id].version == version;
}

// Brings every running task of `pool` up to `now` at its old rate, then gives all the pool's new
// rate and a new completion time.
void ProcessorSharing::Reshare(int32_t pool, double now) {
  changed_.clear();
  const double rate = std::min(1.0, cores_[pool] / std::max(load_[pool], 1e-12));
  for (int32_t id : running_[pool]) {
    Task& t = tasks_[id];
    t.remaining = std::max(0.0, t.remaining - (now - t.updated) * t.rate);
    t.updated = now;
    t.rate = rate;
    ++t.version;
    changed_.push_back({id, t.version, now + t.remaining / rate});
  }
}

namespace {

// A pool as the engine runs it: a measured pool, or one CPU of a pool whose ranks training pins.
struct EnginePool {
  const partitioner::MeasuredCpuPool* measured = nullptr;
  std::vector<int64_t> ranks;
  std::vector<double> demand;  // per rank of `ranks`
  double cores = 0;            // effective
};

// Each measured pool whole, or, where training pins its ranks under `plan` (a whole multiple of
// its CPUs, orchestrator/runtime/cpu_pinning.h), one pool per CPU with the ranks pinned there and
// an equal share of the pool's effective cores: a rank cannot borrow a core its neighbour leaves
// idle.
std::vector<EnginePool> EnginePools(const std::vector<partitioner::MeasuredCpuPool>& pools,
                                    const partitioner::Plan& plan) {
  std::vector<EnginePool> out;
  for (const auto& p : pools) {
    const size_t first = out.size();
    const std::vector<int> cpus = orchestrator::PinnedCpus(plan, p);
    const int parts = cpus.empty() ? 1 : p.cores;
    for (int c = 0; c < parts; ++c) {
      out.push_back({&p, {}, {}, std::max(p.EffectiveCores() / parts, 1e-6)});
    }
    for (size_t i = 0; i < p.ranks.size(); ++i) {
      const int c = cpus.empty() ? 0 : cpus[i];
      out[first + c].ranks.push_back(p.ranks[i]);
      out[first + c].demand.push_back(p.Demand(i));
    }
  }
  return out;
}

}  // namespace

void AttachCpuPools(const partitioner::Fleet& fleet, const partitioner::Plan& plan,
                    const std::vector<CellResult>& cells, Workload* work) {
  if (!fleet.measured || fleet.measured->cpu_pools.empty()) return;
  const std::vector<EnginePool> pools = EnginePools(fleet.measured->cpu_pools, plan);
  work->cell_pool.assign(cells.size(), -1);
  work->cell_demand.assign(cells.size(), 0.0);
  work->cell_cpu_scale.assign(cells.size(), 1.0);
  work->pool_cores.clear();
  for (const auto& p : pools) work->pool_cores.push_back(p.cores);
  bool any = false;
  for (size_t c = 0; c < cells.size(); ++c) {
    for (size_t p = 0; p < pools.size(); ++p) {
      double demand = 0;
      for (int64_t d : cells[c].devices) {
        auto it = std::find(pools[p].ranks.begin(), pools[p].ranks.end(), d);
        if (it != pools[p].ranks.end()) demand += pools[p].demand[it - pools[p].ranks.begin()];
      }
      if (demand <= 0) continue;
      // A cell in two pools (a tensor-parallel group across machines, or across the CPUs its
      // ranks are pinned to) takes its first.
      work->cell_pool[c] = static_cast<int32_t>(p);
      work->cell_demand[c] = demand;
      // The op times come from the busy rate; alone, a rank needs busy ÷ solo of that.
      const auto& measured = *pools[p].measured;
      if (measured.busy_tflops > 0 && measured.SoloTflops() > measured.busy_tflops) {
        work->cell_cpu_scale[c] = measured.busy_tflops / measured.SoloTflops();
      }
      any = true;
      break;
    }
  }
  if (!any) {
    work->cell_pool.clear();
    work->cell_demand.clear();
    work->cell_cpu_scale.clear();
    work->pool_cores.clear();
  }
}

}  // namespace tangram::simulator::internal
