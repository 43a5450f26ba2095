// CoNLL reading with BIO validation, and word -> sub-word label alignment.
#include "taesan/data/ner.h"

#include <algorithm>

#include "taesan/core/error.h"
#include "taesan/data/unicode.h"

namespace taesan::data {
namespace {

// Validates a BIO tag against the previous tag of the sentence ("O" at a sentence start).
void check_bio(const std::string& path, int64_t line, const std::string& tag,
               const std::string& previous) {
  if (tag == "O") return;
  TS_CHECK(tag.size() > 2 && (tag[0] == 'B' || tag[0] == 'I') && tag[1] == '-',
           "read_conll: '{}' line {}: tag '{}' is not BIO (expected O, B-TYPE or I-TYPE)", path,
           line, tag);
  if (tag[0] == 'I') {
    const std::string type = tag.substr(2);
    TS_CHECK(previous == "B-" + type || previous == "I-" + type,
             "read_conll: '{}' line {}: tag '{}' follows '{}' (an I-{} must continue a B-{} or "
             "I-{})",
             path, line, tag, previous, type, type, type);
  }
}

}  // namespace

std::vector<NerSentence> read_conll(const std::string& path) {
  std::string text = read_file(path, "read_conll");
  TS_CHECK(!text.empty(), "read_conll: '{}' is empty (expected token<TAB>tag lines)", path);
  std::vector<NerSentence> sentences;
  NerSentence current;
  size_t pos = 0;
  int64_t number = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    size_t end = nl == std::string::npos ? text.size() : nl;
    std::string_view line(text.data() + pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    ++number;
    pos = end + 1;
    size_t bad = 0;
    TS_CHECK(is_valid_utf8(line, &bad), "read_conll: '{}' line {}: invalid UTF-8 at byte {}", path,
             number, bad + 1);
    const bool blank = line.find_first_not_of(" \t") == std::string_view::npos;
    if (blank) {
      if (!current.words.empty()) sentences.push_back(std::move(current));
      current = {};
      if (nl == std::string::npos) break;
      continue;
    }
    if (line.find('\t') == std::string_view::npos && line[0] == '#') continue;  // comment
    std::vector<std::string> fields = split_tabs(line);
    TS_CHECK(fields.size() >= 2,
             "read_conll: '{}' line {}: {} tab-separated column(s), expected token<TAB>tag", path,
             number, fields.size());
    TS_CHECK(!fields.front().empty(), "read_conll: '{}' line {}: the token is empty", path, number);
    const std::string& tag = fields.back();
    check_bio(path, number, tag, current.tags.empty() ? std::string("O") : current.tags.back());
    current.lines.push_back(number);
    current.words.push_back(std::move(fields.front()));
    current.tags.push_back(tag);
    if (nl == std::string::npos) break;
  }
  if (!current.words.empty()) sentences.push_back(std::move(current));
  TS_CHECK(!sentences.empty(), "read_conll: '{}' has no sentences", path);
  return sentences;
}

NerDataset load_conll_ner(const std::string& path, const BpeTokenizer& tokenizer,
                          const NerOptions& options) {
  return encode_ner_sentences(read_conll(path), tokenizer, options, path);
}

NerDataset encode_ner_sentences(std::vector<NerSentence> sentences, const BpeTokenizer& tokenizer,
                                const NerOptions& options, const std::string& path) {
  TS_CHECK(options.max_length >= 3, "load_conll_ner: max_length {} leaves no room",
           options.max_length);
  NerDataset ds;
  ds.sentences = std::move(sentences);
  for (const auto& s : ds.sentences)
    TS_CHECK(s.words.size() == s.tags.size() && s.words.size() == s.lines.size(),
             "encode_ner_sentences: '{}': a sentence has {} words, {} tags and {} line numbers",
             path, s.words.size(), s.tags.size(), s.lines.size());
  if (options.labels.has_value()) {
    ds.labels = *options.labels;
  } else {
    std::vector<std::string> tags;
    for (const auto& s : ds.sentences) tags.insert(tags.end(), s.tags.begin(), s.tags.end());
    std::sort(tags.begin(), tags.end());
    tags.erase(std::unique(tags.begin(), tags.end()), tags.end());
    std::erase(tags, "O");
    tags.insert(tags.begin(), "O");
    ds.labels = LabelVocab(tags);
  }
  const int64_t cls = tokenizer.token_to_id(options.cls_token);
  const int64_t sep = tokenizer.token_to_id(options.sep_token);
  // Every word of every sentence, with the space GPT-2 would see before it.
  std::vector<std::string> pieces;
  for (const auto& s : ds.sentences) {
    for (size_t w = 0; w < s.words.size(); ++w)
      pieces.push_back(w == 0 ? s.words[w] : " " + s.words[w]);
  }
  std::vector<std::vector<int64_t>> encoded = tokenizer.encode_batch(pieces);
  size_t next_piece = 0;
  const auto room = static_cast<size_t>(options.max_length - 2);
  for (size_t si = 0; si < ds.sentences.size(); ++si) {
    const NerSentence& s = ds.sentences[si];
    Example e;
    std::vector<int64_t> words;
    e.input_ids.push_back(cls);
    e.labels.push_back(kIgnoreIndex);
    words.push_back(-1);
    bool cut = false;
    for (size_t w = 0; w < s.words.size(); ++w) {
      const auto& ids = encoded[next_piece++];
      auto tag = ds.labels.find(s.tags[w]);
      TS_CHECK(tag.has_value(), "load_conll_ner: '{}' line {}: unknown tag '{}' (known: '{}')",
               path, s.lines[w], s.tags[w], fmt::join(ds.labels.labels(), "', '"));
      for (size_t k = 0; k < ids.size(); ++k) {
        if (e.input_ids.size() - 1 >= room) {
          cut = true;
          break;
        }
        e.input_ids.push_back(ids[k]);
        e.labels.push_back(k == 0 ? *tag : kIgnoreIndex);
        words.push_back(static_cast<int64_t>(w));
      }
    }
    e.input_ids.push_back(sep);
    e.labels.push_back(kIgnoreIndex);
    words.push_back(-1);
    e.label_kind = LabelKind::kPerToken;
    ds.truncated += cut ? 1 : 0;
    ds.examples.push_back(std::move(e));
    ds.word_ids.push_back(std::move(words));
    if (options.progress) {
      options.progress(path, static_cast<int64_t>(si + 1),
                       static_cast<int64_t>(ds.sentences.size()));
    }
  }
  return ds;
}

}  // namespace taesan::data
