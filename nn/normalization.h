// Normalisation layers with PyTorch's names and defaults: nn::LayerNorm normalises over the
// trailing `normalized_shape` dims, then scales by "weight" (ones) and shifts by "bias" (zeros);
// nn::RMSNorm divides by the root mean square of those dims and scales by "weight" (ones).
#pragma once

#include <optional>

#include "taesan/nn/module.h"

namespace taesan::nn {

/// Layer normalisation (Ba et al.).
class LayerNorm : public Module {
 public:
  LayerNorm(int64_t dim, double eps = 1e-5, bool elementwise_affine = true, bool bias = true);
  LayerNorm(Shape normalized_shape, double eps = 1e-5, bool elementwise_affine = true,
            bool bias = true);

  /// (..., *normalized_shape) -> same shape.
  Tensor forward(const Tensor& x) const;
  void reset_parameters();
  std::string extra_repr() const override;

  /// Settings given to the constructor.
  const Shape& normalized_shape() const { return normalized_shape_; }
  double eps() const { return eps_; }

  Tensor weight;  ///< normalized_shape, or undefined without elementwise_affine
  Tensor bias;    ///< normalized_shape, or undefined

 private:
  Shape normalized_shape_;
  double eps_;
};

/// Root-mean-square normalisation (torch.nn.RMSNorm; the norm of LLaMA-style decoders).
class RMSNorm : public Module {
 public:
  /// eps: nullopt means the machine epsilon of the input's dtype at each call (PyTorch's default).
  RMSNorm(int64_t dim, std::optional<double> eps = std::nullopt, bool elementwise_affine = true);
  RMSNorm(Shape normalized_shape, std::optional<double> eps = std::nullopt,
          bool elementwise_affine = true);

  /// (..., *normalized_shape) -> same shape: x / sqrt(mean(x^2) + eps) * weight.
  Tensor forward(const Tensor& x) const;
  void reset_parameters();
  std::string extra_repr() const override;

  /// Settings given to the constructor.
  const Shape& normalized_shape() const { return normalized_shape_; }
  std::optional<double> eps() const { return eps_; }

  Tensor weight;  ///< normalized_shape, or undefined without elementwise_affine

 private:
  Shape normalized_shape_;
  std::optional<double> eps_;
};

}  // namespace taesan::nn
