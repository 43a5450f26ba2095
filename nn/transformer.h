// Transformer blocks with the structure and numerics of torch.nn.Transformer* (batch-first):
// encoder layer (self-attention + feed-forward), decoder layer (masked self-attention,
// cross-attention over the encoder output, feed-forward), their stacks, and the
// encoder-decoder. Post-LN by default (x = norm(x + sublayer(x))), pre-LN with norm_first.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "taesan/nn/container.h"
#include "taesan/nn/dropout.h"
#include "taesan/nn/linear.h"
#include "taesan/nn/multihead_attention.h"
#include "taesan/nn/normalization.h"

namespace taesan::nn {

/// Options of TransformerEncoderLayer (torch names and defaults).
struct TransformerEncoderLayerOptions {
  double dropout = 0.1;
  std::string activation = "relu";  ///< "relu", "gelu" or "gelu_tanh"
  bool norm_first = false;
  double layer_norm_eps = 1e-5;
  bool bias = true;
};
/// Options of TransformerDecoderLayer.
using TransformerDecoderLayerOptions = TransformerEncoderLayerOptions;

/// Masks of an encoder pass (torch semantics: bool true = masked out, or additive float).
struct EncoderMasks {
  Tensor mask;                  ///< (T, T) or (B*H, T, T)
  Tensor src_key_padding_mask;  ///< (B, T), true = padding
  bool is_causal = false;
};

/// Masks of a decoder pass.
struct DecoderMasks {
  Tensor tgt_mask;
  Tensor memory_mask;
  Tensor tgt_key_padding_mask;
  Tensor memory_key_padding_mask;
  bool tgt_is_causal = false;
  bool memory_is_causal = false;
};

/// Key/value caches of one decoder layer for incremental decoding.
struct DecoderLayerCache {
  KVCache self_attn;
  KVCache cross_attn{Tensor(), Tensor(), /*is_static=*/true};
};

/// One encoder block: self_attn, linear1, dropout, linear2, norm1, norm2, dropout1, dropout2.
class TransformerEncoderLayer : public Module {
 public:
  TransformerEncoderLayer(int64_t d_model, int64_t nhead, int64_t dim_feedforward = 2048,
                          const TransformerEncoderLayerOptions& options = {});
  /// src (B, T, d_model) -> (B, T, d_model). With a cache (decoder-only models decoding
  /// incrementally), src holds only the new positions and attends to the cached ones too.
  Tensor forward(const Tensor& src, const EncoderMasks& masks = {}, KVCache* cache = nullptr) const;
  std::string extra_repr() const override;

  std::shared_ptr<MultiheadAttention> self_attn;
  std::shared_ptr<Linear> linear1, linear2;
  std::shared_ptr<LayerNorm> norm1, norm2;
  std::shared_ptr<Dropout> dropout, dropout1, dropout2;

 private:
  Tensor feed_forward(const Tensor& x) const;
  TransformerEncoderLayerOptions options_;
};

/// One decoder block: self_attn, multihead_attn, linear1, dropout, linear2, norm1..3, dropout1..3.
class TransformerDecoderLayer : public Module {
 public:
  TransformerDecoderLayer(int64_t d_model, int64_t nhead, int64_t dim_feedforward = 2048,
                          const TransformerDecoderLayerOptions& options = {});
  /// tgt (B, T, d), memory (B, S, d) -> (B, T, d). With a cache, tgt holds only the new positions.
  Tensor forward(const Tensor& tgt, const Tensor& memory, const DecoderMasks& masks = {},
                 DecoderLayerCache* cache = nullptr) const;
  std::string extra_repr() const override;

  std::shared_ptr<MultiheadAttention> self_attn, multihead_attn;
  std::shared_ptr<Linear> linear1, linear2;
  std::shared_ptr<LayerNorm> norm1, norm2, norm3;
  std::shared_ptr<Dropout> dropout, dropout1, dropout2, dropout3;

 private:
  Tensor feed_forward(const Tensor& x) const;
  TransformerDecoderLayerOptions options_;
};

/// A stack of num_layers encoder layers ("layers.0", ...) and an optional final "norm".
class TransformerEncoder : public Module {
 public:
  TransformerEncoder(int64_t d_model, int64_t nhead, int64_t dim_feedforward, int64_t num_layers,
                     const TransformerEncoderLayerOptions& options = {}, bool final_norm = false);
  /// With caches (one per layer, see new_cache()), src holds only the new positions.
  Tensor forward(const Tensor& src, const EncoderMasks& masks = {},
                 std::vector<KVCache>* caches = nullptr) const;
  std::vector<KVCache> new_cache() const { return std::vector<KVCache>(layer_list.size()); }

  std::shared_ptr<ModuleList> layers;
  std::shared_ptr<LayerNorm> norm;  ///< null without final_norm
  std::vector<std::shared_ptr<TransformerEncoderLayer>> layer_list;
  /// Runs every layer through ts::checkpoint when training with grad mode on and no cache (as
  /// Hugging Face's gradient_checkpointing_enable()): the layers' activations are recomputed in
  /// backward instead of kept, gradients unchanged bit for bit.
  bool gradient_checkpointing = false;
};

/// A stack of decoder layers and an optional final norm.
class TransformerDecoder : public Module {
 public:
  TransformerDecoder(int64_t d_model, int64_t nhead, int64_t dim_feedforward, int64_t num_layers,
                     const TransformerDecoderLayerOptions& options = {}, bool final_norm = false);
  /// With caches (one per layer, see new_cache()), tgt holds only the new positions.
  Tensor forward(const Tensor& tgt, const Tensor& memory, const DecoderMasks& masks = {},
                 std::vector<DecoderLayerCache>* caches = nullptr) const;
  std::vector<DecoderLayerCache> new_cache() const { return std::vector<DecoderLayerCache>(layer_list.size()); }

  std::shared_ptr<ModuleList> layers;
  std::shared_ptr<LayerNorm> norm;
  std::vector<std::shared_ptr<TransformerDecoderLayer>> layer_list;
  /// As TransformerEncoder::gradient_checkpointing.
  bool gradient_checkpointing = false;
};

/// Options of Transformer (torch defaults).
struct TransformerOptions {
  int64_t d_model = 512;
  int64_t nhead = 8;
  int64_t num_encoder_layers = 6;
  int64_t num_decoder_layers = 6;
  int64_t dim_feedforward = 2048;
  TransformerEncoderLayerOptions layer{};
};

/// The encoder-decoder of "Attention Is All You Need": "encoder" and "decoder", each with a final norm.
class Transformer : public Module {
 public:
  explicit Transformer(const TransformerOptions& options = {});
  /// src (B, S, d), tgt (B, T, d) -> (B, T, d).
  Tensor forward(const Tensor& src, const Tensor& tgt, const EncoderMasks& src_masks = {},
                 const DecoderMasks& tgt_masks = {}) const;

  std::shared_ptr<TransformerEncoder> encoder;
  std::shared_ptr<TransformerDecoder> decoder;
};

/// Sinusoidal positional encoding ("Attention Is All You Need"): x + pe[offset : offset + T].
class PositionalEncoding : public Module {
 public:
  PositionalEncoding(int64_t d_model, int64_t max_len = 5000, double dropout = 0.0);
  /// x (B, T, d_model).
  Tensor forward(const Tensor& x, int64_t offset = 0) const;
  std::string extra_repr() const override;

  Tensor pe;  ///< (max_len, d_model), a non-persistent buffer
  std::shared_ptr<Dropout> dropout;
};

/// Learned absolute position embeddings: x + weight[offset : offset + T].
class LearnedPositionalEmbedding : public Module {
 public:
  LearnedPositionalEmbedding(int64_t max_len, int64_t d_model);
  Tensor forward(const Tensor& x, int64_t offset = 0) const;
  std::string extra_repr() const override;

  Tensor weight;  ///< (max_len, d_model), N(0, 0.02) as in GPT-2/BERT
};

}  // namespace taesan::nn
