// predict(): fine-tuned weights run on new inputs, one JSON object per input (finetune.h):
// labels with scores, entities with character offsets, answers, translations, generations.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "taesan/app/finetune.h"
#include "taesan/app/model_meta.h"
#include "taesan/autograd/grad_mode.h"
#include "taesan/core/error.h"
#include "taesan/data/data.h"
#include "taesan/data/unicode.h"
#include "taesan/models/generate.h"
#include "taesan/models/heads.h"
#include "taesan/models/transformer_models.h"
#include "taesan/nn/serialize.h"
#include "taesan/ops/ops.h"
#include "taesan/train/batching.h"
#include "taesan/train/decoding.h"

namespace taesan::models {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr int64_t kBatch = 32;

/// The input file's lines (empty lines skipped), each checked to be valid UTF-8.
std::vector<std::pair<int64_t, std::string>> input_lines(const std::string& path) {
  const auto lines = data::read_lines(path);
  std::vector<std::pair<int64_t, std::string>> out;
  for (size_t i = 0; i < lines.size(); ++i) {
    size_t bad = 0;
    TS_CHECK(data::is_valid_utf8(lines[i], &bad), "predict: '{}' line {}: invalid UTF-8 at byte {}",
             path, i + 1, bad);
    if (!lines[i].empty()) out.emplace_back(static_cast<int64_t>(i + 1), lines[i]);
  }
  TS_CHECK(!out.empty(), "predict: '{}' holds no non-empty line", path);
  return out;
}

/// Code points in text[0, byte).
int64_t char_offset(const std::string& text, int64_t byte) {
  return data::count_chars(std::string_view(text).substr(0, static_cast<size_t>(byte)));
}

std::string after_tab(const std::string& line) {
  const size_t tab = line.find('\t');
  return tab == std::string::npos ? line : line.substr(tab + 1);
}
std::string before_tab(const std::string& line) { return line.substr(0, line.find('\t')); }

std::vector<std::string> predict_classify(const ModelMeta& m, const std::string& weights,
                                          const data::BpeTokenizer& tok, const std::string& path) {
  const int64_t nl = static_cast<int64_t>(m.labels.size());
  SequenceClassifier model(m.config, nl, 0.1, Pooling::kMean);
  load(model, weights);
  model.eval();
  const auto lines = input_lines(path);
  const int64_t L = m.seq_len > 2 ? m.seq_len : std::min<int64_t>(128, m.config.max_position);
  std::vector<std::string> texts;
  std::vector<data::Example> ex;
  for (const auto& [line, s] : lines) {
    texts.push_back(after_tab(s));
    auto ids = tok.encode(texts.back());
    ids.resize(std::min<size_t>(ids.size(), static_cast<size_t>(L - 2)));
    data::Example e;
    e.input_ids.push_back(tok.token_to_id("[CLS]"));
    e.input_ids.insert(e.input_ids.end(), ids.begin(), ids.end());
    e.input_ids.push_back(tok.token_to_id("[SEP]"));
    ex.push_back(std::move(e));
  }
  std::vector<std::string> out;
  for (const auto& b : eval_batches(ex, kBatch, m.config.pad_token_id)) {
    const Tensor p = softmax(model.forward(b.input_ids, b.attention_mask), -1).contiguous();
    const auto v = p.to_vector<float>();
    for (int64_t i = 0; i < p.size(0); ++i) {
      const float* row = &v[static_cast<size_t>(i * nl)];
      const int64_t best = static_cast<int64_t>(std::max_element(row, row + nl) - row);
      json scores = json::object();
      for (int64_t k = 0; k < nl; ++k) scores[m.labels[static_cast<size_t>(k)]] = row[k];
      out.push_back(json{
          {"text", texts[out.size()]},
          {"label", m.labels[static_cast<size_t>(best)]},
          {"scores",
           scores}}.dump());
    }
  }
  return out;
}

std::vector<std::string> predict_ner(const ModelMeta& m, const std::string& weights,
                                     const data::BpeTokenizer& tok, const std::string& path) {
  const int64_t nl = static_cast<int64_t>(m.labels.size());
  TokenClassifier model(m.config, nl);
  load(model, weights);
  model.eval();
  // Sentences: a CoNLL file's, or one per line with words split on white space; `starts` keeps
  // each word's byte offset in the sentence text.
  std::vector<data::NerSentence> sentences;
  std::vector<std::string> texts;
  std::vector<std::vector<int64_t>> starts;
  if (fs::path(path).extension() == ".conll") {
    sentences = data::read_conll(path);
    for (auto& s : sentences) {
      std::string t;
      std::vector<int64_t> st;
      for (const auto& w : s.words) {
        if (!t.empty()) t += ' ';
        st.push_back(static_cast<int64_t>(t.size()));
        t += w;
      }
      std::fill(s.tags.begin(), s.tags.end(), "O");
      texts.push_back(t);
      starts.push_back(st);
    }
  } else {
    for (const auto& [line, s] : input_lines(path)) {
      data::NerSentence sent;
      std::vector<int64_t> st;
      size_t i = 0;
      while (i < s.size()) {
        while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
        const size_t j = std::min(s.find_first_of(" \t", i), s.size());
        if (j > i) {
          st.push_back(static_cast<int64_t>(i));
          sent.words.push_back(s.substr(i, j - i));
          sent.tags.push_back("O");
          sent.lines.push_back(line);
        }
        i = j;
      }
      if (sent.words.empty()) continue;
      sentences.push_back(std::move(sent));
      texts.push_back(s);
      starts.push_back(std::move(st));
    }
  }
  TS_CHECK(!sentences.empty(), "predict: '{}' holds no sentence", path);
  data::NerOptions no;
  no.max_length = m.seq_len > 2 ? m.seq_len : std::min<int64_t>(128, m.config.max_position);
  no.labels = data::LabelVocab(m.labels);
  const data::NerDataset ds = data::encode_ner_sentences(sentences, tok, no, path);
  std::vector<std::string> out;
  size_t next = 0;
  for (const auto& b : eval_batches(ds.examples, kBatch, m.config.pad_token_id)) {
    Tensor logits = model.forward(b.input_ids, b.attention_mask);
    if (m.word_pooling == "mean")
      logits = mean_over_word_pieces(logits, b.labels, b.attention_mask);
    logits = logits.contiguous();
    const auto v = logits.to_vector<float>();
    const int64_t T = logits.size(1);
    for (int64_t j = 0; j < logits.size(0); ++j, ++next) {
      const auto& words = ds.sentences[next].words;
      const auto tags = ner_word_tags(&v[static_cast<size_t>(j * T * nl)], T, nl, ds.word_ids[next],
                                      static_cast<int64_t>(words.size()), ds.labels);
      json ents = json::array();
      const std::string& text = texts[next];
      for (const auto& e : bio_entities(tags)) {
        const int64_t b0 = starts[next][static_cast<size_t>(e.first_word)];
        const int64_t b1 = starts[next][static_cast<size_t>(e.last_word)] +
                           static_cast<int64_t>(words[static_cast<size_t>(e.last_word)].size());
        ents.push_back(
            json{{"type", e.type},
                 {"text", text.substr(static_cast<size_t>(b0), static_cast<size_t>(b1 - b0))},
                 {"start", char_offset(text, b0)},
                 {"end", char_offset(text, b1)}});
      }
      out.push_back(
          json{{"text", text}, {"words", words}, {"tags", tags}, {"entities", ents}}.dump());
    }
  }
  return out;
}

std::vector<std::string> predict_qa(const ModelMeta& m, const std::string& weights,
                                    const data::BpeTokenizer& tok, const std::string& path) {
  QuestionAnswering model(m.config);
  load(model, weights);
  model.eval();
  std::vector<data::QaRecord> records;
  for (const auto& [line, s] : input_lines(path)) {
    json j;
    try {
      j = json::parse(s);
    } catch (const json::exception& e) {
      fail("predict: '{}' line {}: not JSON ({})", path, line, e.what());
    }
    TS_CHECK(j.is_object() && j.contains("context") && j["context"].is_string() &&
                 j.contains("question") && j["question"].is_string(),
             "predict: '{}' line {}: expected an object with string fields \"context\" and "
             "\"question\"",
             path, line);
    data::QaRecord r;
    r.id =
        j.contains("id") && j["id"].is_string() ? j["id"].get<std::string>() : std::to_string(line);
    r.context = j["context"];
    r.question = j["question"];
    TS_CHECK(!r.context.empty(), "predict: '{}' line {}: the context is empty", path, line);
    r.line = line;
    records.push_back(std::move(r));
  }
  data::QaOptions qo;
  qo.max_length = m.seq_len > 8 ? m.seq_len : std::min<int64_t>(192, m.config.max_position);
  qo.stride = qo.max_length / 2;
  qo.max_query_length = std::min<int64_t>(32, qo.max_length / 3);
  qo.mark_question_words = qa_marks_question_words(m.config);
  const data::QaDataset ds = data::encode_qa_records(records, tok, qo);
  QaAnswerSelector selector(ds);
  int64_t next = 0;
  for (const auto& b : eval_batches(ds.examples, kBatch, m.config.pad_token_id)) {
    const Tensor logits =
        model.forward(b.input_ids, b.attention_mask, b.token_type_ids).contiguous();
    const auto v = logits.to_vector<float>();
    const int64_t T = logits.size(1);
    for (int64_t j = 0; j < logits.size(0); ++j, ++next)
      selector.add(next, &v[static_cast<size_t>(j * T * 2)], T);
  }
  std::vector<std::string> out;
  for (size_t r = 0; r < ds.records.size(); ++r) {
    const auto [b0, b1] = selector.answer_bytes(static_cast<int64_t>(r));
    const std::string& ctx = ds.records[r].context;
    out.push_back(json{{"id", ds.records[r].id},
                       {"question", ds.records[r].question},
                       {"answer", selector.answer(static_cast<int64_t>(r))},
                       {"start", b0 < 0 ? json(nullptr) : json(char_offset(ctx, b0))},
                       {"end", b1 < 0 ? json(nullptr) : json(char_offset(ctx, b1))}}
                      .dump());
  }
  return out;
}

std::vector<std::string> predict_seq(const ModelMeta& m, const std::string& weights,
                                     const data::BpeTokenizer& tok, const std::string& path,
                                     int64_t max_new) {
  std::vector<std::string> out;
  GenerationOptions g;
  g.max_new_tokens = max_new;
  g.eos_token_id = tok.token_to_id("[EOS]");
  if (m.kind == "encdec") {
    EncoderDecoderModel model(m.config);
    load(model, weights);
    model.eval();
    const int64_t room = std::max<int64_t>(1, m.config.max_position - 1);
    for (const auto& [line, s] : input_lines(path)) {
      const std::string src = before_tab(s);
      auto ids = tok.encode(src);
      ids.resize(std::min<size_t>(ids.size(), static_cast<size_t>(room)));
      ids.push_back(tok.token_to_id("[EOS]"));
      out.push_back(
          json{{"source", src},
               {"translation", tok.decode(generate(model, ids, tok.token_to_id("[BOS]"), g), true)}}
              .dump());
    }
    return out;
  }
  DecoderModel model(m.config);
  load(model, weights);
  model.eval();
  g.repetition_penalty = 1.2;
  for (const auto& [line, s] : input_lines(path)) {
    auto ids = tok.encode(s);
    const int64_t keep = std::max<int64_t>(1, m.config.max_position - max_new);
    if (static_cast<int64_t>(ids.size()) > keep)
      ids.erase(ids.begin(), ids.end() - keep);  // the end of a long prompt
    out.push_back(
        json{{"prompt", s}, {"generation", tok.decode(generate(model, ids, g), true)}}.dump());
  }
  return out;
}

}  // namespace

std::vector<std::string> predict(const std::string& weights_in, const std::string& input_file,
                                 int64_t max_new_tokens) {
  const std::string weights = resolve_model_path(weights_in);
  const ModelMeta m = read_model_meta(weights);
  TS_CHECK(!m.task.empty(), "predict: '{}' is a pretrained {} model, not a fine-tuned task model",
           weights, m.kind);
  TS_CHECK(max_new_tokens >= 1, "predict: max_new_tokens must be >= 1, got {}", max_new_tokens);
  const data::BpeTokenizer tok = data::BpeTokenizer::load(model_tokenizer_path(weights, m));
  check_model_meta(m, weights, m.kind, nullptr, tok, "predict");
  NoGradGuard ng;
  switch (task_type_of(m.task)) {
    case TaskType::kClassify:
      return predict_classify(m, weights, tok, input_file);
    case TaskType::kNer:
      return predict_ner(m, weights, tok, input_file);
    case TaskType::kQa:
      return predict_qa(m, weights, tok, input_file);
    case TaskType::kTranslation:
    case TaskType::kGeneration:
      return predict_seq(m, weights, tok, input_file, max_new_tokens);
  }
  fail("predict: '{}' has an unknown task '{}'", weights, m.task);
}

}  // namespace taesan::models
