// Matrix products: matmul with NumPy batch broadcasting, and linear (y = x wᵀ + b).
// Transposed operands are passed to the GEMM as flags, never materialised.
#pragma once

#include "autograd/tensor.h"

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
}  // namespace ops

}  // namespace taesan
