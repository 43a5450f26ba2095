// Tests of the loaders: every file of the pack with its README's row counts, NER and QA label
// alignment, plain-text blocks and segments, and a ts::Error naming file and line for bad input.
#include <algorithm>
#include <catch2/catch.hpp>
#include <limits>
#include <map>
#include <set>

#include "tokenizer_fixture.h"

namespace ts = taesan;
using namespace ts::test;

namespace {

std::string trim(std::string s) {
  auto not_space = [](unsigned char c) { return !std::isspace(c); };
  s.erase(s.begin(), std::find_if(s.begin(), s.end(), not_space));
  s.erase(std::find_if(s.rbegin(), s.rend(), not_space).base(), s.end());
  return s;
}

std::string slice_text(const ts::data::BpeTokenizer& tok, const std::vector<int64_t>& ids,
                       int64_t first, int64_t last) {
  return tok.decode(std::vector<int64_t>(ids.begin() + first, ids.begin() + last + 1));
}

}  // namespace

TEST_CASE("plain-text files have the README's line counts", "[data][datasets][pack]") {
  TS_SKIP_WITHOUT_PACK();
  CHECK(ts::data::read_lines(data_file("en_tinyshakespeare.txt")).size() == 40000);
  CHECK(ts::data::read_lines(data_file("ko_klue_dev_sentences.txt")).size() == 7038);
  CHECK(ts::data::read_lines(data_file("ko_nsmc_neutral_reviews.txt")).size() == 15880);
  // The README counts 65 addresses, not lines; the file itself has 7,334 lines.
  CHECK(ts::data::read_lines(data_file("en_state_union.txt")).size() == 7334);
  CHECK(ts::data::read_lines(data_file("ko_klue_dev_sentences.txt"), {.skip_empty = true}).size() ==
        7038);
}

TEST_CASE("classification TSVs load with labels by index and by header name",
          "[data][datasets][pack]") {
  TS_SKIP_WITHOUT_PACK();
  const auto& tok = pack_tokenizer();
  auto sms = ts::data::load_classification_tsv(
      data_file("en_sms_spam.tsv"), tok,
      {.label_column = 0, .text_column = 1, .expected_columns = 2});
  REQUIRE(sms.examples.size() == 5574);
  CHECK(sms.labels.labels() == std::vector<std::string>{"ham", "spam"});
  int64_t spam = 0;
  for (const auto& e : sms.examples) {
    spam += e.labels[0];
    CHECK(e.input_ids.front() == tok.token_to_id("[CLS]"));
    CHECK(e.input_ids.back() == tok.token_to_id("[SEP]"));
    CHECK(e.input_ids.size() <= 128);
  }
  CHECK(spam == 747);
  CHECK(tok.decode(std::vector<int64_t>(sms.examples[1].input_ids.begin() + 1,
                                        sms.examples[1].input_ids.end() - 1)) ==
        "Ok lar... Joking wif u oni...");

  auto nsmc = ts::data::load_classification_tsv(
      data_file("ko_nsmc_raw_sentiment_train.tsv"), tok,
      {.label_column = "label", .text_column = "document", .has_header = true, .max_length = 64});
  REQUIRE(nsmc.examples.size() == 10000);
  CHECK(nsmc.labels.labels() == std::vector<std::string>{"0", "1"});
  int64_t positive = 0;
  for (const auto& e : nsmc.examples) positive += e.labels[0];
  CHECK(positive == 5000);
  CHECK(nsmc.lines.front() == 2);
  CHECK(nsmc.texts.front() == "안봐도 되는 영화...딴영화를 보삼");

  // The label list saved with a model maps a later file the same way.
  std::string labels_path = temp_file("labels.txt", "");
  nsmc.labels.save(labels_path);
  auto loaded = ts::data::LabelVocab::load(labels_path);
  CHECK(loaded == nsmc.labels);
}

TEST_CASE("CoNLL NER: BIO tags on the first sub-word token, -100 elsewhere",
          "[data][datasets][pack]") {
  TS_SKIP_WITHOUT_PACK();
  const auto& tok = pack_tokenizer();
  auto ner = ts::data::load_conll_ner(data_file("en_uner_ewt_dev.conll"), tok, {.max_length = 256});
  // The README says 2,000 sentences; the file (UNER's copy of the EWT dev set) holds 2,001.
  REQUIRE(ner.sentences.size() == 2001);
  REQUIRE(ner.examples.size() == 2001);
  CHECK(ner.truncated == 0);
  CHECK(ner.labels.labels() ==
        std::vector<std::string>{"O", "B-LOC", "B-ORG", "B-PER", "I-LOC", "I-ORG", "I-PER"});
  std::map<std::string, int64_t> tag_counts;
  int64_t words = 0;
  for (size_t i = 0; i < ner.examples.size(); ++i) {
    const auto& e = ner.examples[i];
    const auto& s = ner.sentences[i];
    const auto& word_ids = ner.word_ids[i];
    REQUIRE(e.labels.size() == e.input_ids.size());
    REQUIRE(word_ids.size() == e.input_ids.size());
    CHECK(e.labels.front() == ts::data::kIgnoreIndex);
    CHECK(e.labels.back() == ts::data::kIgnoreIndex);
    // The tokens of each word decode to the word; only its first token carries the tag.
    for (size_t w = 0; w < s.words.size(); ++w) {
      std::vector<int64_t> pieces;
      int64_t labelled = 0;
      for (size_t t = 0; t < word_ids.size(); ++t) {
        if (word_ids[t] != static_cast<int64_t>(w)) continue;
        if (pieces.empty()) {
          REQUIRE(e.labels[t] == ner.labels.id(s.tags[w]));
        } else {
          REQUIRE(e.labels[t] == ts::data::kIgnoreIndex);
        }
        labelled += e.labels[t] != ts::data::kIgnoreIndex;
        pieces.push_back(e.input_ids[t]);
      }
      REQUIRE(labelled == 1);
      REQUIRE(trim(tok.decode(pieces)) == s.words[w]);
      ++tag_counts[s.tags[w]];
      ++words;
    }
  }
  CHECK(words == 25149);
  CHECK(tag_counts["B-LOC"] == 399);
  CHECK(tag_counts["I-PER"] == 196);
  // Truncation keeps [CLS] ... [SEP] within max_length.
  auto short_ner =
      ts::data::load_conll_ner(data_file("en_uner_ewt_dev.conll"), tok, {.max_length = 16});
  CHECK(short_ner.truncated > 0);
  for (const auto& e : short_ner.examples) CHECK(e.input_ids.size() <= 16);
}

TEST_CASE("SQuAD-style QA: answer spans map to tokens, long contexts to windows",
          "[data][datasets][pack]") {
  TS_SKIP_WITHOUT_PACK();
  const auto& tok = pack_tokenizer();
  for (auto [max_length, stride] :
       std::vector<std::pair<int64_t, int64_t>>{{384, 128}, {128, 32}}) {
    auto qa = ts::data::load_squad_jsonl(data_file("en_qa_squad_style.jsonl"), tok,
                                         {.max_length = max_length, .stride = stride});
    REQUIRE(qa.records.size() == 1297);
    REQUIRE(qa.examples.size() == qa.features.size());
    CHECK(qa.examples.size() > 1297);
    std::vector<int> answered(qa.records.size(), 0);
    int64_t exact = 0, answered_windows = 0;
    for (size_t f = 0; f < qa.examples.size(); ++f) {
      const auto& e = qa.examples[f];
      const auto& r = qa.records[qa.features[f].record];
      REQUIRE(static_cast<int64_t>(e.input_ids.size()) <= max_length);
      REQUIRE(e.input_ids[0] == tok.token_to_id("[CLS]"));
      REQUIRE(e.labels.size() == 2);
      if (e.labels[0] == 0) {
        CHECK(e.labels[1] == 0);
        continue;
      }
      ++answered_windows;
      answered[qa.features[f].record] = 1;
      REQUIRE(e.token_type_ids[e.labels[0]] == 1);
      // The gold span's tokens cover the answer; where the answer starts and ends on token
      // boundaries they decode to exactly the answer (modulo white space).
      std::string span = slice_text(tok, e.input_ids, e.labels[0], e.labels[1]);
      REQUIRE(span.find(trim(r.answer_text)) != std::string::npos);
      if (trim(span) == trim(r.answer_text)) ++exact;
      CHECK(ts::data::qa_answer_text(qa, static_cast<int64_t>(f), e.labels[0], e.labels[1])
                .find(r.answer_text) != std::string::npos);
    }
    int64_t records_answered = std::count(answered.begin(), answered.end(), 1);
    CHECK(records_answered >= 1290);
    CHECK(exact >= answered_windows * 9 / 10);
  }
}

TEST_CASE("QA character offsets are converted to bytes for non-ASCII contexts",
          "[data][datasets]") {
  const auto& tok = tiny_tokenizer();
  std::string context = "Café au lait costs 5½ euros in Zürich, 티끌 모아 태산.";
  // "Zürich" starts at character 31 (é and ½ are one character, two bytes each).
  std::string line1 = R"({"id": "a", "context": ")" + context +
                      R"(", "question": "Where?", "answer_start": 31, "answer_text": "Zürich"})";
  std::string line2 =
      R"({"id": "b", "context": ")" + context +
      R"(", "question": "Proverb?", "answer_start": 39, "answer_text": "티끌 모아 태산"})";
  auto qa = ts::data::load_squad_jsonl(temp_file("qa.jsonl", line1 + "\n" + line2 + "\n"), tok,
                                       {.max_length = 64, .stride = 8});
  REQUIRE(qa.records.size() == 2);
  CHECK(qa.records[0].answer_start_byte == 33);
  CHECK(qa.records[1].answer_start_byte == 42);
  for (size_t f = 0; f < 2; ++f) {
    const auto& e = qa.examples[f];
    REQUIRE(e.labels[0] > 0);
    CHECK(trim(slice_text(tok, e.input_ids, e.labels[0], e.labels[1])) ==
          qa.records[f].answer_text);
  }
}

TEST_CASE("QA marks the context's words of the question as token type 2", "[data][datasets]") {
  const auto& tok = tiny_tokenizer();
  CHECK(ts::data::match_words("  The quick, (brown) FOX! 티끌?") ==
        std::vector<std::string>{"the", "quick", "brown", "fox", "티끌"});
  std::vector<int64_t> word_of_byte;
  ts::data::match_words("a, bc", &word_of_byte);
  CHECK(word_of_byte == std::vector<int64_t>{0, -1, -1, 1, 1});

  ts::data::QaRecord r;
  r.question = "Where is the lazy DOG?";
  r.context = "The quick brown fox jumps over the lazy dog.";
  r.answer_text = "the lazy dog";
  r.answer_start_byte = static_cast<int64_t>(r.context.find(r.answer_text));
  for (bool mark : {false, true}) {
    const auto qa = ts::data::encode_qa_records(
        {r}, tok, {.max_length = 64, .stride = 8, .mark_question_words = mark});
    REQUIRE(qa.examples.size() == 1);
    const auto& e = qa.examples[0];
    const auto& offsets = qa.features[0].offsets;
    for (size_t t = 0; t < e.input_ids.size(); ++t) {
      INFO("mark " << mark << ", token " << t);
      if (offsets[t].first < 0) {  // [CLS], the question, the [SEP]s
        CHECK(e.token_type_ids[t] == (t + 1 == e.input_ids.size() ? 1 : 0));
        continue;
      }
      // The context word holding the token's last byte ("." is not part of a word).
      size_t b = static_cast<size_t>(offsets[t].second - 1), e2 = b + 1;
      while (b > 0 && r.context[b - 1] != ' ') --b;
      while (e2 < r.context.size() && r.context[e2] != ' ' && r.context[e2] != '.') ++e2;
      const std::string word = r.context.substr(b, e2 - b);
      const bool in_question = word == "The" || word == "the" || word == "lazy" || word == "dog";
      CHECK(e.token_type_ids[t] == (mark && in_question ? 2 : 1));
    }
  }
}

TEST_CASE("QA spans never cut a UTF-8 character", "[data][datasets]") {
  const auto& tok = tiny_tokenizer();
  const std::string context = "Émile paid 5 € – 티끌 모아 태산 – at the café.";
  // Byte-level BPE cuts characters that it has no merges for (é, €, –, unseen syllables): the raw
  // offsets must start or end inside a character for this test to mean anything.
  const ts::data::Encoding raw = tok.encode_with_offsets(context);
  auto on_boundary = [&](int64_t pos) {
    return ts::data::floor_char_boundary(context, static_cast<size_t>(pos)) ==
           static_cast<size_t>(pos);
  };
  int64_t cut = 0;
  for (auto [b, e] : raw.offsets) cut += !on_boundary(b) || !on_boundary(e);
  REQUIRE(cut > 0);
  // The token holding the last byte of the first "–" (U+2013, 3 bytes) starts inside it.
  const size_t dash = context.find("–");
  int64_t dash_token = -1;
  for (size_t i = 0; i < raw.offsets.size(); ++i)
    if (raw.offsets[i].second == static_cast<int64_t>(dash + 3)) dash_token = i;
  REQUIRE(dash_token >= 0);
  REQUIRE(raw.offsets[dash_token].first > static_cast<int64_t>(dash));

  auto chars_before = [&](const std::string& answer) {
    return ts::data::count_chars(std::string_view(context).substr(0, context.find(answer)));
  };
  std::string lines;
  for (std::string answer : {"café", "티끌 모아 태산", "Émile", "€ –"}) {
    lines += R"({"context": ")" + context + R"(", "question": "What?", "answer_start": )" +
             std::to_string(chars_before(answer)) + R"(, "answer_text": ")" + answer + "\"}\n";
  }
  auto qa = ts::data::load_squad_jsonl(temp_file("qa_utf8.jsonl", lines), tok,
                                       {.max_length = 128, .stride = 8});
  REQUIRE(qa.features.size() == 4);  // one window each
  for (size_t f = 0; f < qa.features.size(); ++f) {
    const auto& off = qa.features[f].offsets;
    const auto n = static_cast<int64_t>(off.size());
    for (auto [b, e] : off) {
      if (b < 0) continue;
      CHECK(on_boundary(b));
      CHECK(on_boundary(e));
    }
    // Every span the model could pick is valid UTF-8, cut from the context at its offsets.
    for (int64_t s = 1; s < n; ++s) {
      for (int64_t e = s; e < n; ++e) {
        if (off[s].first < 0 || off[e].first < 0) continue;
        const std::string text = ts::data::qa_answer_text(qa, f, s, e);
        REQUIRE(ts::data::is_valid_utf8(text));
        REQUIRE(text == context.substr(off[s].first, off[e].second - off[s].first));
      }
    }
    // The gold span is the answer (with the space that GPT-2 tokens carry in front), though its
    // first or last tokens are cut inside characters.
    const auto& labels = qa.examples[f].labels;
    REQUIRE(labels[0] > 0);
    CHECK(trim(ts::data::qa_answer_text(qa, f, labels[0], labels[1])) == qa.records[f].answer_text);
  }
  // The lone token of the dash's last byte answers the whole dash.
  const int64_t context_pos = static_cast<int64_t>(qa.features[0].offsets.size()) -
                              static_cast<int64_t>(raw.ids.size()) - 1;
  // "café": the gold span's last token is the second byte of "é" alone.
  CHECK_FALSE(on_boundary(raw.offsets[qa.examples[0].labels[1] - context_pos].first));
  CHECK(ts::data::qa_answer_text(qa, 0, context_pos + dash_token, context_pos + dash_token) == "–");
  // Offsets made elsewhere (straight from encode_with_offsets) are widened too.
  ts::data::QaDataset hand;
  hand.records = {qa.records[0]};
  ts::data::QaFeature feature;
  feature.offsets.emplace_back(-1, -1);
  feature.offsets.insert(feature.offsets.end(), raw.offsets.begin(), raw.offsets.end());
  hand.features = {feature};
  CHECK(ts::data::qa_answer_text(hand, 0, dash_token + 1, dash_token + 1) == "–");
  for (int64_t s = 1; s <= static_cast<int64_t>(raw.ids.size()); ++s)
    CHECK(ts::data::is_valid_utf8(ts::data::qa_answer_text(hand, 0, s, s)));
}

TEST_CASE("parallel TSV loads in both directions", "[data][datasets][pack]") {
  TS_SKIP_WITHOUT_PACK();
  const auto& tok = pack_tokenizer();
  auto en_ko = ts::data::load_parallel_tsv(data_file("ko_en_tatoeba.tsv"), tok);
  REQUIRE(en_ko.examples.size() == 5749);
  CHECK(en_ko.pairs[0] == std::pair<std::string, std::string>{"Go.", "가."});
  const auto& e = en_ko.examples[0];
  const int64_t bos = tok.token_to_id("[BOS]"), eos = tok.token_to_id("[EOS]");
  CHECK(tok.decode(e.input_ids) == "Go.[EOS]");
  CHECK(e.decoder_input_ids.front() == bos);
  CHECK(e.labels.back() == eos);
  CHECK(tok.decode(e.labels) == "가.[EOS]");
  // Decoder inputs are the labels shifted right.
  CHECK(std::equal(e.labels.begin(), e.labels.end() - 1, e.decoder_input_ids.begin() + 1));
  auto ko_en = ts::data::load_parallel_tsv(data_file("ko_en_tatoeba.tsv"), tok, {.reverse = true});
  CHECK(ko_en.pairs[1] == std::pair<std::string, std::string>{"안녕.", "Hi."});
}

TEST_CASE("plain text: causal-LM blocks and masked-LM sentence segments", "[data][datasets]") {
  const auto& tok = tiny_tokenizer();
  std::vector<std::string> texts = tiny_corpus();
  auto stream = ts::data::token_stream(tok, texts, tok.token_to_id("[EOS]"));
  auto lm = ts::data::causal_lm_dataset(tok, texts, {.block_size = 32});
  REQUIRE(!lm.empty());
  CHECK(static_cast<int64_t>(lm.size()) == (static_cast<int64_t>(stream.size()) - 1) / 32);
  for (size_t i = 0; i < lm.size(); ++i) {
    REQUIRE(lm[i].input_ids.size() == 32);
    REQUIRE(std::equal(lm[i].input_ids.begin(), lm[i].input_ids.end(), stream.begin() + i * 32));
    REQUIRE(std::equal(lm[i].labels.begin(), lm[i].labels.end(), stream.begin() + i * 32 + 1));
  }
  auto blocks = ts::data::cut_blocks(stream, 10, 5, /*keep_last=*/true);
  CHECK(blocks[1].front() == stream[5]);
  CHECK(blocks.back().back() == stream.back());

  auto segments = ts::data::sentence_segments(tok, texts, {.max_length = 40});
  std::string joined, expected;
  std::set<size_t> boundaries;  // where sentences end in the concatenated text
  for (const auto& t : texts) {
    for (auto sentence : ts::data::split_sentences(t)) {
      expected += sentence;
      boundaries.insert(expected.size());
    }
  }
  CHECK(segments.size() > 1);
  for (const auto& s : segments) {
    REQUIRE(s.input_ids.size() <= 40);
    REQUIRE(s.input_ids.front() == tok.token_to_id("[CLS]"));
    REQUIRE(s.input_ids.back() == tok.token_to_id("[SEP]"));
    joined += tok.decode(s.input_ids, /*skip_special_tokens=*/true);
    CHECK(boundaries.count(joined.size()) == 1);  // no sentence is cut
  }
  CHECK(joined == expected);
  // A sentence longer than a segment is cut into full segments.
  auto cut = ts::data::sentence_segments(tok, {std::string(300, 'x') + "."}, {.max_length = 10});
  CHECK(cut.size() > 1);
  CHECK(cut[0].input_ids.size() == 10);
}

TEST_CASE("bad input gives errors naming file, line and problem", "[data][datasets][errors]") {
  const auto& tok = tiny_tokenizer();
  // Missing and empty files.
  CHECK_THAT(error_of([&] { ts::data::load_classification_tsv("/nonexistent/x.tsv", tok); }),
             Catch::Contains("/nonexistent/x.tsv") && Catch::Contains("cannot open"));
  std::string empty = temp_file("empty.tsv", "");
  CHECK_THAT(error_of([&] { ts::data::load_classification_tsv(empty, tok); }),
             Catch::Contains(empty) && Catch::Contains("empty"));
  CHECK_THAT(error_of([&] { ts::data::read_lines(empty); }), Catch::Contains("empty"));
  std::string dir = std::filesystem::temp_directory_path().string();
  CHECK_THAT(error_of([&] { ts::data::read_lines(dir); }), Catch::Contains("is a directory"));
  CHECK_THAT(error_of([&] { ts::data::read_conll(empty); }), Catch::Contains("empty"));
  CHECK_THAT(error_of([&] { ts::data::read_squad_jsonl(empty); }), Catch::Contains("empty"));
  // Wrong number of columns.
  std::string cols = temp_file("cols.tsv", "ham\thello\nspam\tbuy\tnow\n");
  CHECK_THAT(
      error_of([&] { ts::data::load_classification_tsv(cols, tok, {.expected_columns = 2}); }),
      Catch::Contains(cols) && Catch::Contains("line 2") && Catch::Contains("3 tab"));
  std::string one_col = temp_file("one.tsv", "hello\tbonjour\nalone\n");
  CHECK_THAT(error_of([&] { ts::data::load_parallel_tsv(one_col, tok); }),
             Catch::Contains("line 2") && Catch::Contains("1 tab"));
  CHECK_THAT(
      error_of([&] { ts::data::load_classification_tsv(cols, tok, {.label_column = "label"}); }),
      Catch::Contains("no column named 'label'"));
  // Unknown label against a fixed label list.
  std::string test_split = temp_file("test.tsv", "ham\thi\nspam\tbuy\nmaybe\twho knows\n");
  CHECK_THAT(error_of([&] {
               ts::data::load_classification_tsv(test_split, tok,
                                                 {.labels = ts::data::LabelVocab({"ham", "spam"})});
             }),
             Catch::Contains(test_split) && Catch::Contains("line 3") &&
                 Catch::Contains("unknown label 'maybe'"));
  // Invalid UTF-8 in a TSV.
  std::string bad_utf8 = temp_file("bad.tsv", "ham\tok\nham\tfine\nspam\tbroken \xC3\x28 text\n");
  CHECK_THAT(error_of([&] { ts::data::load_classification_tsv(bad_utf8, tok); }),
             Catch::Contains("line 3") && Catch::Contains("invalid UTF-8"));
  // NER: broken BIO, missing tag column, unknown tag.
  std::string bio = temp_file("bio.conll", "John\tB-PER\nlives\tO\nYork\tI-LOC\n\n");
  CHECK_THAT(error_of([&] { ts::data::load_conll_ner(bio, tok); }),
             Catch::Contains(bio) && Catch::Contains("line 3") && Catch::Contains("I-LOC"));
  std::string notag = temp_file("notag.conll", "John\tB-PER\n\nlives\n");
  CHECK_THAT(error_of([&] { ts::data::read_conll(notag); }), Catch::Contains("line 3"));
  std::string weird = temp_file("weird.conll", "John\tB-PER\nSmith\tX-PER\n");
  CHECK_THAT(error_of([&] { ts::data::read_conll(weird); }),
             Catch::Contains("line 2") && Catch::Contains("not BIO"));
  std::string misc = temp_file("misc.conll", "John\tB-PER\n\nParis\tB-MISC\n");
  CHECK_THAT(error_of([&] {
               ts::data::load_conll_ner(misc, tok,
                                        {.labels = ts::data::LabelVocab({"O", "B-PER", "I-PER"})});
             }),
             Catch::Contains("line 3") && Catch::Contains("unknown tag 'B-MISC'"));
  // QA: answer not at its offset, bad JSON, missing field.
  std::string good =
      R"({"context": "The cat sat.", "question": "Who?", "answer_start": 4, "answer_text": "cat"})";
  std::string wrong =
      R"({"context": "The cat sat.", "question": "Who?", "answer_start": 5, "answer_text": "cat"})";
  std::string qa_path = temp_file("qa_bad.jsonl", good + "\n" + wrong + "\n");
  CHECK_THAT(error_of([&] { ts::data::read_squad_jsonl(qa_path); }),
             Catch::Contains("line 2") && Catch::Contains("does not match") &&
                 Catch::Contains("found 'at '"));
  std::string far =
      R"({"context": "abc", "question": "?", "answer_start": 10, "answer_text": "c"})";
  CHECK_THAT(error_of([&] { ts::data::read_squad_jsonl(temp_file("far.jsonl", far)); }),
             Catch::Contains("line 1") && Catch::Contains("outside the context"));
  std::string json_path = temp_file("broken.jsonl", good + "\n{\"context\": \n");
  CHECK_THAT(error_of([&] { ts::data::read_squad_jsonl(json_path); }),
             Catch::Contains("line 2") && Catch::Contains("not valid JSON"));
  std::string missing =
      temp_file("missing.jsonl", R"({"context": "x", "answer_start": 0, "answer_text": "x"})");
  CHECK_THAT(error_of([&] { ts::data::read_squad_jsonl(missing); }),
             Catch::Contains("line 1") && Catch::Contains("\"question\""));
  // A column index of INT64_MAX (its + 1 once wrapped around and the row check passed).
  std::string two_cols = temp_file("two_cols.tsv", "a\tx\n");
  CHECK_THAT(error_of([&] {
               ts::data::load_classification_tsv(
                   two_cols, tok, {.label_column = std::numeric_limits<int64_t>::max()});
             }),
             Catch::Contains("line 1") && Catch::Contains("column"));
  // A deeply nested value (its message once dumped it recursively: a stack overflow).
  std::string deep = R"({"context": "x", "question": "?", "answer_text": "x", "answer_start": )" +
                     std::string(100000, '[') + std::string(100000, ']') + "}";
  CHECK_THAT(error_of([&] { ts::data::read_squad_jsonl(temp_file("deep.jsonl", deep)); }),
             Catch::Contains("answer_start") && Catch::Contains("array"));
  // Label files; a label with a line break would not come back from its file.
  CHECK_THAT(error_of([&] {
               ts::data::LabelVocab({"neg", "pos\r"});
             }),
             Catch::Contains("line break"));
  std::string dup = temp_file("dup_labels.txt", "a\nb\na\n");
  CHECK_THAT(error_of([&] { ts::data::LabelVocab::load(dup); }),
             Catch::Contains("line 3") && Catch::Contains("'a'"));
}

TEST_CASE("loaders report progress when asked", "[data][datasets]") {
  const auto& tok = tiny_tokenizer();
  std::string path = temp_file("progress.tsv", "a\tx\nb\ty\na\tz\n");
  int64_t calls = 0, last = 0;
  ts::data::load_classification_tsv(path, tok,
                                    {.progress = [&](std::string_view, int64_t done, int64_t) {
                                      ++calls;
                                      last = done;
                                    }});
  CHECK(calls == 3);
  CHECK(last == 3);
}
