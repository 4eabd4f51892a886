// The user-facing model API: a Layer is one unit of a model that Tangram places on a pipeline
// stage (see docs/model-api.md). Namespace tangram::train.
//
// A layer maps an input activation to an output activation for one micro-batch and, later, the
// gradient of that output back to the gradient of its input, accumulating the gradients of its
// parameters. Several micro-batches may be in flight at once (1F1B runs the forward of micro-batch
// k+1 before the backward of micro-batch k), so a layer keeps what its backward needs in a context
// keyed by the micro-batch id, created by Forward and consumed by Backward (or dropped by Discard).
//
// Conventions every layer follows:
//   * Activations are Tensors of shape [batch, seq_len, width]. The first layer of a model reads
//     the micro-batch's token ids and receives an empty input; its Backward returns an empty
//     tensor. The last layer reads the targets and returns the micro-batch's mean loss, shape [1].
//   * The last layer's Backward receives grad_output = {loss_scale}: d(objective)/d(micro-batch
//     mean loss). Tangram passes samples_in_micro_batch / global_batch, so that after a SUM
//     allreduce the accumulated gradient is that of the mean loss over the global batch, however
//     unevenly the batch was split (see LossGradient in stage.h).
//   * Backward *adds* into gradients(); the runtime zeroes them after each optimizer step.
//   * parameters() and gradients() list the same tensors' names, shapes and order, for the life
//     of the layer; the pointers stay valid as long as the layer does.
//
// A layer is thread-compatible: one thread drives it (the rank's compute thread).
#ifndef TANGRAM_ORCHESTRATOR_MODEL_LAYER_H_
#define TANGRAM_ORCHESTRATOR_MODEL_LAYER_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "orchestrator/model/sharding.h"
#include "orchestrator/model/tensor.h"

namespace tangram::train {

// One micro-batch of sequences. Every stage receives it (token ids are cheap, and each rank can
// regenerate them from sample indices), so only activations and their gradients cross stages.
struct MicroBatch {
  int64_t id = 0;                // unique among the micro-batches in flight on this stage
  int64_t batch = 0;             // sequences in this micro-batch (may differ between micro-batches)
  int64_t seq_len = 0;           // tokens per sequence
  std::vector<int32_t> inputs;   // [batch * seq_len] token ids
  std::vector<int32_t> targets;  // [batch * seq_len] next-token ids
};

class Layer {
 public:
  virtual ~Layer() = default;

  // A stable name, equal to the partitioner's name for this layer ("embedding", "block.3",
  // "attention.3", "mlp.3", "head"): plans, checkpoints and layer moves refer to layers by it.
  virtual const std::string& name() const = 0;

  // Computes the output for `mb` and keeps what Backward needs under mb.id.
  // Errors: kInvalidArgument for a shape or token id out of range, kAlreadyExists when mb.id is
  // already in flight.
  virtual absl::StatusOr<Tensor> Forward(const MicroBatch& mb, const Tensor& input) = 0;

  // Given d(objective)/d(output) for micro-batch `micro_batch_id`, accumulates parameter
  // gradients and returns d(objective)/d(input); releases the micro-batch's context.
  // Errors: kNotFound when no forward of that id is in flight, kInvalidArgument for a bad shape.
  virtual absl::StatusOr<Tensor> Backward(int64_t micro_batch_id, const Tensor& grad_output) = 0;

  // Drops the context of a micro-batch whose backward will never run (evaluation, abort).
  virtual void Discard(int64_t micro_batch_id) = 0;
  // Micro-batches whose forward ran and whose backward has not.
  virtual int64_t in_flight() const = 0;

  virtual std::vector<Tensor*> parameters() = 0;
  virtual std::vector<Tensor*> gradients() = 0;

  // Tensor parallelism: how each parameter, in parameters() order, is split over the layer's
  // tensor-parallel group (sharding.h). parameters() then hold this rank's shards, named as the
  // whole tensors. Empty (the default): every parameter is whole on every rank. A layer reports
  // its sharding also when built for tp = 1, so that checkpoints of whole tensors can be cut for
  // any tp.
  virtual std::vector<Sharding> parameter_sharding() const { return {}; }

  // Forward FLOPs per token at `seq_len` (2 per multiply-add), for the throughput probe;
  // 0 when unknown.
  virtual double ForwardFlopsPerToken(int64_t seq_len) const {
    (void)seq_len;
    return 0;
  }
};

// Sets every gradient of `layer` to zero.
void ZeroGradients(Layer& layer);

// Per-micro-batch contexts for a layer's implementation: Put in Forward, Take in Backward.
template <typename Context>
class ContextStore {
 public:
  absl::Status Put(int64_t id, Context context) {
    if (!contexts_.emplace(id, std::move(context)).second) {
      return absl::AlreadyExistsError(absl::StrCat("micro-batch ", id, " is already in flight"));
    }
    return absl::OkStatus();
  }
  absl::StatusOr<Context> Take(int64_t id) {
    auto it = contexts_.find(id);
    if (it == contexts_.end()) {
      return absl::NotFoundError(absl::StrCat("no forward of micro-batch ", id, " in flight"));
    }
    Context context = std::move(it->second);
    contexts_.erase(it);
    return context;
  }
  void Discard(int64_t id) { contexts_.erase(id); }
  int64_t size() const { return static_cast<int64_t>(contexts_.size()); }

 private:
  std::map<int64_t, Context> contexts_;
};

}  // namespace tangram::train

#endif  // TANGRAM_ORCHESTRATOR_MODEL_LAYER_H_
