// The file formats users bring: CoNLL separated by spaces with -DOCSTART- lines (CoNLL-2003) and
// CoNLL-U comments; SQuAD's "answers" field in both of its shapes, several gold answers, and
// SQuAD v2's unanswerable questions refused by name.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

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
