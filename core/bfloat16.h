// bfloat16, the element type of ts::kBFloat16: the upper 16 bits of an IEEE float32 (1 sign,
// 8 exponent, 7 mantissa bits). Conversions into it round to nearest, ties to even; a NaN stays a
// (quiet) NaN and never rounds into Inf; Inf stays Inf. These scalar conversions are also the
// reference the SIMD kernels of ops/kernels/convert.h are tested against.
#pragma once

#include <fmt/format.h>

#include <bit>
#include <cstdint>
#include <type_traits>

namespace taesan {

/// Bits of the bfloat16 nearest to f, ties to even. A NaN keeps its sign and the top of its
/// payload and gets the quiet bit (its payload may sit entirely in the 16 bits dropped here, which
/// would otherwise turn it into Inf).
constexpr uint16_t bf16_bits_from_float(float f) {
  const uint32_t u = std::bit_cast<uint32_t>(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x0040u);
  // Adding 0x7fff rounds up exactly when the dropped half is above 0x8000; the low kept bit
  // decides the tie (0x8000). The carry may ripple into the exponent: that is the correct result
  // (the next binade, or Inf above the largest finite bfloat16).
  return static_cast<uint16_t>((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

/// The float32 of bfloat16 bits (exact: every bfloat16 is a float32).
constexpr float float_from_bf16_bits(uint16_t bits) {
  return std::bit_cast<float>(static_cast<uint32_t>(bits) << 16);
}

/// Bits of the bfloat16 nearest to d, ties to even, rounded once (d -> float32 -> bfloat16 with
/// two round-to-nearest steps could round twice: 1 + 2^-8 + 2^-30 would become a tie and go down).
/// The float32 step rounds to odd instead, which with 16 spare bits makes the second rounding
/// exact.
constexpr uint16_t bf16_bits_from_double(double d) {
  if (d != d) return bf16_bits_from_float(static_cast<float>(d));
  const float f = static_cast<float>(d);  // nearest, may be above |d| (or Inf)
  uint32_t u = std::bit_cast<uint32_t>(f);
  const double ad = d < 0 ? -d : d, af = f < 0 ? -static_cast<double>(f) : static_cast<double>(f);
  if (af > ad) --u;  // truncate toward zero (sign-magnitude: one step down in magnitude)
  if (static_cast<double>(std::bit_cast<float>(u)) != d) u |= 1u;  // inexact: make it odd
  return bf16_bits_from_float(std::bit_cast<float>(u));
}

/// A bfloat16 value (storage only: arithmetic is done in float32 after widening).
struct BFloat16 {
  uint16_t bits = 0;

  constexpr BFloat16() = default;
  static constexpr BFloat16 from_bits(uint16_t b) {
    BFloat16 v;
    v.bits = b;
    return v;
  }
  constexpr explicit BFloat16(float f) : bits(bf16_bits_from_float(f)) {}
  constexpr explicit BFloat16(double d) : bits(bf16_bits_from_double(d)) {}
  /// Integers and bool through double (exact below 2^53, then rounded once more).
  template <typename T>
  requires std::is_integral_v<T>
  constexpr explicit BFloat16(T v) : BFloat16(static_cast<double>(v)) {}

  constexpr explicit operator float() const { return float_from_bf16_bits(bits); }
  /// Other arithmetic types through float32 (exact for double).
  template <typename T>
  requires(std::is_arithmetic_v<T> && !std::is_same_v<T, float>) constexpr explicit operator T()
      const {
    return static_cast<T>(float_from_bf16_bits(bits));
  }
};
static_assert(sizeof(BFloat16) == 2, "BFloat16 must be two bytes (it is the storage layout)");

/// v rounded to the nearest bfloat16 and widened back to float32.
constexpr float round_to_bf16(float v) { return float_from_bf16_bits(bf16_bits_from_float(v)); }

}  // namespace taesan

/// Formats as the float32 value it holds.
template <>
struct fmt::formatter<taesan::BFloat16> : fmt::formatter<float> {
  template <typename Ctx>
  auto format(taesan::BFloat16 v, Ctx& ctx) const {
    return fmt::formatter<float>::format(static_cast<float>(v), ctx);
  }
};
