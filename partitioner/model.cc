#include "partitioner/model.h"

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace tangram::partitioner {
namespace {
constexpr int64_t kMaxDim = int64_t{1} << 24;  // 16M: beyond any published model dimension
}  // namespace

int64_t ModelSpec::BlockParameters() const {
  int64_t kv_dim = kv_heads * head_dim();
  int64_t attention = hidden * hidden * 2 + hidden * kv_dim * 2;  // Q, O and K, V projections
  int64_t mlp_params = (mlp == MlpKind::kSwiGlu ? 3 : 2) * hidden * ffn_hidden;
  int64_t norms = 2 * 2 * hidden;  // two norms, scale and bias (bias is 0 for RMSNorm; negligible)
  return attention + mlp_params + norms;
}

int64_t ModelSpec::EmbeddingParameters() const { return vocab * hidden; }

int64_t ModelSpec::HeadParameters() const { return tie_embeddings ? 0 : vocab * hidden; }

int64_t ModelSpec::TotalParameters() const {
  return layers * BlockParameters() + EmbeddingParameters() + HeadParameters() + 2 * hidden;
}

double ModelSpec::BlockForwardFlopsPerToken() const {
  double matmul_params = static_cast<double>(BlockParameters() - 4 * hidden);
  // 2 FLOPs per weight per token, plus QK^T and attention·V: 2·2·s·h per token (full, causal
  // masking not discounted, as Megatron-LM and Korthikanti et al. count it).
  return 2.0 * matmul_params + 4.0 * static_cast<double>(seq_len) * static_cast<double>(hidden);
}

double ModelSpec::HeadForwardFlopsPerToken() const {
  return 2.0 * static_cast<double>(hidden) * static_cast<double>(vocab);
}

double ModelSpec::TrainingFlopsPerToken() const {
  return 3.0 *
         (static_cast<double>(layers) * BlockForwardFlopsPerToken() + HeadForwardFlopsPerToken());
}

absl::StatusOr<ModelSpec> ModelFromDocument(const YamlDocument& doc) {
  TANGRAM_ASSIGN_OR_RETURN(
      YamlMap m, YamlMap::Of(doc.name, doc.root, "",
                             {"name", "layers", "hidden", "ffn_hidden", "heads", "kv_heads",
                              "vocab", "seq_len", "mlp", "tie_embeddings", "dropout", "source"}));
  ModelSpec s;
  ErrorList errors;  // every field is read, so that all errors are reported at once
  s.name = Collect(&errors, m.String("name"));
  s.layers = Collect<int64_t>(&errors, m.Int("layers", 1, 100000), 1);
  s.hidden = Collect<int64_t>(&errors, m.Int("hidden", 1, kMaxDim), 1);
  s.ffn_hidden = Collect<int64_t>(&errors, m.Int("ffn_hidden", 1, kMaxDim), 1);
  s.heads = Collect<int64_t>(&errors, m.Int("heads", 1, 65536), 1);
  s.kv_heads = Collect<int64_t>(&errors, m.Int("kv_heads", 1, 65536), 1);
  s.vocab = Collect<int64_t>(&errors, m.Int("vocab", 1, kMaxDim), 1);
  s.seq_len = Collect<int64_t>(&errors, m.Int("seq_len", 1, kMaxDim), 1);
  std::string mlp = Collect(&errors, m.Enum("mlp", {"gelu", "swiglu"}));
  s.mlp = mlp == "swiglu" ? MlpKind::kSwiGlu : MlpKind::kGelu;
  s.tie_embeddings = Collect(&errors, m.OptionalBool("tie_embeddings")).value_or(false);
  s.dropout = Collect(&errors, m.OptionalBool("dropout")).value_or(true);
  s.source = Collect(&errors, m.OptionalString("source", kMaxPathLength)).value_or("");
  errors.Add(m.RejectUnknownKeys());
  TANGRAM_RETURN_IF_ERROR(errors.ToStatus());
  if (s.hidden % s.heads != 0) {
    errors.Add(m.Error("heads",
                       absl::StrCat("heads (", s.heads, ") must divide hidden (", s.hidden, ")")));
  }
  if (s.heads % s.kv_heads != 0) {
    errors.Add(m.Error(
        "kv_heads", absl::StrCat("kv_heads (", s.kv_heads, ") must divide heads (", s.heads, ")")));
  }
  TANGRAM_RETURN_IF_ERROR(errors.ToStatus());
  return s;
}

absl::StatusOr<ModelSpec> ParseModel(absl::string_view text, const std::string& name) {
  TANGRAM_ASSIGN_OR_RETURN(YamlDocument doc, YamlDocument::Parse(text, name));
  return ModelFromDocument(doc);
}

absl::StatusOr<ModelSpec> LoadModel(const std::string& path) {
  TANGRAM_ASSIGN_OR_RETURN(YamlDocument doc, YamlDocument::LoadFile(path));
  return ModelFromDocument(doc);
}

}  // namespace tangram::partitioner
