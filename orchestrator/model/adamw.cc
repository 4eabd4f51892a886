#include "orchestrator/model/adamw.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace tangram::train {

AdamState NewAdamState(Layer& layer) {
  AdamState state;
  for (const Tensor* p : layer.parameters()) {
    state.m.push_back(Tensor::Zeros(p->name, p->shape));
    state.v.push_back(Tensor::Zeros(p->name, p->shape));
  }
  return state;
}

absl::Status AdamWStep(const AdamWOptions& o, Layer& layer, AdamState& state) {
  std::vector<Tensor*> params = layer.parameters();
  std::vector<Tensor*> grads = layer.gradients();
  if (state.m.size() != params.size() || state.v.size() != params.size() ||
      grads.size() != params.size()) {
    return absl::InvalidArgumentError(absl::StrCat(layer.name(), ": optimizer state has ",
                                                   state.m.size(), " tensors, layer has ",
                                                   params.size()));
  }
  const int64_t t = state.step + 1;
  const double correction1 = 1.0 - std::pow(static_cast<double>(o.beta1), static_cast<double>(t));
  const double correction2 = 1.0 - std::pow(static_cast<double>(o.beta2), static_cast<double>(t));
  for (size_t i = 0; i < params.size(); ++i) {
    Tensor& p = *params[i];
    const Tensor& g = *grads[i];
    Tensor& m = state.m[i];
    Tensor& v = state.v[i];
    if (m.name != p.name || m.size() != p.size() || v.size() != p.size() || g.size() != p.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat(layer.name(), ": optimizer state for ", m.name, " does not match ", p.name));
    }
    const float decay = p.is_matrix() ? o.weight_decay : 0.0f;
    for (int64_t j = 0; j < p.size(); ++j) {
      m.data[j] = o.beta1 * m.data[j] + (1.0f - o.beta1) * g.data[j];
      v.data[j] = o.beta2 * v.data[j] + (1.0f - o.beta2) * g.data[j] * g.data[j];
      const double m_hat = m.data[j] / correction1;
      const double v_hat = v.data[j] / correction2;
      const double update = m_hat / (std::sqrt(v_hat) + o.epsilon) + decay * p.data[j];
      p.data[j] -= static_cast<float>(o.learning_rate * update);
    }
  }
  state.step = t;
  return absl::OkStatus();
}

}  // namespace tangram::train
