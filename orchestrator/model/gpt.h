// The built-in reference model: a small GPT-2-style decoder on the CPU in fp32 (llm.c's
// architecture: token + position embedding, pre-norm blocks of causal self-attention and a GELU
// MLP, final LayerNorm, untied LM head, softmax cross-entropy), built on the Layer API.
//
// Its layer list is the partitioner's (partitioner/layers.h, BuildLayers), same order and names,
// so a plan's stage range [layer_begin, layer_end) applies to it directly:
//   kBlock:     embedding, block.0 .. block.{L-1}, head                    (L + 2 layers)
//   kHalfBlock: embedding, attention.0, mlp.0, .. attention.{L-1}, mlp.{L-1}, head  (2L + 2)
// Parameter names follow GPT-2 ("wte.weight", "h.3.attn.c_attn.weight", "ln_f.bias", ...).
//
// Tensor parallelism (GptOptions::tensor_parallel, Megatron-LM style): inside a decoder block the
// QKV projection (heads split) and the first MLP linear are column-parallel, the attention output
// projection and the second MLP linear row-parallel; their partial outputs are summed over the
// group in the forward pass, the gradient of the column-parallel linears' input in the backward
// pass. Norms, the row-parallel linears' biases, the embedding and the head stay whole on every
// rank: they see identical inputs and compute identical gradients.
//
// Initial weights are a function of (seed, parameter name) only (GPT-2's scheme: N(0, 0.02),
// residual projections N(0, 0.02/√(2L)), norms 1 and 0, biases 0), so every rank builds the same
// weights for a layer whatever the partition, the granularity or the order of construction.
#ifndef TANGRAM_ORCHESTRATOR_MODEL_GPT_H_
#define TANGRAM_ORCHESTRATOR_MODEL_GPT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "orchestrator/model/layer.h"
#include "partitioner/model.h"

namespace tangram::train {

struct GptSpec {
  int64_t vocab = 256;   // byte-level
  int64_t seq_len = 64;  // the longest sequence (rows of the position embedding)
  int64_t hidden = 128;
  int64_t heads = 4;
  int64_t ffn_hidden = 512;
  int64_t layers = 4;  // decoder blocks
};

// The reference model's shape from a model config (configs/models/*.yaml). kInvalidArgument for
// what the reference model does not implement: kv_heads != heads, SwiGLU, tied embeddings.
absl::StatusOr<GptSpec> GptSpecFromModel(const partitioner::ModelSpec& model);

enum class Granularity { kBlock, kHalfBlock };  // as partitioner::LayerGranularity

struct GptOptions {
  GptSpec spec;
  Granularity granularity = Granularity::kBlock;
  uint64_t seed = 1;
  // OpenBLAS threads for this process. 1 by default: one rank is one unit of compute.
  int blas_threads = 1;
  // The tensor-parallel group this rank's blocks are sharded over; nullptr = tp 1. Not owned: it
  // must outlive the layers.
  TensorParallelGroup* tensor_parallel = nullptr;
};

// OK when the model's blocks can be sharded over `tp` ranks (heads and ffn_hidden divide by tp);
// kFailedPrecondition naming the numbers otherwise.
absl::Status CheckTensorParallel(const GptSpec& spec, int tp);

// The names of the model's layers, in order (the partitioner's list).
std::vector<std::string> GptLayerNames(const GptSpec& spec, Granularity granularity);

// Builds layers [begin, end) of the model, initialised from options.seed, and sets OpenBLAS to
// options.blas_threads. kInvalidArgument for an invalid spec or range.
absl::StatusOr<std::vector<std::unique_ptr<Layer>>> BuildGptLayers(const GptOptions& options,
                                                                   int64_t begin, int64_t end);

}  // namespace tangram::train

#endif  // TANGRAM_ORCHESTRATOR_MODEL_GPT_H_
