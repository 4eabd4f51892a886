// A transformer model's shape (configs/models/*.yaml) and the closed-form counts derived from it.
//
// Counts follow the GPT/Llama decoder: token embedding, `layers` decoder blocks (attention with
// grouped-query K/V when kv_heads < heads, then a GELU or SwiGLU MLP, each behind a norm), a final
// norm and the LM head. FLOPs count matrix multiplies as 2 FLOPs per multiply-add and include
// attention's s² term (Korthikanti et al. 2022). Plain data; thread-compatible.
#ifndef TANGRAM_PARTITIONER_MODEL_H_
#define TANGRAM_PARTITIONER_MODEL_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "partitioner/yaml_reader.h"

namespace tangram::partitioner {

enum class MlpKind { kGelu, kSwiGlu };

struct ModelSpec {
  std::string name;
  int64_t layers = 0;
  int64_t hidden = 0;
  int64_t ffn_hidden = 0;
  int64_t heads = 0;
  int64_t kv_heads = 0;
  int64_t vocab = 0;
  int64_t seq_len = 0;
  MlpKind mlp = MlpKind::kGelu;
  bool tie_embeddings = false;
  std::string source;
  // Whether training applies dropout (embedding, attention probabilities, after the attention
  // and MLP output projections), so that a 1-byte mask per element is kept for the backward and
  // written by the forward. false for recipes that train with dropout probability 0 (Llama,
  // Nemotron-4): PyTorch's dropout at p = 0 returns its input and keeps no mask
  // (aten/src/ATen/native/Dropout.cpp, _dropout_impl), and Llama's reference code has no dropout
  // module. Korthikanti et al.'s 34·s·b·h counts the masks (GPT at p = 0.1).
  bool dropout = true;

  int64_t head_dim() const { return hidden / heads; }
  // Parameters of one decoder block (attention, MLP, two norms).
  int64_t BlockParameters() const;
  // Parameters of the embedding (and of the LM head when not tied).
  int64_t EmbeddingParameters() const;
  int64_t HeadParameters() const;  // 0 when tied to the embedding
  int64_t TotalParameters() const;
  // Forward FLOPs per token of one decoder block at sequence length seq_len (s² term included).
  double BlockForwardFlopsPerToken() const;
  // Forward FLOPs per token of the LM head (2·h·V).
  double HeadForwardFlopsPerToken() const;
  // Model FLOPs per token of one training step (forward + backward = 3× forward; no recompute).
  double TrainingFlopsPerToken() const;
};

absl::StatusOr<ModelSpec> LoadModel(const std::string& path);
absl::StatusOr<ModelSpec> ParseModel(absl::string_view text, const std::string& name);
absl::StatusOr<ModelSpec> ModelFromDocument(const YamlDocument& doc);

}  // namespace tangram::partitioner

#endif  // TANGRAM_PARTITIONER_MODEL_H_
