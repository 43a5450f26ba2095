// The fused feed_forward op against the composed ops it replaces (linear, activation, linear):
// values and gradients in float32 and float64, every activation, and the memory it exists to
// save (one d_ff-sized activation per call instead of two kept for backward).
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <string>

#include <taesan/taesan.h>

namespace ts = taesan;
using ts::Tensor;
using ts::TensorList;

namespace {

double max_abs_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  std::vector<double> x = a.to_vector<double>(), y = b.to_vector<double>();
  double m = 0;
  for (size_t i = 0; i < x.size(); ++i) m = std::max(m, std::abs(x[i] - y[i]));
  return m;
}

Tensor composed(const TensorList& p, const std::string& act) {
  return ts::linear(ts::ops::activation(act, ts::linear(p[0], p[1], p[2])), p[3], p[4]);
}

}  // namespace

TEST_CASE("feed_forward matches linear -> activation -> linear, values and gradients",
          "[ops][feed_forward]") {
  for (ts::DType dt : {ts::kFloat32, ts::kFloat64}) {
    for (std::string act : {"gelu", "gelu_tanh", "relu"}) {
      ts::manual_seed(3);
      // (2, 5, 24) input, d_ff 72, d_out 20: sizes that are not multiples of the vector width.
      TensorList p = {ts::randn({2, 5, 24}, dt), ts::randn({72, 24}, dt) * 0.2,
                      ts::randn({72}, dt), ts::randn({20, 72}, dt) * 0.2, ts::randn({20}, dt)};
      for (Tensor& t : p) t = t.detach().requires_grad_();
      Tensor g = ts::randn({2, 5, 20}, dt);
      Tensor fused = ts::feed_forward(p[0], p[1], p[2], p[3], p[4], act);
      Tensor ref = composed(p, act);
      const double tol = dt == ts::kFloat32 ? 2e-5 : 1e-12;
      INFO(act << " " << ts::dtype_name(dt));
      CHECK(max_abs_diff(fused, ref) < tol * 10);
      TensorList gf = ts::grad({fused}, p, {g});
      TensorList gr = ts::grad({ref}, p, {g});
      for (size_t i = 0; i < p.size(); ++i) {
        INFO("gradient of input " << i);
        CHECK(max_abs_diff(gf[i], gr[i]) < tol * 100);
      }
    }
  }
}

TEST_CASE("feed_forward's fused activation is the op its backward differentiates, bit for bit",
          "[ops][feed_forward]") {
  // The forward applies the activation in the GEMM's epilogue; the backward recomputes it (and
  // its derivative) from the saved pre-activation with ops::activation / activation_grad.
  for (ts::DType dt : {ts::kFloat32, ts::kFloat64}) {
    for (std::string act : {"gelu", "gelu_tanh", "relu"}) {
      ts::manual_seed(5);
      Tensor x = ts::randn({37, 24}, dt) * 2.0, w = ts::randn({40, 24}, dt),
             b = ts::randn({40}, dt);
      Tensor z;
      Tensor y = ts::ops::linear_gemm(x, w, b, act, &z);
      INFO(act << " " << ts::dtype_name(dt));
      CHECK(max_abs_diff(y, ts::ops::activation(act, z)) == 0);
    }
  }
}

TEST_CASE("feed_forward keeps one d_ff-sized activation for backward, the composed ops two",
          "[ops][feed_forward]") {
  const int64_t M = 256, D = 32, F = 512;
  ts::manual_seed(1);
  Tensor x = ts::randn({M, D}).requires_grad_();
  Tensor w1 = ts::randn({F, D}).requires_grad_(), b1 = ts::zeros({F}).requires_grad_();
  Tensor w2 = ts::randn({D, F}).requires_grad_(), b2 = ts::zeros({D}).requires_grad_();
  auto held_by_graph = [&](bool fused) {
    const size_t before = ts::allocator_stats().bytes_in_use;
    Tensor out = fused ? ts::feed_forward(x, w1, b1, w2, b2, "gelu")
                       : composed({x, w1, b1, w2, b2}, "gelu");
    const size_t held = ts::allocator_stats().bytes_in_use - before;
    out.sum().backward();  // the graph is usable
    return held;
  };
  const size_t fused = held_by_graph(true), composed_bytes = held_by_graph(false);
  const size_t activation = M * F * sizeof(float);
  INFO("fused " << fused << " bytes, composed " << composed_bytes << " bytes");
  CHECK(fused >= activation);                       // the pre-activation
  CHECK(fused < 2 * activation);                    // ... and not the activation's output
  CHECK(composed_bytes >= fused + activation);
}

TEST_CASE("feed_forward rejects bad shapes, dtypes and activations", "[ops][feed_forward]") {
  using Catch::Matchers::Contains;
  Tensor x = ts::randn({2, 3}), w1 = ts::randn({4, 3}), w2 = ts::randn({3, 4});
  CHECK_THROWS_WITH(ts::feed_forward(x, w1, Tensor(), w2, Tensor(), "swish"),
                    Contains("feed_forward") && Contains("swish"));
  CHECK_THROWS_WITH(ts::feed_forward(ts::randn({2, 5}), w1, Tensor(), w2, Tensor()),
                    Contains("feed_forward") && Contains("d_in = 3"));
  CHECK_THROWS_WITH(ts::feed_forward(x, w1, Tensor(), ts::randn({3, 5}), Tensor()),
                    Contains("feed_forward") && Contains("w2"));
  CHECK_THROWS_WITH(ts::feed_forward(x, w1, ts::randn({5}), w2, Tensor()),
                    Contains("b1") && Contains("[4]"));
  CHECK_THROWS_WITH(ts::feed_forward(x.to(ts::kFloat64), w1, Tensor(), w2, Tensor()),
                    Contains("one dtype"));
  // Degenerate sizes take the composed path and still give the right shape.
  CHECK(ts::feed_forward(ts::randn({0, 3}), w1, Tensor(), w2, Tensor()).shape() == ts::Shape{0, 3});
}
