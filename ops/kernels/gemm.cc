// Temporary plain GEMM (correct, slow) until the packed Highway GEMM replaces this file.
#include "ops/kernels/gemm.h"

#include "autograd/parallel.h"

namespace taesan::kernels {
namespace {

template <typename T, typename Acc>
void naive(bool ta, bool tb, int64_t m, int64_t n, int64_t k, Acc alpha, const T* a, int64_t lda,
           const T* b, int64_t ldb, Acc beta, T* c, int64_t ldc) {
  parallel_for(m, 16, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i)
      for (int64_t j = 0; j < n; ++j) {
        Acc s = 0;
        for (int64_t p = 0; p < k; ++p)
          s += static_cast<Acc>(ta ? a[p * lda + i] : a[i * lda + p]) *
               static_cast<Acc>(tb ? b[j * ldb + p] : b[p * ldb + j]);
        Acc prev = beta == Acc(0) ? Acc(0) : beta * static_cast<Acc>(c[i * ldc + j]);
        c[i * ldc + j] = static_cast<T>(alpha * s + prev);
      }
  });
}

}  // namespace

void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  naive<float, float>(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const double* a,
          int64_t lda, const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  naive<double, double>(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

template <typename T>
static void batched(int64_t batch, bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha,
                    const T* a, int64_t lda, int64_t sa, const T* b, int64_t ldb, int64_t sb,
                    T beta, T* c, int64_t ldc, int64_t sc) {
  for (int64_t i = 0; i < batch; ++i)
    gemm(ta, tb, m, n, k, alpha, a + i * sa, lda, b + i * sb, ldb, beta, c + i * sc, ldc);
}

void gemm_strided_batched(int64_t batch, bool ta, bool tb, int64_t m, int64_t n, int64_t k,
                          float alpha, const float* a, int64_t lda, int64_t sa, const float* b,
                          int64_t ldb, int64_t sb, float beta, float* c, int64_t ldc, int64_t sc) {
  batched(batch, ta, tb, m, n, k, alpha, a, lda, sa, b, ldb, sb, beta, c, ldc, sc);
}
void gemm_strided_batched(int64_t batch, bool ta, bool tb, int64_t m, int64_t n, int64_t k,
                          double alpha, const double* a, int64_t lda, int64_t sa, const double* b,
                          int64_t ldb, int64_t sb, double beta, double* c, int64_t ldc,
                          int64_t sc) {
  batched(batch, ta, tb, m, n, k, alpha, a, lda, sa, b, ldb, sb, beta, c, ldc, sc);
}

void gemm_reference(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha,
                    const float* a, int64_t lda, const float* b, int64_t ldb, double beta,
                    float* c, int64_t ldc) {
  naive<float, double>(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
void gemm_reference(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha,
                    const double* a, int64_t lda, const double* b, int64_t ldb, double beta,
                    double* c, int64_t ldc) {
  naive<double, double>(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace taesan::kernels
