// ts::checkpoint (see checkpoint.h). The forward runs fn with grad mode on, on detached copies of
// the inputs, only to find the edges of fn's graph into leaves (the copies and the parameters:
// its "uses"); that graph is dropped when checkpoint returns, and one node takes its place, with
// one edge per use, to the input or parameter used. Its backward reruns fn (same RNG state, same
// autocast state), points each use of the rerun's graph at a leaf of its own, and returns the
// gradient of each use (ts::grad: no .grad() is touched inside). One edge per use, in the order
// backward reaches the uses, makes the engine sum a tensor's gradients in the same order as
// without checkpointing (an encoder output read by every decoder layer, twice each), so the
// results are bit-identical.
#include "taesan/autograd/checkpoint.h"

#include <algorithm>
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

/// Index of the input copy that is `leaf`, or -1 (a parameter).
int64_t copy_index(const TensorList& copies, const TensorImpl* leaf) {
  for (size_t i = 0; i < copies.size(); ++i)
    if (copies[i].defined() && copies[i].impl().get() == leaf) return static_cast<int64_t>(i);
  return -1;
}

/// An edge of fn's graph into a leaf that requires grad: consumer->next[slot] is its accumulator.
struct Use {
  Node* consumer;
  size_t slot;
  std::shared_ptr<TensorImpl> leaf;
};

/// The uses in fn's graph below `root`, in the order backward delivers their gradients: later-
/// created consumers first (the engine runs nodes latest-first), then slot order. Walks only the
/// nodes fn created (sequence number >= first); an older node is a tensor computed before fn ran
/// that fn captured instead of taking it as an input, whose gradient cannot be computed here.
std::vector<Use> uses_of(const std::shared_ptr<Node>& root, uint64_t first) {
  std::vector<Use> uses;
  std::unordered_set<const Node*> seen{root.get()};
  std::vector<Node*> stack{root.get()};
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (size_t slot = 0; slot < n->next.size(); ++slot) {
      Node* next = n->next[slot].get();
      if (next == nullptr) continue;
      if (auto* acc = dynamic_cast<AccumulateGrad*>(next)) {
        uses.push_back({n, slot, acc->leaf()});
        continue;
      }
      TS_CHECK(next->sequence_nr() >= first,
               "checkpoint: fn uses a tensor that requires grad and was computed before the call "
               "(by {}) without receiving it in `inputs`; pass it in inputs so that its gradient "
               "can flow back through the recomputation",
               next->name());
      if (seen.insert(next).second) stack.push_back(next);
    }
  }
  std::stable_sort(uses.begin(), uses.end(), [](const Use& a, const Use& b) {
    if (a.consumer != b.consumer) return a.consumer->sequence_nr() > b.consumer->sequence_nr();
    return a.slot < b.slot;
  });
  return uses;
}

/// What a use reads: input `input` of checkpoint (>= 0), or else the parameter `param`.
struct Target {
  int64_t input = -1;
  SavedTensor param;  // version-checked: a parameter changed in place before backward is refused
  const TensorImpl* param_impl = nullptr;
};

/// What backward needs to rerun fn as it ran in the forward.
struct Recompute {
  CheckpointFunction fn;
  std::vector<SavedTensor> inputs;  // version-checked as well
  std::vector<bool> input_requires_grad;
  std::vector<Target> targets;  // one per use, in the order of the node's edges
  RngState rng;
  bool autocast = false;
  DType autocast_dtype = kBFloat16;
  Shape shape;
  DType dtype = kFloat32;
};

/// Reruns fn on `copies` with the forward's RNG and autocast state (the RNG is restored after).
Tensor rerun(const Recompute& r, const TensorList& copies) {
  struct RestoreRng {
    RngState state;
    ~RestoreRng() { set_rng_state(state); }
  } restore{get_rng_state()};
  set_rng_state(r.rng);
  AutoGradMode grad_on(true);
  std::optional<AutocastGuard> autocast;
  if (r.autocast)
    autocast.emplace(r.autocast_dtype);
  else
    autocast.emplace(false);
  return r.fn(copies);
}

/// Gradients of sum(fn(inputs) * g) for every edge of the checkpoint node (every use).
TensorList recompute_gradients(const Recompute& r, const Tensor& g, const BackwardContext& ctx) {
  TS_CHECK(!GradMode::is_enabled(),
           "checkpoint: double backward (create_graph = true) through a checkpointed function is "
           "not supported; call the function without ts::checkpoint to differentiate twice");
  TensorList originals;
  for (const SavedTensor& s : r.inputs) originals.push_back(s.unpack(ctx));
  TensorList params;
  for (const Target& t : r.targets) params.push_back(t.input < 0 ? t.param.unpack(ctx) : Tensor());
  const TensorList copies = detached_copies(originals, r.input_requires_grad);

  const uint64_t first = autograd::next_sequence_nr();
  const Tensor y = rerun(r, copies);
  auto differs = [&](const std::string& what) {
    fail(
        "checkpoint: fn computed something else when rerun in backward ({}) than in the forward "
        "(Tensor{} {}, reading {} tensors that require grad); it must compute the same thing "
        "both times",
        what, shape_str(r.shape), r.dtype, r.targets.size());
  };
  if (!y.defined() || y.shape() != r.shape || y.dtype() != r.dtype)
    differs(y.defined() ? y.describe() : std::string("an undefined tensor"));
  std::vector<Use> uses;
  if (y.requires_grad() && !y.is_leaf()) uses = uses_of(y.grad_fn(), first);
  if (uses.size() != r.targets.size())
    differs(fmt::format("reading {} tensors that require grad", uses.size()));

  // Each use reads a leaf of its own (sharing the storage): its gradient is captured alone.
  TensorList leaves;
  std::vector<size_t> slots;
  for (size_t k = 0; k < uses.size(); ++k) {
    const Target& t = r.targets[k];
    const int64_t i = copy_index(copies, uses[k].leaf.get());
    if (t.input >= 0 ? i != t.input : (i >= 0 || uses[k].leaf.get() != t.param_impl))
      differs(fmt::format("its read {} is of another tensor", k));
    if (!ctx.needs_grad(k)) continue;
    Tensor own = Tensor(uses[k].leaf).detach().requires_grad_(true);
    uses[k].consumer->next[uses[k].slot] = autograd::gradient_edge(own);
    leaves.push_back(own);
    slots.push_back(k);
  }
  TensorList out(uses.size());
  if (leaves.empty()) return out;
  GradOptions options;
  options.allow_unused = true;
  const TensorList grads = grad({y}, leaves, {g}, options);
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
  const TensorList copies = detached_copies(inputs, r.input_requires_grad);
  const uint64_t first = autograd::next_sequence_nr();
  Tensor y = fn(copies);
  TS_CHECK(y.defined(), "checkpoint: fn returned an undefined tensor");
  if (!y.requires_grad()) return y;  // nothing in fn requires grad: no graph to keep
  if (y.is_leaf()) {                 // fn returned one of its inputs, or a parameter
    const int64_t i = copy_index(copies, y.impl().get());
    return i >= 0 ? inputs[static_cast<size_t>(i)] : y;
  }

  // One edge per use: to the original input, or to the parameter.
  TensorList edges;
  for (const Use& u : uses_of(y.grad_fn(), first)) {
    Target t;
    t.input = copy_index(copies, u.leaf.get());
    if (t.input < 0) {
      t.param = SavedTensor(Tensor(u.leaf));
      t.param_impl = u.leaf.get();
    }
    edges.push_back(t.input >= 0 ? inputs[static_cast<size_t>(t.input)] : Tensor(u.leaf));
    r.targets.push_back(std::move(t));
  }
  for (const Tensor& x : inputs) r.inputs.emplace_back(x);
  r.shape = y.shape();
  r.dtype = y.dtype();
  Tensor out = y.detach();
  y = Tensor();  // frees fn's graph, and with it the intermediates it saved
  // y = fn(inputs; params);  the gradient of each use of an input or parameter = that of fn rerun
  return autograd::record("checkpoint", edges, out,
                          [r = std::move(r)](const Tensor& g, const BackwardContext& ctx) {
                            return recompute_gradients(r, g, ctx);
                          });
}

}  // namespace taesan
