// The OpInfo table (gradcheck_table.h): for every op of ops/op_list.h, functions that apply the op
// to their inputs directly and the float64 inputs to check them on. Index and mask tensors are
// inputs too, so that every layout reaches them. gradgradcheck runs on every case unless it says
// why not; a case skips a layout only where the op cannot take it, and says why.
#include "gradcheck_table.h"

#include <catch2/catch.hpp>
#include <limits>

#include <taesan/taesan.h>

namespace taesan::test {
namespace {

using L = const TensorList&;
// Makes one input of a case, afresh on every call (gradcheck writes into its inputs).
using Gen = std::function<Tensor()>;

// A float64 leaf of the given shape, values ~ N(0, 1).
Gen rnd(Shape shape) {
  return [=] { return randn(shape, kFloat64).requires_grad_(); };
}
// Values in [0.5, 1.5): inputs of log, sqrt, pow and divisors.
Gen pos(Shape shape) {
  return [=] { return (rand(shape, kFloat64) + 0.5).detach().requires_grad_(); };
}
// Values in [0.1, 0.9): probabilities.
Gen unit(Shape shape) {
  return [=] { return (rand(shape, kFloat64) * 0.8 + 0.1).detach().requires_grad_(); };
}
// A non-contiguous leaf: the transpose of a fresh (cols, rows) tensor.
Gen transposed(int64_t rows, int64_t cols) {
  return [=] {
    Tensor t = randn({cols, rows}, kFloat64).t();
    REQUIRE_FALSE(t.is_contiguous());
    return t.requires_grad_();
  };
}
// A non-contiguous leaf: every other column of a (rows, 2 * cols) tensor.
Gen strided(int64_t rows, int64_t cols) {
  return [=] {
    Tensor t = randn({rows, 2 * cols}, kFloat64).slice(1, 0, 2 * cols, 2);
    REQUIRE_FALSE(t.is_contiguous());
    return t.requires_grad_();
  };
}
// Indices (1-d unless a shape is given), a 0-d index, a bool mask.
Gen idx(std::vector<int64_t> v, Shape shape = {}) {
  if (shape.empty()) shape = {static_cast<int64_t>(v.size())};
  return [=] { return from_vector<int64_t>(v, shape); };
}
Gen scalar_index(int64_t v) {
  return [=] { return scalar_tensor(static_cast<double>(v), kInt64); };
}
Gen mask(std::vector<bool> v, Shape shape) {
  return [=] { return from_vector<bool>(v, shape); };
}
// A copy of t, which does not require grad.
Gen fixed(Tensor t) {
  return [=] { return t.detach().clone(); };
}

// The table under construction; each modifier applies to the case added last.
class Table {
 public:
  Table& add(std::string op, std::string variant, std::vector<Gen> inputs, TensorFunction fn) {
    auto make_inputs = [inputs = std::move(inputs)] {
      TensorList out;
      for (const Gen& make : inputs) out.push_back(make());
      return out;
    };
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
  t.add("reshape", "copy", {rnd({2, 6})}, [](L x) { return x[0].reshape({3, 4}); });
  // Splitting a dim is a view of any layout: the view path on strided inputs.
  t.add("reshape", "split_dim", {rnd({4, 3})}, [](L x) { return x[0].reshape({2, 2, 3}); });
  t.add("reshape", "flatten_transposed", {transposed(3, 4)},
        [](L x) { return x[0].reshape({-1}); });
  t.add("view", "split_dim", {rnd({4, 3})}, [](L x) { return x[0].view({2, 2, 3}); });
  t.add("view", "merge_dims", {rnd({2, 6})},
        [](L x) {
          return x[0].view({4, 3});
        })
      .skip(Layout::kTransposed, "view cannot merge dims that are not adjacent in memory")
      .skip(Layout::kSliced, "view cannot merge dims that are not adjacent in memory")
      .skip(Layout::kExpanded, "view cannot merge a stride-0 dim with a dense one");
  t.add("flatten", "all", {rnd({2, 3, 2})}, [](L x) { return x[0].flatten(); });
  t.add("flatten", "inner", {rnd({2, 1, 3})}, [](L x) { return x[0].flatten(1, 2); });
  t.add("transpose", "3d", {rnd({2, 3, 2})}, [](L x) { return x[0].transpose(0, 2) * 1.5; });
  t.add("permute", "3d", {rnd({2, 3, 2})}, [](L x) { return x[0].permute({1, 2, 0}).exp(); });
  t.add("unsqueeze", "mid", {rnd({3})}, [](L x) { return x[0].unsqueeze(1) * x[0].unsqueeze(0); });
  t.add("unsqueeze", "2d", {rnd({2, 3})},
        [](L x) { return x[0].unsqueeze(-1) * x[0].unsqueeze(1); });
  t.add("squeeze", "all", {rnd({1, 3, 1})}, [](L x) { return x[0].squeeze().tanh(); });
  t.add("squeeze", "dim", {rnd({2, 1, 3})}, [](L x) { return x[0].squeeze(1).tanh(); });
  t.add("expand", "new_dims", {rnd({3, 1})}, [](L x) {
     return x[0].expand({2, 3, 4}) * arange(4, kFloat64);
   }).broadcast();
  t.add("expand", "middle", {rnd({2, 1, 3})}, [](L x) {
     return x[0].expand({2, 4, 3}).tanh();
   }).broadcast();
  t.add("slice", "step2", {rnd({3, 5})}, [](L x) { return x[0].slice(1, 1, 5, 2); });
  t.add("slice", "negative_start", {transposed(4, 3)}, [](L x) { return x[0].slice(0, -2, 100); });
  t.add("slice", "dim0_step3", {rnd({5, 2})}, [](L x) { return x[0].slice(0, 0, 5, 3); });
  t.add("index_select", "dim1_repeats", {rnd({2, 3}), idx({2, 0, 2})},
        [](L x) { return x[0].index_select(1, x[1]); });
  t.add("index_select", "dim0", {rnd({4, 3}), idx({3, 1, 1, 0})},
        [](L x) { return x[0].index_select(0, x[1]); });
  t.add("gather", "dim1", {rnd({2, 3}), idx({0, 2, 2, 1}, {2, 2})},
        [](L x) { return x[0].gather(1, x[1]); });
  // index smaller than the input in the other dim: the walk must use the input's strides
  t.add("gather", "dim0_partial", {rnd({3, 4}), idx({2, 0, 1, 0, 1, 1, 2, 0, 0}, {3, 3})},
        [](L x) { return x[0].gather(0, x[1]); });
  t.add("gather", "0d", {rnd({}), scalar_index(0)},
        [](L x) { return x[0].gather(-1, x[1]) * 3.0; });
  t.add("cat", "dim1", {rnd({2, 2}), transposed(2, 3)}, [](L x) { return cat({x[0], x[1]}, 1); });
  t.add("cat", "dim0_three", {rnd({1, 3}), rnd({2, 3}), rnd({2, 3})}, [](L x) {
    return cat({x[0], x[1], x[2]}, 0);
  });
  t.add("stack", "last", {rnd({2, 3}), strided(2, 3)}, [](L x) { return stack({x[0], x[1]}, -1); });
  t.add("stack", "dim0", {rnd({2, 3}), rnd({2, 3})}, [](L x) { return stack({x[0], x[1]}, 0); });
  t.add("split", "uneven", {rnd({2, 5})}, [](L x) {
    auto p = split(x[0], 2, 1);
    return p[0] * 2.0 + p[1].sum() + p[2].sum();
  });
  t.add("split", "dim0", {rnd({5, 2})}, [](L x) {
    auto p = split(x[0], 2, 0);
    return cat({p[2], p[0].exp(), p[1]}, 0);
  });
  t.add("to", "f64_f32_f64", {rnd({2, 3})}, [](L x) {
     return x[0].to(kFloat32).to(kFloat64) * x[0];
   }).tolerances({.eps = 1e-3, .atol = 1e-3, .rtol = 1e-3});  // float32 rounds the step
  t.add("clone", "2d", {rnd({2, 3})}, [](L x) { return x[0].clone(); });
  t.add("contiguous", "2d", {rnd({2, 3})}, [](L x) { return x[0].contiguous(); });
}

void binary_cases(Table& t) {
  t.add("add", "broadcast", {rnd({2, 3}), rnd({3})}, [](L x) { return x[0] + x[1]; }).broadcast();
  t.add("add", "mixed_layouts", {transposed(2, 3), strided(2, 3)}, [](L x) { return x[0] + x[1]; });
  t.add("sub", "broadcast", {rnd({2, 1}), rnd({1, 3})}, [](L x) {
     return x[0] - x[1];
   }).broadcast();
  t.add("sub", "same_shape", {rnd({2, 3}), rnd({2, 3})}, [](L x) { return x[0] - x[1]; });
  t.add("mul", "broadcast", {rnd({2, 3}), rnd({2, 1})}, [](L x) {
     return x[0] * x[1];
   }).broadcast();
  t.add("mul", "same_tensor", {rnd({2, 3})}, [](L x) { return x[0] * x[0]; });
  t.add("div", "broadcast", {rnd({2, 3}), pos({3})}, [](L x) { return x[0] / x[1]; }).broadcast();
  t.add("div", "same_shape", {rnd({2, 3}), pos({2, 3})}, [](L x) { return x[0] / x[1]; });
  t.add("maximum", "broadcast", {rnd({2, 3}), rnd({3})}, [](L x) {
     return maximum(x[0], x[1]);
   }).broadcast();
  t.add("maximum", "same_shape", {rnd({2, 3}), rnd({2, 3})},
        [](L x) { return maximum(x[0], x[1]); });
  t.add("minimum", "broadcast", {rnd({2, 3}), rnd({2, 1})}, [](L x) {
     return minimum(x[0], x[1]);
   }).broadcast();
  t.add("minimum", "same_shape", {rnd({2, 3}), rnd({2, 3})},
        [](L x) { return minimum(x[0], x[1]); });
  t.add("add_scalar", "2d", {rnd({2, 3})}, [](L x) { return (x[0] + 2.0) * (3.0 + x[0]); });
  t.add("mul_scalar", "2d", {rnd({2, 3})}, [](L x) { return x[0] * -1.5 + 0.5 * x[0]; });
  t.add("rsub_scalar", "2d", {rnd({2, 3})}, [](L x) { return 1.0 - x[0] * x[0]; });
  t.add("rdiv_scalar", "2d", {pos({2, 3})}, [](L x) { return 2.0 / x[0]; });
}

void unary_cases(Table& t) {
  t.add("neg", "2d", {rnd({2, 3})}, [](L x) { return -x[0]; });
  t.add("exp", "2d", {rnd({2, 3})}, [](L x) { return x[0].exp(); });
  t.add("log", "2d", {pos({2, 3})}, [](L x) { return x[0].log(); });
  t.add("sqrt", "2d", {pos({2, 3})}, [](L x) { return x[0].sqrt(); });
  t.add("rsqrt", "2d", {pos({2, 3})}, [](L x) { return x[0].rsqrt(); });
  t.add("abs", "2d", {rnd({2, 3})}, [](L x) { return x[0].abs(); });
  t.add("square", "2d", {rnd({2, 3})}, [](L x) { return square(x[0]); });
  t.add("erf", "2d", {rnd({2, 3})}, [](L x) { return erf(x[0]); });
  t.add("pow", "fractional", {pos({2, 3})}, [](L x) { return x[0].pow(2.5); });
  t.add("pow", "negative", {pos({2, 3})}, [](L x) { return x[0].pow(-2.0); });
  t.add("pow", "cube", {rnd({2, 3})}, [](L x) { return x[0].pow(3.0); });
  t.add("tanh", "2d", {rnd({3, 2})}, [](L x) { return x[0].tanh(); });
  t.add("sigmoid", "2d", {rnd({2, 3})}, [](L x) { return x[0].sigmoid(); });
  t.add("relu", "2d", {rnd({2, 3})}, [](L x) { return x[0].relu(); });
  t.add("gelu", "exact", {rnd({2, 3})}, [](L x) { return gelu(x[0]); });
  t.add("gelu_tanh", "tanh", {rnd({2, 3})}, [](L x) { return gelu(x[0], "tanh"); });
  t.add("silu", "2d", {rnd({2, 3})}, [](L x) { return silu(x[0]); });
  t.add("clamp", "2d", {rnd({3, 4})}, [](L x) { return x[0].clamp(-0.5, 0.7); });
  t.add("masked_fill", "broadcast_mask", {rnd({2, 3}), mask({true, false, true}, {1, 3})}, [](L x) {
     return x[0].masked_fill(x[1], -2.0);
   }).broadcast();
  t.add("masked_fill", "full_mask",
        {rnd({2, 3}), mask({true, false, false, false, true, true}, {2, 3})},
        [](L x) { return x[0].masked_fill(x[1], 0.5); });
  t.add("where", "broadcast", {rnd({2, 3}), rnd({2, 1}), mask({true, false, false}, {3})}, [](L x) {
     return where(x[2], x[0], x[1]);
   }).broadcast();
  t.add("where", "same_shape",
        {rnd({2, 3}), rnd({2, 3}), mask({false, true, true, false, true, false}, {2, 3})},
        [](L x) { return where(x[2], x[0], x[1]); });
}

void reduction_cases(Table& t) {
  t.add("sum", "all", {rnd({2, 3})}, [](L x) { return x[0].sum(); });
  t.add("sum", "dims_keepdim", {rnd({2, 3, 2})}, [](L x) { return x[0].sum({0, 2}, true); });
  t.add("sum", "non_block_dims", {rnd({2, 2, 3})}, [](L x) { return sum(x[0], {0, 2}) * 2.0; });
  t.add("mean", "dim", {rnd({2, 3})}, [](L x) { return x[0].mean(1); });
  t.add("mean", "all", {rnd({3, 2})}, [](L x) { return x[0].mean(); });
  t.add("max", "dim1", {rnd({3, 4})}, [](L x) { return x[0].max(1).first; });
  t.add("max", "dim0_keepdim", {rnd({3, 4})}, [](L x) {
     return x[0].max(0, true).first;
   }).skip(Layout::kExpanded, "expanding dim 0 ties the values max picks from");
  t.add("max", "all", {rnd({3, 4})}, [](L x) {
     return x[0].max();
   }).skip(Layout::kExpanded, "an expanded input repeats its maximum (a tie)");
  t.add("logsumexp", "dim0", {rnd({3, 2})}, [](L x) { return logsumexp(x[0], 0); });
  t.add("logsumexp", "last_keepdim", {rnd({2, 3, 2})},
        [](L x) { return logsumexp(x[0], -1, true); });
  t.add("var", "unbiased", {rnd({2, 4})}, [](L x) { return var(x[0], 1); });
  t.add("var", "dims_biased", {rnd({2, 3, 2})}, [](L x) { return var(x[0], Shape{0, 2}, 0); });
}

void linalg_cases(Table& t) {
  t.add("matmul", "2d", {rnd({2, 3}), rnd({3, 2})}, [](L x) { return x[0].matmul(x[1]); });
  t.add("matmul", "transposed_operands", {transposed(2, 3), transposed(3, 2)},
        [](L x) { return x[0].matmul(x[1]); });
  t.add("matmul", "batched", {rnd({2, 2, 3}), rnd({2, 3, 2})},
        [](L x) { return x[0].matmul(x[1]); });
  t.add("matmul", "batched_broadcast", {rnd({2, 1, 2, 3}), rnd({3, 3, 2})}, [](L x) {
     return x[0].matmul(x[1]);
   }).broadcast();
  t.add("matmul", "nd_by_2d", {rnd({2, 2, 3}), rnd({3, 2})}, [](L x) { return x[0].matmul(x[1]); });
  t.add("matmul", "vector_cases", {rnd({3}), rnd({3, 3})},
        [](L x) { return x[0].matmul(x[1]).sum() + x[1].matmul(x[0]).sum() + x[0].matmul(x[0]); });
  t.add("linear", "bias", {rnd({2, 2, 3}), rnd({4, 3}), rnd({4})},
        [](L x) { return linear(x[0], x[1], x[2]); });
  t.add("linear", "no_bias", {rnd({3, 3}), rnd({2, 3})}, [](L x) { return linear(x[0], x[1]); });
  t.add("linear", "vector_input", {rnd({3}), rnd({2, 3}), rnd({2})},
        [](L x) { return linear(x[0], x[1], x[2]); });
  t.add("feed_forward", "gelu_bias", {rnd({2, 2, 3}), rnd({4, 3}), rnd({4}), rnd({2, 4}), rnd({2})},
        [](L x) { return feed_forward(x[0], x[1], x[2], x[3], x[4], "gelu"); });
  t.add("feed_forward", "gelu_tanh_no_b2",
        {strided(3, 3), transposed(4, 3), rnd({4}), transposed(2, 4)},
        [](L x) { return feed_forward(x[0], x[1], x[2], x[3], Tensor(), "gelu_tanh"); });
  t.add("feed_forward", "relu_no_bias", {rnd({3}), rnd({5, 3}), rnd({3, 5})},
        [](L x) { return feed_forward(x[0], x[1], Tensor(), x[2], Tensor(), "relu"); });
}

void neural_cases(Table& t) {
  t.add("softmax", "last", {rnd({2, 4})}, [](L x) { return x[0].softmax(-1); });
  t.add("softmax", "dim0", {rnd({3, 2})}, [](L x) { return x[0].softmax(0); });
  t.add("softmax", "mid_3d", {rnd({2, 3, 2})}, [](L x) { return x[0].softmax(1); });
  t.add("log_softmax", "dim1", {rnd({2, 3, 2})}, [](L x) { return x[0].log_softmax(1); });
  t.add("log_softmax", "last", {rnd({2, 4})}, [](L x) { return x[0].log_softmax(-1); });
  t.add("layer_norm", "affine", {rnd({2, 3}), rnd({3}), rnd({3})},
        [](L x) { return layer_norm(x[0], {3}, x[1], x[2]); });
  t.add("layer_norm", "no_affine_2d", {rnd({2, 2, 2})}, [](L x) {
    return layer_norm(x[0], {2, 2});
  });
  t.add("layer_norm", "weight_only", {strided(2, 3), rnd({3})},
        [](L x) { return layer_norm(x[0], {3}, x[1], Tensor()); });
  t.add("rms_norm", "weight", {rnd({2, 3}), rnd({3})},
        [](L x) { return rms_norm(x[0], {3}, x[1], 1e-5); });
  // One weight for every row of a (2, 2, 3) input: its gradient sums over both leading dims.
  t.add("rms_norm", "broadcast_weight", {rnd({2, 2, 3}), rnd({3})},
        [](L x) { return rms_norm(x[0], {3}, x[1]); });
  t.add("rms_norm", "no_weight_2d", {rnd({2, 2, 2})}, [](L x) { return rms_norm(x[0], {2, 2}); });
  t.add("rms_norm", "strided_input", {strided(2, 3), rnd({3})},
        [](L x) { return rms_norm(x[0], {3}, x[1], 1e-6); });
  // The same mask on every call: the seed is set inside the function.
  t.add("dropout", "p03", {rnd({3, 4})}, [](L x) {
    manual_seed(7);
    return dropout(x[0], 0.3, true);
  });
  t.add("embedding", "2d_indices", {rnd({4, 3}), idx({3, 0, 1, 1, 0, 2}, {2, 3})},
        [](L x) { return embedding(x[0], x[1]); });
  // Row 1 is the padding row, and it is looked up (indices 1). Its gradient is zero while the
  // forward returns its values, so gradcheck cannot perturb it: it is an input that does not
  // require grad, between the rows that do. "embedding: the padding row ..." below checks it.
  t.add("embedding", "padding",
        {rnd({3, 2}), fixed(randn({1, 2}, kFloat64)), idx({0, 1, 2, 1, 3, 0}, {2, 3})}, [](L x) {
          Tensor w = cat({x[0].slice(0, 0, 1), x[1], x[0].slice(0, 1, 3)}, 0);
          return embedding(w, x[2], 1);
        });
}

void loss_cases(Table& t) {
  t.add("cross_entropy", "mean", {rnd({3, 4}), idx({0, 2, 1})},
        [](L x) { return cross_entropy(x[0], x[1]); });
  t.add("cross_entropy", "ignore_smooth_sum", {transposed(3, 4), idx({0, -100, 3})}, [](L x) {
    return cross_entropy(x[0], x[1], {.label_smoothing = 0.2, .reduction = Reduction::Sum});
  });
  t.add("cross_entropy", "spatial_none", {rnd({2, 3, 2}), idx({0, 2, 1, 1}, {2, 2})},
        [](L x) { return cross_entropy(x[0], x[1], {.reduction = Reduction::None}); });
  t.add("cross_entropy", "probabilities", {rnd({2, 3}), unit({2, 3})},
        [](L x) { return cross_entropy(x[0], x[1]); });
  t.add("nll_loss", "ignore", {rnd({3, 3}), idx({1, -100, 0})},
        [](L x) { return nll_loss(x[0], x[1]); });
  t.add("nll_loss", "spatial_sum", {rnd({2, 3, 2}), idx({0, 2, 1, 1}, {2, 2})},
        [](L x) { return nll_loss(x[0], x[1], {.reduction = Reduction::Sum}); });
  t.add("nll_loss", "none_1d", {rnd({4}), scalar_index(2)},
        [](L x) { return nll_loss(x[0], x[1], {.reduction = Reduction::None}); });
  t.add("mse_loss", "broadcast", {rnd({2, 3}), rnd({3})}, [](L x) {
     return mse_loss(x[0], x[1]);
   }).broadcast();
  t.add("mse_loss", "same_shape_sum", {rnd({2, 3}), rnd({2, 3})},
        [](L x) { return mse_loss(x[0], x[1], Reduction::Sum); });
  t.add("binary_cross_entropy_with_logits", "sum", {rnd({2, 3}), unit({2, 3})},
        [](L x) { return binary_cross_entropy_with_logits(x[0], x[1], Reduction::Sum); });
  t.add("binary_cross_entropy_with_logits", "mean", {rnd({3, 2}), unit({3, 2})},
        [](L x) { return binary_cross_entropy_with_logits(x[0], x[1]); });
  t.add("binary_cross_entropy_with_logits", "none", {rnd({2, 3}), unit({2, 3})},
        [](L x) { return binary_cross_entropy_with_logits(x[0], x[1], Reduction::None); });
}

// Both backends, each kind of mask; the masks are inputs, so every layout reaches them too.
void attention_cases(Table& t) {
  const double inf = std::numeric_limits<double>::infinity();
  for (AttentionBackend be : {AttentionBackend::Reference, AttentionBackend::Fused}) {
    const std::string tag = be == AttentionBackend::Fused ? "fused" : "reference";
    t.add("scaled_dot_product_attention", tag + "_plain",
          {rnd({1, 2, 3, 2}), rnd({1, 2, 4, 2}), rnd({1, 2, 4, 3})}, [be](L x) {
            return scaled_dot_product_attention(x[0], x[1], x[2], Tensor(), 0.0, false,
                                                std::nullopt, be);
          });
    t.add("scaled_dot_product_attention", tag + "_causal_3d",
          {rnd({2, 3, 2}), rnd({2, 3, 2}), rnd({2, 3, 2})}, [be](L x) {
            return scaled_dot_product_attention(x[0], x[1], x[2], Tensor(), 0.0, true, 0.7, be);
          });
    // key padding: batch 0 sees keys 0..2, batch 1 keys 0..1; broadcast over heads and queries
    t.add("scaled_dot_product_attention", tag + "_bool_padding_mask",
          {rnd({2, 1, 2, 3}), rnd({2, 1, 4, 3}), rnd({2, 1, 4, 2}),
           mask({true, true, true, false, true, true, false, false}, {2, 1, 1, 4})},
          [be](L x) {
            return scaled_dot_product_attention(x[0], x[1], x[2], x[3], 0.0, false, std::nullopt,
                                                be);
          })
        .broadcast();
    // The heads of (B, T, H * d) projections, as multi-head attention passes them: the fused
    // kernel reads them in place and returns a token-major output.
    t.add("scaled_dot_product_attention", tag + "_token_major_head_views",
          {rnd({2, 3, 4}), rnd({2, 3, 4}), rnd({2, 3, 4})}, [be](L x) {
            auto heads = [](const Tensor& t) { return transpose(reshape(t, {2, 3, 2, 2}), 1, 2); };
            Tensor o = scaled_dot_product_attention(heads(x[0]), heads(x[1]), heads(x[2]), Tensor(),
                                                    0.0, true, std::nullopt, be);
            return reshape(transpose(o, 1, 2), {2, 3, 4});
          });
    t.add("scaled_dot_product_attention", tag + "_float_mask_fully_masked_row",
          {rnd({1, 1, 2, 2}), rnd({1, 1, 3, 2}), rnd({1, 1, 3, 2}),
           fixed(from_vector<double>({0, -1, 0.5, -inf, -inf, -inf}, {2, 3}))},
          [be](L x) {
            return scaled_dot_product_attention(x[0], x[1], x[2], x[3], 0.0, false, std::nullopt,
                                                be);
          })
        .broadcast();
  }
}

// Rows of 37 (more than four vectors of eight doubles, and a tail) for the ops that run SIMD
// kernels, so that their vector bodies, not only their tails, see every layout.
void long_row_cases(Table& t) {
  t.add("exp", "long_rows", {rnd({2, 37})}, [](L x) { return x[0].exp(); });
  t.add("tanh", "long_rows", {rnd({2, 37})}, [](L x) { return x[0].tanh(); });
  t.add("sigmoid", "long_rows", {rnd({2, 37})}, [](L x) { return x[0].sigmoid(); });
  t.add("relu", "long_rows", {rnd({2, 37})}, [](L x) { return x[0].relu(); });
  t.add("gelu", "long_rows", {rnd({2, 37})}, [](L x) { return gelu(x[0]); });
  t.add("gelu_tanh", "long_rows", {rnd({2, 37})}, [](L x) { return gelu(x[0], "tanh"); });
  t.add("silu", "long_rows", {rnd({2, 37})}, [](L x) { return silu(x[0]); });
  t.add("mul", "long_rows_broadcast", {rnd({2, 37}), rnd({37})}, [](L x) {
     return x[0] * x[1];
   }).broadcast();
  t.add("sum", "long_rows", {rnd({3, 37})}, [](L x) { return x[0].sum(1); });
  t.add("max", "long_rows", {rnd({2, 37})}, [](L x) { return x[0].max(1).first; });
  t.add("softmax", "long_rows", {rnd({2, 37})}, [](L x) { return x[0].softmax(-1); });
  t.add("log_softmax", "long_rows", {rnd({2, 37})}, [](L x) { return x[0].log_softmax(-1); });
  t.add("logsumexp", "long_rows", {rnd({2, 37})}, [](L x) { return logsumexp(x[0], -1); });
  t.add("layer_norm", "long_rows", {rnd({2, 37}), rnd({37}), rnd({37})},
        [](L x) { return layer_norm(x[0], {37}, x[1], x[2]); });
  t.add("rms_norm", "long_rows", {rnd({2, 37}), rnd({37})},
        [](L x) { return rms_norm(x[0], {37}, x[1], 1e-6); });
  t.add("cross_entropy", "long_rows", {rnd({2, 37}), idx({36, 5})},
        [](L x) { return cross_entropy(x[0], x[1], {.label_smoothing = 0.1}); });
  t.add("linear", "long_rows", {rnd({2, 37}), rnd({3, 37}), rnd({3})},
        [](L x) { return linear(x[0], x[1], x[2]); });
  t.add("matmul", "long_inner", {rnd({2, 37}), rnd({37, 2})},
        [](L x) { return x[0].matmul(x[1]); });
  t.add("scaled_dot_product_attention", "fused_long_head_dim",
        {rnd({1, 1, 2, 19}), rnd({1, 1, 3, 19}), rnd({1, 1, 3, 19})}, [](L x) {
          return scaled_dot_product_attention(x[0], x[1], x[2], Tensor(), 0.0, true, std::nullopt,
                                              AttentionBackend::Fused);
        });
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
