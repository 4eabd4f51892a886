// Internals of the sim transport: the Fabric (mailboxes, clocks, groups, liveness) shared by all
// ranks of a SimWorld, and SimTransport, one rank's Transport on it. Not part of the public API.
//
// Locking: each rank's mailbox has its own mutex; group abort state has its own; the fabric mutex
// guards only the group registry. A RankState's clock is touched only by that rank's thread.
#ifndef TANGRAM_COLLECTIVES_SIM_SIM_FABRIC_H_
#define TANGRAM_COLLECTIVES_SIM_SIM_FABRIC_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "collectives/sim/fault_injection.h"
#include "collectives/sim/sim_world.h"
#include "collectives/transport.h"

namespace tangram::collectives {

// One group (a world communicator or a Split of one): its members and abort state.
struct SimGroup {
  uint64_t id = 0;
  std::vector<int> world_ranks;  // group rank -> world rank
  std::atomic<bool> aborted{false};
  std::mutex mu;
  absl::Status reason;  // guarded by mu; set once
};

struct SimMessage {
  std::vector<char> payload;
  uint64_t checksum = 0;
  double arrival_s = 0.0;
};

// Messages are keyed by (group, source world rank, tag, sequence number within that channel).
struct SimMessageKey {
  uint64_t group;
  int src;
  int tag;
  uint64_t seq;
  bool operator==(const SimMessageKey&) const = default;
  template <typename H>
  friend H AbslHashValue(H h, const SimMessageKey& k) {
    return H::combine(std::move(h), k.group, k.src, k.tag, k.seq);
  }
};

struct SimRankState {
  double clock_s = 0.0;
  // When each outgoing port is free again: [0] inside the island, [1] across islands (a node's
  // NVLink-class fabric and its NIC are separate ports, so island-local traffic and the bridge
  // between islands overlap; with one island only port 0 is used).
  double port_free_s[2] = {0.0, 0.0};
  int64_t wire_sends = 0;  // for FaultPlan::Drop and FaultPlan::Corrupt
  int64_t worlds_joined = 0;
  std::shared_ptr<RankFaultState> faults = std::make_shared<RankFaultState>();
  // Mailbox of messages addressed to this rank.
  std::mutex mu;
  std::condition_variable cv;
  absl::flat_hash_map<SimMessageKey, SimMessage> inbox;
};

class SimWorld::Fabric {
 public:
  explicit Fabric(SimOptions options);

  const SimOptions& options() const { return options_; }
  int size() const { return options_.ranks; }
  SimRankState& rank_state(int world_rank) { return *ranks_[world_rank]; }

  // The group with this id, created with `world_ranks` on first use.
  std::shared_ptr<SimGroup> GetGroup(uint64_t id, const std::vector<int>& world_ranks);
  // Rank `world_rank`'s transport in the next world group it joins (wrapped for faults).
  std::unique_ptr<Transport> JoinWorld(int world_rank);
  // Wraps a transport for this rank's faults when the plan has any.
  std::unique_ptr<Transport> MaybeWrap(int world_rank, std::unique_ptr<Transport> transport);

  void Deliver(int src_world, int dst_world, const SimMessageKey& key, SimMessage message);
  void Abort(SimGroup& group, const absl::Status& reason);
  void Kill(int world_rank);
  bool dead(int world_rank) const { return ranks_[world_rank]->faults->dead.load(); }
  // Wakes every waiter so that it re-checks abort and liveness.
  void WakeAll(const std::vector<int>& world_ranks);

  uint64_t Checksum(const void* data, size_t bytes) const;

  // The hand-off of a message between rank threads. A receiver whose message has not arrived
  // yields its core a few times before it blocks on its mailbox: with many rank threads per core
  // the sender is usually one of the threads that run meanwhile, and a yield costs far less than
  // a futex sleep and a cross-core wake-up (1,000 small allreduces on 64 ranks on 2 cores: ~1.05 s
  // blocking at once, ~0.4 s yielding first). But when other processes compete for the cores, a
  // yield hands the core to them for a whole time slice, and blocking at once is much faster
  // (2.4 s against 11 s). So yields are timed: when too many of a recent window took longer than
  // a slice would, yielding is switched off for the whole world for a while, then probed again.
  // True while yielding is on.
  bool YieldBeforeBlocking() const;
  // Yields the calling thread's core once and accounts for how long that took.
  void TimedYield();

 private:
  SimOptions options_;
  std::vector<std::unique_ptr<SimRankState>> ranks_;
  std::mutex mu_;
  absl::flat_hash_map<uint64_t, std::weak_ptr<SimGroup>> groups_;  // guarded by mu_
  std::atomic<int64_t> yield_off_until_ns_{0};  // absl::GetCurrentTimeNanos() clock
  std::atomic<int> window_yields_{0};
  std::atomic<int> window_slow_yields_{0};
};

}  // namespace tangram::collectives

#endif  // TANGRAM_COLLECTIVES_SIM_SIM_FABRIC_H_
