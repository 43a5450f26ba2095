// Tokenizer benchmarks on the dataset pack's pretraining text (~5 MB, English + Korean):
// training an 8,000-token byte-level BPE vocabulary, and encoding MB/s single-threaded (with a
// cold and a warm word cache) and batched over the thread pool. Single-threaded benchmarks report
// CPU time (stable on a shared machine); the batched one reports wall time.
// Data: $TS_DATA_DIR, else ../shared/data beside the checkout (found from this file's path).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "taesan/core/parallel.h"
#include "taesan/data/bpe_tokenizer.h"
#include "taesan/data/text_io.h"

namespace {

namespace td = taesan::data;

std::string data_dir() {
  if (const char* env = std::getenv("TS_DATA_DIR")) return env;
  return (std::filesystem::path(__FILE__).parent_path() / ".." / ".." / "shared" / "data").string();
}

// The pretraining lines (each keeps its '\n') and their total bytes; empty without the pack.
const std::vector<std::string>& corpus() {
  static const std::vector<std::string> texts = [] {
    std::vector<std::string> out;
    for (const char* f : {"en_tinyshakespeare.txt", "en_state_union.txt",
                          "ko_klue_dev_sentences.txt", "ko_nsmc_neutral_reviews.txt"}) {
      std::string path = data_dir() + "/" + f;
      if (!std::filesystem::exists(path)) return std::vector<std::string>{};
      for (auto& line : td::read_lines(path)) out.push_back(line + "\n");
    }
    return out;
  }();
  return texts;
}

int64_t corpus_bytes() {
  int64_t n = 0;
  for (const auto& t : corpus()) n += static_cast<int64_t>(t.size());
  return n;
}

td::BpeTrainOptions options_8k() {
  return {.vocab_size = 8000, .min_frequency = 2, .special_tokens = td::kDefaultSpecialTokens};
}

const td::BpeTokenizer& tokenizer_8k() {
  static const td::BpeTokenizer tok = td::BpeTokenizer::train(corpus(), options_8k());
  return tok;
}

bool have_corpus(benchmark::State& state) {
  if (!corpus().empty()) return true;
  state.SkipWithError(("dataset pack not found in " + data_dir() + " (set TS_DATA_DIR)").c_str());
  return false;
}

void BM_TrainBpe8k(benchmark::State& state) {
  if (!have_corpus(state)) return;
  for (auto _ : state) {
    td::BpeTokenizer tok = td::BpeTokenizer::train(corpus(), options_8k());
    benchmark::DoNotOptimize(tok.vocab_size());
  }
  state.SetBytesProcessed(state.iterations() * corpus_bytes());
  state.counters["MB"] = static_cast<double>(corpus_bytes()) / 1e6;
}
BENCHMARK(BM_TrainBpe8k)->Unit(benchmark::kSecond)->Iterations(3);

// Single thread, a fresh tokenizer (empty word cache) for each pass over the corpus.
void BM_EncodeCold(benchmark::State& state) {
  if (!have_corpus(state)) return;
  const std::string json = tokenizer_8k().to_json();
  int64_t tokens = 0;
  for (auto _ : state) {
    state.PauseTiming();
    td::BpeTokenizer tok = td::BpeTokenizer::from_json(json);
    state.ResumeTiming();
    for (const auto& t : corpus()) tokens += static_cast<int64_t>(tok.encode(t).size());
  }
  state.SetBytesProcessed(state.iterations() * corpus_bytes());
  state.counters["tokens"] = static_cast<double>(tokens) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_EncodeCold)->Unit(benchmark::kMillisecond);

// Single thread, word cache already filled.
void BM_EncodeWarm(benchmark::State& state) {
  if (!have_corpus(state)) return;
  const td::BpeTokenizer& tok = tokenizer_8k();
  for (const auto& t : corpus()) benchmark::DoNotOptimize(tok.encode(t));
  for (auto _ : state) {
    for (const auto& t : corpus()) benchmark::DoNotOptimize(tok.encode(t));
  }
  state.SetBytesProcessed(state.iterations() * corpus_bytes());
}
BENCHMARK(BM_EncodeWarm)->Unit(benchmark::kMillisecond);

// encode_batch over the thread pool (per-chunk caches, so cold each time).
void BM_EncodeBatch(benchmark::State& state) {
  if (!have_corpus(state)) return;
  const td::BpeTokenizer& tok = tokenizer_8k();
  const int saved = taesan::get_num_threads();
  taesan::set_num_threads(static_cast<int>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(tok.encode_batch(corpus()));
  taesan::set_num_threads(saved);
  state.SetBytesProcessed(state.iterations() * corpus_bytes());
}
BENCHMARK(BM_EncodeBatch)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
