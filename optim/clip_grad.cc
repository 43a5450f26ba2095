// clip_grad_norm: per-gradient norms from the fused reduction kernels, combined in double.
#include "taesan/optim/clip_grad.h"

#include <cmath>

#include "taesan/autograd/grad_mode.h"
#include "taesan/ops/kernels/optimizer.h"

namespace taesan::optim {

double clip_grad_norm(const TensorList& params, double max_norm,
                      const ClipGradNormOptions& options) {
  const double p = options.norm_type;
  TS_CHECK(std::isfinite(max_norm) && max_norm >= 0,
           "clip_grad_norm: expected a finite max_norm >= 0, got {}", max_norm);
  TS_CHECK(p > 0 && !std::isnan(p), "clip_grad_norm: expected norm_type > 0 (or infinity), got {}",
           p);
  const bool inf_norm = std::isinf(p);
  TensorList grads;
  for (const Tensor& param : params) {
    TS_CHECK(param.defined(), "clip_grad_norm: a parameter is undefined");
    Tensor g = param.grad();
    if (!g.defined()) continue;
    TS_CHECK(is_floating(g.dtype()), "clip_grad_norm: gradient {} is not floating-point",
             g.describe());
    grads.push_back(g.is_contiguous() ? g : g.contiguous());
  }
  if (grads.empty()) return 0.0;

  double total = 0.0;
  for (const Tensor& g : grads) {
    double v = dispatch_float(g.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T* x = g.data<T>();
      const int64_t n = g.numel();
      if (inf_norm) return kernels::max_abs(x, n);
      if (p == 2.0) return kernels::sum_squares(x, n);
      double s = 0.0;
      for (int64_t i = 0; i < n; ++i) s += std::pow(std::abs(static_cast<double>(x[i])), p);
      return s;
    });
    if (inf_norm) {
      total = std::isnan(v) || std::isnan(total) ? std::nan("") : std::max(total, v);
    } else {
      total += v;
    }
  }
  if (!inf_norm) total = p == 2.0 ? std::sqrt(total) : std::pow(total, 1.0 / p);

  if (!std::isfinite(total)) {
    TS_CHECK(!options.error_if_nonfinite,
             "clip_grad_norm: the total {}-norm of the gradients of {} parameters is {}; "
             "gradients are not finite (set error_if_nonfinite = false to get the norm back and "
             "skip the step yourself)",
             p, params.size(), total);
    return total;
  }
  const double coef = max_norm / (total + 1e-6);
  if (coef < 1.0) {
    NoGradGuard no_grad;
    for (const Tensor& param : params) {
      Tensor g = param.grad();
      if (g.defined()) g.mul_(coef);
    }
  }
  return total;
}

}  // namespace taesan::optim
