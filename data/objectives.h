// The data side of the pretraining objectives: masked-LM masking (BERT's 15% with 80/10/10),
// the causal-LM shift, and T5-style span corruption with sentinel tokens. Randomness comes from
// (seed, stream), e.g. stream = example index * epochs + epoch, so masks replay exactly.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "taesan/data/bpe_tokenizer.h"
#include "taesan/data/example.h"

namespace taesan::data {

/// Options of mask_tokens.
struct MlmOptions {
  int64_t mask_id = -1;    ///< id of [MASK] (required)
  int64_t vocab_size = 0;  ///< random replacements are drawn from [0, vocab_size) minus specials
  std::vector<int64_t> special_ids = {};  ///< never masked, never drawn as random replacements
  double probability = 0.15;              ///< chance that a (non-special) token is selected
  double mask_fraction = 0.8;             ///< of the selected: replaced by [MASK]
  double random_fraction = 0.1;  ///< of the selected: replaced by a random token (the rest: kept)
};

/// MlmOptions for `tokenizer`: its [MASK] id, vocabulary size and special ids.
MlmOptions mlm_options(const BpeTokenizer& tokenizer, double probability = 0.15,
                       const std::string& mask_token = "[MASK]");

/// Masked-LM example: each non-special token is selected with `probability`; selected tokens are
/// replaced by [MASK] (80%), a random token (10%) or kept (10%); labels hold the original id at
/// selected positions and -100 elsewhere (kPerToken). Token types are kept.
Example mask_tokens(const Example& example, const MlmOptions& options, uint64_t seed,
                    uint64_t stream);
/// Same, from bare ids.
Example mask_tokens(const std::vector<int64_t>& ids, const MlmOptions& options, uint64_t seed,
                    uint64_t stream);

/// Causal-LM example from a block of n >= 2 ids: input_ids = block[0..n-1), labels = block[1..n)
/// (kPerToken: the label of position t is the token after it).
Example causal_lm_example(const std::vector<int64_t>& block);

/// The T5 sentinel token texts "<extra_id_0>" ... "<extra_id_{n-1}>", to add as special tokens.
std::vector<std::string> sentinel_tokens(int64_t n);

/// Options of span_corruption.
struct SpanCorruptionOptions {
  double noise_density = 0.15;             ///< fraction of tokens masked
  double mean_span_length = 3.0;           ///< average length of a masked span
  std::vector<int64_t> sentinel_ids = {};  ///< one per span, in order (T5: <extra_id_0>, ...)
  int64_t eos_id = -1;                     ///< appended to inputs and targets when >= 0
  int64_t decoder_start_id = 0;            ///< first decoder input (T5 uses the pad id)
};

/// SpanCorruptionOptions for `tokenizer`, with its "<extra_id_i>" sentinels (all it has) and
/// [EOS] / [PAD] when present.
SpanCorruptionOptions span_corruption_options(const BpeTokenizer& tokenizer,
                                              double noise_density = 0.15,
                                              double mean_span_length = 3.0);

/// T5 span corruption of `ids` (n >= 2): round(n * density) tokens in round(noise / mean) spans
/// placed at random (T5's random_spans_noise_mask); input_ids = the kept tokens with each span
/// replaced by its sentinel; labels = each sentinel followed by its span (+ eos); decoder inputs
/// = labels shifted right behind decoder_start_id (kTarget). Throws when there are fewer
/// sentinels than spans.
Example span_corruption(const std::vector<int64_t>& ids, const SpanCorruptionOptions& options,
                        uint64_t seed, uint64_t stream);

}  // namespace taesan::data
