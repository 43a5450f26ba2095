// Transformer blocks (see transformer.h). The order of operations and of submodule
// registration follows torch.nn.TransformerEncoderLayer / TransformerDecoderLayer exactly, so
// state dicts map one to one (after splitting in_proj_weight into q/k/v).
#include "taesan/nn/transformer.h"

#include <cmath>

#include "taesan/autograd/checkpoint.h"
#include "taesan/autograd/factory.h"
#include "taesan/autograd/grad_mode.h"
#include "taesan/nn/init.h"
#include "taesan/ops/ops.h"

namespace taesan::nn {
namespace {

// linear2(dropout(activation(linear1(x)))): the fused feed_forward op (two GEMMs, the activation
// in the first one's epilogue, half the saved activations) whenever the inner dropout is a no-op.
Tensor position_wise(const Linear& linear1, const Dropout& dropout, const Linear& linear2,
                     const Tensor& x, const std::string& activation) {
  if (!dropout.is_training() || dropout.p() == 0)
    return feed_forward(x, linear1.weight, linear1.bias, linear2.weight, linear2.bias, activation);
  return linear2.forward(dropout.forward(ops::activation(activation, linear1.forward(x))));
}

void check_options(const TransformerEncoderLayerOptions& o, const char* layer) {
  TS_CHECK(o.activation == "relu" || o.activation == "gelu" || o.activation == "gelu_tanh",
           "{}: activation must be \"relu\", \"gelu\" or \"gelu_tanh\", got \"{}\"", layer, o.activation);
  TS_CHECK(o.dropout >= 0 && o.dropout < 1, "{}: dropout must be in [0, 1), got {}", layer, o.dropout);
}

void check_input(const Tensor& x, int64_t d_model, const char* layer, const char* what) {
  TS_CHECK(x.dim() == 3 && x.size(2) == d_model, "{}: {} must be (B, T, {}), got {}", layer, what,
           d_model, x.describe());
}

}  // namespace

// ---- encoder layer ----

TransformerEncoderLayer::TransformerEncoderLayer(int64_t d_model, int64_t nhead,
                                                 int64_t dim_feedforward,
                                                 const TransformerEncoderLayerOptions& options)
    : options_(options) {
  check_options(options, "TransformerEncoderLayer");
  self_attn = register_module("self_attn", std::make_shared<MultiheadAttention>(
                                                d_model, nhead, MultiheadAttentionOptions{.dropout = options.dropout, .bias = options.bias}));
  linear1 = register_module("linear1", std::make_shared<Linear>(d_model, dim_feedforward, options.bias));
  dropout = register_module("dropout", std::make_shared<Dropout>(options.dropout));
  linear2 = register_module("linear2", std::make_shared<Linear>(dim_feedforward, d_model, options.bias));
  norm1 = register_module("norm1", std::make_shared<LayerNorm>(d_model, options.layer_norm_eps, true, options.bias));
  norm2 = register_module("norm2", std::make_shared<LayerNorm>(d_model, options.layer_norm_eps, true, options.bias));
  dropout1 = register_module("dropout1", std::make_shared<Dropout>(options.dropout));
  dropout2 = register_module("dropout2", std::make_shared<Dropout>(options.dropout));
}

Tensor TransformerEncoderLayer::feed_forward(const Tensor& x) const {
  return dropout2->forward(
      position_wise(*linear1, *dropout, *linear2, x, options_.activation));
}

Tensor TransformerEncoderLayer::forward(const Tensor& src, const EncoderMasks& m, KVCache* cache) const {
  check_input(src, self_attn->embed_dim(), "TransformerEncoderLayer", "src");
  AttentionForwardOptions ao{.attn_mask = m.mask, .key_padding_mask = m.src_key_padding_mask,
                             .is_causal = m.is_causal, .cache = cache};
  auto sa = [&](const Tensor& x) { return dropout1->forward(self_attn->forward(x, x, x, ao).output); };
  Tensor x = src;
  if (options_.norm_first) {
    x = add(x, sa(norm1->forward(x)));
    return add(x, feed_forward(norm2->forward(x)));
  }
  x = norm1->forward(add(x, sa(x)));
  return norm2->forward(add(x, feed_forward(x)));
}

std::string TransformerEncoderLayer::extra_repr() const {
  return fmt::format("activation={}, norm_first={}", options_.activation, options_.norm_first);
}

// ---- decoder layer ----

TransformerDecoderLayer::TransformerDecoderLayer(int64_t d_model, int64_t nhead,
                                                 int64_t dim_feedforward,
                                                 const TransformerDecoderLayerOptions& options)
    : options_(options) {
  check_options(options, "TransformerDecoderLayer");
  MultiheadAttentionOptions mo{.dropout = options.dropout, .bias = options.bias};
  self_attn = register_module("self_attn", std::make_shared<MultiheadAttention>(d_model, nhead, mo));
  multihead_attn = register_module("multihead_attn", std::make_shared<MultiheadAttention>(d_model, nhead, mo));
  linear1 = register_module("linear1", std::make_shared<Linear>(d_model, dim_feedforward, options.bias));
  dropout = register_module("dropout", std::make_shared<Dropout>(options.dropout));
  linear2 = register_module("linear2", std::make_shared<Linear>(dim_feedforward, d_model, options.bias));
  norm1 = register_module("norm1", std::make_shared<LayerNorm>(d_model, options.layer_norm_eps, true, options.bias));
  norm2 = register_module("norm2", std::make_shared<LayerNorm>(d_model, options.layer_norm_eps, true, options.bias));
  norm3 = register_module("norm3", std::make_shared<LayerNorm>(d_model, options.layer_norm_eps, true, options.bias));
  dropout1 = register_module("dropout1", std::make_shared<Dropout>(options.dropout));
  dropout2 = register_module("dropout2", std::make_shared<Dropout>(options.dropout));
  dropout3 = register_module("dropout3", std::make_shared<Dropout>(options.dropout));
}

Tensor TransformerDecoderLayer::feed_forward(const Tensor& x) const {
  return dropout3->forward(
      position_wise(*linear1, *dropout, *linear2, x, options_.activation));
}

Tensor TransformerDecoderLayer::forward(const Tensor& tgt, const Tensor& memory,
                                        const DecoderMasks& m, DecoderLayerCache* cache) const {
  const int64_t d = self_attn->embed_dim();
  check_input(tgt, d, "TransformerDecoderLayer", "tgt");
  if (!(cache && cache->cross_attn.k.defined())) check_input(memory, d, "TransformerDecoderLayer", "memory");
  AttentionForwardOptions self_opts{.attn_mask = m.tgt_mask, .key_padding_mask = m.tgt_key_padding_mask,
                                    .is_causal = m.tgt_is_causal, .cache = cache ? &cache->self_attn : nullptr};
  AttentionForwardOptions cross_opts{.attn_mask = m.memory_mask, .key_padding_mask = m.memory_key_padding_mask,
                                     .is_causal = m.memory_is_causal, .cache = cache ? &cache->cross_attn : nullptr};
  auto sa = [&](const Tensor& x) { return dropout1->forward(self_attn->forward(x, x, x, self_opts).output); };
  auto ca = [&](const Tensor& x) {
    return dropout2->forward(multihead_attn->forward(x, memory, memory, cross_opts).output);
  };
  Tensor x = tgt;
  if (options_.norm_first) {
    x = add(x, sa(norm1->forward(x)));
    x = add(x, ca(norm2->forward(x)));
    return add(x, feed_forward(norm3->forward(x)));
  }
  x = norm1->forward(add(x, sa(x)));
  x = norm2->forward(add(x, ca(x)));
  return norm3->forward(add(x, feed_forward(x)));
}

std::string TransformerDecoderLayer::extra_repr() const {
  return fmt::format("activation={}, norm_first={}", options_.activation, options_.norm_first);
}

// ---- stacks ----

TransformerEncoder::TransformerEncoder(int64_t d_model, int64_t nhead, int64_t dim_feedforward,
                                       int64_t num_layers, const TransformerEncoderLayerOptions& options,
                                       bool final_norm) {
  TS_CHECK(num_layers >= 1, "TransformerEncoder: num_layers must be >= 1, got {}", num_layers);
  layers = register_module("layers", std::make_shared<ModuleList>());
  for (int64_t i = 0; i < num_layers; ++i)
    layer_list.push_back(layers->push_back(std::make_shared<TransformerEncoderLayer>(d_model, nhead, dim_feedforward, options)));
  if (final_norm) norm = register_module("norm", std::make_shared<LayerNorm>(d_model, options.layer_norm_eps, true, options.bias));
}

Tensor TransformerEncoder::forward(const Tensor& src, const EncoderMasks& masks,
                                   std::vector<KVCache>* caches) const {
  if (caches)
    TS_CHECK(caches->size() == layer_list.size(), "TransformerEncoder: {} caches for {} layers",
             caches->size(), layer_list.size());
  Tensor x = src;
  const bool ckpt =
      gradient_checkpointing && caches == nullptr && is_training() && GradMode::is_enabled();
  for (size_t i = 0; i < layer_list.size(); ++i) {
    if (!ckpt) {
      x = layer_list[i]->forward(x, masks, caches ? &(*caches)[i] : nullptr);
      continue;
    }
    // The masks are inputs too: the layer may be rerun after this call has returned.
    auto layer = [layer = layer_list[i], is_causal = masks.is_causal](const TensorList& in) {
      return layer->forward(in[0],
                            {.mask = in[1], .src_key_padding_mask = in[2], .is_causal = is_causal});
    };
    x = checkpoint(layer, {x, masks.mask, masks.src_key_padding_mask});
  }
  return norm ? norm->forward(x) : x;
}

TransformerDecoder::TransformerDecoder(int64_t d_model, int64_t nhead, int64_t dim_feedforward,
                                       int64_t num_layers, const TransformerDecoderLayerOptions& options,
                                       bool final_norm) {
  TS_CHECK(num_layers >= 1, "TransformerDecoder: num_layers must be >= 1, got {}", num_layers);
  layers = register_module("layers", std::make_shared<ModuleList>());
  for (int64_t i = 0; i < num_layers; ++i)
    layer_list.push_back(layers->push_back(std::make_shared<TransformerDecoderLayer>(d_model, nhead, dim_feedforward, options)));
  if (final_norm) norm = register_module("norm", std::make_shared<LayerNorm>(d_model, options.layer_norm_eps, true, options.bias));
}

Tensor TransformerDecoder::forward(const Tensor& tgt, const Tensor& memory, const DecoderMasks& masks,
                                   std::vector<DecoderLayerCache>* caches) const {
  if (caches)
    TS_CHECK(caches->size() == layer_list.size(), "TransformerDecoder: {} caches for {} layers",
             caches->size(), layer_list.size());
  Tensor x = tgt;
  const bool ckpt =
      gradient_checkpointing && caches == nullptr && is_training() && GradMode::is_enabled();
  for (size_t i = 0; i < layer_list.size(); ++i) {
    if (!ckpt) {
      x = layer_list[i]->forward(x, memory, masks, caches ? &(*caches)[i] : nullptr);
      continue;
    }
    auto layer = [layer = layer_list[i], tgt_is_causal = masks.tgt_is_causal,
                  memory_is_causal = masks.memory_is_causal](const TensorList& in) {
      return layer->forward(in[0], in[1],
                            {.tgt_mask = in[2],
                             .memory_mask = in[3],
                             .tgt_key_padding_mask = in[4],
                             .memory_key_padding_mask = in[5],
                             .tgt_is_causal = tgt_is_causal,
                             .memory_is_causal = memory_is_causal});
    };
    x = checkpoint(layer, {x, memory, masks.tgt_mask, masks.memory_mask, masks.tgt_key_padding_mask,
                           masks.memory_key_padding_mask});
  }
  return norm ? norm->forward(x) : x;
}

Transformer::Transformer(const TransformerOptions& o) {
  encoder = register_module("encoder", std::make_shared<TransformerEncoder>(
                                           o.d_model, o.nhead, o.dim_feedforward, o.num_encoder_layers, o.layer, true));
  decoder = register_module("decoder", std::make_shared<TransformerDecoder>(
                                           o.d_model, o.nhead, o.dim_feedforward, o.num_decoder_layers, o.layer, true));
}

Tensor Transformer::forward(const Tensor& src, const Tensor& tgt, const EncoderMasks& src_masks,
                            const DecoderMasks& tgt_masks) const {
  TS_CHECK(src.dim() == 3 && tgt.dim() == 3 && src.size(0) == tgt.size(0),
           "Transformer: src {} and tgt {} must be (B, S, d) and (B, T, d) with the same batch",
           src.describe(), tgt.describe());
  Tensor memory = encoder->forward(src, src_masks);
  return decoder->forward(tgt, memory, tgt_masks);
}

// ---- positions ----

PositionalEncoding::PositionalEncoding(int64_t d_model, int64_t max_len, double p) {
  TS_CHECK(d_model > 0 && max_len > 0, "PositionalEncoding: d_model ({}) and max_len ({}) must be positive",
           d_model, max_len);
  // pe[pos, 2i] = sin(pos / 10000^(2i/d)), pe[pos, 2i+1] = cos(pos / 10000^(2i/d))
  Tensor table = empty({max_len, d_model});  // refuses a max_len * d_model that overflows
  float* values = table.data<float>();
  for (int64_t pos = 0; pos < max_len; ++pos)
    for (int64_t i = 0; i < d_model; ++i) {
      double angle = pos / std::pow(10000.0, static_cast<double>(i - i % 2) / d_model);
      values[pos * d_model + i] = static_cast<float>(i % 2 == 0 ? std::sin(angle) : std::cos(angle));
    }
  pe = register_buffer("pe", table, /*persistent=*/false);
  dropout = register_module("dropout", std::make_shared<Dropout>(p));
}

Tensor PositionalEncoding::forward(const Tensor& x, int64_t offset) const {
  TS_CHECK(x.dim() == 3 && x.size(2) == pe.size(1) && is_floating(x.dtype()),
           "PositionalEncoding: input must be floating-point (B, T, {}), got {}", pe.size(1),
           x.describe());
  // offset <= max_len - T rather than offset + T <= max_len: a huge offset must not wrap around.
  TS_CHECK(offset >= 0 && x.size(1) <= pe.size(0) && offset <= pe.size(0) - x.size(1),
           "PositionalEncoding: {} positions from offset {} exceed max_len {}", x.size(1), offset,
           pe.size(0));
  Tensor p = slice(pe, 0, offset, offset + x.size(1));
  return dropout->forward(add(x, p.dtype() == x.dtype() ? p : p.to(x.dtype())));
}

std::string PositionalEncoding::extra_repr() const {
  return fmt::format("d_model={}, max_len={}", pe.size(1), pe.size(0));
}

LearnedPositionalEmbedding::LearnedPositionalEmbedding(int64_t max_len, int64_t d_model) {
  TS_CHECK(d_model > 0 && max_len > 0, "LearnedPositionalEmbedding: sizes must be positive, got ({}, {})",
           max_len, d_model);
  weight = register_parameter("weight", empty({max_len, d_model}));
  init::normal_(weight, 0.0, 0.02);
}

Tensor LearnedPositionalEmbedding::forward(const Tensor& x, int64_t offset) const {
  TS_CHECK(x.dim() == 3 && x.size(2) == weight.size(1),
           "LearnedPositionalEmbedding: input must be (B, T, {}), got {}", weight.size(1), x.describe());
  TS_CHECK(offset >= 0 && x.size(1) <= weight.size(0) && offset <= weight.size(0) - x.size(1),
           "LearnedPositionalEmbedding: {} positions from offset {} exceed max_len {}", x.size(1),
           offset, weight.size(0));
  return add(x, slice(weight, 0, offset, offset + x.size(1)));
}

std::string LearnedPositionalEmbedding::extra_repr() const {
  return fmt::format("max_len={}, d_model={}", weight.size(0), weight.size(1));
}

}  // namespace taesan::nn
