// The memory model against Megatron-LM's published activation formulas (Korthikanti et al. 2022,
// "Reducing Activation Recomputation in Large Transformer Models", arXiv 2205.05198):
//   per layer, no parallelism:                 s·b·h·(34 + 5·a·s/h)
//   tensor + sequence parallel (t):            s·b·h·(34 + 5·a·s/h) / t
//   + selective recompute:                     s·b·h·34 / t
//   full recompute:                            2·s·b·h
//   first pipeline stage under 1F1B (p micro-batches of L/p layers in flight) = L layers' worth,
//   plus the embedding dropout mask s·b·h·p/t.
// Run with flash_attention off (Megatron materialises the attention scores). These count GPT's
// dropout masks (p = 0.1); a model trained without dropout keeps none (ModelsWithoutDropout...).
#include <cmath>
#include <cstdio>

#include "gtest/gtest.h"
#include "partitioner/cost_model.h"
#include "tests/partitioner/test_util.h"

namespace tangram::partitioner {
namespace {

using testing::Job;
using testing::MakeCost;
using testing::MakeFleet;

struct Case {
  const char* name;
  int64_t layers, hidden, heads, seq, t, p;
};

// The four models of Korthikanti et al. Table 3 (GPT-3-style, GELU, V = 51200).
const Case kCases[] = {{"22B", 48, 6144, 64, 2048, 8, 1},
                       {"175B", 96, 12288, 96, 2048, 8, 8},
                       {"530B", 105, 20480, 128, 2048, 8, 35},
                       {"1T", 128, 25600, 160, 2048, 8, 64}};

// Megatron-LM's attention materialises the scores (no FlashAttention); `sp`: sequence parallelism.
TrainingSpec Megatron(TrainingSpec t, bool sp = true) {
  t.flash_attention = false;
  t.sequence_parallel = sp;
  return t;
}

TEST(MemoryModelTest, PerLayerActivationsEqualKorthikanti) {
  for (const Case& c : kCases) {
    ModelSpec m = testing::MakeModel(c.layers, c.hidden, c.heads, c.seq, 51200, false);
    const double s = c.seq, h = c.hidden, a = c.heads;
    for (Recompute r : {Recompute::kNone, Recompute::kSelective, Recompute::kFull}) {
      CostModel cost = MakeCost(MakeFleet("H100:8x1"), m, Megatron(Job(8, 1, 0, r)));
      // Layer 1 is block 0; one micro-batch in flight, b = 1.
      double mine = cost.StageMemory(c.t, 1, 1, 2, 1, 1).activations;
      if (r == Recompute::kFull)
        mine -= s * cost.layers()[1].working_activation_bytes_per_token / c.t;
      double formula = r == Recompute::kNone        ? s * h * (34 + 5 * a * s / h) / c.t
                       : r == Recompute::kSelective ? s * h * 34 / c.t
                                                    : 2 * s * h / c.t;
      // Full recompute keeps the 2sbh input on every tensor-parallel rank in Megatron (no SP
      // for the checkpoint); we shard it with sequence parallelism.
      if (r == Recompute::kFull) formula = 2 * s * h / c.t;
      EXPECT_NEAR(mine / formula, 1.0, 1e-9) << c.name << " recompute " << RecomputeName(r);
    }
  }
}

// Without sequence parallelism (Korthikanti eq. 2 and §4.2): s·b·h·(10 + 24/t + 5·a·s/(h·t)) per
// layer, the 10·s·b·h of norms, dropout masks and their inputs whole on every rank; full recompute
// keeps the 2·s·b·h input whole too.
TEST(MemoryModelTest, PerLayerActivationsWithoutSequenceParallelism) {
  for (const Case& c : kCases) {
    ModelSpec m = testing::MakeModel(c.layers, c.hidden, c.heads, c.seq, 51200, false);
    const double s = c.seq, h = c.hidden, a = c.heads, t = c.t;
    for (Recompute r : {Recompute::kNone, Recompute::kSelective, Recompute::kFull}) {
      CostModel cost = MakeCost(MakeFleet("H100:8x1"), m, Megatron(Job(8, 1, 0, r), false));
      double mine = cost.StageMemory(c.t, 1, 1, 2, 1, 1).activations;
      const Layer& block = cost.layers()[1];
      if (r == Recompute::kFull) {
        mine -= s * (block.working_activation_bytes_per_token / t +
                     block.working_shared_bytes_per_token);
      }
      const double formula = r == Recompute::kNone ? s * h * (10 + 24 / t + 5 * a * s / (h * t))
                             : r == Recompute::kSelective ? s * h * (10 + 24 / t)
                                                          : 2 * s * h;
      EXPECT_NEAR(mine / formula, 1.0, 1e-9) << c.name << " recompute " << RecomputeName(r);
    }
  }
}

TEST(MemoryModelTest, FirstStageTotalsMatchKorthikanti) {
  for (const Case& c : kCases) {
    ModelSpec m = testing::MakeModel(c.layers, c.hidden, c.heads, c.seq, 51200, false);
    const double s = c.seq, h = c.hidden, a = c.heads, L = c.layers;
    CostModel cost =
        MakeCost(MakeFleet("H100:8x1"), m, Megatron(Job(8, 1, 0, Recompute::kSelective)));
    // First stage: the embedding + ⌈L/p⌉ blocks, p micro-batches in flight.
    const int64_t blocks = (c.layers + c.p - 1) / c.p;
    const double mine = cost.StageMemory(c.t, 1, 0, 1 + blocks, c.p, 1).activations;
    const double headline = 34 * s * h * L / c.t;  // Korthikanti §4.3, selective + SP, b = 1
    // ... plus the input-embedding dropout mask of the p micro-batches in flight, s·b·h·p/t,
    // which the same section adds for the first stage.
    const double formula = headline + s * h * c.p / c.t;
    (void)a;
    std::printf(
        "%-5s t=%lld p=%lld  first-stage activations: ours %.3f GiB, Megatron %.3f GiB "
        "(%+.3f%%); headline formula %.3f GiB (%+.2f%%)\n",
        c.name, static_cast<long long>(c.t), static_cast<long long>(c.p), mine / (1 << 30),
        formula / (1 << 30), 100 * (mine / formula - 1), headline / (1 << 30),
        100 * (mine / headline - 1));
    EXPECT_NEAR(mine / headline, 1.0, 0.02) << c.name;
    EXPECT_NEAR(mine / formula, 1.0, 1e-9) << c.name;
  }
}

// A model trained without dropout (model key `dropout: false`: Llama, Nemotron-4) keeps no masks:
// the two h-sized ones after the attention and MLP projections go (34 → 32), and unfused attention
// keeps only its softmax output per score (5·a·s/h → 2·a·s/h: no dropout output, no mask). Full
// recompute keeps the layer input either way; the embedding keeps nothing.
TEST(MemoryModelTest, ModelsWithoutDropoutKeepNoMasks) {
  for (const Case& c : kCases) {
    ModelSpec m = testing::MakeModel(c.layers, c.hidden, c.heads, c.seq, 51200, false);
    m.dropout = false;
    const double s = c.seq, h = c.hidden, a = c.heads;
    for (Recompute r : {Recompute::kNone, Recompute::kSelective, Recompute::kFull}) {
      CostModel cost = MakeCost(MakeFleet("H100:8x1"), m, Megatron(Job(8, 1, 0, r)));
      double mine = cost.StageMemory(c.t, 1, 1, 2, 1, 1).activations;
      if (r == Recompute::kFull)
        mine -= s * cost.layers()[1].working_activation_bytes_per_token / c.t;
      const double formula = r == Recompute::kNone        ? s * h * (32 + 2 * a * s / h) / c.t
                             : r == Recompute::kSelective ? s * h * 32 / c.t
                                                          : 2 * s * h / c.t;
      EXPECT_NEAR(mine / formula, 1.0, 1e-9) << c.name << " recompute " << RecomputeName(r);
      if (r != Recompute::kFull) {  // (full recompute adds one block's working set to any stage)
        EXPECT_EQ(cost.StageMemory(c.t, 1, 0, 1, 1, 1).activations, 0) << c.name;
      }
    }
  }
}

TEST(MemoryModelTest, WeightsGradientsOptimizerFollowZeroStages) {
  ModelSpec m = testing::Llama2_7B();
  const double P = static_cast<double>(m.TotalParameters());
  for (int z = 0; z <= 3; ++z) {
    CostModel cost = MakeCost(MakeFleet("H100:8x1"), m, Job(8, 1, z));
    MemoryBreakdown mem = cost.StageMemory(1, 8, 0, cost.num_layers(), 1, 1);
    const double head_copy = m.tie_embeddings ? m.vocab * m.hidden : 0;
    const double p = P + head_copy;
    EXPECT_NEAR(mem.weights / p, z >= 3 ? 2.0 / 8 : 2.0, 1e-9) << z;
    EXPECT_NEAR(mem.gradients / p, z >= 2 ? 2.0 / 8 : 2.0, 1e-9) << z;
    EXPECT_NEAR(mem.optimizer / p, z >= 1 ? 12.0 / 8 : 12.0, 1e-9) << z;
  }
}

}  // namespace
}  // namespace tangram::partitioner
