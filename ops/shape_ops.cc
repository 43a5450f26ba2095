// Shape and indexing ops with their backward rules (see shape_ops.h).
#include "taesan/ops/shape_ops.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include "taesan/autograd/factory.h"
#include "taesan/autograd/grad_mode.h"
#include "taesan/autograd/node.h"
#include "taesan/core/parallel.h"
#include "taesan/ops/copy.h"
#include "taesan/ops/iterate.h"
#include "taesan/ops/ops.h"

namespace taesan {
namespace {

using autograd::BackwardContext;
using autograd::record;

Tensor make_view(const Tensor& x, Shape shape, Shape strides, int64_t offset) {
  return Tensor::from_storage(x.storage(), offset, std::move(shape), std::move(strides), x.dtype());
}

Shape infer_shape(const Shape& shape, int64_t numel, const char* fn, const Tensor& x) {
  Shape out = shape;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      TS_CHECK(infer < 0, "{}: only one dimension can be -1, got shape {}", fn, shape_str(shape));
      infer = static_cast<int64_t>(i);
    } else {
      TS_CHECK(out[i] >= 0, "{}: invalid size {} in shape {}", fn, out[i], shape_str(shape));
      known *= out[i];
    }
  }
  if (infer >= 0) {
    TS_CHECK(known != 0 && numel % known == 0,
             "{}: shape {} is invalid for input {} of {} elements", fn, shape_str(shape),
             x.describe(), numel);
    out[infer] = numel / known;
  }
  TS_CHECK(shape_numel(out) == numel, "{}: shape {} is invalid for input {} of {} elements", fn,
           shape_str(shape), x.describe(), numel);
  return out;
}

// Strides that let `shape` view data laid out as (old_shape, old_strides), if any (PyTorch's rule).
std::optional<Shape> view_strides(const Shape& old_shape, const Shape& old_strides, const Shape& shape) {
  if (shape_numel(old_shape) == 0 || old_shape.empty() || is_contiguous_layout(old_shape, old_strides))
    return contiguous_strides(shape);
  Shape strides(shape.size());
  int64_t view_d = static_cast<int64_t>(shape.size()) - 1;
  int64_t chunk_base = old_strides.back(), tensor_numel = 1, view_numel = 1;
  for (int64_t d = static_cast<int64_t>(old_shape.size()) - 1; d >= 0; --d) {
    tensor_numel *= old_shape[d];
    if (d == 0 || (old_shape[d - 1] != 1 && old_strides[d - 1] != tensor_numel * chunk_base)) {
      while (view_d >= 0 && (view_numel < tensor_numel || shape[view_d] == 1)) {
        strides[view_d] = view_numel * chunk_base;
        view_numel *= shape[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (d > 0) {
        chunk_base = old_strides[d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return strides;
}

// y = view of x with a new shape;  dx = g.reshape(x.shape)
Tensor record_reshape(const Tensor& x, Tensor y, const char* name) {
  return record(name, {x}, y, [shape = x.shape()](const Tensor& g, const BackwardContext&) {
    return TensorList{reshape(g, shape)};
  });
}

void check_index(const Tensor& index, const char* fn) {
  TS_CHECK(index.dtype() == kInt64, "{}: index must be int64, got {}", fn, index.describe());
}

}  // namespace

Tensor view(const Tensor& x, const Shape& shape) {
  Shape s = infer_shape(shape, x.numel(), "view", x);
  auto strides = view_strides(x.shape(), x.strides(), s);
  TS_CHECK(strides.has_value(),
           "view: shape {} is not compatible with the layout of {} (strides {}); use reshape()",
           shape_str(s), x.describe(), shape_str(x.strides()));
  return record_reshape(x, make_view(x, s, *strides, x.storage_offset()), "view");
}

Tensor reshape(const Tensor& x, const Shape& shape) {
  Shape s = infer_shape(shape, x.numel(), "reshape", x);
  if (auto strides = view_strides(x.shape(), x.strides(), s))
    return record_reshape(x, make_view(x, s, *strides, x.storage_offset()), "reshape");
  Tensor c = x.contiguous();
  return record_reshape(c, make_view(c, s, contiguous_strides(s), c.storage_offset()), "reshape");
}

Tensor flatten(const Tensor& x, int64_t start_dim, int64_t end_dim) {
  if (x.dim() == 0) return reshape(x, {1});
  int64_t s = wrap_dim(start_dim, x.dim(), "flatten"), e = wrap_dim(end_dim, x.dim(), "flatten");
  TS_CHECK(s <= e, "flatten: start_dim {} comes after end_dim {}", start_dim, end_dim);
  Shape shape(x.shape().begin(), x.shape().begin() + s);
  int64_t n = 1;
  for (int64_t d = s; d <= e; ++d) n *= x.shape()[d];
  shape.push_back(n);
  shape.insert(shape.end(), x.shape().begin() + e + 1, x.shape().end());
  return reshape(x, shape);
}

Tensor permute(const Tensor& x, const Shape& dims) {
  const int64_t nd = x.dim();
  TS_CHECK(static_cast<int64_t>(dims.size()) == nd,
           "permute: got {} dims {} for a {}-d tensor {}", dims.size(), shape_str(dims), nd, x.describe());
  Shape shape(nd), strides(nd), inverse(nd);
  std::vector<bool> seen(nd, false);
  for (int64_t i = 0; i < nd; ++i) {
    int64_t d = wrap_dim(dims[i], nd, "permute");
    TS_CHECK(!seen[d], "permute: dim {} repeated in {}", d, shape_str(dims));
    seen[d] = true;
    shape[i] = x.shape()[d];
    strides[i] = x.strides()[d];
    inverse[d] = i;
  }
  Tensor y = make_view(x, shape, strides, x.storage_offset());
  // y = x.permute(dims);  dx = g.permute(inverse(dims))
  return record("permute", {x}, y, [inverse](const Tensor& g, const BackwardContext&) {
    return TensorList{permute(g, inverse)};
  });
}

Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1) {
  if (x.dim() == 0) {
    wrap_dim(dim0, 0, "transpose");
    wrap_dim(dim1, 0, "transpose");
    return view(x, {});
  }
  int64_t a = wrap_dim(dim0, x.dim(), "transpose"), b = wrap_dim(dim1, x.dim(), "transpose");
  Shape dims(x.dim());
  for (int64_t i = 0; i < x.dim(); ++i) dims[i] = i;
  std::swap(dims[a], dims[b]);
  return permute(x, dims);
}

Tensor unsqueeze(const Tensor& x, int64_t dim) {
  int64_t d = wrap_dim(dim, x.dim() + 1, "unsqueeze");
  Shape shape = x.shape(), strides = x.strides();
  int64_t stride = d < x.dim() ? x.strides()[d] * x.shape()[d] : 1;
  shape.insert(shape.begin() + d, 1);
  strides.insert(strides.begin() + d, stride);
  return record_reshape(x, make_view(x, shape, strides, x.storage_offset()), "unsqueeze");
}

Tensor squeeze(const Tensor& x) {
  Shape shape, strides;
  for (int64_t d = 0; d < x.dim(); ++d)
    if (x.shape()[d] != 1) {
      shape.push_back(x.shape()[d]);
      strides.push_back(x.strides()[d]);
    }
  return record_reshape(x, make_view(x, shape, strides, x.storage_offset()), "squeeze");
}

Tensor squeeze(const Tensor& x, int64_t dim) {
  int64_t d = wrap_dim(dim, x.dim(), "squeeze");
  Shape shape = x.shape(), strides = x.strides();
  if (x.dim() > 0 && shape[d] == 1) {
    shape.erase(shape.begin() + d);
    strides.erase(strides.begin() + d);
  }
  return record_reshape(x, make_view(x, shape, strides, x.storage_offset()), "squeeze");
}

Tensor expand(const Tensor& x, const Shape& shape) {
  const int64_t nd = static_cast<int64_t>(shape.size());
  TS_CHECK(nd >= x.dim(), "expand: cannot expand {} to fewer dims {}", x.describe(), shape_str(shape));
  Shape out(nd), strides(nd);
  for (int64_t i = 0; i < nd; ++i) {
    int64_t xd = i - (nd - x.dim());
    int64_t want = shape[i];
    if (xd < 0) {
      TS_CHECK(want >= 0, "expand: size {} invalid for a new leading dim in {}", want, shape_str(shape));
      out[i] = want;
      strides[i] = 0;
      continue;
    }
    int64_t have = x.shape()[xd];
    if (want == -1) want = have;
    TS_CHECK(have == want || have == 1,
             "expand: {} cannot be expanded to {} (dim {}: size {} is not 1 and differs from {})",
             x.describe(), shape_str(shape), i, have, want);
    out[i] = want;
    strides[i] = have == want ? x.strides()[xd] : 0;
  }
  Tensor y = make_view(x, out, strides, x.storage_offset());
  // y = x broadcast;  dx = sum of g over the broadcast dims
  return record("expand", {x}, y, [shape = x.shape()](const Tensor& g, const BackwardContext&) {
    return TensorList{ops::sum_to(g, shape)};
  });
}

namespace {
// Gradient of slice: zeros of `shape` with g written at the sliced positions.
//   y = slice_backward(g);  dg = gg.slice(dim, start, end, step)
Tensor slice_backward(const Tensor& g, const Shape& shape, int64_t dim, int64_t start,
                      int64_t end, int64_t step) {
  Tensor out = zeros(shape, g.dtype());
  ops::copy_into(slice(out, dim, start, end, step), g);
  return record("slice_backward", {g}, out, [=](const Tensor& gg, const BackwardContext&) {
    return TensorList{slice(gg, dim, start, end, step)};
  });
}
}  // namespace

Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step) {
  TS_CHECK(x.dim() > 0, "slice: cannot slice a 0-d tensor");
  int64_t d = wrap_dim(dim, x.dim(), "slice");
  TS_CHECK(step >= 1, "slice: step must be >= 1, got {}", step);
  const int64_t n = x.shape()[d];
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Shape shape = x.shape(), strides = x.strides();
  shape[d] = (end - start + step - 1) / step;
  strides[d] *= step;
  Tensor y = make_view(x, shape, strides, x.storage_offset() + start * x.strides()[d]);
  // y = x[start:end:step];  dx = zeros with g placed at the slice
  return record("slice", {x}, y, [=, xs = x.shape()](const Tensor& g, const BackwardContext&) {
    return TensorList{slice_backward(g, xs, d, start, end, step)};
  });
}

namespace ops {

Tensor sum_to(const Tensor& g, const Shape& shape) {
  if (g.shape() == shape) return g;
  const int64_t lead = g.dim() - static_cast<int64_t>(shape.size());
  TS_CHECK(lead >= 0, "sum_to: cannot reduce {} to {}", g.describe(), shape_str(shape));
  Shape dims;
  for (int64_t d = 0; d < g.dim(); ++d)
    if (d < lead || (shape[d - lead] == 1 && g.shape()[d] != 1)) dims.push_back(d);
  Tensor s = dims.empty() ? g : sum(g, dims, /*keepdim=*/true);
  return reshape(s, shape);
}

Tensor index_add_zeros(const Tensor& g, const Shape& shape, int64_t dim, const Tensor& index) {
  // out = zeros(shape); out.index_add_(dim, index, g);  dg = gg.index_select(dim, index)
  Tensor out = zeros(shape, g.dtype());
  Tensor gc = g.contiguous();
  const int64_t outer = shape_numel(Shape(shape.begin(), shape.begin() + dim));
  const int64_t inner = shape_numel(Shape(shape.begin() + dim + 1, shape.end()));
  const int64_t n_out = shape[dim], n_idx = index.numel();
  std::vector<int64_t> idx = index.to_vector<int64_t>();
  dispatch_float(g.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* o = out.data<T>();
    const T* src = gc.data<T>();
    // Each (outer, column range) is owned by one thread; rows are added in index order, so the
    // sums do not depend on the thread count.
    const int64_t col_chunk = 256, chunks = (inner + col_chunk - 1) / col_chunk;
    parallel_for(outer * chunks, std::max<int64_t>(1, 4096 / std::max<int64_t>(n_idx, 1)), [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t b = t / chunks, j0 = (t % chunks) * col_chunk, j1 = std::min(inner, j0 + col_chunk);
        for (int64_t i = 0; i < n_idx; ++i) {
          T* dst = o + (b * n_out + idx[i]) * inner;
          const T* s = src + (b * n_idx + i) * inner;
          for (int64_t j = j0; j < j1; ++j) dst[j] += s[j];
        }
      }
    });
  });
  return record("index_add", {g}, out, [dim, index](const Tensor& gg, const BackwardContext&) {
    return TensorList{index_select(gg, dim, index)};
  });
}

}  // namespace ops

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  check_index(index, "index_select");
  TS_CHECK(index.dim() <= 1, "index_select: index must be 0-d or 1-d, got {}", index.describe());
  TS_CHECK(x.dim() > 0, "index_select: cannot index a 0-d tensor");
  int64_t d = wrap_dim(dim, x.dim(), "index_select");
  const int64_t n = x.shape()[d];
  std::vector<int64_t> idx = index.to_vector<int64_t>();
  for (size_t i = 0; i < idx.size(); ++i)
    TS_CHECK(idx[i] >= 0 && idx[i] < n,
             "index_select: index {} at position {} is out of range for dim {} of size {} ({})",
             idx[i], i, d, n, x.describe());
  Shape shape = x.shape();
  shape[d] = static_cast<int64_t>(idx.size());
  Tensor y = empty(shape, x.dtype());
  const int64_t outer = shape_numel(Shape(shape.begin(), shape.begin() + d));
  const int64_t inner = shape_numel(Shape(shape.begin() + d + 1, shape.end()));
  const int64_t esize = static_cast<int64_t>(x.element_size());
  Tensor xc = x.contiguous();
  const char* src = static_cast<const char*>(xc.raw_data());
  char* dst = static_cast<char*>(y.raw_data());
  const int64_t k = static_cast<int64_t>(idx.size());
  parallel_for(outer * k, ops::row_grain(inner), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t b = r / k, i = r % k;
      std::memcpy(dst + r * inner * esize, src + (b * n + idx[i]) * inner * esize, inner * esize);
    }
  });
  Tensor index1 = index.dim() == 0 ? reshape(index, {1}) : index;
  // y = x.index_select(d, index);  dx = zeros(x.shape).index_add(d, index, g)
  return record("index_select", {x}, y, [d, index1, xs = x.shape()](const Tensor& g, const BackwardContext&) {
    return TensorList{ops::index_add_zeros(g, xs, d, index1)};
  });
}

namespace ops {
// dx of gather: zeros(shape) with g scattered-added at index along dim.
//   dg = gg.gather(dim, index)
Tensor scatter_add_zeros(const Tensor& g, const Shape& shape, int64_t dim, const Tensor& index) {
  Tensor out = zeros(shape, g.dtype());
  Tensor gc = g.contiguous(), ic = index.contiguous();
  const int64_t* ip = ic.data<int64_t>();
  const Shape ostr = contiguous_strides(shape);
  const Shape& ishape = index.shape();
  dispatch_float(g.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* o = out.data<T>();
    const T* gp = gc.data<T>();
    int64_t e = 0;
    for (StridedWalker w(ishape, {&ostr}); !w.done(); w.next(), ++e) {
      // A 0-d output has one element (index 0): no dim to move along.
      int64_t off = shape.empty() ? 0 : w.offset(0) + (ip[e] - w.index()[dim]) * ostr[dim];
      o[off] += gp[e];
    }
  });
  return record("scatter_add", {g}, out, [dim, index](const Tensor& gg, const BackwardContext&) {
    return TensorList{gather(gg, dim, index)};
  });
}
}  // namespace ops

Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
  check_index(index, "gather");
  int64_t d = wrap_dim(dim, x.dim(), "gather");
  TS_CHECK(index.dim() == x.dim(), "gather: index {} must have as many dims as input {}",
           index.describe(), x.describe());
  for (int64_t i = 0; i < x.dim(); ++i)
    TS_CHECK(i == d || index.shape()[i] <= x.shape()[i],
             "gather: index {} is larger than input {} in dim {}", index.describe(), x.describe(), i);
  Tensor y = empty(index.shape(), x.dtype());
  Tensor ic = index.contiguous();
  const int64_t* ip = ic.data<int64_t>();
  const int64_t n = x.dim() == 0 ? 1 : x.shape()[d];
  for (int64_t e = 0; e < ic.numel(); ++e)
    TS_CHECK(ip[e] >= 0 && ip[e] < n, "gather: index {} out of range for dim {} of size {} ({})",
             ip[e], d, n, x.describe());
  dispatch_dtype(x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* xp = static_cast<const T*>(x.raw_data());
    T* yp = static_cast<T*>(y.raw_data());
    int64_t e = 0;
    for (StridedWalker w(index.shape(), {&x.strides()}); !w.done(); w.next(), ++e) {
      // A 0-d input has one element (index 0, checked above): no dim to move along.
      int64_t off = x.dim() == 0 ? 0 : w.offset(0) + (ip[e] - w.index()[d]) * x.strides()[d];
      yp[e] = xp[off];
    }
  });
  // y = x.gather(d, index);  dx = zeros(x.shape).scatter_add(d, index, g)
  return record("gather", {x}, y, [d, ic, xs = x.shape()](const Tensor& g, const BackwardContext&) {
    return TensorList{ops::scatter_add_zeros(g, xs, d, ic)};
  });
}

Tensor cat(const TensorList& tensors, int64_t dim) {
  TS_CHECK(!tensors.empty(), "cat: expected a non-empty list of tensors");
  const Tensor& first = tensors[0];
  TS_CHECK(first.dim() > 0, "cat: zero-dimensional tensor {} cannot be concatenated", first.describe());
  int64_t d = wrap_dim(dim, first.dim(), "cat");
  Shape shape = first.shape();
  shape[d] = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    TS_CHECK(t.dtype() == first.dtype(), "cat: tensor {} is {} but tensor 0 is {}", i, t.dtype(), first.dtype());
    TS_CHECK(t.dim() == first.dim(), "cat: tensor {} {} has a different number of dims than tensor 0 {}",
             i, t.describe(), first.describe());
    for (int64_t k = 0; k < t.dim(); ++k)
      TS_CHECK(k == d || t.shape()[k] == first.shape()[k],
               "cat: sizes must match except in dim {}: tensor {} is {}, tensor 0 is {}", d, i,
               t.describe(), first.describe());
    shape[d] += t.shape()[d];
  }
  Tensor y = empty(shape, first.dtype());
  int64_t pos = 0;
  std::vector<int64_t> sizes;
  for (const Tensor& t : tensors) {
    ops::copy_into(slice(y.detach(), d, pos, pos + t.shape()[d]), t);
    sizes.push_back(t.shape()[d]);
    pos += t.shape()[d];
  }
  // y = cat(xs, d);  dx_i = g.slice(d, offset_i, offset_i + size_i)
  return record("cat", tensors, y, [d, sizes](const Tensor& g, const BackwardContext& ctx) {
    TensorList grads;
    int64_t p = 0;
    for (size_t i = 0; i < sizes.size(); ++i) {
      grads.push_back(ctx.needs_grad(i) ? slice(g, d, p, p + sizes[i]) : Tensor());
      p += sizes[i];
    }
    return grads;
  });
}

Tensor stack(const TensorList& tensors, int64_t dim) {
  TS_CHECK(!tensors.empty(), "stack: expected a non-empty list of tensors");
  int64_t d = wrap_dim(dim, tensors[0].dim() + 1, "stack");
  TensorList parts;
  for (size_t i = 0; i < tensors.size(); ++i) {
    TS_CHECK(tensors[i].shape() == tensors[0].shape(),
             "stack: all tensors must have the same shape: tensor {} is {}, tensor 0 is {}", i,
             tensors[i].describe(), tensors[0].describe());
    parts.push_back(unsqueeze(tensors[i], d));
  }
  return cat(parts, d);
}

TensorList split(const Tensor& x, int64_t size, int64_t dim) {
  TS_CHECK(size > 0, "split: size must be positive, got {}", size);
  TS_CHECK(x.dim() > 0, "split: cannot split a 0-d tensor");
  int64_t d = wrap_dim(dim, x.dim(), "split");
  TensorList parts;
  for (int64_t p = 0; p < x.shape()[d]; p += size) parts.push_back(slice(x, d, p, p + size));
  if (parts.empty()) parts.push_back(slice(x, d, 0, 0));
  return parts;
}

// ---- Tensor methods ----
Tensor Tensor::reshape(const Shape& shape) const { return taesan::reshape(*this, shape); }
Tensor Tensor::view(const Shape& shape) const { return taesan::view(*this, shape); }
Tensor Tensor::flatten(int64_t s, int64_t e) const { return taesan::flatten(*this, s, e); }
Tensor Tensor::transpose(int64_t a, int64_t b) const { return taesan::transpose(*this, a, b); }
Tensor Tensor::t() const {
  TS_CHECK(dim() <= 2, "t: expects a tensor with <= 2 dims, got {}", describe());
  return dim() < 2 ? taesan::view(*this, shape()) : taesan::transpose(*this, 0, 1);
}
Tensor Tensor::permute(const Shape& dims) const { return taesan::permute(*this, dims); }
Tensor Tensor::unsqueeze(int64_t d) const { return taesan::unsqueeze(*this, d); }
Tensor Tensor::squeeze() const { return taesan::squeeze(*this); }
Tensor Tensor::squeeze(int64_t d) const { return taesan::squeeze(*this, d); }
Tensor Tensor::expand(const Shape& shape) const { return taesan::expand(*this, shape); }
Tensor Tensor::slice(int64_t d, int64_t s, int64_t e, int64_t st) const {
  return taesan::slice(*this, d, s, e, st);
}
Tensor Tensor::index_select(int64_t d, const Tensor& i) const { return taesan::index_select(*this, d, i); }
Tensor Tensor::gather(int64_t d, const Tensor& i) const { return taesan::gather(*this, d, i); }

}  // namespace taesan
