// The heap policy of the reference model (orchestrator/model/heap.h): a block freed after a
// micro-batch is reused by the next one without the kernel faulting its pages in again.
#include "orchestrator/model/heap.h"

#include <sys/resource.h>

#include <cstdlib>
#include <vector>

#include "gtest/gtest.h"

namespace tangram::train {
namespace {

long MinorFaults() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_minflt;
}

// Allocates `floats` floats, writes each page, frees them; returns the minor page faults it took.
long FaultsOfOneActivation(size_t floats) {
  const long before = MinorFaults();
  {
    std::vector<float> activation(floats, 1.0f);
    volatile float sink = activation[floats / 2];
    (void)sink;
  }
  return MinorFaults() - before;
}

// A death test (a child process): the policy is process-wide and set once, so the switch is
// read in a process that has not set it yet. Runs before the suites below (gtest's order for
// *DeathTest).
TEST(HeapDeathTest, TheEnvironmentCanTurnThePolicyOff) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        setenv("TANGRAM_KEEP_FREED_MEMORY", "0", 1);
        std::exit(KeepFreedMemory() ? 1 : 0);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST(HeapTest, FreedActivationsAreReusedWithoutFaults) {
#if !defined(__GLIBC__)
  GTEST_SKIP() << "the policy is glibc's mallopt; this C library is not glibc";
#endif
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer's allocator replaces glibc's (its mallopt returns 0), and "
                  "its quarantine keeps freed blocks from being reused at once";
#endif
  unsetenv("TANGRAM_KEEP_FREED_MEMORY");  // the policy's default, whatever the caller's setting
  ASSERT_TRUE(KeepFreedMemory());
  EXPECT_TRUE(KeepFreedMemory());  // idempotent
  // 8 MiB: above glibc's default mmap threshold (128 KiB), below the policy's 32 MiB. Without the
  // policy each allocation is a fresh mapping or fresh heap top (2,048 pages faulted in each
  // time); with it the second and later ones reuse the first one's pages.
  constexpr size_t kFloats = size_t{2} << 20;
  const long pages = static_cast<long>(kFloats * sizeof(float) / 4096);
  const long first = FaultsOfOneActivation(kFloats);
  long later = 0;
  for (int i = 0; i < 5; ++i) later += FaultsOfOneActivation(kFloats);
  EXPECT_GE(first, pages / 2) << "the first allocation should fault its pages in";
  EXPECT_LT(later, pages / 10) << "freed pages were given back to the kernel and faulted again";
}

}  // namespace
}  // namespace tangram::train
