// The CPU kernels of the reference GPT, in the manner of llm.c's train_gpt2.c: plain loops over
// row-major fp32 arrays, with the matrix multiplies handed to OpenBLAS. N = batch * seq_len rows.
// Every backward kernel *accumulates* (+=) into its gradient outputs, as llm.c's do.
//
// OpenBLAS runs single-threaded per rank by default (SetBlasThreads(1), called by
// BuildGptLayers): a rank is one unit of compute in Tangram's plans, and BLAS threads would let a
// rank silently borrow its neighbours' cores. Thread-compatible; no state besides that setting.
#ifndef TANGRAM_ORCHESTRATOR_MODEL_KERNELS_H_
#define TANGRAM_ORCHESTRATOR_MODEL_KERNELS_H_

#include <cstdint>

namespace tangram::train::kernels {

// Sets OpenBLAS's thread count for this process (openblas_set_num_threads).
void SetBlasThreads(int threads);

// out[N, OC] = inp[N, C] · weight[OC, C]ᵀ + bias[OC] (bias may be null).
void MatmulForward(float* out, const float* inp, const float* weight, const float* bias, int64_t n,
                   int64_t c, int64_t oc);
// dinp += dout · weight; dweight += doutᵀ · inp; dbias += Σ_rows dout (dinp and dbias may be null).
void MatmulBackward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                    const float* weight, int64_t n, int64_t c, int64_t oc);

// out = (inp - mean) * rstd * weight + bias per row of C; keeps mean[N] and rstd[N].
void LayerNormForward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                      const float* bias, int64_t n, int64_t c);
void LayerNormBackward(float* dinp, float* dweight, float* dbias, const float* dout,
                       const float* inp, const float* weight, const float* mean, const float* rstd,
                       int64_t n, int64_t c);

// Causal multi-head attention. qkv[B, T, 3C] holds q, k, v (heads contiguous within each);
// out[B, T, C]; att[B, NH, T, T] keeps the softmax for the backward.
void AttentionForward(float* out, float* att, const float* qkv, int64_t b, int64_t t, int64_t c,
                      int64_t nh);
// dqkv += ∂/∂qkv, given dout[B, T, C], qkv and att from the forward.
void AttentionBackward(float* dqkv, const float* dout, const float* qkv, const float* att,
                       int64_t b, int64_t t, int64_t c, int64_t nh);

// GELU, tanh approximation (GPT-2).
void GeluForward(float* out, const float* inp, int64_t n);
void GeluBackward(float* dinp, const float* inp, const float* dout, int64_t n);

// Softmax of logits[N, V] into probs; returns the mean over rows of -log probs[target]
// (accumulated in double).
double SoftmaxCrossEntropyForward(float* probs, const float* logits, const int32_t* targets,
                                  int64_t n, int64_t v);
// dlogits += scale * (probs - onehot(target)).
void SoftmaxCrossEntropyBackward(float* dlogits, const float* probs, const int32_t* targets,
                                 float scale, int64_t n, int64_t v);

}  // namespace tangram::train::kernels

#endif  // TANGRAM_ORCHESTRATOR_MODEL_KERNELS_H_
