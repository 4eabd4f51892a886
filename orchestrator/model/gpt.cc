#include "orchestrator/model/gpt.h"

#include "absl/strings/str_cat.h"
#include "orchestrator/model/gpt_layers.h"
#include "orchestrator/model/heap.h"
#include "orchestrator/model/kernels.h"

namespace tangram::train {
namespace {

absl::Status ValidateSpec(const GptSpec& s) {
  if (s.vocab <= 0 || s.seq_len <= 0 || s.hidden <= 0 || s.heads <= 0 || s.ffn_hidden <= 0 ||
      s.layers <= 0) {
    return absl::InvalidArgumentError("GPT spec: every dimension must be positive");
  }
  if (s.hidden % s.heads != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("GPT spec: hidden ", s.hidden, " is not divisible by heads ", s.heads));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckTensorParallel(const GptSpec& spec, int tp) {
  if (tp < 1) return absl::FailedPreconditionError(absl::StrCat("tensor parallelism tp=", tp));
  if (spec.heads % tp != 0 || spec.ffn_hidden % tp != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("tensor parallelism tp=", tp, " needs the model's heads (", spec.heads,
                     ") and ffn_hidden (", spec.ffn_hidden,
                     ") to be divisible by tp: choose a tp that divides ", "both"));
  }
  return absl::OkStatus();
}

absl::StatusOr<GptSpec> GptSpecFromModel(const partitioner::ModelSpec& m) {
  if (m.kv_heads != 0 && m.kv_heads != m.heads) {
    return absl::InvalidArgumentError(absl::StrCat(
        "model ", m.name, ": the reference GPT has no grouped-query attention (kv_heads ",
        m.kv_heads, " != heads ", m.heads, ")"));
  }
  if (m.mlp != partitioner::MlpKind::kGelu) {
    return absl::InvalidArgumentError(
        absl::StrCat("model ", m.name, ": the reference GPT has a GELU MLP only"));
  }
  if (m.tie_embeddings) {
    return absl::InvalidArgumentError(
        absl::StrCat("model ", m.name, ": the reference GPT has an untied LM head"));
  }
  GptSpec spec{m.vocab, m.seq_len, m.hidden, m.heads, m.ffn_hidden, m.layers};
  if (absl::Status s = ValidateSpec(spec); !s.ok()) return s;
  return spec;
}

std::vector<std::string> GptLayerNames(const GptSpec& spec, Granularity granularity) {
  std::vector<std::string> names = {"embedding"};
  for (int64_t i = 0; i < spec.layers; ++i) {
    if (granularity == Granularity::kBlock) {
      names.push_back(absl::StrCat("block.", i));
    } else {
      names.push_back(absl::StrCat("attention.", i));
      names.push_back(absl::StrCat("mlp.", i));
    }
  }
  names.push_back("head");
  return names;
}

absl::StatusOr<std::vector<std::unique_ptr<Layer>>> BuildGptLayers(const GptOptions& options,
                                                                   int64_t begin, int64_t end) {
  const GptSpec& spec = options.spec;
  if (absl::Status s = ValidateSpec(spec); !s.ok()) return s;
  const int64_t count = static_cast<int64_t>(GptLayerNames(spec, options.granularity).size());
  if (begin < 0 || end > count || begin >= end) {
    return absl::InvalidArgumentError(
        absl::StrCat("layer range [", begin, ", ", end, ") is not within [0, ", count, ")"));
  }
  TensorParallelGroup* tp = options.tensor_parallel;
  if (tp != nullptr) {
    if (tp->rank() < 0 || tp->rank() >= tp->size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor-parallel rank ", tp->rank(), " of ", tp->size()));
    }
    if (absl::Status s = CheckTensorParallel(spec, tp->size()); !s.ok()) return s;
  }
  // Explicit, per rank: see kernels.h for why one thread is the default.
  kernels::SetBlasThreads(options.blas_threads);
  // Freed activations stay in the process: the rate must not depend on the heap's history (heap.h).
  KeepFreedMemory();
  std::vector<std::unique_ptr<Layer>> layers;
  for (int64_t i = begin; i < end; ++i) {
    if (i == 0) {
      layers.push_back(gpt_internal::NewEmbedding(spec, options.seed));
    } else if (i == count - 1) {
      layers.push_back(gpt_internal::NewHead(spec, options.seed));
    } else if (options.granularity == Granularity::kBlock) {
      layers.push_back(gpt_internal::NewBlock(spec, i - 1, options.seed, tp));
    } else if ((i - 1) % 2 == 0) {
      layers.push_back(gpt_internal::NewAttention(spec, (i - 1) / 2, options.seed, tp));
    } else {
      layers.push_back(gpt_internal::NewMlp(spec, (i - 1) / 2, options.seed, tp));
    }
  }
  return layers;
}

}  // namespace tangram::train
