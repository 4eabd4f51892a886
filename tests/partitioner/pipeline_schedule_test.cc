// The cost model's pipeline term (partitioner/pipeline_schedule.h): a replica's passes replayed in
// the schedule's order, against hand-worked schedules and the 1F1B closed form it replaces.
#include "partitioner/pipeline_schedule.h"

#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace tangram::partitioner {
namespace {

PipelinePasses Passes(const std::vector<double>& f, const std::vector<double>& b) {
  PipelinePasses p;
  p.forward = f;
  p.backward = b;
  p.to_next.assign(f.size(), 0);
  p.to_previous.assign(f.size(), 0);
  return p;
}

double Replay(PipelineSchedule kind, const std::vector<double>& f, const std::vector<double>& b,
              int m, double last = 1.0, int chunks = 1) {
  auto t = ReplaySchedule(*CreateSchedule(kind), Passes(f, b), m, last, chunks);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *t : -1;
}

TEST(PipelineScheduleTest, EqualStagesTakeMPlusPMinusOneMicroBatches) {
  for (int p : {1, 2, 4, 7}) {
    for (int m : {1, 3, 8, 13}) {
      const std::vector<double> f(p, 1.0), b(p, 2.0);
      EXPECT_NEAR(Replay(PipelineSchedule::kOneFOneB, f, b, m), (m + p - 1) * 3.0, 1e-9)
          << "p " << p << " m " << m;
      EXPECT_NEAR(ClosedFormSeconds(Passes(f, b), m, 1), (m + p - 1) * 3.0, 1e-9);
    }
  }
}

// Worked by hand: stage 0 (f 1, b 2) is slow, stage 1 (f 0.1, b 0.2) fast, m = 4. Stage 0 runs
// F1 F2 B1 F3 B2 F4 B3 B4 without a gap (each gradient is back 0.3 s after its forward, before
// stage 0 needs it): 4 × 3 = 12 s. The closed form charges stage 1's round trip after the
// bottleneck as well: 3.3 + 3 × 3 = 12.3 s.
TEST(PipelineScheduleTest, ASlowFirstStageFillsTheRoundTripWithItsWarmUpForwards) {
  const std::vector<double> f = {1.0, 0.1}, b = {2.0, 0.2};
  EXPECT_NEAR(Replay(PipelineSchedule::kOneFOneB, f, b, 4), 12.0, 1e-9);
  EXPECT_NEAR(ClosedFormSeconds(Passes(f, b), 4, 1), 12.3, 1e-9);
  // The slow stage last: nothing to fill, both are Σ c + (m − 1)·max c.
  const std::vector<double> rf = {0.1, 1.0}, rb = {0.2, 2.0};
  EXPECT_NEAR(Replay(PipelineSchedule::kOneFOneB, rf, rb, 4), 12.3, 1e-9);
}

TEST(PipelineScheduleTest, TheLastMicroBatchTakesItsFraction) {
  const std::vector<double> f = {1.0, 1.0}, b = {2.0, 2.0};
  EXPECT_NEAR(Replay(PipelineSchedule::kOneFOneB, f, b, 1, 0.5), 3.0, 1e-9);
  // m = 2, the second half-sized: F1 [0,1] F2' [1,1.5] at stage 0; stage 1 F1 [1,2] B1 [2,4]
  // F2' [4,4.5] B2' [4.5,5.5]; stage 0 B1 [4,6] B2' [6,7].
  EXPECT_NEAR(Replay(PipelineSchedule::kOneFOneB, f, b, 2, 0.5), 7.0, 1e-9);
}

// On random stages the replay lies between what any schedule needs (the slowest stage's own m
// micro-batches; one micro-batch's trip through every stage) and about the closed form.
TEST(PipelineScheduleTest, OneFOneBReplayIsBetweenTheBoundsOnRandomStages) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> time(0.01, 2.0);
  for (int trial = 0; trial < 500; ++trial) {
    const int p = 1 + trial % 9, m = 1 + (trial * 7) % 17;
    std::vector<double> f(p), b(p);
    double sum = 0, most = 0;
    for (int s = 0; s < p; ++s) {
      f[s] = time(rng);
      b[s] = f[s] * (1 + time(rng));
      sum += f[s] + b[s];
      most = std::max(most, f[s] + b[s]);
    }
    const double t = Replay(PipelineSchedule::kOneFOneB, f, b, m);
    // The closed form is not a strict bound: with fewer micro-batches than stages a fast stage
    // between slow ones can wait more than it charges (1.5 % in one case here, p 6, m 2).
    EXPECT_LE(t, 1.02 * ClosedFormSeconds(Passes(f, b), m, 1)) << "trial " << trial;
    EXPECT_GE(t, m * most - 1e-9) << "trial " << trial;
    EXPECT_GE(t, sum - 1e-9) << "trial " << trial;
    // GPipe runs the same passes with more activations held, never faster than 1F1B here.
    EXPECT_GE(Replay(PipelineSchedule::kGPipe, f, b, m), t - 1e-9) << "trial " << trial;
  }
}

// Interleaved, equal chunks: Megatron-LM's order takes (m + (p − 1)/v)·c when m is a multiple of p.
TEST(PipelineScheduleTest, InterleavedEqualChunksShrinkTheFillByV) {
  for (int v : {2, 3, 4}) {
    const int p = 4, m = 8;
    const std::vector<double> f(p * v, 1.0 / v), b(p * v, 2.0 / v);
    EXPECT_NEAR(Replay(PipelineSchedule::kInterleaved, f, b, m, 1.0, v), (m + (p - 1.0) / v) * 3,
                1e-9)
        << "v " << v;
  }
}

// Transfers: a blocking send holds its rank, an overlapped one runs beside the next pass; either
// way the peer has the data a transfer after the compute. Two stages (f 1, b 2), 0.5 s each way,
// m = 1: F [0,1] + send → stage 1 F [1.5,2.5] B [2.5,4.5] + send → stage 0 B [5,7].
TEST(PipelineScheduleTest, TransfersDelayThePeerAndHoldTheRankOnlyWhenBlocking) {
  PipelinePasses p = Passes({1, 1}, {2, 2});
  p.to_next = {0.5, 0};
  p.to_previous = {0, 0.5};
  auto schedule = CreateSchedule(PipelineSchedule::kOneFOneB);
  for (bool overlapped : {false, true}) {
    p.overlapped = overlapped;
    auto t = ReplaySchedule(*schedule, p, 1, 1, 1);
    ASSERT_TRUE(t.ok()) << t.status();
    EXPECT_NEAR(*t, 7.0, 1e-9) << overlapped;
  }
  // m = 2, blocking: stage 0 F1 [0,1.5] F2 [1.5,3]; stage 1 F1 [1.5,2.5] B1 [2.5,5] F2 [5,6]
  // B2 [6,8.5]; stage 0 B1 [5,7] B2 [8.5,10.5]. Overlapped: stage 0 F2 [1,2]; stage 1 B1 [2.5,4.5]
  // (its gradient at stage 0 at 5) F2 [4.5,5.5] B2 [5.5,7.5] (at 8); stage 0 B2 [8,10].
  for (bool overlapped : {false, true}) {
    p.overlapped = overlapped;
    auto t = ReplaySchedule(*schedule, p, 2, 1, 1);
    ASSERT_TRUE(t.ok()) << t.status();
    EXPECT_NEAR(*t, overlapped ? 10.0 : 10.5, 1e-9) << overlapped;
  }
}

// An order that waits for a gradient it never lets come: the replay says so instead of looping.
class Backwards : public Schedule {
 public:
  PipelineSchedule kind() const override { return PipelineSchedule::kOneFOneB; }
  void Order(int rank, int ranks, int m, int, std::vector<PipelineOp>* out) const override {
    for (int i = 0; i < m; ++i) {
      if (rank + 1 < ranks) out->push_back({i, 0, true});  // before anything was sent on
      out->push_back({i, 0, false});
      if (rank + 1 == ranks) out->push_back({i, 0, true});
    }
  }
};

TEST(PipelineScheduleTest, ADeadlockedOrderIsAnInternalError) {
  auto t = ReplaySchedule(Backwards(), Passes({1, 1}, {1, 1}), 2, 1, 1);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInternal);
  EXPECT_NE(t.status().message().find("deadlocks at rank 0 of 2"), std::string::npos) << t.status();
}

}  // namespace
}  // namespace tangram::partitioner
