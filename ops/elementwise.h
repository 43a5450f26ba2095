// Elementwise ops: arithmetic with NumPy broadcasting and dtype promotion, unary math,
// activations, comparisons, masking. Every op works on strided inputs and both float dtypes.
#pragma once

#include <string>

#include "taesan/autograd/tensor.h"

namespace taesan {

Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
/// Elementwise max / min (NaN propagates).
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor add(const Tensor& a, double b);
Tensor mul(const Tensor& a, double b);

Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor rsqrt(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor square(const Tensor& x);
Tensor erf(const Tensor& x);
/// x ** exponent.
Tensor pow(const Tensor& x, double exponent);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor relu(const Tensor& x);
/// GELU: approximate = "none" (exact, x * Phi(x)) or "tanh".
Tensor gelu(const Tensor& x, const std::string& approximate = "none");
Tensor silu(const Tensor& x);
/// min(max(x, min), max).
Tensor clamp(const Tensor& x, double min, double max);

/// x where mask is false, value where it is true (mask: bool, broadcast to x).
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value);
/// a where cond, else b (broadcast together; cond is bool).
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);

/// Comparisons giving kBool (broadcast; no gradient).
Tensor lt(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor eq(const Tensor& a, const Tensor& b);
Tensor logical_not(const Tensor& x);
Tensor logical_and(const Tensor& a, const Tensor& b);
Tensor logical_or(const Tensor& a, const Tensor& b);

/// The dtype of an op on a and b (float64 > float32 > bfloat16 > int64 > bool).
DType promote_types(DType a, DType b);

namespace ops {
/// The activation `name` of x: "relu", "gelu" (exact) or "gelu_tanh" (the ops relu / gelu).
Tensor activation(const std::string& name, const Tensor& x);
/// g * f'(x) for the activation `name`: the backward of that op (one fused kernel, or
/// differentiable ops while a graph is being recorded, so double backward works).
Tensor activation_grad(const std::string& name, const Tensor& x, const Tensor& g);
}  // namespace ops

}  // namespace taesan
