// The argument block the public GEMM entry points (gemm.cc) hand to the per-target code
// (gemm-inl.h). Internal to ops/kernels: callers use the functions of gemm.h.
#pragma once

#include <cstdint>

#include "taesan/ops/kernels/gemm.h"

namespace taesan::kernels::detail {

/// One strided-batched product C_i = act(alpha * op(A_i) op(B_i) + beta * C_i + bias), already
/// validated by gemm.cc (sizes >= 0, leading dimensions large enough).
template <typename T>
struct GemmArgs {
  int64_t batch = 1;
  bool trans_a = false, trans_b = false;
  int64_t m = 0, n = 0, k = 0;
  T alpha = 1;
  const T* a = nullptr;
  int64_t lda = 0, stride_a = 0;
  const T* b = nullptr;
  int64_t ldb = 0, stride_b = 0;
  T beta = 0;
  T* c = nullptr;
  int64_t ldc = 0, stride_c = 0;
  GemmEpilogue<T> epilogue;  // bias (shared by the batch), activation, pre-activation output
  int64_t stride_pre = 0;    // batch stride of epilogue.pre_activation
};

}  // namespace taesan::kernels::detail
