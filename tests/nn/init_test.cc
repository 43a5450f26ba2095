// nn::init: PyTorch's formulas (bounds, standard deviations, fans, gains), determinism for a
// seed whatever the thread count or layout, the truncated normal, and argument checks.
#include "taesan/nn/init.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <numeric>

#include "taesan/autograd/factory.h"
#include "taesan/core/parallel.h"
#include "taesan/core/random.h"
#include "taesan/nn/linear.h"

namespace ts = taesan;
namespace init = ts::nn::init;

namespace {

struct Stats {
  double mean = 0, std = 0, min = INFINITY, max = -INFINITY;
};

Stats stats(const ts::Tensor& t) {
  Stats s;
  const auto v = t.to_vector<double>();
  for (double x : v) {
    s.mean += x;
    s.min = std::min(s.min, x);
    s.max = std::max(s.max, x);
  }
  s.mean /= static_cast<double>(v.size());
  for (double x : v) s.std += (x - s.mean) * (x - s.mean);
  s.std = std::sqrt(s.std / static_cast<double>(v.size() - 1));
  return s;
}

}  // namespace

TEST_CASE("gains and fans follow PyTorch", "[nn][init]") {
  CHECK(init::calculate_gain("linear") == 1.0);
  CHECK(init::calculate_gain("tanh") == Approx(5.0 / 3.0));
  CHECK(init::calculate_gain("relu") == Approx(std::sqrt(2.0)));
  CHECK(init::calculate_gain("leaky_relu", std::sqrt(5.0)) == Approx(std::sqrt(1.0 / 3.0)));
  CHECK(init::calculate_gain("selu") == 0.75);
  CHECK_THROWS_WITH(init::calculate_gain("swish"), Catch::Contains("swish"));
  CHECK(init::calculate_fan_in_and_fan_out(ts::empty({8, 3})) == std::pair<int64_t, int64_t>{3, 8});
  CHECK(init::calculate_fan_in_and_fan_out(ts::empty({16, 4, 3, 3})) ==
        std::pair<int64_t, int64_t>{36, 144});
  CHECK_THROWS_WITH(init::calculate_fan_in_and_fan_out(ts::empty({5})),
                    Catch::Contains("at least 2 dims"));
}

TEST_CASE("distributions have the right bounds and moments", "[nn][init]") {
  ts::manual_seed(42);
  ts::Tensor t = ts::empty({200, 500});  // fan_in 500, fan_out 200
  init::uniform_(t, -2, 3);
  Stats s = stats(t);
  CHECK(s.min >= -2);
  CHECK(s.max < 3);
  CHECK(s.mean == Approx(0.5).margin(0.02));
  init::normal_(t, 1.0, 0.5);
  s = stats(t);
  CHECK(s.mean == Approx(1.0).margin(0.005));
  CHECK(s.std == Approx(0.5).epsilon(0.01));

  init::xavier_uniform_(t, 2.0);
  const double xb = 2.0 * std::sqrt(6.0 / 700.0);
  s = stats(t);
  CHECK(s.max <= xb);
  CHECK(s.min >= -xb);
  CHECK(s.max > 0.99 * xb);
  init::xavier_normal_(t);
  CHECK(stats(t).std == Approx(std::sqrt(2.0 / 700.0)).epsilon(0.01));
  init::kaiming_uniform_(t, 0.0, "fan_in", "relu");
  CHECK(stats(t).max <= std::sqrt(2.0) * std::sqrt(3.0 / 500.0));
  CHECK(stats(t).std == Approx(std::sqrt(2.0 / 500.0)).epsilon(0.01));
  init::kaiming_normal_(t, 0.0, "fan_out", "relu");
  CHECK(stats(t).std == Approx(std::sqrt(2.0 / 200.0)).epsilon(0.01));

  init::constant_(t, 0.25);
  CHECK(stats(t).min == 0.25);
  CHECK(stats(t).max == 0.25);
  init::zeros_(t);
  CHECK(stats(t).max == 0.0);
  init::ones_(t);
  CHECK(stats(t).min == 1.0);
}

TEST_CASE("trunc_normal_ stays in [a, b] with the truncated moments", "[nn][init]") {
  ts::manual_seed(7);
  ts::Tensor t = ts::empty({100000}, ts::kFloat64);
  init::trunc_normal_(t, 0.0, 1.0, -2.0, 2.0);
  Stats s = stats(t);
  CHECK(s.min >= -2.0);
  CHECK(s.max <= 2.0);
  CHECK(s.mean == Approx(0.0).margin(0.01));
  // Variance of N(0,1) truncated to [-2, 2]: 1 - 2 * 2 * phi(2) / (2 Phi(2) - 1) = 0.7737.
  CHECK(s.std == Approx(std::sqrt(0.773741)).epsilon(0.01));
  // Far in a tail: samples still land inside, close to the near bound.
  init::trunc_normal_(t, 0.0, 1.0, 6.0, 7.0);
  s = stats(t);
  CHECK(s.min >= 6.0);
  CHECK(s.max <= 7.0);
  CHECK(s.mean == Approx(6.16).margin(0.02));       // about a + 1/a for a large bound
  init::trunc_normal_(t, 0.02, 0.02, -0.04, 0.08);  // BERT-style, shifted mean
  s = stats(t);
  CHECK(s.min >= -0.04);
  CHECK(s.max <= 0.08);
  CHECK_THROWS_WITH(init::trunc_normal_(t, 0, 1, 1, 1), Catch::Contains("a < b"));
  CHECK_THROWS_WITH(init::trunc_normal_(t, 0, 1, 60, 70), Catch::Contains("too far in the tail"));
}

TEST_CASE("a seed gives the same values for any thread count and layout", "[nn][init]") {
  const int saved = ts::get_num_threads();
  std::vector<std::vector<float>> runs;
  for (int threads : {1, 2, 4}) {
    ts::set_num_threads(threads);
    ts::manual_seed(123);
    ts::Tensor t = ts::empty({300, 301});
    init::normal_(t);
    runs.push_back(t.to_vector<float>());
  }
  ts::set_num_threads(saved);
  CHECK(runs[0] == runs[1]);
  CHECK(runs[0] == runs[2]);
  ts::manual_seed(124);
  ts::Tensor other = ts::empty({300, 301});
  init::normal_(other);
  CHECK(other.to_vector<float>() != runs[0]);

  // A transposed view gets the same values in its own row-major order.
  ts::manual_seed(5);
  ts::Tensor dense = ts::empty({3, 4});
  init::uniform_(dense);
  ts::manual_seed(5);
  ts::Tensor base = ts::zeros({4, 3});
  ts::Tensor view = base.t();
  const uint64_t version = base.version();
  init::uniform_(view);
  CHECK(view.to_vector<float>() == dense.to_vector<float>());
  CHECK(base.version() > version);
}

TEST_CASE("init checks its arguments", "[nn][init]") {
  ts::Tensor ints = ts::zeros({2, 2}, ts::kInt64);
  CHECK_THROWS_WITH(init::normal_(ints), Catch::Contains("floating-point"));
  CHECK_THROWS_WITH(init::normal_(ts::empty({2}), 0, -1), Catch::Contains("std >= 0"));
  CHECK_THROWS_WITH(init::uniform_(ts::empty({2}), 1, 0), Catch::Contains("a <= b"));
  CHECK_THROWS_WITH(init::kaiming_uniform_(ts::empty({2, 2}), 0, "fan_avg"),
                    Catch::Contains("fan_avg"));
  CHECK_THROWS_WITH(init::xavier_uniform_(ts::empty({4})), Catch::Contains("at least 2 dims"));
  CHECK_THROWS_WITH(init::normal_(ts::Tensor()), Catch::Contains("undefined"));
  init::constant_(ints, 3);
  CHECK(ints.to_vector<int64_t>() == std::vector<int64_t>{3, 3, 3, 3});
  CHECK_THROWS_AS(init::constant_(ints, 0.5), ts::Error);
}

TEST_CASE("layers start from PyTorch's default initialisation", "[nn][init]") {
  ts::manual_seed(0);
  ts::nn::Linear fc(64, 32);
  const double bound = 1.0 / std::sqrt(64.0);
  Stats w = stats(fc.weight), b = stats(fc.bias);
  CHECK(w.max <= bound);
  CHECK(w.min >= -bound);
  CHECK(w.max > 0.9 * bound);
  CHECK(b.max <= bound);
  CHECK(w.std == Approx(bound / std::sqrt(3.0)).epsilon(0.05));
}
