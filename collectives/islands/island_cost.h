// The composed (islands) allreduce as α-β formulas, and the choice of its cross-island algorithm.
// One definition serves both sides: the islands communicator calls ChooseCrossIslandAlgorithm to
// pick what it runs, and the fleet simulator (orchestrator/simulator/workload.cc) calls
// IslandAllReduceSeconds to model the same schedule. Pure functions, thread-safe.
//
// Schedule modelled (island_communicator.cc): the vector is cut into S pipeline segments; per
// segment, a ring reduce-scatter inside each island, the cross-island step on each member's shard
// (equal islands; uneven: the first m members of every island own 1/m of the segment each, m the
// smallest island's size, with reduces and broadcasts instead of the rings, costed as the rings:
// the island libraries pipeline them), a ring allgather inside. Island-local steps of one segment
// overlap the bridge step of the previous one, so
//   T = (inside + cross) / S + (S − 1) / S · max(inside, cross).
#ifndef TANGRAM_COLLECTIVES_ISLANDS_ISLAND_COST_H_
#define TANGRAM_COLLECTIVES_ISLANDS_ISLAND_COST_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "collectives/link_model.h"

namespace tangram::collectives {

// How the members holding one shard (one per island) combine it across islands.
enum class CrossIslandAlgorithm {
  // Every member sends its shard to every other (K−1 messages of s bytes, one round) and reduces
  // in island order: (K−1)(α + s/B). Optimal for 2 islands; for more, when s is small.
  kExchange,
  // Ring reduce-scatter + allgather among the K members: 2(K−1)(α + s/(K·B)).
  kRing,
};

absl::string_view CrossIslandAlgorithmName(CrossIslandAlgorithm algorithm);

// Seconds for the cross-island step on `shard_bytes` over `islands` islands through `bridge`.
double CrossIslandSeconds(CrossIslandAlgorithm algorithm, double shard_bytes, int islands,
                          LinkCost bridge);
// The faster of the two for this shard size and island count (exchange on ties and for 2 islands).
CrossIslandAlgorithm ChooseCrossIslandAlgorithm(double shard_bytes, int islands, LinkCost bridge);

// Pipeline segments for a vector of `bytes` with segments of about `segment_bytes` (1..16).
size_t IslandSegments(double bytes, size_t segment_bytes);
inline constexpr size_t kDefaultSegmentBytes = size_t{4} << 20;
inline constexpr size_t kDefaultBridgeChunkBytes = size_t{1} << 20;

// One island as the formulas see it: its member count and the link between its members.
struct IslandShape {
  int members = 1;
  LinkCost inside;
};

// Seconds for the composed allreduce of `bytes` over `islands` (see the schedule above). Sets
// *chosen (when not null) to "islands/<cross-island algorithm>".
double IslandAllReduceSeconds(double bytes, const std::vector<IslandShape>& islands,
                              LinkCost bridge, size_t segment_bytes, std::string* chosen);

}  // namespace tangram::collectives

#endif  // TANGRAM_COLLECTIVES_ISLANDS_ISLAND_COST_H_
