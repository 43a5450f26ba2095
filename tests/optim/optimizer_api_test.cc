// Optimizer behaviour beyond the update rule: the API.md construction syntax, parameter groups,
// skipped parameters, zero_grad, argument checks, and state dicts that resume exactly.
#include <catch2/catch.hpp>
#include <cmath>
#include <memory>

#include "taesan/autograd/factory.h"
#include "taesan/core/random.h"
#include "taesan/nn/linear.h"
#include "taesan/optim/adam.h"
#include "taesan/optim/sgd.h"

namespace ts = taesan;
namespace optim = ts::optim;

namespace {

struct Net : ts::nn::Module {
  std::shared_ptr<ts::nn::Linear> fc1, fc2;
  Net() {
    fc1 = register_module("fc1", std::make_shared<ts::nn::Linear>(2, 8));
    fc2 = register_module("fc2", std::make_shared<ts::nn::Linear>(8, 1));
  }
};

// Gives every parameter a deterministic gradient that depends on `step`.
void fake_grads(const ts::TensorList& params, int step) {
  for (size_t i = 0; i < params.size(); ++i) {
    std::vector<float> g(static_cast<size_t>(params[i].numel()));
    for (size_t j = 0; j < g.size(); ++j)
      g[j] = static_cast<float>(std::sin(0.7 * step + 1.3 * static_cast<double>(i) + 0.1 * j));
    params[i].set_grad(ts::from_vector<float>(g, params[i].shape()));
  }
}

std::vector<std::vector<float>> snapshot(const ts::TensorList& params) {
  std::vector<std::vector<float>> out;
  for (const auto& p : params) out.push_back(p.to_vector<float>());
  return out;
}

}  // namespace

TEST_CASE("optimizers are built as API.md shows", "[optim][api]") {
  ts::manual_seed(0);
  auto net = std::make_shared<Net>();
  ts::optim::AdamW opt(net->parameters(),
                       {.lr = 3e-4, .betas = {0.9, 0.999}, .eps = 1e-8, .weight_decay = 0.01});
  CHECK(opt.param_groups().size() == 1);
  CHECK(opt.lr() == 3e-4);
  CHECK(*opt.param_groups()[0].weight_decay == 0.01);
  CHECK(opt.name() == "AdamW");
  const auto before = snapshot(net->parameters());
  fake_grads(net->parameters(), 0);
  opt.step();
  CHECK(snapshot(net->parameters()) != before);
  opt.zero_grad();
  for (const auto& p : net->parameters()) CHECK_FALSE(p.grad().defined());
  ts::optim::SGD sgd(net->parameters(), {.lr = 0.1, .momentum = 0.9, .nesterov = true});
  CHECK(sgd.options().nesterov);
}

TEST_CASE("parameter groups have their own lr and weight decay", "[optim][api]") {
  ts::Tensor w = ts::ones({4}).requires_grad_();
  ts::Tensor b = ts::ones({4}).requires_grad_();
  optim::SGD opt({{.params = {w}}, {.params = {b}, .lr = 0.5, .weight_decay = 0.0}},
                 {.lr = 0.1, .weight_decay = 0.2});
  CHECK(opt.lr(0) == 0.1);
  CHECK(opt.lr(1) == 0.5);
  w.set_grad(ts::zeros({4}));
  b.set_grad(ts::zeros({4}));
  opt.step();
  // w: grad 0 + decay 0.2 * 1 -> 1 - 0.1 * 0.2; b: no decay, zero grad -> unchanged.
  CHECK(w.to_vector<float>()[0] == Approx(1 - 0.02));
  CHECK(b.to_vector<float>()[0] == 1.0f);
  opt.set_lr(0.01);
  CHECK(opt.lr(1) == 0.01);
  CHECK_THROWS_WITH(opt.add_param_group({.params = {w}}), Catch::Contains("more than once"));
  ts::Tensor extra = ts::ones({2}).requires_grad_();
  opt.add_param_group({.params = {extra}, .lr = 1.0});
  CHECK(opt.param_groups().size() == 3);
}

TEST_CASE("parameters without a gradient are left alone", "[optim][api]") {
  ts::Tensor a = ts::ones({3}).requires_grad_();
  ts::Tensor b = ts::ones({3}).requires_grad_();
  optim::Adam opt({a, b}, {.lr = 0.1});
  a.set_grad(ts::ones({3}));
  opt.step();
  CHECK(a.to_vector<float>()[0] < 1.0f);
  CHECK(b.to_vector<float>() == std::vector<float>{1, 1, 1});
  CHECK(opt.state(a) != nullptr);
  CHECK(opt.state(a)->step == 1);
  CHECK(opt.state(b) == nullptr);
}

TEST_CASE("zero_grad clears or zeroes", "[optim][api]") {
  ts::Tensor a = ts::ones({3}).requires_grad_();
  optim::SGD opt({a});
  a.set_grad(ts::ones({3}));
  opt.zero_grad(/*set_to_none=*/false);
  REQUIRE(a.grad().defined());
  CHECK(a.grad().to_vector<float>() == std::vector<float>{0, 0, 0});
  opt.zero_grad();
  CHECK_FALSE(a.grad().defined());
}

TEST_CASE("optimizers reject bad arguments with clear errors", "[optim][api]") {
  ts::Tensor a = ts::ones({3}).requires_grad_();
  CHECK_THROWS_WITH(optim::SGD(ts::TensorList{}), Catch::Contains("empty parameter list"));
  CHECK_THROWS_WITH(optim::SGD({a, a}), Catch::Contains("more than once"));
  CHECK_THROWS_WITH(optim::SGD({ts::zeros({2}, ts::kInt64)}), Catch::Contains("floating-point"));
  CHECK_THROWS_WITH(optim::SGD({a}, {.lr = -1}), Catch::Contains("lr"));
  CHECK_THROWS_WITH(optim::SGD({a}, {.nesterov = true}), Catch::Contains("Nesterov"));
  CHECK_THROWS_WITH(optim::Adam({a}, {.betas = {0.9, 1.0}}), Catch::Contains("betas.second"));
  CHECK_THROWS_WITH(optim::AdamW({a}, {.eps = -1}), Catch::Contains("eps"));
  CHECK_THROWS_WITH(optim::AdamW({{.params = {a}, .lr = std::nan("")}}), Catch::Contains("lr"));
  ts::Tensor base = ts::ones({3, 4});
  ts::Tensor strided = base.t().detach().requires_grad_();  // a non-contiguous leaf
  optim::SGD opt({strided});
  strided.set_grad(ts::ones({4, 3}));
  CHECK_THROWS_WITH(opt.step(), Catch::Contains("not contiguous"));
}

TEST_CASE("optimizer state_dict resumes training bit for bit", "[optim][api]") {
  for (const std::string kind : {"SGD", "Adam", "AdamW"}) {
    INFO(kind);
    auto make = [&](const ts::TensorList& params) -> std::unique_ptr<optim::Optimizer> {
      std::vector<optim::ParamGroup> groups{
          {.params = {params[0], params[1]}},
          {.params = {params[2], params[3]}, .lr = 0.003, .weight_decay = 0.0}};
      if (kind == "SGD")
        return std::make_unique<optim::SGD>(groups, optim::SGDOptions{.lr = 0.05, .momentum = 0.9});
      if (kind == "Adam")
        return std::make_unique<optim::Adam>(groups,
                                             optim::AdamOptions{.lr = 0.01, .amsgrad = true});
      return std::make_unique<optim::AdamW>(groups, optim::AdamWOptions{.lr = 0.01});
    };
    ts::manual_seed(1);
    Net a_net;
    ts::manual_seed(2);
    Net b_net;
    b_net.load_state_dict(a_net.state_dict());
    auto a = make(a_net.parameters());
    auto b = make(b_net.parameters());
    for (int step = 0; step < 3; ++step) {
      fake_grads(a_net.parameters(), step);
      a->step();
      fake_grads(b_net.parameters(), step);
      b->step();
    }
    // A fresh optimizer over b's parameters, restored from a's state, continues like a.
    const optim::StateDict state = a->state_dict();
    CHECK(state.metadata.at("type") == kind);
    b = make(b_net.parameters());
    b->load_state_dict(state);
    CHECK(b->lr(1) == 0.003);
    for (int step = 3; step < 6; ++step) {
      fake_grads(a_net.parameters(), step);
      a->step();
      fake_grads(b_net.parameters(), step);
      b->step();
    }
    CHECK(snapshot(a_net.parameters()) == snapshot(b_net.parameters()));
    // The snapshot is a copy: stepping `a` further does not change it.
    const auto exp_avg = state.tensors.size() > 1 ? state.tensors[1].second.to_vector<float>()
                                                  : std::vector<float>{};
    a->step();
    if (!exp_avg.empty()) CHECK(state.tensors[1].second.to_vector<float>() == exp_avg);
  }
}

TEST_CASE("load_state_dict checks everything before changing anything", "[optim][api]") {
  ts::Tensor a = ts::ones({3}).requires_grad_();
  ts::Tensor b = ts::ones({2, 2}).requires_grad_();
  optim::Adam adam({a, b});
  a.set_grad(ts::ones({3}));
  b.set_grad(ts::ones({2, 2}));
  adam.step();
  const optim::StateDict good = adam.state_dict();

  optim::SGD sgd({a, b});
  CHECK_THROWS_WITH(sgd.load_state_dict(good), Catch::Contains("Adam") && Catch::Contains("SGD"));

  ts::Tensor c = ts::ones({3}).requires_grad_();
  optim::Adam other({c});
  CHECK_THROWS_WITH(other.load_state_dict(good), Catch::Contains("parameters"));

  optim::Adam fresh({a, b}, {.lr = 0.5});
  optim::StateDict bad = good;
  bad.tensors[1].second = ts::zeros({4});  // exp_avg of the wrong shape
  CHECK_THROWS_WITH(fresh.load_state_dict(bad), Catch::Contains("state.0.exp_avg"));
  CHECK(fresh.lr() == 0.5);  // unchanged by the failed load
  CHECK(fresh.state(a) == nullptr);
  bad = good;
  bad.tensors.emplace_back("state.7.exp_avg", ts::zeros({3}));
  CHECK_THROWS_WITH(fresh.load_state_dict(bad), Catch::Contains("parameter 7"));
  bad = good;
  bad.metadata.erase("options.beta1");
  CHECK_THROWS_WITH(fresh.load_state_dict(bad), Catch::Contains("options.beta1"));
  bad = good;
  bad.metadata["group.0.lr"] = "fast";
  CHECK_THROWS_WITH(fresh.load_state_dict(bad), Catch::Contains("group.0.lr"));
  fresh.load_state_dict(good);
  CHECK(fresh.lr() == 1e-3);
  CHECK(fresh.state(a)->step == 1);
}
