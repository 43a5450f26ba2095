// Copies between layouts and dtypes: the one strided copy every other op uses to materialise.
#pragma once

#include "taesan/autograd/tensor.h"

namespace taesan::ops {

/// Writes src (broadcast to dst's shape, converted to dst's dtype) into dst's elements.
/// Not recorded in the graph; does not bump versions.
void copy_into(const Tensor& dst, const Tensor& src);

/// A contiguous copy of t in `dtype` (not recorded in the graph).
Tensor materialize(const Tensor& t, DType dtype);

}  // namespace taesan::ops
