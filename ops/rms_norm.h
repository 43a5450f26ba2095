// RMS normalisation (Zhang & Sennrich 2019; the norm of LLaMA-style decoders): x divided by the
// root mean square of its trailing dims, optionally scaled by a weight. No mean is subtracted and
// there is no bias.
#pragma once

#include <optional>

#include "taesan/autograd/tensor.h"

namespace taesan {

/// y = x / sqrt(mean(x^2) + eps) * weight, the mean over the trailing `normalized_shape` dims
/// (as torch.nn.functional.rms_norm). x (..., *normalized_shape) -> same shape; weight has
/// shape normalized_shape and x's dtype, or is undefined (no scaling). eps defaults to the
/// machine epsilon of x's dtype, as PyTorch's (LLaMA checkpoints set 1e-5 or 1e-6).
Tensor rms_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight = Tensor(),
                std::optional<double> eps = std::nullopt);

}  // namespace taesan
