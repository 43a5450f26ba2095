// The OpInfo table: every op of ops/op_list.h is gradchecked in float64 on plain, broadcast and
// non-contiguous (transposed, sliced) inputs; a subset is also gradgradchecked.
#include <catch2/catch.hpp>
#include <functional>
#include <limits>
#include <set>

#include "taesan/ops/op_list.h"
#include <taesan/taesan.h>

namespace ts = taesan;
using ts::Tensor;
using ts::TensorList;

namespace {

// A float64 leaf of the given shape, values ~ N(0, 1).
Tensor rnd(ts::Shape shape) { return ts::randn(shape, ts::kFloat64).requires_grad_(); }
// Positive values in [0.5, 1.5).
Tensor pos(ts::Shape shape) {
  return (ts::rand(shape, ts::kFloat64) + 0.5).detach().requires_grad_();
}
// A non-contiguous leaf: the transpose of a fresh (cols, rows) tensor.
Tensor transposed(int64_t rows, int64_t cols) {
  Tensor base = ts::randn({cols, rows}, ts::kFloat64);
  Tensor t = base.t();
  REQUIRE_FALSE(t.is_contiguous());
  return t.requires_grad_();
}
// A non-contiguous leaf: every other column of a (rows, 2*cols) tensor.
Tensor strided(int64_t rows, int64_t cols) {
  Tensor base = ts::randn({rows, 2 * cols}, ts::kFloat64);
  Tensor t = base.slice(1, 0, 2 * cols, 2);
  REQUIRE_FALSE(t.is_contiguous());
  return t.requires_grad_();
}
Tensor idx(std::vector<int64_t> v, ts::Shape shape = {}) {
  if (shape.empty()) shape = {static_cast<int64_t>(v.size())};
  return ts::from_vector<int64_t>(v, shape);
}

struct OpCase {
  std::string op;       // name in op_list.h
  std::string variant;  // what this case exercises
  std::function<Tensor(const TensorList&)> fn;
  std::function<TensorList()> make_inputs;
  bool gradgrad = false;
  ts::GradcheckOptions options{};
};

std::vector<OpCase> op_cases() {
  using L = const TensorList&;
  std::vector<OpCase> c;
  auto add = [&](std::string op, std::string v, std::function<Tensor(L)> fn,
                 std::function<TensorList()> in, bool gg = false) {
    c.push_back({std::move(op), std::move(v), std::move(fn), std::move(in), gg, {}});
  };
  // ---- shape ----
  add("reshape", "contiguous", [](L x) { return x[0].reshape({3, 4}); }, [] { return TensorList{rnd({2, 6})}; });
  add("reshape", "transposed", [](L x) { return x[0].reshape({-1}); }, [] { return TensorList{transposed(3, 4)}; });
  add("view", "plain", [](L x) { return x[0].view({4, 3}); }, [] { return TensorList{rnd({2, 6})}; });
  add("flatten", "strided", [](L x) { return x[0].flatten(); }, [] { return TensorList{strided(2, 3)}; });
  add("transpose", "3d", [](L x) { return x[0].transpose(0, 2) * 1.5; }, [] { return TensorList{rnd({2, 3, 2})}; });
  add("permute", "3d", [](L x) { return x[0].permute({1, 2, 0}).exp(); }, [] { return TensorList{rnd({2, 3, 2})}; });
  add("unsqueeze", "mid", [](L x) { return x[0].unsqueeze(1) * x[0].unsqueeze(0); }, [] { return TensorList{rnd({3})}; });
  add("squeeze", "all", [](L x) { return x[0].squeeze().tanh(); }, [] { return TensorList{rnd({1, 3, 1})}; });
  add("expand", "broadcast", [](L x) { return x[0].expand({2, 3, 4}) * ts::arange(4, ts::kFloat64); }, [] { return TensorList{rnd({3, 1})}; });
  add("slice", "step2", [](L x) { return x[0].slice(1, 1, 5, 2); }, [] { return TensorList{rnd({3, 5})}; });
  add("slice", "transposed", [](L x) { return x[0].slice(0, -2, 100); }, [] { return TensorList{transposed(4, 3)}; });
  add("index_select", "dim1_repeats", [](L x) { return x[0].index_select(1, idx({2, 0, 2})); }, [] { return TensorList{rnd({2, 3})}; });
  add("gather", "dim1", [](L x) { return x[0].gather(1, idx({0, 2, 2, 1}, {2, 2})); }, [] { return TensorList{rnd({2, 3})}; });
  add("gather", "0d", [](L x) { return x[0].gather(-1, ts::scalar_tensor(0, ts::kInt64)) * 3.0; }, [] { return TensorList{rnd({})}; });
  add("cat", "dim1", [](L x) { return ts::cat({x[0], x[1]}, 1); }, [] { return TensorList{rnd({2, 2}), transposed(2, 3)}; });
  add("stack", "dim0", [](L x) { return ts::stack({x[0], x[1]}, -1); }, [] { return TensorList{rnd({2, 3}), strided(2, 3)}; });
  add("split", "uneven", [](L x) { auto p = ts::split(x[0], 2, 1); return p[0] * 2.0 + p[1].sum() + p[2].sum(); }, [] { return TensorList{rnd({2, 5})}; });
  add("to", "f64_f32_f64", [](L x) { return x[0].to(ts::kFloat32).to(ts::kFloat64) * x[0]; }, [] { return TensorList{rnd({3})}; });
  c.back().options = {.eps = 1e-3, .atol = 1e-3, .rtol = 1e-3};  // the float32 step rounds the perturbation
  add("clone", "strided", [](L x) { return x[0].clone(); }, [] { return TensorList{strided(2, 2)}; });
  add("contiguous", "transposed", [](L x) { return x[0].contiguous(); }, [] { return TensorList{transposed(2, 3)}; });
  // ---- binary, with broadcasting and strided operands ----
  add("add", "broadcast", [](L x) { return x[0] + x[1]; }, [] { return TensorList{rnd({2, 3}), rnd({3})}; }, true);
  add("add", "transposed", [](L x) { return x[0] + x[1]; }, [] { return TensorList{transposed(2, 3), strided(2, 3)}; });
  add("sub", "broadcast", [](L x) { return x[0] - x[1]; }, [] { return TensorList{rnd({2, 1}), rnd({1, 3})}; }, true);
  add("mul", "broadcast", [](L x) { return x[0] * x[1]; }, [] { return TensorList{rnd({2, 3}), rnd({2, 1})}; }, true);
  add("mul", "same_tensor", [](L x) { return x[0] * x[0]; }, [] { return TensorList{strided(2, 2)}; }, true);
  add("div", "broadcast", [](L x) { return x[0] / x[1]; }, [] { return TensorList{rnd({2, 3}), pos({3})}; }, true);
  add("maximum", "broadcast", [](L x) { return ts::maximum(x[0], x[1]); }, [] { return TensorList{rnd({2, 3}), rnd({3})}; });
  add("minimum", "broadcast", [](L x) { return ts::minimum(x[0], x[1]); }, [] { return TensorList{rnd({2, 3}), rnd({2, 1})}; });
  add("add_scalar", "plain", [](L x) { return (x[0] + 2.0) * (3.0 + x[0]); }, [] { return TensorList{rnd({3})}; }, true);
  add("mul_scalar", "plain", [](L x) { return x[0] * -1.5 + 0.5 * x[0]; }, [] { return TensorList{rnd({3})}; });
  add("rsub_scalar", "plain", [](L x) { return 1.0 - x[0] * x[0]; }, [] { return TensorList{rnd({3})}; }, true);
  add("rdiv_scalar", "plain", [](L x) { return 2.0 / x[0]; }, [] { return TensorList{pos({3})}; }, true);
  // ---- unary ----
  add("neg", "strided", [](L x) { return -x[0]; }, [] { return TensorList{strided(2, 3)}; });
  add("exp", "transposed", [](L x) { return x[0].exp(); }, [] { return TensorList{transposed(2, 3)}; }, true);
  add("log", "plain", [](L x) { return x[0].log(); }, [] { return TensorList{pos({2, 3})}; }, true);
  add("sqrt", "plain", [](L x) { return x[0].sqrt(); }, [] { return TensorList{pos({4})}; }, true);
  add("rsqrt", "plain", [](L x) { return x[0].rsqrt(); }, [] { return TensorList{pos({4})}; }, true);
  add("abs", "plain", [](L x) { return x[0].abs(); }, [] { return TensorList{rnd({5})}; });
  add("square", "plain", [](L x) { return ts::square(x[0]); }, [] { return TensorList{strided(2, 2)}; }, true);
  add("erf", "plain", [](L x) { return ts::erf(x[0]); }, [] { return TensorList{rnd({5})}; }, true);
  add("pow", "fractional", [](L x) { return x[0].pow(2.5); }, [] { return TensorList{pos({4})}; }, true);
  add("pow", "negative", [](L x) { return x[0].pow(-2.0); }, [] { return TensorList{pos({4})}; });
  add("tanh", "transposed", [](L x) { return x[0].tanh(); }, [] { return TensorList{transposed(3, 2)}; }, true);
  add("sigmoid", "plain", [](L x) { return x[0].sigmoid(); }, [] { return TensorList{rnd({2, 3})}; }, true);
  add("relu", "plain", [](L x) { return x[0].relu(); }, [] { return TensorList{rnd({6})}; });
  add("gelu", "exact", [](L x) { return ts::gelu(x[0]); }, [] { return TensorList{rnd({2, 3})}; }, true);
  add("gelu_tanh", "tanh", [](L x) { return ts::gelu(x[0], "tanh"); }, [] { return TensorList{strided(2, 3)}; }, true);
  add("silu", "plain", [](L x) { return ts::silu(x[0]); }, [] { return TensorList{rnd({5})}; }, true);
  add("clamp", "plain", [](L x) { return x[0].clamp(-0.5, 0.7); }, [] { return TensorList{rnd({8})}; });
  add("masked_fill", "broadcast_mask", [](L x) {
        return x[0].masked_fill(ts::from_vector<bool>({true, false, true}, {1, 3}), -2.0); },
      [] { return TensorList{rnd({2, 3})}; });
  add("where", "broadcast", [](L x) {
        return ts::where(ts::from_vector<bool>({true, false, false}, {3}), x[0], x[1]); },
      [] { return TensorList{rnd({2, 3}), rnd({2, 1})}; });
  // ---- reductions ----
  add("sum", "all", [](L x) { return x[0].sum(); }, [] { return TensorList{transposed(2, 3)}; }, true);
  add("sum", "dims_keepdim", [](L x) { return x[0].sum({0, 2}, true); }, [] { return TensorList{rnd({2, 3, 2})}; });
  add("sum", "non_block_dims", [](L x) { return ts::sum(x[0], {0, 2}) * 2.0; }, [] { return TensorList{rnd({2, 2, 3})}; });
  add("mean", "dim", [](L x) { return x[0].mean(1); }, [] { return TensorList{strided(2, 3)}; }, true);
  add("max", "dim", [](L x) { return x[0].max(1).first; }, [] { return TensorList{rnd({3, 4})}; });
  add("max", "all", [](L x) { return x[0].max(); }, [] { return TensorList{rnd({3, 4})}; });
  add("logsumexp", "dim0", [](L x) { return ts::logsumexp(x[0], 0); }, [] { return TensorList{rnd({3, 2})}; }, true);
  add("var", "unbiased", [](L x) { return ts::var(x[0], 1); }, [] { return TensorList{rnd({2, 4})}; }, true);
  // ---- linear algebra ----
  add("matmul", "2d", [](L x) { return x[0].matmul(x[1]); }, [] { return TensorList{rnd({2, 3}), rnd({3, 2})}; }, true);
  add("matmul", "transposed_operands", [](L x) { return x[0].matmul(x[1]); }, [] { return TensorList{transposed(2, 3), transposed(3, 2)}; }, true);
  add("matmul", "batched_broadcast", [](L x) { return x[0].matmul(x[1]); }, [] { return TensorList{rnd({2, 1, 2, 3}), rnd({3, 3, 2})}; });
  add("matmul", "nd_by_2d", [](L x) { return x[0].matmul(x[1]); }, [] { return TensorList{rnd({2, 2, 3}), rnd({3, 2})}; });
  add("matmul", "vector_cases", [](L x) { return x[0].matmul(x[1]).sum() + x[1].matmul(x[0].reshape({3})).sum(); },
      [] { return TensorList{rnd({3}), rnd({3, 3})}; });
  add("linear", "bias", [](L x) { return ts::linear(x[0], x[1], x[2]); }, [] { return TensorList{rnd({2, 2, 3}), rnd({4, 3}), rnd({4})}; }, true);
  add("feed_forward", "gelu_bias", [](L x) { return ts::feed_forward(x[0], x[1], x[2], x[3], x[4], "gelu"); },
      [] { return TensorList{rnd({2, 2, 3}), rnd({4, 3}), rnd({4}), rnd({2, 4}), rnd({2})}; }, true);
  add("feed_forward", "gelu_tanh_noncontiguous", [](L x) { return ts::feed_forward(x[0], x[1], x[2], x[3], Tensor(), "gelu_tanh"); },
      [] { return TensorList{strided(3, 3), transposed(4, 3), rnd({4}), transposed(2, 4)}; }, true);
  add("feed_forward", "relu_no_bias", [](L x) { return ts::feed_forward(x[0], x[1], Tensor(), x[2], Tensor(), "relu"); },
      [] { return TensorList{rnd({3}), rnd({5, 3}), rnd({3, 5})}; });
  // ---- neural ----
  add("softmax", "last", [](L x) { return x[0].softmax(-1); }, [] { return TensorList{rnd({2, 4})}; }, true);
  add("softmax", "dim0_transposed", [](L x) { return x[0].softmax(0); }, [] { return TensorList{transposed(3, 2)}; }, true);
  add("log_softmax", "dim1", [](L x) { return x[0].log_softmax(1); }, [] { return TensorList{rnd({2, 3, 2})}; }, true);
  add("layer_norm", "affine", [](L x) { return ts::layer_norm(x[0], {3}, x[1], x[2]); },
      [] { return TensorList{rnd({2, 3}), rnd({3}), rnd({3})}; }, true);
  add("layer_norm", "no_affine_2d", [](L x) { return ts::layer_norm(x[0], {2, 2}); }, [] { return TensorList{rnd({2, 2, 2})}; }, true);
  add("layer_norm", "strided", [](L x) { return ts::layer_norm(x[0], {3}, x[1], Tensor()); },
      [] { return TensorList{strided(2, 3), rnd({3})}; });
  add("dropout", "p03", [](L x) { ts::manual_seed(7); return ts::dropout(x[0], 0.3, true); }, [] { return TensorList{rnd({3, 4})}; });
  add("embedding", "padding", [](L x) { return ts::embedding(x[0], idx({0, 2, 2, 0}, {2, 2}), 1); }, [] { return TensorList{rnd({3, 2})}; });
  // ---- losses ----
  add("cross_entropy", "mean", [](L x) { return ts::cross_entropy(x[0], idx({0, 2, 1})); }, [] { return TensorList{rnd({3, 4})}; }, true);
  add("cross_entropy", "ignore_smooth_sum", [](L x) {
        return ts::cross_entropy(x[0], idx({0, -100, 3}), {.label_smoothing = 0.2, .reduction = ts::Reduction::Sum}); },
      [] { return TensorList{transposed(3, 4)}; });
  add("cross_entropy", "spatial_none", [](L x) {
        return ts::cross_entropy(x[0], idx({0, 2, 1, 1}, {2, 2}), {.reduction = ts::Reduction::None}); },
      [] { return TensorList{rnd({2, 3, 2})}; });
  add("cross_entropy", "probabilities", [](L x) { return ts::cross_entropy(x[0], x[1].softmax(-1)); },
      [] { return TensorList{rnd({2, 3}), rnd({2, 3})}; });
  add("nll_loss", "ignore", [](L x) { return ts::nll_loss(x[0].log_softmax(1), idx({1, -100, 0})); }, [] { return TensorList{rnd({3, 3})}; });
  add("mse_loss", "broadcast", [](L x) { return ts::mse_loss(x[0], x[1]); }, [] { return TensorList{rnd({2, 3}), rnd({3})}; }, true);
  add("binary_cross_entropy_with_logits", "sum", [](L x) {
        return ts::binary_cross_entropy_with_logits(x[0], x[1].sigmoid(), ts::Reduction::Sum); },
      [] { return TensorList{rnd({2, 3}), rnd({2, 3})}; });
  // ---- attention: both backends, each kind of mask ----
  using ts::AttentionBackend;
  for (AttentionBackend be : {AttentionBackend::Reference, AttentionBackend::Fused}) {
    std::string tag = be == AttentionBackend::Fused ? "fused" : "reference";
    add("scaled_dot_product_attention", tag + "_plain", [be](L x) {
          return ts::scaled_dot_product_attention(x[0], x[1], x[2], Tensor(), 0.0, false, std::nullopt, be); },
        [] { return TensorList{rnd({1, 2, 3, 2}), rnd({1, 2, 4, 2}), rnd({1, 2, 4, 3})}; }, true);
    add("scaled_dot_product_attention", tag + "_causal_3d", [be](L x) {
          return ts::scaled_dot_product_attention(x[0], x[1], x[2], Tensor(), 0.0, true, 0.7, be); },
        [] { return TensorList{rnd({2, 3, 2}), rnd({2, 3, 2}), rnd({2, 3, 2})}; });
    add("scaled_dot_product_attention", tag + "_bool_padding_mask", [be](L x) {
          // key padding: batch 0 sees keys 0..2, batch 1 sees keys 0..1; row broadcast over heads/queries
          Tensor m = ts::from_vector<bool>({true, true, true, false, true, true, false, false}, {2, 1, 1, 4});
          return ts::scaled_dot_product_attention(x[0], x[1], x[2], m, 0.0, false, std::nullopt, be); },
        [] { return TensorList{rnd({2, 1, 2, 3}), rnd({2, 1, 4, 3}), rnd({2, 1, 4, 2})}; });
    add("scaled_dot_product_attention", tag + "_token_major_head_views", [be](L x) {
          // The heads of (B, T, H * d) projections, as multi-head attention passes them: the
          // fused kernel reads them in place and returns a token-major output.
          auto heads = [](const Tensor& t) { return ts::transpose(ts::reshape(t, {2, 3, 2, 2}), 1, 2); };
          Tensor o = ts::scaled_dot_product_attention(heads(x[0]), heads(x[1]), heads(x[2]), Tensor(), 0.0,
                                                      true, std::nullopt, be);
          return ts::reshape(ts::transpose(o, 1, 2), {2, 3, 4}); },
        [] { return TensorList{rnd({2, 3, 4}), rnd({2, 3, 4}), rnd({2, 3, 4})}; }, true);
    add("scaled_dot_product_attention", tag + "_float_mask_fully_masked_row", [be](L x) {
          const double inf = std::numeric_limits<double>::infinity();
          Tensor m = ts::from_vector<double>({0, -1, 0.5, -inf, -inf, -inf}, {2, 3});  // row 1 masked
          return ts::scaled_dot_product_attention(x[0], x[1], x[2], m, 0.0, false, std::nullopt, be); },
        [] { return TensorList{rnd({1, 1, 2, 2}), transposed(3, 2).unsqueeze(0).unsqueeze(0).detach().requires_grad_(), rnd({1, 1, 3, 2})}; });
  }
  return c;
}

}  // namespace

static_assert(ts::ops::kNumOps == 63, "an op was added to ops/op_list.h: add its gradcheck case here");

TEST_CASE("the OpInfo table covers every op of the op list", "[gradcheck]") {
  std::set<std::string> covered;
  for (const OpCase& c : op_cases()) covered.insert(c.op);
  for (const char* name : ts::ops::kOpNames) CHECK(covered.count(name) == 1);
  for (const std::string& name : covered) {
    bool listed = false;
    for (const char* n : ts::ops::kOpNames) listed = listed || name == n;
    CHECK(listed);
  }
}

TEST_CASE("gradcheck in float64 for every op", "[gradcheck]") {
  ts::manual_seed(1234);
  for (const OpCase& c : op_cases()) {
    INFO(c.op << " / " << c.variant);
    TensorList inputs = c.make_inputs();
    ts::GradcheckResult r = ts::gradcheck(c.fn, inputs, c.options);
    INFO(r.report);
    CHECK(r.ok);
  }
}

TEST_CASE("gradgradcheck in float64 for the differentiable-twice set", "[gradcheck]") {
  ts::manual_seed(4321);
  int checked = 0;
  for (const OpCase& c : op_cases()) {
    if (!c.gradgrad) continue;
    INFO(c.op << " / " << c.variant);
    TensorList inputs = c.make_inputs();
    ts::GradcheckResult r = ts::gradgradcheck(c.fn, inputs, {.eps = 1e-6, .atol = 1e-5, .rtol = 1e-3});
    INFO(r.report);
    CHECK(r.ok);
    ++checked;
  }
  CHECK(checked >= 30);
}
