#include "orchestrator/model/kernels.h"

#include <cblas.h>

#include <cmath>
#include <vector>

namespace tangram::train::kernels {

void SetBlasThreads(int threads) { openblas_set_num_threads(threads < 1 ? 1 : threads); }

void MatmulForward(float* out, const float* inp, const float* weight, const float* bias, int64_t n,
                   int64_t c, int64_t oc) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, oc, c, 1.0f, inp, c, weight, c, 0.0f, out,
              oc);
  if (bias == nullptr) return;
  for (int64_t i = 0; i < n; ++i) {
    float* row = out + i * oc;
    for (int64_t o = 0; o < oc; ++o) row[o] += bias[o];
  }
}

void MatmulBackward(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                    const float* weight, int64_t n, int64_t c, int64_t oc) {
  if (dinp != nullptr) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, c, oc, 1.0f, dout, oc, weight, c,
                1.0f, dinp, c);
  }
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, oc, c, n, 1.0f, dout, oc, inp, c, 1.0f,
              dweight, c);
  if (dbias == nullptr) return;
  for (int64_t i = 0; i < n; ++i) {
    const float* row = dout + i * oc;
    for (int64_t o = 0; o < oc; ++o) dbias[o] += row[o];
  }
}

void LayerNormForward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                      const float* bias, int64_t n, int64_t c) {
  constexpr float kEps = 1e-5f;
  for (int64_t i = 0; i < n; ++i) {
    const float* x = inp + i * c;
    double m = 0;
    for (int64_t j = 0; j < c; ++j) m += x[j];
    m /= static_cast<double>(c);
    double var = 0;
    for (int64_t j = 0; j < c; ++j) var += (x[j] - m) * (x[j] - m);
    var /= static_cast<double>(c);
    const float s = static_cast<float>(1.0 / std::sqrt(var + kEps));
    const float mf = static_cast<float>(m);
    float* y = out + i * c;
    for (int64_t j = 0; j < c; ++j) y[j] = (x[j] - mf) * s * weight[j] + bias[j];
    mean[i] = mf;
    rstd[i] = s;
  }
}

void LayerNormBackward(float* dinp, float* dweight, float* dbias, const float* dout,
                       const float* inp, const float* weight, const float* mean, const float* rstd,
                       int64_t n, int64_t c) {
  for (int64_t i = 0; i < n; ++i) {
    const float* dy = dout + i * c;
    const float* x = inp + i * c;
    float* dx = dinp + i * c;
    // Two reductions: the mean of dnorm and the mean of dnorm * norm (llm.c's layernorm_backward).
    float dnorm_mean = 0, dnorm_norm_mean = 0;
    for (int64_t j = 0; j < c; ++j) {
      const float norm = (x[j] - mean[i]) * rstd[i];
      const float dnorm = weight[j] * dy[j];
      dnorm_mean += dnorm;
      dnorm_norm_mean += dnorm * norm;
    }
    dnorm_mean /= static_cast<float>(c);
    dnorm_norm_mean /= static_cast<float>(c);
    for (int64_t j = 0; j < c; ++j) {
      const float norm = (x[j] - mean[i]) * rstd[i];
      const float dnorm = weight[j] * dy[j];
      dbias[j] += dy[j];
      dweight[j] += norm * dy[j];
      dx[j] += (dnorm - dnorm_mean - norm * dnorm_norm_mean) * rstd[i];
    }
  }
}

void AttentionForward(float* out, float* att, const float* qkv, int64_t b, int64_t t, int64_t c,
                      int64_t nh) {
  const int64_t hs = c / nh;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hs));
  for (int64_t bi = 0; bi < b; ++bi) {
    for (int64_t h = 0; h < nh; ++h) {
      for (int64_t i = 0; i < t; ++i) {
        const float* q = qkv + (bi * t + i) * 3 * c + h * hs;
        float* a = att + ((bi * nh + h) * t + i) * t;
        // Scores against keys 0..i (causal), then a numerically stable softmax.
        float max = -INFINITY;
        for (int64_t j = 0; j <= i; ++j) {
          const float* k = qkv + (bi * t + j) * 3 * c + c + h * hs;
          float s = 0;
          for (int64_t d = 0; d < hs; ++d) s += q[d] * k[d];
          a[j] = s * scale;
          if (a[j] > max) max = a[j];
        }
        float sum = 0;
        for (int64_t j = 0; j <= i; ++j) {
          a[j] = std::exp(a[j] - max);
          sum += a[j];
        }
        const float inv = 1.0f / sum;
        for (int64_t j = 0; j < t; ++j) a[j] = j <= i ? a[j] * inv : 0.0f;
        float* o = out + (bi * t + i) * c + h * hs;
        for (int64_t d = 0; d < hs; ++d) o[d] = 0;
        for (int64_t j = 0; j <= i; ++j) {
          const float* v = qkv + (bi * t + j) * 3 * c + 2 * c + h * hs;
          for (int64_t d = 0; d < hs; ++d) o[d] += a[j] * v[d];
        }
      }
    }
  }
}

void AttentionBackward(float* dqkv, const float* dout, const float* qkv, const float* att,
                       int64_t b, int64_t t, int64_t c, int64_t nh) {
  const int64_t hs = c / nh;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hs));
  std::vector<float> datt(static_cast<size_t>(t));
  for (int64_t bi = 0; bi < b; ++bi) {
    for (int64_t h = 0; h < nh; ++h) {
      for (int64_t i = 0; i < t; ++i) {
        const float* a = att + ((bi * nh + h) * t + i) * t;
        const float* dy = dout + (bi * t + i) * c + h * hs;
        // out_i = Σ_j a_ij v_j: gradients to a_ij and v_j.
        for (int64_t j = 0; j <= i; ++j) {
          const float* v = qkv + (bi * t + j) * 3 * c + 2 * c + h * hs;
          float* dv = dqkv + (bi * t + j) * 3 * c + 2 * c + h * hs;
          float s = 0;
          for (int64_t d = 0; d < hs; ++d) {
            s += v[d] * dy[d];
            dv[d] += a[j] * dy[d];
          }
          datt[j] = s;
        }
        // Softmax backward: dpre_j = a_j (datt_j - Σ_k a_k datt_k).
        float dot = 0;
        for (int64_t j = 0; j <= i; ++j) dot += a[j] * datt[j];
        const float* q = qkv + (bi * t + i) * 3 * c + h * hs;
        float* dq = dqkv + (bi * t + i) * 3 * c + h * hs;
        for (int64_t j = 0; j <= i; ++j) {
          const float dpre = a[j] * (datt[j] - dot) * scale;
          const float* k = qkv + (bi * t + j) * 3 * c + c + h * hs;
          float* dk = dqkv + (bi * t + j) * 3 * c + c + h * hs;
          for (int64_t d = 0; d < hs; ++d) {
            dq[d] += dpre * k[d];
            dk[d] += dpre * q[d];
          }
        }
      }
    }
  }
}

namespace {
constexpr float kGeluScale = 0.7978845608028654f;  // sqrt(2 / pi)
}  // namespace

void GeluForward(float* out, const float* inp, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float x = inp[i];
    out[i] = 0.5f * x * (1.0f + std::tanh(kGeluScale * (x + 0.044715f * x * x * x)));
  }
}

void GeluBackward(float* dinp, const float* inp, const float* dout, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float x = inp[i];
    const float u = kGeluScale * (x + 0.044715f * x * x * x);
    const float th = std::tanh(u);
    const float sech2 = 1.0f - th * th;
    const float grad =
        0.5f * (1.0f + th) + 0.5f * x * sech2 * kGeluScale * (1.0f + 3.0f * 0.044715f * x * x);
    dinp[i] += grad * dout[i];
  }
}

double SoftmaxCrossEntropyForward(float* probs, const float* logits, const int32_t* targets,
                                  int64_t n, int64_t v) {
  double loss = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float* z = logits + i * v;
    float* p = probs + i * v;
    float max = z[0];
    for (int64_t j = 1; j < v; ++j) max = z[j] > max ? z[j] : max;
    double sum = 0;
    for (int64_t j = 0; j < v; ++j) {
      p[j] = std::exp(z[j] - max);
      sum += p[j];
    }
    const float inv = static_cast<float>(1.0 / sum);
    for (int64_t j = 0; j < v; ++j) p[j] *= inv;
    // log p_target from the logits directly: exact even where p underflows.
    loss -= static_cast<double>(z[targets[i]] - max) - std::log(sum);
  }
  return loss / static_cast<double>(n);
}

void SoftmaxCrossEntropyBackward(float* dlogits, const float* probs, const int32_t* targets,
                                 float scale, int64_t n, int64_t v) {
  for (int64_t i = 0; i < n; ++i) {
    const float* p = probs + i * v;
    float* d = dlogits + i * v;
    for (int64_t j = 0; j < v; ++j) d[j] += scale * (p[j] - (j == targets[i] ? 1.0f : 0.0f));
  }
}

}  // namespace tangram::train::kernels
