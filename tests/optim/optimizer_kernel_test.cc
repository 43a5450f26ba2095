// The fused Highway optimizer kernels against their scalar references, on every compiled SIMD
// target, for every length 0..2N+1 at several misalignments; and their independence from the
// thread count.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "common/hwy_target_guard.h"
#include "hwy/highway.h"
#include "hwy/targets.h"
#include "taesan/core/parallel.h"
#include "taesan/ops/kernels/optimizer.h"

namespace k = taesan::kernels;

namespace {

template <typename T>
std::vector<T> random_vector(size_t n, std::mt19937& rng, double lo, double hi) {
  std::uniform_real_distribution<double> dist(lo, hi);
  std::vector<T> v(n);
  for (auto& x : v) x = static_cast<T>(dist(rng));
  return v;
}

template <typename T>
void expect_close(const std::vector<T>& a, const std::vector<T>& b, double rtol, const char* what,
                  size_t n, size_t misalign) {
  for (size_t i = 0; i < a.size(); ++i) {
    const double scale = std::max(1.0, std::abs(static_cast<double>(b[i])));
    INFO(what << " n=" << n << " misalign=" << misalign << " i=" << i << " got " << a[i]
              << " expected " << b[i]);
    REQUIRE(std::abs(static_cast<double>(a[i]) - static_cast<double>(b[i])) <= rtol * scale);
  }
}

// Ulp-level differences come only from fused multiply-adds; a few ulp of the working precision.
template <typename T>
double kernel_tolerance() {
  return 16 * std::numeric_limits<T>::epsilon();
}

template <typename T>
void check_adam(bool decoupled, bool amsgrad, double weight_decay) {
  std::mt19937 rng(7);
  const size_t lanes_max = HWY_MAX_BYTES / sizeof(T);
  for (size_t misalign : {0, 1, 3}) {
    for (size_t n = 0; n <= 2 * lanes_max + 1; ++n) {
      const size_t total = n + misalign;
      auto p = random_vector<T>(total, rng, -2, 2), g = random_vector<T>(total, rng, -1, 1);
      auto m = random_vector<T>(total, rng, -0.1, 0.1), v = random_vector<T>(total, rng, 0, 0.1);
      auto vmax = random_vector<T>(total, rng, 0, 0.1);
      auto p2 = p, m2 = m, v2 = v, vmax2 = vmax;
      const k::AdamStep s{.lr = 0.01,
                          .beta1 = 0.9,
                          .beta2 = 0.99,
                          .eps = 1e-8,
                          .weight_decay = weight_decay,
                          .decoupled = decoupled,
                          .step = 3};
      k::adam_update(s, p.data() + misalign, g.data() + misalign, m.data() + misalign,
                     v.data() + misalign, amsgrad ? vmax.data() + misalign : nullptr, n);
      k::adam_update_reference(s, p2.data() + misalign, g.data() + misalign, m2.data() + misalign,
                               v2.data() + misalign, amsgrad ? vmax2.data() + misalign : nullptr,
                               n);
      const double tol = kernel_tolerance<T>();
      expect_close(p, p2, tol, "param", n, misalign);
      expect_close(m, m2, tol, "exp_avg", n, misalign);
      expect_close(v, v2, tol, "exp_avg_sq", n, misalign);
      expect_close(vmax, vmax2, tol, "max_exp_avg_sq", n, misalign);
    }
  }
}

template <typename T>
void check_sgd(double momentum, double dampening, bool nesterov, bool first, double wd) {
  std::mt19937 rng(11);
  const size_t lanes_max = HWY_MAX_BYTES / sizeof(T);
  for (size_t misalign : {0, 1, 2}) {
    for (size_t n = 0; n <= 2 * lanes_max + 1; ++n) {
      const size_t total = n + misalign;
      auto p = random_vector<T>(total, rng, -2, 2), g = random_vector<T>(total, rng, -1, 1);
      auto buf = random_vector<T>(total, rng, -1, 1);
      auto p2 = p, buf2 = buf;
      const k::SgdStep s{.lr = 0.1,
                         .momentum = momentum,
                         .dampening = dampening,
                         .weight_decay = wd,
                         .nesterov = nesterov,
                         .first_step = first};
      T* b1 = momentum != 0 ? buf.data() + misalign : nullptr;
      T* b2 = momentum != 0 ? buf2.data() + misalign : nullptr;
      k::sgd_update(s, p.data() + misalign, g.data() + misalign, b1, n);
      k::sgd_update_reference(s, p2.data() + misalign, g.data() + misalign, b2, n);
      expect_close(p, p2, kernel_tolerance<T>(), "param", n, misalign);
      expect_close(buf, buf2, kernel_tolerance<T>(), "momentum_buffer", n, misalign);
    }
  }
}

using taesan::testing::for_each_target;

}  // namespace

TEMPLATE_TEST_CASE("adam_update matches the scalar reference on every target", "[optim][kernel]",
                   float, double) {
  for_each_target([] {
    check_adam<TestType>(/*decoupled=*/false, /*amsgrad=*/false, 0.0);
    check_adam<TestType>(false, true, 0.1);
    check_adam<TestType>(true, false, 0.1);
    check_adam<TestType>(true, true, 0.01);
  });
}

TEMPLATE_TEST_CASE("sgd_update matches the scalar reference on every target", "[optim][kernel]",
                   float, double) {
  for_each_target([] {
    check_sgd<TestType>(0.0, 0.0, false, false, 0.0);
    check_sgd<TestType>(0.9, 0.1, false, true, 0.01);
    check_sgd<TestType>(0.9, 0.1, false, false, 0.01);
    check_sgd<TestType>(0.9, 0.0, true, false, 0.001);
  });
}

TEMPLATE_TEST_CASE("sum_squares and max_abs match the references", "[optim][kernel]", float,
                   double) {
  for_each_target([] {
    std::mt19937 rng(3);
    for (size_t n : {0, 1, 7, 16, 17, 1023, 1024, 1025, 5000}) {
      auto x = random_vector<TestType>(n + 1, rng, -3, 3);
      INFO("n=" << n);
      CHECK(k::sum_squares(x.data() + 1, n) ==
            Approx(k::sum_squares_reference(x.data() + 1, n)).epsilon(1e-6));
      CHECK(k::max_abs(x.data() + 1, n) == k::max_abs_reference(x.data() + 1, n));
    }
    std::vector<TestType> with_nan(100, 1);
    with_nan[57] = std::numeric_limits<TestType>::quiet_NaN();
    CHECK(std::isnan(k::max_abs(with_nan.data(), 100)));
    CHECK(std::isnan(k::sum_squares(with_nan.data(), 100)));
    with_nan[57] = -std::numeric_limits<TestType>::infinity();
    CHECK(std::isinf(k::max_abs(with_nan.data(), 100)));
  });
}

TEST_CASE("optimizer kernels give the same bits for any thread count", "[optim][kernel]") {
  std::mt19937 rng(5);
  const size_t n = 300'001;  // several thread chunks and an odd tail
  const auto p0 = random_vector<float>(n, rng, -1, 1), g = random_vector<float>(n, rng, -1, 1);
  std::vector<std::vector<float>> results;
  std::vector<double> norms;
  const int saved = taesan::get_num_threads();
  for (int threads : {1, 2, 3}) {
    taesan::set_num_threads(threads);
    auto p = p0;
    std::vector<float> m(n, 0), v(n, 0);
    k::adam_update({.lr = 1e-3, .weight_decay = 0.01, .decoupled = true, .step = 1}, p.data(),
                   g.data(), m.data(), v.data(), nullptr, static_cast<int64_t>(n));
    results.push_back(p);
    norms.push_back(k::sum_squares(g.data(), static_cast<int64_t>(n)));
  }
  taesan::set_num_threads(saved);
  CHECK(results[0] == results[1]);
  CHECK(results[0] == results[2]);
  CHECK(norms[0] == norms[1]);
  CHECK(norms[0] == norms[2]);
}
