#include "partitioner/layers.h"

#include <cmath>

#include "gtest/gtest.h"
#include "partitioner/cost_model.h"
#include "tests/partitioner/test_util.h"

namespace tangram::partitioner {
namespace {

using testing::Gpt3_175B;
using testing::Job;
using testing::Llama2_7B;
using testing::MakeCost;
using testing::MakeFleet;

TEST(LayersTest, EmbeddingBlocksHeadInOrder) {
  ModelSpec m = Llama2_7B();
  std::vector<Layer> layers = BuildLayers(m, Job(8));
  ASSERT_EQ(layers.size(), 34u);
  EXPECT_EQ(layers.front().kind, LayerKind::kEmbedding);
  EXPECT_EQ(layers[1].name, "block.0");
  EXPECT_EQ(layers.back().kind, LayerKind::kHead);
  std::vector<Layer> halves = BuildLayers(m, Job(8), {LayerGranularity::kHalfBlock});
  ASSERT_EQ(halves.size(), 66u);
  EXPECT_EQ(halves[1].kind, LayerKind::kAttention);
  EXPECT_EQ(halves[2].kind, LayerKind::kMlp);
  EXPECT_EQ(halves[1].parameters + halves[2].parameters, layers[1].parameters);
}

TEST(LayersTest, ParametersAndFlopsMatchTheModelsClosedForms) {
  for (ModelSpec m :
       {Llama2_7B(), Gpt3_175B(), testing::MakeModel(8, 1024, 16, 2048, 50000, true, 4)}) {
    std::vector<Layer> layers = BuildLayers(m, Job(8, 1, 1, Recompute::kNone));
    double fwd = 0;
    int64_t params = 0;
    for (const Layer& l : layers) {
      fwd += l.forward_flops_per_token;
      params += l.parameters;
      EXPECT_EQ(l.backward_flops_per_token, 2 * l.forward_flops_per_token);
      EXPECT_EQ(l.recompute_flops_per_token, 0);
    }
    EXPECT_NEAR(3 * fwd / m.TrainingFlopsPerToken(), 1.0, 1e-12) << m.name;
    // The head layer counts the final norm (2h) and, for tied models, a copy of the embedding.
    EXPECT_EQ(params, m.TotalParameters() - m.HeadParameters() + m.vocab * m.hidden) << m.name;
  }
}

// Korthikanti et al. 2022, eq. in §2: model FLOPs per step 72·B·s·l·h²·(1 + s/6h + V/12lh).
TEST(LayersTest, FlopsMatchKorthikantiFormula) {
  ModelSpec m = Gpt3_175B();
  CostModel cost = MakeCost(MakeFleet("H100:8x1"), m, Job(1536, 1, 1, Recompute::kNone));
  const double B = 1536, s = m.seq_len, l = m.layers, h = m.hidden, V = m.vocab;
  const double formula = 72 * B * s * l * h * h * (1 + s / (6 * h) + V / (12 * l * h));
  EXPECT_NEAR(cost.ModelFlopsPerStep() / formula, 1.0, 1e-12);
}

TEST(LayersTest, RecomputeAddsTheRightFlops) {
  ModelSpec m = Llama2_7B();
  Layer none = BuildLayers(m, Job(8, 1, 1, Recompute::kNone))[1];
  Layer selective = BuildLayers(m, Job(8, 1, 1, Recompute::kSelective))[1];
  Layer full = BuildLayers(m, Job(8, 1, 1, Recompute::kFull))[1];
  EXPECT_EQ(full.recompute_flops_per_token, none.forward_flops_per_token);
  EXPECT_DOUBLE_EQ(selective.recompute_flops_per_token, 4.0 * m.seq_len * m.hidden);
  EXPECT_LT(full.stored_activation_bytes_per_token, selective.stored_activation_bytes_per_token);
  EXPECT_LE(selective.stored_activation_bytes_per_token, none.stored_activation_bytes_per_token);
  EXPECT_EQ(full.stored_activation_bytes_per_token, 2.0 * m.hidden);  // the layer input, bf16
}

TEST(LayersTest, GroupedQueryAttentionShrinksKv) {
  ModelSpec mha = testing::MakeModel(4, 4096, 32, 4096);
  ModelSpec gqa = mha;
  gqa.kv_heads = 8;
  Layer a = BuildLayers(mha, Job(8))[1], b = BuildLayers(gqa, Job(8))[1];
  const int64_t kv_saved = 2 * 4096 * (4096 - 8 * 128);  // K and V projections
  EXPECT_EQ(a.parameters - b.parameters, kv_saved);
  EXPECT_DOUBLE_EQ(a.forward_flops_per_token - b.forward_flops_per_token, 2.0 * kv_saved);
  EXPECT_DOUBLE_EQ(a.stored_activation_bytes_per_token - b.stored_activation_bytes_per_token,
                   2 * 2.0 * (4096 - 8 * 128));  // K and V activations, bf16
}

}  // namespace
}  // namespace tangram::partitioner
