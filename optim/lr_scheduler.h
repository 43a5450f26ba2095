// Learning-rate schedulers: each sets lr = base_lr * factor(step) on every parameter group of an
// optimizer. WarmupLinear and WarmupCosine use the factors of Hugging Face's
// get_linear_schedule_with_warmup / get_cosine_schedule_with_warmup; StepLR and ConstantLR those
// of torch.optim.lr_scheduler. Call sched.step() after each opt.step().
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "taesan/optim/optimizer.h"

namespace taesan::optim {

/// Base of the schedulers. Like PyTorch, building one applies factor(0) (last_epoch() == 0);
/// each step() advances by one and applies the next factor. The optimizer must outlive it.
class LRScheduler {
 public:
  virtual ~LRScheduler() = default;
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;

  /// Advances one step and sets every group's lr.
  void step();
  /// The multiplier of the base learning rates at `step` (pure: a closed form).
  virtual double factor(int64_t step) const = 0;
  /// "WarmupLinear", ...
  virtual std::string name() const = 0;

  /// Learning rates set by the last step (one per group).
  std::vector<double> get_last_lr() const { return last_lr_; }
  /// Steps taken since construction.
  int64_t last_epoch() const { return last_epoch_; }
  /// Learning rates the factors multiply (the groups' lr when the scheduler was built).
  const std::vector<double>& base_lrs() const { return base_lrs_; }

  /// last_epoch and base_lrs, as metadata.
  StateDict state_dict() const;
  /// Restores state_dict() and sets the groups' lr for the restored step.
  void load_state_dict(const StateDict& state);
  /// The checks of load_state_dict, without changing anything.
  void check_state_dict(const StateDict& state) const;

 protected:
  explicit LRScheduler(Optimizer& optimizer);
  /// Applies factor(0); derived constructors call it last (after their own checks).
  void initialize();

 private:
  void apply();

  Optimizer& optimizer_;
  std::vector<double> base_lrs_;
  std::vector<double> last_lr_;
  int64_t last_epoch_ = 0;
};

/// step / warmup while warming up (from 0), then linear decay to 0 at `total`, 0 afterwards.
class WarmupLinear final : public LRScheduler {
 public:
  WarmupLinear(Optimizer& optimizer, int64_t warmup_steps, int64_t total_steps);
  double factor(int64_t step) const override;
  std::string name() const override { return "WarmupLinear"; }

 private:
  int64_t warmup_, total_;
};

/// Options of WarmupCosine.
struct WarmupCosineOptions {
  /// Number of cosine waves over the decay (0.5: one half-cosine from 1 down to 0).
  double num_cycles = 0.5;
  /// Floor as a fraction of the base lr (Hugging Face's min_lr_rate): the cosine decays from 1
  /// to min_lr_ratio instead of 0.
  double min_lr_ratio = 0.0;
};

/// step / warmup while warming up, then max(0, min + (1 - min) * 0.5 (1 + cos(pi * 2 cycles *
/// progress))), progress = (step - warmup) / (total - warmup).
class WarmupCosine final : public LRScheduler {
 public:
  WarmupCosine(Optimizer& optimizer, int64_t warmup_steps, int64_t total_steps,
               const WarmupCosineOptions& options = {});
  double factor(int64_t step) const override;
  std::string name() const override { return "WarmupCosine"; }

 private:
  int64_t warmup_, total_;
  WarmupCosineOptions options_;
};

/// gamma^(step / step_size) (integer division), as torch.optim.lr_scheduler.StepLR.
class StepLR final : public LRScheduler {
 public:
  StepLR(Optimizer& optimizer, int64_t step_size, double gamma = 0.1);
  double factor(int64_t step) const override;
  std::string name() const override { return "StepLR"; }

 private:
  int64_t step_size_;
  double gamma_;
};

/// `factor` until step total_iters, then 1, as torch.optim.lr_scheduler.ConstantLR.
class ConstantLR final : public LRScheduler {
 public:
  ConstantLR(Optimizer& optimizer, double factor = 1.0 / 3.0, int64_t total_iters = 5);
  double factor(int64_t step) const override;
  std::string name() const override { return "ConstantLR"; }

 private:
  double factor_;
  int64_t total_iters_;
};

/// Any factor given as a function of the step, as torch.optim.lr_scheduler.LambdaLR.
class LambdaLR final : public LRScheduler {
 public:
  LambdaLR(Optimizer& optimizer, std::function<double(int64_t)> lr_lambda);
  double factor(int64_t step) const override { return lr_lambda_(step); }
  std::string name() const override { return "LambdaLR"; }

 private:
  std::function<double(int64_t)> lr_lambda_;
};

}  // namespace taesan::optim
