#include "orchestrator/islands_cost.h"

#include <vector>

#include "collectives/islands/island_cost.h"

namespace tangram::orchestrator {

double IslandsAllreduceSeconds(const partitioner::AllreduceGroup& group, double bytes,
                               const partitioner::NetworkSpec& network) {
  std::vector<collectives::IslandShape> islands;
  for (const auto& p : group.parts) {
    const double alpha =
        (p.nodes > 1 ? network.inter_node_latency_us : network.intra_node_latency_us) * 1e-6;
    islands.push_back({static_cast<int>(p.members), {alpha, p.RingGbs() * 1e9}});
  }
  return collectives::IslandAllReduceSeconds(
      bytes, islands, {network.inter_island_latency_us * 1e-6, group.inter_island_gbs * 1e9},
      collectives::kDefaultSegmentBytes, nullptr);
}

partitioner::CostOptions RuntimeCostOptions(partitioner::CostOptions options) {
  options.islands_allreduce = IslandsAllreduceSeconds;
  return options;
}

}  // namespace tangram::orchestrator
