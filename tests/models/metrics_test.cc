// Metrics against hand-computed values.
#include "taesan/train/metrics.h"

#include <catch2/catch.hpp>
#include <cmath>
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

TEST_CASE("BLEU: clipped n-gram precisions and the brevity penalty, by hand", "[metrics]") {
  CHECK(m::corpus_bleu({"the cat sat on the mat"}, {"the cat sat on the mat"}) == Approx(100.0));
  CHECK(m::corpus_bleu({"a b"}, {"c d e f"}) == 0.0);
  // hyp 7 tokens, ref 6: 1-grams 5/7 (a, today miss), 2-grams 3/6 (the cat, cat sat, sat on),
  // 3-grams 2/5, 4-grams 1/4 (the cat sat on); longer than the reference: no penalty.
  // 100 (5/7 * 3/6 * 2/5 * 1/4)^(1/4) = 100 (1/28)^(1/4)
  CHECK(m::corpus_bleu({"the cat sat on a mat today"}, {"the cat sat on the mat"}) ==
        Approx(100 * std::pow(1.0 / 28, 0.25)).epsilon(1e-12));
  // Every n-gram matches but 5 tokens for 6: only the brevity penalty, exp(1 - 6/5).
  CHECK(m::corpus_bleu({"the cat sat on the"}, {"the cat sat on the mat"}) ==
        Approx(100 * std::exp(1 - 6.0 / 5)).epsilon(1e-12));
  // Counts are clipped by the reference's: 1-grams 4/6 (the x3 and cat x3 against 2 each),
  // 2-grams 3/5 (the cat x3 -> 2, cat the x2 -> 1), 3-grams 2/4, 4-grams 1/3.
  CHECK(m::corpus_bleu({"the cat the cat the cat"}, {"the cat the cat"}) ==
        Approx(100 * std::pow(1.0 / 15, 0.25)).epsilon(1e-12));
  // Corpus BLEU pools the counts of both pairs (not a mean of sentence scores): 1-grams 10/12,
  // 2-grams 7/10, 3-grams 5/8, 4-grams 3/6, lengths 12 and 12 (no penalty).
  CHECK(m::corpus_bleu({"the cat sat on a mat today", "the cat sat on the"},
                       {"the cat sat on the mat", "the cat sat on the mat"}) ==
        Approx(100 * std::pow(35.0 / 192, 0.25)).epsilon(1e-12));
}

TEST_CASE("chrF: character n-gram precision and recall, by hand", "[metrics]") {
  // chrF with beta 2 of the mean precision P and recall R over the orders n = 1..6 that both
  // sides have (sacrebleu's effective order): 100 * 5 P R / (4 P + R); spaces removed.
  auto chrf = [](double p, double r) { return 100 * 5 * p * r / (4 * p + r); };
  CHECK(m::corpus_chrf({"티끌 모아 태산"}, {"티끌 모아 태산"}) == Approx(100.0));
  // 4 characters against 6: orders 1-4 only (the hypothesis has no 5- or 6-gram), all precise;
  // recalls 4/6, 3/5, 2/4, 1/3.
  CHECK(m::corpus_chrf({"티끌 모아"}, {"티끌 모아 태산"}) ==
        Approx(chrf(1.0, (4.0 / 6 + 3.0 / 5 + 2.0 / 4 + 1.0 / 3) / 4)).epsilon(1e-12));
  // abcab against abcd: 1-grams 3 of 5 / of 4 (a, b clipped to 1), 2-grams 2 of 4 / 3 (ab once),
  // 3-grams 1 of 3 / 2, 4-grams 0 of 2 / 1; the lone 5-gram has no reference 5-gram.
  CHECK(m::corpus_chrf({"abcab"}, {"abcd"}) ==
        Approx(chrf((3.0 / 5 + 2.0 / 4 + 1.0 / 3 + 0) / 4, (3.0 / 4 + 2.0 / 3 + 1.0 / 2 + 0) / 4))
            .epsilon(1e-12));
  // Repeated characters are clipped: aaaa against aa, 1-grams 2 of 4 / 2, 2-grams 1 of 3 / 1.
  CHECK(m::corpus_chrf({"aaaa"}, {"aa"}) ==
        Approx(chrf((2.0 / 4 + 1.0 / 3) / 2, (2.0 / 2 + 1.0 / 1) / 2)).epsilon(1e-12));
  // A corpus pools the counts: "thecatsat" vs "thecatsatdown" and the Korean pair give matches
  // 13 11 9 7 5 4 of hypothesis n-grams 13 11 9 7 5 4 and reference n-grams 19 17 15 13 11 9.
  CHECK(m::corpus_chrf({"the cat sat", "티끌 모아"}, {"the cat sat down", "티끌 모아 태산"}) ==
        Approx(chrf(1.0, (13.0 / 19 + 11.0 / 17 + 9.0 / 15 + 7.0 / 13 + 5.0 / 11 + 4.0 / 9) / 6))
            .epsilon(1e-12));
}

TEST_CASE("perplexity", "[metrics]") {
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
