// Elementwise kernels: per-target entry points (compiled for every Highway target through
// foreach_target.h) that split an array across threads and run the loops of elementwise-inl.h,
// the public functions that dispatch once per call, and the scalar references of the tests.

#include "taesan/ops/kernels/elementwise.h"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "taesan/core/error.h"
#include "taesan/core/parallel.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "taesan/ops/kernels/elementwise.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "taesan/ops/kernels/elementwise-inl.h"

HWY_BEFORE_NAMESPACE();
namespace taesan::kernels::HWY_NAMESPACE {
namespace {

// Smallest chunk a thread takes. Cheap ops are memory bound: a chunk must amortise waking a
// worker (~10 us), so arrays split from 64K elements on. Transcendental ops cost 10-50x more
// per element and split earlier. Chunks never change results (each element is computed once,
// by the same vector code wherever it sits).
constexpr int64_t kCheapGrain = int64_t{1} << 15;
constexpr int64_t kCostlyGrain = int64_t{1} << 12;

int64_t grain_of(UnaryOp op) {
  switch (op) {
    case UnaryOp::kExp:
    case UnaryOp::kLog:
    case UnaryOp::kTanh:
    case UnaryOp::kSigmoid:
    case UnaryOp::kGelu:
    case UnaryOp::kGeluTanh:
    case UnaryOp::kSilu:
    case UnaryOp::kErf:
    case UnaryOp::kPow:
      return kCostlyGrain;
    default:
      return kCheapGrain;
  }
}
int64_t grain_of(BinaryOp op) { return op == BinaryOp::kPow ? kCostlyGrain : kCheapGrain; }
int64_t grain_of(ActivationGrad op) {
  return op == ActivationGrad::kRelu || op == ActivationGrad::kSigmoid ||
                 op == ActivationGrad::kTanh
             ? kCheapGrain
             : kCostlyGrain;
}

template <typename T>
void unary_t(UnaryOp op, double param, const T* x, int64_t sx, T* y, int64_t sy, int64_t n) {
  const hn::ScalableTag<T> d;
  const T p = static_cast<T>(param);
  parallel_for(n, grain_of(op), [&](int64_t begin, int64_t end) HWY_ATTR {
    const auto m = static_cast<size_t>(end - begin);
    if (sx == 1 && sy == 1) {
      UnaryContiguous(d, op, p, x + begin, y + begin, m);
    } else {
      UnaryStrided(d, op, p, x + begin * sx, sx, y + begin * sy, sy, m);
    }
  });
}

template <typename T>
void binary_t(BinaryOp op, const T* a, int64_t sa, const T* b, int64_t sb, T* out, int64_t so,
              int64_t n) {
  const hn::ScalableTag<T> d;
  parallel_for(n, grain_of(op), [&](int64_t begin, int64_t end) HWY_ATTR {
    const auto m = static_cast<size_t>(end - begin);
    const T* pa = a + begin * sa;
    const T* pb = b + begin * sb;
    T* po = out + begin;
    if (so != 1 || sa < 0 || sa > 1 || sb < 0 || sb > 1 || (sa == 0 && sb == 0)) {
      BinaryStrided(d, op, pa, sa, pb, sb, out + begin * so, so, m);
    } else if (sa == 1 && sb == 1) {
      BinaryContiguous<false, false>(d, op, pa, pb, po, m);
    } else if (sa == 0) {
      BinaryContiguous<true, false>(d, op, pa, pb, po, m);
    } else {
      BinaryContiguous<false, true>(d, op, pa, pb, po, m);
    }
  });
}

template <typename T>
void activation_grad_t(ActivationGrad op, const T* v, const T* g, T* dx, int64_t n) {
  const hn::ScalableTag<T> d;
  parallel_for(n, grain_of(op), [&](int64_t begin, int64_t end) HWY_ATTR {
    ActivationGradContiguous(d, op, v + begin, g + begin, dx + begin,
                             static_cast<size_t>(end - begin));
  });
}

template <typename T>
void axpy_t(T alpha, const T* x, T* y, int64_t n) {
  const hn::ScalableTag<T> d;
  parallel_for(n, kCheapGrain, [&](int64_t begin, int64_t end) HWY_ATTR {
    AxpyContiguous(d, alpha, x + begin, y + begin, static_cast<size_t>(end - begin));
  });
}

}  // namespace

// One exported wrapper per dtype (Highway 1.0.3 has no HWY_EXPORT_T).
void UnaryF32(UnaryOp op, double param, const float* x, int64_t sx, float* y, int64_t sy,
              int64_t n) {
  unary_t(op, param, x, sx, y, sy, n);
}
void BinaryF32(BinaryOp op, const float* a, int64_t sa, const float* b, int64_t sb, float* out,
               int64_t so, int64_t n) {
  binary_t(op, a, sa, b, sb, out, so, n);
}
void ActivationGradF32(ActivationGrad op, const float* v, const float* g, float* dx, int64_t n) {
  activation_grad_t(op, v, g, dx, n);
}
void AxpyF32(float alpha, const float* x, float* y, int64_t n) { axpy_t(alpha, x, y, n); }

#if HWY_HAVE_FLOAT64
void UnaryF64(UnaryOp op, double param, const double* x, int64_t sx, double* y, int64_t sy,
              int64_t n) {
  unary_t(op, param, x, sx, y, sy, n);
}
void BinaryF64(BinaryOp op, const double* a, int64_t sa, const double* b, int64_t sb, double* out,
               int64_t so, int64_t n) {
  binary_t(op, a, sa, b, sb, out, so, n);
}
void ActivationGradF64(ActivationGrad op, const double* v, const double* g, double* dx, int64_t n) {
  activation_grad_t(op, v, g, dx, n);
}
void AxpyF64(double alpha, const double* x, double* y, int64_t n) { axpy_t(alpha, x, y, n); }
#else
// Targets without double lanes (Armv7 NEON) run the scalar references element by element.
void UnaryF64(UnaryOp op, double param, const double* x, int64_t sx, double* y, int64_t sy,
              int64_t n) {
  for (int64_t i = 0; i < n; ++i) unary_reference(op, param, x + i * sx, y + i * sy, 1);
}
void BinaryF64(BinaryOp op, const double* a, int64_t sa, const double* b, int64_t sb, double* out,
               int64_t so, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    binary_reference(op, a + i * sa, 0, b + i * sb, 0, out + i * so, 1);
}
void ActivationGradF64(ActivationGrad op, const double* v, const double* g, double* dx, int64_t n) {
  activation_grad_reference(op, v, g, dx, n);
}
void AxpyF64(double alpha, const double* x, double* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = std::fma(alpha, x[i], y[i]);
}
#endif

}  // namespace taesan::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace taesan::kernels {

HWY_EXPORT(UnaryF32);
HWY_EXPORT(UnaryF64);
HWY_EXPORT(BinaryF32);
HWY_EXPORT(BinaryF64);
HWY_EXPORT(ActivationGradF32);
HWY_EXPORT(ActivationGradF64);
HWY_EXPORT(AxpyF32);
HWY_EXPORT(AxpyF64);

namespace {

void check_args(const char* fn, int64_t n, bool op_valid, int op) {
  TS_CHECK(n >= 0, "{}: expected an element count n >= 0, got {}", fn, n);
  TS_CHECK(op_valid, "{}: unknown op code {}", fn, op);
}
bool valid(UnaryOp op) { return static_cast<int>(op) <= static_cast<int>(UnaryOp::kRDivScalar); }
bool valid(BinaryOp op) { return static_cast<int>(op) <= static_cast<int>(BinaryOp::kGt); }
bool valid(ActivationGrad op) {
  return static_cast<int>(op) <= static_cast<int>(ActivationGrad::kTanh);
}

// ---- Scalar references: one element at a time, in a wider type -------------------------------
// Arithmetic runs in double (exact rounding of float +-*/ and sqrt); transcendental functions
// run in double for float data and in long double for double data, so the reference is the
// correctly rounded result up to the libm's own error.

template <typename T>
using Wide = std::conditional_t<sizeof(T) == 4, double, long double>;

template <typename W>
W sigmoid_w(W z) {
  if (z >= 0) return W(1) / (W(1) + std::exp(-z));
  const W e = std::exp(z);  // also NaN
  return e / (W(1) + e);
}

// Constants of GELU: 1 / sqrt 2, 1 / sqrt(2 pi), sqrt(2 / pi), and the cubic coefficient.
constexpr long double kSqrtHalf = 0.707106781186547524400844362104849039L;
constexpr long double kInvSqrt2Pi = 0.398942280401432677939946059934381868L;
constexpr long double kSqrt2OverPi = 0.797884560802865355879892119868763737L;
constexpr long double kGeluCubic = 0.044715L;

template <typename T>
T unary_one(UnaryOp op, T p, T x) {
  using W = Wide<T>;
  const double xd = x, pd = p;
  const W xw = x;
  switch (op) {
    case UnaryOp::kNeg:
      return -x;
    case UnaryOp::kExp:
      return static_cast<T>(std::exp(xw));
    case UnaryOp::kLog:
      return static_cast<T>(std::log(xw));
    case UnaryOp::kSqrt:
      return static_cast<T>(std::sqrt(xd));
    case UnaryOp::kRsqrt:
      return static_cast<T>(1.0 / std::sqrt(xd));
    case UnaryOp::kAbs:
      return std::abs(x);
    case UnaryOp::kTanh:
      return static_cast<T>(std::tanh(xw));
    case UnaryOp::kSigmoid:
      return static_cast<T>(sigmoid_w(xw));
    case UnaryOp::kRelu:
      return x < 0 ? T(0) : x;
    case UnaryOp::kGelu:
      return static_cast<T>(W(0.5) * xw * std::erfc(-xw * W(kSqrtHalf)));
    case UnaryOp::kGeluTanh: {
      // 0.5 x (1 + tanh u) = x sigmoid(2u)
      const W u = W(kSqrt2OverPi) * (xw + W(kGeluCubic) * xw * xw * xw);
      return static_cast<T>(xw * sigmoid_w(2 * u));
    }
    case UnaryOp::kSilu:
      return static_cast<T>(xw * sigmoid_w(xw));
    case UnaryOp::kErf:
      return static_cast<T>(std::erf(xw));
    case UnaryOp::kSquare:
      return static_cast<T>(xd * xd);
    case UnaryOp::kReciprocal:
      return static_cast<T>(1.0 / xd);
    case UnaryOp::kSign:
      return static_cast<T>((x > 0) - (x < 0));
    case UnaryOp::kPow:
      return static_cast<T>(std::pow(xd, pd));
    case UnaryOp::kAddScalar:
      return static_cast<T>(xd + pd);
    case UnaryOp::kMulScalar:
      return static_cast<T>(xd * pd);
    case UnaryOp::kRSubScalar:
      return static_cast<T>(pd - xd);
    case UnaryOp::kRDivScalar:
      return static_cast<T>(pd / xd);
  }
  fail("unary_reference: unknown op code {}", static_cast<int>(op));
}

template <typename T>
T activation_grad_one(ActivationGrad op, T v, T g) {
  using W = Wide<T>;
  const W x = v, gw = g;
  switch (op) {
    case ActivationGrad::kGelu: {
      // g (Phi(x) + x phi(x))
      const W cdf = W(0.5) * std::erfc(-x * W(kSqrtHalf));
      const W pdf = std::exp(-x * x / 2) * W(kInvSqrt2Pi);
      return static_cast<T>(gw * (cdf + x * pdf));
    }
    case ActivationGrad::kGeluTanh: {
      // g (s + x s (1 - s) dz/dx), s = sigmoid(z), z = 2u
      const W z = 2 * W(kSqrt2OverPi) * (x + W(kGeluCubic) * x * x * x);
      const W dz = 2 * W(kSqrt2OverPi) * (1 + 3 * W(kGeluCubic) * x * x);
      const W s = sigmoid_w(z), sc = sigmoid_w(-z);
      return static_cast<T>(gw * (s + x * (s * sc) * dz));
    }
    case ActivationGrad::kSilu: {
      // g s (1 + x (1 - s))
      const W s = sigmoid_w(x), sc = sigmoid_w(-x);
      return static_cast<T>(gw * (s * (1 + x * sc)));
    }
    case ActivationGrad::kRelu:
      return v <= 0 ? T(0) : g;
    case ActivationGrad::kSigmoid:
      return static_cast<T>(gw * x * (1 - x));
    case ActivationGrad::kTanh:
      return static_cast<T>(gw * (1 - x * x));
  }
  fail("activation_grad_reference: unknown op code {}", static_cast<int>(op));
}

template <typename T>
T binary_one(BinaryOp op, T a, T b) {
  const double ad = a, bd = b;
  switch (op) {
    case BinaryOp::kAdd:
      return static_cast<T>(ad + bd);
    case BinaryOp::kSub:
      return static_cast<T>(ad - bd);
    case BinaryOp::kMul:
      return static_cast<T>(ad * bd);
    case BinaryOp::kDiv:
      return static_cast<T>(ad / bd);
    case BinaryOp::kMax:
      return std::isnan(a) || std::isnan(b) ? a + b : (a < b ? b : a);
    case BinaryOp::kMin:
      return std::isnan(a) || std::isnan(b) ? a + b : (b < a ? b : a);
    case BinaryOp::kPow:
      return static_cast<T>(std::pow(ad, bd));
    case BinaryOp::kEq:
      return a == b ? T(1) : T(0);
    case BinaryOp::kLt:
      return a < b ? T(1) : T(0);
    case BinaryOp::kGt:
      return a > b ? T(1) : T(0);
  }
  fail("binary_reference: unknown op code {}", static_cast<int>(op));
}

}  // namespace

void unary(UnaryOp op, double param, const float* x, int64_t sx, float* y, int64_t sy, int64_t n) {
  check_args("unary", n, valid(op), static_cast<int>(op));
  HWY_DYNAMIC_DISPATCH(UnaryF32)(op, param, x, sx, y, sy, n);
}
void unary(UnaryOp op, double param, const double* x, int64_t sx, double* y, int64_t sy,
           int64_t n) {
  check_args("unary", n, valid(op), static_cast<int>(op));
  HWY_DYNAMIC_DISPATCH(UnaryF64)(op, param, x, sx, y, sy, n);
}

void activation_grad(ActivationGrad op, const float* v, const float* g, float* dx, int64_t n) {
  check_args("activation_grad", n, valid(op), static_cast<int>(op));
  HWY_DYNAMIC_DISPATCH(ActivationGradF32)(op, v, g, dx, n);
}
void activation_grad(ActivationGrad op, const double* v, const double* g, double* dx, int64_t n) {
  check_args("activation_grad", n, valid(op), static_cast<int>(op));
  HWY_DYNAMIC_DISPATCH(ActivationGradF64)(op, v, g, dx, n);
}

void binary(BinaryOp op, const float* a, int64_t sa, const float* b, int64_t sb, float* out,
            int64_t so, int64_t n) {
  check_args("binary", n, valid(op), static_cast<int>(op));
  HWY_DYNAMIC_DISPATCH(BinaryF32)(op, a, sa, b, sb, out, so, n);
}
void binary(BinaryOp op, const double* a, int64_t sa, const double* b, int64_t sb, double* out,
            int64_t so, int64_t n) {
  check_args("binary", n, valid(op), static_cast<int>(op));
  HWY_DYNAMIC_DISPATCH(BinaryF64)(op, a, sa, b, sb, out, so, n);
}

void axpy(float alpha, const float* x, float* y, int64_t n) {
  check_args("axpy", n, true, 0);
  HWY_DYNAMIC_DISPATCH(AxpyF32)(alpha, x, y, n);
}
void axpy(double alpha, const double* x, double* y, int64_t n) {
  check_args("axpy", n, true, 0);
  HWY_DYNAMIC_DISPATCH(AxpyF64)(alpha, x, y, n);
}

void unary_reference(UnaryOp op, double param, const float* x, float* y, int64_t n) {
  check_args("unary_reference", n, valid(op), static_cast<int>(op));
  for (int64_t i = 0; i < n; ++i) y[i] = unary_one<float>(op, static_cast<float>(param), x[i]);
}
void unary_reference(UnaryOp op, double param, const double* x, double* y, int64_t n) {
  check_args("unary_reference", n, valid(op), static_cast<int>(op));
  for (int64_t i = 0; i < n; ++i) y[i] = unary_one<double>(op, param, x[i]);
}
void activation_grad_reference(ActivationGrad op, const float* v, const float* g, float* dx,
                               int64_t n) {
  check_args("activation_grad_reference", n, valid(op), static_cast<int>(op));
  for (int64_t i = 0; i < n; ++i) dx[i] = activation_grad_one<float>(op, v[i], g[i]);
}
void activation_grad_reference(ActivationGrad op, const double* v, const double* g, double* dx,
                               int64_t n) {
  check_args("activation_grad_reference", n, valid(op), static_cast<int>(op));
  for (int64_t i = 0; i < n; ++i) dx[i] = activation_grad_one<double>(op, v[i], g[i]);
}
void binary_reference(BinaryOp op, const float* a, int64_t sa, const float* b, int64_t sb,
                      float* out, int64_t n) {
  check_args("binary_reference", n, valid(op), static_cast<int>(op));
  for (int64_t i = 0; i < n; ++i) out[i] = binary_one<float>(op, a[i * sa], b[i * sb]);
}
void binary_reference(BinaryOp op, const double* a, int64_t sa, const double* b, int64_t sb,
                      double* out, int64_t n) {
  check_args("binary_reference", n, valid(op), static_cast<int>(op));
  for (int64_t i = 0; i < n; ++i) out[i] = binary_one<double>(op, a[i * sa], b[i * sb]);
}

}  // namespace taesan::kernels
#endif  // HWY_ONCE
