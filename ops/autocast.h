// The pieces the autocast entry points of matmul, linear, feed_forward and
// scaled_dot_product_attention are built from (see autograd/autocast.h for the policy):
//   y = autocast_output(op(autocast_operand(a), autocast_operand(b)))   (op run with autocast off)
// autocast_operand rounds an operand to bfloat16 values kept in float32 (a product of two is exact
// in float32, so the fp32 kernels compute bf16 products with fp32 accumulation); autocast_output
// is the identity whose backward rounds the incoming gradient the same way, so the op's gradient
// GEMMs multiply bf16-rounded gradients by its saved, already rounded operands.
#pragma once

#include "taesan/autograd/tensor.h"

namespace taesan::ops {

/// True inside an autocast region when every defined operand is float32 or bfloat16 (a float64
/// operand keeps the op in float64: gradcheck never goes through bfloat16).
bool autocast_applies(const TensorList& operands);

/// x (float32 or bfloat16) as float32 holding bfloat16 values: float32 is rounded (nearest, ties
/// to even), bfloat16 widened exactly. Keeps x's layout when x is dense (a transposed or permuted
/// view stays one), else contiguous. The gradient passes straight through (in x's dtype), as
/// through PyTorch's casts.
Tensor autocast_operand(const Tensor& x);

/// y itself (an alias) whose gradient is rounded to bfloat16 values on its way back.
Tensor autocast_output(const Tensor& y);

}  // namespace taesan::ops
