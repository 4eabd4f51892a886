#include "collectives/islands/island_communicator.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/status_macros.h"
#include "collectives/algorithms/algorithms.h"
#include "collectives/islands/bridge.h"

namespace tangram::collectives {
namespace {

// One pipeline segment of the hierarchical allreduce: elements [begin, begin + n); inside an
// island of l members, member j < l−1 owns q of them, the last q + r.
struct Segment {
  size_t begin = 0, n = 0, q = 0, r = 0;
  char* shard = nullptr;  // this member's shard buffer (equal islands)
};

}  // namespace

IslandCommunicator::IslandCommunicator(std::unique_ptr<Transport> bridge,
                                       std::unique_ptr<Communicator> local,
                                       std::vector<int> island_of,
                                       const CommunicatorOptions& options,
                                       std::shared_ptr<DeviceMemory> memory, LinkCost bridge_link)
    : P2PCommunicator(std::move(bridge), options, "islands", island_of),
      local_(std::move(local)),
      island_of_(std::move(island_of)),
      memory_(std::move(memory)),
      bridge_link_(bridge_link) {
  std::map<int, std::vector<int>> by_id;
  for (int r = 0; r < static_cast<int>(island_of_.size()); ++r) by_id[island_of_[r]].push_back(r);
  for (auto& [id, members] : by_id) {
    if (id == island_of_[rank()]) my_island_ = static_cast<int>(members_.size());
    members_.push_back(std::move(members));
  }
  const std::vector<int>& mine = members_[my_island_];
  local_rank_ = static_cast<int>(std::find(mine.begin(), mine.end(), rank()) - mine.begin());
}

CallOptions IslandCommunicator::Remaining(absl::Time deadline) const {
  CallOptions call;
  call.timeout = std::max(deadline - absl::Now(), absl::Nanoseconds(1));
  return call;
}

absl::Status IslandCommunicator::Fail(absl::Status status) {
  if (!status.ok() && status.code() != absl::StatusCode::kInvalidArgument) Abort(status);
  return status;
}

void IslandCommunicator::Abort(const absl::Status& reason) {
  P2PCommunicator::Abort(reason);
  if (local_ != nullptr) local_->Abort(reason);
}

absl::Status IslandCommunicator::AllReduce(const void* send, void* recv, size_t count,
                                           DataType type, ReduceOp op, const CallOptions& options) {
  TANGRAM_RETURN_IF_ERROR(CheckBuffer(send, count, "AllReduce send buffer"));
  TANGRAM_RETURN_IF_ERROR(CheckBuffer(recv, count, "AllReduce recv buffer"));
  const Algorithm algorithm = Resolve(options);
  if (algorithm != Algorithm::kAuto && algorithm != Algorithm::kHierarchical &&
      algorithm != Algorithm::kNative) {
    // One of our flat algorithms over the bridge, across every rank (the baseline).
    if (memory_->IsDevice(send) || memory_->IsDevice(recv)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "islands: AllReduce with algorithm '", AlgorithmName(algorithm),
          "' runs over the bridge on host buffers only (use kAuto for device buffers)"));
    }
    return Fail(P2PCommunicator::AllReduce(send, recv, count, type, op, options));
  }
  TANGRAM_RETURN_IF_ERROR(transport().AbortStatus());
  if (count == 0) return absl::OkStatus();
  const absl::Time deadline = Deadline(options);
  if (islands() == 1) {
    return Fail(local_->AllReduce(send, recv, count, type, op, Remaining(deadline)));
  }
  return Fail(Hierarchical(send, recv, count, type, op, deadline));
}

absl::Status IslandCommunicator::Hierarchical(const void* send, void* recv, size_t count,
                                              DataType type, ReduceOp op, absl::Time deadline) {
  const size_t element = DataTypeSize(type);
  const ReduceOp inner = op == ReduceOp::kAvg ? ReduceOp::kSum : op;
  const bool device = memory_->IsDevice(recv);
  const int k = islands();
  const int l = local_->size();
  bool equal = true;
  int smallest = l;
  for (const auto& members : members_) {
    equal &= static_cast<int>(members.size()) == l;
    smallest = std::min(smallest, static_cast<int>(members.size()));
  }
  // Uneven islands: the first `smallest` members of each island own one shard each (a Reduce to
  // it inside the island, the bridge, a Broadcast from it); the others only take part inside.
  const int owners = equal ? l : smallest;
  const bool bridging = local_rank_ < owners;

  // Segments: about island_segment_bytes each, at least l elements each when there are enough.
  const size_t segments =
      std::min(IslandSegments(static_cast<double>(count * element), options().island_segment_bytes),
               std::max<size_t>(count / static_cast<size_t>(l), 1));
  const size_t seg_count = (count + segments - 1) / segments;
  const size_t nseg = (count + seg_count - 1) / seg_count;
  auto segment = [&](size_t s, char* shard) {
    Segment g;
    g.begin = s * seg_count;
    g.n = std::min(seg_count, count - g.begin);
    g.q = g.n / static_cast<size_t>(l);
    g.r = g.n % static_cast<size_t>(l);
    g.shard = shard;
    return g;
  };

  // The bridge: the members holding this rank's shard, one per island. Every
  // member of it chooses from the same figures, so they all run the same algorithm.
  std::vector<int> peers;
  if (bridging) {
    for (const auto& members : members_) peers.push_back(members[local_rank_]);
  }
  Group whole = Group::Whole(transport(), deadline);
  whole.scratch = &bridge_scratch_;
  const size_t typical_shard = seg_count / static_cast<size_t>(owners);
  const CrossIslandAlgorithm algorithm =
      ChooseCrossIslandAlgorithm(static_cast<double>(typical_shard * element), k, bridge_link_);
  last_algorithm_ = algorithm;

  const size_t max_shard = seg_count / static_cast<size_t>(owners) + owners;
  const size_t shard_bytes = max_shard * element;
  char* slots[2] = {nullptr, nullptr};
  if (equal) {
    for (int i = 0; i < 2; ++i) {
      TANGRAM_ASSIGN_OR_RETURN(slots[i], shards_[i].Get(*memory_, shard_bytes, device));
    }
  }
  BridgeArgs args;
  args.type = type;
  args.op = inner;
  args.final_op = op;
  args.divisor = size();
  args.device = device;
  args.chunk_bytes =
      options().bridge_chunk_bytes > 0 ? options().bridge_chunk_bytes : kDefaultBridgeChunkBytes;
  if (bridging) {
    if (device) {
      TANGRAM_ASSIGN_OR_RETURN(args.host, host_shard_.Get(*memory_, shard_bytes, false));
    }
    TANGRAM_ASSIGN_OR_RETURN(args.incoming, incoming_.Get(*memory_, shard_bytes * (k - 1), false));
    if (k > 2) {
      TANGRAM_ASSIGN_OR_RETURN(args.accumulate, accumulate_.Get(*memory_, shard_bytes, false));
    }
  }

  const char* in = static_cast<const char*>(send);
  char* out = static_cast<char*>(recv);
  auto island_in = [&](const Segment& g) -> absl::Status {
    if (!equal) {
      const std::vector<size_t> counts = EvenCounts(g.n, owners);
      size_t first = 0;
      for (int j = 0; j < owners; first += counts[j++]) {
        const size_t at = (g.begin + first) * element;
        TANGRAM_RETURN_IF_ERROR(
            local_->Reduce(in + at, out + at, counts[j], type, inner, j, Remaining(deadline)));
      }
      return absl::OkStatus();
    }
    TANGRAM_RETURN_IF_ERROR(local_->ReduceScatter(in + g.begin * element, g.shard, g.q, type, inner,
                                                  Remaining(deadline)));
    if (g.r == 0) return absl::OkStatus();
    // The last r elements (fewer than l) go to the last member, whose shard is q + r long.
    return local_->Reduce(in + (g.begin + l * g.q) * element, g.shard + g.q * element, g.r, type,
                          inner, l - 1, Remaining(deadline));
  };
  auto island_out = [&](const Segment& g) -> absl::Status {
    if (!equal) {
      const std::vector<size_t> counts = EvenCounts(g.n, owners);
      size_t first = 0;
      for (int j = 0; j < owners; first += counts[j++]) {
        TANGRAM_RETURN_IF_ERROR(local_->Broadcast(out + (g.begin + first) * element, counts[j],
                                                  type, j, Remaining(deadline)));
      }
      return absl::OkStatus();
    }
    std::vector<size_t> counts(l, g.q);
    counts[l - 1] += g.r;
    return local_->AllGatherV(g.shard, out + g.begin * element, counts, type, Remaining(deadline));
  };
  auto bridge = [&](const Segment& g) {
    BridgeArgs a = args;
    if (equal) {
      a.shard = g.shard;
      a.count = g.q + (local_rank_ == l - 1 ? g.r : 0);
    } else {
      const std::vector<size_t> counts = EvenCounts(g.n, owners);
      size_t first = 0;
      for (int j = 0; j < local_rank_; ++j) first += counts[j];
      a.shard = out + (g.begin + first) * element;
      a.count = counts[local_rank_];
    }
    const Group across = whole.Subset(peers);
    return algorithm == CrossIslandAlgorithm::kExchange ? MakeExchangeStep(across, a, *memory_)
                                                        : MakeRingStep(across, a, *memory_);
  };

  // in(s) runs while the bridge step of s−1 is on the wire; out(s−1) while that of s is.
  std::unique_ptr<BridgeStep> pending;
  for (size_t s = 0; s < nseg; ++s) {
    const Segment g = segment(s, slots[s % 2]);
    TANGRAM_RETURN_IF_ERROR(island_in(g));
    if (pending != nullptr) TANGRAM_RETURN_IF_ERROR(pending->Finish());
    if (bridging) {
      pending = bridge(g);
      TANGRAM_RETURN_IF_ERROR(pending->Start());
    }
    if (s > 0) TANGRAM_RETURN_IF_ERROR(island_out(segment(s - 1, slots[(s - 1) % 2])));
  }
  if (pending != nullptr) TANGRAM_RETURN_IF_ERROR(pending->Finish());
  return island_out(segment(nseg - 1, slots[(nseg - 1) % 2]));
}

absl::Status IslandCommunicator::ReduceScatter(const void* send, void* recv, size_t recv_count,
                                               DataType type, ReduceOp op,
                                               const CallOptions& options) {
  TANGRAM_RETURN_IF_ERROR(CheckBuffer(send, recv_count, "ReduceScatter send buffer"));
  TANGRAM_RETURN_IF_ERROR(CheckBuffer(recv, recv_count, "ReduceScatter recv buffer"));
  // The whole vector through the hierarchical allreduce, then our block: twice the bytes of a
  // reduce-scatter, but island blocks need not be contiguous in rank order.
  const size_t element = DataTypeSize(type);
  const size_t total = recv_count * size();
  TANGRAM_ASSIGN_OR_RETURN(char* full,
                           stage_out_.Get(*memory_, total * element, memory_->IsDevice(send)));
  TANGRAM_RETURN_IF_ERROR(AllReduce(send, full, total, type, op, options));
  return Fail(memory_->Copy(recv, full + rank() * recv_count * element, recv_count * element));
}

absl::Status IslandCommunicator::AllGatherV(const void* send, void* recv,
                                            absl::Span<const size_t> counts, DataType type,
                                            const CallOptions& options) {
  if (!memory_->IsDevice(send) && !memory_->IsDevice(recv)) {
    return Fail(P2PCommunicator::AllGatherV(send, recv, counts, type, options));
  }
  if (static_cast<int>(counts.size()) != size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("AllGatherV: ", counts.size(), " counts for ", size(), " ranks"));
  }
  const size_t element = DataTypeSize(type);
  const size_t total = std::accumulate(counts.begin(), counts.end(), size_t{0});
  TANGRAM_ASSIGN_OR_RETURN(char* host_in, stage_in_.Get(*memory_, counts[rank()] * element, false));
  TANGRAM_ASSIGN_OR_RETURN(char* host_out, stage_out_.Get(*memory_, total * element, false));
  TANGRAM_RETURN_IF_ERROR(Fail(memory_->Copy(host_in, send, counts[rank()] * element)));
  TANGRAM_RETURN_IF_ERROR(
      Fail(P2PCommunicator::AllGatherV(host_in, host_out, counts, type, options)));
  return Fail(memory_->Copy(recv, host_out, total * element));
}

absl::Status IslandCommunicator::Broadcast(void* buffer, size_t count, DataType type, int root,
                                           const CallOptions& options) {
  if (!memory_->IsDevice(buffer)) {
    return Fail(P2PCommunicator::Broadcast(buffer, count, type, root, options));
  }
  const size_t bytes = count * DataTypeSize(type);
  TANGRAM_ASSIGN_OR_RETURN(char* host, stage_in_.Get(*memory_, bytes, false));
  if (rank() == root) TANGRAM_RETURN_IF_ERROR(Fail(memory_->Copy(host, buffer, bytes)));
  TANGRAM_RETURN_IF_ERROR(Fail(P2PCommunicator::Broadcast(host, count, type, root, options)));
  return Fail(memory_->Copy(buffer, host, bytes));
}

absl::Status IslandCommunicator::Reduce(const void* send, void* recv, size_t count, DataType type,
                                        ReduceOp op, int root, const CallOptions& options) {
  if (!memory_->IsDevice(send) && !memory_->IsDevice(recv)) {
    return Fail(P2PCommunicator::Reduce(send, recv, count, type, op, root, options));
  }
  const size_t bytes = count * DataTypeSize(type);
  TANGRAM_ASSIGN_OR_RETURN(char* host_in, stage_in_.Get(*memory_, bytes, false));
  TANGRAM_ASSIGN_OR_RETURN(char* host_out, stage_out_.Get(*memory_, bytes, false));
  TANGRAM_RETURN_IF_ERROR(Fail(memory_->Copy(host_in, send, bytes)));
  TANGRAM_RETURN_IF_ERROR(
      Fail(P2PCommunicator::Reduce(host_in, host_out, count, type, op, root, options)));
  if (rank() != root) return absl::OkStatus();
  return Fail(memory_->Copy(recv, host_out, bytes));
}

absl::Status IslandCommunicator::Send(const void* buffer, size_t count, DataType type, int peer,
                                      int tag, const CallOptions& options) {
  if (!memory_->IsDevice(buffer)) {
    return Fail(P2PCommunicator::Send(buffer, count, type, peer, tag, options));
  }
  const size_t bytes = count * DataTypeSize(type);
  TANGRAM_ASSIGN_OR_RETURN(char* host, stage_in_.Get(*memory_, bytes, false));
  TANGRAM_RETURN_IF_ERROR(Fail(memory_->Copy(host, buffer, bytes)));
  return Fail(P2PCommunicator::Send(host, count, type, peer, tag, options));
}

absl::Status IslandCommunicator::Recv(void* buffer, size_t count, DataType type, int peer, int tag,
                                      const CallOptions& options) {
  if (!memory_->IsDevice(buffer)) {
    return Fail(P2PCommunicator::Recv(buffer, count, type, peer, tag, options));
  }
  const size_t bytes = count * DataTypeSize(type);
  TANGRAM_ASSIGN_OR_RETURN(char* host, stage_out_.Get(*memory_, bytes, false));
  TANGRAM_RETURN_IF_ERROR(Fail(P2PCommunicator::Recv(host, count, type, peer, tag, options)));
  return Fail(memory_->Copy(buffer, host, bytes));
}

absl::StatusOr<std::unique_ptr<Request>> IslandCommunicator::ISend(const void* buffer, size_t count,
                                                                   DataType type, int peer, int tag,
                                                                   const CallOptions& options) {
  if (memory_->IsDevice(buffer)) {
    return absl::InvalidArgumentError(
        "islands: ISend takes host buffers (Send stages device ones)");
  }
  return P2PCommunicator::ISend(buffer, count, type, peer, tag, options);
}

absl::StatusOr<std::unique_ptr<Request>> IslandCommunicator::IRecv(void* buffer, size_t count,
                                                                   DataType type, int peer, int tag,
                                                                   const CallOptions& options) {
  if (memory_->IsDevice(buffer)) {
    return absl::InvalidArgumentError(
        "islands: IRecv takes host buffers (Recv stages device ones)");
  }
  return P2PCommunicator::IRecv(buffer, count, type, peer, tag, options);
}

absl::Status IslandCommunicator::Barrier(const CallOptions& options) {
  return Fail(P2PCommunicator::Barrier(options));
}

absl::StatusOr<std::unique_ptr<Communicator>> IslandCommunicator::Split(int color, int key) {
  if (color < 0) {
    return absl::InvalidArgumentError(absl::StrCat("Split: color ", color, " must be >= 0"));
  }
  // The island's own split first (collective over the island), then the bridge's (over every
  // rank); both order members by (key, rank), so the island's ranks stay in the child's order.
  auto local = local_->Split(color, key);
  if (!local.ok()) return Fail(local.status());
  pending_local_child_ = *std::move(local);
  auto child = P2PCommunicator::Split(color, key);
  pending_local_child_.reset();
  if (!child.ok()) return Fail(child.status());
  return child;
}

std::unique_ptr<Communicator> IslandCommunicator::MakeChild(std::unique_ptr<Transport> transport,
                                                            std::vector<int> locality) {
  return std::make_unique<IslandCommunicator>(std::move(transport), std::move(pending_local_child_),
                                              std::move(locality), options(), memory_,
                                              bridge_link_);
}

}  // namespace tangram::collectives
