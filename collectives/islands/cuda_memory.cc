// CudaMemory: device pointers are recognised with cudaPointerGetAttributes; staging memory is
// cudaHostAlloc'ed (page-locked, so the copies run at PCIe speed and need no bounce buffer).
// Copies are synchronous per call: the bridge pipelines by chunks, so the network transfer of
// one chunk overlaps the copy of the next (see bridge_exchange.cc). Compile-checked here; run
// only on a machine with a GPU (docs/collectives.md says what was run).
#include <cuda_runtime.h>

#include "absl/strings/str_cat.h"
#include "collectives/islands/device_memory.h"

namespace tangram::collectives {
namespace {

absl::Status CudaCall(cudaError_t error, const char* call) {
  if (error == cudaSuccess) return absl::OkStatus();
  return absl::InternalError(absl::StrCat(call, ": ", cudaGetErrorString(error)));
}

class CudaDevice : public DeviceMemory {
 public:
  bool IsDevice(const void* pointer) const override {
    cudaPointerAttributes attributes;
    if (cudaPointerGetAttributes(&attributes, pointer) != cudaSuccess) {
      cudaGetLastError();  // an unregistered host pointer: clear the sticky error
      return false;
    }
    return attributes.type == cudaMemoryTypeDevice;
  }
  absl::Status Copy(void* dst, const void* src, size_t bytes) override {
    if (bytes == 0 || dst == src) return absl::OkStatus();
    return CudaCall(cudaMemcpy(dst, src, bytes, cudaMemcpyDefault), "cudaMemcpy");
  }
  absl::StatusOr<void*> AllocatePinned(size_t bytes) override {
    void* pointer = nullptr;
    absl::Status status = CudaCall(
        cudaHostAlloc(&pointer, bytes > 0 ? bytes : 1, cudaHostAllocDefault), "cudaHostAlloc");
    if (!status.ok()) return status;
    return pointer;
  }
  absl::StatusOr<void*> AllocateDevice(size_t bytes) override {
    void* pointer = nullptr;
    absl::Status status = CudaCall(cudaMalloc(&pointer, bytes > 0 ? bytes : 1), "cudaMalloc");
    if (!status.ok()) return status;
    return pointer;
  }
  void FreePinned(void* pointer) override { cudaFreeHost(pointer); }
  void FreeDevice(void* pointer) override { cudaFree(pointer); }
};

}  // namespace

std::shared_ptr<DeviceMemory> CudaMemory() { return std::make_shared<CudaDevice>(); }

}  // namespace tangram::collectives
