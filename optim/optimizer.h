// ts::optim::Optimizer: the base of SGD, Adam and AdamW. It holds parameter groups (each with its
// own learning rate and weight decay, so biases and norms can skip decay), per-parameter state
// (step count and buffers such as exp_avg), zero_grad, and a state dict that restores training
// exactly. The updates themselves are fused kernels (ops/kernels/optimizer.h).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "taesan/autograd/tensor.h"
#include "taesan/nn/module.h"

namespace taesan::optim {

/// A set of parameters with its own settings. Unset values take the optimizer's options; after
/// the optimizer is built, lr and weight_decay always hold values (schedulers change lr).
struct ParamGroup {
  TensorList params = {};
  std::optional<double> lr = std::nullopt;
  std::optional<double> weight_decay = std::nullopt;
};

/// What an optimizer or scheduler saves: named tensors and string settings, i.e. exactly what a
/// safetensors file holds, so a whole training checkpoint is one file.
struct StateDict {
  nn::NamedTensors tensors = {};
  std::map<std::string, std::string> metadata = {};
};

/// State kept for one parameter: its step count and named buffers ("exp_avg", ...).
struct ParamState {
  int64_t step = 0;
  std::map<std::string, Tensor> buffers;
};

/// Base class of the optimizers.
class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  /// Updates every parameter that has a gradient (parameters without one are skipped).
  virtual void step() = 0;
  /// "SGD", "Adam", "AdamW".
  virtual std::string name() const = 0;

  /// Clears every parameter's gradient (set_to_none, the default) or fills it with zeros.
  void zero_grad(bool set_to_none = true);

  /// The groups; change lr / weight_decay here (schedulers do).
  std::vector<ParamGroup>& param_groups() { return groups_; }
  /// The groups, read only.
  const std::vector<ParamGroup>& param_groups() const { return groups_; }
  /// Adds a group (its parameters must not already be in another group).
  void add_param_group(ParamGroup group);
  /// Learning rate of a group.
  double lr(size_t group = 0) const;
  /// Sets the learning rate of every group.
  void set_lr(double lr);

  /// State of a parameter (null before its first step).
  const ParamState* state(const Tensor& param) const;

  /// Hyper-parameters (metadata) and per-parameter state (tensors "state.<i>.<buffer>", i the
  /// position of the parameter across groups; "state.<i>.step" an int64 scalar). Tensors are
  /// copies.
  StateDict state_dict() const;
  /// Restores what state_dict() saved into an optimizer of the same type over parameters of the
  /// same shapes, group by group. Everything is checked before anything is changed.
  void load_state_dict(const StateDict& state);
  /// The checks of load_state_dict, without changing anything.
  void check_state_dict(const StateDict& state) const;

 protected:
  Optimizer(std::vector<ParamGroup> groups, double default_lr, double default_weight_decay);

  /// Options shared by all groups, as metadata strings (saved by state_dict).
  virtual std::map<std::string, std::string> options_metadata() const = 0;
  /// Restores options_metadata() (values already checked to be present).
  virtual void load_options_metadata(const std::map<std::string, std::string>& values) = 0;
  /// Buffer names a parameter's state may hold.
  virtual std::vector<std::string> state_buffer_names() const = 0;

  /// The state of `param`, created empty on first use.
  ParamState& state_for(const Tensor& param);
  /// Checks a parameter and its gradient before an update; returns the gradient, contiguous.
  Tensor checked_grad(const Tensor& param) const;

  double default_lr_;
  double default_weight_decay_;

 private:
  void check_group(const ParamGroup& group, size_t index) const;
  std::vector<const Tensor*> all_params() const;

  std::vector<ParamGroup> groups_;
  std::unordered_map<const TensorImpl*, ParamState> state_;
};

namespace detail {
/// Shortest text that parses back to the same double.
std::string format_double(double v);
/// Parses a double saved by format_double; `what` names it in errors.
double parse_double(const std::string& text, const std::string& what);
/// Looks up a metadata value; throws naming `fn` and `key` when absent.
const std::string& require(const std::map<std::string, std::string>& metadata,
                           const std::string& key, const char* fn);
}  // namespace detail

}  // namespace taesan::optim
