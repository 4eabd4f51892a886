// A small seeded random generator whose output is the same on every platform and compiler
// (std::normal_distribution is not), for parameter init and the generated corpus.
//
// Streams are keyed, not shared: Rng::ForKey(seed, "h.3.attn.c_attn.weight") gives the same numbers
// wherever and in whatever order it is created, which is what makes a model's initial weights
// independent of how it is partitioned. Thread-compatible.
#ifndef TANGRAM_ORCHESTRATOR_MODEL_RANDOM_H_
#define TANGRAM_ORCHESTRATOR_MODEL_RANDOM_H_

#include <cmath>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "orchestrator/model/checksum.h"

namespace tangram::train {

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}

  // A stream keyed by (seed, key).
  static Rng ForKey(uint64_t seed, absl::string_view key) {
    char bytes[8];
    for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>(seed >> (8 * i));
    return Rng(Fnv1a64(key, Fnv1a64(absl::string_view(bytes, 8))));
  }

  // SplitMix64 (Steele, Lea, Flood 2014).
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1), 53 bits.
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  // Standard normal (Box-Muller; one draw per call, for simplicity over speed).
  double Normal() {
    const double u1 = 1.0 - Uniform();  // (0, 1]
    const double u2 = Uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

 private:
  uint64_t state_;
};

}  // namespace tangram::train

#endif  // TANGRAM_ORCHESTRATOR_MODEL_RANDOM_H_
