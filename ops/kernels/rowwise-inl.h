// Vector helpers shared by the row kernels (softmax-inl.h, layer_norm-inl.h, reduce-inl.h):
// partial loads/stores that never touch memory past the row, a NaN-propagating row max, and the
// blocked multi-accumulator row sum whose order is fixed per target (never by thread count).
// Per-target header: compiled once per SIMD target by rowwise.cc through foreach_target.h.
#if defined(TAESAN_OPS_KERNELS_ROWWISE_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TAESAN_OPS_KERNELS_ROWWISE_INL_H_
#undef TAESAN_OPS_KERNELS_ROWWISE_INL_H_
#else
#define TAESAN_OPS_KERNELS_ROWWISE_INL_H_
#endif

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace taesan::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

/// Elements a parallel task should at least cover: smaller problems stay on the calling thread.
inline constexpr int64_t kRowTaskElems = 32768;

/// Vectors per accumulator in one block of RowSum (see RowBlockSum for the order).
inline constexpr size_t kRowSumBlockVectors = 64;

/// parallel_for grain (in rows) for rows of `cols` elements.
inline int64_t RowGrain(int64_t cols) {
  return std::max<int64_t>(1, kRowTaskElems / std::max<int64_t>(cols, 1));
}

/// Elements of one RowSum block: 4 accumulators x kRowSumBlockVectors vectors.
template <class D>
HWY_INLINE size_t RowSumBlockElems(D d) {
  return 4 * kRowSumBlockVectors * hn::Lanes(d);
}

/// Loads `valid` (<= Lanes) elements from p; lanes past `valid` hold `pad`. A full vector is a
/// plain unaligned load; a partial one goes through an aligned stack copy (no read past p+valid).
template <class D>
HWY_INLINE hn::Vec<D> RowLoad(D d, const hn::TFromD<D>* p, size_t valid, hn::TFromD<D> pad) {
  if (HWY_LIKELY(valid == hn::Lanes(d))) return hn::LoadU(d, p);
  HWY_ALIGN hn::TFromD<D> buf[hn::MaxLanes(d)];
  for (size_t i = 0; i < hn::Lanes(d); ++i) buf[i] = i < valid ? p[i] : pad;
  return hn::Load(d, buf);
}

/// Stores the first `valid` (<= Lanes) lanes of v to p (no write past p+valid).
template <class D>
HWY_INLINE void RowStore(D d, hn::Vec<D> v, hn::TFromD<D>* p, size_t valid) {
  if (HWY_LIKELY(valid == hn::Lanes(d))) {
    hn::StoreU(v, d, p);
    return;
  }
  HWY_ALIGN hn::TFromD<D> buf[hn::MaxLanes(d)];
  hn::Store(v, d, buf);
  for (size_t i = 0; i < valid; ++i) p[i] = buf[i];
}

/// Sum of term(i, valid) over the vectors of [begin, end), begin a multiple of Lanes. `term`
/// returns the vector of elements [i, i + valid) with zeros in lanes past `valid`.
/// Order: accumulator k takes vectors 4q + k; the remaining full vectors and the tail go to
/// accumulator 0 in turn; the block is (a0 + a1) + (a2 + a3).
template <class D, class Term>
HWY_INLINE hn::Vec<D> RowBlockSum(D d, size_t begin, size_t end, const Term& term) {
  const size_t n = hn::Lanes(d);
  auto a0 = hn::Zero(d), a1 = hn::Zero(d), a2 = hn::Zero(d), a3 = hn::Zero(d);
  size_t i = begin;
  for (; i + 4 * n <= end; i += 4 * n) {
    a0 = hn::Add(a0, term(i, n));
    a1 = hn::Add(a1, term(i + n, n));
    a2 = hn::Add(a2, term(i + 2 * n, n));
    a3 = hn::Add(a3, term(i + 3 * n, n));
  }
  for (; i + n <= end; i += n) a0 = hn::Add(a0, term(i, n));
  if (i < end) a0 = hn::Add(a0, term(i, end - i));
  return hn::Add(hn::Add(a0, a1), hn::Add(a2, a3));
}

/// Blocked sum of a row of `count` elements (see RowBlockSum for `term`).
/// Order: blocks of RowSumBlockElems(d) elements summed by RowBlockSum, added to a zero total
/// vector in block order, then SumOfLanes. Depends on the target's lane count only; any
/// caller that computes the block vectors elsewhere (threads) and adds them in block order to
/// a zero vector gets the same bits.
template <class D, class Term>
HWY_INLINE hn::TFromD<D> RowSum(D d, size_t count, const Term& term) {
  const size_t block = RowSumBlockElems(d);
  auto total = hn::Zero(d);
  for (size_t b = 0; b < count; b += block)
    total = hn::Add(total, RowBlockSum(d, b, std::min(count, b + block), term));
  return hn::GetLane(hn::SumOfLanes(d, total));
}

/// Two blocked sums in one pass: term(i, valid, s, t) sets the two vectors to add (zeros past
/// `valid`). Same order as RowSum for each of the two.
template <class D, class Term>
HWY_INLINE void RowSum2(D d, size_t count, const Term& term, hn::TFromD<D>& sum_s,
                        hn::TFromD<D>& sum_t) {
  const size_t n = hn::Lanes(d);
  const size_t block = RowSumBlockElems(d);
  auto total_s = hn::Zero(d), total_t = hn::Zero(d);
  auto s = hn::Zero(d), t = hn::Zero(d);
  for (size_t b = 0; b < count; b += block) {
    const size_t end = std::min(count, b + block);
    auto s0 = hn::Zero(d), s1 = hn::Zero(d), s2 = hn::Zero(d), s3 = hn::Zero(d);
    auto t0 = hn::Zero(d), t1 = hn::Zero(d), t2 = hn::Zero(d), t3 = hn::Zero(d);
    size_t i = b;
    for (; i + 4 * n <= end; i += 4 * n) {
      term(i, n, s, t);
      s0 = hn::Add(s0, s);
      t0 = hn::Add(t0, t);
      term(i + n, n, s, t);
      s1 = hn::Add(s1, s);
      t1 = hn::Add(t1, t);
      term(i + 2 * n, n, s, t);
      s2 = hn::Add(s2, s);
      t2 = hn::Add(t2, t);
      term(i + 3 * n, n, s, t);
      s3 = hn::Add(s3, s);
      t3 = hn::Add(t3, t);
    }
    for (; i < end; i += n) {
      term(i, std::min(n, end - i), s, t);
      s0 = hn::Add(s0, s);
      t0 = hn::Add(t0, t);
    }
    total_s = hn::Add(total_s, hn::Add(hn::Add(s0, s1), hn::Add(s2, s3)));
    total_t = hn::Add(total_t, hn::Add(hn::Add(t0, t1), hn::Add(t2, t3)));
  }
  sum_s = hn::GetLane(hn::SumOfLanes(d, total_s));
  sum_t = hn::GetLane(hn::SumOfLanes(d, total_t));
}

/// Max of x[0, count): NaN if any element is NaN, -inf for an empty row. The value is exact, so
/// the order does not matter.
template <class D>
HWY_INLINE hn::TFromD<D> RowMax(D d, const hn::TFromD<D>* x, size_t count) {
  using T = hn::TFromD<D>;
  const T kNegInf = -std::numeric_limits<T>::infinity();
  const size_t n = hn::Lanes(d);
  auto m0 = hn::Set(d, kNegInf), m1 = m0, m2 = m0, m3 = m0;
  auto nan = hn::Lt(m0, m0);  // all false
  size_t i = 0;
  for (; i + 4 * n <= count; i += 4 * n) {
    const auto v0 = hn::LoadU(d, x + i), v1 = hn::LoadU(d, x + i + n);
    const auto v2 = hn::LoadU(d, x + i + 2 * n), v3 = hn::LoadU(d, x + i + 3 * n);
    m0 = hn::Max(m0, v0);
    m1 = hn::Max(m1, v1);
    m2 = hn::Max(m2, v2);
    m3 = hn::Max(m3, v3);
    nan = hn::Or(
        nan, hn::Or(hn::Or(hn::IsNaN(v0), hn::IsNaN(v1)), hn::Or(hn::IsNaN(v2), hn::IsNaN(v3))));
  }
  for (; i < count; i += n) {
    const auto v = RowLoad(d, x + i, std::min(n, count - i), kNegInf);
    m0 = hn::Max(m0, v);
    nan = hn::Or(nan, hn::IsNaN(v));
  }
  if (!hn::AllFalse(d, nan)) return std::numeric_limits<T>::quiet_NaN();
  return hn::GetLane(hn::MaxOfLanes(d, hn::Max(hn::Max(m0, m1), hn::Max(m2, m3))));
}

/// Calls body(i, valid) for the vectors of [0, count): every full vector (valid == Lanes, a
/// constant the loads and stores of the body fold on), then the partial tail if any.
template <class D, class Body>
HWY_INLINE void RowForEach(D d, size_t count, const Body& body) {
  const size_t n = hn::Lanes(d);
  size_t i = 0;
  for (; i + n <= count; i += n) body(i, n);
  if (i < count) body(i, count - i);
}

/// Writes `value` to y[0, count).
template <class D>
HWY_INLINE void RowFill(D d, hn::TFromD<D>* y, size_t count, hn::TFromD<D> value) {
  const auto v = hn::Set(d, value);
  RowForEach(d, count, [&](size_t i, size_t valid) { RowStore(d, v, y + i, valid); });
}

}  // namespace taesan::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // TAESAN_OPS_KERNELS_ROWWISE_INL_H_ toggle
