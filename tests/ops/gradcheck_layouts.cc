// The input layouts of the OpInfo table (gradcheck_table.h): the same values in other memory
// layouts, the gradient of the output in the same layout, and the check that a case really
// got a non-contiguous (or stride-0) differentiable input.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

#include "gradcheck_table.h"
#include "taesan/autograd/grad_mode.h"
#include <taesan/taesan.h>

namespace taesan::test {
namespace {

// What a sliced layout puts between the elements: a value no op can read without it showing.
double sentinel(DType dtype) {
  if (is_floating(dtype)) return std::numeric_limits<double>::quiet_NaN();
  if (dtype == kInt64) return 1e15;  // an index out of range everywhere
  return 1.0;
}

Shape reversed_dims(int64_t n) {
  Shape dims;
  for (int64_t d = n - 1; d >= 0; --d) dims.push_back(d);
  return dims;
}

int64_t dims_above_one(const Tensor& t) {
  int64_t n = 0;
  for (int64_t s : t.shape()) n += s > 1;
  return n;
}

// A new tensor with t's values (and requires_grad) in `layout` (transposed or sliced).
Tensor relayout(const Tensor& t, Layout layout) {
  if (!t.defined()) return t;
  Tensor values = t.detach();
  Tensor out;
  if (layout == Layout::kTransposed) {
    const Shape rev = reversed_dims(t.dim());
    out = values.permute(rev).clone().permute(rev);  // permute is its own inverse here
  } else {
    Shape buffer_shape;
    for (int64_t s : t.shape()) buffer_shape.push_back(2 * s + 1);
    Tensor buffer = full(buffer_shape, sentinel(t.dtype()), t.dtype());
    out = buffer;
    for (int64_t d = 0; d < t.dim(); ++d) out = out.slice(d, 1, 2 * t.size(d) + 1, 2);
    out.copy_(values);
  }
  if (t.requires_grad()) out.requires_grad_();
  return out;
}

// y with its gradient arriving in `layout`: y's dims reversed (transposed), or y as the odd
// half of a stack with zeros, whose gradient is a step-2 view of the stack's (sliced).
Tensor relayout_output(const Tensor& y, Layout layout) {
  if (layout == Layout::kTransposed && dims_above_one(y) >= 2)
    return y.permute(reversed_dims(y.dim()));
  if (layout == Layout::kTransposed || layout == Layout::kSliced)
    return stack({zeros_like(y.detach()), y}, -1);
  return y;
}

bool has_zero_stride(const Tensor& t) {
  for (int64_t d = 0; d < t.dim(); ++d)
    if (t.size(d) > 1 && t.stride(d) == 0) return true;
  return false;
}

}  // namespace

const char* layout_name(Layout layout) {
  switch (layout) {
    case Layout::kPlain:
      return "plain";
    case Layout::kTransposed:
      return "transposed";
    case Layout::kSliced:
      return "sliced";
    case Layout::kExpanded:
      return "expanded";
  }
  return "?";
}

std::optional<LayoutCase> in_layout(const OpCase& c, Layout layout, DType dtype) {
  if (c.skip.count(layout)) return std::nullopt;
  TensorList plain = c.make_inputs();
  for (Tensor& t : plain)
    if (t.defined() && is_floating(t.dtype()) && t.dtype() != dtype) {
      const bool grad = t.requires_grad();
      t = t.detach().to(dtype);
      if (grad) t.requires_grad_();
    }
  LayoutCase lc{layout, {}, [](const TensorList& x) { return x; }, {}};
  bool changed = layout == Layout::kPlain;
  if (layout == Layout::kTransposed || layout == Layout::kSliced) {
    for (const Tensor& t : plain) {
      lc.inputs.push_back(relayout(t, layout));
      const Tensor& r = lc.inputs.back();
      changed = changed || (r.defined() && r.requires_grad() && !r.is_contiguous());
    }
  } else if (layout == Layout::kExpanded) {
    // expand_to[i]: the shape input i is expanded to inside fn (empty: passed as it is).
    std::vector<std::optional<Shape>> expand_to(plain.size());
    for (size_t i = 0; i < plain.size(); ++i) {
      const Tensor& t = plain[i];
      int64_t d = 0;
      while (t.defined() && d < t.dim() && t.size(d) <= 1) ++d;
      if (!t.defined() || !t.requires_grad() || d == t.dim()) {
        lc.inputs.push_back(t);
        continue;
      }
      lc.inputs.push_back(t.detach().slice(d, 0, 1).clone().requires_grad_());
      expand_to[i] = t.shape();
      changed = true;
    }
    lc.op_inputs = [expand_to](const TensorList& x) {
      TensorList out = x;
      for (size_t i = 0; i < x.size(); ++i)
        if (expand_to[i]) {
          out[i] = x[i].expand(*expand_to[i]);
          REQUIRE(has_zero_stride(out[i]));
        }
      return out;
    };
  } else {
    lc.inputs = plain;
  }
  if (!changed) return std::nullopt;
  lc.fn = [fn = c.fn, prep = lc.op_inputs, layout](const TensorList& x) {
    return relayout_output(fn(prep(x)), layout);
  };
  return lc;
}

double max_rel_diff(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return std::numeric_limits<double>::infinity();
  std::vector<double> va = a.to_vector<double>(), vb = b.to_vector<double>();
  double worst = 0;
  for (size_t i = 0; i < va.size(); ++i) {
    if (std::isnan(va[i]) && std::isnan(vb[i])) continue;
    if (va[i] == vb[i]) continue;  // equal infinities
    double d = std::abs(va[i] - vb[i]) / std::max(std::abs(vb[i]), 1.0);
    if (!(d <= worst)) worst = std::isnan(d) ? std::numeric_limits<double>::infinity() : d;
  }
  return worst;
}

}  // namespace taesan::test
