// The three Transformer model families, each built from a ModelConfig out of nn/ blocks:
//   EncoderModel        BERT mould: token + position + segment embeddings, embedding
//                       LayerNorm, post-LN encoder stack, tanh pooler over [CLS].
//   DecoderModel        GPT-2 mould: token + learned position embeddings, pre-LN causal blocks,
//                       final LayerNorm, output projection tied to the token embedding.
//   EncoderDecoderModel original Transformer / BART mould: shared token embedding for both
//                       sides, pre-LN encoder and decoder stacks with final norms, tied output.
// Token ids are (B, T) int64; attention masks are (B, T) with 1 (or true) for real tokens.
#pragma once

#include <memory>
#include <vector>

#include "taesan/models/config.h"
#include "taesan/nn/embedding.h"
#include "taesan/nn/linear.h"
#include "taesan/nn/normalization.h"
#include "taesan/nn/transformer.h"

namespace taesan::models {

/// Hidden states of every position and the pooled [CLS] vector.
struct EncoderOutput {
  Tensor hidden;  ///< (B, T, d_model)
  Tensor pooled;  ///< (B, d_model)
};

/// BERT-like encoder.
class EncoderModel : public nn::Module {
 public:
  explicit EncoderModel(const ModelConfig& config);
  /// input_ids (B, T); attention_mask and token_type_ids (B, T) may be undefined.
  EncoderOutput forward(const Tensor& input_ids, const Tensor& attention_mask = Tensor(),
                        const Tensor& token_type_ids = Tensor()) const;
  const ModelConfig& config() const { return config_; }

  std::shared_ptr<nn::Embedding> word_embeddings, position_embeddings, token_type_embeddings;
  std::shared_ptr<nn::LayerNorm> embedding_norm;
  std::shared_ptr<nn::Dropout> embedding_dropout;
  std::shared_ptr<nn::TransformerEncoder> encoder;
  std::shared_ptr<nn::Linear> pooler;

 private:
  ModelConfig config_;
};

/// GPT-like decoder-only language model.
class DecoderModel : public nn::Module {
 public:
  explicit DecoderModel(const ModelConfig& config);
  /// input_ids (B, T) -> logits (B, T, vocab). With caches (new_cache()), input_ids holds only
  /// the new positions; attention_mask, if given, covers past and new positions.
  Tensor forward(const Tensor& input_ids, const Tensor& attention_mask = Tensor(),
                 std::vector<nn::KVCache>* caches = nullptr) const;
  /// Final hidden states (B, T, d_model) without the output projection.
  Tensor hidden_states(const Tensor& input_ids, const Tensor& attention_mask = Tensor(),
                       std::vector<nn::KVCache>* caches = nullptr) const;
  std::vector<nn::KVCache> new_cache() const { return blocks->new_cache(); }
  const ModelConfig& config() const { return config_; }

  std::shared_ptr<nn::Embedding> wte, wpe;
  std::shared_ptr<nn::Dropout> drop;
  std::shared_ptr<nn::TransformerEncoder> blocks;  ///< pre-LN, final norm = ln_f

 private:
  ModelConfig config_;
};

/// Encoder-decoder (sequence-to-sequence) model.
class EncoderDecoderModel : public nn::Module {
 public:
  explicit EncoderDecoderModel(const ModelConfig& config);
  /// src_ids (B, S), tgt_ids (B, T) -> logits (B, T, vocab). The decoder is causal.
  Tensor forward(const Tensor& src_ids, const Tensor& src_mask, const Tensor& tgt_ids,
                 const Tensor& tgt_mask = Tensor()) const;
  /// The encoder's output (B, S, d_model).
  Tensor encode(const Tensor& src_ids, const Tensor& src_mask = Tensor()) const;
  /// Logits for tgt_ids given the memory; with caches, tgt_ids holds only the new positions.
  Tensor decode(const Tensor& tgt_ids, const Tensor& memory, const Tensor& src_mask = Tensor(),
                const Tensor& tgt_mask = Tensor(), std::vector<nn::DecoderLayerCache>* caches = nullptr) const;
  std::vector<nn::DecoderLayerCache> new_cache() const { return decoder->new_cache(); }
  const ModelConfig& config() const { return config_; }

  std::shared_ptr<nn::Embedding> shared;
  std::shared_ptr<nn::Embedding> encoder_positions, decoder_positions;
  std::shared_ptr<nn::Dropout> drop;
  std::shared_ptr<nn::TransformerEncoder> encoder;
  std::shared_ptr<nn::TransformerDecoder> decoder;

 private:
  Tensor embed(const std::shared_ptr<nn::Embedding>& positions, const Tensor& ids, int64_t offset) const;
  ModelConfig config_;
};

/// (B, T) mask with 1 / true for real tokens -> key padding mask (true = padding), or undefined.
Tensor key_padding_from_attention_mask(const Tensor& attention_mask, const Tensor& input_ids, const char* who);
/// Checks (B, T) int64 ids within [0, vocab) and T <= max_position; throws naming `who`.
void check_token_ids(const Tensor& ids, const ModelConfig& config, const char* who, int64_t offset = 0);

}  // namespace taesan::models
