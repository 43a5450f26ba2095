// Public GEMM entry points: argument checks, then dynamic dispatch to the per-target code of
// gemm-inl.h (compiled for every target by foreach_target.h), plus the plain reference loop.
#include "taesan/ops/kernels/gemm.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "taesan/ops/kernels/gemm.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "taesan/ops/kernels/gemm-inl.h"

#if HWY_ONCE

#include <algorithm>
#include <vector>

#include "taesan/core/error.h"
#include "taesan/core/parallel.h"
#include "taesan/ops/kernels/gemm_args.h"

namespace taesan::kernels {

HWY_EXPORT(GemmF32);
HWY_EXPORT(GemmF64);

namespace {

// Checks sizes, leading dimensions and pointers; `fn` names the public function.
template <typename T>
void check_args(const char* fn, const detail::GemmArgs<T>& g) {
  TS_CHECK(g.batch >= 0 && g.m >= 0 && g.n >= 0 && g.k >= 0,
           "{}: sizes must be >= 0, got batch={} m={} n={} k={}", fn, g.batch, g.m, g.n, g.k);
  const int64_t a_cols = g.trans_a ? g.m : g.k, b_cols = g.trans_b ? g.k : g.n;
  TS_CHECK(g.lda >= std::max<int64_t>(1, a_cols),
           "{}: lda={} is smaller than the row length {} of A ({}, m={} k={})", fn, g.lda, a_cols,
           g.trans_a ? "transposed, stored k x m" : "stored m x k", g.m, g.k);
  TS_CHECK(g.ldb >= std::max<int64_t>(1, b_cols),
           "{}: ldb={} is smaller than the row length {} of B ({}, k={} n={})", fn, g.ldb, b_cols,
           g.trans_b ? "transposed, stored n x k" : "stored k x n", g.k, g.n);
  TS_CHECK(g.ldc >= std::max<int64_t>(1, g.n), "{}: ldc={} is smaller than n={}", fn, g.ldc, g.n);
  const bool empty = g.batch == 0 || g.m == 0 || g.n == 0;
  if (empty) return;
  TS_CHECK(g.c != nullptr, "{}: C is null for a {}x{} output", fn, g.m, g.n);
  if (g.k > 0 && g.alpha != T(0)) {
    TS_CHECK(g.a != nullptr && g.b != nullptr, "{}: A or B is null with m={} n={} k={}", fn, g.m,
             g.n, g.k);
  }
  TS_CHECK(g.stride_a >= 0 && g.stride_b >= 0,
           "{}: batch strides of A and B must be >= 0, got {} and {}", fn, g.stride_a, g.stride_b);
  if (g.batch > 1) {
    const int64_t c_extent = (g.m - 1) * g.ldc + g.n;
    TS_CHECK(g.stride_c >= c_extent,
             "{}: stride_c={} makes the {} outputs overlap (each spans {} elements: m={} n={} "
             "ldc={})",
             fn, g.stride_c, g.batch, c_extent, g.m, g.n, g.ldc);
  }
  const GemmEpilogue<T>& e = g.epilogue;
  if (e.pre_activation != nullptr) {
    TS_CHECK(e.ld_pre_activation >= g.n, "{}: ld_pre_activation={} is smaller than n={}", fn,
             e.ld_pre_activation, g.n);
  }
}

template <typename T>
detail::GemmArgs<T> make_args(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha,
                              const T* a, int64_t lda, const T* b, int64_t ldb, T beta, T* c,
                              int64_t ldc) {
  detail::GemmArgs<T> g;
  g.trans_a = ta;
  g.trans_b = tb;
  g.m = m;
  g.n = n;
  g.k = k;
  g.alpha = alpha;
  g.a = a;
  g.lda = lda;
  g.b = b;
  g.ldb = ldb;
  g.beta = beta;
  g.c = c;
  g.ldc = ldc;
  return g;
}

void run(const detail::GemmArgs<float>& g) { HWY_DYNAMIC_DISPATCH(GemmF32)(g); }
void run(const detail::GemmArgs<double>& g) { HWY_DYNAMIC_DISPATCH(GemmF64)(g); }

template <typename T>
void gemm_impl(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
               const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  const detail::GemmArgs<T> g = make_args(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  check_args("gemm", g);
  run(g);
}

template <typename T>
void fused_impl(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
                const T* b, int64_t ldb, T beta, T* c, int64_t ldc,
                const GemmEpilogue<T>& epilogue) {
  detail::GemmArgs<T> g = make_args(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  g.epilogue = epilogue;
  check_args("gemm_fused", g);
  run(g);
}

template <typename T>
void batched_impl(int64_t batch, bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha,
                  const T* a, int64_t lda, int64_t sa, const T* b, int64_t ldb, int64_t sb, T beta,
                  T* c, int64_t ldc, int64_t sc) {
  detail::GemmArgs<T> g = make_args(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  g.batch = batch;
  g.stride_a = sa;
  g.stride_b = sb;
  g.stride_c = sc;
  check_args("gemm_strided_batched", g);
  run(g);
}

// Plain loops, accumulating in double in the order p = 0..k-1 for every element.
template <typename T>
void reference_impl(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const T* a,
                    int64_t lda, const T* b, int64_t ldb, double beta, T* c, int64_t ldc) {
  parallel_for(m, 8, [&](int64_t i0, int64_t i1) {
    std::vector<double> acc(size_t(std::max<int64_t>(n, 1)));
    for (int64_t i = i0; i < i1; ++i) {
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t p = 0; p < k; ++p) {
        const double aip = double(ta ? a[p * lda + i] : a[i * lda + p]);
        for (int64_t j = 0; j < n; ++j)
          acc[j] += aip * double(tb ? b[j * ldb + p] : b[p * ldb + j]);
      }
      for (int64_t j = 0; j < n; ++j) {
        const double prev = beta == 0.0 ? 0.0 : beta * double(c[i * ldc + j]);
        c[i * ldc + j] = static_cast<T>(alpha * acc[j] + prev);
      }
    }
  });
}

}  // namespace

void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  gemm_impl(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const double* a,
          int64_t lda, const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  gemm_impl(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void gemm_fused(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc,
                const GemmEpilogue<float>& epilogue) {
  fused_impl(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, epilogue);
}
void gemm_fused(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const double* a,
                int64_t lda, const double* b, int64_t ldb, double beta, double* c, int64_t ldc,
                const GemmEpilogue<double>& epilogue) {
  fused_impl(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, epilogue);
}

void gemm_strided_batched(int64_t batch, bool ta, bool tb, int64_t m, int64_t n, int64_t k,
                          float alpha, const float* a, int64_t lda, int64_t sa, const float* b,
                          int64_t ldb, int64_t sb, float beta, float* c, int64_t ldc, int64_t sc) {
  batched_impl(batch, ta, tb, m, n, k, alpha, a, lda, sa, b, ldb, sb, beta, c, ldc, sc);
}
void gemm_strided_batched(int64_t batch, bool ta, bool tb, int64_t m, int64_t n, int64_t k,
                          double alpha, const double* a, int64_t lda, int64_t sa, const double* b,
                          int64_t ldb, int64_t sb, double beta, double* c, int64_t ldc,
                          int64_t sc) {
  batched_impl(batch, ta, tb, m, n, k, alpha, a, lda, sa, b, ldb, sb, beta, c, ldc, sc);
}

void gemm_reference(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const float* a,
                    int64_t lda, const float* b, int64_t ldb, double beta, float* c, int64_t ldc) {
  reference_impl(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
void gemm_reference(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha,
                    const double* a, int64_t lda, const double* b, int64_t ldb, double beta,
                    double* c, int64_t ldc) {
  reference_impl(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace taesan::kernels

#endif  // HWY_ONCE
