// SQuAD-style JSONL reading (character -> byte offsets, answer checks) and windowed encoding.
#include "taesan/data/qa.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <set>

#include "taesan/core/error.h"
#include "taesan/data/unicode.h"

namespace taesan::data {

std::vector<QaRecord> read_squad_jsonl(const std::string& path, const ProgressFn& progress) {
  std::string text = read_file(path, "read_squad_jsonl");
  TS_CHECK(!text.empty(), "read_squad_jsonl: '{}' is empty (expected one JSON object a line)",
           path);
  std::vector<QaRecord> records;
  size_t pos = 0;
  int64_t number = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    size_t end = nl == std::string::npos ? text.size() : nl;
    std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      fail("read_squad_jsonl: '{}' line {}: not valid JSON: {}", path, number, e.what());
    }
    TS_CHECK(j.is_object(), "read_squad_jsonl: '{}' line {}: expected a JSON object", path, number);
    auto field = [&](const char* name) -> const nlohmann::json& {
      TS_CHECK(j.contains(name), "read_squad_jsonl: '{}' line {}: no \"{}\" field", path, number,
               name);
      return j[name];
    };
    auto text_field = [&](const char* name) {
      const auto& f = field(name);
      TS_CHECK(f.is_string(), "read_squad_jsonl: '{}' line {}: \"{}\" is {} (expected a string)",
               path, number, name, f.type_name());
      return f.get<std::string>();
    };
    QaRecord r;
    r.line = number;
    r.id = j.contains("id") && j["id"].is_string() ? j["id"].get<std::string>()
                                                   : fmt::format("line{}", number);
    r.context = text_field("context");
    r.question = text_field("question");
    // The answer: "answer_text" + "answer_start" (the pack's form), or SQuAD's "answers" as
    // {"text": [...], "answer_start": [...]} (Hugging Face datasets) or [{"text", "answer_start"}]
    // (the original JSON). The first answer is trained on; every one counts when scoring.
    std::vector<std::pair<std::string, nlohmann::json>> answers;  // (text, start)
    if (j.contains("answer_text") || !j.contains("answers")) {
      answers.emplace_back(text_field("answer_text"), field("answer_start"));
    } else {
      const auto& a = j["answers"];
      auto bad = [&] {
        fail(
            "read_squad_jsonl: '{}' line {}: \"answers\" must be {{\"text\": [...], "
            "\"answer_start\": [...]}} or a list of {{\"text\", \"answer_start\"}} (got {})",
            path, number, a.dump().substr(0, 80));
      };
      if (a.is_object()) {
        if (!a.contains("text") || !a.contains("answer_start") || !a["text"].is_array() ||
            !a["answer_start"].is_array() || a["text"].size() != a["answer_start"].size())
          bad();
        for (size_t k = 0; k < a["text"].size(); ++k) {
          if (!a["text"][k].is_string()) bad();
          answers.emplace_back(a["text"][k].get<std::string>(), a["answer_start"][k]);
        }
      } else if (a.is_array()) {
        for (const auto& x : a) {
          if (!x.is_object() || !x.contains("text") || !x["text"].is_string() ||
              !x.contains("answer_start"))
            bad();
          answers.emplace_back(x["text"].get<std::string>(), x["answer_start"]);
        }
      } else {
        bad();
      }
      TS_CHECK(!answers.empty(),
               "read_squad_jsonl: '{}' line {}: \"answers\" is empty (SQuAD v2's unanswerable "
               "questions are not supported)",
               path, number);
    }
    for (size_t k = 0; k < answers.size(); ++k) {
      const auto& [answer, start] = answers[k];
      TS_CHECK(start.is_number_integer(),
               "read_squad_jsonl: '{}' line {}: \"answer_start\" is {} (expected an integer)", path,
               number, start.is_structured() ? start.type_name() : start.dump());
      const int64_t start_char = start.get<int64_t>();
      TS_CHECK(!answer.empty(), "read_squad_jsonl: '{}' line {}: answer_text is empty", path,
               number);
      const int64_t start_byte = char_to_byte_offset(r.context, start_char);
      TS_CHECK(start_byte >= 0,
               "read_squad_jsonl: '{}' line {}: answer_start {} is outside the context ({} "
               "characters)",
               path, number, start_char, count_chars(r.context));
      if (r.context.compare(start_byte, answer.size(), answer) != 0) {
        std::string found = r.context.substr(start_byte, answer.size());
        fail(
            "read_squad_jsonl: '{}' line {}: answer_text '{}' does not match the context at "
            "character {} (found '{}')",
            path, number, answer, start_char, found);
      }
      if (k == 0) {
        r.answer_text = answer;
        r.answer_start_char = start_char;
        r.answer_start_byte = start_byte;
      }
      r.answers.push_back(answer);
    }
    records.push_back(std::move(r));
    if (progress) progress(path, static_cast<int64_t>(records.size()), 0);
  }
  TS_CHECK(!records.empty(), "read_squad_jsonl: '{}' has no records", path);
  return records;
}

std::vector<std::string> match_words(const std::string& text, std::vector<int64_t>* word_of_byte) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  auto punct = [](char c) { return std::ispunct(static_cast<unsigned char>(c)) != 0; };
  std::vector<std::string> words;
  if (word_of_byte) word_of_byte->assign(text.size(), -1);
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && space(text[i])) ++i;
    size_t j = i;
    while (j < text.size() && !space(text[j])) ++j;
    size_t b = i, e = j;
    while (b < e && punct(text[b])) ++b;
    while (e > b && punct(text[e - 1])) --e;
    if (e > b) {
      if (word_of_byte)
        for (size_t k = b; k < e; ++k) (*word_of_byte)[k] = static_cast<int64_t>(words.size());
      words.push_back(lowercase(std::string_view(text).substr(b, e - b)));
    }
    i = j;
  }
  return words;
}

QaDataset load_squad_jsonl(const std::string& path, const BpeTokenizer& tokenizer,
                           const QaOptions& options) {
  return encode_qa_records(read_squad_jsonl(path, options.progress), tokenizer, options);
}

QaDataset encode_qa_records(std::vector<QaRecord> records, const BpeTokenizer& tokenizer,
                            const QaOptions& options) {
  QaDataset ds;
  ds.records = std::move(records);
  const int64_t cls = tokenizer.token_to_id(options.cls_token);
  const int64_t sep = tokenizer.token_to_id(options.sep_token);
  TS_CHECK(options.max_query_length > 0 && options.stride >= 0,
           "load_squad_jsonl: max_query_length {} must be > 0 and stride {} >= 0",
           options.max_query_length, options.stride);
  std::vector<std::string> questions, contexts;
  for (const auto& r : ds.records) {
    questions.push_back(r.question);
    contexts.push_back(r.context);
  }
  std::vector<std::vector<int64_t>> q_ids = tokenizer.encode_batch(questions);
  std::vector<Encoding> c_enc = tokenizer.encode_batch_with_offsets(contexts);
  // Byte-level BPE tokens may start or end inside a multi-byte character (a Korean syllable or
  // "–" is often several tokens): widen each token's span to the characters it touches, so that
  // every span cut from the offsets is valid UTF-8. Tokens of one character share its span.
  for (size_t ri = 0; ri < c_enc.size(); ++ri) {
    for (auto& [b, e] : c_enc[ri].offsets) {
      b = static_cast<int64_t>(floor_char_boundary(contexts[ri], static_cast<size_t>(b)));
      e = static_cast<int64_t>(ceil_char_boundary(contexts[ri], static_cast<size_t>(e)));
    }
  }
  for (size_t ri = 0; ri < ds.records.size(); ++ri) {
    const QaRecord& r = ds.records[ri];
    std::vector<int64_t>& q = q_ids[ri];
    if (static_cast<int64_t>(q.size()) > options.max_query_length)
      q.resize(options.max_query_length);
    const auto qn = static_cast<int64_t>(q.size());
    const int64_t room = options.max_length - qn - 3;
    TS_CHECK(room > options.stride,
             "load_squad_jsonl: max_length {} leaves {} context tokens per window after a {}-token "
             "question, not more than the stride {}",
             options.max_length, room, qn, options.stride);
    const Encoding& c = c_enc[ri];
    const auto n = static_cast<int64_t>(c.ids.size());
    // Token span of the answer: first token ending after its start, last starting before its end.
    const int64_t a = r.answer_start_byte;
    const int64_t b = a + static_cast<int64_t>(r.answer_text.size());
    int64_t first = -1, last = -1;
    for (int64_t i = 0; i < n; ++i) {
      if (first < 0 && c.offsets[i].second > a) first = i;
      if (c.offsets[i].first < b) last = i;
    }
    const int64_t context_pos = qn + 2;  // [CLS] q [SEP]
    // Token type of each context token: 2 when its word is one of the question's.
    std::vector<int64_t> context_type(static_cast<size_t>(n), 1);
    if (options.mark_question_words) {
      const std::vector<std::string> qw = match_words(r.question);
      const std::set<std::string> question_words(qw.begin(), qw.end());
      std::vector<int64_t> word_of_byte;
      const std::vector<std::string> cw = match_words(r.context, &word_of_byte);
      for (int64_t i = 0; i < n; ++i) {
        const auto [tb, te] = c.offsets[static_cast<size_t>(i)];
        for (int64_t k = tb; k < te; ++k) {  // the token's first byte inside a word decides
          const int64_t w = word_of_byte[static_cast<size_t>(k)];
          if (w < 0) continue;
          if (question_words.count(cw[static_cast<size_t>(w)])) context_type[i] = 2;
          break;
        }
      }
    }
    for (int64_t start = 0;; start = start + room - options.stride) {
      const int64_t end = std::min(n, start + room);
      Example e;
      QaFeature f;
      f.record = static_cast<int64_t>(ri);
      e.input_ids.push_back(cls);
      e.input_ids.insert(e.input_ids.end(), q.begin(), q.end());
      e.input_ids.push_back(sep);
      e.input_ids.insert(e.input_ids.end(), c.ids.begin() + start, c.ids.begin() + end);
      e.input_ids.push_back(sep);
      e.token_type_ids.assign(static_cast<size_t>(context_pos), 0);
      e.token_type_ids.insert(e.token_type_ids.end(), context_type.begin() + start,
                              context_type.begin() + end);
      e.token_type_ids.push_back(1);  // the closing [SEP]
      f.offsets.assign(static_cast<size_t>(context_pos), {-1, -1});
      f.offsets.insert(f.offsets.end(), c.offsets.begin() + start, c.offsets.begin() + end);
      f.offsets.emplace_back(-1, -1);
      if (first >= start && last < end && first >= 0 && last >= first) {
        e.labels = {context_pos + first - start, context_pos + last - start};
      } else {
        e.labels = {0, 0};
      }
      e.label_kind = LabelKind::kPerSequence;
      ds.examples.push_back(std::move(e));
      ds.features.push_back(std::move(f));
      if (end >= n) break;
    }
  }
  return ds;
}

std::string qa_answer_text(const QaDataset& dataset, int64_t feature, int64_t start, int64_t end) {
  TS_CHECK(feature >= 0 && feature < static_cast<int64_t>(dataset.features.size()),
           "qa_answer_text: feature {} is outside [0, {})", feature, dataset.features.size());
  const QaFeature& f = dataset.features[feature];
  const auto n = static_cast<int64_t>(f.offsets.size());
  if (start <= 0 || end < start || end >= n) return {};
  if (f.offsets[start].first < 0 || f.offsets[end].first < 0) return {};
  const std::string& context = dataset.records[f.record].context;
  const auto size = static_cast<int64_t>(context.size());
  const int64_t b = f.offsets[start].first, e = f.offsets[end].second;
  if (b > size || e > size || e <= b) return {};
  // The features' offsets are on character boundaries already; offsets made elsewhere (from
  // encode_with_offsets directly) may not be, so widen to the enclosing characters again.
  const size_t from = floor_char_boundary(context, static_cast<size_t>(b));
  const size_t to = ceil_char_boundary(context, static_cast<size_t>(e));
  return context.substr(from, to - from);
}

}  // namespace taesan::data
