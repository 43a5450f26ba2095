// nn::Dropout (see dropout.h).
#include "taesan/nn/dropout.h"

#include "taesan/ops/ops.h"

namespace taesan::nn {

Dropout::Dropout(double p) : p_(p) {
  TS_CHECK(p >= 0 && p <= 1, "Dropout: expected a probability 0 <= p <= 1, got {}", p);
}

Tensor Dropout::forward(const Tensor& x) const { return dropout(x, p_, is_training()); }

std::string Dropout::extra_repr() const { return fmt::format("p={}", p_); }

}  // namespace taesan::nn
