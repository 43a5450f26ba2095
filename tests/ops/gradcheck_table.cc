// The OpInfo table (gradcheck_table.h): for every op of ops/op_list.h, functions that apply the op
// to their inputs directly and the float64 inputs to check them on. Index and mask tensors are
// inputs too, so that every layout reaches them. gradgradcheck runs on every case unless it says
// why not; a case skips a layout only where the op cannot take it, and says why.
#include <catch2/catch.hpp>
#include <limits>

#include "gradcheck_table.h"
#include <taesan/taesan.h>

namespace taesan::test {
namespace {

using L = const TensorList&;

// A float64 leaf of the given shape, values ~ N(0, 1).
Tensor rnd(const Shape& shape) { return randn(shape, kFloat64).requires_grad_(); }
// Values in [0.5, 1.5): inputs of log, sqrt, pow and divisors.
Tensor pos(const Shape& shape) { return (rand(shape, kFloat64) + 0.5).detach().requires_grad_(); }
// Values in [0.1, 0.9): probabilities.
Tensor unit(const Shape& shape) {
  return (rand(shape, kFloat64) * 0.8 + 0.1).detach().requires_grad_();
}
// A non-contiguous leaf: the transpose of a fresh (cols, rows) tensor.
Tensor transposed(int64_t rows, int64_t cols) {
  Tensor t = randn({cols, rows}, kFloat64).t();
  REQUIRE_FALSE(t.is_contiguous());
  return t.requires_grad_();
}
// A non-contiguous leaf: every other column of a (rows, 2 * cols) tensor.
Tensor strided(int64_t rows, int64_t cols) {
  Tensor t = randn({rows, 2 * cols}, kFloat64).slice(1, 0, 2 * cols, 2);
  REQUIRE_FALSE(t.is_contiguous());
  return t.requires_grad_();
}
Tensor idx(const std::vector<int64_t>& v, Shape shape = {}) {
  if (shape.empty()) shape = {static_cast<int64_t>(v.size())};
  return from_vector<int64_t>(v, shape);
}
Tensor mask(const std::vector<bool>& v, const Shape& shape) { return from_vector<bool>(v, shape); }

// The table under construction; each modifier applies to the case added last.
class Table {
 public:
  Table& add(std::string op, std::string variant, TensorFunction fn,
             std::function<TensorList()> make_inputs) {
    cases_.push_back({std::move(op), std::move(variant), std::move(fn), std::move(make_inputs)});
    return *this;
  }
  Table& broadcast() {
    cases_.back().broadcast = true;
    return *this;
  }
  Table& no_gradgrad(std::string why) {
    cases_.back().no_gradgrad = std::move(why);
    return *this;
  }
  Table& skip(Layout layout, std::string why) {
    cases_.back().skip[layout] = std::move(why);
    return *this;
  }
  Table& tolerances(GradcheckOptions options) {
    cases_.back().options = options;
    return *this;
  }
  std::vector<OpCase> take() { return std::move(cases_); }

 private:
  std::vector<OpCase> cases_;
};

void shape_cases(Table& t) {
  t.add("reshape", "copy", [](L x) { return x[0].reshape({3, 4}); },
        [] { return TensorList{rnd({2, 6})}; });
  // Splitting a dim is a view of any layout: the view path on strided inputs.
  t.add("reshape", "split_dim", [](L x) { return x[0].reshape({2, 2, 3}); },
        [] { return TensorList{rnd({4, 3})}; });
  t.add("reshape", "flatten_transposed", [](L x) { return x[0].reshape({-1}); },
        [] { return TensorList{transposed(3, 4)}; });
  t.add("view", "split_dim", [](L x) { return x[0].view({2, 2, 3}); },
        [] { return TensorList{rnd({4, 3})}; });
  t.add("view", "merge_dims", [](L x) { return x[0].view({4, 3}); },
        [] { return TensorList{rnd({2, 6})}; })
      .skip(Layout::kTransposed, "view cannot merge dims that are not adjacent in memory")
      .skip(Layout::kSliced, "view cannot merge dims that are not adjacent in memory")
      .skip(Layout::kExpanded, "view cannot merge a stride-0 dim with a dense one");
  t.add("flatten", "all", [](L x) { return x[0].flatten(); },
        [] { return TensorList{rnd({2, 3, 2})}; });
  t.add("flatten", "inner", [](L x) { return x[0].flatten(1, 2); },
        [] { return TensorList{strided(2, 3).unsqueeze(1).detach().requires_grad_()}; });
  t.add("transpose", "3d", [](L x) { return x[0].transpose(0, 2) * 1.5; },
        [] { return TensorList{rnd({2, 3, 2})}; });
  t.add("permute", "3d", [](L x) { return x[0].permute({1, 2, 0}).exp(); },
        [] { return TensorList{rnd({2, 3, 2})}; });
  t.add("unsqueeze", "mid", [](L x) { return x[0].unsqueeze(1) * x[0].unsqueeze(0); },
        [] { return TensorList{rnd({3})}; });
  t.add("unsqueeze", "2d", [](L x) { return x[0].unsqueeze(-1) * x[0].unsqueeze(1); },
        [] { return TensorList{rnd({2, 3})}; });
  t.add("squeeze", "all", [](L x) { return x[0].squeeze().tanh(); },
        [] { return TensorList{rnd({1, 3, 1})}; });
  t.add("squeeze", "dim", [](L x) { return x[0].squeeze(1).tanh(); },
        [] { return TensorList{rnd({2, 1, 3})}; });
  t.add("expand", "new_dims",
        [](L x) { return x[0].expand({2, 3, 4}) * arange(4, kFloat64); },
        [] { return TensorList{rnd({3, 1})}; })
      .broadcast();
  t.add("expand", "middle", [](L x) { return x[0].expand({2, 4, 3}).tanh(); },
        [] { return TensorList{rnd({2, 1, 3})}; })
      .broadcast();
  t.add("slice", "step2", [](L x) { return x[0].slice(1, 1, 5, 2); },
        [] { return TensorList{rnd({3, 5})}; });
  t.add("slice", "negative_start", [](L x) { return x[0].slice(0, -2, 100); },
        [] { return TensorList{transposed(4, 3)}; });
  t.add("slice", "dim0_step3", [](L x) { return x[0].slice(0, 0, 5, 3); },
        [] { return TensorList{rnd({5, 2})}; });
  t.add("index_select", "dim1_repeats", [](L x) { return x[0].index_select(1, x[1]); },
        [] { return TensorList{rnd({2, 3}), idx({2, 0, 2})}; });
  t.add("index_select", "dim0", [](L x) { return x[0].index_select(0, x[1]); },
        [] { return TensorList{rnd({4, 3}), idx({3, 1, 1, 0})}; });
  t.add("gather", "dim1", [](L x) { return x[0].gather(1, x[1]); },
        [] { return TensorList{rnd({2, 3}), idx({0, 2, 2, 1}, {2, 2})}; });
  // index smaller than the input in the other dim: the walk must use the input's strides
  t.add("gather", "dim0_partial", [](L x) { return x[0].gather(0, x[1]); },
        [] { return TensorList{rnd({3, 4}), idx({2, 0, 1, 0, 1, 1, 2, 0, 0}, {3, 3})}; });
  t.add("gather", "0d", [](L x) { return x[0].gather(-1, x[1]) * 3.0; },
        [] { return TensorList{rnd({}), scalar_tensor(0, kInt64)}; });
  t.add("cat", "dim1", [](L x) { return cat({x[0], x[1]}, 1); },
        [] { return TensorList{rnd({2, 2}), transposed(2, 3)}; });
  t.add("cat", "dim0_three", [](L x) { return cat({x[0], x[1], x[2]}, 0); },
        [] { return TensorList{rnd({1, 3}), rnd({2, 3}), rnd({2, 3})}; });
  t.add("stack", "last", [](L x) { return stack({x[0], x[1]}, -1); },
        [] { return TensorList{rnd({2, 3}), strided(2, 3)}; });
  t.add("stack", "dim0", [](L x) { return stack({x[0], x[1]}, 0); },
        [] { return TensorList{rnd({2, 3}), rnd({2, 3})}; });
  t.add("split", "uneven",
        [](L x) {
          auto p = split(x[0], 2, 1);
          return p[0] * 2.0 + p[1].sum() + p[2].sum();
        },
        [] { return TensorList{rnd({2, 5})}; });
  t.add("split", "dim0",
        [](L x) {
          auto p = split(x[0], 2, 0);
          return cat({p[2], p[0].exp(), p[1]}, 0);
        },
        [] { return TensorList{rnd({5, 2})}; });
  t.add("to", "f64_f32_f64", [](L x) { return x[0].to(kFloat32).to(kFloat64) * x[0]; },
        [] { return TensorList{rnd({2, 3})}; })
      .tolerances({.eps = 1e-3, .atol = 1e-3, .rtol = 1e-3});  // float32 rounds the step
  t.add("clone", "2d", [](L x) { return x[0].clone(); }, [] { return TensorList{rnd({2, 3})}; });
  t.add("contiguous", "2d", [](L x) { return x[0].contiguous(); },
        [] { return TensorList{rnd({2, 3})}; });
}

void binary_cases(Table& t) {
  t.add("add", "broadcast", [](L x) { return x[0] + x[1]; },
        [] { return TensorList{rnd({2, 3}), rnd({3})}; })
      .broadcast();
  t.add("add", "mixed_layouts", [](L x) { return x[0] + x[1]; },
        [] { return TensorList{transposed(2, 3), strided(2, 3)}; });
  t.add("sub", "broadcast", [](L x) { return x[0] - x[1]; },
        [] { return TensorList{rnd({2, 1}), rnd({1, 3})}; })
      .broadcast();
  t.add("sub", "same_shape", [](L x) { return x[0] - x[1]; },
        [] { return TensorList{rnd({2, 3}), rnd({2, 3})}; });
  t.add("mul", "broadcast", [](L x) { return x[0] * x[1]; },
        [] { return TensorList{rnd({2, 3}), rnd({2, 1})}; })
      .broadcast();
  t.add("mul", "same_tensor", [](L x) { return x[0] * x[0]; },
        [] { return TensorList{rnd({2, 3})}; });
  t.add("div", "broadcast", [](L x) { return x[0] / x[1]; },
        [] { return TensorList{rnd({2, 3}), pos({3})}; })
      .broadcast();
  t.add("div", "same_shape", [](L x) { return x[0] / x[1]; },
        [] { return TensorList{rnd({2, 3}), pos({2, 3})}; });
  t.add("maximum", "broadcast", [](L x) { return maximum(x[0], x[1]); },
        [] { return TensorList{rnd({2, 3}), rnd({3})}; })
      .broadcast();
  t.add("maximum", "same_shape", [](L x) { return maximum(x[0], x[1]); },
        [] { return TensorList{rnd({2, 3}), rnd({2, 3})}; });
  t.add("minimum", "broadcast", [](L x) { return minimum(x[0], x[1]); },
        [] { return TensorList{rnd({2, 3}), rnd({2, 1})}; })
      .broadcast();
  t.add("minimum", "same_shape", [](L x) { return minimum(x[0], x[1]); },
        [] { return TensorList{rnd({2, 3}), rnd({2, 3})}; });
  t.add("add_scalar", "2d", [](L x) { return (x[0] + 2.0) * (3.0 + x[0]); },
        [] { return TensorList{rnd({2, 3})}; });
  t.add("mul_scalar", "2d", [](L x) { return x[0] * -1.5 + 0.5 * x[0]; },
        [] { return TensorList{rnd({2, 3})}; });
  t.add("rsub_scalar", "2d", [](L x) { return 1.0 - x[0] * x[0]; },
        [] { return TensorList{rnd({2, 3})}; });
  t.add("rdiv_scalar", "2d", [](L x) { return 2.0 / x[0]; },
        [] { return TensorList{pos({2, 3})}; });
}

void unary_cases(Table& t) {
  t.add("neg", "2d", [](L x) { return -x[0]; }, [] { return TensorList{rnd({2, 3})}; });
  t.add("exp", "2d", [](L x) { return x[0].exp(); }, [] { return TensorList{rnd({2, 3})}; });
  t.add("log", "2d", [](L x) { return x[0].log(); }, [] { return TensorList{pos({2, 3})}; });
  t.add("sqrt", "2d", [](L x) { return x[0].sqrt(); }, [] { return TensorList{pos({2, 3})}; });
  t.add("rsqrt", "2d", [](L x) { return x[0].rsqrt(); }, [] { return TensorList{pos({2, 3})}; });
  t.add("abs", "2d", [](L x) { return x[0].abs(); }, [] { return TensorList{rnd({2, 3})}; });
  t.add("square", "2d", [](L x) { return square(x[0]); }, [] { return TensorList{rnd({2, 3})}; });
  t.add("erf", "2d", [](L x) { return erf(x[0]); }, [] { return TensorList{rnd({2, 3})}; });
  t.add("pow", "fractional", [](L x) { return x[0].pow(2.5); },
        [] { return TensorList{pos({2, 3})}; });
  t.add("pow", "negative", [](L x) { return x[0].pow(-2.0); },
        [] { return TensorList{pos({2, 3})}; });
  t.add("pow", "cube", [](L x) { return x[0].pow(3.0); }, [] { return TensorList{rnd({2, 3})}; });
  t.add("tanh", "2d", [](L x) { return x[0].tanh(); }, [] { return TensorList{rnd({3, 2})}; });
  t.add("sigmoid", "2d", [](L x) { return x[0].sigmoid(); },
        [] { return TensorList{rnd({2, 3})}; });
  t.add("relu", "2d", [](L x) { return x[0].relu(); }, [] { return TensorList{rnd({2, 3})}; });
  t.add("gelu", "exact", [](L x) { return gelu(x[0]); }, [] { return TensorList{rnd({2, 3})}; });
  t.add("gelu_tanh", "tanh", [](L x) { return gelu(x[0], "tanh"); },
        [] { return TensorList{rnd({2, 3})}; });
  t.add("silu", "2d", [](L x) { return silu(x[0]); }, [] { return TensorList{rnd({2, 3})}; });
  t.add("clamp", "2d", [](L x) { return x[0].clamp(-0.5, 0.7); },
        [] { return TensorList{rnd({3, 4})}; });
  t.add("masked_fill", "broadcast_mask", [](L x) { return x[0].masked_fill(x[1], -2.0); },
        [] { return TensorList{rnd({2, 3}), mask({true, false, true}, {1, 3})}; })
      .broadcast();
  t.add("masked_fill", "full_mask", [](L x) { return x[0].masked_fill(x[1], 0.5); },
        [] { return TensorList{rnd({2, 3}), mask({true, false, false, false, true, true}, {2, 3})}; });
  t.add("where", "broadcast", [](L x) { return where(x[2], x[0], x[1]); },
        [] { return TensorList{rnd({2, 3}), rnd({2, 1}), mask({true, false, false}, {3})}; })
      .broadcast();
  t.add("where", "same_shape", [](L x) { return where(x[2], x[0], x[1]); },
        [] {
          return TensorList{rnd({2, 3}), rnd({2, 3}),
                            mask({false, true, true, false, true, false}, {2, 3})};
        });
}

void reduction_cases(Table& t) {
  t.add("sum", "all", [](L x) { return x[0].sum(); }, [] { return TensorList{rnd({2, 3})}; });
  t.add("sum", "dims_keepdim", [](L x) { return x[0].sum({0, 2}, true); },
        [] { return TensorList{rnd({2, 3, 2})}; });
  t.add("sum", "non_block_dims", [](L x) { return sum(x[0], {0, 2}) * 2.0; },
        [] { return TensorList{rnd({2, 2, 3})}; });
  t.add("mean", "dim", [](L x) { return x[0].mean(1); }, [] { return TensorList{rnd({2, 3})}; });
  t.add("mean", "all", [](L x) { return x[0].mean(); }, [] { return TensorList{rnd({3, 2})}; });
  t.add("max", "dim1", [](L x) { return x[0].max(1).first; },
        [] { return TensorList{rnd({3, 4})}; });
  t.add("max", "dim0_keepdim", [](L x) { return x[0].max(0, true).first; },
        [] { return TensorList{rnd({3, 4})}; })
      .skip(Layout::kExpanded, "expanding dim 0 ties the values max picks from");
  t.add("max", "all", [](L x) { return x[0].max(); }, [] { return TensorList{rnd({3, 4})}; })
      .skip(Layout::kExpanded, "an expanded input repeats its maximum (a tie)");
  t.add("logsumexp", "dim0", [](L x) { return logsumexp(x[0], 0); },
        [] { return TensorList{rnd({3, 2})}; });
  t.add("logsumexp", "last_keepdim", [](L x) { return logsumexp(x[0], -1, true); },
        [] { return TensorList{rnd({2, 3, 2})}; });
  t.add("var", "unbiased", [](L x) { return var(x[0], 1); }, [] { return TensorList{rnd({2, 4})}; });
  t.add("var", "dims_biased", [](L x) { return var(x[0], Shape{0, 2}, 0); },
        [] { return TensorList{rnd({2, 3, 2})}; });
}

void linalg_cases(Table& t) {
  t.add("matmul", "2d", [](L x) { return x[0].matmul(x[1]); },
        [] { return TensorList{rnd({2, 3}), rnd({3, 2})}; });
  t.add("matmul", "transposed_operands", [](L x) { return x[0].matmul(x[1]); },
        [] { return TensorList{transposed(2, 3), transposed(3, 2)}; });
  t.add("matmul", "batched", [](L x) { return x[0].matmul(x[1]); },
        [] { return TensorList{rnd({2, 2, 3}), rnd({2, 3, 2})}; });
  t.add("matmul", "batched_broadcast", [](L x) { return x[0].matmul(x[1]); },
        [] { return TensorList{rnd({2, 1, 2, 3}), rnd({3, 3, 2})}; })
      .broadcast();
  t.add("matmul", "nd_by_2d", [](L x) { return x[0].matmul(x[1]); },
        [] { return TensorList{rnd({2, 2, 3}), rnd({3, 2})}; });
  t.add("matmul", "vector_cases",
        [](L x) { return x[0].matmul(x[1]).sum() + x[1].matmul(x[0]).sum() + x[0].matmul(x[0]); },
        [] { return TensorList{rnd({3}), rnd({3, 3})}; });
  t.add("linear", "bias", [](L x) { return linear(x[0], x[1], x[2]); },
        [] { return TensorList{rnd({2, 2, 3}), rnd({4, 3}), rnd({4})}; });
  t.add("linear", "no_bias", [](L x) { return linear(x[0], x[1]); },
        [] { return TensorList{rnd({3, 3}), rnd({2, 3})}; });
  t.add("linear", "vector_input", [](L x) { return linear(x[0], x[1], x[2]); },
        [] { return TensorList{rnd({3}), rnd({2, 3}), rnd({2})}; });
  t.add("feed_forward", "gelu_bias",
        [](L x) { return feed_forward(x[0], x[1], x[2], x[3], x[4], "gelu"); },
        [] { return TensorList{rnd({2, 2, 3}), rnd({4, 3}), rnd({4}), rnd({2, 4}), rnd({2})}; });
  t.add("feed_forward", "gelu_tanh_no_b2",
        [](L x) { return feed_forward(x[0], x[1], x[2], x[3], Tensor(), "gelu_tanh"); },
        [] { return TensorList{strided(3, 3), transposed(4, 3), rnd({4}), transposed(2, 4)}; });
  t.add("feed_forward", "relu_no_bias",
        [](L x) { return feed_forward(x[0], x[1], Tensor(), x[2], Tensor(), "relu"); },
        [] { return TensorList{rnd({3}), rnd({5, 3}), rnd({3, 5})}; });
}

void neural_cases(Table& t) {
  t.add("softmax", "last", [](L x) { return x[0].softmax(-1); },
        [] { return TensorList{rnd({2, 4})}; });
  t.add("softmax", "dim0", [](L x) { return x[0].softmax(0); },
        [] { return TensorList{rnd({3, 2})}; });
  t.add("softmax", "mid_3d", [](L x) { return x[0].softmax(1); },
        [] { return TensorList{rnd({2, 3, 2})}; });
  t.add("log_softmax", "dim1", [](L x) { return x[0].log_softmax(1); },
        [] { return TensorList{rnd({2, 3, 2})}; });
  t.add("log_softmax", "last", [](L x) { return x[0].log_softmax(-1); },
        [] { return TensorList{rnd({2, 4})}; });
  t.add("layer_norm", "affine", [](L x) { return layer_norm(x[0], {3}, x[1], x[2]); },
        [] { return TensorList{rnd({2, 3}), rnd({3}), rnd({3})}; });
  t.add("layer_norm", "no_affine_2d", [](L x) { return layer_norm(x[0], {2, 2}); },
        [] { return TensorList{rnd({2, 2, 2})}; });
  t.add("layer_norm", "weight_only", [](L x) { return layer_norm(x[0], {3}, x[1], Tensor()); },
        [] { return TensorList{strided(2, 3), rnd({3})}; });
  // The same mask on every call: the seed is set inside the function.
  t.add("dropout", "p03",
        [](L x) {
          manual_seed(7);
          return dropout(x[0], 0.3, true);
        },
        [] { return TensorList{rnd({3, 4})}; });
  t.add("embedding", "2d_indices", [](L x) { return embedding(x[0], x[1]); },
        [] { return TensorList{rnd({4, 3}), idx({3, 0, 1, 1, 0, 2}, {2, 3})}; });
  // Row 1 is the padding row, and it is looked up (indices 1). Its gradient is zero while the
  // forward returns its values, so gradcheck cannot perturb it: it is an input that does not
  // require grad, between the rows that do. "embedding: the padding row ..." below checks it.
  t.add("embedding", "padding",
        [](L x) {
          Tensor w = cat({x[0].slice(0, 0, 1), x[1], x[0].slice(0, 1, 3)}, 0);
          return embedding(w, x[2], 1);
        },
        [] {
          return TensorList{rnd({3, 2}), randn({1, 2}, kFloat64), idx({0, 1, 2, 1, 3, 0}, {2, 3})};
        });
}

void loss_cases(Table& t) {
  t.add("cross_entropy", "mean", [](L x) { return cross_entropy(x[0], x[1]); },
        [] { return TensorList{rnd({3, 4}), idx({0, 2, 1})}; });
  t.add("cross_entropy", "ignore_smooth_sum",
        [](L x) {
          return cross_entropy(x[0], x[1], {.label_smoothing = 0.2, .reduction = Reduction::Sum});
        },
        [] { return TensorList{transposed(3, 4), idx({0, -100, 3})}; });
  t.add("cross_entropy", "spatial_none",
        [](L x) { return cross_entropy(x[0], x[1], {.reduction = Reduction::None}); },
        [] { return TensorList{rnd({2, 3, 2}), idx({0, 2, 1, 1}, {2, 2})}; });
  t.add("cross_entropy", "probabilities", [](L x) { return cross_entropy(x[0], x[1]); },
        [] { return TensorList{rnd({2, 3}), unit({2, 3})}; });
  t.add("nll_loss", "ignore", [](L x) { return nll_loss(x[0], x[1]); },
        [] { return TensorList{rnd({3, 3}), idx({1, -100, 0})}; });
  t.add("nll_loss", "spatial_sum",
        [](L x) { return nll_loss(x[0], x[1], {.reduction = Reduction::Sum}); },
        [] { return TensorList{rnd({2, 3, 2}), idx({0, 2, 1, 1}, {2, 2})}; });
  t.add("nll_loss", "none_1d",
        [](L x) { return nll_loss(x[0], x[1], {.reduction = Reduction::None}); },
        [] { return TensorList{rnd({4}), scalar_tensor(2, kInt64)}; });
  t.add("mse_loss", "broadcast", [](L x) { return mse_loss(x[0], x[1]); },
        [] { return TensorList{rnd({2, 3}), rnd({3})}; })
      .broadcast();
  t.add("mse_loss", "same_shape_sum", [](L x) { return mse_loss(x[0], x[1], Reduction::Sum); },
        [] { return TensorList{rnd({2, 3}), rnd({2, 3})}; });
  t.add("binary_cross_entropy_with_logits", "sum",
        [](L x) { return binary_cross_entropy_with_logits(x[0], x[1], Reduction::Sum); },
        [] { return TensorList{rnd({2, 3}), unit({2, 3})}; });
  t.add("binary_cross_entropy_with_logits", "mean",
        [](L x) { return binary_cross_entropy_with_logits(x[0], x[1]); },
        [] { return TensorList{rnd({3, 2}), unit({3, 2})}; });
  t.add("binary_cross_entropy_with_logits", "none",
        [](L x) { return binary_cross_entropy_with_logits(x[0], x[1], Reduction::None); },
        [] { return TensorList{rnd({2, 3}), unit({2, 3})}; });
}

// Both backends, each kind of mask; the masks are inputs, so every layout reaches them too.
void attention_cases(Table& t) {
  const double inf = std::numeric_limits<double>::infinity();
  for (AttentionBackend be : {AttentionBackend::Reference, AttentionBackend::Fused}) {
    const std::string tag = be == AttentionBackend::Fused ? "fused" : "reference";
    t.add("scaled_dot_product_attention", tag + "_plain",
          [be](L x) {
            return scaled_dot_product_attention(x[0], x[1], x[2], Tensor(), 0.0, false,
                                                std::nullopt, be);
          },
          [] { return TensorList{rnd({1, 2, 3, 2}), rnd({1, 2, 4, 2}), rnd({1, 2, 4, 3})}; });
    t.add("scaled_dot_product_attention", tag + "_causal_3d",
          [be](L x) {
            return scaled_dot_product_attention(x[0], x[1], x[2], Tensor(), 0.0, true, 0.7, be);
          },
          [] { return TensorList{rnd({2, 3, 2}), rnd({2, 3, 2}), rnd({2, 3, 2})}; });
    // key padding: batch 0 sees keys 0..2, batch 1 keys 0..1; broadcast over heads and queries
    t.add("scaled_dot_product_attention", tag + "_bool_padding_mask",
          [be](L x) {
            return scaled_dot_product_attention(x[0], x[1], x[2], x[3], 0.0, false, std::nullopt,
                                                be);
          },
          [] {
            return TensorList{
                rnd({2, 1, 2, 3}), rnd({2, 1, 4, 3}), rnd({2, 1, 4, 2}),
                mask({true, true, true, false, true, true, false, false}, {2, 1, 1, 4})};
          })
        .broadcast();
    // The heads of (B, T, H * d) projections, as multi-head attention passes them: the fused
    // kernel reads them in place and returns a token-major output.
    t.add("scaled_dot_product_attention", tag + "_token_major_head_views",
          [be](L x) {
            auto heads = [](const Tensor& t) { return transpose(reshape(t, {2, 3, 2, 2}), 1, 2); };
            Tensor o = scaled_dot_product_attention(heads(x[0]), heads(x[1]), heads(x[2]), Tensor(),
                                                    0.0, true, std::nullopt, be);
            return reshape(transpose(o, 1, 2), {2, 3, 4});
          },
          [] { return TensorList{rnd({2, 3, 4}), rnd({2, 3, 4}), rnd({2, 3, 4})}; });
    t.add("scaled_dot_product_attention", tag + "_float_mask_fully_masked_row",
          [be](L x) {
            return scaled_dot_product_attention(x[0], x[1], x[2], x[3], 0.0, false, std::nullopt,
                                                be);
          },
          [inf] {
            return TensorList{rnd({1, 1, 2, 2}), rnd({1, 1, 3, 2}), rnd({1, 1, 3, 2}),
                              from_vector<double>({0, -1, 0.5, -inf, -inf, -inf}, {2, 3})};
          })
        .broadcast();
  }
}

// Rows of 37 (more than four vectors of eight doubles, and a tail) for the ops that run SIMD
// kernels, so that their vector bodies, not only their tails, see every layout.
void long_row_cases(Table& t) {
  t.add("exp", "long_rows", [](L x) { return x[0].exp(); }, [] { return TensorList{rnd({2, 37})}; });
  t.add("tanh", "long_rows", [](L x) { return x[0].tanh(); },
        [] { return TensorList{rnd({2, 37})}; });
  t.add("sigmoid", "long_rows", [](L x) { return x[0].sigmoid(); },
        [] { return TensorList{rnd({2, 37})}; });
  t.add("relu", "long_rows", [](L x) { return x[0].relu(); },
        [] { return TensorList{rnd({2, 37})}; });
  t.add("gelu", "long_rows", [](L x) { return gelu(x[0]); }, [] { return TensorList{rnd({2, 37})}; });
  t.add("gelu_tanh", "long_rows", [](L x) { return gelu(x[0], "tanh"); },
        [] { return TensorList{rnd({2, 37})}; });
  t.add("silu", "long_rows", [](L x) { return silu(x[0]); }, [] { return TensorList{rnd({2, 37})}; });
  t.add("mul", "long_rows_broadcast", [](L x) { return x[0] * x[1]; },
        [] { return TensorList{rnd({2, 37}), rnd({37})}; })
      .broadcast();
  t.add("sum", "long_rows", [](L x) { return x[0].sum(1); }, [] { return TensorList{rnd({3, 37})}; });
  t.add("max", "long_rows", [](L x) { return x[0].max(1).first; },
        [] { return TensorList{rnd({2, 37})}; });
  t.add("softmax", "long_rows", [](L x) { return x[0].softmax(-1); },
        [] { return TensorList{rnd({2, 37})}; });
  t.add("log_softmax", "long_rows", [](L x) { return x[0].log_softmax(-1); },
        [] { return TensorList{rnd({2, 37})}; });
  t.add("logsumexp", "long_rows", [](L x) { return logsumexp(x[0], -1); },
        [] { return TensorList{rnd({2, 37})}; });
  t.add("layer_norm", "long_rows", [](L x) { return layer_norm(x[0], {37}, x[1], x[2]); },
        [] { return TensorList{rnd({2, 37}), rnd({37}), rnd({37})}; });
  t.add("cross_entropy", "long_rows",
        [](L x) { return cross_entropy(x[0], x[1], {.label_smoothing = 0.1}); },
        [] { return TensorList{rnd({2, 37}), idx({36, 5})}; });
  t.add("linear", "long_rows", [](L x) { return linear(x[0], x[1], x[2]); },
        [] { return TensorList{rnd({2, 37}), rnd({3, 37}), rnd({3})}; });
  t.add("matmul", "long_inner", [](L x) { return x[0].matmul(x[1]); },
        [] { return TensorList{rnd({2, 37}), rnd({37, 2})}; });
  t.add("scaled_dot_product_attention", "fused_long_head_dim",
        [](L x) {
          return scaled_dot_product_attention(x[0], x[1], x[2], Tensor(), 0.0, true, std::nullopt,
                                              AttentionBackend::Fused);
        },
        [] { return TensorList{rnd({1, 1, 2, 19}), rnd({1, 1, 3, 19}), rnd({1, 1, 3, 19})}; });
}

}  // namespace

std::vector<OpCase> op_cases() {
  Table t;
  shape_cases(t);
  binary_cases(t);
  unary_cases(t);
  reduction_cases(t);
  linalg_cases(t);
  neural_cases(t);
  loss_cases(t);
  attention_cases(t);
  long_row_cases(t);
  return t.take();
}

}  // namespace taesan::test
