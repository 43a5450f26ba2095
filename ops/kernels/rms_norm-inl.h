// Highway bodies of RMS norm forward and backward (see rowwise.h). Forward: one pass for the mean
// square, y = x * rstd * w with rstd = 1/sqrt(mean(x^2) + eps). Backward: dx per row; dw summed
// over fixed blocks of kRmsNormRowBlock rows (a constant, not the thread count), the block partials
// then added in block order: bit-identical for any thread count.
#if defined(TAESAN_OPS_KERNELS_RMS_NORM_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TAESAN_OPS_KERNELS_RMS_NORM_INL_H_
#undef TAESAN_OPS_KERNELS_RMS_NORM_INL_H_
#else
#define TAESAN_OPS_KERNELS_RMS_NORM_INL_H_
#endif

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "hwy/highway.h"
#include "taesan/core/parallel.h"
#include "taesan/ops/kernels/rowwise-inl.h"

HWY_BEFORE_NAMESPACE();
namespace taesan::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

/// Rows per dw partial sum in RMS norm backward.
inline constexpr int64_t kRmsNormRowBlock = 32;

/// Normalises one row of `cols` elements: writes y and returns rstd. Empty rows: rstd 1/sqrt(eps).
/// w may be null (no weight). y may alias x. Loads and stores never pass the row's end.
template <class D>
HWY_INLINE hn::TFromD<D> RmsNormRow(D d, const hn::TFromD<D>* x, const hn::TFromD<D>* w,
                                    hn::TFromD<D>* y, size_t cols, double eps) {
  using T = hn::TFromD<D>;
  T mean_sq = 0;
  if (cols > 0) {
    mean_sq = RowSum(d, cols,
                     [&](size_t i, size_t valid) {
                       const auto v = RowLoad(d, x + i, valid, T(0));  // pad: 0
                       return hn::Mul(v, v);
                     }) /
              static_cast<T>(cols);
  }
  const T rstd = static_cast<T>(1.0 / std::sqrt(static_cast<double>(mean_sq) + eps));
  const auto vrstd = hn::Set(d, rstd);
  RowForEach(d, cols, [&](size_t i, size_t valid) {
    auto v = hn::Mul(RowLoad(d, x + i, valid, T(0)), vrstd);
    if (w != nullptr) v = hn::Mul(v, RowLoad(d, w + i, valid, T(0)));
    RowStore(d, v, y + i, valid);
  });
  return rstd;
}

/// Backward of one row. xhat = x * rstd, gh = g * w (w null: 1).
/// dx = rstd * (gh - xhat * mean(gh * xhat)) when dx is not null (may alias g);
/// dw_acc += g * xhat when not null (the row's share of dw).
template <class D>
HWY_INLINE void RmsNormBackwardRow(D d, const hn::TFromD<D>* x, const hn::TFromD<D>* g,
                                   const hn::TFromD<D>* w, hn::TFromD<D> rstd, hn::TFromD<D>* dx,
                                   hn::TFromD<D>* dw_acc, size_t cols) {
  using T = hn::TFromD<D>;
  const auto vrstd = hn::Set(d, rstd), one = hn::Set(d, T(1));
  auto xhat_at = [&](size_t i, size_t valid) {
    return hn::Mul(RowLoad(d, x + i, valid, T(0)), vrstd);  // pad: 0
  };
  auto w_at = [&](size_t i, size_t valid) {
    return w != nullptr ? RowLoad(d, w + i, valid, T(0)) : one;
  };
  auto c = hn::Zero(d);
  if (dx != nullptr && cols > 0) {
    const T sum_ghx = RowSum(d, cols, [&](size_t i, size_t valid) {
      return hn::Mul(hn::Mul(RowLoad(d, g + i, valid, T(0)), w_at(i, valid)), xhat_at(i, valid));
    });
    c = hn::Set(d, sum_ghx / static_cast<T>(cols));
  }
  RowForEach(d, cols, [&](size_t i, size_t valid) {
    const auto gv = RowLoad(d, g + i, valid, T(0));
    const auto xhat = xhat_at(i, valid);
    if (dw_acc != nullptr)
      RowStore(d, hn::MulAdd(gv, xhat, RowLoad(d, dw_acc + i, valid, T(0))), dw_acc + i, valid);
    if (dx != nullptr) {
      const auto gh = hn::Mul(gv, w_at(i, valid));
      RowStore(d, hn::Mul(vrstd, hn::NegMulAdd(xhat, c, gh)), dx + i, valid);
    }
  });
}

// ---- whole arrays ----

template <typename T>
HWY_NOINLINE void RmsNormForwardRows(const T* x, const T* w, T* y, T* rstd, int64_t rows,
                                     int64_t cols, double eps) {
  const hn::ScalableTag<T> d;
  parallel_for(rows, RowGrain(cols), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      rstd[r] = RmsNormRow(d, x + r * cols, w, y + r * cols, static_cast<size_t>(cols), eps);
  });
}

/// dw order: within a block of kRmsNormRowBlock rows, rows are added in order into a zeroed
/// partial; partials are then added in block order (dw[c] = ((p0 + p1) + p2) + ...).
template <typename T>
HWY_NOINLINE void RmsNormBackwardRows(const T* x, const T* g, const T* w, const T* rstd, T* dx,
                                      T* dw, int64_t rows, int64_t cols) {
  const hn::ScalableTag<T> d;
  const size_t ucols = static_cast<size_t>(cols);
  auto run_rows = [&](int64_t r0, int64_t r1, T* dw_acc) {
    for (int64_t r = r0; r < r1; ++r)
      RmsNormBackwardRow(d, x + r * cols, g + r * cols, w, rstd[r],
                         dx != nullptr ? dx + r * cols : nullptr, dw_acc, ucols);
  };
  if (dw == nullptr) {
    parallel_for(rows, RowGrain(cols), [&](int64_t r0, int64_t r1) { run_rows(r0, r1, nullptr); });
    return;
  }
  const int64_t blocks = (rows + kRmsNormRowBlock - 1) / kRmsNormRowBlock;
  if (blocks <= 1) {  // one partial: it is the result
    RowFill(d, dw, ucols, T(0));
    run_rows(0, rows, dw);
    return;
  }
  // partial[k] = the dw partial of block k, `cols` long.
  std::vector<T> partial(static_cast<size_t>(blocks) * ucols, T(0));
  const int64_t block_grain = std::max<int64_t>(1, RowGrain(cols) / kRmsNormRowBlock);
  parallel_for(blocks, block_grain, [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; ++k)
      run_rows(k * kRmsNormRowBlock, std::min(rows, (k + 1) * kRmsNormRowBlock),
               partial.data() + static_cast<size_t>(k) * ucols);
  });
  // Sum the partials in block order, columns split across threads.
  const size_t n = hn::Lanes(d);
  const int64_t col_vectors = static_cast<int64_t>((ucols + n - 1) / n);
  const int64_t col_grain = std::max<int64_t>(1, RowGrain(blocks) / static_cast<int64_t>(n));
  parallel_for(col_vectors, col_grain, [&](int64_t v0, int64_t v1) {
    for (int64_t v = v0; v < v1; ++v) {
      const size_t i = static_cast<size_t>(v) * n, valid = std::min(n, ucols - i);
      const T* p = partial.data() + i;
      auto total = RowLoad(d, p, valid, T(0));
      for (int64_t k = 1; k < blocks; ++k)
        total = hn::Add(total, RowLoad(d, p + static_cast<size_t>(k) * ucols, valid, T(0)));
      RowStore(d, total, dw + i, valid);
    }
  });
}

}  // namespace taesan::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // TAESAN_OPS_KERNELS_RMS_NORM_INL_H_ toggle
