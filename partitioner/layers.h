// The layer list the partitioner cuts into pipeline stages, built from transformer hyperparameters.
//
// A model becomes: an embedding layer, one layer per decoder block (or, at LayerGranularity::
// kHalfBlock, its attention and MLP halves as two layers), and a head layer (final norm + LM head).
// Each layer carries what the cost model needs per token of one micro-batch:
//   * forward FLOPs (matrix multiplies at 2 FLOPs per multiply-add, attention's s² term included,
//     grouped-query K/V counted with kv_heads), backward FLOPs (2× forward), and the extra forward
//     FLOPs that activation recompute adds;
//   * parameters;
//   * activation bytes kept for the backward pass under the chosen recompute mode, counted term by
//     term as Korthikanti et al. 2022 (arXiv 2205.05198, §4) count them, generalised to GQA, SwiGLU
//     and an arbitrary ffn_hidden (docs/partitioner.md derives each term).
// All counts are for one device without tensor parallelism; the cost model divides by tp all but
// the *_shared_* counts: without sequence parallelism the h-sized tensors (norms, dropout,
// residual adds) are whole on every tensor-parallel rank (Korthikanti's 10·s·b·h term).
//
// Plain data; thread-compatible.
#ifndef TANGRAM_PARTITIONER_LAYERS_H_
#define TANGRAM_PARTITIONER_LAYERS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "partitioner/model.h"
#include "partitioner/training.h"

namespace tangram::partitioner {

enum class LayerKind { kEmbedding, kBlock, kAttention, kMlp, kHead };
enum class LayerGranularity { kBlock, kHalfBlock };

struct Layer {
  std::string name;  // "embedding", "block.3", "attention.3", "mlp.3", "head"
  LayerKind kind = LayerKind::kBlock;
  int64_t parameters = 0;
  double forward_flops_per_token = 0;    // model FLOPs
  double backward_flops_per_token = 0;   // 2× forward
  double recompute_flops_per_token = 0;  // extra hardware FLOPs under the recompute mode
  // Bytes per token that the forward pass moves through device memory in memory-bound kernels
  // (norms, bias + activation, bias + dropout + residual add, softmax and dropout of unfused
  // attention, the cross-entropy), counted from the layer's shapes; the backward pass moves
  // 2× these (it reads the saved input and the incoming gradient and writes a gradient), and
  // recompute repeats the part of the forward it re-runs. docs/partitioner.md derives each term.
  double forward_bytes_per_token = 0;
  double forward_shared_bytes_per_token = 0;
  double recompute_bytes_per_token = 0;
  double recompute_shared_bytes_per_token = 0;
  // Bytes kept per token for the backward pass, under the recompute mode.
  double stored_activation_bytes_per_token = 0;
  double stored_shared_bytes_per_token = 0;
  // Bytes per token the layer holds while its backward runs (its full activations; under full
  // recompute these exist for one layer of one micro-batch at a time).
  double working_activation_bytes_per_token = 0;
  double working_shared_bytes_per_token = 0;
  // Tensor-parallel collectives (allreduce, or reduce-scatter + allgather under sequence
  // parallelism) per micro-batch over its activations, forward + backward (+ recompute).
  int tp_collectives = 0;
  // FLOPs per token of the GEMMs those collectives feed or drain (the linear layers; not the
  // attention core), forward + backward (+ recompute): what tp_comm_overlap hides them behind.
  double tp_overlap_flops_per_token = 0;
};

struct LayerOptions {
  LayerGranularity granularity = LayerGranularity::kBlock;
};

// Bytes per activation element (2 for bf16/fp16, 4 for fp32).
int ActivationElementBytes(Precision precision);

// The layer list of `model` trained under `training` (precision, recompute, attention kernel and
// sequence parallelism). Never empty:
// embedding, model.layers blocks (or 2× halves), head.
std::vector<Layer> BuildLayers(const ModelSpec& model, const TrainingSpec& training,
                               const LayerOptions& options = {});

}  // namespace tangram::partitioner

#endif  // TANGRAM_PARTITIONER_LAYERS_H_
