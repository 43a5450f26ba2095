// Text generation with the key/value cache: greedy decoding, sampling (temperature, top-k,
// top-p, repetition penalty) and beam search (length penalty), stopping at an end token.
// Works for the decoder-only model (continue a prompt) and the encoder-decoder (translate).
#pragma once

#include <cstdint>
#include <vector>

#include "taesan/models/transformer_models.h"

namespace taesan::models {

/// How to pick tokens.
struct GenerationOptions {
  int64_t max_new_tokens = 50;
  bool do_sample = false;           ///< sample instead of taking the most likely token
  double temperature = 1.0;         ///< > 0; divides the logits when sampling
  int64_t top_k = 0;                ///< keep the k most likely tokens (0: all)
  double top_p = 1.0;               ///< keep the smallest set with cumulative probability >= p
  double repetition_penalty = 1.0;  ///< > 1 discourages tokens already present (CTRL's rule)
  int64_t num_beams = 1;            ///< > 1: beam search (deterministic)
  double length_penalty = 1.0;      ///< beam score = sum log p / length^length_penalty
  int64_t eos_token_id = -1;        ///< stop when produced (-1: never)
  uint64_t seed = 0;                ///< sampling seed (same seed, same text)
};

/// Continues `prompt` (non-empty token ids); returns only the new tokens.
std::vector<int64_t> generate(DecoderModel& model, const std::vector<int64_t>& prompt,
                              const GenerationOptions& options = {});

/// Decodes a target for `source` starting from `start_token_id`; returns the tokens after it.
std::vector<int64_t> generate(EncoderDecoderModel& model, const std::vector<int64_t>& source,
                              int64_t start_token_id, const GenerationOptions& options = {});

}  // namespace taesan::models
