#include "orchestrator/simulator/cpu_pool.h"

#include <algorithm>

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

void AttachCpuPools(const partitioner::Fleet& fleet, const std::vector<CellResult>& cells,
                    Workload* work) {
  if (!fleet.measured || fleet.measured->cpu_pools.empty()) return;
  const auto& pools = fleet.measured->cpu_pools;
  work->cell_pool.assign(cells.size(), -1);
  work->cell_demand.assign(cells.size(), 0.0);
  work->cell_cpu_scale.assign(cells.size(), 1.0);
  work->pool_cores.clear();
  for (const auto& p : pools) work->pool_cores.push_back(std::max(p.EffectiveCores(), 1e-6));
  bool any = false;
  for (size_t c = 0; c < cells.size(); ++c) {
    for (size_t p = 0; p < pools.size(); ++p) {
      double demand = 0;
      for (int64_t d : cells[c].devices) {
        auto it = std::find(pools[p].ranks.begin(), pools[p].ranks.end(), d);
        if (it != pools[p].ranks.end()) demand += pools[p].Demand(it - pools[p].ranks.begin());
      }
      if (demand <= 0) continue;
      // A cell in two pools (a tensor-parallel group across machines) takes its first.
      work->cell_pool[c] = static_cast<int32_t>(p);
      work->cell_demand[c] = demand;
      // The op times come from the busy rate; alone, a rank needs busy ÷ solo of that.
      const auto& pool = pools[p];
      if (pool.busy_tflops > 0 && pool.SoloTflops() > pool.busy_tflops) {
        work->cell_cpu_scale[c] = pool.busy_tflops / pool.SoloTflops();
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
