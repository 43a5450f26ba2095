// Vector-level float32 <-> bfloat16 conversion per Highway target, on integer lanes (Highway
// 1.0.3's DemoteTo(bf16) truncates; this rounds to nearest even and keeps NaN a NaN), and the
// array loops over them. Threading and dispatch live in convert.cc.

// Per-target include guard (see hwy/highway.h): re-included once per target by foreach_target.
#if defined(TS_OPS_KERNELS_CONVERT_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TS_OPS_KERNELS_CONVERT_INL_H_
#undef TS_OPS_KERNELS_CONVERT_INL_H_
#else
#define TS_OPS_KERNELS_CONVERT_INL_H_
#endif

#include <hwy/highway.h>

#include <cstddef>
#include <cstdint>

#include "taesan/core/bfloat16.h"

HWY_BEFORE_NAMESPACE();
namespace taesan::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

/// bfloat16 bits (in the low half of each u32 lane) of the float32 bits u: nearest, ties to even;
/// NaN -> its top half with the quiet bit set (as bf16_bits_from_float).
template <class DU32>
HWY_INLINE hn::Vec<DU32> Bf16Bits(DU32 du, hn::Vec<DU32> u) {
  const hn::RebindToSigned<DU32> di;
  const auto magnitude = hn::BitCast(di, hn::And(u, hn::Set(du, 0x7fffffffu)));
  const auto is_nan = hn::RebindMask(du, hn::Gt(magnitude, hn::Set(di, 0x7f800000)));
  const auto high = hn::ShiftRight<16>(u);
  const auto bias = hn::Add(hn::Set(du, 0x7fffu), hn::And(high, hn::Set(du, 1u)));
  const auto rounded = hn::ShiftRight<16>(hn::Add(u, bias));
  return hn::IfThenElse(is_nan, hn::Or(high, hn::Set(du, 0x40u)), rounded);
}

/// out[i] = bf16 bits of in[i]; tail elements through the scalar conversion.
template <class DF>
HWY_INLINE void FloatToBf16(DF df, const float* HWY_RESTRICT in, uint16_t* HWY_RESTRICT out,
                            size_t n) {
  const hn::RebindToUnsigned<DF> du;
  const hn::RebindToSigned<DF> di;
  const hn::Rebind<uint16_t, DF> du16;
  const size_t N = hn::Lanes(df);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    const auto bits = Bf16Bits(du, hn::BitCast(du, hn::LoadU(df, in + i)));
    // The bits fit in 16: the saturating i32 -> u16 narrowing keeps them as they are.
    hn::StoreU(hn::DemoteTo(du16, hn::BitCast(di, bits)), du16, out + i);
  }
  for (; i < n; ++i) out[i] = bf16_bits_from_float(in[i]);
}

/// out[i] = float32 of bf16 bits in[i].
template <class DF>
HWY_INLINE void Bf16ToFloat(DF df, const uint16_t* HWY_RESTRICT in, float* HWY_RESTRICT out,
                            size_t n) {
  const hn::RebindToUnsigned<DF> du;
  const hn::Rebind<uint16_t, DF> du16;
  const size_t N = hn::Lanes(df);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    const auto wide = hn::PromoteTo(du, hn::LoadU(du16, in + i));
    hn::StoreU(hn::BitCast(df, hn::ShiftLeft<16>(wide)), df, out + i);
  }
  for (; i < n; ++i) out[i] = float_from_bf16_bits(in[i]);
}

/// out[i] = in[i] rounded to bfloat16, as float32 (in == out allowed: each vector is loaded
/// before it is stored).
template <class DF>
HWY_INLINE void RoundToBf16(DF df, const float* in, float* out, size_t n) {
  const hn::RebindToUnsigned<DF> du;
  const size_t N = hn::Lanes(df);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    const auto bits = Bf16Bits(du, hn::BitCast(du, hn::LoadU(df, in + i)));
    hn::StoreU(hn::BitCast(df, hn::ShiftLeft<16>(bits)), df, out + i);
  }
  for (; i < n; ++i) out[i] = taesan::round_to_bf16(in[i]);
}

}  // namespace taesan::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
