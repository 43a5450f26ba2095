// What the baselines' source files share (not part of the public API): the lower-cased tokens of
// a text, and TF-IDF features: feature keys numbered once ("terms"), a vocabulary of the terms
// kept with their IDF, and sparse unit-length rows.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "taesan/train/baselines.h"

namespace taesan::train::detail {

/// A token of a lower-cased text: a run of letters and digits (word = true) or one other
/// non-space character.
struct TextToken {
  std::string text;
  bool word = false;
};

/// The tokens of data::lowercase(text), white space dropped.
std::vector<TextToken> text_tokens(std::string_view text);

/// Feature keys numbered in order of first appearance. A key starts with a kind byte ('w' token,
/// 'b' bigram, 'c' character n-gram) so that kinds never collide.
class Terms {
 public:
  /// Sorted term ids of the features of `text` (repeats kept: the term frequency), numbering new
  /// keys.
  std::vector<int32_t> add_text(std::string_view text, const TextFeatureOptions& o);
  int32_t size() const { return static_cast<int32_t>(keys_.size()); }
  const std::string& key(int32_t id) const { return *keys_[static_cast<size_t>(id)]; }

 private:
  std::unordered_map<std::string, int32_t> ids_;
  std::vector<const std::string*> keys_;
};

/// (column, weight) pairs sorted by column.
using SparseRow = std::vector<std::pair<int32_t, double>>;

/// The terms kept as columns (in term order) with their IDF, and the key -> column map that
/// vectorizes new text.
struct Vocabulary {
  TextFeatureOptions options;
  std::vector<int32_t> column;                     ///< term id -> column, -1 when not kept
  std::vector<double> idf;                         ///< per column
  std::unordered_map<std::string, int32_t> index;  ///< key -> column
  int64_t size() const { return static_cast<int64_t>(idf.size()); }
};

/// The vocabulary of docs[rows] (each doc the sorted term ids of Terms::add_text): terms in at
/// least options.min_document_frequency of those docs.
Vocabulary build_vocabulary(const Terms& terms, const std::vector<std::vector<int32_t>>& docs,
                            const std::vector<int64_t>& rows, const TextFeatureOptions& options);

/// The unit-length TF-IDF row of a doc's sorted term ids (terms not kept are ignored).
SparseRow vectorize_terms(const Vocabulary& v, const std::vector<int32_t>& doc);

/// The unit-length TF-IDF row of new text (features not in the vocabulary are ignored).
SparseRow vectorize_text(const Vocabulary& v, std::string_view text);

}  // namespace taesan::train::detail
