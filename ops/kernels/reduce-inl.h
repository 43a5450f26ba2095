// Highway bodies of sum_reduce and max_reduce over the middle axis of a contiguous
// (outer, n, inner) block (see rowwise.h). The summation order is fixed by the shape and the
// target alone: threads only ever take whole rows, whole column chunks, or whole RowSum blocks
// whose vectors are then added in block order, so results are bit-identical for any thread count.
#if defined(TAESAN_OPS_KERNELS_REDUCE_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TAESAN_OPS_KERNELS_REDUCE_INL_H_
#undef TAESAN_OPS_KERNELS_REDUCE_INL_H_
#else
#define TAESAN_OPS_KERNELS_REDUCE_INL_H_
#endif

#include <cstdint>
#include <vector>

#include "hwy/highway.h"
#include "taesan/core/parallel.h"
#include "taesan/ops/kernels/rowwise-inl.h"

HWY_BEFORE_NAMESPACE();
namespace taesan::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

/// Columns per task when inner > 1 (a multiple of every lane count).
inline constexpr int64_t kReduceColChunk = 512;
/// Consecutive j rows summed into one partial when inner > 1.
inline constexpr int64_t kReduceRowBlock = 64;
/// Below this many rows, sum_reduce with inner == 1 splits each row's RowSum blocks across
/// threads instead of giving whole rows to threads (same bits either way).
inline constexpr int64_t kReduceFewRows = 8;

/// out[o] = sum(x[o, :]) for `outer` rows of n (inner == 1). Order: RowSum.
template <class D>
HWY_INLINE void SumReduceRows(D d, const hn::TFromD<D>* x, hn::TFromD<D>* out, int64_t outer,
                              int64_t n) {
  using T = hn::TFromD<D>;
  const size_t un = static_cast<size_t>(n);
  const size_t block = RowSumBlockElems(d);
  const int64_t blocks = static_cast<int64_t>((un + block - 1) / block);
  if (outer >= kReduceFewRows || blocks <= 2) {
    parallel_for(outer, RowGrain(n), [&](int64_t o0, int64_t o1) {
      for (int64_t o = o0; o < o1; ++o) {
        const T* row = x + o * n;
        out[o] =
            RowSum(d, un, [&](size_t i, size_t valid) { return RowLoad(d, row + i, valid, T(0)); });
      }
    });
    return;
  }
  // Few long rows: RowSum's block vectors computed in parallel, then added in block order.
  const size_t lanes = hn::Lanes(d);
  std::vector<T> block_sums(static_cast<size_t>(blocks) * lanes);
  for (int64_t o = 0; o < outer; ++o) {
    const T* row = x + o * n;
    auto term = [&](size_t i, size_t valid) { return RowLoad(d, row + i, valid, T(0)); };
    const int64_t grain = std::max<int64_t>(1, kRowTaskElems / static_cast<int64_t>(block));
    parallel_for(blocks, grain, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        const size_t begin = static_cast<size_t>(b) * block;
        hn::StoreU(RowBlockSum(d, begin, std::min(un, begin + block), term), d,
                   block_sums.data() + static_cast<size_t>(b) * lanes);
      }
    });
    auto total = hn::Zero(d);
    for (int64_t b = 0; b < blocks; ++b)
      total = hn::Add(total, hn::LoadU(d, block_sums.data() + static_cast<size_t>(b) * lanes));
    out[o] = hn::GetLane(hn::SumOfLanes(d, total));
  }
}

/// out[o, c] = sum_j x[o, j, c] (inner > 1), SIMD across c. Order per output element (same for
/// vector lanes and the scalar tail): partial_k = x[j0] + x[j0 + 1] + ... over the rows of block
/// k (kReduceRowBlock rows), out = ((partial_0 + partial_1) + partial_2) + ...
template <class D>
HWY_INLINE void SumReduceColumns(D d, const hn::TFromD<D>* x, hn::TFromD<D>* out, int64_t outer,
                                 int64_t n, int64_t inner) {
  using T = hn::TFromD<D>;
  const int64_t chunks = (inner + kReduceColChunk - 1) / kReduceColChunk;
  const int64_t width = std::min(inner, kReduceColChunk);
  const int64_t grain = std::max<int64_t>(1, kRowTaskElems / (n * width));
  const size_t lanes = hn::Lanes(d);
  parallel_for(outer * chunks, grain, [&](int64_t t0, int64_t t1) {
    HWY_ALIGN T acc[kReduceColChunk];
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t o = t / chunks, c0 = (t % chunks) * kReduceColChunk;
      const size_t w = static_cast<size_t>(std::min(kReduceColChunk, inner - c0));
      const T* base = x + o * n * inner + c0;
      T* dst = out + o * inner + c0;
      for (int64_t j0 = 0; j0 < n; j0 += kReduceRowBlock) {
        const int64_t j1 = std::min(n, j0 + kReduceRowBlock);
        std::copy(base + j0 * inner, base + j0 * inner + w, acc);
        for (int64_t j = j0 + 1; j < j1; ++j) {
          const T* xr = base + j * inner;
          size_t c = 0;
          for (; c + lanes <= w; c += lanes)
            hn::Store(hn::Add(hn::Load(d, acc + c), hn::LoadU(d, xr + c)), d, acc + c);
          for (; c < w; ++c) acc[c] += xr[c];
        }
        if (j0 == 0) {
          std::copy(acc, acc + w, dst);
        } else {
          size_t c = 0;
          for (; c + lanes <= w; c += lanes)
            hn::StoreU(hn::Add(hn::LoadU(d, dst + c), hn::Load(d, acc + c)), d, dst + c);
          for (; c < w; ++c) dst[c] += acc[c];
        }
      }
    }
  });
}

template <typename T>
HWY_NOINLINE void SumReduce(const T* x, T* out, int64_t outer, int64_t n, int64_t inner) {
  const hn::ScalableTag<T> d;
  if (outer == 0 || inner == 0) return;
  if (n == 0) {
    RowFill(d, out, static_cast<size_t>(outer * inner), T(0));
    return;
  }
  if (inner == 1) {
    SumReduceRows(d, x, out, outer, n);
  } else {
    SumReduceColumns(d, x, out, outer, n, inner);
  }
}

/// Index of the first element of x[0, n) equal to m (m = RowMax, so it exists; m NaN: the first
/// NaN). -0 and +0 compare equal: the first zero is the first maximum, as with a > scan.
template <class D>
HWY_INLINE size_t RowFirstIndexOf(D d, const hn::TFromD<D>* x, size_t n, hn::TFromD<D> m) {
  if (m != m) {
    for (size_t i = 0; i < n; ++i)
      if (x[i] != x[i]) return i;
    return 0;
  }
  const size_t lanes = hn::Lanes(d);
  const auto vm = hn::Set(d, m);
  size_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    const auto hit = hn::Eq(hn::LoadU(d, x + i), vm);
    if (!hn::AllFalse(d, hit)) return i + static_cast<size_t>(hn::FindFirstTrue(d, hit));
  }
  for (; i < n; ++i)
    if (x[i] == m) return i;
  return 0;
}

/// n > 0 (checked by the caller). out/index[o, c] = max_j x[o, j, c] and its first j.
template <typename T>
HWY_NOINLINE void MaxReduce(const T* x, T* out, int64_t* index, int64_t outer, int64_t n,
                            int64_t inner) {
  const hn::ScalableTag<T> d;
  if (outer == 0 || inner == 0) return;
  if (inner == 1) {
    parallel_for(outer, RowGrain(n), [&](int64_t o0, int64_t o1) {
      for (int64_t o = o0; o < o1; ++o) {
        const T* row = x + o * n;
        const size_t i =
            RowFirstIndexOf(d, row, static_cast<size_t>(n), RowMax(d, row, static_cast<size_t>(n)));
        out[o] = row[i];
        index[o] = static_cast<int64_t>(i);
      }
    });
    return;
  }
  // inner > 1: a running (max, index) per column, updated row by row in j order.
  const int64_t chunks = (inner + kReduceColChunk - 1) / kReduceColChunk;
  const int64_t width = std::min(inner, kReduceColChunk);
  const int64_t grain = std::max<int64_t>(1, kRowTaskElems / (n * width));
  parallel_for(outer * chunks, grain, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t o = t / chunks, c0 = (t % chunks) * kReduceColChunk;
      const int64_t w = std::min(kReduceColChunk, inner - c0);
      const T* base = x + o * n * inner + c0;
      T* best = out + o * inner + c0;
      int64_t* at = index + o * inner + c0;
      for (int64_t c = 0; c < w; ++c) {
        best[c] = base[c];
        at[c] = 0;
      }
      for (int64_t j = 1; j < n; ++j) {
        const T* xr = base + j * inner;
        for (int64_t c = 0; c < w; ++c) {
          const T v = xr[c], cur = best[c];
          if (v > cur || (v != v && cur == cur)) {  // NaN wins; the first NaN stays
            best[c] = v;
            at[c] = j;
          }
        }
      }
    }
  });
}

}  // namespace taesan::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // TAESAN_OPS_KERNELS_REDUCE_INL_H_ toggle
