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
// Files: tile-inl.h (the register tile, packing, transposes; shared with attention),
// gemm_epilogue-inl.h (the micro-kernel with the fused epilogue), gemm_small-inl.h (the
// no-packing paths), and this one (blocking, the packed path, the plan and the thread split).
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <algorithm>

#include "hwy/aligned_allocator.h"
#include "hwy/cache_control.h"
#include "taesan/core/error.h"
#include "taesan/core/parallel.h"
#include "taesan/ops/kernels/gemm.h"
#include "taesan/ops/kernels/gemm_args.h"

#if defined(TS_OPS_KERNELS_GEMM_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef TS_OPS_KERNELS_GEMM_INL_H_
#undef TS_OPS_KERNELS_GEMM_INL_H_
#else
#define TS_OPS_KERNELS_GEMM_INL_H_
#endif

#include "hwy/highway.h"
#include "taesan/ops/kernels/gemm_epilogue-inl.h"
#include "taesan/ops/kernels/gemm_small-inl.h"
#include "taesan/ops/kernels/tile-inl.h"

HWY_BEFORE_NAMESPACE();
namespace taesan::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using hn::TFromD;

// ---- Block sizes (see the file comment; kMR is in tile-inl.h) ----

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
        PackA<B::kKCStride>(g.ta, g.ta ? g.a + pc * g.lda + ic : g.a + ic * g.lda + pc, g.lda, mc,
                            kc, apack);
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

// The exported entry points (one per dtype: Highway 1.0.3 has no HWY_EXPORT_T).
HWY_NOINLINE void GemmF32(const detail::GemmArgs<float>& args) { GemmImpl(args); }
HWY_NOINLINE void GemmF64(const detail::GemmArgs<double>& args) { GemmImpl(args); }

}  // namespace taesan::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#endif  // TS_OPS_KERNELS_GEMM_INL_H_
