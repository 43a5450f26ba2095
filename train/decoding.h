// Turning a task model's outputs back into answers in the user's terms: word-level NER tags
// from token logits (through word_ids), entities with character offsets, and the best QA span
// over a question's windows (forced non-empty, as SQuAD v1 has an answer for every question).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "taesan/autograd/tensor.h"
#include "taesan/data/label_vocab.h"
#include "taesan/data/qa.h"

namespace taesan::models {

/// The tag of every word of a sentence from one example's token logits (T, L) row-major: each
/// word takes the arg-max tag of its first token (the convention of Hugging Face's token
/// classification); words without a token (truncated) get "O". `word_ids[t]` is the word of token
/// t, -1 for specials. Throws when word_ids is longer than T or names a word >= num_words.
std::vector<std::string> ner_word_tags(const float* logits, int64_t T, int64_t num_labels,
                                       const std::vector<int64_t>& word_ids, int64_t num_words,
                                       const data::LabelVocab& labels);

/// Word pooling of NER logits (the "average" aggregation of Hugging Face's token-classification
/// pipeline, applied in training too): `logits` (B, T, L) with the row of each word's first token
/// replaced by the mean of the rows of all the word's tokens. A word starts at a labelled token
/// (`labels` (B, T) >= 0, as NER examples label first tokens) and runs over the unlabelled tokens
/// after it, up to the next labelled token or the last attended token ([SEP], excluded). Other
/// rows are unchanged. `attention_mask` (B, T) may be undefined (all attended). Differentiable: a
/// batched matmul with a constant (B, T, T) averaging matrix, in the dtype of `logits`.
Tensor mean_over_word_pieces(const Tensor& logits, const Tensor& labels,
                             const Tensor& attention_mask = Tensor());

/// An entity found in a tagged sentence: its type and its words [first, last].
struct TaggedEntity {
  std::string type;
  int64_t first_word = 0, last_word = 0;
};
/// Entities of BIO tags as seqeval reads them: B-X starts one, I-X continues an entity of type X,
/// an I-X that does not continue one starts a new one.
std::vector<TaggedEntity> bio_entities(const std::vector<std::string>& tags);

/// The highest-scoring span of one QA window: start <= end < start + max_answer_tokens, both on
/// context tokens (offsets[t].first >= 0). `logits` is (T, 2) row-major (start, end scores).
/// Returns {-1, -1, -inf} when the window holds no context token.
struct QaSpan {
  int64_t start = -1, end = -1;
  double score = 0;
};
QaSpan best_qa_span(const float* logits, int64_t T,
                    const std::vector<std::pair<int64_t, int64_t>>& offsets,
                    int64_t max_answer_tokens = 30);

/// Collects the best answer of every record over its windows: add() each scored window, then
/// answer(record) is the text of the best span (valid UTF-8, on character boundaries).
class QaAnswerSelector {
 public:
  explicit QaAnswerSelector(const data::QaDataset& dataset) : dataset_(dataset) {}
  /// Scores window `feature` of the dataset from its logits (T, 2).
  void add(int64_t feature, const float* logits, int64_t T, int64_t max_answer_tokens = 30);
  /// The best answer found for `record` ("" when none of its windows was added).
  std::string answer(int64_t record) const;
  /// The byte offsets [begin, end) of that answer in the record's context ({-1, -1}: none).
  std::pair<int64_t, int64_t> answer_bytes(int64_t record) const;

 private:
  struct Best {
    double score;
    int64_t begin, end;  // bytes of the context
  };
  const data::QaDataset& dataset_;
  std::map<int64_t, Best> best_;
};

}  // namespace taesan::models
