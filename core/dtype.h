// Element types of tensors: names, sizes, and the mapping between C++ types and DType.
// bfloat16 is a storage type: ops that compute in float32/float64 refuse it in one place
// (dispatch_float), the GEMM-shaped ops take it inside an autocast region (autograd/autocast.h).
#pragma once

#include <fmt/format.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "taesan/core/bfloat16.h"
#include "taesan/core/error.h"

namespace taesan {

/// Element type of a tensor.
enum class DType : uint8_t { Float32, Float64, Int64, Bool, BFloat16 };

inline constexpr DType kFloat32 = DType::Float32;
inline constexpr DType kFloat64 = DType::Float64;
inline constexpr DType kInt64 = DType::Int64;
inline constexpr DType kBool = DType::Bool;
/// 2-byte brain float (float32's exponent range, 8 significant bits); round-to-nearest-even.
inline constexpr DType kBFloat16 = DType::BFloat16;

/// Bytes per element.
constexpr size_t element_size(DType d) {
  switch (d) {
    case DType::Float32:
      return 4;
    case DType::Float64:
      return 8;
    case DType::Int64:
      return 8;
    case DType::Bool:
      return 1;
    case DType::BFloat16:
      return 2;
  }
  return 0;
}

/// "float32", "float64", "int64", "bool", "bfloat16".
constexpr std::string_view dtype_name(DType d) {
  switch (d) {
    case DType::Float32:
      return "float32";
    case DType::Float64:
      return "float64";
    case DType::Int64:
      return "int64";
    case DType::Bool:
      return "bool";
    case DType::BFloat16:
      return "bfloat16";
  }
  return "?";
}

/// float32, float64 or bfloat16 (PyTorch's is_floating_point). Ops compute in float32/float64
/// only: a bfloat16 tensor that reaches dispatch_float is refused there.
constexpr bool is_floating(DType d) {
  return d == DType::Float32 || d == DType::Float64 || d == DType::BFloat16;
}

/// DType of a C++ element type: dtype_of<float>() == kFloat32.
template <typename T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() {
  return DType::Float32;
}
template <>
constexpr DType dtype_of<double>() {
  return DType::Float64;
}
template <>
constexpr DType dtype_of<int64_t>() {
  return DType::Int64;
}
template <>
constexpr DType dtype_of<bool>() {
  return DType::Bool;
}
template <>
constexpr DType dtype_of<BFloat16>() {
  return DType::BFloat16;
}

/// Calls fn with a value of the C++ type matching d: dispatch_dtype(d, [&](auto tag) { using T =
/// decltype(tag); ... }).
template <typename Fn>
decltype(auto) dispatch_dtype(DType d, Fn&& fn) {
  switch (d) {
    case DType::Float32:
      return fn(float{});
    case DType::Float64:
      return fn(double{});
    case DType::Int64:
      return fn(int64_t{});
    case DType::Bool:
      return fn(bool{});
    case DType::BFloat16:
      return fn(BFloat16{});
  }
  return fn(float{});
}

/// Throws the error of op `fn` (null when the caller does not know its name) refusing bfloat16.
[[noreturn]] inline void refuse_bfloat16(const char* fn = nullptr) {
  fail(
      "{}{} does not take bfloat16 tensors (bfloat16 is a storage dtype; ops compute in "
      "float32/float64): convert with .to(ts::kFloat32) first. Inside a ts::AutocastGuard, "
      "matmul, linear, feed_forward and scaled_dot_product_attention take float32 (or bfloat16) "
      "tensors and multiply them in bfloat16 themselves",
      fn != nullptr ? fn : "", fn != nullptr ? ": this op" : "this op");
}

/// Like dispatch_dtype but only for float32/float64: bfloat16 is refused here, for every op at
/// once (refuse_bfloat16); int64/bool are the caller's to reject first.
template <typename Fn>
decltype(auto) dispatch_float(DType d, Fn&& fn) {
  if (d == DType::BFloat16) refuse_bfloat16();
  if (d == DType::Float64) return fn(double{});
  return fn(float{});
}

}  // namespace taesan

template <>
struct fmt::formatter<taesan::DType> : fmt::formatter<std::string_view> {
  template <typename Ctx>
  auto format(taesan::DType d, Ctx& ctx) const {
    return fmt::formatter<std::string_view>::format(taesan::dtype_name(d), ctx);
  }
};
