// Named flat fp32 tensors: the unit in which layers expose parameters, gradients and optimizer
// state, and in which activations travel between layers and pipeline stages.
//
// A Tensor is plain data (row-major, `shape` for documentation and checks, `data` flat), so that a
// runtime can allreduce a gradient, send an activation or write a checkpoint without knowing what
// the layer does with it. Thread-compatible.
#ifndef TANGRAM_ORCHESTRATOR_MODEL_TENSOR_H_
#define TANGRAM_ORCHESTRATOR_MODEL_TENSOR_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace tangram::train {

struct Tensor {
  std::string name;            // e.g. "h.3.attn.c_attn.weight"; empty for activations
  std::vector<int64_t> shape;  // row-major; the product equals data.size()
  std::vector<float> data;

  // A zero-filled tensor of `shape`.
  static Tensor Zeros(std::string name, std::vector<int64_t> shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    Tensor t;
    t.name = std::move(name);
    t.shape = std::move(shape);
    t.data.assign(static_cast<size_t>(n), 0.0f);
    return t;
  }

  int64_t size() const { return static_cast<int64_t>(data.size()); }
  bool empty() const { return data.empty(); }
  // Rank >= 2 tensors are weight matrices (AdamW decays them); vectors are biases and norms.
  bool is_matrix() const { return shape.size() >= 2; }
};

}  // namespace tangram::train

#endif  // TANGRAM_ORCHESTRATOR_MODEL_TENSOR_H_
