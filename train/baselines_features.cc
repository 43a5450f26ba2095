// TF-IDF features of raw text for the baselines (see baselines_internal.h): Unicode lower case,
// word/punctuation tokens, token bigrams and character n-grams within words.
#include <algorithm>
#include <cmath>

#include "taesan/data/unicode.h"
#include "taesan/train/baselines_internal.h"

namespace taesan::train::detail {

std::vector<TextToken> text_tokens(std::string_view text) {
  const std::string lower = data::lowercase(text);
  auto class_at = [&](size_t pos, size_t* length) {
    const data::DecodedChar ch = data::decode_utf8(lower, pos);
    *length = ch.length;
    return ch.valid ? data::char_class(ch.code_point) : data::CharClass::kOther;
  };
  auto in_word = [](data::CharClass c) {
    return c == data::CharClass::kLetter || c == data::CharClass::kNumber;
  };
  std::vector<TextToken> out;
  size_t pos = 0, len = 0;
  while (pos < lower.size()) {
    const auto cls = class_at(pos, &len);
    if (cls == data::CharClass::kSpace) {
      pos += len;
    } else if (!in_word(cls)) {
      out.push_back({lower.substr(pos, len), false});
      pos += len;
    } else {
      size_t end = pos + len;
      while (end < lower.size() && in_word(class_at(end, &len))) end += len;
      out.push_back({lower.substr(pos, end - pos), true});
      pos = end;
    }
  }
  return out;
}

template <typename Fn>
void for_each_feature(std::string_view text, const TextFeatureOptions& o, Fn&& fn) {
  const std::vector<TextToken> tokens = text_tokens(text);
  std::string key;  // reused: no allocation per feature once it has grown
  std::string padded;
  std::vector<size_t> starts;
  for (size_t i = 0; i < tokens.size(); ++i) {
    key.assign(1, 'w').append(tokens[i].text);
    fn(std::string_view(key));
    if (o.word_bigrams && i + 1 < tokens.size()) {
      key.assign(1, 'b').append(tokens[i].text).append(1, ' ').append(tokens[i + 1].text);
      fn(std::string_view(key));
    }
    if (!tokens[i].word || o.max_char_n <= 0) continue;
    // Code point starts of " word " (the spaces mark the word's edges).
    padded.assign(1, ' ').append(tokens[i].text).append(1, ' ');
    starts.clear();
    for (size_t p = 0; p < padded.size(); p += data::decode_utf8(padded, p).length)
      starts.push_back(p);
    starts.push_back(padded.size());
    const auto chars = static_cast<int64_t>(starts.size()) - 1;
    for (int64_t n = std::max<int64_t>(1, o.min_char_n); n <= o.max_char_n; ++n) {
      for (int64_t b = 0; b + n <= chars; ++b) {
        if (n == 1 && (b == 0 || b == chars - 1)) continue;  // a lone edge marker says nothing
        key.assign(1, 'c').append(padded, starts[b], starts[b + n] - starts[b]);
        fn(std::string_view(key));
      }
    }
  }
}

std::vector<int32_t> Terms::add_text(std::string_view text, const TextFeatureOptions& o) {
  std::vector<int32_t> doc;
  for_each_feature(text, o, [&](std::string_view key) {
    auto [it, fresh] = ids_.try_emplace(std::string(key), static_cast<int32_t>(keys_.size()));
    if (fresh) keys_.push_back(&it->first);
    doc.push_back(it->second);
  });
  std::sort(doc.begin(), doc.end());
  return doc;
}

Vocabulary build_vocabulary(const Terms& terms, const std::vector<std::vector<int32_t>>& docs,
                            const std::vector<int64_t>& rows, const TextFeatureOptions& options) {
  std::vector<int64_t> df(static_cast<size_t>(terms.size()), 0);
  for (int64_t r : rows) {
    const auto& doc = docs[static_cast<size_t>(r)];
    for (size_t i = 0; i < doc.size(); ++i)
      if (i == 0 || doc[i] != doc[i - 1]) df[static_cast<size_t>(doc[i])]++;
  }
  Vocabulary v;
  v.options = options;
  v.column.assign(df.size(), -1);
  const auto n = static_cast<double>(rows.size());
  for (int32_t t = 0; t < terms.size(); ++t) {
    const int64_t count = df[static_cast<size_t>(t)];
    if (count == 0 || count < options.min_document_frequency) continue;
    v.column[static_cast<size_t>(t)] = static_cast<int32_t>(v.idf.size());
    v.index.emplace(terms.key(t), static_cast<int32_t>(v.idf.size()));
    // Smoothed IDF, as scikit-learn: as if one more document held every term.
    v.idf.push_back(std::log((1.0 + n) / (1.0 + static_cast<double>(count))) + 1.0);
  }
  return v;
}

namespace {

// Sorted columns (repeats = term frequency) -> unit-length sublinear TF-IDF row.
SparseRow weigh(const Vocabulary& v, const std::vector<int32_t>& columns) {
  SparseRow row;
  double norm2 = 0;
  for (size_t i = 0; i < columns.size();) {
    size_t j = i;
    while (j < columns.size() && columns[j] == columns[i]) ++j;
    const double w =
        (1.0 + std::log(static_cast<double>(j - i))) * v.idf[static_cast<size_t>(columns[i])];
    row.emplace_back(columns[i], w);
    norm2 += w * w;
    i = j;
  }
  if (norm2 > 0) {
    const double inv = 1.0 / std::sqrt(norm2);
    for (auto& e : row) e.second *= inv;
  }
  return row;
}

}  // namespace

SparseRow vectorize_terms(const Vocabulary& v, const std::vector<int32_t>& doc) {
  std::vector<int32_t> columns;  // sorted, since columns follow term order
  columns.reserve(doc.size());
  for (int32_t t : doc) {
    if (static_cast<size_t>(t) < v.column.size() && v.column[static_cast<size_t>(t)] >= 0)
      columns.push_back(v.column[static_cast<size_t>(t)]);
  }
  return weigh(v, columns);
}

SparseRow vectorize_text(const Vocabulary& v, std::string_view text) {
  std::vector<int32_t> columns;
  std::string lookup;
  for_each_feature(text, v.options, [&](std::string_view key) {
    lookup.assign(key);
    auto it = v.index.find(lookup);
    if (it != v.index.end()) columns.push_back(it->second);
  });
  std::sort(columns.begin(), columns.end());
  return weigh(v, columns);
}

}  // namespace taesan::train::detail
