// Initialisation functions (see init.h). Element i (row-major) of a random fill is a pure
// function of (seed, counter + i), so the result is independent of threads and layout.
#include "taesan/nn/init.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <tuple>

#include "taesan/core/parallel.h"
#include "taesan/core/random.h"

namespace taesan::nn::init {
namespace {

void check_defined(const Tensor& t, const char* fn) {
  TS_CHECK(t.defined(), "init::{}: the tensor is undefined", fn);
}

void check_float(const Tensor& t, const char* fn) {
  check_defined(t, fn);
  TS_CHECK(is_floating(t.dtype()), "init::{}: expected a floating-point tensor, got {}", fn,
           t.describe());
}

void check_finite(double v, const char* what, const char* fn) {
  TS_CHECK(std::isfinite(v), "init::{}: {} must be finite, got {}", fn, what, v);
}

/// Writes value(i) into element i (row-major) of t, in place, and bumps its version.
template <typename Gen>
Tensor fill(const Tensor& t, const Gen& value) {
  dispatch_dtype(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* base = static_cast<T*>(t.raw_data());
    if (t.is_contiguous()) {
      parallel_for(t.numel(), 1 << 14, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) base[i] = static_cast<T>(value(i));
      });
    } else {
      int64_t i = 0;
      for (StridedWalker w(t.shape(), {&t.strides()}); !w.done(); w.next())
        base[w.offset(0)] = static_cast<T>(value(i++));
    }
  });
  t.bump_version();
  return t;
}

/// Standard normal CDF.
double norm_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

/// Inverse of the standard normal CDF for p in (0, 1): Acklam's rational approximation refined by
/// one Halley step (relative error near 1e-15).
double norm_icdf(double p) {
  static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,  -2.759285104469687e+02,
                             1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
  static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                             6.680131188771972e+01, -1.328068155288572e+01};
  static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                             -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
  static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                             3.754408661907416e+00};
  if (p <= 0) return -std::numeric_limits<double>::infinity();
  if (p >= 1) return std::numeric_limits<double>::infinity();
  double x;
  if (p < 0.02425) {
    const double q = std::sqrt(-2 * std::log(p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else if (p <= 1 - 0.02425) {
    const double q = p - 0.5, r = q * q;
    x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  } else {
    const double q = std::sqrt(-2 * std::log1p(-p));
    x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  const double e = norm_cdf(x) - p;
  const double u = e * std::sqrt(2 * M_PI) * std::exp(x * x / 2);
  return x - u / (1 + x * u / 2);
}

int64_t fan(const Tensor& t, const std::string& mode, const char* fn) {
  auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(t);
  if (mode == "fan_in") return fan_in;
  if (mode == "fan_out") return fan_out;
  fail("init::{}: mode must be \"fan_in\" or \"fan_out\", got \"{}\"", fn, mode);
}

}  // namespace

double calculate_gain(const std::string& nonlinearity, double param) {
  if (nonlinearity == "linear" || nonlinearity == "conv1d" || nonlinearity == "conv2d" ||
      nonlinearity == "conv3d" || nonlinearity == "conv_transpose1d" ||
      nonlinearity == "conv_transpose2d" || nonlinearity == "conv_transpose3d" ||
      nonlinearity == "sigmoid")
    return 1.0;
  if (nonlinearity == "tanh") return 5.0 / 3.0;
  if (nonlinearity == "relu") return std::sqrt(2.0);
  if (nonlinearity == "leaky_relu") {
    check_finite(param, "the negative slope", "calculate_gain");
    return std::sqrt(2.0 / (1 + param * param));
  }
  if (nonlinearity == "selu") return 3.0 / 4.0;
  fail(
      "init::calculate_gain: unsupported nonlinearity \"{}\" (expected linear, conv1d, sigmoid, "
      "tanh, relu, leaky_relu or selu)",
      nonlinearity);
}

std::pair<int64_t, int64_t> calculate_fan_in_and_fan_out(const Tensor& t) {
  check_defined(t, "calculate_fan_in_and_fan_out");
  TS_CHECK(t.dim() >= 2,
           "init::calculate_fan_in_and_fan_out: fan in and fan out need a tensor with at least 2 "
           "dims, got {}",
           t.describe());
  int64_t receptive = 1;
  for (int64_t d = 2; d < t.dim(); ++d) receptive *= t.size(d);
  return {t.size(1) * receptive, t.size(0) * receptive};
}

Tensor uniform_(const Tensor& t, double a, double b) {
  check_float(t, "uniform_");
  check_finite(a, "a", "uniform_");
  check_finite(b, "b", "uniform_");
  TS_CHECK(a <= b, "init::uniform_: expected a <= b, got a={} b={}", a, b);
  const uint64_t seed = random::seed(), base = random::reserve(static_cast<uint64_t>(t.numel()));
  const bool is_f32 = t.dtype() == kFloat32;
  return fill(t, [=](int64_t i) {
    const double v = a + (b - a) * random::uniform01(random::bits(seed, base + i));
    // Rounding to float may reach b; keep the half-open interval.
    return is_f32 && a < b && static_cast<float>(v) >= static_cast<float>(b) ? a : v;
  });
}

Tensor normal_(const Tensor& t, double mean, double std) {
  check_float(t, "normal_");
  check_finite(mean, "mean", "normal_");
  check_finite(std, "std", "normal_");
  TS_CHECK(std >= 0, "init::normal_: expected std >= 0, got {}", std);
  const uint64_t seed = random::seed(), base = random::reserve(static_cast<uint64_t>(t.numel()));
  return fill(t, [=](int64_t i) { return mean + std * random::normal(seed, base + i); });
}

Tensor trunc_normal_(const Tensor& t, double mean, double std, double a, double b) {
  check_float(t, "trunc_normal_");
  for (auto [v, what] : {std::pair{mean, "mean"}, {std, "std"}, {a, "a"}, {b, "b"}})
    check_finite(v, what, "trunc_normal_");
  TS_CHECK(std > 0, "init::trunc_normal_: expected std > 0, got {}", std);
  TS_CHECK(a < b, "init::trunc_normal_: expected a < b, got a={} b={}", a, b);
  double alpha = (a - mean) / std, beta = (b - mean) / std;
  // Sample in the lower tail, where CDF values keep their precision, and mirror if needed.
  const bool mirror = alpha > 0;
  if (mirror) std::tie(alpha, beta) = std::pair{-beta, -alpha};
  const double lo = norm_cdf(alpha), hi = norm_cdf(beta);
  TS_CHECK(hi > lo,
           "init::trunc_normal_: [{}, {}] is too far in the tail of N({}, {}^2) to sample from", a,
           b, mean, std);
  const uint64_t seed = random::seed(), base = random::reserve(static_cast<uint64_t>(t.numel()));
  return fill(t, [=](int64_t i) {
    const double u = random::uniform01(random::bits(seed, base + i));
    double z = std::clamp(norm_icdf(lo + u * (hi - lo)), alpha, beta);
    if (mirror) z = -z;
    return std::clamp(mean + std * z, a, b);
  });
}

Tensor constant_(const Tensor& t, double value) {
  check_defined(t, "constant_");
  if (t.dtype() == kBool) {
    TS_CHECK(value == 0 || value == 1, "init::constant_: a bool tensor takes 0 or 1, got {}",
             value);
  } else if (t.dtype() == kInt64) {
    TS_CHECK(std::isfinite(value) && value == std::trunc(value),
             "init::constant_: an int64 tensor takes an integer, got {}", value);
  }
  return fill(t, [=](int64_t) { return value; });
}

Tensor zeros_(const Tensor& t) { return constant_(t, 0.0); }
Tensor ones_(const Tensor& t) { return constant_(t, 1.0); }

Tensor xavier_uniform_(const Tensor& t, double gain) {
  check_float(t, "xavier_uniform_");
  auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(t);
  if (t.numel() == 0) return t;
  const double bound = gain * std::sqrt(6.0 / static_cast<double>(fan_in + fan_out));
  return uniform_(t, -bound, bound);
}

Tensor xavier_normal_(const Tensor& t, double gain) {
  check_float(t, "xavier_normal_");
  auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(t);
  if (t.numel() == 0) return t;
  return normal_(t, 0.0, gain * std::sqrt(2.0 / static_cast<double>(fan_in + fan_out)));
}

Tensor kaiming_uniform_(const Tensor& t, double a, const std::string& mode,
                        const std::string& nonlinearity) {
  check_float(t, "kaiming_uniform_");
  const int64_t f = fan(t, mode, "kaiming_uniform_");
  if (t.numel() == 0) return t;
  const double bound = calculate_gain(nonlinearity, a) * std::sqrt(3.0 / static_cast<double>(f));
  return uniform_(t, -bound, bound);
}

Tensor kaiming_normal_(const Tensor& t, double a, const std::string& mode,
                       const std::string& nonlinearity) {
  check_float(t, "kaiming_normal_");
  const int64_t f = fan(t, mode, "kaiming_normal_");
  if (t.numel() == 0) return t;
  return normal_(t, 0.0, calculate_gain(nonlinearity, a) / std::sqrt(static_cast<double>(f)));
}

}  // namespace taesan::nn::init
