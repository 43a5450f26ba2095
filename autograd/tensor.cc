// Tensor handle basics: construction over storage, inspection, element access, autograd flags.
#include "taesan/autograd/tensor.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "taesan/autograd/engine.h"
#include "taesan/autograd/grad_mode.h"
#include "taesan/autograd/node.h"

namespace taesan {

Tensor Tensor::from_storage(std::shared_ptr<Storage> storage, int64_t offset, Shape shape,
                            Shape strides, DType dtype) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::move(storage);
  impl->offset = offset;
  impl->contiguous = is_contiguous_layout(shape, strides);
  impl->shape = std::move(shape);
  impl->strides = std::move(strides);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor Tensor::make_empty(const Shape& shape, DType dtype) {
  // The byte count, refusing shapes whose size overflows (a wrapped count would allocate a
  // buffer far smaller than the shape says).
  size_t nbytes = taesan::element_size(dtype);
  for (int64_t s : shape) TS_CHECK(s >= 0, "empty: negative size in shape {}", shape_str(shape));
  if (std::find(shape.begin(), shape.end(), 0) != shape.end()) nbytes = 0;
  for (int64_t s : shape) {
    TS_CHECK(!__builtin_mul_overflow(nbytes, static_cast<size_t>(s), &nbytes) &&
                 nbytes <= static_cast<size_t>(std::numeric_limits<int64_t>::max() / 2),
             "empty: shape {} of {} is too large (more than {} bytes)", shape_str(shape), dtype,
             std::numeric_limits<int64_t>::max() / 2);
  }
  auto storage = std::make_shared<Storage>(nbytes);
  return from_storage(std::move(storage), 0, shape, contiguous_strides(shape), dtype);
}

TensorImpl* Tensor::checked() const {
  TS_CHECK(impl_ != nullptr, "Tensor: operation on an undefined tensor");
  return impl_.get();
}

int64_t Tensor::size(int64_t dim) const {
  int64_t d = wrap_dim(dim, this->dim(), "Tensor::size");
  return this->dim() == 0 ? 1 : shape()[d];
}

int64_t Tensor::stride(int64_t dim) const {
  int64_t d = wrap_dim(dim, this->dim(), "Tensor::stride");
  return this->dim() == 0 ? 1 : strides()[d];
}

void* Tensor::raw_data() const {
  return static_cast<char*>(storage()->data()) + storage_offset() * element_size();
}

std::string Tensor::describe() const {
  if (!defined()) return "Tensor(undefined)";
  return fmt::format("Tensor{} {}", shape_str(shape()), dtype());
}

namespace {
template <typename To>
To read_element(const void* base, int64_t offset, DType dtype) {
  return dispatch_dtype(dtype, [&](auto tag) -> To {
    using From = decltype(tag);
    return static_cast<To>(static_cast<const From*>(base)[offset]);
  });
}
}  // namespace

template <typename T>
T Tensor::item() const {
  TS_CHECK(numel() == 1, "Tensor::item: expected a tensor with one element, got {}", describe());
  return read_element<T>(storage()->data(), storage_offset(), dtype());
}

template <typename T>
std::vector<T> Tensor::to_vector() const {
  std::vector<T> out;
  out.reserve(numel());
  const void* base = storage()->data();
  if (is_contiguous()) {
    for (int64_t i = 0, n = numel(); i < n; ++i)
      out.push_back(read_element<T>(base, storage_offset() + i, dtype()));
    return out;
  }
  for (StridedWalker w(shape(), {&strides()}); !w.done(); w.next())
    out.push_back(read_element<T>(base, storage_offset() + w.offset(0), dtype()));
  return out;
}

template <typename T>
T* Tensor::data() const {
  TS_CHECK(dtype() == dtype_of<T>(), "Tensor::data: requested {} data of a {}", dtype_of<T>(),
           describe());
  TS_CHECK(is_contiguous(), "Tensor::data: the tensor is not contiguous (shape {}, strides {}); call contiguous() first",
           shape_str(shape()), shape_str(strides()));
  return static_cast<T*>(raw_data());
}

#define TS_INSTANTIATE_ACCESS(T)                   \
  template T Tensor::item<T>() const;              \
  template std::vector<T> Tensor::to_vector<T>() const; \
  template T* Tensor::data<T>() const;
TS_INSTANTIATE_ACCESS(float)
TS_INSTANTIATE_ACCESS(double)
TS_INSTANTIATE_ACCESS(int64_t)
TS_INSTANTIATE_ACCESS(bool)
TS_INSTANTIATE_ACCESS(BFloat16)
#undef TS_INSTANTIATE_ACCESS

Tensor& Tensor::requires_grad_(bool flag) {
  TensorImpl* impl = checked();
  TS_CHECK(!flag || is_floating(impl->dtype),
           "requires_grad_: only floating-point tensors can require gradients, got {}", describe());
  TS_CHECK(impl->grad_fn == nullptr || flag,
           "requires_grad_: cannot clear requires_grad of a non-leaf tensor {} (use detach())",
           describe());
  impl->requires_grad = flag;
  return *this;
}

Tensor Tensor::grad() const { return Tensor(checked()->grad); }

void Tensor::set_grad(const Tensor& grad) const {
  if (grad.defined())
    TS_CHECK(grad.shape() == shape() && grad.dtype() == dtype(),
             "set_grad: gradient {} does not match tensor {}", grad.describe(), describe());
  checked()->grad = grad.impl();
}

void Tensor::retain_grad() const {
  TensorImpl* impl = checked();
  TS_CHECK(impl->requires_grad, "retain_grad: {} does not require grad", describe());
  if (impl->grad_fn) {
    impl->retains_grad = true;
    impl->grad_fn->set_retained_output(impl_);
  }
}

Tensor Tensor::detach() const {
  const TensorImpl* impl = checked();
  return from_storage(impl->storage, impl->offset, impl->shape, impl->strides, impl->dtype);
}

void Tensor::backward(const Tensor& grad, bool retain_graph, bool create_graph) const {
  autograd::backward({*this}, {grad}, retain_graph, create_graph);
}

}  // namespace taesan
