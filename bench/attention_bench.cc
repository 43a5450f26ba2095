// Attention benchmark: ts::scaled_dot_product_attention with the fused kernel (tiled, online
// softmax) beside the reference composition (matmul + masked softmax + matmul), forward and
// forward + backward (ts::grad of out.sum()), fp32, B = 2, H = 4, d = 64, T = 128, 512, 2048,
// causal and not; and the kernel alone, Highway vs its scalar reference.
//   ./attention_bench [--benchmark_filter=...] [--no_memory] [--threads=N]
// Counters: peak_MiB = the caching allocator's peak bytes in use during one call above what the
// inputs hold (outputs, saved tensors, gradients and workspaces included). The peak is a
// process-wide high-water mark that cannot be reset, so each configuration is measured once in a
// child forked before any benchmark runs (no thread has started yet), and attached to the timing.
#include <benchmark/benchmark.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "taesan/autograd/engine.h"
#include "taesan/autograd/factory.h"
#include "taesan/core/parallel.h"
#include "taesan/core/storage.h"
#include "taesan/ops/attention.h"
#include "taesan/ops/kernels/attention.h"
#include "taesan/taesan.h"

namespace ts = taesan;

namespace {

constexpr int64_t kBatch = 2, kHeads = 4, kHeadDim = 64;

struct Config {
  bool fused;
  bool causal;
  bool backward;
  int64_t t;
  std::string name() const {
    return std::string(fused ? "fused" : "reference") + (backward ? "/fwd+bwd" : "/fwd") +
           (causal ? "/causal" : "/full") + "/T:" + std::to_string(t);
  }
};

struct Inputs {
  ts::Tensor q, k, v;
};

Inputs make_inputs(int64_t t) {
  Inputs in;
  in.q = ts::randn({kBatch, kHeads, t, kHeadDim}).requires_grad_();
  in.k = ts::randn({kBatch, kHeads, t, kHeadDim}).requires_grad_();
  in.v = ts::randn({kBatch, kHeads, t, kHeadDim}).requires_grad_();
  return in;
}

// One call: forward, and the gradients of out.sum() with respect to q, k, v.
void run_once(const Config& c, const Inputs& in) {
  const auto backend = c.fused ? ts::AttentionBackend::Fused : ts::AttentionBackend::Reference;
  ts::Tensor out = ts::scaled_dot_product_attention(in.q, in.k, in.v, ts::Tensor(), 0.0, c.causal,
                                                    std::nullopt, backend);
  if (c.backward) {
    ts::TensorList g = ts::grad({out.sum()}, {in.q, in.k, in.v});
    benchmark::DoNotOptimize(g[0].raw_data());
  }
  benchmark::DoNotOptimize(out.raw_data());
}

// Peak bytes above the inputs during one call, measured in a forked child (see file comment).
double probe_peak_mib(const Config& c, int threads) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    if (threads > 0) ts::set_num_threads(threads);
    Inputs in = make_inputs(c.t);
    const size_t base = ts::allocator_stats().bytes_in_use;
    run_once(c, in);
    const double mib = double(ts::allocator_stats().peak_bytes_in_use - base) / (1 << 20);
    const ssize_t written = write(fds[1], &mib, sizeof(mib));
    _exit(written == sizeof(mib) ? 0 : 1);
  }
  close(fds[1]);
  double mib = -1;
  if (read(fds[0], &mib, sizeof(mib)) != sizeof(mib)) mib = -1;
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return mib;
}

void BM_Attention(benchmark::State& state, Config c, double peak_mib) {
  Inputs in = make_inputs(c.t);
  run_once(c, in);  // warm the caching allocator
  for (auto _ : state) run_once(c, in);
  // Multiply-adds of the tile products: forward 2 (QKᵀ, PV), backward 5 more; causal halves them.
  const double products = c.backward ? 7.0 : 2.0;
  const double flops = products * 2.0 * kBatch * kHeads * double(c.t) * double(c.t) * kHeadDim *
                       (c.causal ? 0.5 : 1.0);
  state.counters["GFLOPS"] = benchmark::Counter(
      flops, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
  if (peak_mib >= 0) state.counters["peak_MiB"] = peak_mib;
}

// The kernel alone (raw buffers, no autograd): Highway beside the scalar reference.
void BM_Kernel(benchmark::State& state, bool simd, bool backward) {
  const int64_t t = state.range(0);
  ts::kernels::AttentionParams p;
  p.batch = kBatch;
  p.heads = kHeads;
  p.tq = p.tk = t;
  p.d = p.dv = kHeadDim;
  p.scale = 1.0 / std::sqrt(double(kHeadDim));
  const size_t n = size_t(kBatch * kHeads * t * kHeadDim);
  ts::Tensor x = ts::randn({int64_t(5 * n)});
  const float* q = x.data<float>();
  const float* k = q + n;
  const float* v = k + n;
  const float* dout = v + n;
  std::vector<float> out(n), lse(size_t(kBatch * kHeads * t)), dq(n), dk(n), dv(n);
  for (auto _ : state) {
    if (simd) {
      ts::kernels::attention_forward(p, q, k, v, out.data(), lse.data());
      if (backward)
        ts::kernels::attention_backward(p, q, k, v, out.data(), dout, lse.data(), dq.data(),
                                        dk.data(), dv.data());
    } else {
      ts::kernels::reference::attention_forward(p, q, k, v, out.data(), lse.data());
      if (backward)
        ts::kernels::reference::attention_backward(p, q, k, v, out.data(), dout, lse.data(),
                                                   dq.data(), dk.data(), dv.data());
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::DoNotOptimize(dq.data());
  }
  const double flops =
      (backward ? 7.0 : 2.0) * 2.0 * kBatch * kHeads * double(t) * double(t) * kHeadDim;
  state.counters["GFLOPS"] = benchmark::Counter(
      flops, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}

}  // namespace

int main(int argc, char** argv) {
  bool memory = true;
  int threads = 0;  // 0: the default (hardware concurrency)
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--no_memory") == 0) {
      memory = false;
    } else if (std::strncmp(argv[i], "--threads=", 10) == 0) {
      threads = std::atoi(argv[i] + 10);
    } else {
      args.push_back(argv[i]);
    }
  }
  int nargs = static_cast<int>(args.size());
  std::vector<Config> configs;
  for (bool backward : {false, true})
    for (bool causal : {false, true})
      for (int64_t t : {128, 512, 2048})
        for (bool fused : {true, false}) configs.push_back({fused, causal, backward, t});
  // Probes first: the parent has started no thread yet, so fork() is safe.
  std::map<std::string, double> peak;
  for (const Config& c : configs) peak[c.name()] = memory ? probe_peak_mib(c, threads) : -1;
  if (threads > 0) ts::set_num_threads(threads);
  for (const Config& c : configs)
    benchmark::RegisterBenchmark(("BM_Attention/" + c.name()).c_str(), BM_Attention, c,
                                 peak[c.name()])
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  for (bool backward : {false, true})
    for (bool simd : {true, false})
      benchmark::RegisterBenchmark((std::string("BM_Kernel/") + (simd ? "highway" : "scalar") +
                                    (backward ? "/fwd+bwd" : "/fwd"))
                                       .c_str(),
                                   BM_Kernel, simd, backward)
          ->Arg(128)
          ->Arg(512)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
  benchmark::Initialize(&nargs, args.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
