// Highway bodies of the softmax family (see rowwise.h): softmax, log-softmax, their backward,
// log-sum-exp and the fused log-softmax + NLL of cross entropy, one row per call of the *Row
// helpers and rows split across threads by the *Rows functions (each row on one thread).
// Exp is only valid for inputs <= ~88 (float): every exp is taken of x - max(row) <= 0, and
// exp(-inf) is exactly 0, so masked (-inf) entries get probability 0. Rows that are all -inf
// give softmax 0, log-softmax/logsumexp -inf; rows holding NaN (or +inf) give NaN.
#if defined(TAESAN_OPS_KERNELS_SOFTMAX_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TAESAN_OPS_KERNELS_SOFTMAX_INL_H_
#undef TAESAN_OPS_KERNELS_SOFTMAX_INL_H_
#else
#define TAESAN_OPS_KERNELS_SOFTMAX_INL_H_
#endif

#include <cmath>
#include <cstdint>
#include <limits>

#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"
#include "taesan/core/parallel.h"
#include "taesan/ops/kernels/rowwise-inl.h"

HWY_BEFORE_NAMESPACE();
namespace taesan::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

/// What a row max says about the row: a finite max allows exp(x - max); otherwise the row's
/// result is fixed (empty / all -inf rows, or NaN for NaN or +inf entries).
template <typename T>
HWY_INLINE bool RowMaxIsFinite(T m) {
  return std::isfinite(m);
}

/// (sum(exp(x - m)), optionally sum(x)) of a row with finite max m; exp(x - m) is also stored to
/// e when e is not null (e may alias x). Order: RowSum / RowSum2.
template <class D>
HWY_INLINE hn::TFromD<D> RowSumExp(D d, const hn::TFromD<D>* x, hn::TFromD<D>* e, size_t cols,
                                   hn::TFromD<D> m, hn::TFromD<D>* sum_x) {
  using T = hn::TFromD<D>;
  const T kNegInf = -std::numeric_limits<T>::infinity();
  const auto vm = hn::Set(d, m);
  if (sum_x != nullptr) {
    T s = 0, sx = 0;
    RowSum2(
        d, cols,
        [&](size_t i, size_t valid, hn::Vec<D>& ev, hn::Vec<D>& xv) {
          xv = RowLoad(d, x + i, valid, T(0));
          ev = hn::Exp(d, hn::Sub(RowLoad(d, x + i, valid, kNegInf), vm));  // pad: exp(-inf) = 0
          if (e != nullptr) RowStore(d, ev, e + i, valid);
        },
        s, sx);
    *sum_x = sx;
    return s;
  }
  return RowSum(d, cols, [&](size_t i, size_t valid) {
    const auto ev = hn::Exp(d, hn::Sub(RowLoad(d, x + i, valid, kNegInf), vm));
    if (e != nullptr) RowStore(d, ev, e + i, valid);
    return ev;
  });
}

/// y = softmax(x) over one row (y may alias x).
template <class D>
HWY_INLINE void SoftmaxRow(D d, const hn::TFromD<D>* x, hn::TFromD<D>* y, size_t cols) {
  using T = hn::TFromD<D>;
  const T m = RowMax(d, x, cols);
  if (!RowMaxIsFinite(m)) {
    RowFill(d, y, cols,
            m == -std::numeric_limits<T>::infinity() ? T(0) : std::numeric_limits<T>::quiet_NaN());
    return;
  }
  const T sum = RowSumExp(d, x, y, cols, m, nullptr);  // >= 1: the max contributes exp(0)
  const auto inv = hn::Set(d, T(1) / sum);
  RowForEach(d, cols, [&](size_t i, size_t valid) {
    RowStore(d, hn::Mul(RowLoad(d, y + i, valid, T(0)), inv), y + i, valid);
  });
}

/// Splits log(sum(exp(x))) of one row into its max m (returned) and log_sum = log(sum(exp(x - m)))
/// (0 when m is not finite: -inf for empty / all -inf rows, NaN with NaN entries, +inf with
/// +inf entries; then lse = m). Also returns sum(x) through sum_x when not null.
template <class D>
HWY_INLINE hn::TFromD<D> RowLogSumExpParts(D d, const hn::TFromD<D>* x, size_t cols,
                                           hn::TFromD<D>* log_sum, hn::TFromD<D>* sum_x) {
  using T = hn::TFromD<D>;
  const T m = RowMax(d, x, cols);
  *log_sum = T(0);
  if (!RowMaxIsFinite(m)) {
    if (sum_x != nullptr)
      *sum_x =
          RowSum(d, cols, [&](size_t i, size_t valid) { return RowLoad(d, x + i, valid, T(0)); });
    return m;
  }
  *log_sum = std::log(RowSumExp(d, x, nullptr, cols, m, sum_x));
  return m;
}

/// log(sum(exp(x))) of one row (see RowLogSumExpParts for non-finite rows).
template <class D>
HWY_INLINE hn::TFromD<D> LogSumExpRow(D d, const hn::TFromD<D>* x, size_t cols) {
  hn::TFromD<D> log_sum;
  const auto m = RowLogSumExpParts(d, x, cols, &log_sum, nullptr);
  return m + log_sum;
}

/// y = log_softmax(x) = (x - max) - log(sum(exp(x - max))) over one row (y may alias x).
template <class D>
HWY_INLINE void LogSoftmaxRow(D d, const hn::TFromD<D>* x, hn::TFromD<D>* y, size_t cols) {
  using T = hn::TFromD<D>;
  const T m = RowMax(d, x, cols);
  if (!RowMaxIsFinite(m)) {
    RowFill(d, y, cols,
            m == -std::numeric_limits<T>::infinity() ? m : std::numeric_limits<T>::quiet_NaN());
    return;
  }
  const auto vm = hn::Set(d, m);
  const auto vlog = hn::Set(d, std::log(RowSumExp(d, x, nullptr, cols, m, nullptr)));
  RowForEach(d, cols, [&](size_t i, size_t valid) {
    const auto v = RowLoad(d, x + i, valid, T(0));
    RowStore(d, hn::Sub(hn::Sub(v, vm), vlog), y + i, valid);
  });
}

/// dx = y * (g - sum(g * y)) over one row (dx may alias y or g).
template <class D>
HWY_INLINE void SoftmaxBackwardRow(D d, const hn::TFromD<D>* y, const hn::TFromD<D>* g,
                                   hn::TFromD<D>* dx, size_t cols) {
  using T = hn::TFromD<D>;
  const T dot = RowSum(d, cols, [&](size_t i, size_t valid) {
    return hn::Mul(RowLoad(d, g + i, valid, T(0)), RowLoad(d, y + i, valid, T(0)));
  });
  const auto vdot = hn::Set(d, dot);
  RowForEach(d, cols, [&](size_t i, size_t valid) {
    const auto yv = RowLoad(d, y + i, valid, T(0)), gv = RowLoad(d, g + i, valid, T(0));
    RowStore(d, hn::Mul(yv, hn::Sub(gv, vdot)), dx + i, valid);
  });
}

/// dx = g - exp(y) * sum(g) over one row, y = log_softmax output (dx may alias y or g).
template <class D>
HWY_INLINE void LogSoftmaxBackwardRow(D d, const hn::TFromD<D>* y, const hn::TFromD<D>* g,
                                      hn::TFromD<D>* dx, size_t cols) {
  using T = hn::TFromD<D>;
  const T sum =
      RowSum(d, cols, [&](size_t i, size_t valid) { return RowLoad(d, g + i, valid, T(0)); });
  const auto vsum = hn::Set(d, sum);
  RowForEach(d, cols, [&](size_t i, size_t valid) {
    // Pad y with -inf so the padded lanes compute exp(-inf) = 0 (never overflow).
    const auto yv = RowLoad(d, y + i, valid, -std::numeric_limits<T>::infinity());
    const auto gv = RowLoad(d, g + i, valid, T(0));
    RowStore(d, hn::NegMulAdd(hn::Exp(d, yv), vsum, gv), dx + i, valid);
  });
}

/// Loss of one row of cross entropy with label smoothing ls (target t valid):
/// (1 - ls) * (lse - x[t]) + ls * (lse - mean(x)); lse written through lse_out. lse - x[t] is
/// computed as (m - x[t]) + log_sum: exact differences of nearby values, so large logits (1e4 in
/// float) keep the loss accurate to its own size rather than to lse's rounding.
template <class D>
HWY_INLINE hn::TFromD<D> CrossEntropyRow(D d, const hn::TFromD<D>* x, size_t cols, size_t t,
                                         double ls, hn::TFromD<D>* lse_out) {
  using T = hn::TFromD<D>;
  T log_sum, sum_x = 0;
  const T m = RowLogSumExpParts(d, x, cols, &log_sum, ls != 0.0 ? &sum_x : nullptr);
  *lse_out = m + log_sum;
  const T nll = (m - x[t]) + log_sum;
  if (ls == 0.0) return nll;
  const T smooth = (m - sum_x / static_cast<T>(cols)) + log_sum;
  return static_cast<T>(1.0 - ls) * nll + static_cast<T>(ls) * smooth;
}

/// dx = grow * (exp(x - lse) - (1 - ls) * [c == t] - ls / cols) over one row (dx may alias x).
template <class D>
HWY_INLINE void CrossEntropyBackwardRow(D d, const hn::TFromD<D>* x, size_t cols, size_t t,
                                        hn::TFromD<D> lse, hn::TFromD<D> grow, double ls,
                                        hn::TFromD<D>* dx) {
  using T = hn::TFromD<D>;
  const T xt = x[t];  // read before dx (possibly aliasing x) is written
  const T smooth = static_cast<T>(ls / static_cast<double>(cols));
  const auto vlse = hn::Set(d, lse), vsmooth = hn::Set(d, smooth), vg = hn::Set(d, grow);
  RowForEach(d, cols, [&](size_t i, size_t valid) {
    const auto v = RowLoad(d, x + i, valid, -std::numeric_limits<T>::infinity());
    const auto p = hn::Exp(d, hn::Sub(v, vlse));
    RowStore(d, hn::Mul(vg, hn::Sub(p, vsmooth)), dx + i, valid);
  });
  dx[t] = grow * (std::exp(xt - lse) - static_cast<T>(1.0 - ls) - smooth);
}

// ---- whole arrays: rows split across threads, each row computed by one thread ----

template <typename T>
HWY_NOINLINE void SoftmaxRows(const T* x, T* y, int64_t rows, int64_t cols) {
  const hn::ScalableTag<T> d;
  parallel_for(rows, RowGrain(cols), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      SoftmaxRow(d, x + r * cols, y + r * cols, static_cast<size_t>(cols));
  });
}

template <typename T>
HWY_NOINLINE void LogSoftmaxRows(const T* x, T* y, int64_t rows, int64_t cols) {
  const hn::ScalableTag<T> d;
  parallel_for(rows, RowGrain(cols), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      LogSoftmaxRow(d, x + r * cols, y + r * cols, static_cast<size_t>(cols));
  });
}

template <typename T>
HWY_NOINLINE void SoftmaxBackwardRows(const T* y, const T* g, T* dx, int64_t rows, int64_t cols) {
  const hn::ScalableTag<T> d;
  parallel_for(rows, RowGrain(cols), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      SoftmaxBackwardRow(d, y + r * cols, g + r * cols, dx + r * cols, static_cast<size_t>(cols));
  });
}

template <typename T>
HWY_NOINLINE void LogSoftmaxBackwardRows(const T* y, const T* g, T* dx, int64_t rows,
                                         int64_t cols) {
  const hn::ScalableTag<T> d;
  parallel_for(rows, RowGrain(cols), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      LogSoftmaxBackwardRow(d, y + r * cols, g + r * cols, dx + r * cols,
                            static_cast<size_t>(cols));
  });
}

template <typename T>
HWY_NOINLINE void LogSumExpRows(const T* x, T* out, int64_t rows, int64_t cols) {
  const hn::ScalableTag<T> d;
  parallel_for(rows, RowGrain(cols), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      out[r] = LogSumExpRow(d, x + r * cols, static_cast<size_t>(cols));
  });
}

/// Targets are validated by the caller (rowwise.cc) before this runs.
template <typename T>
HWY_NOINLINE void CrossEntropyForwardRows(const T* x, const int64_t* targets, T* loss, T* lse,
                                          int64_t rows, int64_t cols, int64_t ignore_index,
                                          double ls) {
  const hn::ScalableTag<T> d;
  parallel_for(rows, RowGrain(cols), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* xr = x + r * cols;
      if (targets[r] == ignore_index) {
        lse[r] = LogSumExpRow(d, xr, static_cast<size_t>(cols));
        loss[r] = T(0);
      } else {
        loss[r] = CrossEntropyRow(d, xr, static_cast<size_t>(cols), static_cast<size_t>(targets[r]),
                                  ls, &lse[r]);
      }
    }
  });
}

template <typename T>
HWY_NOINLINE void CrossEntropyBackwardRows(const T* x, const int64_t* targets, const T* lse,
                                           const T* grow, T* dx, int64_t rows, int64_t cols,
                                           int64_t ignore_index, double ls) {
  const hn::ScalableTag<T> d;
  parallel_for(rows, RowGrain(cols), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      T* dxr = dx + r * cols;
      if (targets[r] == ignore_index) {
        RowFill(d, dxr, static_cast<size_t>(cols), T(0));
      } else {
        CrossEntropyBackwardRow(d, x + r * cols, static_cast<size_t>(cols),
                                static_cast<size_t>(targets[r]), lse[r], grow[r], ls, dxr);
      }
    }
  });
}

}  // namespace taesan::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // TAESAN_OPS_KERNELS_SOFTMAX_INL_H_ toggle
