// The decoder block of the reference GPT, as two layers (attention half, MLP half) or one.
// Both halves are pre-norm residual: out = x + f(LayerNorm(x)).
#include <cmath>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "orchestrator/model/gpt_layer_base.h"
#include "orchestrator/model/gpt_layers.h"
#include "orchestrator/model/kernels.h"

namespace tangram::train::gpt_internal {
namespace {

// GPT-2 scales the init of the projections that feed the residual stream by 1/√(2L).
double ResidualStddev(const GptSpec& spec) {
  return 0.02 / std::sqrt(2.0 * static_cast<double>(spec.layers));
}

// Column-parallel QKV (this rank's heads: the k-th slice of each of q, k and v), row-parallel
// output projection. With tp = 1 the shards are the whole tensors and nothing is summed.
class Attention final : public GptLayerBase {
 public:
  Attention(const GptSpec& spec, int64_t index, uint64_t seed, TensorParallelGroup* tp)
      : GptLayerBase(absl::StrCat("attention.", index), spec, seed, tp) {
    const std::string p = absl::StrCat("h.", index, ".");
    lnw_ = Add(p + "ln_1.weight", {C()}, 0, 1.0f);
    lnb_ = Add(p + "ln_1.bias", {C()}, 0);
    qkvw_ = Add(p + "attn.c_attn.weight", {3 * C(), C()}, 0.02, 0, {0, 3});
    qkvb_ = Add(p + "attn.c_attn.bias", {3 * C()}, 0, 0, {0, 3});
    projw_ = Add(p + "attn.c_proj.weight", {C(), C()}, ResidualStddev(spec), 0, {1, 1});
    projb_ = Add(p + "attn.c_proj.bias", {C()}, 0);
  }

  absl::StatusOr<Tensor> Forward(const MicroBatch& mb, const Tensor& x) override {
    TANGRAM_RETURN_IF_ERROR(CheckActivation(x, mb, C()));
    const int64_t b = mb.batch, t = mb.seq_len, n = b * t;
    Context ctx{b,
                t,
                x.data,
                std::vector<float>(n * C()),
                std::vector<float>(n),
                std::vector<float>(n),
                std::vector<float>(n * 3 * Cl()),
                std::vector<float>(b * Heads() * t * t),
                std::vector<float>(n * Cl())};
    kernels::LayerNormForward(ctx.ln.data(), ctx.mean.data(), ctx.rstd.data(), x.data.data(),
                              P(lnw_), P(lnb_), n, C());
    kernels::MatmulForward(ctx.qkv.data(), ctx.ln.data(), P(qkvw_), P(qkvb_), n, C(), 3 * Cl());
    kernels::AttentionForward(ctx.atty.data(), ctx.att.data(), ctx.qkv.data(), b, t, Cl(), Heads());
    TANGRAM_ASSIGN_OR_RETURN(
        Tensor out, RowParallelPlusResidual(ctx.atty.data(), projw_, projb_, x, b, t, Cl()));
    TANGRAM_RETURN_IF_ERROR(contexts_.Put(mb.id, std::move(ctx)));
    return out;
  }

  absl::StatusOr<Tensor> Backward(int64_t id, const Tensor& dout) override {
    TANGRAM_ASSIGN_OR_RETURN(Context ctx, contexts_.Take(id));
    const int64_t b = ctx.batch, t = ctx.seq_len, n = b * t;
    TANGRAM_RETURN_IF_ERROR(CheckSize(name_, dout, n * C()));
    Tensor dx = dout;  // the residual path
    dx.shape = {b, t, C()};
    std::vector<float> datty(n * Cl(), 0.0f);
    kernels::MatmulBackward(datty.data(), G(projw_), G(projb_), dout.data.data(), ctx.atty.data(),
                            P(projw_), n, Cl(), C());
    std::vector<float> dqkv(n * 3 * Cl(), 0.0f);
    kernels::AttentionBackward(dqkv.data(), datty.data(), ctx.qkv.data(), ctx.att.data(), b, t,
                               Cl(), Heads());
    std::vector<float> dln(n * C(), 0.0f);
    kernels::MatmulBackward(dln.data(), G(qkvw_), G(qkvb_), dqkv.data(), ctx.ln.data(), P(qkvw_), n,
                            C(), 3 * Cl());
    TANGRAM_RETURN_IF_ERROR(SumOverGroup(dln));
    kernels::LayerNormBackward(dx.data.data(), G(lnw_), G(lnb_), dln.data(), ctx.x.data(), P(lnw_),
                               ctx.mean.data(), ctx.rstd.data(), n, C());
    return dx;
  }

  void Discard(int64_t id) override { contexts_.Discard(id); }
  int64_t in_flight() const override { return contexts_.size(); }
  double ForwardFlopsPerToken(int64_t seq_len) const override {
    // QKV and output projections, then scores and the weighted sum (s² term, as the partitioner);
    // this rank's share of the heads.
    const double c = static_cast<double>(C());
    return (2.0 * 3 * c * c + 2.0 * c * c + 4.0 * static_cast<double>(seq_len) * c) / tp_size();
  }

 private:
  struct Context {
    int64_t batch, seq_len;
    std::vector<float> x, ln, mean, rstd, qkv, att, atty;
  };
  int64_t C() const { return spec_.hidden; }
  int64_t Cl() const { return spec_.hidden / tp_size(); }  // this rank's q (k, v) width
  int64_t Heads() const { return spec_.heads / tp_size(); }
  int lnw_, lnb_, qkvw_, qkvb_, projw_, projb_;
  ContextStore<Context> contexts_;
};

// Column-parallel first linear (this rank's ffn_hidden / tp units), row-parallel second.
class Mlp final : public GptLayerBase {
 public:
  Mlp(const GptSpec& spec, int64_t index, uint64_t seed, TensorParallelGroup* tp)
      : GptLayerBase(absl::StrCat("mlp.", index), spec, seed, tp) {
    const std::string p = absl::StrCat("h.", index, ".");
    lnw_ = Add(p + "ln_2.weight", {C()}, 0, 1.0f);
    lnb_ = Add(p + "ln_2.bias", {C()}, 0);
    fcw_ = Add(p + "mlp.c_fc.weight", {F(), C()}, 0.02, 0, {0, 1});
    fcb_ = Add(p + "mlp.c_fc.bias", {F()}, 0, 0, {0, 1});
    projw_ = Add(p + "mlp.c_proj.weight", {C(), F()}, ResidualStddev(spec), 0, {1, 1});
    projb_ = Add(p + "mlp.c_proj.bias", {C()}, 0);
  }

  absl::StatusOr<Tensor> Forward(const MicroBatch& mb, const Tensor& x) override {
    TANGRAM_RETURN_IF_ERROR(CheckActivation(x, mb, C()));
    const int64_t b = mb.batch, t = mb.seq_len, n = b * t;
    Context ctx{b,
                t,
                x.data,
                std::vector<float>(n * C()),
                std::vector<float>(n),
                std::vector<float>(n),
                std::vector<float>(n * Fl()),
                std::vector<float>(n * Fl())};
    kernels::LayerNormForward(ctx.ln.data(), ctx.mean.data(), ctx.rstd.data(), x.data.data(),
                              P(lnw_), P(lnb_), n, C());
    kernels::MatmulForward(ctx.fc.data(), ctx.ln.data(), P(fcw_), P(fcb_), n, C(), Fl());
    kernels::GeluForward(ctx.gelu.data(), ctx.fc.data(), n * Fl());
    TANGRAM_ASSIGN_OR_RETURN(
        Tensor out, RowParallelPlusResidual(ctx.gelu.data(), projw_, projb_, x, b, t, Fl()));
    TANGRAM_RETURN_IF_ERROR(contexts_.Put(mb.id, std::move(ctx)));
    return out;
  }

  absl::StatusOr<Tensor> Backward(int64_t id, const Tensor& dout) override {
    TANGRAM_ASSIGN_OR_RETURN(Context ctx, contexts_.Take(id));
    const int64_t b = ctx.batch, t = ctx.seq_len, n = b * t;
    TANGRAM_RETURN_IF_ERROR(CheckSize(name_, dout, n * C()));
    Tensor dx = dout;
    dx.shape = {b, t, C()};
    std::vector<float> dgelu(n * Fl(), 0.0f);
    kernels::MatmulBackward(dgelu.data(), G(projw_), G(projb_), dout.data.data(), ctx.gelu.data(),
                            P(projw_), n, Fl(), C());
    std::vector<float> dfc(n * Fl(), 0.0f);
    kernels::GeluBackward(dfc.data(), ctx.fc.data(), dgelu.data(), n * Fl());
    std::vector<float> dln(n * C(), 0.0f);
    kernels::MatmulBackward(dln.data(), G(fcw_), G(fcb_), dfc.data(), ctx.ln.data(), P(fcw_), n,
                            C(), Fl());
    TANGRAM_RETURN_IF_ERROR(SumOverGroup(dln));
    kernels::LayerNormBackward(dx.data.data(), G(lnw_), G(lnb_), dln.data(), ctx.x.data(), P(lnw_),
                               ctx.mean.data(), ctx.rstd.data(), n, C());
    return dx;
  }

  void Discard(int64_t id) override { contexts_.Discard(id); }
  int64_t in_flight() const override { return contexts_.size(); }
  double ForwardFlopsPerToken(int64_t) const override {
    return 2.0 * 2.0 * static_cast<double>(C() * Fl());
  }

 private:
  struct Context {
    int64_t batch, seq_len;
    std::vector<float> x, ln, mean, rstd, fc, gelu;
  };
  int64_t C() const { return spec_.hidden; }
  int64_t F() const { return spec_.ffn_hidden; }
  int64_t Fl() const { return spec_.ffn_hidden / tp_size(); }  // this rank's hidden units
  int lnw_, lnb_, fcw_, fcb_, projw_, projb_;
  ContextStore<Context> contexts_;
};

// A whole block as one layer: the two halves in sequence, under the name "block.i".
class Block final : public Layer {
 public:
  Block(const GptSpec& spec, int64_t index, uint64_t seed, TensorParallelGroup* tp)
      : name_(absl::StrCat("block.", index)),
        attention_(spec, index, seed, tp),
        mlp_(spec, index, seed, tp) {}

  const std::string& name() const override { return name_; }
  absl::StatusOr<Tensor> Forward(const MicroBatch& mb, const Tensor& x) override {
    TANGRAM_ASSIGN_OR_RETURN(Tensor mid, attention_.Forward(mb, x));
    auto out = mlp_.Forward(mb, mid);
    if (!out.ok()) attention_.Discard(mb.id);
    return out;
  }
  absl::StatusOr<Tensor> Backward(int64_t id, const Tensor& dout) override {
    auto dmid = mlp_.Backward(id, dout);
    if (!dmid.ok()) return dmid.status();
    return attention_.Backward(id, *dmid);
  }
  void Discard(int64_t id) override {
    attention_.Discard(id);
    mlp_.Discard(id);
  }
  int64_t in_flight() const override { return attention_.in_flight(); }
  std::vector<Tensor*> parameters() override {
    return Concat(attention_.parameters(), mlp_.parameters());
  }
  std::vector<Tensor*> gradients() override {
    return Concat(attention_.gradients(), mlp_.gradients());
  }
  std::vector<Sharding> parameter_sharding() const override {
    std::vector<Sharding> out = attention_.parameter_sharding();
    for (const Sharding& s : mlp_.parameter_sharding()) out.push_back(s);
    return out;
  }
  double ForwardFlopsPerToken(int64_t seq_len) const override {
    return attention_.ForwardFlopsPerToken(seq_len) + mlp_.ForwardFlopsPerToken(seq_len);
  }

 private:
  static std::vector<Tensor*> Concat(std::vector<Tensor*> a, const std::vector<Tensor*>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  }
  const std::string name_;
  Attention attention_;
  Mlp mlp_;
};

}  // namespace

std::unique_ptr<Layer> NewAttention(const GptSpec& spec, int64_t index, uint64_t seed,
                                    TensorParallelGroup* tp) {
  return std::make_unique<Attention>(spec, index, seed, tp);
}
std::unique_ptr<Layer> NewMlp(const GptSpec& spec, int64_t index, uint64_t seed,
                              TensorParallelGroup* tp) {
  return std::make_unique<Mlp>(spec, index, seed, tp);
}
std::unique_ptr<Layer> NewBlock(const GptSpec& spec, int64_t index, uint64_t seed,
                                TensorParallelGroup* tp) {
  return std::make_unique<Block>(spec, index, seed, tp);
}

}  // namespace tangram::train::gpt_internal
