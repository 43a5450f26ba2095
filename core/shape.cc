// Shape helpers (see shape.h).
#include "taesan/core/shape.h"

#include "taesan/core/error.h"

namespace taesan {

int64_t shape_numel(const Shape& shape) {
  // A zero size anywhere gives 0 whatever the other sizes (whose product may not fit in int64:
  // no signed overflow on the way there).
  uint64_t n = 1;
  for (int64_t s : shape) {
    if (s == 0) return 0;
    n *= static_cast<uint64_t>(s);
  }
  return static_cast<int64_t>(n);
}

Shape contiguous_strides(const Shape& shape) {
  Shape strides(shape.size());
  uint64_t s = 1;  // unsigned: an empty shape with huge other sizes must not overflow a signed int
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = static_cast<int64_t>(s);
    s *= static_cast<uint64_t>(std::max<int64_t>(shape[i], 1));
  }
  return strides;
}

bool is_contiguous_layout(const Shape& shape, const Shape& strides) {
  int64_t expected = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    if (shape[i] == 0) return true;
    if (shape[i] == 1) continue;
    if (strides[i] != expected) return false;
    expected *= shape[i];
  }
  return true;
}

int64_t wrap_dim(int64_t dim, int64_t ndim, const char* fn) {
  int64_t lo = -ndim, hi = ndim - 1;
  if (ndim == 0) lo = -1, hi = 0;  // a 0-d tensor accepts dim 0 / -1 like PyTorch
  TS_CHECK(dim >= lo && dim <= hi,
           "{}: dimension {} out of range for a {}-d tensor (expected {} to {})", fn, dim, ndim, lo,
           hi);
  return dim < 0 ? dim + std::max<int64_t>(ndim, 1) : dim;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* fn) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    TS_CHECK(da == db || da == 1 || db == 1,
             "{}: shapes {} and {} cannot be broadcast together (dimension {}: {} vs {})", fn,
             shape_str(a), shape_str(b), i, da, db);
    out[i] = da == 1 ? db : da;
  }
  return out;
}

std::string shape_str(const Shape& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

StridedWalker::StridedWalker(const Shape& shape, std::vector<const Shape*> strides)
    : shape_(shape),
      strides_(std::move(strides)),
      index_(shape.size(), 0),
      offsets_(strides_.size(), 0),
      done_(shape_numel(shape) == 0) {}

void StridedWalker::next() {
  for (size_t d = shape_.size(); d-- > 0;) {
    if (++index_[d] < shape_[d]) {
      for (size_t k = 0; k < strides_.size(); ++k) offsets_[k] += (*strides_[k])[d];
      return;
    }
    for (size_t k = 0; k < strides_.size(); ++k) offsets_[k] -= (*strides_[k])[d] * (shape_[d] - 1);
    index_[d] = 0;
  }
  done_ = true;
}

}  // namespace taesan
