// How a model is trained, as far as planning cares: batch sizes, precision, ZeRO stage,
// activation recompute, and an optional pinned parallel layout. The job file carries these.
#ifndef TANGRAM_PARTITIONER_TRAINING_H_
#define TANGRAM_PARTITIONER_TRAINING_H_

#include <cstdint>
#include <optional>
#include <string>

namespace tangram::partitioner {

enum class Precision { kBf16, kFp16, kFp32 };
enum class Recompute { kNone, kSelective, kFull };

inline const char* PrecisionName(Precision p) {
  return p == Precision::kBf16 ? "bf16" : p == Precision::kFp16 ? "fp16" : "fp32";
}
inline const char* RecomputeName(Recompute r) {
  return r == Recompute::kNone ? "none" : r == Recompute::kSelective ? "selective" : "full";
}

// A parallel layout fixed by the user (to re-simulate a run exactly as it ran); unset = search.
struct PinnedLayout {
  std::optional<int> tp, pp, dp, virtual_stages;
};

struct TrainingSpec {
  int64_t global_batch = 1;  // sequences per optimizer step
  int64_t micro_batch = 1;   // sequences per micro-batch
  Precision precision = Precision::kBf16;
  int zero_stage = 1;  // 0..3
  Recompute recompute = Recompute::kNone;
  PinnedLayout layout;
};

}  // namespace tangram::partitioner

#endif  // TANGRAM_PARTITIONER_TRAINING_H_
