// ts::data::BpeTokenizer: byte-level BPE (GPT-2 style) for any language and any byte string.
// Text -> special tokens cut out -> GPT-2 pre-tokenization -> bytes -> ranked merges -> ids.
// Saved and loaded as a Hugging Face tokenizer.json (BPE model, ByteLevel pre-tokenizer/decoder).
// Training (bpe_trainer.cc) keeps pair counts up to date incrementally, with a priority queue.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "taesan/data/text_io.h"

namespace taesan::data {

/// The special tokens of the pack's models, in their conventional order.
inline const std::vector<std::string> kDefaultSpecialTokens = {"[PAD]",  "[UNK]", "[CLS]", "[SEP]",
                                                               "[MASK]", "[BOS]", "[EOS]"};

/// Options of BpeTokenizer::train.
struct BpeTrainOptions {
  /// Final vocabulary size, special tokens and the 256 byte tokens included.
  int64_t vocab_size = 8000;
  /// A pair seen fewer times than this is never merged (training may stop below vocab_size).
  int64_t min_frequency = 2;
  /// Tokens that are never split or merged; they get ids 0, 1, ... in this order.
  std::vector<std::string> special_tokens = {};
  /// GPT-2 pre-tokenization (true) or none: each text between special tokens is one word.
  bool use_regex = true;
  /// Optional progress reports ("count words", "merges").
  ProgressFn progress = {};
};

/// Token ids with the byte span [begin, end) of each token in the encoded text.
struct Encoding {
  std::vector<int64_t> ids;
  std::vector<std::pair<int64_t, int64_t>> offsets;
};

/// A byte-level BPE tokenizer. Immutable once built; encode/decode are safe from several threads.
class BpeTokenizer {
 public:
  /// Learns merges from `texts` until the vocabulary has `options.vocab_size` tokens.
  static BpeTokenizer train(const std::vector<std::string>& texts, const BpeTrainOptions& options);
  /// Reads a Hugging Face tokenizer.json (BPE model, ByteLevel pre-tokenizer, no normalizer).
  static BpeTokenizer load(const std::string& path);
  /// Same as load, from the JSON text; `source` names it in errors.
  static BpeTokenizer from_json(const std::string& json_text, const std::string& source = "json");

  /// Writes a Hugging Face tokenizer.json (atomically: a temporary file renamed over `path`).
  void save(const std::string& path) const;
  /// The tokenizer.json text.
  std::string to_json() const;

  /// Token ids of `text` (any bytes). Special tokens in the text become their ids.
  std::vector<int64_t> encode(std::string_view text) const;
  /// Token ids and the byte span of each token in `text`.
  Encoding encode_with_offsets(std::string_view text) const;
  /// encode() of each text, spread over the thread pool (same result for any thread count).
  std::vector<std::vector<int64_t>> encode_batch(const std::vector<std::string>& texts) const;
  /// encode_with_offsets() of each text, spread over the thread pool.
  std::vector<Encoding> encode_batch_with_offsets(const std::vector<std::string>& texts) const;

  /// The bytes of the tokens, concatenated: decode(encode(s)) == s for every byte string.
  /// Throws for an id outside [0, vocab_size()).
  std::string decode(const std::vector<int64_t>& ids, bool skip_special_tokens = false) const;

  /// Id of a token given in tokenizer.json form (a special token's text, or a regular token's
  /// GPT-2 printable form such as "Ġthe"); throws when the vocabulary does not have it.
  int64_t token_to_id(std::string_view token) const;
  /// Like token_to_id, without throwing.
  std::optional<int64_t> find_token(std::string_view token) const;
  /// The token of `id` in tokenizer.json form.
  std::string id_to_token(int64_t id) const;
  /// The raw bytes of token `id` (a special token's text for specials).
  const std::string& token_bytes(int64_t id) const;

  /// Number of tokens (special tokens included).
  int64_t vocab_size() const { return static_cast<int64_t>(vocab_.size()); }
  /// True when `id` is a special (added) token.
  bool is_special(int64_t id) const;
  /// The ids of the special tokens, ascending.
  std::vector<int64_t> special_ids() const;
  /// The merges in rank order, in tokenizer.json form ("Ġ", "t").
  std::vector<std::pair<std::string, std::string>> merges() const;
  /// Whether GPT-2 pre-tokenization is used (tokenizer.json's ByteLevel use_regex).
  bool use_regex() const { return use_regex_; }

 private:
  struct Merge {
    int32_t left, right, result;
  };
  struct MergeRank {
    int32_t rank, result;
  };
  struct Cache;

  BpeTokenizer(std::vector<std::string> vocab, std::vector<bool> special, std::vector<Merge> merges,
               bool use_regex);

  // Appends the ids of one pre-token (no special tokens inside) to `out`.
  void encode_word(std::string_view word, std::vector<int32_t>& out) const;
  // Appends ids (and offsets when `offsets` is not null) of `text`, using `cache`.
  void encode_into(std::string_view text, Cache& cache, std::vector<int64_t>& ids,
                   std::vector<std::pair<int64_t, int64_t>>* offsets) const;
  // A piece of text: ordinary text (special == -1) or one special token.
  struct Piece {
    size_t begin, end;
    int32_t special;
  };
  // Cuts `text` into ordinary text and special tokens (longest match first), in order.
  void split_on_specials(std::string_view text, std::vector<Piece>& out) const;

  std::vector<std::string> vocab_;  // raw bytes, or the text of a special token
  std::vector<bool> special_;
  std::vector<Merge> merges_;  // rank order
  bool use_regex_ = true;
  std::unordered_map<std::string, int32_t> bytes_to_id_;    // regular tokens by raw bytes
  std::unordered_map<std::string, int32_t> special_to_id_;  // special tokens by text
  std::unordered_map<uint64_t, MergeRank> merge_ranks_;     // (left << 32 | right) -> rank
  std::array<int32_t, 256> byte_ids_;                       // -1: byte has no token
  std::vector<int32_t> specials_by_length_;                 // longest first, for matching
  std::array<bool, 256> special_first_byte_{};
  std::shared_ptr<Cache> cache_;  // word -> ids, shared by copies (same vocabulary)
};

}  // namespace taesan::data
