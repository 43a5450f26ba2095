// Scheduler factors and the shared step / state-dict logic (see lr_scheduler.h).
#include "taesan/optim/lr_scheduler.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace taesan::optim {

LRScheduler::LRScheduler(Optimizer& optimizer) : optimizer_(optimizer) {
  for (const ParamGroup& g : optimizer.param_groups()) base_lrs_.push_back(*g.lr);
}

void LRScheduler::initialize() { apply(); }

void LRScheduler::apply() {
  const double f = factor(last_epoch_);
  TS_CHECK(std::isfinite(f) && f >= 0,
           "{}: the factor at step {} is {}; expected a finite value >= 0", name(), last_epoch_, f);
  auto& groups = optimizer_.param_groups();
  TS_CHECK(groups.size() == base_lrs_.size(),
           "{}: the optimizer has {} parameter groups, the scheduler was built for {}", name(),
           groups.size(), base_lrs_.size());
  last_lr_.clear();
  for (size_t i = 0; i < groups.size(); ++i) {
    groups[i].lr = base_lrs_[i] * f;
    last_lr_.push_back(*groups[i].lr);
  }
}

void LRScheduler::step() {
  ++last_epoch_;
  apply();
}

StateDict LRScheduler::state_dict() const {
  StateDict out;
  out.metadata["type"] = name();
  out.metadata["last_epoch"] = std::to_string(last_epoch_);
  out.metadata["num_groups"] = std::to_string(base_lrs_.size());
  for (size_t i = 0; i < base_lrs_.size(); ++i)
    out.metadata[fmt::format("base_lr.{}", i)] = detail::format_double(base_lrs_[i]);
  return out;
}

void LRScheduler::check_state_dict(const StateDict& state) const {
  const char* fn = "LRScheduler::load_state_dict";
  const auto& md = state.metadata;
  const std::string& type = detail::require(md, "type", fn);
  TS_CHECK(type == name(), "{}: the state dict is of a {} scheduler, this is {}", fn, type, name());
  const double epoch = detail::parse_double(detail::require(md, "last_epoch", fn), "last_epoch");
  TS_CHECK(epoch >= 0 && epoch == std::floor(epoch) && epoch < 9e15,
           "{}: last_epoch must be a count, got {}", fn, epoch);
  const std::string& groups = detail::require(md, "num_groups", fn);
  TS_CHECK(groups == std::to_string(base_lrs_.size()),
           "{}: the state dict has {} groups, the optimizer {}", fn, groups, base_lrs_.size());
  for (size_t i = 0; i < base_lrs_.size(); ++i) {
    const std::string key = fmt::format("base_lr.{}", i);
    const double v = detail::parse_double(detail::require(md, key, fn), key);
    TS_CHECK(std::isfinite(v) && v >= 0, "{}: {} = {} is not a finite value >= 0", fn, key, v);
  }
  TS_CHECK(state.tensors.empty(), "{}: a scheduler state dict holds no tensors, got {}", fn,
           state.tensors.size());
}

void LRScheduler::load_state_dict(const StateDict& state) {
  check_state_dict(state);
  last_epoch_ = static_cast<int64_t>(detail::parse_double(state.metadata.at("last_epoch"), ""));
  for (size_t i = 0; i < base_lrs_.size(); ++i)
    base_lrs_[i] = detail::parse_double(state.metadata.at(fmt::format("base_lr.{}", i)), "");
  apply();
}

// ---- the schedules ----

WarmupLinear::WarmupLinear(Optimizer& optimizer, int64_t warmup_steps, int64_t total_steps)
    : LRScheduler(optimizer), warmup_(warmup_steps), total_(total_steps) {
  TS_CHECK(warmup_steps >= 0 && total_steps >= warmup_steps,
           "WarmupLinear: expected 0 <= warmup_steps <= total_steps, got warmup={} total={}",
           warmup_steps, total_steps);
  initialize();
}

double WarmupLinear::factor(int64_t step) const {
  if (step < warmup_)
    return static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, warmup_));
  return std::max(0.0, static_cast<double>(total_ - step) /
                           static_cast<double>(std::max<int64_t>(1, total_ - warmup_)));
}

WarmupCosine::WarmupCosine(Optimizer& optimizer, int64_t warmup_steps, int64_t total_steps,
                           const WarmupCosineOptions& options)
    : LRScheduler(optimizer), warmup_(warmup_steps), total_(total_steps), options_(options) {
  TS_CHECK(warmup_steps >= 0 && total_steps >= warmup_steps,
           "WarmupCosine: expected 0 <= warmup_steps <= total_steps, got warmup={} total={}",
           warmup_steps, total_steps);
  TS_CHECK(std::isfinite(options.num_cycles) && options.num_cycles > 0,
           "WarmupCosine: expected num_cycles > 0, got {}", options.num_cycles);
  TS_CHECK(options.min_lr_ratio >= 0 && options.min_lr_ratio <= 1,
           "WarmupCosine: expected 0 <= min_lr_ratio <= 1, got {}", options.min_lr_ratio);
  initialize();
}

double WarmupCosine::factor(int64_t step) const {
  if (step < warmup_)
    return static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, warmup_));
  const double progress = static_cast<double>(step - warmup_) /
                          static_cast<double>(std::max<int64_t>(1, total_ - warmup_));
  const double cosine =
      0.5 * (1.0 + std::cos(std::numbers::pi * options_.num_cycles * 2.0 * progress));
  if (options_.min_lr_ratio == 0.0) return std::max(0.0, cosine);
  return std::max(0.0, cosine * (1.0 - options_.min_lr_ratio) + options_.min_lr_ratio);
}

StepLR::StepLR(Optimizer& optimizer, int64_t step_size, double gamma)
    : LRScheduler(optimizer), step_size_(step_size), gamma_(gamma) {
  TS_CHECK(step_size > 0, "StepLR: expected step_size > 0, got {}", step_size);
  TS_CHECK(std::isfinite(gamma) && gamma >= 0, "StepLR: expected a finite gamma >= 0, got {}",
           gamma);
  initialize();
}

double StepLR::factor(int64_t step) const {
  return std::pow(gamma_, static_cast<double>(step / step_size_));
}

ConstantLR::ConstantLR(Optimizer& optimizer, double factor, int64_t total_iters)
    : LRScheduler(optimizer), factor_(factor), total_iters_(total_iters) {
  TS_CHECK(factor >= 0 && factor <= 1, "ConstantLR: expected 0 <= factor <= 1, got {}", factor);
  TS_CHECK(total_iters >= 0, "ConstantLR: expected total_iters >= 0, got {}", total_iters);
  initialize();
}

double ConstantLR::factor(int64_t step) const { return step < total_iters_ ? factor_ : 1.0; }

LambdaLR::LambdaLR(Optimizer& optimizer, std::function<double(int64_t)> lr_lambda)
    : LRScheduler(optimizer), lr_lambda_(std::move(lr_lambda)) {
  TS_CHECK(lr_lambda_ != nullptr, "LambdaLR: the lr_lambda is empty");
  initialize();
}

}  // namespace taesan::optim
