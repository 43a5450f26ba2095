// ts::checkpoint (see checkpoint.h). The forward runs fn with grad mode on, on detached copies of
// the inputs, only to find what fn differentiates through (the leaves its graph reaches: the
// copies and the parameters); that graph is dropped when checkpoint returns, and one node takes
// its place, with edges to the inputs and parameters. Its backward reruns fn (same RNG state,
// same autocast state) and returns the gradients of that rerun with respect to the copies and the
// parameters (ts::grad: no .grad() is touched inside).
#include "taesan/autograd/checkpoint.h"

#include <optional>
#include <unordered_set>
#include <utility>
#include <vector>

#include "taesan/autograd/autocast.h"
#include "taesan/autograd/engine.h"
#include "taesan/autograd/grad_mode.h"
#include "taesan/autograd/node.h"
#include "taesan/core/random.h"

namespace taesan {
namespace {

using autograd::AccumulateGrad;
using autograd::BackwardContext;
using autograd::Node;
using autograd::SavedTensor;

/// Detached copies of the inputs, requiring grad where requires_grad[i]: fn's graph stops at them.
TensorList detached_copies(const TensorList& inputs, const std::vector<bool>& requires_grad) {
  TensorList copies;
  copies.reserve(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined()) {
      copies.emplace_back();
      continue;
    }
    Tensor c = inputs[i].detach();
    if (requires_grad[i]) c.requires_grad_(true);
    copies.push_back(std::move(c));
  }
  return copies;
}

/// Index of the input copy whose storage-sharing leaf is `leaf`, or -1.
int64_t copy_index(const TensorList& copies, const TensorImpl* leaf) {
  for (size_t i = 0; i < copies.size(); ++i)
    if (copies[i].defined() && copies[i].impl().get() == leaf) return static_cast<int64_t>(i);
  return -1;
}

/// The leaves that require grad reached from `root` (fn's output node), other than the input
/// copies: the parameters fn uses. Walks only the nodes fn created (sequence number >= first);
/// an older node is a tensor computed before fn ran that fn captured instead of taking it as an
/// input, whose gradient cannot be computed here: ts::Error.
TensorList parameters_of(const std::shared_ptr<Node>& root, uint64_t first,
                         const TensorList& copies) {
  TensorList params;
  std::unordered_set<const Node*> seen;
  std::vector<const Node*> stack;
  auto visit = [&](const std::shared_ptr<Node>& n) {
    if (!n || !seen.insert(n.get()).second) return;
    if (const auto* acc = dynamic_cast<const AccumulateGrad*>(n.get())) {
      if (copy_index(copies, acc->leaf().get()) < 0) params.emplace_back(acc->leaf());
      return;
    }
    TS_CHECK(n->sequence_nr() >= first,
             "checkpoint: fn uses a tensor that requires grad and was computed before the call "
             "(by {}) without receiving it in `inputs`; pass it in inputs so that its gradient "
             "can flow back through the recomputation",
             n->name());
    stack.push_back(n.get());
  };
  visit(root);
  while (!stack.empty()) {
    const Node* n = stack.back();
    stack.pop_back();
    for (const auto& next : n->next) visit(next);
  }
  return params;
}

/// What backward needs to rerun fn as it ran in the forward.
struct Recompute {
  CheckpointFunction fn;
  std::vector<SavedTensor> inputs;  // version-checked: an in-place change is refused
  std::vector<bool> input_requires_grad;
  std::vector<SavedTensor> params;
  RngState rng;
  bool autocast = false;
  DType autocast_dtype = kBFloat16;
  Shape shape;
  DType dtype = kFloat32;
};

/// Gradients of sum(fn(inputs) * g) for every edge of the checkpoint node (inputs, then params).
TensorList recompute_gradients(const Recompute& r, const Tensor& g, const BackwardContext& ctx) {
  TS_CHECK(!GradMode::is_enabled(),
           "checkpoint: double backward (create_graph = true) through a checkpointed function is "
           "not supported; call the function without ts::checkpoint to differentiate twice");
  TensorList originals;
  for (const SavedTensor& s : r.inputs) originals.push_back(s.unpack(ctx));
  TensorList params;
  for (const SavedTensor& s : r.params) params.push_back(s.unpack(ctx));
  TensorList copies = detached_copies(originals, r.input_requires_grad);  // as in the forward

  Tensor y;
  {
    const RngState now = get_rng_state();
    struct RestoreRng {
      RngState state;
      ~RestoreRng() { set_rng_state(state); }
    } restore{now};
    set_rng_state(r.rng);
    AutoGradMode grad_on(true);
    std::optional<AutocastGuard> autocast;
    if (r.autocast)
      autocast.emplace(r.autocast_dtype);
    else
      autocast.emplace(false);
    y = r.fn(copies);
  }
  TS_CHECK(y.defined() && y.shape() == r.shape && y.dtype() == r.dtype,
           "checkpoint: the recomputation in backward returned {} but the forward returned "
           "Tensor{} {}: fn must compute the same thing both times",
           y.defined() ? y.describe() : std::string("an undefined tensor"), shape_str(r.shape),
           r.dtype);

  // The edges that want a gradient: input copies first, then parameters.
  const size_t n_in = copies.size();
  TensorList targets;
  std::vector<size_t> slots;
  for (size_t i = 0; i < n_in; ++i)
    if (ctx.needs_grad(i) && copies[i].defined() && copies[i].requires_grad()) {
      targets.push_back(copies[i]);
      slots.push_back(i);
    }
  for (size_t j = 0; j < params.size(); ++j)
    if (ctx.needs_grad(n_in + j) && params[j].requires_grad()) {
      targets.push_back(params[j]);
      slots.push_back(n_in + j);
    }
  TensorList out(n_in + params.size());
  if (targets.empty() || !y.requires_grad()) return out;
  GradOptions options;
  options.allow_unused = true;
  TensorList grads = grad({y}, targets, {g}, options);
  for (size_t k = 0; k < slots.size(); ++k) out[slots[k]] = grads[k];
  return out;
}

}  // namespace

Tensor checkpoint(const CheckpointFunction& fn, const TensorList& inputs) {
  TS_CHECK(static_cast<bool>(fn), "checkpoint: fn is an empty function");
  if (!GradMode::is_enabled()) return fn(inputs);

  Recompute r;
  r.fn = fn;
  r.rng = get_rng_state();
  r.autocast = AutocastMode::is_enabled();
  r.autocast_dtype = AutocastMode::dtype();
  for (const Tensor& x : inputs) r.input_requires_grad.push_back(x.defined() && x.requires_grad());
  TensorList copies = detached_copies(inputs, r.input_requires_grad);
  const uint64_t first = autograd::next_sequence_nr();
  Tensor y = fn(copies);
  TS_CHECK(y.defined(), "checkpoint: fn returned an undefined tensor");
  if (!y.requires_grad()) return y;  // nothing in fn requires grad: no graph to keep
  if (y.is_leaf()) {                 // fn returned one of its inputs, or a parameter
    const int64_t i = copy_index(copies, y.impl().get());
    return i >= 0 ? inputs[static_cast<size_t>(i)] : y;
  }
  TensorList params = parameters_of(y.grad_fn(), first, copies);

  TensorList edges = inputs;
  edges.insert(edges.end(), params.begin(), params.end());
  for (const Tensor& x : inputs) r.inputs.emplace_back(x);
  for (const Tensor& p : params) r.params.emplace_back(p);
  r.shape = y.shape();
  r.dtype = y.dtype();
  Tensor out = y.detach();
  y = Tensor();  // frees fn's graph, and with it the intermediates it saved
  // y = fn(inputs; params);  d inputs, d params = the gradients of fn rerun at backward
  return autograd::record("checkpoint", edges, out,
                          [r = std::move(r)](const Tensor& g, const BackwardContext& ctx) {
                            return recompute_gradients(r, g, ctx);
                          });
}

}  // namespace taesan
