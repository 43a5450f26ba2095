// Reductions over any set of dims (keepdim like PyTorch): sum, mean, max/argmax, logsumexp, var.
#pragma once

#include <utility>

#include "taesan/autograd/tensor.h"

namespace taesan {

/// Sum of all elements (0-d). int64/bool sum to int64.
Tensor sum(const Tensor& x);
/// Sum over `dims` (an empty list sums everything).
Tensor sum(const Tensor& x, const Shape& dims, bool keepdim = false);
Tensor sum(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, const Shape& dims, bool keepdim = false);
Tensor mean(const Tensor& x, int64_t dim, bool keepdim = false);
/// Maximum along dim: (values, int64 indices of the first maximum).
std::pair<Tensor, Tensor> max(const Tensor& x, int64_t dim, bool keepdim = false);
/// Maximum of all elements.
Tensor max(const Tensor& x);
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);
/// log(sum(exp(x))) along dim, computed stably.
Tensor logsumexp(const Tensor& x, int64_t dim, bool keepdim = false);
/// Variance over dims with `correction` (1 = unbiased, PyTorch's default).
Tensor var(const Tensor& x, const Shape& dims, int64_t correction = 1, bool keepdim = false);
Tensor var(const Tensor& x, int64_t dim, int64_t correction = 1, bool keepdim = false);

namespace ops {
/// Sorted, unique, wrapped dims (all dims when `dims` is empty).
Shape normalize_dims(const Shape& dims, int64_t ndim, const char* fn);
/// Moves `dim` of x to the end, the other dims keeping their order (a view).
Tensor move_dim_last(const Tensor& x, int64_t dim);
/// The inverse of move_dim_last: moves the last dim back to position `dim` (a view).
Tensor move_last_to_dim(const Tensor& x, int64_t dim);
/// move_dim_last(x, dim).contiguous(): the layout row kernels need (rows in x's order).
Tensor move_dim_last_contiguous(const Tensor& x, int64_t dim);
}  // namespace ops

}  // namespace taesan
