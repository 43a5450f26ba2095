// Element types of tensors: names, sizes, and the mapping between C++ types and DType.
#pragma once

#include <fmt/format.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace taesan {

/// Element type of a tensor.
enum class DType : uint8_t { Float32, Float64, Int64, Bool };

inline constexpr DType kFloat32 = DType::Float32;
inline constexpr DType kFloat64 = DType::Float64;
inline constexpr DType kInt64 = DType::Int64;
inline constexpr DType kBool = DType::Bool;

/// Bytes per element.
constexpr size_t element_size(DType d) {
  switch (d) {
    case DType::Float32: return 4;
    case DType::Float64: return 8;
    case DType::Int64: return 8;
    case DType::Bool: return 1;
  }
  return 0;
}

/// "float32", "float64", "int64", "bool".
constexpr std::string_view dtype_name(DType d) {
  switch (d) {
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
    case DType::Int64: return "int64";
    case DType::Bool: return "bool";
  }
  return "?";
}

constexpr bool is_floating(DType d) { return d == DType::Float32 || d == DType::Float64; }

/// DType of a C++ element type: dtype_of<float>() == kFloat32.
template <typename T>
constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::Float32; }
template <> constexpr DType dtype_of<double>() { return DType::Float64; }
template <> constexpr DType dtype_of<int64_t>() { return DType::Int64; }
template <> constexpr DType dtype_of<bool>() { return DType::Bool; }

/// Calls fn with a value of the C++ type matching d: dispatch_dtype(d, [&](auto tag) { using T = decltype(tag); ... }).
template <typename Fn>
decltype(auto) dispatch_dtype(DType d, Fn&& fn) {
  switch (d) {
    case DType::Float32: return fn(float{});
    case DType::Float64: return fn(double{});
    case DType::Int64: return fn(int64_t{});
    case DType::Bool: return fn(bool{});
  }
  return fn(float{});
}

/// Like dispatch_dtype but only for float32/float64; other dtypes are the caller's to reject first.
template <typename Fn>
decltype(auto) dispatch_float(DType d, Fn&& fn) {
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
