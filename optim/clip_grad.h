// Gradient clipping by total norm (torch.nn.utils.clip_grad_norm_): one norm over all gradients
// together, and a common scale so that it does not exceed max_norm.
#pragma once

#include <limits>

#include "taesan/autograd/tensor.h"

namespace taesan::optim {

/// Options of clip_grad_norm.
struct ClipGradNormOptions {
  /// p of the norm: any p > 0, or infinity for the largest absolute value.
  double norm_type = 2.0;
  /// Throw a ts::Error when the total norm is NaN or infinite. Otherwise the gradients are left
  /// unchanged and the non-finite norm is returned, so the caller can skip the step.
  bool error_if_nonfinite = false;
};

/// Scales the gradients of `params` (those that have one) by max_norm / (total_norm + 1e-6) when
/// the total norm exceeds max_norm; returns the total norm before clipping.
double clip_grad_norm(const TensorList& params, double max_norm,
                      const ClipGradNormOptions& options = {});

/// The same, under PyTorch's in-place name.
inline double clip_grad_norm_(const TensorList& params, double max_norm,
                              const ClipGradNormOptions& options = {}) {
  return clip_grad_norm(params, max_norm, options);
}

}  // namespace taesan::optim
