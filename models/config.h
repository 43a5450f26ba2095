// ModelConfig: the sizes of a Transformer language model, with named presets (tiny, small,
// base) shared by the encoder (BERT-like), decoder-only (GPT-like) and encoder-decoder models.
#pragma once

#include <string>

#include "taesan/autograd/tensor.h"

namespace taesan::models {

/// Sizes and options of a model. Validate with validate() (the models do).
struct ModelConfig {
  int64_t vocab_size = 8000;
  int64_t max_position = 256;      ///< longest sequence the position table covers
  int64_t d_model = 256;
  int64_t num_heads = 4;
  int64_t num_layers = 4;          ///< encoder layers (or decoder layers of a decoder-only model)
  int64_t num_decoder_layers = 0;  ///< encoder-decoder only; 0 means num_layers
  int64_t d_ff = 1024;
  double dropout = 0.1;
  std::string activation = "gelu";  ///< "gelu", "gelu_tanh" or "relu"
  int64_t type_vocab_size = 2;      ///< segment ids of the encoder model
  int64_t pad_token_id = 0;
  double layer_norm_eps = 1e-5;
  /// Recompute each encoder/decoder layer's activations in backward instead of keeping them
  /// (ts::checkpoint per layer, in training): less memory, one more forward per step, the same
  /// gradients. A training setting, not part of the architecture (not saved with the weights).
  bool gradient_checkpointing = false;

  /// "tiny" (d 128, 4 heads, 4 layers, context 128), "small" (d 384, 6 heads, 6 layers,
  /// context 256), "base" (d 768, 12 heads, 12 layers, context 512), for `vocab_size` tokens.
  static ModelConfig preset(const std::string& name, int64_t vocab_size);
  /// Throws ts::Error naming `who` and the first invalid field.
  void validate(const char* who) const;
  /// One line: "d_model=128 heads=4 layers=4 d_ff=512 vocab=8000 context=128 dropout=0.1".
  std::string to_string() const;
};

}  // namespace taesan::models
