// softmax / log_softmax / layer_norm / dropout / embedding with their backward rules.
// Fused row kernels (ops/kernels/rowwise.h) do the work; when the backward itself must be
// differentiable (create_graph) the same formulas are written with ops instead.
#include "taesan/ops/nn_ops.h"

#include "taesan/autograd/factory.h"
#include "taesan/autograd/fused_backward.h"
#include "taesan/autograd/node.h"
#include "taesan/core/random.h"
#include "taesan/ops/kernels/rowwise.h"
#include "taesan/ops/ops.h"

namespace taesan {
namespace {

using autograd::BackwardContext;
using autograd::fused_backward;
using autograd::record;
using autograd::SavedTensor;

// Runs a row kernel along `dim`: moves dim last (copying only if needed), runs, moves back.
template <typename Kernel>
Tensor along_dim(const Tensor& x, int64_t dim, Kernel kernel) {
  Tensor xc = ops::move_dim_last_contiguous(x.detach(), dim);
  Tensor y = empty(xc.shape(), x.dtype());
  const int64_t cols = x.dim() == 0 ? 1 : x.shape()[dim];
  const int64_t rows = cols == 0 ? 0 : xc.numel() / cols;
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernel(xc.data<T>(), y.data<T>(), rows, cols);
  });
  return ops::move_last_to_dim(y, dim);  // a view back in x's dim order
}

// Same for kernels of two inputs of x's shape (y and g).
template <typename Kernel>
Tensor along_dim2(const Tensor& y, const Tensor& g, int64_t dim, Kernel kernel) {
  Tensor yc = ops::move_dim_last_contiguous(y.detach(), dim);
  Tensor gc = ops::move_dim_last_contiguous(g.detach(), dim);
  Tensor dx = empty(yc.shape(), y.dtype());
  const int64_t cols = y.dim() == 0 ? 1 : y.shape()[dim];
  const int64_t rows = cols == 0 ? 0 : yc.numel() / cols;
  dispatch_float(y.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernel(yc.template data<T>(), gc.template data<T>(), dx.template data<T>(), rows, cols);
  });
  return ops::move_last_to_dim(dx, dim);
}

void check_float(const Tensor& x, const char* fn) {
  if (x.dtype() == kBFloat16) refuse_bfloat16(fn);
  TS_CHECK(is_floating(x.dtype()), "{}: expected a floating-point tensor, got {}", fn, x.describe());
}

}  // namespace

Tensor softmax(const Tensor& x, int64_t dim_in) {
  check_float(x, "softmax");
  int64_t dim = wrap_dim(dim_in, x.dim(), "softmax");
  Tensor y = along_dim(x, dim, [](auto* in, auto* out, int64_t r, int64_t c) { kernels::softmax_rows(in, out, r, c); });
  // y = softmax(x);  dx = y * (g - sum(g * y, dim))
  return record("softmax", {x}, y, [sy = SavedTensor(y, true), dim](const Tensor& g, const BackwardContext& ctx) {
    Tensor yv = sy.unpack(ctx);
    return TensorList{fused_backward(
        {yv, g},
        [&] {
          return along_dim2(yv, g, dim, [](auto* a, auto* b, auto* o, int64_t r, int64_t c) {
            kernels::softmax_backward_rows(a, b, o, r, c);
          });
        },
        [&] { return mul(yv, sub(g, sum(mul(g, yv), dim, true))); })};
  });
}

Tensor log_softmax(const Tensor& x, int64_t dim_in) {
  check_float(x, "log_softmax");
  int64_t dim = wrap_dim(dim_in, x.dim(), "log_softmax");
  Tensor y = along_dim(x, dim, [](auto* in, auto* out, int64_t r, int64_t c) { kernels::log_softmax_rows(in, out, r, c); });
  // y = log_softmax(x);  dx = g - exp(y) * sum(g, dim)
  return record("log_softmax", {x}, y, [sy = SavedTensor(y, true), dim](const Tensor& g, const BackwardContext& ctx) {
    Tensor yv = sy.unpack(ctx);
    return TensorList{fused_backward(
        {yv, g},
        [&] {
          return along_dim2(yv, g, dim, [](auto* a, auto* b, auto* o, int64_t r, int64_t c) {
            kernels::log_softmax_backward_rows(a, b, o, r, c);
          });
        },
        [&] { return sub(g, mul(exp(yv), sum(g, dim, true))); })};
  });
}

Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight,
                  const Tensor& bias, double eps) {
  check_float(x, "layer_norm");
  const int64_t k = static_cast<int64_t>(normalized_shape.size());
  TS_CHECK(k >= 1 && k <= x.dim() &&
               Shape(x.shape().end() - k, x.shape().end()) == normalized_shape,
           "layer_norm: normalized_shape {} does not match the trailing dims of input {}",
           shape_str(normalized_shape), x.describe());
  for (const Tensor* p : {&weight, &bias})
    if (p->defined())
      TS_CHECK(p->shape() == normalized_shape && p->dtype() == x.dtype(),
               "layer_norm: weight/bias {} must have shape {} and dtype {}", p->describe(),
               shape_str(normalized_shape), x.dtype());
  TS_CHECK(eps >= 0, "layer_norm: eps must be >= 0, got {}", eps);
  const int64_t cols = shape_numel(normalized_shape);
  const int64_t rows = cols == 0 ? 0 : x.numel() / cols;
  Tensor xc = x.detach().contiguous();
  Tensor wc = weight.defined() ? weight.detach().contiguous() : Tensor();
  Tensor bc = bias.defined() ? bias.detach().contiguous() : Tensor();
  Tensor y = empty(x.shape(), x.dtype());
  Tensor mu = empty({rows}, x.dtype()), rstd = empty({rows}, x.dtype());
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::layer_norm_forward(xc.data<T>(), wc.defined() ? wc.data<T>() : nullptr,
                                bc.defined() ? bc.data<T>() : nullptr, y.data<T>(), mu.data<T>(),
                                rstd.data<T>(), rows, cols, eps);
  });
  // xhat = (x - mean) * rstd, y = xhat * w + b
  // dx = rstd * (gh - mean(gh) - xhat * mean(gh * xhat)),  gh = g * w
  // dw = sum over rows of g * xhat,  db = sum over rows of g
  return record("layer_norm", {x, weight, bias}, y,
                [sx = SavedTensor(x), sw = SavedTensor(weight), mu, rstd, normalized_shape, eps,
                 has_b = bias.defined()](const Tensor& g, const BackwardContext& ctx) {
    Tensor xv = sx.unpack(ctx), wv = sw.unpack(ctx);
    const int64_t k = static_cast<int64_t>(normalized_shape.size());
    Shape norm_dims, lead_dims;
    for (int64_t d = 0; d < xv.dim(); ++d) (d >= xv.dim() - k ? norm_dims : lead_dims).push_back(d);
    auto composed = [&] {
      Tensor m = mean(xv, norm_dims, true);
      Tensor r = rsqrt(add(mean(square(sub(xv, m)), norm_dims, true), eps));
      Tensor xhat = mul(sub(xv, m), r);
      Tensor gh = wv.defined() ? mul(g, wv) : g;
      Tensor dx = mul(r, sub(sub(gh, mean(gh, norm_dims, true)),
                             mul(xhat, mean(mul(gh, xhat), norm_dims, true))));
      auto sum_lead = [&](const Tensor& t) { return lead_dims.empty() ? t : sum(t, lead_dims); };
      return TensorList{ctx.needs_grad(0) ? dx : Tensor(),
                        ctx.needs_grad(1) ? sum_lead(mul(g, xhat)) : Tensor(),
                        ctx.needs_grad(2) && has_b ? sum_lead(g) : Tensor()};
    };
    auto fused = [&] {
      const int64_t cols = shape_numel(normalized_shape);
      const int64_t rows = cols == 0 ? 0 : xv.numel() / cols;
      Tensor xc = xv.contiguous(), gc = g.contiguous();
      Tensor wc = wv.defined() ? wv.contiguous() : Tensor();
      Tensor dx = ctx.needs_grad(0) ? empty(xv.shape(), xv.dtype()) : Tensor();
      Tensor dw = ctx.needs_grad(1) ? empty(normalized_shape, xv.dtype()) : Tensor();
      Tensor db = ctx.needs_grad(2) ? empty(normalized_shape, xv.dtype()) : Tensor();
      dispatch_float(xv.dtype(), [&](auto tag) {
        using T = decltype(tag);
        auto ptr = [](const Tensor& t) { return t.defined() ? t.data<T>() : nullptr; };
        kernels::layer_norm_backward(xc.data<T>(), gc.data<T>(), ptr(wc), mu.data<T>(),
                                     rstd.data<T>(), ptr(dx), ptr(dw), ptr(db), rows, cols);
      });
      return TensorList{dx, dw, db};
    };
    return fused_backward({xv, g, wv}, fused, composed);
  });
}

Tensor dropout(const Tensor& x, double p, bool training) {
  TS_CHECK(p >= 0 && p <= 1, "dropout: probability must be in [0, 1], got {}", p);
  if (!training || p == 0) return x;
  check_float(x, "dropout");
  if (p == 1) return mul(x, 0.0);
  // y = x * m / (1 - p), m ~ Bernoulli(1 - p);  dx = g * m / (1 - p)   (via mul)
  Tensor scale = empty(x.shape(), x.dtype());
  const uint64_t seed = random::seed(), base = random::reserve(x.numel());
  const double keep = 1.0 / (1.0 - p);
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* s = scale.data<T>();
    for (int64_t i = 0, n = x.numel(); i < n; ++i)
      s[i] = random::uniform01(random::bits(seed, base + i)) < p ? T(0) : static_cast<T>(keep);
  });
  return mul(x, scale);
}

Tensor embedding(const Tensor& weight, const Tensor& indices, int64_t padding_idx) {
  TS_CHECK(weight.dim() == 2, "embedding: weight must be 2-d (num_embeddings, dim), got {}", weight.describe());
  TS_CHECK(indices.dtype() == kInt64, "embedding: indices must be int64, got {}", indices.describe());
  const int64_t num = weight.shape()[0];
  for (int64_t v : indices.to_vector<int64_t>())
    TS_CHECK(v >= 0 && v < num, "embedding: index {} is out of range for {} embeddings (weight {})",
             v, num, weight.describe());
  Shape out_shape = indices.shape();
  out_shape.push_back(weight.shape()[1]);
  Tensor rows = index_select(weight, 0, reshape(indices, {-1}));
  Tensor y = reshape(rows, out_shape);
  if (padding_idx < 0) return y;
  TS_CHECK(padding_idx < num, "embedding: padding_idx {} out of range for {} embeddings", padding_idx, num);
  // Same values; padded positions take the detached rows, so no gradient reaches weight[padding_idx].
  Tensor is_pad = unsqueeze(eq(indices, full({}, static_cast<double>(padding_idx), kInt64)), -1);
  return where(is_pad, y.detach(), y);
}

Tensor Tensor::softmax(int64_t dim) const { return taesan::softmax(*this, dim); }
Tensor Tensor::log_softmax(int64_t dim) const { return taesan::log_softmax(*this, dim); }

}  // namespace taesan
