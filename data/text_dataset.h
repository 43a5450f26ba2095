// Plain-text corpora for pretraining: one token stream cut into fixed-length blocks (next-token
// prediction), or sentence-aware segments "[CLS] sentences [SEP]" (the masked objective).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "taesan/data/bpe_tokenizer.h"
#include "taesan/data/example.h"

namespace taesan::data {

/// The ids of all texts, one after the other, with `separator_id` after each text when >= 0.
std::vector<int64_t> token_stream(const BpeTokenizer& tokenizer,
                                  const std::vector<std::string>& texts, int64_t separator_id = -1);

/// Consecutive blocks of `block_size` ids starting every `stride` ids (default: block_size, no
/// overlap); a shorter last block is kept only when `keep_last`.
std::vector<std::vector<int64_t>> cut_blocks(const std::vector<int64_t>& stream, int64_t block_size,
                                             int64_t stride = -1, bool keep_last = false);

/// Options of causal_lm_dataset.
struct CausalLmOptions {
  int64_t block_size = 128;         ///< tokens per example (input and labels)
  std::string separator = "[EOS]";  ///< put after each text ("" for none)
};

/// Causal-LM examples: the stream cut into blocks of block_size + 1 ids every block_size ids,
/// each shifted (input = block[:-1], labels = block[1:]), so every token is a target once.
std::vector<Example> causal_lm_dataset(const BpeTokenizer& tokenizer,
                                       const std::vector<std::string>& texts,
                                       const CausalLmOptions& options = {});

/// Options of sentence_segments.
struct SegmentOptions {
  int64_t max_length = 128;  ///< tokens per segment, [CLS] and [SEP] included
  std::string cls_token = "[CLS]";
  std::string sep_token = "[SEP]";
  bool cross_texts = true;  ///< pack sentences of consecutive texts into one segment
};

/// Masked-LM segments: texts split into sentences (split_sentences), packed greedily into
/// "[CLS] s1 s2 ... [SEP]" of at most max_length tokens without cutting a sentence, except a
/// sentence longer than a segment, which is cut into full segments. No labels (mask them with
/// mask_tokens, e.g. in a Batcher transform).
std::vector<Example> sentence_segments(const BpeTokenizer& tokenizer,
                                       const std::vector<std::string>& texts,
                                       const SegmentOptions& options = {});

}  // namespace taesan::data
