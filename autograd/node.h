// The graph: a Node is the backward of one recorded op (one output, edges to the nodes of its
// inputs). Ops connect their result with autograd::record(name, inputs, result, backward_fn),
// writing the gradient lambda right under the forward call. Saved tensors carry the storage
// version they had when saved, so an in-place change before backward is detected.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "taesan/autograd/tensor.h"

namespace taesan::autograd {

class Node;

/// What a backward function gets besides the incoming gradient.
struct BackwardContext {
  Node* node;                       ///< the node being run (owner of saved outputs)
  const std::vector<bool>* needs;   ///< needs[i]: input i wants a gradient
  bool needs_grad(size_t i) const { return (*needs)[i]; }
};

/// Gradient of the op's output in, one gradient per input out (undefined where not needed).
using BackwardFn = std::function<TensorList(const Tensor& grad, const BackwardContext& ctx)>;

/// Shape and dtype of an input, to check what backward returns.
struct InputMeta {
  Shape shape;
  DType dtype;
};

/// A node of the backward graph.
class Node : public std::enable_shared_from_this<Node> {
 public:
  Node();
  virtual ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  virtual const char* name() const = 0;
  /// Gradients for each next edge, given the (summed) gradient of this node's output.
  virtual TensorList apply(const Tensor& grad) = 0;
  /// Frees saved tensors after a backward pass without retain_graph.
  virtual void release() {}

  /// Nodes of the inputs (null where an input needs no gradient), and their metadata.
  std::vector<std::shared_ptr<Node>> next;
  std::vector<InputMeta> input_meta;
  /// Creation order: later nodes run first in backward.
  uint64_t sequence_nr() const { return sequence_nr_; }

  void set_retained_output(const std::shared_ptr<TensorImpl>& impl) { retained_ = impl; }
  std::shared_ptr<TensorImpl> retained_output() const { return retained_.lock(); }

 private:
  uint64_t sequence_nr_;
  std::weak_ptr<TensorImpl> retained_;
};

/// The node of a recorded op: runs its backward lambda, then drops it (and its saved tensors).
class LambdaNode final : public Node {
 public:
  LambdaNode(const char* name, BackwardFn fn) : name_(name), fn_(std::move(fn)) {}
  ~LambdaNode() override;
  const char* name() const override { return name_; }
  TensorList apply(const Tensor& grad) override;
  void release() override { fn_ = nullptr; }

 private:
  const char* name_;
  BackwardFn fn_;
  std::vector<bool> needs_;
  friend Tensor record(const char*, const TensorList&, Tensor&, BackwardFn);
};

/// The sink of a leaf that requires grad: sums incoming gradients into leaf.grad().
class AccumulateGrad final : public Node {
 public:
  explicit AccumulateGrad(std::shared_ptr<TensorImpl> leaf) : leaf_(std::move(leaf)) {}
  const char* name() const override { return "AccumulateGrad"; }
  TensorList apply(const Tensor& grad) override;
  const std::shared_ptr<TensorImpl>& leaf() const { return leaf_; }

  /// Called with the leaf right after each accumulation into its .grad() (PyTorch's
  /// post-accumulate-grad hook; DistributedDataParallel starts averaging a gradient there). The
  /// hooks live as long as this node: hold gradient_edge(leaf) to keep them across iterations.
  using PostHook = std::function<void(const Tensor& leaf)>;
  void add_post_hook(PostHook hook) { post_hooks_.push_back(std::move(hook)); }

 private:
  std::shared_ptr<TensorImpl> leaf_;
  std::vector<PostHook> post_hooks_;
};

/// The sequence number the next node created will get: every node created after this call has
/// one at least as large (ts::checkpoint tells the nodes of its function from older ones).
uint64_t next_sequence_nr();

/// The node that gradients flowing into `t` go to: its grad_fn, or its leaf accumulator
/// (created on first use), or null when `t` does not require grad.
std::shared_ptr<Node> gradient_edge(const Tensor& t);

/// True when grad mode is on and any input requires grad: the op must be recorded.
bool needs_graph(const TensorList& inputs);
bool needs_graph(const Tensor& input);

/// Connects `result` to the graph as the output of op `name` with the given inputs and backward.
/// Does nothing (and drops fn) when !needs_graph(inputs). Returns result.
Tensor record(const char* name, const TensorList& inputs, Tensor& result, BackwardFn fn);

/// A tensor kept for backward, with the storage version it had when saved.
/// Save inputs with SavedTensor(x); save the op's own output with SavedTensor(y, /*is_output=*/true)
/// (kept without its grad_fn, so no reference cycle; unpack reattaches it for double backward).
class SavedTensor {
 public:
  SavedTensor() = default;
  explicit SavedTensor(const Tensor& t, bool is_output = false);
  /// The saved tensor; throws if it was modified in place since it was saved.
  Tensor unpack(const BackwardContext& ctx) const;
  bool defined() const { return tensor_.defined(); }

 private:
  Tensor tensor_;
  uint64_t version_ = 0;
  bool is_output_ = false;
};

}  // namespace taesan::autograd
