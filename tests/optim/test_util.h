// Helpers of the optim tests: fixture paths and element-wise comparison with a tolerance.
#pragma once

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <string>

#include "taesan/autograd/tensor.h"

namespace taesan::test {

/// Path of a file in tests/fixtures/optim.
inline std::string optim_fixture(const std::string& name) {
  return std::string(TS_TEST_DIR) + "/fixtures/optim/" + name;
}

/// Largest |a - b| / max(|b|, 1) over all elements (a and b of the same shape).
inline double max_scaled_error(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  const auto va = a.to_vector<double>(), vb = b.to_vector<double>();
  double worst = 0.0;
  for (size_t i = 0; i < va.size(); ++i) {
    const double e = std::abs(va[i] - vb[i]) / std::max(std::abs(vb[i]), 1.0);
    worst = std::isnan(e) ? INFINITY : std::max(worst, e);
  }
  return worst;
}

}  // namespace taesan::test
