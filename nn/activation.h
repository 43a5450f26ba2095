// Activation modules (no parameters): GELU (exact or tanh approximation), ReLU, Tanh, so that
// they can sit in a Sequential.
#pragma once

#include <string>

#include "taesan/nn/module.h"

namespace taesan::nn {

/// x Phi(x); approximate = "tanh" uses 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
class GELU : public Module {
 public:
  explicit GELU(std::string approximate = "none");
  Tensor forward(const Tensor& x) const;
  std::string extra_repr() const override;

 private:
  std::string approximate_;
};

/// max(x, 0).
class ReLU : public Module {
 public:
  Tensor forward(const Tensor& x) const;
};

/// tanh(x).
class Tanh : public Module {
 public:
  Tensor forward(const Tensor& x) const;
};

}  // namespace taesan::nn
