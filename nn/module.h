// ts::nn::Module: the base of every layer and model. It owns named parameters, buffers and
// child modules in registration order (dotted names like "encoder.layers.0.linear1.weight", as
// PyTorch builds them), switches train/eval for the whole tree, and prints it with counts.
#pragma once

#include <fmt/format.h>

#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "taesan/autograd/tensor.h"

namespace taesan::nn {

/// Named tensors in a fixed order: parameters, buffers, a state dict.
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

/// What load_state_dict / ts::load found: names the module has and the source lacks, names the
/// source has and the module lacks, and names whose shape or dtype differ ("name: ...").
struct LoadResult {
  std::vector<std::string> missing_keys;
  std::vector<std::string> unexpected_keys;
  std::vector<std::string> mismatched_keys;
  /// True when every tensor matched.
  bool ok() const {
    return missing_keys.empty() && unexpected_keys.empty() && mismatched_keys.empty();
  }
  /// One line per problem, or "all tensors matched".
  std::string summary() const;
};

/// Base class of layers and models (like torch::nn::Module). Derive, register parameters,
/// buffers and children in the constructor, and write your own forward().
class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  /// Adds a parameter (a leaf floating-point tensor; requires_grad is set to `requires_grad`)
  /// and returns it. Names are non-empty, without '.', unique within this module.
  Tensor register_parameter(const std::string& name, Tensor tensor, bool requires_grad = true);
  /// Adds a buffer (state that is not trained, e.g. running statistics). Non-persistent buffers
  /// are left out of state_dict().
  Tensor register_buffer(const std::string& name, Tensor tensor, bool persistent = true);
  /// Adds a child module and returns it.
  template <typename M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    static_assert(std::is_base_of_v<Module, M>, "register_module: M must derive from nn::Module");
    add_child(name, module);
    return module;
  }

  /// Parameters of this module and (recursively) its children, each tensor once.
  TensorList parameters(bool recurse = true) const;
  /// Like parameters() with dotted names: own parameters first, then each child's, in
  /// registration order (the order PyTorch uses). A tensor registered twice appears once.
  NamedTensors named_parameters(bool recurse = true) const;
  /// Buffers of this module and (recursively) its children, each tensor once.
  TensorList buffers(bool recurse = true) const;
  /// Like buffers() with dotted names (persistent or not).
  NamedTensors named_buffers(bool recurse = true) const;
  /// Direct children, in registration order.
  std::vector<std::shared_ptr<Module>> children() const;
  /// Direct children with their names.
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_children() const;
  /// Calls fn on this module and then on every descendant (pre-order).
  void apply(const std::function<void(Module&)>& fn);

  /// Sets training mode on this module and every descendant.
  virtual void train(bool on = true);
  /// train(false).
  void eval() { train(false); }
  /// True in training mode (the default).
  bool is_training() const { return training_; }

  /// Clears (set_to_none) or zeroes the gradient of every parameter.
  void zero_grad(bool set_to_none = true);
  /// Number of parameter elements (each tensor counted once); only those requiring grad if asked.
  int64_t num_parameters(bool only_trainable = false) const;

  /// Parameters and persistent buffers by dotted name, in PyTorch's state_dict order (own
  /// parameters, own buffers, then each child's). The tensors alias the module's.
  NamedTensors state_dict() const;
  /// Copies `source` into the module's tensors (float dtypes convert). With strict, any missing,
  /// unexpected or mismatched name throws a ts::Error that lists all of them and nothing is
  /// written; without strict, the matching tensors are loaded and the rest reported.
  LoadResult load_state_dict(const NamedTensors& source, bool strict = true);
  /// What load_state_dict would report, without writing anything.
  LoadResult check_state_dict(const NamedTensors& source) const;

  /// Converts every floating-point parameter and buffer to `dtype` in place (the handles the
  /// layers hold see the new data). Gradients are cleared.
  void to(DType dtype);

  /// Type name used when printing ("Linear"; by default the demangled class name).
  virtual std::string name() const;
  /// Settings printed inside the parentheses ("in_features=2, out_features=8, bias=true").
  virtual std::string extra_repr() const { return ""; }
  /// The module tree with parameter counts, like print(model) in PyTorch.
  std::string to_string() const;

 private:
  void add_child(const std::string& name, std::shared_ptr<Module> module);
  void check_new_name(const std::string& name, const char* fn) const;
  void collect(const std::string& prefix, bool params, bool buffers, bool recurse,
               bool persistent_only, NamedTensors& out) const;
  std::string repr(int indent) const;

  NamedTensors parameters_;
  NamedTensors buffers_;
  std::vector<bool> buffer_persistent_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

/// "1,234,567".
std::string format_count(int64_t n);

}  // namespace taesan::nn

/// fmt::format("{}", module) and fmt::format("{}", module_ptr) print the module tree.
template <typename M>
struct fmt::formatter<M, char, std::enable_if_t<std::is_base_of_v<taesan::nn::Module, M>>>
    : fmt::formatter<std::string> {
  template <typename Ctx>
  auto format(const M& m, Ctx& ctx) const {
    return fmt::formatter<std::string>::format(m.to_string(), ctx);
  }
};
template <typename M>
struct fmt::formatter<std::shared_ptr<M>, char,
                      std::enable_if_t<std::is_base_of_v<taesan::nn::Module, M>>>
    : fmt::formatter<std::string> {
  template <typename Ctx>
  auto format(const std::shared_ptr<M>& m, Ctx& ctx) const {
    return fmt::formatter<std::string>::format(m ? m->to_string() : std::string("null"), ctx);
  }
};
