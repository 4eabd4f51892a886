#include "collectives/p2p_communicator.h"

#include <algorithm>
#include <cstring>
#include <functional>
#include <numeric>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "collectives/algorithms/algorithms.h"

namespace tangram::collectives {
namespace {

// Where the transport does not model its links (MPI), kAuto picks halving-doubling below this many
// bytes (fewer steps) and the ring above (less data per step once p grows).
constexpr size_t kRingThresholdBytes = 64 << 10;

// kAuto's allreduce: on a transport that models its links (sim), the faster of the ring and
// halving-doubling by the α-β formulas of their headers on the slowest link (the same link on
// every rank, so every rank picks the same algorithm); elsewhere the size threshold above.
Algorithm AutoAllReduce(const Transport& transport, size_t bytes) {
  const std::optional<LinkCost> link = transport.SlowestLink();
  const int p = transport.size();
  if (!link || p < 2) {
    return bytes < kRingThresholdBytes ? Algorithm::kHalvingDoubling : Algorithm::kRing;
  }
  const double a = link->alpha_s;
  const double b = link->bandwidth_Bps > 0 ? 1.0 / link->bandwidth_Bps : 0.0;
  const double n = static_cast<double>(bytes);
  const double ring = 2.0 * (p - 1) * (a + n / p * b);
  int q = 1, steps = 0;
  while (q * 2 <= p) {
    q *= 2;
    ++steps;
  }
  double halving_doubling = 2.0 * steps * a + 2.0 * (q - 1) / q * n * b;
  if (q != p) halving_doubling += 2.0 * (a + n * b);  // the extra ranks fold in and out
  return halving_doubling <= ring ? Algorithm::kHalvingDoubling : Algorithm::kRing;
}
// Scratch kept between calls; a call that needed more frees it when done.
constexpr size_t kKeepScratchBytes = 64 << 20;

class P2PRequest : public Request {
 public:
  P2PRequest(std::unique_ptr<TransportRequest> request, Transport* transport, absl::Time deadline)
      : request_(std::move(request)), transport_(transport), deadline_(deadline) {}
  absl::Status Wait() override {
    absl::Status status = request_->Wait(deadline_);
    if (!status.ok()) transport_->Abort(status);
    return status;
  }

 private:
  std::unique_ptr<TransportRequest> request_;
  Transport* transport_;
  absl::Time deadline_;
};

}  // namespace

absl::Status CheckBuffer(const void* buffer, size_t count, absl::string_view what) {
  if (buffer == nullptr && count > 0) {
    return absl::InvalidArgumentError(absl::StrCat(what, " is null but count is ", count));
  }
  return absl::OkStatus();
}

absl::Status CheckRank(int rank, int size, absl::string_view what) {
  if (rank < 0 || rank >= size) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " ", rank, " is outside the communicator's [0, ", size, ")"));
  }
  return absl::OkStatus();
}

absl::Status CheckTag(int tag) {
  if (tag < 0 || tag > kMaxUserTag) {
    return absl::InvalidArgumentError(
        absl::StrCat("tag ", tag, " is outside [0, ", kMaxUserTag, "]"));
  }
  return absl::OkStatus();
}

P2PCommunicator::P2PCommunicator(std::unique_ptr<Transport> transport,
                                 const CommunicatorOptions& options, std::string transport_name,
                                 std::vector<int> locality)
    : transport_(std::move(transport)),
      options_(options),
      transport_name_(std::move(transport_name)),
      locality_(std::move(locality)) {
  if (static_cast<int>(locality_.size()) != transport_->size()) {
    locality_.resize(transport_->size());
    std::iota(locality_.begin(), locality_.end(), 0);
  }
  group_ = Group::Whole(*transport_, absl::InfiniteFuture());
  group_.scratch = &scratch_;
}

absl::Time P2PCommunicator::Deadline(const CallOptions& options) const {
  return absl::Now() + options.timeout.value_or(options_.timeout);
}

bool P2PCommunicator::SpansNodes() const {
  return std::adjacent_find(locality_.begin(), locality_.end(), std::not_equal_to<int>()) !=
         locality_.end();
}

Algorithm P2PCommunicator::Resolve(const CallOptions& options) const {
  return options.algorithm != Algorithm::kAuto ? options.algorithm : options_.algorithm;
}

absl::Status P2PCommunicator::Run(const CallOptions& options,
                                  absl::FunctionRef<absl::Status(const Group&)> body) {
  TANGRAM_RETURN_IF_ERROR(transport_->AbortStatus());
  group_.deadline = Deadline(options);
  absl::Status status = body(group_);
  scratch_.Trim(kKeepScratchBytes);
  if (!status.ok()) transport_->Abort(status);
  return status;
}

absl::Status P2PCommunicator::AllReduce(const void* send, void* recv, size_t count, DataType type,
                                        ReduceOp op, const CallOptions& options) {
  TANGRAM_RETURN_IF_ERROR(CheckBuffer(send, count, "AllReduce send buffer"));
  TANGRAM_RETURN_IF_ERROR(CheckBuffer(recv, count, "AllReduce recv buffer"));
  Algorithm algorithm = Resolve(options);
  if (algorithm == Algorithm::kAuto)
    algorithm = AutoAllReduce(*transport_, count * DataTypeSize(type));
  return Run(options, [&](const Group& group) -> absl::Status {
    switch (algorithm) {
      case Algorithm::kRing:
        return RingAllReduce(group, send, recv, count, type, op);
      case Algorithm::kHalvingDoubling:
        return HalvingDoublingAllReduce(group, send, recv, count, type, op);
      case Algorithm::kTree:
        return TreeAllReduce(group, send, recv, count, type, op);
      case Algorithm::kHierarchical:
        return HierarchicalAllReduce(group, locality_, send, recv, count, type, op);
      case Algorithm::kFlat:
        return FlatAllReduce(group, send, recv, count, type, op);
      default:
        return absl::InvalidArgumentError(
            absl::StrCat("AllReduce: algorithm '", AlgorithmName(algorithm),
                         "' is not available on the ", transport_name_, " transport"));
    }
  });
}

absl::Status P2PCommunicator::ReduceScatter(const void* send, void* recv, size_t recv_count,
                                            DataType type, ReduceOp op,
                                            const CallOptions& options) {
  TANGRAM_RETURN_IF_ERROR(CheckBuffer(send, recv_count, "ReduceScatter send buffer"));
  TANGRAM_RETURN_IF_ERROR(CheckBuffer(recv, recv_count, "ReduceScatter recv buffer"));
  const std::vector<size_t> counts(size(), recv_count);
  return Run(options, [&](const Group& group) {
    return RingReduceScatter(group, send, recv, counts, type, op);
  });
}

absl::Status P2PCommunicator::AllGather(const void* send, void* recv, size_t send_count,
                                        DataType type, const CallOptions& options) {
  const std::vector<size_t> counts(size(), send_count);
  return AllGatherV(send, recv, counts, type, options);
}

absl::Status P2PCommunicator::AllGatherV(const void* send, void* recv,
                                         absl::Span<const size_t> counts, DataType type,
                                         const CallOptions& options) {
  if (static_cast<int>(counts.size()) != size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("AllGatherV: ", counts.size(), " counts for ", size(), " ranks"));
  }
  const size_t total = std::accumulate(counts.begin(), counts.end(), size_t{0});
  TANGRAM_RETURN_IF_ERROR(CheckBuffer(send, counts[rank()], "AllGatherV send buffer"));
  TANGRAM_RETURN_IF_ERROR(CheckBuffer(recv, total, "AllGatherV recv buffer"));
  const size_t element = DataTypeSize(type);
  size_t offset = 0;
  for (int r = 0; r < rank(); ++r) offset += counts[r] * element;
  char* own = static_cast<char*>(recv) + offset;
  if (counts[rank()] > 0 && own != send) std::memmove(own, send, counts[rank()] * element);
  return Run(options,
             [&](const Group& group) { return RingAllGatherV(group, recv, counts, type); });
}

absl::Status P2PCommunicator::Broadcast(void* buffer, size_t count, DataType type, int root,
                                        const CallOptions& options) {
  TANGRAM_RETURN_IF_ERROR(CheckBuffer(buffer, count, "Broadcast buffer"));
  TANGRAM_RETURN_IF_ERROR(CheckRank(root, size(), "Broadcast root"));
  return Run(options, [&](const Group& group) {
    return TreeBroadcast(group, buffer, count * DataTypeSize(type), root);
  });
}

absl::Status P2PCommunicator::Reduce(const void* send, void* recv, size_t count, DataType type,
                                     ReduceOp op, int root, const CallOptions& options) {
  TANGRAM_RETURN_IF_ERROR(CheckBuffer(send, count, "Reduce send buffer"));
  TANGRAM_RETURN_IF_ERROR(CheckRank(root, size(), "Reduce root"));
  if (rank() == root) TANGRAM_RETURN_IF_ERROR(CheckBuffer(recv, count, "Reduce recv buffer"));
  return Run(options, [&](const Group& group) {
    return TreeReduce(group, send, recv, count, type, op, root);
  });
}

absl::Status P2PCommunicator::Send(const void* buffer, size_t count, DataType type, int peer,
                                   int tag, const CallOptions& options) {
  TANGRAM_ASSIGN_OR_RETURN(auto request, ISend(buffer, count, type, peer, tag, options));
  return request->Wait();
}

absl::Status P2PCommunicator::Recv(void* buffer, size_t count, DataType type, int peer, int tag,
                                   const CallOptions& options) {
  TANGRAM_ASSIGN_OR_RETURN(auto request, IRecv(buffer, count, type, peer, tag, options));
  return request->Wait();
}

absl::StatusOr<std::unique_ptr<Request>> P2PCommunicator::ISend(const void* buffer, size_t count,
                                                                DataType type, int peer, int tag,
                                                                const CallOptions& options) {
  TANGRAM_RETURN_IF_ERROR(CheckBuffer(buffer, count, "Send buffer"));
  TANGRAM_RETURN_IF_ERROR(CheckRank(peer, size(), "Send peer"));
  TANGRAM_RETURN_IF_ERROR(CheckTag(tag));
  TANGRAM_RETURN_IF_ERROR(transport_->AbortStatus());
  TANGRAM_ASSIGN_OR_RETURN(auto request,
                           transport_->ISend(peer, tag, buffer, count * DataTypeSize(type)));
  return std::make_unique<P2PRequest>(std::move(request), transport_.get(), Deadline(options));
}

absl::StatusOr<std::unique_ptr<Request>> P2PCommunicator::IRecv(void* buffer, size_t count,
                                                                DataType type, int peer, int tag,
                                                                const CallOptions& options) {
  TANGRAM_RETURN_IF_ERROR(CheckBuffer(buffer, count, "Recv buffer"));
  TANGRAM_RETURN_IF_ERROR(CheckRank(peer, size(), "Recv peer"));
  TANGRAM_RETURN_IF_ERROR(CheckTag(tag));
  TANGRAM_RETURN_IF_ERROR(transport_->AbortStatus());
  TANGRAM_ASSIGN_OR_RETURN(auto request,
                           transport_->IRecv(peer, tag, buffer, count * DataTypeSize(type)));
  return std::make_unique<P2PRequest>(std::move(request), transport_.get(), Deadline(options));
}

absl::Status P2PCommunicator::Barrier(const CallOptions& options) {
  return Run(options, [&](const Group& group) { return DisseminationBarrier(group); });
}

absl::StatusOr<std::unique_ptr<Communicator>> P2PCommunicator::Split(int color, int key) {
  if (color < 0) {
    return absl::InvalidArgumentError(absl::StrCat("Split: color ", color, " must be >= 0"));
  }
  // Everyone learns everyone's (color, key); the members of our color, ordered by (key, rank),
  // form the new group.
  std::vector<int64_t> table(2 * size());
  table[2 * rank()] = color;
  table[2 * rank() + 1] = key;
  TANGRAM_RETURN_IF_ERROR(AllGather(table.data() + 2 * rank(), table.data(), 2, DataType::kI64));
  std::vector<std::tuple<int64_t, int>> order;
  for (int r = 0; r < size(); ++r) {
    if (table[2 * r] == color) order.emplace_back(table[2 * r + 1], r);
  }
  std::sort(order.begin(), order.end());
  std::vector<int> members;
  std::vector<int> locality;
  for (const auto& [member_key, r] : order) {
    members.push_back(r);
    locality.push_back(locality_[r]);
  }
  auto child = transport_->CreateSubgroup(color, key, members);
  if (!child.ok()) {
    transport_->Abort(child.status());
    return child.status();
  }
  return MakeChild(*std::move(child), std::move(locality));
}

std::unique_ptr<Communicator> P2PCommunicator::MakeChild(std::unique_ptr<Transport> transport,
                                                         std::vector<int> locality) {
  return std::make_unique<P2PCommunicator>(std::move(transport), options_, transport_name_,
                                           std::move(locality));
}

}  // namespace tangram::collectives
