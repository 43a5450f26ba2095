// Dispatch of the fused optimizer kernels (optimizer-inl.h) and their scalar references.
// Updates are split over threads in contiguous chunks (elementwise, so any split gives the same
// bits); reductions use fixed blocks whose partial results are combined in block order.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "taesan/ops/kernels/optimizer.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "taesan/ops/kernels/optimizer-inl.h"

#if HWY_ONCE
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "taesan/core/parallel.h"

namespace taesan::kernels {

HWY_EXPORT(AdamUpdateF32);
HWY_EXPORT(AdamUpdateF64);
HWY_EXPORT(SgdUpdateF32);
HWY_EXPORT(SgdUpdateF64);
HWY_EXPORT(SumSquaresBlockF32);
HWY_EXPORT(SumSquaresBlockF64);
HWY_EXPORT(MaxAbsBlockF32);
HWY_EXPORT(MaxAbsBlockF64);

namespace {

constexpr int64_t kUpdateGrain = int64_t{1} << 15;  // elements per thread chunk at least
constexpr int64_t kReduceBlock = 1024;              // elements per reduction block

template <typename T>
T* offset(T* p, int64_t i) {
  return p == nullptr ? nullptr : p + i;
}

template <typename T, typename Fn>
double reduce_blocks(const T* x, int64_t n, Fn&& block_fn, bool is_max) {
  if (n <= 0) return 0.0;
  const int64_t blocks = (n + kReduceBlock - 1) / kReduceBlock;
  std::vector<double> partial(static_cast<size_t>(blocks));
  parallel_for(blocks, 16, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t start = b * kReduceBlock;
      partial[b] = static_cast<double>(block_fn(x + start, std::min(kReduceBlock, n - start)));
    }
  });
  double result = 0.0;
  for (double v : partial) {
    if (is_max) {
      if (std::isnan(v)) return v;
      result = std::max(result, v);
    } else {
      result += v;
    }
  }
  return result;
}

}  // namespace

void adam_update(const AdamStep& s, float* p, const float* g, float* m, float* v, float* vmax,
                 int64_t n) {
  parallel_for(n, kUpdateGrain, [&](int64_t b, int64_t e) {
    HWY_DYNAMIC_DISPATCH(AdamUpdateF32)(s, p + b, g + b, m + b, v + b, offset(vmax, b), e - b);
  });
}
void adam_update(const AdamStep& s, double* p, const double* g, double* m, double* v, double* vmax,
                 int64_t n) {
  parallel_for(n, kUpdateGrain, [&](int64_t b, int64_t e) {
    HWY_DYNAMIC_DISPATCH(AdamUpdateF64)(s, p + b, g + b, m + b, v + b, offset(vmax, b), e - b);
  });
}

void sgd_update(const SgdStep& s, float* p, const float* g, float* buf, int64_t n) {
  parallel_for(n, kUpdateGrain, [&](int64_t b, int64_t e) {
    HWY_DYNAMIC_DISPATCH(SgdUpdateF32)(s, p + b, g + b, offset(buf, b), e - b);
  });
}
void sgd_update(const SgdStep& s, double* p, const double* g, double* buf, int64_t n) {
  parallel_for(n, kUpdateGrain, [&](int64_t b, int64_t e) {
    HWY_DYNAMIC_DISPATCH(SgdUpdateF64)(s, p + b, g + b, offset(buf, b), e - b);
  });
}

double sum_squares(const float* x, int64_t n) {
  return reduce_blocks(x, n, HWY_DYNAMIC_DISPATCH(SumSquaresBlockF32), false);
}
double sum_squares(const double* x, int64_t n) {
  return reduce_blocks(x, n, HWY_DYNAMIC_DISPATCH(SumSquaresBlockF64), false);
}
double max_abs(const float* x, int64_t n) {
  return reduce_blocks(x, n, HWY_DYNAMIC_DISPATCH(MaxAbsBlockF32), true);
}
double max_abs(const double* x, int64_t n) {
  return reduce_blocks(x, n, HWY_DYNAMIC_DISPATCH(MaxAbsBlockF64), true);
}

// ---- scalar references ----
namespace {

template <typename T>
void adam_reference(const AdamStep& s, T* p, const T* g, T* m, T* v, T* vmax, int64_t n) {
  const double t = static_cast<double>(s.step);
  const double bc1 = 1.0 - std::pow(s.beta1, t);
  const double bc2 = 1.0 - std::pow(s.beta2, t);
  const T b1 = static_cast<T>(s.beta1), omb1 = static_cast<T>(1.0 - s.beta1);
  const T b2 = static_cast<T>(s.beta2), omb2 = static_cast<T>(1.0 - s.beta2);
  const T eps = static_cast<T>(s.eps), bc2_sqrt = static_cast<T>(std::sqrt(bc2));
  const T neg_step_size = static_cast<T>(-(s.lr / bc1));
  const T wd = static_cast<T>(s.weight_decay), decay = static_cast<T>(1.0 - s.lr * s.weight_decay);
  for (int64_t i = 0; i < n; ++i) {
    T param = p[i], grad = g[i];
    if (s.weight_decay != 0.0) {
      if (s.decoupled)
        param = param * decay;
      else
        grad = grad + wd * param;
    }
    m[i] = m[i] * b1 + omb1 * grad;
    v[i] = v[i] * b2 + omb2 * grad * grad;
    T second = v[i];
    if (vmax != nullptr) second = vmax[i] = std::max(vmax[i], v[i]);
    const T denom = std::sqrt(second) / bc2_sqrt + eps;
    p[i] = param + neg_step_size * (m[i] / denom);
  }
}

template <typename T>
void sgd_reference(const SgdStep& s, T* p, const T* g, T* buf, int64_t n) {
  const T wd = static_cast<T>(s.weight_decay), mom = static_cast<T>(s.momentum);
  const T omd = static_cast<T>(1.0 - s.dampening), neg_lr = static_cast<T>(-s.lr);
  for (int64_t i = 0; i < n; ++i) {
    T d = g[i];
    if (s.weight_decay != 0.0) d = d + wd * p[i];
    if (buf != nullptr) {
      buf[i] = s.first_step ? d : buf[i] * mom + omd * d;
      d = s.nesterov ? d + mom * buf[i] : buf[i];
    }
    p[i] = p[i] + neg_lr * d;
  }
}

template <typename T>
double sum_squares_ref(const T* x, int64_t n) {
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(x[i]) * static_cast<double>(x[i]);
  return s;
}

template <typename T>
double max_abs_ref(const T* x, int64_t n) {
  double r = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const double a = std::abs(static_cast<double>(x[i]));
    if (std::isnan(a)) return a;
    r = std::max(r, a);
  }
  return r;
}

}  // namespace

void adam_update_reference(const AdamStep& s, float* p, const float* g, float* m, float* v,
                           float* vmax, int64_t n) {
  adam_reference(s, p, g, m, v, vmax, n);
}
void adam_update_reference(const AdamStep& s, double* p, const double* g, double* m, double* v,
                           double* vmax, int64_t n) {
  adam_reference(s, p, g, m, v, vmax, n);
}
void sgd_update_reference(const SgdStep& s, float* p, const float* g, float* buf, int64_t n) {
  sgd_reference(s, p, g, buf, n);
}
void sgd_update_reference(const SgdStep& s, double* p, const double* g, double* buf, int64_t n) {
  sgd_reference(s, p, g, buf, n);
}
double sum_squares_reference(const float* x, int64_t n) { return sum_squares_ref(x, n); }
double sum_squares_reference(const double* x, int64_t n) { return sum_squares_ref(x, n); }
double max_abs_reference(const float* x, int64_t n) { return max_abs_ref(x, n); }
double max_abs_reference(const double* x, int64_t n) { return max_abs_ref(x, n); }

}  // namespace taesan::kernels
#endif  // HWY_ONCE
