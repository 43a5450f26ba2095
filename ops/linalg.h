// Matrix products: matmul with NumPy batch broadcasting, and linear (y = x wᵀ + b).
// Transposed operands are passed to the GEMM as flags, never materialised.
#pragma once

#include <string>

#include "taesan/autograd/tensor.h"

namespace taesan {

/// Matrix product following torch.matmul: 1-D·1-D dot, 2-D, and batched N-D with broadcasting.
Tensor matmul(const Tensor& a, const Tensor& b);
/// y = x wᵀ + b; x (..., in), w (out, in), b (out) or undefined.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

namespace ops {
/// (m, k) x (k, n) -> (m, n), recorded. Operands may be transposed views.
Tensor mm(const Tensor& a, const Tensor& b);
/// (B|1, m, k) x (B|1, k, n) -> (B, m, n), recorded; a batch of 1 broadcasts.
Tensor bmm(const Tensor& a, const Tensor& b);
/// The forward of linear as one GEMM, not recorded: act(x2 wᵀ + b) with the bias and the
/// activation ("none", "relu", "gelu", "gelu_tanh") applied in the GEMM's epilogue. x2 is a
/// contiguous non-empty (M, K) matrix, w (N, K) any layout, b (N) or undefined. When
/// pre_activation is given it receives x2 wᵀ + b (M, N), what the activation's backward needs.
Tensor linear_gemm(const Tensor& x2, const Tensor& weight, const Tensor& bias,
                   const std::string& activation = "none", Tensor* pre_activation = nullptr);
}  // namespace ops

}  // namespace taesan
