// HostMemory and StagingBuffer: the no-device case, where every pointer is host memory.
#include <cstring>
#include <new>

#include "collectives/islands/device_memory.h"

namespace tangram::collectives {
namespace {

class Host : public DeviceMemory {
 public:
  bool IsDevice(const void*) const override { return false; }
  absl::Status Copy(void* dst, const void* src, size_t bytes) override {
    if (bytes > 0 && dst != src) std::memmove(dst, src, bytes);
    return absl::OkStatus();
  }
  absl::StatusOr<void*> AllocatePinned(size_t bytes) override {
    return static_cast<void*>(new (std::nothrow) char[bytes > 0 ? bytes : 1]);
  }
  absl::StatusOr<void*> AllocateDevice(size_t) override {
    return absl::FailedPreconditionError("islands: no device memory on a host-only island");
  }
  void FreePinned(void* pointer) override { delete[] static_cast<char*>(pointer); }
  void FreeDevice(void*) override {}
};

}  // namespace

std::shared_ptr<DeviceMemory> HostMemory() { return std::make_shared<Host>(); }

absl::StatusOr<char*> StagingBuffer::Get(DeviceMemory& memory, size_t bytes, bool device) {
  if (data_ != nullptr && bytes <= bytes_ && device == device_ && &memory == memory_) return data_;
  Release();
  absl::StatusOr<void*> data = device ? memory.AllocateDevice(bytes) : memory.AllocatePinned(bytes);
  if (!data.ok()) return data.status();
  if (*data == nullptr) return absl::ResourceExhaustedError("islands: staging allocation failed");
  memory_ = &memory;
  data_ = static_cast<char*>(*data);
  bytes_ = bytes;
  device_ = device;
  return data_;
}

void StagingBuffer::Release() {
  if (data_ != nullptr) {
    if (device_) {
      memory_->FreeDevice(data_);
    } else {
      memory_->FreePinned(data_);
    }
  }
  data_ = nullptr;
  bytes_ = 0;
}

}  // namespace tangram::collectives
