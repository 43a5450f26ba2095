// Conversion kernels: per-target entry points (compiled for every Highway target through
// foreach_target.h) that split an array across threads and run the loops of convert-inl.h, the
// public functions that dispatch once per call, and the scalar references of the tests.

#include "taesan/ops/kernels/convert.h"

#include <cstddef>
#include <cstdint>

#include "taesan/core/bfloat16.h"
#include "taesan/core/error.h"
#include "taesan/core/parallel.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "taesan/ops/kernels/convert.cc"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
#include <hwy/highway.h>

#include "taesan/ops/kernels/convert-inl.h"

HWY_BEFORE_NAMESPACE();
namespace taesan::kernels::HWY_NAMESPACE {

// Memory bound (a few integer ops per element): chunks of 64K elements amortise waking a worker.
constexpr int64_t kGrain = int64_t{1} << 16;

void FloatToBf16Array(const float* in, uint16_t* out, int64_t n) {
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) HWY_ATTR {
    FloatToBf16(hn::ScalableTag<float>(), in + b, out + b, static_cast<size_t>(e - b));
  });
}
void Bf16ToFloatArray(const uint16_t* in, float* out, int64_t n) {
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) HWY_ATTR {
    Bf16ToFloat(hn::ScalableTag<float>(), in + b, out + b, static_cast<size_t>(e - b));
  });
}
void RoundToBf16Array(const float* in, float* out, int64_t n) {
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) HWY_ATTR {
    RoundToBf16(hn::ScalableTag<float>(), in + b, out + b, static_cast<size_t>(e - b));
  });
}

}  // namespace taesan::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace taesan::kernels {

HWY_EXPORT(FloatToBf16Array);
HWY_EXPORT(Bf16ToFloatArray);
HWY_EXPORT(RoundToBf16Array);

namespace {
void check_n(const char* fn, int64_t n) { TS_CHECK(n >= 0, "kernels::{}: n = {} < 0", fn, n); }
}  // namespace

void float_to_bf16(const float* in, uint16_t* out, int64_t n) {
  check_n("float_to_bf16", n);
  HWY_DYNAMIC_DISPATCH(FloatToBf16Array)(in, out, n);
}
void bf16_to_float(const uint16_t* in, float* out, int64_t n) {
  check_n("bf16_to_float", n);
  HWY_DYNAMIC_DISPATCH(Bf16ToFloatArray)(in, out, n);
}
void round_to_bf16(const float* in, float* out, int64_t n) {
  check_n("round_to_bf16", n);
  HWY_DYNAMIC_DISPATCH(RoundToBf16Array)(in, out, n);
}

void float_to_bf16_reference(const float* in, uint16_t* out, int64_t n) {
  check_n("float_to_bf16_reference", n);
  for (int64_t i = 0; i < n; ++i) out[i] = bf16_bits_from_float(in[i]);
}
void bf16_to_float_reference(const uint16_t* in, float* out, int64_t n) {
  check_n("bf16_to_float_reference", n);
  for (int64_t i = 0; i < n; ++i) out[i] = float_from_bf16_bits(in[i]);
}
void round_to_bf16_reference(const float* in, float* out, int64_t n) {
  check_n("round_to_bf16_reference", n);
  for (int64_t i = 0; i < n; ++i) out[i] = taesan::round_to_bf16(in[i]);
}

}  // namespace taesan::kernels
#endif  // HWY_ONCE
