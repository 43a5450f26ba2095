// Per-target fused attention (attention.h), compiled by attention.cc through foreach_target.h:
// FlashAttention-2 tiling (query blocks of 64 rows, key blocks of 64 or 128; tile products on the
// register tile of tile-inl.h) with an online softmax. Here the tiles, row helpers, operand
// layouts and the forward; the backward is in attention_backward-inl.h.
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

#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"
#include "taesan/core/parallel.h"
#include "taesan/core/storage.h"
#include "taesan/ops/kernels/attention.h"
#include "taesan/ops/kernels/tile-inl.h"

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

// ---- The tile product ----

// C[mr x NV*L] (=, or += with accumulate) the register tile of tile-inl.h (kMR rows x 2 vectors
// of accumulators + 2 B vectors + 1 broadcast fill the register file) for a run-time mr <= kMR.
// A(i, p) = a[i * ars + p * acs] is broadcast (any layout: transposed operands cost nothing).
template <size_t NV, class D, typename T = hn::TFromD<D>>
HWY_INLINE void TileRows(D d, size_t mr, size_t k, const T* a, size_t ars, size_t acs, const T* b,
                         size_t ldb, T* c, size_t ldc, bool accumulate) {
  const RuntimeAStrides as{ars, acs};
  switch (mr) {
#define TS_ATTN_CASE(r)                                                           \
  case r:                                                                         \
    if constexpr (r <= kMR)                                                       \
      RegisterTile<r, NV>(d, k, a, as, b, ldb, c, ldc, accumulate, PlainStore()); \
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
    MatMul(d, mq, g.bkp, g.d, qblk, q.st, 1, kt + (bh * g.nkb + kb) * g.d * g.bkp, g.bkp, s, g.bkp,
           false);
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

}  // namespace attn
}  // namespace taesan::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // TAESAN_OPS_KERNELS_ATTENTION_INL_H_ toggle
