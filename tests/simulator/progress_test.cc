// Progress without a terminal: a long loop says how far it is, a short one says nothing.
#include "orchestrator/simulator/progress.h"

#include <cstdio>
#include <cstdlib>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tangram::simulator {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

// A file in memory and a clock the test moves.
class ProgressTest : public ::testing::Test {
 protected:
  void SetUp() override { file_ = open_memstream(&buffer_, &size_); }
  void TearDown() override {
    if (file_ != nullptr) std::fclose(file_);
    std::free(buffer_);
  }
  std::string Text() {
    std::fflush(file_);
    return std::string(buffer_, size_);
  }
  Progress::Output Out(bool terminal) {
    return {.file = file_, .terminal = terminal, .now = [this] { return now_; }};
  }
  void Advance(double seconds) {
    now_ += std::chrono::duration_cast<Progress::Clock::duration>(
        std::chrono::duration<double>(seconds));
  }
  std::FILE* file_ = nullptr;
  char* buffer_ = nullptr;
  size_t size_ = 0;
  Progress::Clock::time_point now_{};
};

// `simulate --steps 1000000 --drift 5 --no-progress` ran ~12 minutes without a word.
TEST_F(ProgressTest, ALongRunWithoutABarPrintsALineEveryTenSeconds) {
  {
    Progress progress("simulating", 1000000, /*bar=*/false, Out(/*terminal=*/true));
    for (int64_t step = 0; step < 1000000; step += 1000) {
      progress.Update(step);
      Advance(0.5);  // 0.5 ms a step
    }
    progress.Update(1000000);
  }
  const std::string text = Text();
  EXPECT_THAT(text, HasSubstr("simulating: 20000 of 1000000 done after 10 s, about 490 s left\n"));
  // 500 s in all: one line each 10 s, none at the end, no bar.
  int lines = 0;
  for (char c : text) lines += c == '\n';
  EXPECT_EQ(lines, 49);
  EXPECT_EQ(text.find('\r'), std::string::npos);
}

TEST_F(ProgressTest, AShortRunPrintsNothing) {
  {
    Progress progress("simulating", 100, /*bar=*/false, Out(/*terminal=*/false));
    for (int64_t step = 0; step < 100; ++step) {
      progress.Update(step);
      Advance(0.09);  // 9 s in all
    }
    progress.Update(100);
  }
  EXPECT_THAT(Text(), IsEmpty());
}

// A bar asked for on a pipe is plain lines; on a terminal, a bar and no lines.
TEST_F(ProgressTest, TheBarIsOnlyDrawnOnATerminal) {
  {
    Progress progress("comparing", 4, /*bar=*/true, Out(/*terminal=*/false));
    progress.Update(0);
    Advance(11);
    progress.Update(1);
    progress.Update(4);
  }
  EXPECT_EQ(Text(), "comparing: 1 of 4 done after 11 s, about 33 s left\n");
  std::fclose(file_);
  std::free(buffer_);
  file_ = open_memstream(&buffer_, &size_);
  {
    Progress progress("comparing", 4, /*bar=*/true, Out(/*terminal=*/true));
    progress.Update(0);
    Advance(11);
    progress.Update(1);
  }
  EXPECT_THAT(Text(), HasSubstr("\rcomparing ["));
  EXPECT_EQ(Text().find('\n'), std::string::npos);
}

}  // namespace
}  // namespace tangram::simulator
