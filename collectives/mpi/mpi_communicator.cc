// The "mpi" transport: a P2PCommunicator over MpiTransport whose kNative (and kAuto) calls map
// straight to MPI's own collectives on the caller's buffers — no extra copies. With a finite
// deadline the non-blocking forms (MPI_Iallreduce, ...) are polled so that a call can time out;
// with CallOptions::timeout = absl::InfiniteDuration() the blocking forms run, unless the wait
// policy yields (a machine with more ranks than cores: wait_policy.h), since Open MPI's blocking
// forms spin. Our algorithms
// (kRing, kHalvingDoubling, ...) run over MPI point-to-point instead when asked for.
#include <climits>
#include <cstdint>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "collectives/backends.h"
#include "collectives/mpi/liveness.h"
#include "collectives/mpi/mpi_transport.h"
#include "collectives/p2p_communicator.h"
#include "collectives/reduce.h"
#include "collectives/wait_policy.h"

namespace tangram::collectives {
namespace mpi {
namespace {

constexpr size_t kLibnbcBinomialBelowBytes = 64 << 10;

// bf16 and f16 have no MPI type: a 2-byte contiguous type with user ops that call ReduceInto.
template <DataType kType, ReduceOp kOp>
void HalfOp(void* in, void* inout, int* len, MPI_Datatype*) {
  ReduceInto(inout, in, static_cast<size_t>(*len), kType, kOp);
}

struct HalfTypes {
  MPI_Datatype type = MPI_DATATYPE_NULL;
  MPI_Op ops[2][3];  // [bf16, f16][sum, max, min]
  HalfTypes() {
    MPI_Type_contiguous(2, MPI_BYTE, &type);
    MPI_Type_commit(&type);
    MPI_Op_create(&HalfOp<DataType::kBF16, ReduceOp::kSum>, 1, &ops[0][0]);
    MPI_Op_create(&HalfOp<DataType::kBF16, ReduceOp::kMax>, 1, &ops[0][1]);
    MPI_Op_create(&HalfOp<DataType::kBF16, ReduceOp::kMin>, 1, &ops[0][2]);
    MPI_Op_create(&HalfOp<DataType::kF16, ReduceOp::kSum>, 1, &ops[1][0]);
    MPI_Op_create(&HalfOp<DataType::kF16, ReduceOp::kMax>, 1, &ops[1][1]);
    MPI_Op_create(&HalfOp<DataType::kF16, ReduceOp::kMin>, 1, &ops[1][2]);
  }
};

const HalfTypes& Halves() {
  static const HalfTypes* halves = new HalfTypes();  // after MPI_Init; never freed
  return *halves;
}

MPI_Datatype ToMpi(DataType type) {
  switch (type) {
    case DataType::kF32:
      return MPI_FLOAT;
    case DataType::kF64:
      return MPI_DOUBLE;
    case DataType::kI32:
      return MPI_INT32_T;
    case DataType::kI64:
      return MPI_INT64_T;
    default:
      return Halves().type;
  }
}

MPI_Op ToMpi(DataType type, ReduceOp op) {
  const int index = op == ReduceOp::kMax ? 1 : op == ReduceOp::kMin ? 2 : 0;  // avg: sum first
  if (type == DataType::kBF16) return Halves().ops[0][index];
  if (type == DataType::kF16) return Halves().ops[1][index];
  return index == 1 ? MPI_MAX : index == 2 ? MPI_MIN : MPI_SUM;
}

absl::Status CheckCount(size_t count) {
  if (count > static_cast<size_t>(INT_MAX)) {
    return absl::InvalidArgumentError(absl::StrCat("mpi: count ", count, " exceeds MPI's int"));
  }
  return absl::OkStatus();
}

class MpiCommunicator : public P2PCommunicator {
 public:
  MpiCommunicator(std::unique_ptr<MpiTransport> transport, const CommunicatorOptions& options,
                  std::vector<int> locality)
      : P2PCommunicator(std::move(transport), options, "mpi", std::move(locality)) {
    comm_ = static_cast<MpiTransport&>(this->transport()).comm();
  }

  absl::Status AllReduce(const void* send, void* recv, size_t count, DataType type, ReduceOp op,
                         const CallOptions& options) override {
    if (!UseNative(options))
      return P2PCommunicator::AllReduce(send, recv, count, type, op, options);
    if (PolledRingIsFaster(options, count * DataTypeSize(type))) {
      CallOptions ring = options;
      ring.algorithm = Algorithm::kRing;
      return P2PCommunicator::AllReduce(send, recv, count, type, op, ring);
    }
    TANGRAM_RETURN_IF_ERROR(CheckCount(count));
    const void* in = send == recv ? MPI_IN_PLACE : send;
    const int n = static_cast<int>(count);
    TANGRAM_RETURN_IF_ERROR(Native(
        options, "MPI_Allreduce",
        [&] { return MPI_Allreduce(in, recv, n, ToMpi(type), ToMpi(type, op), comm_); },
        [&](MPI_Request* r) {
          return MPI_Iallreduce(in, recv, n, ToMpi(type), ToMpi(type, op), comm_, r);
        }));
    FinishAverage(recv, count, type, op, size());
    return absl::OkStatus();
  }

  absl::Status ReduceScatter(const void* send, void* recv, size_t recv_count, DataType type,
                             ReduceOp op, const CallOptions& options) override {
    if (!UseNative(options)) {
      return P2PCommunicator::ReduceScatter(send, recv, recv_count, type, op, options);
    }
    TANGRAM_RETURN_IF_ERROR(CheckCount(recv_count * size()));
    const int n = static_cast<int>(recv_count);
    TANGRAM_RETURN_IF_ERROR(Native(
        options, "MPI_Reduce_scatter_block",
        [&] {
          return MPI_Reduce_scatter_block(send, recv, n, ToMpi(type), ToMpi(type, op), comm_);
        },
        [&](MPI_Request* r) {
          return MPI_Ireduce_scatter_block(send, recv, n, ToMpi(type), ToMpi(type, op), comm_, r);
        }));
    FinishAverage(recv, recv_count, type, op, size());
    return absl::OkStatus();
  }

  absl::Status AllGather(const void* send, void* recv, size_t send_count, DataType type,
                         const CallOptions& options) override {
    if (!UseNative(options))
      return P2PCommunicator::AllGather(send, recv, send_count, type, options);
    TANGRAM_RETURN_IF_ERROR(CheckCount(send_count * size()));
    const int n = static_cast<int>(send_count);
    const void* in = send == static_cast<char*>(recv) + rank() * send_count * DataTypeSize(type)
                         ? MPI_IN_PLACE
                         : send;
    return Native(
        options, "MPI_Allgather",
        [&] { return MPI_Allgather(in, n, ToMpi(type), recv, n, ToMpi(type), comm_); },
        [&](MPI_Request* r) {
          return MPI_Iallgather(in, n, ToMpi(type), recv, n, ToMpi(type), comm_, r);
        });
  }

  absl::Status AllGatherV(const void* send, void* recv, absl::Span<const size_t> counts,
                          DataType type, const CallOptions& options) override {
    if (!UseNative(options) || static_cast<int>(counts.size()) != size()) {
      return P2PCommunicator::AllGatherV(send, recv, counts, type, options);
    }
    TANGRAM_RETURN_IF_ERROR(CheckCount(std::accumulate(counts.begin(), counts.end(), size_t{0})));
    std::vector<int> n(size()), displacement(size() + 1, 0);
    for (int r = 0; r < size(); ++r) {
      n[r] = static_cast<int>(counts[r]);
      displacement[r + 1] = displacement[r] + n[r];
    }
    const void* in = send == static_cast<char*>(recv) + displacement[rank()] * DataTypeSize(type)
                         ? MPI_IN_PLACE
                         : send;
    const int mine = n[rank()];
    return Native(
        options, "MPI_Allgatherv",
        [&] {
          return MPI_Allgatherv(in, mine, ToMpi(type), recv, n.data(), displacement.data(),
                                ToMpi(type), comm_);
        },
        [&](MPI_Request* r) {
          return MPI_Iallgatherv(in, mine, ToMpi(type), recv, n.data(), displacement.data(),
                                 ToMpi(type), comm_, r);
        });
  }

  absl::Status Broadcast(void* buffer, size_t count, DataType type, int root,
                         const CallOptions& options) override {
    if (!UseNative(options)) return P2PCommunicator::Broadcast(buffer, count, type, root, options);
    TANGRAM_RETURN_IF_ERROR(CheckCount(count));
    TANGRAM_RETURN_IF_ERROR(CheckRank(root, size(), "Broadcast root"));
    const int n = static_cast<int>(count);
    return Native(
        options, "MPI_Bcast", [&] { return MPI_Bcast(buffer, n, ToMpi(type), root, comm_); },
        [&](MPI_Request* r) { return MPI_Ibcast(buffer, n, ToMpi(type), root, comm_, r); });
  }

  absl::Status Reduce(const void* send, void* recv, size_t count, DataType type, ReduceOp op,
                      int root, const CallOptions& options) override {
    if (!UseNative(options)) {
      return P2PCommunicator::Reduce(send, recv, count, type, op, root, options);
    }
    TANGRAM_RETURN_IF_ERROR(CheckCount(count));
    TANGRAM_RETURN_IF_ERROR(CheckRank(root, size(), "Reduce root"));
    const int n = static_cast<int>(count);
    const void* in = rank() == root && send == recv ? MPI_IN_PLACE : send;
    TANGRAM_RETURN_IF_ERROR(Native(
        options, "MPI_Reduce",
        [&] { return MPI_Reduce(in, recv, n, ToMpi(type), ToMpi(type, op), root, comm_); },
        [&](MPI_Request* r) {
          return MPI_Ireduce(in, recv, n, ToMpi(type), ToMpi(type, op), root, comm_, r);
        }));
    if (rank() == root) FinishAverage(recv, count, type, op, size());
    return absl::OkStatus();
  }

  // One probe runs Open MPI's progress engine once (every request of the process, not only this
  // communicator's); what it finds is left for the receive that matches it.
  void Progress() override {
    int flag = 0;
    MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, comm_, &flag, MPI_STATUS_IGNORE);
  }

  absl::Status Barrier(const CallOptions& options) override {
    if (!UseNative(options)) return P2PCommunicator::Barrier(options);
    return Native(
        options, "MPI_Barrier", [&] { return MPI_Barrier(comm_); },
        [&](MPI_Request* r) { return MPI_Ibarrier(comm_, r); });
  }

 protected:
  std::unique_ptr<Communicator> MakeChild(std::unique_ptr<Transport> transport,
                                          std::vector<int> locality) override {
    return std::make_unique<MpiCommunicator>(
        std::unique_ptr<MpiTransport>(static_cast<MpiTransport*>(transport.release())), options(),
        std::move(locality));
  }

 private:
  bool UseNative(const CallOptions& options) const {
    const Algorithm algorithm = Resolve(options);
    return algorithm == Algorithm::kNative || algorithm == Algorithm::kAuto;
  }

  // kAuto's allreduce where the native call would be MPI_Iallreduce (a deadline, or a wait policy
  // that yields) over three ranks or more across nodes: our ring over MPI point-to-point instead,
  // from the size at which libnbc itself stops choosing its binomial schedule (64 KiB,
  // nbc_iallreduce.c). Open MPI 4.1's libnbc runs every in-place Iallreduce, and every one over
  // fewer than 4 ranks, as a binomial reduce to rank 0 and a binomial broadcast back: whole
  // buffers, one hop at a time, so the busiest NIC carries 3-5 buffers where a ring carries under
  // 2 and sends both ways at once. Measured on 3 and 4 namespace hosts at 300 Mbit/s
  // (docs/collectives.md): the ring is 2.8x faster than the in-place binomial on 3 hosts, on par
  // with libnbc's own ring; inside one host the two are within 30 % either way, so the native call
  // stays there. Two ranks keep the native call too: its binomial is one whole buffer each way in
  // turn, the same bytes as a ring of two, whose exchange (both ways on one connection) gained
  // little on the shaped links (tp 2 x dp 2 over 2 hosts: 1.28 against 1.35 s a step at 50 Mbit/s,
  // 0.16 against 0.17 s at 1 Gbit/s) and read differently when the probe timed it than in
  // training (docs/probe.md), while the binomial's two one-way transfers time the same in both.
  // Training's gradient allreduce is exactly this call (in place, with a deadline).
  bool PolledRingIsFaster(const CallOptions& options, size_t bytes) const {
    if (Resolve(options) != Algorithm::kAuto || bytes < kLibnbcBinomialBelowBytes) return false;
    if (size() < 3 || !SpansNodes()) return false;
    const bool blocking =
        Deadline(options) == absl::InfiniteFuture() && CurrentWaitPolicy() == WaitPolicy::kSpin;
    return !blocking;
  }

  // Runs a native collective: blocking without a deadline, else started non-blocking and polled
  // until the deadline; any failure aborts the communicator.
  template <typename Blocking, typename NonBlocking>
  absl::Status Native(const CallOptions& options, const char* what, Blocking blocking,
                      NonBlocking non_blocking) {
    TANGRAM_RETURN_IF_ERROR(transport().AbortStatus());
    const absl::Time deadline = Deadline(options);
    absl::Status status;
    if (deadline == absl::InfiniteFuture() && CurrentWaitPolicy() == WaitPolicy::kSpin) {
      const int code = blocking();
      if (code != MPI_SUCCESS) status = ToStatus(code, what, rank());
    } else {
      MPI_Request request;
      const int code = non_blocking(&request);
      status = code != MPI_SUCCESS ? ToStatus(code, what, rank())
                                   : WaitUntil(&request, deadline, what, rank(), false);
    }
    if (!status.ok()) transport().Abort(status);
    return status;
  }

  MPI_Comm comm_;
};

}  // namespace
}  // namespace mpi

namespace internal {

absl::StatusOr<std::unique_ptr<Communicator>> CreateMpiCommunicator(
    const CommunicatorOptions& options) {
  TANGRAM_RETURN_IF_ERROR(mpi::EnsureInitialized());
  TANGRAM_RETURN_IF_ERROR(mpi::StartLiveness());
  TANGRAM_RETURN_IF_ERROR(mpi::ConfigureWaitPolicy(MPI_COMM_WORLD));
  MPI_Comm comm;
  TANGRAM_MPI_CALL(MPI_Comm_dup(MPI_COMM_WORLD, &comm), -1);
  auto transport = std::make_unique<mpi::MpiTransport>(comm);
  TANGRAM_ASSIGN_OR_RETURN(std::vector<int> node_of, mpi::NodeOfEachRank(comm));
  return std::make_unique<mpi::MpiCommunicator>(std::move(transport), options, std::move(node_of));
}

absl::StatusOr<std::unique_ptr<Transport>> CreateMpiWorldTransport() {
  TANGRAM_RETURN_IF_ERROR(mpi::EnsureInitialized());
  TANGRAM_RETURN_IF_ERROR(mpi::ConfigureWaitPolicy(MPI_COMM_WORLD));
  MPI_Comm comm;
  TANGRAM_MPI_CALL(MPI_Comm_dup(MPI_COMM_WORLD, &comm), -1);
  return std::make_unique<mpi::MpiTransport>(comm);
}

}  // namespace internal
}  // namespace tangram::collectives
