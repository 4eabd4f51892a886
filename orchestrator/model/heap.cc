#include "orchestrator/model/heap.h"

#include <cstdlib>  // defines __GLIBC__ where the C library is glibc
#include <string_view>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace tangram::train {

bool KeepFreedMemory() {
#if defined(__GLIBC__)
  static const bool in_force = [] {
    const char* env = std::getenv("TANGRAM_KEEP_FREED_MEMORY");
    if (env != nullptr && std::string_view(env) == "0") return false;
    // glibc caps M_MMAP_THRESHOLD at HEAP_MAX_SIZE / 2 (DEFAULT_MMAP_THRESHOLD_MAX, mallopt(3)):
    // 32 MiB on 64-bit, 512 KiB on 32-bit. Setting either value also stops glibc's dynamic
    // adjustment of both, which is what made the rate depend on the heap's history.
    constexpr int kMmapThreshold = sizeof(long) >= 8 ? 32 << 20 : 512 << 10;
    constexpr int kTrimThreshold = 1 << 30;
    return mallopt(M_MMAP_THRESHOLD, kMmapThreshold) == 1 &&
           mallopt(M_TRIM_THRESHOLD, kTrimThreshold) == 1;
  }();
  return in_force;
#else
  return false;
#endif
}

}  // namespace tangram::train
