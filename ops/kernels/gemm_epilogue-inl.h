// GEMM's micro-kernel with its fused epilogue, per Highway target (included by gemm-inl.h): the
// register tile of tile-inl.h stored as out = act(alpha * acc + beta * C + bias), optionally with
// the pre-activation; edge tiles; single outputs with the same arithmetic. The activations are
// the elementwise kernels' own (math-inl.h).
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "taesan/ops/kernels/gemm.h"

#if defined(TS_OPS_KERNELS_GEMM_EPILOGUE_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TS_OPS_KERNELS_GEMM_EPILOGUE_INL_H_
#undef TS_OPS_KERNELS_GEMM_EPILOGUE_INL_H_
#else
#define TS_OPS_KERNELS_GEMM_EPILOGUE_INL_H_
#endif

#include "hwy/highway.h"
#include "taesan/ops/kernels/math-inl.h"
#include "taesan/ops/kernels/tile-inl.h"

HWY_BEFORE_NAMESPACE();
namespace taesan::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using hn::TFromD;

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

// The activation of the epilogue: the same vector functions as the elementwise kernels (unary
// Relu, Gelu, GeluTanh), so that a fused linear + activation computes the very function whose
// derivative the backward (activation_grad) takes.
template <class D, class V = hn::Vec<D>>
HWY_INLINE V Activate(D d, V v, GemmActivation act) {
  switch (act) {
    case GemmActivation::kNone:
      return v;
    case GemmActivation::kRelu:
      return Relu(d, v);
    case GemmActivation::kGelu:
      return Gelu(d, v);
    case GemmActivation::kGeluTanh:
      return GeluTanh(d, v);
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

// ---- The micro-kernel ----

// RegisterTile's store policy for an epilogue: C's lines are prefetched before the K loop, and a
// plain epilogue (alpha 1, beta 0, no bias, no pre-activation: most calls, and every first K
// block) stores the accumulators as they are, without StoreOut's per-vector tests (64^3 on
// Zen 4: 16 tiles, each K loop only 64 steps long, so the epilogue is a visible share).
template <typename T>
struct EpiStore {
  const Epi<T>& e;
  static constexpr bool Prefetch() { return true; }
  bool Plain() const {
    return e.alpha == T(1) && e.beta == T(0) && e.bias == nullptr && e.pre == nullptr;
  }
  template <class D>
  HWY_INLINE void operator()(D d, hn::Vec<D> acc, T* HWY_RESTRICT dst, size_t i, size_t j) const {
    StoreOut(d, acc, e, dst, i, j);
  }
};

// The register tile of tile-inl.h (MR <= 12 rows x NV <= 4 vectors over kc steps; A(i, p) at
// ap[as.row(i) + p * as.step()], B row p at bp + p * b_step), then the epilogue e into c (row
// stride ldc). Not inlined: the register allocator then sees only the tile's registers.
template <size_t MR, size_t NV, class D, class AS, typename T = TFromD<D>>
HWY_NOINLINE void Tile(D d, size_t kc, const T* HWY_RESTRICT ap, const AS as,
                       const T* HWY_RESTRICT bp, size_t b_step, const Epi<T>& e, T* HWY_RESTRICT c,
                       size_t ldc) {
  RegisterTile<MR, NV>(d, kc, ap, as, bp, b_step, c, ldc, /*load_c=*/false, EpiStore<T>{e});
  if (e.act != GemmActivation::kNone) ActivateRows(d, c, ldc, MR, NV * hn::Lanes(d), e.act);
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

}  // namespace taesan::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // TS_OPS_KERNELS_GEMM_EPILOGUE_INL_H_
