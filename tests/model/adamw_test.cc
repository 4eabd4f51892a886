// AdamW against a hand-computed step, and a layer's state (parameters + moments + step) moving
// through its byte encoding.
#include <cmath>

#include "gtest/gtest.h"
#include "orchestrator/model/adamw.h"
#include "orchestrator/model/layer_state.h"
#include "orchestrator/model/stage.h"
#include "tests/model/test_util.h"

namespace tangram::train {
namespace {

// A layer with one matrix and one vector parameter and settable gradients.
class FakeLayer : public Layer {
 public:
  FakeLayer() {
    params_ = {Tensor{"w", {1, 2}, {1.0f, -2.0f}}, Tensor{"b", {1}, {0.5f}}};
    grads_ = {Tensor{"w", {1, 2}, {0.1f, -0.3f}}, Tensor{"b", {1}, {2.0f}}};
  }
  const std::string& name() const override { return name_; }
  absl::StatusOr<Tensor> Forward(const MicroBatch&, const Tensor& x) override { return x; }
  absl::StatusOr<Tensor> Backward(int64_t, const Tensor& g) override { return g; }
  void Discard(int64_t) override {}
  int64_t in_flight() const override { return 0; }
  std::vector<Tensor*> parameters() override { return {&params_[0], &params_[1]}; }
  std::vector<Tensor*> gradients() override { return {&grads_[0], &grads_[1]}; }

 private:
  std::string name_ = "fake";
  std::vector<Tensor> params_, grads_;
};

// Reference AdamW for one element, in double.
double Reference(double p, double g, int steps, const AdamWOptions& o, bool decay) {
  double m = 0, v = 0;
  for (int t = 1; t <= steps; ++t) {
    m = o.beta1 * m + (1 - o.beta1) * g;
    v = o.beta2 * v + (1 - o.beta2) * g * g;
    const double mh = m / (1 - std::pow(o.beta1, t)), vh = v / (1 - std::pow(o.beta2, t));
    p -= o.learning_rate * (mh / (std::sqrt(vh) + o.epsilon) + (decay ? o.weight_decay * p : 0));
  }
  return p;
}

TEST(AdamWTest, MatchesHandComputedSteps) {
  AdamWOptions o;
  o.learning_rate = 0.1f;
  o.weight_decay = 0.5f;
  FakeLayer layer;
  AdamState state = NewAdamState(layer);
  // Step 1 by hand for w[0] = 1, g = 0.1: m̂ = 0.1, v̂ = 0.01, update = 0.1/0.1 + 0.5·1 = 1.5.
  ASSERT_TRUE(AdamWStep(o, layer, state).ok());
  EXPECT_NEAR(layer.parameters()[0]->data[0], 1.0 - 0.1 * 1.5, 1e-6);
  // The bias is not decayed: 0.5 - 0.1 · (2/2) = 0.4.
  EXPECT_NEAR(layer.parameters()[1]->data[0], 0.4, 1e-6);
  ASSERT_TRUE(AdamWStep(o, layer, state).ok());
  ASSERT_TRUE(AdamWStep(o, layer, state).ok());
  EXPECT_EQ(state.step, 3);
  EXPECT_NEAR(layer.parameters()[0]->data[1], Reference(-2.0, -0.3, 3, o, true), 1e-5);
  EXPECT_NEAR(layer.parameters()[1]->data[0], Reference(0.5, 2.0, 3, o, false), 1e-5);
  EXPECT_NEAR(state.m[0].data[0], 0.1 * (1 - std::pow(0.9, 3)), 1e-6);
}

TEST(AdamWTest, RejectsMismatchedState) {
  FakeLayer layer;
  AdamState state;
  EXPECT_EQ(AdamWStep({}, layer, state).code(), absl::StatusCode::kInvalidArgument);
}

TEST(LayerStateTest, MovesALayerWithItsOptimizerState) {
  const GptOptions o = testing::TinyOptions();
  Stage from(testing::Build(o, 1, 2));
  testing::Perturb(from.layer(0), 0.1, 3);
  for (Tensor* g : from.layer(0).gradients()) g->data.assign(g->data.size(), 0.01f);
  ASSERT_TRUE(from.Step(AdamWOptions{}).ok());
  const std::string bytes = SerializeLayerState(from.ExportLayer(0));

  Stage to(testing::Build(o, 1, 2));  // freshly initialised on the "other rank"
  auto state = ParseLayerState(bytes, "peer 3");
  ASSERT_TRUE(state.ok()) << state.status();
  ASSERT_TRUE(to.ImportLayer(*state).ok());
  EXPECT_EQ(to.optimizer_state(0).step, 1);
  for (size_t i = 0; i < from.layer(0).parameters().size(); ++i) {
    EXPECT_EQ(to.layer(0).parameters()[i]->data, from.layer(0).parameters()[i]->data);
    EXPECT_EQ(to.optimizer_state(0).v[i].data, from.optimizer_state(0).v[i].data);
  }
  // Truncated or padded bytes are errors naming the source.
  auto truncated = ParseLayerState(bytes.substr(0, bytes.size() - 3), "peer 3");
  EXPECT_EQ(truncated.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(truncated.status().message().find("peer 3"), absl::string_view::npos);
  EXPECT_FALSE(ParseLayerState(bytes + "x", "peer 3").ok());
  // A state for another layer is refused.
  Stage head(testing::Build(o, 3, 4));
  EXPECT_EQ(head.ImportLayer(*state).code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace tangram::train
