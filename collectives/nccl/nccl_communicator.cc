// The "nccl" transport: NCCL collectives on one CUDA stream per communicator. Device buffers are
// used in place; host buffers are staged through temporary device memory (correct, not fast).
// Every wait polls the stream and ncclCommGetAsyncError until the deadline; past it the NCCL
// communicator is aborted (ncclCommAbort) so that no kernel waits forever, and the call returns
// kDeadlineExceeded. Point-to-point uses two extra streams (send, receive) so that a rank's
// posted send cannot block its own posted receive.
#include <cstring>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "collectives/backends.h"
#include "collectives/nccl/nccl_bootstrap.h"
#include "collectives/p2p_communicator.h"

namespace tangram::collectives {
namespace nccl {
namespace {

ncclDataType_t ToNccl(DataType type) {
  switch (type) {
    case DataType::kF32:
      return ncclFloat32;
    case DataType::kF64:
      return ncclFloat64;
    case DataType::kBF16:
      return ncclBfloat16;
    case DataType::kF16:
      return ncclFloat16;
    case DataType::kI32:
      return ncclInt32;
    case DataType::kI64:
      return ncclInt64;
  }
  return ncclFloat32;
}

ncclRedOp_t ToNccl(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum:
      return ncclSum;
    case ReduceOp::kAvg:
      return ncclAvg;
    case ReduceOp::kMax:
      return ncclMax;
    case ReduceOp::kMin:
      return ncclMin;
  }
  return ncclSum;
}

bool OnDevice(const void* pointer) {
  cudaPointerAttributes attributes;
  if (pointer == nullptr || cudaPointerGetAttributes(&attributes, pointer) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "invalid value" from a plain host pointer
    return false;
  }
  return attributes.type == cudaMemoryTypeDevice || attributes.type == cudaMemoryTypeManaged;
}

class NcclCommunicator;

class NcclRequest : public Request {
 public:
  NcclRequest(NcclCommunicator* comm, cudaStream_t stream, absl::Time deadline, void* staging,
              void* host_out, size_t bytes)
      : comm_(comm),
        stream_(stream),
        deadline_(deadline),
        staging_(staging),
        host_out_(host_out),
        bytes_(bytes) {}
  absl::Status Wait() override;

 private:
  NcclCommunicator* comm_;
  cudaStream_t stream_;
  absl::Time deadline_;
  void* staging_;   // device copy of a host buffer, or null
  void* host_out_;  // host buffer to fill from staging_ (receives), or null
  size_t bytes_;
};

class NcclCommunicator : public Communicator {
 public:
  NcclCommunicator(ncclComm_t comm, int device, const CommunicatorOptions& options)
      : comm_(comm), device_(device), options_(options) {
    ncclCommUserRank(comm_, &rank_);
    ncclCommCount(comm_, &size_);
    cudaSetDevice(device_);
    cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking);
    cudaStreamCreateWithFlags(&send_stream_, cudaStreamNonBlocking);
    cudaStreamCreateWithFlags(&recv_stream_, cudaStreamNonBlocking);
  }
  ~NcclCommunicator() override {
    if (abort_status_.ok()) ncclCommDestroy(comm_);
    cudaStreamDestroy(stream_);
    cudaStreamDestroy(send_stream_);
    cudaStreamDestroy(recv_stream_);
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  absl::string_view transport_name() const override { return "nccl"; }
  absl::Duration default_timeout() const override { return options_.timeout; }
  void SetDefaultTimeout(absl::Duration timeout) override { options_.timeout = timeout; }

  absl::Status AllReduce(const void* send, void* recv, size_t count, DataType type, ReduceOp op,
                         const CallOptions& options) override {
    const size_t bytes = count * DataTypeSize(type);
    return Staged(options, "ncclAllReduce", send, bytes, recv, bytes, [&](const void* s, void* r) {
      return ncclAllReduce(s, r, count, ToNccl(type), ToNccl(op), comm_, stream_);
    });
  }
  absl::Status ReduceScatter(const void* send, void* recv, size_t recv_count, DataType type,
                             ReduceOp op, const CallOptions& options) override {
    const size_t bytes = recv_count * DataTypeSize(type);
    return Staged(options, "ncclReduceScatter", send, bytes * size_, recv, bytes,
                  [&](const void* s, void* r) {
                    return ncclReduceScatter(s, r, recv_count, ToNccl(type), ToNccl(op), comm_,
                                             stream_);
                  });
  }
  absl::Status AllGather(const void* send, void* recv, size_t send_count, DataType type,
                         const CallOptions& options) override {
    const size_t bytes = send_count * DataTypeSize(type);
    return Staged(options, "ncclAllGather", send, bytes, recv, bytes * size_,
                  [&](const void* s, void* r) {
                    return ncclAllGather(s, r, send_count, ToNccl(type), comm_, stream_);
                  });
  }
  absl::Status AllGatherV(const void* send, void* recv, absl::Span<const size_t> counts,
                          DataType type, const CallOptions& options) override {
    if (static_cast<int>(counts.size()) != size_) {
      return absl::InvalidArgumentError("AllGatherV: one count per rank needed");
    }
    const size_t element = DataTypeSize(type);
    size_t total = 0;
    for (int r = 0; r < size_; ++r) total += counts[r];
    // Uneven shares: one broadcast per rank inside a single NCCL group.
    return Staged(options, "ncclBroadcast(allgatherv)", send, counts[rank_] * element, recv,
                  total * element, [&](const void* s, void* r) {
                    ncclGroupStart();
                    size_t offset = 0;
                    for (int root = 0; root < size_; ++root) {
                      char* out = static_cast<char*>(r) + offset * element;
                      ncclBroadcast(root == rank_ ? s : out, out, counts[root], ToNccl(type), root,
                                    comm_, stream_);
                      offset += counts[root];
                    }
                    return ncclGroupEnd();
                  });
  }
  absl::Status Broadcast(void* buffer, size_t count, DataType type, int root,
                         const CallOptions& options) override {
    TANGRAM_RETURN_IF_ERROR(CheckRank(root, size_, "Broadcast root"));
    const size_t bytes = count * DataTypeSize(type);
    return Staged(options, "ncclBroadcast", buffer, bytes, buffer, bytes,
                  [&](const void* s, void* r) {
                    return ncclBroadcast(s, r, count, ToNccl(type), root, comm_, stream_);
                  });
  }
  absl::Status Reduce(const void* send, void* recv, size_t count, DataType type, ReduceOp op,
                      int root, const CallOptions& options) override {
    TANGRAM_RETURN_IF_ERROR(CheckRank(root, size_, "Reduce root"));
    const size_t bytes = count * DataTypeSize(type);
    return Staged(options, "ncclReduce", send, bytes, recv, rank_ == root ? bytes : 0,
                  [&](const void* s, void* r) {
                    return ncclReduce(s, r, count, ToNccl(type), ToNccl(op), root, comm_, stream_);
                  });
  }
  absl::Status Send(const void* buffer, size_t count, DataType type, int peer, int tag,
                    const CallOptions& options) override {
    TANGRAM_ASSIGN_OR_RETURN(auto request, ISend(buffer, count, type, peer, tag, options));
    return request->Wait();
  }
  absl::Status Recv(void* buffer, size_t count, DataType type, int peer, int tag,
                    const CallOptions& options) override {
    TANGRAM_ASSIGN_OR_RETURN(auto request, IRecv(buffer, count, type, peer, tag, options));
    return request->Wait();
  }
  // NCCL has no tags: messages between two ranks match in order whatever the tag.
  absl::StatusOr<std::unique_ptr<Request>> ISend(const void* buffer, size_t count, DataType type,
                                                 int peer, int /*tag*/,
                                                 const CallOptions& options) override {
    TANGRAM_RETURN_IF_ERROR(CheckRank(peer, size_, "Send peer"));
    TANGRAM_RETURN_IF_ERROR(abort_status_);
    const size_t bytes = count * DataTypeSize(type);
    void* staging = nullptr;
    const void* source = buffer;
    if (bytes > 0 && !OnDevice(buffer)) {
      TANGRAM_CUDA_CALL(cudaMallocAsync(&staging, bytes, send_stream_));
      TANGRAM_CUDA_CALL(
          cudaMemcpyAsync(staging, buffer, bytes, cudaMemcpyHostToDevice, send_stream_));
      source = staging;
    }
    TANGRAM_NCCL_CALL(ncclSend(source, count, ToNccl(type), peer, comm_, send_stream_));
    return std::make_unique<NcclRequest>(this, send_stream_, Deadline(options), staging, nullptr,
                                         bytes);
  }
  absl::StatusOr<std::unique_ptr<Request>> IRecv(void* buffer, size_t count, DataType type,
                                                 int peer, int /*tag*/,
                                                 const CallOptions& options) override {
    TANGRAM_RETURN_IF_ERROR(CheckRank(peer, size_, "Recv peer"));
    TANGRAM_RETURN_IF_ERROR(abort_status_);
    const size_t bytes = count * DataTypeSize(type);
    void* staging = nullptr;
    void* target = buffer;
    if (bytes > 0 && !OnDevice(buffer)) {
      TANGRAM_CUDA_CALL(cudaMallocAsync(&staging, bytes, recv_stream_));
      target = staging;
    }
    TANGRAM_NCCL_CALL(ncclRecv(target, count, ToNccl(type), peer, comm_, recv_stream_));
    return std::make_unique<NcclRequest>(this, recv_stream_, Deadline(options), staging,
                                         staging ? buffer : nullptr, bytes);
  }
  absl::Status Barrier(const CallOptions& options) override {
    int32_t token = 0;
    return AllReduce(&token, &token, 1, DataType::kI32, ReduceOp::kSum, options);
  }
  absl::StatusOr<std::unique_ptr<Communicator>> Split(int color, int key) override {
    if (color < 0) return absl::InvalidArgumentError("Split: color must be >= 0");
    TANGRAM_RETURN_IF_ERROR(abort_status_);
    ncclComm_t child = nullptr;
    TANGRAM_NCCL_CALL(ncclCommSplit(comm_, color, key, &child, nullptr));
    return std::make_unique<NcclCommunicator>(child, device_, options_);
  }
  void Abort(const absl::Status& reason) override {
    if (!abort_status_.ok()) return;
    abort_status_ = reason.ok() ? absl::AbortedError("communicator aborted") : reason;
    ncclCommAbort(comm_);
  }

  // Waits for `stream` until `deadline`, watching NCCL's asynchronous errors.
  absl::Status WaitStream(cudaStream_t stream, absl::Time deadline, const char* what) {
    while (true) {
      const cudaError_t state = cudaStreamQuery(stream);
      if (state == cudaSuccess) return absl::OkStatus();
      if (state != cudaErrorNotReady) return Fail(CudaStatus(state, what));
      ncclResult_t async = ncclSuccess;
      ncclCommGetAsyncError(comm_, &async);
      if (async != ncclSuccess && async != ncclInProgress) return Fail(NcclStatus(async, what));
      if (absl::Now() >= deadline) {
        return Fail(absl::DeadlineExceededError(
            absl::StrCat(what, " on rank ", rank_, " timed out; NCCL communicator aborted")));
      }
    }
  }

 private:
  absl::Status Fail(const absl::Status& status) {
    Abort(status);
    return status;
  }

  absl::Time Deadline(const CallOptions& options) const {
    return absl::Now() + options.timeout.value_or(options_.timeout);
  }

  // Runs `launch` on device pointers, staging host buffers through temporary device memory.
  template <typename Launch>
  absl::Status Staged(const CallOptions& options, const char* what, const void* send,
                      size_t send_bytes, void* recv, size_t recv_bytes, Launch launch) {
    TANGRAM_RETURN_IF_ERROR(abort_status_);
    const absl::Time deadline = Deadline(options);
    TANGRAM_CUDA_CALL(cudaSetDevice(device_));
    const bool host = (send_bytes > 0 && !OnDevice(send)) || (recv_bytes > 0 && !OnDevice(recv));
    const void* device_send = send;
    void* device_recv = recv;
    void* staging = nullptr;
    if (host) {
      // One allocation: recv first, then send (or just one buffer when in place).
      const bool in_place = send == recv;
      TANGRAM_CUDA_CALL(
          cudaMallocAsync(&staging, recv_bytes + (in_place ? 0 : send_bytes) + 1, stream_));
      device_recv = staging;
      device_send = in_place ? staging : static_cast<char*>(staging) + recv_bytes;
      if (send_bytes > 0) {
        TANGRAM_CUDA_CALL(cudaMemcpyAsync(const_cast<void*>(device_send), send, send_bytes,
                                          cudaMemcpyHostToDevice, stream_));
      }
    }
    const ncclResult_t result = launch(device_send, device_recv);
    if (result != ncclSuccess) return Fail(NcclStatus(result, what));
    if (host && recv_bytes > 0) {
      TANGRAM_CUDA_CALL(
          cudaMemcpyAsync(recv, device_recv, recv_bytes, cudaMemcpyDeviceToHost, stream_));
    }
    if (host) TANGRAM_CUDA_CALL(cudaFreeAsync(staging, stream_));
    return WaitStream(stream_, deadline, what);
  }

  ncclComm_t comm_;
  int device_;
  CommunicatorOptions options_;
  int rank_ = 0;
  int size_ = 1;
  cudaStream_t stream_ = nullptr;
  cudaStream_t send_stream_ = nullptr;
  cudaStream_t recv_stream_ = nullptr;
  absl::Status abort_status_;
};

absl::Status NcclRequest::Wait() {
  if (host_out_ != nullptr && bytes_ > 0) {
    TANGRAM_CUDA_CALL(
        cudaMemcpyAsync(host_out_, staging_, bytes_, cudaMemcpyDeviceToHost, stream_));
  }
  if (staging_ != nullptr) TANGRAM_CUDA_CALL(cudaFreeAsync(staging_, stream_));
  return comm_->WaitStream(stream_, deadline_, "ncclSend/ncclRecv");
}

}  // namespace
}  // namespace nccl

namespace internal {

absl::StatusOr<std::unique_ptr<Communicator>> CreateNcclCommunicator(
    const CommunicatorOptions& options) {
  TANGRAM_ASSIGN_OR_RETURN(nccl::Bootstrap boot, nccl::BootstrapFromMpi(options.cuda_device));
  return std::make_unique<nccl::NcclCommunicator>(boot.comm, boot.device, options);
}

absl::StatusOr<std::unique_ptr<Communicator>> CreateNcclCommunicatorOver(
    Communicator& bootstrap, const CommunicatorOptions& options) {
  TANGRAM_ASSIGN_OR_RETURN(nccl::Bootstrap boot,
                           nccl::BootstrapOver(bootstrap, options.cuda_device));
  return std::make_unique<nccl::NcclCommunicator>(boot.comm, boot.device, options);
}

bool NcclUsable() {
  int devices = 0;
  return cudaGetDeviceCount(&devices) == cudaSuccess && devices > 0;
}

}  // namespace internal
}  // namespace tangram::collectives
