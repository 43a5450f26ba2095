// nn::LayerNorm and nn::RMSNorm (see normalization.h).
#include "taesan/nn/normalization.h"

#include <cmath>

#include "taesan/autograd/factory.h"
#include "taesan/nn/init.h"
#include "taesan/ops/ops.h"

namespace taesan::nn {

LayerNorm::LayerNorm(int64_t dim, double eps, bool elementwise_affine, bool bias)
    : LayerNorm(Shape{dim}, eps, elementwise_affine, bias) {}

LayerNorm::LayerNorm(Shape normalized_shape, double eps, bool elementwise_affine, bool with_bias)
    : normalized_shape_(std::move(normalized_shape)), eps_(eps) {
  TS_CHECK(!normalized_shape_.empty(), "LayerNorm: normalized_shape must have at least one dim");
  for (int64_t s : normalized_shape_)
    TS_CHECK(s > 0, "LayerNorm: expected positive sizes in normalized_shape, got {}",
             shape_str(normalized_shape_));
  TS_CHECK(std::isfinite(eps) && eps >= 0, "LayerNorm: expected a finite eps >= 0, got {}", eps);
  if (elementwise_affine) {
    weight = register_parameter("weight", empty(normalized_shape_));
    if (with_bias) bias = register_parameter("bias", empty(normalized_shape_));
  }
  reset_parameters();
}

void LayerNorm::reset_parameters() {
  if (weight.defined()) init::ones_(weight);
  if (bias.defined()) init::zeros_(bias);
}

Tensor LayerNorm::forward(const Tensor& x) const {
  const int64_t k = static_cast<int64_t>(normalized_shape_.size());
  TS_CHECK(x.defined() && x.dim() >= k &&
               Shape(x.shape().end() - k, x.shape().end()) == normalized_shape_,
           "LayerNorm{}.forward: expected an input ending in {}, got {}",
           shape_str(normalized_shape_), shape_str(normalized_shape_), x.describe());
  return layer_norm(x, normalized_shape_, weight, bias, eps_);
}

std::string LayerNorm::extra_repr() const {
  std::string shape;
  for (int64_t s : normalized_shape_) shape += fmt::format("{},", s);
  if (normalized_shape_.size() > 1) shape.pop_back();
  return fmt::format("({}), eps={}, elementwise_affine={}", shape, eps_, weight.defined());
}

RMSNorm::RMSNorm(int64_t dim, std::optional<double> eps, bool elementwise_affine)
    : RMSNorm(Shape{dim}, eps, elementwise_affine) {}

RMSNorm::RMSNorm(Shape normalized_shape, std::optional<double> eps, bool elementwise_affine)
    : normalized_shape_(std::move(normalized_shape)), eps_(eps) {
  TS_CHECK(!normalized_shape_.empty(), "RMSNorm: normalized_shape must have at least one dim");
  for (int64_t s : normalized_shape_)
    TS_CHECK(s > 0, "RMSNorm: expected positive sizes in normalized_shape, got {}",
             shape_str(normalized_shape_));
  TS_CHECK(!eps.has_value() || (std::isfinite(*eps) && *eps >= 0),
           "RMSNorm: expected a finite eps >= 0, got {}", eps.value_or(0.0));
  if (elementwise_affine) weight = register_parameter("weight", empty(normalized_shape_));
  reset_parameters();
}

void RMSNorm::reset_parameters() {
  if (weight.defined()) init::ones_(weight);
}

Tensor RMSNorm::forward(const Tensor& x) const {
  const int64_t k = static_cast<int64_t>(normalized_shape_.size());
  TS_CHECK(x.defined() && x.dim() >= k &&
               Shape(x.shape().end() - k, x.shape().end()) == normalized_shape_,
           "RMSNorm{}.forward: expected an input ending in {}, got {}",
           shape_str(normalized_shape_), shape_str(normalized_shape_), x.describe());
  return rms_norm(x, normalized_shape_, weight, eps_);
}

std::string RMSNorm::extra_repr() const {
  std::string shape;
  for (int64_t s : normalized_shape_) shape += fmt::format("{},", s);
  if (normalized_shape_.size() > 1) shape.pop_back();
  return fmt::format("({}), eps={}, elementwise_affine={}", shape,
                     eps_.has_value() ? fmt::format("{}", *eps_) : std::string("None"),
                     weight.defined());
}

}  // namespace taesan::nn
