// Per-target GEMM, compiled once per Highway target (gemm.cc includes it through
// foreach_target.h): BLIS-style packed path (packed A/B panels, L1/L2/L3 blocking, a
// register-tiled MulAdd micro-kernel), no-packing paths for small/skinny shapes, the fused
// bias/activation epilogue, and the split of C into independent tasks for the thread pool.
//
// Blocking, for element type T with L lanes per vector (Blocking<T> below):
//   NR = 2L output columns per micro-tile (two vectors); MR rows: 8 on targets with 32 vector
//     registers (AVX-512, NEON/SVE), 6 on targets with 16 (AVX2, SSE4): 2*MR accumulators + 2 B
//     vectors + 1 broadcast A value fill the register file without spilling. AVX2 fp32 is 6x16:
//     12 independent FMA chains >= 2 FMA/cycle x 4 cycles of latency, as peak needs.
//   KC = 64 KiB / (NR * sizeof(T)), clamped to [128, 512] (512 for fp32 and fp64 on AVX2 and
//     AVX-512): a packed B micro-panel (KC x NR, 32-64 KiB) lives in L1/L2 while the A
//     micro-panels stream past it. A larger KC means fewer passes over C (each K block reads and
//     writes all of C); measured on Zen 4, KC = 512 beat L1-sized panels (KC = 128-256) by 5-15%
//     on the Transformer shapes, because the L2 feeds 2 B vectors per 8-16 FMAs easily.
//   MC = 256 KiB / (KC * sizeof(T)), a multiple of MR: the packed A block fills half of Zen 3's
//     512 KiB L2 (fp32: 128 rows).
//   NC = 4 MiB / (KC * sizeof(T)), a multiple of NR: the packed B panel takes an eighth of
//     Zen 3's 32 MiB L3 (fp32: 2048 columns).
// Paths (ChoosePlan, from the shape only): packed; no packing when B is not transposed and fits
// L2 (the same micro-kernel reads B in place); for m or n <= 16, vectors along the long side
// (broadcast kernel, C written transposed if needed) or dot products along k (matrix-vector).
// Threads: C is cut into a 2-D grid of tile-aligned blocks (x the batch), each block a task
// with its own thread-local packing buffers, so tasks share nothing. The K loop is split only
// by KC (depends on k and the target, never on the thread count), and every output element is
// computed by the same sequence of operations wherever its tile falls, so results are
// bit-identical for any number of threads.
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <algorithm>
#include <cmath>

#include "taesan/core/error.h"
#include "taesan/core/parallel.h"
#include "hwy/aligned_allocator.h"
#include "hwy/cache_control.h"
#include "taesan/ops/kernels/gemm.h"
#include "taesan/ops/kernels/gemm_args.h"

#if defined(TS_OPS_KERNELS_GEMM_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TS_OPS_KERNELS_GEMM_INL_H_
#undef TS_OPS_KERNELS_GEMM_INL_H_
#else
#define TS_OPS_KERNELS_GEMM_INL_H_
#endif

#include "hwy/contrib/math/math-inl.h"
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace taesan::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using hn::TFromD;

// ---- Block sizes (see the file comment) ----

#if (HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX3) || HWY_ARCH_ARM_A64 || \
    (defined(HWY_ARCH_RVV) && HWY_ARCH_RVV)
inline constexpr size_t kMR = 8;  // 32 vector registers: 16 accumulators
#else
inline constexpr size_t kMR = 6;  // 16 vector registers: 12 accumulators
#endif

template <typename T>
struct Blocking {
  // Upper bound of the lanes per vector (exact on fixed-width targets).
  static constexpr size_t kMaxLanes = HWY_LANES(T);
  static constexpr size_t kKC =
      std::clamp<size_t>(65536 / (2 * kMaxLanes * sizeof(T)), 128, 512) / 8 * 8;
  // Row stride of a packed A micro-panel in row layout: KC plus one cache line, so that the MR
  // rows do not all map to the same L1 sets.
  static constexpr size_t kKCStride = kKC + 64 / sizeof(T);
  static constexpr size_t kMC = std::max<size_t>(262144 / (kKC * sizeof(T)) / kMR * kMR, kMR);
  static constexpr size_t kNCBytes = size_t{4} << 20;
};

// Shapes with m or n at most this take the no-packing paths.
inline constexpr int64_t kSmallDim = 16;
// Any shape whose B is not transposed and at most this big (half of Zen 3's L2), with A at most
// 4x that, is multiplied without packing: the broadcast kernel reads B in place from L2. (With
// a larger A, re-reading A for every column strip costs more than packing: 2048x256x256 -3%.)
inline constexpr size_t kNoPackBBytes = size_t{256} << 10;
// Products with fewer multiply-adds run on the calling thread (a fork/join costs ~10 us).
inline constexpr double kMinParallelWork = double(1 << 20);

// ---- Scratch buffers: per thread, grown on demand, never freed while the thread lives ----

template <typename T>
T* ScratchBuffer(size_t slot, size_t count) {
  thread_local hwy::AlignedFreeUniquePtr<T[]> buffers[3];
  thread_local size_t capacity[3] = {0, 0, 0};
  if (capacity[slot] < count) {
    buffers[slot] = hwy::AllocateAligned<T>(count);
    TS_CHECK(buffers[slot] != nullptr, "gemm: failed to allocate {} bytes of packing buffer",
             count * sizeof(T));
    capacity[slot] = count;
  }
  return buffers[slot].get();
}

// ---- Epilogue ----

// How a tile's accumulators become outputs: out = act(alpha * acc + beta * C + bias).
// Pointers are relative to the tile's (0, 0); bias is indexed by column.
template <typename T>
struct Epi {
  T alpha = 1;
  T beta = 0;  // 0: C is not read (BLAS semantics)
  const T* bias = nullptr;
  T* pre = nullptr;  // receives the value before the activation
  size_t ld_pre = 0;
  GemmActivation act = GemmActivation::kNone;
};

// erf: float uses a rational approximation (|x| <= 4, error < 2 ulp; erf is +-1 beyond in
// float); double calls std::erf per lane (the double path serves gradcheck, not speed).
template <class D, class V = hn::Vec<D>>
HWY_INLINE V Erf(D d, V x) {
  using T = TFromD<D>;
  if constexpr (sizeof(T) == 4) {
    x = hn::Min(hn::Max(x, hn::Set(d, -4.0f)), hn::Set(d, 4.0f));
    const V x2 = hn::Mul(x, x);
    V p = hn::MulAdd(x2, hn::Set(d, -2.72614225801306e-10f), hn::Set(d, 2.77068142495902e-08f));
    p = hn::MulAdd(x2, p, hn::Set(d, -2.10102402082508e-06f));
    p = hn::MulAdd(x2, p, hn::Set(d, -5.69250639462346e-05f));
    p = hn::MulAdd(x2, p, hn::Set(d, -7.34990630326855e-04f));
    p = hn::MulAdd(x2, p, hn::Set(d, -2.95459980854025e-03f));
    p = hn::MulAdd(x2, p, hn::Set(d, -1.60960333262415e-02f));
    V q = hn::MulAdd(x2, hn::Set(d, -1.45660718464996e-05f), hn::Set(d, -2.13374055278905e-04f));
    q = hn::MulAdd(x2, q, hn::Set(d, -1.68282697438203e-03f));
    q = hn::MulAdd(x2, q, hn::Set(d, -7.37332916720468e-03f));
    q = hn::MulAdd(x2, q, hn::Set(d, -1.42647390514189e-02f));
    return hn::Div(hn::Mul(x, p), q);
  } else {
    HWY_ALIGN T lanes[HWY_LANES(T)];
    hn::Store(x, d, lanes);
    for (size_t i = 0; i < hn::Lanes(d); ++i) lanes[i] = std::erf(lanes[i]);
    return hn::Load(d, lanes);
  }
}

template <class D, class V = hn::Vec<D>>
HWY_INLINE V Activate(D d, V v, GemmActivation act) {
  using T = TFromD<D>;
  const V half = hn::Set(d, T(0.5));
  const V one = hn::Set(d, T(1));
  switch (act) {
    case GemmActivation::kNone:
      return v;
    case GemmActivation::kRelu:  // keeps NaN, like torch.relu
      return hn::IfThenZeroElse(hn::Lt(v, hn::Zero(d)), v);
    case GemmActivation::kGelu: {
      const V e = Erf(d, hn::Mul(v, hn::Set(d, T(0.70710678118654752440))));
      return hn::Mul(hn::Mul(half, v), hn::Add(one, e));
    }
    case GemmActivation::kGeluTanh: {
      const V inner = hn::Mul(hn::Set(d, T(0.79788456080286535588)),
                              hn::MulAdd(hn::Mul(hn::Set(d, T(0.044715)), v), hn::Mul(v, v), v));
      return hn::Mul(hn::Mul(half, v), hn::Add(one, hn::Tanh(d, inner)));
    }
  }
  return v;
}

// Writes one vector of outputs before the activation: c[0..Lanes) = alpha * acc + beta * c +
// bias[j..], also to pre if set. Row i / column j locate the vector inside the tile.
template <class D, typename T = TFromD<D>>
HWY_INLINE void StoreOut(D d, hn::Vec<D> acc, const Epi<T>& e, T* HWY_RESTRICT c, size_t i,
                         size_t j) {
  auto v = e.alpha == T(1) ? acc : hn::Mul(hn::Set(d, e.alpha), acc);
  if (e.beta != T(0)) v = hn::MulAdd(hn::Set(d, e.beta), hn::LoadU(d, c), v);
  if (e.bias != nullptr) v = hn::Add(v, hn::LoadU(d, e.bias + j));
  if (e.pre != nullptr) {
    // The pre-activation is read again only by the backward: a non-temporal store skips the
    // read-for-ownership of its line and keeps it out of the cache (2048x512x128 with GELU,
    // Zen 4, 1 thread: 2.99 ms without the pre-activation, 3.79 storing it plainly, 3.56
    // streaming it). Whole vectors of 16+ bytes only: x86 streams 16 bytes even for a partial
    // vector.
    T* dst = e.pre + i * e.ld_pre + j;
    bool streamed = false;
    if constexpr (hn::MaxLanes(D()) * sizeof(T) >= 16) {
      if (reinterpret_cast<uintptr_t>(dst) % (hn::Lanes(d) * sizeof(T)) == 0) {
        hn::Stream(v, d, dst);
        streamed = true;
      }
    }
    if (!streamed) hn::StoreU(v, d, dst);
  }
  hn::StoreU(v, d, c);
}

// Applies the activation in place to rows x cols of c (cols a multiple of Lanes(d)), right
// after the tile was stored (still in L1). Kept out of the micro-kernel so that the kernel's
// register allocation is not disturbed by the activation's constants.
template <class D, typename T = TFromD<D>>
HWY_NOINLINE void ActivateRows(D d, T* HWY_RESTRICT c, size_t ldc, size_t rows, size_t cols,
                               GemmActivation act) {
  const size_t N = hn::Lanes(d);
  for (size_t i = 0; i < rows; ++i) {
    for (size_t j = 0; j < cols; j += N) {
      hn::StoreU(Activate(d, hn::LoadU(d, c + i * ldc + j), act), d, c + i * ldc + j);
    }
  }
}

// One output element, with the same arithmetic as a lane of StoreOut + ActivateRows.
template <typename T>
HWY_INLINE void StoreOne(T acc, const Epi<T>& e, T* c, const T* bias, T* pre) {
  const hn::CappedTag<T, 1> d1;
  Epi<T> e1 = e;
  e1.bias = bias;
  e1.pre = pre;
  StoreOut(d1, hn::Set(d1, acc), e1, c, 0, 0);
  if (e.act != GemmActivation::kNone) ActivateRows(d1, c, 1, 1, 1, e.act);
}

// ---- The register-tiled micro-kernel ----

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

#define TS_GEMM_FOR_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

// acc[MR x NV*L] = sum_{p < kc} A(i, p) * B(p, j): A(i, p) = ap[as.row(i) + p * as.step()] is
// broadcast, B row p = bp + p * b_step holds NV vectors. Then the epilogue stores the tile to
// c (row stride ldc). MR <= 12, NV <= 4. Not inlined: the register allocator then sees only
// the 2*MR accumulators, 2 B vectors and the broadcast (GCC spilled accumulators on AVX2 when
// this was inlined into the driver).
template <size_t MR, size_t NV, class D, class AS, typename T = TFromD<D>>
HWY_NOINLINE void Tile(D d, size_t kc, const T* HWY_RESTRICT ap, const AS as,
                       const T* HWY_RESTRICT bp, size_t b_step, const Epi<T>& e, T* HWY_RESTRICT c,
                       size_t ldc) {
  static_assert(MR >= 1 && MR <= 12 && NV >= 1 && NV <= 4, "tile shape");
  using V = hn::Vec<D>;
  const size_t N = hn::Lanes(d);
#define TS_GEMM_DECL(i) \
  V c##i##0 = hn::Zero(d), c##i##1 = c##i##0, c##i##2 = c##i##0, c##i##3 = c##i##0;
  TS_GEMM_FOR_ROWS(TS_GEMM_DECL)
#undef TS_GEMM_DECL
  // C is needed only after the K loop: start bringing its rows in now (beta != 0 reads them,
  // and stores need the lines too).
  for (size_t i = 0; i < MR; ++i) {
    hwy::Prefetch(c + i * ldc);
    if (NV * N * sizeof(T) > 64) hwy::Prefetch(c + i * ldc + NV * N - 1);
  }
  for (size_t p = 0; p < kc; ++p) {
    const V b0 = hn::LoadU(d, bp);
    const V b1 = NV > 1 ? hn::LoadU(d, bp + N) : b0;
    const V b2 = NV > 2 ? hn::LoadU(d, bp + 2 * N) : b0;
    const V b3 = NV > 3 ? hn::LoadU(d, bp + 3 * N) : b0;
#define TS_GEMM_FMA(i)                                           \
  if constexpr (MR > i) {                                        \
    const V ai = hn::Set(d, ap[as.row(i)]);                      \
    c##i##0 = hn::MulAdd(ai, b0, c##i##0);                       \
    if constexpr (NV > 1) c##i##1 = hn::MulAdd(ai, b1, c##i##1); \
    if constexpr (NV > 2) c##i##2 = hn::MulAdd(ai, b2, c##i##2); \
    if constexpr (NV > 3) c##i##3 = hn::MulAdd(ai, b3, c##i##3); \
  }
    TS_GEMM_FOR_ROWS(TS_GEMM_FMA)
#undef TS_GEMM_FMA
    ap += as.step();
    bp += b_step;
  }
  // Plain products (alpha 1, beta 0, no bias, no pre-activation: most calls, and every first K
  // block) store the accumulators as they are, without StoreOut's per-vector tests (64^3 on
  // Zen 4: 16 tiles, each K loop only 64 steps long, so the epilogue is a visible share).
  const bool plain = e.alpha == T(1) && e.beta == T(0) && e.bias == nullptr && e.pre == nullptr;
  if (plain) {
#define TS_GEMM_STORE_PLAIN(i)                                             \
  if constexpr (MR > i) {                                                  \
    hn::StoreU(c##i##0, d, c + i * ldc);                                   \
    if constexpr (NV > 1) hn::StoreU(c##i##1, d, c + i * ldc + N);         \
    if constexpr (NV > 2) hn::StoreU(c##i##2, d, c + i * ldc + 2 * N);     \
    if constexpr (NV > 3) hn::StoreU(c##i##3, d, c + i * ldc + 3 * N);     \
  }
    TS_GEMM_FOR_ROWS(TS_GEMM_STORE_PLAIN)
#undef TS_GEMM_STORE_PLAIN
  } else {
#define TS_GEMM_STORE(i)                                                          \
  if constexpr (MR > i) {                                                         \
    StoreOut(d, c##i##0, e, c + i * ldc, i, 0);                                   \
    if constexpr (NV > 1) StoreOut(d, c##i##1, e, c + i * ldc + N, i, N);         \
    if constexpr (NV > 2) StoreOut(d, c##i##2, e, c + i * ldc + 2 * N, i, 2 * N); \
    if constexpr (NV > 3) StoreOut(d, c##i##3, e, c + i * ldc + 3 * N, i, 3 * N); \
  }
    TS_GEMM_FOR_ROWS(TS_GEMM_STORE)
#undef TS_GEMM_STORE
  }
  if (e.act != GemmActivation::kNone) ActivateRows(d, c, ldc, MR, NV * N, e.act);
}

// A partial tile (mr < MR or nr < NR) of the packed path: the packed panels are zero-padded,
// so the full tile is computed on a local copy of the valid part of C and copied back.
template <size_t MR, class D, class AS, typename T = TFromD<D>>
HWY_NOINLINE void EdgeTile(D d, size_t kc, const T* HWY_RESTRICT ap, const AS as,
                           const T* HWY_RESTRICT bp, const Epi<T>& e, T* HWY_RESTRICT c, size_t ldc,
                           size_t mr, size_t nr) {
  const size_t NR = 2 * hn::Lanes(d);
  HWY_ALIGN T ct[MR * 2 * HWY_LANES(T)];
  HWY_ALIGN T bias[2 * HWY_LANES(T)];
  HWY_ALIGN T pre[MR * 2 * HWY_LANES(T)];
  Epi<T> et = e;
  if (e.beta != T(0)) {
    for (size_t i = 0; i < MR; ++i)
      for (size_t j = 0; j < NR; ++j) ct[i * NR + j] = (i < mr && j < nr) ? c[i * ldc + j] : T(0);
  }
  if (e.bias != nullptr) {
    for (size_t j = 0; j < NR; ++j) bias[j] = j < nr ? e.bias[j] : T(0);
    et.bias = bias;
  }
  if (e.pre != nullptr) {
    et.pre = pre;
    et.ld_pre = NR;
  }
  Tile<MR, 2>(d, kc, ap, as, bp, NR, et, ct, NR);
  for (size_t i = 0; i < mr; ++i) {
    memcpy(c + i * ldc, ct + i * NR, nr * sizeof(T));
    if (e.pre != nullptr) memcpy(e.pre + i * e.ld_pre, pre + i * NR, nr * sizeof(T));
  }
}

// ---- Packing ----

// Rows [0, mc) x columns [0, kc) of op(A) (a points at its (0, 0)) into MR-row micro-panels,
// each MR * kKCStride elements apart. Not transposed: row layout (panel + q * kKCStride + p,
// plain row copies). Transposed: column layout (panel + p * MR + q, contiguous in A too).
// Rows past mc are zero.
template <typename T>
void PackA(bool trans_a, const T* HWY_RESTRICT a, size_t lda, size_t mc, size_t kc,
           T* HWY_RESTRICT dst) {
  constexpr size_t kStride = Blocking<T>::kKCStride;
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
  // panel's MR-wide piece, so that A is read row after row and each panel written in runs.
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

// Transposes columns [0, nr) of a stored-transposed B (row q of src = column q of op(B),
// contiguous along p) into one micro-panel: panel[p * NR + q] = src[q * ldb + p]; columns
// nr..NR are zero. In-register transposes: 8x8 fp32 blocks in 256-bit vectors where the
// target has them, then 4x4 fp32 / 2x2 fp64 blocks in 128-bit vectors, then scalar.
template <class D, typename T = TFromD<D>>
HWY_INLINE void PackBTransposedPanel(D d, const T* HWY_RESTRICT src, size_t ldb, size_t nr,
                                     size_t kc, T* HWY_RESTRICT panel) {
  const size_t NR = 2 * hn::Lanes(d);
  size_t q = 0;
#if HWY_TARGET != HWY_SCALAR && HWY_MAX_BYTES >= 32
  if constexpr (sizeof(T) == 4) {
    // 8x8 blocks in 256-bit vectors: interleave 32-bit, then 64-bit lanes within the 128-bit
    // halves, then combine halves (0.6 shuffle per element instead of 1 for 4x4 blocks).
    const hn::FixedTag<T, 8> d8;
    const hn::Repartition<uint64_t, decltype(d8)> du;
    for (; q + 8 <= nr; q += 8) {
      const T* s = src + q * ldb;
      size_t p = 0;
      for (; p + 8 <= kc; p += 8) {
        const auto r0 = hn::LoadU(d8, s + p), r1 = hn::LoadU(d8, s + ldb + p);
        const auto r2 = hn::LoadU(d8, s + 2 * ldb + p), r3 = hn::LoadU(d8, s + 3 * ldb + p);
        const auto r4 = hn::LoadU(d8, s + 4 * ldb + p), r5 = hn::LoadU(d8, s + 5 * ldb + p);
        const auto r6 = hn::LoadU(d8, s + 6 * ldb + p), r7 = hn::LoadU(d8, s + 7 * ldb + p);
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
        T* o = panel + p * NR + q;
        hn::StoreU(hn::ConcatLowerLower(d8, v0, u0), d8, o);
        hn::StoreU(hn::ConcatLowerLower(d8, v1, u1), d8, o + NR);
        hn::StoreU(hn::ConcatLowerLower(d8, v2, u2), d8, o + 2 * NR);
        hn::StoreU(hn::ConcatLowerLower(d8, v3, u3), d8, o + 3 * NR);
        hn::StoreU(hn::ConcatUpperUpper(d8, v0, u0), d8, o + 4 * NR);
        hn::StoreU(hn::ConcatUpperUpper(d8, v1, u1), d8, o + 5 * NR);
        hn::StoreU(hn::ConcatUpperUpper(d8, v2, u2), d8, o + 6 * NR);
        hn::StoreU(hn::ConcatUpperUpper(d8, v3, u3), d8, o + 7 * NR);
      }
      for (; p < kc; ++p) {
        for (size_t r = 0; r < 8; ++r) panel[p * NR + q + r] = s[r * ldb + p];
      }
    }
  }
#endif
#if HWY_TARGET != HWY_SCALAR
  constexpr size_t W = 16 / sizeof(T);
  const hn::FixedTag<T, W> dw;
  for (; q + W <= nr; q += W) {
    const T* s = src + q * ldb;
    size_t p = 0;
    for (; p + W <= kc; p += W) {
      T* o = panel + p * NR + q;
      if constexpr (W == 4) {
        const hn::Repartition<uint64_t, decltype(dw)> du;
        const auto r0 = hn::LoadU(dw, s + p), r1 = hn::LoadU(dw, s + ldb + p);
        const auto r2 = hn::LoadU(dw, s + 2 * ldb + p), r3 = hn::LoadU(dw, s + 3 * ldb + p);
        const auto t0 = hn::BitCast(du, hn::InterleaveLower(dw, r0, r1));
        const auto t1 = hn::BitCast(du, hn::InterleaveLower(dw, r2, r3));
        const auto t2 = hn::BitCast(du, hn::InterleaveUpper(dw, r0, r1));
        const auto t3 = hn::BitCast(du, hn::InterleaveUpper(dw, r2, r3));
        hn::StoreU(hn::BitCast(dw, hn::InterleaveLower(du, t0, t1)), dw, o);
        hn::StoreU(hn::BitCast(dw, hn::InterleaveUpper(du, t0, t1)), dw, o + NR);
        hn::StoreU(hn::BitCast(dw, hn::InterleaveLower(du, t2, t3)), dw, o + 2 * NR);
        hn::StoreU(hn::BitCast(dw, hn::InterleaveUpper(du, t2, t3)), dw, o + 3 * NR);
      } else {
        const auto r0 = hn::LoadU(dw, s + p), r1 = hn::LoadU(dw, s + ldb + p);
        hn::StoreU(hn::InterleaveLower(dw, r0, r1), dw, o);
        hn::StoreU(hn::InterleaveUpper(dw, r0, r1), dw, o + NR);
      }
    }
    for (; p < kc; ++p) {
      for (size_t r = 0; r < W; ++r) panel[p * NR + q + r] = s[r * ldb + p];
    }
  }
#endif
  for (; q < nr; ++q) {
    for (size_t p = 0; p < kc; ++p) panel[p * NR + q] = src[q * ldb + p];
  }
  if (nr < NR) {
    for (size_t p = 0; p < kc; ++p) memset(panel + p * NR + nr, 0, (NR - nr) * sizeof(T));
  }
}

// Rows [0, kc) x columns [0, nc) of op(B) (b points at its (0, 0)) into NR-column micro-panels
// (panel jr/NR at dst + jr * kc, element (p, q) at p * NR + q). Columns past nc are zero.
template <class D, typename T = TFromD<D>>
void PackB(D d, bool trans_b, const T* HWY_RESTRICT b, size_t ldb, size_t kc, size_t nc,
           T* HWY_RESTRICT dst) {
  const size_t N = hn::Lanes(d), NR = 2 * N;
  if (trans_b) {
    for (size_t jr = 0; jr < nc; jr += NR) {
      PackBTransposedPanel(d, b + jr * ldb, ldb, std::min(NR, nc - jr), kc, dst + jr * kc);
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

// ---- One matrix, one block of C ----

// The operands of one matrix of the batch, and the epilogue of the whole matrix.
template <typename T>
struct Mat {
  bool ta, tb;
  size_t m, n, k;
  const T* a;
  size_t lda;
  const T* b;
  size_t ldb;
  T* c;
  size_t ldc;
  Epi<T> e;  // beta as given; bias/pre at C's (0, 0)
};

// Rounds x up to a multiple of r.
inline size_t RoundUp(size_t x, size_t r) { return (x + r - 1) / r * r; }
// Splits len into ceil(len / max_block) near-equal blocks, each rounded up to a multiple of r.
inline size_t BalancedBlock(size_t len, size_t max_block, size_t r) {
  const size_t blocks = (len + max_block - 1) / max_block;
  return std::min(RoundUp((len + blocks - 1) / blocks, r), std::max(max_block, r));
}

// The packed path on C rows [i0, i1) x columns [j0, j1); i0 is a multiple of MR and j0 of NR,
// so the tiles are those of the whole matrix whatever the split.
template <class D, typename T = TFromD<D>>
void GemmPacked(D d, const Mat<T>& g, size_t i0, size_t i1, size_t j0, size_t j1) {
  using B = Blocking<T>;
  const size_t NR = 2 * hn::Lanes(d);
  const size_t k = g.k;
  const size_t kc_nom = BalancedBlock(k, B::kKC, 8);
  const size_t mc_nom = BalancedBlock(i1 - i0, B::kMC, kMR);
  const size_t nc_max = std::max(B::kNCBytes / (B::kKC * sizeof(T)) / NR * NR, NR);
  const size_t nc_nom = BalancedBlock(j1 - j0, nc_max, NR);
  T* apack = ScratchBuffer<T>(0, mc_nom * B::kKCStride);
  T* bpack = ScratchBuffer<T>(1, nc_nom * kc_nom);
  using RowLayout = FixedAStrides<B::kKCStride, 1>;
  using ColLayout = FixedAStrides<1, kMR>;

  for (size_t jc = j0; jc < j1; jc += nc_nom) {
    const size_t nc = std::min(nc_nom, j1 - jc);
    for (size_t pc = 0; pc < k; pc += kc_nom) {
      const size_t kc = std::min(kc_nom, k - pc);
      const bool first = pc == 0, last = pc + kc == k;
      PackB(d, g.tb, g.tb ? g.b + jc * g.ldb + pc : g.b + pc * g.ldb + jc, g.ldb, kc, nc, bpack);
      for (size_t ic = i0; ic < i1; ic += mc_nom) {
        const size_t mc = std::min(mc_nom, i1 - ic);
        PackA(g.ta, g.ta ? g.a + pc * g.lda + ic : g.a + ic * g.lda + pc, g.lda, mc, kc, apack);
        for (size_t jr = 0; jr < nc; jr += NR) {
          const size_t nr = std::min(NR, nc - jr);
          const T* bp = bpack + jr * kc;
          for (size_t ir = 0; ir < mc; ir += kMR) {
            const size_t mr = std::min(kMR, mc - ir);
            const size_t row = ic + ir, col = jc + jr;
            Epi<T> e;
            e.alpha = g.e.alpha;
            e.beta = first ? g.e.beta : T(1);
            if (last) {
              e.bias = g.e.bias ? g.e.bias + col : nullptr;
              e.pre = g.e.pre ? g.e.pre + row * g.e.ld_pre + col : nullptr;
              e.ld_pre = g.e.ld_pre;
              e.act = g.e.act;
            }
            T* ct = g.c + row * g.ldc + col;
            const T* ap = apack + ir * B::kKCStride;
            if (mr == kMR && nr == NR) {
              if (g.ta) {
                Tile<kMR, 2>(d, kc, ap, ColLayout(), bp, NR, e, ct, g.ldc);
              } else {
                Tile<kMR, 2>(d, kc, ap, RowLayout(), bp, NR, e, ct, g.ldc);
              }
            } else if (g.ta) {
              EdgeTile<kMR>(d, kc, ap, ColLayout(), bp, e, ct, g.ldc, mr, nr);
            } else {
              EdgeTile<kMR>(d, kc, ap, RowLayout(), bp, e, ct, g.ldc, mr, nr);
            }
          }
        }
      }
    }
  }
}

// ---- No-packing paths for small / skinny shapes ----

// out(r, j) = sum_p x[r * xrs + p * xcs] * y[p * ldy + j] for a tile of MR rows x NV vectors
// starting at (r, j), then the epilogue. out(r, j) is c[r * ldc + j], or c[j * ldc + r] when
// transposed (bias then indexed by r, pre laid out like c).
template <size_t MR, size_t NV, class DV, typename T = TFromD<DV>>
HWY_INLINE void BroadcastTile(DV dv, size_t k, const T* x, RuntimeAStrides as, const T* y,
                              size_t ldy, const Epi<T>& e, T* c, size_t ldc, size_t r, size_t j,
                              bool transposed) {
  const T* xr = x + r * as.rs;
  const T* yj = y + j;
  if (!transposed) {
    Epi<T> et = e;
    if (e.bias != nullptr) et.bias = e.bias + j;
    if (e.pre != nullptr) et.pre = e.pre + r * e.ld_pre + j;
    Tile<MR, NV>(dv, k, xr, as, yj, ldy, et, c + r * ldc + j, ldc);
    return;
  }
  const size_t W = NV * hn::Lanes(dv);
  HWY_ALIGN T tmp[MR * 4 * HWY_LANES(T)];
  Tile<MR, NV>(dv, k, xr, as, yj, ldy, Epi<T>(), tmp, W);  // raw sums (alpha 1, beta 0)
  for (size_t rr = 0; rr < MR; ++rr) {
    for (size_t jj = 0; jj < W; ++jj) {
      const size_t ro = r + rr, co = j + jj;
      StoreOne(tmp[rr * W + jj], e, c + co * ldc + ro, e.bias ? e.bias + ro : nullptr,
               e.pre ? e.pre + co * e.ld_pre + ro : nullptr);
    }
  }
}

// Few rows get wider tiles (4 vectors), so that there are still >= 4 independent FMA chains and
// each strided B row is read in longer runs; 16-register targets keep <= 8 of those accumulators.
inline constexpr size_t kWideRows = kMR == 8 ? 4 : 2;

template <size_t NV, class DV, typename T = TFromD<DV>>
HWY_INLINE void BroadcastColumns(DV dv, size_t rows, size_t k, const T* x, RuntimeAStrides as,
                                 const T* y, size_t ldy, const Epi<T>& e, T* c, size_t ldc,
                                 size_t j, bool transposed) {
  size_t r = 0;
  if constexpr (NV < 4) {  // MR x 4 accumulators would not fit the registers
    for (; r + kMR <= rows; r += kMR) {
      BroadcastTile<kMR, NV>(dv, k, x, as, y, ldy, e, c, ldc, r, j, transposed);
    }
  } else {
    for (; r + kWideRows <= rows; r += kWideRows) {
      BroadcastTile<kWideRows, NV>(dv, k, x, as, y, ldy, e, c, ldc, r, j, transposed);
    }
  }
  // The remaining rows in tiles of 4 and 2 rows while their accumulators fit (<= 2 MR), then 1:
  // a single-row tile has only NV independent FMA chains.
  if constexpr (4 * NV <= 2 * kMR) {
    for (; r + 4 <= rows; r += 4)
      BroadcastTile<4, NV>(dv, k, x, as, y, ldy, e, c, ldc, r, j, transposed);
  }
  for (; r + 2 <= rows; r += 2)
    BroadcastTile<2, NV>(dv, k, x, as, y, ldy, e, c, ldc, r, j, transposed);
  for (; r < rows; ++r) BroadcastTile<1, NV>(dv, k, x, as, y, ldy, e, c, ldc, r, j, transposed);
}

// out[rows x cols] = X Y with X(r, p) = x[r * xrs + p * xcs] broadcast and Y's rows (stride ldy)
// contiguous along the output columns, which become vector lanes.
template <class D, typename T = TFromD<D>>
HWY_NOINLINE void SmallBroadcast(D d, size_t rows, size_t cols, size_t k, const T* x,
                                 RuntimeAStrides as, const T* y, size_t ldy, const Epi<T>& e, T* c,
                                 size_t ldc, bool transposed) {
  const size_t N = hn::Lanes(d);
  const hn::CappedTag<T, 1> d1;
  size_t j = 0;
  // Four-vector tiles (kWideRows x 4 vectors) wherever the columns allow on 32-register targets:
  // 4 B loads + 4 broadcasts per 16 FMAs instead of 2 + 8 with MR x 2 (Zen 4, 1 thread: 64^3
  // 4.78 -> 4.72 us, 256^3 298 -> 295, 32 x 128x128x64 628 -> 615); on 16-register targets
  // (kWideRows = 2 there: 8 accumulators) only for fewer than MR rows.
  if (kMR == 8 || rows < kMR) {
    for (; j + 4 * N <= cols; j += 4 * N) {
      BroadcastColumns<4>(d, rows, k, x, as, y, ldy, e, c, ldc, j, transposed);
    }
  }
  for (; j + 2 * N <= cols; j += 2 * N) {
    BroadcastColumns<2>(d, rows, k, x, as, y, ldy, e, c, ldc, j, transposed);
  }
  for (; j + N <= cols; j += N) {
    BroadcastColumns<1>(d, rows, k, x, as, y, ldy, e, c, ldc, j, transposed);
  }
  for (; j < cols; ++j) BroadcastColumns<1>(d1, rows, k, x, as, y, ldy, e, c, ldc, j, transposed);
}

#define TS_GEMM_FOR_RJ(X, i) X(i, 0) X(i, 1) X(i, 2) X(i, 3)
#define TS_GEMM_FOR_RIJ(X) \
  TS_GEMM_FOR_RJ(X, 0) TS_GEMM_FOR_RJ(X, 1) TS_GEMM_FOR_RJ(X, 2) TS_GEMM_FOR_RJ(X, 3)

// out[i * RJ + j] = dot(x row i, y row j) over k, rows contiguous (strides ldx, ldy): vector
// partial sums, a fixed reduction tree, then the k % L tail in scalar FMAs. RI, RJ <= 4.
template <size_t RI, size_t RJ, class D, typename T = TFromD<D>>
HWY_INLINE void DotTile(D d, size_t k, const T* HWY_RESTRICT x, size_t ldx, const T* HWY_RESTRICT y,
                        size_t ldy, T* HWY_RESTRICT out) {
  using V = hn::Vec<D>;
  const size_t N = hn::Lanes(d);
#define TS_GEMM_DECL(i, j) V a##i##j = hn::Zero(d);
  TS_GEMM_FOR_RIJ(TS_GEMM_DECL)
#undef TS_GEMM_DECL
  size_t p = 0;
  for (; p + N <= k; p += N) {
    V y0 = hn::Zero(d), y1 = y0, y2 = y0, y3 = y0;
    y0 = hn::LoadU(d, y + p);
    if constexpr (RJ > 1) y1 = hn::LoadU(d, y + ldy + p);
    if constexpr (RJ > 2) y2 = hn::LoadU(d, y + 2 * ldy + p);
    if constexpr (RJ > 3) y3 = hn::LoadU(d, y + 3 * ldy + p);
#define TS_GEMM_DOT(i, j)         \
  if constexpr (RI > i && RJ > j) \
    a##i##j = hn::MulAdd(hn::LoadU(d, x + i * ldx + p), y##j, a##i##j);
    TS_GEMM_FOR_RIJ(TS_GEMM_DOT)
#undef TS_GEMM_DOT
  }
  const hn::CappedTag<T, 1> d1;
#define TS_GEMM_REDUCE(i, j)                                                       \
  if constexpr (RI > i && RJ > j) {                                                \
    auto s = hn::Set(d1, hn::GetLane(hn::SumOfLanes(d, a##i##j)));                 \
    for (size_t q = p; q < k; ++q) {                                               \
      s = hn::MulAdd(hn::Set(d1, x[i * ldx + q]), hn::Set(d1, y[j * ldy + q]), s); \
    }                                                                              \
    out[i * RJ + j] = hn::GetLane(s);                                              \
  }
  TS_GEMM_FOR_RIJ(TS_GEMM_REDUCE)
#undef TS_GEMM_REDUCE
}

inline constexpr size_t kDotRI = 4;
inline constexpr size_t kDotRJ = kMR == 8 ? 4 : 2;

template <size_t RI, size_t RJ, class D, typename T = TFromD<D>>
HWY_INLINE void DotBlock(D d, size_t k, const T* x, size_t ldx, const T* y, size_t ldy,
                         const Epi<T>& e, T* c, size_t ldc, size_t i, size_t j) {
  T out[RI * RJ];
  DotTile<RI, RJ>(d, k, x + i * ldx, ldx, y + j * ldy, ldy, out);
  for (size_t ii = 0; ii < RI; ++ii) {
    for (size_t jj = 0; jj < RJ; ++jj) {
      const size_t ro = i + ii, co = j + jj;
      StoreOne(out[ii * RJ + jj], e, c + ro * ldc + co, e.bias ? e.bias + co : nullptr,
               e.pre ? e.pre + ro * e.ld_pre + co : nullptr);
    }
  }
}

template <size_t RI, class D, typename T = TFromD<D>>
HWY_INLINE void DotRow(D d, size_t cols, size_t k, const T* x, size_t ldx, const T* y, size_t ldy,
                       const Epi<T>& e, T* c, size_t ldc, size_t i) {
  size_t j = 0;
  for (; j + kDotRJ <= cols; j += kDotRJ)
    DotBlock<RI, kDotRJ>(d, k, x, ldx, y, ldy, e, c, ldc, i, j);
  for (; j < cols; ++j) DotBlock<RI, 1>(d, k, x, ldx, y, ldy, e, c, ldc, i, j);
}

template <size_t RJ, class D, typename T = TFromD<D>>
HWY_INLINE void DotColumn(D d, size_t rows, size_t k, const T* x, size_t ldx, const T* y,
                          size_t ldy, const Epi<T>& e, T* c, size_t ldc, size_t j) {
  size_t i = 0;
  for (; i + kDotRI <= rows; i += kDotRI)
    DotBlock<kDotRI, RJ>(d, k, x, ldx, y, ldy, e, c, ldc, i, j);
  for (; i < rows; ++i) DotBlock<1, RJ>(d, k, x, ldx, y, ldy, e, c, ldc, i, j);
}

// out(i, j) = dot(x row i, y row j): both operands contiguous along k. The longer side is the
// outer loop, so the long operand is read once and the short one stays in cache.
template <class D, typename T = TFromD<D>>
HWY_NOINLINE void SmallDot(D d, size_t rows, size_t cols, size_t k, const T* x, size_t ldx,
                           const T* y, size_t ldy, const Epi<T>& e, T* c, size_t ldc) {
  if (rows >= cols) {
    size_t i = 0;
    for (; i + kDotRI <= rows; i += kDotRI)
      DotRow<kDotRI>(d, cols, k, x, ldx, y, ldy, e, c, ldc, i);
    for (; i < rows; ++i) DotRow<1>(d, cols, k, x, ldx, y, ldy, e, c, ldc, i);
  } else {
    size_t j = 0;
    for (; j + kDotRJ <= cols; j += kDotRJ) {
      DotColumn<kDotRJ>(d, rows, k, x, ldx, y, ldy, e, c, ldc, j);
    }
    for (; j < cols; ++j) DotColumn<1>(d, rows, k, x, ldx, y, ldy, e, c, ldc, j);
  }
}

// ---- Path choice (from the shape only, so never from the thread count) ----

enum class Path {
  kPacked,      // BLIS packed panels
  kBroadcast,   // m small or B small, B rows contiguous along n: vectors along n, no packing
  kBroadcastT,  // n small, A stored transposed: vectors along m, C written transposed
  kDot,         // dot products along k (small operand copied to rows if not contiguous)
};

struct Plan {
  Path path = Path::kPacked;
  bool copy_a = false;  // kDot: copy op(A) rows [i0, i1) to contiguous rows first
  bool copy_b = false;  // kDot: copy op(B) columns [j0, j1) to contiguous rows first
};

template <typename T>
Plan ChoosePlan(const Mat<T>& g) {
  Plan plan;
  const size_t small = kSmallDim;
  const size_t b_bytes = g.k * g.n * sizeof(T);
  if (!g.tb && b_bytes <= kNoPackBBytes && g.m * g.k * sizeof(T) <= 4 * kNoPackBBytes) {
    // B (rows contiguous) stays in L2: the micro-kernel reads it in place, packing would only
    // add a copy (measured on Zen 4: 64^3 95 vs 88 GFLOP/s, 32 x 128x64x128 109 vs 101).
    plan.path = Path::kBroadcast;
    return plan;
  }
  if (g.m > small && g.n > small) return plan;
  if (g.m <= g.n) {
    if (!g.tb) {
      // Vectors along n read B rows p at stride ldb. Past L2-ish sizes those strided reads cost
      // more than packing once; with MR or more rows the packed path is then faster (measured
      // on Zen 4: 16x3072x768 packed 70 GFLOP/s vs 29 unpacked; 4x3072x768 unpacked 45 vs 26).
      if (g.m >= kMR && b_bytes > (size_t{4} << 20)) return plan;
      plan.path = Path::kBroadcast;
    } else {
      plan.path = Path::kDot;
      plan.copy_a = g.ta && !(g.m == 1 && g.lda == 1);
    }
  } else if (g.ta) {
    plan.path = Path::kBroadcastT;
  } else {
    plan.path = Path::kDot;
    plan.copy_b = !g.tb && !(g.n == 1 && g.ldb == 1);
  }
  return plan;
}

// Runs the plan on C rows [i0, i1) x columns [j0, j1).
template <class D, typename T = TFromD<D>>
void RunBlock(D d, const Plan& plan, const Mat<T>& g, size_t i0, size_t i1, size_t j0, size_t j1) {
  Epi<T> e = g.e;
  if (e.bias != nullptr) e.bias += j0;
  if (e.pre != nullptr) e.pre += i0 * e.ld_pre + j0;
  T* c = g.c + i0 * g.ldc + j0;
  const size_t rows = i1 - i0, cols = j1 - j0;
  switch (plan.path) {
    case Path::kPacked:
      GemmPacked(d, g, i0, i1, j0, j1);
      return;
    case Path::kBroadcast: {
      const RuntimeAStrides as = g.ta ? RuntimeAStrides{1, g.lda} : RuntimeAStrides{g.lda, 1};
      // Blocks of rows whose part of A (~64 KiB) stays in cache while all column strips pass.
      const size_t rb = std::max(kMR, 65536 / std::max<size_t>(g.k * sizeof(T), 1) / kMR * kMR);
      for (size_t r = 0; r < rows; r += rb) {
        Epi<T> er = e;
        if (er.pre != nullptr) er.pre += r * er.ld_pre;
        SmallBroadcast(d, std::min(rb, rows - r), cols, g.k, g.a + (i0 + r) * as.rs, as, g.b + j0,
                       g.ldb, er, c + r * g.ldc, g.ldc, false);
      }
      return;
    }
    case Path::kBroadcastT: {
      const RuntimeAStrides as = g.tb ? RuntimeAStrides{g.ldb, 1} : RuntimeAStrides{1, g.ldb};
      // Rows of the transposed view are C's columns j, its columns are C's rows i.
      Epi<T> et = e;
      SmallBroadcast(d, cols, rows, g.k, g.b + j0 * as.rs, as, g.a + i0, g.lda, et, c, g.ldc, true);
      return;
    }
    case Path::kDot: {
      const size_t k = g.k;
      const T* x = g.a + i0 * (g.ta ? 1 : g.lda);
      size_t ldx = g.lda;
      if (plan.copy_a) {  // op(A) rows from A stored k x m
        T* buf = ScratchBuffer<T>(2, rows * k);
        for (size_t i = 0; i < rows; ++i)
          for (size_t p = 0; p < k; ++p) buf[i * k + p] = g.a[p * g.lda + i0 + i];
        x = buf;
        ldx = k;
      }
      const T* y = g.b + j0 * (g.tb ? g.ldb : 1);
      size_t ldy = g.tb ? g.ldb : 1;
      if (plan.copy_b) {  // op(B) columns from B stored k x n
        T* buf = ScratchBuffer<T>(2, cols * k);
        for (size_t p = 0; p < k; ++p)
          for (size_t j = 0; j < cols; ++j) buf[j * k + p] = g.b[p * g.ldb + j0 + j];
        y = buf;
        ldy = k;
      }
      SmallDot(d, rows, cols, k, x, ldx, y, ldy, e, c, g.ldc);
      return;
    }
  }
}

// k == 0 or alpha == 0: C = act(beta * C + bias), A and B are not read (BLAS semantics).
template <class D, typename T = TFromD<D>>
void ScaleOnly(D d, const Mat<T>& g) {
  const size_t N = hn::Lanes(d);
  Epi<T> e = g.e;
  e.alpha = T(0);
  for (size_t i = 0; i < g.m; ++i) {
    T* row = g.c + i * g.ldc;
    size_t j = 0;
    for (; j + N <= g.n; j += N) StoreOut(d, hn::Zero(d), e, row + j, i, j);
    if (e.act != GemmActivation::kNone && j > 0) ActivateRows(d, row, 0, 1, j, e.act);
    for (; j < g.n; ++j) {
      StoreOne(T(0), e, row + j, e.bias ? e.bias + j : nullptr,
               e.pre ? e.pre + i * e.ld_pre + j : nullptr);
    }
  }
}

// Splits len into at most `parts` chunks that are multiples of align; returns the chunk size.
inline size_t ChunkSize(size_t len, size_t parts, size_t align) {
  return std::max(RoundUp((len + parts - 1) / parts, align), align);
}

// The whole strided-batched product: plan, split into independent (matrix, row block, column
// block) tasks, run them on the thread pool.
template <typename T>
void GemmImpl(const detail::GemmArgs<T>& args) {
  const hn::ScalableTag<T> d;
  if (args.batch <= 0 || args.m <= 0 || args.n <= 0) return;
  auto mat = [&](int64_t i) {
    Mat<T> g;
    g.ta = args.trans_a;
    g.tb = args.trans_b;
    g.m = size_t(args.m);
    g.n = size_t(args.n);
    g.k = size_t(args.k);
    g.a = args.a + i * args.stride_a;
    g.lda = size_t(args.lda);
    g.b = args.b + i * args.stride_b;
    g.ldb = size_t(args.ldb);
    g.c = args.c + i * args.stride_c;
    g.ldc = size_t(args.ldc);
    g.e.alpha = args.alpha;
    g.e.beta = args.beta;
    g.e.bias = args.epilogue.bias;
    g.e.act = args.epilogue.activation;
    g.e.pre =
        args.epilogue.pre_activation ? args.epilogue.pre_activation + i * args.stride_pre : nullptr;
    g.e.ld_pre = size_t(args.epilogue.ld_pre_activation);
    return g;
  };
  const size_t batch = size_t(args.batch), m = size_t(args.m), n = size_t(args.n);
  if (args.k == 0 || args.alpha == T(0)) {
    for (size_t i = 0; i < batch; ++i) ScaleOnly(d, mat(int64_t(i)));
    return;
  }
  const Plan plan = ChoosePlan(mat(0));
  const size_t NR = 2 * hn::Lanes(d);

  // Parts per matrix: enough tasks to keep every thread busy and balanced.
  const size_t threads = size_t(get_num_threads());
  const double work = double(batch) * double(m) * double(n) * double(args.k);
  size_t parts = 1;
  if (threads > 1 && work >= kMinParallelWork) {
    while ((batch * parts) % threads != 0 && batch * parts < 4 * threads) ++parts;
  }
  // Row chunks (tm of mt rows) x column chunks (tn of nt columns), aligned to the tiles.
  size_t tm = 1, tn = 1;
  size_t align_m = 1, align_n = 1;
  switch (plan.path) {
    case Path::kPacked:
      align_m = kMR;
      align_n = NR;
      break;
    case Path::kBroadcast:
      align_m = kMR;
      align_n = NR;
      break;
    case Path::kBroadcastT:
      align_m = NR;
      break;
    case Path::kDot:
      align_m = kDotRI;
      align_n = kDotRJ;
      break;
  }
  if (parts > 1) {
    if (plan.path == Path::kPacked || (plan.path == Path::kBroadcast && m > size_t(kSmallDim))) {
      // The factorisation with the smallest task perimeter (least packing per task).
      size_t best = SIZE_MAX;
      for (size_t f = 1; f <= parts; ++f) {
        if (parts % f != 0) continue;
        const size_t cost = ChunkSize(m, f, align_m) + ChunkSize(n, parts / f, align_n);
        if (cost < best) {
          best = cost;
          tm = f;
          tn = parts / f;
        }
      }
    } else if (plan.path == Path::kBroadcast || (plan.path == Path::kDot && n >= m)) {
      tn = parts;
    } else {
      tm = parts;
    }
  }
  const size_t mt = ChunkSize(m, tm, align_m), nt = ChunkSize(n, tn, align_n);
  tm = (m + mt - 1) / mt;
  tn = (n + nt - 1) / nt;
  const size_t tasks = batch * tm * tn;
  auto run_task = [&](size_t t) {
    const size_t bi = t / (tm * tn), r = t % (tm * tn);
    const size_t i0 = (r / tn) * mt, j0 = (r % tn) * nt;
    const Mat<T> g = mat(int64_t(bi));
    RunBlock(d, plan, g, i0, std::min(m, i0 + mt), j0, std::min(n, j0 + nt));
    // The pre-activation was written with non-temporal stores (StoreOut): order them before
    // the task is reported done, so every thread that reads it afterwards sees them.
    if (g.e.pre != nullptr) hwy::FlushStream();
  };
  if (tasks == 1 || threads == 1 || work < kMinParallelWork) {
    for (size_t t = 0; t < tasks; ++t) run_task(t);
  } else {
    parallel_for(int64_t(tasks), 1, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) run_task(size_t(t));
    });
  }
}

#undef TS_GEMM_FOR_ROWS
#undef TS_GEMM_FOR_RJ
#undef TS_GEMM_FOR_RIJ

// The exported entry points (one per dtype: Highway 1.0.3 has no HWY_EXPORT_T).
HWY_NOINLINE void GemmF32(const detail::GemmArgs<float>& args) { GemmImpl(args); }
HWY_NOINLINE void GemmF64(const detail::GemmArgs<double>& args) { GemmImpl(args); }

}  // namespace taesan::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // TS_OPS_KERNELS_GEMM_INL_H_
