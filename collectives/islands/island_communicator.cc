#include "collectives/islands/island_communicator.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <numeric>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "base/status_macros.h"
#include "collectives/algorithms/algorithms.h"
#include "collectives/islands/bridge.h"
#include "collectives/reduce.h"

namespace tangram::collectives {
namespace {

// One pipeline segment of the hierarchical allreduce: elements [begin, begin + n); inside an
// island of l members, member j < l−1 owns q of them, the last q + r. `slot` picks its buffers.
struct Segment {
  size_t begin = 0, n = 0, q = 0, r = 0;
  size_t slot = 0;
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
  int smallest = l, largest_island = l;
  for (const auto& members : members_) {
    equal &= static_cast<int>(members.size()) == l;
    smallest = std::min(smallest, static_cast<int>(members.size()));
    largest_island = std::max(largest_island, static_cast<int>(members.size()));
  }
  // Uneven islands: the first `smallest` members of each island own one shard each (a Reduce to
  // it inside the island, the bridge, a Broadcast from it); the others only take part inside.
  const int owners = equal ? l : smallest;
  const bool bridging = local_rank_ < owners;

  // The plan (island_cost.h, which the simulator replays): segments small at both ends, the
  // cross-island algorithm for the largest one's shards, and its phases = the pipeline's lag.
  const IslandPlan plan = PlanIslandAllReduce(count, element, options().island_segment_bytes, k,
                                              owners, largest_island, bridge_link_);
  const std::vector<size_t>& counts = plan.segments;
  const size_t nseg = counts.size();
  const size_t largest = *std::max_element(counts.begin(), counts.end());
  const CrossIslandAlgorithm algorithm = plan.algorithm;
  last_algorithm_ = algorithm;
  const int phases = plan.phases;
  const size_t slots = static_cast<size_t>(phases) + 1;  // in flight + the one being reduced
  std::vector<size_t> begins(nseg, 0);
  for (size_t s = 1; s < nseg; ++s) begins[s] = begins[s - 1] + counts[s - 1];
  auto segment = [&](size_t s) {
    Segment g;
    g.begin = begins[s];
    g.n = counts[s];
    g.q = g.n / static_cast<size_t>(l);
    g.r = g.n % static_cast<size_t>(l);
    g.slot = s % slots;
    return g;
  };

  // The bridge: the members holding this rank's shard, one per island. Every member of it
  // plans from the same figures, so they all run the same algorithm.
  std::vector<int> peers;
  if (bridging) {
    for (const auto& members : members_) peers.push_back(members[local_rank_]);
  }
  Group whole = Group::Whole(transport(), deadline);
  whole.scratch = &bridge_scratch_;

  const size_t max_shard = largest / static_cast<size_t>(owners) + static_cast<size_t>(owners);
  const size_t shard_bytes = max_shard * element;
  const size_t incoming_bytes = BridgeIncomingBytes(algorithm, max_shard, element, k);
  char* shard_slots = nullptr;
  if (equal) {
    TANGRAM_ASSIGN_OR_RETURN(shard_slots, shards_.Get(*memory_, slots * shard_bytes, device));
  }
  BridgeArgs args;
  args.type = type;
  args.op = inner;
  args.final_op = op;
  args.divisor = size();
  args.device = device;
  // Host shards go whole unless a chunk size is set (each chunk costs the bridge's α); device
  // shards are staged in chunks so that copying overlaps the wire.
  args.chunk_bytes = options().bridge_chunk_bytes > 0 ? options().bridge_chunk_bytes
                     : device                         ? kDefaultBridgeChunkBytes
                                                      : 0;
  char* host_slots = nullptr;
  char* incoming_slots = nullptr;
  if (bridging) {
    if (device) {
      TANGRAM_ASSIGN_OR_RETURN(host_slots, host_shard_.Get(*memory_, slots * shard_bytes, false));
    }
    TANGRAM_ASSIGN_OR_RETURN(incoming_slots,
                             incoming_.Get(*memory_, slots * incoming_bytes, false));
    if (k > 2) {
      TANGRAM_ASSIGN_OR_RETURN(args.accumulate, accumulate_.Get(*memory_, shard_bytes, false));
    }
  }
  auto shard_of = [&](const Segment& g) { return shard_slots + g.slot * shard_bytes; };

  const char* in = static_cast<const char*>(send);
  char* out = static_cast<char*>(recv);
  auto island_in = [&](const Segment& g) -> absl::Status {
    if (!equal) {
      const std::vector<size_t> parts = EvenCounts(g.n, owners);
      size_t first = 0;
      for (int j = 0; j < owners; first += parts[j++]) {
        const size_t at = (g.begin + first) * element;
        TANGRAM_RETURN_IF_ERROR(
            local_->Reduce(in + at, out + at, parts[j], type, inner, j, Remaining(deadline)));
      }
      return absl::OkStatus();
    }
    TANGRAM_RETURN_IF_ERROR(local_->ReduceScatter(in + g.begin * element, shard_of(g), g.q, type,
                                                  inner, Remaining(deadline)));
    if (g.r == 0) return absl::OkStatus();
    // The last r elements (fewer than l) go to the last member, whose shard is q + r long.
    return local_->Reduce(in + (g.begin + l * g.q) * element, shard_of(g) + g.q * element, g.r,
                          type, inner, l - 1, Remaining(deadline));
  };
  auto island_out = [&](const Segment& g) -> absl::Status {
    if (!equal) {
      const std::vector<size_t> parts = EvenCounts(g.n, owners);
      size_t first = 0;
      for (int j = 0; j < owners; first += parts[j++]) {
        TANGRAM_RETURN_IF_ERROR(local_->Broadcast(out + (g.begin + first) * element, parts[j], type,
                                                  j, Remaining(deadline)));
      }
      return absl::OkStatus();
    }
    std::vector<size_t> parts(l, g.q);
    parts[l - 1] += g.r;
    return local_->AllGatherV(shard_of(g), out + g.begin * element, parts, type,
                              Remaining(deadline));
  };
  auto bridge = [&](const Segment& g) {
    BridgeArgs a = args;
    if (equal) {
      a.shard = shard_of(g);
      a.count = g.q + (local_rank_ == l - 1 ? g.r : 0);
    } else {
      const std::vector<size_t> parts = EvenCounts(g.n, owners);
      size_t first = 0;
      for (int j = 0; j < local_rank_; ++j) first += parts[j];
      a.shard = out + (g.begin + first) * element;
      a.count = parts[local_rank_];
    }
    if (host_slots != nullptr) a.host = host_slots + g.slot * shard_bytes;
    a.incoming = incoming_slots + g.slot * incoming_bytes;
    Group across = whole.Subset(peers);
    across.tag = kCollectiveTag + 1 + static_cast<int>(g.slot);  // steps in flight never match
    return algorithm == CrossIslandAlgorithm::kExchange ? MakeExchangeStep(across, a, *memory_)
                                                        : MakeRingStep(across, a, *memory_);
  };

  // Iteration i: RS(i), Start(i), one phase of every segment in flight (oldest first), AG(i − P)
  // (island_cost.h). Every member of an island runs the same island-local calls in the same
  // order, bridging or not.
  std::vector<std::unique_ptr<BridgeStep>> steps(nseg);
  for (size_t i = 0; i < nseg + static_cast<size_t>(phases); ++i) {
    if (i < nseg) {
      const Segment g = segment(i);
      TANGRAM_RETURN_IF_ERROR(island_in(g));
      if (bridging) {
        steps[i] = bridge(g);
        TANGRAM_RETURN_IF_ERROR(steps[i]->Start());
      }
    }
    if (bridging) {
      for (size_t s = i > static_cast<size_t>(phases) ? i - phases : 0; s < std::min(i, nseg);
           ++s) {
        TANGRAM_RETURN_IF_ERROR(steps[s]->Advance());
      }
    }
    if (i >= static_cast<size_t>(phases)) {
      const size_t s = i - phases;
      steps[s].reset();
      TANGRAM_RETURN_IF_ERROR(island_out(segment(s)));
    }
  }
  return absl::OkStatus();
}

absl::Status IslandCommunicator::ReduceScatter(const void* send, void* recv, size_t recv_count,
                                               DataType type, ReduceOp op,
                                               const CallOptions& options) {
  TANGRAM_RETURN_IF_ERROR(CheckBuffer(send, recv_count, "ReduceScatter send buffer"));
  TANGRAM_RETURN_IF_ERROR(CheckBuffer(recv, recv_count, "ReduceScatter recv buffer"));
  const Algorithm algorithm = Resolve(options);
  const bool device = memory_->IsDevice(send) || memory_->IsDevice(recv);
  if (algorithm != Algorithm::kAuto && algorithm != Algorithm::kHierarchical &&
      algorithm != Algorithm::kNative) {
    if (device) {
      return absl::InvalidArgumentError(absl::StrCat(
          "islands: ReduceScatter with algorithm '", AlgorithmName(algorithm),
          "' runs over the bridge on host buffers only (use kAuto for device buffers)"));
    }
    return Fail(P2PCommunicator::ReduceScatter(send, recv, recv_count, type, op, options));
  }
  TANGRAM_RETURN_IF_ERROR(transport().AbortStatus());
  if (recv_count == 0) return absl::OkStatus();
  const absl::Time deadline = Deadline(options);
  if (islands() == 1) {
    return Fail(local_->ReduceScatter(send, recv, recv_count, type, op, Remaining(deadline)));
  }
  return Fail(HierarchicalReduceScatter(send, recv, recv_count, type, op, deadline));
}

absl::Status IslandCommunicator::HierarchicalReduceScatter(const void* send, void* recv,
                                                           size_t recv_count, DataType type,
                                                           ReduceOp op, absl::Time deadline) {
  // Rank r needs block r reduced over every rank. Island I's partial of a block owned elsewhere
  // crosses the bridge once, from the member of I that holds it straight to the owner: each
  // island sends exactly the p − l blocks it does not own (the minimum), spread over its members.
  const size_t element = DataTypeSize(type);
  const size_t block = recv_count * element;
  const ReduceOp inner = op == ReduceOp::kAvg ? ReduceOp::kSum : op;
  const bool device = memory_->IsDevice(send) || memory_->IsDevice(recv);
  const std::vector<int>& mine = members_[my_island_];
  const int l = static_cast<int>(mine.size());
  // Who holds island I's partial of rank r's block (r outside I): r's index t among the ranks
  // outside I, in rank order; member t mod l_I holds it when t < q·l_I (inside the island's
  // reduce-scatter), else member t − q·l_I (one Reduce each), q = ⌊(p − l_I) / l_I⌋.
  auto foreign_of = [&](int island) {
    std::vector<int> out;
    for (int r = 0; r < size(); ++r) {
      if (island_of_[r] != island_of_[members_[island][0]]) out.push_back(r);
    }
    return out;
  };
  auto holder = [&](int island, int r) {
    const std::vector<int> foreign = foreign_of(island);
    const int li = static_cast<int>(members_[island].size());
    const int q = static_cast<int>(foreign.size()) / li;
    const int t = static_cast<int>(std::find(foreign.begin(), foreign.end(), r) - foreign.begin());
    return members_[island][t < q * li ? t % li : t - q * li];
  };
  const std::vector<int> foreign = foreign_of(my_island_);
  const int q = static_cast<int>(foreign.size()) / l;
  const int extra = static_cast<int>(foreign.size()) % l;
  const size_t per = 1 + static_cast<size_t>(q);  // blocks each member gets from the island

  // Pack the send buffer so that member j's blocks are contiguous: its own block, then the
  // foreign blocks it holds; the `extra` blocks last.
  const size_t packed_blocks = per * l + extra;
  TANGRAM_ASSIGN_OR_RETURN(char* packed, stage_in_.Get(*memory_, packed_blocks * block, device));
  TANGRAM_ASSIGN_OR_RETURN(char* held, shards_.Get(*memory_, (per + 1) * block, device));
  const char* in = static_cast<const char*>(send);
  for (int j = 0; j < l; ++j) {
    TANGRAM_RETURN_IF_ERROR(memory_->Copy(packed + j * per * block, in + mine[j] * block, block));
    for (int t = 0; t < q; ++t) {
      TANGRAM_RETURN_IF_ERROR(memory_->Copy(packed + (j * per + 1 + t) * block,
                                            in + foreign[j + t * l] * block, block));
    }
  }
  for (int e = 0; e < extra; ++e) {
    TANGRAM_RETURN_IF_ERROR(
        memory_->Copy(packed + (per * l + e) * block, in + foreign[q * l + e] * block, block));
  }
  TANGRAM_RETURN_IF_ERROR(
      local_->ReduceScatter(packed, held, per * recv_count, type, inner, Remaining(deadline)));
  for (int e = 0; e < extra; ++e) {
    TANGRAM_RETURN_IF_ERROR(local_->Reduce(packed + (per * l + e) * block, held + per * block,
                                           recv_count, type, inner, e, Remaining(deadline)));
  }
  // What this member sends: held[1 + t] to foreign[local + t·l], held[per] to foreign[q·l + local].
  std::vector<std::pair<int, size_t>> sends;  // destination rank, block index in `held`
  for (int t = 0; t < q; ++t) sends.push_back({foreign[local_rank_ + t * l], 1 + t});
  if (local_rank_ < extra) sends.push_back({foreign[q * l + local_rank_], per});

  const int k = islands();
  char* host_held = held;
  TANGRAM_ASSIGN_OR_RETURN(char* incoming, incoming_.Get(*memory_, k * block, false));
  if (device) {
    TANGRAM_ASSIGN_OR_RETURN(host_held, host_shard_.Get(*memory_, (per + 1) * block, false));
    TANGRAM_RETURN_IF_ERROR(memory_->Copy(host_held, held, (per + 1) * block));
  }
  Transport& bridge = transport();
  std::vector<std::unique_ptr<TransportRequest>> requests;
  for (int island = 0; island < k; ++island) {
    if (island == my_island_) continue;
    TANGRAM_ASSIGN_OR_RETURN(auto request, bridge.IRecv(holder(island, rank()), kCollectiveTag,
                                                        incoming + island * block, block));
    requests.push_back(std::move(request));
  }
  for (const auto& [dst, at] : sends) {
    TANGRAM_ASSIGN_OR_RETURN(auto request,
                             bridge.ISend(dst, kCollectiveTag, host_held + at * block, block));
    requests.push_back(std::move(request));
  }
  for (auto& request : requests) TANGRAM_RETURN_IF_ERROR(request->Wait(deadline));
  // Combine the islands' partials in island order (this island's is held[0]).
  std::memcpy(incoming + my_island_ * block, host_held, block);
  for (int island = 1; island < k; ++island) {
    ReduceInto(incoming, incoming + island * block, recv_count, type, inner);
  }
  bridge.ChargeReduction(block * static_cast<size_t>(k - 1));
  FinishAverage(incoming, recv_count, type, op, size());
  return memory_->Copy(recv, incoming, block);
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
