// Per-target backward of the fused attention kernel (attention.h), compiled once per Highway
// target by attention.cc through foreach_target.h: the probabilities are recomputed tile by tile
// from the forward's log-sum-exp, and the gradient tiles go through the same tile product
// (MatMul) as the forward. The shared pieces (tiles, layouts, row helpers) are in attention-inl.h.
#if defined(TAESAN_OPS_KERNELS_ATTENTION_BACKWARD_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TAESAN_OPS_KERNELS_ATTENTION_BACKWARD_INL_H_
#undef TAESAN_OPS_KERNELS_ATTENTION_BACKWARD_INL_H_
#else
#define TAESAN_OPS_KERNELS_ATTENTION_BACKWARD_INL_H_
#endif

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>

#include "hwy/highway.h"
#include "taesan/core/parallel.h"
#include "taesan/ops/kernels/attention-inl.h"
#include "taesan/ops/kernels/attention.h"
#include "taesan/ops/kernels/tile-inl.h"

HWY_BEFORE_NAMESPACE();
namespace taesan::kernels::HWY_NAMESPACE {
namespace attn {
namespace hn = hwy::HWY_NAMESPACE;

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
  MatMul(d, nk, g.bqp, g.d, in.k.row(bh, j0), in.k.st, 1, in.qt + (bh * g.nqb + qb) * g.d * g.bqp,
         g.bqp, s.st, g.bqp, false);
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
  parallel_for(
      static_cast<int64_t>(g.bh * g.nqb),
      std::max<int64_t>(1, 16384 / static_cast<int64_t>(kBlockQ * (g.d + g.dv) + 1)),
      [&](int64_t u0, int64_t u1) {
        for (int64_t u = u0; u < u1; ++u) {
          const size_t uu = static_cast<size_t>(u);
          const size_t bh = uu / g.nqb, i0 = uu % g.nqb * kBlockQ;
          const size_t mq = std::min(kBlockQ, g.tq - i0);
          TransposeInto(qr.row(bh, i0), mq, g.d, qr.st, qt.get() + uu * g.d * g.bqp, g.bqp);
          TransposeInto(dor.row(bh, i0), mq, g.dv, dor.st, dot.get() + uu * g.dv * g.bqp, g.bqp);
          for (size_t i = i0; i < i0 + mq; ++i)
            delta.get()[bh * g.tq + i] = DotRow(d, dor.row(bh, i), outr.row(bh, i), g.dv);
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
  auto key_block = [&](size_t bh, size_t kb, const BackwardScratch<T>& s, T* key_scratch, T* dq_all,
                       size_t ld_dq_all) {
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
        const Accumulator<T> dq_acc(dqr.row(hh, 0), dqr.st, g.tq, g.d, g.dp, key_scratch + key_acc);
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
      const Accumulator<T> dq_acc(dqr.row(hh, i0), dqr.st, mq, g.d, g.dp, buf.get() + tile_scratch);
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

#endif  // TAESAN_OPS_KERNELS_ATTENTION_BACKWARD_INL_H_ toggle
