// Learning-rate curves of WarmupLinear, WarmupCosine (with floor and several cycles), StepLR and
// ConstantLR equal PyTorch's schedulers driven by Hugging Face's warmup lambdas (fixture from
// tests/fixtures/optim/make_optim_fixtures.py); state dicts resume a schedule exactly.
#include "taesan/optim/lr_scheduler.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <memory>

#include "common/test_util.h"
#include "taesan/autograd/factory.h"
#include "taesan/nn/safetensors.h"
#include "taesan/optim/sgd.h"

namespace ts = taesan;
namespace optim = ts::optim;

namespace {

struct Setup {
  ts::Tensor a = ts::zeros({1}).requires_grad_();
  ts::Tensor b = ts::zeros({1}).requires_grad_();
  optim::SGD opt{
      std::vector<optim::ParamGroup>{{.params = {a}, .lr = 0.1}, {.params = {b}, .lr = 0.02}}};
};

using Factory = std::function<std::unique_ptr<optim::LRScheduler>(optim::Optimizer&)>;

const std::map<std::string, Factory>& factories() {
  static const std::map<std::string, Factory> f = {
      {"warmup_linear", [](auto& o) { return std::make_unique<optim::WarmupLinear>(o, 10, 50); }},
      {"warmup_cosine", [](auto& o) { return std::make_unique<optim::WarmupCosine>(o, 10, 50); }},
      {"warmup_cosine_floor",
       [](auto& o) {
         return std::make_unique<optim::WarmupCosine>(
             o, 7, 40, optim::WarmupCosineOptions{.num_cycles = 0.5, .min_lr_ratio = 0.1});
       }},
      {"warmup_cosine_cycles",
       [](auto& o) {
         return std::make_unique<optim::WarmupCosine>(
             o, 0, 30, optim::WarmupCosineOptions{.num_cycles = 1.5});
       }},
      {"step_lr", [](auto& o) { return std::make_unique<optim::StepLR>(o, 7, 0.5); }},
      {"constant_lr", [](auto& o) { return std::make_unique<optim::ConstantLR>(o, 0.25, 6); }},
  };
  return f;
}

}  // namespace

TEST_CASE("scheduler curves equal PyTorch / Hugging Face", "[optim][scheduler]") {
  const auto file = ts::safetensors::load(ts::test::fixture("optim", "schedulers.safetensors"));
  for (const auto& [name, make] : factories()) {
    INFO("scheduler " << name);
    const ts::Tensor expected = file.find(name);
    REQUIRE(expected.defined());
    REQUIRE(expected.shape() == ts::Shape{61, 2});
    const auto want = expected.to_vector<double>();
    Setup s;
    auto sched = make(s.opt);
    double worst = 0;
    for (int64_t step = 0; step <= 60; ++step) {
      for (size_t g = 0; g < 2; ++g) {
        const double got = s.opt.lr(g), ref = want[step * 2 + g];
        INFO("step " << step << " group " << g << " got " << got << " expected " << ref);
        REQUIRE(std::abs(got - ref) <= 1e-12 * std::abs(ref) + 1e-18);
        REQUIRE(sched->get_last_lr()[g] == got);
        worst = std::max(worst, std::abs(got - ref));
      }
      CHECK(sched->last_epoch() == step);
      s.opt.step();
      sched->step();
    }
    // The curve is not flat (a scheduler doing nothing would fail above for every case).
    CHECK(want[0] != want[2 * 10]);
  }
}

TEST_CASE("warmup factors follow the documented formulas", "[optim][scheduler]") {
  Setup s;
  optim::WarmupLinear lin(s.opt, 4, 12);
  CHECK(lin.factor(0) == 0.0);
  CHECK(lin.factor(2) == 0.5);
  CHECK(lin.factor(4) == 1.0);
  CHECK(lin.factor(8) == 0.5);
  CHECK(lin.factor(12) == 0.0);
  CHECK(lin.factor(20) == 0.0);
  optim::WarmupCosine cos(s.opt, 4, 12, {.min_lr_ratio = 0.2});
  CHECK(cos.factor(4) == Approx(1.0));
  CHECK(cos.factor(8) == Approx(0.2 + 0.8 * 0.5));
  CHECK(cos.factor(12) == Approx(0.2));
  CHECK(cos.factor(1000) >= 0.0);
}

TEST_CASE("scheduler state_dict resumes the schedule exactly", "[optim][scheduler]") {
  for (const auto& [name, make] : factories()) {
    INFO("scheduler " << name);
    Setup s1, s2;
    auto a = make(s1.opt);
    for (int i = 0; i < 13; ++i) a->step();
    const optim::StateDict state = a->state_dict();
    auto b = make(s2.opt);
    b->load_state_dict(state);
    CHECK(b->last_epoch() == 13);
    CHECK(s2.opt.lr(0) == s1.opt.lr(0));
    for (int i = 0; i < 20; ++i) {
      a->step();
      b->step();
      REQUIRE(s1.opt.lr(0) == s2.opt.lr(0));
      REQUIRE(s1.opt.lr(1) == s2.opt.lr(1));
    }
  }
}

TEST_CASE("schedulers reject bad arguments and foreign state", "[optim][scheduler]") {
  Setup s;
  CHECK_THROWS_AS(optim::WarmupLinear(s.opt, 10, 5), ts::Error);
  CHECK_THROWS_AS(optim::WarmupCosine(s.opt, -1, 5), ts::Error);
  CHECK_THROWS_AS(optim::WarmupCosine(s.opt, 1, 5, {.min_lr_ratio = 2}), ts::Error);
  CHECK_THROWS_AS(optim::StepLR(s.opt, 0), ts::Error);
  CHECK_THROWS_AS(optim::ConstantLR(s.opt, 1.5), ts::Error);
  optim::StepLR step(s.opt, 3);
  optim::ConstantLR constant(s.opt, 0.5, 2);
  CHECK_THROWS_WITH(constant.load_state_dict(step.state_dict()),
                    Catch::Contains("StepLR") && Catch::Contains("ConstantLR"));
  optim::StateDict broken = step.state_dict();
  broken.metadata["last_epoch"] = "minus one";
  CHECK_THROWS_AS(step.load_state_dict(broken), ts::Error);
  broken = step.state_dict();
  broken.metadata.erase("base_lr.1");
  CHECK_THROWS_WITH(step.load_state_dict(broken), Catch::Contains("base_lr.1"));
  optim::LambdaLR bad(s.opt, [](int64_t step) { return step < 2 ? 1.0 : NAN; });
  bad.step();
  CHECK_THROWS_WITH(bad.step(), Catch::Contains("factor"));
}
