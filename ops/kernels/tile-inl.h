// What GEMM and fused attention share, per Highway target: the register-tiled MulAdd micro-kernel,
// the in-register transposes and the packing into micro-panels. One accumulator per output, k in
// increasing order: an element's bits never depend on where its tile falls (or the thread count).
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <algorithm>

#include "hwy/cache_control.h"

#if defined(TS_OPS_KERNELS_TILE_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TS_OPS_KERNELS_TILE_INL_H_
#undef TS_OPS_KERNELS_TILE_INL_H_
#else
#define TS_OPS_KERNELS_TILE_INL_H_
#endif

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace taesan::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using hn::TFromD;

// Rows of a register tile: MR rows x 2 vectors of accumulators + 2 B vectors + 1 broadcast A
// value fill the register file without spilling: 8 rows on targets with 32 vector registers
// (AVX-512, NEON/SVE), 6 on targets with 16 (AVX2, SSE4). AVX2 fp32 is 6x16: 12 independent FMA
// chains >= 2 FMA/cycle x 4 cycles of latency, as peak needs.
#if (HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3) || HWY_ARCH_ARM_A64 || \
    (defined(HWY_ARCH_RVV) && HWY_ARCH_RVV)
inline constexpr size_t kMR = 8;  // 32 vector registers: 16 accumulators
#else
inline constexpr size_t kMR = 6;  // 16 vector registers: 12 accumulators
#endif

// Rounds x up to a multiple of r.
inline size_t RoundUp(size_t x, size_t r) { return (x + r - 1) / r * r; }

// ---- The register tile ----

// Where A(i, p) lives relative to the micro-panel pointer: i * row + p * step.
template <size_t kRow, size_t kStep>
struct FixedAStrides {
  static constexpr size_t row(size_t i) { return i * kRow; }
  static constexpr size_t step() { return kStep; }
};
struct RuntimeAStrides {
  size_t rs, cs;
  size_t row(size_t i) const { return i * rs; }
  size_t step() const { return cs; }
};

// RegisterTile's store policy when C takes the accumulators as they are (C = sum, or
// C += sum with load_c). A store policy has Prefetch() (bring C's lines in before the K loop),
// Plain() (store the accumulators as they are) and, for the other case,
// operator()(d, acc, dst, i, j) storing the vector acc of tile row i, column j at dst.
struct PlainStore {
  static constexpr bool Prefetch() { return false; }
  static constexpr bool Plain() { return true; }
  template <class D>
  void operator()(D, hn::Vec<D>, TFromD<D>*, size_t, size_t) const {}
};

#define TS_TILE_FOR_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

// acc[MR x NV*L] = sum_{p < k} A(i, p) * B(p, j) (plus C's tile first with load_c): A(i, p) =
// a[as.row(i) + p * as.step()] is broadcast, B row p = b + p * ldb holds NV full vectors. Then
// the tile goes to c (row stride ldc) as `store` says. MR <= 12, NV <= 4. Inlined into a caller
// that is not: the register allocator then sees only the MR * NV accumulators, the B vectors and
// the broadcast (GCC spilled accumulators on AVX2 when the tile was inlined into the GEMM driver).
template <size_t MR, size_t NV, class D, class AS, class Store, typename T = TFromD<D>>
HWY_INLINE void RegisterTile(D d, size_t k, const T* HWY_RESTRICT a, const AS as,
                             const T* HWY_RESTRICT b, size_t ldb, T* HWY_RESTRICT c, size_t ldc,
                             bool load_c, const Store& store) {
  static_assert(MR >= 1 && MR <= 12 && NV >= 1 && NV <= 4, "tile shape");
  using V = hn::Vec<D>;
  const size_t N = hn::Lanes(d);
#define TS_TILE_DECL(i) \
  V c##i##0 = hn::Zero(d), c##i##1 = c##i##0, c##i##2 = c##i##0, c##i##3 = c##i##0;
  TS_TILE_FOR_ROWS(TS_TILE_DECL)
#undef TS_TILE_DECL
  if (load_c) {
#define TS_TILE_LOAD(i)                                                \
  if constexpr (MR > i) {                                              \
    c##i##0 = hn::LoadU(d, c + i * ldc);                               \
    if constexpr (NV > 1) c##i##1 = hn::LoadU(d, c + i * ldc + N);     \
    if constexpr (NV > 2) c##i##2 = hn::LoadU(d, c + i * ldc + 2 * N); \
    if constexpr (NV > 3) c##i##3 = hn::LoadU(d, c + i * ldc + 3 * N); \
  }
    TS_TILE_FOR_ROWS(TS_TILE_LOAD)
#undef TS_TILE_LOAD
  }
  if (store.Prefetch()) {
    // C is needed only after the K loop: start bringing its rows in now (a beta != 0 epilogue
    // reads them, and stores need the lines too).
    for (size_t i = 0; i < MR; ++i) {
      hwy::Prefetch(c + i * ldc);
      if (NV * N * sizeof(T) > 64) hwy::Prefetch(c + i * ldc + NV * N - 1);
    }
  }
  for (size_t p = 0; p < k; ++p) {
    const V b0 = hn::LoadU(d, b);
    const V b1 = NV > 1 ? hn::LoadU(d, b + N) : b0;
    const V b2 = NV > 2 ? hn::LoadU(d, b + 2 * N) : b0;
    const V b3 = NV > 3 ? hn::LoadU(d, b + 3 * N) : b0;
#define TS_TILE_FMA(i)                                           \
  if constexpr (MR > i) {                                        \
    const V ai = hn::Set(d, a[as.row(i)]);                       \
    c##i##0 = hn::MulAdd(ai, b0, c##i##0);                       \
    if constexpr (NV > 1) c##i##1 = hn::MulAdd(ai, b1, c##i##1); \
    if constexpr (NV > 2) c##i##2 = hn::MulAdd(ai, b2, c##i##2); \
    if constexpr (NV > 3) c##i##3 = hn::MulAdd(ai, b3, c##i##3); \
  }
    TS_TILE_FOR_ROWS(TS_TILE_FMA)
#undef TS_TILE_FMA
    a += as.step();
    b += ldb;
  }
  // The plain case is tested once per tile, not per vector (most GEMM calls, and every first K
  // block, store the accumulators as they are).
  if (store.Plain()) {
#define TS_TILE_STORE_PLAIN(i)                                         \
  if constexpr (MR > i) {                                              \
    hn::StoreU(c##i##0, d, c + i * ldc);                               \
    if constexpr (NV > 1) hn::StoreU(c##i##1, d, c + i * ldc + N);     \
    if constexpr (NV > 2) hn::StoreU(c##i##2, d, c + i * ldc + 2 * N); \
    if constexpr (NV > 3) hn::StoreU(c##i##3, d, c + i * ldc + 3 * N); \
  }
    TS_TILE_FOR_ROWS(TS_TILE_STORE_PLAIN)
#undef TS_TILE_STORE_PLAIN
  } else {
#define TS_TILE_STORE(i)                                                    \
  if constexpr (MR > i) {                                                   \
    store(d, c##i##0, c + i * ldc, i, 0);                                   \
    if constexpr (NV > 1) store(d, c##i##1, c + i * ldc + N, i, N);         \
    if constexpr (NV > 2) store(d, c##i##2, c + i * ldc + 2 * N, i, 2 * N); \
    if constexpr (NV > 3) store(d, c##i##3, c + i * ldc + 3 * N, i, 3 * N); \
  }
    TS_TILE_FOR_ROWS(TS_TILE_STORE)
#undef TS_TILE_STORE
  }
}

#undef TS_TILE_FOR_ROWS

// ---- In-register transposes ----

#if HWY_TARGET != HWY_SCALAR && HWY_MAX_BYTES >= 32
// dst[c * ldd + r] = src[r * lds + c] for an 8x8 block of floats, in 256-bit vectors: interleave
// 32-bit, then 64-bit lanes within the 128-bit halves, then combine halves (0.6 shuffle per
// element instead of 1 for 4x4 blocks).
HWY_INLINE void Transpose8x8(const float* HWY_RESTRICT src, size_t lds, float* HWY_RESTRICT dst,
                             size_t ldd) {
  const hn::FixedTag<float, 8> d8;
  const hn::Repartition<uint64_t, decltype(d8)> du;
  const auto r0 = hn::LoadU(d8, src), r1 = hn::LoadU(d8, src + lds);
  const auto r2 = hn::LoadU(d8, src + 2 * lds), r3 = hn::LoadU(d8, src + 3 * lds);
  const auto r4 = hn::LoadU(d8, src + 4 * lds), r5 = hn::LoadU(d8, src + 5 * lds);
  const auto r6 = hn::LoadU(d8, src + 6 * lds), r7 = hn::LoadU(d8, src + 7 * lds);
  const auto t0 = hn::BitCast(du, hn::InterleaveLower(d8, r0, r1));
  const auto t1 = hn::BitCast(du, hn::InterleaveUpper(d8, r0, r1));
  const auto t2 = hn::BitCast(du, hn::InterleaveLower(d8, r2, r3));
  const auto t3 = hn::BitCast(du, hn::InterleaveUpper(d8, r2, r3));
  const auto t4 = hn::BitCast(du, hn::InterleaveLower(d8, r4, r5));
  const auto t5 = hn::BitCast(du, hn::InterleaveUpper(d8, r4, r5));
  const auto t6 = hn::BitCast(du, hn::InterleaveLower(d8, r6, r7));
  const auto t7 = hn::BitCast(du, hn::InterleaveUpper(d8, r6, r7));
  // u_c holds column c (rows 0-3) in its lower half and column c+4 in its upper half.
  const auto u0 = hn::BitCast(d8, hn::InterleaveLower(du, t0, t2));
  const auto u1 = hn::BitCast(d8, hn::InterleaveUpper(du, t0, t2));
  const auto u2 = hn::BitCast(d8, hn::InterleaveLower(du, t1, t3));
  const auto u3 = hn::BitCast(d8, hn::InterleaveUpper(du, t1, t3));
  const auto v0 = hn::BitCast(d8, hn::InterleaveLower(du, t4, t6));
  const auto v1 = hn::BitCast(d8, hn::InterleaveUpper(du, t4, t6));
  const auto v2 = hn::BitCast(d8, hn::InterleaveLower(du, t5, t7));
  const auto v3 = hn::BitCast(d8, hn::InterleaveUpper(du, t5, t7));
  hn::StoreU(hn::ConcatLowerLower(d8, v0, u0), d8, dst);
  hn::StoreU(hn::ConcatLowerLower(d8, v1, u1), d8, dst + ldd);
  hn::StoreU(hn::ConcatLowerLower(d8, v2, u2), d8, dst + 2 * ldd);
  hn::StoreU(hn::ConcatLowerLower(d8, v3, u3), d8, dst + 3 * ldd);
  hn::StoreU(hn::ConcatUpperUpper(d8, v0, u0), d8, dst + 4 * ldd);
  hn::StoreU(hn::ConcatUpperUpper(d8, v1, u1), d8, dst + 5 * ldd);
  hn::StoreU(hn::ConcatUpperUpper(d8, v2, u2), d8, dst + 6 * ldd);
  hn::StoreU(hn::ConcatUpperUpper(d8, v3, u3), d8, dst + 7 * ldd);
}
#endif

#if HWY_TARGET != HWY_SCALAR
// dst[c * ldd + r] = src[r * lds + c] for a W x W block in 128-bit vectors, W = 16 / sizeof(T):
// 4x4 floats or 2x2 doubles.
template <typename T>
HWY_INLINE void Transpose128(const T* HWY_RESTRICT src, size_t lds, T* HWY_RESTRICT dst,
                             size_t ldd) {
  const hn::Full128<T> d;
  if constexpr (sizeof(T) == 4) {
    const hn::Repartition<uint64_t, decltype(d)> d64;  // pairs of floats
    const auto r0 = hn::LoadU(d, src), r1 = hn::LoadU(d, src + lds);
    const auto r2 = hn::LoadU(d, src + 2 * lds), r3 = hn::LoadU(d, src + 3 * lds);
    const auto t0 = hn::BitCast(d64, hn::InterleaveLower(d, r0, r1));  // r0[0] r1[0] r0[1] r1[1]
    const auto t1 = hn::BitCast(d64, hn::InterleaveLower(d, r2, r3));
    const auto t2 = hn::BitCast(d64, hn::InterleaveUpper(d, r0, r1));  // r0[2] r1[2] r0[3] r1[3]
    const auto t3 = hn::BitCast(d64, hn::InterleaveUpper(d, r2, r3));
    hn::StoreU(hn::BitCast(d, hn::InterleaveLower(d64, t0, t1)), d, dst);
    hn::StoreU(hn::BitCast(d, hn::InterleaveUpper(d64, t0, t1)), d, dst + ldd);
    hn::StoreU(hn::BitCast(d, hn::InterleaveLower(d64, t2, t3)), d, dst + 2 * ldd);
    hn::StoreU(hn::BitCast(d, hn::InterleaveUpper(d64, t2, t3)), d, dst + 3 * ldd);
  } else {
    const auto r0 = hn::LoadU(d, src), r1 = hn::LoadU(d, src + lds);
    hn::StoreU(hn::InterleaveLower(d, r0, r1), d, dst);
    hn::StoreU(hn::InterleaveUpper(d, r0, r1), d, dst + ldd);
  }
}
#endif

// dst (cols rows of ldd) = the transpose of src (rows x cols, row stride lds): dst[c * ldd + r] =
// src[r * lds + c], and columns [rows, ldd) of dst are zero. 8x8 float blocks in 256-bit vectors
// where the target has them, then 4x4 float / 2x2 double blocks in 128-bit vectors, then scalar
// copies (strided scalar copies cost as much as a tile product of attention at T = 128).
template <typename T>
HWY_INLINE void TransposeInto(const T* HWY_RESTRICT src, size_t rows, size_t cols, size_t lds,
                              T* HWY_RESTRICT dst, size_t ldd) {
  size_t r0 = 0;
#if HWY_TARGET != HWY_SCALAR && HWY_MAX_BYTES >= 32
  if constexpr (sizeof(T) == 4) {
    for (; r0 + 8 <= rows; r0 += 8) {
      const T* s = src + r0 * lds;
      size_t c = 0;
      for (; c + 8 <= cols; c += 8) Transpose8x8(s + c, lds, dst + c * ldd + r0, ldd);
      for (; c < cols; ++c) {
        for (size_t r = 0; r < 8; ++r) dst[c * ldd + r0 + r] = s[r * lds + c];
      }
    }
  }
#endif
#if HWY_TARGET != HWY_SCALAR
  constexpr size_t W = 16 / sizeof(T);
  for (; r0 + W <= rows; r0 += W) {
    const T* s = src + r0 * lds;
    size_t c = 0;
    for (; c + W <= cols; c += W) Transpose128(s + c, lds, dst + c * ldd + r0, ldd);
    for (; c < cols; ++c) {
      for (size_t r = 0; r < W; ++r) dst[c * ldd + r0 + r] = s[r * lds + c];
    }
  }
#endif
  for (; r0 < rows; ++r0) {
    for (size_t c = 0; c < cols; ++c) dst[c * ldd + r0] = src[r0 * lds + c];
  }
  if (rows < ldd) {
    for (size_t c = 0; c < cols; ++c) memset(dst + c * ldd + rows, 0, (ldd - rows) * sizeof(T));
  }
}

// ---- Packing into micro-panels ----

// Rows [0, mc) x columns [0, kc) of op(A) (a points at its (0, 0)) into kMR-row micro-panels,
// each kMR * kStride elements apart. Not transposed: row layout (panel + q * kStride + p, plain
// row copies). Transposed: column layout (panel + p * kMR + q, contiguous in A too). Rows past
// mc are zero.
template <size_t kStride, typename T>
void PackA(bool trans_a, const T* HWY_RESTRICT a, size_t lda, size_t mc, size_t kc,
           T* HWY_RESTRICT dst) {
  if (!trans_a) {
    for (size_t ir = 0; ir < mc; ir += kMR) {
      const size_t mr = std::min(kMR, mc - ir);
      T* panel = dst + ir * kStride;
      for (size_t q = 0; q < kMR; ++q) {
        if (q < mr) {
          memcpy(panel + q * kStride, a + (ir + q) * lda, kc * sizeof(T));
        } else {
          memset(panel + q * kStride, 0, kc * sizeof(T));
        }
      }
    }
    return;
  }
  // Rows p of the stored A are contiguous along i: walk them in groups of 8, copying each
  // panel's kMR-wide piece, so that A is read row after row and each panel written in runs.
  const size_t full = mc / kMR * kMR;
  for (size_t p0 = 0; p0 < kc; p0 += 8) {
    const size_t p1 = std::min(kc, p0 + 8);
    for (size_t ir = 0; ir < full; ir += kMR) {
      T* panel = dst + ir * kStride;
      for (size_t p = p0; p < p1; ++p) {
        memcpy(panel + p * kMR, a + p * lda + ir, kMR * sizeof(T));
      }
    }
    if (full < mc) {
      T* panel = dst + full * kStride;
      for (size_t p = p0; p < p1; ++p) {
        for (size_t q = 0; q < kMR; ++q) {
          panel[p * kMR + q] = full + q < mc ? a[p * lda + full + q] : T(0);
        }
      }
    }
  }
}

// Rows [0, kc) x columns [0, nc) of op(B) (b points at its (0, 0)) into NR = 2 * Lanes(d)
// column micro-panels (panel jr/NR at dst + jr * kc, element (p, q) at p * NR + q). Columns past
// nc are zero. A transposed B (row q of b = column q of op(B)) is transposed into each panel.
template <class D, typename T = TFromD<D>>
void PackB(D d, bool trans_b, const T* HWY_RESTRICT b, size_t ldb, size_t kc, size_t nc,
           T* HWY_RESTRICT dst) {
  const size_t N = hn::Lanes(d), NR = 2 * N;
  if (trans_b) {
    for (size_t jr = 0; jr < nc; jr += NR) {
      TransposeInto(b + jr * ldb, std::min(NR, nc - jr), kc, ldb, dst + jr * kc, NR);
    }
    return;
  }
  // Rows p of B are contiguous along j: groups of 8 rows, each panel's NR-wide piece in turn,
  // so that B is read row after row and each panel written in runs of 8 * NR.
  const size_t full = nc / NR * NR;
  for (size_t p0 = 0; p0 < kc; p0 += 8) {
    const size_t p1 = std::min(kc, p0 + 8);
    for (size_t jr = 0; jr < full; jr += NR) {
      T* panel = dst + jr * kc;
      for (size_t p = p0; p < p1; ++p) {
        const T* s = b + p * ldb + jr;
        hn::Store(hn::LoadU(d, s), d, panel + p * NR);
        hn::Store(hn::LoadU(d, s + N), d, panel + p * NR + N);
      }
    }
    if (full < nc) {
      T* panel = dst + full * kc;
      const size_t nr = nc - full;
      for (size_t p = p0; p < p1; ++p) {
        memcpy(panel + p * NR, b + p * ldb + full, nr * sizeof(T));
        memset(panel + p * NR + nr, 0, (NR - nr) * sizeof(T));
      }
    }
  }
}

}  // namespace taesan::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // TS_OPS_KERNELS_TILE_INL_H_
