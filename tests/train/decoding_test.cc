// train/decoding.h: word tags from the first token of each word, BIO entities as seqeval reads
// them, the best QA span (order, length, context tokens only) and answers widened to whole
// UTF-8 characters.
#include "taesan/train/decoding.h"

#include <catch2/catch.hpp>
#include <limits>

#include "taesan/data/qa.h"
#include <taesan/taesan.h>

namespace ts = taesan;
namespace models = ts::models;
using Catch::Matchers::Contains;

TEST_CASE("ner_word_tags: the first token of a word decides; specials and unseen words",
          "[decoding]") {
  const ts::data::LabelVocab labels({"O", "B-X", "I-X"});
  // 5 tokens: [CLS], word 0 (two tokens), word 1, [SEP]; word 2 was truncated away.
  const std::vector<float> logits = {9, 0, 0,   // [CLS] (ignored)
                                     0, 9, 0,   // word 0, first token: B-X
                                     0, 0, 9,   // word 0, second token: ignored
                                     0, 0, 9,   // word 1: I-X
                                     0, 9, 0};  // [SEP] (ignored)
  const std::vector<int64_t> word_ids = {-1, 0, 0, 1, -1};
  CHECK(models::ner_word_tags(logits.data(), 5, 3, word_ids, 3, labels) ==
        std::vector<std::string>{"B-X", "I-X", "O"});
  CHECK_THROWS_WITH(models::ner_word_tags(logits.data(), 5, 3, word_ids, 1, labels),
                    Contains("word 1"));
  CHECK_THROWS_AS(models::ner_word_tags(logits.data(), 5, 2, word_ids, 3, labels), ts::Error);
}

TEST_CASE("bio_entities reads tags as seqeval does", "[decoding]") {
  const auto e = models::bio_entities({"B-PER", "I-PER", "O", "I-LOC", "I-LOC", "B-LOC", "I-ORG"});
  REQUIRE(e.size() == 4);
  CHECK((e[0].type == "PER" && e[0].first_word == 0 && e[0].last_word == 1));
  CHECK((e[1].type == "LOC" && e[1].first_word == 3 && e[1].last_word == 4));  // I- starts one
  CHECK((e[2].type == "LOC" && e[2].first_word == 5 && e[2].last_word == 5));  // B- splits
  CHECK((e[3].type == "ORG" && e[3].first_word == 6 && e[3].last_word == 6));  // type change
}

TEST_CASE("best_qa_span: context tokens only, start <= end, bounded length", "[decoding]") {
  // tokens: 0 question (offset -1), 1..3 context
  const std::vector<std::pair<int64_t, int64_t>> off = {{-1, -1}, {0, 2}, {3, 5}, {6, 8}};
  const std::vector<float> logits = {100, 100,  // question token: never chosen
                                     1,   0,   5, 0.5, 0, 4};
  const auto s = models::best_qa_span(logits.data(), 4, off, 30);
  CHECK((s.start == 2 && s.end == 3));  // 5 + 4; end before start is not allowed
  const auto one = models::best_qa_span(logits.data(), 4, off, 1);
  CHECK((one.start == 2 && one.end == 2));
  const std::vector<std::pair<int64_t, int64_t>> none = {{-1, -1}};
  CHECK(models::best_qa_span(logits.data(), 1, none).start == -1);
  CHECK_THROWS_AS(models::best_qa_span(logits.data(), 4, off, 0), ts::Error);
}

TEST_CASE("QaAnswerSelector keeps the best window and widens to whole characters", "[decoding]") {
  ts::data::QaDataset ds;
  ts::data::QaRecord r;
  r.context = "Zoë lives";  // "ë" is bytes 2-3
  ds.records.push_back(r);
  ts::data::QaFeature f;
  f.record = 0;
  f.offsets = {{-1, -1}, {0, 3}, {3, 9}};  // token 1 ends inside "ë"
  ds.features = {f, f};
  const std::vector<float> low = {0, 0, 1, 1, 0, 0}, high = {0, 0, 5, 5, 0, 0};
  models::QaAnswerSelector sel(ds);
  CHECK(sel.answer(0).empty());
  sel.add(0, low.data(), 3);
  sel.add(1, high.data(), 3);
  CHECK(sel.answer(0) == "Zoë");
  CHECK(sel.answer_bytes(0) == std::pair<int64_t, int64_t>{0, 4});
  CHECK_THROWS_AS(sel.add(2, high.data(), 3), ts::Error);
}

TEST_CASE("mean_over_word_pieces: a word's first-token row becomes the mean of its tokens",
          "[decoding]") {
  // [CLS], word 0 (tokens 1-3), word 1 (token 4), [SEP], pad.
  const std::vector<int64_t> labels = {-100, 2, -100, -100, 0, -100, -100};
  const std::vector<int64_t> mask = {1, 1, 1, 1, 1, 1, 0};
  std::vector<double> v;
  for (int t = 0; t < 7; ++t) v.insert(v.end(), {1.0 * t, 10.0 * t});
  const ts::Tensor logits = ts::from_vector(v, {1, 7, 2});
  const ts::Tensor y = ts::from_vector(labels, {1, 7});
  const ts::Tensor m = ts::from_vector(mask, {1, 7});
  const auto out = models::mean_over_word_pieces(logits, y, m).to_vector<double>();
  const std::vector<double> expected = {0, 0,  2, 20, 2, 20, 3, 30,  // word 0: mean of 1, 2, 3
                                        4, 40, 5, 50, 6, 60};        // word 1 stops before [SEP]
  CHECK(out == expected);
  // Without a mask the last position is taken for [SEP]: word 1 then runs over tokens 4-5.
  const auto unmasked = models::mean_over_word_pieces(logits, y).to_vector<double>();
  CHECK(unmasked[2] == 2.0);
  CHECK(unmasked[8] == 4.5);

  // Differentiable, also for a non-contiguous input; shapes are checked.
  const ts::Tensor base = ts::randn({1, 2, 7}, ts::kFloat64).requires_grad_(true);
  const auto r = ts::gradcheck(
      [&](const ts::TensorList& in) {
        return models::mean_over_word_pieces(in[0].transpose(1, 2), y, m);
      },
      {base});
  CHECK(r.ok);
  CHECK_THROWS_WITH(models::mean_over_word_pieces(logits, ts::from_vector(labels, {7})),
                    Contains("labels must be (B, T)"));
  CHECK_THROWS_WITH(models::mean_over_word_pieces(logits.reshape({7, 2}), y),
                    Contains("logits must be (B, T, L)"));
}
