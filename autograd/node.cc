// Nodes, recording, saved tensors, and iterative graph destruction (a graph 100,000 nodes deep
// is freed without recursing 100,000 frames: destructors park their edges and lambdas in a
// thread-local list that the outermost destructor drains).
#include "taesan/autograd/node.h"

#include <atomic>

#include "taesan/autograd/grad_mode.h"
#include "taesan/autograd/profiler.h"

namespace taesan::autograd {
namespace {

std::atomic<uint64_t> g_next_sequence_nr{0};

struct Graveyard {
  std::vector<std::shared_ptr<Node>> nodes;
  std::vector<BackwardFn> fns;
  bool draining = false;
};
thread_local Graveyard t_graveyard;

void drain_graveyard() {
  Graveyard& g = t_graveyard;
  if (g.draining) return;
  g.draining = true;
  while (!g.nodes.empty() || !g.fns.empty()) {
    if (!g.fns.empty()) {
      BackwardFn fn = std::move(g.fns.back());
      g.fns.pop_back();
    } else {
      std::shared_ptr<Node> node = std::move(g.nodes.back());
      g.nodes.pop_back();
    }
  }
  g.draining = false;
}

}  // namespace

uint64_t next_sequence_nr() { return g_next_sequence_nr.load(std::memory_order_relaxed); }

Node::Node() : sequence_nr_(g_next_sequence_nr.fetch_add(1, std::memory_order_relaxed)) {}

Node::~Node() {
  for (auto& n : next)
    if (n) t_graveyard.nodes.push_back(std::move(n));
  drain_graveyard();
}

LambdaNode::~LambdaNode() {
  if (fn_) {
    t_graveyard.fns.push_back(std::move(fn_));
    fn_ = nullptr;
  }
}

TensorList LambdaNode::apply(const Tensor& grad) {
  TS_CHECK(fn_ != nullptr,
           "backward: trying to backward through the graph a second time (through {}): its saved "
           "tensors were freed after the first backward; pass retain_graph=true the first time",
           name_);
  BackwardContext ctx{this, &needs_};
  return fn_(grad, ctx);
}

TensorList AccumulateGrad::apply(const Tensor& grad) {
  const bool create_graph = GradMode::is_enabled();
  Tensor g = grad;
  // Take the engine's buffer as the gradient only when nothing else can see or change it.
  const bool sole_owner = grad.impl().use_count() == 1 && grad.storage().use_count() == 1 &&
                          grad.is_contiguous() &&
                          grad.storage()->nbytes() == grad.numel() * grad.element_size();
  if (!create_graph && (grad.requires_grad() || !sole_owner)) g = grad.detach().clone();
  if (!leaf_->grad) {
    leaf_->grad = g.impl();
  } else {
    Tensor current(leaf_->grad);
    if (!create_graph && !current.requires_grad() && current.storage().use_count() == 1) {
      current.add_(g);
    } else {
      leaf_->grad = (current + g).impl();
    }
  }
  if (!post_hooks_.empty()) {
    const Tensor leaf(leaf_);
    for (const PostHook& hook : post_hooks_) hook(leaf);
  }
  return {};
}

std::shared_ptr<Node> gradient_edge(const Tensor& t) {
  TensorImpl* impl = t.impl().get();
  if (!impl->requires_grad) return nullptr;
  if (impl->grad_fn) return impl->grad_fn;
  std::shared_ptr<Node> acc = impl->grad_accumulator.lock();
  if (!acc) {
    acc = std::make_shared<AccumulateGrad>(t.impl());
    impl->grad_accumulator = acc;
  }
  return acc;
}

bool needs_graph(const Tensor& input) {
  return GradMode::is_enabled() && input.defined() && input.requires_grad();
}

bool needs_graph(const TensorList& inputs) {
  if (!GradMode::is_enabled()) return false;
  for (const Tensor& x : inputs)
    if (x.defined() && x.requires_grad()) return true;
  return false;
}

Tensor record(const char* name, const TensorList& inputs, Tensor& result, BackwardFn fn) {
  if (!needs_graph(inputs)) return result;
  profiler::OpRecord profile(name);  // the op's forward ends here (one relaxed load when off)
  TensorImpl* out = result.impl().get();
  TS_CHECK(out->grad_fn == nullptr && !out->requires_grad,
           "internal error: {} recorded on a tensor that is already in the graph", name);
  auto node = std::make_shared<LambdaNode>(name, std::move(fn));
  node->next.reserve(inputs.size());
  for (const Tensor& x : inputs) {
    std::shared_ptr<Node> edge = x.defined() ? gradient_edge(x) : nullptr;
    node->needs_.push_back(edge != nullptr);
    node->input_meta.push_back(x.defined() ? InputMeta{x.shape(), x.dtype()}
                                           : InputMeta{{}, DType::Float32});
    node->next.push_back(std::move(edge));
  }
  out->grad_fn = std::move(node);
  out->requires_grad = true;
  return result;
}

SavedTensor::SavedTensor(const Tensor& t, bool is_output)
    : tensor_(is_output && t.defined() ? t.detach() : t),
      version_(t.defined() ? t.version() : 0),
      is_output_(is_output) {}

Tensor SavedTensor::unpack(const BackwardContext& ctx) const {
  if (!tensor_.defined()) return tensor_;
  TS_CHECK(tensor_.version() == version_,
           "backward of {}: a tensor it saved ({}) was modified in place after it was saved "
           "(version {} then, {} now); use an out-of-place op or clone() before modifying it",
           ctx.node->name(), tensor_.describe(), version_, tensor_.version());
  if (is_output_ && GradMode::is_enabled()) {
    // Double backward: the saved output is again the result of this node.
    Tensor y = tensor_.detach();
    y.impl()->grad_fn = ctx.node->shared_from_this();
    y.impl()->requires_grad = true;
    return y;
  }
  return tensor_;
}

}  // namespace taesan::autograd
