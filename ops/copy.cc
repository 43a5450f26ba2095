// to(dtype), clone(), contiguous() and the strided copy behind them.
//   y = x.to(dtype):   dx = g.to(x.dtype)
//   y = x.clone():     dx = g
#include "taesan/ops/copy.h"

#include <cstring>
#include <type_traits>

#include "taesan/autograd/factory.h"
#include "taesan/autograd/node.h"
#include "taesan/ops/iterate.h"
#include "taesan/ops/kernels/convert.h"

namespace taesan::ops {

void copy_into(const Tensor& dst, const Tensor& src) {
  broadcast_shapes(src.shape(), dst.shape(), "copy_");  // validates
  TS_CHECK(shape_numel(broadcast_shapes(src.shape(), dst.shape(), "copy_")) == dst.numel(),
           "copy_: source {} cannot be broadcast to destination {}", src.describe(), dst.describe());
  if (dst.numel() == 0) return;
  if (src.dtype() == dst.dtype() && src.shape() == dst.shape() && src.is_contiguous() &&
      dst.is_contiguous()) {
    if (src.raw_data() != dst.raw_data())
      std::memmove(dst.raw_data(), src.raw_data(), dst.numel() * dst.element_size());
    return;
  }
  ops::RowPlan plan = ops::plan_rows(dst.shape(), {dst.strides(), broadcast_strides(src, dst.shape())});
  dispatch_dtype(dst.dtype(), [&](auto dtag) {
    using D = decltype(dtag);
    dispatch_dtype(src.dtype(), [&](auto stag) {
      using S = decltype(stag);
      D* d = static_cast<D*>(dst.raw_data());
      const S* s = static_cast<const S*>(src.raw_data());
      const int64_t n = plan.inner, sd = plan.inner_stride[0], ss = plan.inner_stride[1];
      for_each_row(plan, row_grain(n), [&](const int64_t* off) {
        D* dp = d + off[0];
        const S* sp = s + off[1];
        if (sd == 1 && ss == 1) {
          // float32 <-> bfloat16 runs the SIMD conversion (the same rounding as the cast below).
          if constexpr (std::is_same_v<D, BFloat16> && std::is_same_v<S, float>)
            kernels::float_to_bf16(sp, &dp->bits, n);
          else if constexpr (std::is_same_v<D, float> && std::is_same_v<S, BFloat16>)
            kernels::bf16_to_float(&sp->bits, dp, n);
          else
            for (int64_t i = 0; i < n; ++i) dp[i] = static_cast<D>(sp[i]);
        } else {
          for (int64_t i = 0; i < n; ++i) dp[i * sd] = static_cast<D>(sp[i * ss]);
        }
      });
    });
  });
}

Tensor materialize(const Tensor& t, DType dtype) {
  Tensor out = empty(t.shape(), dtype);
  copy_into(out, t);
  return out;
}

}  // namespace taesan::ops

namespace taesan {

Tensor Tensor::to(DType dtype) const {
  const Tensor& x = *this;
  Tensor y = ops::materialize(x, dtype);
  if (!is_floating(dtype)) return y;
  // y = x.to(dtype);  dx = g.to(x.dtype)
  return autograd::record("to", {x}, y, [from = x.dtype()](const Tensor& g, const autograd::BackwardContext&) {
    return TensorList{g.to(from)};
  });
}

Tensor Tensor::clone() const {
  const Tensor& x = *this;
  Tensor y = ops::materialize(x, x.dtype());
  // y = x;  dx = g
  return autograd::record("clone", {x}, y, [](const Tensor& g, const autograd::BackwardContext&) {
    return TensorList{g};
  });
}

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  return clone();
}

}  // namespace taesan
