// In-place updates (zero_, fill_, copy_, add_, mul_): never recorded in the graph, they bump the
// storage version so that autograd notices when a tensor saved for backward was overwritten.
// Used by optimizers and initialisers (under NoGradGuard or on tensors that need no grad).
#include "taesan/autograd/factory.h"
#include "taesan/autograd/grad_mode.h"
#include "taesan/ops/copy.h"
#include "taesan/ops/iterate.h"
#include "taesan/ops/kernels/elementwise.h"
#include "taesan/ops/ops.h"

namespace taesan {
namespace {

// Elements that share one memory location (a stride-0 dim of size > 1, as expand makes) would be
// updated several times by add_ / mul_ / copy_, so that the result depends on the order (PyTorch
// refuses them too). fill_ writes one value everywhere and stays allowed.
void check_no_shared_elements(const Tensor& t, const char* fn) {
  for (int64_t d = 0; d < t.dim(); ++d)
    TS_CHECK(t.shape()[d] <= 1 || t.strides()[d] != 0,
             "{}: {} has elements that share memory (dim {} has stride 0, e.g. from expand); "
             "updating it in place is ambiguous: clone() it first",
             fn, t.describe(), d);
}

void check_inplace(const Tensor& t, const char* fn) {
  TS_CHECK(t.defined(), "{}: undefined tensor", fn);
  if (!GradMode::is_enabled() || !t.requires_grad()) return;
  TS_CHECK(!t.is_leaf(),
           "{}: a leaf tensor that requires grad ({}) cannot be modified in place while grad mode "
           "is on; use NoGradGuard (as optimizers do)", fn, t.describe());
  fail("{}: in-place modification of a tensor that is part of the graph ({}) is not supported; "
       "use the out-of-place op", fn, t.describe());
}

}  // namespace

Tensor& Tensor::zero_() { return fill_(0.0); }

Tensor& Tensor::fill_(double value) {
  check_inplace(*this, "fill_");
  ops::copy_into(*this, full({}, value, dtype()));
  bump_version();
  return *this;
}

Tensor& Tensor::copy_(const Tensor& src) {
  check_inplace(*this, "copy_");
  check_no_shared_elements(*this, "copy_");
  TS_CHECK(src.defined(), "copy_: undefined source");
  Tensor s = src.detach();
  if (s.storage() == storage()) s = s.clone();  // overlapping source: read it before writing
  ops::copy_into(*this, s);
  bump_version();
  return *this;
}

Tensor& Tensor::add_(const Tensor& other, double alpha) {
  check_inplace(*this, "add_");
  check_no_shared_elements(*this, "add_");
  TS_CHECK(is_floating(dtype()), "add_: expected a floating-point tensor, got {}", describe());
  broadcast_shapes(other.shape(), shape(), "add_");
  if (is_contiguous() && other.is_contiguous() && other.shape() == shape() && other.dtype() == dtype() &&
      other.storage() != storage()) {
    dispatch_float(dtype(), [&](auto tag) {
      using T = decltype(tag);
      kernels::axpy(static_cast<T>(alpha), other.data<T>(), data<T>(), numel());
    });
  } else {
    NoGradGuard no_grad;
    ops::copy_into(*this, add(detach(), mul(other.detach(), alpha)));
  }
  bump_version();
  return *this;
}

Tensor& Tensor::mul_(double scalar) {
  check_inplace(*this, "mul_");
  check_no_shared_elements(*this, "mul_");
  TS_CHECK(is_floating(dtype()), "mul_: expected a floating-point tensor, got {}", describe());
  ops::RowPlan plan = ops::plan_rows(shape(), {strides()});
  dispatch_float(dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* p = static_cast<T*>(raw_data());
    const int64_t n = plan.inner, s = plan.inner_stride[0];
    ops::for_each_row(plan, ops::row_grain(n), [&](const int64_t* off) {
      kernels::unary(kernels::UnaryOp::kMulScalar, scalar, p + off[0], s, p + off[0], s, n);
    });
  });
  bump_version();
  return *this;
}

}  // namespace taesan
