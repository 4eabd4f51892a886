// Internal to the reference model (gpt.cc): one factory per layer kind. Each layer initialises its
// parameters from (seed, parameter name); see gpt.h.
#ifndef TANGRAM_ORCHESTRATOR_MODEL_GPT_LAYERS_H_
#define TANGRAM_ORCHESTRATOR_MODEL_GPT_LAYERS_H_

#include <cstdint>
#include <memory>
#include <string>

#include "orchestrator/model/gpt.h"
#include "orchestrator/model/layer.h"

namespace tangram::train::gpt_internal {

// Fills `t` from the keyed stream (seed, t.name): N(0, stddev), or `constant` when stddev is 0.
void InitTensor(Tensor& t, uint64_t seed, double stddev, float constant = 0.0f);

std::unique_ptr<Layer> NewEmbedding(const GptSpec& spec, uint64_t seed);
// Block `index`: the attention half, the MLP half, or both as one layer, sharded over `tp`
// (nullptr = whole; the caller has checked CheckTensorParallel).
std::unique_ptr<Layer> NewAttention(const GptSpec& spec, int64_t index, uint64_t seed,
                                    TensorParallelGroup* tp);
std::unique_ptr<Layer> NewMlp(const GptSpec& spec, int64_t index, uint64_t seed,
                              TensorParallelGroup* tp);
std::unique_ptr<Layer> NewBlock(const GptSpec& spec, int64_t index, uint64_t seed,
                                TensorParallelGroup* tp);
std::unique_ptr<Layer> NewHead(const GptSpec& spec, uint64_t seed);

}  // namespace tangram::train::gpt_internal

#endif  // TANGRAM_ORCHESTRATOR_MODEL_GPT_LAYERS_H_
