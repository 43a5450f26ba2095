// Module registration, traversal, train/eval, state dicts, dtype conversion and printing.
#include "taesan/nn/module.h"

#include <cxxabi.h>

#include <algorithm>
#include <cstdlib>
#include <typeinfo>
#include <unordered_map>
#include <unordered_set>

#include "taesan/autograd/grad_mode.h"

namespace taesan::nn {

std::string format_count(int64_t n) {
  // The magnitude as unsigned: -INT64_MIN does not fit in int64.
  const uint64_t magnitude = n < 0 ? 0 - static_cast<uint64_t>(n) : static_cast<uint64_t>(n);
  std::string digits = std::to_string(magnitude);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

std::string LoadResult::summary() const {
  if (ok()) return "all tensors matched";
  std::string out;
  for (const auto& k : missing_keys)
    out += fmt::format("\n  missing (in the module, not in the source): {}", k);
  for (const auto& k : unexpected_keys)
    out += fmt::format("\n  unexpected (in the source, not in the module): {}", k);
  for (const auto& k : mismatched_keys) out += fmt::format("\n  mismatched: {}", k);
  return fmt::format("{} missing, {} unexpected, {} mismatched:{}", missing_keys.size(),
                     unexpected_keys.size(), mismatched_keys.size(), out);
}

// ---- registration ----

void Module::check_new_name(const std::string& name, const char* fn) const {
  TS_CHECK(!name.empty(), "{}: the name must not be empty (module {})", fn, this->name());
  TS_CHECK(name.find('.') == std::string::npos,
           "{}: name '{}' contains '.', which separates names of nested modules", fn, name);
  for (const auto& [n, t] : parameters_)
    TS_CHECK(n != name, "{}: '{}' is already a parameter of {}", fn, name, this->name());
  for (const auto& [n, t] : buffers_)
    TS_CHECK(n != name, "{}: '{}' is already a buffer of {}", fn, name, this->name());
  for (const auto& [n, m] : children_)
    TS_CHECK(n != name, "{}: '{}' is already a child module of {}", fn, name, this->name());
}

Tensor Module::register_parameter(const std::string& name, Tensor tensor, bool requires_grad) {
  check_new_name(name, "register_parameter");
  TS_CHECK(tensor.defined(), "register_parameter: '{}' is an undefined tensor", name);
  TS_CHECK(is_floating(tensor.dtype()),
           "register_parameter: '{}' must be a floating-point tensor, got {}", name,
           tensor.describe());
  TS_CHECK(tensor.is_leaf(),
           "register_parameter: '{}' ({}) is the result of an op (it has a grad_fn); register a "
           "leaf, e.g. its detach()",
           name, tensor.describe());
  tensor.requires_grad_(requires_grad);
  parameters_.emplace_back(name, tensor);
  return tensor;
}

Tensor Module::register_buffer(const std::string& name, Tensor tensor, bool persistent) {
  check_new_name(name, "register_buffer");
  TS_CHECK(tensor.defined(), "register_buffer: '{}' is an undefined tensor", name);
  buffers_.emplace_back(name, tensor);
  buffer_persistent_.push_back(persistent);
  return tensor;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> module) {
  check_new_name(name, "register_module");
  TS_CHECK(module != nullptr, "register_module: '{}' is a null module", name);
  TS_CHECK(module.get() != this, "register_module: '{}' would make {} its own child", name,
           this->name());
  children_.emplace_back(name, std::move(module));
}

// ---- traversal ----

void Module::collect(const std::string& prefix, bool params, bool buffers, bool recurse,
                     bool persistent_only, NamedTensors& out) const {
  if (params)
    for (const auto& [n, t] : parameters_) out.emplace_back(prefix + n, t);
  if (buffers)
    for (size_t i = 0; i < buffers_.size(); ++i)
      if (!persistent_only || buffer_persistent_[i])
        out.emplace_back(prefix + buffers_[i].first, buffers_[i].second);
  if (recurse)
    for (const auto& [n, m] : children_)
      m->collect(prefix + n + ".", params, buffers, true, persistent_only, out);
}

namespace {
NamedTensors unique_by_tensor(NamedTensors all) {
  std::unordered_set<const TensorImpl*> seen;
  NamedTensors out;
  for (auto& [n, t] : all)
    if (seen.insert(t.impl().get()).second) out.emplace_back(std::move(n), std::move(t));
  return out;
}
TensorList values(const NamedTensors& named) {
  TensorList out;
  out.reserve(named.size());
  for (const auto& [n, t] : named) out.push_back(t);
  return out;
}
}  // namespace

NamedTensors Module::named_parameters(bool recurse) const {
  NamedTensors out;
  collect("", true, false, recurse, false, out);
  return unique_by_tensor(std::move(out));
}

TensorList Module::parameters(bool recurse) const { return values(named_parameters(recurse)); }

NamedTensors Module::named_buffers(bool recurse) const {
  NamedTensors out;
  collect("", false, true, recurse, false, out);
  return unique_by_tensor(std::move(out));
}

TensorList Module::buffers(bool recurse) const { return values(named_buffers(recurse)); }

std::vector<std::shared_ptr<Module>> Module::children() const {
  std::vector<std::shared_ptr<Module>> out;
  for (const auto& [n, m] : children_) out.push_back(m);
  return out;
}

std::vector<std::pair<std::string, std::shared_ptr<Module>>> Module::named_children() const {
  return children_;
}

void Module::apply(const std::function<void(Module&)>& fn) {
  fn(*this);
  for (auto& [n, m] : children_) m->apply(fn);
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [n, m] : children_) m->train(on);
}

void Module::zero_grad(bool set_to_none) {
  for (Tensor& p : parameters()) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    if (set_to_none || g.requires_grad()) {
      p.set_grad(Tensor());
    } else {
      NoGradGuard no_grad;
      g.zero_();
    }
  }
}

int64_t Module::num_parameters(bool only_trainable) const {
  int64_t n = 0;
  for (const Tensor& p : parameters())
    if (!only_trainable || p.requires_grad()) n += p.numel();
  return n;
}

// ---- state dicts ----

NamedTensors Module::state_dict() const {
  NamedTensors out;
  // PyTorch order: own parameters, own (persistent) buffers, then each child recursively.
  std::function<void(const Module&, const std::string&)> walk = [&](const Module& m,
                                                                    const std::string& prefix) {
    m.collect(prefix, true, true, false, true, out);
    for (const auto& [n, c] : m.children_) walk(*c, prefix + n + ".");
  };
  walk(*this, "");
  return out;
}

namespace {
bool compatible(const Tensor& source, const Tensor& own) {
  const bool dtype_ok =
      source.dtype() == own.dtype() || (is_floating(source.dtype()) && is_floating(own.dtype()));
  return dtype_ok && source.shape() == own.shape();
}

std::unordered_map<std::string, const Tensor*> index_source(const NamedTensors& source) {
  std::unordered_map<std::string, const Tensor*> index;
  for (const auto& [n, t] : source) {
    TS_CHECK(index.emplace(n, &t).second, "load_state_dict: the source has '{}' twice", n);
    TS_CHECK(t.defined(), "load_state_dict: source tensor '{}' is undefined", n);
  }
  return index;
}
}  // namespace

LoadResult Module::check_state_dict(const NamedTensors& source) const {
  LoadResult result;
  const NamedTensors own = state_dict();
  const auto index = index_source(source);
  std::unordered_set<std::string> own_names;
  for (const auto& [n, t] : own) {
    own_names.insert(n);
    auto it = index.find(n);
    if (it == index.end()) {
      result.missing_keys.push_back(n);
    } else if (!compatible(*it->second, t)) {
      const Tensor& s = *it->second;
      result.mismatched_keys.push_back(fmt::format("{}: source {} {}, module {} {}", n,
                                                   shape_str(s.shape()), s.dtype(),
                                                   shape_str(t.shape()), t.dtype()));
    }
  }
  for (const auto& [n, t] : source)
    if (!own_names.count(n)) result.unexpected_keys.push_back(n);
  return result;
}

LoadResult Module::load_state_dict(const NamedTensors& source, bool strict) {
  LoadResult result = check_state_dict(source);
  TS_CHECK(!strict || result.ok(), "load_state_dict into {}: {}", name(), result.summary());
  const auto index = index_source(source);
  NoGradGuard no_grad;
  for (const auto& [n, t] : state_dict()) {
    auto it = index.find(n);
    if (it == index.end() || !compatible(*it->second, t)) continue;
    Tensor dst = t;
    dst.copy_(*it->second);
  }
  return result;
}

void Module::to(DType dtype) {
  TS_CHECK(is_floating(dtype), "Module::to: expected a floating-point dtype, got {}", dtype);
  NoGradGuard no_grad;
  std::unordered_set<const TensorImpl*> done;
  auto convert = [&](const Tensor& t) {
    if (!is_floating(t.dtype()) || t.dtype() == dtype || !done.insert(t.impl().get()).second)
      return;
    Tensor converted = t.to(dtype).contiguous();
    TensorImpl* impl = t.impl().get();
    impl->storage = converted.storage();
    impl->offset = converted.storage_offset();
    impl->strides = converted.strides();
    impl->dtype = dtype;
    impl->contiguous = true;
    impl->grad = nullptr;
  };
  NamedTensors all;
  collect("", true, true, true, false, all);
  for (const auto& [n, t] : all) convert(t);
}

// ---- printing ----

std::string Module::name() const {
  const char* mangled = typeid(*this).name();
  int status = 0;
  char* demangled = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
  std::string full = status == 0 && demangled ? demangled : mangled;
  std::free(demangled);
  // Strip namespaces outside template arguments: "taesan::nn::Linear" -> "Linear".
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < full.size(); ++i) {
    if (full[i] == '<') ++depth;
    if (full[i] == '>') --depth;
    if (depth == 0 && full[i] == ':' && i + 1 < full.size() && full[i + 1] == ':') start = i + 2;
  }
  return full.substr(start);
}

std::string Module::repr(int indent) const {
  const std::string pad(static_cast<size_t>(indent) + 2, ' ');
  const std::string count = fmt::format("  # {} parameters", format_count(num_parameters()));
  const std::string extra = extra_repr();
  if (children_.empty() && extra.find('\n') == std::string::npos)
    return fmt::format("{}({}){}", name(), extra, count);
  std::string out = fmt::format("{}({}\n", name(), count);
  if (!extra.empty()) {
    size_t begin = 0;
    while (begin <= extra.size()) {
      size_t end = extra.find('\n', begin);
      if (end == std::string::npos) end = extra.size();
      out += pad + extra.substr(begin, end - begin) + "\n";
      begin = end + 1;
    }
  }
  for (const auto& [n, m] : children_)
    out += fmt::format("{}({}): {}\n", pad, n, m->repr(indent + 2));
  out += std::string(static_cast<size_t>(indent), ' ') + ")";
  return out;
}

std::string Module::to_string() const { return repr(0); }

}  // namespace taesan::nn
