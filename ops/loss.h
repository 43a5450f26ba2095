// Losses: cross entropy (fused log-softmax + NLL, ignore_index, label smoothing, soft targets),
// NLL, mean squared error, binary cross entropy with logits.
#pragma once

#include "taesan/autograd/tensor.h"

namespace taesan {

/// How per-element losses are combined.
enum class Reduction { None, Mean, Sum };

/// Options of cross_entropy / nll_loss (PyTorch's defaults).
struct CrossEntropyOptions {
  int64_t ignore_index = -100;
  double label_smoothing = 0.0;
  Reduction reduction = Reduction::Mean;
};

/// logits (N, C) or (N, C, d1, ...) or (C); targets int64 class indices (N) / (N, d1, ...) / (),
/// or float class probabilities of the logits' shape. Mean divides by the non-ignored count.
Tensor cross_entropy(const Tensor& logits, const Tensor& targets, const CrossEntropyOptions& options = {});
/// log_probs as for cross_entropy, int64 targets; label_smoothing must be 0.
Tensor nll_loss(const Tensor& log_probs, const Tensor& targets, const CrossEntropyOptions& options = {});
/// (input - target)^2 (shapes broadcast).
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);
/// Numerically stable -[y log s(x) + (1 - y) log(1 - s(x))].
Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& target,
                                        Reduction reduction = Reduction::Mean);

}  // namespace taesan
