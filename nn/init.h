// ts::nn::init: in-place initialisation of parameters, with PyTorch's formulas (torch.nn.init)
// and taesan's counter-based generator, so a seed gives the same weights on any thread count.
// Each function writes through the tensor's storage without recording a graph, bumps its
// version, and returns the same tensor.
#pragma once

#include <string>
#include <utility>

#include "taesan/autograd/tensor.h"

namespace taesan::nn::init {

/// The recommended gain for a nonlinearity ("linear", "conv1d", "sigmoid", "tanh", "relu",
/// "leaky_relu" with negative slope `param`, "selu"), as torch.nn.init.calculate_gain.
double calculate_gain(const std::string& nonlinearity, double param = 0.01);

/// (fan_in, fan_out) of a weight with at least 2 dims: (size(1) * receptive, size(0) * receptive).
std::pair<int64_t, int64_t> calculate_fan_in_and_fan_out(const Tensor& tensor);

/// Fills with samples of U(a, b).
Tensor uniform_(const Tensor& tensor, double a = 0.0, double b = 1.0);
/// Fills with samples of N(mean, std^2).
Tensor normal_(const Tensor& tensor, double mean = 0.0, double std = 1.0);
/// Fills with N(mean, std^2) conditioned on [a, b] (inverse-CDF sampling, as PyTorch).
Tensor trunc_normal_(const Tensor& tensor, double mean = 0.0, double std = 1.0, double a = -2.0,
                     double b = 2.0);
/// Fills with `value` (any dtype).
Tensor constant_(const Tensor& tensor, double value);
Tensor zeros_(const Tensor& tensor);
Tensor ones_(const Tensor& tensor);
/// U(-x, x), x = gain * sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio).
Tensor xavier_uniform_(const Tensor& tensor, double gain = 1.0);
/// N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out)).
Tensor xavier_normal_(const Tensor& tensor, double gain = 1.0);
/// U(-x, x), x = gain * sqrt(3 / fan), gain = calculate_gain(nonlinearity, a), fan from `mode`
/// ("fan_in" or "fan_out") (He et al.). Linear layers use a = sqrt(5), as PyTorch does.
Tensor kaiming_uniform_(const Tensor& tensor, double a = 0.0, const std::string& mode = "fan_in",
                        const std::string& nonlinearity = "leaky_relu");
/// N(0, std^2), std = gain / sqrt(fan).
Tensor kaiming_normal_(const Tensor& tensor, double a = 0.0, const std::string& mode = "fan_in",
                       const std::string& nonlinearity = "leaky_relu");

}  // namespace taesan::nn::init
