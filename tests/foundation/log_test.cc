// The logging facade (base/log.h): level parsing and filtering, the rank prefix, capture, and the
// real backend's output on stderr (spdlog when the build found it, else the stderr fallback).
#include "base/log.h"

#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tangram::logging {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Restores the process-wide level and prefix that a test changes.
class LogTest : public ::testing::Test {
 protected:
  void TearDown() override {
    SetLevel(saved_);
    SetRank(-1);
  }
  std::vector<std::pair<Level, std::string>> lines_;
  std::function<void(Level, absl::string_view)> Record() {
    return [this](Level level, absl::string_view line) { lines_.emplace_back(level, line); };
  }

 private:
  Level saved_ = GetLevel();
};

TEST_F(LogTest, ParsesEveryLevelNameAndRefusesOthers) {
  EXPECT_EQ(*ParseLevel("debug"), Level::kDebug);
  EXPECT_EQ(*ParseLevel("INFO"), Level::kInfo);
  EXPECT_EQ(*ParseLevel("warn"), Level::kWarn);
  EXPECT_EQ(*ParseLevel("Warning"), Level::kWarn);
  EXPECT_EQ(*ParseLevel("error"), Level::kError);
  EXPECT_EQ(*ParseLevel("off"), Level::kOff);
  absl::StatusOr<Level> bad = ParseLevel("loud");
  ASSERT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("\"loud\""));
  for (Level l : {Level::kDebug, Level::kInfo, Level::kWarn, Level::kError, Level::kOff}) {
    EXPECT_EQ(*ParseLevel(LevelName(l)), l);
  }
}

TEST_F(LogTest, DropsLinesBelowTheLevel) {
  ScopedCapture capture(Record());
  SetLevel(Level::kWarn);
  Debug("d");
  Info("i");
  Warn("w");
  Error("e");
  SetLevel(Level::kDebug);
  Debug("d2");
  SetLevel(Level::kOff);
  Error("never");
  EXPECT_THAT(lines_, ElementsAre(std::pair{Level::kWarn, std::string("w")},
                                  std::pair{Level::kError, std::string("e")},
                                  std::pair{Level::kDebug, std::string("d2")}));
  EXPECT_FALSE(Enabled(Level::kError));
}

TEST_F(LogTest, RankPrefixIsSetOnceForEveryLaterLine) {
  ScopedCapture capture(Record());
  SetLevel(Level::kInfo);
  Info("before");
  SetRank(3);
  EXPECT_EQ(Prefix(), "[rank 3] ");
  Info("step 1");
  Warn("warning: slow");
  SetRank(-1);
  Info("after");
  ASSERT_EQ(lines_.size(), 4u);
  EXPECT_EQ(lines_[0].second, "before");
  EXPECT_EQ(lines_[1].second, "[rank 3] step 1");
  EXPECT_EQ(lines_[2].second, "[rank 3] warning: slow");
  EXPECT_EQ(lines_[3].second, "after");
}

// The backend writes the line as given (no timestamp or level decoration: scripts read these
// lines), on stderr, never on stdout.
TEST_F(LogTest, BackendWritesTheBareLineToStderr) {
  SetLevel(Level::kInfo);
  SetRank(5);
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  Info("step    2/2  loss 4.9");
  Debug("hidden");
  const std::string err = ::testing::internal::GetCapturedStderr();
  const std::string out = ::testing::internal::GetCapturedStdout();
  EXPECT_EQ(err, "[rank 5] step    2/2  loss 4.9\n");
  EXPECT_EQ(out, "");
}

}  // namespace
}  // namespace tangram::logging
