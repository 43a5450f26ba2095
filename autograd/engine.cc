// Backward engine (see engine.h).
#include "taesan/autograd/engine.h"

#include <cstdint>
#include <functional>
#include <queue>
#include <typeinfo>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "taesan/autograd/autocast.h"
#include "taesan/autograd/factory.h"
#include "taesan/autograd/grad_mode.h"
#include "taesan/autograd/node.h"
#include "taesan/autograd/profiler.h"

namespace taesan::autograd {
namespace {

// Leaf accumulators run as soon as they are ready (PyTorch gives AccumulateGrad the highest
// priority): a gradient is final then, and its post-accumulate hooks (DistributedDataParallel's
// bucket allreduce) start while the rest of backward runs. Other nodes: latest-created first.
struct LaterFirst {
  static uint64_t priority(const Node* n) {  // AccumulateGrad is final: typeid is exact
    return typeid(*n) == typeid(AccumulateGrad) ? UINT64_MAX : n->sequence_nr();
  }
  bool operator()(const Node* a, const Node* b) const { return priority(a) < priority(b); }
};

Tensor sum_gradients(const Tensor& a, const Tensor& b) {
  if (!a.defined()) return b;
  if (!b.defined()) return a;
  profiler::Scope profile("sum_gradients", profiler::Phase::kBackward);
  return a + b;
}

// Runs the graph below `roots`. In capture mode (`captures` non-null) gradients reaching the
// captured nodes are returned instead of accumulated, and only nodes that lead to them run.
TensorList run_engine(const TensorList& roots, const TensorList& grad_roots, bool keep_graph,
                      bool create_graph, const std::vector<std::shared_ptr<Node>>* captures,
                      const char* fn) {
  profiler::QuietRegion profile_quiet;  // engine bookkeeping stays graph overhead
  TS_CHECK(grad_roots.empty() || grad_roots.size() == roots.size(),
           "{}: got {} gradients for {} outputs", fn, grad_roots.size(), roots.size());
  std::vector<std::shared_ptr<Node>> root_nodes;
  TensorList root_grads;
  for (size_t i = 0; i < roots.size(); ++i) {
    const Tensor& r = roots[i];
    TS_CHECK(r.defined(), "{}: output {} is an undefined tensor", fn, i);
    TS_CHECK(r.requires_grad(),
             "{}: output {} ({}) does not require grad and has no grad_fn; nothing to "
             "differentiate", fn, i, r.describe());
    Tensor g = grad_roots.empty() ? Tensor() : grad_roots[i];
    if (!g.defined()) {
      TS_CHECK(r.numel() == 1,
               "{}: a gradient can be implied only for a one-element output; output {} is {} - "
               "pass its gradient explicitly", fn, i, r.describe());
      g = ones_like(r);
    } else {
      TS_CHECK(g.shape() == r.shape() && g.dtype() == r.dtype(),
               "{}: gradient {} does not match output {} ({})", fn, g.describe(), i, r.describe());
    }
    root_nodes.push_back(gradient_edge(r));
    root_grads.push_back(g);
  }

  // Discover the graph in post-order (children before parents), without recursion.
  std::unordered_map<Node*, int> state;  // 1 = on stack, 2 = done
  std::vector<Node*> post_order;
  std::vector<std::pair<Node*, size_t>> stack;
  for (auto& r : root_nodes) {
    if (state.count(r.get())) continue;
    stack.push_back({r.get(), 0});
    state[r.get()] = 1;
    while (!stack.empty()) {
      auto& [node, child] = stack.back();
      if (child < node->next.size()) {
        Node* c = node->next[child++].get();
        if (c && !state.count(c)) {
          state[c] = 1;
          stack.push_back({c, 0});
        }
      } else {
        state[node] = 2;
        post_order.push_back(node);
        stack.pop_back();
      }
    }
  }

  // Which nodes must run: all, or in capture mode those from which a captured node is reachable.
  std::unordered_map<Node*, std::vector<size_t>> capture_slots;
  if (captures)
    for (size_t i = 0; i < captures->size(); ++i)
      if ((*captures)[i]) capture_slots[(*captures)[i].get()].push_back(i);
  std::unordered_set<Node*> needed;
  for (Node* n : post_order) {
    bool need = !captures || capture_slots.count(n);
    for (auto& c : n->next)
      if (c && needed.count(c.get())) need = true;
    if (need) needed.insert(n);
  }

  std::unordered_map<Node*, int> dependencies;
  for (Node* n : post_order) {
    if (!needed.count(n)) continue;
    for (auto& c : n->next)
      if (c && needed.count(c.get())) ++dependencies[c.get()];
  }

  TensorList captured(captures ? captures->size() : 0);
  std::unordered_map<Node*, Tensor> buffer;
  std::priority_queue<Node*, std::vector<Node*>, LaterFirst> ready;
  for (size_t i = 0; i < root_nodes.size(); ++i) {
    Node* r = root_nodes[i].get();
    if (!needed.count(r)) continue;
    buffer[r] = sum_gradients(buffer[r], root_grads[i]);
  }
  for (auto& r : root_nodes) {
    Node* n = r.get();
    if (needed.count(n) && dependencies[n] == 0) {
      dependencies[n] = -1;  // queued once
      ready.push(n);
    }
  }

  AutoGradMode mode(create_graph);
  // Autocast was decided when each op was recorded (its rounding nodes are in the graph): backward
  // rules run without it, so backward inside a region is the same as after it.
  AutocastGuard no_autocast(false);
  while (!ready.empty()) {
    Node* node = ready.top();
    ready.pop();
    Tensor g = std::move(buffer[node]);
    buffer.erase(node);

    TensorList outs;
    if (g.defined()) {
      if (auto retained = node->retained_output(); retained && !captures) {
        Tensor keep = create_graph ? g : g.detach();
        retained->grad = retained->grad ? (Tensor(retained->grad) + keep).impl() : keep.impl();
      }
      if (captures) {
        if (auto it = capture_slots.find(node); it != capture_slots.end())
          for (size_t slot : it->second) captured[slot] = g;
      }
      bool is_sink = dynamic_cast<AccumulateGrad*>(node) != nullptr;
      if (!(captures && is_sink)) {
        profiler::Scope profile(node->name(), profiler::Phase::kBackward);
        outs = node->apply(g);
        TS_CHECK(outs.size() == node->next.size() || node->next.empty(),
                 "internal error: backward of {} returned {} gradients for {} inputs",
                 node->name(), outs.size(), node->next.size());
      }
    }
    for (size_t i = 0; i < node->next.size(); ++i) {
      Node* c = node->next[i].get();
      if (!c || !needed.count(c)) continue;
      if (i < outs.size() && outs[i].defined()) {
        const InputMeta& meta = node->input_meta[i];
        TS_CHECK(outs[i].shape() == meta.shape && outs[i].dtype() == meta.dtype,
                 "internal error: backward of {} returned a gradient {} for input {} of shape {} {}",
                 node->name(), outs[i].describe(), i, shape_str(meta.shape), meta.dtype);
        buffer[c] = sum_gradients(buffer[c], outs[i]);
      }
      if (--dependencies[c] == 0) {
        dependencies[c] = -1;
        ready.push(c);
      }
    }
    if (!keep_graph) node->release();
  }
  return captured;
}

}  // namespace

// Callbacks queued (queue_callback) during the backward() running on this thread.
static thread_local std::vector<std::function<void()>>* t_backward_callbacks = nullptr;

void backward(const TensorList& roots, const TensorList& grad_roots, bool retain_graph,
              bool create_graph) {
  std::vector<std::function<void()>> callbacks;
  struct Scope {  // restores the outer pass's list even when the pass throws
    std::vector<std::function<void()>>* outer;
    ~Scope() { t_backward_callbacks = outer; }
  } scope{std::exchange(t_backward_callbacks, &callbacks)};
  run_engine(roots, grad_roots, retain_graph || create_graph, create_graph, nullptr, "backward");
  for (size_t i = 0; i < callbacks.size(); ++i) {  // a callback may queue more
    std::function<void()> fn = std::move(callbacks[i]);
    fn();
  }
}

void queue_callback(std::function<void()> fn) {
  TS_CHECK(t_backward_callbacks != nullptr,
           "autograd::queue_callback: called outside a backward() pass on this thread (only "
           "hooks that run during backward can queue a callback)");
  t_backward_callbacks->push_back(std::move(fn));
}

}  // namespace taesan::autograd

namespace taesan {

TensorList grad(const TensorList& outputs, const TensorList& inputs,
                const TensorList& grad_outputs, const GradOptions& options) {
  std::vector<std::shared_ptr<autograd::Node>> captures;
  for (size_t i = 0; i < inputs.size(); ++i) {
    TS_CHECK(inputs[i].defined() && inputs[i].requires_grad(),
             "grad: input {} ({}) does not require grad", i, inputs[i].describe());
    captures.push_back(autograd::gradient_edge(inputs[i]));
  }
  bool keep = options.retain_graph.value_or(options.create_graph);
  TensorList result = autograd::run_engine(outputs, grad_outputs, keep, options.create_graph,
                                           &captures, "grad");
  for (size_t i = 0; i < result.size(); ++i)
    TS_CHECK(result[i].defined() || options.allow_unused,
             "grad: input {} ({}) was not used to compute the outputs; pass allow_unused = true "
             "to get an undefined gradient for it", i, inputs[i].describe());
  return result;
}

}  // namespace taesan
