// Finite-difference gradient checks: every layer kind of the reference GPT, and the whole model.
//
// The objective is J = Σ output ⊙ R for a fixed random R (the loss itself times g for the head),
// so Backward(R) must give ∂J/∂parameters and ∂J/∂input. Central differences in fp32 with
// step h = 1e-2 and J accumulated in double; the check passes when, for every element,
//   |analytic - numeric| <= 2e-3 + 3e-2 · |numeric|
// (fp32 rounding of J over ~100 outputs is ~1e-6 relative, ÷ 2h ≈ 1e-4 absolute; the O(h²)
// truncation of these smooth functions stays well below the tolerance).
#include <algorithm>
#include <cmath>
#include <functional>
#include <string>

#include "gtest/gtest.h"
#include "orchestrator/model/gpt.h"
#include "orchestrator/model/stage.h"
#include "tests/model/test_util.h"

namespace tangram::train {
namespace {

using testing::Perturb;
using testing::RandomMicroBatch;
using testing::RandomTensor;
using testing::TinyOptions;

constexpr double kStep = 1e-2;
constexpr double kAbsTol = 2e-3;
constexpr double kRelTol = 3e-2;

double Dot(const Tensor& y, const Tensor& r) {
  double s = 0;
  for (int64_t i = 0; i < y.size(); ++i) s += static_cast<double>(y.data[i]) * r.data[i];
  return s;
}

// Checks every element of `value` (a parameter or the input) by central differences of `objective`.
void CheckElements(const std::string& what, std::vector<float>& value,
                   const std::vector<float>& analytic, const std::function<double()>& objective) {
  ASSERT_EQ(value.size(), analytic.size()) << what;
  int bad = 0;
  double largest = 0;
  for (size_t i = 0; i < value.size(); ++i) {
    const float saved = value[i];
    value[i] = saved + static_cast<float>(kStep);
    const double plus = objective();
    value[i] = saved - static_cast<float>(kStep);
    const double minus = objective();
    value[i] = saved;
    const double numeric = (plus - minus) / (2 * kStep);
    largest = std::max(largest, std::abs(numeric));
    if (std::abs(analytic[i] - numeric) > kAbsTol + kRelTol * std::abs(numeric) && bad++ < 5) {
      ADD_FAILURE() << what << "[" << i << "]: analytic " << analytic[i] << ", numeric " << numeric;
    }
  }
  // The check is meaningful only if the objective actually depends on the tensor.
  EXPECT_GT(largest, 1e-2) << what << ": all numeric gradients are ~0";
}

// Gradient check of a stage (one layer or many) whose output is an activation or the loss.
void CheckStage(Stage& stage, const MicroBatch& mb, Tensor input, int64_t hidden) {
  for (int64_t i = 0; i < stage.size(); ++i) Perturb(stage.layer(i), 0.3, 100 + i);
  // The output weights R (or the loss gradient g for the head).
  auto probe = stage.Forward(mb, input);
  ASSERT_TRUE(probe.ok()) << probe.status();
  stage.Discard(mb.id);
  const Tensor r = probe->size() == 1 ? LossGradient(3, 4)  // g = 0.75
                                      : RandomTensor(probe->shape, 1.0, 99);
  int64_t next_id = 1000;
  auto objective = [&]() -> double {
    MicroBatch m = mb;
    m.id = next_id++;
    auto y = stage.Forward(m, input);
    EXPECT_TRUE(y.ok()) << y.status();
    stage.Discard(m.id);
    return y.ok() ? Dot(*y, r) : 0.0;
  };

  stage.ZeroGradients();
  ASSERT_TRUE(stage.Forward(mb, input).ok());
  auto dx = stage.Backward(mb.id, r);
  ASSERT_TRUE(dx.ok()) << dx.status();
  for (int64_t l = 0; l < stage.size(); ++l) {
    Layer& layer = stage.layer(l);
    std::vector<Tensor*> params = layer.parameters();
    std::vector<Tensor*> grads = layer.gradients();
    ASSERT_EQ(params.size(), grads.size());
    for (size_t i = 0; i < params.size(); ++i) {
      EXPECT_EQ(params[i]->name, grads[i]->name);
      CheckElements(layer.name() + "/" + params[i]->name, params[i]->data, grads[i]->data,
                    objective);
    }
  }
  if (!input.empty()) {
    ASSERT_EQ(dx->size(), input.size());
    CheckElements(stage.layer(0).name() + "/input", input.data, dx->data, objective);
  } else {
    EXPECT_TRUE(dx->empty());
  }
  (void)hidden;
  EXPECT_EQ(stage.layer(0).in_flight(), 0);
}

Stage OneLayer(const GptOptions& o, int64_t index) {
  return Stage(testing::Build(o, index, index + 1));
}

TEST(GradientCheckTest, Embedding) {
  const GptOptions o = TinyOptions();
  Stage stage = OneLayer(o, 0);
  ASSERT_EQ(stage.layer(0).name(), "embedding");
  CheckStage(stage, RandomMicroBatch(1, 2, 4, o.spec.vocab, 5), Tensor{}, o.spec.hidden);
}

TEST(GradientCheckTest, AttentionHalf) {
  const GptOptions o = TinyOptions(Granularity::kHalfBlock);
  Stage stage = OneLayer(o, 3);
  ASSERT_EQ(stage.layer(0).name(), "attention.1");
  CheckStage(stage, RandomMicroBatch(1, 2, 4, o.spec.vocab, 5), RandomTensor({2, 4, 8}, 1.0, 6),
             o.spec.hidden);
}

TEST(GradientCheckTest, MlpHalf) {
  const GptOptions o = TinyOptions(Granularity::kHalfBlock);
  Stage stage = OneLayer(o, 2);
  ASSERT_EQ(stage.layer(0).name(), "mlp.0");
  CheckStage(stage, RandomMicroBatch(1, 2, 4, o.spec.vocab, 5), RandomTensor({2, 4, 8}, 1.0, 6),
             o.spec.hidden);
}

TEST(GradientCheckTest, Block) {
  const GptOptions o = TinyOptions();
  Stage stage = OneLayer(o, 1);
  ASSERT_EQ(stage.layer(0).name(), "block.0");
  CheckStage(stage, RandomMicroBatch(1, 2, 5, o.spec.vocab, 5), RandomTensor({2, 5, 8}, 1.0, 6),
             o.spec.hidden);
}

TEST(GradientCheckTest, Head) {
  const GptOptions o = TinyOptions();
  Stage stage = OneLayer(o, 3);
  ASSERT_EQ(stage.layer(0).name(), "head");
  CheckStage(stage, RandomMicroBatch(1, 2, 4, o.spec.vocab, 5), RandomTensor({2, 4, 8}, 1.0, 6),
             o.spec.hidden);
}

TEST(GradientCheckTest, WholeModel) {
  const GptOptions o = TinyOptions(Granularity::kHalfBlock);
  Stage stage(testing::Build(o, 0, testing::LayerCount(o)));
  CheckStage(stage, RandomMicroBatch(1, 2, 5, o.spec.vocab, 8), Tensor{}, o.spec.hidden);
}

}  // namespace
}  // namespace tangram::train
