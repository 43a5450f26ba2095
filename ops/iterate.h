// Strided iteration for ops: a layout of several operands over one shape is coalesced into
// (outer rows) x (inner run); kernels then run on each inner run with per-operand strides, and
// rows are split across threads (each output element written by exactly one thread).
#pragma once

#include <functional>
#include <vector>

#include "taesan/autograd/tensor.h"

namespace taesan::ops {

/// Operands' strides broadcast to `shape` (0 on broadcast dims), coalesced.
struct RowPlan {
  Shape outer_shape;                 ///< sizes of the outer dims (row-major)
  std::vector<Shape> outer_strides;  ///< per operand, per outer dim
  int64_t inner = 1;                 ///< length of the innermost run
  std::vector<int64_t> inner_stride; ///< per operand
  int64_t rows() const { return shape_numel(outer_shape); }
};

/// Strides of `t` viewed as broadcast to `shape` (t's shape must broadcast to it).
Shape broadcast_strides(const Tensor& t, const Shape& shape);

/// Builds the plan for operands with the given strides over `shape`.
RowPlan plan_rows(const Shape& shape, const std::vector<Shape>& strides);

/// Calls fn(offsets) for every row, offsets[k] = element offset of operand k's row start
/// (relative to the operand's first element). Rows are split across threads in chunks of
/// at least `grain_rows`.
void for_each_row(const RowPlan& plan, int64_t grain_rows,
                  const std::function<void(const int64_t* offsets)>& fn);

/// Grain (rows per chunk) so that a chunk holds about 32K elements.
inline int64_t row_grain(int64_t inner) { return std::max<int64_t>(1, (int64_t{1} << 15) / std::max<int64_t>(inner, 1)); }

}  // namespace taesan::ops
