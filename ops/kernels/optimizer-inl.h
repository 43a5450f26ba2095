// Highway bodies of the fused optimizer updates and gradient-norm reductions (see optimizer.h),
// compiled once per SIMD target by optimizer.cc through foreach_target.h.
// Tails: the last n % Lanes elements are copied into a stack vector, updated by the same vector
// code, and copied back, so every element sees exactly the same arithmetic.
#if defined(TAESAN_OPS_KERNELS_OPTIMIZER_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TAESAN_OPS_KERNELS_OPTIMIZER_INL_H_
#undef TAESAN_OPS_KERNELS_OPTIMIZER_INL_H_
#else
#define TAESAN_OPS_KERNELS_OPTIMIZER_INL_H_
#endif

#include <cmath>
#include <cstring>
#include <limits>

#include "hwy/highway.h"
#include "taesan/ops/kernels/optimizer.h"

HWY_BEFORE_NAMESPACE();
namespace taesan::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

/// Runs `body(offset)` on every full vector of [0, n), then on the tail through zero-padded
/// stack copies of the `count` buffers in `bufs` (null entries are skipped).
template <typename T, class D, class Body>
HWY_INLINE void ForEachVector(D d, int64_t n, T* const* bufs, int count, const Body& body) {
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  int64_t i = 0;
  for (; i + lanes <= n; i += lanes) body(bufs, i);
  const int64_t rest = n - i;
  if (rest == 0) return;
  constexpr size_t kMax = HWY_MAX_BYTES / sizeof(T);
  HWY_ALIGN T tail[5][kMax];
  T* tail_ptrs[5] = {nullptr, nullptr, nullptr, nullptr, nullptr};
  for (int k = 0; k < count; ++k) {
    if (bufs[k] == nullptr) continue;
    std::memset(tail[k], 0, sizeof(tail[k]));
    std::memcpy(tail[k], bufs[k] + i, static_cast<size_t>(rest) * sizeof(T));
    tail_ptrs[k] = tail[k];
  }
  body(tail_ptrs, 0);
  for (int k = 0; k < count; ++k)
    if (bufs[k] != nullptr)
      std::memcpy(bufs[k] + i, tail[k], static_cast<size_t>(rest) * sizeof(T));
}

template <typename T>
HWY_NOINLINE void AdamUpdateT(const AdamStep& s, T* HWY_RESTRICT param, const T* HWY_RESTRICT grad,
                              T* HWY_RESTRICT exp_avg, T* HWY_RESTRICT exp_avg_sq,
                              T* HWY_RESTRICT max_exp_avg_sq, int64_t n) {
  const hn::ScalableTag<T> d;
  const double t = static_cast<double>(s.step);
  const double bias_correction1 = 1.0 - std::pow(s.beta1, t);
  const double bias_correction2 = 1.0 - std::pow(s.beta2, t);
  const auto b1 = hn::Set(d, static_cast<T>(s.beta1));
  const auto one_minus_b1 = hn::Set(d, static_cast<T>(1.0 - s.beta1));
  const auto b2 = hn::Set(d, static_cast<T>(s.beta2));
  const auto one_minus_b2 = hn::Set(d, static_cast<T>(1.0 - s.beta2));
  const auto eps = hn::Set(d, static_cast<T>(s.eps));
  const auto bc2_sqrt = hn::Set(d, static_cast<T>(std::sqrt(bias_correction2)));
  const auto neg_step_size = hn::Set(d, static_cast<T>(-(s.lr / bias_correction1)));
  const auto wd = hn::Set(d, static_cast<T>(s.weight_decay));
  const auto decay = hn::Set(d, static_cast<T>(1.0 - s.lr * s.weight_decay));
  const bool l2 = !s.decoupled && s.weight_decay != 0.0;
  const bool decoupled = s.decoupled && s.weight_decay != 0.0;
  const bool amsgrad = max_exp_avg_sq != nullptr;

  T* bufs[5] = {param, const_cast<T*>(grad), exp_avg, exp_avg_sq, max_exp_avg_sq};
  ForEachVector<T>(d, n, bufs, 5, [&](T* const* b, int64_t i) HWY_ATTR {
    auto p = hn::LoadU(d, b[0] + i);
    auto g = hn::LoadU(d, b[1] + i);
    if (l2) g = hn::MulAdd(wd, p, g);      // grad.add(param, alpha=wd)
    if (decoupled) p = hn::Mul(p, decay);  // param.mul_(1 - lr * wd)
    // exp_avg.mul_(b1).add_(g, alpha=1-b1); exp_avg_sq.mul_(b2).addcmul_(g, g, value=1-b2)
    const auto m = hn::MulAdd(g, one_minus_b1, hn::Mul(hn::LoadU(d, b[2] + i), b1));
    auto v = hn::MulAdd(hn::Mul(one_minus_b2, g), g, hn::Mul(hn::LoadU(d, b[3] + i), b2));
    hn::StoreU(m, d, b[2] + i);
    hn::StoreU(v, d, b[3] + i);
    if (amsgrad) {
      v = hn::Max(hn::LoadU(d, b[4] + i), v);
      hn::StoreU(v, d, b[4] + i);
    }
    const auto denom = hn::Add(hn::Div(hn::Sqrt(v), bc2_sqrt), eps);
    p = hn::MulAdd(neg_step_size, hn::Div(m, denom), p);  // param.addcdiv_(m, denom, -step_size)
    hn::StoreU(p, d, b[0] + i);
  });
}

template <typename T>
HWY_NOINLINE void SgdUpdateT(const SgdStep& s, T* HWY_RESTRICT param, const T* HWY_RESTRICT grad,
                             T* HWY_RESTRICT momentum_buffer, int64_t n) {
  const hn::ScalableTag<T> d;
  const auto wd = hn::Set(d, static_cast<T>(s.weight_decay));
  const auto momentum = hn::Set(d, static_cast<T>(s.momentum));
  const auto one_minus_dampening = hn::Set(d, static_cast<T>(1.0 - s.dampening));
  const auto neg_lr = hn::Set(d, static_cast<T>(-s.lr));
  const bool l2 = s.weight_decay != 0.0;
  const bool use_buffer = momentum_buffer != nullptr;

  T* bufs[3] = {param, const_cast<T*>(grad), momentum_buffer};
  ForEachVector<T>(d, n, bufs, 3, [&](T* const* b, int64_t i) HWY_ATTR {
    auto p = hn::LoadU(d, b[0] + i);
    auto g = hn::LoadU(d, b[1] + i);
    if (l2) g = hn::MulAdd(wd, p, g);
    if (use_buffer) {
      auto buf = g;
      if (!s.first_step)
        buf = hn::MulAdd(g, one_minus_dampening, hn::Mul(hn::LoadU(d, b[2] + i), momentum));
      hn::StoreU(buf, d, b[2] + i);
      g = s.nesterov ? hn::MulAdd(buf, momentum, g) : buf;
    }
    p = hn::MulAdd(g, neg_lr, p);  // param.add_(d_p, alpha=-lr)
    hn::StoreU(p, d, b[0] + i);
  });
}

/// Sum of squares of one block (at most a few thousand elements), in T.
template <typename T>
HWY_NOINLINE T SumSquaresBlockT(const T* HWY_RESTRICT x, int64_t n) {
  const hn::ScalableTag<T> d;
  auto acc0 = hn::Zero(d);
  auto acc1 = hn::Zero(d);
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  int64_t i = 0;
  for (; i + 2 * lanes <= n; i += 2 * lanes) {
    const auto a = hn::LoadU(d, x + i);
    const auto b = hn::LoadU(d, x + i + lanes);
    acc0 = hn::MulAdd(a, a, acc0);
    acc1 = hn::MulAdd(b, b, acc1);
  }
  for (; i + lanes <= n; i += lanes) {
    const auto a = hn::LoadU(d, x + i);
    acc0 = hn::MulAdd(a, a, acc0);
  }
  T sum = hn::GetLane(hn::SumOfLanes(d, hn::Add(acc0, acc1)));
  for (; i < n; ++i) sum += x[i] * x[i];
  return sum;
}

/// max |x| of one block; NaN when any element is NaN.
template <typename T>
HWY_NOINLINE T MaxAbsBlockT(const T* HWY_RESTRICT x, int64_t n) {
  const hn::ScalableTag<T> d;
  auto acc = hn::Zero(d);
  auto nan = hn::Zero(d);
  const int64_t lanes = static_cast<int64_t>(hn::Lanes(d));
  int64_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    const auto a = hn::Abs(hn::LoadU(d, x + i));
    acc = hn::Max(acc, a);
    nan = hn::Or(nan, hn::VecFromMask(d, hn::IsNaN(a)));
  }
  T result = hn::GetLane(hn::MaxOfLanes(d, acc));
  bool any_nan = !hn::AllFalse(d, hn::MaskFromVec(nan));
  for (; i < n; ++i) {
    const T a = std::abs(x[i]);
    if (std::isnan(a)) any_nan = true;
    if (a > result) result = a;
  }
  return any_nan ? std::numeric_limits<T>::quiet_NaN() : result;
}

// Exported entry points: one per dtype (Highway 1.0.3 has no HWY_EXPORT_T).
HWY_NOINLINE void AdamUpdateF32(const AdamStep& s, float* p, const float* g, float* m, float* v,
                                float* vmax, int64_t n) {
  AdamUpdateT<float>(s, p, g, m, v, vmax, n);
}
HWY_NOINLINE void AdamUpdateF64(const AdamStep& s, double* p, const double* g, double* m, double* v,
                                double* vmax, int64_t n) {
  AdamUpdateT<double>(s, p, g, m, v, vmax, n);
}
HWY_NOINLINE void SgdUpdateF32(const SgdStep& s, float* p, const float* g, float* buf, int64_t n) {
  SgdUpdateT<float>(s, p, g, buf, n);
}
HWY_NOINLINE void SgdUpdateF64(const SgdStep& s, double* p, const double* g, double* buf,
                               int64_t n) {
  SgdUpdateT<double>(s, p, g, buf, n);
}
HWY_NOINLINE float SumSquaresBlockF32(const float* x, int64_t n) {
  return SumSquaresBlockT<float>(x, n);
}
HWY_NOINLINE double SumSquaresBlockF64(const double* x, int64_t n) {
  return SumSquaresBlockT<double>(x, n);
}
HWY_NOINLINE float MaxAbsBlockF32(const float* x, int64_t n) { return MaxAbsBlockT<float>(x, n); }
HWY_NOINLINE double MaxAbsBlockF64(const double* x, int64_t n) {
  return MaxAbsBlockT<double>(x, n);
}

}  // namespace taesan::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
