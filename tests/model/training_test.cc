// The generated corpus, the serial reference trainer (the loss falls toward the corpus entropy;
// resume equals an uninterrupted run), the throughput probe and the emulated slowdown.
#include <cmath>
#include <filesystem>
#include <vector>

#include "gtest/gtest.h"
#include "orchestrator/model/corpus.h"
#include "orchestrator/model/probe.h"
#include "orchestrator/model/serial_trainer.h"
#include "tests/model/test_util.h"

namespace tangram::train {
namespace {

SerialTrainerOptions SmallRun() {
  SerialTrainerOptions o;
  o.model.spec = {/*vocab=*/256, /*seq_len=*/32,     /*hidden=*/64,
                  /*heads=*/4,   /*ffn_hidden=*/256,
                  /*layers=*/2};
  o.model.seed = 3;
  o.corpus.seq_len = 32;
  o.corpus.alphabet = 32;
  o.corpus.branching = 3;
  o.global_batch = 8;
  o.micro_batch = 3;  // 3 + 3 + 2: uneven on purpose
  o.adamw.learning_rate = 3e-3f;
  return o;
}

TEST(CorpusTest, SamplesAreDeterministicAndFollowTheChain) {
  auto corpus = MarkovCorpus::Create(CorpusOptions{});
  ASSERT_TRUE(corpus.ok());
  const MicroBatch a = corpus->MakeMicroBatch(0, 40, 3);
  const MicroBatch b = corpus->MakeMicroBatch(7, 41, 1);  // sample 41 alone
  EXPECT_EQ(std::vector<int32_t>(a.inputs.begin() + 64, a.inputs.begin() + 128), b.inputs);
  for (int64_t t = 0; t + 1 < 64; ++t) EXPECT_EQ(a.targets[t], a.inputs[t + 1]);
  for (int32_t tok : a.inputs) EXPECT_TRUE(tok >= ' ' && tok < ' ' + 32);
  // Entropy rate: between 0 and log(branching).
  EXPECT_GT(corpus->entropy_rate(), 0.3);
  EXPECT_LT(corpus->entropy_rate(), std::log(4.0));
  // The empirical conditional entropy of a long sample matches the rate.
  CorpusOptions o;
  o.seq_len = 20000;
  auto longer = MarkovCorpus::Create(o);
  const MicroBatch m = longer->MakeMicroBatch(0, 0, 1);
  std::vector<std::vector<double>> counts(256, std::vector<double>(256, 0));
  for (int64_t t = 0; t < o.seq_len; ++t) counts[m.inputs[t]][m.targets[t]] += 1;
  double h = 0;
  for (const auto& row : counts) {
    double total = 0;
    for (double c : row) total += c;
    for (double c : row) {
      if (c > 0) h -= c / o.seq_len * std::log(c / total);
    }
  }
  EXPECT_NEAR(h, longer->entropy_rate(), 0.03);
  EXPECT_FALSE(MarkovCorpus::Create(CorpusOptions{1, 200, 4, 64}).ok());
}

TEST(SerialTrainerTest, LossFallsTowardTheCorpusEntropy) {
  auto trainer = SerialTrainer::Create(SmallRun());
  ASSERT_TRUE(trainer.ok()) << trainer.status();
  const double floor = (*trainer)->corpus().entropy_rate();
  std::vector<double> losses;
  for (int step = 0; step < 60; ++step) {
    auto loss = (*trainer)->Step();
    ASSERT_TRUE(loss.ok()) << loss.status();
    losses.push_back(*loss);
  }
  EXPECT_NEAR(losses.front(), std::log(256.0), 0.3);  // uniform over the vocabulary at init
  const double last = (losses[57] + losses[58] + losses[59]) / 3;
  // From 5.5 nats to within 0.4 nat of the floor (~1.0) in 60 steps (measured: ~0.2 above it),
  // and not below it beyond the sampling noise of 256 tokens per step.
  EXPECT_LT(last, floor + 0.4) << "floor " << floor;
  EXPECT_GT(last, floor - 0.15) << "floor " << floor;
}

TEST(SerialTrainerTest, ResumeEqualsAnUninterruptedRun) {
  const std::string dir =
      (std::filesystem::temp_directory_path() / "tangram_serial_resume").string();
  std::filesystem::remove_all(dir);
  auto straight = SerialTrainer::Create(SmallRun());
  auto first = SerialTrainer::Create(SmallRun());
  ASSERT_TRUE(straight.ok() && first.ok());
  for (int i = 0; i < 4; ++i) ASSERT_TRUE((*straight)->Step().ok());
  for (int i = 0; i < 2; ++i) ASSERT_TRUE((*first)->Step().ok());
  ASSERT_TRUE((*first)->Save(dir).ok());
  // A fresh trainer (another process) resumes from the checkpoint.
  auto second = SerialTrainer::Create(SmallRun());
  auto checkpoint = LoadLatest(dir);
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  ASSERT_TRUE((*second)->Restore(*checkpoint).ok());
  EXPECT_EQ((*second)->step(), 2);
  for (int i = 0; i < 2; ++i) ASSERT_TRUE((*second)->Step().ok());
  for (int64_t l = 0; l < (*straight)->stage().size(); ++l) {
    auto a = (*straight)->stage().layer(l).parameters();
    auto b = (*second)->stage().layer(l).parameters();
    for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i]->data, b[i]->data) << a[i]->name;
  }
  std::filesystem::remove_all(dir);
}

TEST(ProbeTest, ReportsEveryLayerAndLeavesNoState) {
  SerialTrainerOptions o = SmallRun();
  auto layers = BuildGptLayers(o.model, 0, 4);
  ASSERT_TRUE(layers.ok());
  Stage stage(std::move(*layers));
  auto corpus = MarkovCorpus::Create(o.corpus);
  auto probe = ProbeStage(stage, corpus->MakeMicroBatch(0, 0, 2), Tensor{});
  ASSERT_TRUE(probe.ok()) << probe.status();
  ASSERT_EQ(probe->size(), 4u);
  EXPECT_EQ((*probe)[1].layer, "block.0");
  EXPECT_GT((*probe)[1].seconds_per_micro_batch, 0);
  EXPECT_GT((*probe)[1].flops_per_second, 0);
  EXPECT_GT((*probe)[3].flops_per_micro_batch, 0);
  std::vector<float> grads;
  stage.CopyGradients(&grads);
  for (float g : grads) ASSERT_EQ(g, 0.0f);
  EXPECT_EQ(stage.layer(1).in_flight(), 0);
}

// The budget on a fake clock (1 ms a reading): past it every layer stops at its minimum timed
// passes and says so; without one, every layer runs its full count. Kept passes match the count.
TEST(ProbeTest, BudgetStopsEachLayerAtItsMinimumPasses) {
  SerialTrainerOptions o = SmallRun();
  auto layers = BuildGptLayers(o.model, 0, 4);
  ASSERT_TRUE(layers.ok());
  Stage stage(std::move(*layers));
  auto corpus = MarkovCorpus::Create(o.corpus);
  absl::Time now = absl::UnixEpoch();
  ProbeOptions options;
  options.warmup = 1;
  options.iterations = 6;
  options.min_iterations = 2;
  options.keep_passes = true;
  options.now = [&] { return now += absl::Milliseconds(1); };
  options.budget = absl::Milliseconds(1);
  auto cut = ProbeStage(stage, corpus->MakeMicroBatch(0, 0, 2), Tensor{}, options);
  ASSERT_TRUE(cut.ok()) << cut.status();
  ASSERT_EQ(cut->size(), 4u);
  for (const auto& l : *cut) {
    EXPECT_EQ(l.iterations, 2) << l.layer;
    EXPECT_TRUE(l.budget_hit) << l.layer;
    EXPECT_EQ(l.passes.size(), 2u) << l.layer;
    // Each timed pass read the clock three times: 2 ms forward + backward, 1 ms forward.
    EXPECT_NEAR(l.seconds_per_micro_batch, 2e-3, 1e-9) << l.layer;
    EXPECT_NEAR(l.forward_seconds_per_micro_batch, 1e-3, 1e-9) << l.layer;
  }
  options.budget = absl::InfiniteDuration();
  auto full = ProbeStage(stage, corpus->MakeMicroBatch(0, 0, 2), Tensor{}, options);
  ASSERT_TRUE(full.ok()) << full.status();
  for (const auto& l : *full) {
    EXPECT_EQ(l.iterations, 6) << l.layer;
    EXPECT_FALSE(l.budget_hit) << l.layer;
    EXPECT_EQ(l.passes.size(), 6u) << l.layer;
  }
  // A budget the passes fit in changes nothing: a layer takes about 26 readings (26 ms), its
  // share is an eighth of the budget or more.
  options.budget = absl::Seconds(1);
  auto roomy = ProbeStage(stage, corpus->MakeMicroBatch(0, 0, 2), Tensor{}, options);
  ASSERT_TRUE(roomy.ok()) << roomy.status();
  for (const auto& l : *roomy) EXPECT_EQ(l.iterations, 6) << l.layer;
}

TEST(ComputeEmulationTest, StretchesEachPhaseByTheFactor) {
  absl::Time now = absl::UnixEpoch();
  absl::Duration slept = absl::ZeroDuration();
  ComputeEmulation::Options options;
  options.slowdown = 3.0;
  options.now = [&] { return now; };
  options.sleep = [&](absl::Duration d) { slept += d; };
  ComputeEmulation emulation(options);
  ASSERT_TRUE(emulation
                  .Run([&] {
                    now += absl::Milliseconds(10);
                    return absl::OkStatus();
                  })
                  .ok());
  EXPECT_EQ(slept, absl::Milliseconds(20));
  EXPECT_EQ(emulation.measured(), absl::Milliseconds(10));
  EXPECT_NE(emulation.Describe().find("EMULATION"), std::string::npos);
  // A failing phase still reports its status.
  EXPECT_EQ(emulation.Run([] { return absl::InternalError("x"); }).code(),
            absl::StatusCode::kInternal);
  ComputeEmulation none(ComputeEmulation::Options{});
  EXPECT_FALSE(none.active());
}

}  // namespace
}  // namespace tangram::train
