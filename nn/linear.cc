// nn::Linear (see linear.h).
#include "taesan/nn/linear.h"

#include <cmath>

#include "taesan/autograd/factory.h"
#include "taesan/nn/init.h"
#include "taesan/ops/ops.h"

namespace taesan::nn {

Linear::Linear(int64_t in_features, int64_t out_features, bool with_bias)
    : in_features_(in_features), out_features_(out_features) {
  TS_CHECK(in_features >= 0 && out_features >= 0,
           "Linear: expected non-negative sizes, got in_features={} out_features={}", in_features,
           out_features);
  weight = register_parameter("weight", empty({out_features, in_features}));
  if (with_bias) bias = register_parameter("bias", empty({out_features}));
  reset_parameters();
}

void Linear::reset_parameters() {
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    const double bound =
        in_features_ > 0 ? 1.0 / std::sqrt(static_cast<double>(in_features_)) : 0.0;
    init::uniform_(bias, -bound, bound);
  }
}

Tensor Linear::forward(const Tensor& x) const {
  TS_CHECK(x.defined() && x.dim() >= 1 && x.size(-1) == in_features_,
           "Linear({}, {}).forward: expected an input (..., {}), got {}", in_features_,
           out_features_, in_features_, x.describe());
  return linear(x, weight, bias);
}

std::string Linear::extra_repr() const {
  return fmt::format("in_features={}, out_features={}, bias={}", in_features_, out_features_,
                     bias.defined());
}

}  // namespace taesan::nn
