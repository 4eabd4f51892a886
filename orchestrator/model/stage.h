// A Stage is a contiguous run of a model's layers — what one pipeline rank executes — together
// with each layer's AdamW state. It chains the layers' Forward and Backward for one micro-batch at
// a time (several may be in flight), exposes the gradients as one flat vector for a data-parallel
// allreduce, and steps the optimizer. Thread-compatible: one thread drives a stage.
//
// A runtime's step on one rank, for its micro-batches k of the global batch G:
//   out_k  = stage.Forward(mb_k, input_k)          // input_k: received, or empty on stage 0
//            ... send out_k to the next stage (on the last stage out_k is the loss, shape [1])
//   grad_k = stage.Backward(k, grad_out_k)          // last stage: LossGradient(mb_k.batch, G)
//            ... send grad_k to the previous stage (empty on stage 0)
//   stage.CopyGradients(&flat); allreduce(SUM, flat); stage.SetGradients(flat);
//   stage.Step(adamw); stage.ZeroGradients();
#ifndef TANGRAM_ORCHESTRATOR_MODEL_STAGE_H_
#define TANGRAM_ORCHESTRATOR_MODEL_STAGE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "orchestrator/model/adamw.h"
#include "orchestrator/model/layer.h"
#include "orchestrator/model/layer_state.h"

namespace tangram::train {

// The gradient the last stage's Backward starts from for a micro-batch of `samples` sequences in
// a global batch of `global_batch`: {samples / global_batch}. Summed over every micro-batch of
// every replica, the parameter gradients are those of the mean loss over the global batch.
Tensor LossGradient(int64_t samples, int64_t global_batch);

class Stage {
 public:
  // Takes the layers, in model order, with fresh (zero) optimizer state.
  explicit Stage(std::vector<std::unique_ptr<Layer>> layers);

  int64_t size() const { return static_cast<int64_t>(layers_.size()); }
  Layer& layer(int64_t i) { return *layers_[i]; }
  std::vector<std::string> layer_names() const;

  // Called between two layers of every Forward and Backward (not before the first nor after the
  // last); empty = none. The training runtime progresses its pipeline sends here
  // (Communicator::Progress).
  void set_between_layers(std::function<void()> hook) { between_layers_ = std::move(hook); }

  // Runs mb through every layer; returns the last layer's output. On error, drops mb's contexts.
  absl::StatusOr<Tensor> Forward(const MicroBatch& mb, const Tensor& input);
  // Runs the backward of micro-batch `id` through the layers in reverse, accumulating gradients;
  // returns the gradient of the stage's input (empty when the stage starts with the embedding).
  absl::StatusOr<Tensor> Backward(int64_t id, const Tensor& grad_output);
  void Discard(int64_t id);

  void ZeroGradients();
  // Number of gradient (= parameter) values in the stage.
  int64_t gradient_size();
  // All gradients, layer by layer in each layer's order, into one flat vector (resized).
  void CopyGradients(std::vector<float>* flat);
  // The inverse of CopyGradients. kInvalidArgument when the size differs.
  absl::Status SetGradients(absl::Span<const float> flat);

  // One AdamW update of every layer (gradients are left in place; call ZeroGradients next).
  absl::Status Step(const AdamWOptions& options);
  AdamState& optimizer_state(int64_t i) { return optimizer_[i]; }

  // The training state of layer i, to send to another rank or to checkpoint.
  LayerState ExportLayer(int64_t i);
  // Loads a state into the stage's layer of the same name. kNotFound when there is none.
  absl::Status ImportLayer(const LayerState& state);

 private:
  std::vector<std::unique_ptr<Layer>> layers_;
  std::vector<AdamState> optimizer_;
  std::function<void()> between_layers_;
};

}  // namespace tangram::train

#endif  // TANGRAM_ORCHESTRATOR_MODEL_STAGE_H_
