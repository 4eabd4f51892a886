// LinkModel: the α-β cost of sending a message between two ranks, used by the sim transport.
//
// A message of n bytes from `src` to `dst` costs `alpha_s + n / bandwidth_Bps` seconds of virtual
// time: alpha_s is the latency in seconds, bandwidth_Bps the bandwidth in bytes per second (so the
// textbook β, seconds per byte, is 1 / bandwidth_Bps). Collectives knows nothing about fleets:
// the orchestrator derives a LinkModel from its fleet description, either pair by pair (Set) or
// with the three-level builder Hierarchical (same node / same island / across islands).
//
// A LinkModel is a value; const methods are thread-safe, mutation is not.
#ifndef TANGRAM_COLLECTIVES_LINK_MODEL_H_
#define TANGRAM_COLLECTIVES_LINK_MODEL_H_

#include <cstddef>
#include <vector>

#include "absl/status/statusor.h"

namespace tangram::collectives {

struct LinkCost {
  double alpha_s = 0.0;        // latency per message, seconds
  double bandwidth_Bps = 0.0;  // bytes per second; 0 or less means infinite

  // Seconds to move `bytes` over this link.
  double Seconds(size_t bytes) const {
    return alpha_s + (bandwidth_Bps > 0 ? static_cast<double>(bytes) / bandwidth_Bps : 0.0);
  }
};

class LinkModel {
 public:
  // Every ordered pair of `ranks` ranks costs `cost` (a flat, uniform fabric).
  static LinkModel Uniform(int ranks, LinkCost cost);

  // Three levels: ranks with equal node_of[r] use `same_node`; different nodes with equal
  // island_of[r] use `same_island`; the rest use `across_islands`. kInvalidArgument if the two
  // vectors differ in length, are empty, or a node spans two islands.
  static absl::StatusOr<LinkModel> Hierarchical(const std::vector<int>& node_of,
                                                const std::vector<int>& island_of,
                                                LinkCost same_node, LinkCost same_island,
                                                LinkCost across_islands);

  LinkModel() = default;

  int ranks() const { return ranks_; }

  // The cost of a message from src to dst (both in [0, ranks())). A rank to itself costs nothing.
  LinkCost Link(int src, int dst) const;

  // The worst link of the model: the largest α and the smallest bandwidth of any of its links
  // (what an algorithm that crosses every link waits for). Free links when ranks() == 0.
  LinkCost Slowest() const;

  // Overrides one ordered pair (up to 65,535 distinct costs per model; more are ignored).
  void Set(int src, int dst, LinkCost cost);

  // Node and island of each rank as given to Hierarchical (every rank its own node and all in one
  // island for Uniform). The hierarchical allreduce uses these to form its groups.
  const std::vector<int>& node_of() const { return node_of_; }
  const std::vector<int>& island_of() const { return island_of_; }

 private:
  int ranks_ = 0;
  // Costs are kept as a small table of distinct links plus a per-pair index, so that a
  // 1,024-rank model costs 2 MiB, not 16 MiB.
  std::vector<LinkCost> costs_;
  std::vector<uint16_t> index_;  // ranks_ * ranks_ entries into costs_
  std::vector<int> node_of_;
  std::vector<int> island_of_;
};

}  // namespace tangram::collectives

#endif  // TANGRAM_COLLECTIVES_LINK_MODEL_H_
