// Vector-level math of the elementwise kernels, compiled once per Highway target: IEEE-safe
// wrappers of Highway's Exp/Log/Tanh (overflow, +-inf, NaN, 0), our own erf/erfc (Highway 1.0.3
// has none), the normal CDF, the activations (exact and tanh GELU, sigmoid, SiLU), their
// derivatives, and pow. Every helper is `template <class D> hn::Vec<D> F(D d, hn::Vec<D> v)`.

// Per-target include guard (see hwy/highway.h): re-included once per target by foreach_target.
#if defined(TS_OPS_KERNELS_MATH_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TS_OPS_KERNELS_MATH_INL_H_
#undef TS_OPS_KERNELS_MATH_INL_H_
#else
#define TS_OPS_KERNELS_MATH_INL_H_
#endif

#include <hwy/contrib/math/math-inl.h>
#include <hwy/highway.h>

#include <cstdint>
#include <limits>

HWY_BEFORE_NAMESPACE();
namespace taesan::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using hn::TFromD;

/// c[0] + c[1] x + ... + c[K-1] x^(K-1) by Horner's rule (coefficients lowest degree first).
template <class D, size_t K>
HWY_INLINE hn::Vec<D> Polynomial(D d, hn::Vec<D> x, const TFromD<D> (&c)[K]) {
  hn::Vec<D> r = hn::Set(d, c[K - 1]);
  for (size_t i = K - 1; i-- > 0;) r = hn::MulAdd(r, x, hn::Set(d, c[i]));
  return r;
}

/// Constants of exp, erf/erfc and exp(-x^2) per precision.
///
/// erf(x) = x P(x^2) for |x| < 1 and erfc(a) = exp(-a^2) t Q(t), t = 1 / (1 + p a), for
/// a in [0.5, kTailMax]. P and Q are Chebyshev interpolants computed with mpmath (60 digits,
/// `mpmath.chebyfit`): P of erf(sqrt(u))/sqrt(u) on u in [0, 1] (7 terms float, max relative
/// error 1.3e-9; 12 terms double, 8.1e-18); Q of erfc(a) exp(a^2) / t on the t-image of
/// [0.5, 10.1] (p = 0.5, 10 terms, 3.7e-9) or [0.5, 27.3] (p = 0.25, 21 terms, 5.6e-18); p is a
/// power of 2 so that p a is exact. Both sums are well conditioned (sum |c_i t^i| < 2 |result|),
/// so rounding adds about 1 ulp.
template <typename T>
struct MathConstants;

template <>
struct MathConstants<float> {
  static constexpr float kSmall[7] = {1.12837917f,    -3.76126267e-1f, 1.12835947e-1f,
                                      -2.6854212e-2f, 5.18908742e-3f,  -8.01686429e-4f,
                                      7.87587506e-5f};
  static constexpr float kTail[10] = {
      2.8208467e-1f,  2.82363934e-1f,  2.43773404e-1f, 1.95741493e-1f, 8.44255071e-3f,
      1.76231118e-1f, -3.08780057e-1f, 9.82107525e-2f, 4.78329775e-2f, -2.59241656e-2f};
  static constexpr float kTailP = 0.5f;
  /// erfc(a) < min denormal / 2 beyond this.
  static constexpr float kTailMax = 10.1f;
  /// exp(-x^2 / 2) is 0 in float beyond this, so the square split may clamp here.
  static constexpr float kSquareClamp = 16.0f;
  /// Keeps 12 significant bits: the square of the high part is exact.
  static constexpr uint32_t kHighMask = 0xFFFFF000u;
  /// e^-c for |c| <= 0.11 (|c| <= 2^-10 scale x^2 wherever exp(-scale x^2) is not 0): Taylor to
  /// c^6 (truncation 2e-11).
  static constexpr float kExpSmall[7] = {1.0f,      -1.0f,       0.5f,      -1.0f / 6,
                                         1.0f / 24, -1.0f / 120, 1.0f / 720};
  /// Highway's Exp overflows (to inf, without wrapping) at or below this.
  static constexpr float kExpMax = 89.0f;
};

template <>
struct MathConstants<double> {
  static constexpr double kSmall[12] = {
      1.1283791670955126,     -3.761263890318354e-1, 1.1283791670945006e-1,
      -2.686617064323777e-2,  5.2239776071164227e-3, -8.5483259753896921e-4,
      1.2055294904839708e-4,  -1.492473690741966e-5, 1.6447424703317362e-6,
      -1.6208483801871706e-7, 1.3720064546777686e-8, -7.7958988270021422e-10};
  static constexpr double kTail[21] = {
      1.4104739587592749e-1,  1.4104739658987727e-1, 1.36639643893484e-1,    1.2782458597378685e-1,
      1.1500934291615925e-1,  9.908228044262833e-2,  8.0732458207784369e-2,  6.4384743391914111e-2,
      3.6200211625459689e-2,  6.0473994823335324e-2, -7.6587533226563728e-2, 2.3281379353464422e-1,
      -4.4158423685066422e-1, 7.0401294182387963e-1, -8.9856673236327145e-1, 8.9507710584153527e-1,
      -6.8478944439357907e-1, 3.8124969398817505e-1, -1.4273044975601124e-1, 3.1866025191099291e-2,
      -3.2032175339983863e-3};
  static constexpr double kTailP = 0.25;
  static constexpr double kTailMax = 27.3;
  static constexpr double kSquareClamp = 40.0;
  /// Keeps 26 significant bits.
  static constexpr uint64_t kHighMask = 0xFFFFFFFFF8000000ull;
  /// e^-c for |c| <= 5e-5 (2^-24 scale x^2): Taylor to c^3 (truncation 3e-19).
  static constexpr double kExpSmall[4] = {1.0, -1.0, 0.5, -1.0 / 6};
  static constexpr double kExpMax = 710.0;
};

/// exp(x) for every x: Highway's Exp plus overflow to +inf and NaN propagation (Highway's
/// integer exponent arithmetic is only valid up to the overflow point; -inf already gives 0).
template <class D>
HWY_INLINE hn::Vec<D> ExpSafe(D d, hn::Vec<D> x) {
  using T = TFromD<D>;
  const auto max = hn::Set(d, MathConstants<T>::kExpMax);
  const auto y = hn::Exp(d, hn::Min(x, max));
  const auto inf = hn::Set(d, std::numeric_limits<T>::infinity());
  return hn::IfThenElse(hn::IsNaN(x), x, hn::IfThenElse(hn::Gt(x, max), inf, y));
}

/// log(x) like std::log: x == +-0 gives -inf, x < 0 and NaN give NaN, +inf gives +inf.
template <class D>
HWY_INLINE hn::Vec<D> LogSafe(D d, hn::Vec<D> x) {
  using T = TFromD<D>;
  const auto zero = hn::Zero(d);
  const auto inf = hn::Set(d, std::numeric_limits<T>::infinity());
  auto y = hn::Log(d, x);
  y = hn::IfThenElse(hn::Eq(x, zero), hn::Neg(inf), y);
  y = hn::IfThenElse(hn::Eq(x, inf), inf, y);
  // Not (x >= 0) is true for negatives and NaN.
  return hn::IfThenElse(hn::Not(hn::Ge(x, zero)), hn::Set(d, std::numeric_limits<T>::quiet_NaN()),
                        y);
}

/// tanh(x) with NaN propagated (Highway's Tanh already saturates +-inf to +-1).
template <class D>
HWY_INLINE hn::Vec<D> TanhSafe(D d, hn::Vec<D> x) {
  return hn::IfThenElse(hn::IsNaN(x), x, hn::Tanh(d, x));
}

/// exp(-scale x^2) for scale = 1 or 1/2, accurate to a few ulp for every x (0 for +-inf, garbage
/// for NaN: callers select NaN lanes away). Rounding x^2 would cost a relative error of
/// x^2 ulp (50 ulp at x = 7); instead x = xh + xl with xh holding the high half of the
/// significand, so scale xh^2 is exact and exp(-scale (xl (x + xh))) of the small rest is a
/// short Taylor series.
template <class D>
HWY_INLINE hn::Vec<D> ExpNegSquare(D d, hn::Vec<D> x, TFromD<D> scale) {
  using C = MathConstants<TFromD<D>>;
  const hn::RebindToUnsigned<D> du;
  const auto a = hn::Min(hn::Abs(x), hn::Set(d, C::kSquareClamp));
  const auto ah = hn::And(a, hn::BitCast(d, hn::Set(du, C::kHighMask)));
  const auto vscale = hn::Set(d, scale);
  const auto hi = hn::Mul(hn::Mul(ah, ah), vscale);
  const auto c = hn::Mul(hn::Mul(hn::Sub(a, ah), hn::Add(a, ah)), vscale);
  return hn::Mul(hn::Exp(d, hn::Neg(hi)), Polynomial(d, c, C::kExpSmall));
}

/// erf(x) / x for |x| <= 1, as a polynomial in u = x^2.
template <class D>
HWY_INLINE hn::Vec<D> ErfOverX(D d, hn::Vec<D> u) {
  return Polynomial(d, u, MathConstants<TFromD<D>>::kSmall);
}

/// erfc(a) exp(a^2) for a in [0.5, inf) (a is clamped to where erfc underflows).
template <class D>
HWY_INLINE hn::Vec<D> ErfcScaled(D d, hn::Vec<D> a) {
  using C = MathConstants<TFromD<D>>;
  const auto one = hn::Set(d, TFromD<D>(1));
  const auto ac = hn::Min(a, hn::Set(d, C::kTailMax));
  const auto t = hn::Div(one, hn::MulAdd(ac, hn::Set(d, C::kTailP), one));
  return hn::Mul(t, Polynomial(d, t, C::kTail));
}

/// erf(x): measured max error 2 ulp in float, 1 ulp in double, on every target (see the tests).
template <class D>
HWY_INLINE hn::Vec<D> Erf(D d, hn::Vec<D> x) {
  using T = TFromD<D>;
  const auto a = hn::Abs(x);
  const auto small = hn::Not(hn::Ge(a, hn::Set(d, T(1))));  // includes NaN
  hn::Vec<D> r = hn::Zero(d);
  if (!hn::AllTrue(d, small)) {
    // erf(a) = 1 - erfc(a); erfc(a) <= 0.16 here, so its error shrinks in the difference.
    const auto erfc = hn::Mul(ErfcScaled(d, a), ExpNegSquare(d, a, T(1)));
    r = hn::CopySign(hn::Sub(hn::Set(d, T(1)), erfc), x);
  }
  if (!hn::AllFalse(d, small)) {
    r = hn::IfThenElse(small, hn::Mul(x, ErfOverX(d, hn::Mul(x, x))), r);
  }
  return r;
}

/// ReLU: x < 0 ? 0 : x, which keeps NaN (torch.relu(nan) = nan).
template <class D>
HWY_INLINE hn::Vec<D> Relu(D d, hn::Vec<D> x) {
  return hn::IfThenZeroElse(hn::Lt(x, hn::Zero(d)), x);
}

/// GELU (exact): x Phi(x), Phi the standard normal CDF, computed as 0.5 (1 + erf(x / sqrt 2))
/// near 0 and from erfc in the tails, where Phi(-|x|) = 0.5 erfc(|x| / sqrt 2) = 0.5 H e with
/// H = ErfcScaled(|x| / sqrt 2) and e = exp(-x^2 / 2) taken from x itself (not from the rounded
/// x / sqrt 2). No cancellation: x Phi(x) keeps its relative accuracy down to x = -14 in float;
/// e is the last factor so that a denormal result rounds once. gelu(-inf) = NaN like PyTorch's
/// 0.5 x (1 + erf(x / sqrt 2)).
template <class D>
HWY_INLINE hn::Vec<D> Gelu(D d, hn::Vec<D> x) {
  using T = TFromD<D>;
  const auto half = hn::Set(d, T(0.5));
  const auto y = hn::Mul(x, hn::Set(d, T(0.70710678118654752440)));
  const auto abs_y = hn::Abs(y);
  const auto small = hn::Not(hn::Ge(abs_y, half));  // includes NaN
  hn::Vec<D> r = hn::Zero(d);
  if (!hn::AllTrue(d, small)) {
    const auto t = hn::Mul(ErfcScaled(d, abs_y), half);
    const auto e = ExpNegSquare(d, x, T(0.5));
    const auto left = hn::Mul(hn::Mul(x, t), e);                           // x < 0: x Phi(x)
    const auto right = hn::Mul(x, hn::NegMulAdd(t, e, hn::Set(d, T(1))));  // x (1 - Phi(-x))
    r = hn::IfThenElse(hn::Lt(x, hn::Zero(d)), left, right);
  }
  if (!hn::AllFalse(d, small)) {
    const auto phi = hn::MulAdd(hn::Mul(y, ErfOverX(d, hn::Mul(y, y))), half, half);
    r = hn::IfThenElse(small, hn::Mul(x, phi), r);
  }
  return r;
}

/// d gelu / dx = Phi(x) + x phi(x), phi the standard normal density.
template <class D>
HWY_INLINE hn::Vec<D> GeluDerivative(D d, hn::Vec<D> x) {
  using T = TFromD<D>;
  const auto half = hn::Set(d, T(0.5));
  const auto y = hn::Mul(x, hn::Set(d, T(0.70710678118654752440)));
  const auto abs_y = hn::Abs(y);
  const auto e = ExpNegSquare(d, x, T(0.5));
  const auto small = hn::Not(hn::Ge(abs_y, half));  // includes NaN
  hn::Vec<D> cdf = hn::Zero(d);
  if (!hn::AllTrue(d, small)) {
    const auto q = hn::Mul(hn::Mul(ErfcScaled(d, abs_y), half), e);  // Phi(-|x|)
    cdf = hn::IfThenElse(hn::Lt(x, hn::Zero(d)), q, hn::Sub(hn::Set(d, T(1)), q));
  }
  if (!hn::AllFalse(d, small)) {
    cdf =
        hn::IfThenElse(small, hn::MulAdd(hn::Mul(y, ErfOverX(d, hn::Mul(y, y))), half, half), cdf);
  }
  const auto pdf = hn::Mul(e, hn::Set(d, T(0.39894228040143267794)));  // 1 / sqrt(2 pi)
  return hn::MulAdd(x, pdf, cdf);
}

/// The pieces of sigmoid(z) for any z: e = exp(-|z|) and big = 1 / (1 + e), so sigmoid(z) is
/// big for z >= 0 and e big for z < 0 (no overflow, no cancellation). Where e is denormal or
/// nearly (|z| > 80 float / 700 double) it loses relative precision, so `e_shifted` holds
/// exp(44 - |z|) (44 - |z| is exact) and `scale` = e^-44 (else 1): multiplied last, a tiny
/// product such as SiLU's x e big rounds once.
template <class D>
struct SigmoidParts {
  hn::Vec<D> e_shifted, scale, big;
  hn::Mask<D> neg;
};

template <class D>
HWY_INLINE SigmoidParts<D> SplitSigmoid(D d, hn::Vec<D> z) {
  using T = TFromD<D>;
  const auto one = hn::Set(d, T(1));
  const auto a = hn::Abs(z);
  const auto far = hn::Gt(a, hn::Set(d, T(sizeof(T) == 4 ? 80 : 700)));
  const auto shift = hn::Set(d, T(44));
  const auto e_shifted = hn::Exp(d, hn::IfThenElse(far, hn::Sub(shift, a), hn::Neg(a)));
  const auto scale = hn::IfThenElse(far, hn::Set(d, T(7.7811322411337965157e-20L)), one);
  const auto big = hn::Div(one, hn::MulAdd(e_shifted, scale, one));
  return {e_shifted, scale, big, hn::Lt(z, hn::Zero(d))};
}

/// f sigmoid(z) for the parts of z, with the small factor applied last.
template <class D>
HWY_INLINE hn::Vec<D> TimesSigmoid(const SigmoidParts<D>& p, hn::Vec<D> f) {
  const auto fb = hn::Mul(f, p.big);
  return hn::IfThenElse(p.neg, hn::Mul(hn::Mul(fb, p.e_shifted), p.scale), fb);
}

/// sigmoid(z) and 1 - sigmoid(z) = sigmoid(-z), both with relative accuracy. NaN z gives
/// garbage: callers that need NaN out multiply by x or select it.
template <class D>
HWY_INLINE void SigmoidPair(D d, hn::Vec<D> z, hn::Vec<D>& s, hn::Vec<D>& one_minus_s) {
  const SigmoidParts<D> p = SplitSigmoid(d, z);
  const auto small = hn::Mul(hn::Mul(p.e_shifted, p.big), p.scale);
  s = hn::IfThenElse(p.neg, small, p.big);
  one_minus_s = hn::IfThenElse(p.neg, p.big, small);
}

/// sigmoid(x) = 1 / (1 + exp(-x)), stable for large |x|.
template <class D>
HWY_INLINE hn::Vec<D> Sigmoid(D d, hn::Vec<D> x) {
  const auto s = TimesSigmoid(SplitSigmoid(d, x), hn::Set(d, TFromD<D>(1)));
  return hn::IfThenElse(hn::IsNaN(x), x, s);
}

/// SiLU: x sigmoid(x) (NaN and -inf give NaN, as x / (1 + exp(-x)) does).
template <class D>
HWY_INLINE hn::Vec<D> Silu(D d, hn::Vec<D> x) {
  return TimesSigmoid(SplitSigmoid(d, x), x);
}

/// d silu / dx = s (1 + x (1 - s)), s = sigmoid(x).
template <class D>
HWY_INLINE hn::Vec<D> SiluDerivative(D d, hn::Vec<D> x) {
  hn::Vec<D> s, sc;
  SigmoidPair(d, x, s, sc);
  return hn::Mul(s, hn::MulAdd(x, sc, hn::Set(d, TFromD<D>(1))));
}

/// The argument 2u of GELU's tanh form: 0.5 x (1 + tanh u) = x sigmoid(2u),
/// u = sqrt(2/pi) (x + 0.044715 x^3).
template <class D>
HWY_INLINE hn::Vec<D> GeluTanhArg(D d, hn::Vec<D> x) {
  using T = TFromD<D>;
  const auto inner = hn::MulAdd(hn::Mul(x, x), hn::Set(d, T(0.044715)), hn::Set(d, T(1)));
  return hn::Mul(hn::Mul(x, hn::Set(d, T(2 * 0.79788456080286535588))), inner);
}

/// GELU (tanh approximation) 0.5 x (1 + tanh(u)), computed as x sigmoid(2u): the same function
/// without the cancellation of 1 + tanh(u) for negative x.
template <class D>
HWY_INLINE hn::Vec<D> GeluTanh(D d, hn::Vec<D> x) {
  return TimesSigmoid(SplitSigmoid(d, GeluTanhArg(d, x)), x);
}

/// d/dx [x sigmoid(2u)] = s + x s (1 - s) 2 sqrt(2/pi) (1 + 3 * 0.044715 x^2). The polynomial
/// factor uses x clamped to +-40 (where s (1 - s) is already 0) so that large finite x does not
/// turn 0 * inf into NaN.
template <class D>
HWY_INLINE hn::Vec<D> GeluTanhDerivative(D d, hn::Vec<D> x) {
  using T = TFromD<D>;
  hn::Vec<D> s, sc;
  SigmoidPair(d, GeluTanhArg(d, x), s, sc);
  const auto lim = hn::Set(d, T(40));
  const auto xc = hn::Min(hn::Max(x, hn::Neg(lim)), lim);
  const auto dz =
      hn::Mul(hn::MulAdd(hn::Mul(xc, xc), hn::Set(d, T(3 * 0.044715)), hn::Set(d, T(1))),
              hn::Set(d, T(2 * 0.79788456080286535588)));
  return hn::MulAdd(hn::Mul(hn::Mul(x, hn::Mul(s, sc)), dz), hn::Set(d, T(1)), s);
}

/// std::pow(x, p) lane by lane, as exp(p log|x|) plus the sign and special cases of C's pow
/// (pow(x, 0) = pow(1, y) = 1, pow(-1, +-inf) = 1, negative finite x with non-integer p = NaN,
/// odd integer p keeps the sign of x). The relative error is about |p log x| ulp, so callers use
/// it in double for float data (then it rounds to within 1 float ulp of std::pow).
template <class D>
HWY_INLINE hn::Vec<D> PowLanes(D d, hn::Vec<D> x, hn::Vec<D> p) {
  using T = TFromD<D>;
  const auto one = hn::Set(d, T(1));
  const auto zero = hn::Zero(d);
  auto r = ExpSafe(d, hn::Mul(p, LogSafe(d, hn::Abs(x))));
  const auto is_int = hn::Eq(hn::Round(p), p);  // true for +-inf, false for NaN
  const auto half_p = hn::Mul(p, hn::Set(d, T(0.5)));
  const auto is_odd = hn::And(is_int, hn::Ne(hn::Round(half_p), half_p));
  r = hn::IfThenElse(is_odd, hn::CopySign(r, x), r);
  const auto neg_finite =
      hn::And(hn::Lt(x, zero), hn::Gt(x, hn::Set(d, -std::numeric_limits<T>::infinity())));
  r = hn::IfThenElse(hn::And(neg_finite, hn::Not(is_int)),
                     hn::Set(d, std::numeric_limits<T>::quiet_NaN()), r);
  const auto unit = hn::Or(hn::Or(hn::Eq(p, zero), hn::Eq(x, one)),
                           hn::And(hn::Eq(x, hn::Neg(one)), hn::IsInf(p)));
  return hn::IfThenElse(unit, one, r);
}

}  // namespace taesan::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // TS_OPS_KERNELS_MATH_INL_H_ toggle
