// Internal to the reference model: what its layers share — the name, parameter and gradient
// storage, and the activation shape check.
#ifndef TANGRAM_ORCHESTRATOR_MODEL_GPT_LAYER_BASE_H_
#define TANGRAM_ORCHESTRATOR_MODEL_GPT_LAYER_BASE_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "orchestrator/model/gpt_layers.h"
#include "orchestrator/model/kernels.h"
#include "orchestrator/model/layer.h"

namespace tangram::train::gpt_internal {

class GptLayerBase : public Layer {
 public:
  const std::string& name() const override { return name_; }
  std::vector<Tensor*> parameters() override { return Pointers(params_); }
  std::vector<Tensor*> gradients() override { return Pointers(grads_); }
  std::vector<Sharding> parameter_sharding() const override { return sharding_; }

 protected:
  GptLayerBase(std::string name, const GptSpec& spec, uint64_t seed,
               TensorParallelGroup* tp = nullptr)
      : name_(std::move(name)), spec_(spec), seed_(seed), tp_(tp) {}

  // Adds parameter `name` of whole `shape`, initialised as InitTensor does, then cut to this
  // rank's shard under `sharding`, with a zero gradient. Call only from constructors (after a
  // successful CheckTensorParallel): returns an index into params_ / grads_.
  int Add(std::string name, std::vector<int64_t> shape, double stddev, float constant = 0.0f,
          Sharding sharding = {}) {
    Tensor p = Tensor::Zeros(std::move(name), std::move(shape));
    InitTensor(p, seed_, stddev, constant);
    if (tp_size() > 1 && !sharding.replicated()) p = *SliceShard(p, sharding, tp_size(), tp_rank());
    grads_.push_back(Tensor::Zeros(p.name, p.shape));
    params_.push_back(std::move(p));
    sharding_.push_back(sharding);
    return static_cast<int>(params_.size()) - 1;
  }
  int tp_size() const { return tp_ == nullptr ? 1 : tp_->size(); }
  int tp_rank() const { return tp_ == nullptr ? 0 : tp_->rank(); }
  // Sums a partial result over the tensor-parallel group (nothing to do at tp 1).
  absl::Status SumOverGroup(std::vector<float>& data) {
    if (tp_size() == 1) return absl::OkStatus();
    absl::Status s = tp_->AllReduceSum(data.data(), static_cast<int64_t>(data.size()));
    if (!s.ok())
      return absl::Status(s.code(),
                          absl::StrCat(name_, ": tensor-parallel allreduce: ", s.message()));
    return s;
  }
  // A block's row-parallel output: x + Σ over the tensor-parallel group of input[n × k] ·
  // W[k × C] + bias. The bias joins on tp rank 0 only, so that the group's sum holds it once.
  absl::StatusOr<Tensor> RowParallelPlusResidual(const float* input, int weight, int bias,
                                                 const Tensor& x, int64_t b, int64_t t, int64_t k) {
    const int64_t n = b * t, c = spec_.hidden;
    Tensor out = Tensor::Zeros("", {b, t, c});
    kernels::MatmulForward(out.data.data(), input, P(weight), tp_rank() == 0 ? P(bias) : nullptr, n,
                           k, c);
    if (absl::Status s = SumOverGroup(out.data); !s.ok()) return s;
    for (int64_t i = 0; i < n * c; ++i) out.data[i] += x.data[i];
    return out;
  }
  float* P(int i) { return params_[i].data.data(); }
  float* G(int i) { return grads_[i].data.data(); }

  // OK when the micro-batch's shape fits the model.
  absl::Status CheckMicroBatch(const MicroBatch& mb) const {
    if (mb.batch <= 0 || mb.seq_len <= 0 || mb.seq_len > spec_.seq_len) {
      return absl::InvalidArgumentError(absl::StrCat(name_, ": micro-batch ", mb.id, " has batch ",
                                                     mb.batch, " and seq_len ", mb.seq_len,
                                                     " (model seq_len ", spec_.seq_len, ")"));
    }
    return absl::OkStatus();
  }
  // OK when `x` is an activation of shape [mb.batch, mb.seq_len, width].
  absl::Status CheckActivation(const Tensor& x, const MicroBatch& mb, int64_t width) const {
    if (absl::Status s = CheckMicroBatch(mb); !s.ok()) return s;
    if (x.size() != mb.batch * mb.seq_len * width) {
      return absl::InvalidArgumentError(absl::StrCat(name_, ": input of micro-batch ", mb.id,
                                                     " has ", x.size(), " values, expected ",
                                                     mb.batch, "x", mb.seq_len, "x", width));
    }
    return absl::OkStatus();
  }

  const std::string name_;
  const GptSpec spec_;
  const uint64_t seed_;
  TensorParallelGroup* const tp_;  // not owned; nullptr = tp 1
  std::vector<Tensor> params_;
  std::vector<Tensor> grads_;
  std::vector<Sharding> sharding_;

 private:
  static std::vector<Tensor*> Pointers(std::vector<Tensor>& ts) {
    std::vector<Tensor*> out;
    for (Tensor& t : ts) out.push_back(&t);
    return out;
  }
};

inline absl::Status CheckSize(const std::string& layer, const Tensor& t, int64_t expected) {
  if (t.size() == expected) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(layer, ": gradient has ", t.size(), " values, expected ", expected));
}

}  // namespace tangram::train::gpt_internal

#endif  // TANGRAM_ORCHESTRATOR_MODEL_GPT_LAYER_BASE_H_
