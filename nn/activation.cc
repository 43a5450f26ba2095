// Activation modules (see activation.h).
#include "taesan/nn/activation.h"

#include "taesan/ops/ops.h"

namespace taesan::nn {

GELU::GELU(std::string approximate) : approximate_(std::move(approximate)) {
  TS_CHECK(approximate_ == "none" || approximate_ == "tanh",
           "GELU: approximate must be \"none\" or \"tanh\", got \"{}\"", approximate_);
}

Tensor GELU::forward(const Tensor& x) const { return gelu(x, approximate_); }

std::string GELU::extra_repr() const {
  return approximate_ == "none" ? "" : fmt::format("approximate='{}'", approximate_);
}

Tensor ReLU::forward(const Tensor& x) const { return relu(x); }

Tensor Tanh::forward(const Tensor& x) const { return tanh(x); }

}  // namespace taesan::nn
