// Shape and indexing ops. Views (reshape of compatible layouts, view, transpose, permute,
// unsqueeze, squeeze, expand, slice) share storage with their input; the others copy.
#pragma once

#include <vector>

#include "taesan/autograd/tensor.h"

namespace taesan {

/// Same data, new shape (one dim may be -1). A view when the layout allows, else a copy.
Tensor reshape(const Tensor& x, const Shape& shape);
/// Like reshape but never copies; throws when the layout does not allow a view.
Tensor view(const Tensor& x, const Shape& shape);
Tensor flatten(const Tensor& x, int64_t start_dim = 0, int64_t end_dim = -1);
Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1);
Tensor permute(const Tensor& x, const Shape& dims);
Tensor unsqueeze(const Tensor& x, int64_t dim);
/// Removes every size-1 dim / the given dim if it has size 1.
Tensor squeeze(const Tensor& x);
Tensor squeeze(const Tensor& x, int64_t dim);
/// Broadcasts size-1 dims (and new leading dims) to `shape`; -1 keeps a size. A view (stride 0).
Tensor expand(const Tensor& x, const Shape& shape);
/// Elements start, start+step, ... < end along dim (negative start/end count from the end;
/// clamped to the size like Python slicing). step >= 1.
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step = 1);
/// Picks entries of `index` (int64, 1-d) along dim.
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);
/// out[i][j][k] = x[index[i][j][k]][j][k] (dim 0), etc.; index has x's number of dims.
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);
/// Concatenates along an existing dim.
Tensor cat(const TensorList& tensors, int64_t dim = 0);
/// Stacks along a new dim.
Tensor stack(const TensorList& tensors, int64_t dim = 0);
/// Chunks of `size` along dim (the last may be smaller); views.
TensorList split(const Tensor& x, int64_t size, int64_t dim = 0);

namespace ops {
/// Sums g over the dims that were broadcast to turn `shape` into g.shape() (differentiable).
Tensor sum_to(const Tensor& g, const Shape& shape);
/// x's gradient of index_select: zeros of `shape` with g's slices added at `index` along dim.
Tensor index_add_zeros(const Tensor& g, const Shape& shape, int64_t dim, const Tensor& index);
/// x's gradient of gather: zeros of `shape` with g added at `index` (same dims as g) along dim.
Tensor scatter_add_zeros(const Tensor& g, const Shape& shape, int64_t dim, const Tensor& index);
}  // namespace ops

}  // namespace taesan
