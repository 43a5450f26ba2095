// Adam (L2 penalty added to the gradient) and AdamW (decoupled weight decay), with bias
// correction and optional amsgrad, following torch.optim.Adam / AdamW step for step. One fused
// kernel pass per parameter reads param, grad, exp_avg, exp_avg_sq and writes them back.
#pragma once

#include <utility>

#include "taesan/optim/optimizer.h"

namespace taesan::optim {

/// Options of Adam (PyTorch's defaults: no weight decay).
struct AdamOptions {
  double lr = 1e-3;
  std::pair<double, double> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 0.0;
  bool amsgrad = false;
};

/// Options of AdamW (PyTorch's defaults: weight decay 0.01).
struct AdamWOptions {
  double lr = 1e-3;
  std::pair<double, double> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 1e-2;
  bool amsgrad = false;
};

namespace detail {
/// The update shared by Adam and AdamW; `decoupled` selects AdamW's weight decay.
class AdamBase : public Optimizer {
 public:
  void step() override;

 protected:
  AdamBase(std::vector<ParamGroup> groups, const AdamWOptions& options, bool decoupled);
  std::map<std::string, std::string> options_metadata() const override;
  void load_options_metadata(const std::map<std::string, std::string>& values) override;
  std::vector<std::string> state_buffer_names() const override {
    return {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
  }
  AdamWOptions options_;  // weight_decay here is the default of groups that set none

 private:
  bool decoupled_;
};
}  // namespace detail

/// Adam: g += wd p; m, v moving averages of g and g^2; p -= lr m_hat / (sqrt(v_hat) + eps).
class Adam final : public detail::AdamBase {
 public:
  Adam(const TensorList& params, const AdamOptions& options = {});
  Adam(std::vector<ParamGroup> groups, const AdamOptions& options = {});
  std::string name() const override { return "Adam"; }
};

/// AdamW: p *= 1 - lr wd, then the Adam update without the L2 term.
class AdamW final : public detail::AdamBase {
 public:
  AdamW(const TensorList& params, const AdamWOptions& options = {});
  AdamW(std::vector<ParamGroup> groups, const AdamWOptions& options = {});
  std::string name() const override { return "AdamW"; }
};

}  // namespace taesan::optim
