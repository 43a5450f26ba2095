// dtype conversion kernels on raw buffers: float32 <-> bfloat16 bits, and float32 rounded to the
// nearest bfloat16 value kept as float32 (the operands of autocast's GEMMs). Highway SIMD,
// dispatched once per call, split across threads (elementwise: results never depend on the thread
// count); every function has a scalar reference built on core/bfloat16.h for the tests.
#pragma once

#include <cstdint>

namespace taesan::kernels {

/// out[i] = bits of the bfloat16 nearest to in[i] (ties to even; NaN stays a quiet NaN, Inf stays
/// Inf; denormals and -0 are rounded like any other value). in and out must not overlap.
void float_to_bf16(const float* in, uint16_t* out, int64_t n);
/// out[i] = the float32 value of bfloat16 bits in[i] (exact).
void bf16_to_float(const uint16_t* in, float* out, int64_t n);
/// out[i] = in[i] rounded to the nearest bfloat16 value, as float32 (in == out is allowed).
void round_to_bf16(const float* in, float* out, int64_t n);

// ---- scalar references (tests, benchmarks) ----
void float_to_bf16_reference(const float* in, uint16_t* out, int64_t n);
void bf16_to_float_reference(const uint16_t* in, float* out, int64_t n);
void round_to_bf16_reference(const float* in, float* out, int64_t n);

// ---- AVX512_BF16 (not written yet) -------------------------------------------------------------
// TODO(bf16-native): on CPUs with AVX512_BF16 (Zen 4/5, Sapphire Rapids), float_to_bf16 can use
// VCVTNEPS2BF16 (_mm512_cvtneps_pbh; also round-to-nearest-even, NaN quieted) and autocast's GEMMs
// can multiply bfloat16 panels with VDPBF16PS (_mm512_dpbf16_ps: pairs of bf16 products summed
// into fp32 lanes) instead of rounding fp32 operands and running the fp32 kernel. Highway 1.0.3
// has no target for it: the place is one marked branch inside the dispatched AVX3 GEMM
// micro-kernel (ops/kernels/gemm-inl.h), behind a run-time CPUID check of AVX512_BF16, with the
// panels packed as bf16 pairs. Results then differ from today's only in the fp32 summation order
// (each product is exact either way). It was not written because no CPU here has AVX512_BF16 to
// test it on.

}  // namespace taesan::kernels
