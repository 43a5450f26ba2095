// GEMM without packing, for small and skinny shapes, compiled once per Highway target (included
// by gemm-inl.h): the broadcast kernel (the register tile reading B in place, vectors along the
// long side, C written transposed when the vectors run along m) and dot products along k
// (matrix-vector shapes). Both end in the same epilogue as the packed path.
#include <stddef.h>
#include <stdint.h>

#if defined(TS_OPS_KERNELS_GEMM_SMALL_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TS_OPS_KERNELS_GEMM_SMALL_INL_H_
#undef TS_OPS_KERNELS_GEMM_SMALL_INL_H_
#else
#define TS_OPS_KERNELS_GEMM_SMALL_INL_H_
#endif

#include "hwy/highway.h"
#include "taesan/ops/kernels/gemm_epilogue-inl.h"
#include "taesan/ops/kernels/tile-inl.h"

HWY_BEFORE_NAMESPACE();
namespace taesan::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using hn::TFromD;

// ---- No-packing paths for small / skinny shapes ----

// out(r, j) = sum_p x[r * xrs + p * xcs] * y[p * ldy + j] for a tile of MR rows x NV vectors
// starting at (r, j), then the epilogue. out(r, j) is c[r * ldc + j], or c[j * ldc + r] when
// transposed (bias then indexed by r, pre laid out like c).
template <size_t MR, size_t NV, class DV, typename T = TFromD<DV>>
HWY_INLINE void BroadcastTile(DV dv, size_t k, const T* x, RuntimeAStrides as, const T* y,
                              size_t ldy, const Epi<T>& e, T* c, size_t ldc, size_t r, size_t j,
                              bool transposed) {
  const T* xr = x + r * as.rs;
  const T* yj = y + j;
  if (!transposed) {
    Epi<T> et = e;
    if (e.bias != nullptr) et.bias = e.bias + j;
    if (e.pre != nullptr) et.pre = e.pre + r * e.ld_pre + j;
    Tile<MR, NV>(dv, k, xr, as, yj, ldy, et, c + r * ldc + j, ldc);
    return;
  }
  const size_t W = NV * hn::Lanes(dv);
  HWY_ALIGN T tmp[MR * 4 * HWY_LANES(T)];
  Tile<MR, NV>(dv, k, xr, as, yj, ldy, Epi<T>(), tmp, W);  // raw sums (alpha 1, beta 0)
  for (size_t rr = 0; rr < MR; ++rr) {
    for (size_t jj = 0; jj < W; ++jj) {
      const size_t ro = r + rr, co = j + jj;
      StoreOne(tmp[rr * W + jj], e, c + co * ldc + ro, e.bias ? e.bias + ro : nullptr,
               e.pre ? e.pre + co * e.ld_pre + ro : nullptr);
    }
  }
}

// Few rows get wider tiles (4 vectors), so that there are still >= 4 independent FMA chains and
// each strided B row is read in longer runs; 16-register targets keep <= 8 of those accumulators.
inline constexpr size_t kWideRows = kMR == 8 ? 4 : 2;

template <size_t NV, class DV, typename T = TFromD<DV>>
HWY_INLINE void BroadcastColumns(DV dv, size_t rows, size_t k, const T* x, RuntimeAStrides as,
                                 const T* y, size_t ldy, const Epi<T>& e, T* c, size_t ldc,
                                 size_t j, bool transposed) {
  size_t r = 0;
  if constexpr (NV < 4) {  // MR x 4 accumulators would not fit the registers
    for (; r + kMR <= rows; r += kMR) {
      BroadcastTile<kMR, NV>(dv, k, x, as, y, ldy, e, c, ldc, r, j, transposed);
    }
  } else {
    for (; r + kWideRows <= rows; r += kWideRows) {
      BroadcastTile<kWideRows, NV>(dv, k, x, as, y, ldy, e, c, ldc, r, j, transposed);
    }
  }
  // The remaining rows in tiles of 4 and 2 rows while their accumulators fit (<= 2 MR), then 1:
  // a single-row tile has only NV independent FMA chains.
  if constexpr (4 * NV <= 2 * kMR) {
    for (; r + 4 <= rows; r += 4)
      BroadcastTile<4, NV>(dv, k, x, as, y, ldy, e, c, ldc, r, j, transposed);
  }
  for (; r + 2 <= rows; r += 2)
    BroadcastTile<2, NV>(dv, k, x, as, y, ldy, e, c, ldc, r, j, transposed);
  for (; r < rows; ++r) BroadcastTile<1, NV>(dv, k, x, as, y, ldy, e, c, ldc, r, j, transposed);
}

// out[rows x cols] = X Y with X(r, p) = x[r * xrs + p * xcs] broadcast and Y's rows (stride ldy)
// contiguous along the output columns, which become vector lanes.
template <class D, typename T = TFromD<D>>
HWY_NOINLINE void SmallBroadcast(D d, size_t rows, size_t cols, size_t k, const T* x,
                                 RuntimeAStrides as, const T* y, size_t ldy, const Epi<T>& e, T* c,
                                 size_t ldc, bool transposed) {
  const size_t N = hn::Lanes(d);
  const hn::CappedTag<T, 1> d1;
  size_t j = 0;
  // Four-vector tiles (kWideRows x 4 vectors) wherever the columns allow on 32-register targets:
  // 4 B loads + 4 broadcasts per 16 FMAs instead of 2 + 8 with MR x 2 (Zen 4, 1 thread: 64^3
  // 4.78 -> 4.72 us, 256^3 298 -> 295, 32 x 128x128x64 628 -> 615); on 16-register targets
  // (kWideRows = 2 there: 8 accumulators) only for fewer than MR rows.
  if (kMR == 8 || rows < kMR) {
    for (; j + 4 * N <= cols; j += 4 * N) {
      BroadcastColumns<4>(d, rows, k, x, as, y, ldy, e, c, ldc, j, transposed);
    }
  }
  for (; j + 2 * N <= cols; j += 2 * N) {
    BroadcastColumns<2>(d, rows, k, x, as, y, ldy, e, c, ldc, j, transposed);
  }
  for (; j + N <= cols; j += N) {
    BroadcastColumns<1>(d, rows, k, x, as, y, ldy, e, c, ldc, j, transposed);
  }
  for (; j < cols; ++j) BroadcastColumns<1>(d1, rows, k, x, as, y, ldy, e, c, ldc, j, transposed);
}

#define TS_GEMM_FOR_RJ(X, i) X(i, 0) X(i, 1) X(i, 2) X(i, 3)
#define TS_GEMM_FOR_RIJ(X) \
  TS_GEMM_FOR_RJ(X, 0) TS_GEMM_FOR_RJ(X, 1) TS_GEMM_FOR_RJ(X, 2) TS_GEMM_FOR_RJ(X, 3)

// out[i * RJ + j] = dot(x row i, y row j) over k, rows contiguous (strides ldx, ldy): vector
// partial sums, a fixed reduction tree, then the k % L tail in scalar FMAs. RI, RJ <= 4.
template <size_t RI, size_t RJ, class D, typename T = TFromD<D>>
HWY_INLINE void DotTile(D d, size_t k, const T* HWY_RESTRICT x, size_t ldx, const T* HWY_RESTRICT y,
                        size_t ldy, T* HWY_RESTRICT out) {
  using V = hn::Vec<D>;
  const size_t N = hn::Lanes(d);
#define TS_GEMM_DECL(i, j) V a##i##j = hn::Zero(d);
  TS_GEMM_FOR_RIJ(TS_GEMM_DECL)
#undef TS_GEMM_DECL
  size_t p = 0;
  for (; p + N <= k; p += N) {
    V y0 = hn::Zero(d), y1 = y0, y2 = y0, y3 = y0;
    y0 = hn::LoadU(d, y + p);
    if constexpr (RJ > 1) y1 = hn::LoadU(d, y + ldy + p);
    if constexpr (RJ > 2) y2 = hn::LoadU(d, y + 2 * ldy + p);
    if constexpr (RJ > 3) y3 = hn::LoadU(d, y + 3 * ldy + p);
#define TS_GEMM_DOT(i, j)         \
  if constexpr (RI > i && RJ > j) \
    a##i##j = hn::MulAdd(hn::LoadU(d, x + i * ldx + p), y##j, a##i##j);
    TS_GEMM_FOR_RIJ(TS_GEMM_DOT)
#undef TS_GEMM_DOT
  }
  const hn::CappedTag<T, 1> d1;
#define TS_GEMM_REDUCE(i, j)                                                       \
  if constexpr (RI > i && RJ > j) {                                                \
    auto s = hn::Set(d1, hn::GetLane(hn::SumOfLanes(d, a##i##j)));                 \
    for (size_t q = p; q < k; ++q) {                                               \
      s = hn::MulAdd(hn::Set(d1, x[i * ldx + q]), hn::Set(d1, y[j * ldy + q]), s); \
    }                                                                              \
    out[i * RJ + j] = hn::GetLane(s);                                              \
  }
  TS_GEMM_FOR_RIJ(TS_GEMM_REDUCE)
#undef TS_GEMM_REDUCE
}

inline constexpr size_t kDotRI = 4;
inline constexpr size_t kDotRJ = kMR == 8 ? 4 : 2;

template <size_t RI, size_t RJ, class D, typename T = TFromD<D>>
HWY_INLINE void DotBlock(D d, size_t k, const T* x, size_t ldx, const T* y, size_t ldy,
                         const Epi<T>& e, T* c, size_t ldc, size_t i, size_t j) {
  T out[RI * RJ];
  DotTile<RI, RJ>(d, k, x + i * ldx, ldx, y + j * ldy, ldy, out);
  for (size_t ii = 0; ii < RI; ++ii) {
    for (size_t jj = 0; jj < RJ; ++jj) {
      const size_t ro = i + ii, co = j + jj;
      StoreOne(out[ii * RJ + jj], e, c + ro * ldc + co, e.bias ? e.bias + co : nullptr,
               e.pre ? e.pre + ro * e.ld_pre + co : nullptr);
    }
  }
}

template <size_t RI, class D, typename T = TFromD<D>>
HWY_INLINE void DotRow(D d, size_t cols, size_t k, const T* x, size_t ldx, const T* y, size_t ldy,
                       const Epi<T>& e, T* c, size_t ldc, size_t i) {
  size_t j = 0;
  for (; j + kDotRJ <= cols; j += kDotRJ)
    DotBlock<RI, kDotRJ>(d, k, x, ldx, y, ldy, e, c, ldc, i, j);
  for (; j < cols; ++j) DotBlock<RI, 1>(d, k, x, ldx, y, ldy, e, c, ldc, i, j);
}

template <size_t RJ, class D, typename T = TFromD<D>>
HWY_INLINE void DotColumn(D d, size_t rows, size_t k, const T* x, size_t ldx, const T* y,
                          size_t ldy, const Epi<T>& e, T* c, size_t ldc, size_t j) {
  size_t i = 0;
  for (; i + kDotRI <= rows; i += kDotRI)
    DotBlock<kDotRI, RJ>(d, k, x, ldx, y, ldy, e, c, ldc, i, j);
  for (; i < rows; ++i) DotBlock<1, RJ>(d, k, x, ldx, y, ldy, e, c, ldc, i, j);
}

// out(i, j) = dot(x row i, y row j): both operands contiguous along k. The longer side is the
// outer loop, so the long operand is read once and the short one stays in cache.
template <class D, typename T = TFromD<D>>
HWY_NOINLINE void SmallDot(D d, size_t rows, size_t cols, size_t k, const T* x, size_t ldx,
                           const T* y, size_t ldy, const Epi<T>& e, T* c, size_t ldc) {
  if (rows >= cols) {
    size_t i = 0;
    for (; i + kDotRI <= rows; i += kDotRI)
      DotRow<kDotRI>(d, cols, k, x, ldx, y, ldy, e, c, ldc, i);
    for (; i < rows; ++i) DotRow<1>(d, cols, k, x, ldx, y, ldy, e, c, ldc, i);
  } else {
    size_t j = 0;
    for (; j + kDotRJ <= cols; j += kDotRJ) {
      DotColumn<kDotRJ>(d, rows, k, x, ldx, y, ldy, e, c, ldc, j);
    }
    for (; j < cols; ++j) DotColumn<1>(d, rows, k, x, ldx, y, ldy, e, c, ldc, j);
  }
}

#undef TS_GEMM_FOR_RJ
#undef TS_GEMM_FOR_RIJ

}  // namespace taesan::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // TS_OPS_KERNELS_GEMM_SMALL_INL_H_
