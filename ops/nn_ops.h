// Neural-network ops: softmax, log-softmax, layer norm, dropout, embedding.
#pragma once

#include "taesan/autograd/tensor.h"

namespace taesan {

/// exp(x) / sum(exp(x)) along dim. Rows of all -inf give zeros, not NaN.
Tensor softmax(const Tensor& x, int64_t dim);
/// x - logsumexp(x) along dim.
Tensor log_softmax(const Tensor& x, int64_t dim);
/// Normalises over the trailing `normalized_shape` dims; weight/bias (that shape) may be undefined.
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight = Tensor(),
                  const Tensor& bias = Tensor(), double eps = 1e-5);
/// Zeroes elements with probability p and scales the rest by 1/(1-p) when training.
Tensor dropout(const Tensor& x, double p, bool training = true);
/// Rows of `weight` (num, dim) picked by int64 `indices` of any shape: (indices..., dim).
/// Positions equal to padding_idx (if >= 0) pass no gradient to the weight.
Tensor embedding(const Tensor& weight, const Tensor& indices, int64_t padding_idx = -1);

}  // namespace taesan
