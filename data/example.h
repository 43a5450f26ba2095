// Example: one training example before batching (token ids, segment ids, labels, decoder side),
// shared by every dataset, the objectives' masking and the batcher.
#pragma once

#include <cstdint>
#include <vector>

namespace taesan::data {

/// The label index ignored by losses (cross_entropy's default ignore_index).
inline constexpr int64_t kIgnoreIndex = -100;

/// What Example::labels holds, which fixes how the batcher pads and shapes them.
enum class LabelKind : uint8_t {
  kNone,         ///< no labels (batch.labels is undefined)
  kPerToken,     ///< one label per input token (NER, masked LM, causal LM): (B, T), -100 padding
  kPerSequence,  ///< a fixed number K per example (classification K = 1: (B); QA start/end: (B, 2))
  kTarget,       ///< a target sequence per decoder input token (seq2seq): (B, T_dec), -100 padding
};

/// One example. Empty token_type_ids mean all zeros.
struct Example {
  std::vector<int64_t> input_ids;
  std::vector<int64_t> token_type_ids;
  std::vector<int64_t> labels;
  LabelKind label_kind = LabelKind::kNone;
  /// Encoder-decoder only: the decoder's inputs (labels shifted right behind a start token).
  std::vector<int64_t> decoder_input_ids;
};

}  // namespace taesan::data
