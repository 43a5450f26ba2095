// Trainer: the loop (accumulate, clip, step, schedule, evaluate, keep the best, stop early or on
// budget or on Ctrl-C, resume) and its outputs (progress line, CSV log, SVG chart, checkpoints).
#include "taesan/train/trainer.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <sstream>

#include "taesan/autograd/factory.h"
#include "taesan/autograd/grad_mode.h"
#include "taesan/core/atomic_file.h"
#include "taesan/core/error.h"
#include "taesan/dist/distributed_data_parallel.h"
#include "taesan/dist/init.h"
#include "taesan/nn/serialize.h"
#include "taesan/optim/adam.h"
#include "taesan/optim/checkpoint.h"
#include "taesan/optim/clip_grad.h"
#include "taesan/optim/lr_scheduler.h"

namespace taesan::models {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
std::atomic<bool> g_interrupt{false};

extern "C" void on_sigint(int) { g_interrupt.store(true); }

/// Installs the Ctrl-C handler for the lifetime of a fit and restores the previous one.
class SigintScope {
 public:
  explicit SigintScope(bool enable) : enabled_(enable) {
    if (!enabled_) return;
    struct sigaction sa {};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    sigaction(SIGINT, &sa, &previous_);
  }
  ~SigintScope() {
    if (enabled_) sigaction(SIGINT, &previous_, nullptr);
  }

 private:
  bool enabled_;
  struct sigaction previous_ {};
};

std::string hms(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<int64_t>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

std::string fmt_double(double v) {
  if (std::isnan(v)) return "";
  return fmt::format("{}", v);  // shortest text that reads back to the same double
}

double parse_double(const std::string& s) {
  if (s.empty()) return kNaN;
  try {
    return std::stod(s);
  } catch (const std::exception&) {
    fail("read_log_csv: '{}' is not a number", s);
  }
}

std::string log_to_csv(const std::vector<LogRow>& log) {
  std::string out = "step,train_loss,lr,eval,tokens_per_second,elapsed\n";
  for (const LogRow& r : log)
    out += fmt::format("{},{},{},{},{},{}\n", r.step, fmt_double(r.train_loss), fmt_double(r.lr),
                       fmt_double(r.eval), fmt_double(r.tokens_per_second), fmt_double(r.elapsed));
  return out;
}

std::vector<LogRow> csv_to_log(const std::string& text, const std::string& source) {
  std::vector<LogRow> log;
  std::istringstream in(text);
  std::string line;
  int64_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line_no == 1 || line.empty()) continue;
    std::vector<std::string> f;
    std::string field;
    std::istringstream ls(line);
    while (std::getline(ls, field, ',')) f.push_back(field);
    if (!line.empty() && line.back() == ',') f.emplace_back();
    TS_CHECK(f.size() == 6, "read_log_csv: {}:{}: expected 6 fields, got {}", source, line_no,
             f.size());
    LogRow r;
    r.step = static_cast<int64_t>(parse_double(f[0]));
    r.train_loss = parse_double(f[1]);
    r.lr = parse_double(f[2]);
    r.eval = parse_double(f[3]);
    r.tokens_per_second = parse_double(f[4]);
    r.elapsed = parse_double(f[5]);
    log.push_back(r);
  }
  return log;
}

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

/// One panel of the chart: a polyline of (x, y) points in a box with min/max labels.
std::string svg_panel(const std::vector<std::pair<double, double>>& pts, double x0, double y0,
                      double w, double h, double max_step, const std::string& label,
                      const std::string& color) {
  std::string out =
      fmt::format(R"(<rect x="{}" y="{}" width="{}" height="{}" fill="#fafafa" stroke="#999"/>)"
                  "\n<text x=\"{}\" y=\"{}\" font-size=\"13\" fill=\"{}\">{}</text>\n",
                  x0, y0, w, h, x0, y0 - 6, color, xml_escape(label));
  if (pts.empty()) {
    out += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"12\" fill=\"#777\">no data</text>\n",
                       x0 + w / 2 - 25, y0 + h / 2);
    return out;
  }
  double lo = pts[0].second, hi = pts[0].second;
  for (auto& p : pts) lo = std::min(lo, p.second), hi = std::max(hi, p.second);
  if (hi - lo < 1e-12) hi = lo + 1, lo -= 1;
  const double xs = max_step > 0 ? w / max_step : 0;
  std::string poly;
  for (auto& [x, y] : pts)
    poly += fmt::format("{:.1f},{:.1f} ", x0 + x * xs, y0 + h - (y - lo) / (hi - lo) * h);
  out += fmt::format("<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\" points=\"{}\"/>\n",
                     color, poly);
  if (pts.size() <= 40)
    for (auto& [x, y] : pts)
      out += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"2.5\" fill=\"{}\"/>\n",
                         x0 + x * xs, y0 + h - (y - lo) / (hi - lo) * h, color);
  out += fmt::format(
      "<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">{:.4g}</text>\n"
      "<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">{:.4g}</text>\n"
      "<text x=\"{}\" y=\"{}\" font-size=\"11\">0</text>\n"
      "<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"end\">step {}</text>\n",
      x0 - 4, y0 + 10, hi, x0 - 4, y0 + h, lo, x0, y0 + h + 14, x0 + w, y0 + h + 14,
      static_cast<int64_t>(max_step));
  return out;
}

}  // namespace

bool interrupt_requested() { return g_interrupt.load(); }
void request_interrupt() { g_interrupt.store(true); }

void write_file_atomic(const std::string& path, const std::string& text) {
  const std::filesystem::path p(path);
  std::error_code ec;
  if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path(), ec);
  taesan::write_file_atomic(path, text, "write_file_atomic");
}

void write_log_csv(const std::vector<LogRow>& log, const std::string& path) {
  write_file_atomic(path, log_to_csv(log));
}

std::vector<LogRow> read_log_csv(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  TS_CHECK(in.good(), "read_log_csv: cannot open '{}'", path);
  std::stringstream ss;
  ss << in.rdbuf();
  return csv_to_log(ss.str(), path);
}

void write_log_svg(const std::vector<LogRow>& log, const std::string& path,
                   const std::string& title, const std::string& eval_label) {
  std::vector<std::pair<double, double>> train, eval;
  double max_step = 1;
  for (const LogRow& r : log) {
    max_step = std::max(max_step, static_cast<double>(r.step));
    if (std::isfinite(r.train_loss)) train.emplace_back(r.step, r.train_loss);
    if (std::isfinite(r.eval)) eval.emplace_back(r.step, r.eval);
  }
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"900\" height=\"320\" "
      "font-family=\"sans-serif\">\n<rect width=\"900\" height=\"320\" fill=\"white\"/>\n"
      "<text x=\"450\" y=\"22\" font-size=\"15\" text-anchor=\"middle\">{}</text>\n",
      xml_escape(title));
  svg += svg_panel(train, 60, 55, 370, 220, max_step, "training loss", "#1f77b4");
  svg += svg_panel(eval, 510, 55, 370, 220, max_step, "validation: " + eval_label, "#d62728");
  svg += "</svg>\n";
  write_file_atomic(path, svg);
}

struct Trainer::State {
  std::unique_ptr<optim::AdamW> optimizer;
  std::unique_ptr<optim::WarmupCosine> scheduler;
  TensorList params;                                   // every trained parameter, for clipping
  std::shared_ptr<dist::ProcessGroup> group;           // set when training data-parallel
  std::unique_ptr<dist::DistributedDataParallel> ddp;  // averages the gradients over `group`
};

Trainer::Trainer(nn::Module& model, TrainerOptions options,
                 std::vector<std::pair<std::string, double>> param_lr_scale)
    : model_(model), options_(std::move(options)), state_(new State) {
  const char* who = "Trainer";
  TS_CHECK(options_.max_steps >= 1, "{}: max_steps must be >= 1, got {}", who, options_.max_steps);
  TS_CHECK(options_.grad_accum >= 1, "{}: grad_accum must be >= 1, got {}", who,
           options_.grad_accum);
  TS_CHECK(options_.lr > 0 && std::isfinite(options_.lr), "{}: lr must be > 0, got {}", who,
           options_.lr);
  TS_CHECK(options_.warmup_ratio >= 0 && options_.warmup_ratio < 1,
           "{}: warmup_ratio must be in [0, 1), got {}", who, options_.warmup_ratio);
  TS_CHECK(options_.eval_every >= 0 && options_.patience >= 0 && options_.save_every >= 0,
           "{}: eval_every, patience and save_every must be >= 0", who);
  TS_CHECK(!options_.name.empty() && options_.name.find('/') == std::string::npos,
           "{}: name must be a non-empty file stem, got '{}'", who, options_.name);
  // One group per distinct lr multiplier, in order of first appearance.
  std::map<double, size_t> group_of;
  std::vector<optim::ParamGroup> groups;
  for (auto& [name, p] : model_.named_parameters()) {
    if (!p.requires_grad()) continue;
    double scale = 1.0;
    for (auto& [prefix, s] : param_lr_scale)
      if (name.rfind(prefix, 0) == 0) {
        scale = s;
        break;
      }
    TS_CHECK(scale > 0, "{}: lr multiplier of '{}' must be > 0, got {}", who, name, scale);
    auto it = group_of.find(scale);
    if (it == group_of.end()) {
      it = group_of.emplace(scale, groups.size()).first;
      optim::ParamGroup g;
      g.lr = options_.lr * scale;
      groups.push_back(std::move(g));
    }
    groups[it->second].params.push_back(p);
    state_->params.push_back(p);
  }
  TS_CHECK(!groups.empty(), "{}: the model has no parameter that requires a gradient", who);
  optim::AdamWOptions adam;
  adam.lr = options_.lr;
  adam.weight_decay = options_.weight_decay;
  state_->optimizer = std::make_unique<optim::AdamW>(std::move(groups), adam);
  optim::WarmupCosineOptions cos;
  cos.min_lr_ratio = options_.min_lr_ratio;
  const auto warmup =
      static_cast<int64_t>(std::llround(options_.warmup_ratio * options_.max_steps));
  state_->scheduler =
      std::make_unique<optim::WarmupCosine>(*state_->optimizer, warmup, options_.max_steps, cos);
  if (options_.distributed && dist::get_world_size() > 1) {
    state_->group = dist::default_group();
    state_->ddp = std::make_unique<dist::DistributedDataParallel>(model_, state_->group);
  }
}

Trainer::~Trainer() = default;

optim::Optimizer& Trainer::optimizer() { return *state_->optimizer; }

static std::string out_file(const TrainerOptions& o, const char* suffix) {
  if (o.out_dir.empty()) return "";
  return (std::filesystem::path(o.out_dir) / (o.name + suffix)).string();
}
std::string Trainer::checkpoint_path() const { return out_file(options_, ".ckpt.safetensors"); }
std::string Trainer::best_path() const { return out_file(options_, ".best.safetensors"); }
std::string Trainer::csv_path() const { return out_file(options_, ".csv"); }
std::string Trainer::svg_path() const { return out_file(options_, ".svg"); }

TrainResult Trainer::fit(const StepFn& step_fn, const EvalFn& eval_fn) {
  TS_CHECK(static_cast<bool>(step_fn), "Trainer::fit: step_fn is empty");
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  // Data-parallel: rank r of `world` trains micro-batches index * world + r; rank 0 writes.
  const int world = state_->group ? state_->group->size() : 1;
  const int rank = state_->group ? state_->group->rank() : 0;
  TrainerOptions o = options_;
  if (rank != 0) o.verbose = false;
  const bool writes = rank == 0 && !o.out_dir.empty();
  const bool writes_checkpoints = writes && o.save_checkpoints;
  bool agreed_interrupt = false, agreed_budget = false;  // all ranks stop at the same step
  const bool better_high = o.greater_is_better;
  const bool tty = o.verbose && ::isatty(::fileno(stderr));
  g_interrupt.store(false);
  SigintScope sigint(o.handle_sigint);

  if (!o.out_dir.empty()) std::filesystem::create_directories(o.out_dir);
  TrainResult result;
  result.checkpoint_path = o.save_checkpoints ? checkpoint_path() : "";
  double best = kNaN;
  int64_t best_step = -1, bad_evals = 0, start = 0;
  double elapsed_before = 0;
  nn::NamedTensors best_weights;
  auto snapshot = [&] {
    best_weights.clear();
    for (auto& [n, t] : model_.state_dict()) best_weights.emplace_back(n, t.detach().clone());
  };

  if (!o.resume_from.empty()) {
    TS_CHECK(std::filesystem::exists(o.resume_from),
             "Trainer::fit: resume_from '{}' does not exist", o.resume_from);
    const std::string bp = best_path();
    if (!bp.empty() && std::filesystem::exists(bp)) {
      load(model_, bp);
      snapshot();
    }
    optim::Checkpoint ck;
    ck.model = &model_;
    ck.optimizer = state_->optimizer.get();
    ck.scheduler = state_->scheduler.get();
    try {
      optim::load_checkpoint(o.resume_from, ck);
    } catch (const Error& e) {
      fail(
          "Trainer::fit: cannot resume '{}' from '{}' (a checkpoint of another model or "
          "setup?): {}",
          o.name, o.resume_from, e.what());
    }
    start = ck.step;
    TS_CHECK(start <= o.max_steps, "Trainer::fit: checkpoint '{}' is at step {} > max_steps {}",
             o.resume_from, start, o.max_steps);
    auto get = [&](const char* k) {
      auto it = ck.extra.find(k);
      TS_CHECK(it != ck.extra.end(), "Trainer::fit: checkpoint '{}' lacks trainer field '{}'",
               o.resume_from, k);
      return it->second;
    };
    best = parse_double(get("best_eval"));
    best_step = std::stoll(get("best_step"));
    bad_evals = std::stoll(get("bad_evals"));
    elapsed_before = parse_double(get("elapsed"));
    result.log = csv_to_log(get("log"), o.resume_from);
    if (best_weights.empty() && best_step >= 0) snapshot();  // best file missing: keep current
  }

  auto save_ckpt = [&](int64_t step) {
    if (!writes_checkpoints) return;
    optim::Checkpoint ck;
    ck.model = &model_;
    ck.optimizer = state_->optimizer.get();
    ck.scheduler = state_->scheduler.get();
    ck.step = step;
    ck.extra["best_eval"] = fmt_double(best);
    ck.extra["best_step"] = std::to_string(best_step);
    ck.extra["bad_evals"] = std::to_string(bad_evals);
    ck.extra["elapsed"] =
        fmt_double(elapsed_before + std::chrono::duration<double>(Clock::now() - t0).count());
    ck.extra["log"] = log_to_csv(result.log);
    std::filesystem::create_directories(o.out_dir);
    optim::save_checkpoint(checkpoint_path(), ck);
  };

  // Evaluates, tracks the best and the patience; returns the value.
  auto evaluate = [&](int64_t step) {
    double v;
    {
      NoGradGuard ng;
      model_.eval();
      v = eval_fn();
      model_.train();
    }
    TS_CHECK(!std::isnan(v), "Trainer::fit: the evaluation of '{}' returned NaN at step {}", o.name,
             step);
    const bool improved = std::isnan(best) || (better_high ? v > best : v < best);
    if (improved) {
      best = v;
      best_step = step;
      bad_evals = 0;
      snapshot();
      if (writes_checkpoints) save(model_, best_path());
    } else {
      ++bad_evals;
    }
    if (o.verbose)
      fmt::print(stderr, "{}[{}] step {}/{} eval {:.5g}{}\n", tty ? "\r\033[K" : "", o.name, step,
                 o.max_steps, v, improved ? " (best)" : "");
    return v;
  };

  model_.train();
  int64_t tokens_session = 0;
  int64_t step = start;
  const int64_t log_every = std::max<int64_t>(1, o.log_every);
  for (; step < o.max_steps; ++step) {
    const double now = std::chrono::duration<double>(Clock::now() - t0).count();
    if (state_->group ? agreed_interrupt : g_interrupt.load()) {
      result.interrupted = true;
      break;
    }
    if (state_->group ? agreed_budget
                      : (o.time_budget_seconds > 0 && now >= o.time_budget_seconds)) {
      result.time_budget_hit = true;
      break;
    }
    state_->optimizer->zero_grad();
    double loss_sum = 0;
    int64_t tokens = 0;
    for (int64_t k = 0; k < o.grad_accum; ++k) {
      // Only the last micro-batch's backward averages the accumulated gradients.
      std::optional<dist::DistributedDataParallel::NoSyncGuard> no_sync;
      if (state_->ddp && k + 1 < o.grad_accum) no_sync.emplace(state_->ddp->no_sync());
      StepOutput out = step_fn((step * o.grad_accum + k) * world + rank);
      TS_CHECK(out.loss.defined() && out.loss.numel() == 1,
               "Trainer::fit: step_fn must return a scalar loss (micro-batch {})",
               step * o.grad_accum + k);
      const double l = out.loss.detach().to(kFloat64).item<double>();
      TS_CHECK(std::isfinite(l), "Trainer::fit: loss of '{}' is {} at step {} (lr too high?)",
               o.name, l, step + 1);
      (o.grad_accum == 1 ? out.loss : out.loss / static_cast<double>(o.grad_accum)).backward();
      loss_sum += l;
      tokens += out.tokens;
    }
    if (state_->group) {  // the mean loss and total tokens of all ranks; stop together
      const double el = std::chrono::duration<double>(Clock::now() - t0).count();
      Tensor v = from_vector<double>(
          {loss_sum, static_cast<double>(tokens), g_interrupt.load() ? 1.0 : 0.0,
           o.time_budget_seconds > 0 && el >= o.time_budget_seconds ? 1.0 : 0.0},
          {4});
      state_->group->allreduce(v);
      const std::vector<double> all = v.to_vector<double>();
      loss_sum = all[0] / world;
      tokens = static_cast<int64_t>(all[1]);
      agreed_interrupt = all[2] > 0;
      agreed_budget = all[3] > 0;
    }
    if (o.clip_norm > 0) optim::clip_grad_norm(state_->params, o.clip_norm);
    const double lr = state_->optimizer->lr(0);
    state_->optimizer->step();
    state_->scheduler->step();
    tokens_session += tokens;
    const double el = std::chrono::duration<double>(Clock::now() - t0).count();
    LogRow row;
    row.step = step + 1;
    row.train_loss = loss_sum / static_cast<double>(o.grad_accum);
    row.lr = lr;
    row.eval = kNaN;
    row.tokens_per_second = el > 0 ? static_cast<double>(tokens_session) / el : 0;
    row.elapsed = elapsed_before + el;
    result.final_train_loss = row.train_loss;
    if (o.verbose) {
      const double eta =
          el / static_cast<double>(step + 1 - start) * static_cast<double>(o.max_steps - step - 1);
      const std::string line = fmt::format(
          "[{}] step {}/{} loss {:.4f} lr {:.2e} {:.0f} tok/s elapsed {} eta {}", o.name, step + 1,
          o.max_steps, row.train_loss, lr, row.tokens_per_second, hms(row.elapsed), hms(eta));
      if (tty)
        fmt::print(stderr, "\r\033[K{}", line), std::fflush(stderr);
      else if ((step + 1) % log_every == 0 || step + 1 == o.max_steps)
        fmt::print(stderr, "{}\n", line);
    }
    const bool do_eval = eval_fn && o.eval_every > 0 && (step + 1) % o.eval_every == 0;
    if (do_eval) row.eval = evaluate(step + 1);
    result.log.push_back(row);
    if (do_eval && o.patience > 0 && bad_evals >= o.patience) {
      result.early_stopped = true;
      ++step;
      break;
    }
    if (o.save_every > 0 && (step + 1) % o.save_every == 0) save_ckpt(step + 1);
  }
  if (tty) fmt::print(stderr, "\n");
  result.steps = step;

  if (result.interrupted) {
    save_ckpt(step);
    if (o.verbose)
      fmt::print(stderr, "[{}] interrupted at step {}: {}\n", o.name, step,
                 !writes_checkpoints ? std::string("no checkpoint saved (no out_dir, or "
                                                   "save_checkpoints off)")
                                     : "resumable checkpoint saved to " + checkpoint_path());
  } else {
    // Final evaluation unless the last step already had one.
    if (eval_fn && (result.log.empty() || std::isnan(result.log.back().eval))) {
      const double v = evaluate(step);
      if (!result.log.empty() && result.log.back().step == step) result.log.back().eval = v;
    }
    if (o.restore_best && !best_weights.empty() && best_step != step) {
      model_.load_state_dict(best_weights);
      if (o.verbose)
        fmt::print(stderr, "[{}] restored the best weights (step {}, eval {:.5g})\n", o.name,
                   best_step, best);
    }
    save_ckpt(step);
  }
  for (auto it = result.log.rbegin(); it != result.log.rend(); ++it)
    if (!std::isnan(it->eval)) {
      result.last_eval = it->eval;
      break;
    }
  if (result.log.empty() || std::isnan(result.last_eval)) result.last_eval = kNaN;
  result.best_eval = best;
  result.best_step = best_step;
  if (writes) {
    write_log_csv(result.log, csv_path());
    write_log_svg(result.log, svg_path(), o.name,
                  o.greater_is_better ? "score (higher is better)" : "loss (lower is better)");
  }
  result.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  model_.eval();
  return result;
}

}  // namespace taesan::models
