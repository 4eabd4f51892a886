// The software-stack switches that change what a step waits for, each against its closed form:
// tensor-parallel communication overlapped with the GEMMs (tp_comm_overlap) and ZeRO-2's
// sharded gradients (reduce-scatter during the backward, parameter allgather after the step).
#include <cmath>
#include <vector>

#include "gtest/gtest.h"
#include "partitioner/comm_model.h"
#include "partitioner/cost_model.h"
#include "partitioner/grid.h"
#include "partitioner/strategy.h"
#include "tests/partitioner/test_util.h"

namespace tangram::partitioner {
namespace {

using testing::Job;
using testing::Llama2_7B;
using testing::MakeCost;
using testing::MakeFleet;

Fleet ParseTestFleet(const std::string& yaml) {
  auto fleet = ParseFleet(yaml, "test.yaml", testing::Catalog());
  EXPECT_TRUE(fleet.ok()) << fleet.status();
  return *fleet;
}

// The exposed part of one overlapped collective pair: c/(2·tp) when the GEMM is long enough,
// the whole collective without a GEMM, and never more than without overlap.
TEST(CommModelTest, TpOverlapLeavesTheLastChunkAndWhatTheGemmCannotHide) {
  const double c = 1.0;
  for (int tp : {2, 4, 8}) {
    EXPECT_DOUBLE_EQ(TpOverlapExposed(tp, c, 10 * c), c / (2 * tp));
    EXPECT_DOUBLE_EQ(TpOverlapExposed(tp, c, c), c / (2 * tp) + c / 2 / tp);
    EXPECT_DOUBLE_EQ(TpOverlapExposed(tp, c, 0), c);
    double last = c;
    for (double g : {0.1, 0.5, 0.9, 2.0}) {
      const double e = TpOverlapExposed(tp, c, g);
      EXPECT_LT(e, last) << "tp " << tp << " gemm " << g;
      last = e;
    }
  }
  EXPECT_EQ(TpOverlapExposed(1, c, 0), 0);
}

// On NVLink the GEMMs of a 7B block hide nearly all of tp 8's collectives; over PCIe (25 GB/s)
// the collectives outlast the GEMMs and most of them stay exposed.
TEST(CostModelTest, TpCommOverlapHidesCollectivesBehindTheirGemms) {
  const std::string base = "name: x\nnodes:\n  - device: A100-80G\n    devices_per_node: 8\n";
  for (const char* extra : {"    count: 1\n", "    count: 1\n    intra_node_link_gbs: 25\n"}) {
    const Fleet fleet = ParseTestFleet(base + extra);
    TrainingSpec job = Job(8, 1, 1, Recompute::kNone);
    const CostModel plain = MakeCost(fleet, Llama2_7B(), job);
    job.tp_comm_overlap = true;
    const CostModel overlapped = MakeCost(fleet, Llama2_7B(), job);
    const int64_t n = plain.num_layers();
    const double all = plain.TpCommTime(0, 8, 0, n, 1);
    const double exposed = overlapped.TpCommTime(0, 8, 0, n, 1);
    EXPECT_LT(exposed, all);
    EXPECT_GE(exposed, all / 16 * (1 - 1e-9));  // at least the last chunk of each collective
    if (fleet.groups[0].device.intra_node_link_gbs > 100) {
      EXPECT_LT(exposed, 0.15 * all) << "NVLink: GEMM-bound";
    } else {
      EXPECT_GT(exposed, 0.5 * all) << "PCIe: communication-bound";
    }
    // One block alone by the closed form: 4 collectives beside 3× its linear forward FLOPs.
    const Layer& block = plain.layers()[1];
    const double tokens = 4096;
    const double one = plain.TpCommTime(0, 8, 1, 2, 1) / block.tp_collectives;
    const double rate =
        MatmulEfficiency("A100-80G") * fleet.groups[0].device.peak_tflops_bf16 * 1e12;
    const double gemm =
        tokens * block.tp_overlap_flops_per_token / block.tp_collectives / (8 * rate);
    EXPECT_NEAR(overlapped.TpCommTime(0, 8, 1, 2, 1),
                block.tp_collectives * TpOverlapExposed(8, one, gemm), 1e-12);
  }
}

// ZeRO-2: gradients leave as a reduce-scatter (half an allreduce's volume), the updated weights
// come back by one allgather after the optimizer step, which the step waits for unless
// overlap_param_gather hides it; gradient memory is sharded.
TEST(CostModelTest, ZeroTwoReduceScattersGradientsAndGathersWeightsAfterTheStep) {
  const Fleet fleet = MakeFleet("H100:8x2");
  const CostModel zero1 = MakeCost(fleet, Llama2_7B(), Job(64, 1, 1, Recompute::kNone));

  TrainingSpec job = Job(64, 1, 2, Recompute::kNone);
  job.layout.tp = 1;
  job.layout.pp = 1;
  job.layout.dp = 16;
  TrainingSpec hidden_job = job;
  hidden_job.overlap_param_gather = true;
  const CostModel zero2 = MakeCost(fleet, Llama2_7B(), job);
  const CostModel zero2_hidden = MakeCost(fleet, Llama2_7B(), hidden_job);
  const int64_t n = zero1.num_layers();
  EXPECT_DOUBLE_EQ(zero2.GradientAllreduceBytes(1, 0, n),
                   0.5 * zero1.GradientAllreduceBytes(1, 0, n));
  std::vector<int64_t> all(16);
  for (int i = 0; i < 16; ++i) all[i] = i;
  const AllreduceGroup group = zero2.SummarizeGroup(all);
  EXPECT_EQ(zero1.ParameterGatherAfterStepTime(group, 1, 0, n), 0);
  EXPECT_EQ(zero2_hidden.ParameterGatherAfterStepTime(group, 1, 0, n), 0);
  double params = 0;
  for (const Layer& l : zero2.layers()) params += static_cast<double>(l.parameters);
  EXPECT_DOUBLE_EQ(zero2.ParameterGatherAfterStepTime(group, 1, 0, n),
                   0.5 * zero2.AllreduceTime(group, 2 * params));
  EXPECT_DOUBLE_EQ(zero2.StageMemory(1, 16, 0, n, 1, 1).gradients,
                   zero1.StageMemory(1, 16, 0, n, 1, 1).gradients / 16);

  // The whole plan (dp 16): the gather lands after the optimizer, on the critical path.
  auto p2 = MakePlan(zero2, "uniform");
  auto p2h = MakePlan(zero2_hidden, "uniform");
  ASSERT_TRUE(p2.ok() && p2h.ok()) << p2.status() << p2h.status();
  EXPECT_GT(p2->predicted.optimizer_s, p2h->predicted.optimizer_s);
  EXPECT_GT(p2->predicted.step_time_s, p2h->predicted.step_time_s);
}

// The grid search ranks layouts with the same switches: its step time of a layout agrees with
// CostModel::Evaluate of the materialized plan, with and without the switches.
TEST(CostModelTest, GridSearchSeesTheStackSwitches) {
  const Fleet fleet = MakeFleet("H100:8x2");
  double step[2] = {0, 0};
  for (bool on : {false, true}) {
    TrainingSpec job = Job(64, 2, on ? 2 : 1, Recompute::kNone);
    job.tp_comm_overlap = on;
    const CostModel cost = MakeCost(fleet, Llama2_7B(), job);
    GridEvaluator grid(cost, 2);
    ASSERT_EQ(grid.pools().size(), 1u);
    GridLayout layout;
    layout.tp = 2;
    layout.micro_batch = 2;
    layout.classes = {ReplicaClass{{0, 0}, 4}};
    const double t = grid.BalanceAndTime(&layout);
    ASSERT_LT(t, kInfeasible);
    auto plan = MaterializeAndEvaluate(grid, layout, StrategyKind::kAuto);
    ASSERT_TRUE(plan.ok()) << plan.status();
    EXPECT_NEAR(t / plan->predicted.step_time_s, 1.0, 0.01) << "switches " << on;
    step[on] = t;
  }
  EXPECT_GT(std::abs(step[1] / step[0] - 1), 0.001) << "the switches changed nothing";
}

// Rendezvous p2p (DeepSpeed's pipeline engine): the grid search charges a stage its receives as
// CostModel::Evaluate does, so the two still agree, and the pipelined step grows.
TEST(CostModelTest, GridSearchChargesRendezvousReceives) {
  const Fleet fleet = MakeFleet("H100:8x2");
  double step[2] = {0, 0};
  for (bool on : {false, true}) {
    TrainingSpec job = Job(64, 2, 1, Recompute::kNone);
    if (on) job.pipeline_p2p = PipelineP2p::kRendezvous;
    const CostModel cost = MakeCost(fleet, Llama2_7B(), job);
    GridEvaluator grid(cost, 2);
    GridLayout layout;
    layout.tp = 2;
    layout.micro_batch = 2;
    layout.classes = {ReplicaClass{{0, 0}, 4}};
    const double t = grid.BalanceAndTime(&layout);
    ASSERT_LT(t, kInfeasible);
    auto plan = MaterializeAndEvaluate(grid, layout, StrategyKind::kAuto);
    ASSERT_TRUE(plan.ok()) << plan.status();
    EXPECT_NEAR(t / plan->predicted.step_time_s, 1.0, 0.01) << "rendezvous " << on;
    step[on] = t;
  }
  EXPECT_GT(step[1], step[0]);
}

// The Ascend 910B's matmul rate is calibrated on a published run (no warning); another DaVinci
// kind takes it and says so.
TEST(CostModelTest, AscendRateIsCalibratedAndItsSiblingsSaySoWhenTheyBorrowIt) {
  EXPECT_DOUBLE_EQ(MatmulEfficiency("Ascend910B"), kDavinciSustainedMatmul);
  const CostModel b = MakeCost(MakeFleet("Ascend910B:8x1"), Llama2_7B(), Job(8));
  EXPECT_TRUE(b.warnings().empty()) << b.warnings()[0];
  const CostModel c = MakeCost(MakeFleet("Ascend910C:8x1"), Llama2_7B(), Job(8));
  ASSERT_EQ(c.warnings().size(), 1u);
  EXPECT_NE(c.warnings()[0].find("Ascend910B's calibrated"), std::string::npos) << c.warnings()[0];
}

}  // namespace
}  // namespace tangram::partitioner
