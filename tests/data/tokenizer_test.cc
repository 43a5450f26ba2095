// Tests of BpeTokenizer: known merges, exact round trips for any bytes and every line of the pack,
// special tokens, offsets, batch encoding, tokenizer.json save/load, determinism and errors.
#include <catch2/catch.hpp>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "taesan/core/parallel.h"
#include "tokenizer_fixture.h"

namespace ts = taesan;
using namespace ts::test;
using ts::data::BpeTokenizer;

namespace {

std::string random_bytes(ts::data::DataRng& rng, size_t max_len) {
  std::string s(rng.below(max_len + 1), '\0');
  for (char& c : s) {
    uint64_t kind = rng.below(4);
    if (kind == 0) {
      c = static_cast<char>(rng.below(256));  // any byte, invalid UTF-8 included
    } else if (kind == 1) {
      c = " \n\t'"[rng.below(4)];
    } else {
      c = static_cast<char>('a' + rng.below(26));
    }
  }
  return s;
}

}  // namespace

TEST_CASE("BPE training learns the known merges of a hand-made corpus", "[data][tokenizer]") {
  // Hugging Face course corpus: hug x10, pug x5, pun x12, bun x4, hugs x5.
  std::vector<std::string> texts;
  for (auto [word, count] : std::vector<std::pair<std::string, int>>{
           {"hug", 10}, {"pug", 5}, {"pun", 12}, {"bun", 4}, {"hugs", 5}}) {
    for (int i = 0; i < count; ++i) texts.push_back(word);
  }
  auto tok = BpeTokenizer::train(texts, {.vocab_size = 256 + 4, .min_frequency = 1});
  using M = std::vector<std::pair<std::string, std::string>>;
  CHECK(tok.merges() == M{{"u", "g"}, {"u", "n"}, {"h", "ug"}, {"p", "un"}});
  CHECK(tok.vocab_size() == 260);
  CHECK(tok.encode("hugs") == std::vector<int64_t>{tok.token_to_id("hug"), 's'});
  CHECK(tok.encode("bun").size() == 2);
  // min_frequency stops training early: only u-g is seen 20 times or more.
  auto strict = BpeTokenizer::train(texts, {.vocab_size = 300, .min_frequency = 20});
  CHECK(strict.merges() == M{{"u", "g"}});
  CHECK(strict.vocab_size() == 257);
}

TEST_CASE("encode/decode round-trips random byte strings", "[data][tokenizer]") {
  const BpeTokenizer& tok = tiny_tokenizer();
  ts::data::DataRng rng(42, 1);
  for (int trial = 0; trial < 2000; ++trial) {
    std::string s = random_bytes(rng, 120);
    if (trial % 10 == 0) s += "[MASK]" + s + "[SEP]";
    std::vector<int64_t> ids = tok.encode(s);
    REQUIRE(tok.decode(ids) == s);
  }
  // A long run of one byte (one huge pre-token) still encodes quickly and exactly.
  std::string run(200000, 'a');
  CHECK(tok.decode(tok.encode(run)) == run);
}

TEST_CASE("special tokens are never split or merged", "[data][tokenizer]") {
  const BpeTokenizer& tok = tiny_tokenizer();
  const int64_t cls = tok.token_to_id("[CLS]");
  const int64_t sep = tok.token_to_id("[SEP]");
  const int64_t mask = tok.token_to_id("[MASK]");
  CHECK(cls == 2);
  CHECK(sep == 3);
  CHECK(tok.special_ids() == std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6});
  auto ids = tok.encode("[CLS]The fox[SEP][MASK][MASK]");
  CHECK(ids.front() == cls);
  CHECK(ids[ids.size() - 3] == sep);
  CHECK(ids[ids.size() - 2] == mask);
  CHECK(ids.back() == mask);
  CHECK(tok.decode(ids, /*skip_special_tokens=*/true) == "The fox");
  // Training text full of special tokens: no learned token contains one.
  std::vector<std::string> texts(50, "[MASK] is a [MASK] token [MASK][MASK]");
  auto t2 = BpeTokenizer::train(
      texts, {.vocab_size = 300, .min_frequency = 1, .special_tokens = {"[MASK]"}});
  for (int64_t id = 1; id < t2.vocab_size(); ++id) {
    CHECK(t2.token_bytes(id).find("[MASK]") == std::string::npos);
    CHECK(t2.token_bytes(id).find("MASK]") == std::string::npos);
  }
}

TEST_CASE("offsets give each token's bytes in the input", "[data][tokenizer]") {
  const BpeTokenizer& tok = tiny_tokenizer();
  ts::data::DataRng rng(3, 3);
  for (int trial = 0; trial < 300; ++trial) {
    std::string s = random_bytes(rng, 80) + " 티끌 모아 [CLS] 태산";
    ts::data::Encoding enc = tok.encode_with_offsets(s);
    REQUIRE(enc.ids == tok.encode(s));
    REQUIRE(enc.offsets.size() == enc.ids.size());
    int64_t pos = 0;
    for (size_t i = 0; i < enc.ids.size(); ++i) {
      REQUIRE(enc.offsets[i].first == pos);
      REQUIRE(s.substr(pos, enc.offsets[i].second - pos) == tok.token_bytes(enc.ids[i]));
      pos = enc.offsets[i].second;
    }
    REQUIRE(pos == static_cast<int64_t>(s.size()));
  }
}

TEST_CASE("batch encoding equals single encoding for any thread count", "[data][tokenizer]") {
  const BpeTokenizer& tok = tiny_tokenizer();
  std::vector<std::string> texts = tiny_corpus();
  ts::data::DataRng rng(5, 5);
  for (int i = 0; i < 200; ++i) texts.push_back(random_bytes(rng, 60));
  const int saved = ts::get_num_threads();
  for (int threads : {1, 2, 3}) {
    ts::set_num_threads(threads);
    auto batch = tok.encode_batch(texts);
    auto with_offsets = tok.encode_batch_with_offsets(texts);
    REQUIRE(batch.size() == texts.size());
    for (size_t i = 0; i < texts.size(); ++i) {
      REQUIRE(batch[i] == tok.encode(texts[i]));
      REQUIRE(with_offsets[i].ids == batch[i]);
    }
  }
  ts::set_num_threads(saved);
}

TEST_CASE("tokenizer.json save/load keeps the tokenizer and the Hugging Face layout",
          "[data][tokenizer]") {
  const BpeTokenizer& tok = tiny_tokenizer();
  std::string path = temp_file("tokenizer.json", "");
  tok.save(path);
  auto json = nlohmann::json::parse(ts::data::read_file(path));
  CHECK(json["model"]["type"] == "BPE");
  CHECK(json["pre_tokenizer"]["type"] == "ByteLevel");
  CHECK(json["pre_tokenizer"]["add_prefix_space"] == false);
  CHECK(json["decoder"]["type"] == "ByteLevel");
  CHECK(json["normalizer"].is_null());
  CHECK(json["model"]["vocab"]["[MASK]"] == 4);
  CHECK(json["model"]["vocab"]["\xC4\xA0"] == 7 + ' ');  // "Ġ": the space byte
  CHECK(json["model"]["merges"].size() == tok.merges().size());
  CHECK(json["added_tokens"].size() == 7);
  CHECK(json["added_tokens"][2]["content"] == "[CLS]");
  CHECK(json["added_tokens"][2]["special"] == true);

  BpeTokenizer back = BpeTokenizer::load(path);
  CHECK(back.vocab_size() == tok.vocab_size());
  CHECK(back.merges() == tok.merges());
  CHECK(back.to_json() == tok.to_json());
  for (const auto& text : tiny_corpus()) CHECK(back.encode(text) == tok.encode(text));
  CHECK(back.token_to_id("[MASK]") == tok.token_to_id("[MASK]"));
}

TEST_CASE("tokenizer.json and label lists are written atomically", "[data][tokenizer]") {
  ScratchDir dir;
  const std::string path = dir.file("tokenizer.json");
  tiny_tokenizer().save(path);
  const std::string before = ts::data::read_file(path);
  ts::data::LabelVocab labels({"neg", "pos"});
  labels.save(dir.file("labels.txt"));
  // A target that cannot be replaced (a directory): a clear error, no temporary file left, and
  // the files saved before keep their contents.
  std::filesystem::create_directory(dir.path() / "taken");
  CHECK_THAT(error_of([&] { tiny_tokenizer().save(dir.file("taken")); }),
             Catch::Contains("BpeTokenizer::save") && Catch::Contains("taken"));
  CHECK_THAT(error_of([&] { labels.save(dir.file("taken")); }),
             Catch::Contains("LabelVocab::save") && Catch::Contains("taken"));
  CHECK_THAT(error_of([&] { labels.save(dir.file("missing/labels.txt")); }),
             Catch::Contains("LabelVocab::save") && Catch::Contains("No such file or directory"));
  std::set<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir.path()))
    names.insert(e.path().filename().string());
  CHECK(names == std::set<std::string>{"labels.txt", "taken", "tokenizer.json"});
  CHECK(ts::data::read_file(path) == before);
  CHECK(ts::data::LabelVocab::load(dir.file("labels.txt")) == labels);
}

TEST_CASE("a hand-written Hugging Face tokenizer.json loads and encodes", "[data][tokenizer]") {
  // GPT-2-like layout: non-special vocab ids first, merges in the newer [a, b] spelling, and an
  // added token after the model vocabulary.
  nlohmann::json j;
  nlohmann::json vocab = nlohmann::json::object();
  const auto& map = ts::data::byte_to_unicode();
  for (int b = 0; b < 256; ++b) {
    std::string t;
    ts::data::append_utf8(t, map[b]);
    vocab[t] = b;
  }
  vocab["\xC4\xA0t"] = 256;  // "Ġt"
  vocab["he"] = 257;
  vocab["\xC4\xA0the"] = 258;  // "Ġthe"
  j["model"] = {{"type", "BPE"},
                {"dropout", nullptr},
                {"vocab", vocab},
                {"merges", nlohmann::json::array({nlohmann::json::array({"\xC4\xA0", "t"}),
                                                  nlohmann::json::array({"h", "e"}),
                                                  nlohmann::json::array({"\xC4\xA0t", "he"})})}};
  j["added_tokens"] = {{{"id", 259}, {"content", "<|endoftext|>"}, {"special", true}}};
  j["normalizer"] = nullptr;
  j["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}};
  j["decoder"] = {{"type", "ByteLevel"}};
  BpeTokenizer tok = BpeTokenizer::from_json(j.dump());
  CHECK(tok.vocab_size() == 260);
  CHECK(tok.encode("the the<|endoftext|>") == std::vector<int64_t>{'t', 257, 258, 259});
  CHECK(tok.decode({'t', 257, 258, 259}) == "the the<|endoftext|>");
  CHECK(tok.id_to_token(258) == "\xC4\xA0the");
  // Features this tokenizer does not have are refused with a message that names them.
  auto bad = j;
  bad["normalizer"] = {{"type", "NFC"}};
  CHECK_THAT(error_of([&] { BpeTokenizer::from_json(bad.dump()); }), Catch::Contains("normalizer"));
  bad = j;
  bad["pre_tokenizer"]["add_prefix_space"] = true;
  CHECK_THAT(error_of([&] { BpeTokenizer::from_json(bad.dump()); }),
             Catch::Contains("add_prefix_space"));
  bad = j;
  bad["model"]["merges"].push_back(nlohmann::json::array({"x", "zz"}));
  CHECK_THAT(error_of([&] { BpeTokenizer::from_json(bad.dump()); }), Catch::Contains("zz"));
  bad = j;
  bad["model"]["type"] = "WordPiece";
  CHECK_THAT(error_of([&] { BpeTokenizer::from_json(bad.dump()); }), Catch::Contains("WordPiece"));
  // Corrupt files found by an edge-case sweep: each a clear error, never a crash.
  bad = j;  // a huge id once overflowed id + 1 and wrote outside the tables
  bad["model"]["vocab"]["he"] = std::numeric_limits<int64_t>::max();
  CHECK_THAT(error_of([&] { BpeTokenizer::from_json(bad.dump()); }),
             Catch::Contains("'he'") && Catch::Contains("outside"));
  bad = j;
  bad["added_tokens"][0]["id"] = std::numeric_limits<int64_t>::max();
  CHECK_THAT(error_of([&] { BpeTokenizer::from_json(bad.dump()); }),
             Catch::Contains("added token"));
  bad = j;  // a merge whose result is the added (special) token's text
  bad["model"]["vocab"]["ab"] = 259;
  bad["added_tokens"][0]["content"] = "ab";
  bad["model"]["merges"].push_back(nlohmann::json::array({"a", "b"}));
  CHECK_THAT(error_of([&] { BpeTokenizer::from_json(bad.dump()); }), Catch::Contains("special"));
  // Deep nesting (once a stack overflow), written as text (dumping it would recurse here too):
  // 100,000 Sequences of one around the ByteLevel pre-tokenizer, and a 100,000-deep array.
  const std::string plain = j.dump(), byte_level = j["pre_tokenizer"].dump();
  const size_t depth = 100000;
  std::string seq;
  for (size_t i = 0; i < depth; ++i) seq += "{\"type\":\"Sequence\",\"pretokenizers\":[";
  seq += byte_level;
  for (size_t i = 0; i < depth; ++i) seq += "]}";
  std::string text = plain;
  text.replace(text.find(byte_level), byte_level.size(), seq);
  CHECK(BpeTokenizer::from_json(text).vocab_size() == 260);
  text = plain;
  text.replace(text.find("\"normalizer\":null"), 17,
               "\"normalizer\":" + std::string(depth, '[') + std::string(depth, ']'));
  CHECK_THAT(error_of([&] { BpeTokenizer::from_json(text); }), Catch::Contains("normalizer array"));
  // Special tokens are stored as JSON text: invalid UTF-8 is refused when the tokenizer is made.
  ts::data::BpeTrainOptions o;
  o.vocab_size = 300;
  o.special_tokens = {"\xff\xfe"};
  CHECK_THAT(error_of([&] { BpeTokenizer::train({"abc"}, o); }), Catch::Contains("UTF-8"));
}

TEST_CASE("tokenizer errors are clear", "[data][tokenizer]") {
  const BpeTokenizer& tok = tiny_tokenizer();
  CHECK_THAT(error_of([&] {
               tok.decode({0, tok.vocab_size()});
             }),
             Catch::Contains("position 1") && Catch::Contains("outside the vocabulary"));
  CHECK_THAT(error_of([&] { tok.decode({-1}); }), Catch::Contains("-1"));
  CHECK_THAT(error_of([&] { tok.token_to_id("[NOPE]"); }), Catch::Contains("[NOPE]"));
  CHECK_FALSE(tok.find_token("[NOPE]").has_value());
  CHECK_THAT(error_of([] { BpeTokenizer::load("/nonexistent/tokenizer.json"); }),
             Catch::Contains("/nonexistent/tokenizer.json"));
  std::string empty = temp_file("empty.json", "");
  CHECK_THAT(error_of([&] { BpeTokenizer::load(empty); }), Catch::Contains("empty"));
  std::string broken = temp_file("broken.json", "{\"model\": {\"vocab\": ");
  CHECK_THAT(error_of([&] { BpeTokenizer::load(broken); }), Catch::Contains("not valid JSON"));
  CHECK_THAT(error_of([] { BpeTokenizer::train({"abc"}, {.vocab_size = 100}); }),
             Catch::Contains("vocab_size 100"));
  CHECK_THAT(error_of([] {
               BpeTokenizer::train({"abc"}, {.vocab_size = 300, .special_tokens = {"[A]", "[A]"}});
             }),
             Catch::Contains("[A]"));
}

TEST_CASE("training is deterministic and works without pre-tokenization", "[data][tokenizer]") {
  auto a = BpeTokenizer::train(tiny_corpus(), {.vocab_size = 350, .special_tokens = {"[PAD]"}});
  auto b = BpeTokenizer::train(tiny_corpus(), {.vocab_size = 350, .special_tokens = {"[PAD]"}});
  CHECK(a.to_json() == b.to_json());
  auto raw = BpeTokenizer::train(tiny_corpus(), {.vocab_size = 350, .use_regex = false});
  CHECK_FALSE(raw.use_regex());
  for (const auto& t : tiny_corpus()) CHECK(raw.decode(raw.encode(t)) == t);
  // Without pre-tokenization merges may cross spaces.
  bool crosses = false;
  for (int64_t id = 256; id < raw.vocab_size(); ++id) {
    const std::string& bytes = raw.token_bytes(id);
    if (bytes.find(' ') != std::string::npos && bytes.front() != ' ') crosses = true;
  }
  CHECK(crosses);
  auto reloaded = BpeTokenizer::from_json(raw.to_json());
  CHECK_FALSE(reloaded.use_regex());
  CHECK(reloaded.encode("over the lazy dog") == raw.encode("over the lazy dog"));
}

TEST_CASE("pack tokenizer learns Hangul and round-trips every line of the pack",
          "[data][tokenizer][pack]") {
  TS_SKIP_WITHOUT_PACK();
  const BpeTokenizer& tok = pack_tokenizer();
  CHECK(tok.vocab_size() == 2000);
  // Hangul syllables are three bytes; merges must have learned whole syllables and more.
  int64_t hangul_tokens = 0;
  for (int64_t id = 0; id < tok.vocab_size(); ++id) {
    const std::string& b = tok.token_bytes(id);
    if (!tok.is_special(id) && b.size() >= 3 && ts::data::is_valid_utf8(b)) {
      auto ch = ts::data::decode_utf8(b, b.size() - 3);
      if (ch.valid && ch.code_point >= 0xAC00 && ch.code_point <= 0xD7A3) ++hangul_tokens;
    }
  }
  CHECK(hangul_tokens > 200);
  std::string proverb = "티끌 모아 태산";
  CHECK(tok.decode(tok.encode(proverb)) == proverb);
  CHECK(tok.encode(proverb).size() < proverb.size() / 2);
  int64_t lines = 0;
  for (const char* f :
       {"en_tinyshakespeare.txt", "en_state_union.txt", "ko_klue_dev_sentences.txt",
        "ko_nsmc_neutral_reviews.txt", "en_sms_spam.tsv", "ko_nsmc_raw_sentiment_train.tsv",
        "en_uner_ewt_dev.conll", "en_qa_squad_style.jsonl", "ko_en_tatoeba.tsv", "README.md"}) {
    std::vector<std::string> file_lines = ts::data::read_lines(data_file(f));
    auto encoded = tok.encode_batch(file_lines);
    for (size_t i = 0; i < file_lines.size(); ++i) {
      if (tok.decode(encoded[i]) != file_lines[i])
        FAIL(f << " line " << i + 1 << " does not round-trip");
    }
    lines += static_cast<int64_t>(file_lines.size());
  }
  CHECK(lines > 110000);
}

TEST_CASE("the API.md data example works as written", "[data][tokenizer]") {
  std::string corpus = temp_file("corpus.txt", "티끌 모아 태산\nSpecks of dust make a mountain.\n");
  std::vector<std::string> texts = ts::data::read_lines(corpus);
  REQUIRE(texts.size() == 2);
  auto tok = ts::data::BpeTokenizer::train(
      texts, {.vocab_size = 300,
              .min_frequency = 1,
              .special_tokens = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[BOS]", "[EOS]"}});
  std::vector<int64_t> ids = tok.encode("티끌 모아 태산");
  CHECK(tok.decode(ids) == "티끌 모아 태산");
  std::string path = temp_file("api_tokenizer.json", "");
  tok.save(path);
  auto tok2 = ts::data::BpeTokenizer::load(path);
  CHECK(tok2.encode("티끌 모아 태산") == ids);
  CHECK(tok.token_to_id("[MASK]") == 4);
  CHECK(tok.vocab_size() == 300);
}
