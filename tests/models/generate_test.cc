// Generation: cached greedy decoding equals argmax over full passes, sampling is seeded,
// top_k = 1 is greedy, beam search with one beam is greedy, EOS stops, bad options fail.
#include <catch2/catch.hpp>
#include <cmath>

#include <taesan/taesan.h>

namespace ts = taesan;
namespace models = ts::models;
using Catch::Matchers::Contains;

namespace {
models::ModelConfig config() {
  models::ModelConfig c;
  c.vocab_size = 23;
  c.max_position = 32;
  c.d_model = 16;
  c.num_heads = 2;
  c.num_layers = 2;
  c.d_ff = 32;
  c.dropout = 0.1;
  return c;
}
}  // namespace

TEST_CASE("cached greedy decoding equals argmax over full forward passes", "[generate]") {
  ts::manual_seed(21);
  models::DecoderModel m(config());
  std::vector<int64_t> prompt = {3, 9, 4};
  auto out = models::generate(m, prompt, {.max_new_tokens = 8});
  REQUIRE(out.size() == 8);
  CHECK(m.is_training());  // restored
  m.eval();
  ts::NoGradGuard g;
  std::vector<int64_t> seq = prompt;
  for (int64_t expected : out) {
    ts::Tensor logits = m.forward(ts::from_vector<int64_t>(seq, {1, static_cast<int64_t>(seq.size())}));
    int64_t next = ts::argmax(logits.slice(1, -1, logits.size(1)).reshape({-1}), 0).item<int64_t>();
    CHECK(next == expected);
    seq.push_back(next);
  }
}

TEST_CASE("sampling is seeded; top_k = 1 and one beam are greedy", "[generate]") {
  ts::manual_seed(22);
  models::DecoderModel m(config());
  std::vector<int64_t> prompt = {1, 2};
  auto greedy = models::generate(m, prompt, {.max_new_tokens = 6});
  auto a = models::generate(m, prompt, {.max_new_tokens = 6, .do_sample = true, .temperature = 1.5, .seed = 7});
  auto b = models::generate(m, prompt, {.max_new_tokens = 6, .do_sample = true, .temperature = 1.5, .seed = 7});
  CHECK(a == b);
  CHECK(models::generate(m, prompt, {.max_new_tokens = 6, .do_sample = true, .top_k = 1, .seed = 3}) == greedy);
  CHECK(models::generate(m, prompt, {.max_new_tokens = 6, .do_sample = true, .top_p = 1e-6, .seed = 3}) == greedy);
  auto beam = models::generate(m, prompt, {.max_new_tokens = 6, .num_beams = 3});
  CHECK(beam.size() == 6);
  CHECK(models::generate(m, prompt, {.max_new_tokens = 6, .num_beams = 3}) == beam);
  // EOS stops generation (make the greedy first token the EOS).
  auto stop = models::generate(m, prompt, {.max_new_tokens = 6, .eos_token_id = greedy[0]});
  CHECK(stop == std::vector<int64_t>{greedy[0]});
}

TEST_CASE("sequence-to-sequence generation with cache and beams", "[generate]") {
  ts::manual_seed(23);
  models::EncoderDecoderModel m(config());
  auto g = models::generate(m, {5, 6, 7}, 1, {.max_new_tokens = 5});
  CHECK(g.size() == 5);
  m.eval();
  ts::NoGradGuard ng;
  std::vector<int64_t> tgt = {1};
  ts::Tensor src = ts::from_vector<int64_t>({5, 6, 7}, {1, 3});
  for (int64_t expected : g) {
    ts::Tensor logits = m.forward(src, ts::Tensor(), ts::from_vector<int64_t>(tgt, {1, static_cast<int64_t>(tgt.size())}));
    int64_t next = ts::argmax(logits.slice(1, -1, logits.size(1)).reshape({-1}), 0).item<int64_t>();
    CHECK(next == expected);
    tgt.push_back(next);
  }
  CHECK(models::generate(m, {5, 6, 7}, 1, {.max_new_tokens = 5, .num_beams = 2}).size() <= 5);
}

TEST_CASE("bad generation options are clear errors", "[generate][errors]") {
  models::DecoderModel m(config());
  CHECK_THROWS_WITH(models::generate(m, {}, {}), Contains("prompt"));
  CHECK_THROWS_WITH(models::generate(m, {1}, {.temperature = 0}), Contains("temperature"));
  CHECK_THROWS_WITH(models::generate(m, {1}, {.top_p = 1.5}), Contains("top_p"));
  CHECK_THROWS_WITH(models::generate(m, {1}, {.num_beams = 2, .length_penalty = std::nan("")}),
                    Contains("length_penalty"));
  CHECK_THROWS_WITH(models::generate(m, {1}, {.do_sample = true, .num_beams = 2}), Contains("beam"));
  CHECK_THROWS_WITH(models::generate(m, {99}, {}), Contains("99"));
}
