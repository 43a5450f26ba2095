// Shapes and strides: element counts, contiguous strides, dimension wrapping, broadcasting,
// and a strided index walker used wherever a tensor is read element by element.
#pragma once

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstdint>
#include <string>
#include <vector>

namespace taesan {

/// A tensor shape (or strides): sizes of each dimension, outermost first.
using Shape = std::vector<int64_t>;

/// Product of the sizes (1 for a 0-d shape).
int64_t shape_numel(const Shape& shape);

/// Row-major strides of a contiguous tensor of this shape.
Shape contiguous_strides(const Shape& shape);

/// True when (shape, strides) describe a row-major dense layout (size-1 dims may have any stride).
bool is_contiguous_layout(const Shape& shape, const Shape& strides);

/// Maps a possibly negative dim into [0, ndim); throws naming `fn` when out of range.
/// `ndim + 1` positions are allowed when inserting (unsqueeze, stack).
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* fn);

/// NumPy broadcast of two shapes; throws naming `fn` when incompatible.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* fn);

/// "[2, 3]".
std::string shape_str(const Shape& shape);

/// Walks every multi-index of `shape` in row-major order, tracking the element offset of one or
/// more strided operands. Use: for (StridedWalker w(shape, {&s1, &s2}); !w.done(); w.next())
/// w.offset(0)...
class StridedWalker {
 public:
  StridedWalker(const Shape& shape, std::vector<const Shape*> strides);
  bool done() const { return done_; }
  void next();
  int64_t offset(size_t operand) const { return offsets_[operand]; }
  const Shape& index() const { return index_; }

 private:
  Shape shape_;
  std::vector<const Shape*> strides_;
  Shape index_;
  std::vector<int64_t> offsets_;
  bool done_;
};

}  // namespace taesan
