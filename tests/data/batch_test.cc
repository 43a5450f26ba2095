// Tests of splits, shuffling, the batcher and the objectives' data side: padding and shapes,
// determinism (across runs and thread counts), masking statistics, causal shift, span corruption.
#include <catch2/catch.hpp>
#include <numeric>
#include <set>

#include "taesan/core/parallel.h"
#include "tokenizer_fixture.h"

namespace ts = taesan;
using namespace ts::test;
using ts::data::Example;
using ts::data::LabelKind;

namespace {

Example make(std::vector<int64_t> ids, std::vector<int64_t> labels, LabelKind kind) {
  Example e;
  e.input_ids = std::move(ids);
  e.labels = std::move(labels);
  e.label_kind = kind;
  return e;
}

}  // namespace

TEST_CASE("splits are deterministic, disjoint and complete", "[data][batch]") {
  auto a = ts::data::split_indices(1000, 0.1, 0.2, 7);
  auto b = ts::data::split_indices(1000, 0.1, 0.2, 7);
  auto c = ts::data::split_indices(1000, 0.1, 0.2, 8);
  CHECK(a.train == b.train);
  CHECK(a.validation == b.validation);
  CHECK(a.test == b.test);
  CHECK(a.validation != c.validation);
  CHECK(a.validation.size() == 100);
  CHECK(a.test.size() == 200);
  CHECK(a.train.size() == 700);
  std::set<int64_t> all(a.train.begin(), a.train.end());
  all.insert(a.validation.begin(), a.validation.end());
  all.insert(a.test.begin(), a.test.end());
  CHECK(all.size() == 1000);
  CHECK(ts::data::select(std::vector<std::string>{"a", "b", "c"}, {2, 0}) ==
        std::vector<std::string>{"c", "a"});
  CHECK_THAT(error_of([] { ts::data::split_indices(10, 0.7, 0.5, 0); }), Catch::Contains("0.7"));
  auto e0 = ts::data::epoch_order(50, 1, 0);
  CHECK(e0 == ts::data::epoch_order(50, 1, 0));
  CHECK(e0 != ts::data::epoch_order(50, 1, 1));
  std::vector<int64_t> sorted = e0;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> iota(50);
  std::iota(iota.begin(), iota.end(), 0);
  CHECK(sorted == iota);
}

TEST_CASE("collate pads to the longest and shapes labels by kind", "[data][batch]") {
  // Per-token labels (NER / LM).
  std::vector<Example> tok_ex = {make({5, 6, 7}, {1, -100, 2}, LabelKind::kPerToken),
                                 make({8}, {3}, LabelKind::kPerToken)};
  auto b = ts::data::collate(tok_ex, {.pad_id = 0});
  CHECK(b.input_ids.shape() == ts::Shape{2, 3});
  CHECK(b.input_ids.dtype() == ts::kInt64);
  CHECK(b.input_ids.to_vector<int64_t>() == std::vector<int64_t>{5, 6, 7, 8, 0, 0});
  CHECK(b.attention_mask.to_vector<int64_t>() == std::vector<int64_t>{1, 1, 1, 1, 0, 0});
  CHECK(b.token_type_ids.to_vector<int64_t>() == std::vector<int64_t>(6, 0));
  CHECK(b.labels.to_vector<int64_t>() == std::vector<int64_t>{1, -100, 2, 3, -100, -100});
  CHECK_FALSE(b.decoder_input_ids.defined());
  // One label per sequence: (B).
  auto cls = ts::data::collate({make({1, 2}, {1}, LabelKind::kPerSequence),
                                make({1, 2, 3, 4}, {0}, LabelKind::kPerSequence)});
  CHECK(cls.labels.shape() == ts::Shape{2});
  CHECK(cls.input_ids.shape() == ts::Shape{2, 4});
  // Two per sequence (QA start/end) with token types: (B, 2).
  Example qa = make({2, 9, 3, 10, 11, 3}, {3, 4}, LabelKind::kPerSequence);
  qa.token_type_ids = {0, 0, 0, 1, 1, 1};
  auto q = ts::data::collate({qa, make({2, 3}, {0, 0}, LabelKind::kPerSequence)});
  CHECK(q.labels.shape() == ts::Shape{2, 2});
  CHECK(q.token_type_ids.to_vector<int64_t>() ==
        std::vector<int64_t>{0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0});
  // Seq2seq targets.
  Example s1 = make({4, 5, 6}, {7, 8, 6}, LabelKind::kTarget);
  s1.decoder_input_ids = {5, 7, 8};
  Example s2 = make({4, 6}, {6}, LabelKind::kTarget);
  s2.decoder_input_ids = {5};
  auto s = ts::data::collate({s1, s2}, {.pad_id = 0});
  CHECK(s.decoder_input_ids.to_vector<int64_t>() == std::vector<int64_t>{5, 7, 8, 5, 0, 0});
  CHECK(s.decoder_attention_mask.to_vector<int64_t>() == std::vector<int64_t>{1, 1, 1, 1, 0, 0});
  CHECK(s.labels.to_vector<int64_t>() == std::vector<int64_t>{7, 8, 6, 6, -100, -100});
  // Mixed or inconsistent examples are refused.
  CHECK_THAT(error_of([&] {
               ts::data::collate({tok_ex[0], make({1, 2}, {1}, LabelKind::kPerSequence)});
             }),
             Catch::Contains("example 1"));
  CHECK_THAT(error_of([] {
               ts::data::collate({make({1, 2}, {1}, LabelKind::kPerToken)});
             }),
             Catch::Contains("1 per-token labels for 2 input_ids"));
  CHECK_THAT(error_of([] { ts::data::collate(std::vector<Example>{}); }),
             Catch::Contains("no examples"));
}

TEST_CASE("batcher: every example once per epoch, deterministic, reshuffled per epoch",
          "[data][batch]") {
  std::vector<Example> examples;
  for (int64_t i = 0; i < 103; ++i) {
    examples.push_back(
        make(std::vector<int64_t>(1 + (i * 7) % 13, i), {i % 2}, LabelKind::kPerSequence));
  }
  ts::data::Batcher batcher(examples, {.batch_size = 10, .shuffle = true, .seed = 3});
  CHECK(batcher.num_batches() == 11);
  auto epoch_indices = [&](int64_t epoch) {
    batcher.set_epoch(epoch);
    std::vector<int64_t> all;
    for (int64_t i = 0; i < batcher.num_batches(); ++i) {
      ts::data::Batch b = batcher.batch(i);
      all.insert(all.end(), b.indices.begin(), b.indices.end());
      // Rows are the examples they claim to be.
      auto ids = b.input_ids.to_vector<int64_t>();
      REQUIRE(ids[0] == b.indices[0]);
      REQUIRE(b.labels.to_vector<int64_t>()[0] == b.indices[0] % 2);
    }
    return all;
  };
  auto e0 = epoch_indices(0);
  auto e1 = epoch_indices(1);
  CHECK(e0 == epoch_indices(0));
  CHECK(e0 != e1);
  std::vector<int64_t> sorted = e1;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> iota(103);
  std::iota(iota.begin(), iota.end(), 0);
  CHECK(sorted == iota);
  // A second batcher with the same seed gives the same order; drop_last drops the short batch.
  ts::data::Batcher same(examples,
                         {.batch_size = 10, .shuffle = true, .seed = 3, .drop_last = true});
  CHECK(same.num_batches() == 10);
  CHECK(same.batch_indices(0) == std::vector<int64_t>(e0.begin(), e0.begin() + 10));
  // Without shuffling: file order.
  ts::data::Batcher ordered(examples, {.batch_size = 10, .shuffle = false});
  CHECK(ordered.batch_indices(1).front() == 10);
}

TEST_CASE("a batch size larger than the data makes one batch, also when bucketing",
          "[data][batch]") {
  // batch_size * bucket_pool_batches once overflowed to 0 or below and the plan never ended.
  std::vector<Example> examples;
  for (int64_t i = 0; i < 5; ++i) examples.push_back(make({1, 2, 3}, {}, LabelKind::kNone));
  for (int64_t pool_batches : {1, 2, 4}) {
    ts::data::Batcher b(examples, {.batch_size = int64_t{1} << 62,
                                   .bucket_by_length = true,
                                   .bucket_pool_batches = pool_batches});
    CHECK(b.num_batches() == 1);
    CHECK(b.batch(0).indices.size() == 5);
  }
}

TEST_CASE("bucketing by length reduces padding", "[data][batch]") {
  std::vector<Example> examples;
  for (int64_t i = 0; i < 400; ++i) {
    examples.push_back(make(std::vector<int64_t>(1 + (i * 37) % 64, 1), {}, LabelKind::kNone));
  }
  auto padding = [&](bool bucket) {
    ts::data::Batcher b(
        examples,
        {.batch_size = 16, .seed = 1, .bucket_by_length = bucket, .bucket_pool_batches = 25});
    int64_t pad = 0, seen = 0;
    for (int64_t i = 0; i < b.num_batches(); ++i) {
      auto batch = b.batch(i);
      auto mask = batch.attention_mask.to_vector<int64_t>();
      pad += static_cast<int64_t>(std::count(mask.begin(), mask.end(), 0));
      seen += static_cast<int64_t>(batch.indices.size());
      CHECK_FALSE(batch.labels.defined());
    }
    CHECK(seen == 400);
    return pad;
  };
  int64_t plain = padding(false);
  int64_t bucketed = padding(true);
  CHECK(bucketed * 5 < plain);
}

TEST_CASE("masked-LM masking: 15% of non-special tokens, 80/10/10", "[data][objectives]") {
  const int64_t vocab = 1000;
  ts::data::MlmOptions opt{.mask_id = 4, .vocab_size = vocab, .special_ids = {0, 1, 2, 3, 4}};
  std::vector<int64_t> ids;
  for (int64_t i = 0; i < 100000; ++i)
    ids.push_back(i % 50 == 0 ? 2 : 5 + (i * 7919) % (vocab - 5));
  Example m = ts::data::mask_tokens(ids, opt, /*seed=*/11, /*stream=*/0);
  REQUIRE(m.input_ids.size() == ids.size());
  REQUIRE(m.label_kind == LabelKind::kPerToken);
  int64_t selected = 0, masked = 0, random = 0, kept = 0, candidates = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] == 2) {
      REQUIRE(m.input_ids[i] == 2);  // special tokens are never selected
      REQUIRE(m.labels[i] == -100);
      continue;
    }
    ++candidates;
    if (m.labels[i] == -100) {
      REQUIRE(m.input_ids[i] == ids[i]);
      continue;
    }
    REQUIRE(m.labels[i] == ids[i]);
    ++selected;
    if (m.input_ids[i] == 4) {
      ++masked;
    } else if (m.input_ids[i] == ids[i]) {
      ++kept;
    } else {
      REQUIRE(m.input_ids[i] >= 5);  // random replacements are never special
      ++random;
    }
  }
  const double rate = static_cast<double>(selected) / static_cast<double>(candidates);
  CHECK(rate == Approx(0.15).margin(0.006));
  CHECK(static_cast<double>(masked) / selected == Approx(0.8).margin(0.015));
  CHECK(static_cast<double>(random) / selected == Approx(0.1).margin(0.012));
  CHECK(static_cast<double>(kept) / selected == Approx(0.1).margin(0.012));
  // Same seed and stream: same mask; another stream: another mask.
  CHECK(ts::data::mask_tokens(ids, opt, 11, 0).input_ids == m.input_ids);
  CHECK(ts::data::mask_tokens(ids, opt, 11, 1).input_ids != m.input_ids);
  CHECK_THAT(error_of([&] {
               auto bad = opt;
               bad.mask_id = -1;
               ts::data::mask_tokens(ids, bad, 1, 0);
             }),
             Catch::Contains("mask_id -1"));
  CHECK_THAT(error_of([&] {
               ts::data::mask_tokens(std::vector<int64_t>{5, vocab}, opt, 1, 0);
             }),
             Catch::Contains("position 1"));
  CHECK_THAT(error_of([&] {
               auto bad = opt;
               bad.special_ids.push_back(vocab + 7);
               ts::data::mask_tokens(ids, bad, 1, 0);
             }),
             Catch::Contains("special id " + std::to_string(vocab + 7)));
}

TEST_CASE("masking in a batcher transform is the same for any thread count", "[data][objectives]") {
  const auto& tok = tiny_tokenizer();
  auto segments = ts::data::sentence_segments(tok, tiny_corpus(), {.max_length = 32});
  auto opt = ts::data::mlm_options(tok);
  CHECK(opt.mask_id == tok.token_to_id("[MASK]"));
  auto run = [&](int threads) {
    ts::set_num_threads(threads);
    ts::data::Batcher b(segments, {.batch_size = 8, .seed = 5});
    b.set_transform([&](const Example& e, int64_t index, int64_t epoch) {
      return ts::data::mask_tokens(e, opt, 99, static_cast<uint64_t>(index * 1000 + epoch));
    });
    b.set_epoch(2);
    std::vector<int64_t> all;
    for (int64_t i = 0; i < b.num_batches(); ++i) {
      auto batch = b.batch(i);
      auto ids = batch.input_ids.to_vector<int64_t>();
      auto labels = batch.labels.to_vector<int64_t>();
      all.insert(all.end(), ids.begin(), ids.end());
      all.insert(all.end(), labels.begin(), labels.end());
    }
    return all;
  };
  const int saved = ts::get_num_threads();
  auto one = run(1);
  auto two = run(2);
  ts::set_num_threads(saved);
  CHECK(one == two);
  CHECK(std::count(one.begin(), one.end(), opt.mask_id) > 0);
}

TEST_CASE("causal-LM shift", "[data][objectives]") {
  Example e = ts::data::causal_lm_example({10, 11, 12, 13});
  CHECK(e.input_ids == std::vector<int64_t>{10, 11, 12});
  CHECK(e.labels == std::vector<int64_t>{11, 12, 13});
  CHECK(e.label_kind == LabelKind::kPerToken);
  CHECK_THAT(error_of([] { ts::data::causal_lm_example({1}); }), Catch::Contains("1 token"));
}

TEST_CASE("T5 span corruption: sentinels, spans, shifted decoder inputs", "[data][objectives]") {
  std::vector<int64_t> ids;
  for (int64_t i = 0; i < 200; ++i) ids.push_back(100 + i);
  std::vector<int64_t> sentinels;
  for (int64_t i = 0; i < 20; ++i) sentinels.push_back(50 + i);
  ts::data::SpanCorruptionOptions opt{.noise_density = 0.15,
                                      .mean_span_length = 3.0,
                                      .sentinel_ids = sentinels,
                                      .eos_id = 6,
                                      .decoder_start_id = 0};
  Example e = ts::data::span_corruption(ids, opt, 1, 0);
  CHECK(e.label_kind == LabelKind::kTarget);
  CHECK(e.input_ids.back() == 6);
  CHECK(e.labels.back() == 6);
  // 30 noise tokens in 10 spans.
  int64_t spans = std::count_if(e.input_ids.begin(), e.input_ids.end(),
                                [](int64_t t) { return t >= 50 && t < 70; });
  CHECK(spans == 10);
  CHECK(e.input_ids.size() == 200 - 30 + 10 + 1);
  CHECK(e.labels.size() == 30 + 10 + 1);
  CHECK(e.decoder_input_ids.front() == 0);
  CHECK(std::equal(e.labels.begin(), e.labels.end() - 1, e.decoder_input_ids.begin() + 1));
  // Putting the spans back where their sentinels are rebuilds the original.
  std::vector<int64_t> rebuilt;
  for (int64_t t : e.input_ids) {
    if (t == 6) break;
    if (t >= 50 && t < 70) {
      auto it = std::find(e.labels.begin(), e.labels.end(), t) + 1;
      while (it != e.labels.end() && !(*it >= 50 && *it < 70) && *it != 6) rebuilt.push_back(*it++);
    } else {
      rebuilt.push_back(t);
    }
  }
  CHECK(rebuilt == ids);
  CHECK(ts::data::span_corruption(ids, opt, 1, 0).input_ids == e.input_ids);
  CHECK(ts::data::span_corruption(ids, opt, 2, 0).input_ids != e.input_ids);
  opt.sentinel_ids.resize(3);
  CHECK_THAT(error_of([&] { ts::data::span_corruption(ids, opt, 1, 0); }),
             Catch::Contains("sentinel"));
}

TEST_CASE("span corruption options from a tokenizer that has sentinels", "[data][pack]") {
  TS_SKIP_WITHOUT_PACK();
  auto o = ts::data::span_corruption_options(pack_tokenizer());
  CHECK(o.sentinel_ids.size() == 20);
  CHECK(o.eos_id == pack_tokenizer().token_to_id("[EOS]"));
}

TEST_CASE("collate pads labels with label_pad_id", "[data][batch]") {
  std::vector<Example> tok_ex = {make({5, 6, 7}, {1, -100, 2}, LabelKind::kPerToken),
                                 make({8}, {3}, LabelKind::kPerToken)};
  auto b = ts::data::collate(tok_ex, {.pad_id = 9, .label_pad_id = -1});
  CHECK(b.input_ids.to_vector<int64_t>() == std::vector<int64_t>{5, 6, 7, 8, 9, 9});
  // the example's own -100 stays; only the padding takes label_pad_id
  CHECK(b.labels.to_vector<int64_t>() == std::vector<int64_t>{1, -100, 2, 3, -1, -1});
  Example s1 = make({4, 5, 6}, {7, 8, 6}, LabelKind::kTarget);
  s1.decoder_input_ids = {5, 7, 8};
  Example s2 = make({4, 6}, {6}, LabelKind::kTarget);
  s2.decoder_input_ids = {5};
  auto s = ts::data::collate({s1, s2}, {.pad_id = 0, .label_pad_id = 0});
  CHECK(s.labels.to_vector<int64_t>() == std::vector<int64_t>{7, 8, 6, 6, 0, 0});
  CHECK(s.decoder_input_ids.to_vector<int64_t>() == std::vector<int64_t>{5, 7, 8, 5, 0, 0});
}

TEST_CASE("masked-LM masking follows non-default probability and fractions", "[data][objectives]") {
  // 40% selected; of those 50% [MASK], 30% a random token, 20% kept. Binomial standard
  // deviations over ~39000 selected of ~98000 candidates are below 0.003: margins of 4-5 of them.
  const int64_t vocab = 1000;
  ts::data::MlmOptions opt{.mask_id = 4,
                           .vocab_size = vocab,
                           .special_ids = {0, 1, 2, 3, 4},
                           .probability = 0.4,
                           .mask_fraction = 0.5,
                           .random_fraction = 0.3};
  std::vector<int64_t> ids;
  for (int64_t i = 0; i < 100000; ++i)
    ids.push_back(i % 50 == 0 ? 2 : 5 + (i * 7919) % (vocab - 5));
  const Example m = ts::data::mask_tokens(ids, opt, /*seed=*/12, /*stream=*/0);
  int64_t selected = 0, masked = 0, random = 0, kept = 0, candidates = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] == 2) continue;
    ++candidates;
    if (m.labels[i] == -100) continue;
    ++selected;
    masked += m.input_ids[i] == 4;
    kept += m.input_ids[i] == ids[i];
    random += m.input_ids[i] != 4 && m.input_ids[i] != ids[i];
  }
  CHECK(static_cast<double>(selected) / candidates == Approx(0.4).margin(0.01));
  CHECK(static_cast<double>(masked) / selected == Approx(0.5).margin(0.012));
  CHECK(static_cast<double>(random) / selected == Approx(0.3).margin(0.012));
  CHECK(static_cast<double>(kept) / selected == Approx(0.2).margin(0.012));
}
