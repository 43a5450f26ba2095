// Activation checkpointing (torch.utils.checkpoint): ts::checkpoint(fn, inputs) returns fn(inputs)
// without keeping fn's intermediate tensors alive until backward; backward runs fn again, with the
// random-number and autocast state of the first run (so dropout draws the same masks), and
// differentiates that. Memory for compute: one extra forward of fn per backward.
#pragma once

#include <functional>

#include "taesan/autograd/tensor.h"

namespace taesan {

/// A function checkpointed by ts::checkpoint: tensors in, one tensor out.
using CheckpointFunction = std::function<Tensor(const TensorList&)>;

/// y = fn(inputs), differentiable with respect to `inputs` and to every tensor that requires grad
/// and that fn uses as a leaf (module parameters it captures), but keeping only `inputs`, the
/// parameters and y until backward: fn's intermediates are freed as soon as fn returns, and
/// backward recomputes them by calling fn again with the random-number generator and the autocast
/// region set as they were, then backpropagates through that second run. Gradients are the same,
/// bit for bit, as those of fn(inputs) called directly.
///
/// fn runs twice (forward, and at backward), so it must compute the same thing from the same
/// inputs and state both times, and whatever it captures must still be alive at backward (capture
/// shared pointers and tensors by value). Every tensor fn uses that requires grad and is not a
/// leaf (the result of an op run before) must be passed in `inputs` (ts::Error otherwise: its
/// gradient could not be computed). Inputs may be undefined, or need no gradient (int64 token ids,
/// masks). Without grad mode (NoGradGuard) it is just fn(inputs). Backward through it once
/// (retain_graph: several times); double backward (create_graph) is refused with a ts::Error.
Tensor checkpoint(const CheckpointFunction& fn, const TensorList& inputs);

}  // namespace taesan
