// FNV-1a 64: the checksum of checkpoint files and the hash behind seeded initialisation.
//
// Why not CRC32C: Debian 12's Abseil (20220623) has no absl/crc. zlib's crc32 is installed but
// would add a link and package dependency for a 32-bit check; FNV-1a 64 is ten lines, has no
// dependency, is identical on every platform, and catches accidental corruption (a changed byte
// always changes the hash; truncation is caught by the size the manifest also records).
// It is not a cryptographic hash. Thread-safe (pure functions).
#ifndef TANGRAM_ORCHESTRATOR_MODEL_CHECKSUM_H_
#define TANGRAM_ORCHESTRATOR_MODEL_CHECKSUM_H_

#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"

namespace tangram::train {

inline constexpr uint64_t kFnv1a64Offset = 14695981039346656037ull;

// Continues an FNV-1a 64 hash `h` over `bytes`; start from kFnv1a64Offset.
inline uint64_t Fnv1a64(absl::string_view bytes, uint64_t h = kFnv1a64Offset) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace tangram::train

#endif  // TANGRAM_ORCHESTRATOR_MODEL_CHECKSUM_H_
