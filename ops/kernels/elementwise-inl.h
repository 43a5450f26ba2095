// Array-level elementwise loops per Highway target: a vector functor mapped over contiguous
// arrays (unaligned loads, vector-aligned stores, the head and tail through padded copies),
// strided arrays through gathered blocks, and the per-op switches of unary, binary and activation
// backward. Threading and dispatch live in elementwise.cc; the vector math in math-inl.h.

// Per-target include guard (see hwy/highway.h): re-included once per target by foreach_target.
#if defined(TS_OPS_KERNELS_ELEMENTWISE_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TS_OPS_KERNELS_ELEMENTWISE_INL_H_
#undef TS_OPS_KERNELS_ELEMENTWISE_INL_H_
#else
#define TS_OPS_KERNELS_ELEMENTWISE_INL_H_
#endif

#include <hwy/highway.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "taesan/ops/kernels/elementwise.h"
#include "taesan/ops/kernels/math-inl.h"

HWY_BEFORE_NAMESPACE();
namespace taesan::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using hn::TFromD;

/// Elements per gathered block on the strided paths (a multiple of every vector length).
inline constexpr size_t kStridedBlock = 256;

/// Elements to run before `out` reaches a vector boundary (0 if it cannot, i.e. it is not even
/// aligned to its element size). Aligned stores never straddle two cache lines, which matters for
/// memory-bound ops with 64-byte vectors.
template <class D>
HWY_INLINE size_t HeadToAlign(D d, const TFromD<D>* out, size_t n) {
  using T = TFromD<D>;
  const size_t N = hn::Lanes(d);
  const auto addr = reinterpret_cast<uintptr_t>(out);
  if (addr % sizeof(T) != 0) return 0;
  const size_t lane = (addr / sizeof(T)) % N;
  return lane == 0 ? 0 : std::min(n, N - lane);
}

/// out[i] = f(d, a[i], b[i]) for i < n, n <= Lanes(d), through a padded aligned copy: nothing is
/// read or written past n, and the elements run the same vector code as full vectors do.
template <bool kScalarA, bool kScalarB, class D, class F>
HWY_INLINE void Map2Partial(D d, const TFromD<D>* a, const TFromD<D>* b, TFromD<D>* out, size_t n,
                            const F& f) {
  using T = TFromD<D>;
  HWY_ALIGN T buf_a[hn::MaxLanes(D())];
  HWY_ALIGN T buf_b[hn::MaxLanes(D())];
  for (size_t j = 0; j < hn::Lanes(d); ++j) {
    buf_a[j] = kScalarA ? a[0] : (j < n ? a[j] : T(1));  // 1: harmless padding
    buf_b[j] = kScalarB ? b[0] : (j < n ? b[j] : T(1));
  }
  hn::Store(f(d, hn::Load(d, buf_a), hn::Load(d, buf_b)), d, buf_a);
  std::copy(buf_a, buf_a + n, out);
}

/// out[i] = f(d, a[i], b[i]) for i < n; kScalarA / kScalarB read a[0] / b[0] for every i
/// (stride 0). Any alignment: loads are unaligned, and a padded head brings `out` to a vector
/// boundary. out may equal a or b (each vector is loaded before it is stored). The head and the
/// last n % N elements go through padded copies, so every element runs the same vector code:
/// a result never depends on where its element sits (hence on how threads split the array).
template <bool kScalarA, bool kScalarB, class D, class F>
HWY_INLINE void Map2(D d, const TFromD<D>* a, const TFromD<D>* b, TFromD<D>* out, size_t n,
                     const F& f) {
  if (n == 0) return;
  const size_t N = hn::Lanes(d);
  const auto a0 = hn::Set(d, a[0]);
  const auto b0 = hn::Set(d, b[0]);
  size_t i = HeadToAlign(d, out, n);
  if (i > 0) Map2Partial<kScalarA, kScalarB>(d, a, b, out, i, f);
  for (; i + N <= n; i += N) {
    const auto va = kScalarA ? a0 : hn::LoadU(d, a + i);
    const auto vb = kScalarB ? b0 : hn::LoadU(d, b + i);
    hn::StoreU(f(d, va, vb), d, out + i);
  }
  if (i < n) {
    Map2Partial<kScalarA, kScalarB>(d, kScalarA ? a : a + i, kScalarB ? b : b + i, out + i, n - i,
                                    f);
  }
}

/// y[i] = f(d, x[i]) for i < n, with the rules of Map2 (x == y allowed).
template <class D, class F>
HWY_INLINE void Map1(D d, const TFromD<D>* x, TFromD<D>* y, size_t n, const F& f) {
  // The second operand is a broadcast dummy: the compiler drops it with the unused lambda
  // argument.
  Map2<false, true>(d, x, x, y, n,
                    [&f](D d2, hn::Vec<D> v, hn::Vec<D>) HWY_ATTR { return f(d2, v); });
}

/// max / min that return NaN when either input is NaN (torch.maximum / torch.minimum), unlike
/// the x86 instructions, which return the second operand.
template <class V>
HWY_INLINE V MaxPropagateNaN(V a, V b) {
  return hn::IfThenElse(hn::Or(hn::IsNaN(a), hn::IsNaN(b)), hn::Add(a, b), hn::Max(a, b));
}
template <class V>
HWY_INLINE V MinPropagateNaN(V a, V b) {
  return hn::IfThenElse(hn::Or(hn::IsNaN(a), hn::IsNaN(b)), hn::Add(a, b), hn::Min(a, b));
}

/// 1 where the mask is set, else 0.
template <class D, class M>
HWY_INLINE hn::Vec<D> OneIf(D d, M m) {
  return hn::IfThenElseZero(m, hn::Set(d, TFromD<D>(1)));
}

#if HWY_HAVE_FLOAT64
/// Double lanes to float with IEEE overflow: Highway's DemoteTo saturates to +-FLT_MAX on the
/// EMU128 and SCALAR targets, where pow must give +-inf. 0x1.ffffffp127 (FLT_MAX + half an ulp)
/// is the smallest magnitude that rounds to inf.
template <class DF, class VD>
HWY_INLINE hn::Vec<DF> DemoteToFloat(DF df, VD v) {
  const hn::Rebind<double, DF> dd;
  const auto f = hn::DemoteTo(df, v);
  const auto huge =
      hn::IfThenElseZero(hn::Ge(hn::Abs(v), hn::Set(dd, 0x1.ffffffp127)), hn::Set(dd, 1.0));
  const auto inf = hn::Set(df, std::numeric_limits<float>::infinity());
  return hn::IfThenElse(hn::Gt(hn::DemoteTo(df, huge), hn::Zero(df)), hn::CopySign(inf, f), f);
}
#endif

/// out[i] = pow(a[i], b[i]) like std::pow. Float data is computed in double lanes (PowLanes is
/// accurate to |b log a| double ulp, far below a float ulp); double data uses std::pow itself,
/// as exp(b log a) in double would lose up to ~700 ulp.
template <bool kScalarA, bool kScalarB, class D>
HWY_INLINE void PowArrays(D /*d*/, const TFromD<D>* a, const TFromD<D>* b, TFromD<D>* out,
                          size_t n) {
  using T = TFromD<D>;
#if HWY_HAVE_FLOAT64
  if constexpr (sizeof(T) == 4) {
    const hn::ScalableTag<double> dd;
    const hn::Rebind<float, decltype(dd)> df;
    Map2<kScalarA, kScalarB>(df, a, b, out, n, [dd](auto df2, auto va, auto vb) HWY_ATTR {
      return DemoteToFloat(df2, PowLanes(dd, hn::PromoteTo(dd, va), hn::PromoteTo(dd, vb)));
    });
    return;
  }
#endif
  for (size_t i = 0; i < n; ++i) {
    out[i] = static_cast<T>(std::pow(static_cast<double>(a[kScalarA ? 0 : i]),
                                     static_cast<double>(b[kScalarB ? 0 : i])));
  }
}

/// y = x^p for a scalar p: fast paths for p in {0, 1, 2, -1, 0.5} (pow(x, 0.5) is sqrt except
/// pow(-0, 0.5) = +0 and pow(-inf, 0.5) = +inf) and x x x for double p = 3; else PowArrays.
template <class D>
HWY_INLINE void PowScalarExponent(D d, TFromD<D> p, const TFromD<D>* x, TFromD<D>* y, size_t n) {
  using T = TFromD<D>;
  using V = hn::Vec<D>;
  if (p == T(0)) {
    std::fill(y, y + n, T(1));
  } else if (p == T(1)) {
    Map1(d, x, y, n, [](D, V v) HWY_ATTR { return v; });
  } else if (p == T(2)) {
    Map1(d, x, y, n, [](D, V v) HWY_ATTR { return hn::Mul(v, v); });
  } else if (p == T(-1)) {
    Map1(d, x, y, n, [](D d2, V v) HWY_ATTR { return hn::Div(hn::Set(d2, T(1)), v); });
  } else if (p == T(0.5)) {
    Map1(d, x, y, n, [](D d2, V v) HWY_ATTR {
      const auto inf = hn::Set(d2, std::numeric_limits<T>::infinity());
      return hn::IfThenElse(hn::Eq(v, hn::Neg(inf)), inf, hn::Abs(hn::Sqrt(v)));
    });
  } else if (p == T(3) && sizeof(T) == 8) {
    Map1(d, x, y, n, [](D, V v) HWY_ATTR { return hn::Mul(hn::Mul(v, v), v); });
  } else {
    PowArrays<false, true>(d, x, &p, y, n);
  }
}

/// y[i] = op(x[i]) on contiguous arrays.
template <class D>
HWY_NOINLINE void UnaryContiguous(D d, UnaryOp op, TFromD<D> p, const TFromD<D>* x, TFromD<D>* y,
                                  size_t n) {
  using T = TFromD<D>;
  using V = hn::Vec<D>;
  switch (op) {
    case UnaryOp::kNeg:
      return Map1(d, x, y, n, [](D, V v) HWY_ATTR { return hn::Neg(v); });
    case UnaryOp::kExp:
      return Map1(d, x, y, n, [](D d2, V v) HWY_ATTR { return ExpSafe(d2, v); });
    case UnaryOp::kLog:
      return Map1(d, x, y, n, [](D d2, V v) HWY_ATTR { return LogSafe(d2, v); });
    case UnaryOp::kSqrt:
      return Map1(d, x, y, n, [](D, V v) HWY_ATTR { return hn::Sqrt(v); });
    case UnaryOp::kRsqrt:
      // Not ApproximateReciprocalSqrt: its 12 bits are far from the reference.
      return Map1(d, x, y, n,
                  [](D d2, V v) HWY_ATTR { return hn::Div(hn::Set(d2, T(1)), hn::Sqrt(v)); });
    case UnaryOp::kAbs:
      return Map1(d, x, y, n, [](D, V v) HWY_ATTR { return hn::Abs(v); });
    case UnaryOp::kTanh:
      return Map1(d, x, y, n, [](D d2, V v) HWY_ATTR { return TanhSafe(d2, v); });
    case UnaryOp::kSigmoid:
      return Map1(d, x, y, n, [](D d2, V v) HWY_ATTR { return Sigmoid(d2, v); });
    case UnaryOp::kRelu:
      return Map1(d, x, y, n, [](D d2, V v) HWY_ATTR { return Relu(d2, v); });
    case UnaryOp::kGelu:
      return Map1(d, x, y, n, [](D d2, V v) HWY_ATTR { return Gelu(d2, v); });
    case UnaryOp::kGeluTanh:
      return Map1(d, x, y, n, [](D d2, V v) HWY_ATTR { return GeluTanh(d2, v); });
    case UnaryOp::kSilu:
      return Map1(d, x, y, n, [](D d2, V v) HWY_ATTR { return Silu(d2, v); });
    case UnaryOp::kErf:
      return Map1(d, x, y, n, [](D d2, V v) HWY_ATTR { return Erf(d2, v); });
    case UnaryOp::kSquare:
      return Map1(d, x, y, n, [](D, V v) HWY_ATTR { return hn::Mul(v, v); });
    case UnaryOp::kReciprocal:
      return Map1(d, x, y, n, [](D d2, V v) HWY_ATTR { return hn::Div(hn::Set(d2, T(1)), v); });
    case UnaryOp::kSign:
      // (x > 0) - (x < 0): sign(+-0) = 0 and sign(NaN) = 0 like torch.sign.
      return Map1(d, x, y, n, [](D d2, V v) HWY_ATTR {
        const auto zero = hn::Zero(d2);
        return hn::Sub(OneIf(d2, hn::Gt(v, zero)), OneIf(d2, hn::Lt(v, zero)));
      });
    case UnaryOp::kPow:
      return PowScalarExponent(d, p, x, y, n);
    case UnaryOp::kAddScalar:
      return Map1(d, x, y, n, [p](D d2, V v) HWY_ATTR { return hn::Add(v, hn::Set(d2, p)); });
    case UnaryOp::kMulScalar:
      return Map1(d, x, y, n, [p](D d2, V v) HWY_ATTR { return hn::Mul(v, hn::Set(d2, p)); });
    case UnaryOp::kRSubScalar:
      return Map1(d, x, y, n, [p](D d2, V v) HWY_ATTR { return hn::Sub(hn::Set(d2, p), v); });
    case UnaryOp::kRDivScalar:
      return Map1(d, x, y, n, [p](D d2, V v) HWY_ATTR { return hn::Div(hn::Set(d2, p), v); });
  }
}

/// y[i * sy] = op(x[i * sx]): blocks gathered into an aligned buffer, run contiguously, scattered
/// back, so strided results are bit-identical to contiguous ones.
template <class D>
HWY_NOINLINE void UnaryStrided(D d, UnaryOp op, TFromD<D> p, const TFromD<D>* x, int64_t sx,
                               TFromD<D>* y, int64_t sy, size_t n) {
  HWY_ALIGN TFromD<D> buf[kStridedBlock];
  for (size_t i = 0; i < n; i += kStridedBlock) {
    const size_t m = std::min(kStridedBlock, n - i);
    for (size_t j = 0; j < m; ++j) buf[j] = x[static_cast<int64_t>(i + j) * sx];
    UnaryContiguous(d, op, p, buf, buf, m);
    for (size_t j = 0; j < m; ++j) y[static_cast<int64_t>(i + j) * sy] = buf[j];
  }
}

/// out[i] = a[i] op b[i] on contiguous arrays (kScalarA / kScalarB: stride 0).
template <bool kScalarA, bool kScalarB, class D>
HWY_NOINLINE void BinaryContiguous(D d, BinaryOp op, const TFromD<D>* a, const TFromD<D>* b,
                                   TFromD<D>* out, size_t n) {
  using V = hn::Vec<D>;
  auto map = [&](const auto& f) HWY_ATTR { Map2<kScalarA, kScalarB>(d, a, b, out, n, f); };
  switch (op) {
    case BinaryOp::kAdd:
      return map([](D, V va, V vb) HWY_ATTR { return hn::Add(va, vb); });
    case BinaryOp::kSub:
      return map([](D, V va, V vb) HWY_ATTR { return hn::Sub(va, vb); });
    case BinaryOp::kMul:
      return map([](D, V va, V vb) HWY_ATTR { return hn::Mul(va, vb); });
    case BinaryOp::kDiv:
      return map([](D, V va, V vb) HWY_ATTR { return hn::Div(va, vb); });
    case BinaryOp::kMax:
      return map([](D, V va, V vb) HWY_ATTR { return MaxPropagateNaN(va, vb); });
    case BinaryOp::kMin:
      return map([](D, V va, V vb) HWY_ATTR { return MinPropagateNaN(va, vb); });
    case BinaryOp::kPow:
      return PowArrays<kScalarA, kScalarB>(d, a, b, out, n);
    case BinaryOp::kEq:
      return map([](D d2, V va, V vb) HWY_ATTR { return OneIf(d2, hn::Eq(va, vb)); });
    case BinaryOp::kLt:
      return map([](D d2, V va, V vb) HWY_ATTR { return OneIf(d2, hn::Lt(va, vb)); });
    case BinaryOp::kGt:
      return map([](D d2, V va, V vb) HWY_ATTR { return OneIf(d2, hn::Gt(va, vb)); });
  }
}

/// out[i * so] = a[i * sa] op b[i * sb] for any strides, through gathered blocks.
template <class D>
HWY_NOINLINE void BinaryStrided(D d, BinaryOp op, const TFromD<D>* a, int64_t sa,
                                const TFromD<D>* b, int64_t sb, TFromD<D>* out, int64_t so,
                                size_t n) {
  HWY_ALIGN TFromD<D> buf_a[kStridedBlock];
  HWY_ALIGN TFromD<D> buf_b[kStridedBlock];
  for (size_t i = 0; i < n; i += kStridedBlock) {
    const size_t m = std::min(kStridedBlock, n - i);
    for (size_t j = 0; j < m; ++j) {
      buf_a[j] = a[static_cast<int64_t>(i + j) * sa];
      buf_b[j] = b[static_cast<int64_t>(i + j) * sb];
    }
    BinaryContiguous<false, false>(d, op, buf_a, buf_b, buf_a, m);
    for (size_t j = 0; j < m; ++j) out[static_cast<int64_t>(i + j) * so] = buf_a[j];
  }
}

/// dx[i] = g[i] f'(v[i]) on contiguous arrays (v is x, or y for Sigmoid and Tanh).
template <class D>
HWY_NOINLINE void ActivationGradContiguous(D d, ActivationGrad op, const TFromD<D>* v,
                                           const TFromD<D>* g, TFromD<D>* dx, size_t n) {
  using T = TFromD<D>;
  using V = hn::Vec<D>;
  auto map = [&](const auto& f) HWY_ATTR { Map2<false, false>(d, v, g, dx, n, f); };
  switch (op) {
    case ActivationGrad::kGelu:
      return map([](D d2, V x, V vg) HWY_ATTR { return hn::Mul(vg, GeluDerivative(d2, x)); });
    case ActivationGrad::kGeluTanh:
      return map([](D d2, V x, V vg) HWY_ATTR { return hn::Mul(vg, GeluTanhDerivative(d2, x)); });
    case ActivationGrad::kSilu:
      return map([](D d2, V x, V vg) HWY_ATTR { return hn::Mul(vg, SiluDerivative(d2, x)); });
    case ActivationGrad::kRelu:
      // PyTorch's threshold_backward: x <= 0 ? 0 : g (a NaN input passes g through).
      return map([](D d2, V x, V vg)
                     HWY_ATTR { return hn::IfThenZeroElse(hn::Le(x, hn::Zero(d2)), vg); });
    case ActivationGrad::kSigmoid:
      // g y (1 - y)
      return map([](D d2, V y, V vg)
                     HWY_ATTR { return hn::Mul(hn::Mul(vg, y), hn::Sub(hn::Set(d2, T(1)), y)); });
    case ActivationGrad::kTanh:
      // g (1 - y^2) as g (1 - y)(1 + y): no cancellation as |y| -> 1.
      return map([](D d2, V y, V vg) HWY_ATTR {
        const auto one = hn::Set(d2, T(1));
        return hn::Mul(vg, hn::Mul(hn::Sub(one, y), hn::Add(one, y)));
      });
  }
}

/// y[i] += alpha x[i].
template <class D>
HWY_NOINLINE void AxpyContiguous(D d, TFromD<D> alpha, const TFromD<D>* x, TFromD<D>* y, size_t n) {
  using V = hn::Vec<D>;
  Map2<false, false>(d, x, y, y, n, [alpha](D d2, V vx, V vy) HWY_ATTR {
    return hn::MulAdd(hn::Set(d2, alpha), vx, vy);
  });
}

}  // namespace taesan::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // TS_OPS_KERNELS_ELEMENTWISE_INL_H_ toggle
