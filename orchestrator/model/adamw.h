// AdamW (Loshchilov & Hutter 2019, as torch.optim.AdamW) on a layer's flat fp32 tensors.
//
// The state is per layer (one AdamState per Layer, moments named as the parameters), so a layer
// moves between ranks, or into a checkpoint, together with its optimizer state (layer_state.h).
// Per element, at step t (1-based):
//   m = β1·m + (1-β1)·g;   v = β2·v + (1-β2)·g²
//   p -= lr · ( m/(1-β1ᵗ) / (√(v/(1-β2ᵗ)) + ε)  +  λ·p )     (λ only on matrices:
//   Tensor::is_matrix)
// Norm gains and biases are not decayed, as in GPT-2 / nanoGPT. Thread-compatible.
#ifndef TANGRAM_ORCHESTRATOR_MODEL_ADAMW_H_
#define TANGRAM_ORCHESTRATOR_MODEL_ADAMW_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "orchestrator/model/layer.h"
#include "orchestrator/model/tensor.h"

namespace tangram::train {

struct AdamWOptions {
  float learning_rate = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float epsilon = 1e-8f;
  float weight_decay = 0.0f;
};

struct AdamState {
  int64_t step = 0;       // updates applied so far
  std::vector<Tensor> m;  // first moments, named and shaped as the parameters
  std::vector<Tensor> v;  // second moments
};

// Zero moments matching `layer`'s parameters.
AdamState NewAdamState(Layer& layer);

// One update of `layer`'s parameters from its current gradients (which it leaves in place).
// kInvalidArgument when `state` does not match the layer's parameters.
absl::Status AdamWStep(const AdamWOptions& options, Layer& layer, AdamState& state);

}  // namespace tangram::train

#endif  // TANGRAM_ORCHESTRATOR_MODEL_ADAMW_H_
