// BpeTokenizer: vocabulary tables, encoding (special tokens, pre-tokenization, a word cache, and
// the ranked-merge loop with a heap per word) and decoding. JSON lives in bpe_tokenizer_json.cc,
// training in bpe_trainer.cc.
#include "taesan/data/bpe_tokenizer.h"

#include <algorithm>
#include <functional>
#include <mutex>
#include <queue>

#include "taesan/core/error.h"
#include "taesan/core/parallel.h"
#include "taesan/data/pretokenizer.h"
#include "taesan/data/unicode.h"

namespace taesan::data {
namespace {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

inline uint64_t pair_key(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

// Words longer than this are encoded without caching (they are rare and would bloat the cache).
constexpr size_t kMaxCachedWord = 256;
// The cache is emptied when it grows past this many words.
constexpr size_t kMaxCacheEntries = 1 << 20;

}  // namespace

struct BpeTokenizer::Cache {
  std::mutex mutex;
  std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> words;
};

BpeTokenizer::BpeTokenizer(std::vector<std::string> vocab, std::vector<bool> special,
                           std::vector<Merge> merges, bool use_regex)
    : vocab_(std::move(vocab)),
      special_(std::move(special)),
      merges_(std::move(merges)),
      use_regex_(use_regex),
      cache_(std::make_shared<Cache>()) {
  byte_ids_.fill(-1);
  for (size_t id = 0; id < vocab_.size(); ++id) {
    const auto i = static_cast<int32_t>(id);
    if (special_[id]) {
      TS_CHECK(!vocab_[id].empty(), "BpeTokenizer: special token {} is empty", id);
      // tokenizer.json stores special tokens as JSON text: they must be valid UTF-8.
      TS_CHECK(is_valid_utf8(vocab_[id]),
               "BpeTokenizer: special token {} ('{}') is not valid UTF-8", id,
               bytes_to_printable(vocab_[id]));
      TS_CHECK(special_to_id_.emplace(vocab_[id], i).second,
               "BpeTokenizer: special token '{}' appears twice", vocab_[id]);
      specials_by_length_.push_back(i);
      special_first_byte_[static_cast<unsigned char>(vocab_[id][0])] = true;
    } else {
      TS_CHECK(!vocab_[id].empty(), "BpeTokenizer: token {} is empty", id);
      TS_CHECK(bytes_to_id_.emplace(vocab_[id], i).second,
               "BpeTokenizer: token '{}' appears twice (ids {} and {})",
               bytes_to_printable(vocab_[id]), bytes_to_id_[vocab_[id]], id);
      if (vocab_[id].size() == 1) byte_ids_[static_cast<unsigned char>(vocab_[id][0])] = i;
    }
  }
  std::stable_sort(specials_by_length_.begin(), specials_by_length_.end(),
                   [&](int32_t a, int32_t b) { return vocab_[a].size() > vocab_[b].size(); });
  for (size_t r = 0; r < merges_.size(); ++r) {
    const Merge& m = merges_[r];
    const auto regular = [&](int32_t id) {
      return id >= 0 && static_cast<size_t>(id) < vocab_.size() && !special_[id];
    };
    // Special tokens are matched before BPE runs: a merge that reads or makes one is corrupt.
    TS_CHECK(regular(m.left) && regular(m.right) && regular(m.result),
             "BpeTokenizer: merge {} ({} + {} -> {}) uses an id that is special or outside the "
             "{} tokens",
             r, m.left, m.right, m.result, vocab_.size());
    // A repeated merge keeps its first (best) rank, as in Hugging Face's loader.
    merge_ranks_.emplace(pair_key(m.left, m.right), MergeRank{static_cast<int32_t>(r), m.result});
  }
}

void BpeTokenizer::split_on_specials(std::string_view text, std::vector<Piece>& out) const {
  out.clear();
  if (specials_by_length_.empty()) {
    if (!text.empty()) out.push_back({0, text.size(), -1});
    return;
  }
  size_t start = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    if (!special_first_byte_[static_cast<unsigned char>(text[pos])]) {
      ++pos;
      continue;
    }
    int32_t found = -1;
    for (int32_t id : specials_by_length_) {
      if (text.compare(pos, vocab_[id].size(), vocab_[id]) == 0) {
        found = id;
        break;
      }
    }
    if (found < 0) {
      ++pos;
      continue;
    }
    if (pos > start) out.push_back({start, pos, -1});
    out.push_back({pos, pos + vocab_[found].size(), found});
    pos += vocab_[found].size();
    start = pos;
  }
  if (start < text.size()) out.push_back({start, text.size(), -1});
}

void BpeTokenizer::encode_word(std::string_view word, std::vector<int32_t>& out) const {
  // Symbols form a linked list; a min-heap of (rank, position) picks the best merge, leftmost
  // first, which is the same as repeatedly merging every occurrence of the lowest-ranked pair.
  const auto n = static_cast<int32_t>(word.size());
  struct Symbol {
    int32_t id, prev, next;
    bool alive;
  };
  std::vector<Symbol> sym(static_cast<size_t>(n));
  for (int32_t i = 0; i < n; ++i) {
    int32_t id = byte_ids_[static_cast<unsigned char>(word[i])];
    TS_CHECK(id >= 0, "BpeTokenizer::encode: byte 0x{:02X} has no token in this vocabulary",
             static_cast<unsigned char>(word[i]));
    sym[i] = {id, i - 1, i + 1 < n ? i + 1 : -1, true};
  }
  struct Candidate {
    int32_t rank, pos;
    bool operator>(const Candidate& o) const {
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> heap;
  auto push = [&](int32_t pos) {
    int32_t next = sym[pos].next;
    if (next < 0) return;
    auto it = merge_ranks_.find(pair_key(sym[pos].id, sym[next].id));
    if (it != merge_ranks_.end()) heap.push({it->second.rank, pos});
  };
  for (int32_t i = 0; i + 1 < n; ++i) push(i);
  while (!heap.empty()) {
    Candidate top = heap.top();
    heap.pop();
    Symbol& s = sym[top.pos];
    if (!s.alive || s.next < 0) continue;
    auto it = merge_ranks_.find(pair_key(s.id, sym[s.next].id));
    if (it == merge_ranks_.end() || it->second.rank != top.rank) continue;  // stale entry
    Symbol& right = sym[s.next];
    s.id = it->second.result;
    right.alive = false;
    s.next = right.next;
    if (s.next >= 0) sym[s.next].prev = top.pos;
    if (s.prev >= 0) push(s.prev);
    push(top.pos);
  }
  for (int32_t i = 0; i >= 0 && i < n; i = sym[i].next) out.push_back(sym[i].id);
}

void BpeTokenizer::encode_into(std::string_view text, Cache& cache, std::vector<int64_t>& ids,
                               std::vector<std::pair<int64_t, int64_t>>* offsets) const {
  std::vector<Span> spans;
  std::vector<int32_t> word_ids;
  auto emit_word = [&](size_t begin, size_t end) {
    std::string_view word = text.substr(begin, end - begin);
    const std::vector<int32_t>* word_pieces;
    if (word.size() == 1 && byte_ids_[static_cast<unsigned char>(word[0])] >= 0) {
      word_ids.assign(1, byte_ids_[static_cast<unsigned char>(word[0])]);
      word_pieces = &word_ids;
    } else if (word.size() > kMaxCachedWord) {
      word_ids.clear();
      encode_word(word, word_ids);
      word_pieces = &word_ids;
    } else {
      auto it = cache.words.find(word);
      if (it == cache.words.end()) {
        if (cache.words.size() >= kMaxCacheEntries) cache.words.clear();
        std::vector<int32_t> computed;
        encode_word(word, computed);
        it = cache.words.emplace(std::string(word), std::move(computed)).first;
      }
      word_pieces = &it->second;
    }
    auto pos = static_cast<int64_t>(begin);
    for (int32_t id : *word_pieces) {
      ids.push_back(id);
      if (offsets != nullptr) {
        auto len = static_cast<int64_t>(vocab_[id].size());
        offsets->emplace_back(pos, pos + len);
        pos += len;
      }
    }
  };
  std::vector<Piece> pieces;
  split_on_specials(text, pieces);
  for (const Piece& piece : pieces) {
    if (piece.special >= 0) {
      ids.push_back(piece.special);
      if (offsets != nullptr) offsets->emplace_back(piece.begin, piece.end);
    } else if (!use_regex_) {
      emit_word(piece.begin, piece.end);
    } else {
      spans.clear();
      pre_tokenize(text.substr(piece.begin, piece.end - piece.begin), spans, piece.begin);
      for (const Span& s : spans) emit_word(s.begin, s.end);
    }
  }
}

std::vector<int64_t> BpeTokenizer::encode(std::string_view text) const {
  std::vector<int64_t> ids;
  ids.reserve(text.size() / 3 + 1);
  std::lock_guard<std::mutex> lock(cache_->mutex);
  encode_into(text, *cache_, ids, nullptr);
  return ids;
}

Encoding BpeTokenizer::encode_with_offsets(std::string_view text) const {
  Encoding enc;
  std::lock_guard<std::mutex> lock(cache_->mutex);
  encode_into(text, *cache_, enc.ids, &enc.offsets);
  return enc;
}

std::vector<std::vector<int64_t>> BpeTokenizer::encode_batch(
    const std::vector<std::string>& texts) const {
  std::vector<std::vector<int64_t>> out(texts.size());
  parallel_for(static_cast<int64_t>(texts.size()), 16, [&](int64_t begin, int64_t end) {
    Cache local;  // one cache per chunk: no locking between threads
    for (int64_t i = begin; i < end; ++i) encode_into(texts[i], local, out[i], nullptr);
  });
  return out;
}

std::vector<Encoding> BpeTokenizer::encode_batch_with_offsets(
    const std::vector<std::string>& texts) const {
  std::vector<Encoding> out(texts.size());
  parallel_for(static_cast<int64_t>(texts.size()), 16, [&](int64_t begin, int64_t end) {
    Cache local;
    for (int64_t i = begin; i < end; ++i) {
      encode_into(texts[i], local, out[i].ids, &out[i].offsets);
    }
  });
  return out;
}

std::string BpeTokenizer::decode(const std::vector<int64_t>& ids, bool skip_special_tokens) const {
  std::string out;
  for (size_t i = 0; i < ids.size(); ++i) {
    int64_t id = ids[i];
    TS_CHECK(id >= 0 && id < vocab_size(),
             "BpeTokenizer::decode: id {} at position {} is outside the vocabulary [0, {})", id, i,
             vocab_size());
    if (skip_special_tokens && special_[id]) continue;
    out += vocab_[id];
  }
  return out;
}

std::optional<int64_t> BpeTokenizer::find_token(std::string_view token) const {
  if (auto it = special_to_id_.find(std::string(token)); it != special_to_id_.end()) {
    return it->second;
  }
  std::string bytes;
  if (!printable_to_bytes(token, &bytes)) return std::nullopt;
  if (auto it = bytes_to_id_.find(bytes); it != bytes_to_id_.end()) return it->second;
  return std::nullopt;
}

int64_t BpeTokenizer::token_to_id(std::string_view token) const {
  std::optional<int64_t> id = find_token(token);
  TS_CHECK(id.has_value(),
           "BpeTokenizer::token_to_id: '{}' is not in the vocabulary ({} tokens; regular tokens "
           "are written in GPT-2 printable form, e.g. 'Ġthe' for ' the')",
           token, vocab_size());
  return *id;
}

std::string BpeTokenizer::id_to_token(int64_t id) const {
  TS_CHECK(id >= 0 && id < vocab_size(),
           "BpeTokenizer::id_to_token: id {} is outside the vocabulary [0, {})", id, vocab_size());
  return special_[id] ? vocab_[id] : bytes_to_printable(vocab_[id]);
}

const std::string& BpeTokenizer::token_bytes(int64_t id) const {
  TS_CHECK(id >= 0 && id < vocab_size(),
           "BpeTokenizer::token_bytes: id {} is outside the vocabulary [0, {})", id, vocab_size());
  return vocab_[id];
}

bool BpeTokenizer::is_special(int64_t id) const {
  TS_CHECK(id >= 0 && id < vocab_size(),
           "BpeTokenizer::is_special: id {} is outside the vocabulary [0, {})", id, vocab_size());
  return special_[id];
}

std::vector<int64_t> BpeTokenizer::special_ids() const {
  std::vector<int64_t> ids;
  for (size_t i = 0; i < special_.size(); ++i) {
    if (special_[i]) ids.push_back(static_cast<int64_t>(i));
  }
  return ids;
}

std::vector<std::pair<std::string, std::string>> BpeTokenizer::merges() const {
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(merges_.size());
  for (const Merge& m : merges_) out.emplace_back(id_to_token(m.left), id_to_token(m.right));
  return out;
}

}  // namespace taesan::data
