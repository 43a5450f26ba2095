// Autocast's rounding nodes (see autocast.h):
//   y = bf16(x):            dx = g              (straight through, in x's dtype)
//   y = x (autocast_output): dx = bf16(g)
#include "taesan/ops/autocast.h"

#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

#include "taesan/autograd/autocast.h"
#include "taesan/autograd/node.h"
#include "taesan/ops/copy.h"
#include "taesan/ops/kernels/convert.h"

namespace taesan::ops {
namespace {

// True when t's elements fill the storage range [offset, offset + numel) exactly once: a
// permutation of a contiguous layout (a transposed weight, attention's (B, H, T, w) head views of
// (B, T, H, w) projections). Such a tensor converts with one pass over that range.
bool dense(const Tensor& t) {
  std::vector<std::pair<int64_t, int64_t>> dims;  // (stride, size) of the dims that move
  for (int64_t d = 0; d < t.dim(); ++d) {
    if (t.shape()[d] == 0) return true;
    if (t.shape()[d] > 1) dims.emplace_back(t.strides()[d], t.shape()[d]);
  }
  std::sort(dims.begin(), dims.end());
  int64_t expected = 1;
  for (const auto& [stride, size] : dims) {
    if (stride != expected) return false;
    expected *= size;
  }
  return true;
}

}  // namespace

bool autocast_applies(const TensorList& operands) {
  if (!AutocastMode::is_enabled()) return false;
  for (const Tensor& t : operands)
    if (t.defined() && t.dtype() != kFloat32 && t.dtype() != kBFloat16) return false;
  return true;
}

Tensor autocast_operand(const Tensor& x) {
  TS_CHECK(x.dtype() == kFloat32 || x.dtype() == kBFloat16,
           "autocast_operand: expected a float32 or bfloat16 tensor, got {}", x.describe());
  Tensor src = x.detach();
  if (!dense(src)) src = materialize(src, src.dtype());
  const int64_t n = src.numel();
  Tensor y = Tensor::from_storage(std::make_shared<Storage>(static_cast<size_t>(n) * 4), 0,
                                  src.shape(), src.strides(), kFloat32);
  if (n > 0) {
    float* out = static_cast<float*>(y.storage()->data());
    if (src.dtype() == kFloat32)
      kernels::round_to_bf16(static_cast<const float*>(src.raw_data()), out, n);
    else
      kernels::bf16_to_float(static_cast<const uint16_t*>(src.raw_data()), out, n);
  }
  // y = bf16(x);  dx = g (rounding is treated as the identity, as PyTorch's casts are)
  return autograd::record("autocast_operand", {x}, y,
                          [from = x.dtype()](const Tensor& g, const autograd::BackwardContext&) {
                            return TensorList{g.dtype() == from ? g : g.to(from)};
                          });
}

Tensor autocast_output(const Tensor& y) {
  if (!autograd::needs_graph(y)) return y;
  Tensor out = y.detach();
  // out = y;  dy = bf16(g): the op's gradient GEMMs then multiply bfloat16 values too
  return autograd::record("autocast_output", {y}, out,
                          [](const Tensor& g, const autograd::BackwardContext&) {
                            return TensorList{autocast_operand(g)};
                          });
}

}  // namespace taesan::ops
