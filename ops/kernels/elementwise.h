// Elementwise kernels on raw buffers (no Tensor here): unary math, activations and their
// backward, binary arithmetic with a stride per operand (0 = broadcast scalar, 1 = contiguous,
// other = gathered), in float and double. Highway SIMD, dispatched once per call to the best
// target; every function has a scalar reference (the *_reference functions) for tests.
#pragma once

#include <cstdint>

namespace taesan::kernels {

/// y = f(x). `param` is used by kPow (exponent) and the k*Scalar ops (the scalar operand).
enum class UnaryOp : uint8_t {
  kNeg,
  kExp,
  kLog,
  kSqrt,
  kRsqrt,
  kAbs,
  kTanh,
  kSigmoid,
  kRelu,
  kGelu,      ///< exact: x * Phi(x), with our own erf
  kGeluTanh,  ///< 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
  kSilu,
  kErf,
  kSquare,
  kReciprocal,
  kSign,
  kPow,
  kAddScalar,
  kMulScalar,
  kRSubScalar,  ///< param - x
  kRDivScalar,  ///< param / x
};

/// dx = g * f'(x) for the activations whose derivative needs x (fused backward).
enum class ActivationGrad : uint8_t {
  kGelu,
  kGeluTanh,
  kSilu,
  kRelu,
  kSigmoid,  ///< uses y
  kTanh,     ///< uses y
};

/// out = a (op) b.
enum class BinaryOp : uint8_t { kAdd, kSub, kMul, kDiv, kMax, kMin, kPow, kEq, kLt, kGt };

/// y[i*sy] = f(x[i*sx]) for i < n. Contiguous (sx == sy == 1) runs SIMD; aliasing x == y is allowed.
void unary(UnaryOp op, double param, const float* x, int64_t sx, float* y, int64_t sy, int64_t n);
void unary(UnaryOp op, double param, const double* x, int64_t sx, double* y, int64_t sy, int64_t n);

/// dx[i] = g[i] * f'(v[i]), all contiguous; v is x, or y for kSigmoid/kTanh.
void activation_grad(ActivationGrad op, const float* v, const float* g, float* dx, int64_t n);
void activation_grad(ActivationGrad op, const double* v, const double* g, double* dx, int64_t n);

/// out[i*so] = a[i*sa] (op) b[i*sb] for i < n. Strides 0/1 on the inputs run SIMD when so == 1.
/// Comparisons (kEq, kLt, kGt) write 1 or 0 in the float type (the op converts to bool).
void binary(BinaryOp op, const float* a, int64_t sa, const float* b, int64_t sb, float* out,
            int64_t so, int64_t n);
void binary(BinaryOp op, const double* a, int64_t sa, const double* b, int64_t sb, double* out,
            int64_t so, int64_t n);

/// y[i] += alpha * x[i] (contiguous), the accumulation kernel of gradients and optimizers.
void axpy(float alpha, const float* x, float* y, int64_t n);
void axpy(double alpha, const double* x, double* y, int64_t n);

/// Scalar references (plain loops, double math) for tests and benchmarks.
void unary_reference(UnaryOp op, double param, const float* x, float* y, int64_t n);
void unary_reference(UnaryOp op, double param, const double* x, double* y, int64_t n);
void activation_grad_reference(ActivationGrad op, const float* v, const float* g, float* dx, int64_t n);
void activation_grad_reference(ActivationGrad op, const double* v, const double* g, double* dx, int64_t n);
void binary_reference(BinaryOp op, const float* a, int64_t sa, const float* b, int64_t sb,
                      float* out, int64_t n);
void binary_reference(BinaryOp op, const double* a, int64_t sa, const double* b, int64_t sb,
                      double* out, int64_t n);

}  // namespace taesan::kernels
