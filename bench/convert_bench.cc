// float32 <-> bfloat16 conversion kernels (Highway SIMD) beside their scalar references, 1K to
// 16M elements, 1 and 2 threads. Counters: items_per_second and bytes_per_second (bytes read +
// written). Also Tensor::to(kBFloat16) and back, which add allocation and the op's bookkeeping.
//   convert_bench --benchmark_min_time=0.2
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "taesan/autograd/factory.h"
#include "taesan/core/parallel.h"
#include "taesan/ops/kernels/convert.h"

namespace ts = taesan;
namespace k = taesan::kernels;

namespace {

/// Deterministic values of every magnitude (a cheap LCG: filling 16M elements must not dominate).
std::vector<float> values(int64_t n) {
  std::vector<float> v(static_cast<size_t>(n));
  uint32_t s = 12345;
  for (auto& e : v) {
    s = s * 1664525u + 1013904223u;
    e = static_cast<float>(static_cast<int32_t>(s)) * 0x1p-20f;
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
  for (int threads : {1, 2})
    for (int64_t n = 1 << 10; n <= (1 << 24); n *= 16) b->Args({n, threads});
}
void sizes_one_thread(benchmark::internal::Benchmark* b) {
  for (int64_t n = 1 << 10; n <= (1 << 24); n *= 16) b->Args({n, 1});
}

void BM_float_to_bf16(benchmark::State& state) {
  const int64_t n = state.range(0);
  ThreadScope threads(static_cast<int>(state.range(1)));
  const std::vector<float> in = values(n);
  std::vector<uint16_t> out(static_cast<size_t>(n));
  for (auto _ : state) {
    k::float_to_bf16(in.data(), out.data(), n);
    benchmark::DoNotOptimize(out.data());
  }
  set_counters(state, n, 6);
}
BENCHMARK(BM_float_to_bf16)->Apply(sizes)->UseRealTime();

void BM_float_to_bf16_reference(benchmark::State& state) {
  const int64_t n = state.range(0);
  const std::vector<float> in = values(n);
  std::vector<uint16_t> out(static_cast<size_t>(n));
  for (auto _ : state) {
    k::float_to_bf16_reference(in.data(), out.data(), n);
    benchmark::DoNotOptimize(out.data());
  }
  set_counters(state, n, 6);
}
BENCHMARK(BM_float_to_bf16_reference)->Apply(sizes_one_thread);

void BM_bf16_to_float(benchmark::State& state) {
  const int64_t n = state.range(0);
  ThreadScope threads(static_cast<int>(state.range(1)));
  std::vector<uint16_t> in(static_cast<size_t>(n));
  k::float_to_bf16_reference(values(n).data(), in.data(), n);
  std::vector<float> out(static_cast<size_t>(n));
  for (auto _ : state) {
    k::bf16_to_float(in.data(), out.data(), n);
    benchmark::DoNotOptimize(out.data());
  }
  set_counters(state, n, 6);
}
BENCHMARK(BM_bf16_to_float)->Apply(sizes)->UseRealTime();

void BM_bf16_to_float_reference(benchmark::State& state) {
  const int64_t n = state.range(0);
  std::vector<uint16_t> in(static_cast<size_t>(n));
  k::float_to_bf16_reference(values(n).data(), in.data(), n);
  std::vector<float> out(static_cast<size_t>(n));
  for (auto _ : state) {
    k::bf16_to_float_reference(in.data(), out.data(), n);
    benchmark::DoNotOptimize(out.data());
  }
  set_counters(state, n, 6);
}
BENCHMARK(BM_bf16_to_float_reference)->Apply(sizes_one_thread);

// The autocast operand pass: float32 in, float32 of bfloat16 values out.
void BM_round_to_bf16(benchmark::State& state) {
  const int64_t n = state.range(0);
  ThreadScope threads(static_cast<int>(state.range(1)));
  const std::vector<float> in = values(n);
  std::vector<float> out(static_cast<size_t>(n));
  for (auto _ : state) {
    k::round_to_bf16(in.data(), out.data(), n);
    benchmark::DoNotOptimize(out.data());
  }
  set_counters(state, n, 8);
}
BENCHMARK(BM_round_to_bf16)->Apply(sizes)->UseRealTime();

void BM_round_to_bf16_reference(benchmark::State& state) {
  const int64_t n = state.range(0);
  const std::vector<float> in = values(n);
  std::vector<float> out(static_cast<size_t>(n));
  for (auto _ : state) {
    k::round_to_bf16_reference(in.data(), out.data(), n);
    benchmark::DoNotOptimize(out.data());
  }
  set_counters(state, n, 8);
}
BENCHMARK(BM_round_to_bf16_reference)->Apply(sizes_one_thread);

void BM_tensor_to_bf16_and_back(benchmark::State& state) {
  const int64_t n = state.range(0);
  ThreadScope threads(static_cast<int>(state.range(1)));
  const ts::Tensor x = ts::randn({n});
  for (auto _ : state) {
    ts::Tensor y = x.to(ts::kBFloat16).to(ts::kFloat32);
    benchmark::DoNotOptimize(y.raw_data());
  }
  set_counters(state, n, 12);
}
BENCHMARK(BM_tensor_to_bf16_and_back)->Apply(sizes)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
