// The calibration's split of a micro-batch over the layer kinds (NodeReport::layer_shares) and the
// tp-1 layer times the measured fleet takes from it (coordinator.h): consistent with the rank's
// rate, carried through the report's JSON, kept in proportion when live re-balancing moves the
// rate, and used by the planner (a slow measured head takes blocks off the last stage).
#include <numeric>
#include <string>
#include <vector>

#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"
#include "orchestrator/job_config.h"
#include "orchestrator/model/corpus.h"
#include "orchestrator/model/gpt.h"
#include "orchestrator/runtime/coordinator.h"
#include "orchestrator/runtime/node_report.h"
#include "partitioner/device_catalog.h"
#include "partitioner/model.h"
#include "runtime_test_util.h"

namespace tangram::orchestrator {
namespace {

using partitioner::MeasuredLayerKind;
using partitioner::MeasuredLayerTime;

// The tensor-parallel tests' model with 4 blocks, so that a pipeline's stages can move them.
const std::string kModel = absl::StrReplaceAll(testing::kTpModel, {{"layers: 2", "layers: 4"}});

double Whole(const std::vector<double>& s, int64_t blocks) {
  return s[0] + s[1] + static_cast<double>(blocks) * (s[2] + s[3]) + s[4] + s[5];
}

// Both granularities: the split has six positive parts that make the whole micro-batch (a block's
// counted once per block, halves summed), and the FLOPs it states give back the measured rate.
TEST(MeasuredLayerSplitTest, CalibrationSplitsAMicroBatchOverTheKinds) {
  auto model = partitioner::ParseModel(kModel, "m.yaml");
  ASSERT_TRUE(model.ok()) << model.status();
  auto spec = train::GptSpecFromModel(*model);
  ASSERT_TRUE(spec.ok()) << spec.status();
  train::CorpusOptions corpus_options;
  corpus_options.seq_len = model->seq_len;
  auto corpus = train::MarkovCorpus::Create(corpus_options);
  ASSERT_TRUE(corpus.ok()) << corpus.status();
  CalibrationOptions calibration;
  calibration.probes = 1;
  calibration.warmup = 1;
  calibration.passes = 2;
  for (train::Granularity granularity :
       {train::Granularity::kBlock, train::Granularity::kHalfBlock}) {
    train::GptOptions options;
    options.spec = *spec;
    options.granularity = granularity;
    auto report = CalibrateThisRank(0, options, *corpus, 2, 1.0, calibration);
    ASSERT_TRUE(report.ok()) << report.status();
    ASSERT_EQ(report->layer_shares.size(), 6u);
    for (double s : report->layer_shares) EXPECT_GT(s, 0);
    EXPECT_NEAR(Whole(report->layer_shares, 4), 1.0, 1e-9);
    EXPECT_EQ(report->calibration_micro_batch, 2);
    EXPECT_NEAR(report->flops_per_sample / (report->measured_tflops * 1e12),
                report->seconds_per_sample, 1e-9 * report->seconds_per_sample);
    auto back = NodeReport::FromJson(report->ToJson().dump());
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(back->layer_shares, report->layer_shares);
    EXPECT_EQ(back->flops_per_sample, report->flops_per_sample);
    EXPECT_EQ(back->calibration_micro_batch, 2);
  }
}

// A report of a rank on `host` at `tflops`: micro-batches of 2 samples of 1 GFLOP each, split
// embedding 4 + 6 %, each of 4 blocks 7.5 + 12.5 %, head 2 + 8 % (forward + backward).
NodeReport SplitReport(int rank, const std::string& host, double tflops) {
  NodeReport r;
  r.rank = rank;
  r.host = host;
  r.device_kind = "cpu";
  r.measured_tflops = tflops;
  r.flops_per_sample = 1e9;
  r.calibration_micro_batch = 2;
  r.layer_shares = {0.04, 0.06, 0.075, 0.125, 0.02, 0.08};
  return r;
}

const MeasuredLayerTime& Kind(const std::vector<MeasuredLayerTime>& times, MeasuredLayerKind k) {
  for (const MeasuredLayerTime& t : times) {
    if (t.kind == k) return t;
  }
  static const MeasuredLayerTime kNone;
  ADD_FAILURE() << "no time for kind " << static_cast<int>(k);
  return kNone;
}

TEST(MeasuredLayerSplitTest, LayerTimesAreTheSplitAtTheRate) {
  // 2 samples × 1 GFLOP at 0.01 TFLOP/s: 200 ms a micro-batch.
  auto times = LayerTimesAt(SplitReport(0, "a", 0.01), 0.01, 3);
  ASSERT_EQ(times.size(), 3u);
  for (const MeasuredLayerTime& t : times) {
    EXPECT_EQ(t.group, 3);
    EXPECT_EQ(t.tp, 1);
    EXPECT_EQ(t.micro_batch, 2);
  }
  EXPECT_NEAR(Kind(times, MeasuredLayerKind::kEmbedding).forward_ms, 8, 1e-9);
  EXPECT_NEAR(*Kind(times, MeasuredLayerKind::kEmbedding).backward_ms, 12, 1e-9);
  EXPECT_NEAR(Kind(times, MeasuredLayerKind::kBlock).forward_ms, 15, 1e-9);
  EXPECT_NEAR(*Kind(times, MeasuredLayerKind::kBlock).backward_ms, 25, 1e-9);
  EXPECT_NEAR(Kind(times, MeasuredLayerKind::kHead).forward_ms, 4, 1e-9);
  EXPECT_NEAR(*Kind(times, MeasuredLayerKind::kHead).backward_ms, 16, 1e-9);
  // Twice the rate, half the time.
  EXPECT_NEAR(
      Kind(LayerTimesAt(SplitReport(0, "a", 0.01), 0.02, 0), MeasuredLayerKind::kBlock).forward_ms,
      7.5, 1e-9);
  // A report without a split (written before it existed) gives none: the rate path.
  NodeReport old = SplitReport(0, "a", 0.01);
  old.layer_shares.clear();
  EXPECT_TRUE(LayerTimesAt(old, 0.01, 0).empty());
  EXPECT_TRUE(NodeReport::FromJson(R"({"rank": 0, "host": "a", "device_kind": "cpu",
      "device_name": "x", "memory_gib": 1, "measured_tflops": 0.01, "seconds_per_sample": 0.1,
      "emulate_slowdown": 1})")
                  ->layer_shares.empty());
}

// The measured fleet gives each group its (slowest) rank's layer times; re-balancing's new rates
// (WithThroughput) scale them, the split kept.
TEST(MeasuredLayerSplitTest, FleetGroupsTakeTheirTimesAndFollowTheRate) {
  auto catalog = partitioner::DeviceCatalog::BuiltIn();
  ASSERT_TRUE(catalog.ok());
  std::vector<NodeReport> reports = {SplitReport(0, "a", 0.02), SplitReport(1, "a", 0.01),
                                     SplitReport(2, "b", 0.02), SplitReport(3, "b", 0.02)};
  reports[1].layer_shares = {0.02, 0.08, 0.075, 0.125, 0.04, 0.06};  // rank 1: its own split
  auto fleet = MeasuredFleet(reports, *catalog, partitioner::NetworkSpec{}, /*tp=*/2);
  ASSERT_TRUE(fleet.ok()) << fleet.status();
  ASSERT_EQ(fleet->groups.size(), 2u);
  // Host a's tp pair runs at rank 1's pace and split: 200 ms a micro-batch.
  const auto& a = fleet->groups[0].layer_times;
  ASSERT_EQ(a.size(), 3u);
  EXPECT_NEAR(Kind(a, MeasuredLayerKind::kEmbedding).forward_ms, 4, 1e-9);
  EXPECT_NEAR(Kind(a, MeasuredLayerKind::kHead).forward_ms, 8, 1e-9);
  EXPECT_EQ(Kind(fleet->groups[1].layer_times, MeasuredLayerKind::kBlock).group, 1);
  EXPECT_NEAR(Kind(fleet->groups[1].layer_times, MeasuredLayerKind::kBlock).forward_ms, 7.5, 1e-9);

  // Rank 3 slows to half: host b's times double; host a's rate is unchanged (0 = keep).
  partitioner::Fleet moved = WithThroughput(*fleet, {0, 0, 0.02, 0.01});
  EXPECT_DOUBLE_EQ(*moved.groups[1].measured_tflops, 0.01);
  const auto& b = moved.groups[1].layer_times;
  EXPECT_NEAR(Kind(b, MeasuredLayerKind::kBlock).forward_ms, 15, 1e-9);
  EXPECT_NEAR(*Kind(b, MeasuredLayerKind::kBlock).backward_ms, 25, 1e-9);
  EXPECT_NEAR(Kind(moved.groups[0].layer_times, MeasuredLayerKind::kHead).forward_ms, 8, 1e-9);
}

// Planning a two-stage pipeline on two equal ranks: where calibration measured the head at half of
// a micro-batch's time, the last stage (which holds it) gets fewer blocks than where the head
// measured 5 %.
TEST(MeasuredLayerSplitTest, ASlowMeasuredHeadTakesBlocksOffTheLastStage) {
  auto catalog = partitioner::DeviceCatalog::BuiltIn();
  ASSERT_TRUE(catalog.ok());
  auto model = partitioner::ParseModel(kModel, "m.yaml");
  ASSERT_TRUE(model.ok()) << model.status();
  JobConfig job;
  job.model = *model;
  job.training.precision = partitioner::Precision::kFp32;
  job.training.global_batch = 8;
  job.training.micro_batch = 2;
  job.training.layout.pp = 2;
  job.training.layout.dp = 1;
  auto last_stage_blocks = [&](std::vector<double> shares) -> int64_t {
    std::vector<NodeReport> reports = {SplitReport(0, "a", 0.01), SplitReport(1, "b", 0.01)};
    for (NodeReport& r : reports) r.layer_shares = shares;
    auto fleet = MeasuredFleet(reports, *catalog, partitioner::NetworkSpec{});
    EXPECT_TRUE(fleet.ok()) << fleet.status();
    auto plan = PlanOnFleet(*fleet, job, partitioner::StrategyKind::kAuto);
    EXPECT_TRUE(plan.ok()) << plan.status();
    if (!plan.ok() || plan->stages.size() != 2) return -1;
    return plan->stages[1].layer_end - plan->stages[1].layer_begin - 1;  // less the head
  };
  // Both: embedding 5 %; blocks at 1 : 2 forward to backward.
  const int64_t light = last_stage_blocks({0.02, 0.03, 0.075, 0.15, 0.02, 0.03});
  const int64_t heavy = last_stage_blocks({0.02, 0.03, 0.0375, 0.075, 0.2, 0.3});
  EXPECT_EQ(light, 2);
  EXPECT_LT(heavy, light);
}

}  // namespace
}  // namespace tangram::orchestrator
