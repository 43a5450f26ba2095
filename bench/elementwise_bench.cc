// Elementwise kernels (Highway SIMD) beside their scalar references and plain std:: float loops,
// 1K to 16M elements, with the machine's memory bandwidth measured in the same run by a copy and
// a STREAM triad loop. Counters: bytes_per_second (bytes read + written) and items_per_second.
// One-thread runs are timed in CPU time, two-thread runs in real time. BM_*_vs_triad alternate
// the kernel and the triad and keep the best time of each, so that other load on the machine
// hits both alike; their counter `of_triad` is the kernel's fraction of the triad's bandwidth.
//   elementwise_bench --benchmark_min_time=0.2
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "taesan/core/parallel.h"
#include "taesan/ops/kernels/elementwise.h"

namespace ts = taesan;
namespace k = taesan::kernels;

namespace {

/// Deterministic values in [lo, hi] (a cheap LCG: filling 16M elements must not dominate).
std::vector<float> values(int64_t n, float lo, float hi, uint32_t seed) {
  std::vector<float> v(static_cast<size_t>(n));
  uint32_t s = seed;
  for (auto& e : v) {
    s = s * 1664525u + 1013904223u;
    e = lo + (hi - lo) * static_cast<float>(s >> 8) * (1.0f / 16777216.0f);
  }
  return v;
}

/// Sets the thread count for one benchmark and restores it afterwards.
class ThreadScope {
 public:
  explicit ThreadScope(int n) : saved_(ts::get_num_threads()) { ts::set_num_threads(n); }
  ~ThreadScope() { ts::set_num_threads(saved_); }

 private:
  int saved_;
};

void set_counters(benchmark::State& state, int64_t n, int64_t bytes_per_item) {
  state.SetItemsProcessed(state.iterations() * n);
  state.SetBytesProcessed(state.iterations() * n * bytes_per_item);
}

/// Sizes 1K .. 16M (args: n, threads).
void sizes(benchmark::internal::Benchmark* b) {
  for (int64_t n = 1 << 10; n <= (1 << 24); n *= 16) b->Args({n, 1});
  b->Args({1 << 24, 1});
}
void sizes_two_threads(benchmark::internal::Benchmark* b) {
  for (int64_t n = 1 << 10; n <= (1 << 24); n *= 16) b->Args({n, 2});
  b->Args({1 << 24, 2});
}

// ---- memory bandwidth reference ----------------------------------------------------------------

/// STREAM triad a[i] = b[i] + s c[i], split over threads like the kernels.
void triad(float* a, const float* b, const float* c, float s, int64_t n) {
  ts::parallel_for(n, 1 << 15, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) a[i] = b[i] + s * c[i];
  });
}

/// a[i] = b[i], split over threads like the kernels. 8 bytes per element.
void BM_copy(benchmark::State& state) {
  const int64_t n = state.range(0);
  ThreadScope threads(static_cast<int>(state.range(1)));
  std::vector<float> a(static_cast<size_t>(n)), b = values(n, -1, 1, 1);
  for (auto _ : state) {
    ts::parallel_for(n, 1 << 15, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) a[i] = b[i];
    });
    benchmark::DoNotOptimize(a.data());
    benchmark::ClobberMemory();
  }
  set_counters(state, n, 8);
}

/// The triad: 12 bytes per element, like out = a + b.
void BM_triad(benchmark::State& state) {
  const int64_t n = state.range(0);
  ThreadScope threads(static_cast<int>(state.range(1)));
  std::vector<float> a(static_cast<size_t>(n)), b = values(n, -1, 1, 1), c = values(n, -1, 1, 2);
  for (auto _ : state) {
    triad(a.data(), b.data(), c.data(), 3.0f, n);
    benchmark::DoNotOptimize(a.data());
    benchmark::ClobberMemory();
  }
  set_counters(state, n, 12);
}

/// out = a (op) b alternated with the triad; reports the best time of each as bandwidth.
void BM_vs_triad(benchmark::State& state, k::BinaryOp op) {
  using Clock = std::chrono::steady_clock;
  const int64_t n = state.range(0);
  ThreadScope threads(static_cast<int>(state.range(1)));
  std::vector<float> a = values(n, -4, 4, 1), b = values(n, 0.5f, 4, 2);
  std::vector<float> out(static_cast<size_t>(n)), t(static_cast<size_t>(n));
  double best_kernel = 1e30, best_triad = 1e30;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    triad(t.data(), a.data(), b.data(), 3.0f, n);
    benchmark::ClobberMemory();
    const auto t1 = Clock::now();
    k::binary(op, a.data(), 1, b.data(), 1, out.data(), 1, n);
    benchmark::ClobberMemory();
    const auto t2 = Clock::now();
    const double kernel = std::chrono::duration<double>(t2 - t1).count();
    best_triad = std::min(best_triad, std::chrono::duration<double>(t1 - t0).count());
    best_kernel = std::min(best_kernel, kernel);
    state.SetIterationTime(kernel);
  }
  const double bytes = 12.0 * static_cast<double>(n);
  state.counters["kernel_GBps"] = bytes / best_kernel * 1e-9;
  state.counters["triad_GBps"] = bytes / best_triad * 1e-9;
  state.counters["of_triad"] = best_triad / best_kernel;
}

void large_sizes(benchmark::internal::Benchmark* b) {
  for (int threads : {1, 2}) {
    for (int64_t n : {int64_t{1} << 22, int64_t{1} << 24}) b->Args({n, threads});
  }
}

// ---- kernels -----------------------------------------------------------------------------------

enum class Impl { kSimd, kReference, kStdFloat };

void BM_binary(benchmark::State& state, k::BinaryOp op, Impl impl) {
  const int64_t n = state.range(0);
  ThreadScope threads(static_cast<int>(state.range(1)));
  std::vector<float> a = values(n, -4, 4, 1), b = values(n, 0.5f, 4, 2);
  std::vector<float> out(static_cast<size_t>(n));
  for (auto _ : state) {
    if (impl == Impl::kSimd) {
      k::binary(op, a.data(), 1, b.data(), 1, out.data(), 1, n);
    } else {
      k::binary_reference(op, a.data(), 1, b.data(), 1, out.data(), n);
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  set_counters(state, n, 12);
}

/// The plain single-threaded float loop a user would write with <cmath> (for scale: the
/// references compute in double).
void std_float_loop(k::UnaryOp op, const float* x, float* y, int64_t n) {
  switch (op) {
    case k::UnaryOp::kExp:
      for (int64_t i = 0; i < n; ++i) y[i] = std::exp(x[i]);
      break;
    case k::UnaryOp::kTanh:
      for (int64_t i = 0; i < n; ++i) y[i] = std::tanh(x[i]);
      break;
    case k::UnaryOp::kGelu:
      for (int64_t i = 0; i < n; ++i) y[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * 0.70710678f));
      break;
    case k::UnaryOp::kSigmoid:
      for (int64_t i = 0; i < n; ++i) y[i] = 1.0f / (1.0f + std::exp(-x[i]));
      break;
    default:
      break;
  }
}

void BM_unary(benchmark::State& state, k::UnaryOp op, Impl impl) {
  const int64_t n = state.range(0);
  ThreadScope threads(static_cast<int>(state.range(1)));
  const std::vector<float> x = values(n, -4, 4, 3);
  std::vector<float> y(static_cast<size_t>(n));
  for (auto _ : state) {
    if (impl == Impl::kSimd) {
      k::unary(op, 0, x.data(), 1, y.data(), 1, n);
    } else if (impl == Impl::kReference) {
      k::unary_reference(op, 0, x.data(), y.data(), n);
    } else {
      std_float_loop(op, x.data(), y.data(), n);
    }
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  set_counters(state, n, 8);
}

}  // namespace

/// Registers `fn` (with `args`) at 1 thread timed in CPU time (robust to other processes) and at
/// 2 threads timed in real time.
template <class... Args>
void one_and_two_threads(const std::string& name, void (*fn)(benchmark::State&, Args...),
                         Args... args) {
  benchmark::RegisterBenchmark(name.c_str(), fn, args...)->Apply(sizes);
  benchmark::RegisterBenchmark(name.c_str(), fn, args...)->Apply(sizes_two_threads)->UseRealTime();
}

int main(int argc, char** argv) {
  one_and_two_threads("copy", BM_copy);
  one_and_two_threads("triad", BM_triad);
  benchmark::RegisterBenchmark("add_vs_triad", BM_vs_triad, k::BinaryOp::kAdd)
      ->Apply(large_sizes)
      ->UseManualTime();
  benchmark::RegisterBenchmark("mul_vs_triad", BM_vs_triad, k::BinaryOp::kMul)
      ->Apply(large_sizes)
      ->UseManualTime();
  for (auto [name, op] :
       {std::pair{"add", k::BinaryOp::kAdd}, std::pair{"mul", k::BinaryOp::kMul}}) {
    one_and_two_threads(std::string(name) + "_simd", BM_binary, op, Impl::kSimd);
    benchmark::RegisterBenchmark((std::string(name) + "_reference").c_str(), BM_binary, op,
                                 Impl::kReference)
        ->Apply(sizes);
  }
  for (auto [name, op] :
       {std::pair{"exp", k::UnaryOp::kExp}, std::pair{"tanh", k::UnaryOp::kTanh},
        std::pair{"gelu", k::UnaryOp::kGelu}, std::pair{"sigmoid", k::UnaryOp::kSigmoid}}) {
    one_and_two_threads(std::string(name) + "_simd", BM_unary, op, Impl::kSimd);
    benchmark::RegisterBenchmark((std::string(name) + "_reference").c_str(), BM_unary, op,
                                 Impl::kReference)
        ->Apply(sizes);
    benchmark::RegisterBenchmark((std::string(name) + "_std_float").c_str(), BM_unary, op,
                                 Impl::kStdFloat)
        ->Apply(sizes);
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
