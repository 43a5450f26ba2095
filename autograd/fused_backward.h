// The two forms of a fused op's backward, chosen in one place: the fused kernel when the gradient
// needs no graph (a plain backward: grad mode is off while it runs, so nothing is recorded), and
// the same formula written with differentiable ops when it does (backward with create_graph),
// so that second derivatives work.
#pragma once

#include <type_traits>

#include "taesan/autograd/node.h"
#include "taesan/autograd/tensor.h"

namespace taesan::autograd {

/// `composed()` when the backward must build the graph of its own result, that is when grad mode
/// is on (the engine enables it only under create_graph) and one of `reads` requires grad; else
/// `fused()`. `reads` lists what the gradient depends on: the unpacked saved tensors and the
/// incoming gradient (undefined tensors are ignored). Both forms compute the same formula, and
/// return the same type.
template <typename Fused, typename Composed>
auto fused_backward(const TensorList& reads, Fused&& fused, Composed&& composed)
    -> decltype(fused()) {
  static_assert(std::is_same_v<decltype(fused()), decltype(composed())>,
                "fused_backward: both forms must return the same type");
  if (needs_graph(reads)) return composed();
  return fused();
}

}  // namespace taesan::autograd
