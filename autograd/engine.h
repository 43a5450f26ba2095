// The backward engine: counts dependencies from the roots, then runs each node once all the
// gradients flowing into it are summed (latest-created first). Iterative, no recursion.
#pragma once

#include <functional>
#include <optional>

#include "taesan/autograd/tensor.h"

namespace taesan {

/// Options of ts::grad.
struct GradOptions {
  std::optional<bool> retain_graph;  ///< default: create_graph
  bool create_graph = false;         ///< record the backward itself (higher derivatives)
  bool allow_unused = false;         ///< an input the outputs do not depend on gets an undefined gradient instead of an error
};

/// Gradients of `outputs` with respect to `inputs`, weighted by `grad_outputs` (may be empty for
/// one-element outputs). Does not touch .grad() of anything.
TensorList grad(const TensorList& outputs, const TensorList& inputs,
                const TensorList& grad_outputs = {}, const GradOptions& options = {});

namespace autograd {

/// Accumulates gradients of `roots` into the .grad() of the leaves they depend on.
void backward(const TensorList& roots, const TensorList& grad_roots, bool retain_graph,
              bool create_graph);

/// Runs `fn` on this thread once the backward() pass running here has finished (PyTorch's
/// Engine::queue_callback): a hook that started work during backward (e.g. gradient averaging
/// in DistributedDataParallel) finishes it there. Throws when no backward() is running.
void queue_callback(std::function<void()> fn);

}  // namespace autograd
}  // namespace taesan
