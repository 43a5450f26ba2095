// Stochastic gradient descent with momentum, dampening, Nesterov momentum and L2 weight decay,
// following torch.optim.SGD's update rule step for step.
#pragma once

#include "taesan/optim/optimizer.h"

namespace taesan::optim {

/// Options of SGD (PyTorch's names and defaults).
struct SGDOptions {
  double lr = 1e-3;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
};

/// SGD: d = g + wd p; buf = momentum buf + (1 - dampening) d (buf = d at the first step);
/// d = nesterov ? d + momentum buf : buf; p -= lr d.
class SGD final : public Optimizer {
 public:
  SGD(const TensorList& params, const SGDOptions& options = {});
  SGD(std::vector<ParamGroup> groups, const SGDOptions& options = {});

  void step() override;
  std::string name() const override { return "SGD"; }
  /// The options (lr and weight_decay are the defaults of groups that set none).
  const SGDOptions& options() const { return options_; }

 protected:
  std::map<std::string, std::string> options_metadata() const override;
  void load_options_metadata(const std::map<std::string, std::string>& values) override;
  std::vector<std::string> state_buffer_names() const override { return {"momentum_buffer"}; }

 private:
  SGDOptions options_;
};

}  // namespace taesan::optim
