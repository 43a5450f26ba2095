// train_bench: times one full training step (forward, backward, clip_grad_norm, AdamW step,
// zero_grad) of the GPT-like DecoderModel (causal LM loss) or the BERT-like encoder with the
// masked-LM head, at the tiny/small configs of issue 8, and prints the figures that
// bench/torch_reference.py prints for the same model in PyTorch (bench/compare.sh runs both).
// A plain program (not Google Benchmark's runner): warm-up, N measured steps, median and spread.
// --precision bf16 runs the forward inside a ts::AutocastGuard (the GEMMs on bf16-rounded operands,
// fp32 accumulation); with --loss-curve N it prints the losses to set beside fp32's.
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <taesan/taesan.h>

namespace ts = taesan;

namespace {

// ---- command line ----

struct Args {
  std::string model = "gpt";    // gpt | bert
  std::string config = "tiny";  // tiny | small
  int threads = 1;
  int steps = 20;
  int warmup = 3;
  int loss_curve = 0;         // > 0: print the losses of the first N steps instead of timing
  std::string weights;        // initial weights (safetensors) to load
  std::string save_weights;   // write taesan's initial weights here, then exit
  bool profile = false;       // op-family breakdown of the measured steps
  double peak_gflops = 0;     // FMA peak of `threads` cores; 0: the measured figures below
  bool measure_peak = false;  // measure the FMA peak instead
  uint64_t seed = 0;          // ts::manual_seed for the initial weights
  std::string precision = "fp32";  // fp32 | bf16 (the forward inside a ts::AutocastGuard)
};

[[noreturn]] void usage_error(const std::string& message) {
  throw ts::Error(fmt::format(
      "train_bench: {}\nusage: train_bench --model gpt|bert --config tiny|small --threads N "
      "--steps N --warmup N [--loss-curve N] [--weights FILE.safetensors] "
      "[--save-weights FILE.safetensors] [--profile] [--peak-gflops X | --measure-peak] [--seed S] "
      "[--precision fp32|bf16]",
      message));
}

int64_t parse_int(const std::string& flag, const std::string& value, int64_t min) {
  char* end = nullptr;
  long long v = std::strtoll(value.c_str(), &end, 10);
  if (value.empty() || *end != '\0' || v < min)
    usage_error(fmt::format("{} expects an integer >= {}, got \"{}\"", flag, min, value));
  return v;
}

Args parse_args(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage_error(fmt::format("{} needs a value", flag));
      return argv[++i];
    };
    if (flag == "--model")
      a.model = value();
    else if (flag == "--config")
      a.config = value();
    else if (flag == "--threads")
      a.threads = static_cast<int>(parse_int(flag, value(), 1));
    else if (flag == "--steps")
      a.steps = static_cast<int>(parse_int(flag, value(), 1));
    else if (flag == "--warmup")
      a.warmup = static_cast<int>(parse_int(flag, value(), 0));
    else if (flag == "--loss-curve")
      a.loss_curve = static_cast<int>(parse_int(flag, value(), 1));
    else if (flag == "--weights")
      a.weights = value();
    else if (flag == "--save-weights")
      a.save_weights = value();
    else if (flag == "--profile")
      a.profile = true;
    else if (flag == "--measure-peak")
      a.measure_peak = true;
    else if (flag == "--seed")
      a.seed = static_cast<uint64_t>(parse_int(flag, value(), 0));
    else if (flag == "--precision")
      a.precision = value();
    else if (flag == "--peak-gflops") {
      std::string v = value();
      char* end = nullptr;
      a.peak_gflops = std::strtod(v.c_str(), &end);
      if (v.empty() || *end != '\0' || !(a.peak_gflops > 0))
        usage_error(fmt::format("--peak-gflops expects a positive number, got \"{}\"", v));
    } else {
      usage_error(fmt::format("unknown argument \"{}\"", flag));
    }
  }
  if (a.model != "gpt" && a.model != "bert")
    usage_error(fmt::format("--model must be gpt or bert, got \"{}\"", a.model));
  if (a.config != "tiny" && a.config != "small")
    usage_error(fmt::format("--config must be tiny or small, got \"{}\"", a.config));
  if (a.precision != "fp32" && a.precision != "bf16")
    usage_error(fmt::format("--precision must be fp32 or bf16, got \"{}\"", a.precision));
  return a;
}

// ---- the configs of issue 8 ----

struct BenchConfig {
  int64_t vocab, context, d_model, heads, layers, batch;
};

BenchConfig bench_config(const std::string& name) {
  if (name == "tiny") return {256, 128, 128, 4, 4, 16};
  return {8192, 256, 384, 6, 6, 8};
}

ts::models::ModelConfig model_config(const BenchConfig& b) {
  ts::models::ModelConfig c;
  c.vocab_size = b.vocab;
  c.max_position = b.context;
  c.d_model = b.d_model;
  c.num_heads = b.heads;
  c.num_layers = b.layers;
  c.d_ff = 4 * b.d_model;
  c.dropout = 0.0;
  c.activation = "gelu";  // exact erf GELU, as torch.nn.GELU()
  c.layer_norm_eps = 1e-5;
  return c;
}

// ---- deterministic batches (bench/torch_reference.py generates the same ones) ----
//
// Batch k uses its own 64-bit LCG: state = (k + 1) * 0x9E3779B97F4A7C15 (mod 2^64); next():
// state = state * 6364136223846793005 + 1442695040888963407 (mod 2^64), return state >> 33.
// Each row: s = next() % (V - 2), d = 1 + next() % 7, then for t in [0, T):
// tok = 2 + (s + d t) % (V - 2), replaced by 2 + next() % (V - 2) when next() % 10 == 0
// (a learnable arithmetic pattern with 10% noise). Ids 0 and 1 are never drawn: 1 is [MASK].
// Masked LM: position by position, next() % 100 < 15 selects it: label = its token, input = 1;
// other labels are -100. (No 80/10/10 split: every selected position becomes [MASK].)

constexpr int64_t kMaskId = 1;
constexpr int64_t kIgnore = -100;

struct Lcg {
  uint64_t state;
  explicit Lcg(uint64_t batch_index) : state((batch_index + 1) * 0x9E3779B97F4A7C15ULL) {}
  uint64_t next() {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return state >> 33;
  }
};

struct Batch {
  ts::Tensor input_ids;  // (B, T) int64
  ts::Tensor labels;     // (B, T) int64, masked LM only
};

Batch make_batch(const BenchConfig& c, bool masked_lm, uint64_t index) {
  Lcg g(index);
  const int64_t V = c.vocab, B = c.batch, T = c.context;
  std::vector<int64_t> ids(B * T), labels(B * T, kIgnore);
  for (int64_t b = 0; b < B; ++b) {
    const uint64_t s = g.next() % (V - 2), d = 1 + g.next() % 7;
    for (int64_t t = 0; t < T; ++t) {
      int64_t tok = 2 + static_cast<int64_t>((s + d * t) % (V - 2));
      if (g.next() % 10 == 0) tok = 2 + static_cast<int64_t>(g.next() % (V - 2));
      ids[b * T + t] = tok;
    }
  }
  if (masked_lm)
    for (int64_t i = 0; i < B * T; ++i)
      if (g.next() % 100 < 15) {
        labels[i] = ids[i];
        ids[i] = kMaskId;
      }
  Batch batch{ts::from_vector<int64_t>(ids, {B, T}), ts::Tensor()};
  if (masked_lm) batch.labels = ts::from_vector<int64_t>(labels, {B, T});
  return batch;
}

// ---- the model and one step ----

struct Model {
  std::shared_ptr<ts::models::DecoderModel> gpt;
  std::shared_ptr<ts::models::MaskedLanguageModel> bert;
  bool bf16 = false;  // --precision bf16: the forward runs inside an autocast region
  ts::nn::Module& module() const {
    return gpt ? static_cast<ts::nn::Module&>(*gpt) : static_cast<ts::nn::Module&>(*bert);
  }
  ts::Tensor loss(const Batch& b) const {
    // Backward runs after the region: the recorded ops keep their bf16 policy (autocast.h).
    ts::AutocastGuard amp(bf16);
    if (gpt) return ts::models::causal_lm_loss(gpt->forward(b.input_ids), b.input_ids);
    return ts::models::lm_loss(bert->forward(b.input_ids), b.labels);
  }
};

constexpr double kMaxGradNorm = 1.0;
constexpr ts::optim::AdamWOptions kAdamW{
    .lr = 1e-3, .betas = {0.9, 0.999}, .eps = 1e-8, .weight_decay = 0.01};

// forward, backward, clip, AdamW step, zero_grad; returns the loss (reading it waits for nothing:
// every op has finished when it returns).
float train_step(const Model& m, ts::optim::AdamW& opt, const ts::TensorList& params,
                 const Batch& batch) {
  ts::Tensor loss = m.loss(batch);
  loss.backward();
  {
    ts::profiler::Scope s("optim.clip_grad_norm");
    ts::optim::clip_grad_norm(params, kMaxGradNorm);
  }
  {
    ts::profiler::Scope s("optim.AdamW.step");
    opt.step();
  }
  {
    ts::profiler::Scope s("optim.zero_grad");
    opt.zero_grad();
  }
  return loss.item<float>();
}

// ---- figures ----

// Training FLOPs of one step (the formula printed with the results):
//   6 * N * tokens + 12 * L * T * d * tokens,
// tokens = B * T, N = weights taking part in matmuls per token = L * (4 d^2 + 2 d d_ff) + d * V
// (+ d^2 for BERT's MLM transform); embedding lookups, norms and biases are not counted. The
// attention term counts QK^T and AV over the full T x T square (forward 4 T d per token per
// layer, times 3 for training), the usual convention (PaLM, appendix B) also for causal masks.
double step_flops(const BenchConfig& c, bool bert) {
  const double d = static_cast<double>(c.d_model), L = static_cast<double>(c.layers),
               V = static_cast<double>(c.vocab), T = static_cast<double>(c.context);
  const double tokens = static_cast<double>(c.batch) * T;
  const double n = L * (4 * d * d + 2 * d * 4 * d) + d * V + (bert ? d * d : 0.0);
  return 6 * n * tokens + 12 * L * T * d * tokens;
}

double peak_rss_mb() {
  // VmHWM from /proc (what getrusage's ru_maxrss reports too, in kB), falling back to getrusage.
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::strtod(line.c_str() + 6, nullptr) / 1024.0;
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

#if defined(__x86_64__) && defined(__GNUC__)
// 12 independent 8-wide FMA chains (the latency x throughput product of Zen 3 needs >= 10).
__attribute__((target("avx2,fma"))) double fma_loop(int64_t iterations) {
  typedef float v8 __attribute__((vector_size(32)));
  v8 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = v8{} + 1.0f + 0.001f * static_cast<float>(i);
  const v8 a = v8{} + 0.999999f, b = v8{} + 1e-7f;
  for (int64_t it = 0; it < iterations; ++it)
    for (int i = 0; i < 12; ++i) acc[i] = acc[i] * a + b;
  double sink = 0;
  for (int i = 0; i < 12; ++i)
    for (int j = 0; j < 8; ++j) sink += acc[i][j];
  return sink;
}

// FMA peak of `threads` cores running at once, in GFLOP/s.
double measure_peak_gflops(int threads) {
  if (!__builtin_cpu_supports("fma") || !__builtin_cpu_supports("avx2")) return 0;
  const int64_t iterations = 20'000'000;  // 12 * 8 * 2 flop each: ~3.8 GFLOP per thread
  std::vector<std::thread> pool;
  std::vector<double> sinks(threads);
  auto start = std::chrono::steady_clock::now();
  for (int t = 0; t < threads; ++t) pool.emplace_back([&, t] { sinks[t] = fma_loop(iterations); });
  for (auto& th : pool) th.join();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double flops = static_cast<double>(threads) * static_cast<double>(iterations) * 12 * 8 * 2;
  return sinks[0] == 12345.0 ? 0 : flops / seconds * 1e-9;
}
#else
double measure_peak_gflops(int) { return 0; }
#endif

// The figures issue 8 gives for this machine (fp32 FMA, AVX2): 92 GFLOP/s on one core, 176 on two.
double default_peak_gflops(int threads) {
  return threads == 1 ? 92.0 : threads == 2 ? 176.0 : 88.0 * threads;
}

// CPU time of the whole process (every thread), in ms: on a shared machine it does not count the
// time other jobs hold our core, so 1-thread A/B comparisons use it beside the wall clock.
double process_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) * 1e-6;
}

double percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos)), hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
}

Model build_model(const Args& a, const BenchConfig& bc) {
  ts::manual_seed(a.seed);
  ts::models::ModelConfig c = model_config(bc);
  Model m;
  if (a.model == "gpt")
    m.gpt = std::make_shared<ts::models::DecoderModel>(c);
  else
    m.bert = std::make_shared<ts::models::MaskedLanguageModel>(c);
  if (!a.weights.empty()) ts::load(m.module(), a.weights);
  m.bf16 = a.precision == "bf16";
  m.module().train();
  return m;
}

int run(const Args& a) {
  ts::set_num_threads(a.threads);
  const BenchConfig bc = bench_config(a.config);
  const bool bert = a.model == "bert";
  Model m = build_model(a, bc);
  if (!a.save_weights.empty()) {
    ts::save(m.module(), a.save_weights);
    std::printf("wrote the initial weights of %s %s (seed %llu) to %s\n", a.model.c_str(),
                a.config.c_str(), static_cast<unsigned long long>(a.seed), a.save_weights.c_str());
    return 0;
  }
  ts::TensorList params = m.module().parameters();
  ts::optim::AdamW opt(params, kAdamW);

  if (a.loss_curve > 0) {
    // One line per step: "step k loss x"; compare.sh diffs them against PyTorch's.
    for (int k = 0; k < a.loss_curve; ++k) {
      float loss = train_step(m, opt, params, make_batch(bc, bert, static_cast<uint64_t>(k)));
      std::printf("step %d loss %.9g\n", k, static_cast<double>(loss));
    }
    return 0;
  }

  int64_t n_params = 0;
  for (const ts::Tensor& p : params) n_params += p.numel();
  const int total = a.warmup + a.steps;
  std::vector<Batch> batches;  // made before timing: batch generation is not part of the step
  for (int k = 0; k < total; ++k) batches.push_back(make_batch(bc, bert, static_cast<uint64_t>(k)));

  std::vector<double> ms, cpu_ms;
  float last_loss = 0;
  for (int k = 0; k < total; ++k) {
    if (k == a.warmup && a.profile) {
      ts::profiler::reset();
      ts::profiler::enable();
    }
    const double cpu_start = process_cpu_ms();
    auto start = std::chrono::steady_clock::now();
    last_loss = train_step(m, opt, params, batches[k]);
    double elapsed =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (k >= a.warmup) {
      ms.push_back(elapsed);
      cpu_ms.push_back(process_cpu_ms() - cpu_start);
    }
  }
  ts::profiler::disable();

  const double median = percentile(ms, 0.5), lo = *std::min_element(ms.begin(), ms.end()),
               hi = *std::max_element(ms.begin(), ms.end()), q1 = percentile(ms, 0.25),
               q3 = percentile(ms, 0.75);
  const double tokens = static_cast<double>(bc.batch * bc.context);
  const double tok_s = tokens / (median * 1e-3);
  const double gflops = step_flops(bc, bert) / (median * 1e-3) * 1e-9;
  double peak = a.peak_gflops;
  const char* peak_source = "given";
  if (peak <= 0 && a.measure_peak) {
    peak = measure_peak_gflops(a.threads);
    peak_source = "measured";
  }
  if (peak <= 0) {
    peak = default_peak_gflops(a.threads);
    peak_source = "issue 8's figure";
  }
  const double rss = peak_rss_mb();
  const ts::AllocatorStats alloc = ts::allocator_stats();

  std::printf(
      "taesan %s %s, %d thread(s): %lld parameters, batch %lld x %lld tokens, last loss %.4f\n",
      a.model.c_str(), a.config.c_str(), a.threads, static_cast<long long>(n_params),
      static_cast<long long>(bc.batch), static_cast<long long>(bc.context),
      static_cast<double>(last_loss));
  std::printf(
      "  step: median %.2f ms over %d steps (min %.2f, max %.2f, IQR %.2f-%.2f) after %d warm-up;"
      " process CPU time %.2f ms/step (median)\n",
      median, a.steps, lo, hi, q1, q3, a.warmup, percentile(cpu_ms, 0.5));
  std::printf("  %.0f tokens/s, %.1f GFLOP/s = %.1f%% of the FMA peak (%.1f GFLOP/s, %s)\n", tok_s,
              gflops, 100 * gflops / peak, peak, peak_source);
  std::printf("  FLOP/step %.3e = 6 N tokens + 12 L T d tokens (N = L (4d^2 + 2 d d_ff) + d V%s)\n",
              step_flops(bc, bert), bert ? " + d^2" : "");
  std::printf("  peak RSS %.1f MB; allocator peak in use %.1f MB, OS allocations %llu\n", rss,
              static_cast<double>(alloc.peak_bytes_in_use) / 1048576.0,
              static_cast<unsigned long long>(alloc.os_allocations));
  std::printf(
      "RESULT impl=taesan model=%s config=%s threads=%d steps=%d ms_median=%.3f ms_min=%.3f "
      "ms_max=%.3f cpu_ms_median=%.3f tok_s=%.1f gflops=%.2f peak_frac=%.4f rss_mb=%.1f\n",
      a.model.c_str(), a.config.c_str(), a.threads, a.steps, median, lo, hi,
      percentile(cpu_ms, 0.5), tok_s, gflops, gflops / peak, rss);
  if (a.profile) {
    double total_ms = 0;
    for (double v : ms) total_ms += v;
    std::printf("\nop-level profile of the %d measured steps (ts::profiler; %.2f ms per step):\n%s",
                a.steps, total_ms / a.steps, ts::profiler::table(total_ms, 15).c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(parse_args(argc, argv));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  }
}
