// SimTransport and the Fabric: eager in-memory messages, per-rank virtual clocks, wall-clock
// deadlines, group aborts and dead-rank detection.
#include <algorithm>
#include <cstring>
#include <thread>

#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/status_macros.h"
#include "collectives/sim/sim_fabric.h"

namespace tangram::collectives {
namespace {

// How many times a receiver yields its core before it blocks (see Fabric::TimedYield).
constexpr int kYieldsBeforeBlocking = 16;
// A yield that takes longer than this most likely gave the core to another process for a time
// slice; with only our rank threads competing, one takes ~0.1-1 ms on 64 threads per 2 cores.
constexpr int64_t kSlowYieldNs = 2'000'000;
// Yielding is judged over windows of this many yields, switched off when more than one in
// kSlowFractionInverse of them were slow, and stays off for kYieldOffNs before the next probe.
constexpr int kYieldWindow = 64;
constexpr int kSlowFractionInverse = 8;
constexpr int64_t kYieldOffNs = 500'000'000;

absl::Status AbortedStatus(SimGroup& group) {
  std::lock_guard<std::mutex> lock(group.mu);
  return group.reason;
}

class SimTransport;

// A send completes when its message arrives (virtual time); the payload was already copied.
class SimSendRequest : public TransportRequest {
 public:
  SimSendRequest(SimRankState* state, double arrival_s) : state_(state), arrival_s_(arrival_s) {}
  absl::Status Wait(absl::Time) override {
    state_->clock_s = std::max(state_->clock_s, arrival_s_);
    return absl::OkStatus();
  }

 private:
  SimRankState* state_;
  double arrival_s_;
};

class SimTransport : public Transport {
 public:
  SimTransport(SimWorld::Fabric* fabric, std::shared_ptr<SimGroup> group, int rank)
      : fabric_(fabric),
        group_(std::move(group)),
        rank_(rank),
        world_rank_(group_->world_ranks[rank]),
        state_(&fabric->rank_state(world_rank_)) {}

  int rank() const override { return rank_; }
  int size() const override { return static_cast<int>(group_->world_ranks.size()); }

  absl::StatusOr<std::unique_ptr<TransportRequest>> ISend(int dst, int tag, const void* data,
                                                          size_t bytes) override {
    TANGRAM_RETURN_IF_ERROR(Usable());
    const int dst_world = group_->world_ranks[dst];
    SimMessage message;
    if (bytes > 0)
      message.payload.assign(static_cast<const char*>(data),
                             static_cast<const char*>(data) + bytes);
    if (fabric_->options().checksums) message.checksum = fabric_->Checksum(data, bytes);
    const LinkModel& links = fabric_->options().links;
    const int port =
        links.ranks() != 0 && links.island_of()[world_rank_] != links.island_of()[dst_world] ? 1
                                                                                             : 0;
    const double start = std::max(state_->clock_s, state_->port_free_s[port]);
    const double cost =
        links.ranks() == 0 ? 0.0 : links.Link(world_rank_, dst_world).Seconds(bytes);
    message.arrival_s = start + cost;
    state_->port_free_s[port] = message.arrival_s;
    const int64_t wire_index = state_->wire_sends++;
    bool dropped = false;
    for (const FaultPlan::Drop& drop : fabric_->options().faults.drops) {
      dropped |= drop.rank == world_rank_ && drop.at_send == wire_index;
    }
    for (const FaultPlan::Corrupt& corrupt : fabric_->options().faults.corrupts) {
      if (corrupt.rank == world_rank_ && corrupt.at_send == wire_index) {
        if (message.payload.empty()) {
          message.checksum ^= 1;  // nothing to flip: damage the trailer instead
        } else {
          message.payload[message.payload.size() / 2] ^= 0x10;
        }
      }
    }
    const SimMessageKey key{group_->id, world_rank_, tag, send_seq_[{dst, tag}]++};
    const double arrival = message.arrival_s;
    // A dropped message keeps its sequence number, so the receiver waits for it (and times out).
    if (!dropped) fabric_->Deliver(world_rank_, dst_world, key, std::move(message));
    return std::make_unique<SimSendRequest>(state_, arrival);
  }

  absl::StatusOr<std::unique_ptr<TransportRequest>> IRecv(int src, int tag, void* data,
                                                          size_t bytes) override;

  absl::StatusOr<std::unique_ptr<Transport>> CreateSubgroup(
      int color, int /*key*/, const std::vector<int>& members) override {
    // Every member derives the same id from the parent's id, the split's sequence number and
    // the color, so no extra messages are needed.
    const uint64_t id = absl::HashOf(group_->id, splits_++, color);
    std::vector<int> world_ranks;
    int new_rank = -1;
    for (size_t i = 0; i < members.size(); ++i) {
      if (members[i] == rank_) new_rank = static_cast<int>(i);
      world_ranks.push_back(group_->world_ranks[members[i]]);
    }
    if (new_rank < 0) return absl::InvalidArgumentError("CreateSubgroup: rank not in members");
    auto transport =
        std::make_unique<SimTransport>(fabric_, fabric_->GetGroup(id, world_ranks), new_rank);
    return fabric_->MaybeWrap(world_rank_, std::move(transport));
  }

  void Abort(const absl::Status& reason) override { fabric_->Abort(*group_, reason); }
  absl::Status AbortStatus() const override {
    return group_->aborted.load() ? AbortedStatus(*group_) : absl::OkStatus();
  }
  std::optional<double> VirtualSeconds() const override { return state_->clock_s; }
  void ChargeReduction(size_t bytes) override {
    state_->clock_s += fabric_->options().reduce_seconds_per_byte * static_cast<double>(bytes);
  }
  void AdvanceVirtualClock(double seconds) override { state_->clock_s += seconds; }
  size_t PipelineChunkBytes() const override { return fabric_->options().pipeline_chunk_bytes; }
  std::optional<LinkCost> SlowestLink() const override {
    const LinkModel& links = fabric_->options().links;
    if (links.ranks() == 0) return std::nullopt;
    return links.Slowest();
  }

  // Blocks for the message `key` from group rank `src`; see TransportRequest::Wait.
  absl::Status Receive(int src, const SimMessageKey& key, void* data, size_t bytes,
                       absl::Time deadline) {
    const int src_world = group_->world_ranks[src];
    SimMessage message;
    {
      std::unique_lock<std::mutex> lock(state_->mu);
      for (int yields = 0;; ++yields) {
        auto it = state_->inbox.find(key);
        if (it != state_->inbox.end()) {
          message = std::move(it->second);
          state_->inbox.erase(it);
          break;
        }
        if (group_->aborted.load()) return AbortedStatus(*group_);
        if (fabric_->dead(world_rank_)) {
          return absl::UnavailableError(absl::StrCat("rank ", world_rank_, " is dead"));
        }
        if (fabric_->dead(src_world)) {
          return absl::UnavailableError(absl::StrCat("rank ", world_rank_, " waited for rank ",
                                                     src_world, ", which is dead"));
        }
        if (absl::Now() >= deadline) {
          return absl::DeadlineExceededError(
              absl::StrCat("rank ", world_rank_, " timed out waiting for rank ", src_world,
                           " (tag ", key.tag, ", message ", key.seq, ")"));
        }
        if (yields < kYieldsBeforeBlocking && fabric_->YieldBeforeBlocking()) {
          lock.unlock();
          fabric_->TimedYield();
          lock.lock();
          continue;
        }
        state_->cv.wait_until(lock, absl::ToChronoTime(deadline));
      }
    }
    if (message.payload.size() != bytes) {
      return absl::InternalError(absl::StrCat("rank ", world_rank_, " expected ", bytes,
                                              " bytes from rank ", src_world, " but got ",
                                              message.payload.size()));
    }
    if (fabric_->options().checksums &&
        fabric_->Checksum(message.payload.data(), bytes) != message.checksum) {
      return absl::DataLossError(absl::StrCat("rank ", world_rank_, ": checksum mismatch on a ",
                                              bytes, "-byte message from rank ", src_world));
    }
    if (bytes > 0) std::memcpy(data, message.payload.data(), bytes);
    state_->clock_s = std::max(state_->clock_s, message.arrival_s);
    return absl::OkStatus();
  }

 private:
  absl::Status Usable() const {
    if (fabric_->dead(world_rank_)) {
      return absl::UnavailableError(absl::StrCat("rank ", world_rank_, " is dead"));
    }
    return AbortStatus();
  }

  SimWorld::Fabric* fabric_;
  std::shared_ptr<SimGroup> group_;
  int rank_;
  int world_rank_;
  SimRankState* state_;
  absl::flat_hash_map<std::pair<int, int>, uint64_t> send_seq_;  // (dst, tag) -> next seq
  absl::flat_hash_map<std::pair<int, int>, uint64_t> recv_seq_;  // (src, tag) -> next seq
  uint64_t splits_ = 0;

  friend class SimRecvRequest;
};

class SimRecvRequest : public TransportRequest {
 public:
  SimRecvRequest(SimTransport* transport, int src, SimMessageKey key, void* data, size_t bytes)
      : transport_(transport), src_(src), key_(key), data_(data), bytes_(bytes) {}
  absl::Status Wait(absl::Time deadline) override {
    return transport_->Receive(src_, key_, data_, bytes_, deadline);
  }

 private:
  SimTransport* transport_;
  int src_;
  SimMessageKey key_;
  void* data_;
  size_t bytes_;
};

absl::StatusOr<std::unique_ptr<TransportRequest>> SimTransport::IRecv(int src, int tag, void* data,
                                                                      size_t bytes) {
  TANGRAM_RETURN_IF_ERROR(Usable());
  // The ticket fixes which message this receive matches: receives match in posting order.
  const SimMessageKey key{group_->id, group_->world_ranks[src], tag, recv_seq_[{src, tag}]++};
  return std::make_unique<SimRecvRequest>(this, src, key, data, bytes);
}

}  // namespace

SimWorld::Fabric::Fabric(SimOptions options) : options_(std::move(options)) {
  ranks_.reserve(options_.ranks);
  for (int r = 0; r < options_.ranks; ++r) {
    ranks_.push_back(std::make_unique<SimRankState>());
    ranks_.back()->faults->world_rank = r;
  }
}

std::shared_ptr<SimGroup> SimWorld::Fabric::GetGroup(uint64_t id,
                                                     const std::vector<int>& world_ranks) {
  std::lock_guard<std::mutex> lock(mu_);
  std::shared_ptr<SimGroup> group = groups_[id].lock();
  if (!group) {
    group = std::make_shared<SimGroup>();
    group->id = id;
    group->world_ranks = world_ranks;
    groups_[id] = group;
  }
  return group;
}

std::unique_ptr<Transport> SimWorld::Fabric::JoinWorld(int world_rank) {
  const int64_t generation = ranks_[world_rank]->worlds_joined++;
  std::vector<int> all(options_.ranks);
  for (int r = 0; r < options_.ranks; ++r) all[r] = r;
  auto group = GetGroup(absl::HashOf(absl::string_view("world"), generation), all);
  return MaybeWrap(world_rank, std::make_unique<SimTransport>(this, group, world_rank));
}

std::unique_ptr<Transport> SimWorld::Fabric::MaybeWrap(int world_rank,
                                                       std::unique_ptr<Transport> transport) {
  const FaultPlan& plan = options_.faults;
  if (plan.kills.empty() && plan.delays.empty()) return transport;
  return std::make_unique<FaultInjectingTransport>(std::move(transport), &plan,
                                                   ranks_[world_rank]->faults,
                                                   [this, world_rank] { Kill(world_rank); });
}

void SimWorld::Fabric::Deliver(int /*src_world*/, int dst_world, const SimMessageKey& key,
                               SimMessage message) {
  SimRankState& dst = *ranks_[dst_world];
  {
    std::lock_guard<std::mutex> lock(dst.mu);
    dst.inbox.emplace(key, std::move(message));
  }
  dst.cv.notify_all();
}

void SimWorld::Fabric::Abort(SimGroup& group, const absl::Status& reason) {
  {
    std::lock_guard<std::mutex> lock(group.mu);
    if (group.aborted.load()) return;
    group.reason = reason.ok() ? absl::AbortedError("communicator aborted") : reason;
    group.aborted.store(true);
  }
  WakeAll(group.world_ranks);
}

void SimWorld::Fabric::Kill(int world_rank) {
  ranks_[world_rank]->faults->dead.store(true);
  std::vector<int> all(options_.ranks);
  for (int r = 0; r < options_.ranks; ++r) all[r] = r;
  WakeAll(all);
}

void SimWorld::Fabric::WakeAll(const std::vector<int>& world_ranks) {
  for (int r : world_ranks) {
    // Taking the lock orders this wake-up after any waiter's check of the flags.
    { std::lock_guard<std::mutex> lock(ranks_[r]->mu); }
    ranks_[r]->cv.notify_all();
  }
}

bool SimWorld::Fabric::YieldBeforeBlocking() const {
  const int64_t off_until = yield_off_until_ns_.load(std::memory_order_relaxed);
  return off_until == 0 || absl::GetCurrentTimeNanos() >= off_until;
}

void SimWorld::Fabric::TimedYield() {
  const int64_t start = absl::GetCurrentTimeNanos();
  std::this_thread::yield();
  const int64_t end = absl::GetCurrentTimeNanos();
  if (end - start > kSlowYieldNs) window_slow_yields_.fetch_add(1, std::memory_order_relaxed);
  if (window_yields_.fetch_add(1, std::memory_order_relaxed) + 1 == kYieldWindow) {
    // The thread that completes a window judges it and starts the next one.
    const int slow = window_slow_yields_.exchange(0, std::memory_order_relaxed);
    window_yields_.store(0, std::memory_order_relaxed);
    yield_off_until_ns_.store(slow * kSlowFractionInverse > kYieldWindow ? end + kYieldOffNs : 0,
                              std::memory_order_relaxed);
  }
}

uint64_t SimWorld::Fabric::Checksum(const void* data, size_t bytes) const {
  // Fletcher-style sums over 64-bit words in four independent lanes (fast, and a flipped bit
  // or a swapped word changes it), then the tail bytes.
  const char* p = static_cast<const char*>(data);
  uint64_t a[4] = {1, 2, 3, 4}, b[4] = {0, 0, 0, 0};
  size_t i = 0;
  for (; i + 32 <= bytes; i += 32) {
    uint64_t w[4];
    std::memcpy(w, p + i, 32);
    for (int lane = 0; lane < 4; ++lane) {
      a[lane] += w[lane];
      b[lane] += a[lane];
    }
  }
  uint64_t tail = bytes;
  for (; i < bytes; ++i) tail = tail * 131 + static_cast<unsigned char>(p[i]);
  uint64_t h = tail;
  for (int lane = 0; lane < 4; ++lane) h = (h ^ a[lane]) * 0x9e3779b97f4a7c15ull ^ b[lane];
  return h;
}

}  // namespace tangram::collectives
