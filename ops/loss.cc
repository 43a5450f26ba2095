// Losses and their backward rules (see loss.h).
#include "taesan/ops/loss.h"

#include <cmath>

#include "taesan/autograd/factory.h"
#include "taesan/autograd/fused_backward.h"
#include "taesan/autograd/grad_mode.h"
#include "taesan/autograd/node.h"
#include "taesan/ops/kernels/rowwise.h"
#include "taesan/ops/ops.h"

namespace taesan {
namespace {

using autograd::BackwardContext;
using autograd::record;
using autograd::SavedTensor;

Tensor reduce(const Tensor& loss, Reduction r) {
  switch (r) {
    case Reduction::None: return loss;
    case Reduction::Sum: return sum(loss);
    case Reduction::Mean: return mean(loss);
  }
  return loss;
}

// Per-row fused cross entropy on (R, C) logits and (R) targets.
//   loss_r = (1 - ls) (lse - x[t]) + ls (lse - mean(x))
//   dx = g_r (softmax(x) - (1 - ls) onehot(t) - ls / C), zero for ignored rows
Tensor cross_entropy_rows(const Tensor& x2, const Tensor& t1, int64_t ignore_index, double ls) {
  const int64_t rows = x2.shape()[0], cols = x2.shape()[1];
  Tensor xc = x2.detach().contiguous(), tc = t1.contiguous();
  Tensor loss = empty({rows}, x2.dtype()), lse = empty({rows}, x2.dtype());
  dispatch_float(x2.dtype(), [&](auto tag) {
    using T = decltype(tag);
    kernels::cross_entropy_forward(xc.data<T>(), tc.data<int64_t>(), loss.data<T>(), lse.data<T>(),
                                   rows, cols, ignore_index, ls);
  });
  return record("cross_entropy", {x2}, loss,
                [sx = SavedTensor(x2), tc, lse, ignore_index, ls](const Tensor& g, const BackwardContext& ctx) {
    Tensor xv = sx.unpack(ctx);
    const int64_t rows = xv.shape()[0], cols = xv.shape()[1];
    auto composed = [&] {
      Tensor valid = unsqueeze(logical_not(eq(tc, full({}, static_cast<double>(ignore_index), kInt64))), 1);
      Tensor safe_t = where(squeeze(valid, 1), tc, zeros({}, kInt64));
      Tensor onehot = eq(unsqueeze(arange(cols, kInt64), 0), unsqueeze(safe_t, 1)).to(xv.dtype());
      Tensor target = add(mul(onehot, 1.0 - ls), ls / static_cast<double>(cols));
      Tensor d = mul(sub(softmax(xv, 1), target), unsqueeze(g, 1));
      return TensorList{where(valid, d, zeros({}, xv.dtype()))};
    };
    auto fused = [&] {
      Tensor xc = xv.contiguous(), gc = g.contiguous();
      Tensor dx = empty({rows, cols}, xv.dtype());
      dispatch_float(xv.dtype(), [&](auto tag) {
        using T = decltype(tag);
        kernels::cross_entropy_backward(xc.data<T>(), tc.data<int64_t>(), lse.data<T>(),
                                        gc.data<T>(), dx.data<T>(), rows, cols, ignore_index, ls);
      });
      return TensorList{dx};
    };
    return autograd::fused_backward({xv, g}, fused, composed);
  });
}

}  // namespace

Tensor cross_entropy(const Tensor& logits, const Tensor& targets, const CrossEntropyOptions& o) {
  TS_CHECK(is_floating(logits.dtype()), "cross_entropy: logits must be floating-point, got {}", logits.describe());
  TS_CHECK(logits.dim() >= 1, "cross_entropy: logits must have a class dim, got {}", logits.describe());
  TS_CHECK(o.label_smoothing >= 0 && o.label_smoothing <= 1,
           "cross_entropy: label_smoothing must be in [0, 1], got {}", o.label_smoothing);
  const int64_t class_dim = logits.dim() == 1 ? 0 : 1;
  const int64_t C = logits.shape()[class_dim];
  if (is_floating(targets.dtype())) {
    // Class probabilities: loss = -sum(p' * log_softmax(x)), p' = (1 - ls) p + ls / C
    TS_CHECK(targets.shape() == logits.shape(),
             "cross_entropy: probability targets {} must have the logits' shape {}",
             targets.describe(), logits.describe());
    Tensor p = o.label_smoothing > 0 ? add(mul(targets, 1.0 - o.label_smoothing), o.label_smoothing / C) : targets;
    Tensor loss = neg(sum(mul(p, log_softmax(logits, class_dim)), class_dim));
    if (o.reduction == Reduction::Mean && logits.dim() > 1) return mean(loss);
    return reduce(loss, o.reduction);
  }
  TS_CHECK(targets.dtype() == kInt64, "cross_entropy: targets must be int64 class indices or float "
           "probabilities, got {}", targets.describe());
  Shape expected = logits.shape();
  expected.erase(expected.begin() + class_dim);
  TS_CHECK(targets.shape() == expected,
           "cross_entropy: targets {} do not match logits {} (expected targets of shape {})",
           targets.describe(), logits.describe(), shape_str(expected));
  // Move the class dim last and flatten to rows.
  Tensor x2 = logits.dim() == 1 ? unsqueeze(logits, 0)
              : logits.dim() == 2 ? logits
                                  : reshape(ops::move_dim_last_contiguous(logits, 1), {-1, C});
  Tensor t1 = reshape(targets, {-1});
  Tensor loss = cross_entropy_rows(x2, t1, o.ignore_index, o.label_smoothing);
  switch (o.reduction) {
    case Reduction::None: return reshape(loss, targets.shape());  // rows are in (N, d1, ...) order
    case Reduction::Sum: return sum(loss);
    case Reduction::Mean: {
      std::vector<int64_t> t = t1.to_vector<int64_t>();
      int64_t count = 0;
      for (int64_t v : t) count += v != o.ignore_index;
      return mul(sum(loss), 1.0 / static_cast<double>(count));  // 0 valid rows -> NaN, as PyTorch
    }
  }
  return loss;
}

Tensor nll_loss(const Tensor& log_probs, const Tensor& targets, const CrossEntropyOptions& o) {
  TS_CHECK(o.label_smoothing == 0, "nll_loss: label_smoothing is not supported (use cross_entropy)");
  TS_CHECK(is_floating(log_probs.dtype()) && log_probs.dim() >= 1,
           "nll_loss: expected floating-point log-probabilities with a class dim, got {}", log_probs.describe());
  TS_CHECK(targets.dtype() == kInt64, "nll_loss: targets must be int64, got {}", targets.describe());
  const int64_t class_dim = log_probs.dim() == 1 ? 0 : 1;
  const int64_t C = log_probs.shape()[class_dim];
  Shape expected = log_probs.shape();
  expected.erase(expected.begin() + class_dim);
  TS_CHECK(targets.shape() == expected, "nll_loss: targets {} do not match log_probs {} (expected {})",
           targets.describe(), log_probs.describe(), shape_str(expected));
  std::vector<int64_t> tv = targets.to_vector<int64_t>();
  int64_t count = 0;
  for (size_t i = 0; i < tv.size(); ++i) {
    if (tv[i] == o.ignore_index) continue;
    TS_CHECK(tv[i] >= 0 && tv[i] < C, "nll_loss: target {} at position {} is out of range for {} classes",
             tv[i], i, C);
    ++count;
  }
  // loss_i = -x[i, t_i] for non-ignored i  (composed: gather + where)
  Tensor valid = logical_not(eq(targets, full({}, static_cast<double>(o.ignore_index), kInt64)));
  Tensor safe_t = where(valid, targets, zeros({}, kInt64));
  Tensor picked = squeeze(gather(log_probs, class_dim, unsqueeze(safe_t, class_dim)), class_dim);
  Tensor loss = where(valid, neg(picked), zeros({}, log_probs.dtype()));
  if (o.reduction == Reduction::Mean) return mul(sum(loss), 1.0 / static_cast<double>(count));
  return reduce(loss, o.reduction);
}

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  TS_CHECK(is_floating(input.dtype()) && is_floating(target.dtype()),
           "mse_loss: expected floating-point tensors, got {} and {}", input.describe(), target.describe());
  // loss = (input - target)^2   (composed)
  return reduce(square(sub(input, target)), reduction);
}

Tensor binary_cross_entropy_with_logits(const Tensor& x, const Tensor& y, Reduction reduction) {
  TS_CHECK(is_floating(x.dtype()) && is_floating(y.dtype()),
           "binary_cross_entropy_with_logits: expected floating-point tensors, got {} and {}",
           x.describe(), y.describe());
  TS_CHECK(x.shape() == y.shape(), "binary_cross_entropy_with_logits: logits {} and targets {} differ in shape",
           x.describe(), y.describe());
  Tensor xd = x.detach(), yd = y.detach();
  // loss = max(x, 0) - x y + log(1 + exp(-|x|))
  Tensor loss;
  {
    NoGradGuard no_grad;
    loss = add(sub(relu(xd), mul(xd, yd)), log(add(exp(neg(abs(xd))), 1.0)));
  }
  // dx = g (sigmoid(x) - y),  dy = -g x
  loss = record("binary_cross_entropy_with_logits", {x, y}, loss,
                [sx = SavedTensor(x), sy = SavedTensor(y)](const Tensor& g, const BackwardContext& ctx) {
    Tensor xv = sx.unpack(ctx), yv = sy.unpack(ctx);
    return TensorList{ctx.needs_grad(0) ? mul(g, sub(sigmoid(xv), yv)) : Tensor(),
                      ctx.needs_grad(1) ? neg(mul(g, xv)) : Tensor()};
  });
  return reduce(loss, reduction);
}

}  // namespace taesan
