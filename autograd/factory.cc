// Tensor factories (see factory.h).
#include "taesan/autograd/factory.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "taesan/core/parallel.h"
#include "taesan/core/random.h"

namespace taesan {
namespace {

template <typename Gen>
Tensor generate(const Shape& shape, DType dtype, Gen&& gen) {
  Tensor t = empty(shape, dtype);
  dispatch_dtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    T* p = static_cast<T*>(t.raw_data());
    parallel_for(t.numel(), 1 << 15, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) p[i] = static_cast<T>(gen(i));
    });
  });
  return t;
}

void check_float(DType dtype, const char* fn) {
  TS_CHECK(is_floating(dtype), "{}: expected a floating-point dtype, got {}", fn, dtype);
}

}  // namespace

Tensor empty(const Shape& shape, DType dtype) { return Tensor::make_empty(shape, dtype); }

Tensor full(const Shape& shape, double value, DType dtype) {
  return generate(shape, dtype, [value](int64_t) { return value; });
}

Tensor zeros(const Shape& shape, DType dtype) {
  Tensor t = empty(shape, dtype);
  std::memset(t.raw_data(), 0, t.numel() * t.element_size());
  return t;
}

Tensor ones(const Shape& shape, DType dtype) { return full(shape, 1.0, dtype); }

Tensor scalar_tensor(double value, DType dtype) { return full({}, value, dtype); }

Tensor arange(int64_t n, DType dtype) {
  TS_CHECK(n >= 0, "arange: expected n >= 0, got {}", n);
  return generate({n}, dtype, [](int64_t i) { return static_cast<double>(i); });
}

Tensor arange(double start, double end, double step, DType dtype) {
  TS_CHECK(step != 0 && std::isfinite(start) && std::isfinite(end) && std::isfinite(step),
           "arange: invalid range start={} end={} step={}", start, end, step);
  int64_t n = std::max<int64_t>(0, static_cast<int64_t>(std::ceil((end - start) / step)));
  return generate({n}, dtype, [=](int64_t i) { return start + step * static_cast<double>(i); });
}

Tensor randn(const Shape& shape, DType dtype) {
  check_float(dtype, "randn");
  uint64_t seed = random::seed(), base = random::reserve(shape_numel(shape));
  return generate(shape, dtype, [=](int64_t i) { return random::normal(seed, base + i); });
}

Tensor rand(const Shape& shape, DType dtype) {
  check_float(dtype, "rand");
  uint64_t seed = random::seed(), base = random::reserve(shape_numel(shape));
  return generate(shape, dtype, [=](int64_t i) {
    double u = random::uniform01(random::bits(seed, base + i));
    // Stay below 1 after rounding to the dtype (the largest float32 / bfloat16 below 1).
    if (dtype == kFloat32) u = std::min(u, 0.99999994039535522);
    if (dtype == kBFloat16) u = std::min(u, 0.99609375);
    return u;
  });
}

Tensor randint(int64_t low, int64_t high, const Shape& shape, DType dtype) {
  TS_CHECK(low < high, "randint: expected low < high, got low={} high={}", low, high);
  TS_CHECK(dtype != kBool, "randint: bool is not a valid dtype");
  uint64_t seed = random::seed(), base = random::reserve(shape_numel(shape));
  uint64_t range = static_cast<uint64_t>(high - low);
  return generate(shape, dtype, [=](int64_t i) {
    unsigned __int128 wide = static_cast<unsigned __int128>(random::bits(seed, base + i)) * range;
    return static_cast<double>(low + static_cast<int64_t>(wide >> 64));
  });
}

Tensor randperm(int64_t n) {
  TS_CHECK(n >= 0, "randperm: expected n >= 0, got {}", n);
  Tensor t = arange(n, kInt64);
  int64_t* p = t.data<int64_t>();
  uint64_t seed = random::seed(), base = random::reserve(static_cast<uint64_t>(n));
  for (int64_t i = n - 1; i > 0; --i) {  // Fisher-Yates
    unsigned __int128 wide =
        static_cast<unsigned __int128>(random::bits(seed, base + i)) * static_cast<uint64_t>(i + 1);
    std::swap(p[i], p[static_cast<int64_t>(wide >> 64)]);
  }
  return t;
}

template <typename T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape) {
  TS_CHECK(shape_numel(shape) == static_cast<int64_t>(values.size()),
           "from_vector: {} values do not fill shape {} ({} elements)", values.size(),
           shape_str(shape), shape_numel(shape));
  Tensor t = empty(shape, dtype_of<T>());
  T* p = static_cast<T*>(t.raw_data());
  for (size_t i = 0; i < values.size(); ++i) p[i] = values[i];
  return t;
}
template Tensor from_vector<float>(const std::vector<float>&, const Shape&);
template Tensor from_vector<double>(const std::vector<double>&, const Shape&);
template Tensor from_vector<int64_t>(const std::vector<int64_t>&, const Shape&);
template Tensor from_vector<bool>(const std::vector<bool>&, const Shape&);
template Tensor from_vector<BFloat16>(const std::vector<BFloat16>&, const Shape&);

Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), t.dtype()); }
Tensor ones_like(const Tensor& t) { return ones(t.shape(), t.dtype()); }
Tensor full_like(const Tensor& t, double value) { return full(t.shape(), value, t.dtype()); }
Tensor empty_like(const Tensor& t) { return empty(t.shape(), t.dtype()); }
Tensor randn_like(const Tensor& t) { return randn(t.shape(), t.dtype()); }

}  // namespace taesan
