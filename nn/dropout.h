// nn::Dropout: zeroes each element with probability p during training (scaling the rest by
// 1 / (1 - p)); the identity in eval mode. Draws from taesan's counter-based generator.
#pragma once

#include "taesan/nn/module.h"

namespace taesan::nn {

/// Dropout (Srivastava et al.).
class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5);
  /// Any shape -> same shape.
  Tensor forward(const Tensor& x) const;
  std::string extra_repr() const override;
  /// Probability of dropping an element.
  double p() const { return p_; }

 private:
  double p_;
};

}  // namespace taesan::nn
