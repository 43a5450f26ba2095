// SGD: option checks, momentum buffers and the call into the fused update kernel.
#include "taesan/optim/sgd.h"

#include <cmath>

#include "taesan/autograd/factory.h"
#include "taesan/autograd/grad_mode.h"
#include "taesan/ops/kernels/optimizer.h"

namespace taesan::optim {
namespace {

void check_options(const SGDOptions& o) {
  TS_CHECK(std::isfinite(o.lr) && o.lr >= 0, "SGD: expected a finite lr >= 0, got {}", o.lr);
  TS_CHECK(std::isfinite(o.momentum) && o.momentum >= 0,
           "SGD: expected a finite momentum >= 0, got {}", o.momentum);
  TS_CHECK(std::isfinite(o.dampening), "SGD: expected a finite dampening, got {}", o.dampening);
  TS_CHECK(std::isfinite(o.weight_decay) && o.weight_decay >= 0,
           "SGD: expected a finite weight_decay >= 0, got {}", o.weight_decay);
  TS_CHECK(!o.nesterov || (o.momentum > 0 && o.dampening == 0),
           "SGD: Nesterov momentum needs momentum > 0 and dampening = 0, got momentum={} "
           "dampening={}",
           o.momentum, o.dampening);
}

}  // namespace

SGD::SGD(const TensorList& params, const SGDOptions& options)
    : SGD(std::vector<ParamGroup>{ParamGroup{.params = params}}, options) {}

SGD::SGD(std::vector<ParamGroup> groups, const SGDOptions& options)
    : Optimizer(std::move(groups), options.lr, options.weight_decay), options_(options) {
  check_options(options);
}

void SGD::step() {
  NoGradGuard no_grad;
  for (ParamGroup& group : param_groups()) {
    kernels::SgdStep s{.lr = group.lr.value_or(default_lr_),
                       .momentum = options_.momentum,
                       .dampening = options_.dampening,
                       .weight_decay = group.weight_decay.value_or(default_weight_decay_),
                       .nesterov = options_.nesterov,
                       .first_step = false};
    for (Tensor& p : group.params) {
      if (!p.grad().defined()) continue;
      const Tensor grad = checked_grad(p);
      ParamState& st = state_for(p);
      Tensor buffer;
      if (options_.momentum != 0) {
        Tensor& b = st.buffers["momentum_buffer"];
        s.first_step = !b.defined();
        if (s.first_step) b = empty_like(p);
        TS_CHECK(b.shape() == p.shape() && b.dtype() == p.dtype() && b.is_contiguous(),
                 "SGD.step: momentum_buffer ({}) does not match parameter {}", b.describe(),
                 p.describe());
        buffer = b;
      }
      st.step += 1;
      dispatch_float(p.dtype(), [&](auto tag) {
        using T = decltype(tag);
        kernels::sgd_update(s, p.data<T>(), grad.data<T>(),
                            buffer.defined() ? buffer.data<T>() : nullptr, p.numel());
      });
      p.bump_version();
    }
  }
}

std::map<std::string, std::string> SGD::options_metadata() const {
  using detail::format_double;
  return {{"momentum", format_double(options_.momentum)},
          {"dampening", format_double(options_.dampening)},
          {"nesterov", options_.nesterov ? "true" : "false"}};
}

void SGD::load_options_metadata(const std::map<std::string, std::string>& values) {
  SGDOptions o = options_;
  o.momentum = detail::parse_double(values.at("momentum"), "options.momentum");
  o.dampening = detail::parse_double(values.at("dampening"), "options.dampening");
  const std::string& nesterov = values.at("nesterov");
  TS_CHECK(nesterov == "true" || nesterov == "false",
           "load_state_dict: options.nesterov must be true or false, got \"{}\"", nesterov);
  o.nesterov = nesterov == "true";
  check_options(o);
  options_ = o;
}

}  // namespace taesan::optim
