// The file formats users bring: CoNLL separated by spaces with -DOCSTART- lines (CoNLL-2003) and
// CoNLL-U comments; SQuAD's "answers" field in both of its shapes, several gold answers, and
// SQuAD v2's unanswerable questions refused by name; tab-separated files read with column bounds,
// a header, blank lines and UTF-8 validation as ReadTsvOptions asks.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "common/test_util.h"
#include "taesan/data/ner.h"
#include "taesan/data/qa.h"
#include "taesan/train/metrics.h"
#include <taesan/taesan.h>

namespace ts = taesan;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {
std::string write_temp(const std::string& name, const std::string& text) {
  const fs::path p = fs::temp_directory_path() / ("ts_formats_test_" + name);
  std::ofstream(p) << text;
  return p.string();
}
}  // namespace

TEST_CASE("CoNLL: spaces as separators, -DOCSTART- lines and comments", "[data][formats]") {
  const auto path = write_temp("conll2003.txt",
                               "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n"
                               "German JJ B-NP B-MISC\n\n-DOCSTART- -X- -X- O\n# sent_id = 3\n"
                               "Peter NNP B-NP B-PER\nBlackburn NNP I-NP I-PER\n# O\n");
  const auto s = ts::data::read_conll(path);
  REQUIRE(s.size() == 2);
  CHECK(s[0].words == std::vector<std::string>{"EU", "rejects", "German"});
  CHECK(s[0].tags == std::vector<std::string>{"B-ORG", "O", "B-MISC"});
  CHECK(s[0].lines == std::vector<int64_t>{3, 4, 5});
  // "# O" reads as the word "#" tagged O; "# sent_id = 3" is a comment
  CHECK(s[1].words == std::vector<std::string>{"Peter", "Blackburn", "#"});
  CHECK(s[1].tags == std::vector<std::string>{"B-PER", "I-PER", "O"});
  const auto broken = write_temp("broken.txt", "Peter B-PER\nthe O\nman I-PER\n");
  CHECK_THROWS_WITH(ts::data::read_conll(broken), Contains("line 3") && Contains("I-PER"));
}

TEST_CASE("SQuAD JSONL: answers as a dict of lists or a list, several gold answers",
          "[data][formats]") {
  const auto path =
      write_temp("squad.jsonl",
                 R"({"id": "a", "context": "Émile lives in Paris, France.", "question": "Where?", )"
                 R"("answers": {"text": ["Paris", "Paris, France"], "answer_start": [15, 15]}})"
                 "\n"
                 R"({"id": "b", "context": "It costs 5 €.", "question": "How much?", )"
                 R"("answers": [{"text": "5 €", "answer_start": 9}]})"
                 "\n");
  const auto r = ts::data::read_squad_jsonl(path);
  REQUIRE(r.size() == 2);
  CHECK(r[0].answer_text == "Paris");
  CHECK(r[0].answers == std::vector<std::string>{"Paris", "Paris, France"});
  CHECK(r[0].answer_start_byte == 16);  // "É" is two bytes
  CHECK(r[1].answers == std::vector<std::string>{"5 €"});
  // SQuAD scores the best gold answer
  CHECK(ts::models::max_token_f1("Paris, France", r[0].answers) == Approx(1.0));
  CHECK(ts::models::max_token_f1("France", r[0].answers) == Approx(2.0 / 3.0));
  CHECK(ts::models::max_token_f1("x", {}) == 0.0);
  const auto v2 =
      write_temp("v2.jsonl",
                 R"({"context": "c", "question": "q", "answers": {"text": [], "answer_start": []}})"
                 "\n");
  CHECK_THROWS_WITH(ts::data::read_squad_jsonl(v2), Contains("line 1") && Contains("empty"));
  const auto wrong = write_temp(
      "wrong.jsonl",
      R"({"context": "abc", "question": "q", "answers": {"text": ["b"], "answer_start": [0]}})"
      "\n");
  CHECK_THROWS_WITH(ts::data::read_squad_jsonl(wrong), Contains("does not match"));
  const auto shape =
      write_temp("shape.jsonl", R"({"context": "abc", "question": "q", "answers": 3})"
                                "\n");
  CHECK_THROWS_WITH(ts::data::read_squad_jsonl(shape), Contains("\"answers\" must be"));
}

TEST_CASE("read_tsv: column bounds, header, blank lines and UTF-8 validation", "[data][formats]") {
  ts::test::ScratchDir dir;
  auto write = [&](const std::string& name, const std::string& text) {
    std::ofstream(dir.file(name), std::ios::binary) << text;
    return dir.file(name);
  };
  auto error_of = [](auto&& fn) { return ts::test::error_of(fn); };
  const std::string three = write("three.tsv", "a\tb\tc\nd\te\tf\n");
  CHECK(ts::data::read_tsv(three, {.min_columns = 3, .max_columns = 3}).rows.size() == 2);
  CHECK_THAT(error_of([&] { ts::data::read_tsv(three, {.min_columns = 4}); }),
             Contains("line 1") && Contains("3 tab-separated column(s), expected at least 4"));
  CHECK_THAT(error_of([&] { ts::data::read_tsv(three, {.max_columns = 2}); }),
             Contains("line 1") && Contains("expected 1 to 2"));
  const std::string ragged = write("ragged.tsv", "a\tb\nc\td\te\n");
  CHECK_THAT(error_of([&] { ts::data::read_tsv(ragged, {.min_columns = 2, .max_columns = 2}); }),
             Contains("line 2") && Contains("3 tab-separated column(s), expected 2"));
  // a header is returned apart from the rows; blank lines are skipped unless asked not to
  const std::string headed = write("headed.tsv", "label\ttext\n\npos\tgood\n");
  const auto h = ts::data::read_tsv(headed, {.has_header = true});
  CHECK(h.header == std::vector<std::string>{"label", "text"});
  REQUIRE(h.rows.size() == 1);
  CHECK(h.rows[0].line == 3);
  CHECK(h.column("text") == 1);
  CHECK(ts::data::read_tsv(headed, {.has_header = true, .skip_empty = false}).rows.size() == 2);
  // invalid UTF-8 names the line and byte, unless validation is off
  const std::string bad = write("bad.tsv", "ok\tfine\nbad\tx\xC3(\n");
  CHECK_THAT(error_of([&] { ts::data::read_tsv(bad); }),
             Contains("line 2") && Contains("invalid UTF-8 at byte 6"));
  CHECK(ts::data::read_tsv(bad, {.validate_utf8 = false}).rows.size() == 2);
}
