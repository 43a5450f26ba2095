// Forward values and input gradients of the ops compared with PyTorch on fixed inputs.
// The fixtures (tests/fixtures/ops/ops_fixtures.txt) are written by gen_ops_fixtures.py beside
// them; every case there is mirrored here by a lambda of the same name, in float64 (rtol 1e-10)
// and float32 (rtol 1e-5). Torch is needed only to regenerate the fixtures, not to run this.
#include <fmt/format.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "fixtures/fixture_reader.h"
#include "taesan/taesan.h"

namespace ts = taesan;

namespace {

// ---- the fixture file (its reader is shared with the other parity tests) ----

using ts::fixtures::compare;
using ts::fixtures::FixtureCase;
using ts::fixtures::Fixtures;
using ts::fixtures::float_dtype;
using ts::fixtures::make_tensor;
using ts::fixtures::Record;

const Fixtures& fixtures() {
  static const Fixtures f =
      ts::fixtures::parse_fixtures(std::string(TS_TEST_DIR) + "/fixtures/ops/ops_fixtures.txt");
  return f;
}

// ---- the C++ side of every case ----

/// The inputs of one case by name.
class Inputs {
 public:
  explicit Inputs(std::map<std::string, ts::Tensor> m) : m_(std::move(m)) {}
  const ts::Tensor& operator()(const std::string& name) const {
    auto it = m_.find(name);
    if (it == m_.end())
      throw ts::Error(fmt::format("torch parity: the case has no input '{}'", name));
    return it->second;
  }

 private:
  std::map<std::string, ts::Tensor> m_;
};

using CaseFn = std::function<ts::TensorList(const Inputs&)>;
struct ParityCase {
  std::string name;
  CaseFn fn;
};
using Table = std::vector<ParityCase>;

ts::TensorList pair_list(const std::pair<ts::Tensor, ts::Tensor>& p) { return {p.first, p.second}; }

const Table& elementwise_cases() {
  static const Table t = {
      {"add_broadcast", [](const Inputs& in) -> ts::TensorList { return {in("a") + in("b")}; }},
      {"sub_broadcast", [](const Inputs& in) -> ts::TensorList { return {in("a") - in("b")}; }},
      {"mul_broadcast", [](const Inputs& in) -> ts::TensorList { return {in("a") * in("b")}; }},
      {"div_broadcast", [](const Inputs& in) -> ts::TensorList { return {in("a") / in("b")}; }},
      {"div_broadcast_lhs",
       [](const Inputs& in) -> ts::TensorList { return {ts::div(in("a"), in("b"))}; }},
      {"scalar_operators",
       [](const Inputs& in) -> ts::TensorList {
         const ts::Tensor& a = in("a");
         return {a * 2.5 + 1.5 - 3.0 / (a * a + 1.0) + (1.0 - a) / 4.0 - (-a) * 0.5 + 2.0 * a -
                 0.25};
       }},
      {"add_noncontiguous",
       [](const Inputs& in) -> ts::TensorList {
         return {in("a").t() + in("b").slice(1, 0, 8, 2)};
       }},
      {"mul_expanded",
       [](const Inputs& in) -> ts::TensorList {
         return {in("a").expand({3, 4}) * in("b").t()};
       }},
      {"maximum",
       [](const Inputs& in) -> ts::TensorList { return {ts::maximum(in("a"), in("b"))}; }},
      {"minimum",
       [](const Inputs& in) -> ts::TensorList { return {ts::minimum(in("a"), in("b"))}; }},
      {"neg", [](const Inputs& in) -> ts::TensorList { return {-in("x")}; }},
      {"exp", [](const Inputs& in) -> ts::TensorList { return {ts::exp(in("x"))}; }},
      {"exp_transposed", [](const Inputs& in) -> ts::TensorList { return {in("x").t().exp()}; }},
      {"log", [](const Inputs& in) -> ts::TensorList { return {ts::log(in("x"))}; }},
      {"sqrt", [](const Inputs& in) -> ts::TensorList { return {ts::sqrt(in("x"))}; }},
      {"rsqrt", [](const Inputs& in) -> ts::TensorList { return {ts::rsqrt(in("x"))}; }},
      {"abs", [](const Inputs& in) -> ts::TensorList { return {ts::abs(in("x"))}; }},
      {"square", [](const Inputs& in) -> ts::TensorList { return {ts::square(in("x"))}; }},
      {"erf", [](const Inputs& in) -> ts::TensorList { return {ts::erf(in("x"))}; }},
      {"pow_int", [](const Inputs& in) -> ts::TensorList { return {ts::pow(in("x"), 3.0)}; }},
      {"pow_frac", [](const Inputs& in) -> ts::TensorList { return {in("x").pow(2.5)}; }},
      {"pow_negative", [](const Inputs& in) -> ts::TensorList { return {ts::pow(in("x"), -1.5)}; }},
      {"tanh", [](const Inputs& in) -> ts::TensorList { return {ts::tanh(in("x"))}; }},
      {"sigmoid", [](const Inputs& in) -> ts::TensorList { return {ts::sigmoid(in("x"))}; }},
      {"sigmoid_permuted",
       [](const Inputs& in) -> ts::TensorList {
         return {ts::sigmoid(in("x").permute({2, 0, 1}))};
       }},
      {"relu", [](const Inputs& in) -> ts::TensorList { return {ts::relu(in("x"))}; }},
      {"relu_sliced",
       [](const Inputs& in) -> ts::TensorList {
         return {in("x").slice(0, 1, 4).slice(1, 0, 6, 2).relu()};
       }},
      {"gelu", [](const Inputs& in) -> ts::TensorList { return {ts::gelu(in("x"))}; }},
      {"gelu_tanh", [](const Inputs& in) -> ts::TensorList { return {ts::gelu(in("x"), "tanh")}; }},
      {"gelu_transposed",
       [](const Inputs& in) -> ts::TensorList { return {ts::gelu(in("x").t())}; }},
      {"silu", [](const Inputs& in) -> ts::TensorList { return {ts::silu(in("x"))}; }},
      {"clamp", [](const Inputs& in) -> ts::TensorList { return {ts::clamp(in("x"), -0.5, 0.7)}; }},
      {"masked_fill",
       [](const Inputs& in) -> ts::TensorList { return {in("x").masked_fill(in("mask"), -1.5)}; }},
      {"masked_fill_full_mask",
       [](const Inputs& in) -> ts::TensorList {
         return {ts::masked_fill(in("x"), in("mask"), 2.0)};
       }},
      {"where",
       [](const Inputs& in) -> ts::TensorList {
         return {ts::where(in("cond"), in("a"), in("b"))};
       }},
      {"exp_wide", [](const Inputs& in) -> ts::TensorList { return {ts::exp(in("x"))}; }},
      {"log_wide", [](const Inputs& in) -> ts::TensorList { return {ts::log(in("x"))}; }},
      {"tanh_wide", [](const Inputs& in) -> ts::TensorList { return {ts::tanh(in("x"))}; }},
      {"sigmoid_wide", [](const Inputs& in) -> ts::TensorList { return {ts::sigmoid(in("x"))}; }},
      {"gelu_wide", [](const Inputs& in) -> ts::TensorList { return {ts::gelu(in("x"), "none")}; }},
      {"gelu_tanh_wide",
       [](const Inputs& in) -> ts::TensorList { return {ts::gelu(in("x"), "tanh")}; }},
      {"silu_wide", [](const Inputs& in) -> ts::TensorList { return {ts::silu(in("x"))}; }},
      {"erf_wide", [](const Inputs& in) -> ts::TensorList { return {ts::erf(in("x"))}; }},
      {"mul_wide_broadcast",
       [](const Inputs& in) -> ts::TensorList { return {ts::mul(in("a"), in("b"))}; }},
  };
  return t;
}

const Table& reduction_cases() {
  static const Table t = {
      {"sum_all", [](const Inputs& in) -> ts::TensorList { return {in("x").sum()}; }},
      {"sum_dims_keepdim",
       [](const Inputs& in) -> ts::TensorList {
         return {ts::sum(in("x"), {0, 2}, true)};
       }},
      {"sum_last_dim", [](const Inputs& in) -> ts::TensorList { return {in("x").sum(-1)}; }},
      {"sum_transposed", [](const Inputs& in) -> ts::TensorList { return {in("x").t().sum(1)}; }},
      {"mean_all", [](const Inputs& in) -> ts::TensorList { return {ts::mean(in("x"))}; }},
      {"mean_dims",
       [](const Inputs& in) -> ts::TensorList {
         return {in("x").mean(ts::Shape{1, 2})};
       }},
      {"mean_dim_keepdim",
       [](const Inputs& in) -> ts::TensorList { return {ts::mean(in("x"), 0, true)}; }},
      {"var_dim", [](const Inputs& in) -> ts::TensorList { return {ts::var(in("x"), 1)}; }},
      {"var_dims_keepdim_biased",
       [](const Inputs& in) -> ts::TensorList {
         return {ts::var(in("x"), {0, 2}, 0, true)};
       }},
      {"max_dim",
       [](const Inputs& in) -> ts::TensorList { return pair_list(ts::max(in("x"), 1)); }},
      {"max_dim_keepdim",
       [](const Inputs& in) -> ts::TensorList { return pair_list(in("x").max(0, true)); }},
      {"max_all", [](const Inputs& in) -> ts::TensorList { return {in("x").max()}; }},
      {"argmax",
       [](const Inputs& in) -> ts::TensorList {
         return {ts::argmax(in("x"), 0), in("x").argmax(1, true)};
       }},
      {"logsumexp", [](const Inputs& in) -> ts::TensorList { return {ts::logsumexp(in("x"), 1)}; }},
      {"logsumexp_keepdim",
       [](const Inputs& in) -> ts::TensorList { return {ts::logsumexp(in("x"), 0, true)}; }},
      {"logsumexp_transposed",
       [](const Inputs& in) -> ts::TensorList { return {ts::logsumexp(in("x").t(), -1)}; }},
      {"sum_wide", [](const Inputs& in) -> ts::TensorList { return {ts::sum(in("x"), 1)}; }},
      {"var_wide", [](const Inputs& in) -> ts::TensorList { return {ts::var(in("x"), 1)}; }},
      {"max_wide",
       [](const Inputs& in) -> ts::TensorList { return pair_list(ts::max(in("x"), 1)); }},
      {"logsumexp_wide",
       [](const Inputs& in) -> ts::TensorList { return {ts::logsumexp(in("x"), 1)}; }},
  };
  return t;
}

const Table& shape_cases() {
  static const Table t = {
      {"view_chain",
       [](const Inputs& in) -> ts::TensorList {
         return {in("x").permute({2, 0, 1}).reshape({4, 6}).unsqueeze(1).expand({4, 3, 6})};
       }},
      {"flatten_squeeze",
       [](const Inputs& in) -> ts::TensorList {
         return {in("x").squeeze(1).flatten().unsqueeze(0).transpose(0, 1).squeeze()};
       }},
      {"slice_steps",
       [](const Inputs& in) -> ts::TensorList {
         const ts::Tensor& x = in("x");
         return {x.slice(0, 1, 5, 2).slice(1, -4, 6) * ts::slice(ts::slice(x, 0, 0, 2), 1, 1, -1)};
       }},
      {"index_select_dim0",
       [](const Inputs& in) -> ts::TensorList {
         return {ts::index_select(in("x"), 0, in("index"))};
       }},
      {"index_select_dim1",
       [](const Inputs& in) -> ts::TensorList { return {in("x").index_select(1, in("index"))}; }},
      {"gather_dim1",
       [](const Inputs& in) -> ts::TensorList { return {ts::gather(in("x"), 1, in("index"))}; }},
      {"gather_dim0",
       [](const Inputs& in) -> ts::TensorList { return {in("x").gather(0, in("index"))}; }},
      {"cat_dim1",
       [](const Inputs& in) -> ts::TensorList {
         return {ts::cat({in("a"), in("b"), in("c")}, 1)};
       }},
      {"cat_dim0_noncontiguous",
       [](const Inputs& in) -> ts::TensorList {
         return {ts::cat({in("a"), in("b").t()}, 0)};
       }},
      {"stack_dim1",
       [](const Inputs& in) -> ts::TensorList {
         return {ts::stack({in("a"), in("b"), in("c")}, 1)};
       }},
      {"stack_last",
       [](const Inputs& in) -> ts::TensorList {
         return {ts::stack({in("a"), in("b")}, -1)};
       }},
      {"split", [](const Inputs& in) -> ts::TensorList { return ts::split(in("x"), 2, 0); }},
  };
  return t;
}

ts::TensorList matmul_ab(const Inputs& in) { return {ts::matmul(in("a"), in("b"))}; }

const Table& linalg_cases() {
  static const Table t = {
      {"matmul_2d", matmul_ab},
      {"matmul_odd_sizes", matmul_ab},
      {"matmul_batched",
       [](const Inputs& in) -> ts::TensorList { return {in("a").matmul(in("b"))}; }},
      {"matmul_batch_broadcast", matmul_ab},
      {"matmul_batch_broadcast_2d", matmul_ab},
      {"matmul_1d_1d", matmul_ab},
      {"matmul_1d_2d", matmul_ab},
      {"matmul_2d_1d", matmul_ab},
      {"matmul_3d_1d", matmul_ab},
      {"matmul_1d_3d", matmul_ab},
      {"matmul_transposed",
       [](const Inputs& in) -> ts::TensorList { return {ts::matmul(in("a").t(), in("b").t())}; }},
      {"matmul_batch_transposed",
       [](const Inputs& in) -> ts::TensorList {
         return {ts::matmul(in("a").transpose(1, 2), in("b"))};
       }},
      {"linear_bias",
       [](const Inputs& in) -> ts::TensorList { return {ts::linear(in("x"), in("w"), in("b"))}; }},
      {"linear_no_bias",
       [](const Inputs& in) -> ts::TensorList { return {ts::linear(in("x"), in("w"))}; }},
      {"linear_1d_input",
       [](const Inputs& in) -> ts::TensorList { return {ts::linear(in("x"), in("w"), in("b"))}; }},
  };
  return t;
}

const Table& nn_cases() {
  static const Table t = {
      {"softmax_last",
       [](const Inputs& in) -> ts::TensorList { return {ts::softmax(in("x"), -1)}; }},
      {"softmax_dim1", [](const Inputs& in) -> ts::TensorList { return {in("x").softmax(1)}; }},
      {"softmax_sliced",
       [](const Inputs& in) -> ts::TensorList {
         return {ts::softmax(in("x").slice(1, 1, 5), -1)};
       }},
      {"log_softmax_last",
       [](const Inputs& in) -> ts::TensorList { return {ts::log_softmax(in("x"), -1)}; }},
      {"log_softmax_dim1",
       [](const Inputs& in) -> ts::TensorList { return {in("x").log_softmax(1)}; }},
      {"log_softmax_dim0_transposed",
       [](const Inputs& in) -> ts::TensorList { return {ts::log_softmax(in("x").t(), 0)}; }},
      {"layer_norm_affine",
       [](const Inputs& in) -> ts::TensorList {
         return {ts::layer_norm(in("x"), {5}, in("w"), in("b"))};
       }},
      {"layer_norm_2d_shape",
       [](const Inputs& in) -> ts::TensorList {
         return {ts::layer_norm(in("x"), {3, 4}, in("w"), in("b"), 1e-3)};
       }},
      {"layer_norm_plain",
       [](const Inputs& in) -> ts::TensorList { return {ts::layer_norm(in("x"), {6})}; }},
      {"layer_norm_weight_only",
       [](const Inputs& in) -> ts::TensorList { return {ts::layer_norm(in("x"), {4}, in("w"))}; }},
      {"layer_norm_transposed",
       [](const Inputs& in) -> ts::TensorList {
         return {ts::layer_norm(in("x").t(), {5}, in("w"), in("b"))};
       }},
      {"rms_norm_weight",
       [](const Inputs& in) -> ts::TensorList {
         return {ts::rms_norm(in("x"), {5}, in("w"), 1e-6)};
       }},
      {"rms_norm_2d_shape",
       [](const Inputs& in) -> ts::TensorList {
         return {ts::rms_norm(in("x"), {3, 4}, in("w"), 1e-5)};
       }},
      {"rms_norm_plain",
       [](const Inputs& in) -> ts::TensorList {
         return {ts::rms_norm(in("x"), {6}, ts::Tensor(), 1e-6)};
       }},
      {"rms_norm_large_eps",
       [](const Inputs& in) -> ts::TensorList {
         return {ts::rms_norm(in("x"), {4}, in("w"), 0.5)};
       }},
      {"rms_norm_transposed",
       [](const Inputs& in) -> ts::TensorList {
         return {ts::rms_norm(in("x").t(), {5}, in("w"), 1e-6)};
       }},
      {"embedding",
       [](const Inputs& in) -> ts::TensorList { return {ts::embedding(in("w"), in("idx"))}; }},
      {"embedding_padding",
       [](const Inputs& in) -> ts::TensorList { return {ts::embedding(in("w"), in("idx"), 1)}; }},
      {"softmax_wide",
       [](const Inputs& in) -> ts::TensorList { return {ts::softmax(in("x"), 1)}; }},
      {"log_softmax_wide",
       [](const Inputs& in) -> ts::TensorList { return {ts::log_softmax(in("x"), 1)}; }},
      {"layer_norm_wide",
       [](const Inputs& in) -> ts::TensorList {
         return {ts::layer_norm(in("x"), {21}, in("w"), in("b"))};
       }},
      {"rms_norm_wide",
       [](const Inputs& in) -> ts::TensorList {
         return {ts::rms_norm(in("x"), {21}, in("w"), 1e-5)};
       }},
  };
  return t;
}

CaseFn ce(ts::CrossEntropyOptions o) {
  return
      [o](const Inputs& in) -> ts::TensorList { return {ts::cross_entropy(in("x"), in("t"), o)}; };
}
CaseFn nll(ts::CrossEntropyOptions o) {
  return [o](const Inputs& in) -> ts::TensorList { return {ts::nll_loss(in("x"), in("t"), o)}; };
}
CaseFn mse(ts::Reduction r) {
  return [r](const Inputs& in) -> ts::TensorList { return {ts::mse_loss(in("a"), in("b"), r)}; };
}
CaseFn bce(ts::Reduction r) {
  return [r](const Inputs& in) -> ts::TensorList {
    return {ts::binary_cross_entropy_with_logits(in("x"), in("y"), r)};
  };
}

const Table& loss_cases() {
  using ts::Reduction;
  static const Table t = {
      {"cross_entropy_mean", ce({})},
      {"cross_entropy_sum", ce({.reduction = Reduction::Sum})},
      {"cross_entropy_none", ce({.reduction = Reduction::None})},
      {"cross_entropy_ignore", ce({})},
      {"cross_entropy_ignore_custom", ce({.ignore_index = 2, .reduction = Reduction::None})},
      {"cross_entropy_smoothing", ce({.label_smoothing = 0.1})},
      {"cross_entropy_smoothing_ignore_mean", ce({.ignore_index = 3, .label_smoothing = 0.2})},
      {"cross_entropy_smoothing_ignore_sum",
       ce({.label_smoothing = 0.2, .reduction = Reduction::Sum})},
      {"cross_entropy_smoothing_ignore_none",
       ce({.label_smoothing = 0.3, .reduction = Reduction::None})},
      {"cross_entropy_spatial_mean", ce({})},
      {"cross_entropy_spatial_none", ce({.reduction = Reduction::None})},
      {"cross_entropy_spatial_smoothing_sum",
       ce({.label_smoothing = 0.1, .reduction = Reduction::Sum})},
      {"cross_entropy_unbatched", ce({})},
      {"cross_entropy_probabilities",
       [](const Inputs& in) -> ts::TensorList { return {ts::cross_entropy(in("x"), in("p"))}; }},
      {"cross_entropy_probabilities_smoothing",
       [](const Inputs& in) -> ts::TensorList {
         return {ts::cross_entropy(in("x"), in("p"),
                                   {.label_smoothing = 0.1, .reduction = Reduction::Sum})};
       }},
      {"nll_loss_mean", nll({})},
      {"nll_loss_ignore_sum", nll({.reduction = Reduction::Sum})},
      {"nll_loss_ignore_custom_mean", nll({.ignore_index = 4})},
      {"nll_loss_spatial_none", nll({.reduction = Reduction::None})},
      {"nll_loss_of_log_softmax",
       [](const Inputs& in) -> ts::TensorList {
         return {ts::nll_loss(ts::log_softmax(in("x"), 1), in("t"))};
       }},
      {"mse_loss_mean", mse(Reduction::Mean)},
      {"mse_loss_sum", mse(Reduction::Sum)},
      {"mse_loss_none", mse(Reduction::None)},
      {"bce_with_logits_mean", bce(Reduction::Mean)},
      {"bce_with_logits_sum", bce(Reduction::Sum)},
      {"bce_with_logits_none", bce(Reduction::None)},
      {"cross_entropy_wide", ce({.label_smoothing = 0.1})},
  };
  return t;
}

/// Runs one case in one dtype: forward values, then input gradients twice (plain backward and
/// create_graph = true, which runs the composed backward formulas instead of fused kernels).
void run_case(const ParityCase& pc, const FixtureCase& fc) {
  const ts::DType ft = float_dtype(fc.dtype);
  INFO("case " << fc.name << " " << fc.dtype);
  std::map<std::string, ts::Tensor> named;
  ts::TensorList params;
  for (const Record& r : fc.params) {
    ts::Tensor t = make_tensor(r, ft);
    t.requires_grad_(true);
    named[r.name] = t;
    params.push_back(t);
  }
  for (const Record& r : fc.inputs) named[r.name] = make_tensor(r, ft);
  const Inputs in(named);

  ts::TensorList outs = pc.fn(in);
  REQUIRE(outs.size() == fc.outputs.size());
  for (size_t i = 0; i < outs.size(); ++i) {
    const std::string msg = compare(fmt::format("output {}", i), outs[i], fc.outputs[i], ft);
    INFO(msg);
    CHECK(msg.empty());
  }
  if (fc.grads.empty()) return;

  for (bool create_graph : {false, true}) {
    ts::TensorList fresh = pc.fn(in);  // the first graph is freed by the first backward
    ts::TensorList roots, grad_roots;
    for (size_t i = 0; i < fresh.size(); ++i) {
      auto it = fc.grad_outputs.find(std::to_string(i));
      if (it == fc.grad_outputs.end()) continue;
      roots.push_back(fresh[i]);
      grad_roots.push_back(make_tensor(it->second, ft));
    }
    ts::GradOptions options;
    options.create_graph = create_graph;
    options.allow_unused = true;
    ts::TensorList grads = ts::grad(roots, params, grad_roots, options);
    REQUIRE(grads.size() == params.size());
    for (size_t i = 0; i < params.size(); ++i) {
      const Record& want = fc.grads.at(fc.params[i].name);
      ts::Tensor got = grads[i].defined() ? grads[i] : ts::zeros_like(params[i]);
      const std::string msg =
          compare(fmt::format("grad of {} (create_graph = {})", fc.params[i].name, create_graph),
                  got, want, ft);
      INFO(msg);
      CHECK(msg.empty());
    }
  }
}

void run_table(const Table& table) {
  for (const ParityCase& pc : table) {
    for (const char* dtype : {"float64", "float32"}) {
      auto it = fixtures().find(pc.name + " " + dtype);
      INFO("fixture '" << pc.name << " " << dtype << "'");
      REQUIRE(it != fixtures().end());
      run_case(pc, it->second);
    }
  }
}

}  // namespace

TEST_CASE("torch parity: elementwise ops", "[ops][parity]") { run_table(elementwise_cases()); }
TEST_CASE("torch parity: reductions", "[ops][parity]") { run_table(reduction_cases()); }
TEST_CASE("torch parity: shape and indexing ops", "[ops][parity]") { run_table(shape_cases()); }
TEST_CASE("torch parity: matmul and linear", "[ops][parity]") { run_table(linalg_cases()); }
TEST_CASE("torch parity: softmax, layer_norm, rms_norm, embedding", "[ops][parity]") {
  run_table(nn_cases());
}
TEST_CASE("torch parity: losses", "[ops][parity]") { run_table(loss_cases()); }

TEST_CASE("torch parity: every fixture case has a C++ lambda and vice versa", "[ops][parity]") {
  std::set<std::string> names;
  for (const Table* t : {&elementwise_cases(), &reduction_cases(), &shape_cases(), &linalg_cases(),
                         &nn_cases(), &loss_cases()})
    for (const ParityCase& pc : *t) {
      INFO("duplicate C++ case " << pc.name);
      CHECK(names.insert(pc.name).second);
    }
  CHECK(fixtures().size() == 2 * names.size());
  for (const auto& [key, fc] : fixtures()) {
    INFO("fixture case without a C++ lambda: " << key);
    CHECK(names.count(fc.name) == 1);
    CHECK((fc.dtype == "float64" || fc.dtype == "float32"));
    CHECK(!fc.outputs.empty());
  }
}

TEST_CASE("torch parity: the comparison catches a wrong value", "[ops][parity]") {
  const Record expected{"0", "float64", {3}, {1.0, -2.0, 3.0}};
  ts::Tensor right = ts::from_vector<double>({1.0, -2.0, 3.0 + 1e-12});
  ts::Tensor wrong = ts::from_vector<double>({1.0, -2.0 * (1 + 1e-8), 3.0});
  CHECK(compare("t", right, expected, ts::kFloat64).empty());
  CHECK_FALSE(compare("t", wrong, expected, ts::kFloat64).empty());
  CHECK_FALSE(compare("t", right.to(ts::kFloat32), expected, ts::kFloat64).empty());  // dtype
  CHECK_FALSE(compare("t", right.reshape({3, 1}), expected, ts::kFloat64).empty());   // shape
  CHECK(compare("t", wrong.to(ts::kFloat32), expected, ts::kFloat32).empty());        // within 1e-5
}
