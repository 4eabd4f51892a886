#include "collectives/islands/island_cost.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace tangram::collectives {
namespace {

double Ring(int p, double bytes, LinkCost link) {
  if (p <= 1) return 0;
  return 2.0 * (p - 1) * link.Seconds(0) +
         2.0 * (p - 1) / p * (link.bandwidth_Bps > 0 ? bytes / link.bandwidth_Bps : 0.0);
}

}  // namespace

absl::string_view CrossIslandAlgorithmName(CrossIslandAlgorithm algorithm) {
  return algorithm == CrossIslandAlgorithm::kExchange ? "exchange" : "ring";
}

double CrossIslandSeconds(CrossIslandAlgorithm algorithm, double shard_bytes, int islands,
                          LinkCost bridge) {
  if (islands <= 1) return 0;
  const double beta = bridge.bandwidth_Bps > 0 ? 1.0 / bridge.bandwidth_Bps : 0.0;
  if (algorithm == CrossIslandAlgorithm::kExchange) {
    return (islands - 1) * (bridge.alpha_s + shard_bytes * beta);
  }
  return 2.0 * (islands - 1) * (bridge.alpha_s + shard_bytes / islands * beta);
}

CrossIslandAlgorithm ChooseCrossIslandAlgorithm(double shard_bytes, int islands, LinkCost bridge) {
  if (islands <= 2) return CrossIslandAlgorithm::kExchange;
  return CrossIslandSeconds(CrossIslandAlgorithm::kExchange, shard_bytes, islands, bridge) <=
                 CrossIslandSeconds(CrossIslandAlgorithm::kRing, shard_bytes, islands, bridge)
             ? CrossIslandAlgorithm::kExchange
             : CrossIslandAlgorithm::kRing;
}

size_t IslandSegments(double bytes, size_t segment_bytes) {
  if (segment_bytes == 0) segment_bytes = kDefaultSegmentBytes;
  const double segments = std::ceil(bytes / static_cast<double>(segment_bytes));
  return static_cast<size_t>(std::clamp(segments, 1.0, 16.0));
}

double IslandAllReduceSeconds(double bytes, const std::vector<IslandShape>& islands,
                              LinkCost bridge, size_t segment_bytes, std::string* chosen) {
  const int k = static_cast<int>(islands.size());
  if (k == 0 || bytes <= 0) return 0;
  bool equal = true;
  int smallest = islands[0].members;
  for (const IslandShape& island : islands) {
    equal &= island.members == islands[0].members;
    smallest = std::min(smallest, island.members);
  }
  const double s = static_cast<double>(IslandSegments(bytes, segment_bytes));
  double inside = 0;
  for (const IslandShape& island : islands) {
    // Uneven islands reduce to and broadcast from m owners; the island libraries pipeline both
    // (NCCL's and Open MPI's large-message reduce and broadcast are chunked rings), so they move
    // the bytes of a reduce-scatter + allgather and are costed as one.
    inside = std::max(inside, Ring(island.members, bytes, island.inside));
  }
  // Per segment the bridge carries one member's shard: of the island (equal) or of the smallest
  // island (uneven: that many owners per island).
  const double shard = bytes / (equal ? islands[0].members : smallest);
  const CrossIslandAlgorithm algorithm = ChooseCrossIslandAlgorithm(shard / s, k, bridge);
  const double cross = s * CrossIslandSeconds(algorithm, shard / s, k, bridge);
  if (chosen != nullptr) *chosen = absl::StrCat("islands/", CrossIslandAlgorithmName(algorithm));
  if (k == 1) return inside;
  return (inside + cross) / s + (s - 1) / s * std::max(inside, cross);
}

}  // namespace tangram::collectives
