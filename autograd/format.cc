// Tensor printing (see format.h).
#include "taesan/autograd/format.h"

#include <cmath>

#include "taesan/autograd/node.h"

namespace taesan {
namespace {

constexpr int64_t kSummarizeAbove = 1000;
constexpr int64_t kEdgeItems = 3;

std::string format_value(double v, DType dtype) {
  if (dtype == kBool) return v != 0 ? "True" : "False";
  if (dtype == kInt64) return fmt::format("{}", static_cast<int64_t>(v));
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return fmt::format("{:.4f}", v);
}

void format_dim(const Tensor& t, const std::vector<double>& values, const Shape& strides,
                int64_t dim, int64_t offset, bool summarize, int indent, std::string& out) {
  const int64_t n = t.shape()[dim];
  out += '[';
  for (int64_t i = 0; i < n; ++i) {
    if (summarize && n > 2 * kEdgeItems && i == kEdgeItems) {
      out += dim + 1 == t.dim() ? "..., " : fmt::format("...,\n{:{}}", "", indent + 1);
      i = n - kEdgeItems;
    }
    if (dim + 1 == t.dim()) {
      out += format_value(values[offset + i * strides[dim]], t.dtype());
    } else {
      format_dim(t, values, strides, dim + 1, offset + i * strides[dim], summarize, indent + 1, out);
    }
    if (i + 1 < n) out += dim + 1 == t.dim() ? ", " : fmt::format(",\n{:{}}", "", indent + 1);
  }
  out += ']';
}

}  // namespace

std::string to_string(const Tensor& t) {
  if (!t.defined()) return "Tensor(undefined)";
  std::vector<double> values = t.to_vector<double>();
  std::string body;
  if (t.dim() == 0) {
    body = format_value(values[0], t.dtype());
  } else {
    format_dim(t, values, contiguous_strides(t.shape()), 0, 0, t.numel() > kSummarizeAbove, 7, body);
  }
  std::string extra;
  if (t.dtype() != kFloat32) extra += fmt::format(", dtype={}", t.dtype());
  if (t.grad_fn()) extra += fmt::format(", grad_fn=<{}>", t.grad_fn()->name());
  else if (t.requires_grad()) extra += ", requires_grad=True";
  return fmt::format("tensor({}{})", body, extra);
}

}  // namespace taesan
