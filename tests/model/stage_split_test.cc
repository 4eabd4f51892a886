// Splitting the reference model into pipeline stages, and a global batch into uneven
// micro-batches, must not change the math: the same loss and gradients as the whole model on the
// whole batch. Also: deterministic init, 1F1B interleaving, the partitioner's layer list.
#include <cmath>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "orchestrator/model/corpus.h"
#include "orchestrator/model/gpt.h"
#include "orchestrator/model/serial_trainer.h"
#include "orchestrator/model/stage.h"
#include "partitioner/layers.h"
#include "partitioner/model.h"
#include "tests/model/test_util.h"

namespace tangram::train {
namespace {

using testing::Build;
using testing::LayerCount;
using testing::TinyOptions;

GptOptions SmallOptions(Granularity g) {
  GptOptions o;
  o.spec = {/*vocab=*/256, /*seq_len=*/16, /*hidden=*/32, /*heads=*/4, /*ffn_hidden=*/64,
            /*layers=*/3};
  o.granularity = g;
  o.seed = 11;
  return o;
}

MarkovCorpus Corpus(int64_t seq_len) {
  CorpusOptions c;
  c.seq_len = seq_len;
  auto corpus = MarkovCorpus::Create(c);
  EXPECT_TRUE(corpus.ok());
  return *corpus;
}

// All gradients of a list of stages, concatenated in model order.
std::vector<float> Gradients(std::vector<Stage>& stages) {
  std::vector<float> all, part;
  for (Stage& s : stages) {
    s.CopyGradients(&part);
    all.insert(all.end(), part.begin(), part.end());
  }
  return all;
}

// Runs `mb` forward through `stages` in order and backward in reverse; returns the loss.
double RunPipeline(std::vector<Stage>& stages, const MicroBatch& mb, int64_t global_batch) {
  Tensor x;
  for (Stage& s : stages) {
    auto y = s.Forward(mb, x);
    EXPECT_TRUE(y.ok()) << y.status();
    x = std::move(*y);
  }
  const double loss = x.data.at(0);
  Tensor g = LossGradient(mb.batch, global_batch);
  for (size_t i = stages.size(); i-- > 0;) {
    auto dx = stages[i].Backward(mb.id, g);
    EXPECT_TRUE(dx.ok()) << dx.status();
    g = std::move(*dx);
  }
  EXPECT_TRUE(g.empty());
  return loss;
}

std::vector<Stage> Split(const GptOptions& o, const std::vector<int64_t>& bounds) {
  std::vector<Stage> stages;
  for (size_t i = 0; i + 1 < bounds.size(); ++i) {
    stages.emplace_back(Build(o, bounds[i], bounds[i + 1]));
  }
  return stages;
}

TEST(StageSplitTest, InitDependsOnlyOnSeedAndName) {
  const GptOptions o = SmallOptions(Granularity::kBlock);
  Stage whole(Build(o, 0, LayerCount(o)));
  Stage again(Build(o, 0, LayerCount(o)));
  GptOptions half = SmallOptions(Granularity::kHalfBlock);
  Stage halves(Build(half, 0, LayerCount(half)));
  Stage alone(Build(o, 2, 3));  // block.1 built by itself
  std::vector<const Tensor*> a, b, c;
  for (int64_t i = 0; i < whole.size(); ++i) {
    for (Tensor* t : whole.layer(i).parameters()) a.push_back(t);
    for (Tensor* t : again.layer(i).parameters()) b.push_back(t);
  }
  for (int64_t i = 0; i < halves.size(); ++i) {
    for (Tensor* t : halves.layer(i).parameters()) c.push_back(t);
  }
  ASSERT_EQ(a.size(), b.size());
  ASSERT_EQ(a.size(), c.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i]->name, c[i]->name);
    EXPECT_EQ(a[i]->data, b[i]->data) << a[i]->name;
    EXPECT_EQ(a[i]->data, c[i]->data) << a[i]->name << " differs between granularities";
  }
  std::vector<Tensor*> lone = alone.layer(0).parameters();
  std::vector<Tensor*> in_whole = whole.layer(2).parameters();
  ASSERT_EQ(lone.size(), in_whole.size());
  for (size_t i = 0; i < lone.size(); ++i) EXPECT_EQ(lone[i]->data, in_whole[i]->data);

  GptOptions other = o;
  other.seed = 12;
  Stage reseeded(Build(other, 1, 2));
  EXPECT_NE(reseeded.layer(0).parameters()[2]->data, whole.layer(1).parameters()[2]->data);
}

TEST(StageSplitTest, LayerNamesAreThePartitioners) {
  auto model =
      partitioner::LoadModel(std::string(TANGRAM_SOURCE_DIR) + "/configs/models/tiny-gpt.yaml");
  ASSERT_TRUE(model.ok()) << model.status();
  auto spec = GptSpecFromModel(*model);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->layers, 4);
  EXPECT_EQ(spec->hidden, 128);
  for (auto [ours, theirs] :
       {std::pair{Granularity::kBlock, partitioner::LayerGranularity::kBlock},
        std::pair{Granularity::kHalfBlock, partitioner::LayerGranularity::kHalfBlock}}) {
    partitioner::LayerOptions lo;
    lo.granularity = theirs;
    std::vector<std::string> expected;
    for (const auto& l : partitioner::BuildLayers(*model, partitioner::TrainingSpec{}, lo)) {
      expected.push_back(l.name);
    }
    EXPECT_EQ(GptLayerNames(*spec, ours), expected);
    GptOptions o;
    o.spec = *spec;
    o.granularity = ours;
    Stage stage(Build(o, 0, LayerCount(o)));
    EXPECT_EQ(stage.layer_names(), expected);
    // Parameter counts agree with the partitioner's, plus what its count leaves out: the learned
    // position embedding and the biases of the four linear maps of each block (GPT-2 has them).
    int64_t params = 0;
    for (int64_t i = 0; i < stage.size(); ++i) {
      for (Tensor* t : stage.layer(i).parameters()) params += t->size();
    }
    EXPECT_EQ(params, model->TotalParameters() + model->seq_len * model->hidden +
                          model->layers * (5 * model->hidden + model->ffn_hidden));
  }
}

TEST(StageSplitTest, PipelineStagesMatchTheWholeModel) {
  for (Granularity g : {Granularity::kBlock, Granularity::kHalfBlock}) {
    const GptOptions o = SmallOptions(g);
    const int64_t n = LayerCount(o);
    const MicroBatch mb = Corpus(o.spec.seq_len).MakeMicroBatch(0, 0, 3);
    std::vector<Stage> whole = Split(o, {0, n});
    const double loss = RunPipeline(whole, mb, 3);
    const std::vector<float> expected = Gradients(whole);
    for (const std::vector<int64_t>& bounds : std::vector<std::vector<int64_t>>{
             {0, 1, n}, {0, 2, n}, {0, 1, 3, n}, {0, n - 2, n - 1, n}}) {
      std::vector<Stage> stages = Split(o, bounds);
      EXPECT_EQ(RunPipeline(stages, mb, 3), loss);
      // Same kernels on the same inputs: bit-identical.
      EXPECT_EQ(Gradients(stages), expected) << "split at " << bounds[1];
    }
  }
}

// The between-layers hook (the runtime progresses its pipeline sends there) runs between every
// two layers of a forward and of a backward, never before the first or after the last, and
// changes nothing in the math.
TEST(StageSplitTest, BetweenLayersHookRunsBetweenLayersOnly) {
  const GptOptions o = SmallOptions(Granularity::kBlock);
  const int64_t n = LayerCount(o);
  const MicroBatch mb = Corpus(o.spec.seq_len).MakeMicroBatch(0, 0, 2);
  std::vector<Stage> plain = Split(o, {0, n});
  const double loss = RunPipeline(plain, mb, 2);
  std::vector<Stage> hooked = Split(o, {0, n});
  int calls = 0;
  hooked[0].set_between_layers([&] { ++calls; });
  EXPECT_EQ(RunPipeline(hooked, mb, 2), loss);
  EXPECT_EQ(calls, 2 * (n - 1));  // n - 1 gaps, forward and backward
  EXPECT_EQ(Gradients(hooked), Gradients(plain));
  hooked[0].set_between_layers(nullptr);
  hooked[0].ZeroGradients();
  RunPipeline(hooked, mb, 2);
  EXPECT_EQ(calls, 2 * (n - 1));  // cleared: not called again
}

TEST(StageSplitTest, UnevenMicroBatchesAndReplicasMatchTheFullBatch) {
  const GptOptions o = SmallOptions(Granularity::kBlock);
  const MarkovCorpus corpus = Corpus(o.spec.seq_len);
  const int64_t global = 7;
  Stage full(Build(o, 0, LayerCount(o)));
  auto full_loss = RunMicroBatch(full, corpus.MakeMicroBatch(0, 0, global), global);
  ASSERT_TRUE(full_loss.ok());
  std::vector<float> expected;
  full.CopyGradients(&expected);

  // Two data-parallel replicas with uneven shares (4 and 3 samples), each in uneven micro-batches;
  // a SUM allreduce of their gradients must give the full-batch gradient.
  std::vector<float> sum(expected.size(), 0.0f), part;
  double loss = 0;
  int64_t offset = 0, id = 0;
  for (const std::vector<int64_t>& shares : {std::vector<int64_t>{3, 1}, {1, 2}}) {
    Stage replica(Build(o, 0, LayerCount(o)));
    for (int64_t n : shares) {
      auto l = RunMicroBatch(replica, corpus.MakeMicroBatch(id++, offset, n), global);
      ASSERT_TRUE(l.ok());
      loss += *l * static_cast<double>(n) / global;
      offset += n;
    }
    replica.CopyGradients(&part);
    for (size_t i = 0; i < sum.size(); ++i) sum[i] += part[i];
  }
  EXPECT_NEAR(loss, *full_loss, 1e-5);
  // fp32 sums in a different order: |Δ| <= 1e-5 + 1e-4·|g|.
  double worst = 0;
  for (size_t i = 0; i < sum.size(); ++i) {
    worst = std::max(worst, std::abs(sum[i] - expected[i]) / (1e-5 + 1e-4 * std::abs(expected[i])));
  }
  EXPECT_LE(worst, 1.0);
}

TEST(StageSplitTest, OneForwardOneBackwardInterleaving) {
  const GptOptions o = SmallOptions(Granularity::kHalfBlock);
  const MarkovCorpus corpus = Corpus(o.spec.seq_len);
  std::vector<MicroBatch> mbs = {corpus.MakeMicroBatch(0, 0, 2), corpus.MakeMicroBatch(1, 2, 1),
                                 corpus.MakeMicroBatch(2, 3, 2)};
  std::vector<Stage> sequential = Split(o, {0, 3, LayerCount(o)});
  for (const MicroBatch& mb : mbs) RunPipeline(sequential, mb, 5);

  // Two stages; stage 0 runs F0 F1 B0 F2 B1 B2, stage 1 follows as soon as its inputs exist.
  std::vector<Stage> s = Split(o, {0, 3, LayerCount(o)});
  std::vector<Tensor> act(3);
  auto forward = [&](int k) {
    auto a = s[0].Forward(mbs[k], Tensor{});
    ASSERT_TRUE(a.ok());
    act[k] = *a;
  };
  auto backward = [&](int k) {
    ASSERT_TRUE(s[1].Forward(mbs[k], act[k]).ok());
    auto g = s[1].Backward(k, LossGradient(mbs[k].batch, 5));
    ASSERT_TRUE(g.ok());
    ASSERT_TRUE(s[0].Backward(k, *g).ok());
  };
  forward(0);
  forward(1);
  EXPECT_EQ(s[0].layer(0).in_flight(), 2);
  backward(0);
  forward(2);
  backward(1);
  backward(2);
  EXPECT_EQ(s[0].layer(0).in_flight(), 0);
  EXPECT_EQ(Gradients(s), Gradients(sequential));
}

TEST(StageSplitTest, Errors) {
  const GptOptions o = TinyOptions();
  EXPECT_EQ(BuildGptLayers(o, 0, 0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(BuildGptLayers(o, 2, 9).status().code(), absl::StatusCode::kInvalidArgument);
  Stage stage(Build(o, 0, LayerCount(o)));
  MicroBatch mb = testing::RandomMicroBatch(3, 1, 4, o.spec.vocab, 1);
  EXPECT_EQ(stage.Backward(3, LossGradient(1, 1)).status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(stage.Forward(mb, Tensor{}).ok());
  EXPECT_EQ(stage.Forward(mb, Tensor{}).status().code(), absl::StatusCode::kAlreadyExists);
  stage.Discard(3);
  EXPECT_EQ(stage.layer(1).in_flight(), 0);
  mb.inputs[2] = 99;
  EXPECT_EQ(stage.Forward(mb, Tensor{}).status().code(), absl::StatusCode::kInvalidArgument);
  mb.inputs[2] = 1;
  mb.seq_len = 9;  // longer than the position embedding
  EXPECT_EQ(stage.Forward(mb, Tensor{}).status().code(), absl::StatusCode::kInvalidArgument);
  Stage middle(Build(o, 1, 2));
  mb.seq_len = 4;
  EXPECT_EQ(middle.Forward(mb, Tensor::Zeros("", {1, 4, 3})).status().code(),
            absl::StatusCode::kInvalidArgument);
  partitioner::ModelSpec swiglu;
  swiglu.mlp = partitioner::MlpKind::kSwiGlu;
  EXPECT_EQ(GptSpecFromModel(swiglu).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tangram::train
