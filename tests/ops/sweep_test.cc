// Edge-case sweep of the ops: every op on every pair of a pool of awkward tensors (0-d, empty
// dims, size-1 dims, broadcastable and mismatched shapes, float32 / float64 / int64 / bool,
// transposed, expanded and strided views, with and without requires_grad), then backward through
// each result. A ts::Error is a correct answer to bad input; any other exception fails the test,
// and a crash fails the test program. (This sweep found a segfault in gather on 0-d tensors.)
#include <catch2/catch.hpp>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <taesan/taesan.h>

namespace ts = taesan;
using ts::Tensor;

namespace {

std::string describe_all(const std::vector<Tensor>& ts_) {
  std::string s;
  for (const Tensor& t : ts_) {
    s += " " + t.describe();
    if (t.defined() && !t.is_contiguous()) s += " (strided)";
    if (t.defined() && t.requires_grad()) s += " (grad)";
  }
  return s;
}

// Runs f; backward through a floating result that requires grad. Returns false (after reporting
// the case) when something other than a ts::Error was thrown.
bool survives(const std::string& what, const std::function<Tensor()>& f) {
  try {
    Tensor r = f();
    if (r.defined() && r.requires_grad() && ts::is_floating(r.dtype())) r.sum().backward();
  } catch (const ts::Error&) {
  } catch (const std::exception& e) {
    FAIL_CHECK(what << ": " << e.what());
    return false;
  }
  return true;
}

std::vector<Tensor> awkward_pool() {
  ts::manual_seed(1);
  const std::vector<ts::Shape> shapes = {{},        {0},       {1},       {3},
                                         {2, 3},    {3, 1},    {1, 3},    {0, 3},
                                         {2, 0, 3}, {2, 3, 4}, {4, 3, 2}, {1, 1, 1}};
  std::vector<Tensor> pool;
  for (const ts::Shape& s : shapes) {
    for (ts::DType dt : {ts::kFloat32, ts::kFloat64}) {
      pool.push_back(ts::randn(s, dt).requires_grad_());
      pool.push_back(ts::randn(s, dt));
    }
    pool.push_back(ts::randint(0, 3, s));
    pool.push_back(ts::randn(s) > 0.0);
  }
  pool.push_back(ts::randn({3, 2}, ts::kFloat64).requires_grad_().transpose(0, 1));
  pool.push_back(ts::randn({1, 3}).requires_grad_().expand({2, 3}));
  pool.push_back(ts::randn({2, 6, 4}).requires_grad_().slice(1, 0, 6, 2));
  return pool;
}

}  // namespace

TEST_CASE("every op answers awkward inputs with a result or a ts::Error", "[ops][sweep]") {
  const std::vector<Tensor> pool = awkward_pool();
  using Unary = std::function<Tensor(const Tensor&)>;
  const std::vector<std::pair<std::string, Unary>> unary = {
      {"neg", [](const Tensor& x) { return x.neg(); }},
      {"exp", [](const Tensor& x) { return x.exp(); }},
      {"log", [](const Tensor& x) { return x.log(); }},
      {"rsqrt", [](const Tensor& x) { return x.rsqrt(); }},
      {"erf", [](const Tensor& x) { return ts::erf(x); }},
      {"pow", [](const Tensor& x) { return ts::pow(x, 2.5); }},
      {"gelu", [](const Tensor& x) { return ts::gelu(x, "tanh"); }},
      {"silu", [](const Tensor& x) { return ts::silu(x); }},
      {"clamp", [](const Tensor& x) { return ts::clamp(x, 0.5, -0.5); }},
      {"sum", [](const Tensor& x) { return x.sum(-1, true); }},
      {"sum dims",
       [](const Tensor& x) {
         return x.sum(ts::Shape{0, 0});
       }},
      {"mean", [](const Tensor& x) { return x.mean(1); }},
      {"max", [](const Tensor& x) { return ts::max(x); }},
      {"argmax", [](const Tensor& x) { return ts::argmax(x, -1, true); }},
      {"logsumexp", [](const Tensor& x) { return ts::logsumexp(x, 0); }},
      {"var", [](const Tensor& x) { return ts::var(x, -1, 5); }},
      {"softmax", [](const Tensor& x) { return x.softmax(0); }},
      {"log_softmax", [](const Tensor& x) { return x.log_softmax(-1); }},
      {"reshape",
       [](const Tensor& x) {
         return x.reshape({3, -1});
       }},
      {"reshape 0",
       [](const Tensor& x) {
         return x.reshape({0, -1});
       }},
      {"view", [](const Tensor& x) { return x.view({-1}); }},
      {"flatten", [](const Tensor& x) { return x.flatten(1); }},
      {"permute",
       [](const Tensor& x) {
         return x.permute({0, 0});
       }},
      {"unsqueeze", [](const Tensor& x) { return x.unsqueeze(9); }},
      {"squeeze", [](const Tensor& x) { return x.squeeze(0); }},
      {"expand",
       [](const Tensor& x) {
         return x.expand({-1, -1});
       }},
      {"slice", [](const Tensor& x) { return x.slice(-1, -2, -1); }},
      {"slice step", [](const Tensor& x) { return x.slice(0, 0, 3, 2); }},
      {"split", [](const Tensor& x) { return ts::split(x, 2, 0).at(0); }},
      {"to", [](const Tensor& x) { return x.to(ts::kInt64); }},
      {"layer_norm", [](const Tensor& x) { return ts::layer_norm(x, {x.dim() ? x.size(-1) : 1}); }},
      {"rms_norm", [](const Tensor& x) { return ts::rms_norm(x, {x.dim() ? x.size(-1) : 1}); }},
      {"dropout", [](const Tensor& x) { return ts::dropout(x, 1.0); }},
      {"mse", [](const Tensor& x) { return ts::mse_loss(x, x.detach()); }},
  };
  int64_t cases = 0;
  for (const auto& [name, f] : unary)
    for (const Tensor& x : pool) {
      ++cases;
      if (!survives(name + describe_all({x}), [&] { return f(x); })) break;
    }
  using Binary = std::function<Tensor(const Tensor&, const Tensor&)>;
  const std::vector<std::pair<std::string, Binary>> binary = {
      {"add", [](const Tensor& a, const Tensor& b) { return a + b; }},
      {"div", [](const Tensor& a, const Tensor& b) { return a / b; }},
      {"maximum", [](const Tensor& a, const Tensor& b) { return ts::maximum(a, b); }},
      {"matmul", [](const Tensor& a, const Tensor& b) { return ts::matmul(a, b); }},
      {"linear", [](const Tensor& a, const Tensor& b) { return ts::linear(a, b); }},
      {"masked_fill", [](const Tensor& a, const Tensor& b) { return a.masked_fill(b, -1.0); }},
      {"where", [](const Tensor& a, const Tensor& b) { return ts::where(a, b, b); }},
      {"index_select", [](const Tensor& a, const Tensor& b) { return a.index_select(0, b); }},
      {"gather", [](const Tensor& a, const Tensor& b) { return a.gather(-1, b); }},
      {"cat",
       [](const Tensor& a, const Tensor& b) {
         return ts::cat({a, b}, -1);
       }},
      {"stack",
       [](const Tensor& a, const Tensor& b) {
         return ts::stack({a, b}, 0);
       }},
      {"embedding", [](const Tensor& a, const Tensor& b) { return ts::embedding(a, b, 1); }},
      {"cross_entropy", [](const Tensor& a, const Tensor& b) { return ts::cross_entropy(a, b); }},
      {"nll_loss", [](const Tensor& a, const Tensor& b) { return ts::nll_loss(a, b); }},
      {"bce",
       [](const Tensor& a, const Tensor& b) { return ts::binary_cross_entropy_with_logits(a, b); }},
      {"attention",
       [](const Tensor& a, const Tensor& b) {
         return ts::scaled_dot_product_attention(a, a, b, Tensor(), 0.0, true);
       }},
      {"layer_norm affine",
       [](const Tensor& a, const Tensor& b) {
         return ts::layer_norm(a, {a.dim() ? a.size(-1) : 1}, b, b);
       }},
      {"rms_norm weight",
       [](const Tensor& a, const Tensor& b) {
         return ts::rms_norm(a, {a.dim() ? a.size(-1) : 1}, b, 1e-6);
       }},
  };
  for (const auto& [name, f] : binary)
    for (const Tensor& a : pool)
      for (const Tensor& b : pool) {
        ++cases;
        if (!survives(name + describe_all({a, b}), [&] { return f(a, b); })) break;
      }
  CHECK(cases > 30000);
}
