// Row kernels on raw contiguous buffers (no Tensor here): a matrix of `rows` x `cols` (row stride
// `cols`) reduced or normalised along its rows. Softmax, log-softmax and their backward,
// log-sum-exp, layer norm and RMS norm forward/backward, and the fused log-softmax + NLL of cross
// entropy. Highway SIMD with scalar references; rows are split across threads, and every cross-row
// sum (layer-norm / RMS-norm dweight, dbias) uses fixed blocks summed in a fixed order:
// bit-identical for any thread count.
#pragma once

#include <cstdint>

namespace taesan::kernels {

/// y = softmax(x) along each row. Rows of all -inf give all zeros (not NaN).
void softmax_rows(const float* x, float* y, int64_t rows, int64_t cols);
void softmax_rows(const double* x, double* y, int64_t rows, int64_t cols);
/// y = log_softmax(x) along each row (all -inf rows give -inf).
void log_softmax_rows(const float* x, float* y, int64_t rows, int64_t cols);
void log_softmax_rows(const double* x, double* y, int64_t rows, int64_t cols);
/// dx = y * (g - sum(g * y))  (y = softmax output)
void softmax_backward_rows(const float* y, const float* g, float* dx, int64_t rows, int64_t cols);
void softmax_backward_rows(const double* y, const double* g, double* dx, int64_t rows, int64_t cols);
/// dx = g - exp(y) * sum(g)  (y = log_softmax output)
void log_softmax_backward_rows(const float* y, const float* g, float* dx, int64_t rows, int64_t cols);
void log_softmax_backward_rows(const double* y, const double* g, double* dx, int64_t rows, int64_t cols);
/// out[r] = log(sum(exp(x[r, :]))) (all -inf rows give -inf).
void logsumexp_rows(const float* x, float* out, int64_t rows, int64_t cols);
void logsumexp_rows(const double* x, double* out, int64_t rows, int64_t cols);

/// Layer norm over each row: y = (x - mean) * rstd * w + b, rstd = 1/sqrt(var + eps) (biased var).
/// w, b may be null (no affine). mean and rstd (length rows) are written for backward.
void layer_norm_forward(const float* x, const float* w, const float* b, float* y, float* mean,
                        float* rstd, int64_t rows, int64_t cols, double eps);
void layer_norm_forward(const double* x, const double* w, const double* b, double* y, double* mean,
                        double* rstd, int64_t rows, int64_t cols, double eps);
/// xhat = (x - mean) * rstd; gh = g * w;
/// dx = rstd * (gh - mean(gh) - xhat * mean(gh * xhat));  dw = sum_rows(g * xhat); db = sum_rows(g).
/// dx, dw, db may each be null when not needed; w null means w = 1. dw/db are overwritten.
void layer_norm_backward(const float* x, const float* g, const float* w, const float* mean,
                         const float* rstd, float* dx, float* dw, float* db, int64_t rows, int64_t cols);
void layer_norm_backward(const double* x, const double* g, const double* w, const double* mean,
                         const double* rstd, double* dx, double* dw, double* db, int64_t rows,
                         int64_t cols);

/// RMS norm over each row: y = x * rstd * w, rstd = 1/sqrt(mean(x^2) + eps). w may be null (no
/// weight). rstd (length rows) is written for backward.
void rms_norm_forward(const float* x, const float* w, float* y, float* rstd, int64_t rows,
                      int64_t cols, double eps);
void rms_norm_forward(const double* x, const double* w, double* y, double* rstd, int64_t rows,
                      int64_t cols, double eps);
/// xhat = x * rstd; gh = g * w;  dx = rstd * (gh - xhat * mean(gh * xhat));
/// dw = sum_rows(g * xhat). dx and dw may each be null when not needed; w null means w = 1. dw is
/// overwritten.
void rms_norm_backward(const float* x, const float* g, const float* w, const float* rstd, float* dx,
                       float* dw, int64_t rows, int64_t cols);
void rms_norm_backward(const double* x, const double* g, const double* w, const double* rstd,
                       double* dx, double* dw, int64_t rows, int64_t cols);

/// Fused log-softmax + negative log-likelihood with label smoothing ls over `cols` classes.
/// For each row r with target t = targets[r] (rows with t == ignore_index get loss 0 and weight 0):
///   loss[r] = (1 - ls) * (lse - x[t]) + ls * (lse - mean(x))   where lse = logsumexp(x[r, :]);
/// lse[r] is written for backward. Throws ts::Error for a target outside [0, cols) other than
/// ignore_index (naming the row and value).
void cross_entropy_forward(const float* x, const int64_t* targets, float* loss, float* lse,
                           int64_t rows, int64_t cols, int64_t ignore_index, double ls);
void cross_entropy_forward(const double* x, const int64_t* targets, double* loss, double* lse,
                           int64_t rows, int64_t cols, int64_t ignore_index, double ls);
/// dx[r, c] = grow[r] * (softmax(x)[r, c] - (1 - ls) * [c == t] - ls / cols); zero rows for ignored.
void cross_entropy_backward(const float* x, const int64_t* targets, const float* lse,
                            const float* grow, float* dx, int64_t rows, int64_t cols,
                            int64_t ignore_index, double ls);
void cross_entropy_backward(const double* x, const int64_t* targets, const double* lse,
                            const double* grow, double* dx, int64_t rows, int64_t cols,
                            int64_t ignore_index, double ls);

/// Reductions of a contiguous (outer, n, inner) block along n: out[o, i] = sum_j x[o, j, i].
/// Sums use a fixed order (independent of thread count).
void sum_reduce(const float* x, float* out, int64_t outer, int64_t n, int64_t inner);
void sum_reduce(const double* x, double* out, int64_t outer, int64_t n, int64_t inner);
/// Max along n with the index of the first maximum (NaN propagates and wins, as in PyTorch).
void max_reduce(const float* x, float* out, int64_t* index, int64_t outer, int64_t n, int64_t inner);
void max_reduce(const double* x, double* out, int64_t* index, int64_t outer, int64_t n, int64_t inner);

/// Scalar references for tests and benchmarks (same contracts, plain loops, double math).
namespace reference {
void softmax_rows(const float* x, float* y, int64_t rows, int64_t cols);
void softmax_rows(const double* x, double* y, int64_t rows, int64_t cols);
void log_softmax_rows(const float* x, float* y, int64_t rows, int64_t cols);
void log_softmax_rows(const double* x, double* y, int64_t rows, int64_t cols);
void softmax_backward_rows(const float* y, const float* g, float* dx, int64_t rows, int64_t cols);
void softmax_backward_rows(const double* y, const double* g, double* dx, int64_t rows, int64_t cols);
void log_softmax_backward_rows(const float* y, const float* g, float* dx, int64_t rows, int64_t cols);
void log_softmax_backward_rows(const double* y, const double* g, double* dx, int64_t rows, int64_t cols);
void logsumexp_rows(const float* x, float* out, int64_t rows, int64_t cols);
void logsumexp_rows(const double* x, double* out, int64_t rows, int64_t cols);
void layer_norm_forward(const float* x, const float* w, const float* b, float* y, float* mean,
                        float* rstd, int64_t rows, int64_t cols, double eps);
void layer_norm_forward(const double* x, const double* w, const double* b, double* y, double* mean,
                        double* rstd, int64_t rows, int64_t cols, double eps);
void layer_norm_backward(const float* x, const float* g, const float* w, const float* mean,
                         const float* rstd, float* dx, float* dw, float* db, int64_t rows, int64_t cols);
void layer_norm_backward(const double* x, const double* g, const double* w, const double* mean,
                         const double* rstd, double* dx, double* dw, double* db, int64_t rows,
                         int64_t cols);
void rms_norm_forward(const float* x, const float* w, float* y, float* rstd, int64_t rows,
                      int64_t cols, double eps);
void rms_norm_forward(const double* x, const double* w, double* y, double* rstd, int64_t rows,
                      int64_t cols, double eps);
void rms_norm_backward(const float* x, const float* g, const float* w, const float* rstd, float* dx,
                       float* dw, int64_t rows, int64_t cols);
void rms_norm_backward(const double* x, const double* g, const double* w, const double* rstd,
                       double* dx, double* dw, int64_t rows, int64_t cols);
void sum_reduce(const float* x, float* out, int64_t outer, int64_t n, int64_t inner);
void sum_reduce(const double* x, double* out, int64_t outer, int64_t n, int64_t inner);
void cross_entropy_forward(const float* x, const int64_t* targets, float* loss, float* lse,
                           int64_t rows, int64_t cols, int64_t ignore_index, double ls);
void cross_entropy_forward(const double* x, const int64_t* targets, double* loss, double* lse,
                           int64_t rows, int64_t cols, int64_t ignore_index, double ls);
void cross_entropy_backward(const float* x, const int64_t* targets, const float* lse,
                            const float* grow, float* dx, int64_t rows, int64_t cols,
                            int64_t ignore_index, double ls);
void cross_entropy_backward(const double* x, const int64_t* targets, const double* lse,
                            const double* grow, double* dx, int64_t rows, int64_t cols,
                            int64_t ignore_index, double ls);
void max_reduce(const float* x, float* out, int64_t* index, int64_t outer, int64_t n, int64_t inner);
void max_reduce(const double* x, double* out, int64_t* index, int64_t outer, int64_t n, int64_t inner);
}  // namespace reference

}  // namespace taesan::kernels
