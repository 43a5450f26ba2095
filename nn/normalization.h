// nn::LayerNorm: normalises over the trailing `normalized_shape` dims, then scales by "weight"
// (ones) and shifts by "bias" (zeros), with PyTorch's names and defaults.
#pragma once

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

}  // namespace taesan::nn
