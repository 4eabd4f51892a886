// Measured layer times per kind and tensor-parallel degree (NodeGroup::layer_times, the fleet's
// `measured:` layer_times) in the cost model: they replace the rate for the layers they cover,
// scale with the micro-batch, carry their own tensor-parallel collectives, and a fleet without
// them is costed exactly as before.
#include <optional>

#include "gtest/gtest.h"
#include "partitioner/cost_model.h"
#include "test_util.h"

namespace tangram::partitioner {
namespace {

using testing::MakeCost;
using testing::MakeFleet;

// GPT-2 medium's shapes on 4 blocks: embedding (0), block.0-3 (1-4), head (5).
ModelSpec Gpt2() { return testing::MakeModel(4, 1024, 16, 1024, 50304, /*swiglu=*/false); }
TrainingSpec NoRecompute() { return testing::Job(8, 1, 0, Recompute::kNone); }

MeasuredLayerTime Time(MeasuredLayerKind kind, int tp, int micro_batch, double forward_ms,
                       std::optional<double> backward_ms = std::nullopt) {
  MeasuredLayerTime t;
  t.kind = kind;
  t.tp = tp;
  t.micro_batch = micro_batch;
  t.forward_ms = forward_ms;
  t.backward_ms = backward_ms;
  return t;
}

Fleet MeasuredFleet() {
  Fleet fleet = MakeFleet("V100:4x1,T4:4x1");
  fleet.groups[0].measured_tflops = 8;
  fleet.groups[1].measured_tflops = 6;
  return fleet;
}

// Another group's layer times leave a group's figures bit for bit as they were; without any the
// rate is FLOPs ÷ (tp × measured).
TEST(LayerTimesTest, AbsentKeysChangeNothing) {
  const Fleet plain = MeasuredFleet();
  Fleet timed = plain;
  timed.groups[1].layer_times = {Time(MeasuredLayerKind::kBlock, 1, 1, 5),
                                 Time(MeasuredLayerKind::kBlock, 2, 1, 6)};
  for (const TrainingSpec& job : {NoRecompute(), testing::Job(8, 2, 1, Recompute::kFull)}) {
    const CostModel a = MakeCost(plain, Gpt2(), job);
    const CostModel b = MakeCost(timed, Gpt2(), job);
    EXPECT_EQ(a.GroupTflops(0), b.GroupTflops(0));
    for (int tp : {1, 2, 4}) {
      for (auto [begin, end] : {std::pair<int64_t, int64_t>{0, 6}, {1, 3}, {4, 6}}) {
        for (double mb : {1.0, 2.5}) {
          EXPECT_EQ(a.ForwardTime(0, tp, begin, end, mb), b.ForwardTime(0, tp, begin, end, mb));
          EXPECT_EQ(a.BackwardTime(0, tp, begin, end, mb), b.BackwardTime(0, tp, begin, end, mb));
          EXPECT_EQ(a.TpCommTime(0, tp, begin, end, mb), b.TpCommTime(0, tp, begin, end, mb));
        }
      }
    }
  }
  const CostModel a = MakeCost(plain, Gpt2(), NoRecompute());
  double flops = 0;
  for (int64_t i = 1; i < 3; ++i) flops += a.layers()[i].forward_flops_per_token;
  EXPECT_DOUBLE_EQ(a.ForwardTime(0, 2, 1, 3, 1), 1024 * flops / (2 * 8e12));
}

TEST(LayerTimesTest, MeasuredKindsReplaceTheRate) {
  Fleet fleet = MeasuredFleet();
  fleet.groups[0].layer_times = {Time(MeasuredLayerKind::kEmbedding, 1, 1, 0.5),
                                 Time(MeasuredLayerKind::kBlock, 1, 1, 4),
                                 Time(MeasuredLayerKind::kHead, 1, 1, 3, 4.5)};
  const CostModel cost = MakeCost(fleet, Gpt2(), NoRecompute());
  EXPECT_NEAR(cost.ForwardTime(0, 1, 0, 1, 1), 0.5e-3, 1e-12);
  EXPECT_NEAR(cost.ForwardTime(0, 1, 1, 5, 1), 16e-3, 1e-12);
  EXPECT_NEAR(cost.ForwardTime(0, 1, 1, 5, 2), 32e-3, 1e-12);   // tp 1, one point: per sample
  EXPECT_NEAR(cost.BackwardTime(0, 1, 1, 5, 1), 32e-3, 1e-12);  // backward FLOPs are 2× forward
  EXPECT_NEAR(cost.ForwardTime(0, 1, 5, 6, 1), 3e-3, 1e-12);
  EXPECT_NEAR(cost.BackwardTime(0, 1, 5, 6, 1), 4.5e-3, 1e-12);  // stated
  // One device's throughput on the job follows from the times.
  const double model_flops = 3 * 1024 * [&] {
    double f = 0;
    for (const Layer& l : cost.layers()) f += l.forward_flops_per_token;
    return f;
  }();
  // Per sequence: embedding 0.5 + 1 (no FLOPs: backward 2×), blocks 4 × (4 + 8), head 3 + 4.5.
  EXPECT_NEAR(cost.GroupTflops(0), model_flops / 57e-3 / 1e12, 1e-9 * cost.GroupTflops(0));
  // The other group keeps its rate.
  EXPECT_EQ(cost.GroupTflops(1), MakeCost(MeasuredFleet(), Gpt2(), NoRecompute()).GroupTflops(1));
}

// A degree measured at one micro-batch beside tp 1: the tp-1 work ÷ tp (+ the collectives'
// bandwidth term) per sample, the rest once per micro-batch; its collectives are inside. A degree
// not measured takes the largest measured one dividing it, and the model adds the collectives.
TEST(LayerTimesTest, TensorParallelDegrees) {
  Fleet fleet = MeasuredFleet();
  fleet.groups[0].layer_times = {Time(MeasuredLayerKind::kBlock, 1, 1, 4),
                                 Time(MeasuredLayerKind::kBlock, 2, 1, 5)};
  const CostModel cost = MakeCost(fleet, Gpt2(), NoRecompute());
  const double at1 = cost.ForwardTime(0, 2, 1, 2, 1);
  EXPECT_NEAR(at1, 5e-3, 1e-12);
  const double per_sample = cost.ForwardTime(0, 2, 1, 2, 2) - at1;
  EXPECT_GT(per_sample, 2e-3);  // 4 ms ÷ 2, plus the allreduces' bandwidth term
  EXPECT_LT(per_sample, 3e-3);
  EXPECT_NEAR(cost.ForwardTime(0, 2, 1, 2, 4), at1 + 3 * per_sample, 1e-12);
  EXPECT_EQ(cost.TpCommTime(0, 2, 1, 5, 1), 0);  // measured with the blocks
  EXPECT_GT(cost.TpCommTime(0, 2, 5, 6, 1), 0);  // the head: at the rate, collectives modelled
  // tp 4: from tp 2's per-sample part × 2 ÷ 4, no per-micro-batch part; collectives modelled.
  EXPECT_NEAR(cost.ForwardTime(0, 4, 1, 2, 1), per_sample / 2, 1e-12);
  EXPECT_GT(cost.TpCommTime(0, 4, 1, 2, 1), 0);
}

// Two micro-batches give the per-micro-batch and per-sample parts by least squares.
TEST(LayerTimesTest, TwoMicroBatchesFitFixedAndPerSample) {
  Fleet fleet = MeasuredFleet();
  fleet.groups[0].layer_times = {Time(MeasuredLayerKind::kBlock, 1, 1, 4),
                                 Time(MeasuredLayerKind::kBlock, 1, 3, 10)};
  const CostModel cost = MakeCost(fleet, Gpt2(), NoRecompute());
  EXPECT_NEAR(cost.ForwardTime(0, 1, 1, 2, 2), 7e-3, 1e-12);  // 1 ms + 3 ms per sample
  EXPECT_NEAR(cost.BackwardTime(0, 1, 1, 2, 2), 14e-3, 1e-12);
}

// At half-block granularity a block's time is split between its halves by FLOPs.
TEST(LayerTimesTest, HalfBlocksShareTheBlockTime) {
  Fleet fleet = MeasuredFleet();
  fleet.groups[0].layer_times = {Time(MeasuredLayerKind::kBlock, 1, 1, 4)};
  CostOptions options;
  options.layers.granularity = LayerGranularity::kHalfBlock;
  const CostModel cost = MakeCost(fleet, Gpt2(), NoRecompute(), options);
  ASSERT_EQ(cost.layers()[1].kind, LayerKind::kAttention);
  EXPECT_NEAR(cost.ForwardTime(0, 1, 1, 3, 1), 4e-3, 1e-12);
  EXPECT_LT(cost.ForwardTime(0, 1, 1, 2, 1), 4e-3);
}

}  // namespace
}  // namespace tangram::partitioner
