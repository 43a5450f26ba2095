// Word-level NER tags, BIO entities and QA span selection (see decoding.h).
#include "taesan/train/decoding.h"

#include <algorithm>
#include <limits>

#include "taesan/autograd/factory.h"
#include "taesan/core/error.h"
#include "taesan/data/unicode.h"
#include "taesan/ops/linalg.h"

namespace taesan::models {

std::vector<std::string> ner_word_tags(const float* logits, int64_t T, int64_t num_labels,
                                       const std::vector<int64_t>& word_ids, int64_t num_words,
                                       const data::LabelVocab& labels) {
  TS_CHECK(static_cast<int64_t>(word_ids.size()) <= T,
           "ner_word_tags: {} word ids for {} token positions", word_ids.size(), T);
  TS_CHECK(num_labels == labels.size() && num_labels > 0,
           "ner_word_tags: {} logits per token but {} labels", num_labels, labels.size());
  std::vector<std::string> tags(static_cast<size_t>(num_words), "O");
  std::vector<bool> seen(static_cast<size_t>(num_words), false);
  for (size_t t = 0; t < word_ids.size(); ++t) {
    const int64_t w = word_ids[t];
    if (w < 0) continue;
    TS_CHECK(w < num_words, "ner_word_tags: token {} names word {} of a {}-word sentence", t, w,
             num_words);
    if (seen[static_cast<size_t>(w)]) continue;  // the first token of a word decides
    seen[static_cast<size_t>(w)] = true;
    const float* row = logits + static_cast<int64_t>(t) * num_labels;
    tags[static_cast<size_t>(w)] =
        labels.label(static_cast<int64_t>(std::max_element(row, row + num_labels) - row));
  }
  return tags;
}

Tensor mean_over_word_pieces(const Tensor& logits, const Tensor& labels,
                             const Tensor& attention_mask) {
  TS_CHECK(logits.dim() == 3, "mean_over_word_pieces: logits must be (B, T, L), got {}",
           logits.shape());
  const int64_t B = logits.size(0), T = logits.size(1);
  TS_CHECK(labels.dim() == 2 && labels.size(0) == B && labels.size(1) == T,
           "mean_over_word_pieces: labels must be (B, T) = ({}, {}), got {}", B, T, labels.shape());
  const bool masked = attention_mask.defined();
  TS_CHECK(!masked || attention_mask.shape() == labels.shape(),
           "mean_over_word_pieces: attention_mask must be (B, T) = ({}, {}), got {}", B, T,
           masked ? attention_mask.shape() : Shape{});
  const auto y = labels.to(DType::Int64).contiguous().to_vector<int64_t>();
  std::vector<int64_t> m;
  if (masked) m = attention_mask.to(DType::Int64).contiguous().to_vector<int64_t>();
  // P (B, T, T): identity, except that the row of a word's first token averages its tokens.
  std::vector<double> p(static_cast<size_t>(B * T * T), 0.0);
  for (int64_t b = 0; b < B; ++b) {
    double* pb = p.data() + b * T * T;
    for (int64_t t = 0; t < T; ++t) pb[t * T + t] = 1.0;
    int64_t last = T - 1;  // the last attended token: [SEP]
    if (masked)
      while (last >= 0 && m[static_cast<size_t>(b * T + last)] == 0) --last;
    for (int64_t s = 0; s < last; ++s) {
      if (y[static_cast<size_t>(b * T + s)] < 0) continue;
      int64_t e = s + 1;
      while (e < last && y[static_cast<size_t>(b * T + e)] < 0) ++e;
      for (int64_t t = s; t < e; ++t) pb[s * T + t] = 1.0 / static_cast<double>(e - s);
    }
  }
  return ops::bmm(from_vector(p, {B, T, T}).to(logits.dtype()), logits);
}

std::vector<TaggedEntity> bio_entities(const std::vector<std::string>& tags) {
  std::vector<TaggedEntity> out;
  bool open = false;
  for (size_t i = 0; i < tags.size(); ++i) {
    const std::string& t = tags[i];
    const bool b = t.size() > 2 && t.compare(0, 2, "B-") == 0;
    const bool in = t.size() > 2 && t.compare(0, 2, "I-") == 0;
    const std::string type = (b || in) ? t.substr(2) : "";
    if (in && open && out.back().type == type) {
      out.back().last_word = static_cast<int64_t>(i);
      continue;
    }
    open = b || in;
    if (open) out.push_back({type, static_cast<int64_t>(i), static_cast<int64_t>(i)});
  }
  return out;
}

QaSpan best_qa_span(const float* logits, int64_t T,
                    const std::vector<std::pair<int64_t, int64_t>>& offsets,
                    int64_t max_answer_tokens) {
  TS_CHECK(static_cast<int64_t>(offsets.size()) <= T,
           "best_qa_span: {} offsets for {} token positions", offsets.size(), T);
  TS_CHECK(max_answer_tokens >= 1, "best_qa_span: max_answer_tokens must be >= 1, got {}",
           max_answer_tokens);
  const int64_t n = static_cast<int64_t>(offsets.size());
  QaSpan best{-1, -1, -std::numeric_limits<double>::infinity()};
  for (int64_t s = 0; s < n; ++s) {
    if (offsets[static_cast<size_t>(s)].first < 0) continue;
    const double ss = logits[s * 2];
    for (int64_t e = s; e < std::min(n, s + max_answer_tokens); ++e) {
      if (offsets[static_cast<size_t>(e)].first < 0) continue;
      const double sc = ss + logits[e * 2 + 1];
      if (sc > best.score) best = {s, e, sc};
    }
  }
  return best;
}

void QaAnswerSelector::add(int64_t feature, const float* logits, int64_t T,
                           int64_t max_answer_tokens) {
  TS_CHECK(feature >= 0 && feature < static_cast<int64_t>(dataset_.features.size()),
           "QaAnswerSelector::add: feature {} outside [0, {})", feature, dataset_.features.size());
  const data::QaFeature& f = dataset_.features[static_cast<size_t>(feature)];
  const QaSpan span = best_qa_span(logits, T, f.offsets, max_answer_tokens);
  if (span.start < 0) return;
  const std::string& context = dataset_.records[static_cast<size_t>(f.record)].context;
  const int64_t size = static_cast<int64_t>(context.size());
  int64_t begin = std::clamp<int64_t>(f.offsets[static_cast<size_t>(span.start)].first, 0, size);
  int64_t end = std::clamp<int64_t>(f.offsets[static_cast<size_t>(span.end)].second, begin, size);
  // Byte-level tokens may start or end inside a multi-byte character: widen to whole characters.
  begin = static_cast<int64_t>(data::floor_char_boundary(context, static_cast<size_t>(begin)));
  end = static_cast<int64_t>(data::ceil_char_boundary(context, static_cast<size_t>(end)));
  auto it = best_.find(f.record);
  if (it == best_.end() || span.score > it->second.score)
    best_[f.record] = Best{span.score, begin, end};
}

std::pair<int64_t, int64_t> QaAnswerSelector::answer_bytes(int64_t record) const {
  auto it = best_.find(record);
  if (it == best_.end()) return {-1, -1};
  return {it->second.begin, it->second.end};
}

std::string QaAnswerSelector::answer(int64_t record) const {
  const auto [b, e] = answer_bytes(record);
  if (b < 0) return {};
  return dataset_.records[static_cast<size_t>(record)].context.substr(static_cast<size_t>(b),
                                                                      static_cast<size_t>(e - b));
}

}  // namespace taesan::models
