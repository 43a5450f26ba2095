// Fused optimizer updates on raw contiguous buffers (no Tensor here): one pass over a parameter
// reads param, grad and the optimizer state and writes param and state back, in the arithmetic
// order of PyTorch's single-tensor updates. Also the gradient-norm reductions of clip_grad_norm.
// Highway SIMD dispatched once per call; every function has a scalar *_reference for tests.
// Results never depend on the thread count (elementwise work; reductions in fixed blocks).
#pragma once

#include <cstdint>

namespace taesan::kernels {

/// One Adam / AdamW step. `step` is the 1-based count after this step's increment; the bias
/// corrections 1 - beta^step are computed from it in double, as PyTorch does.
struct AdamStep {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  bool decoupled = false;  ///< AdamW: param *= 1 - lr * wd; Adam: grad += wd * param
  int64_t step = 1;
};

/// One SGD step. `first_step` means the momentum buffer holds nothing yet (it becomes the grad).
struct SgdStep {
  double lr = 1e-3;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
  bool first_step = false;
};

/// Adam(W) update of n elements, in place:
///   g' = g + wd p (Adam only);  p *= 1 - lr wd (AdamW only)
///   m = b1 m + (1 - b1) g';  v = b2 v + (1 - b2) g'^2;  vmax = max(vmax, v) (amsgrad)
///   p -= lr / (1 - b1^t) * m / (sqrt(v or vmax) / sqrt(1 - b2^t) + eps)
/// `max_exp_avg_sq` is null unless amsgrad. Buffers must not overlap.
void adam_update(const AdamStep& s, float* param, const float* grad, float* exp_avg,
                 float* exp_avg_sq, float* max_exp_avg_sq, int64_t n);
void adam_update(const AdamStep& s, double* param, const double* grad, double* exp_avg,
                 double* exp_avg_sq, double* max_exp_avg_sq, int64_t n);

/// SGD update of n elements, in place:
///   d = g + wd p;  buf = first ? d : momentum buf + (1 - dampening) d;
///   d = nesterov ? d + momentum buf : buf;  p -= lr d
/// `momentum_buffer` is null when momentum == 0 (then d is used directly).
void sgd_update(const SgdStep& s, float* param, const float* grad, float* momentum_buffer,
                int64_t n);
void sgd_update(const SgdStep& s, double* param, const double* grad, double* momentum_buffer,
                int64_t n);

/// Sum of x[i]^2, accumulated per fixed block and combined in double in block order.
double sum_squares(const float* x, int64_t n);
double sum_squares(const double* x, int64_t n);
/// max |x[i]| (NaN if any element is NaN); 0 for n == 0.
double max_abs(const float* x, int64_t n);
double max_abs(const double* x, int64_t n);

/// Scalar references: the same formulas, one element at a time.
void adam_update_reference(const AdamStep& s, float* param, const float* grad, float* exp_avg,
                           float* exp_avg_sq, float* max_exp_avg_sq, int64_t n);
void adam_update_reference(const AdamStep& s, double* param, const double* grad, double* exp_avg,
                           double* exp_avg_sq, double* max_exp_avg_sq, int64_t n);
void sgd_update_reference(const SgdStep& s, float* param, const float* grad, float* momentum_buffer,
                          int64_t n);
void sgd_update_reference(const SgdStep& s, double* param, const double* grad,
                          double* momentum_buffer, int64_t n);
double sum_squares_reference(const float* x, int64_t n);
double sum_squares_reference(const double* x, int64_t n);
double max_abs_reference(const float* x, int64_t n);
double max_abs_reference(const double* x, int64_t n);

}  // namespace taesan::kernels
