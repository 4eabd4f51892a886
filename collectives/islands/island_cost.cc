#include "collectives/islands/island_cost.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace tangram::collectives {
namespace {

// One half of a ring allreduce (a reduce-scatter or an allgather) of `bytes` over p members.
double HalfRing(int p, double bytes, LinkCost link) {
  if (p <= 1) return 0;
  return (p - 1) * link.Seconds(0) +
         (p - 1.0) / p * (link.bandwidth_Bps > 0 ? bytes / link.bandwidth_Bps : 0.0);
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

int CrossIslandPhases(CrossIslandAlgorithm algorithm, int islands) {
  return algorithm == CrossIslandAlgorithm::kExchange ? 1 : 2 * std::max(islands - 1, 1);
}

size_t IslandMinSegmentCount(int largest_island, size_t element_bytes, size_t segment_bytes) {
  if (segment_bytes == 0) segment_bytes = kDefaultSegmentBytes;
  const size_t shard = std::min(kMinShardBytes, segment_bytes / 8);
  return static_cast<size_t>(std::max(largest_island, 1)) *
         std::max<size_t>(shard / std::max<size_t>(element_bytes, 1), 1);
}

std::vector<size_t> IslandSegmentCounts(size_t count, size_t element_bytes, size_t segment_bytes,
                                        size_t min_count) {
  if (count == 0) return {};
  if (segment_bytes == 0) segment_bytes = kDefaultSegmentBytes;
  element_bytes = std::max<size_t>(element_bytes, 1);
  min_count = std::max<size_t>(min_count, 1);
  const size_t g = std::max<size_t>(segment_bytes / element_bytes, 1);
  const size_t middle = std::max({g, (count + 11) / 12, min_count});
  // The ramp: the bridge starts once the first (small) segment is reduced inside, and each next
  // segment, twice the size, is reduced while the bridge carries the one before.
  std::vector<size_t> ramp;
  size_t left = count;
  for (size_t r = std::max(g / 8, min_count); r < middle && left >= 3 * r; r *= 2) {
    ramp.push_back(r);
    left -= 2 * r;
  }
  std::vector<size_t> out(ramp.begin(), ramp.end());
  if (left > 0) {
    // Between M and 2M each (every segment costs a bridge message, α, per peer), but at most 3×
    // the last ramp segment, which the bridge carries while the island reduces the first of them.
    size_t n = std::max<size_t>(left / middle, 1);
    if (!ramp.empty()) n = std::max(n, (left + 3 * ramp.back() - 1) / (3 * ramp.back()));
    n = std::min(n, std::max<size_t>(left / min_count, 1));
    for (size_t i = 0; i < n; ++i) out.push_back(left / n + (i < left % n ? 1 : 0));
  }
  out.insert(out.end(), ramp.rbegin(), ramp.rend());
  return out;
}

IslandPlan PlanIslandAllReduce(size_t count, size_t element_bytes, size_t segment_bytes,
                               int islands, int owners, int largest_island, LinkCost bridge) {
  if (segment_bytes == 0) segment_bytes = kDefaultSegmentBytes;
  owners = std::max(owners, 1);
  element_bytes = std::max<size_t>(element_bytes, 1);
  auto plan = [&](size_t g) {
    IslandPlan p;
    p.segments = IslandSegmentCounts(count, element_bytes, g,
                                     IslandMinSegmentCount(largest_island, element_bytes, g));
    const size_t largest =
        p.segments.empty() ? 0 : *std::max_element(p.segments.begin(), p.segments.end());
    p.algorithm = ChooseCrossIslandAlgorithm(
        static_cast<double>(largest / static_cast<size_t>(owners) * element_bytes), islands,
        bridge);
    p.phases = CrossIslandPhases(p.algorithm, islands);
    return p;
  };
  IslandPlan p = plan(segment_bytes);
  if (p.algorithm == CrossIslandAlgorithm::kRing) {
    p = plan(segment_bytes * static_cast<size_t>(p.phases));
    // Larger shards only favour the ring more; hold it should a rounding say otherwise.
    p.algorithm = CrossIslandAlgorithm::kRing;
    p.phases = CrossIslandPhases(p.algorithm, islands);
  }
  return p;
}

double IslandAllReduceSeconds(double bytes, const std::vector<IslandShape>& islands,
                              LinkCost bridge, size_t segment_bytes, std::string* chosen) {
  const int k = static_cast<int>(islands.size());
  if (k == 0 || bytes <= 0) return 0;
  bool equal = true;
  int smallest = islands[0].members, largest_island = islands[0].members;
  for (const IslandShape& island : islands) {
    equal &= island.members == islands[0].members;
    smallest = std::min(smallest, island.members);
    largest_island = std::max(largest_island, island.members);
  }
  // Inside: the slowest island's ring halves (uneven islands reduce to and broadcast from m
  // owners; the island libraries pipeline both, NCCL's and Open MPI's large-message reduce and
  // broadcast being chunked rings, so they move the bytes of a reduce-scatter + allgather).
  auto inside = [&](double segment) {
    double t = 0;
    for (const IslandShape& island : islands) {
      t = std::max(t, HalfRing(island.members, segment, island.inside));
    }
    return t;
  };
  if (k == 1) return 2 * inside(bytes);
  const int owners = equal ? islands[0].members : smallest;
  const IslandPlan plan = PlanIslandAllReduce(static_cast<size_t>(bytes), 1, segment_bytes, k,
                                              owners, largest_island, bridge);
  const std::vector<size_t>& segments = plan.segments;
  const CrossIslandAlgorithm algorithm = plan.algorithm;
  if (chosen != nullptr) *chosen = absl::StrCat("islands/", CrossIslandAlgorithmName(algorithm));
  const int phases = plan.phases;

  // One owner's clock and bridge port, as the sim transport keeps them (the owners are alike).
  double clock = 0, port = 0;
  auto send = [&](double message_bytes) {
    port = std::max(clock, port) + bridge.Seconds(0) +
           (bridge.bandwidth_Bps > 0 ? message_bytes / bridge.bandwidth_Bps : 0.0);
    return port;  // the peers' messages to us arrive then too
  };
  const int n = static_cast<int>(segments.size());
  std::vector<double> ready(n, 0);  // when the phase in flight of segment s completes
  std::vector<int> done_phases(n, 0);
  auto post = [&](int s) {
    const double shard = static_cast<double>(segments[s]) / owners;
    if (algorithm == CrossIslandAlgorithm::kExchange) {
      for (int peer = 1; peer < k; ++peer) ready[s] = send(shard);
    } else {
      ready[s] = send(shard / k);
    }
  };
  for (int i = 0; i < n + phases; ++i) {
    if (i < n) {
      clock += inside(static_cast<double>(segments[i]));
      post(i);
    }
    for (int s = std::max(0, i - phases); s < std::min(i, n); ++s) {
      clock = std::max(clock, ready[s]);
      if (++done_phases[s] < phases) post(s);
    }
    if (i >= phases && i - phases < n) clock += inside(static_cast<double>(segments[i - phases]));
  }
  return clock;
}

}  // namespace tangram::collectives
