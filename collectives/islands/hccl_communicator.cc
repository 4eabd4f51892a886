// The "hccl" island transport: Huawei's collective library among the Ascend NPUs of one island,
// behind the same Communicator interface as NCCL. libhccl.so and libascendcl.so are opened with
// dlopen when an island starts, so a build with this slot still runs where CANN is absent
// (kFailedPrecondition then). Bootstrap as NCCL's: rank 0 of the island makes the root info, the
// island's host communicator broadcasts it, HcclCommInitRootInfo. One ACL stream per
// communicator; calls wait with aclrtSynchronizeStreamWithTimeout up to the call's deadline.
//
// Only the collectives the islands layer runs inside an island go to HCCL (AllReduce,
// ReduceScatter, AllGather(V), Broadcast, Reduce); point-to-point, Barrier and Split go through
// the host communicator (Split re-bootstraps HCCL over the host child). Buffers are device memory.
//
// STATUS: compiled only when the CANN headers are found; never run (no Ascend NPU, no CANN on the
// machines this was written on). Checked with -fsyntax-only against stand-in declarations of
// the CANN 8 signatures used here (docs/collectives.md).
#include <dlfcn.h>

#include <chrono>
#include <numeric>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "acl/acl.h"
#include "base/status_macros.h"
#include "collectives/backends.h"
#include "hccl/hccl.h"

namespace tangram::collectives {
namespace {

// The CANN entry points we use, resolved once from the shared libraries.
struct Hccl {
  decltype(&::aclrtSetDevice) set_device = nullptr;
  decltype(&::aclrtCreateStream) create_stream = nullptr;
  decltype(&::aclrtDestroyStream) destroy_stream = nullptr;
  decltype(&::aclrtSynchronizeStreamWithTimeout) sync = nullptr;
  decltype(&::aclrtMemcpy) memcpy = nullptr;
  decltype(&::HcclGetRootInfo) get_root_info = nullptr;
  decltype(&::HcclCommInitRootInfo) init = nullptr;
  decltype(&::HcclCommDestroy) destroy = nullptr;
  decltype(&::HcclAllReduce) all_reduce = nullptr;
  decltype(&::HcclReduceScatter) reduce_scatter = nullptr;
  decltype(&::HcclAllGather) all_gather = nullptr;
  decltype(&::HcclBroadcast) broadcast = nullptr;
  decltype(&::HcclReduce) reduce = nullptr;
};

absl::StatusOr<const Hccl*> Load() {
  static absl::StatusOr<const Hccl*>* loaded = [] {
    void* acl = dlopen("libascendcl.so", RTLD_NOW | RTLD_GLOBAL);
    void* hccl = dlopen("libhccl.so", RTLD_NOW | RTLD_GLOBAL);
    if (acl == nullptr || hccl == nullptr) {
      return new absl::StatusOr<const Hccl*>(absl::FailedPreconditionError(
          absl::StrCat("hccl: cannot load CANN (libascendcl.so, libhccl.so): ", dlerror(),
                       "; source the CANN set_env.sh so that they are on LD_LIBRARY_PATH")));
    }
    auto* h = new Hccl;
    bool ok = true;
    auto bind = [&](auto& field, void* library, const char* name) {
      field = reinterpret_cast<std::remove_reference_t<decltype(field)>>(dlsym(library, name));
      ok &= field != nullptr;
    };
    bind(h->set_device, acl, "aclrtSetDevice");
    bind(h->create_stream, acl, "aclrtCreateStream");
    bind(h->destroy_stream, acl, "aclrtDestroyStream");
    bind(h->sync, acl, "aclrtSynchronizeStreamWithTimeout");
    bind(h->memcpy, acl, "aclrtMemcpy");
    bind(h->get_root_info, hccl, "HcclGetRootInfo");
    bind(h->init, hccl, "HcclCommInitRootInfo");
    bind(h->destroy, hccl, "HcclCommDestroy");
    bind(h->all_reduce, hccl, "HcclAllReduce");
    bind(h->reduce_scatter, hccl, "HcclReduceScatter");
    bind(h->all_gather, hccl, "HcclAllGather");
    bind(h->broadcast, hccl, "HcclBroadcast");
    bind(h->reduce, hccl, "HcclReduce");
    if (!ok) {
      return new absl::StatusOr<const Hccl*>(
          absl::FailedPreconditionError("hccl: a CANN symbol is missing (CANN too old?)"));
    }
    return new absl::StatusOr<const Hccl*>(h);
  }();
  return *loaded;
}

absl::Status Check(int result, const char* call) {
  if (result == 0) return absl::OkStatus();
  return absl::InternalError(absl::StrCat(call, " returned ", result));
}

HcclDataType ToHccl(DataType type) {
  switch (type) {
    case DataType::kF32:
      return HCCL_DATA_TYPE_FP32;
    case DataType::kF64:
      return HCCL_DATA_TYPE_FP64;
    case DataType::kBF16:
      return HCCL_DATA_TYPE_BFP16;
    case DataType::kF16:
      return HCCL_DATA_TYPE_FP16;
    case DataType::kI32:
      return HCCL_DATA_TYPE_INT32;
    default:
      return HCCL_DATA_TYPE_INT64;
  }
}

HcclReduceOp ToHccl(ReduceOp op) {
  return op == ReduceOp::kMax   ? HCCL_REDUCE_MAX
         : op == ReduceOp::kMin ? HCCL_REDUCE_MIN
                                : HCCL_REDUCE_SUM;
}

class HcclCommunicator : public Communicator {
 public:
  HcclCommunicator(const Hccl* api, HcclComm comm, aclrtStream stream,
                   std::unique_ptr<Communicator> host, const CommunicatorOptions& options)
      : api_(api), comm_(comm), stream_(stream), host_(std::move(host)), options_(options) {}
  ~HcclCommunicator() override {
    api_->destroy(comm_);
    api_->destroy_stream(stream_);
  }

  int rank() const override { return host_->rank(); }
  int size() const override { return host_->size(); }
  absl::string_view transport_name() const override { return "hccl"; }
  absl::Duration default_timeout() const override { return options_.timeout; }
  void SetDefaultTimeout(absl::Duration timeout) override { options_.timeout = timeout; }

  absl::Status AllReduce(const void* send, void* recv, size_t count, DataType type, ReduceOp op,
                         const CallOptions& options) override {
    if (op == ReduceOp::kAvg) {
      return absl::InvalidArgumentError("hccl island: kAvg arrives as kSum from the islands layer");
    }
    return Wait(options, "HcclAllReduce",
                api_->all_reduce(const_cast<void*>(send), recv, count, ToHccl(type), ToHccl(op),
                                 comm_, stream_));
  }
  absl::Status ReduceScatter(const void* send, void* recv, size_t recv_count, DataType type,
                             ReduceOp op, const CallOptions& options) override {
    return Wait(options, "HcclReduceScatter",
                api_->reduce_scatter(const_cast<void*>(send), recv, recv_count, ToHccl(type),
                                     ToHccl(op), comm_, stream_));
  }
  absl::Status AllGather(const void* send, void* recv, size_t send_count, DataType type,
                         const CallOptions& options) override {
    return Wait(
        options, "HcclAllGather",
        api_->all_gather(const_cast<void*>(send), recv, send_count, ToHccl(type), comm_, stream_));
  }
  // HCCL has no allgatherv: our block into place, then one broadcast per member.
  absl::Status AllGatherV(const void* send, void* recv, absl::Span<const size_t> counts,
                          DataType type, const CallOptions& options) override {
    const size_t element = DataTypeSize(type);
    size_t offset = 0;
    for (int r = 0; r < size(); ++r) {
      char* block = static_cast<char*>(recv) + offset * element;
      const size_t bytes = counts[r] * element;
      if (r == rank() && block != send && bytes > 0) {
        TANGRAM_RETURN_IF_ERROR(Check(
            api_->memcpy(block, bytes, send, bytes, ACL_MEMCPY_DEVICE_TO_DEVICE), "aclrtMemcpy"));
      }
      TANGRAM_RETURN_IF_ERROR(
          Wait(options, "HcclBroadcast",
               api_->broadcast(block, counts[r], ToHccl(type), r, comm_, stream_)));
      offset += counts[r];
    }
    return absl::OkStatus();
  }
  absl::Status Broadcast(void* buffer, size_t count, DataType type, int root,
                         const CallOptions& options) override {
    return Wait(options, "HcclBroadcast",
                api_->broadcast(buffer, count, ToHccl(type), root, comm_, stream_));
  }
  absl::Status Reduce(const void* send, void* recv, size_t count, DataType type, ReduceOp op,
                      int root, const CallOptions& options) override {
    return Wait(options, "HcclReduce",
                api_->reduce(const_cast<void*>(send), recv, count, ToHccl(type), ToHccl(op), root,
                             comm_, stream_));
  }

  // Host-side operations: through the island's host communicator (host buffers).
  absl::Status Send(const void* b, size_t n, DataType t, int peer, int tag,
                    const CallOptions& o) override {
    return host_->Send(b, n, t, peer, tag, o);
  }
  absl::Status Recv(void* b, size_t n, DataType t, int peer, int tag,
                    const CallOptions& o) override {
    return host_->Recv(b, n, t, peer, tag, o);
  }
  absl::StatusOr<std::unique_ptr<Request>> ISend(const void* b, size_t n, DataType t, int peer,
                                                 int tag, const CallOptions& o) override {
    return host_->ISend(b, n, t, peer, tag, o);
  }
  absl::StatusOr<std::unique_ptr<Request>> IRecv(void* b, size_t n, DataType t, int peer, int tag,
                                                 const CallOptions& o) override {
    return host_->IRecv(b, n, t, peer, tag, o);
  }
  absl::Status Barrier(const CallOptions& o) override { return host_->Barrier(o); }
  absl::StatusOr<std::unique_ptr<Communicator>> Split(int color, int key) override {
    TANGRAM_ASSIGN_OR_RETURN(auto child, host_->Split(color, key));
    return internal::CreateHcclCommunicatorOver(*child, options_);
  }
  void Abort(const absl::Status& reason) override {
    if (abort_.ok()) abort_ = reason;
    host_->Abort(reason);
  }

 private:
  absl::Status Wait(const CallOptions& options, const char* call, HcclResult launched) {
    TANGRAM_RETURN_IF_ERROR(abort_);
    absl::Status status = Check(launched, call);
    if (status.ok()) {
      const absl::Duration timeout = options.timeout.value_or(options_.timeout);
      const int32_t ms =
          static_cast<int32_t>(std::min<int64_t>(absl::ToInt64Milliseconds(timeout), INT32_MAX));
      status = Check(api_->sync(stream_, ms), "aclrtSynchronizeStreamWithTimeout");
      if (!status.ok())
        status = absl::DeadlineExceededError(absl::StrCat(call, ": ", status.message()));
    }
    if (!status.ok()) Abort(status);
    return status;
  }

  const Hccl* api_;
  HcclComm comm_;
  aclrtStream stream_;
  std::unique_ptr<Communicator> host_;
  CommunicatorOptions options_;
  absl::Status abort_;
};

}  // namespace

namespace internal {

absl::StatusOr<std::unique_ptr<Communicator>> CreateHcclCommunicatorOver(
    Communicator& bootstrap, const CommunicatorOptions& options) {
  TANGRAM_ASSIGN_OR_RETURN(const Hccl* api, Load());
  // The device: the rank's index in the island (islands are one host's NPUs in the fleets we
  // plan; several hosts per island would need the host-name allgather NCCL's bootstrap does).
  const int device = options.cuda_device >= 0 ? options.cuda_device : bootstrap.rank();
  TANGRAM_RETURN_IF_ERROR(Check(api->set_device(device), "aclrtSetDevice"));
  HcclRootInfo root;
  if (bootstrap.rank() == 0)
    TANGRAM_RETURN_IF_ERROR(Check(api->get_root_info(&root), "HcclGetRootInfo"));
  static_assert(sizeof(root) % sizeof(int32_t) == 0);
  TANGRAM_RETURN_IF_ERROR(
      bootstrap.Broadcast(&root, sizeof(root) / sizeof(int32_t), DataType::kI32, 0));
  HcclComm comm = nullptr;
  TANGRAM_RETURN_IF_ERROR(
      Check(api->init(bootstrap.size(), &root, bootstrap.rank(), &comm), "HcclCommInitRootInfo"));
  aclrtStream stream = nullptr;
  TANGRAM_RETURN_IF_ERROR(Check(api->create_stream(&stream), "aclrtCreateStream"));
  // The host communicator stays with the HCCL one for point-to-point and Split: a fresh split
  // of the bootstrap (a plain copy of it) that this communicator owns.
  TANGRAM_ASSIGN_OR_RETURN(auto host, bootstrap.Split(0, bootstrap.rank()));
  return std::make_unique<HcclCommunicator>(api, comm, stream, std::move(host), options);
}

}  // namespace internal
}  // namespace tangram::collectives
