// Trainer: resuming gives bit-identical losses, accumulation equals one bigger batch, the CSV log
// and SVG chart are written, early stopping and the time budget stop, bad resumes are errors.
#include "taesan/train/trainer.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include <taesan/taesan.h>

namespace ts = taesan;
namespace models = ts::models;
namespace fs = std::filesystem;
using ts::Tensor;

namespace {

/// A small MLP with dropout, so resuming must also restore the RNG.
struct Net : ts::nn::Module {
  std::shared_ptr<ts::nn::Linear> fc1, fc2;
  std::shared_ptr<ts::nn::Dropout> drop;
  explicit Net(int64_t hidden = 8) {
    fc1 = register_module("fc1", std::make_shared<ts::nn::Linear>(4, hidden));
    drop = register_module("drop", std::make_shared<ts::nn::Dropout>(0.2));
    fc2 = register_module("fc2", std::make_shared<ts::nn::Linear>(hidden, 1));
  }
  Tensor forward(const Tensor& x) const { return fc2->forward(drop->forward(ts::tanh(fc1->forward(x)))); }
};

/// Rows [first, first + n) of a fixed regression problem (the same rows for the same index).
std::pair<Tensor, Tensor> rows(int64_t first, int64_t n) {
  std::vector<float> x, y;
  for (int64_t r = first; r < first + n; ++r) {
    float t = 0;
    for (int64_t j = 0; j < 4; ++j) {
      const float v = std::sin(0.37f * static_cast<float>(r * 4 + j));
      x.push_back(v);
      t += v * static_cast<float>(j + 1);
    }
    y.push_back(t);
  }
  return {ts::from_vector<float>(x, {n, 4}), ts::from_vector<float>(y, {n, 1})};
}

std::string temp_dir(const std::string& name) {
  const fs::path p = fs::temp_directory_path() / ("ts_trainer_test_" + name);
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

models::TrainerOptions quiet(const std::string& dir, int64_t steps) {
  models::TrainerOptions o;
  o.name = "net";
  o.out_dir = dir;
  o.max_steps = steps;
  o.lr = 1e-2;
  o.verbose = false;
  o.handle_sigint = false;
  return o;
}

models::StepFn mse_step(Net& net, int64_t batch) {
  return [&net, batch](int64_t i) {
    auto [x, y] = rows(i * batch, batch);
    return models::StepOutput{ts::mse_loss(net.forward(x), y), batch};
  };
}

}  // namespace

TEST_CASE("an interrupted and resumed run gives bit-identical losses", "[trainer]") {
  const std::string dir = temp_dir("resume");
  ts::manual_seed(5);
  Net a;
  auto full = models::Trainer(a, quiet(dir + "/full", 10)).fit(mse_step(a, 4));
  REQUIRE(full.log.size() == 10);

  ts::manual_seed(5);
  Net b;
  auto step = mse_step(b, 4);
  auto first = models::Trainer(b, quiet(dir + "/part", 10)).fit([&](int64_t i) {
    if (i == 4) models::request_interrupt();  // as if Ctrl-C came during step 5
    return step(i);
  });
  REQUIRE(first.interrupted);
  REQUIRE(first.steps == 5);
  REQUIRE(fs::exists(first.checkpoint_path));

  ts::manual_seed(99);  // a different init and RNG: the checkpoint must restore both
  Net c;
  auto opts = quiet(dir + "/part", 10);
  opts.resume_from = first.checkpoint_path;
  auto second = models::Trainer(c, opts).fit(mse_step(c, 4));
  REQUIRE_FALSE(second.interrupted);
  REQUIRE(second.log.size() == 10);
  for (size_t i = 0; i < 10; ++i) {
    INFO("step " << i + 1);
    CHECK(second.log[i].train_loss == full.log[i].train_loss);  // bit for bit
    CHECK(second.log[i].lr == full.log[i].lr);
  }
  const auto wa = a.fc1->weight.to_vector<float>(), wc = c.fc1->weight.to_vector<float>();
  CHECK(wa == wc);
}

TEST_CASE("gradient accumulation equals one bigger batch", "[trainer]") {
  ts::manual_seed(7);
  Net a;
  a.drop->train(false);
  ts::manual_seed(7);
  Net b;
  auto oa = quiet("", 4);
  oa.grad_accum = 1;
  auto ob = oa;
  ob.grad_accum = 2;
  // Dropout off through p = 0 equivalent: evaluate the nets in eval mode inside the step.
  auto ra = models::Trainer(a, oa).fit([&](int64_t i) {
    a.drop->eval();
    auto [x, y] = rows(i * 8, 8);
    return models::StepOutput{ts::mse_loss(a.forward(x), y), 8};
  });
  auto rb = models::Trainer(b, ob).fit([&](int64_t i) {
    b.drop->eval();
    auto [x, y] = rows(i * 4, 4);  // micro-batches 2k, 2k+1 = the rows of big batch k
    return models::StepOutput{ts::mse_loss(b.forward(x), y), 4};
  });
  REQUIRE(ra.log.size() == 4);
  for (size_t i = 0; i < 4; ++i) CHECK(rb.log[i].train_loss == Approx(ra.log[i].train_loss).epsilon(1e-5));
  const auto wa = a.fc1->weight.to_vector<float>(), wb = b.fc1->weight.to_vector<float>();
  REQUIRE(wa.size() == wb.size());
  for (size_t i = 0; i < wa.size(); ++i) CHECK(wb[i] == Approx(wa[i]).margin(1e-5));
  // And the run did learn something (a tautology check would not).
  CHECK(ra.log.back().train_loss < ra.log.front().train_loss);
}

TEST_CASE("every run writes its CSV log and SVG chart", "[trainer]") {
  const std::string dir = temp_dir("files");
  ts::manual_seed(3);
  Net net;
  auto o = quiet(dir, 6);
  o.eval_every = 2;
  models::Trainer trainer(net, o);
  auto r = trainer.fit(mse_step(net, 4), [&] {
    auto [x, y] = rows(1000, 16);
    return ts::mse_loss(net.forward(x), y).item<float>() * 1.0;
  });
  REQUIRE(fs::exists(trainer.csv_path()));
  REQUIRE(fs::exists(trainer.svg_path()));
  REQUIRE(fs::exists(trainer.best_path()));
  REQUIRE(fs::exists(trainer.checkpoint_path()));
  const auto log = models::read_log_csv(trainer.csv_path());
  REQUIRE(log.size() == 6);
  CHECK(log[1].step == 2);
  CHECK(std::isfinite(log[1].eval));
  CHECK(std::isnan(log[0].eval));
  CHECK(log[5].train_loss == Approx(r.log[5].train_loss));
  std::ifstream svg(trainer.svg_path());
  std::stringstream ss;
  ss << svg.rdbuf();
  CHECK(ss.str().rfind("<svg", 0) == 0);
  CHECK(ss.str().find("<polyline") != std::string::npos);
  CHECK(ss.str().find("</svg>") != std::string::npos);
  for (auto& e : fs::directory_iterator(dir))  // no temporary file left behind
    CHECK(e.path().string().find(".tmp") == std::string::npos);
}

TEST_CASE("save_checkpoints = false writes only the CSV log and the SVG chart", "[trainer]") {
  const std::string dir = temp_dir("log_only");
  ts::manual_seed(3);
  Net net;
  auto o = quiet(dir, 4);
  o.eval_every = 2;
  o.save_checkpoints = false;
  models::Trainer trainer(net, o);
  const auto r = trainer.fit(mse_step(net, 4), [&] {
    auto [x, y] = rows(1000, 16);
    return ts::mse_loss(net.forward(x), y).item<float>() * 1.0;
  });
  CHECK(r.checkpoint_path.empty());
  CHECK(fs::exists(trainer.csv_path()));
  CHECK(fs::exists(trainer.svg_path()));
  CHECK_FALSE(fs::exists(trainer.best_path()));
  CHECK_FALSE(fs::exists(trainer.checkpoint_path()));
  CHECK(models::read_log_csv(trainer.csv_path()).size() == 4);
}

TEST_CASE("early stopping stops after `patience` evaluations without improvement", "[trainer]") {
  ts::manual_seed(4);
  Net net;
  auto o = quiet("", 50);
  o.eval_every = 1;
  o.patience = 2;
  int calls = 0;
  auto r = models::Trainer(net, o).fit(mse_step(net, 4), [&] { return 1.0 + calls++; });
  CHECK(r.early_stopped);
  CHECK(r.steps == 3);  // best at step 1, worse at 2 and 3
  CHECK(r.best_step == 1);
  CHECK(r.best_eval == 1.0);
  CHECK(calls == 3);
}

TEST_CASE("the best evaluated weights are restored at the end", "[trainer]") {
  ts::manual_seed(6);
  Net net;
  auto o = quiet("", 4);
  o.eval_every = 1;
  std::vector<float> at_step2;
  int calls = 0;
  models::Trainer(net, o).fit(mse_step(net, 4), [&] {
    ++calls;
    if (calls == 2) at_step2 = net.fc1->weight.to_vector<float>();
    return calls == 2 ? 0.0 : 10.0;
  });
  CHECK(net.fc1->weight.to_vector<float>() == at_step2);
}

TEST_CASE("time budget, bad options and bad resumes", "[trainer]") {
  ts::manual_seed(8);
  Net net;
  auto o = quiet("", 100);
  o.time_budget_seconds = 1e-9;
  auto r = models::Trainer(net, o).fit(mse_step(net, 4));
  CHECK(r.time_budget_hit);
  CHECK(r.steps == 0);

  auto bad = quiet("", 0);
  CHECK_THROWS_AS(models::Trainer(net, bad), ts::Error);

  // A checkpoint of another model config.
  const std::string dir = temp_dir("mismatch");
  Net small(8);
  models::Trainer(small, quiet(dir, 2)).fit(mse_step(small, 4));
  Net big(16);
  auto ob = quiet(dir + "/other", 4);
  ob.resume_from = dir + "/net.ckpt.safetensors";
  CHECK_THROWS_AS(models::Trainer(big, ob).fit(mse_step(big, 4)), ts::Error);
  ob.resume_from = dir + "/missing.safetensors";
  CHECK_THROWS_AS(models::Trainer(big, ob).fit(mse_step(big, 4)), ts::Error);

  // A loss that turns NaN is an error, not silent garbage.
  auto on = quiet("", 3);
  CHECK_THROWS_AS(models::Trainer(net, on).fit([&](int64_t) {
    auto [x, y] = rows(0, 4);
    return models::StepOutput{ts::mse_loss(net.forward(x), y) * std::nan(""), 4};
  }),
                  ts::Error);
}
