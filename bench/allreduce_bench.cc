// Data-parallel costs on this machine, two local ranks over loopback TCP (Gloo):
//   BM_Allreduce/<MiB>     in-place float32 sum allreduce of 1 MiB .. 256 MiB (Gloo's ring):
//                          bytes_per_second = algorithm bandwidth (buffer size / time; for 2
//                          ranks the bus bandwidth 2(n-1)/n x it is the same number)
//   BM_GptStep/ranks/threads/batch_per_rank   one training step (forward, causal-LM loss,
//                          backward, AdamW) of the `small` GPT preset (vocab 8192, context 256,
//                          d 384, 6 heads, 6 layers): 1 rank x 1 thread, 1 rank x 2 threads, and
//                          2 ranks x 1 thread (DistributedDataParallel), at the same global batch
//                          of 8 sequences and with 8 per rank; counters: tokens/s (global),
//                          comm_frac (communication-thread time / step) and exposed_frac (time
//                          backward waited for communication at its end / step).
// The program forks its rank 1 at start (a FileStore in a fresh /tmp directory); rank 1 runs the
// same benchmarks with its output discarded and sits out the single-rank ones. Iteration counts
// are fixed so both ranks issue the same collectives.
//   ./bench/allreduce_bench [--benchmark_filter=Allreduce]
#include <benchmark/benchmark.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include "taesan/dist/dist.h"
#include <taesan/taesan.h>

namespace ts = taesan;

namespace {

std::shared_ptr<ts::dist::ProcessGroup> g_group;

void BM_Allreduce(benchmark::State& state) {
  const int64_t bytes = state.range(0) << 20;
  ts::Tensor t = ts::ones({bytes / 4});
  g_group->barrier();
  g_group->allreduce(t);  // warm-up: connections, page faults
  for (auto _ : state) g_group->allreduce(t);
  state.SetBytesProcessed(state.iterations() * bytes);
}
BENCHMARK(BM_Allreduce)->Arg(1)->Iterations(40)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Allreduce)->Arg(4)->Iterations(20)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Allreduce)->Arg(16)->Iterations(10)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Allreduce)->Arg(64)->Iterations(5)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Allreduce)->Arg(256)->Iterations(3)->UseRealTime()->Unit(benchmark::kMillisecond);

/// One training step of the small GPT on `batch` random sequences of 256 tokens.
struct GptJob {
  ts::models::ModelConfig config = ts::models::ModelConfig::preset("small", 8192);
  std::shared_ptr<ts::models::DecoderModel> model;
  std::unique_ptr<ts::optim::AdamW> opt;
  ts::Tensor ids, targets;
  explicit GptJob(int64_t batch) {
    ts::manual_seed(1);
    model = std::make_shared<ts::models::DecoderModel>(config);
    opt = std::make_unique<ts::optim::AdamW>(model->parameters(), ts::optim::AdamWOptions{});
    ids = ts::randint(0, config.vocab_size, {batch, config.max_position});
    targets = ts::randint(0, config.vocab_size, {batch * config.max_position});
  }
  void step() {
    opt->zero_grad();
    ts::Tensor logits = model->forward(ids);
    ts::cross_entropy(logits.reshape({-1, config.vocab_size}), targets).backward();
    opt->step();
  }
};

void BM_GptStep(benchmark::State& state) {
  const int ranks = static_cast<int>(state.range(0));
  const int threads = static_cast<int>(state.range(1));
  const int64_t batch = state.range(2);
  if (ranks == 1 && g_group->rank() != 0) {  // rank 1 sits this one out
    for (auto _ : state) {
    }
    return;
  }
  if (ranks == 2) g_group->barrier();  // rank 1 waits here, idle, during the 1-rank runs
  ts::set_num_threads(threads);
  GptJob job(batch);
  std::unique_ptr<ts::dist::DistributedDataParallel> ddp;
  if (ranks == 2) ddp = std::make_unique<ts::dist::DistributedDataParallel>(job.model, g_group);
  job.step();  // warm-up
  if (ddp) ddp->reset_stats();
  for (auto _ : state) job.step();
  const double tokens = static_cast<double>(batch * ranks * job.config.max_position);
  state.counters["tokens/s"] =
      benchmark::Counter(tokens * state.iterations(), benchmark::Counter::kIsRate);
  state.counters["global_batch"] = static_cast<double>(batch * ranks);
  if (ddp) {
    const auto s = ddp->stats();
    // Wall seconds of the timed loop are not available here: report per-step seconds and let
    // the fractions use them (iteration time = real_time column).
    state.counters["comm_s/step"] = s.communication_seconds / state.iterations();
    state.counters["exposed_s/step"] = s.exposed_seconds / state.iterations();
    state.counters["MB/step"] = s.bytes / 1e6 / state.iterations();
  }
  ts::set_num_threads(2);
}
// Same global batch (8): 1x1, 1x2, 2x1; then 8 per rank on 2 ranks (global 16). Three
// repetitions of two steps each; on a shared machine the "min" row is the least disturbed one.
void gpt_args(benchmark::internal::Benchmark* b) {
  for (auto args : std::vector<std::vector<int64_t>>{{1, 1, 8}, {1, 2, 8}, {2, 1, 4}, {2, 1, 8}})
    b->Args(args);
  b->Iterations(2)->Repetitions(3)->UseRealTime()->Unit(benchmark::kSecond);
  b->ComputeStatistics("min", [](const std::vector<double>& v) {
    return *std::min_element(v.begin(), v.end());
  });
}
BENCHMARK(BM_GptStep)->Apply(gpt_args);

}  // namespace

int main(int argc, char** argv) {
  char tmpl[] = "/tmp/taesan-allreduce-bench-XXXXXX";
  if (!::mkdtemp(tmpl)) {
    std::perror("mkdtemp");
    return 1;
  }
  const pid_t parent = ::getpid();
  const pid_t child = ::fork();
  const int rank = child == 0 ? 1 : 0;
  if (rank == 1) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) return 1;
    // Quiet: rank 0 reports (a failure of rank 1 shows as a broken connection there).
    if (!std::freopen("/dev/null", "w", stdout) || !std::freopen("/dev/null", "w", stderr))
      return 1;
  }
  int code = 0;
  try {
    ts::dist::DistEnv env;
    env.distributed = true;
    env.rank = rank;
    env.world_size = 2;
    env.store_path = tmpl;
    env.timeout_seconds = 900;  // rank 1 waits in a barrier while rank 0 runs 1-rank benchmarks
    g_group = ts::dist::ProcessGroup::create(env);
    benchmark::Initialize(&argc, argv);
    benchmark::RunSpecifiedBenchmarks();
    g_group->barrier();
    g_group.reset();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "allreduce_bench rank %d: %s\n", rank, e.what());
    code = 1;
  }
  if (rank == 1) std::_Exit(code);
  int status = 0;
  ::waitpid(child, &status, 0);
  std::error_code ec;
  std::filesystem::remove_all(tmpl, ec);
  return code != 0 ? code : (WIFEXITED(status) ? WEXITSTATUS(status) : 1);
}
