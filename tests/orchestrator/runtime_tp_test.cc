// Tensor parallelism in the training runtime on the simulated transport (ranks as threads): tp 2
// and 3 alone, tp 2 with uneven data parallelism and with a pipeline reach the serial reference's
// parameters, with the replicated tensors identical across each cell; checkpoints hold whole
// layers, so a run resumes across tp; a tp the model's heads do not divide is an error on every
// rank before training; a job's pinned tp is planned and trained; re-balancing moves shards
// between cells (tp 2 × pp 2, alone and with dp 2) and still matches.
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "orchestrator/model/checkpoint.h"
#include "orchestrator/runtime/coordinator.h"
#include "orchestrator/runtime/train_job.h"
#include "runtime_test_util.h"

namespace tangram::testing {
namespace {

using orchestrator::RunTraining;
using orchestrator::TrainLaunch;
using orchestrator::TrainOptions;
using orchestrator::TrainResult;
using ::testing::HasSubstr;

std::string PlanFile(const TempJob& job, const partitioner::Plan& plan,
                     const std::string& name = "plan.json") {
  return job.Write(name, partitioner::PlanToJsonString(plan));
}

struct TpCase {
  const char* name;
  int ranks;
  std::vector<int64_t> bounds;
  std::vector<int64_t> shares;
  int tp;
};
void PrintTo(const TpCase& c, std::ostream* os) { *os << c.name; }

class TensorParallelTest : public ::testing::TestWithParam<TpCase> {};

TEST_P(TensorParallelTest, MatchesSerialReference) {
  const TpCase& c = GetParam();
  TempJob job(c.ranks, {}, "auto", "", kTpModel);
  TrainOptions options;
  options.plan_path = PlanFile(job, MakeTestPlan(c.bounds, c.shares, kMicroBatch, c.tp));
  options.steps = 3;
  auto result = Train(job, c.ranks, options);
  ASSERT_TRUE(result.ok()) << result.status();
  std::vector<double> serial_losses;
  ExpectSameParameters(SerialParameters(3, &serial_losses, kTpSpec), Flatten(result->layers));
  ASSERT_EQ(result->losses.size(), 3u);
  for (int s = 0; s < 3; ++s)
    EXPECT_NEAR(result->losses[s], serial_losses[s], 1e-4) << "step " << s;
  // Norms, row-parallel biases, embedding and head: identical inputs, identical updates.
  EXPECT_LT(result->tp_replica_difference, 1e-6);
}

INSTANTIATE_TEST_SUITE_P(Plans, TensorParallelTest,
                         ::testing::Values(TpCase{"Tp2", 2, {0, 4}, {8}, 2},
                                           TpCase{"Tp3", 3, {0, 4}, {8}, 3},
                                           TpCase{"Tp2Dp2Uneven", 4, {0, 4}, {5, 3}, 2},
                                           TpCase{"Tp2Pp2", 4, {0, 2, 4}, {8}, 2}),
                         [](const auto& info) { return info.param.name; });

TEST(TensorParallelRuntimeTest, ResumesFromTp2OnTp1AndBack) {
  TempJob tp2(2, {}, "auto", "", kTpModel), tp1(2, {}, "auto", "", kTpModel);
  TrainOptions options;
  options.checkpoint_dir = tp2.dir() + "/shared-ckpt";
  options.plan_path = PlanFile(tp2, MakeTestPlan({0, 4}, {8}, kMicroBatch, 2));
  options.steps = 1;
  ASSERT_TRUE(Train(tp2, 2, options).ok());
  // The checkpoint holds whole tensors, whatever the tp that wrote it.
  auto written = train::LoadLatest(options.checkpoint_dir);
  ASSERT_TRUE(written.ok()) << written.status();
  const train::LayerState* block = written->Find("block.0");
  ASSERT_NE(block, nullptr);
  EXPECT_EQ(block->params[2].name, "h.0.attn.c_attn.weight");
  EXPECT_EQ(block->params[2].shape, (std::vector<int64_t>{3 * 48, 48}));

  // tp 2 -> tp 1 (a pipeline of two ranks), then tp 1 -> tp 2 (two replicas of tp 2 shards: 4
  // ranks would need another fleet; one cell of 2 suffices to cut the shards again).
  options.plan_path = PlanFile(tp1, MakeTestPlan({0, 2, 4}, {8}));
  options.steps = 2;
  options.resume = true;
  auto on_tp1 = Train(tp1, 2, options);
  ASSERT_TRUE(on_tp1.ok()) << on_tp1.status();
  EXPECT_EQ(on_tp1->first_step, 1);
  ExpectSameParameters(SerialParameters(2, nullptr, kTpSpec), Flatten(on_tp1->layers));

  options.plan_path = PlanFile(tp2, MakeTestPlan({0, 4}, {8}, kMicroBatch, 2), "plan-again.json");
  options.steps = 3;
  auto on_tp2 = Train(tp2, 2, options);
  ASSERT_TRUE(on_tp2.ok()) << on_tp2.status();
  EXPECT_EQ(on_tp2->first_step, 2);
  ExpectSameParameters(SerialParameters(3, nullptr, kTpSpec), Flatten(on_tp2->layers));
}

TEST(TensorParallelRuntimeTest, HeadsNotDivisibleByTpFailOnEveryRankBeforeTraining) {
  TempJob job(4, {}, "auto", "", kTpModel);  // 6 heads, tp 4
  TrainOptions options;
  options.plan_path = PlanFile(job, MakeTestPlan({0, 4}, {8}, kMicroBatch, 4));
  absl::Time start = absl::Now();
  auto result = Train(job, 4, options);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("heads (6)"));
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("tp=4"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(20));  // no rank waited for a timeout
  EXPECT_FALSE(train::LoadLatest(job.dir() + "/ckpt").ok());
}

TEST(TensorParallelRuntimeTest, JobPinnedTpIsPlannedAndTrained) {
  // The job pins tp 2 on 2 measured ranks: the coordinator plans one cell of 2.
  TempJob job(2, {}, "auto", "layout:\n  tp: 2\n", kTpModel);
  TrainOptions options;
  options.steps = 3;
  LogCapture log;
  auto result = Train(job, 2, options);
  ASSERT_TRUE(result.ok()) << result.status() << "\n" << log.str();
  EXPECT_EQ(result->plan.tp, 2);
  ExpectSameParameters(SerialParameters(3, nullptr, kTpSpec), Flatten(result->layers));
  EXPECT_THAT(log.str(), ::testing::Not(HasSubstr("re-balancing is off")));
}

struct RebalanceCase {
  const char* name;
  int ranks;
  const char* layout;
};
void PrintTo(const RebalanceCase& c, std::ostream* os) { *os << c.name; }

class TensorParallelRebalanceTest : public ::testing::TestWithParam<RebalanceCase> {};

// Stage length (in layers) of the stage that holds `rank` in `plan`; 0 when the rank is idle.
int64_t LayersOf(const partitioner::Plan& plan, int rank) {
  for (const auto& stage : plan.stages) {
    for (const auto& cell : stage.cells) {
      for (int64_t device : cell.devices)
        if (device == rank) return stage.layer_end - stage.layer_begin;
    }
  }
  return 0;
}

TEST_P(TensorParallelRebalanceTest, MovesShardsBetweenCellsAndKeepsTheMath) {
  const RebalanceCase& c = GetParam();
  TempJob job(c.ranks, {}, "auto", c.layout, kTpModel);
  // Nodes of two ranks each (one fleet entry per node, so that each gets its own measured figure
  // when re-planning), so that the first plan (from the fleet file's equal figures: no calibration
  // noise) puts one tensor-parallel cell on each node and balances the pipeline.
  std::string fleet = "name: test-fleet\nnodes:\n";
  for (int node = 0; node < c.ranks / 2; ++node)
    absl::StrAppend(&fleet, "  - device: cpu\n    devices_per_node: 2\n    count: 1\n");
  job.Write("fleet.yaml", fleet);
  TrainOptions options;
  options.steps = 5;
  options.rebalance_patience = 1;
  options.catalog_throughput = true;
  LogCapture log;
  // The first plan, as the coordinator makes it from the fleet file's figures.
  auto first =
      orchestrator::PlanOnFleet(job.Load().fleet, job.Load(), partitioner::StrategyKind::kAuto);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->tp, 2);
  ASSERT_EQ(first->tp * first->pp * first->dp, c.ranks);  // 8 ranks: dp 2, every rank busy
  // EMULATION: from step 2 on, the cells of the last stage are 12x slower, so a re-plan hands one
  // of their decoder blocks to the fast cells, shard by shard.
  const partitioner::PlanStage& slow = first->stages.back();
  ASSERT_GT(slow.layer_end - slow.layer_begin, 1) << "the first plan leaves no block to move";
  const int slow_rank = static_cast<int>(slow.cells.front().devices.front());
  for (const auto& cell : slow.cells) {
    for (int64_t device : cell.devices)
      options.slowdown_changes.push_back({static_cast<int>(device), 1, 12.0});
  }
  auto result = Train(job, c.ranks, options);
  ASSERT_TRUE(result.ok()) << result.status() << "\n" << log.str();
  EXPECT_GE(result->replans, 1) << log.str();
  EXPECT_GE(result->layers_moved, 2) << log.str();  // a block's shards: one per tp rank
  EXPECT_EQ(result->plan.tp, 2);                    // the re-plan keeps the plan's tp
  EXPECT_EQ(result->plan.pp, 2);
  EXPECT_LT(LayersOf(result->plan, slow_rank), LayersOf(*first, slow_rank)) << log.str();
  EXPECT_THAT(result->replan_log, ::testing::Contains(HasSubstr("block.")));
  EXPECT_THAT(result->replan_log, ::testing::Each(HasSubstr("drifted")));
  EXPECT_THAT(result->replan_log, ::testing::Each(HasSubstr("tp=2")));
  ExpectSameParameters(SerialParameters(5, nullptr, kTpSpec), Flatten(result->layers));
  // Norms, row-parallel biases, embedding and head moved as each rank's own copy: still identical.
  EXPECT_LT(result->tp_replica_difference, 1e-6);
}

INSTANTIATE_TEST_SUITE_P(
    Layouts, TensorParallelRebalanceTest,
    ::testing::Values(RebalanceCase{"Tp2Pp2", 4, "layout:\n  tp: 2\n  pp: 2\n"},
                      RebalanceCase{"Tp2Pp2Dp2", 8, "layout:\n  tp: 2\n  pp: 2\n"}),
    [](const auto& info) { return info.param.name; });

TEST(TensorParallelRuntimeTest, UnpinnedJobStillPlansTp1) {
  TempJob job(2, {}, "auto", "", kTpModel);
  TrainOptions options;
  options.steps = 1;
  auto result = Train(job, 2, options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->plan.tp, 1);
}

}  // namespace
}  // namespace tangram::testing
