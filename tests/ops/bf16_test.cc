// bfloat16 in the ops: every op takes a bfloat16 tensor or refuses it with a clear ts::Error;
// inside a ts::AutocastGuard, matmul / linear / feed_forward / scaled_dot_product_attention
// equal a float64 reference computed on the bf16-rounded operands to fp32-accumulation accuracy
// (forward and backward, the backward run after the region), outside a guard nothing changes bit
// for bit, float64 never goes through bfloat16, and results are the same on 1 and 2 threads.
#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <taesan/taesan.h>

namespace ts = taesan;
using Catch::Matchers::Contains;
using ts::Tensor;

namespace {

constexpr double kEps32 = 0x1p-24;  // float32 unit roundoff

/// t rounded to bfloat16 values, as a float64 tensor (no graph).
Tensor r64(const Tensor& t) {
  ts::NoGradGuard g;
  return t.detach().to(ts::kBFloat16).to(ts::kFloat64);
}
Tensor f64(const Tensor& t) {
  ts::NoGradGuard g;
  return t.detach().to(ts::kFloat64);
}

/// max |a - b| over the elements (a, b of one shape, any float dtype).
double max_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  const auto x = a.to_vector<double>(), y = b.to_vector<double>();
  double m = 0;
  for (size_t i = 0; i < x.size(); ++i) m = std::max(m, std::fabs(x[i] - y[i]));
  return m;
}

/// Elementwise |got - want| <= bound; returns the largest |got - want| / bound.
double worst_ratio(const Tensor& got, const Tensor& want, const Tensor& bound) {
  REQUIRE(got.shape() == want.shape());
  const auto g = got.to_vector<double>(), w = want.to_vector<double>(),
             b = ts::expand(bound, want.shape()).to_vector<double>();
  double worst = 0;
  for (size_t i = 0; i < g.size(); ++i) worst = std::max(worst, std::fabs(g[i] - w[i]) / b[i]);
  return worst;
}

/// The error bound of a product accumulated in float32 over k terms, with |A| |B| the sum of
/// magnitudes: 2 k u |A| |B| (+ a floor for exact zeros).
Tensor gemm_bound(const Tensor& abs_a, const Tensor& abs_b, int64_t k) {
  return ts::add(ts::mul(ts::matmul(abs_a, abs_b), 2.0 * static_cast<double>(k) * kEps32), 1e-30);
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         a.to_vector<double>() == b.to_vector<double>();
}

/// Runs f and returns "" or the ts::Error's message. Other exceptions propagate (and fail).
std::string error_of(const std::function<Tensor()>& f) {
  try {
    f();
    return "";
  } catch (const ts::Error& e) {
    return e.what();
  }
}

}  // namespace

// ---- forward under autocast ---------------------------------------------------------------------

TEST_CASE("autocast matmul: bf16 products, fp32 accumulation, fp32 result",
          "[ops][bf16][autocast]") {
  ts::manual_seed(1);
  struct Case {
    ts::Shape a, b;
  };
  const std::vector<Case> cases = {
      {{5, 37}, {37, 11}},   {{2, 3, 5, 37}, {37, 11}}, {{2, 1, 5, 37}, {3, 37, 11}},
      {{37}, {37, 11}},      {{4, 37}, {37}},           {{300}, {300}},
      {{64, 300}, {300, 48}}};
  for (const Case& c : cases) {
    INFO("a " << ts::shape_str(c.a) << " b " << ts::shape_str(c.b));
    Tensor a = ts::randn(c.a), b = ts::randn(c.b);
    Tensor y;
    {
      ts::AutocastGuard amp(ts::kBFloat16);
      y = ts::matmul(a, b);
    }
    CHECK(y.dtype() == ts::kFloat32);
    const int64_t k = c.a.back();
    Tensor want = ts::matmul(r64(a), r64(b));
    Tensor bound = gemm_bound(ts::abs(r64(a)), ts::abs(r64(b)), k);
    CHECK(worst_ratio(y, want, bound) <= 1.0);
    // The operands were rounded: the unrounded product is farther than the (pessimistic) bound.
    CHECK(worst_ratio(y, ts::matmul(f64(a), f64(b)), bound) > 2.0);
  }
  // Transposed (strided) operands and bfloat16 tensors mixed with float32 ones.
  Tensor a = ts::randn({37, 5}), b = ts::randn({11, 37});
  Tensor want = ts::matmul(r64(a).t(), r64(b).t());
  ts::AutocastGuard amp(ts::kBFloat16);
  Tensor y = ts::matmul(a.t(), b.t());
  Tensor y_mixed = ts::matmul(a.t().to(ts::kBFloat16), b.t());
  Tensor y_bf16 = ts::matmul(a.to(ts::kBFloat16).t(), b.to(ts::kBFloat16).t());
  CHECK(worst_ratio(y, want, gemm_bound(ts::abs(r64(a)).t(), ts::abs(r64(b)).t(), 37)) <= 1.0);
  CHECK(same_bits(y, y_mixed));
  CHECK(same_bits(y, y_bf16));
  CHECK(y_bf16.dtype() == ts::kFloat32);
}

TEST_CASE("autocast linear: rounded input and weight, float32 bias", "[ops][bf16][autocast]") {
  ts::manual_seed(2);
  Tensor x = ts::randn({4, 6, 37}), w = ts::randn({13, 37}), b = ts::randn({13});
  Tensor y, y_nobias;
  {
    ts::AutocastGuard amp(ts::kBFloat16);
    y = ts::linear(x, w, b);
    y_nobias = ts::linear(x, w);
  }
  CHECK(y.dtype() == ts::kFloat32);
  CHECK(y.shape() == ts::Shape{4, 6, 13});
  Tensor prod = ts::matmul(r64(x), r64(w).t());
  Tensor bound = gemm_bound(ts::abs(r64(x)), ts::abs(r64(w)).t(), 37);
  CHECK(worst_ratio(y_nobias, prod, bound) <= 1.0);
  // The bias is added unrounded (a float32 add: one more rounding of the sum).
  Tensor want = ts::add(prod, f64(b));
  CHECK(worst_ratio(y, want, ts::add(bound, ts::mul(ts::abs(want), kEps32))) <= 1.0);
  CHECK(worst_ratio(y, ts::add(prod, r64(b)), bound) > 10.0);
  CHECK(worst_ratio(y, ts::add(ts::matmul(f64(x), f64(w).t()), f64(b)), bound) > 10.0);
}

TEST_CASE("autocast attention: rounded q, k, v, float32 softmax", "[ops][bf16][autocast]") {
  ts::manual_seed(3);
  Tensor q = ts::randn({2, 3, 7, 16}), k = ts::randn({2, 3, 9, 16}), v = ts::randn({2, 3, 9, 8});
  Tensor mask = ts::mul(ts::randn({7, 9}), 0.5);
  for (int variant = 0; variant < 4; ++variant) {
    INFO("variant " << variant);
    const bool causal = variant == 1;
    const Tensor m = variant == 2 ? mask : Tensor();
    const auto backend =
        variant == 3 ? ts::AttentionBackend::Reference : ts::AttentionBackend::Auto;
    Tensor y;
    {
      ts::AutocastGuard amp(ts::kBFloat16);
      y = ts::scaled_dot_product_attention(q, k, v, m, 0.0, causal, std::nullopt, backend);
    }
    CHECK(y.dtype() == ts::kFloat32);
    const Tensor m64 = m.defined() ? f64(m) : Tensor();
    Tensor want = ts::scaled_dot_product_attention(r64(q), r64(k), r64(v), m64, 0.0, causal);
    Tensor unrounded = ts::scaled_dot_product_attention(f64(q), f64(k), f64(v), m64, 0.0, causal);
    // Outputs are convex combinations of rows of v (|v| < 5): fp32 errors stay near 1e-6, the
    // bf16 rounding of the operands moves them by ~1e-3.
    CHECK(max_diff(y, want) < 2e-5);
    CHECK(max_diff(y, unrounded) > 2e-4);
  }
  // A (B, T, d) call and a bfloat16 additive mask.
  ts::AutocastGuard amp(ts::kBFloat16);
  Tensor q3 = ts::randn({2, 5, 8}), k3 = ts::randn({2, 6, 8}), v3 = ts::randn({2, 6, 8});
  Tensor y3 = ts::scaled_dot_product_attention(
      q3, k3, v3, mask.slice(0, 0, 5).slice(1, 0, 6).to(ts::kBFloat16));
  Tensor want3 = ts::scaled_dot_product_attention(r64(q3), r64(k3), r64(v3),
                                                  r64(mask.slice(0, 0, 5).slice(1, 0, 6)));
  CHECK(max_diff(y3, want3) < 2e-5);
}

TEST_CASE("autocast feed_forward: both GEMMs on rounded operands", "[ops][bf16][autocast]") {
  ts::manual_seed(4);
  Tensor x = ts::randn({3, 5, 24}), w1 = ts::mul(ts::randn({40, 24}), 0.3), b1 = ts::randn({40}),
         w2 = ts::mul(ts::randn({24, 40}), 0.3), b2 = ts::randn({24});
  for (const std::string act : {"gelu", "relu", "gelu_tanh"}) {
    INFO(act);
    Tensor y, h;
    {
      ts::AutocastGuard amp(ts::kBFloat16);
      y = ts::feed_forward(x, w1, b1, w2, b2, act);
      h = ts::ops::activation(act, ts::linear(x, w1, b1));  // autocast's first layer
    }
    CHECK(y.dtype() == ts::kFloat32);
    // First layer: x and w1 rounded (the linear test checks its GEMM); the second GEMM takes the
    // activation rounded to bf16, as the unfused Linear -> activation -> Linear would.
    Tensor want = ts::add(ts::matmul(r64(h), r64(w2).t()), f64(b2));
    Tensor bound = ts::add(gemm_bound(ts::abs(r64(h)), ts::abs(r64(w2)).t(), 40),
                           ts::mul(ts::abs(want), kEps32));
    CHECK(worst_ratio(y, want, bound) <= 1.0);
    CHECK(worst_ratio(y, ts::add(ts::matmul(f64(h), r64(w2).t()), f64(b2)), bound) > 10.0);
    Tensor h_want = ts::ops::activation(act, ts::add(ts::matmul(r64(x), r64(w1).t()), f64(b1)));
    CHECK(max_diff(h, h_want) < 1e-4);
  }
}

// ---- backward under autocast ----------------------------------------------------------------

TEST_CASE("autocast backward multiplies bf16-rounded gradients and operands",
          "[ops][bf16][autocast][autograd]") {
  ts::manual_seed(5);
  SECTION("matmul") {
    Tensor a = ts::randn({6, 33}).requires_grad_(), b = ts::randn({33, 9}).requires_grad_();
    Tensor g = ts::randn({6, 9});
    Tensor y;
    {
      ts::AutocastGuard amp(ts::kBFloat16);
      y = ts::matmul(a, b);
    }
    y.backward(g);  // after the region: the recorded policy still applies
    Tensor da = ts::matmul(r64(g), r64(b).t()), db = ts::matmul(r64(a).t(), r64(g));
    Tensor bound_a = gemm_bound(ts::abs(r64(g)), ts::abs(r64(b)).t(), 9);
    Tensor bound_b = gemm_bound(ts::abs(r64(a)).t(), ts::abs(r64(g)), 6);
    CHECK(a.grad().dtype() == ts::kFloat32);
    CHECK(worst_ratio(a.grad(), da, bound_a) <= 1.0);
    CHECK(worst_ratio(b.grad(), db, bound_b) <= 1.0);
    // Unrounded gradient or unrounded saved operand: outside the bound.
    CHECK(worst_ratio(a.grad(), ts::matmul(f64(g), r64(b).t()), bound_a) > 10.0);
    CHECK(worst_ratio(a.grad(), ts::matmul(r64(g), f64(b).t()), bound_a) > 10.0);
    CHECK(worst_ratio(b.grad(), ts::matmul(r64(a).t(), f64(g)), bound_b) > 10.0);
  }
  SECTION("linear") {
    Tensor x = ts::randn({2, 5, 33}).requires_grad_(), w = ts::randn({9, 33}).requires_grad_(),
           b = ts::randn({9}).requires_grad_();
    Tensor g = ts::randn({2, 5, 9});
    Tensor y;
    {
      ts::AutocastGuard amp(ts::kBFloat16);
      y = ts::linear(x, w, b);
    }
    y.backward(g);
    Tensor g2 = r64(g).reshape({10, 9}), x2 = r64(x).reshape({10, 33});
    Tensor dx = ts::matmul(g2, r64(w)).reshape({2, 5, 33});
    Tensor dw = ts::matmul(g2.t(), x2);
    Tensor db = ts::sum(g2, ts::Shape{0});
    CHECK(worst_ratio(x.grad(), dx, gemm_bound(ts::abs(r64(g)), ts::abs(r64(w)), 9)) <= 1.0);
    CHECK(worst_ratio(w.grad(), dw, gemm_bound(ts::abs(g2).t(), ts::abs(x2), 10)) <= 1.0);
    CHECK(max_diff(b.grad(), db) < 1e-5);
    CHECK(worst_ratio(w.grad(), ts::matmul(f64(g).reshape({10, 9}).t(), x2),
                      gemm_bound(ts::abs(g2).t(), ts::abs(x2), 10)) > 10.0);
  }
  SECTION("scaled_dot_product_attention") {
    for (bool causal : {false, true}) {
      INFO("causal " << causal);
      Tensor q = ts::randn({2, 2, 6, 8}).requires_grad_(),
             k = ts::randn({2, 2, 7, 8}).requires_grad_(),
             v = ts::randn({2, 2, 7, 4}).requires_grad_();
      Tensor g = ts::randn({2, 2, 6, 4});
      Tensor y;
      {
        ts::AutocastGuard amp(ts::kBFloat16);
        y = ts::scaled_dot_product_attention(q, k, v, Tensor(), 0.0, causal);
      }
      y.backward(g);
      // Reference: the same op in float64 on the rounded q, k, v and the rounded gradient.
      Tensor q64 = r64(q).requires_grad_(), k64 = r64(k).requires_grad_(),
             v64 = r64(v).requires_grad_();
      ts::scaled_dot_product_attention(q64, k64, v64, Tensor(), 0.0, causal).backward(r64(g));
      CHECK(max_diff(q.grad(), q64.grad()) < 5e-5);
      CHECK(max_diff(k.grad(), k64.grad()) < 5e-5);
      CHECK(max_diff(v.grad(), v64.grad()) < 5e-5);
      Tensor v64u = r64(v).requires_grad_();
      ts::scaled_dot_product_attention(r64(q), r64(k), v64u, Tensor(), 0.0, causal)
          .backward(f64(g));
      CHECK(max_diff(v.grad(), v64u.grad()) > 5e-4);  // the gradient was rounded
    }
  }
  SECTION("feed_forward is the composed autocast ops, bit for bit, forward and backward") {
    Tensor x = ts::randn({4, 16}), w1 = ts::randn({32, 16}), b1 = ts::randn({32}),
           w2 = ts::randn({8, 32}), b2 = ts::randn({8});
    Tensor g = ts::randn({4, 8});
    auto run = [&](bool fused) {
      std::vector<Tensor> leaves;
      for (const Tensor& t : {x, w1, b1, w2, b2}) leaves.push_back(t.detach().requires_grad_());
      Tensor y;
      {
        ts::AutocastGuard amp(ts::kBFloat16);
        y = fused ? ts::feed_forward(leaves[0], leaves[1], leaves[2], leaves[3], leaves[4])
                  : ts::linear(ts::gelu(ts::linear(leaves[0], leaves[1], leaves[2])), leaves[3],
                               leaves[4]);
      }
      y.backward(g);
      std::vector<Tensor> out = {y};
      for (const Tensor& l : leaves) out.push_back(l.grad());
      return out;
    };
    const auto fused = run(true), composed = run(false);
    for (size_t i = 0; i < fused.size(); ++i) CHECK(same_bits(fused[i], composed[i]));
    // Its weight gradient multiplies rounded operands: dw2 = bf16(g)ᵀ bf16(gelu(h)).
    Tensor h;
    {
      ts::AutocastGuard amp(ts::kBFloat16);
      h = ts::gelu(ts::linear(x, w1, b1));
    }
    CHECK(worst_ratio(fused[4], ts::matmul(r64(g).t(), r64(h)),
                      gemm_bound(ts::abs(r64(g)).t(), ts::abs(r64(h)), 4)) <= 1.0);
  }
}

TEST_CASE("autocast backward is the same inside and after the region, and differentiable",
          "[ops][bf16][autocast][autograd]") {
  ts::manual_seed(6);
  Tensor a = ts::randn({5, 7}), b = ts::randn({7, 3}), g = ts::randn({5, 3});
  auto grad_of_a = [&](bool backward_inside) {
    Tensor al = a.detach().requires_grad_();
    ts::AutocastGuard amp(ts::kBFloat16);
    Tensor y = ts::matmul(al, b);
    if (backward_inside) {
      y.backward(g);
    } else {
      ts::AutocastGuard off(false);
      y.backward(g);
    }
    return al.grad();
  };
  CHECK(same_bits(grad_of_a(true), grad_of_a(false)));
  // A graph recorded outside a region, run backward inside one: plain fp32 gradients.
  Tensor al = a.detach().requires_grad_();
  Tensor y = ts::matmul(al, b);
  {
    ts::AutocastGuard amp(ts::kBFloat16);
    y.backward(g);
  }
  CHECK(same_bits(al.grad(), ts::matmul(g, b.t())));
  // ... also when the backward rules run ops (create_graph: feed_forward's backward calls linear).
  Tensor x = ts::randn({4, 7}).requires_grad_(), w1 = ts::randn({9, 7}).requires_grad_(),
         w2 = ts::randn({3, 9}).requires_grad_();
  Tensor out = ts::sum(ts::feed_forward(x, w1, Tensor(), w2, Tensor()));
  const ts::TensorList plain_grads =
      ts::grad({out}, {x, w1, w2}, {}, {.retain_graph = true, .create_graph = true});
  ts::TensorList grads_inside;
  {
    ts::AutocastGuard amp(ts::kBFloat16);
    grads_inside = ts::grad({out}, {x, w1, w2}, {}, {.create_graph = true});
  }
  for (size_t i = 0; i < plain_grads.size(); ++i) CHECK(same_bits(grads_inside[i], plain_grads[i]));
  // create_graph through the autocast nodes: d/da sum((dy/da)^2) exists and is finite.
  Tensor a2 = a.detach().requires_grad_();
  Tensor y2;
  {
    ts::AutocastGuard amp(ts::kBFloat16);
    y2 = ts::matmul(a2, b);
  }
  Tensor ga = ts::grad({ts::sum(ts::mul(y2, y2))}, {a2}, {}, {.create_graph = true})[0];
  Tensor gg = ts::grad({ts::sum(ts::mul(ga, ga))}, {a2})[0];
  CHECK(gg.shape() == a.shape());
  for (double v : gg.to_vector<double>()) CHECK(std::isfinite(v));
}

// ---- nothing changes outside the guard ---------------------------------------------------------

namespace {

/// Outputs and gradients of the four autocast ops (and a few fp32-only ones) on fixed inputs.
std::vector<Tensor> run_all(ts::DType dtype) {
  ts::manual_seed(7);
  std::vector<Tensor> out;
  auto leaf = [&](ts::Shape s) { return ts::randn(s, dtype).requires_grad_(); };
  Tensor a = leaf({6, 20}), b = leaf({20, 5}), w = leaf({5, 20}), bias = leaf({5});
  Tensor q = leaf({2, 2, 6, 8}), k = leaf({2, 2, 6, 8}), v = leaf({2, 2, 6, 8});
  Tensor w1 = leaf({12, 20}), w2 = leaf({20, 12});
  Tensor loss = ts::add(ts::sum(ts::matmul(a, b)), ts::sum(ts::linear(a, w, bias)));
  loss = ts::add(loss, ts::sum(ts::mul(ts::scaled_dot_product_attention(q, k, v), 1.5)));
  loss = ts::add(loss, ts::sum(ts::softmax(ts::feed_forward(a, w1, Tensor(), w2, Tensor()), -1)));
  loss = ts::add(loss, ts::mean(ts::layer_norm(ts::matmul(a, b), {5})));
  loss.backward();
  out.push_back(loss);
  for (const Tensor& t : {a, b, w, bias, q, k, v, w1, w2}) out.push_back(t.grad());
  return out;
}

}  // namespace

TEST_CASE("outside a guard, or with autocast off, nothing changes bit for bit",
          "[ops][bf16][autocast]") {
  const std::vector<Tensor> base = run_all(ts::kFloat32);
  auto same = [&](const std::vector<Tensor>& r) {
    REQUIRE(r.size() == base.size());
    for (size_t i = 0; i < r.size(); ++i) CHECK(same_bits(r[i], base[i]));
  };
  {
    ts::AutocastGuard amp(ts::kBFloat16);
    {
      ts::AutocastGuard off(false);
      same(run_all(ts::kFloat32));
    }
    // ... and the region itself does change the results (the test above can fail).
    const std::vector<Tensor> inside = run_all(ts::kFloat32);
    CHECK_FALSE(same_bits(inside[0], base[0]));
  }
  same(run_all(ts::kFloat32));  // after the region
  // float64 never goes through bfloat16, inside a region or not.
  const std::vector<Tensor> base64 = run_all(ts::kFloat64);
  ts::AutocastGuard amp(ts::kBFloat16);
  const std::vector<Tensor> inside64 = run_all(ts::kFloat64);
  for (size_t i = 0; i < base64.size(); ++i) CHECK(same_bits(inside64[i], base64[i]));
  // gradcheck is unchanged inside a region (float64 throughout).
  Tensor x = ts::randn({3, 4}, ts::kFloat64).requires_grad_(),
         w = ts::randn({2, 4}, ts::kFloat64).requires_grad_();
  auto r = ts::gradcheck([](const ts::TensorList& in) { return ts::linear(in[0], in[1]); }, {x, w});
  CHECK(r.ok);
}

TEST_CASE("nested guards: the innermost decides, each restores what it found",
          "[ops][bf16][autocast]") {
  ts::manual_seed(8);
  Tensor a = ts::randn({4, 9}), b = ts::randn({9, 3});
  Tensor plain = ts::matmul(a, b);
  ts::AutocastGuard outer(ts::kBFloat16);
  Tensor cast = ts::matmul(a, b);
  CHECK_FALSE(same_bits(cast, plain));
  {
    ts::AutocastGuard inner(ts::kBFloat16);
    CHECK(same_bits(ts::matmul(a, b), cast));
    {
      ts::AutocastGuard off(false);
      CHECK(same_bits(ts::matmul(a, b), plain));
    }
    CHECK(same_bits(ts::matmul(a, b), cast));
  }
  CHECK(same_bits(ts::matmul(a, b), cast));
}

TEST_CASE("autocast results are the same on 1 and 2 threads", "[ops][bf16][autocast]") {
  auto run = [](int threads) {
    ts::set_num_threads(threads);
    ts::manual_seed(9);
    Tensor a = ts::randn({96, 200}).requires_grad_(), b = ts::randn({200, 160}).requires_grad_();
    Tensor w1 = ts::randn({256, 200}).requires_grad_(), w2 = ts::randn({64, 256}).requires_grad_();
    Tensor q = ts::randn({2, 4, 96, 32}).requires_grad_(),
           k = ts::randn({2, 4, 96, 32}).requires_grad_(),
           v = ts::randn({2, 4, 96, 32}).requires_grad_();
    Tensor loss;
    {
      ts::AutocastGuard amp(ts::kBFloat16);
      Tensor y = ts::matmul(a, b);
      Tensor f = ts::feed_forward(a, w1, Tensor(), w2, Tensor());
      Tensor o = ts::scaled_dot_product_attention(q, k, v, Tensor(), 0.0, true);
      loss =
          ts::add(ts::add(ts::sum(ts::mul(y, y)), ts::sum(ts::mul(f, f))), ts::sum(ts::mul(o, o)));
    }
    loss.backward();
    return std::vector<Tensor>{loss,      a.grad(), b.grad(), w1.grad(),
                               w2.grad(), q.grad(), k.grad(), v.grad()};
  };
  const int threads = ts::get_num_threads();
  const auto one = run(1), two = run(2);
  ts::set_num_threads(threads);
  for (size_t i = 0; i < one.size(); ++i) CHECK(same_bits(one[i], two[i]));
}

TEST_CASE("modules run under autocast and stay close to float32", "[ops][bf16][autocast][nn]") {
  ts::manual_seed(10);
  ts::nn::TransformerEncoderLayer layer(32, 4, 64, {.dropout = 0.0});
  Tensor x = ts::randn({2, 10, 32});
  Tensor ref = layer.forward(x);
  Tensor y;
  {
    ts::AutocastGuard amp(ts::kBFloat16);
    y = layer.forward(x);
  }
  CHECK(y.dtype() == ts::kFloat32);
  const double d = max_diff(y, ref);
  CHECK(d > 0);
  CHECK(d < 0.1);
  ts::sum(ts::mul(y, y)).backward();
  for (const Tensor& p : layer.parameters()) {
    REQUIRE(p.grad().defined());
    CHECK(p.dtype() == ts::kFloat32);
    CHECK(p.grad().dtype() == ts::kFloat32);
  }
}

// ---- every op takes bfloat16 or refuses it --------------------------------------------------

TEST_CASE("ops that compute refuse bfloat16 with a clear message", "[ops][bf16]") {
  ts::manual_seed(11);
  const Tensor x = ts::randn({2, 3}).to(ts::kBFloat16), y = ts::randn({2, 3}).to(ts::kBFloat16);
  const Tensor w = ts::randn({4, 3}).to(ts::kBFloat16);
  const Tensor idx = ts::from_vector<int64_t>({0, 2});
  const Tensor x4 = ts::randn({1, 1, 2, 3}).to(ts::kBFloat16);
  const std::vector<std::pair<std::string, std::function<Tensor()>>> refused = {
      {"add", [&] { return ts::add(x, y); }},
      {"mul", [&] { return x * 2.0; }},
      {"sub", [&] { return 1.0 - x; }},
      {"div", [&] { return x / y; }},
      {"maximum", [&] { return ts::maximum(x, y); }},
      {"lt", [&] { return x < 0.5; }},
      {"exp", [&] { return ts::exp(x); }},
      {"neg", [&] { return -x; }},
      {"pow", [&] { return ts::pow(x, 2.0); }},
      {"gelu", [&] { return ts::gelu(x); }},
      {"relu", [&] { return ts::relu(x); }},
      {"clamp", [&] { return ts::clamp(x, -1, 1); }},
      {"sum", [&] { return ts::sum(x); }},
      {"sum", [&] { return ts::sum(x, 1); }},
      {"mean", [&] { return ts::mean(x); }},
      {"max", [&] { return ts::max(x); }},
      {"argmax", [&] { return ts::argmax(x, 1); }},
      {"logsumexp", [&] { return ts::logsumexp(x, 1); }},
      {"var", [&] { return ts::var(x, 1); }},
      {"softmax", [&] { return ts::softmax(x, -1); }},
      {"log_softmax", [&] { return ts::log_softmax(x, -1); }},
      {"layer_norm", [&] { return ts::layer_norm(x, {3}); }},
      {"rms_norm", [&] { return ts::rms_norm(x, {3}); }},
      {"dropout", [&] { return ts::dropout(x, 0.5, true); }},
      {"cross_entropy", [&] { return ts::cross_entropy(x, idx); }},
      {"nll_loss", [&] { return ts::nll_loss(x, idx); }},
      {"mse_loss", [&] { return ts::mse_loss(x, y); }},
      {"bce", [&] { return ts::binary_cross_entropy_with_logits(x, y); }},
      {"matmul", [&] { return ts::matmul(x, w.t()); }},
      {"linear", [&] { return ts::linear(x, w); }},
      {"scaled_dot_product_attention",
       [&] { return ts::scaled_dot_product_attention(x4, x4, x4); }},
      {"feed_forward", [&] { return ts::feed_forward(x, w, Tensor(), w.t(), Tensor()); }},
      {"add_", [&] { return x.clone().add_(y); }},
      {"mul_", [&] { return x.clone().mul_(2.0); }},
  };
  for (const auto& [name, f] : refused) {
    INFO(name);
    const std::string msg = error_of(f);
    CHECK_THAT(msg, Contains("does not take bfloat16") && Contains(".to(ts::kFloat32)"));
  }
  // The ops that know their name say it.
  for (const std::string name : {"add", "exp", "softmax", "layer_norm", "rms_norm", "matmul",
                                 "linear", "scaled_dot_product_attention", "feed_forward"}) {
    for (const auto& [n, f] : refused)
      if (n == name) CHECK_THAT(error_of(f), Contains(name + ": this op does not take bfloat16"));
  }
  // The optimizer refuses a bfloat16 parameter the same way.
  Tensor p = ts::randn({3}).to(ts::kBFloat16).requires_grad_();
  p.set_grad(ts::ones({3}, ts::kBFloat16));
  ts::optim::SGD sgd(ts::TensorList{p}, {.lr = 0.1});
  CHECK_THROWS_WITH(sgd.step(), Contains("does not take bfloat16"));
}

TEST_CASE("ops that only move or select data take bfloat16", "[ops][bf16]") {
  ts::manual_seed(12);
  const Tensor f = ts::randn({2, 3, 4});
  const Tensor x = f.to(ts::kBFloat16);
  const Tensor idx = ts::from_vector<int64_t>({2, 0});
  auto expect = [&](const Tensor& got, const Tensor& from_fp32) {
    CHECK(got.dtype() == ts::kBFloat16);
    CHECK(got.shape() == from_fp32.shape());
    CHECK(got.to_vector<float>() == from_fp32.to(ts::kBFloat16).to_vector<float>());
  };
  expect(x.reshape({6, 4}), f.reshape({6, 4}));
  expect(x.transpose(0, 2).contiguous(), f.transpose(0, 2));
  expect(x.permute({2, 0, 1}), f.permute({2, 0, 1}));
  expect(x.slice(1, 0, 3, 2), f.slice(1, 0, 3, 2));
  expect(x.unsqueeze(0).expand({2, 2, 3, 4}), f.unsqueeze(0).expand({2, 2, 3, 4}));
  expect(x.index_select(2, idx), f.index_select(2, idx));
  expect(ts::cat({x, x}, 1), ts::cat({f, f}, 1));
  expect(ts::stack({x, x}, 0), ts::stack({f, f}, 0));
  expect(ts::split(x, 2, 2)[1], ts::split(f, 2, 2)[1]);
  expect(x.clone(), f);
  Tensor mask = f > 0.0;
  expect(ts::where(mask, x, ts::zeros_like(x)), ts::where(mask, f, ts::zeros_like(f)));
  expect(x.masked_fill(mask, 0.25), f.masked_fill(mask, 0.25));
  Tensor gidx = ts::zeros({2, 3, 4}, ts::kInt64);
  expect(x.gather(2, gidx), f.gather(2, gidx));
  expect(ts::embedding(x.reshape({6, 4}), idx), ts::embedding(f.reshape({6, 4}), idx));
  // Mixed with float32, elementwise ops promote to float32 (as PyTorch does).
  Tensor mixed = ts::add(x, f);
  CHECK(mixed.dtype() == ts::kFloat32);
  CHECK(same_bits(mixed, ts::add(x.to(ts::kFloat32), f)));
  CHECK(ts::mul(f, x).dtype() == ts::kFloat32);
  // bf16 + int64 / bool stays bfloat16, and is refused.
  CHECK_THROWS_WITH(ts::add(x, ts::ones({1}, ts::kInt64)), Contains("does not take bfloat16"));
}

TEST_CASE("every op answers bfloat16 inputs with a result or a ts::Error", "[ops][bf16][sweep]") {
  ts::manual_seed(13);
  std::vector<Tensor> pool;
  for (const ts::Shape& s :
       std::vector<ts::Shape>{{}, {0}, {3}, {2, 3}, {3, 1}, {2, 3, 4}, {1, 1, 3, 3}}) {
    pool.push_back(ts::randn(s).to(ts::kBFloat16));
    pool.push_back(ts::randn(s).to(ts::kBFloat16).requires_grad_());
    pool.push_back(ts::randn(s).requires_grad_().to(ts::kBFloat16));  // a non-leaf bf16
    pool.push_back(ts::randn(s).requires_grad_());
    pool.push_back(ts::randint(0, 2, s));
  }
  pool.push_back(ts::randn({3, 2}).to(ts::kBFloat16).t());
  using Binary = std::function<Tensor(const Tensor&, const Tensor&)>;
  const std::vector<std::pair<std::string, Binary>> ops = {
      {"add", [](const Tensor& a, const Tensor& b) { return a + b; }},
      {"mul", [](const Tensor& a, const Tensor& b) { return a * b; }},
      {"where", [](const Tensor& a, const Tensor& b) { return ts::where(a > 0.0, a, b); }},
      {"matmul", [](const Tensor& a, const Tensor& b) { return ts::matmul(a, b); }},
      {"linear", [](const Tensor& a, const Tensor& b) { return ts::linear(a, b, Tensor()); }},
      {"attention",
       [](const Tensor& a, const Tensor& b) { return ts::scaled_dot_product_attention(a, a, b); }},
      {"feed_forward",
       [](const Tensor& a, const Tensor& b) {
         return ts::feed_forward(a, b, Tensor(), b.t(), Tensor());
       }},
      {"cat",
       [](const Tensor& a, const Tensor& b) {
         return ts::cat({a, b}, -1);
       }},
      {"sum", [](const Tensor& a, const Tensor&) { return ts::sum(a); }},
      {"softmax", [](const Tensor& a, const Tensor&) { return ts::softmax(a, -1); }},
      {"to", [](const Tensor& a, const Tensor&) { return a.to(ts::kFloat32); }},
      {"index_select",
       [](const Tensor& a, const Tensor& b) {
         return a.index_select(0, b.to(ts::kInt64).flatten());
       }},
      {"mse", [](const Tensor& a, const Tensor& b) { return ts::mse_loss(a, b); }},
  };
  int64_t cases = 0, refusals = 0, results = 0;
  for (bool autocast : {false, true}) {
    ts::AutocastGuard guard(autocast);
    for (const auto& [name, f] : ops)
      for (const Tensor& a : pool)
        for (const Tensor& b : pool) {
          ++cases;
          try {
            Tensor r = f(a, b);
            ++results;
            if (r.defined() && r.requires_grad()) {
              Tensor s = r.dtype() == ts::kBFloat16 ? r.to(ts::kFloat32) : r;
              ts::sum(s).backward();
            }
          } catch (const ts::Error& e) {
            ++refusals;
          } catch (const std::exception& e) {
            FAIL_CHECK(name << " " << a.describe() << " " << b.describe() << ": " << e.what());
          }
        }
  }
  CHECK(cases > 3000);
  CHECK(results > 100);
  CHECK(refusals > 100);
}
