// GridEvaluator's class-level score against CostModel::Evaluate of the materialized plan, where
// the two used to disagree: the unit order (a pipeline's stages side by side on a node, or a
// stage's replicas) and a replica with fewer samples than the micro-batch.
#include "partitioner/grid.h"
#include "gtest/gtest.h"
#include "partitioner/strategy.h"
#include "tests/partitioner/test_util.h"

namespace tangram::partitioner {
namespace {

using testing::Catalog;
using testing::Job;
using testing::MakeCost;
using testing::MakeFleet;
using testing::MakeModel;

// AMP's homogeneous cluster in shape (configs/published/amp-t4x16.yaml): 4 nodes of 4 T4 on PCIe,
// one 50 Gb/s NIC each; GPT-2 345M with fp32 gradients on the wire, reduced after the flush.
CostModel AmpLikeCost() {
  auto fleet = ParseFleet(
      "name: t4x16\nnodes:\n  - device: T4\n    devices_per_node: 4\n    count: 4\n"
      "    nic_gbps: 50\n    nics_per_node: 1\n",
      "t4x16.yaml", Catalog());
  EXPECT_TRUE(fleet.ok()) << fleet.status();
  TrainingSpec job = Job(32, 1, 0, Recompute::kNone);
  job.precision = Precision::kFp16;
  job.grad_reduce_dtype = GradReduceDtype::kFp32;
  job.overlap_grad_reduce = false;
  job.pipeline_p2p = PipelineP2p::kRendezvous;
  return MakeCost(*fleet, MakeModel(24, 1024, 16, 1024, 50257, /*swiglu=*/false), job);
}

TEST(GridTest, BothUnitOrdersAreScoredAsEvaluateCostsThem) {
  const CostModel cost = AmpLikeCost();
  GridEvaluator grid(cost, 1);
  ASSERT_EQ(grid.pools().size(), 1u);
  double step[2] = {0, 0};
  for (UnitOrder order : {UnitOrder::kReplicaMajor, UnitOrder::kStageMajor}) {
    GridLayout layout;
    layout.order = order;
    layout.classes = {ReplicaClass{{0, 0, 0, 0}, 4}};
    ASSERT_TRUE(grid.UnitOrderMatters(layout));
    const double t = grid.BalanceAndTime(&layout);
    ASSERT_LT(t, kInfeasible);
    auto plan = MaterializeAndEvaluate(grid, layout, StrategyKind::kAuto);
    ASSERT_TRUE(plan.ok()) << plan.status();
    // The grid scores a pipeline by the 1F1B closed form, Evaluate replays the schedule: close
    // on balanced stages (1 % here), within the margin by which layout_search.cc re-evaluates
    // close candidates exactly (kCloseMargin, 5 %).
    EXPECT_NEAR(t / plan->predicted.step_time_s, 1.0, 0.05) << UnitOrderName(order);
    // Replica-major: replica 0 holds node 0 (devices 0-3); stage-major: stage 0 does.
    for (int k = 0; k < 4; ++k) {
      const int64_t device = order == UnitOrder::kReplicaMajor
                                 ? plan->stages[k].cells[0].devices[0]
                                 : plan->stages[0].cells[k].devices[0];
      EXPECT_EQ(device, k) << UnitOrderName(order);
    }
    step[static_cast<int>(order)] = t;
  }
  // Gradients inside a node beat gradients over the 50 Gb/s NICs by far more than the p2p loses.
  EXPECT_LT(step[1], 0.85 * step[0]);
  // ... and auto finds the stage-major layout (or a better one), not the replica-major score.
  auto best = MakePlan(cost, "auto");
  ASSERT_TRUE(best.ok()) << best.status();
  EXPECT_LE(best->predicted.step_time_s, step[1] * (1 + 1e-9));
}

TEST(GridTest, OrderDoesNotMatterWhenEachNodeHoldsOneUnit) {
  const CostModel cost = AmpLikeCost();
  GridEvaluator grid(cost, 4);  // a unit is a whole node
  GridLayout layout;
  layout.classes = {ReplicaClass{{0, 0}, 2}};
  EXPECT_FALSE(grid.UnitOrderMatters(layout));
  layout.classes = {ReplicaClass{{0}, 4}};
  EXPECT_FALSE(grid.UnitOrderMatters(layout));
}

// A replica with fewer samples than the micro-batch runs them as one smaller micro-batch; the
// class-level score used to charge a whole one (0.067 s against 0.046 s on an oracle case).
TEST(GridTest, AReplicaShortOfAMicroBatchRunsASmallerOne) {
  const CostModel cost =
      MakeCost(MakeFleet("L40S:4x1,H20:1x1"), MakeModel(3, 2048, 16, 1024), Job(26, 4, 1));
  GridEvaluator grid(cost, 1);
  ASSERT_EQ(grid.pools().size(), 2u);
  GridLayout layout;
  layout.micro_batch = 4;
  layout.classes = {ReplicaClass{{0}, 4}, ReplicaClass{{1}, 1}};
  std::vector<WholeShare> whole;
  const double t = grid.BalanceAndTime(&layout);
  ASSERT_LT(t, kInfeasible);
  grid.StepTime(layout, nullptr, &whole);
  ASSERT_EQ(whole.size(), 2u);
  EXPECT_LT(whole[1].samples + (whole[1].extra > 0), 4) << "the H20 replica should be short";
  auto plan = MaterializeAndEvaluate(grid, layout, StrategyKind::kAuto);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_NEAR(t / plan->predicted.step_time_s, 1.0, 1e-9);
}

}  // namespace
}  // namespace tangram::partitioner
