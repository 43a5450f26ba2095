// Adam and AdamW: option checks, state creation and the call into the fused update kernel.
#include "taesan/optim/adam.h"

#include <cmath>

#include "taesan/autograd/factory.h"
#include "taesan/autograd/grad_mode.h"
#include "taesan/ops/kernels/optimizer.h"

namespace taesan::optim {
namespace {

AdamWOptions widen(const AdamOptions& o) {
  return {.lr = o.lr,
          .betas = o.betas,
          .eps = o.eps,
          .weight_decay = o.weight_decay,
          .amsgrad = o.amsgrad};
}

void check_options(const AdamWOptions& o, const char* name) {
  TS_CHECK(std::isfinite(o.lr) && o.lr >= 0, "{}: expected a finite lr >= 0, got {}", name, o.lr);
  TS_CHECK(o.betas.first >= 0 && o.betas.first < 1, "{}: expected 0 <= betas.first < 1, got {}",
           name, o.betas.first);
  TS_CHECK(o.betas.second >= 0 && o.betas.second < 1, "{}: expected 0 <= betas.second < 1, got {}",
           name, o.betas.second);
  TS_CHECK(std::isfinite(o.eps) && o.eps >= 0, "{}: expected a finite eps >= 0, got {}", name,
           o.eps);
  TS_CHECK(std::isfinite(o.weight_decay) && o.weight_decay >= 0,
           "{}: expected a finite weight_decay >= 0, got {}", name, o.weight_decay);
}

std::vector<ParamGroup> one_group(const TensorList& params) {
  return {ParamGroup{.params = params}};
}

}  // namespace

namespace detail {

AdamBase::AdamBase(std::vector<ParamGroup> groups, const AdamWOptions& options, bool decoupled)
    : Optimizer(std::move(groups), options.lr, options.weight_decay),
      options_(options),
      decoupled_(decoupled) {
  check_options(options, decoupled ? "AdamW" : "Adam");
}

void AdamBase::step() {
  NoGradGuard no_grad;
  for (ParamGroup& group : param_groups()) {
    kernels::AdamStep s{.lr = group.lr.value_or(default_lr_),
                        .beta1 = options_.betas.first,
                        .beta2 = options_.betas.second,
                        .eps = options_.eps,
                        .weight_decay = group.weight_decay.value_or(default_weight_decay_),
                        .decoupled = decoupled_,
                        .step = 0};
    for (Tensor& p : group.params) {
      if (!p.grad().defined()) continue;
      const Tensor grad = checked_grad(p);
      ParamState& st = state_for(p);
      for (const char* buffer : {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"}) {
        if (std::string(buffer) == "max_exp_avg_sq" && !options_.amsgrad) continue;
        Tensor& b = st.buffers[buffer];
        if (!b.defined()) b = zeros_like(p);
        TS_CHECK(b.shape() == p.shape() && b.dtype() == p.dtype() && b.is_contiguous(),
                 "{}.step: state '{}' ({}) does not match parameter {} (was the parameter "
                 "converted after the optimizer was built?)",
                 name(), buffer, b.describe(), p.describe());
      }
      st.step += 1;
      s.step = st.step;
      const int64_t n = p.numel();
      dispatch_float(p.dtype(), [&](auto tag) {
        using T = decltype(tag);
        T* vmax = options_.amsgrad ? st.buffers["max_exp_avg_sq"].data<T>() : nullptr;
        kernels::adam_update(s, p.data<T>(), grad.data<T>(), st.buffers["exp_avg"].data<T>(),
                             st.buffers["exp_avg_sq"].data<T>(), vmax, n);
      });
      p.bump_version();
    }
  }
}

std::map<std::string, std::string> AdamBase::options_metadata() const {
  using detail::format_double;
  return {{"beta1", format_double(options_.betas.first)},
          {"beta2", format_double(options_.betas.second)},
          {"eps", format_double(options_.eps)},
          {"amsgrad", options_.amsgrad ? "true" : "false"}};
}

void AdamBase::load_options_metadata(const std::map<std::string, std::string>& values) {
  AdamWOptions o = options_;
  o.betas.first = parse_double(values.at("beta1"), "options.beta1");
  o.betas.second = parse_double(values.at("beta2"), "options.beta2");
  o.eps = parse_double(values.at("eps"), "options.eps");
  const std::string& ams = values.at("amsgrad");
  TS_CHECK(ams == "true" || ams == "false",
           "load_state_dict: options.amsgrad must be true or false, got \"{}\"", ams);
  o.amsgrad = ams == "true";
  check_options(o, decoupled_ ? "AdamW.load_state_dict" : "Adam.load_state_dict");
  options_ = o;
}

}  // namespace detail

Adam::Adam(const TensorList& params, const AdamOptions& options)
    : AdamBase(one_group(params), widen(options), /*decoupled=*/false) {}
Adam::Adam(std::vector<ParamGroup> groups, const AdamOptions& options)
    : AdamBase(std::move(groups), widen(options), /*decoupled=*/false) {}
AdamW::AdamW(const TensorList& params, const AdamWOptions& options)
    : AdamBase(one_group(params), options, /*decoupled=*/true) {}
AdamW::AdamW(std::vector<ParamGroup> groups, const AdamWOptions& options)
    : AdamBase(std::move(groups), options, /*decoupled=*/true) {}

}  // namespace taesan::optim
