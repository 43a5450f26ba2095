// Benchmarks of the row kernels (ops/kernels/rowwise.h) in float32: the Highway kernels on one
// thread and on every hardware thread beside the scalar references (one thread), for softmax,
// log-softmax, softmax backward, layer norm and RMS norm forward/backward, fused cross entropy and
// sum_reduce.
// Counters: bytes/s of the tensors each call must read and write at least once. Single-thread
// modes use CPU time, the all-threads mode wall time (see register_modes).
// Run: bench/rowwise_bench --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "taesan/core/parallel.h"
#include "taesan/ops/kernels/rowwise.h"

namespace ts = taesan;
namespace k = taesan::kernels;

namespace {

/// Which implementation a benchmark runs (first benchmark argument).
enum Mode : int64_t { kScalar = 0, kSimd1 = 1, kSimdAll = 2 };

const char* mode_label(int64_t mode) {
  switch (mode) {
    case kScalar:
      return "scalar reference";
    case kSimd1:
      return "simd 1 thread";
    default:
      return "simd all threads";
  }
}

/// Sets the thread count for the mode and labels the benchmark.
void setup(benchmark::State& state) {
  const int64_t mode = state.range(0);
  ts::set_num_threads(
      mode == kSimdAll ? static_cast<int>(std::max(1u, std::thread::hardware_concurrency())) : 1);
  state.SetLabel(mode_label(mode));
}

std::vector<float> random_vector(size_t n, double scale = 1.0, double offset = 0.0) {
  std::mt19937 rng(42);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = static_cast<float>(offset + scale * normal(rng));
  return v;
}

void set_bytes(benchmark::State& state, double bytes_per_call) {
  state.counters["bytes/s"] =
      benchmark::Counter(bytes_per_call * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate, benchmark::Counter::kIs1024);
}

void BM_softmax(benchmark::State& state) {
  setup(state);
  const int64_t rows = state.range(1), cols = state.range(2);
  const auto x = random_vector(static_cast<size_t>(rows * cols), 3.0);
  std::vector<float> y(x.size());
  for (auto _ : state) {
    if (state.range(0) == kScalar)
      k::reference::softmax_rows(x.data(), y.data(), rows, cols);
    else
      k::softmax_rows(x.data(), y.data(), rows, cols);
    benchmark::DoNotOptimize(y.data());
  }
  set_bytes(state, 2.0 * sizeof(float) * static_cast<double>(x.size()));
}

void BM_log_softmax(benchmark::State& state) {
  setup(state);
  const int64_t rows = state.range(1), cols = state.range(2);
  const auto x = random_vector(static_cast<size_t>(rows * cols), 3.0);
  std::vector<float> y(x.size());
  for (auto _ : state) {
    if (state.range(0) == kScalar)
      k::reference::log_softmax_rows(x.data(), y.data(), rows, cols);
    else
      k::log_softmax_rows(x.data(), y.data(), rows, cols);
    benchmark::DoNotOptimize(y.data());
  }
  set_bytes(state, 2.0 * sizeof(float) * static_cast<double>(x.size()));
}

void BM_softmax_backward(benchmark::State& state) {
  setup(state);
  const int64_t rows = state.range(1), cols = state.range(2);
  const auto x = random_vector(static_cast<size_t>(rows * cols), 3.0);
  const auto g = random_vector(x.size());
  std::vector<float> y(x.size()), dx(x.size());
  k::softmax_rows(x.data(), y.data(), rows, cols);
  for (auto _ : state) {
    if (state.range(0) == kScalar)
      k::reference::softmax_backward_rows(y.data(), g.data(), dx.data(), rows, cols);
    else
      k::softmax_backward_rows(y.data(), g.data(), dx.data(), rows, cols);
    benchmark::DoNotOptimize(dx.data());
  }
  set_bytes(state, 3.0 * sizeof(float) * static_cast<double>(x.size()));
}

void BM_layer_norm_forward(benchmark::State& state) {
  setup(state);
  const int64_t rows = state.range(1), cols = state.range(2);
  const auto x = random_vector(static_cast<size_t>(rows * cols), 2.0, 0.5);
  const auto w = random_vector(static_cast<size_t>(cols), 0.1, 1.0);
  const auto b = random_vector(static_cast<size_t>(cols), 0.1);
  std::vector<float> y(x.size()), mean(static_cast<size_t>(rows)), rstd(mean.size());
  for (auto _ : state) {
    if (state.range(0) == kScalar)
      k::reference::layer_norm_forward(x.data(), w.data(), b.data(), y.data(), mean.data(),
                                       rstd.data(), rows, cols, 1e-5);
    else
      k::layer_norm_forward(x.data(), w.data(), b.data(), y.data(), mean.data(), rstd.data(), rows,
                            cols, 1e-5);
    benchmark::DoNotOptimize(y.data());
  }
  set_bytes(state, 2.0 * sizeof(float) * static_cast<double>(x.size()));
}

void BM_layer_norm_backward(benchmark::State& state) {
  setup(state);
  const int64_t rows = state.range(1), cols = state.range(2);
  const auto x = random_vector(static_cast<size_t>(rows * cols), 2.0, 0.5);
  const auto g = random_vector(x.size());
  const auto w = random_vector(static_cast<size_t>(cols), 0.1, 1.0);
  std::vector<float> y(x.size()), mean(static_cast<size_t>(rows)), rstd(mean.size());
  k::layer_norm_forward(x.data(), w.data(), nullptr, y.data(), mean.data(), rstd.data(), rows, cols,
                        1e-5);
  std::vector<float> dx(x.size()), dw(static_cast<size_t>(cols)), db(dw.size());
  for (auto _ : state) {
    if (state.range(0) == kScalar)
      k::reference::layer_norm_backward(x.data(), g.data(), w.data(), mean.data(), rstd.data(),
                                        dx.data(), dw.data(), db.data(), rows, cols);
    else
      k::layer_norm_backward(x.data(), g.data(), w.data(), mean.data(), rstd.data(), dx.data(),
                             dw.data(), db.data(), rows, cols);
    benchmark::DoNotOptimize(dx.data());
  }
  set_bytes(state, 3.0 * sizeof(float) * static_cast<double>(x.size()));
}

void BM_rms_norm_forward(benchmark::State& state) {
  setup(state);
  const int64_t rows = state.range(1), cols = state.range(2);
  const auto x = random_vector(static_cast<size_t>(rows * cols), 2.0, 0.5);
  const auto w = random_vector(static_cast<size_t>(cols), 0.1, 1.0);
  std::vector<float> y(x.size()), rstd(static_cast<size_t>(rows));
  for (auto _ : state) {
    if (state.range(0) == kScalar)
      k::reference::rms_norm_forward(x.data(), w.data(), y.data(), rstd.data(), rows, cols, 1e-6);
    else
      k::rms_norm_forward(x.data(), w.data(), y.data(), rstd.data(), rows, cols, 1e-6);
    benchmark::DoNotOptimize(y.data());
  }
  set_bytes(state, 2.0 * sizeof(float) * static_cast<double>(x.size()));
}

void BM_rms_norm_backward(benchmark::State& state) {
  setup(state);
  const int64_t rows = state.range(1), cols = state.range(2);
  const auto x = random_vector(static_cast<size_t>(rows * cols), 2.0, 0.5);
  const auto g = random_vector(x.size());
  const auto w = random_vector(static_cast<size_t>(cols), 0.1, 1.0);
  std::vector<float> y(x.size()), rstd(static_cast<size_t>(rows));
  k::rms_norm_forward(x.data(), w.data(), y.data(), rstd.data(), rows, cols, 1e-6);
  std::vector<float> dx(x.size()), dw(static_cast<size_t>(cols));
  for (auto _ : state) {
    if (state.range(0) == kScalar)
      k::reference::rms_norm_backward(x.data(), g.data(), w.data(), rstd.data(), dx.data(),
                                      dw.data(), rows, cols);
    else
      k::rms_norm_backward(x.data(), g.data(), w.data(), rstd.data(), dx.data(), dw.data(), rows,
                           cols);
    benchmark::DoNotOptimize(dx.data());
  }
  set_bytes(state, 3.0 * sizeof(float) * static_cast<double>(x.size()));
}

/// Forward (loss, lse) then backward (dx) of cross entropy, as one training step uses them.
void BM_cross_entropy_fwd_bwd(benchmark::State& state) {
  setup(state);
  const int64_t rows = state.range(1), cols = state.range(2);
  const auto x = random_vector(static_cast<size_t>(rows * cols), 3.0);
  std::vector<int64_t> targets(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) targets[static_cast<size_t>(r)] = (r * 7919) % cols;
  std::vector<float> loss(targets.size()), lse(targets.size()), dx(x.size());
  const std::vector<float> grow(targets.size(), 1.0f / static_cast<float>(rows));
  for (auto _ : state) {
    if (state.range(0) == kScalar) {
      k::reference::cross_entropy_forward(x.data(), targets.data(), loss.data(), lse.data(), rows,
                                          cols, -100, 0.1);
      k::reference::cross_entropy_backward(x.data(), targets.data(), lse.data(), grow.data(),
                                           dx.data(), rows, cols, -100, 0.1);
    } else {
      k::cross_entropy_forward(x.data(), targets.data(), loss.data(), lse.data(), rows, cols, -100,
                               0.1);
      k::cross_entropy_backward(x.data(), targets.data(), lse.data(), grow.data(), dx.data(), rows,
                                cols, -100, 0.1);
    }
    benchmark::DoNotOptimize(dx.data());
  }
  set_bytes(state, 3.0 * sizeof(float) * static_cast<double>(x.size()));  // x twice, dx once
}

/// sum_reduce of (outer, n, inner): full sums of 1 K .. 16 M elements and a column sum.
void BM_sum_reduce(benchmark::State& state) {
  setup(state);
  const int64_t outer = state.range(1), n = state.range(2), inner = state.range(3);
  const auto x = random_vector(static_cast<size_t>(outer * n * inner));
  std::vector<float> out(static_cast<size_t>(outer * inner));
  for (auto _ : state) {
    if (state.range(0) == kScalar)
      k::reference::sum_reduce(x.data(), out.data(), outer, n, inner);
    else
      k::sum_reduce(x.data(), out.data(), outer, n, inner);
    benchmark::DoNotOptimize(out.data());
  }
  set_bytes(state, sizeof(float) * static_cast<double>(x.size()));
}

/// Registers `fn` for every shape (its arguments after the mode) and mode. The single-thread modes
/// are timed by CPU time (robust when other processes share the machine); the all-threads mode by
/// wall time, the only meaningful clock for it.
void register_modes(const char* name, void (*fn)(benchmark::State&),
                    const std::vector<std::string>& arg_names,
                    const std::vector<std::vector<int64_t>>& shapes) {
  std::vector<std::string> names = {"mode"};
  names.insert(names.end(), arg_names.begin(), arg_names.end());
  for (const auto& shape : shapes)
    for (int64_t mode : {kScalar, kSimd1, kSimdAll}) {
      std::vector<int64_t> args = {mode};
      args.insert(args.end(), shape.begin(), shape.end());
      auto* b = benchmark::RegisterBenchmark(name, fn)->ArgNames(names)->Args(args);
      b->Unit(benchmark::kMicrosecond);
      if (mode == kSimdAll) b->UseRealTime();
    }
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> rc = {"rows", "cols"};
  const std::vector<std::vector<int64_t>> softmax = {{4096, 128}, {512, 8192}, {64, 32000}};
  const std::vector<std::vector<int64_t>> layer_norm = {{8192, 384}, {2048, 768}};
  register_modes("softmax", BM_softmax, rc, softmax);
  register_modes("log_softmax", BM_log_softmax, rc, softmax);
  register_modes("softmax_backward", BM_softmax_backward, rc, softmax);
  register_modes("layer_norm_forward", BM_layer_norm_forward, rc, layer_norm);
  register_modes("layer_norm_backward", BM_layer_norm_backward, rc, layer_norm);
  register_modes("rms_norm_forward", BM_rms_norm_forward, rc, layer_norm);
  register_modes("rms_norm_backward", BM_rms_norm_backward, rc, layer_norm);
  register_modes("cross_entropy_fwd_bwd", BM_cross_entropy_fwd_bwd, rc, {{2048, 8192}});
  // Full sums of 1 K .. 16 M elements, row sums, and a column sum (sum over dim 0).
  register_modes(
      "sum_reduce", BM_sum_reduce, {"outer", "n", "inner"},
      {{1, 1 << 10, 1}, {1, 1 << 20, 1}, {1, 1 << 24, 1}, {4096, 768, 1}, {1, 4096, 768}});
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
