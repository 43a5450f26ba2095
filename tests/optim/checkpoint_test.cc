// Training checkpoints: resuming from one gives bit-identical losses to a run that never
// stopped (model, AdamW state, warmup-cosine schedule, step and the RNG that drives dropout and
// batches all restored); mismatching or incomplete checkpoints are clear errors that change
// nothing.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <memory>

#include "taesan/autograd/factory.h"
#include "taesan/core/random.h"
#include "taesan/nn/nn.h"
#include "taesan/ops/ops.h"
#include "taesan/optim/optim.h"

namespace ts = taesan;
namespace nn = ts::nn;
namespace optim = ts::optim;

namespace {

struct Model : nn::Module {
  std::shared_ptr<nn::Sequential> body;
  explicit Model(int64_t hidden = 16) {
    body = register_module(
        "body", std::make_shared<nn::Sequential>(
                    std::make_shared<nn::Linear>(4, hidden), std::make_shared<nn::GELU>(),
                    std::make_shared<nn::Dropout>(0.1), std::make_shared<nn::Linear>(hidden, 1)));
  }
  ts::Tensor forward(const ts::Tensor& x) const { return body->forward(x); }
};

/// A training run that can stop and resume at any step.
struct Run {
  std::shared_ptr<Model> model;
  std::unique_ptr<optim::AdamW> opt;
  std::unique_ptr<optim::WarmupCosine> sched;
  explicit Run(uint64_t init_seed) {
    ts::manual_seed(init_seed);
    model = std::make_shared<Model>();
    auto params = model->named_parameters();
    std::vector<optim::ParamGroup> groups(2);
    for (const auto& [n, p] : params)
      groups[n.find("bias") != std::string::npos].params.push_back(p);
    groups[1].weight_decay = 0.0;
    opt = std::make_unique<optim::AdamW>(groups,
                                         optim::AdamWOptions{.lr = 1e-2, .weight_decay = 0.05});
    sched = std::make_unique<optim::WarmupCosine>(*opt, 3, 12);
  }
  /// One step on a fresh random batch (drawn from the global RNG, like the dropout masks).
  float step() {
    const ts::Tensor x = ts::randn({8, 4});
    const ts::Tensor y = x.sum(1, /*keepdim=*/true).tanh();
    opt->zero_grad();
    ts::Tensor loss = ts::mse_loss(model->forward(x), y);
    loss.backward();
    optim::clip_grad_norm(model->parameters(), 1.0);
    opt->step();
    sched->step();
    return loss.item<float>();
  }
  optim::Checkpoint parts(int64_t step = 0) {
    return {.model = model.get(), .optimizer = opt.get(), .scheduler = sched.get(), .step = step};
  }
};

struct TempFile {
  std::string path = (std::filesystem::temp_directory_path() /
                      ("taesan_ckpt_" + std::to_string(::getpid()) + ".safetensors"))
                         .string();
  ~TempFile() { std::filesystem::remove(path); }
};

}  // namespace

TEST_CASE("resuming from a checkpoint gives bit-identical losses", "[optim][checkpoint]") {
  TempFile file;
  Run straight(7);
  ts::manual_seed(100);
  std::vector<float> losses;
  for (int i = 0; i < 12; ++i) losses.push_back(straight.step());

  Run first(7);
  ts::manual_seed(100);
  for (int i = 0; i < 5; ++i) REQUIRE(first.step() == losses[i]);
  optim::save_checkpoint(file.path, {.model = first.model.get(),
                                     .optimizer = first.opt.get(),
                                     .scheduler = first.sched.get(),
                                     .step = 5,
                                     .extra = {{"epoch", "1"}}});
  for (int i = 0; i < 3; ++i) first.step();  // keep going: must not affect the checkpoint

  Run resumed(999);  // different initial weights and RNG state
  ts::manual_seed(4242);
  optim::Checkpoint c = resumed.parts();
  optim::load_checkpoint(file.path, c);
  CHECK(c.step == 5);
  CHECK(c.extra.at("epoch") == "1");
  CHECK(resumed.sched->last_epoch() == 5);
  for (int i = 5; i < 12; ++i) {
    INFO("step " << i);
    CHECK(resumed.step() == losses[i]);
  }
  CHECK(losses[11] < losses[0]);  // it trained
}

TEST_CASE("checkpoints that do not match are rejected before anything changes",
          "[optim][checkpoint]") {
  TempFile file;
  Run run(1);
  ts::manual_seed(1);
  run.step();
  optim::save_checkpoint(file.path,
                         {.model = run.model.get(), .optimizer = run.opt.get(), .step = 1});

  Run other(2);
  const auto weights = other.model->parameters()[0].to_vector<float>();
  const double lr = other.opt->lr();
  optim::Checkpoint c = other.parts();
  CHECK_THROWS_WITH(optim::load_checkpoint(file.path, c), Catch::Contains("no scheduler state"));
  c.scheduler = nullptr;

  // A model of another size: the optimizer state would fit nothing either.
  auto wide = std::make_shared<Model>(32);
  optim::Checkpoint w{.model = wide.get()};
  CHECK_THROWS_WITH(optim::load_checkpoint(file.path, w),
                    Catch::Contains("does not match") && Catch::Contains("body.0.weight"));
  // An optimizer of another type.
  optim::SGD sgd(other.model->parameters());
  optim::Checkpoint s{.model = other.model.get(), .optimizer = &sgd};
  CHECK_THROWS_WITH(optim::load_checkpoint(file.path, s), Catch::Contains("AdamW"));
  CHECK(other.model->parameters()[0].to_vector<float>() == weights);  // model untouched
  CHECK(other.opt->lr() == lr);

  // A module file is not a training checkpoint.
  ts::save(run.model, file.path);
  CHECK_THROWS_WITH(optim::load_checkpoint(file.path, c),
                    Catch::Contains("not a taesan training checkpoint"));
  CHECK_THROWS_WITH(optim::load_checkpoint(file.path + ".absent", c),
                    Catch::Contains("cannot open"));
}
