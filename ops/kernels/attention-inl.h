// Per-target bodies of the fused attention kernel (attention.h), compiled once per Highway target
// by attention.cc through foreach_target.h. FlashAttention-2 tiling on the CPU: query blocks of
// 64 rows meet key blocks of 64 or 128 rows; every tile product is one register-tiled MulAdd
// kernel (MatMul below), the softmax is online (running max and sum per query row), and the
// backward recomputes the probabilities tile by tile from the saved log-sum-exp.
#if defined(TAESAN_OPS_KERNELS_ATTENTION_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TAESAN_OPS_KERNELS_ATTENTION_INL_H_
#undef TAESAN_OPS_KERNELS_ATTENTION_INL_H_
#else
#define TAESAN_OPS_KERNELS_ATTENTION_INL_H_
#endif

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>

#include "taesan/core/parallel.h"
#include "taesan/core/storage.h"
#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"
#include "taesan/ops/kernels/attention.h"

HWY_BEFORE_NAMESPACE();
namespace taesan::kernels::HWY_NAMESPACE {
// A nested namespace: these helpers share the per-target namespace with the other kernel
// families, whose -inl.h files define functions of the same names.
namespace attn {
namespace hn = hwy::HWY_NAMESPACE;

// ---- Tile sizes ----
// Query blocks of 64 rows, key blocks of 128 (64 when causal). The S/P tile, the accumulators
// and the Kᵀ / V tiles (16-32 KiB each in fp32 for d = 64) stay in L1/L2 while a tile's
// products run, and the B panel of a micro tile (<= 128 x 2 vectors) stays in L1 across the
// block's rows. Measured on Zen 4 (d = 64, one thread): 128-key blocks are 5-8% faster than 64
// without a mask (the per-row softmax work and the streamed query-side blocks serve twice the
// keys), but causal masking skips whole blocks above the diagonal, where 64 wastes less (25%
// faster at T = 128). 128 query rows gain nothing.
inline constexpr size_t kBlockQ = 64;
inline size_t KeyBlock(bool causal) { return causal ? 64 : 128; }

// Micro-tile rows: kMR rows x 2 vectors of accumulators + 2 B vectors + 1 broadcast fill the
// register file (16 registers: AVX2, SSE4; 32: AVX-512, NEON/SVE).
#if (HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3) || HWY_ARCH_ARM_A64 || \
    (defined(HWY_ARCH_RVV) && HWY_ARCH_RVV)
inline constexpr size_t kMR = 8;
#else
inline constexpr size_t kMR = 6;
#endif

inline size_t RoundUp(size_t x, size_t r) { return (x + r - 1) / r * r; }

// ---- The tile product ----

#define TS_ATTN_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)

// C[MR x NV*L] (=, or += with accumulate) sum_{p < k} A(i, p) B(p, :) with A(i, p) =
// a[i * ars + p * acs] broadcast (any layout: transposed operands cost nothing) and B row p at
// b + p * ldb (NV full vectors). One accumulator per output element, p in increasing order, so
// an element's bits depend only on its A row, B column and k, never on where its tile falls.
template <size_t MR, size_t NV, class D, typename T = hn::TFromD<D>>
HWY_INLINE void Tile(D d, size_t k, const T* HWY_RESTRICT a, size_t ars, size_t acs,
                     const T* HWY_RESTRICT b, size_t ldb, T* HWY_RESTRICT c, size_t ldc,
                     bool accumulate) {
  static_assert(MR >= 1 && MR <= 8 && NV >= 1 && NV <= 2, "tile shape");
  using V = hn::Vec<D>;
  const size_t N = hn::Lanes(d);
#define TS_ATTN_DECL(i) V c##i##0 = hn::Zero(d), c##i##1 = hn::Zero(d);
  TS_ATTN_ROWS(TS_ATTN_DECL)
#undef TS_ATTN_DECL
  if (accumulate) {
#define TS_ATTN_LOAD(i)                                            \
  if constexpr (MR > i) {                                          \
    c##i##0 = hn::LoadU(d, c + i * ldc);                           \
    if constexpr (NV > 1) c##i##1 = hn::LoadU(d, c + i * ldc + N); \
  }
    TS_ATTN_ROWS(TS_ATTN_LOAD)
#undef TS_ATTN_LOAD
  }
  for (size_t p = 0; p < k; ++p) {
    const V b0 = hn::LoadU(d, b);
    const V b1 = NV > 1 ? hn::LoadU(d, b + N) : b0;
#define TS_ATTN_FMA(i)                                           \
  if constexpr (MR > i) {                                        \
    const V ai = hn::Set(d, a[i * ars]);                         \
    c##i##0 = hn::MulAdd(ai, b0, c##i##0);                       \
    if constexpr (NV > 1) c##i##1 = hn::MulAdd(ai, b1, c##i##1); \
  }
    TS_ATTN_ROWS(TS_ATTN_FMA)
#undef TS_ATTN_FMA
    a += acs;
    b += ldb;
  }
#define TS_ATTN_STORE(i)                                           \
  if constexpr (MR > i) {                                          \
    hn::StoreU(c##i##0, d, c + i * ldc);                           \
    if constexpr (NV > 1) hn::StoreU(c##i##1, d, c + i * ldc + N); \
  }
  TS_ATTN_ROWS(TS_ATTN_STORE)
#undef TS_ATTN_STORE
  (void)c00, (void)c01, (void)c10, (void)c11, (void)c20, (void)c21, (void)c30, (void)c31;
  (void)c40, (void)c41, (void)c50, (void)c51, (void)c60, (void)c61, (void)c70, (void)c71;
}
#undef TS_ATTN_ROWS

template <size_t NV, class D, typename T = hn::TFromD<D>>
HWY_INLINE void TileRows(D d, size_t mr, size_t k, const T* a, size_t ars, size_t acs, const T* b,
                         size_t ldb, T* c, size_t ldc, bool accumulate) {
  switch (mr) {
#define TS_ATTN_CASE(r)                                                                 \
  case r:                                                                               \
    if constexpr (r <= kMR) Tile<r, NV>(d, k, a, ars, acs, b, ldb, c, ldc, accumulate); \
    break;
    TS_ATTN_CASE(1)
    TS_ATTN_CASE(2)
    TS_ATTN_CASE(3)
    TS_ATTN_CASE(4)
    TS_ATTN_CASE(5)
    TS_ATTN_CASE(6)
    TS_ATTN_CASE(7)
    TS_ATTN_CASE(8)
#undef TS_ATTN_CASE
    default:
      break;
  }
}

// C[m x n] (=, or += with accumulate) A[m x k] B[k x n]: A(i, p) = a[i * ars + p * acs],
// B row-major with row stride ldb, C row stride ldc; n is a multiple of Lanes(d) (the callers pad
// B and C). Column panels of 2 vectors outermost, so one B panel (k x 2L) serves every row.
template <class D, typename T = hn::TFromD<D>>
HWY_NOINLINE void MatMul(D d, size_t m, size_t n, size_t k, const T* a, size_t ars, size_t acs,
                         const T* b, size_t ldb, T* c, size_t ldc, bool accumulate) {
  const size_t N = hn::Lanes(d);
  for (size_t j = 0; j < n;) {
    const bool two = n - j >= 2 * N;
    for (size_t i = 0; i < m; i += kMR) {
      const size_t mr = std::min(kMR, m - i);
      if (two) {
        TileRows<2>(d, mr, k, a + i * ars, ars, acs, b + j, ldb, c + i * ldc + j, ldc, accumulate);
      } else {
        TileRows<1>(d, mr, k, a + i * ars, ars, acs, b + j, ldb, c + i * ldc + j, ldc, accumulate);
      }
    }
    j += two ? 2 * N : N;
  }
}

// ---- Row helpers (every width is a multiple of Lanes(d)) ----

template <class D, typename T = hn::TFromD<D>>
HWY_INLINE void FillRow(D d, T* row, size_t width, T value) {
  const size_t N = hn::Lanes(d);
  for (size_t c = 0; c < width; c += N) hn::StoreU(hn::Set(d, value), d, row + c);
}

template <class D, typename T = hn::TFromD<D>>
HWY_INLINE void ScaleRow(D d, T* row, size_t width, T factor) {
  const size_t N = hn::Lanes(d);
  const auto f = hn::Set(d, factor);
  for (size_t c = 0; c < width; c += N) hn::StoreU(hn::Mul(hn::LoadU(d, row + c), f), d, row + c);
}

// Lanes [lo, hi) of the vector starting at element c are true.
template <class D>
HWY_INLINE hn::Mask<D> ValidLanes(D d, size_t c, size_t lo, size_t hi) {
  const size_t N = hn::Lanes(d);
  const auto below_hi = hn::FirstN(d, hi > c ? std::min(hi - c, N) : 0);
  if (lo <= c) return below_hi;
  return hn::AndNot(hn::FirstN(d, std::min(lo - c, N)), below_hi);
}

// The additive mask values of one tile row, `count` elements `stride` apart, as a contiguous row
// of `width` elements (zeros past count): the row itself when that is already its layout.
template <typename T>
const T* MaskRow(const T* base, int64_t stride, size_t count, size_t width, T* buf) {
  if (stride == 1 && count == width) return base;
  for (size_t c = 0; c < count; ++c) buf[c] = base[static_cast<int64_t>(c) * stride];
  for (size_t c = count; c < width; ++c) buf[c] = T(0);
  return buf;
}

// Whether any of the `width` elements of row is NaN.
template <class D, typename T = hn::TFromD<D>>
HWY_INLINE bool RowHasNaN(D d, const T* row, size_t width) {
  const size_t N = hn::Lanes(d);
  for (size_t c = 0; c < width; c += N)
    if (!hn::AllFalse(d, hn::IsNaN(hn::LoadU(d, row + c)))) return true;
  return false;
}

// The score of one element: s * scale + mask. Every tile of the backward, in either schedule,
// uses this one expression, so the recomputed probabilities are the same bits everywhere.
template <class D, class V = hn::Vec<D>>
HWY_INLINE V Score(D d, V s, V scale, const hn::TFromD<D>* mask, size_t c) {
  return mask != nullptr ? hn::MulAdd(s, scale, hn::LoadU(d, mask + c)) : hn::Mul(s, scale);
}

// 2^t for float t (-inf and t <= -127 give 0, t is clamped to <= 127, NaN stays NaN on x86):
// t rounded to n, a degree-6 polynomial of 2^(t - n) on [-0.5, 0.5] (coefficients fitted to the
// relative error: 1.9e-9, ~1 ulp once evaluated in float), times 2^n built in the exponent bits.
// Half the operations of hn::Exp, whose cost is most of the softmax part of a tile.
template <class D>
HWY_INLINE hn::Vec<D> Exp2Float(D d, hn::Vec<D> t) {
  static_assert(sizeof(hn::TFromD<D>) == 4, "float only");
  // Constant first: x86 min/max return their second operand when one is NaN.
  t = hn::Min(hn::Set(d, 127.0f), hn::Max(hn::Set(d, -127.0f), t));
  const auto n = hn::Round(t);
  const auto f = hn::Sub(t, n);
  auto p = hn::Set(d, 1.534581177719448e-4f);
  p = hn::MulAdd(p, f, hn::Set(d, 1.3399931216587487e-3f));
  p = hn::MulAdd(p, f, hn::Set(d, 9.618488957926063e-3f));
  p = hn::MulAdd(p, f, hn::Set(d, 5.550328776972569e-2f));
  p = hn::MulAdd(p, f, hn::Set(d, 2.402264689062693e-1f));
  p = hn::MulAdd(p, f, hn::Set(d, 6.93147205737263e-1f));
  p = hn::MulAdd(p, f, hn::Set(d, 1.0f));
  const hn::RebindToSigned<D> di;
  const auto bits = hn::ShiftLeft<23>(hn::Add(hn::ConvertTo(di, n), hn::Set(di, 127)));
  return hn::Mul(p, hn::BitCast(d, bits));  // n = -127: exponent bits 0, so exactly 0
}

// exp(x - m) of the softmax tiles, x <= m up to rounding: float through Exp2Float, double through
// hn::Exp (its polynomial is what double accuracy needs). x = -inf or m = +inf give 0; a NaN
// stays NaN.
template <class D, class V = hn::Vec<D>>
HWY_INLINE V ExpDiff(D d, V x, V m) {
  if constexpr (sizeof(hn::TFromD<D>) == 4) {
    return Exp2Float(d, hn::Mul(hn::Sub(x, m), hn::Set(d, 1.4426950408889634f)));
  } else {
    // hn::Exp clamps its argument with Max, which drops a NaN on x86: keep NaN scores NaN.
    const V diff = hn::Sub(x, m);
    return hn::IfThenElse(hn::IsNaN(diff), diff, hn::Exp(d, diff));
  }
}

// ---- Sizes of one call ----

struct Dims {
  size_t N;              // lanes
  size_t bh, heads;      // batch * heads, heads
  size_t tq, tk, d, dv;  // as in AttentionParams
  size_t dp, dvp;        // d, dv rounded up to N (padded row widths of the tile buffers)
  size_t bk;             // key block: KeyBlock(causal)
  size_t bqp, bkp;       // kBlockQ, bk rounded up to N
  size_t nqb, nkb;       // query / key blocks
};

template <class D>
Dims MakeDims(D d, const AttentionParams& p) {
  Dims g;
  g.N = hn::Lanes(d);
  g.heads = static_cast<size_t>(p.heads);
  g.bh = static_cast<size_t>(p.batch) * g.heads;
  g.tq = static_cast<size_t>(p.tq);
  g.tk = static_cast<size_t>(p.tk);
  g.d = static_cast<size_t>(p.d);
  g.dv = static_cast<size_t>(p.dv);
  g.dp = RoundUp(g.d, g.N);
  g.dvp = RoundUp(g.dv, g.N);
  g.bqp = RoundUp(kBlockQ, g.N);
  g.bk = KeyBlock(p.causal);
  g.bkp = RoundUp(g.bk, g.N);
  g.nqb = (g.tq + kBlockQ - 1) / kBlockQ;
  g.nkb = (g.tk + g.bk - 1) / g.bk;
  return g;
}

// Task t of a group of n tiles, reordered 0, n-1, 1, n-2, ...: under causal masking the work of
// a tile grows (queries) or shrinks (keys) with its index, so any contiguous range of tasks, as
// parallel_for hands out, gets a balanced share.
inline size_t Zigzag(size_t t, size_t n) { return t % 2 == 0 ? t / 2 : n - 1 - t / 2; }

// A buffer from the caching allocator (counted by allocator_stats like tensor memory).
template <typename T>
struct Buffer {
  explicit Buffer(size_t count) : storage(std::max<size_t>(count, 1) * sizeof(T)) {}
  T* get() { return static_cast<T*>(storage.data()); }
  Storage storage;
};

// The rows of one operand: row t of head bh = b * heads + h starts at base + b * sb + h * sh +
// t * st (AttentionLayout, resolved: the default layout becomes explicit strides).
template <typename T>
struct Rows {
  T* base;
  size_t sb, sh, st, heads;
  T* row(size_t bh, size_t t) const { return base + bh / heads * sb + bh % heads * sh + t * st; }
};

template <typename T>
Rows<T> MakeRows(T* base, const AttentionLayout& l, size_t heads, size_t t_len, size_t width) {
  heads = std::max<size_t>(heads, 1);
  if (l.is_default()) return {base, heads * t_len * width, t_len * width, width, heads};
  return {base, static_cast<size_t>(l.sb), static_cast<size_t>(l.sh), static_cast<size_t>(l.st),
          heads};
}

// dst (cols x ldd) = the transpose of src (rows x cols, row stride lds); columns [rows, ldd)
// of dst are zero. 128-bit blocks (4 x 4 floats, 2 x 2 doubles) are transposed in registers:
// strided scalar copies would cost as much as a tile product at T = 128.
template <typename T>
void TransposeInto(const T* HWY_RESTRICT src, size_t rows, size_t cols, size_t lds,
                   T* HWY_RESTRICT dst, size_t ldd) {
  size_t r0 = 0;
#if HWY_TARGET != HWY_SCALAR
  const hn::Full128<T> d;
  constexpr size_t L = 16 / sizeof(T);
  for (; r0 + L <= rows; r0 += L) {
    size_t c = 0;
    for (; c + L <= cols; c += L) {
      const T* in = src + r0 * lds + c;
      T* o = dst + c * ldd + r0;
      if constexpr (L == 4) {
        const hn::Repartition<uint64_t, decltype(d)> d64;  // pairs of floats
        const auto a = hn::LoadU(d, in), b = hn::LoadU(d, in + lds);
        const auto e = hn::LoadU(d, in + 2 * lds), f = hn::LoadU(d, in + 3 * lds);
        const auto ab_lo = hn::BitCast(d64, hn::InterleaveLower(d, a, b));  // a0 b0 a1 b1
        const auto ab_hi = hn::BitCast(d64, hn::InterleaveUpper(d, a, b));  // a2 b2 a3 b3
        const auto ef_lo = hn::BitCast(d64, hn::InterleaveLower(d, e, f));
        const auto ef_hi = hn::BitCast(d64, hn::InterleaveUpper(d, e, f));
        hn::StoreU(hn::BitCast(d, hn::InterleaveLower(d64, ab_lo, ef_lo)), d, o);
        hn::StoreU(hn::BitCast(d, hn::InterleaveUpper(d64, ab_lo, ef_lo)), d, o + ldd);
        hn::StoreU(hn::BitCast(d, hn::InterleaveLower(d64, ab_hi, ef_hi)), d, o + 2 * ldd);
        hn::StoreU(hn::BitCast(d, hn::InterleaveUpper(d64, ab_hi, ef_hi)), d, o + 3 * ldd);
      } else {
        const auto a = hn::LoadU(d, in), b = hn::LoadU(d, in + lds);
        hn::StoreU(hn::InterleaveLower(d, a, b), d, o);
        hn::StoreU(hn::InterleaveUpper(d, a, b), d, o + ldd);
      }
    }
    for (; c < cols; ++c)
      for (size_t r = r0; r < r0 + L; ++r) dst[c * ldd + r] = src[r * lds + c];
  }
#endif
  for (; r0 < rows; ++r0)
    for (size_t c = 0; c < cols; ++c) dst[c * ldd + r0] = src[r0 * lds + c];
  for (size_t c = 0; c < cols; ++c) std::fill(dst + c * ldd + rows, dst + (c + 1) * ldd, T(0));
}

// The rows of x (bh heads of t rows of `cols`) with widths padded to a multiple of the lanes: x
// itself when cols already is one, else a contiguous padded copy in buf.
template <typename T>
Rows<const T> PaddedRows(const Rows<const T>& x, size_t bh, size_t t, size_t cols, size_t padded,
                         Buffer<T>* buf) {
  if (cols == padded) return x;
  T* dst = buf->get();
  parallel_for(static_cast<int64_t>(bh), 1, [&](int64_t h0, int64_t h1) {
    for (size_t h = static_cast<size_t>(h0); h < static_cast<size_t>(h1); ++h)
      for (size_t r = 0; r < t; ++r) {
        std::memcpy(dst + (h * t + r) * padded, x.row(h, r), cols * sizeof(T));
        std::fill(dst + (h * t + r) * padded + cols, dst + (h * t + r + 1) * padded, T(0));
      }
  });
  return {dst, x.heads * t * padded, t * padded, padded, x.heads};
}

// Transposed blocks of x (bh heads of t rows of cols) -> (bh, blocks, cols, ldb): block u holds
// rows [u * block, ...) of one (b, h) as columns, zero padded to ldb.
template <typename T>
void TransposedBlocks(const Rows<const T>& x, size_t bh, size_t t, size_t cols, size_t block,
                      size_t ldb, T* dst) {
  const size_t nb = (t + block - 1) / block;
  const int64_t grain = std::max<int64_t>(1, 16384 / static_cast<int64_t>(block * cols + 1));
  parallel_for(static_cast<int64_t>(bh * nb), grain, [&](int64_t u0, int64_t u1) {
    for (int64_t u = u0; u < u1; ++u) {
      const size_t head = static_cast<size_t>(u) / nb, blk = static_cast<size_t>(u) % nb;
      const size_t r0 = blk * block, rows = std::min(block, t - r0);
      TransposeInto(x.row(head, r0), rows, cols, x.st, dst + static_cast<size_t>(u) * cols * ldb,
                    ldb);
    }
  });
}

// ---- Forward ----

// One query block of one (b, h): out rows [i0, i0 + mq) and their lse.
//   S = Q Kᵀ_j · scale + M;  m' = max(m, rowmax S);  P = exp(S - m');
//   l = l e^(m - m') + rowsum P;  O = O e^(m - m') + P V_j;
//   at the end out = O / l and lse = m + log(l).
template <class D, typename T = hn::TFromD<D>>
HWY_NOINLINE void ForwardBlock(D d, const Dims& g, const AttentionParams& p, size_t bh, size_t qb,
                               const Rows<const T>& q, const T* kt, const Rows<const T>& v,
                               const Rows<T>& out, T* lse, T* scratch) {
  using V = hn::Vec<D>;
  const T kNegInf = -std::numeric_limits<T>::infinity();
  const size_t N = g.N;
  const size_t i0 = qb * kBlockQ, mq = std::min(kBlockQ, g.tq - i0);
  T* s = scratch;              // kBlockQ x bkp: scores, then probabilities
  T* m = s + kBlockQ * g.bkp;  // running max per row
  T* l = m + kBlockQ;          // running sum per row
  T* mbuf = l + kBlockQ;       // bkp: one gathered mask row
  T* const out_rows = out.row(bh, i0);
  // mq x dvp: the unnormalised output, summed in place when dv needs no padding.
  T* o = g.dv == g.dvp ? out_rows : mbuf + g.bkp;  // written by the first key block
  const size_t ldo = g.dv == g.dvp ? out.st : g.dvp;
  std::fill(m, m + mq, kNegInf);
  std::fill(l, l + mq, T(0));
  const V vscale = hn::Set(d, static_cast<T>(p.scale));
  const V vneg_inf = hn::Set(d, kNegInf);
  const T* mask = static_cast<const T*>(p.mask);
  const int64_t b = static_cast<int64_t>(bh / g.heads), h = static_cast<int64_t>(bh % g.heads);
  // Causal: key blocks past the block's last query are masked entirely and skipped.
  const size_t kb_end = p.causal ? std::min(g.nkb, (i0 + mq - 1) / g.bk + 1) : g.nkb;
  const T* qblk = q.row(bh, i0);
  for (size_t kb = 0; kb < kb_end; ++kb) {
    const size_t j0 = kb * g.bk, nk = std::min(g.bk, g.tk - j0);
    MatMul(d, mq, g.bkp, g.d, qblk, q.st, 1, kt + (bh * g.nkb + kb) * g.d * g.bkp, g.bkp, s,
           g.bkp, false);
    for (size_t r = 0; r < mq; ++r) {
      const size_t i = i0 + r;
      // Keys [0, lim) of the block are visible (causal: key j <= query i).
      const size_t lim = !p.causal ? nk : (i < j0 ? 0 : std::min(nk, i - j0 + 1));
      const T* mrow = nullptr;
      if (mask != nullptr) {
        const T* base = mask + b * p.mask_sb + h * p.mask_sh + static_cast<int64_t>(i) * p.mask_si +
                        static_cast<int64_t>(j0) * p.mask_sj;
        mrow = MaskRow(base, p.mask_sj, nk, g.bkp, mbuf);
      }
      T* row = s + r * g.bkp;
      // Plain rows (no mask, every key visible) keep the raw products: the max of the scaled
      // scores is the scaled max (rounding is monotonic for scale > 0), and the exp pass scales.
      const bool plain = mrow == nullptr && lim == g.bkp && p.scale > 0;
      V vmax = vneg_inf;
      for (size_t c = 0; c < g.bkp; c += N) {
        if (plain) {
          vmax = hn::Max(vmax, hn::LoadU(d, row + c));
          continue;
        }
        V x = Score(d, hn::LoadU(d, row + c), vscale, mrow, c);
        if (c + N > lim) x = hn::IfThenElse(ValidLanes(d, c, 0, lim), x, vneg_inf);
        hn::StoreU(x, d, row + c);
        vmax = hn::Max(vmax, x);
      }
      T row_max = hn::GetLane(hn::MaxOfLanes(d, vmax));
      if (plain) row_max *= static_cast<T>(p.scale);
      T m_new = std::max(m[r], row_max);  // a NaN m[r] stays NaN
      // x86's Max returns its second operand when one is NaN, so the max may drop NaN scores
      // (NaN in q, k, the mask or the scale). With a finite max they still make P and l NaN;
      // only a max of -inf would hide them (the row would look fully masked and give zeros):
      // look for them then, so that the output is NaN as in the reference.
      if (m_new == kNegInf && RowHasNaN(d, row, g.bkp)) m_new = std::numeric_limits<T>::quiet_NaN();
      if (m_new == kNegInf) {  // nothing visible yet: P = 0 (and no exp(-inf - -inf) = NaN)
        FillRow(d, row, g.bkp, T(0));
        continue;
      }
      const T alpha = std::exp(m[r] - m_new);  // 0 for the first visible block
      const V vm = hn::Set(d, m_new);
      V vsum = hn::Zero(d);
      for (size_t c = 0; c < g.bkp; c += N) {
        V x = hn::LoadU(d, row + c);
        if (plain) x = hn::Mul(x, vscale);
        const V e = ExpDiff(d, x, vm);  // exp(-inf) = 0
        hn::StoreU(e, d, row + c);
        vsum = hn::Add(vsum, e);
      }
      l[r] = l[r] * alpha + hn::GetLane(hn::SumOfLanes(d, vsum));
      m[r] = m_new;
      if (kb != 0 && alpha != T(1)) ScaleRow(d, o + r * ldo, g.dvp, alpha);
    }
    MatMul(d, mq, g.dvp, nk, s, g.bkp, 1, v.row(bh, j0), v.st, o, ldo, kb != 0);
  }
  for (size_t r = 0; r < mq; ++r) {
    T* dst = out_rows + r * out.st;
    if (l[r] == T(0)) {  // every key masked
      std::fill(dst, dst + g.dv, T(0));
      lse[bh * g.tq + i0 + r] = kNegInf;
      continue;
    }
    const T inv = T(1) / l[r];
    if (o == out_rows) {
      ScaleRow(d, dst, g.dv, inv);
    } else {
      const T* src = o + r * ldo;
      for (size_t c = 0; c < g.dv; ++c) dst[c] = src[c] * inv;
    }
    lse[bh * g.tq + i0 + r] = m[r] + std::log(l[r]);
  }
}

template <class D, typename T = hn::TFromD<D>>
void Forward(D d, const AttentionParams& p, const T* q, const T* k, const T* v, T* out, T* lse) {
  const Dims g = MakeDims(d, p);
  if (g.bh == 0 || g.tq == 0) return;
  const Rows<const T> qr = MakeRows(q, p.q_layout, g.heads, g.tq, g.d);
  const Rows<T> outr = MakeRows(out, p.out_layout, g.heads, g.tq, g.dv);
  // Kᵀ in blocks (bh, nkb, d, bkp): the B operand of S = Q Kᵀ, transposed once per call.
  Buffer<T> kt(g.bh * g.nkb * g.d * g.bkp);
  TransposedBlocks(MakeRows(k, p.k_layout, g.heads, g.tk, g.d), g.bh, g.tk, g.d, g.bk, g.bkp,
                   kt.get());
  // V rows padded to dvp when dv is not a multiple of the lanes.
  Buffer<T> vpad(g.dv == g.dvp ? 0 : g.bh * g.tk * g.dvp);
  const Rows<const T> vr =
      PaddedRows(MakeRows(v, p.v_layout, g.heads, g.tk, g.dv), g.bh, g.tk, g.dv, g.dvp, &vpad);
  const size_t scratch = kBlockQ * (g.bkp + 2) + g.bkp + (g.dv == g.dvp ? 0 : kBlockQ * g.dvp);
  parallel_for(static_cast<int64_t>(g.bh * g.nqb), 1, [&](int64_t t0, int64_t t1) {
    Buffer<T> buf(scratch);
    for (int64_t t = t0; t < t1; ++t) {
      const size_t bh = static_cast<size_t>(t) / g.nqb;
      const size_t qb = Zigzag(static_cast<size_t>(t) % g.nqb, g.nqb);
      ForwardBlock(d, g, p, bh, qb, qr, kt.get(), vr, outr, lse, buf.get());
    }
  });
}

// ---- Backward ----
//   P_ij = exp(S_ij - lse_i);  D_i = dO_i · O_i;  dP = dO Vᵀ;  dS = P (dP - D) · scale
//   dV_j = sum_i P_ijᵀ dO_i;  dK_j = sum_i dS_ijᵀ Q_i;  dQ_i = sum_j dS_ij K_j
// Tiles are computed transposed (key rows, query columns): Sᵀ = K_j Qᵀ_i and dPᵀ = V_j dOᵀ_i
// read Qᵀ / dOᵀ blocks transposed once per call, dK / dV take the tiles as they are, dQ takes
// dSᵀ through the strided A operand. The same tile code serves both schedules (see Backward).

template <typename T>
struct BackwardInputs {
  Rows<const T> k;       // (bh, tk, d)
  Rows<const T> v;       // (bh, tk, dv)
  const T* qt;           // Qᵀ blocks (bh, nqb, d, bqp)
  const T* dot;          // dOᵀ blocks (bh, nqb, dv, bqp)
  Rows<const T> qrows;   // q rows, d padded to dp when needed
  Rows<const T> krows;   // k rows, d padded to dp when needed
  Rows<const T> dorows;  // dout rows, dv padded to dvp when needed
  const T* lse;          // (bh, tq)
  const T* delta;        // D = rowsum(dout * out), (bh, tq)
};

// Per-thread tile buffers of the backward.
template <typename T>
struct BackwardScratch {
  T* st;       // bk x bqp: Sᵀ, then Pᵀ
  T* dpt;      // bk x bqp: dPᵀ, then dSᵀ
  T* lse_blk;  // bqp: lse of the query block, +inf for fully masked rows and padding
  T* d_blk;    // bqp: D of the query block, 0 for padding
  T* mbuf;     // bqp: one gathered mask column
  static size_t Count(const Dims& g) { return 2 * g.bk * g.bqp + 3 * g.bqp; }
  BackwardScratch(const Dims& g, T* base)
      : st(base),
        dpt(st + g.bk * g.bqp),
        lse_blk(dpt + g.bk * g.bqp),
        d_blk(lse_blk + g.bqp),
        mbuf(d_blk + g.bqp) {}
};

// Whether the tile (key block kb, query block qb) has a visible pair: under causal masking a
// query block entirely before the key block has none and is skipped (in every schedule alike).
inline bool TileVisible(const Dims& g, bool causal, size_t kb, size_t qb) {
  const size_t j0 = kb * g.bk, i0 = qb * kBlockQ, mq = std::min(kBlockQ, g.tq - i0);
  return !causal || j0 < i0 + mq;
}

enum TileOutputs : unsigned { kKeyGrads = 1, kQueryGrads = 2 };

// One tile: adds its part of dK_j and dV_j (into dk_acc: bk x dp, row stride ld_dk; dv_acc:
// bk x dvp, ld_dv) and/or of dQ_i (into dq_acc: rows of block qb, row stride ld_dq). The first tile
// of an accumulator overwrites it (key_first / query_first), which gives the same bits as adding to
// zeros.
template <class D, typename T = hn::TFromD<D>>
HWY_NOINLINE void BackwardTile(D d, const Dims& g, const AttentionParams& p,
                               const BackwardInputs<T>& in, size_t bh, size_t kb, size_t qb,
                               unsigned outputs, bool key_first, bool query_first, T* dk_acc,
                               size_t ld_dk, T* dv_acc, size_t ld_dv, T* dq_acc, size_t ld_dq,
                               const BackwardScratch<T>& s) {
  using V = hn::Vec<D>;
  const T kInf = std::numeric_limits<T>::infinity();
  const size_t N = g.N;
  const size_t j0 = kb * g.bk, nk = std::min(g.bk, g.tk - j0);
  const size_t i0 = qb * kBlockQ, mq = std::min(kBlockQ, g.tq - i0);
  for (size_t r = 0; r < g.bqp; ++r) {
    const T x = r < mq ? in.lse[bh * g.tq + i0 + r] : kInf;
    s.lse_blk[r] = x == -kInf ? kInf : x;  // exp(S - inf) = 0: no exp(-inf - -inf) = NaN
    s.d_blk[r] = r < mq ? in.delta[bh * g.tq + i0 + r] : T(0);
  }
  // Sᵀ = K_j Qᵀ_i, then Pᵀ = exp(Sᵀ · scale + Mᵀ - lse).
  MatMul(d, nk, g.bqp, g.d, in.k.row(bh, j0), in.k.st, 1,
         in.qt + (bh * g.nqb + qb) * g.d * g.bqp, g.bqp, s.st, g.bqp, false);
  const V vscale = hn::Set(d, static_cast<T>(p.scale));
  const V vzero = hn::Zero(d);
  const T* mask = static_cast<const T*>(p.mask);
  const int64_t b = static_cast<int64_t>(bh / g.heads), h = static_cast<int64_t>(bh % g.heads);
  for (size_t c = 0; c < nk; ++c) {
    const size_t j = j0 + c;
    // Queries [lo, bqp) of the block see key j (causal: query i >= key j).
    const size_t lo = !p.causal || j <= i0 ? 0 : std::min(mq, j - i0);
    const T* mcol = nullptr;
    if (mask != nullptr) {
      const T* base = mask + b * p.mask_sb + h * p.mask_sh + static_cast<int64_t>(i0) * p.mask_si +
                      static_cast<int64_t>(j) * p.mask_sj;
      mcol = MaskRow(base, p.mask_si, mq, g.bqp, s.mbuf);
    }
    T* row = s.st + c * g.bqp;
    for (size_t r = 0; r < g.bqp; r += N) {
      V e =
          ExpDiff(d, Score(d, hn::LoadU(d, row + r), vscale, mcol, r), hn::LoadU(d, s.lse_blk + r));
      if (r < lo) e = hn::IfThenElse(ValidLanes(d, r, lo, g.bqp), e, vzero);
      hn::StoreU(e, d, row + r);
    }
  }
  // dV_j += Pᵀ dO_i
  if (outputs & kKeyGrads)
    MatMul(d, nk, g.dvp, mq, s.st, g.bqp, 1, in.dorows.row(bh, i0), in.dorows.st, dv_acc, ld_dv,
           !key_first);
  // dPᵀ = V_j dOᵀ_i, then dSᵀ = Pᵀ (dPᵀ - D) · scale
  MatMul(d, nk, g.bqp, g.dv, in.v.row(bh, j0), in.v.st, 1,
         in.dot + (bh * g.nqb + qb) * g.dv * g.bqp, g.bqp, s.dpt, g.bqp, false);
  for (size_t c = 0; c < nk; ++c) {
    const T* prow = s.st + c * g.bqp;
    T* row = s.dpt + c * g.bqp;
    for (size_t r = 0; r < g.bqp; r += N) {
      const V ds = hn::Mul(hn::Mul(hn::LoadU(d, prow + r),
                                   hn::Sub(hn::LoadU(d, row + r), hn::LoadU(d, s.d_blk + r))),
                           vscale);
      hn::StoreU(ds, d, row + r);
    }
  }
  // dK_j += dSᵀ Q_i
  if (outputs & kKeyGrads)
    MatMul(d, nk, g.dp, mq, s.dpt, g.bqp, 1, in.qrows.row(bh, i0), in.qrows.st, dk_acc, ld_dk,
           !key_first);
  // dQ_i += dS K_j  (dS(r, c) = dSᵀ[c * bqp + r])
  if (outputs & kQueryGrads)
    MatMul(d, mq, g.dp, nk, s.dpt, 1, g.bqp, in.krows.row(bh, j0), in.krows.st, dq_acc, ld_dq,
           !query_first);
}

// Where rows x cols of an output (row stride dst_stride) are summed: in place when cols is a
// multiple of the lanes (cols == padded; row stride dst_stride), else in padded scratch (row
// stride padded) that Finish copies out. The same operations either way, so the same bits. The
// first product overwrites it; Finish(false) (no product reached it) writes zeros.
template <typename T>
class Accumulator {
 public:
  Accumulator(T* dst, size_t dst_stride, size_t rows, size_t cols, size_t padded, T* scratch)
      : dst_(dst),
        acc_(cols == padded ? dst : scratch),
        rows_(rows),
        cols_(cols),
        dst_stride_(dst_stride),
        ld_(cols == padded ? dst_stride : padded) {}
  T* get() const { return acc_; }
  size_t ld() const { return ld_; }
  void Finish(bool written) const {
    for (size_t r = 0; r < rows_; ++r) {
      if (!written) std::fill(acc_ + r * ld_, acc_ + r * ld_ + cols_, T(0));
      if (acc_ != dst_) std::memcpy(dst_ + r * dst_stride_, acc_ + r * ld_, cols_ * sizeof(T));
    }
  }

 private:
  T* dst_;
  T* acc_;
  size_t rows_, cols_, dst_stride_, ld_;
};

// a · b over n elements (full vectors, then a scalar tail: a fixed order).
template <class D, typename T = hn::TFromD<D>>
HWY_INLINE T DotRow(D d, const T* a, const T* b, size_t n) {
  const size_t N = hn::Lanes(d);
  auto acc = hn::Zero(d);
  size_t c = 0;
  for (; c + N <= n; c += N) acc = hn::MulAdd(hn::LoadU(d, a + c), hn::LoadU(d, b + c), acc);
  T sum = hn::GetLane(hn::SumOfLanes(d, acc));
  for (; c < n; ++c) sum += a[c] * b[c];
  return sum;
}

// Schedules. Every dQ_i sums its tiles' products in key-block order and every dK_j / dV_j in
// query-block order, with the same tile code, in both; so they give the same bits and the choice
// between them may depend on the thread count:
//  - one pass per (b, h): each tile's P and dS are computed once (5 tile products). Best when
//    there are enough (b, h) to keep every thread busy.
//  - two passes: dK / dV over (b, h, key block), then dQ over (b, h, query block), each
//    recomputing P and dS (7 tile products) but with many more independent tasks.
template <class D, typename T = hn::TFromD<D>>
void Backward(D d, const AttentionParams& p, const T* q, const T* k, const T* v, const T* out,
              const T* dout, const T* lse, T* dq, T* dk, T* dv) {
  const Dims g = MakeDims(d, p);
  if (g.bh == 0) return;
  const Rows<const T> qr = MakeRows(q, p.q_layout, g.heads, g.tq, g.d);
  const Rows<const T> outr = MakeRows(out, p.out_layout, g.heads, g.tq, g.dv);
  const Rows<const T> dor = MakeRows(dout, p.dout_layout, g.heads, g.tq, g.dv);
  const Rows<T> dqr = MakeRows(dq, p.dq_layout, g.heads, g.tq, g.d);
  const Rows<T> dkr = MakeRows(dk, p.dk_layout, g.heads, g.tk, g.d);
  const Rows<T> dvr = MakeRows(dv, p.dv_layout, g.heads, g.tk, g.dv);
  BackwardInputs<T> in;
  in.k = MakeRows(k, p.k_layout, g.heads, g.tk, g.d);
  in.v = MakeRows(v, p.v_layout, g.heads, g.tk, g.dv);
  in.lse = lse;
  // Qᵀ and dOᵀ blocks (bh, nqb, d | dv, bqp) and D = rowsum(dO * O), per query block.
  Buffer<T> qt(g.bh * g.nqb * g.d * g.bqp), dot(g.bh * g.nqb * g.dv * g.bqp), delta(g.bh * g.tq);
  in.qt = qt.get();
  in.dot = dot.get();
  in.delta = delta.get();
  parallel_for(static_cast<int64_t>(g.bh * g.nqb),
               std::max<int64_t>(1, 16384 / static_cast<int64_t>(kBlockQ * (g.d + g.dv) + 1)),
               [&](int64_t u0, int64_t u1) {
                 for (int64_t u = u0; u < u1; ++u) {
                   const size_t uu = static_cast<size_t>(u);
                   const size_t bh = uu / g.nqb, i0 = uu % g.nqb * kBlockQ;
                   const size_t mq = std::min(kBlockQ, g.tq - i0);
                   TransposeInto(qr.row(bh, i0), mq, g.d, qr.st, qt.get() + uu * g.d * g.bqp,
                                 g.bqp);
                   TransposeInto(dor.row(bh, i0), mq, g.dv, dor.st,
                                 dot.get() + uu * g.dv * g.bqp, g.bqp);
                   for (size_t i = i0; i < i0 + mq; ++i)
                     delta.get()[bh * g.tq + i] =
                         DotRow(d, dor.row(bh, i), outr.row(bh, i), g.dv);
                 }
               });
  Buffer<T> qpad(g.d == g.dp ? 0 : g.bh * g.tq * g.dp);
  Buffer<T> kpad(g.d == g.dp ? 0 : g.bh * g.tk * g.dp);
  Buffer<T> dopad(g.dv == g.dvp ? 0 : g.bh * g.tq * g.dvp);
  in.qrows = PaddedRows(qr, g.bh, g.tq, g.d, g.dp, &qpad);
  in.krows = PaddedRows(in.k, g.bh, g.tk, g.d, g.dp, &kpad);
  in.dorows = PaddedRows(dor, g.bh, g.tq, g.dv, g.dvp, &dopad);

  const size_t tile_scratch = BackwardScratch<T>::Count(g);
  const size_t key_acc = g.bk * (g.dp + g.dvp);
  // Key grads of key block kb of head bh, in query-block order; also dQ when dq_all is given.
  auto key_block = [&](size_t bh, size_t kb, const BackwardScratch<T>& s, T* key_scratch,
                       T* dq_all, size_t ld_dq_all) {
    const size_t j0 = kb * g.bk, nk = std::min(g.bk, g.tk - j0);
    const Accumulator<T> dk_acc(dkr.row(bh, j0), dkr.st, nk, g.d, g.dp, key_scratch);
    const Accumulator<T> dv_acc(dvr.row(bh, j0), dvr.st, nk, g.dv, g.dvp,
                                key_scratch + g.bk * g.dp);
    const unsigned outputs = kKeyGrads | (dq_all != nullptr ? kQueryGrads : 0u);
    bool first = true;
    for (size_t qb = 0; qb < g.nqb; ++qb) {
      if (!TileVisible(g, p.causal, kb, qb)) continue;
      // kb = 0 is the first key block of every query block (visible even when causal).
      BackwardTile(d, g, p, in, bh, kb, qb, outputs, first, kb == 0, dk_acc.get(), dk_acc.ld(),
                   dv_acc.get(), dv_acc.ld(),
                   dq_all != nullptr ? dq_all + qb * kBlockQ * ld_dq_all : static_cast<T*>(nullptr),
                   ld_dq_all, s);
      first = false;
    }
    dk_acc.Finish(!first);
    dv_acc.Finish(!first);
  };

  const int64_t threads = get_num_threads();
  const int64_t bh = static_cast<int64_t>(g.bh);
  const bool one_pass = (bh + threads - 1) / threads * 5 * threads <= 7 * bh;
  if (one_pass) {
    parallel_for(bh, 1, [&](int64_t h0, int64_t h1) {
      Buffer<T> buf(tile_scratch + key_acc + (g.d == g.dp ? 0 : g.tq * g.dp));
      BackwardScratch<T> s(g, buf.get());
      T* key_scratch = buf.get() + tile_scratch;
      for (int64_t head = h0; head < h1; ++head) {
        const size_t hh = static_cast<size_t>(head);
        const Accumulator<T> dq_acc(dqr.row(hh, 0), dqr.st, g.tq, g.d, g.dp,
                                    key_scratch + key_acc);
        for (size_t kb = 0; kb < g.nkb; ++kb)
          key_block(hh, kb, s, key_scratch, dq_acc.get(), dq_acc.ld());
        dq_acc.Finish(g.nkb > 0);
      }
    });
    return;
  }
  parallel_for(static_cast<int64_t>(g.bh * g.nkb), 1, [&](int64_t t0, int64_t t1) {
    Buffer<T> buf(tile_scratch + key_acc);
    BackwardScratch<T> s(g, buf.get());
    for (int64_t t = t0; t < t1; ++t) {
      const size_t hh = static_cast<size_t>(t) / g.nkb;
      key_block(hh, Zigzag(static_cast<size_t>(t) % g.nkb, g.nkb), s, buf.get() + tile_scratch,
                nullptr, 0);
    }
  });
  parallel_for(static_cast<int64_t>(g.bh * g.nqb), 1, [&](int64_t t0, int64_t t1) {
    Buffer<T> buf(tile_scratch + kBlockQ * g.dp);
    BackwardScratch<T> s(g, buf.get());
    for (int64_t t = t0; t < t1; ++t) {
      const size_t hh = static_cast<size_t>(t) / g.nqb;
      const size_t qb = Zigzag(static_cast<size_t>(t) % g.nqb, g.nqb);
      const size_t i0 = qb * kBlockQ, mq = std::min(kBlockQ, g.tq - i0);
      const Accumulator<T> dq_acc(dqr.row(hh, i0), dqr.st, mq, g.d, g.dp,
                                  buf.get() + tile_scratch);
      for (size_t kb = 0; kb < g.nkb; ++kb) {
        if (!TileVisible(g, p.causal, kb, qb)) continue;
        BackwardTile(d, g, p, in, hh, kb, qb, kQueryGrads, false, kb == 0, static_cast<T*>(nullptr),
                     0, static_cast<T*>(nullptr), 0, dq_acc.get(), dq_acc.ld(), s);
      }
      dq_acc.Finish(g.nkb > 0);
    }
  });
}

}  // namespace attn
}  // namespace taesan::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // TAESAN_OPS_KERNELS_ATTENTION_INL_H_ toggle
