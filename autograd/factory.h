// Tensor factories: filled, ranged, random and copied-from-vector tensors.
// Random factories draw from the counter-based generator (random.h): same seed, same numbers,
// whatever the thread count.
#pragma once

#include <vector>

#include "taesan/autograd/tensor.h"

namespace taesan {

/// Uninitialised tensor.
Tensor empty(const Shape& shape, DType dtype = kFloat32);
Tensor zeros(const Shape& shape, DType dtype = kFloat32);
Tensor ones(const Shape& shape, DType dtype = kFloat32);
Tensor full(const Shape& shape, double value, DType dtype = kFloat32);
/// A 0-d tensor holding `value`.
Tensor scalar_tensor(double value, DType dtype = kFloat32);
/// 0, 1, ..., n-1.
Tensor arange(int64_t n, DType dtype = kInt64);
/// start, start+step, ... below end.
Tensor arange(double start, double end, double step, DType dtype = kFloat32);
/// Standard normal samples.
Tensor randn(const Shape& shape, DType dtype = kFloat32);
/// Uniform samples in [0, 1) (below 1 after rounding to the dtype).
Tensor rand(const Shape& shape, DType dtype = kFloat32);
/// Uniform integers in [low, high).
Tensor randint(int64_t low, int64_t high, const Shape& shape, DType dtype = kInt64);
/// A random permutation of 0..n-1 (int64).
Tensor randperm(int64_t n);
/// Copies `values` into a new tensor of `shape` (default: 1-d of values.size()).
template <typename T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape);
template <typename T>
Tensor from_vector(const std::vector<T>& values) {
  return from_vector(values, Shape{static_cast<int64_t>(values.size())});
}
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor full_like(const Tensor& t, double value);
Tensor empty_like(const Tensor& t);
Tensor randn_like(const Tensor& t);

}  // namespace taesan
