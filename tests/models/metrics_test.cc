// Metrics against hand-computed values.
#include "taesan/train/metrics.h"

#include <taesan/taesan.h>

#include <catch2/catch.hpp>
#include <limits>

namespace m = taesan::models;

TEST_CASE("classification metrics", "[metrics]") {
  CHECK(m::accuracy({1, 0, 1, 1}, {1, 1, 1, 0}) == Approx(0.5));
  // class 0: tp 0 fp 1 fn 1 -> f1 0; class 1: tp 2 fp 1 fn 1 -> 4/6
  CHECK(m::macro_f1({1, 0, 1, 1}, {1, 1, 1, 0}, 2) == Approx((0.0 + 4.0 / 6) / 2));
  CHECK_THROWS_AS(m::accuracy({1}, {1, 0}), taesan::Error);
  // Classes that never occur do not count, so num_classes may be anything large (it once sized
  // three count vectors: INT64_MAX threw std::length_error).
  const double f1 = m::macro_f1({1, 0, 1, 1}, {1, 1, 1, 0}, 2);
  CHECK(m::macro_f1({1, 0, 1, 1}, {1, 1, 1, 0}, std::numeric_limits<int64_t>::max()) == f1);
  CHECK(m::macro_f1({}, {}, 3) == 0.0);
}

TEST_CASE("entity-level F1 follows seqeval", "[metrics]") {
  std::vector<std::vector<std::string>> gold = {{"B-PER", "I-PER", "O", "B-LOC"}, {"O", "B-ORG", "I-ORG"}};
  std::vector<std::vector<std::string>> pred = {{"B-PER", "I-PER", "O", "B-ORG"}, {"O", "I-ORG", "I-ORG"}};
  auto s = m::entity_f1(pred, gold);
  // pred entities: PER(0-2) LOC? no: ORG(3-4), ORG(1-3 via I- start) -> 3 predicted; correct: PER, ORG(1-3)
  CHECK(s.predicted == 3);
  CHECK(s.gold == 3);
  CHECK(s.correct == 2);
  CHECK(s.f1 == Approx(2.0 / 3));
}

TEST_CASE("SQuAD exact match and F1 with normalisation", "[metrics]") {
  CHECK(m::exact_match("The Eiffel Tower!", "eiffel tower") == 1.0);
  CHECK(m::token_f1("in the Eiffel Tower", "Eiffel Tower") == Approx(2 * (2.0 / 3) * 1.0 / (2.0 / 3 + 1.0)));
  CHECK(m::token_f1("Paris", "London") == 0.0);
}

TEST_CASE("BLEU, chrF and perplexity", "[metrics]") {
  CHECK(m::corpus_bleu({"the cat sat on the mat"}, {"the cat sat on the mat"}) == Approx(100.0));
  CHECK(m::corpus_bleu({"a b"}, {"c d e f"}) == 0.0);
  double partial = m::corpus_bleu({"the cat sat on a mat today"}, {"the cat sat on the mat"});
  CHECK(partial > 10.0);
  CHECK(partial < 100.0);
  CHECK(m::corpus_chrf({"티끌 모아 태산"}, {"티끌 모아 태산"}) == Approx(100.0));
  double c = m::corpus_chrf({"티끌 모아"}, {"티끌 모아 태산"});
  CHECK(c > 30.0);
  CHECK(c < 100.0);
  CHECK(m::perplexity(std::log(10.0) * 5, 5) == Approx(10.0));
}
