// The first and last layers of the reference GPT: token + position embedding, and the head
// (final LayerNorm, LM head, softmax cross-entropy).
#include <vector>

#include "base/status_macros.h"
#include "orchestrator/model/gpt_layer_base.h"
#include "orchestrator/model/gpt_layers.h"
#include "orchestrator/model/kernels.h"
#include "orchestrator/model/random.h"

namespace tangram::train::gpt_internal {

void InitTensor(Tensor& t, uint64_t seed, double stddev, float constant) {
  if (stddev == 0) {
    for (float& x : t.data) x = constant;
    return;
  }
  Rng rng = Rng::ForKey(seed, t.name);
  for (float& x : t.data) x = static_cast<float>(stddev * rng.Normal());
}

namespace {

absl::Status CheckTokens(const std::string& layer, const MicroBatch& mb,
                         const std::vector<int32_t>& tokens, const char* what, int64_t vocab) {
  if (static_cast<int64_t>(tokens.size()) != mb.batch * mb.seq_len) {
    return absl::InvalidArgumentError(absl::StrCat(layer, ": micro-batch ", mb.id, " has ",
                                                   tokens.size(), " ", what, ", expected ",
                                                   mb.batch * mb.seq_len));
  }
  for (int32_t tok : tokens) {
    if (tok < 0 || tok >= vocab) {
      return absl::InvalidArgumentError(absl::StrCat(layer, ": micro-batch ", mb.id, " has ", what,
                                                     " id ", tok, " outside [0, ", vocab, ")"));
    }
  }
  return absl::OkStatus();
}

class Embedding final : public GptLayerBase {
 public:
  Embedding(const GptSpec& spec, uint64_t seed) : GptLayerBase("embedding", spec, seed) {
    wte_ = Add("wte.weight", {spec.vocab, spec.hidden}, 0.02);
    wpe_ = Add("wpe.weight", {spec.seq_len, spec.hidden}, 0.01);
  }

  absl::StatusOr<Tensor> Forward(const MicroBatch& mb, const Tensor& input) override {
    if (!input.empty()) {
      return absl::InvalidArgumentError("embedding: expects an empty input (it reads token ids)");
    }
    TANGRAM_RETURN_IF_ERROR(CheckMicroBatch(mb));
    TANGRAM_RETURN_IF_ERROR(CheckTokens(name_, mb, mb.inputs, "input", spec_.vocab));
    Tensor out = Tensor::Zeros("", {mb.batch, mb.seq_len, C()});
    for (int64_t b = 0; b < mb.batch; ++b) {
      for (int64_t t = 0; t < mb.seq_len; ++t) {
        const float* tok = P(wte_) + mb.inputs[b * mb.seq_len + t] * C();
        const float* pos = P(wpe_) + t * C();
        float* o = out.data.data() + (b * mb.seq_len + t) * C();
        for (int64_t i = 0; i < C(); ++i) o[i] = tok[i] + pos[i];
      }
    }
    TANGRAM_RETURN_IF_ERROR(contexts_.Put(mb.id, Context{mb.batch, mb.seq_len, mb.inputs}));
    return out;
  }

  absl::StatusOr<Tensor> Backward(int64_t id, const Tensor& dout) override {
    auto ctx = contexts_.Take(id);
    if (!ctx.ok()) return ctx.status();
    TANGRAM_RETURN_IF_ERROR(CheckSize(name_, dout, ctx->batch * ctx->seq_len * C()));
    for (int64_t b = 0; b < ctx->batch; ++b) {
      for (int64_t t = 0; t < ctx->seq_len; ++t) {
        float* dtok = G(wte_) + ctx->tokens[b * ctx->seq_len + t] * C();
        float* dpos = G(wpe_) + t * C();
        const float* d = dout.data.data() + (b * ctx->seq_len + t) * C();
        for (int64_t i = 0; i < C(); ++i) {
          dtok[i] += d[i];
          dpos[i] += d[i];
        }
      }
    }
    return Tensor{};
  }

  void Discard(int64_t id) override { contexts_.Discard(id); }
  int64_t in_flight() const override { return contexts_.size(); }
  double ForwardFlopsPerToken(int64_t) const override { return 0; }

 private:
  struct Context {
    int64_t batch, seq_len;
    std::vector<int32_t> tokens;
  };
  int64_t C() const { return spec_.hidden; }
  int wte_, wpe_;
  ContextStore<Context> contexts_;
};

class Head final : public GptLayerBase {
 public:
  Head(const GptSpec& spec, uint64_t seed) : GptLayerBase("head", spec, seed) {
    lnw_ = Add("ln_f.weight", {spec.hidden}, 0, 1.0f);
    lnb_ = Add("ln_f.bias", {spec.hidden}, 0);
    lm_ = Add("lm_head.weight", {spec.vocab, spec.hidden}, 0.02);
  }

  absl::StatusOr<Tensor> Forward(const MicroBatch& mb, const Tensor& x) override {
    TANGRAM_RETURN_IF_ERROR(CheckActivation(x, mb, C()));
    TANGRAM_RETURN_IF_ERROR(CheckTokens(name_, mb, mb.targets, "target", spec_.vocab));
    const int64_t n = mb.batch * mb.seq_len;
    Context ctx;
    ctx.batch = mb.batch;
    ctx.seq_len = mb.seq_len;
    ctx.n = n;
    ctx.x = x.data;
    ctx.ln.resize(n * C());
    ctx.mean.resize(n);
    ctx.rstd.resize(n);
    ctx.probs.resize(n * V());
    ctx.targets = mb.targets;
    kernels::LayerNormForward(ctx.ln.data(), ctx.mean.data(), ctx.rstd.data(), x.data.data(),
                              P(lnw_), P(lnb_), n, C());
    std::vector<float> logits(n * V());
    kernels::MatmulForward(logits.data(), ctx.ln.data(), P(lm_), nullptr, n, C(), V());
    const double loss = kernels::SoftmaxCrossEntropyForward(ctx.probs.data(), logits.data(),
                                                            ctx.targets.data(), n, V());
    TANGRAM_RETURN_IF_ERROR(contexts_.Put(mb.id, std::move(ctx)));
    Tensor out = Tensor::Zeros("loss", {1});
    out.data[0] = static_cast<float>(loss);
    return out;
  }

  absl::StatusOr<Tensor> Backward(int64_t id, const Tensor& dloss) override {
    auto ctx = contexts_.Take(id);
    if (!ctx.ok()) return ctx.status();
    TANGRAM_RETURN_IF_ERROR(CheckSize(name_, dloss, 1));
    const int64_t n = ctx->n;
    // The loss is the mean over the micro-batch's n tokens.
    const float scale = dloss.data[0] / static_cast<float>(n);
    std::vector<float> dlogits(n * V(), 0.0f);
    kernels::SoftmaxCrossEntropyBackward(dlogits.data(), ctx->probs.data(), ctx->targets.data(),
                                         scale, n, V());
    std::vector<float> dln(n * C(), 0.0f);
    kernels::MatmulBackward(dln.data(), G(lm_), nullptr, dlogits.data(), ctx->ln.data(), P(lm_), n,
                            C(), V());
    Tensor dx = Tensor::Zeros("", {n * C()});
    kernels::LayerNormBackward(dx.data.data(), G(lnw_), G(lnb_), dln.data(), ctx->x.data(), P(lnw_),
                               ctx->mean.data(), ctx->rstd.data(), n, C());
    dx.shape = {ctx->batch, ctx->seq_len, C()};
    return dx;
  }

  void Discard(int64_t id) override { contexts_.Discard(id); }
  int64_t in_flight() const override { return contexts_.size(); }
  double ForwardFlopsPerToken(int64_t) const override {
    return 2.0 * static_cast<double>(C() * V());
  }

 private:
  struct Context {
    int64_t batch = 0, seq_len = 0, n = 0;
    std::vector<float> x, ln, mean, rstd, probs;
    std::vector<int32_t> targets;
  };
  int64_t C() const { return spec_.hidden; }
  int64_t V() const { return spec_.vocab; }
  int lnw_, lnb_, lm_;
  ContextStore<Context> contexts_;
};

}  // namespace

std::unique_ptr<Layer> NewEmbedding(const GptSpec& spec, uint64_t seed) {
  return std::make_unique<Embedding>(spec, seed);
}
std::unique_ptr<Layer> NewHead(const GptSpec& spec, uint64_t seed) {
  return std::make_unique<Head>(spec, seed);
}

}  // namespace tangram::train::gpt_internal
