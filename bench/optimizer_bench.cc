// The fused optimizer kernels beside their scalar references: AdamW (one pass reading param,
// grad, exp_avg, exp_avg_sq and writing three of them back), SGD with momentum, and the squared
// norm of clip_grad_norm. Reported as bytes moved per second, the bound of these loops.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "taesan/core/parallel.h"
#include "taesan/ops/kernels/optimizer.h"

namespace k = taesan::kernels;

namespace {

template <typename T>
std::vector<T> random_vector(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> dist(-1, 1);
  std::vector<T> v(n);
  for (auto& x : v) x = static_cast<T>(dist(rng));
  return v;
}

constexpr k::AdamStep kAdamW{.lr = 1e-3, .weight_decay = 0.01, .decoupled = true, .step = 10};

template <typename T, bool kReference>
void BM_AdamW(benchmark::State& state) {
  taesan::set_num_threads(static_cast<int>(state.range(1)));
  const size_t n = static_cast<size_t>(state.range(0));
  auto p = random_vector<T>(n, 1), g = random_vector<T>(n, 2), m = random_vector<T>(n, 3);
  auto v = random_vector<T>(n, 4);
  for (auto& x : v) x = x * x;
  for (auto _ : state) {
    if (kReference)
      k::adam_update_reference(kAdamW, p.data(), g.data(), m.data(), v.data(), nullptr, n);
    else
      k::adam_update(kAdamW, p.data(), g.data(), m.data(), v.data(), nullptr, n);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(n * sizeof(T) * 7));
}

template <typename T, bool kReference>
void BM_SgdMomentum(benchmark::State& state) {
  taesan::set_num_threads(static_cast<int>(state.range(1)));
  const size_t n = static_cast<size_t>(state.range(0));
  auto p = random_vector<T>(n, 1), g = random_vector<T>(n, 2), b = random_vector<T>(n, 3);
  const k::SgdStep s{.lr = 0.01, .momentum = 0.9, .weight_decay = 1e-4};
  for (auto _ : state) {
    if (kReference)
      k::sgd_update_reference(s, p.data(), g.data(), b.data(), n);
    else
      k::sgd_update(s, p.data(), g.data(), b.data(), n);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(n * sizeof(T) * 5));
}

template <typename T, bool kReference>
void BM_SumSquares(benchmark::State& state) {
  taesan::set_num_threads(static_cast<int>(state.range(1)));
  const size_t n = static_cast<size_t>(state.range(0));
  const auto x = random_vector<T>(n, 1);
  for (auto _ : state) {
    const double s =
        kReference ? k::sum_squares_reference(x.data(), n) : k::sum_squares(x.data(), n);
    benchmark::DoNotOptimize(s);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(n * sizeof(T)));
}

// Sizes: in L2 (16K), in L3 (256K), in memory (4M elements); 1 and 2 threads.
void Args(benchmark::internal::Benchmark* b) {
  for (int64_t n : {1 << 14, 1 << 18, 1 << 22}) {
    b->Args({n, 1});
    if (n >= (1 << 18)) b->Args({n, 2});
  }
  b->ArgNames({"n", "threads"});
}

}  // namespace

BENCHMARK(BM_AdamW<float, false>)->Apply(Args)->UseRealTime();
BENCHMARK(BM_AdamW<float, true>)->Apply(Args)->UseRealTime();
BENCHMARK(BM_AdamW<double, false>)->Apply(Args)->UseRealTime();
BENCHMARK(BM_AdamW<double, true>)->Apply(Args)->UseRealTime();
BENCHMARK(BM_SgdMomentum<float, false>)->Apply(Args)->UseRealTime();
BENCHMARK(BM_SgdMomentum<float, true>)->Apply(Args)->UseRealTime();
BENCHMARK(BM_SumSquares<float, false>)->Apply(Args)->UseRealTime();
BENCHMARK(BM_SumSquares<float, true>)->Apply(Args)->UseRealTime();

BENCHMARK_MAIN();
