// Reductions and their backward rules (see reduction.h). Sums run in kernels::sum_reduce over a
// contiguous (outer, n, inner) layout, in a fixed order, so results do not depend on threads.
#include "taesan/ops/reduction.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "taesan/autograd/factory.h"
#include "taesan/autograd/node.h"
#include "taesan/ops/copy.h"
#include "taesan/ops/kernels/rowwise.h"
#include "taesan/ops/ops.h"

namespace taesan {
namespace {

using autograd::BackwardContext;
using autograd::record;
using autograd::SavedTensor;

Shape reduced_shape(const Shape& shape, const Shape& dims, bool keepdim) {
  Shape out;
  for (int64_t d = 0; d < static_cast<int64_t>(shape.size()); ++d) {
    bool reduced = std::find(dims.begin(), dims.end(), d) != dims.end();
    if (!reduced) out.push_back(shape[d]);
    else if (keepdim) out.push_back(1);
  }
  return out;
}

// Unsqueezes the reduced dims of g (when !keepdim) and expands to `shape`.
Tensor expand_reduced(const Tensor& g, const Shape& shape, const Shape& dims, bool keepdim) {
  Tensor r = g;
  if (!keepdim)
    for (int64_t d : dims) r = unsqueeze(r, d);
  return expand(r, shape);
}

// Contiguous x viewed as (outer, n, inner) with the reduced dims in the middle; permutes and
// copies only when the reduced dims are not one block.
struct ReduceLayout {
  Tensor data;
  int64_t outer, n, inner;
};
ReduceLayout reduce_layout(const Tensor& x, const Shape& dims) {
  const int64_t nd = x.dim();
  bool block = true;
  for (size_t i = 1; i < dims.size(); ++i) block = block && dims[i] == dims[i - 1] + 1;
  if (block) {
    const Shape& s = x.shape();
    int64_t outer = 1, n = 1, inner = 1;
    for (int64_t d = 0; d < nd; ++d) {
      if (d < dims.front()) outer *= s[d];
      else if (d <= dims.back()) n *= s[d];
      else inner *= s[d];
    }
    return {x.contiguous(), outer, n, inner};
  }
  Shape perm;
  int64_t outer = 1, n = 1;
  for (int64_t d = 0; d < nd; ++d)
    if (std::find(dims.begin(), dims.end(), d) == dims.end()) {
      perm.push_back(d);
      outer *= x.shape()[d];
    }
  for (int64_t d : dims) {
    perm.push_back(d);
    n *= x.shape()[d];
  }
  return {permute(x.detach(), perm).contiguous(), outer, n, 1};
}

Tensor sum_impl(const Tensor& x, const Shape& dims, bool keepdim) {
  Shape out_shape = reduced_shape(x.shape(), dims, keepdim);
  if (x.dim() == 0) return x.detach().clone();
  ReduceLayout l = reduce_layout(x.detach(), dims);
  if (!is_floating(x.dtype())) {
    Tensor xi = ops::materialize(l.data, kInt64);
    Tensor out = zeros(out_shape, kInt64);
    const int64_t* p = xi.data<int64_t>();
    int64_t* o = out.data<int64_t>();
    for (int64_t a = 0; a < l.outer; ++a)
      for (int64_t j = 0; j < l.n; ++j)
        for (int64_t i = 0; i < l.inner; ++i) o[a * l.inner + i] += p[(a * l.n + j) * l.inner + i];
    return out;
  }
  Tensor out = empty(out_shape, x.dtype());
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::sum_reduce(l.data.data<T>(), out.data<T>(), l.outer, l.n, l.inner);
  });
  return out;
}

}  // namespace

namespace ops {

Shape normalize_dims(const Shape& dims, int64_t ndim, const char* fn) {
  Shape out;
  if (dims.empty()) {
    for (int64_t d = 0; d < ndim; ++d) out.push_back(d);
    return out;
  }
  for (int64_t d : dims) out.push_back(wrap_dim(d, ndim, fn));
  std::sort(out.begin(), out.end());
  TS_CHECK(std::adjacent_find(out.begin(), out.end()) == out.end(), "{}: dim repeated in {}", fn,
           shape_str(dims));
  if (ndim == 0) out.clear();
  return out;
}

Tensor move_dim_last(const Tensor& x, int64_t dim) {
  if (x.dim() == 0 || dim == x.dim() - 1) return x;
  Shape perm;
  for (int64_t d = 0; d < x.dim(); ++d)
    if (d != dim) perm.push_back(d);
  perm.push_back(dim);
  return permute(x, perm);
}

Tensor move_last_to_dim(const Tensor& x, int64_t dim) {
  if (x.dim() == 0 || dim == x.dim() - 1) return x;
  Shape perm;
  for (int64_t d = 0; d < x.dim() - 1; ++d) {
    if (d == dim) perm.push_back(x.dim() - 1);
    perm.push_back(d);
  }
  return permute(x, perm);
}

Tensor move_dim_last_contiguous(const Tensor& x, int64_t dim) {
  return move_dim_last(x, dim).contiguous();
}

}  // namespace ops

Tensor sum(const Tensor& x, const Shape& dims_in, bool keepdim) {
  Shape dims = ops::normalize_dims(dims_in, x.dim(), "sum");
  Tensor y = sum_impl(x, dims, keepdim);
  // y = sum(x, dims);  dx = g expanded back over dims
  return record("sum", {x}, y, [shape = x.shape(), dims, keepdim](const Tensor& g, const BackwardContext&) {
    return TensorList{expand_reduced(g, shape, dims, keepdim)};
  });
}

Tensor sum(const Tensor& x) { return sum(x, Shape{}, false); }
Tensor sum(const Tensor& x, int64_t dim, bool keepdim) { return sum(x, Shape{dim}, keepdim); }

Tensor mean(const Tensor& x, const Shape& dims_in, bool keepdim) {
  TS_CHECK(is_floating(x.dtype()), "mean: expected a floating-point tensor, got {}", x.describe());
  Shape dims = ops::normalize_dims(dims_in, x.dim(), "mean");
  int64_t n = 1;
  for (int64_t d : dims) n *= x.shape()[d];
  // y = sum(x, dims) / n  (composed: the gradient is g / n expanded)
  return mul(sum(x, dims, keepdim), n == 0 ? std::numeric_limits<double>::quiet_NaN() : 1.0 / n);
}
Tensor mean(const Tensor& x) { return mean(x, Shape{}, false); }
Tensor mean(const Tensor& x, int64_t dim, bool keepdim) { return mean(x, Shape{dim}, keepdim); }

std::pair<Tensor, Tensor> max(const Tensor& x, int64_t dim_in, bool keepdim) {
  int64_t dim = wrap_dim(dim_in, x.dim(), "max");
  TS_CHECK(x.numel() > 0 && (x.dim() == 0 || x.shape()[dim] > 0),
           "max: cannot reduce an empty dimension of {}", x.describe());
  if (x.dim() == 0) return {x.clone(), zeros({}, kInt64)};
  Shape kshape = reduced_shape(x.shape(), {dim}, true);
  Tensor values = empty(kshape, x.dtype()), indices = empty(kshape, kInt64);
  Tensor xf = is_floating(x.dtype()) ? x.detach().contiguous() : ops::materialize(x, kFloat64);
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (d < dim) outer *= x.shape()[d];
    if (d > dim) inner *= x.shape()[d];
  }
  Tensor vf = is_floating(x.dtype()) ? values : empty(kshape, kFloat64);
  dispatch_float(xf.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::max_reduce(xf.data<T>(), vf.data<T>(), indices.data<int64_t>(), outer, x.shape()[dim], inner);
  });
  if (!is_floating(x.dtype())) values = ops::materialize(vf, x.dtype());
  // values = max(x, dim);  dx = zeros with g placed at the argmax
  record("max", {x}, values, [shape = x.shape(), dim, indices](const Tensor& g, const BackwardContext&) {
    return TensorList{ops::scatter_add_zeros(g, shape, dim, indices)};
  });
  if (!keepdim) return {squeeze(values, dim), squeeze(indices, dim).detach()};
  return {values, indices};
}

Tensor max(const Tensor& x) {
  TS_CHECK(x.numel() > 0, "max: cannot reduce an empty tensor {}", x.describe());
  return max(reshape(x, {-1}), 0, false).first;
}

Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) {
  return max(x.detach(), dim, keepdim).second;
}

Tensor logsumexp(const Tensor& x, int64_t dim_in, bool keepdim) {
  TS_CHECK(is_floating(x.dtype()), "logsumexp: expected a floating-point tensor, got {}", x.describe());
  int64_t dim = wrap_dim(dim_in, x.dim(), "logsumexp");
  Tensor xc = ops::move_dim_last_contiguous(x.detach(), dim);
  const int64_t cols = x.dim() == 0 ? 1 : x.shape()[dim];
  Shape kshape = reduced_shape(x.shape(), {dim}, true);
  Tensor y = empty(kshape, x.dtype());
  dispatch_float(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::logsumexp_rows(xc.data<T>(), y.data<T>(), cols == 0 ? 0 : xc.numel() / cols, cols);
  });
  if (cols == 0) y.fill_(-std::numeric_limits<double>::infinity());
  // y = log(sum(exp(x), dim));  dx = g * exp(x - y)
  record("logsumexp", {x}, y, [sx = SavedTensor(x), sy = SavedTensor(y, true)](const Tensor& g, const BackwardContext& ctx) {
    return TensorList{mul(g, exp(sub(sx.unpack(ctx), sy.unpack(ctx))))};
  });
  return keepdim || x.dim() == 0 ? y : squeeze(y, dim);
}

Tensor var(const Tensor& x, const Shape& dims_in, int64_t correction, bool keepdim) {
  TS_CHECK(is_floating(x.dtype()), "var: expected a floating-point tensor, got {}", x.describe());
  Shape dims = ops::normalize_dims(dims_in, x.dim(), "var");
  int64_t n = 1;
  for (int64_t d : dims) n *= x.shape()[d];
  // var = sum((x - mean)^2) / (n - correction)   (composed: its gradient follows)
  Tensor centered = sub(x, mean(x, dims, true));
  double denom = static_cast<double>(n - correction);
  Tensor s = sum(square(centered), dims, keepdim);
  return mul(s, denom <= 0 ? std::numeric_limits<double>::infinity() : 1.0 / denom);
}
Tensor var(const Tensor& x, int64_t dim, int64_t correction, bool keepdim) {
  return var(x, Shape{dim}, correction, keepdim);
}

// ---- Tensor methods ----
Tensor Tensor::sum() const { return taesan::sum(*this); }
Tensor Tensor::sum(int64_t d, bool k) const { return taesan::sum(*this, d, k); }
Tensor Tensor::sum(const Shape& d, bool k) const { return taesan::sum(*this, d, k); }
Tensor Tensor::mean() const { return taesan::mean(*this); }
Tensor Tensor::mean(int64_t d, bool k) const { return taesan::mean(*this, d, k); }
Tensor Tensor::mean(const Shape& d, bool k) const { return taesan::mean(*this, d, k); }
std::pair<Tensor, Tensor> Tensor::max(int64_t d, bool k) const { return taesan::max(*this, d, k); }
Tensor Tensor::max() const { return taesan::max(*this); }
Tensor Tensor::argmax(int64_t d, bool k) const { return taesan::argmax(*this, d, k); }

}  // namespace taesan
