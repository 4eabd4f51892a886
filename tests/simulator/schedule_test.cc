// Pipeline schedules: every op once and in dependency order, and the bubbles the literature
// derives — (p−1)/(m+p−1) for GPipe and 1F1B, (p−1)/v of a micro-batch's time for interleaved —
// on a fleet whose communication is free.
#include "orchestrator/simulator/schedule.h"

#include <set>
#include <tuple>

#include "gtest/gtest.h"
#include "orchestrator/simulator/simulator.h"
#include "tests/simulator/sim_test_util.h"

namespace tangram::simulator {
namespace {

using testing::BlockModel;
using testing::EvenPlan;
using testing::MakeCost;
using testing::MakeFleet;
using testing::Training;

TEST(ScheduleTest, EveryOpOnceBackwardAfterForward) {
  for (const std::string& name : ScheduleNames()) {
    auto schedule = CreateSchedule(name);
    ASSERT_TRUE(schedule.ok());
    const int v = (*schedule)->interleaved() ? 3 : 1;
    for (int p : {1, 2, 4, 7}) {
      for (int m : {1, 3, 8, 13}) {
        for (int rank = 0; rank < p; ++rank) {
          std::vector<PipelineOp> ops;
          (*schedule)->Order(rank, p, m, v, &ops);
          ASSERT_EQ(ops.size(), static_cast<size_t>(2 * m * v)) << name;
          std::set<std::tuple<int, int, bool>> seen;
          for (const PipelineOp& op : ops) {
            EXPECT_TRUE(seen.insert({op.micro_batch, op.chunk, op.backward}).second) << name;
            if (op.backward) {
              EXPECT_TRUE(seen.count({op.micro_batch, op.chunk, false})) << name;
            }
          }
        }
      }
    }
  }
}

TEST(ScheduleTest, FactoryAnswersByKindAndByName) {
  for (partitioner::PipelineSchedule kind : partitioner::kAllSchedules) {
    EXPECT_EQ(CreateSchedule(kind)->kind(), kind);
    auto by_name = CreateSchedule(partitioner::ScheduleName(kind));
    ASSERT_TRUE(by_name.ok()) << by_name.status();
    EXPECT_EQ((*by_name)->kind(), kind);
    EXPECT_EQ((*by_name)->interleaved(), kind == partitioner::PipelineSchedule::kInterleaved);
  }
  auto misspelt = CreateSchedule("gpip");
  EXPECT_NE(std::string(misspelt.status().message()).find("did you mean \"gpipe\"?"),
            std::string::npos)
      << misspelt.status();
}

TEST(ScheduleTest, UnknownNameIsInvalidArgument) {
  auto s = CreateSchedule("zero-bubble");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(s.status().message()).find("1f1b"), std::string::npos);
}

struct BubbleCase {
  std::string schedule;
  int p, m;
};

class BubbleTest : public ::testing::TestWithParam<BubbleCase> {};

TEST_P(BubbleTest, MatchesClosedForm) {
  const BubbleCase c = GetParam();
  auto fleet = MakeFleet("ideal", c.p, 1);
  auto cost = MakeCost(fleet, BlockModel(4 * c.p), Training(c.m));
  auto plan = EvenPlan(cost, 1, c.p, 1);
  SimOptions options;
  options.schedule = partitioner::ParseSchedule(c.schedule).value();
  auto res = Simulate(cost, plan, options);
  ASSERT_TRUE(res.ok()) << res.status();
  const double expected = (c.p - 1.0) / (c.m + c.p - 1.0);
  EXPECT_NEAR(res->bubble_fraction, expected, 2e-3) << c.schedule << " p=" << c.p << " m=" << c.m;
  // One micro-batch through a middle stage (all stages carry 4 blocks).
  const int s = c.p / 2;
  const double per =
      cost.ForwardTime(0, 1, plan.stages[s].layer_begin, plan.stages[s].layer_end, 1) +
      cost.BackwardTime(0, 1, plan.stages[s].layer_begin, plan.stages[s].layer_end, 1);
  EXPECT_NEAR(res->pipeline_s / ((c.m + c.p - 1) * per), 1.0, 2e-3);
  // Activations held: 1F1B keeps min(p − s, m) micro-batches at stage s, GPipe all m.
  for (const CellResult& cell : res->cells) {
    const double held = c.schedule == "gpipe" ? c.m : std::min(c.p - cell.stage, c.m);
    EXPECT_NEAR(cell.peak_in_flight, held, 1e-9) << c.schedule << " stage " << cell.stage;
  }
}

INSTANTIATE_TEST_SUITE_P(Schedules, BubbleTest,
                         ::testing::Values(BubbleCase{"1f1b", 2, 4}, BubbleCase{"1f1b", 4, 8},
                                           BubbleCase{"1f1b", 4, 1}, BubbleCase{"1f1b", 8, 32},
                                           BubbleCase{"1f1b", 4, 3}, BubbleCase{"gpipe", 2, 4},
                                           BubbleCase{"gpipe", 4, 8}, BubbleCase{"gpipe", 8, 32},
                                           BubbleCase{"gpipe", 1, 6}));

TEST(InterleavedTest, BubbleShrinksByVirtualStages) {
  const int p = 4, m = 16;
  auto fleet = MakeFleet("ideal", p, 1);
  auto cost = MakeCost(fleet, BlockModel(8 * p), Training(m));
  auto plan = EvenPlan(cost, 1, p, 1);
  const int s = 1;
  const double per =
      cost.ForwardTime(0, 1, plan.stages[s].layer_begin, plan.stages[s].layer_end, 1) +
      cost.BackwardTime(0, 1, plan.stages[s].layer_begin, plan.stages[s].layer_end, 1);
  for (int v : {1, 2, 4}) {
    SimOptions options;
    options.schedule = partitioner::PipelineSchedule::kInterleaved;
    options.virtual_stages = v;
    auto res = Simulate(cost, plan, options);
    ASSERT_TRUE(res.ok()) << res.status();
    // Narayanan et al. SC'21 §2.2.2: bubble time (p − 1)·(t_f + t_b)/v.
    EXPECT_NEAR(res->pipeline_s / (m * per + (p - 1) * per / v), 1.0, 0.01) << "v=" << v;
  }
}

// A replica's share need not be a multiple of pp micro-batches (uneven data parallelism): every
// pp, v and m plays out without deadlock (pp 4, v 3, m 5 did: Megatron-LM's warm-up counts assume
// whole groups of pp micro-batches).
TEST(InterleavedTest, RunsWhenMicroBatchesDoNotDivide) {
  for (int p : {2, 3, 4, 5}) {
    auto fleet = MakeFleet("ideal", p, 1);
    for (int v : {2, 3, 4}) {
      for (int m = 1; m <= 3 * p + 2; ++m) {
        auto cost = MakeCost(fleet, BlockModel(p * v * 2), Training(m));
        SimOptions options;
        options.schedule = partitioner::PipelineSchedule::kInterleaved;
        options.virtual_stages = v;
        auto res = Simulate(cost, EvenPlan(cost, 1, p, 1), options);
        ASSERT_TRUE(res.ok()) << "pp " << p << " v " << v << " m " << m << ": " << res.status();
        EXPECT_GT(res->step_time_s, 0);
      }
    }
  }
}

TEST(InterleavedTest, RejectsBadCombinations) {
  auto fleet = MakeFleet("ideal", 4, 1);
  auto cost = MakeCost(fleet, BlockModel(8), Training(8));
  SimOptions options;
  options.virtual_stages = 2;  // with 1f1b
  EXPECT_EQ(Simulate(cost, EvenPlan(cost, 1, 4, 1), options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.schedule = partitioner::PipelineSchedule::kInterleaved;
  EXPECT_EQ(Simulate(cost, EvenPlan(cost, 1, 1, 4), options).status().code(),
            absl::StatusCode::kFailedPrecondition);
  options.virtual_stages = 5;  // more chunks than a stage has layers
  EXPECT_EQ(Simulate(cost, EvenPlan(cost, 1, 4, 1), options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tangram::simulator
