// Highway bodies of layer norm forward and backward (see rowwise.h). Forward: shifted mean, biased
// variance from a second pass (accurate for large offsets), y = (x - mean) * rstd * w + b.
// Backward: dx per row; dw/db summed over fixed blocks of kLayerNormRowBlock rows (a constant, not
// the thread count), the block partials then added in block order: bit-identical for any count.
#if defined(TAESAN_OPS_KERNELS_LAYER_NORM_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TAESAN_OPS_KERNELS_LAYER_NORM_INL_H_
#undef TAESAN_OPS_KERNELS_LAYER_NORM_INL_H_
#else
#define TAESAN_OPS_KERNELS_LAYER_NORM_INL_H_
#endif

#include <cmath>
#include <cstdint>
#include <vector>

#include "hwy/highway.h"
#include "taesan/core/parallel.h"
#include "taesan/ops/kernels/rowwise-inl.h"

HWY_BEFORE_NAMESPACE();
namespace taesan::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

/// Rows per dw/db partial sum in layer norm backward.
inline constexpr int64_t kLayerNormRowBlock = 32;

/// Normalises one row: writes y and returns (mean, rstd). Empty rows: mean 0, rstd 1/sqrt(eps).
/// w and b may be null (no affine). y may alias x.
template <class D>
HWY_INLINE void LayerNormRow(D d, const hn::TFromD<D>* x, const hn::TFromD<D>* w,
                             const hn::TFromD<D>* b, hn::TFromD<D>* y, size_t cols, double eps,
                             hn::TFromD<D>* mean_out, hn::TFromD<D>* rstd_out) {
  using T = hn::TFromD<D>;
  T mean = 0, var = 0;
  if (cols > 0) {
    // Summing x - x[0] instead of x keeps the rounding error relative to the spread of the row,
    // not to its offset (rows like 1e4 + noise in float).
    const T count = static_cast<T>(cols), shift = x[0];
    const auto vshift = hn::Set(d, shift);
    mean = shift + RowSum(d, cols, [&](size_t i, size_t valid) {
                     return hn::Sub(RowLoad(d, x + i, valid, shift), vshift);  // pad: 0
                   }) / count;
    const auto vmean = hn::Set(d, mean);
    var = RowSum(d, cols,
                 [&](size_t i, size_t valid) {
                   const auto c = hn::Sub(RowLoad(d, x + i, valid, mean), vmean);  // pad: c = 0
                   return hn::Mul(c, c);
                 }) /
          count;
  }
  const T rstd = static_cast<T>(1.0 / std::sqrt(static_cast<double>(var) + eps));
  *mean_out = mean;
  *rstd_out = rstd;
  const auto vmean = hn::Set(d, mean), vrstd = hn::Set(d, rstd);
  RowForEach(d, cols, [&](size_t i, size_t valid) {
    auto v = hn::Mul(hn::Sub(RowLoad(d, x + i, valid, T(0)), vmean), vrstd);
    if (w != nullptr) v = hn::Mul(v, RowLoad(d, w + i, valid, T(0)));
    if (b != nullptr) v = hn::Add(v, RowLoad(d, b + i, valid, T(0)));
    RowStore(d, v, y + i, valid);
  });
}

/// Backward of one row. xhat = (x - mean) * rstd, gh = g * w (w null: 1).
/// dx = rstd * (gh - mean(gh) - xhat * mean(gh * xhat)) when dx is not null (may alias g);
/// dw_acc += g * xhat and db_acc += g when not null (the row's share of dw/db).
template <class D>
HWY_INLINE void LayerNormBackwardRow(D d, const hn::TFromD<D>* x, const hn::TFromD<D>* g,
                                     const hn::TFromD<D>* w, hn::TFromD<D> mean, hn::TFromD<D> rstd,
                                     hn::TFromD<D>* dx, hn::TFromD<D>* dw_acc,
                                     hn::TFromD<D>* db_acc, size_t cols) {
  using T = hn::TFromD<D>;
  const auto vmean = hn::Set(d, mean), vrstd = hn::Set(d, rstd), one = hn::Set(d, T(1));
  auto xhat_at = [&](size_t i, size_t valid) {
    return hn::Mul(hn::Sub(RowLoad(d, x + i, valid, mean), vmean), vrstd);  // pad: 0
  };
  auto w_at = [&](size_t i, size_t valid) {
    return w != nullptr ? RowLoad(d, w + i, valid, T(0)) : one;
  };
  auto c1 = hn::Zero(d), c2 = hn::Zero(d);
  if (dx != nullptr && cols > 0) {
    T sum_gh = 0, sum_ghx = 0;
    RowSum2(
        d, cols,
        [&](size_t i, size_t valid, hn::Vec<D>& gh, hn::Vec<D>& ghx) {
          gh = hn::Mul(RowLoad(d, g + i, valid, T(0)), w_at(i, valid));
          ghx = hn::Mul(gh, xhat_at(i, valid));
        },
        sum_gh, sum_ghx);
    const T inv_cols = T(1) / static_cast<T>(cols);
    c1 = hn::Set(d, sum_gh * inv_cols);
    c2 = hn::Set(d, sum_ghx * inv_cols);
  }
  RowForEach(d, cols, [&](size_t i, size_t valid) {
    const auto gv = RowLoad(d, g + i, valid, T(0));
    const auto xhat = xhat_at(i, valid);
    if (dw_acc != nullptr)
      RowStore(d, hn::MulAdd(gv, xhat, RowLoad(d, dw_acc + i, valid, T(0))), dw_acc + i, valid);
    if (db_acc != nullptr)
      RowStore(d, hn::Add(RowLoad(d, db_acc + i, valid, T(0)), gv), db_acc + i, valid);
    if (dx != nullptr) {
      const auto gh = hn::Mul(gv, w_at(i, valid));
      const auto v = hn::Mul(vrstd, hn::NegMulAdd(xhat, c2, hn::Sub(gh, c1)));
      RowStore(d, v, dx + i, valid);
    }
  });
}

// ---- whole arrays ----

template <typename T>
HWY_NOINLINE void LayerNormForwardRows(const T* x, const T* w, const T* b, T* y, T* mean, T* rstd,
                                       int64_t rows, int64_t cols, double eps) {
  const hn::ScalableTag<T> d;
  parallel_for(rows, RowGrain(cols), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      LayerNormRow(d, x + r * cols, w, b, y + r * cols, static_cast<size_t>(cols), eps, &mean[r],
                   &rstd[r]);
  });
}

/// dw/db order: within a block of kLayerNormRowBlock rows, rows are added in order into a zeroed
/// partial; partials are then added in block order (dw[c] = ((p0 + p1) + p2) + ...).
template <typename T>
HWY_NOINLINE void LayerNormBackwardRows(const T* x, const T* g, const T* w, const T* mean,
                                        const T* rstd, T* dx, T* dw, T* db, int64_t rows,
                                        int64_t cols) {
  const hn::ScalableTag<T> d;
  const size_t ucols = static_cast<size_t>(cols);
  auto run_rows = [&](int64_t r0, int64_t r1, T* dw_acc, T* db_acc) {
    for (int64_t r = r0; r < r1; ++r)
      LayerNormBackwardRow(d, x + r * cols, g + r * cols, w, mean[r], rstd[r],
                           dx != nullptr ? dx + r * cols : nullptr, dw_acc, db_acc, ucols);
  };
  if (dw == nullptr && db == nullptr) {
    parallel_for(rows, RowGrain(cols),
                 [&](int64_t r0, int64_t r1) { run_rows(r0, r1, nullptr, nullptr); });
    return;
  }
  const int64_t blocks = (rows + kLayerNormRowBlock - 1) / kLayerNormRowBlock;
  if (blocks <= 1) {  // one partial: it is the result
    if (dw != nullptr) RowFill(d, dw, ucols, T(0));
    if (db != nullptr) RowFill(d, db, ucols, T(0));
    run_rows(0, rows, dw, db);
    return;
  }
  // partial[k] = (dw partial, db partial) of block k, each `cols` long.
  std::vector<T> partial(static_cast<size_t>(blocks) * 2 * ucols, T(0));
  const int64_t block_grain = std::max<int64_t>(1, RowGrain(cols) / kLayerNormRowBlock);
  parallel_for(blocks, block_grain, [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; ++k) {
      T* p = partial.data() + static_cast<size_t>(k) * 2 * ucols;
      run_rows(k * kLayerNormRowBlock, std::min(rows, (k + 1) * kLayerNormRowBlock),
               dw != nullptr ? p : nullptr, db != nullptr ? p + ucols : nullptr);
    }
  });
  // Sum the partials in block order, columns split across threads.
  const size_t n = hn::Lanes(d);
  const int64_t col_vectors = static_cast<int64_t>((ucols + n - 1) / n);
  const int64_t col_grain = std::max<int64_t>(1, RowGrain(2 * blocks) / static_cast<int64_t>(n));
  parallel_for(col_vectors, col_grain, [&](int64_t v0, int64_t v1) {
    for (int64_t v = v0; v < v1; ++v) {
      const size_t i = static_cast<size_t>(v) * n, valid = std::min(n, ucols - i);
      for (int which = 0; which < 2; ++which) {
        T* out = which == 0 ? dw : db;
        if (out == nullptr) continue;
        const T* p = partial.data() + static_cast<size_t>(which) * ucols + i;
        auto total = RowLoad(d, p, valid, T(0));
        for (int64_t k = 1; k < blocks; ++k)
          total = hn::Add(total, RowLoad(d, p + static_cast<size_t>(k) * 2 * ucols, valid, T(0)));
        RowStore(d, total, out + i, valid);
      }
    }
  });
}

}  // namespace taesan::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // TAESAN_OPS_KERNELS_LAYER_NORM_INL_H_ toggle
