// The Transformer's position-wise feed-forward block as one op:
//   out = act(x w1ᵀ + b1) w2ᵀ + b2
// Two GEMMs with the bias and the activation applied in the first GEMM's epilogue; backward keeps
// only the pre-activation (the activation's output, as large, is recomputed from it).
#pragma once

#include <string>

#include "taesan/autograd/tensor.h"

namespace taesan {

/// linear(activation(linear(x, w1, b1)), w2, b2) in one node: x (..., d_in), w1 (d_ff, d_in),
/// b1 (d_ff) or undefined, w2 (d_out, d_ff), b2 (d_out) or undefined -> (..., d_out).
/// activation: "relu", "gelu" (exact) or "gelu_tanh". Saves x and the (..., d_ff)
/// pre-activation for backward — one d_ff-sized tensor instead of the two the composed ops keep.
Tensor feed_forward(const Tensor& x, const Tensor& w1, const Tensor& b1, const Tensor& w2,
                    const Tensor& b2, const std::string& activation = "gelu");

}  // namespace taesan
