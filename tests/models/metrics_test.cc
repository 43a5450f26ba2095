// Metrics against hand-computed values.
#include "taesan/train/metrics.h"

#include <catch2/catch.hpp>
#include <limits>

#include <taesan/taesan.h>

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

TEST_CASE("SQuAD normalisation follows the official script on Unicode text", "[metrics]") {
  // Expected values are those of evaluate-v1.1.py's normalize_answer under Python 3.
  // Lower case is Unicode (str.lower).
  CHECK(m::exact_match("Émile", "émile") == 1.0);
  CHECK(m::exact_match("ZÜRICH", "zürich") == 1.0);
  CHECK(m::exact_match("ΑΘΗΝΑ", "αθηνα") == 1.0);
  CHECK(m::exact_match("МОСКВА", "москва") == 1.0);
  CHECK(m::normalize_answer("ΟΔΟΣ") == "οδος");  // final sigma
  CHECK(m::normalize_answer("İzmir") == "i\xCC\x87zmir");
  CHECK(m::normalize_answer("티끌 모아 태산") == "티끌 모아 태산");
  // Punctuation is string.punctuation, ASCII only: "–", "«»" and "。" stay.
  CHECK(m::normalize_answer("Émile Zola, (1840–1902)!") == "émile zola 1840–1902");
  CHECK(m::normalize_answer("«Germinal»") == "«germinal»");
  CHECK(m::exact_match("1840-1902", "1840–1902") == 0.0);
  // Articles are whole words (\b): next to a non-word character such as "—" they go too.
  CHECK(m::normalize_answer("The—end") == "—end");
  CHECK(m::normalize_answer("Theatre an Anne") == "theatre anne");
  CHECK(m::normalize_answer("À la carte") == "à la carte");
  // White space is Unicode's (str.split): no-break and ideographic spaces separate words.
  CHECK(m::normalize_answer("New\xC2\xA0York\xE3\x80\x80 City") == "new york city");
  CHECK(m::token_f1("Café\xC2\xA0Zürich", "café zürich") == 1.0);
  CHECK(m::token_f1("Émile Zola", "émile") == Approx(2 * 0.5 * 1.0 / 1.5));
}
