// The composed (islands) allreduce as α-β formulas, and the choice of its cross-island algorithm.
// One definition serves both sides: the islands communicator calls PlanIslandAllReduce to plan
// what it runs, and the fleet simulator (orchestrator/simulator/workload.cc) calls
// IslandAllReduceSeconds, which makes the same plan and replays its schedule step by step. Pure
// functions, thread-safe.
//
// Schedule (island_communicator.cc). The vector is cut into segments (IslandSegmentCounts): small
// at both ends, doubling towards the middle. Per segment: a reduce-scatter inside each island
// (RS), the cross-island step on each member's shard (equal islands; uneven: the first m members
// of every island own 1/m of the segment each, m the smallest island's size, with reduces and
// broadcasts instead of the rings, costed as the rings: the island libraries pipeline them), an
// allgather inside (AG). The cross-island step takes P phases (CrossIslandPhases: 1 for the
// exchange, one per ring step for the ring); iteration i runs
//   RS(i), Start(i), one phase of every segment in flight (oldest first), AG(i − P),
// so the bridge carries segment i while the island reduces segment i+1 and gathers segment i−1,
// and it starts as soon as the first (small) segment is reduced; the last segment is small too,
// so little island work is left once the bridge is done.
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
  // Ring reduce-scatter + allgather among the K members: 2(K−1)(α + s/(K·B)), one step per
  // pipeline phase.
  kRing,
};

absl::string_view CrossIslandAlgorithmName(CrossIslandAlgorithm algorithm);

// Seconds for the cross-island step on `shard_bytes` over `islands` islands through `bridge`.
double CrossIslandSeconds(CrossIslandAlgorithm algorithm, double shard_bytes, int islands,
                          LinkCost bridge);
// The faster of the two for this shard size and island count (exchange on ties and for 2 islands).
CrossIslandAlgorithm ChooseCrossIslandAlgorithm(double shard_bytes, int islands, LinkCost bridge);
// Pipeline phases of the cross-island step: 1 for the exchange, 2(K−1) for the ring.
int CrossIslandPhases(CrossIslandAlgorithm algorithm, int islands);

inline constexpr size_t kDefaultSegmentBytes = size_t{4} << 20;
// A segment gives each member of the largest island at least this much (when the vector allows;
// at most 1/8 of a segment set smaller than the default): every segment costs each island a
// reduce-scatter and an allgather of (L − 1) ring steps, and below this a step costs its α more
// than its bytes — an island of hundreds of members would pay (L − 1)·α twice per segment.
inline constexpr size_t kMinShardBytes = size_t{128} << 10;
// The smallest segment (elements of `element_bytes`) when the largest island has
// `largest_island` members and segments are about `segment_bytes` (0: kDefaultSegmentBytes).
size_t IslandMinSegmentCount(int largest_island, size_t element_bytes, size_t segment_bytes);
// Device shards cross the bridge through page-locked host memory in chunks of this size; host
// shards go whole (one message per peer and segment) unless a chunk size is set.
inline constexpr size_t kDefaultBridgeChunkBytes = size_t{1} << 20;

// The pipeline's segments for `count` elements of `element_bytes`, as element counts summing to
// `count`. With G = `segment_bytes` (0: kDefaultSegmentBytes) and M = max(G, total ÷ 12) the
// middle size: a ramp G/8, G/4, … (doubling, below M) at each end, taken while the rest keeps at
// least the last ramp size, and the rest cut into even segments of M to 2M (at most 3× the last
// ramp segment: more of them if need be). The ramp starts at `min_count` if that is larger
// (IslandMinSegmentCount), and the middle is at least that. Every segment has at
// least `min_count` elements when `count` allows (one segment otherwise).
std::vector<size_t> IslandSegmentCounts(size_t count, size_t element_bytes, size_t segment_bytes,
                                        size_t min_count);

// What the communicator runs for one allreduce, and the simulator replays.
struct IslandPlan {
  std::vector<size_t> segments;  // element counts (IslandSegmentCounts)
  CrossIslandAlgorithm algorithm = CrossIslandAlgorithm::kExchange;
  int phases = 1;  // CrossIslandPhases
};

// The plan for `count` elements of `element_bytes` over `islands` islands whose largest has
// `largest_island` members, `owners` members of each bridging a shard: segments of about
// `segment_bytes` (0: default), the algorithm for the largest segment's shard; when that is the
// ring, segments of `phases` times the size (each segment costs the ring 2(K−1) bridge α's, the
// exchange K−1), which keeps the ring's choice (it only gets better as shards grow).
IslandPlan PlanIslandAllReduce(size_t count, size_t element_bytes, size_t segment_bytes,
                               int islands, int owners, int largest_island, LinkCost bridge);

// One island as the formulas see it: its member count and the link between its members.
struct IslandShape {
  int members = 1;
  LinkCost inside;
};

// Seconds for the composed allreduce of `bytes` over `islands` (the schedule above, replayed
// segment by segment with the bridge port of a member and its clock as the sim transport keeps
// them; host buffers: one bridge message per peer and segment). Sets *chosen (when not null) to
// "islands/<cross-island algorithm>".
double IslandAllReduceSeconds(double bytes, const std::vector<IslandShape>& islands,
                              LinkCost bridge, size_t segment_bytes, std::string* chosen);

}  // namespace tangram::collectives

#endif  // TANGRAM_COLLECTIVES_ISLANDS_ISLAND_COST_H_
