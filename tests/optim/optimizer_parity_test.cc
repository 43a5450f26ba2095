// Five steps of SGD, Adam and AdamW (with momentum, Nesterov, weight decay, amsgrad, parameter
// groups) on fixed parameters and gradients equal torch.optim's results, read from fixtures made
// by tests/fixtures/optim/make_optim_fixtures.py: float64 to 1e-12, float32 to 1e-6, relative.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <memory>

#include "common/test_util.h"
#include "taesan/nn/safetensors.h"
#include "taesan/optim/adam.h"
#include "taesan/optim/sgd.h"

namespace ts = taesan;
using ts::test::max_scaled_error;

namespace {

double get(const ts::safetensors::Metadata& md, const std::string& key, double fallback) {
  auto it = md.find(key);
  return it == md.end() ? fallback : std::stod(it->second);
}
bool flag(const ts::safetensors::Metadata& md, const std::string& key) {
  auto it = md.find(key);
  return it != md.end() && it->second == "true";
}

std::unique_ptr<ts::optim::Optimizer> make_optimizer(const ts::safetensors::Metadata& md,
                                                     const ts::TensorList& params) {
  std::vector<ts::optim::ParamGroup> groups;
  if (md.count("group1_params")) {
    groups.push_back({.params = {params[0], params[1]}});
    ts::optim::ParamGroup g1{.params = {params[2]}};
    if (md.count("group1.lr")) g1.lr = get(md, "group1.lr", 0);
    if (md.count("group1.weight_decay")) g1.weight_decay = get(md, "group1.weight_decay", 0);
    groups.push_back(g1);
  } else {
    groups.push_back({.params = params});
  }
  const std::string kind = md.at("optimizer");
  if (kind == "SGD")
    return std::make_unique<ts::optim::SGD>(
        groups, ts::optim::SGDOptions{.lr = get(md, "lr", 1e-3),
                                      .momentum = get(md, "momentum", 0),
                                      .dampening = get(md, "dampening", 0),
                                      .weight_decay = get(md, "weight_decay", 0),
                                      .nesterov = flag(md, "nesterov")});
  const std::pair<double, double> betas{get(md, "beta1", 0.9), get(md, "beta2", 0.999)};
  if (kind == "Adam")
    return std::make_unique<ts::optim::Adam>(
        groups, ts::optim::AdamOptions{.lr = get(md, "lr", 1e-3),
                                       .betas = betas,
                                       .eps = get(md, "eps", 1e-8),
                                       .weight_decay = get(md, "weight_decay", 0),
                                       .amsgrad = flag(md, "amsgrad")});
  REQUIRE(kind == "AdamW");
  return std::make_unique<ts::optim::AdamW>(
      groups, ts::optim::AdamWOptions{.lr = get(md, "lr", 1e-3),
                                      .betas = betas,
                                      .eps = get(md, "eps", 1e-8),
                                      .weight_decay = get(md, "weight_decay", 1e-2),
                                      .amsgrad = flag(md, "amsgrad")});
}

}  // namespace

TEST_CASE("optimizers match torch.optim step for step", "[optim][parity]") {
  const std::string name = GENERATE(as<std::string>{}, "sgd", "sgd_momentum", "sgd_nesterov",
                                    "adam", "adam_weight_decay", "adam_amsgrad", "adamw",
                                    "adamw_amsgrad", "adamw_groups", "sgd_groups");
  const std::string tag = GENERATE(as<std::string>{}, "f64", "f32");
  const double tolerance = tag == "f64" ? 1e-12 : 1e-6;
  INFO("case " << name << " " << tag);
  const auto file =
      ts::safetensors::load(ts::test::fixture("optim", "optimizer_" + name + ".safetensors"));
  const int64_t num_params = std::stoll(file.metadata.at("num_params"));
  const int64_t steps = std::stoll(file.metadata.at("steps"));
  REQUIRE(steps == 5);

  ts::TensorList params;
  for (int64_t i = 0; i < num_params; ++i) {
    ts::Tensor init = file.find(fmt::format("{}.p{}.init", tag, i));
    REQUIRE(init.defined());
    params.push_back(init.clone().requires_grad_());
  }
  auto opt = make_optimizer(file.metadata, params);
  double worst = 0.0;
  for (int64_t step = 1; step <= steps; ++step) {
    for (int64_t i = 0; i < num_params; ++i)
      params[i].set_grad(file.find(fmt::format("{}.p{}.grad{}", tag, i, step)));
    opt->step();
    for (int64_t i = 0; i < num_params; ++i) {
      const double e =
          max_scaled_error(params[i], file.find(fmt::format("{}.p{}.after{}", tag, i, step)));
      INFO("step " << step << " param " << i << " error " << e);
      CHECK(e <= tolerance);
      worst = std::max(worst, e);
    }
  }
  // The parameters moved: a no-op optimizer would not pass.
  CHECK(max_scaled_error(params[0], file.find(tag + ".p0.init")) > 1e-3);
  if (std::getenv("TS_TEST_VERBOSE"))
    fmt::print("worst scaled error vs PyTorch ({}, {}): {:.3g}\n", name, tag, worst);
}
