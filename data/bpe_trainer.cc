// BpeTokenizer::train: count pre-tokenized words once, then merge the most frequent pair again
// and again. Pair counts are kept up to date incrementally: a merge only touches the words that
// contain the pair (an index pair -> words), and a lazy max-heap of (count, pair) finds the next
// pair; stale heap entries are re-pushed with their current count when popped. Ties go to the
// pair with the smaller ids, so training is deterministic.
#include <algorithm>
#include <functional>
#include <queue>

#include "taesan/core/error.h"
#include "taesan/data/bpe_tokenizer.h"
#include "taesan/data/pretokenizer.h"
#include "taesan/data/unicode.h"

namespace taesan::data {
namespace {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

struct Word {
  std::vector<int32_t> symbols;
  int64_t count;
};

struct HeapEntry {
  int64_t count;
  uint64_t pair;
  // Max-heap on count; on equal counts the smaller pair key comes first.
  bool operator<(const HeapEntry& o) const {
    return count != o.count ? count < o.count : pair > o.pair;
  }
};

inline uint64_t key_of(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

}  // namespace

BpeTokenizer BpeTokenizer::train(const std::vector<std::string>& texts,
                                 const BpeTrainOptions& options) {
  const auto num_special = static_cast<int64_t>(options.special_tokens.size());
  TS_CHECK(options.vocab_size >= num_special + 256,
           "BpeTokenizer::train: vocab_size {} is smaller than the {} special tokens + 256 byte "
           "tokens",
           options.vocab_size, num_special);
  TS_CHECK(options.vocab_size <= (int64_t{1} << 30),
           "BpeTokenizer::train: vocab_size {} is too large", options.vocab_size);
  TS_CHECK(options.min_frequency >= 1, "BpeTokenizer::train: min_frequency {} must be >= 1",
           options.min_frequency);

  // Base vocabulary: the special tokens, then one token per byte value.
  std::vector<std::string> vocab = options.special_tokens;
  std::vector<bool> special(vocab.size(), true);
  for (int b = 0; b < 256; ++b) {
    vocab.emplace_back(1, static_cast<char>(b));
    special.push_back(false);
  }
  const BpeTokenizer base(vocab, special, {}, options.use_regex);

  // 1. Count the words (pre-tokens) of every text, special tokens cut out.
  std::unordered_map<std::string, int64_t, StringHash, std::equal_to<>> word_counts;
  std::vector<Span> spans;
  std::vector<Piece> pieces;
  auto add_word = [&](std::string_view w) {
    auto it = word_counts.find(w);
    if (it != word_counts.end()) {
      ++it->second;
    } else {
      word_counts.emplace(std::string(w), 1);
    }
  };
  for (size_t t = 0; t < texts.size(); ++t) {
    std::string_view text = texts[t];
    base.split_on_specials(text, pieces);
    for (const Piece& piece : pieces) {
      if (piece.special >= 0) continue;
      if (!options.use_regex) {
        add_word(text.substr(piece.begin, piece.end - piece.begin));
        continue;
      }
      spans.clear();
      pre_tokenize(text.substr(piece.begin, piece.end - piece.begin), spans, piece.begin);
      for (const Span& s : spans) add_word(text.substr(s.begin, s.end - s.begin));
    }
    if (options.progress && (t + 1) % 10000 == 0) {
      options.progress("count words", static_cast<int64_t>(t + 1),
                       static_cast<int64_t>(texts.size()));
    }
  }
  std::vector<Word> words;
  words.reserve(word_counts.size());
  for (const auto& [w, c] : word_counts) {
    Word word{{}, c};
    word.symbols.reserve(w.size());
    for (unsigned char b : w) word.symbols.push_back(static_cast<int32_t>(num_special + b));
    words.push_back(std::move(word));
  }
  word_counts = {};

  // 2. Initial pair counts and the index pair -> words containing it.
  std::unordered_map<uint64_t, int64_t> pair_count;
  std::unordered_map<uint64_t, std::vector<int32_t>> pair_words;
  for (size_t w = 0; w < words.size(); ++w) {
    const auto& s = words[w].symbols;
    for (size_t i = 0; i + 1 < s.size(); ++i) {
      uint64_t key = key_of(s[i], s[i + 1]);
      pair_count[key] += words[w].count;
      auto& list = pair_words[key];
      if (list.empty() || list.back() != static_cast<int32_t>(w))
        list.push_back(static_cast<int32_t>(w));
    }
  }
  std::priority_queue<HeapEntry> heap;
  for (const auto& [key, count] : pair_count) heap.push({count, key});

  // 3. Merge until the vocabulary is full or no pair is frequent enough.
  std::unordered_map<std::string, int32_t> token_ids;
  for (size_t id = 0; id < vocab.size(); ++id) {
    if (!special[id]) token_ids.emplace(vocab[id], static_cast<int32_t>(id));
  }
  std::vector<Merge> merges;
  std::unordered_map<uint64_t, int64_t> delta;
  std::vector<int32_t> touched;
  while (static_cast<int64_t>(vocab.size()) < options.vocab_size && !heap.empty()) {
    HeapEntry top = heap.top();
    heap.pop();
    auto count_it = pair_count.find(top.pair);
    int64_t current = count_it == pair_count.end() ? 0 : count_it->second;
    if (current != top.count) {  // stale: re-queue with the true count
      if (current >= options.min_frequency) heap.push({current, top.pair});
      continue;
    }
    if (current < options.min_frequency) break;
    const auto left = static_cast<int32_t>(top.pair >> 32);
    const auto right = static_cast<int32_t>(top.pair & 0xFFFFFFFFu);
    std::string merged = vocab[left] + vocab[right];
    int32_t result;
    if (auto it = token_ids.find(merged); it != token_ids.end()) {
      result = it->second;  // the same bytes were already built from another pair
    } else {
      result = static_cast<int32_t>(vocab.size());
      token_ids.emplace(merged, result);
      vocab.push_back(std::move(merged));
      special.push_back(false);
    }
    merges.push_back({left, right, result});
    pair_count.erase(count_it);
    touched.clear();
    if (auto words_it = pair_words.find(top.pair); words_it != pair_words.end()) {
      touched = std::move(words_it->second);
      pair_words.erase(words_it);
    }
    std::sort(touched.begin(), touched.end());
    touched.erase(std::unique(touched.begin(), touched.end()), touched.end());

    for (int32_t w : touched) {
      auto& s = words[w].symbols;
      const int64_t count = words[w].count;
      auto change = [&](int32_t a, int32_t b, int64_t sign) {
        uint64_t key = key_of(a, b);
        if (key == top.pair) return;  // the merged pair's count is gone as a whole
        delta[key] += sign * count;
        if (sign > 0) {
          auto& list = pair_words[key];
          if (list.empty() || list.back() != w) list.push_back(w);
        }
      };
      size_t out = 0;
      const size_t n = s.size();
      for (size_t i = 0; i < n;) {
        if (i + 1 < n && s[i] == left && s[i + 1] == right) {
          if (out > 0) {
            change(s[out - 1], left, -1);
            change(s[out - 1], result, +1);
          }
          if (i + 2 < n) {
            change(right, s[i + 2], -1);
            change(result, s[i + 2], +1);
          }
          s[out++] = result;
          i += 2;
        } else {
          s[out++] = s[i++];
        }
      }
      s.resize(out);
    }
    for (const auto& [key, d] : delta) {
      if (d == 0) continue;
      int64_t& c = pair_count[key];
      c += d;
      if (d > 0) heap.push({c, key});
    }
    delta.clear();
    if (options.progress && merges.size() % 1000 == 0) {
      options.progress("merges", static_cast<int64_t>(vocab.size()), options.vocab_size);
    }
  }
  return BpeTokenizer(std::move(vocab), std::move(special), std::move(merges), options.use_regex);
}

}  // namespace taesan::data
