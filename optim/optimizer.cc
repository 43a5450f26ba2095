// Parameter groups, per-parameter state, zero_grad and state dicts shared by every optimizer.
#include "taesan/optim/optimizer.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <unordered_set>

#include "taesan/autograd/factory.h"
#include "taesan/autograd/grad_mode.h"

namespace taesan::optim {

namespace detail {

std::string format_double(double v) { return fmt::format("{}", v); }

double parse_double(const std::string& text, const std::string& what) {
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  TS_CHECK(!text.empty() && end == text.c_str() + text.size() && errno != ERANGE,
           "load_state_dict: {} must be a number, got \"{}\"", what, text);
  return v;
}

const std::string& require(const std::map<std::string, std::string>& metadata,
                           const std::string& key, const char* fn) {
  auto it = metadata.find(key);
  TS_CHECK(it != metadata.end(), "{}: the state dict has no \"{}\"", fn, key);
  return it->second;
}

}  // namespace detail

namespace {

int64_t parse_index(const std::string& text, const std::string& what) {
  const double v = detail::parse_double(text, what);
  TS_CHECK(v >= 0 && v == std::floor(v) && v < 9e15,
           "load_state_dict: {} must be a count, got \"{}\"", what, text);
  return static_cast<int64_t>(v);
}

}  // namespace

Optimizer::Optimizer(std::vector<ParamGroup> groups, double default_lr, double default_weight_decay)
    : default_lr_(default_lr), default_weight_decay_(default_weight_decay) {
  TS_CHECK(std::isfinite(default_lr) && default_lr >= 0,
           "optimizer: expected a finite lr >= 0, got {}", default_lr);
  TS_CHECK(std::isfinite(default_weight_decay) && default_weight_decay >= 0,
           "optimizer: expected a finite weight_decay >= 0, got {}", default_weight_decay);
  size_t total = 0;
  for (const ParamGroup& g : groups) total += g.params.size();
  TS_CHECK(total > 0, "optimizer: got an empty parameter list ({} groups, no parameters)",
           groups.size());
  for (ParamGroup& g : groups) add_param_group(std::move(g));
}

void Optimizer::check_group(const ParamGroup& group, size_t index) const {
  std::unordered_set<const TensorImpl*> seen;
  for (const ParamGroup& g : groups_)
    for (const Tensor& p : g.params) seen.insert(p.impl().get());
  for (size_t i = 0; i < group.params.size(); ++i) {
    const Tensor& p = group.params[i];
    TS_CHECK(p.defined(), "optimizer: parameter {} of group {} is undefined", i, index);
    TS_CHECK(is_floating(p.dtype()),
             "optimizer: parameter {} of group {} must be floating-point, got {}", i, index,
             p.describe());
    TS_CHECK(p.is_leaf(),
             "optimizer: parameter {} of group {} ({}) is not a leaf (it has a grad_fn); optimize "
             "leaves only",
             i, index, p.describe());
    TS_CHECK(seen.insert(p.impl().get()).second,
             "optimizer: parameter {} of group {} ({}) appears more than once across groups", i,
             index, p.describe());
  }
  for (auto [v, what] : {std::pair{group.lr, "lr"}, {group.weight_decay, "weight_decay"}})
    TS_CHECK(!v || (std::isfinite(*v) && *v >= 0),
             "optimizer: group {} has {} = {}; expected a finite value >= 0", index, what, *v);
}

void Optimizer::add_param_group(ParamGroup group) {
  check_group(group, groups_.size());
  if (!group.lr) group.lr = default_lr_;
  if (!group.weight_decay) group.weight_decay = default_weight_decay_;
  groups_.push_back(std::move(group));
}

double Optimizer::lr(size_t group) const {
  TS_CHECK(group < groups_.size(), "optimizer::lr: group {} out of range ({} groups)", group,
           groups_.size());
  return groups_[group].lr.value_or(default_lr_);
}

void Optimizer::set_lr(double lr) {
  TS_CHECK(std::isfinite(lr) && lr >= 0, "optimizer::set_lr: expected a finite lr >= 0, got {}",
           lr);
  for (ParamGroup& g : groups_) g.lr = lr;
}

void Optimizer::zero_grad(bool set_to_none) {
  for (const ParamGroup& g : groups_)
    for (const Tensor& p : g.params) {
      Tensor grad = p.grad();
      if (!grad.defined()) continue;
      if (set_to_none || grad.requires_grad() || !grad.is_contiguous()) {
        p.set_grad(set_to_none ? Tensor() : zeros_like(p));
      } else {
        NoGradGuard no_grad;
        grad.zero_();
      }
    }
}

const ParamState* Optimizer::state(const Tensor& param) const {
  auto it = state_.find(param.impl().get());
  return it == state_.end() ? nullptr : &it->second;
}

ParamState& Optimizer::state_for(const Tensor& param) { return state_[param.impl().get()]; }

Tensor Optimizer::checked_grad(const Tensor& param) const {
  Tensor grad = param.grad();
  TS_CHECK(param.is_contiguous(),
           "{}.step: parameter {} is not contiguous (strides {}); optimizers update contiguous "
           "parameters",
           name(), param.describe(), shape_str(param.strides()));
  TS_CHECK(grad.shape() == param.shape() && grad.dtype() == param.dtype(),
           "{}.step: gradient {} does not match parameter {}", name(), grad.describe(),
           param.describe());
  return grad.is_contiguous() ? grad : grad.contiguous();
}

std::vector<const Tensor*> Optimizer::all_params() const {
  std::vector<const Tensor*> out;
  for (const ParamGroup& g : groups_)
    for (const Tensor& p : g.params) out.push_back(&p);
  return out;
}

StateDict Optimizer::state_dict() const {
  using detail::format_double;
  StateDict out;
  out.metadata["type"] = name();
  out.metadata["num_groups"] = std::to_string(groups_.size());
  for (size_t g = 0; g < groups_.size(); ++g) {
    const std::string prefix = fmt::format("group.{}.", g);
    out.metadata[prefix + "lr"] = format_double(groups_[g].lr.value_or(default_lr_));
    out.metadata[prefix + "weight_decay"] =
        format_double(groups_[g].weight_decay.value_or(default_weight_decay_));
    out.metadata[prefix + "num_params"] = std::to_string(groups_[g].params.size());
  }
  for (const auto& [k, v] : options_metadata()) out.metadata["options." + k] = v;
  const auto params = all_params();
  for (size_t i = 0; i < params.size(); ++i) {
    const ParamState* s = state(*params[i]);
    if (s == nullptr) continue;
    const std::string prefix = fmt::format("state.{}.", i);
    out.tensors.emplace_back(prefix + "step", scalar_tensor(static_cast<double>(s->step), kInt64));
    for (const auto& [n, t] : s->buffers) out.tensors.emplace_back(prefix + n, t.clone());
  }
  return out;
}

void Optimizer::check_state_dict(const StateDict& state) const {
  const char* fn = "load_state_dict";
  const auto& md = state.metadata;
  const std::string& type = detail::require(md, "type", fn);
  TS_CHECK(type == name(), "{}: the state dict is of a {} optimizer, this is {}", fn, type, name());
  const int64_t num_groups = parse_index(detail::require(md, "num_groups", fn), "num_groups");
  TS_CHECK(num_groups == static_cast<int64_t>(groups_.size()),
           "{}: the state dict has {} parameter groups, the {} optimizer {}", fn, num_groups,
           name(), groups_.size());
  for (size_t g = 0; g < groups_.size(); ++g) {
    const std::string prefix = fmt::format("group.{}.", g);
    const int64_t n =
        parse_index(detail::require(md, prefix + "num_params", fn), prefix + "num_params");
    TS_CHECK(n == static_cast<int64_t>(groups_[g].params.size()),
             "{}: group {} of the state dict has {} parameters, this optimizer's has {}", fn, g, n,
             groups_[g].params.size());
    for (const char* key : {"lr", "weight_decay"}) {
      const double v = detail::parse_double(detail::require(md, prefix + key, fn), prefix + key);
      TS_CHECK(std::isfinite(v) && v >= 0, "{}: {}{} = {} is not a finite value >= 0", fn, prefix,
               key, v);
    }
  }
  for (const auto& [k, v] : options_metadata()) detail::require(md, "options." + k, fn);

  const auto params = all_params();
  const auto names = state_buffer_names();
  std::unordered_set<int64_t> with_step, with_buffers;
  for (const auto& [key, t] : state.tensors) {
    const size_t dot1 = key.find('.'), dot2 = key.find('.', dot1 + 1);
    TS_CHECK(key.rfind("state.", 0) == 0 && dot2 != std::string::npos,
             "{}: unexpected tensor '{}' in an optimizer state dict", fn, key);
    const int64_t i =
        parse_index(key.substr(dot1 + 1, dot2 - dot1 - 1), "the index in '" + key + "'");
    TS_CHECK(i < static_cast<int64_t>(params.size()),
             "{}: '{}' refers to parameter {} but the optimizer has {}", fn, key, i, params.size());
    const std::string buffer = key.substr(dot2 + 1);
    const Tensor& p = *params[i];
    TS_CHECK(t.defined(), "{}: '{}' is undefined", fn, key);
    if (buffer == "step") {
      TS_CHECK(t.dtype() == kInt64 && t.numel() == 1 && t.item<int64_t>() >= 0,
               "{}: '{}' must be a non-negative int64 scalar, got {}", fn, key, t.describe());
      with_step.insert(i);
      continue;
    }
    TS_CHECK(std::find(names.begin(), names.end(), buffer) != names.end(),
             "{}: '{}': {} keeps no state called '{}'", fn, key, name(), buffer);
    TS_CHECK(t.shape() == p.shape() && t.dtype() == p.dtype(),
             "{}: '{}' is {} but parameter {} is {}", fn, key, t.describe(), i, p.describe());
    with_buffers.insert(i);
  }
  for (int64_t i : with_buffers)
    TS_CHECK(with_step.count(i), "{}: the state of parameter {} has buffers but no step", fn, i);
}

void Optimizer::load_state_dict(const StateDict& state) {
  check_state_dict(state);
  const auto& md = state.metadata;
  std::map<std::string, std::string> options;
  for (const auto& [k, v] : options_metadata()) options[k] = md.at("options." + k);
  load_options_metadata(options);  // parses everything before assigning
  for (size_t g = 0; g < groups_.size(); ++g) {
    const std::string prefix = fmt::format("group.{}.", g);
    groups_[g].lr = detail::parse_double(md.at(prefix + "lr"), prefix + "lr");
    groups_[g].weight_decay =
        detail::parse_double(md.at(prefix + "weight_decay"), prefix + "weight_decay");
  }
  const auto params = all_params();
  state_.clear();
  for (const auto& [key, t] : state.tensors) {
    const size_t dot1 = key.find('.'), dot2 = key.find('.', dot1 + 1);
    const int64_t i = parse_index(key.substr(dot1 + 1, dot2 - dot1 - 1), key);
    const std::string buffer = key.substr(dot2 + 1);
    ParamState& s = state_[params[i]->impl().get()];
    if (buffer == "step") {
      s.step = t.item<int64_t>();
    } else {
      s.buffers[buffer] = t.contiguous().clone();
    }
  }
}

}  // namespace taesan::optim
