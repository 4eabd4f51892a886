// How many cases a randomized, property or fuzz test draws: the full sample in the optimized
// build, a quarter of it under the sanitizers. WHY: AddressSanitizer and UBSan run the same code
// 5-10x slower, so the full samples made the sanitized suite the longest part of CI; what the
// sanitizers add (memory errors, undefined behaviour) shows on the code paths, which a quarter of
// the cases still walks, while the statistical targets are held on the full sample by the
// optimized build. CI runs both builds, so no case goes unchecked.
// TANGRAM_SANITIZED is defined for every test target when the build has TANGRAM_SANITIZE=ON
// (tests/CMakeLists.txt, tangram_add_test).
#ifndef TANGRAM_TESTS_FOUNDATION_SAMPLE_COUNT_H_
#define TANGRAM_TESTS_FOUNDATION_SAMPLE_COUNT_H_

#include <algorithm>

namespace tangram::sampling {

#ifdef TANGRAM_SANITIZED
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(TANGRAM_SANITIZED)
#error "ASan build without TANGRAM_SANITIZED: add this test with tangram_add_test"
#endif

// `full` in the optimized build; under the sanitizers a quarter of it, but never fewer than
// `floor` cases (nor more than `full`), so that a sample stays meaningful.
constexpr int SampleCount(int full, int floor = 50) {
  return kSanitized ? std::min(full, std::max(full / 4, floor)) : full;
}

}  // namespace tangram::sampling

#endif  // TANGRAM_TESTS_FOUNDATION_SAMPLE_COUNT_H_
