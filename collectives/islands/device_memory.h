// DeviceMemory: what the islands layer needs to know about where a buffer lives. An island whose
// library works on accelerator memory (NCCL, HCCL) hands the communicator device pointers; the
// bridge between islands moves bytes over MPI or the sim transport, which read host memory, so
// device buffers are staged through page-locked host memory in chunks. For host buffers nothing
// is staged.
//
// Implementations: HostMemory() (no device: every pointer is host memory, copies are memcpy) and,
// in builds with CUDA, CudaMemory() (cuda_memory.cc). Thread-compatible.
#ifndef TANGRAM_COLLECTIVES_ISLANDS_DEVICE_MEMORY_H_
#define TANGRAM_COLLECTIVES_ISLANDS_DEVICE_MEMORY_H_

#include <cstddef>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tangram::collectives {

class DeviceMemory {
 public:
  virtual ~DeviceMemory() = default;

  // True when `pointer` is device memory that the host cannot read directly.
  virtual bool IsDevice(const void* pointer) const = 0;
  // Copies `bytes` between any two buffers (host or device, either direction); returns when done.
  virtual absl::Status Copy(void* dst, const void* src, size_t bytes) = 0;
  // Page-locked host memory for staging (plain host memory when there is no device), and
  // device memory (kFailedPrecondition when there is no device). Free with Free(pointer, kind).
  virtual absl::StatusOr<void*> AllocatePinned(size_t bytes) = 0;
  virtual absl::StatusOr<void*> AllocateDevice(size_t bytes) = 0;
  virtual void FreePinned(void* pointer) = 0;
  virtual void FreeDevice(void* pointer) = 0;
};

// Host only: nothing is a device pointer.
std::shared_ptr<DeviceMemory> HostMemory();
// CUDA (cuda_memory.cc) when the build has CUDA; HostMemory() otherwise.
std::shared_ptr<DeviceMemory> CudaMemory();

// A buffer from a DeviceMemory kept between calls and grown on demand (one per use, owned by a
// communicator), so that a collective does not allocate page-locked memory every time.
class StagingBuffer {
 public:
  StagingBuffer() = default;
  StagingBuffer(const StagingBuffer&) = delete;
  StagingBuffer& operator=(const StagingBuffer&) = delete;
  ~StagingBuffer() { Release(); }

  // At least `bytes` bytes of device memory (device = true) or page-locked host memory.
  absl::StatusOr<char*> Get(DeviceMemory& memory, size_t bytes, bool device);
  void Release();

 private:
  DeviceMemory* memory_ = nullptr;
  char* data_ = nullptr;
  size_t bytes_ = 0;
  bool device_ = false;
};

}  // namespace tangram::collectives

#endif  // TANGRAM_COLLECTIVES_ISLANDS_DEVICE_MEMORY_H_
