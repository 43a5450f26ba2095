// gradcheck / gradgradcheck: analytic Jacobian row by row (one backward per output element),
// numeric Jacobian column by column (two forwards per input element).
#include "taesan/autograd/gradcheck.h"

#include <cmath>

#include "taesan/autograd/engine.h"
#include "taesan/autograd/factory.h"
#include "taesan/autograd/grad_mode.h"
#include "taesan/core/random.h"

namespace taesan {
namespace {

// Element offsets (in elements, from the storage start) of every element of t, row-major.
std::vector<int64_t> element_offsets(const Tensor& t) {
  std::vector<int64_t> offs;
  offs.reserve(t.numel());
  for (StridedWalker w(t.shape(), {&t.strides()}); !w.done(); w.next())
    offs.push_back(t.storage_offset() + w.offset(0));
  return offs;
}

double read_at(const Tensor& t, int64_t off) {
  return dispatch_float(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    return static_cast<double>(static_cast<T*>(t.storage()->data())[off]);
  });
}

void write_at(const Tensor& t, int64_t off, double v) {
  dispatch_float(t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    static_cast<T*>(t.storage()->data())[off] = static_cast<T>(v);
  });
}

std::vector<double> flatten_outputs(const TensorList& outs) {
  std::vector<double> flat;
  for (const Tensor& o : outs)
    if (o.defined() && is_floating(o.dtype())) {
      auto v = o.to_vector<double>();
      flat.insert(flat.end(), v.begin(), v.end());
    }
  return flat;
}

}  // namespace

GradcheckResult gradcheck(const MultiTensorFunction& fn, const TensorList& inputs,
                          const GradcheckOptions& options) {
  TensorList diff_inputs;
  std::vector<size_t> diff_index;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& x = inputs[i];
    if (!x.defined() || !x.requires_grad()) continue;
    for (int64_t d = 0; d < x.dim(); ++d)
      TS_CHECK(x.stride(d) != 0 || x.size(d) <= 1,
               "gradcheck: input {} ({}, strides {}) overlaps itself in memory (an expanded view); "
               "pass the base tensor and expand inside the function", i, x.describe(),
               shape_str(x.strides()));
    diff_inputs.push_back(x);
    diff_index.push_back(i);
  }
  TS_CHECK(!diff_inputs.empty(), "gradcheck: no input requires grad");

  TensorList outs = fn(inputs);
  std::vector<size_t> out_sizes;
  TensorList diff_outs;
  std::vector<size_t> diff_out_pos;  // position of each diff output in the flattened outputs
  size_t m = 0;
  for (const Tensor& o : outs) {
    if (!o.defined() || !is_floating(o.dtype())) continue;
    if (o.requires_grad()) {
      diff_outs.push_back(o);
      diff_out_pos.push_back(m);
    }
    m += o.numel();
  }

  size_t n = 0;
  std::vector<size_t> col_start;
  for (const Tensor& x : diff_inputs) {
    col_start.push_back(n);
    n += x.numel();
  }
  std::vector<double> analytic(m * n, 0.0), numeric(m * n, 0.0);

  // Analytic: one backward per element of each differentiable output.
  for (size_t k = 0; k < diff_outs.size(); ++k) {
    for (int64_t j = 0; j < diff_outs[k].numel(); ++j) {
      TensorList gos;
      for (size_t q = 0; q < diff_outs.size(); ++q) gos.push_back(zeros_like(diff_outs[q]));
      write_at(gos[k], j, 1.0);
      TensorList grads = grad(diff_outs, diff_inputs, gos, {.retain_graph = true, .allow_unused = true});
      size_t row = diff_out_pos[k] + j;
      for (size_t i = 0; i < diff_inputs.size(); ++i) {
        if (!grads[i].defined()) continue;
        TS_CHECK(grads[i].shape() == diff_inputs[i].shape(),
                 "gradcheck: gradient of input {} has shape {}, expected {}", diff_index[i],
                 shape_str(grads[i].shape()), shape_str(diff_inputs[i].shape()));
        auto g = grads[i].to_vector<double>();
        for (size_t e = 0; e < g.size(); ++e) analytic[row * n + col_start[i] + e] = g[e];
      }
    }
  }

  // Numeric: central differences, one input element at a time. Grad mode stays on: the
  // function may itself differentiate (gradgradcheck).
  {
    for (size_t i = 0; i < diff_inputs.size(); ++i) {
      const Tensor& x = diff_inputs[i];
      std::vector<int64_t> offs = element_offsets(x);
      for (size_t e = 0; e < offs.size(); ++e) {
        double orig = read_at(x, offs[e]);
        write_at(x, offs[e], orig + options.eps);
        std::vector<double> plus = flatten_outputs(fn(inputs));
        write_at(x, offs[e], orig - options.eps);
        std::vector<double> minus = flatten_outputs(fn(inputs));
        write_at(x, offs[e], orig);
        TS_CHECK(plus.size() == m && minus.size() == m,
                 "gradcheck: the function's output size changed between calls");
        for (size_t r = 0; r < m; ++r)
          numeric[r * n + col_start[i] + e] = (plus[r] - minus[r]) / (2 * options.eps);
      }
    }
  }

  GradcheckResult result;
  int reported = 0;
  for (size_t r = 0; r < m; ++r) {
    for (size_t i = 0; i < diff_inputs.size(); ++i) {
      for (int64_t e = 0; e < diff_inputs[i].numel(); ++e) {
        double a = analytic[r * n + col_start[i] + e], nu = numeric[r * n + col_start[i] + e];
        double err = std::abs(a - nu);
        if (!(err <= options.atol + options.rtol * std::abs(nu))) {  // NaN fails too
          result.ok = false;
          if (reported++ < 10)
            result.report += fmt::format(
                "input {} element {}, output element {}: analytic {:.10g}, numeric {:.10g}\n",
                diff_index[i], e, r, a, nu);
        }
        if (!(err <= result.max_abs_error)) result.max_abs_error = err;
      }
    }
  }
  if (!result.ok) result.report = fmt::format("gradcheck failed ({} mismatches):\n{}", reported, result.report);
  return result;
}

GradcheckResult gradcheck(const TensorFunction& fn, const TensorList& inputs,
                          const GradcheckOptions& options) {
  return gradcheck(MultiTensorFunction([&](const TensorList& xs) { return TensorList{fn(xs)}; }),
                   inputs, options);
}

GradcheckResult gradgradcheck(const TensorFunction& fn, const TensorList& inputs,
                              const GradcheckOptions& options) {
  Tensor out0;
  {
    NoGradGuard no_grad;
    out0 = fn(inputs);
  }
  TS_CHECK(out0.defined() && is_floating(out0.dtype()),
           "gradgradcheck: the function must return a floating-point tensor");
  // A fixed random weighting of the output, without disturbing the user's generator.
  RngState saved = get_rng_state();
  manual_seed(0x6A6D);
  Tensor v = randn(out0.shape(), out0.dtype());
  set_rng_state(saved);
  v.requires_grad_(true);

  TensorList all = inputs;
  all.push_back(v);
  size_t n_inputs = inputs.size();
  MultiTensorFunction first_derivative = [&](const TensorList& xs) {
    TensorList ins(xs.begin(), xs.begin() + n_inputs);
    TensorList diff;
    for (const Tensor& x : ins)
      if (x.defined() && x.requires_grad()) diff.push_back(x);
    Tensor y = fn(ins);
    if (!y.requires_grad()) return TensorList{};
    return grad({y}, diff, {xs.back()}, {.retain_graph = std::nullopt, .create_graph = true, .allow_unused = true});
  };
  return gradcheck(first_derivative, all, options);
}

}  // namespace taesan
