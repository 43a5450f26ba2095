// ts::Tensor: a cheap shared handle to a TensorImpl (storage + offset + shape + strides + dtype
// + autograd metadata). Copying a Tensor aliases the same data, like torch::Tensor.
// The methods that compute (reshape, sum, matmul, operators, ...) are declared here and
// defined beside their op in ops/, as libtorch does, so that a reader finds each op in one place.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "taesan/core/dtype.h"
#include "taesan/core/error.h"
#include "taesan/core/shape.h"
#include "taesan/core/storage.h"

namespace taesan {

namespace autograd {
class Node;
}

/// The shared state behind a Tensor handle. Library code only; users go through Tensor.
struct TensorImpl {
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;  ///< in elements
  Shape shape;
  Shape strides;  ///< in elements
  DType dtype = DType::Float32;
  bool contiguous = true;

  // Autograd metadata.
  bool requires_grad = false;  ///< leaves: set by the user; results: set by autograd::record
  bool retains_grad = false;
  std::shared_ptr<TensorImpl> grad;
  std::shared_ptr<autograd::Node> grad_fn;        ///< null for leaves
  std::weak_ptr<autograd::Node> grad_accumulator;  ///< leaves that require grad
};

class Tensor;
using TensorList = std::vector<Tensor>;

/// A handle to an n-dimensional strided array that may take part in automatic differentiation.
class Tensor {
 public:
  /// An undefined tensor (defined() == false).
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  /// A new tensor over `storage` with the given layout (no copy).
  static Tensor from_storage(std::shared_ptr<Storage> storage, int64_t offset, Shape shape,
                             Shape strides, DType dtype);
  /// An uninitialised contiguous tensor.
  static Tensor make_empty(const Shape& shape, DType dtype);

  bool defined() const { return impl_ != nullptr; }
  const std::shared_ptr<TensorImpl>& impl() const { return impl_; }

  // ---- inspect ----
  const Shape& shape() const { return checked()->shape; }
  /// Size of one dimension; negative dims count from the end.
  int64_t size(int64_t dim) const;
  int64_t dim() const { return static_cast<int64_t>(checked()->shape.size()); }
  int64_t numel() const { return shape_numel(checked()->shape); }
  const Shape& strides() const { return checked()->strides; }
  int64_t stride(int64_t dim) const;
  int64_t storage_offset() const { return checked()->offset; }
  DType dtype() const { return checked()->dtype; }
  bool is_contiguous() const { return checked()->contiguous; }
  size_t element_size() const { return taesan::element_size(dtype()); }
  const std::shared_ptr<Storage>& storage() const { return checked()->storage; }

  /// The single element of a one-element tensor, converted to T.
  template <typename T>
  T item() const;
  /// All elements in row-major order, converted to T (works on any layout).
  template <typename T>
  std::vector<T> to_vector() const;
  /// Pointer to the first element; the tensor must be contiguous and of dtype T.
  template <typename T>
  T* data() const;
  /// Pointer to the first element (offset applied), any layout and dtype.
  void* raw_data() const;
  /// A value for printing and error messages: "Tensor[2, 3] float32".
  std::string describe() const;

  // ---- autograd ----
  bool requires_grad() const { return checked()->requires_grad; }
  /// Marks a leaf as needing gradients. Only floating-point tensors can require grad.
  Tensor& requires_grad_(bool flag = true);
  /// The accumulated gradient; undefined until a backward pass reaches this tensor.
  Tensor grad() const;
  void set_grad(const Tensor& grad) const;
  /// Reverse-mode differentiation from this tensor. `grad` may be omitted for a one-element tensor.
  void backward(const Tensor& grad = Tensor(), bool retain_graph = false,
                bool create_graph = false) const;
  /// Keeps .grad() for a non-leaf tensor during backward.
  void retain_grad() const;
  /// True for tensors not produced by a recorded op.
  bool is_leaf() const { return checked()->grad_fn == nullptr; }
  const std::shared_ptr<autograd::Node>& grad_fn() const { return checked()->grad_fn; }
  /// A new tensor sharing storage, cut from the graph.
  Tensor detach() const;
  /// Version counter of the storage: bumped by every in-place write.
  uint64_t version() const { return storage()->version(); }
  void bump_version() const { storage()->bump_version(); }

  // ---- conversion and copies (ops/copy.cc) ----
  Tensor to(DType dtype) const;
  Tensor clone() const;
  Tensor contiguous() const;

  // ---- views (ops/shape_ops.cc) ----
  Tensor reshape(const Shape& shape) const;
  Tensor view(const Shape& shape) const;
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
  Tensor transpose(int64_t dim0, int64_t dim1) const;
  /// 2-D transpose.
  Tensor t() const;
  Tensor permute(const Shape& dims) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor squeeze() const;
  Tensor squeeze(int64_t dim) const;
  Tensor expand(const Shape& shape) const;
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor index_select(int64_t dim, const Tensor& index) const;
  Tensor gather(int64_t dim, const Tensor& index) const;

  // ---- elementwise (ops/elementwise.cc) ----
  Tensor neg() const;
  Tensor exp() const;
  Tensor log() const;
  Tensor sqrt() const;
  Tensor rsqrt() const;
  Tensor abs() const;
  Tensor tanh() const;
  Tensor sigmoid() const;
  Tensor relu() const;
  Tensor pow(double exponent) const;
  Tensor masked_fill(const Tensor& mask, double value) const;
  Tensor clamp(double min, double max) const;

  // ---- reductions (ops/reduction.cc) ----
  Tensor sum() const;
  Tensor sum(int64_t dim, bool keepdim = false) const;
  Tensor sum(const Shape& dims, bool keepdim = false) const;
  Tensor mean() const;
  Tensor mean(int64_t dim, bool keepdim = false) const;
  Tensor mean(const Shape& dims, bool keepdim = false) const;
  /// Values and indices of the maximum along `dim`.
  std::pair<Tensor, Tensor> max(int64_t dim, bool keepdim = false) const;
  Tensor max() const;
  Tensor argmax(int64_t dim, bool keepdim = false) const;

  // ---- linear algebra and neural (ops/linalg.cc, ops/nn_ops.cc) ----
  Tensor matmul(const Tensor& other) const;
  Tensor softmax(int64_t dim) const;
  Tensor log_softmax(int64_t dim) const;

  // ---- in place, never recorded in the graph (ops/inplace.cc) ----
  /// Fill with zeros / a value; copy `src` (broadcast) into this; this += alpha * other; this *= s.
  Tensor& zero_();
  Tensor& fill_(double value);
  Tensor& copy_(const Tensor& src);
  Tensor& add_(const Tensor& other, double alpha = 1.0);
  Tensor& mul_(double scalar);

 private:
  TensorImpl* checked() const;
  std::shared_ptr<TensorImpl> impl_;
};

// ---- operators (ops/elementwise.cc) ----
Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(double a, const Tensor& b);
Tensor operator-(const Tensor& a);
Tensor operator<(const Tensor& a, const Tensor& b);
Tensor operator>(const Tensor& a, const Tensor& b);
Tensor operator==(const Tensor& a, const Tensor& b);
Tensor operator<(const Tensor& a, double b);
Tensor operator>(const Tensor& a, double b);
Tensor operator==(const Tensor& a, double b);

}  // namespace taesan
