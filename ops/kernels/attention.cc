// Fused attention (attention.h): argument checks and the dispatch of the tiled Highway kernels
// of attention-inl.h and attention_backward-inl.h (compiled for every target through
// foreach_target.h, one exported wrapper per function and dtype, one HWY_DYNAMIC_DISPATCH per
// call), and the scalar reference: one query row at a time with a score buffer of tk elements,
// used by the tests and the benchmark.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "taesan/ops/kernels/attention.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "taesan/ops/kernels/attention-inl.h"
#include "taesan/ops/kernels/attention_backward-inl.h"

HWY_BEFORE_NAMESPACE();
namespace taesan::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// One wrapper per function and dtype (Highway 1.0.3 has no HWY_EXPORT_T).
void AttentionForwardF32(const AttentionParams& p, const float* q, const float* k, const float* v,
                         float* out, float* lse) {
  attn::Forward(hn::ScalableTag<float>(), p, q, k, v, out, lse);
}
void AttentionForwardF64(const AttentionParams& p, const double* q, const double* k,
                         const double* v, double* out, double* lse) {
  attn::Forward(hn::ScalableTag<double>(), p, q, k, v, out, lse);
}
void AttentionBackwardF32(const AttentionParams& p, const float* q, const float* k, const float* v,
                          const float* out, const float* dout, const float* lse, float* dq,
                          float* dk, float* dv) {
  attn::Backward(hn::ScalableTag<float>(), p, q, k, v, out, dout, lse, dq, dk, dv);
}
void AttentionBackwardF64(const AttentionParams& p, const double* q, const double* k,
                          const double* v, const double* out, const double* dout, const double* lse,
                          double* dq, double* dk, double* dv) {
  attn::Backward(hn::ScalableTag<double>(), p, q, k, v, out, dout, lse, dq, dk, dv);
}

}  // namespace taesan::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <limits>
#include <vector>

#include "taesan/core/error.h"
#include "taesan/core/parallel.h"
#include "taesan/ops/kernels/attention.h"

namespace taesan::kernels {

HWY_EXPORT(AttentionForwardF32);
HWY_EXPORT(AttentionForwardF64);
HWY_EXPORT(AttentionBackwardF32);
HWY_EXPORT(AttentionBackwardF64);

namespace {

// Sizes must be non-negative, layouts non-negative and every buffer with elements non-null.
struct Buf {
  const void* ptr;
  AttentionLayout layout;
  int64_t t_len, width;
  const char* name;
};

void check_params(const char* fn, const AttentionParams& p, std::initializer_list<Buf> bufs) {
  TS_CHECK(p.batch >= 0 && p.heads >= 0 && p.tq >= 0 && p.tk >= 0 && p.d >= 0 && p.dv >= 0,
           "{}: sizes must be >= 0, got batch={} heads={} tq={} tk={} d={} dv={}", fn, p.batch,
           p.heads, p.tq, p.tk, p.d, p.dv);
  for (const Buf& b : bufs) {
    const int64_t elems = p.batch * p.heads * b.t_len * b.width;
    TS_CHECK(b.ptr != nullptr || elems == 0,
             "{}: {} is null but holds {} elements (batch={} heads={} tq={} tk={} d={} dv={})", fn,
             b.name, elems, p.batch, p.heads, p.tq, p.tk, p.d, p.dv);
    TS_CHECK(b.layout.sb >= 0 && b.layout.sh >= 0 && b.layout.st >= 0,
             "{}: the layout of {} must have non-negative strides, got sb={} sh={} st={}", fn,
             b.name, b.layout.sb, b.layout.sh, b.layout.st);
    TS_CHECK(b.layout.is_default() || b.t_len <= 1 || b.layout.st >= b.width,
             "{}: rows of {} overlap: row stride {} < width {}", fn, b.name, b.layout.st, b.width);
  }
}

template <typename T>
void check_forward(const char* fn, const AttentionParams& p, const T* q, const T* k, const T* v,
                   const T* out, const T* lse) {
  check_params(fn, p,
               {{q, p.q_layout, p.tq, p.d, "q"},
                {k, p.k_layout, p.tk, p.d, "k"},
                {v, p.v_layout, p.tk, p.dv, "v"},
                {out, p.out_layout, p.tq, p.dv, "out"},
                {lse, {}, p.tq, 1, "lse"}});
}

template <typename T>
void check_backward(const char* fn, const AttentionParams& p, const T* q, const T* k, const T* v,
                    const T* out, const T* dout, const T* lse, const T* dq, const T* dk,
                    const T* dv) {
  check_params(fn, p,
               {{q, p.q_layout, p.tq, p.d, "q"},
                {k, p.k_layout, p.tk, p.d, "k"},
                {v, p.v_layout, p.tk, p.dv, "v"},
                {out, p.out_layout, p.tq, p.dv, "out"},
                {dout, p.dout_layout, p.tq, p.dv, "dout"},
                {lse, {}, p.tq, 1, "lse"},
                {dq, p.dq_layout, p.tq, p.d, "dq"},
                {dk, p.dk_layout, p.tk, p.d, "dk"},
                {dv, p.dv_layout, p.tk, p.dv, "dv"}});
}

}  // namespace

void attention_forward(const AttentionParams& p, const float* q, const float* k, const float* v,
                       float* out, float* lse) {
  check_forward("attention_forward", p, q, k, v, out, lse);
  HWY_DYNAMIC_DISPATCH(AttentionForwardF32)(p, q, k, v, out, lse);
}
void attention_forward(const AttentionParams& p, const double* q, const double* k, const double* v,
                       double* out, double* lse) {
  check_forward("attention_forward", p, q, k, v, out, lse);
  HWY_DYNAMIC_DISPATCH(AttentionForwardF64)(p, q, k, v, out, lse);
}
void attention_backward(const AttentionParams& p, const float* q, const float* k, const float* v,
                        const float* out, const float* dout, const float* lse, float* dq, float* dk,
                        float* dv) {
  check_backward("attention_backward", p, q, k, v, out, dout, lse, dq, dk, dv);
  HWY_DYNAMIC_DISPATCH(AttentionBackwardF32)(p, q, k, v, out, dout, lse, dq, dk, dv);
}
void attention_backward(const AttentionParams& p, const double* q, const double* k, const double* v,
                        const double* out, const double* dout, const double* lse, double* dq,
                        double* dk, double* dv) {
  check_backward("attention_backward", p, q, k, v, out, dout, lse, dq, dk, dv);
  HWY_DYNAMIC_DISPATCH(AttentionBackwardF64)(p, q, k, v, out, dout, lse, dq, dk, dv);
}

namespace reference {
namespace {

// Row t of head (b, h) of an operand (see AttentionLayout).
template <typename T>
T* row(T* base, const AttentionLayout& l, const AttentionParams& p, int64_t t_len, int64_t width,
       int64_t b, int64_t h, int64_t t) {
  return base + row_offset(l, p.heads, t_len, width, b, h, t);
}

template <typename T>
T mask_at(const AttentionParams& p, int64_t b, int64_t h, int64_t i, int64_t j) {
  if (!p.mask) return T(0);
  const T* m = static_cast<const T*>(p.mask);
  return m[b * p.mask_sb + h * p.mask_sh + i * p.mask_si + j * p.mask_sj];
}

// Scores of row i (scaled, masked) into s[0..tk); returns the row max (-inf if all masked).
template <typename T>
T score_row(const AttentionParams& p, const T* q, const T* k, int64_t b, int64_t h, int64_t i,
            T* s) {
  const T neg_inf = -std::numeric_limits<T>::infinity();
  const T* qi = row(q, p.q_layout, p, p.tq, p.d, b, h, i);
  T mx = neg_inf;
  for (int64_t j = 0; j < p.tk; ++j) {
    if (p.causal && j > i) {
      s[j] = neg_inf;
      continue;
    }
    const T* kj = row(k, p.k_layout, p, p.tk, p.d, b, h, j);
    T dot = 0;
    for (int64_t c = 0; c < p.d; ++c) dot += qi[c] * kj[c];
    s[j] = dot * static_cast<T>(p.scale) + mask_at<T>(p, b, h, i, j);
    if (s[j] > mx) mx = s[j];
  }
  return mx;
}

template <typename T>
void forward(const AttentionParams& p, const T* q, const T* k, const T* v, T* out, T* lse) {
  const int64_t rows = p.batch * p.heads * p.tq;
  parallel_for(rows, 16, [&](int64_t r0, int64_t r1) {
    std::vector<T> s(p.tk);
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t bh = r / p.tq, i = r % p.tq, b = bh / p.heads, h = bh % p.heads;
      T* o = row(out, p.out_layout, p, p.tq, p.dv, b, h, i);
      for (int64_t c = 0; c < p.dv; ++c) o[c] = 0;
      T mx = score_row(p, q, k, b, h, i, s.data());
      if (mx == -std::numeric_limits<T>::infinity()) {
        lse[r] = mx;
        continue;
      }
      T sum = 0;
      for (int64_t j = 0; j < p.tk; ++j) sum += (s[j] = std::exp(s[j] - mx));
      const T inv = T(1) / sum;
      for (int64_t j = 0; j < p.tk; ++j) {
        if (s[j] == T(0)) continue;
        const T w = s[j] * inv;
        const T* vj = row(v, p.v_layout, p, p.tk, p.dv, b, h, j);
        for (int64_t c = 0; c < p.dv; ++c) o[c] += w * vj[c];
      }
      lse[r] = mx + std::log(sum);
    }
  });
}

// P_ij = exp(s_ij - lse_i);  dP_ij = dout_i · v_j;  dS_ij = P_ij (dP_ij - D_i);
// D_i = dout_i · out_i;  dq_i = scale sum_j dS_ij k_j;  dk_j = scale sum_i dS_ij q_i;
// dv_j = sum_i P_ij dout_i
template <typename T>
void backward(const AttentionParams& p, const T* q, const T* k, const T* v, const T* out,
              const T* dout, const T* lse, T* dq, T* dk, T* dv) {
  const T scale = static_cast<T>(p.scale);
  const int64_t bhs = p.batch * p.heads;
  parallel_for(bhs, 1, [&](int64_t bh0, int64_t bh1) {
    std::vector<T> s(p.tk);
    for (int64_t bh = bh0; bh < bh1; ++bh) {
      const int64_t b = bh / p.heads, h = bh % p.heads;
      for (int64_t j = 0; j < p.tk; ++j) {
        std::fill_n(row(dk, p.dk_layout, p, p.tk, p.d, b, h, j), p.d, T(0));
        std::fill_n(row(dv, p.dv_layout, p, p.tk, p.dv, b, h, j), p.dv, T(0));
      }
      for (int64_t i = 0; i < p.tq; ++i) {
        const int64_t r = bh * p.tq + i;
        T* dqi = row(dq, p.dq_layout, p, p.tq, p.d, b, h, i);
        for (int64_t c = 0; c < p.d; ++c) dqi[c] = 0;
        if (lse[r] == -std::numeric_limits<T>::infinity()) continue;
        score_row(p, q, k, b, h, i, s.data());
        const T* doi = row(dout, p.dout_layout, p, p.tq, p.dv, b, h, i);
        const T* oi = row(out, p.out_layout, p, p.tq, p.dv, b, h, i);
        const T* qi = row(q, p.q_layout, p, p.tq, p.d, b, h, i);
        T D = 0;
        for (int64_t c = 0; c < p.dv; ++c) D += doi[c] * oi[c];
        for (int64_t j = 0; j < p.tk; ++j) {
          const T pij = std::exp(s[j] - lse[r]);
          if (pij == T(0)) continue;
          const T* vj = row(v, p.v_layout, p, p.tk, p.dv, b, h, j);
          T dp = 0;
          for (int64_t c = 0; c < p.dv; ++c) dp += doi[c] * vj[c];
          const T ds = pij * (dp - D) * scale;
          const T* kj = row(k, p.k_layout, p, p.tk, p.d, b, h, j);
          T* dkj = row(dk, p.dk_layout, p, p.tk, p.d, b, h, j);
          T* dvj = row(dv, p.dv_layout, p, p.tk, p.dv, b, h, j);
          for (int64_t c = 0; c < p.d; ++c) {
            dqi[c] += ds * kj[c];
            dkj[c] += ds * qi[c];
          }
          for (int64_t c = 0; c < p.dv; ++c) dvj[c] += pij * doi[c];
        }
      }
    }
  });
}

}  // namespace

void attention_forward(const AttentionParams& p, const float* q, const float* k, const float* v,
                       float* out, float* lse) {
  check_forward("reference::attention_forward", p, q, k, v, out, lse);
  forward(p, q, k, v, out, lse);
}
void attention_forward(const AttentionParams& p, const double* q, const double* k, const double* v,
                       double* out, double* lse) {
  check_forward("reference::attention_forward", p, q, k, v, out, lse);
  forward(p, q, k, v, out, lse);
}
void attention_backward(const AttentionParams& p, const float* q, const float* k, const float* v,
                        const float* out, const float* dout, const float* lse, float* dq, float* dk,
                        float* dv) {
  check_backward("reference::attention_backward", p, q, k, v, out, dout, lse, dq, dk, dv);
  backward(p, q, k, v, out, dout, lse, dq, dk, dv);
}
void attention_backward(const AttentionParams& p, const double* q, const double* k, const double* v,
                        const double* out, const double* dout, const double* lse, double* dq,
                        double* dk, double* dv) {
  check_backward("reference::attention_backward", p, q, k, v, out, dout, lse, dq, dk, dv);
  backward(p, q, k, v, out, dout, lse, dq, dk, dv);
}

}  // namespace reference
}  // namespace taesan::kernels

#endif  // HWY_ONCE
