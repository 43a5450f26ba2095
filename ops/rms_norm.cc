// rms_norm and its backward rule. The fused row kernels (ops/kernels/rowwise.h) do the work;
// when the backward itself must be differentiable (create_graph) the same formula is written
// with ops instead.
#include "taesan/ops/rms_norm.h"

#include <limits>

#include "taesan/autograd/factory.h"
#include "taesan/autograd/fused_backward.h"
#include "taesan/autograd/node.h"
#include "taesan/ops/kernels/rowwise.h"
#include "taesan/ops/ops.h"

namespace taesan {

using autograd::BackwardContext;
using autograd::fused_backward;
using autograd::record;
using autograd::SavedTensor;

Tensor rms_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight,
                std::optional<double> eps_in) {
  TS_CHECK(x.defined(), "rms_norm: the input is an undefined tensor");
  if (x.dtype() == kBFloat16) refuse_bfloat16("rms_norm");
  TS_CHECK(is_floating(x.dtype()), "rms_norm: expected a floating-point input, got {}",
           x.describe());
  const int64_t k = static_cast<int64_t>(normalized_shape.size());
  TS_CHECK(
      k >= 1 && k <= x.dim() && Shape(x.shape().end() - k, x.shape().end()) == normalized_shape,
      "rms_norm: normalized_shape {} does not match the trailing dims of input {}",
      shape_str(normalized_shape), x.describe());
  if (weight.defined())
    TS_CHECK(weight.shape() == normalized_shape && weight.dtype() == x.dtype(),
             "rms_norm: weight {} must have shape {} and dtype {} (those of the input {})",
             weight.describe(), shape_str(normalized_shape), x.dtype(), x.describe());
  const double eps = eps_in.value_or(x.dtype() == kFloat64 ? std::numeric_limits<double>::epsilon()
                                                           : std::numeric_limits<float>::epsilon());
  TS_CHECK(eps >= 0 && eps < std::numeric_limits<double>::infinity(),
           "rms_norm: eps must be finite and >= 0, got {}", eps);
  // (rows, cols): the leading dims flattened, the normalised dims flattened.
  const int64_t cols = shape_numel(normalized_shape);
  const int64_t rows = cols == 0 ? 0 : x.numel() / cols;
  Tensor xc = x.detach().contiguous();
  Tensor wc = weight.defined() ? weight.detach().contiguous() : Tensor();
  Tensor y = empty(x.shape(), x.dtype());
  Tensor rstd = empty({rows}, x.dtype());
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::rms_norm_forward(xc.data<T>(), wc.defined() ? wc.data<T>() : nullptr, y.data<T>(),
                              rstd.data<T>(), rows, cols, eps);
  });
  // rstd = 1 / sqrt(mean(x^2) + eps), xhat = x * rstd, y = xhat * w
  // dx = rstd * (gh - xhat * mean(gh * xhat)),  gh = g * w
  // dw = sum over the leading dims of g * xhat
  return record(
      "rms_norm", {x, weight}, y,
      [sx = SavedTensor(x), sw = SavedTensor(weight), rstd, normalized_shape, eps](
          const Tensor& g, const BackwardContext& ctx) {
        Tensor xv = sx.unpack(ctx), wv = sw.unpack(ctx);
        const int64_t k = static_cast<int64_t>(normalized_shape.size());
        auto composed = [&] {
          Shape norm_dims, lead_dims;
          for (int64_t d = 0; d < xv.dim(); ++d)
            (d >= xv.dim() - k ? norm_dims : lead_dims).push_back(d);
          Tensor r = rsqrt(add(mean(square(xv), norm_dims, true), eps));
          Tensor xhat = mul(xv, r);
          Tensor gh = wv.defined() ? mul(g, wv) : g;
          Tensor dx = mul(r, sub(gh, mul(xhat, mean(mul(gh, xhat), norm_dims, true))));
          Tensor dw = mul(g, xhat);
          if (!lead_dims.empty()) dw = sum(dw, lead_dims);
          return TensorList{ctx.needs_grad(0) ? dx : Tensor(), ctx.needs_grad(1) ? dw : Tensor()};
        };
        auto fused = [&] {
          const int64_t cols = shape_numel(normalized_shape);
          const int64_t rows = cols == 0 ? 0 : xv.numel() / cols;
          Tensor xc = xv.contiguous(), gc = g.contiguous();
          Tensor wc = wv.defined() ? wv.contiguous() : Tensor();
          Tensor dx = ctx.needs_grad(0) ? empty(xv.shape(), xv.dtype()) : Tensor();
          Tensor dw = ctx.needs_grad(1) ? empty(normalized_shape, xv.dtype()) : Tensor();
          dispatch_float(xv.dtype(), [&](auto tag) {
            using T = decltype(tag);
            auto ptr = [](const Tensor& t) { return t.defined() ? t.data<T>() : nullptr; };
            kernels::rms_norm_backward(xc.data<T>(), gc.data<T>(), ptr(wc), rstd.data<T>(), ptr(dx),
                                       ptr(dw), rows, cols);
          });
          return TensorList{dx, dw};
        };
        return fused_backward({xv, g, wv}, fused, composed);
      });
}

}  // namespace taesan
