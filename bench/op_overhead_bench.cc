// Per-op overhead: a tiny elementwise op with and without recording it in the autograd graph.
// The difference between the two is the cost of recording (target: under 1 µs).
#include <benchmark/benchmark.h>

#include <taesan/taesan.h>

namespace ts = taesan;

static void BM_TinyAdd_NoGrad(benchmark::State& state) {
  ts::Tensor a = ts::ones({4}), b = ts::ones({4});
  ts::NoGradGuard no_grad;
  for (auto _ : state) benchmark::DoNotOptimize(a + b);
}
BENCHMARK(BM_TinyAdd_NoGrad);

static void BM_TinyAdd_Recorded(benchmark::State& state) {
  ts::Tensor a = ts::ones({4}).requires_grad_(), b = ts::ones({4});
  for (auto _ : state) benchmark::DoNotOptimize(a + b);
}
BENCHMARK(BM_TinyAdd_Recorded);

static void BM_TinyMul_Recorded_SavesInputs(benchmark::State& state) {
  ts::Tensor a = ts::ones({4}).requires_grad_(), b = ts::ones({4}).requires_grad_();
  for (auto _ : state) benchmark::DoNotOptimize(a * b);
}
BENCHMARK(BM_TinyMul_Recorded_SavesInputs);

static void BM_TinyView_NoGrad(benchmark::State& state) {
  ts::Tensor a = ts::ones({4, 4});
  ts::NoGradGuard no_grad;
  for (auto _ : state) benchmark::DoNotOptimize(a.transpose(0, 1));
}
BENCHMARK(BM_TinyView_NoGrad);

static void BM_TinyView_Recorded(benchmark::State& state) {
  ts::Tensor a = ts::ones({4, 4}).requires_grad_();
  for (auto _ : state) benchmark::DoNotOptimize(a.transpose(0, 1));
}
BENCHMARK(BM_TinyView_Recorded);

// A chain of 100 tiny recorded ops and its backward pass, per op.
static void BM_TinyChain100_ForwardBackward(benchmark::State& state) {
  ts::Tensor a = ts::ones({4}).requires_grad_();
  for (auto _ : state) {
    ts::Tensor y = a;
    for (int i = 0; i < 100; ++i) y = y * 1.0001;
    y.sum().backward();
  }
  state.SetItemsProcessed(state.iterations() * 100);
}
BENCHMARK(BM_TinyChain100_ForwardBackward);

BENCHMARK_MAIN();
