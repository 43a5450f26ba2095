// Trainer: resuming gives bit-identical losses, accumulation equals one bigger batch, the CSV log
// and SVG chart are written, early stopping and the time budget stop, bad resumes are errors.
#include "taesan/train/trainer.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "common/test_util.h"
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

/// A fresh directory `name` inside this process's own scratch directory (removed at exit).
std::string temp_dir(const std::string& name) {
  static const ts::test::ScratchDir root;
  const fs::path p = root.path() / name;
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

TEST_CASE("greater_is_better: early stopping and the best weights follow a score", "[trainer]") {
  auto o = quiet("", 6);
  o.eval_every = 1;
  o.patience = 2;
  o.greater_is_better = true;
  SECTION("a rising score never stops the run") {
    ts::manual_seed(9);
    Net net;
    int calls = 0;
    auto r = models::Trainer(net, o).fit(mse_step(net, 4), [&] { return 1.0 + calls++; });
    CHECK_FALSE(r.early_stopped);
    CHECK(r.steps == 6);
    CHECK(r.best_step == 6);
    CHECK(r.best_eval == 6.0);
  }
  SECTION("a falling score stops it after `patience` evaluations") {
    ts::manual_seed(9);
    Net net;
    int calls = 0;
    auto r = models::Trainer(net, o).fit(mse_step(net, 4), [&] { return 10.0 - calls++; });
    CHECK(r.early_stopped);
    CHECK(r.steps == 3);
    CHECK(r.best_step == 1);
    CHECK(r.best_eval == 10.0);
  }
  SECTION("the highest score's weights are restored") {
    ts::manual_seed(9);
    Net net;
    o.patience = 0;
    o.max_steps = 4;
    std::vector<float> at_step2;
    int calls = 0;
    models::Trainer(net, o).fit(mse_step(net, 4), [&] {
      ++calls;
      if (calls == 2) at_step2 = net.fc1->weight.to_vector<float>();
      return calls == 2 ? 10.0 : 0.0;
    });
    CHECK(net.fc1->weight.to_vector<float>() == at_step2);
  }
}

TEST_CASE("restore_best = false keeps the last weights", "[trainer]") {
  ts::manual_seed(6);
  Net net;
  auto o = quiet("", 4);
  o.eval_every = 1;
  o.restore_best = false;
  std::vector<float> at_step2, at_last;
  int calls = 0;
  auto r = models::Trainer(net, o).fit(mse_step(net, 4), [&] {
    ++calls;
    if (calls == 2) at_step2 = net.fc1->weight.to_vector<float>();
    at_last = net.fc1->weight.to_vector<float>();
    return calls == 2 ? 0.0 : 10.0;  // step 2 is the best
  });
  CHECK(r.best_step == 2);
  REQUIRE(at_last != at_step2);
  CHECK(net.fc1->weight.to_vector<float>() == at_last);
}

TEST_CASE("save_every writes a resumable checkpoint during the run", "[trainer]") {
  const std::string dir = temp_dir("save_every");
  ts::manual_seed(12);
  Net a;
  auto o = quiet(dir + "/a", 5);
  o.save_every = 2;
  auto step = mse_step(a, 4);
  bool absent_at_2 = false, present_at_3 = false;
  auto full = models::Trainer(a, o).fit([&](int64_t i) {
    const std::string ck = dir + "/a/net.ckpt.safetensors";
    if (i == 1) absent_at_2 = !fs::exists(ck);
    if (i == 2) {  // during step 3: the checkpoint of step 2 exists; keep a copy
      present_at_3 = fs::exists(ck);
      if (present_at_3) fs::copy_file(ck, dir + "/step2.safetensors");
    }
    return step(i);
  });
  CHECK(absent_at_2);
  REQUIRE(present_at_3);
  // the copy resumes at step 2 and gives the uninterrupted run's losses, bit for bit
  ts::manual_seed(99);
  Net b;
  auto ob = quiet(dir + "/b", 5);
  ob.resume_from = dir + "/step2.safetensors";
  auto resumed = models::Trainer(b, ob).fit(mse_step(b, 4));
  REQUIRE(resumed.log.size() == 5);
  for (size_t i = 2; i < 5; ++i) CHECK(resumed.log[i].train_loss == full.log[i].train_loss);
  // without save_every, nothing is written before the end
  ts::manual_seed(12);
  Net c;
  auto oc = quiet(dir + "/c", 3);
  bool written_early = false;
  auto step_c = mse_step(c, 4);
  models::Trainer(c, oc).fit([&](int64_t i) {
    written_early |= fs::exists(dir + "/c/net.ckpt.safetensors");
    return step_c(i);
  });
  CHECK_FALSE(written_early);
}

namespace {
/// The norm of the first step's gradient of a copy of Net(seed) on rows(0, 4), dropout off.
double first_gradient_norm(uint64_t seed) {
  ts::manual_seed(seed);
  Net net;
  net.drop->eval();
  auto [x, y] = rows(0, 4);
  ts::mse_loss(net.forward(x), y).backward();
  double sq = 0;
  for (auto& p : net.parameters()) sq += ts::sum(p.grad() * p.grad()).item<float>();
  return std::sqrt(sq);
}
/// The norm of AdamW's exp_avg over every parameter after one Trainer step: (1 - beta1) times
/// the (clipped) gradient's norm.
double exp_avg_norm_after_one_step(uint64_t seed, double clip_norm) {
  ts::manual_seed(seed);
  Net net;
  auto o = quiet("", 1);
  o.clip_norm = clip_norm;
  models::Trainer trainer(net, o);
  trainer.fit([&](int64_t) {
    net.drop->eval();
    auto [x, y] = rows(0, 4);
    return models::StepOutput{ts::mse_loss(net.forward(x), y), 4};
  });
  double sq = 0;
  for (auto& p : net.parameters()) {
    const auto* st = trainer.optimizer().state(p);
    REQUIRE(st != nullptr);
    const Tensor m = st->buffers.at("exp_avg");
    sq += ts::sum(m * m).item<float>();
  }
  return std::sqrt(sq);
}
}  // namespace

TEST_CASE("clip_norm clips the gradient norm before the optimizer step", "[trainer]") {
  const double g = first_gradient_norm(13);
  REQUIRE(g > 0.1);
  CHECK(exp_avg_norm_after_one_step(13, g / 4) == Approx(0.1 * g / 4).epsilon(1e-4));
  CHECK(exp_avg_norm_after_one_step(13, 0.0) == Approx(0.1 * g).epsilon(1e-4));  // off
  CHECK(exp_avg_norm_after_one_step(13, 10 * g) == Approx(0.1 * g).epsilon(1e-4));
}

TEST_CASE("warmup_ratio: linear warmup from 0, then the half cosine", "[trainer]") {
  ts::manual_seed(14);
  Net net;
  auto o = quiet("", 10);
  o.warmup_ratio = 0.3;  // 3 warmup steps
  const auto r = models::Trainer(net, o).fit(mse_step(net, 4));
  REQUIRE(r.log.size() == 10);
  const double pi = std::acos(-1.0);
  for (int s = 0; s < 10; ++s) {
    const double factor = s < 3 ? s / 3.0 : 0.5 * (1 + std::cos(pi * (s - 3) / 7.0));
    INFO("step " << s + 1);
    CHECK(r.log[static_cast<size_t>(s)].lr == Approx(o.lr * factor).margin(1e-12));
  }
}

TEST_CASE("param_lr_scale: a parameter group moves at its own learning rate", "[trainer]") {
  // AdamW's first step moves every element by lr_group * (g / (|g| + eps) + wd p): with no
  // weight decay and no warmup, by lr_group wherever the gradient is not tiny.
  ts::manual_seed(15);
  Net net;
  auto o = quiet("", 1);
  o.weight_decay = 0;
  o.warmup_ratio = 0;
  const auto w1 = net.fc1->weight.to_vector<float>(), w2 = net.fc2->weight.to_vector<float>();
  models::Trainer trainer(net, o, {{"fc1.", 0.25}});
  trainer.fit([&](int64_t) {
    net.drop->eval();
    auto [x, y] = rows(0, 4);
    return models::StepOutput{ts::mse_loss(net.forward(x), y), 4};
  });
  auto max_move = [](const std::vector<float>& before, const Tensor& after) {
    const auto a = after.to_vector<float>();
    double m = 0;
    for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(double(a[i]) - before[i]));
    return m;
  };
  CHECK(max_move(w1, net.fc1->weight) == Approx(0.25 * o.lr).epsilon(1e-3));
  CHECK(max_move(w2, net.fc2->weight) == Approx(o.lr).epsilon(1e-3));
  CHECK(trainer.optimizer().param_groups().size() == 2);
}
