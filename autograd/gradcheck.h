// Finite-difference checks of analytic gradients, for any function of tensors: built-in ops,
// compositions, a user's module. Use float64 inputs.
#pragma once

#include <functional>
#include <string>

#include "taesan/autograd/tensor.h"

namespace taesan {

/// Tolerances: |analytic - numeric| <= atol + rtol * |numeric| for every Jacobian entry.
struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-5;
  double rtol = 1e-3;
};

/// Outcome of a check; `report` lists the worst mismatches.
struct GradcheckResult {
  bool ok = true;
  double max_abs_error = 0.0;
  std::string report;
};

using TensorFunction = std::function<Tensor(const TensorList&)>;
using MultiTensorFunction = std::function<TensorList(const TensorList&)>;

/// Compares the Jacobian from backward with central finite differences, for every input that
/// requires grad. Inputs must not overlap in memory (pass a base tensor and expand inside fn).
GradcheckResult gradcheck(const TensorFunction& fn, const TensorList& inputs,
                          const GradcheckOptions& options = {});
/// gradcheck for a function with several outputs.
GradcheckResult gradcheck(const MultiTensorFunction& fn, const TensorList& inputs,
                          const GradcheckOptions& options = {});

/// Checks second derivatives: gradcheck of (inputs, v) -> grad(fn(inputs), inputs, v, create_graph).
GradcheckResult gradgradcheck(const TensorFunction& fn, const TensorList& inputs,
                              const GradcheckOptions& options = {});

}  // namespace taesan
