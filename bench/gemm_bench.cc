// GEMM benchmark: kernels::gemm beside OpenBLAS's cblas_sgemm (when CMake found it:
// TS_HAVE_OPENBLAS) and a naive loop, at 1 and 2 threads, on the shapes of issue 3 (squares,
// Transformer projections, batched attention; NN, NT, TN). The fp32 FMA peak is measured in the
// same run (independent MulAdd chains) and every result is also reported as a fraction of it.
//   ./gemm_bench [--benchmark_filter=...]   5 repetitions each, reported as mean/median/stddev
//   (the median is robust to neighbours on a shared machine); counters: GFLOPS, peak_frac (of the
//   peak for the same thread count), vs_openblas (ours only: our GFLOPS / OpenBLAS's, same
//   shape/threads). TS_BENCH_CPU_TIME=1 times with the process CPU time divided by the thread count
//   instead of the wall clock: use it on a machine shared with other jobs (the wall clock then
//   measures the neighbours; the FMA peak is then per thread CPU time as well).
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "taesan/bench/gemm_bench.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace taesan::bench::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// 12 independent chains c = c * x + y (more than latency x throughput = 4 x 2 on Zen 3/4), so
// the FMA units, not the latency, bound the loop. Returns the flops done.
HWY_NOINLINE double FmaChains(int64_t iters, float* sink) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  const V x = hn::Set(d, 0.99999f), y = hn::Set(d, 1e-6f);
  V c0 = hn::Set(d, 0.1f), c1 = hn::Set(d, 0.2f), c2 = hn::Set(d, 0.3f), c3 = hn::Set(d, 0.4f);
  V c4 = hn::Set(d, 0.5f), c5 = hn::Set(d, 0.6f), c6 = hn::Set(d, 0.7f), c7 = hn::Set(d, 0.8f);
  V c8 = hn::Set(d, 0.9f), c9 = hn::Set(d, 1.0f), c10 = hn::Set(d, 1.1f), c11 = hn::Set(d, 1.2f);
  for (int64_t i = 0; i < iters; ++i) {
    c0 = hn::MulAdd(c0, x, y);
    c1 = hn::MulAdd(c1, x, y);
    c2 = hn::MulAdd(c2, x, y);
    c3 = hn::MulAdd(c3, x, y);
    c4 = hn::MulAdd(c4, x, y);
    c5 = hn::MulAdd(c5, x, y);
    c6 = hn::MulAdd(c6, x, y);
    c7 = hn::MulAdd(c7, x, y);
    c8 = hn::MulAdd(c8, x, y);
    c9 = hn::MulAdd(c9, x, y);
    c10 = hn::MulAdd(c10, x, y);
    c11 = hn::MulAdd(c11, x, y);
  }
  const V s = hn::Add(hn::Add(hn::Add(c0, c1), hn::Add(c2, c3)),
                      hn::Add(hn::Add(hn::Add(c4, c5), hn::Add(c6, c7)),
                              hn::Add(hn::Add(c8, c9), hn::Add(c10, c11))));
  *sink = hn::GetLane(hn::SumOfLanes(d, s));
  return double(iters) * 12.0 * double(hn::Lanes(d)) * 2.0;
}

}  // namespace taesan::bench::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE

#include <benchmark/benchmark.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "taesan/core/parallel.h"
#include "taesan/ops/kernels/elementwise.h"
#include "taesan/ops/kernels/gemm.h"

#ifdef TS_HAVE_OPENBLAS
extern "C" {
// From OpenBLAS's cblas.h (declared here so the benchmark needs no include path for it).
void cblas_sgemm(int order, int trans_a, int trans_b, int m, int n, int k, float alpha,
                 const float* a, int lda, const float* b, int ldb, float beta, float* c, int ldc);
void openblas_set_num_threads(int num_threads);
}
namespace {
constexpr int kCblasRowMajor = 101, kCblasNoTrans = 111, kCblasTrans = 112;
}
#endif

namespace taesan::bench {
HWY_EXPORT(FmaChains);
namespace {

// Seconds, from the wall clock or (TS_BENCH_CPU_TIME=1) the CPU time of `clock`.
bool use_cpu_time() {
  static const bool cpu = [] {
    const char* v = std::getenv("TS_BENCH_CPU_TIME");
    return v != nullptr && v[0] == '1';
  }();
  return cpu;
}
double now(clockid_t clock) {
  if (!use_cpu_time()) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  timespec ts;
  clock_gettime(clock, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

// Best-of-5 GFLOP/s of the FMA chains on `threads` threads running at once.
double measure_peak(int threads) {
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    std::vector<std::thread> pool;
    std::vector<double> flops(size_t(threads), 0), secs(size_t(threads), 0);
    std::vector<float> sink(static_cast<size_t>(threads));
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        const double t0 = now(CLOCK_THREAD_CPUTIME_ID);
        flops[size_t(t)] = HWY_DYNAMIC_DISPATCH(FmaChains)(20'000'000, &sink[size_t(t)]);
        secs[size_t(t)] = now(CLOCK_THREAD_CPUTIME_ID) - t0;
      });
    }
    for (auto& th : pool) th.join();
    double total = 0, slowest = 0;
    for (int t = 0; t < threads; ++t) {
      total += flops[size_t(t)];
      slowest = std::max(slowest, secs[size_t(t)]);
    }
    best = std::max(best, total / slowest * 1e-9);
  }
  return best;
}

double g_peak[3] = {0, 0, 0};  // by thread count

struct Shape {
  std::string name;
  int64_t batch, m, n, k;
};

const std::vector<Shape>& shapes() {
  static const std::vector<Shape> s = {
      {"sq64", 1, 64, 64, 64},
      {"sq128", 1, 128, 128, 128},
      {"sq256", 1, 256, 256, 256},
      {"sq512", 1, 512, 512, 512},
      {"sq1024", 1, 1024, 1024, 1024},
      {"sq2048", 1, 2048, 2048, 2048},
      {"512x768x768", 1, 512, 768, 768},
      {"512x3072x768", 1, 512, 3072, 768},
      {"512x768x3072", 1, 512, 768, 3072},
      {"2048x256x256", 1, 2048, 256, 256},
      {"2048x1024x256", 1, 2048, 1024, 256},
      {"2048x256x1024", 1, 2048, 256, 1024},
      {"32x128x128x64", 32, 128, 128, 64},
      {"32x128x64x128", 32, 128, 64, 128},
  };
  return s;
}

enum class Impl { kOurs, kOpenBlas, kNaive };
const char* kTransNames[] = {"NN", "NT", "TN"};

// Inputs of one shape/transposition: A, B and C per batch item, contiguous.
struct Problem {
  bool ta, tb;
  int64_t batch, m, n, k, lda, ldb, ldc, sa, sb, sc;
  std::vector<float> a, b, c;
  Problem(const Shape& s, int trans) : ta(trans == 2), tb(trans == 1) {
    batch = s.batch;
    m = s.m;
    n = s.n;
    k = s.k;
    lda = ta ? m : k;
    ldb = tb ? k : n;
    ldc = n;
    sa = m * k;
    sb = k * n;
    sc = m * n;
    std::mt19937 rng(42);
    std::uniform_real_distribution<float> dist(-1.f, 1.f);
    a.resize(size_t(batch * sa));
    b.resize(size_t(batch * sb));
    c.assign(size_t(batch * sc), 0.f);
    for (auto& x : a) x = dist(rng);
    for (auto& x : b) x = dist(rng);
  }
};

void naive(const Problem& p, float* c) {
  for (int64_t bi = 0; bi < p.batch; ++bi) {
    const float* a = p.a.data() + bi * p.sa;
    const float* b = p.b.data() + bi * p.sb;
    float* cb = c + bi * p.sc;
    for (int64_t i = 0; i < p.m; ++i) {
      for (int64_t j = 0; j < p.n; ++j) {
        float s = 0;
        for (int64_t q = 0; q < p.k; ++q) {
          s += (p.ta ? a[q * p.lda + i] : a[i * p.lda + q]) *
               (p.tb ? b[j * p.ldb + q] : b[q * p.ldb + j]);
        }
        cb[i * p.ldc + j] = s;
      }
    }
  }
}

void run_once(Impl impl, Problem& p) {
  switch (impl) {
    case Impl::kOurs:
      kernels::gemm_strided_batched(p.batch, p.ta, p.tb, p.m, p.n, p.k, 1.f, p.a.data(), p.lda,
                                    p.sa, p.b.data(), p.ldb, p.sb, 0.f, p.c.data(), p.ldc, p.sc);
      break;
    case Impl::kOpenBlas:
#ifdef TS_HAVE_OPENBLAS
      for (int64_t bi = 0; bi < p.batch; ++bi) {
        cblas_sgemm(kCblasRowMajor, p.ta ? kCblasTrans : kCblasNoTrans,
                    p.tb ? kCblasTrans : kCblasNoTrans, int(p.m), int(p.n), int(p.k), 1.f,
                    p.a.data() + bi * p.sa, int(p.lda), p.b.data() + bi * p.sb, int(p.ldb), 0.f,
                    p.c.data() + bi * p.sc, int(p.ldc));
      }
#endif
      break;
    case Impl::kNaive:
      naive(p, p.c.data());
      break;
  }
}

// GFLOP/s of OpenBLAS by benchmark key (shape/trans/threads), for the vs_openblas counter of
// the ours-benchmark that runs after it.
std::map<std::string, double> g_openblas;

void bm_gemm(benchmark::State& state, Impl impl, const Shape& shape, int trans, int threads) {
  set_num_threads(threads);
#ifdef TS_HAVE_OPENBLAS
  openblas_set_num_threads(threads);
#endif
  Problem p(shape, trans);
  run_once(impl, p);  // warm up: packing buffers, thread pool, page faults
  double total = 0;
  for (auto _ : state) {
    const double t0 = now(CLOCK_PROCESS_CPUTIME_ID);
    run_once(impl, p);
    const double dt = (now(CLOCK_PROCESS_CPUTIME_ID) - t0) / (use_cpu_time() ? threads : 1);
    state.SetIterationTime(dt);
    total += dt;
    benchmark::DoNotOptimize(p.c.data());
  }
  const double flops = 2.0 * double(p.batch * p.m * p.n * p.k);
  const double gflops = flops * double(state.iterations()) / total * 1e-9;
  state.counters["GFLOPS"] = gflops;
  state.counters["peak_frac"] = gflops / g_peak[threads];
  const std::string key = shape.name + "/" + kTransNames[trans] + "/" + std::to_string(threads);
  if (impl == Impl::kOpenBlas) g_openblas[key] = gflops;
  if (impl == Impl::kOurs && g_openblas.count(key)) {
    state.counters["vs_openblas"] = gflops / g_openblas[key];
  }
}

// The feed-forward layer's first product y = GELU(x Wᵀ + b) (x: m x k, W: n x k) three ways:
// kSeparate = GEMM with the bias epilogue, then a GELU pass over y (what an unfused framework
// does); kFused = GELU in the epilogue; kFusedPre = also storing x Wᵀ + b for the backward (what
// taesan's feed_forward op runs). GFLOPS counts the GEMM's 2 m n k only, so the columns compare.
enum class EpilogueMode { kSeparate, kFused, kFusedPre };
void bm_epilogue(benchmark::State& state, EpilogueMode mode, int64_t m, int64_t n, int64_t k,
                 int threads) {
  set_num_threads(threads);
  Problem p(Shape{"", 1, m, n, k}, /*trans=*/1);
  std::vector<float> bias(size_t(n), 0.1f), pre(size_t(m * n)), y(size_t(m * n));
  auto run = [&] {
    kernels::GemmEpilogue<float> e;
    e.bias = bias.data();
    if (mode != EpilogueMode::kSeparate) e.activation = kernels::GemmActivation::kGelu;
    if (mode == EpilogueMode::kFusedPre) {
      e.pre_activation = pre.data();
      e.ld_pre_activation = n;
    }
    float* out = mode == EpilogueMode::kSeparate ? pre.data() : y.data();
    kernels::gemm_fused(false, true, m, n, k, 1.f, p.a.data(), k, p.b.data(), k, 0.f, out, n, e);
    if (mode == EpilogueMode::kSeparate) {
      // The elementwise GELU kernel, rows split over the pool as the gelu op does.
      parallel_for(m, 16, [&](int64_t r0, int64_t r1) {
        kernels::unary(kernels::UnaryOp::kGelu, 0, pre.data() + r0 * n, 1, y.data() + r0 * n, 1,
                       (r1 - r0) * n);
      });
    }
  };
  run();
  double total = 0;
  for (auto _ : state) {
    const double t0 = now(CLOCK_PROCESS_CPUTIME_ID);
    run();
    const double dt = (now(CLOCK_PROCESS_CPUTIME_ID) - t0) / (use_cpu_time() ? threads : 1);
    state.SetIterationTime(dt);
    total += dt;
    benchmark::DoNotOptimize(y.data());
  }
  const double gflops = 2.0 * double(m * n * k) * double(state.iterations()) / total * 1e-9;
  state.counters["GFLOPS"] = gflops;
  state.counters["peak_frac"] = gflops / g_peak[threads];
}

void bm_peak(benchmark::State& state, int threads) {
  for (auto _ : state) {
    const double gflops = measure_peak(threads);
    state.counters["GFLOPS"] = gflops;
    g_peak[threads] = std::max(g_peak[threads], gflops);
  }
}

}  // namespace
}  // namespace taesan::bench

int main(int argc, char** argv) {
  namespace tb = taesan::bench;
  tb::g_peak[1] = tb::measure_peak(1);
  tb::g_peak[2] = tb::measure_peak(2);
  const int64_t targets = hwy::SupportedTargets() & HWY_TARGETS;
  std::printf("fp32 FMA peak: %.1f GFLOP/s on 1 thread, %.1f on 2 (target %s)\n", tb::g_peak[1],
              tb::g_peak[2], hwy::TargetName(targets & -targets));
  for (int threads : {1, 2}) {
    benchmark::RegisterBenchmark(("fma_peak/threads:" + std::to_string(threads)).c_str(),
                                 tb::bm_peak, threads)
        ->Iterations(1)
        ->Unit(benchmark::kMillisecond);
  }
  for (const tb::Shape& shape : tb::shapes()) {
    for (int trans = 0; trans < 3; ++trans) {
      for (int threads : {1, 2}) {
        const std::string suffix =
            shape.name + "/" + tb::kTransNames[trans] + "/threads:" + std::to_string(threads);
#ifdef TS_HAVE_OPENBLAS
        benchmark::RegisterBenchmark(("openblas/" + suffix).c_str(), tb::bm_gemm,
                                     tb::Impl::kOpenBlas, shape, trans, threads)
            ->UseManualTime()
            ->MinTime(0.1)
            ->Repetitions(5)
            ->ReportAggregatesOnly(true)
            ->Unit(benchmark::kMicrosecond);
#endif
        benchmark::RegisterBenchmark(("ours/" + suffix).c_str(), tb::bm_gemm, tb::Impl::kOurs,
                                     shape, trans, threads)
            ->UseManualTime()
            ->MinTime(0.1)
            ->Repetitions(5)
            ->ReportAggregatesOnly(true)
            ->Unit(benchmark::kMicrosecond);
        if (shape.batch * shape.m * shape.n * shape.k <= 256 * 256 * 256 && trans == 0 &&
            threads == 1) {
          benchmark::RegisterBenchmark(("naive/" + suffix).c_str(), tb::bm_gemm, tb::Impl::kNaive,
                                       shape, trans, threads)
              ->UseManualTime()
              ->MinTime(0.1)
              ->Repetitions(5)
              ->ReportAggregatesOnly(true)
              ->Unit(benchmark::kMicrosecond);
        }
      }
    }
  }
  // Feed-forward first products of train_bench's tiny and small configs (batch x context rows).
  const struct {
    const char* name;
    int64_t m, n, k;
  } ffn[] = {{"ffn_tiny_2048x512x128", 2048, 512, 128}, {"ffn_small_2048x1536x384", 2048, 1536, 384}};
  const std::pair<tb::EpilogueMode, const char*> modes[] = {
      {tb::EpilogueMode::kSeparate, "bias_then_gelu_pass"},
      {tb::EpilogueMode::kFused, "fused_bias_gelu"},
      {tb::EpilogueMode::kFusedPre, "fused_bias_gelu_keep_pre"}};
  for (const auto& f : ffn) {
    for (int threads : {1, 2}) {
      for (const auto& [mode, mode_name] : modes) {
        benchmark::RegisterBenchmark((std::string("epilogue/") + f.name + "/" + mode_name +
                                      "/threads:" + std::to_string(threads)).c_str(),
                                     tb::bm_epilogue, mode, f.m, f.n, f.k, threads)
            ->UseManualTime()
            ->MinTime(0.1)
            ->Repetitions(5)
            ->ReportAggregatesOnly(true)
            ->Unit(benchmark::kMicrosecond);
      }
    }
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

#endif  // HWY_ONCE
