// General matrix multiply on raw row-major buffers (no Tensor here):
//   C[m, n] = alpha * op(A)[m, k] * op(B)[k, n] + beta * C
// op(A) = A (stored m x k, row stride lda >= k) or, with trans_a, Aᵀ (A stored k x m, lda >= m);
// likewise B (k x n, ldb >= n) or Bᵀ (stored n x k, ldb >= k). C has row stride ldc >= n.
// beta == 0 overwrites C without reading it (NaN in C is ignored), as BLAS does.
// Results are bit-identical for any thread count. Implementation: packed, cache-blocked Highway
// GEMM in gemm-inl.h (block sizes documented there), dispatched to the best target at run time.
#pragma once

#include <cstdint>

namespace taesan::kernels {

/// Activation applied by gemm_fused's epilogue (to alpha * op(A) op(B) + beta * C + bias): the
/// same functions, bit for bit, as the elementwise kernels' UnaryOp::kRelu, kGelu, kGeluTanh
/// (math-inl.h), whose derivatives ActivationGrad takes.
enum class GemmActivation : uint8_t {
  kNone,
  kRelu,      ///< max(x, 0), NaN kept
  kGelu,      ///< exact: 0.5 x (1 + erf(x / sqrt(2)))
  kGeluTanh,  ///< PyTorch's approximate="tanh": 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
};

/// What gemm_fused applies to each output tile while it is still in registers.
template <typename T>
struct GemmEpilogue {
  const T* bias = nullptr;  ///< length n, added to every row of C (linear's b), or null
  GemmActivation activation = GemmActivation::kNone;
  /// If set, receives the value before the activation (what the activation's backward needs),
  /// m x n with row stride ld_pre_activation (>= n). Must not overlap C.
  T* pre_activation = nullptr;
  int64_t ld_pre_activation = 0;
};

/// Single matrix product (see file comment).
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
          const double* a, int64_t lda, const double* b, int64_t ldb, double beta, double* c,
          int64_t ldc);

/// `batch` independent products; matrix i uses a + i*stride_a, b + i*stride_b, c + i*stride_c
/// (a stride of 0 broadcasts one matrix over the batch; stride_c must not make outputs overlap).
void gemm_strided_batched(int64_t batch, bool trans_a, bool trans_b, int64_t m, int64_t n,
                          int64_t k, float alpha, const float* a, int64_t lda, int64_t stride_a,
                          const float* b, int64_t ldb, int64_t stride_b, float beta, float* c,
                          int64_t ldc, int64_t stride_c);
void gemm_strided_batched(int64_t batch, bool trans_a, bool trans_b, int64_t m, int64_t n,
                          int64_t k, double alpha, const double* a, int64_t lda, int64_t stride_a,
                          const double* b, int64_t ldb, int64_t stride_b, double beta, double* c,
                          int64_t ldc, int64_t stride_c);

/// C = act(alpha * op(A) op(B) + beta * C + bias): gemm with the epilogue fused into the
/// micro-kernel's store (used by linear, and by the feed-forward layer with GELU).
void gemm_fused(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                int64_t ldc, const GemmEpilogue<float>& epilogue);
void gemm_fused(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
                const double* a, int64_t lda, const double* b, int64_t ldb, double beta, double* c,
                int64_t ldc, const GemmEpilogue<double>& epilogue);

/// The plain triple loop (double accumulation), the reference for tests and benchmarks.
void gemm_reference(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
                    const float* a, int64_t lda, const float* b, int64_t ldb, double beta, float* c,
                    int64_t ldc);
void gemm_reference(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
                    const double* a, int64_t lda, const double* b, int64_t ldb, double beta,
                    double* c, int64_t ldc);

}  // namespace taesan::kernels
