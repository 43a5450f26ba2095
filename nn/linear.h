// nn::Linear: y = x Wᵀ + b with PyTorch's parameter names ("weight" (out, in), "bias" (out)) and
// default initialisation (kaiming_uniform with a = sqrt(5), bias U(-1/sqrt(in), 1/sqrt(in))).
#pragma once

#include "taesan/nn/module.h"

namespace taesan::nn {

/// A fully connected layer.
class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true);

  /// (..., in_features) -> (..., out_features).
  Tensor forward(const Tensor& x) const;
  /// Re-draws the parameters with the default initialisation.
  void reset_parameters();
  std::string extra_repr() const override;

  /// Sizes given to the constructor.
  int64_t in_features() const { return in_features_; }
  int64_t out_features() const { return out_features_; }

  Tensor weight;  ///< (out_features, in_features)
  Tensor bias;    ///< (out_features), or undefined

 private:
  int64_t in_features_, out_features_;
};

}  // namespace taesan::nn
