// Containers: Sequential (children called in order, each output feeding the next) and
// ModuleList (an indexable list of children, for loops written by hand). Children are named
// "0", "1", ... as in PyTorch, so their parameters are "0.weight", "1.bias", ...
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "taesan/nn/module.h"

namespace taesan::nn {

/// Modules applied one after the other. Each must have `Tensor forward(const Tensor&)`.
class Sequential : public Module {
 public:
  Sequential() = default;
  /// Sequential(std::make_shared<Linear>(2, 8), std::make_shared<ReLU>(), ...).
  template <typename M0, typename... Ms>
  explicit Sequential(std::shared_ptr<M0> first, std::shared_ptr<Ms>... rest) {
    push_back(std::move(first));
    (push_back(std::move(rest)), ...);
  }

  /// Appends a module under the next index as its name; returns it.
  template <typename M>
  std::shared_ptr<M> push_back(std::shared_ptr<M> module) {
    return push_back(std::to_string(forwards_.size()), std::move(module));
  }
  /// Appends a module under `name`; returns it.
  template <typename M>
  std::shared_ptr<M> push_back(const std::string& name, std::shared_ptr<M> module) {
    static_assert(
        std::is_convertible_v<decltype(module->forward(std::declval<const Tensor&>())), Tensor>,
        "Sequential: a module needs Tensor forward(const Tensor&)");
    register_module(name, module);
    M* raw = module.get();  // owned by this module's children
    forwards_.push_back([raw](const Tensor& x) -> Tensor { return raw->forward(x); });
    return module;
  }

  /// Applies every module in order.
  Tensor forward(const Tensor& x) const;
  /// Number of modules.
  size_t size() const { return forwards_.size(); }
  /// The i-th module.
  std::shared_ptr<Module> operator[](size_t i) const;
  /// The i-th module as an M (throws if it is not one).
  template <typename M>
  std::shared_ptr<M> at(size_t i) const {
    auto m = std::dynamic_pointer_cast<M>((*this)[i]);
    TS_CHECK(m != nullptr, "Sequential::at: module {} is a {}, not the requested type", i,
             (*this)[i]->name());
    return m;
  }

 private:
  std::vector<std::function<Tensor(const Tensor&)>> forwards_;
};

/// A list of modules registered as children "0", "1", ...
class ModuleList : public Module {
 public:
  ModuleList() = default;
  template <typename M0, typename... Ms>
  explicit ModuleList(std::shared_ptr<M0> first, std::shared_ptr<Ms>... rest) {
    push_back(std::move(first));
    (push_back(std::move(rest)), ...);
  }

  /// Appends a module; returns it.
  template <typename M>
  std::shared_ptr<M> push_back(std::shared_ptr<M> module) {
    register_module(std::to_string(modules_.size()), module);
    modules_.push_back(module);
    return module;
  }
  /// Number of modules.
  size_t size() const { return modules_.size(); }
  /// True when the list holds no module.
  bool empty() const { return modules_.empty(); }
  /// The i-th module (negative i counts from the end).
  std::shared_ptr<Module> operator[](int64_t i) const;
  /// The i-th module as an M (throws if it is not one).
  template <typename M>
  std::shared_ptr<M> at(int64_t i) const {
    auto m = std::dynamic_pointer_cast<M>((*this)[i]);
    TS_CHECK(m != nullptr, "ModuleList::at: module {} is a {}, not the requested type", i,
             (*this)[i]->name());
    return m;
  }
  /// Iteration over the modules, in order.
  auto begin() const { return modules_.begin(); }
  auto end() const { return modules_.end(); }

 private:
  std::vector<std::shared_ptr<Module>> modules_;
};

}  // namespace taesan::nn
