#include "partitioner/layers.h"

#include "absl/strings/str_cat.h"

namespace tangram::partitioner {

const char* LayerKindName(LayerKind kind) {
  switch (kind) {
    case LayerKind::kEmbedding:
      return "embedding";
    case LayerKind::kBlock:
      return "block";
    case LayerKind::kAttention:
      return "attention";
    case LayerKind::kMlp:
      return "mlp";
    case LayerKind::kHead:
      return "head";
  }
  return "block";
}

int ActivationElementBytes(Precision precision) { return precision == Precision::kFp32 ? 4 : 2; }

namespace {

// One half of a decoder block, before recompute is applied.
struct Half {
  int64_t parameters;
  double forward_flops;    // per token
  double core_flops;       // the attention core (QKᵀ and attention·V), recomputed by selective
  double linear_bytes;     // stored bytes per token that scale with h, hk or f
  double quadratic_bytes;  // stored bytes per token that scale with a·s (attention scores)
};

Half AttentionHalf(const ModelSpec& m, int e, bool flash) {
  const double h = static_cast<double>(m.hidden);
  const double hk = static_cast<double>(m.kv_heads * m.head_dim());
  const double a = static_cast<double>(m.heads);
  const double s = static_cast<double>(m.seq_len);
  Half half;
  half.parameters =
      2 * m.hidden * m.hidden + 2 * m.hidden * m.kv_heads * m.head_dim() + 2 * m.hidden;
  half.core_flops = 4.0 * s * h;
  half.forward_flops = 2.0 * (2 * h * h + 2 * h * hk) + half.core_flops;
  // norm input, QKV input, Q, out-projection input (e each), K and V (e·hk each), dropout mask (1).
  half.linear_bytes = (4.0 * e + 1) * h + 2.0 * e * hk;
  // softmax output and dropout output (e each) and the dropout mask (1) per head and key position;
  // FlashAttention keeps only the fp32 log-sum-exp per head.
  half.quadratic_bytes = flash ? 4.0 * a : a * s * (2.0 * e + 1);
  return half;
}

Half MlpHalf(const ModelSpec& m, int e) {
  const double h = static_cast<double>(m.hidden);
  const double f = static_cast<double>(m.ffn_hidden);
  const int matrices = m.mlp == MlpKind::kSwiGlu ? 3 : 2;
  Half half;
  half.parameters = matrices * m.hidden * m.ffn_hidden + 2 * m.hidden;
  half.core_flops = 0;
  half.forward_flops = 2.0 * matrices * h * f;
  // norm input and first-linear input (e each), dropout mask (1); GELU keeps its input and output
  // (2 tensors of f), SwiGLU its gate, up and product (3 tensors of f).
  half.linear_bytes = (2.0 * e + 1) * h + (m.mlp == MlpKind::kSwiGlu ? 3.0 : 2.0) * e * f;
  half.quadratic_bytes = 0;
  return half;
}

// Folds halves into one layer under the recompute mode.
Layer MakeLayer(std::string name, LayerKind kind, std::initializer_list<Half> halves,
                const ModelSpec& m, Recompute recompute, int e) {
  Layer layer;
  layer.name = std::move(name);
  layer.kind = kind;
  double core = 0, full_bytes = 0, quadratic = 0;
  for (const Half& half : halves) {
    layer.parameters += half.parameters;
    layer.forward_flops_per_token += half.forward_flops;
    core += half.core_flops;
    full_bytes += half.linear_bytes + half.quadratic_bytes;
    quadratic += half.quadratic_bytes;
  }
  layer.backward_flops_per_token = 2 * layer.forward_flops_per_token;
  layer.working_activation_bytes_per_token = full_bytes;
  const int collectives_per_pass = static_cast<int>(halves.size());  // one per half per pass
  layer.tp_collectives = 2 * collectives_per_pass;
  switch (recompute) {
    case Recompute::kNone:
      layer.stored_activation_bytes_per_token = full_bytes;
      break;
    case Recompute::kSelective:
      // Korthikanti §5: recompute only the attention core; its s² activations are not kept.
      layer.stored_activation_bytes_per_token = full_bytes - (m.seq_len > 0 ? quadratic : 0);
      layer.recompute_flops_per_token = core;
      break;
    case Recompute::kFull:
      // Only the layer's input is kept; the whole forward runs again before the backward.
      layer.stored_activation_bytes_per_token = static_cast<double>(e) * m.hidden;
      layer.recompute_flops_per_token = layer.forward_flops_per_token;
      layer.tp_collectives += collectives_per_pass;
      break;
  }
  return layer;
}

}  // namespace

std::vector<Layer> BuildLayers(const ModelSpec& model, const TrainingSpec& training,
                               const LayerOptions& options) {
  const int e = ActivationElementBytes(training.precision);
  const double h = static_cast<double>(model.hidden);
  const double v = static_cast<double>(model.vocab);
  std::vector<Layer> layers;
  layers.reserve(2 * model.layers + 2);

  Layer embedding;
  embedding.name = "embedding";
  embedding.kind = LayerKind::kEmbedding;
  embedding.parameters = model.EmbeddingParameters();
  embedding.stored_activation_bytes_per_token = h;  // the embedding dropout mask
  embedding.working_activation_bytes_per_token = h;
  embedding.tp_collectives = 1;  // vocab-parallel lookup: one allreduce in the forward pass
  layers.push_back(embedding);

  const Half attention = AttentionHalf(model, e, options.flash_attention);
  const Half mlp = MlpHalf(model, e);
  for (int64_t i = 0; i < model.layers; ++i) {
    if (options.granularity == LayerGranularity::kBlock) {
      layers.push_back(MakeLayer(absl::StrCat("block.", i), LayerKind::kBlock, {attention, mlp},
                                 model, training.recompute, e));
    } else {
      layers.push_back(MakeLayer(absl::StrCat("attention.", i), LayerKind::kAttention, {attention},
                                 model, training.recompute, e));
      layers.push_back(
          MakeLayer(absl::StrCat("mlp.", i), LayerKind::kMlp, {mlp}, model, training.recompute, e));
    }
  }

  Layer head;
  head.name = "head";
  head.kind = LayerKind::kHead;
  // Final norm and LM head. A tied head still holds a copy of the embedding on the last stage
  // (Megatron-LM keeps one and allreduces the two gradients), so its parameters are counted here.
  head.parameters = model.vocab * model.hidden + 2 * model.hidden;
  head.forward_flops_per_token = model.HeadForwardFlopsPerToken();
  head.backward_flops_per_token = 2 * head.forward_flops_per_token;
  // Norm input and head input (e each) and the fp32 logits for the cross-entropy: Korthikanti's
  // 4·s·b·h·(1 + V/h) at e = 2.
  head.stored_activation_bytes_per_token = 2.0 * e * h + 4.0 * v;
  head.working_activation_bytes_per_token = head.stored_activation_bytes_per_token;
  head.tp_collectives = 2;
  layers.push_back(head);
  return layers;
}

}  // namespace tangram::partitioner
