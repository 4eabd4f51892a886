#include "partitioner/layers.h"

#include "absl/strings/str_cat.h"

namespace tangram::partitioner {

int ActivationElementBytes(Precision precision) { return precision == Precision::kFp32 ? 4 : 2; }

namespace {

// One half of a decoder block, before recompute is applied. Byte counts come in two parts: the
// part tensor parallelism splits (heads, ffn columns) and the part that every tensor-parallel rank
// holds in full unless sequence parallelism splits it too (norms, dropout, residual adds).
struct Half {
  int64_t parameters;
  double forward_flops;    // per token
  double core_flops;       // the attention core (QKᵀ and attention·V), recomputed by selective
  double linear_bytes;     // stored bytes per token that scale with hk or f (split by tp)
  double shared_bytes;     // stored bytes per token that scale with h (whole on every tp rank)
  double quadratic_bytes;  // stored bytes per token that scale with a·s (attention scores)
  double traffic;          // memory-bound forward traffic per token (reads + writes), split by tp
  double shared_traffic;   // the part of the traffic on h-sized tensors (whole on every tp rank)
  double core_traffic;     // the part of `traffic` in the attention core (recomputed by selective)
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
  // d: the 1-byte dropout mask, kept and written only when the model trains with dropout.
  const double d = m.dropout ? 1.0 : 0.0;
  // Norm input, QKV input (e each) and the dropout mask (d) are h-sized; Q, the out-projection
  // input (e each), K and V (e·hk each) are split by heads.
  half.shared_bytes = (2.0 * e + d) * h;
  half.linear_bytes = 2.0 * e * h + 2.0 * e * hk;
  // Per head and key position: the softmax output (e), and with dropout its output (e) and mask
  // (1); FlashAttention keeps only the fp32 log-sum-exp per head (and regenerates its dropout
  // mask from the RNG state).
  half.quadratic_bytes = flash ? 4.0 * a : a * s * (e + d * (e + 1.0));
  // Memory-bound traffic, as Megatron-LM's kernels move it. h-sized: the norm reads and writes h
  // (2e·h); the fused bias + dropout + residual add reads two tensors of h, writes one and the
  // mask ((3e+d)·h). Per head: the context's transpose to [tokens, h] reads and writes it
  // (2e·h). Unfused attention core, per score: QKᵀ writes it (e), the fused scale-mask-softmax
  // reads and writes it (2e), dropout reads it and writes it with a mask (d·(2e+1)),
  // attention·V reads it (e). FlashAttention keeps the scores on chip: its core is FLOPs only.
  half.core_traffic = flash ? 0.0 : a * s * (4.0 * e + d * (2.0 * e + 1));
  half.shared_traffic = 2.0 * e * h + (3.0 * e + d) * h;
  half.traffic = 2.0 * e * h + half.core_traffic;
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
  const double d = m.dropout ? 1.0 : 0.0;  // the dropout mask, as in AttentionHalf
  // norm input and first-linear input (e each), dropout mask (d) are h-sized; GELU keeps its
  // input and output (2 tensors of f), SwiGLU its gate, up and product (3 tensors of f).
  half.shared_bytes = (2.0 * e + d) * h;
  half.linear_bytes = (m.mlp == MlpKind::kSwiGlu ? 3.0 : 2.0) * e * f;
  half.quadratic_bytes = 0;
  // Norm (2e·h) and bias + dropout + residual add ((3e+d)·h) are h-sized; the fused bias + GELU
  // reads and writes f (2e·f), SwiGLU reads gate and up and writes their product (3e·f).
  half.core_traffic = 0;
  half.shared_traffic = 2.0 * e * h + (3.0 * e + d) * h;
  half.traffic = (m.mlp == MlpKind::kSwiGlu ? 3.0 : 2.0) * e * f;
  return half;
}

// Folds halves into one layer under the recompute mode. With sequence parallelism the h-sized
// parts are split by tp like the rest; without it they stay whole on every tensor-parallel rank.
Layer MakeLayer(std::string name, LayerKind kind, std::initializer_list<Half> halves,
                const ModelSpec& m, const TrainingSpec& training, int e) {
  Layer layer;
  layer.name = std::move(name);
  layer.kind = kind;
  const bool sp = training.sequence_parallel;
  double linear = 0;  // forward FLOPs of the linear layers, whose GEMMs the collectives feed
  double core = 0, split_bytes = 0, shared_bytes = 0, quadratic = 0, core_traffic = 0;
  for (const Half& half : halves) {
    layer.parameters += half.parameters;
    layer.forward_flops_per_token += half.forward_flops;
    layer.forward_bytes_per_token += half.traffic + (sp ? half.shared_traffic : 0);
    layer.forward_shared_bytes_per_token += sp ? 0 : half.shared_traffic;
    core_traffic += half.core_traffic;
    core += half.core_flops;
    linear += half.forward_flops - half.core_flops;
    split_bytes += half.linear_bytes + half.quadratic_bytes + (sp ? half.shared_bytes : 0);
    shared_bytes += sp ? 0 : half.shared_bytes;
    quadratic += half.quadratic_bytes;
  }
  layer.backward_flops_per_token = 2 * layer.forward_flops_per_token;
  layer.working_activation_bytes_per_token = split_bytes;
  layer.working_shared_bytes_per_token = shared_bytes;
  const int collectives_per_pass = static_cast<int>(halves.size());  // one per half per pass
  layer.tp_collectives = 2 * collectives_per_pass;
  layer.tp_overlap_flops_per_token = 3 * linear;  // forward, data-gradient and weight-gradient
  switch (training.recompute) {
    case Recompute::kNone:
      layer.stored_activation_bytes_per_token = split_bytes;
      layer.stored_shared_bytes_per_token = shared_bytes;
      break;
    case Recompute::kSelective:
      // Korthikanti §5: recompute only the attention core; its s² activations are not kept.
      layer.stored_activation_bytes_per_token = split_bytes - (m.seq_len > 0 ? quadratic : 0);
      layer.stored_shared_bytes_per_token = shared_bytes;
      layer.recompute_flops_per_token = core;
      layer.recompute_bytes_per_token = core_traffic;
      break;
    case Recompute::kFull:
      // Only the layer's input is kept; the whole forward runs again before the backward.
      (sp ? layer.stored_activation_bytes_per_token : layer.stored_shared_bytes_per_token) =
          static_cast<double>(e) * m.hidden;
      layer.recompute_flops_per_token = layer.forward_flops_per_token;
      layer.recompute_bytes_per_token = layer.forward_bytes_per_token;
      layer.recompute_shared_bytes_per_token = layer.forward_shared_bytes_per_token;
      layer.tp_collectives += collectives_per_pass;
      layer.tp_overlap_flops_per_token += linear;
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
  const double d = model.dropout ? 1.0 : 0.0;
  embedding.stored_activation_bytes_per_token = d * h;  // the embedding dropout mask
  // Gathers a row of h, then dropout reads it and writes it with a mask.
  embedding.forward_bytes_per_token = (e + d * (2.0 * e + 1)) * h;
  embedding.working_activation_bytes_per_token = d * h;
  embedding.tp_collectives = 1;  // vocab-parallel lookup: one allreduce in the forward pass
  layers.push_back(embedding);

  const Half attention = AttentionHalf(model, e, training.flash_attention);
  const Half mlp = MlpHalf(model, e);
  for (int64_t i = 0; i < model.layers; ++i) {
    if (options.granularity == LayerGranularity::kBlock) {
      layers.push_back(MakeLayer(absl::StrCat("block.", i), LayerKind::kBlock, {attention, mlp},
                                 model, training, e));
    } else {
      layers.push_back(MakeLayer(absl::StrCat("attention.", i), LayerKind::kAttention, {attention},
                                 model, training, e));
      layers.push_back(
          MakeLayer(absl::StrCat("mlp.", i), LayerKind::kMlp, {mlp}, model, training, e));
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
  // Final norm (2e·h); the cross-entropy reads the logits and writes them as fp32 (its softmax
  // is kept for the backward): 2·4·V.
  head.forward_bytes_per_token = 2.0 * e * h + 8.0 * v;
  head.tp_collectives = 2;
  head.tp_overlap_flops_per_token = 3 * head.forward_flops_per_token;  // the LM head's GEMMs
  layers.push_back(head);
  return layers;
}

}  // namespace tangram::partitioner
