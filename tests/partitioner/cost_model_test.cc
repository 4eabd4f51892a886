#include "partitioner/cost_model.h"

#include <cmath>

#include "gtest/gtest.h"
#include "partitioner/strategy.h"
#include "tests/partitioner/test_util.h"

namespace tangram::partitioner {
namespace {

using testing::Job;
using testing::Llama2_7B;
using testing::MakeCost;
using testing::MakeFleet;
using testing::MakeModel;

TEST(CostModelTest, MeasuredThroughputOverridesTheKernelModel) {
  Fleet fleet = MakeFleet("H200:8x1,H20:8x1");
  fleet.groups[1].measured_tflops = 100;
  CostModel cost = MakeCost(fleet, Llama2_7B(), Job(64));
  // Catalog kind: below its matmul rate (memory-bound traffic costs time), above 0.4 of peak.
  EXPECT_LT(cost.GroupTflops(0), 989 * MatmulEfficiency("H200"));
  EXPECT_GT(cost.GroupTflops(0), 989 * 0.4);
  // Measured figures are model FLOP/s without recompute; this job recomputes selectively, so
  // its model throughput is the measured rate × model ÷ hardware FLOPs.
  double model = 0, hardware = 0;
  for (const Layer& l : cost.layers()) {
    model += l.forward_flops_per_token + l.backward_flops_per_token;
    hardware +=
        l.forward_flops_per_token + l.backward_flops_per_token + l.recompute_flops_per_token;
  }
  EXPECT_DOUBLE_EQ(cost.GroupTflops(1), 100 * model / hardware);
  EXPECT_DOUBLE_EQ(cost.SummedTflops(), 8 * cost.GroupTflops(0) + 8 * cost.GroupTflops(1));
  // Measured: every FLOP at the measured rate, no separate memory-bound term.
  const double tokens = 4096;
  EXPECT_NEAR(cost.ForwardTime(1, 1, 1, 2, 1),
              tokens * cost.layers()[1].forward_flops_per_token / 100e12, 1e-15);
  EXPECT_NEAR(cost.BoundStepTime(), cost.ModelFlopsPerStep() / (cost.SummedTflops() * 1e12), 1e-12);
}

TEST(CostModelTest, ComputeTimeIsMatmulPlusMemoryBound) {
  CostModel cost = MakeCost(MakeFleet("H100:8x1"), Llama2_7B(), Job(64, 2, 1, Recompute::kNone));
  const Layer& block = cost.layers()[1];
  EXPECT_EQ(block.forward_shared_bytes_per_token, 0);  // sequence parallelism: all split by tp
  const double tokens = 2.0 * 4096;
  EXPECT_NEAR(cost.ForwardTime(0, 4, 1, 2, 2),
              tokens / 4 *
                  (block.forward_flops_per_token / (989e12 * MatmulEfficiency("H100")) +
                   block.forward_bytes_per_token / (3350e9 * 0.8)),
              1e-15);
  EXPECT_NEAR(cost.BackwardTime(0, 1, 1, 2, 2) / cost.ForwardTime(0, 1, 1, 2, 2), 2.0, 1e-12);
}

// Without sequence parallelism the norms, dropout and residual adds run whole on every
// tensor-parallel rank: their traffic is not divided by tp, so tp = 8 is less than 8× faster.
TEST(CostModelTest, SharedTrafficIsNotSplitWithoutSequenceParallelism) {
  TrainingSpec job = Job(64, 2, 1, Recompute::kNone);
  job.sequence_parallel = false;
  CostModel cost = MakeCost(MakeFleet("H100:8x1"), Llama2_7B(), job);
  CostModel sp = MakeCost(MakeFleet("H100:8x1"), Llama2_7B(), Job(64, 2, 1, Recompute::kNone));
  const Layer& block = cost.layers()[1];
  ASSERT_GT(block.forward_shared_bytes_per_token, 0);
  // Same total traffic, differently split.
  EXPECT_NEAR(block.forward_bytes_per_token + block.forward_shared_bytes_per_token,
              sp.layers()[1].forward_bytes_per_token, 1e-6);
  const double tokens = 2.0 * 4096, bw = 3350e9 * 0.8;
  EXPECT_NEAR(cost.ForwardTime(0, 8, 1, 2, 2),
              tokens * ((block.forward_flops_per_token / (989e12 * MatmulEfficiency("H100")) +
                         block.forward_bytes_per_token / bw) /
                            8 +
                        block.forward_shared_bytes_per_token / bw),
              1e-15);
  EXPECT_DOUBLE_EQ(cost.ForwardTime(0, 1, 1, 2, 2), sp.ForwardTime(0, 1, 1, 2, 2));
  EXPECT_GT(cost.ForwardTime(0, 8, 1, 2, 2), sp.ForwardTime(0, 8, 1, 2, 2));
}

TEST(CostModelTest, RingAllreduceFollowsAlphaBeta) {
  CostModel cost = MakeCost(MakeFleet("H100:8x4"), Llama2_7B(), Job(64));
  // One device per node: a ring over the NIC share (400 Gb/s per device = 50 GB/s), α = 5 µs.
  std::vector<int64_t> members = {0, 8, 16, 24};
  std::string algorithm;
  const double n = 1e9;
  double t = cost.AllreduceTime(cost.SummarizeGroup(members), n, &algorithm);
  EXPECT_EQ(algorithm, "ring");
  EXPECT_NEAR(t, 2 * 3 * 5e-6 + 2.0 * 3 / 4 * n / 50e9, 1e-12);
  // Inside one node: NVLink (450 GB/s per direction), α = 2 µs.
  t = cost.AllreduceTime(cost.SummarizeGroup(std::vector<int64_t>{0, 1}), n, &algorithm);
  EXPECT_EQ(algorithm, "intra-node");
  EXPECT_NEAR(t, 2 * 2e-6 + n / 450e9, 1e-12);
}

TEST(CostModelTest, HierarchicalAllreduceWinsAcrossASlowIslandLink) {
  CostModel cost =
      MakeCost(MakeFleet("H100:8x4,Ascend910B:8x4", "network:\n  inter_island_gbps: 8\n"),
               Llama2_7B(), Job(64));
  std::vector<int64_t> members;
  for (int n = 0; n < 8; ++n) members.push_back(8 * n);  // one device per node, both islands
  std::string algorithm;
  double t = cost.AllreduceTime(cost.SummarizeGroup(members), 1e9, &algorithm);
  EXPECT_EQ(algorithm, "hierarchical");
  EXPECT_GT(t, 0);
}

TEST(CostModelTest, OneFOneBKeepsPMinusIMicroBatchesInFlight) {
  CostModel cost = MakeCost(MakeFleet("H100:8x1"), MakeModel(8, 2048, 16, 2048), Job(64));
  // Four stages of two blocks each: stage i keeps 4 − i micro-batches.
  Plan plan;
  plan.tp = 1;
  plan.pp = 4;
  plan.dp = 1;
  plan.global_batch = 64;
  for (int s = 0; s < 4; ++s) {
    PlanStage st;
    st.index = s;
    st.layer_begin = s == 0 ? 0 : 1 + 2 * s;
    st.layer_end = s == 3 ? 10 : 3 + 2 * s;
    PlanCell cell;
    cell.devices = {s};
    st.cells.push_back(cell);
    plan.stages.push_back(st);
  }
  plan.replicas.push_back({0, 64, 1, 64, 0});
  ASSERT_TRUE(cost.Evaluate(&plan).ok());
  const double act1 = cost.StageMemory(1, 1, 3, 5, 1, 1).activations;
  for (int s = 1; s < 3; ++s) {  // middle stages hold the same layers' worth
    const double expected = cost.StageMemory(1, 1, 3, 5, 4 - s, 1).total();
    EXPECT_NEAR(plan.stages[s].cells[0].memory_gib * (1 << 30), expected, 1.0);
    EXPECT_NEAR(cost.StageMemory(1, 1, 3, 5, 4 - s, 1).activations, (4 - s) * act1, 1.0);
  }
}

TEST(CostModelTest, AMemoryOverflowNamesStageKindSizeAndRemedies) {
  // Llama 2 70B on a single pipeline stage of 910Bs cannot fit.
  ModelSpec m = MakeModel(80, 8192, 64, 4096, 32000, true, 8);
  m.ffn_hidden = 28672;
  CostModel cost = MakeCost(MakeFleet("Ascend910B:8x1"), m, Job(64, 1, 1, Recompute::kNone));
  auto plan = MakePlan(cost, "proportional");
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kFailedPrecondition);
  const std::string msg(plan.status().message());
  for (const char* word : {"stage 0", "needs", "GiB", "Ascend910B", "too much", "recompute",
                           "ZeRO-3", "pipeline stages"}) {
    EXPECT_NE(msg.find(word), std::string::npos) << word << " missing from: " << msg;
  }
}

}  // namespace
}  // namespace tangram::partitioner
