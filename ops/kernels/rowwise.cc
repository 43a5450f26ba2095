// Dispatch of the row kernels (rowwise.h): the per-target bodies of softmax-inl.h,
// layer_norm-inl.h, rms_norm-inl.h and reduce-inl.h compiled for every target through
// foreach_target.h, one exported wrapper per function and dtype, one HWY_DYNAMIC_DISPATCH per array
// call. Argument checks (sizes, cross-entropy targets) happen here, before any computation.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "taesan/ops/kernels/rowwise.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "taesan/ops/kernels/layer_norm-inl.h"
#include "taesan/ops/kernels/reduce-inl.h"
#include "taesan/ops/kernels/rms_norm-inl.h"
#include "taesan/ops/kernels/softmax-inl.h"

HWY_BEFORE_NAMESPACE();
namespace taesan::kernels::HWY_NAMESPACE {

// One wrapper per function and dtype (Highway 1.0.3 has no HWY_EXPORT_T).
void SoftmaxRowsF32(const float* x, float* y, int64_t rows, int64_t cols) {
  SoftmaxRows(x, y, rows, cols);
}
void SoftmaxRowsF64(const double* x, double* y, int64_t rows, int64_t cols) {
  SoftmaxRows(x, y, rows, cols);
}
void LogSoftmaxRowsF32(const float* x, float* y, int64_t rows, int64_t cols) {
  LogSoftmaxRows(x, y, rows, cols);
}
void LogSoftmaxRowsF64(const double* x, double* y, int64_t rows, int64_t cols) {
  LogSoftmaxRows(x, y, rows, cols);
}
void SoftmaxBackwardRowsF32(const float* y, const float* g, float* dx, int64_t rows, int64_t cols) {
  SoftmaxBackwardRows(y, g, dx, rows, cols);
}
void SoftmaxBackwardRowsF64(const double* y, const double* g, double* dx, int64_t rows,
                            int64_t cols) {
  SoftmaxBackwardRows(y, g, dx, rows, cols);
}
void LogSoftmaxBackwardRowsF32(const float* y, const float* g, float* dx, int64_t rows,
                               int64_t cols) {
  LogSoftmaxBackwardRows(y, g, dx, rows, cols);
}
void LogSoftmaxBackwardRowsF64(const double* y, const double* g, double* dx, int64_t rows,
                               int64_t cols) {
  LogSoftmaxBackwardRows(y, g, dx, rows, cols);
}
void LogSumExpRowsF32(const float* x, float* out, int64_t rows, int64_t cols) {
  LogSumExpRows(x, out, rows, cols);
}
void LogSumExpRowsF64(const double* x, double* out, int64_t rows, int64_t cols) {
  LogSumExpRows(x, out, rows, cols);
}
void LayerNormForwardRowsF32(const float* x, const float* w, const float* b, float* y, float* mean,
                             float* rstd, int64_t rows, int64_t cols, double eps) {
  LayerNormForwardRows(x, w, b, y, mean, rstd, rows, cols, eps);
}
void LayerNormForwardRowsF64(const double* x, const double* w, const double* b, double* y,
                             double* mean, double* rstd, int64_t rows, int64_t cols, double eps) {
  LayerNormForwardRows(x, w, b, y, mean, rstd, rows, cols, eps);
}
void LayerNormBackwardRowsF32(const float* x, const float* g, const float* w, const float* mean,
                              const float* rstd, float* dx, float* dw, float* db, int64_t rows,
                              int64_t cols) {
  LayerNormBackwardRows(x, g, w, mean, rstd, dx, dw, db, rows, cols);
}
void LayerNormBackwardRowsF64(const double* x, const double* g, const double* w, const double* mean,
                              const double* rstd, double* dx, double* dw, double* db, int64_t rows,
                              int64_t cols) {
  LayerNormBackwardRows(x, g, w, mean, rstd, dx, dw, db, rows, cols);
}
void RmsNormForwardRowsF32(const float* x, const float* w, float* y, float* rstd, int64_t rows,
                           int64_t cols, double eps) {
  RmsNormForwardRows(x, w, y, rstd, rows, cols, eps);
}
void RmsNormForwardRowsF64(const double* x, const double* w, double* y, double* rstd, int64_t rows,
                           int64_t cols, double eps) {
  RmsNormForwardRows(x, w, y, rstd, rows, cols, eps);
}
void RmsNormBackwardRowsF32(const float* x, const float* g, const float* w, const float* rstd,
                            float* dx, float* dw, int64_t rows, int64_t cols) {
  RmsNormBackwardRows(x, g, w, rstd, dx, dw, rows, cols);
}
void RmsNormBackwardRowsF64(const double* x, const double* g, const double* w, const double* rstd,
                            double* dx, double* dw, int64_t rows, int64_t cols) {
  RmsNormBackwardRows(x, g, w, rstd, dx, dw, rows, cols);
}
void CrossEntropyForwardRowsF32(const float* x, const int64_t* targets, float* loss, float* lse,
                                int64_t rows, int64_t cols, int64_t ignore_index, double ls) {
  CrossEntropyForwardRows(x, targets, loss, lse, rows, cols, ignore_index, ls);
}
void CrossEntropyForwardRowsF64(const double* x, const int64_t* targets, double* loss, double* lse,
                                int64_t rows, int64_t cols, int64_t ignore_index, double ls) {
  CrossEntropyForwardRows(x, targets, loss, lse, rows, cols, ignore_index, ls);
}
void CrossEntropyBackwardRowsF32(const float* x, const int64_t* targets, const float* lse,
                                 const float* grow, float* dx, int64_t rows, int64_t cols,
                                 int64_t ignore_index, double ls) {
  CrossEntropyBackwardRows(x, targets, lse, grow, dx, rows, cols, ignore_index, ls);
}
void CrossEntropyBackwardRowsF64(const double* x, const int64_t* targets, const double* lse,
                                 const double* grow, double* dx, int64_t rows, int64_t cols,
                                 int64_t ignore_index, double ls) {
  CrossEntropyBackwardRows(x, targets, lse, grow, dx, rows, cols, ignore_index, ls);
}
void SumReduceF32(const float* x, float* out, int64_t outer, int64_t n, int64_t inner) {
  SumReduce(x, out, outer, n, inner);
}
void SumReduceF64(const double* x, double* out, int64_t outer, int64_t n, int64_t inner) {
  SumReduce(x, out, outer, n, inner);
}
void MaxReduceF32(const float* x, float* out, int64_t* index, int64_t outer, int64_t n,
                  int64_t inner) {
  MaxReduce(x, out, index, outer, n, inner);
}
void MaxReduceF64(const double* x, double* out, int64_t* index, int64_t outer, int64_t n,
                  int64_t inner) {
  MaxReduce(x, out, index, outer, n, inner);
}

}  // namespace taesan::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "taesan/core/error.h"
#include "taesan/ops/kernels/rowwise.h"

namespace taesan::kernels {

HWY_EXPORT(SoftmaxRowsF32);
HWY_EXPORT(SoftmaxRowsF64);
HWY_EXPORT(LogSoftmaxRowsF32);
HWY_EXPORT(LogSoftmaxRowsF64);
HWY_EXPORT(SoftmaxBackwardRowsF32);
HWY_EXPORT(SoftmaxBackwardRowsF64);
HWY_EXPORT(LogSoftmaxBackwardRowsF32);
HWY_EXPORT(LogSoftmaxBackwardRowsF64);
HWY_EXPORT(LogSumExpRowsF32);
HWY_EXPORT(LogSumExpRowsF64);
HWY_EXPORT(LayerNormForwardRowsF32);
HWY_EXPORT(LayerNormForwardRowsF64);
HWY_EXPORT(LayerNormBackwardRowsF32);
HWY_EXPORT(LayerNormBackwardRowsF64);
HWY_EXPORT(RmsNormForwardRowsF32);
HWY_EXPORT(RmsNormForwardRowsF64);
HWY_EXPORT(RmsNormBackwardRowsF32);
HWY_EXPORT(RmsNormBackwardRowsF64);
HWY_EXPORT(CrossEntropyForwardRowsF32);
HWY_EXPORT(CrossEntropyForwardRowsF64);
HWY_EXPORT(CrossEntropyBackwardRowsF32);
HWY_EXPORT(CrossEntropyBackwardRowsF64);
HWY_EXPORT(SumReduceF32);
HWY_EXPORT(SumReduceF64);
HWY_EXPORT(MaxReduceF32);
HWY_EXPORT(MaxReduceF64);

namespace {

void check_sizes(const char* fn, int64_t rows, int64_t cols) {
  TS_CHECK(rows >= 0 && cols >= 0, "{}: expected rows >= 0 and cols >= 0, got rows {} cols {}", fn,
           rows, cols);
}

void check_reduce_sizes(const char* fn, int64_t outer, int64_t n, int64_t inner) {
  TS_CHECK(outer >= 0 && n >= 0 && inner >= 0,
           "{}: expected outer, n, inner >= 0, got ({}, {}, {})", fn, outer, n, inner);
}

/// Every target must be in [0, cols) or equal ignore_index; checked before any computation.
void check_targets(const char* fn, const int64_t* targets, int64_t rows, int64_t cols,
                   int64_t ignore_index, double ls) {
  check_sizes(fn, rows, cols);
  TS_CHECK(ls >= 0.0 && ls <= 1.0, "{}: expected label_smoothing in [0, 1], got {}", fn, ls);
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t t = targets[r];
    TS_CHECK(t == ignore_index || (t >= 0 && t < cols),
             "{}: target {} of row {} is out of range: expected a class in [0, {}) or "
             "ignore_index {}",
             fn, t, r, cols, ignore_index);
  }
}

}  // namespace

void softmax_rows(const float* x, float* y, int64_t rows, int64_t cols) {
  check_sizes("softmax_rows", rows, cols);
  HWY_DYNAMIC_DISPATCH(SoftmaxRowsF32)(x, y, rows, cols);
}
void softmax_rows(const double* x, double* y, int64_t rows, int64_t cols) {
  check_sizes("softmax_rows", rows, cols);
  HWY_DYNAMIC_DISPATCH(SoftmaxRowsF64)(x, y, rows, cols);
}
void log_softmax_rows(const float* x, float* y, int64_t rows, int64_t cols) {
  check_sizes("log_softmax_rows", rows, cols);
  HWY_DYNAMIC_DISPATCH(LogSoftmaxRowsF32)(x, y, rows, cols);
}
void log_softmax_rows(const double* x, double* y, int64_t rows, int64_t cols) {
  check_sizes("log_softmax_rows", rows, cols);
  HWY_DYNAMIC_DISPATCH(LogSoftmaxRowsF64)(x, y, rows, cols);
}
void softmax_backward_rows(const float* y, const float* g, float* dx, int64_t rows, int64_t cols) {
  check_sizes("softmax_backward_rows", rows, cols);
  HWY_DYNAMIC_DISPATCH(SoftmaxBackwardRowsF32)(y, g, dx, rows, cols);
}
void softmax_backward_rows(const double* y, const double* g, double* dx, int64_t rows,
                           int64_t cols) {
  check_sizes("softmax_backward_rows", rows, cols);
  HWY_DYNAMIC_DISPATCH(SoftmaxBackwardRowsF64)(y, g, dx, rows, cols);
}
void log_softmax_backward_rows(const float* y, const float* g, float* dx, int64_t rows,
                               int64_t cols) {
  check_sizes("log_softmax_backward_rows", rows, cols);
  HWY_DYNAMIC_DISPATCH(LogSoftmaxBackwardRowsF32)(y, g, dx, rows, cols);
}
void log_softmax_backward_rows(const double* y, const double* g, double* dx, int64_t rows,
                               int64_t cols) {
  check_sizes("log_softmax_backward_rows", rows, cols);
  HWY_DYNAMIC_DISPATCH(LogSoftmaxBackwardRowsF64)(y, g, dx, rows, cols);
}
void logsumexp_rows(const float* x, float* out, int64_t rows, int64_t cols) {
  check_sizes("logsumexp_rows", rows, cols);
  HWY_DYNAMIC_DISPATCH(LogSumExpRowsF32)(x, out, rows, cols);
}
void logsumexp_rows(const double* x, double* out, int64_t rows, int64_t cols) {
  check_sizes("logsumexp_rows", rows, cols);
  HWY_DYNAMIC_DISPATCH(LogSumExpRowsF64)(x, out, rows, cols);
}

void layer_norm_forward(const float* x, const float* w, const float* b, float* y, float* mean,
                        float* rstd, int64_t rows, int64_t cols, double eps) {
  check_sizes("layer_norm_forward", rows, cols);
  HWY_DYNAMIC_DISPATCH(LayerNormForwardRowsF32)(x, w, b, y, mean, rstd, rows, cols, eps);
}
void layer_norm_forward(const double* x, const double* w, const double* b, double* y, double* mean,
                        double* rstd, int64_t rows, int64_t cols, double eps) {
  check_sizes("layer_norm_forward", rows, cols);
  HWY_DYNAMIC_DISPATCH(LayerNormForwardRowsF64)(x, w, b, y, mean, rstd, rows, cols, eps);
}
void layer_norm_backward(const float* x, const float* g, const float* w, const float* mean,
                         const float* rstd, float* dx, float* dw, float* db, int64_t rows,
                         int64_t cols) {
  check_sizes("layer_norm_backward", rows, cols);
  HWY_DYNAMIC_DISPATCH(LayerNormBackwardRowsF32)(x, g, w, mean, rstd, dx, dw, db, rows, cols);
}
void layer_norm_backward(const double* x, const double* g, const double* w, const double* mean,
                         const double* rstd, double* dx, double* dw, double* db, int64_t rows,
                         int64_t cols) {
  check_sizes("layer_norm_backward", rows, cols);
  HWY_DYNAMIC_DISPATCH(LayerNormBackwardRowsF64)(x, g, w, mean, rstd, dx, dw, db, rows, cols);
}

void rms_norm_forward(const float* x, const float* w, float* y, float* rstd, int64_t rows,
                      int64_t cols, double eps) {
  check_sizes("rms_norm_forward", rows, cols);
  HWY_DYNAMIC_DISPATCH(RmsNormForwardRowsF32)(x, w, y, rstd, rows, cols, eps);
}
void rms_norm_forward(const double* x, const double* w, double* y, double* rstd, int64_t rows,
                      int64_t cols, double eps) {
  check_sizes("rms_norm_forward", rows, cols);
  HWY_DYNAMIC_DISPATCH(RmsNormForwardRowsF64)(x, w, y, rstd, rows, cols, eps);
}
void rms_norm_backward(const float* x, const float* g, const float* w, const float* rstd, float* dx,
                       float* dw, int64_t rows, int64_t cols) {
  check_sizes("rms_norm_backward", rows, cols);
  HWY_DYNAMIC_DISPATCH(RmsNormBackwardRowsF32)(x, g, w, rstd, dx, dw, rows, cols);
}
void rms_norm_backward(const double* x, const double* g, const double* w, const double* rstd,
                       double* dx, double* dw, int64_t rows, int64_t cols) {
  check_sizes("rms_norm_backward", rows, cols);
  HWY_DYNAMIC_DISPATCH(RmsNormBackwardRowsF64)(x, g, w, rstd, dx, dw, rows, cols);
}

void cross_entropy_forward(const float* x, const int64_t* targets, float* loss, float* lse,
                           int64_t rows, int64_t cols, int64_t ignore_index, double ls) {
  check_targets("cross_entropy_forward", targets, rows, cols, ignore_index, ls);
  HWY_DYNAMIC_DISPATCH(CrossEntropyForwardRowsF32)
  (x, targets, loss, lse, rows, cols, ignore_index, ls);
}
void cross_entropy_forward(const double* x, const int64_t* targets, double* loss, double* lse,
                           int64_t rows, int64_t cols, int64_t ignore_index, double ls) {
  check_targets("cross_entropy_forward", targets, rows, cols, ignore_index, ls);
  HWY_DYNAMIC_DISPATCH(CrossEntropyForwardRowsF64)
  (x, targets, loss, lse, rows, cols, ignore_index, ls);
}
void cross_entropy_backward(const float* x, const int64_t* targets, const float* lse,
                            const float* grow, float* dx, int64_t rows, int64_t cols,
                            int64_t ignore_index, double ls) {
  check_targets("cross_entropy_backward", targets, rows, cols, ignore_index, ls);
  HWY_DYNAMIC_DISPATCH(CrossEntropyBackwardRowsF32)
  (x, targets, lse, grow, dx, rows, cols, ignore_index, ls);
}
void cross_entropy_backward(const double* x, const int64_t* targets, const double* lse,
                            const double* grow, double* dx, int64_t rows, int64_t cols,
                            int64_t ignore_index, double ls) {
  check_targets("cross_entropy_backward", targets, rows, cols, ignore_index, ls);
  HWY_DYNAMIC_DISPATCH(CrossEntropyBackwardRowsF64)
  (x, targets, lse, grow, dx, rows, cols, ignore_index, ls);
}

void sum_reduce(const float* x, float* out, int64_t outer, int64_t n, int64_t inner) {
  check_reduce_sizes("sum_reduce", outer, n, inner);
  HWY_DYNAMIC_DISPATCH(SumReduceF32)(x, out, outer, n, inner);
}
void sum_reduce(const double* x, double* out, int64_t outer, int64_t n, int64_t inner) {
  check_reduce_sizes("sum_reduce", outer, n, inner);
  HWY_DYNAMIC_DISPATCH(SumReduceF64)(x, out, outer, n, inner);
}

namespace {
void check_max_sizes(int64_t outer, int64_t n, int64_t inner) {
  check_reduce_sizes("max_reduce", outer, n, inner);
  TS_CHECK(n > 0 || outer * inner == 0,
           "max_reduce: cannot take the max over an empty dimension (outer {}, n 0, inner {})",
           outer, inner);
}
}  // namespace

void max_reduce(const float* x, float* out, int64_t* index, int64_t outer, int64_t n,
                int64_t inner) {
  check_max_sizes(outer, n, inner);
  HWY_DYNAMIC_DISPATCH(MaxReduceF32)(x, out, index, outer, n, inner);
}
void max_reduce(const double* x, double* out, int64_t* index, int64_t outer, int64_t n,
                int64_t inner) {
  check_max_sizes(outer, n, inner);
  HWY_DYNAMIC_DISPATCH(MaxReduceF64)(x, out, index, outer, n, inner);
}

}  // namespace taesan::kernels
#endif  // HWY_ONCE
