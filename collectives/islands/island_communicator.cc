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

// The hierarchical AllReduce of one call: the plan and the buffers it needs, then the pipeline
// over its segments (island_cost.h has the schedule).
class IslandCommunicator::AllReducePipeline {
 public:
  AllReducePipeline(IslandCommunicator& c, const void* send, void* recv, size_t count,
                    DataType type, ReduceOp op, absl::Time deadline);
  // The island shards and the bridge's host buffers, reused between calls.
  absl::Status GetBuffers();
  // Iteration i: RS(i), Start(i), one phase of every segment in flight (oldest first), AG(i − P)
  // (island_cost.h). Every member of an island runs the same island-local calls in the same
  // order, bridging or not.
  absl::Status Run();

 private:
  Segment SegmentAt(size_t s) const;
  char* ShardOf(const Segment& g) const { return shard_slots_ + g.slot * shard_bytes_; }
  // Reduce segment g inside the island onto its owners (RS).
  absl::Status IslandIn(const Segment& g);
  // Gather segment g inside the island from its owners (AG).
  absl::Status IslandOut(const Segment& g);
  // The cross-island step for this member's shard of segment g.
  std::unique_ptr<BridgeStep> Bridge(const Segment& g);

  IslandCommunicator& c_;
  const char* in_;
  char* out_;
  DataType type_;
  ReduceOp inner_;
  absl::Time deadline_;
  size_t element_ = 0;
  bool device_ = false;
  int k_ = 0, l_ = 0;
  bool equal_ = true;
  int owners_ = 0;
  bool bridging_ = false;
  std::vector<size_t> counts_, begins_;
  size_t nseg_ = 0;
  CrossIslandAlgorithm algorithm_ = CrossIslandAlgorithm::kExchange;
  int phases_ = 0;
  size_t slots_ = 0;
  std::vector<int> peers_;
  Group whole_;
  size_t shard_bytes_ = 0, incoming_bytes_ = 0;
  BridgeArgs args_;
  char* shard_slots_ = nullptr;
  char* host_slots_ = nullptr;
  char* incoming_slots_ = nullptr;
};

IslandCommunicator::AllReducePipeline::AllReducePipeline(IslandCommunicator& c, const void* send,
                                                         void* recv, size_t count, DataType type,
                                                         ReduceOp op, absl::Time deadline)
    : c_(c),
      in_(static_cast<const char*>(send)),
      out_(static_cast<char*>(recv)),
      type_(type),
      inner_(op == ReduceOp::kAvg ? ReduceOp::kSum : op),
      deadline_(deadline) {
  element_ = DataTypeSize(type);
  device_ = c.memory_->IsDevice(recv);
  k_ = c.islands();
  l_ = c.local_->size();
  int smallest = l_, largest_island = l_;
  for (const auto& members : c.members_) {
    equal_ &= static_cast<int>(members.size()) == l_;
    smallest = std::min(smallest, static_cast<int>(members.size()));
    largest_island = std::max(largest_island, static_cast<int>(members.size()));
  }
  // Uneven islands: the first `smallest` members of each island own one shard each (a Reduce to
  // it inside the island, the bridge, a Broadcast from it); the others only take part inside.
  owners_ = equal_ ? l_ : smallest;
  bridging_ = c.local_rank_ < owners_;

  // The plan (island_cost.h, which the simulator replays): segments small at both ends, the
  // cross-island algorithm for the largest one's shards, and its phases = the pipeline's lag.
  const IslandPlan plan = PlanIslandAllReduce(count, element_, c.options().island_segment_bytes, k_,
                                              owners_, largest_island, c.bridge_link_);
  counts_ = plan.segments;
  nseg_ = counts_.size();
  const size_t largest = *std::max_element(counts_.begin(), counts_.end());
  algorithm_ = plan.algorithm;
  c.last_algorithm_ = algorithm_;
  phases_ = plan.phases;
  slots_ = static_cast<size_t>(phases_) + 1;  // in flight + the one being reduced
  begins_.assign(nseg_, 0);
  for (size_t s = 1; s < nseg_; ++s) begins_[s] = begins_[s - 1] + counts_[s - 1];

  // The bridge: the members holding this rank's shard, one per island. Every member of it
  // plans from the same figures, so they all run the same algorithm.
  if (bridging_) {
    for (const auto& members : c.members_) peers_.push_back(members[c.local_rank_]);
  }
  whole_ = Group::Whole(c.transport(), deadline);
  whole_.scratch = &c.bridge_scratch_;

  const size_t max_shard = largest / static_cast<size_t>(owners_) + static_cast<size_t>(owners_);
  shard_bytes_ = max_shard * element_;
  incoming_bytes_ = BridgeIncomingBytes(algorithm_, max_shard, element_, k_);
  args_.type = type;
  args_.op = inner_;
  args_.final_op = op;
  args_.divisor = c.size();
  args_.device = device_;
  // Host shards go whole unless a chunk size is set (each chunk costs the bridge's α); device
  // shards are staged in chunks so that copying overlaps the wire.
  args_.chunk_bytes = c.options().bridge_chunk_bytes > 0 ? c.options().bridge_chunk_bytes
                      : device_                          ? kDefaultBridgeChunkBytes
                                                         : 0;
}

absl::Status IslandCommunicator::AllReducePipeline::GetBuffers() {
  DeviceMemory& memory = *c_.memory_;
  if (equal_) {
    TANGRAM_ASSIGN_OR_RETURN(shard_slots_, c_.shards_.Get(memory, slots_ * shard_bytes_, device_));
  }
  if (bridging_) {
    if (device_) {
      TANGRAM_ASSIGN_OR_RETURN(host_slots_,
                               c_.host_shard_.Get(memory, slots_ * shard_bytes_, false));
    }
    TANGRAM_ASSIGN_OR_RETURN(incoming_slots_,
                             c_.incoming_.Get(memory, slots_ * incoming_bytes_, false));
    if (k_ > 2) {
      TANGRAM_ASSIGN_OR_RETURN(args_.accumulate, c_.accumulate_.Get(memory, shard_bytes_, false));
    }
  }
  return absl::OkStatus();
}

Segment IslandCommunicator::AllReducePipeline::SegmentAt(size_t s) const {
  Segment g;
  g.begin = begins_[s];
  g.n = counts_[s];
  g.q = g.n / static_cast<size_t>(l_);
  g.r = g.n % static_cast<size_t>(l_);
  g.slot = s % slots_;
  return g;
}

absl::Status IslandCommunicator::AllReducePipeline::IslandIn(const Segment& g) {
  Communicator& local = *c_.local_;
  if (!equal_) {
    const std::vector<size_t> parts = EvenCounts(g.n, owners_);
    size_t first = 0;
    for (int j = 0; j < owners_; first += parts[j++]) {
      const size_t at = (g.begin + first) * element_;
      TANGRAM_RETURN_IF_ERROR(
          local.Reduce(in_ + at, out_ + at, parts[j], type_, inner_, j, c_.Remaining(deadline_)));
    }
    return absl::OkStatus();
  }
  TANGRAM_RETURN_IF_ERROR(local.ReduceScatter(in_ + g.begin * element_, ShardOf(g), g.q, type_,
                                              inner_, c_.Remaining(deadline_)));
  if (g.r == 0) return absl::OkStatus();
  // The last r elements (fewer than l) go to the last member, whose shard is q + r long.
  return local.Reduce(in_ + (g.begin + l_ * g.q) * element_, ShardOf(g) + g.q * element_, g.r,
                      type_, inner_, l_ - 1, c_.Remaining(deadline_));
}

absl::Status IslandCommunicator::AllReducePipeline::IslandOut(const Segment& g) {
  Communicator& local = *c_.local_;
  if (!equal_) {
    const std::vector<size_t> parts = EvenCounts(g.n, owners_);
    size_t first = 0;
    for (int j = 0; j < owners_; first += parts[j++]) {
      TANGRAM_RETURN_IF_ERROR(local.Broadcast(out_ + (g.begin + first) * element_, parts[j], type_,
                                              j, c_.Remaining(deadline_)));
    }
    return absl::OkStatus();
  }
  std::vector<size_t> parts(l_, g.q);
  parts[l_ - 1] += g.r;
  return local.AllGatherV(ShardOf(g), out_ + g.begin * element_, parts, type_,
                          c_.Remaining(deadline_));
}

std::unique_ptr<BridgeStep> IslandCommunicator::AllReducePipeline::Bridge(const Segment& g) {
  BridgeArgs a = args_;
  if (equal_) {
    a.shard = ShardOf(g);
    a.count = g.q + (c_.local_rank_ == l_ - 1 ? g.r : 0);
  } else {
    const std::vector<size_t> parts = EvenCounts(g.n, owners_);
    size_t first = 0;
    for (int j = 0; j < c_.local_rank_; ++j) first += parts[j];
    a.shard = out_ + (g.begin + first) * element_;
    a.count = parts[c_.local_rank_];
  }
  if (host_slots_ != nullptr) a.host = host_slots_ + g.slot * shard_bytes_;
  a.incoming = incoming_slots_ + g.slot * incoming_bytes_;
  Group across = whole_.Subset(peers_);
  across.tag = kCollectiveTag + 1 + static_cast<int>(g.slot);  // steps in flight never match
  return algorithm_ == CrossIslandAlgorithm::kExchange ? MakeExchangeStep(across, a, *c_.memory_)
                                                       : MakeRingStep(across, a, *c_.memory_);
}

absl::Status IslandCommunicator::AllReducePipeline::Run() {
  const size_t phases = static_cast<size_t>(phases_);
  std::vector<std::unique_ptr<BridgeStep>> steps(nseg_);
  for (size_t i = 0; i < nseg_ + phases; ++i) {
    if (i < nseg_) {
      const Segment g = SegmentAt(i);
      TANGRAM_RETURN_IF_ERROR(IslandIn(g));
      if (bridging_) {
        steps[i] = Bridge(g);
        TANGRAM_RETURN_IF_ERROR(steps[i]->Start());
      }
    }
    if (bridging_) {
      for (size_t s = i > phases ? i - phases : 0; s < std::min(i, nseg_); ++s) {
        TANGRAM_RETURN_IF_ERROR(steps[s]->Advance());
      }
    }
    if (i >= phases) {
      const size_t s = i - phases;
      steps[s].reset();
      TANGRAM_RETURN_IF_ERROR(IslandOut(SegmentAt(s)));
    }
  }
  return absl::OkStatus();
}

absl::Status IslandCommunicator::Hierarchical(const void* send, void* recv, size_t count,
                                              DataType type, ReduceOp op, absl::Time deadline) {
  AllReducePipeline pipeline(*this, send, recv, count, type, op, deadline);
  TANGRAM_RETURN_IF_ERROR(pipeline.GetBuffers());
  return pipeline.Run();
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

// Who holds island I's partial of rank r's block (r outside I): r's index t among the ranks
// outside I, in rank order; member t mod l_I holds it when t < q·l_I (inside the island's
// reduce-scatter), else member t − q·l_I (one Reduce each), q = ⌊(p − l_I) / l_I⌋.
std::vector<int> IslandCommunicator::ForeignRanks(int island) const {
  std::vector<int> out;
  for (int r = 0; r < size(); ++r) {
    if (island_of_[r] != island_of_[members_[island][0]]) out.push_back(r);
  }
  return out;
}

int IslandCommunicator::PartialHolder(int island, int r) const {
  const std::vector<int> foreign = ForeignRanks(island);
  const int li = static_cast<int>(members_[island].size());
  const int q = static_cast<int>(foreign.size()) / li;
  const int t = static_cast<int>(std::find(foreign.begin(), foreign.end(), r) - foreign.begin());
  return members_[island][t < q * li ? t % li : t - q * li];
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
  const std::vector<int> foreign = ForeignRanks(my_island_);
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
  return ExchangePartials(held, foreign, per, device, recv, recv_count, type, op, deadline);
}

absl::Status IslandCommunicator::ExchangePartials(char* held, const std::vector<int>& foreign,
                                                  size_t per, bool device, void* recv,
                                                  size_t recv_count, DataType type, ReduceOp op,
                                                  absl::Time deadline) {
  const size_t block = recv_count * DataTypeSize(type);
  const ReduceOp inner = op == ReduceOp::kAvg ? ReduceOp::kSum : op;
  const int l = static_cast<int>(members_[my_island_].size());
  const int q = static_cast<int>(foreign.size()) / l;
  const int extra = static_cast<int>(foreign.size()) % l;
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
    TANGRAM_ASSIGN_OR_RETURN(auto request,
                             bridge.IRecv(PartialHolder(island, rank()), kCollectiveTag,
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
