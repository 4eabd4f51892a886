// Fault injection on the sim transport, on 3, 8 and 64 ranks: under every fault each surviving
// rank returns with the status that names the fault's cause, and no rank reports a wrong answer as
// success. No wall-clock bounds: which status comes back tells whether a timeout was involved (a
// hang is caught by ctest's timeout), and injected delays are checked on the virtual clock.
#include <vector>

#include "absl/strings/str_cat.h"
#include "collectives/sim/sim_world.h"
#include "gtest/gtest.h"

namespace tangram::collectives {
namespace {

// Short enough to keep the suite fast, long enough that 64 rank threads on a loaded 2-core CI
// machine (ctest -j2, sanitizers) never miss it by scheduling alone.
constexpr absl::Duration kTimeout = absl::Seconds(1);
// Tests that expect success use a deadline no healthy run can reach.
constexpr absl::Duration kGenerousTimeout = absl::Seconds(30);
constexpr size_t kCount = 1000;

struct Outcome {
  std::vector<absl::Status> results;
  double virtual_s = 0;  // the latest rank's virtual clock at the end
};

// Three ring allreduces of kCount f32 per rank; a rank whose result is wrong reports kInternal
// "wrong answer" (which the tests forbid).
Outcome RunWithFaults(int ranks, FaultPlan faults, absl::Duration timeout = kTimeout) {
  SimOptions options;
  options.ranks = ranks;
  options.timeout = timeout;
  options.algorithm = Algorithm::kRing;
  options.faults = std::move(faults);
  auto world = SimWorld::Create(options);
  EXPECT_TRUE(world.ok());
  Outcome outcome;
  outcome.results = (*world)->Run([&](Communicator& comm) -> absl::Status {
    std::vector<float> data(kCount);
    for (int iteration = 0; iteration < 3; ++iteration) {
      for (size_t i = 0; i < kCount; ++i) data[i] = static_cast<float>(comm.rank() + i % 3);
      absl::Status status =
          comm.AllReduce(data.data(), data.data(), kCount, DataType::kF32, ReduceOp::kSum);
      if (!status.ok()) return status;
      for (size_t i = 0; i < kCount; ++i) {
        const float want = static_cast<float>(ranks * (ranks - 1) / 2 + ranks * (i % 3));
        if (data[i] != want) return absl::InternalError("wrong answer");
      }
    }
    return absl::OkStatus();
  });
  outcome.virtual_s = (*world)->MaxVirtualSeconds();
  return outcome;
}

void ExpectNoWrongAnswer(const Outcome& outcome) {
  for (size_t r = 0; r < outcome.results.size(); ++r) {
    EXPECT_NE(outcome.results[r].message(), "wrong answer") << "rank " << r;
  }
}

int Failures(const Outcome& outcome) {
  int failures = 0;
  for (const absl::Status& status : outcome.results) failures += !status.ok();
  return failures;
}

class FaultTest : public ::testing::TestWithParam<int> {};

TEST_P(FaultTest, KilledRankFailsEveryRankWithUnavailable) {
  const int ranks = GetParam();
  for (int64_t at_op : {0, 5}) {
    FaultPlan plan;
    plan.kills.push_back({.rank = 1, .at_op = at_op});
    // A generous timeout: had the death reached a rank through a timeout, its status would be
    // kDeadlineExceeded, not kUnavailable.
    const Outcome outcome = RunWithFaults(ranks, plan, kGenerousTimeout);
    ExpectNoWrongAnswer(outcome);
    // Every rank needs rank 1's data, so no rank can succeed; the death propagates at once.
    for (int r = 0; r < ranks; ++r) {
      EXPECT_EQ(outcome.results[r].code(), absl::StatusCode::kUnavailable)
          << "rank " << r << " at_op " << at_op << ": " << outcome.results[r];
    }
  }
}

TEST_P(FaultTest, ShortDelayOnlyShowsInVirtualTime) {
  FaultPlan plan;
  plan.delays.push_back({.rank = 0, .at_op = 2, .wall = absl::Milliseconds(20), .virtual_s = 1.5});
  const Outcome outcome = RunWithFaults(GetParam(), plan, kGenerousTimeout);
  for (const absl::Status& status : outcome.results) EXPECT_TRUE(status.ok()) << status;
  // The injected 1.5 virtual seconds are on the clock: rank 0 was late, and every rank waited.
  const Outcome baseline = RunWithFaults(GetParam(), FaultPlan{}, kGenerousTimeout);
  EXPECT_NEAR(outcome.virtual_s - baseline.virtual_s, 1.5, 1e-6);
}

TEST_P(FaultTest, DelayPastTheTimeoutFailsEveryRank) {
  FaultPlan plan;
  const absl::Duration delay = kTimeout + absl::Milliseconds(400);
  plan.delays.push_back({.rank = 0, .at_op = 0, .wall = delay});
  const Outcome outcome = RunWithFaults(GetParam(), plan);
  ExpectNoWrongAnswer(outcome);
  EXPECT_EQ(Failures(outcome), GetParam());
  for (const absl::Status& status : outcome.results) {
    EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded) << status;
  }
}

TEST_P(FaultTest, DroppedMessageTimesOutInsteadOfHanging) {
  FaultPlan plan;
  plan.drops.push_back({.rank = 0, .at_send = 1});
  const Outcome outcome = RunWithFaults(GetParam(), plan);
  ExpectNoWrongAnswer(outcome);
  // The receiver times out and aborts the group: everyone fails (all need that message).
  EXPECT_EQ(Failures(outcome), GetParam());
  for (const absl::Status& status : outcome.results) {
    EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded) << status;
  }
}

TEST_P(FaultTest, CorruptedMessageIsCaughtByTheChecksum) {
  FaultPlan plan;
  plan.corrupts.push_back({.rank = 0, .at_send = 1});
  // A generous timeout: kDataLoss everywhere (not kDeadlineExceeded) shows that the checksum
  // failure, not a timeout, stopped every rank.
  const Outcome outcome = RunWithFaults(GetParam(), plan, kGenerousTimeout);
  ExpectNoWrongAnswer(outcome);
  EXPECT_EQ(Failures(outcome), GetParam());
  for (const absl::Status& status : outcome.results) {
    EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
  }
}

INSTANTIATE_TEST_SUITE_P(RankCounts, FaultTest, ::testing::Values(3, 8, 64),
                         [](const auto& info) { return absl::StrCat(info.param, "Ranks"); });

TEST(FaultTest, FactoryRejectsBadNamesAndOptions) {
  EXPECT_EQ(CreateCommunicator("carrier-pigeon").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CreateCommunicator("sim").status().code(), absl::StatusCode::kInvalidArgument);
  SimOptions empty;
  empty.ranks = 0;
  EXPECT_FALSE(SimWorld::Create(empty).ok());
}

}  // namespace
}  // namespace tangram::collectives
