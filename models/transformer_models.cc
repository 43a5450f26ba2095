// Encoder, decoder-only and encoder-decoder models (see transformer_models.h).
#include "taesan/models/transformer_models.h"

#include "taesan/autograd/factory.h"
#include "taesan/nn/init.h"
#include "taesan/ops/ops.h"

namespace taesan::models {
namespace {

// GPT-2 / BERT initialisation: N(0, 0.02) for embeddings and linear weights, zero biases,
// LayerNorm weight 1 and bias 0 (the layers' defaults).
void init_weights(nn::Module& root) {
  root.apply([](nn::Module& m) {
    if (auto* lin = dynamic_cast<nn::Linear*>(&m)) {
      nn::init::normal_(lin->weight, 0.0, 0.02);
      if (lin->bias.defined()) nn::init::zeros_(lin->bias);
    } else if (auto* emb = dynamic_cast<nn::Embedding*>(&m)) {
      nn::init::normal_(emb->weight, 0.0, 0.02);
    }
  });
}

Tensor positions(int64_t offset, int64_t t) {
  return unsqueeze(add(arange(t, kInt64), static_cast<double>(offset)), 0);  // (1, T)
}

}  // namespace

void check_token_ids(const Tensor& ids, const ModelConfig& config, const char* who, int64_t offset) {
  TS_CHECK(ids.defined() && ids.dtype() == kInt64 && ids.dim() == 2,
           "{}: token ids must be an int64 tensor (B, T), got {}", who, ids.describe());
  TS_CHECK(offset + ids.size(1) <= config.max_position,
           "{}: sequence of {} tokens (after {} cached) exceeds max_position {}", who, ids.size(1),
           offset, config.max_position);
  std::vector<int64_t> v = ids.to_vector<int64_t>();
  for (size_t i = 0; i < v.size(); ++i)
    TS_CHECK(v[i] >= 0 && v[i] < config.vocab_size,
             "{}: token id {} at position {} is outside the vocabulary [0, {})", who, v[i], i,
             config.vocab_size);
}

Tensor key_padding_from_attention_mask(const Tensor& mask, const Tensor& ids, const char* who) {
  if (!mask.defined()) return Tensor();
  TS_CHECK(mask.dim() == 2 && mask.size(0) == ids.size(0),
           "{}: attention_mask {} must be (B, T) for ids {}", who, mask.describe(), ids.describe());
  Tensor m = mask.dtype() == kBool ? mask : gt(mask, zeros({}, mask.dtype()));
  return logical_not(m);
}

// ---- EncoderModel ----

EncoderModel::EncoderModel(const ModelConfig& c) : config_(c) {
  c.validate("EncoderModel");
  word_embeddings = register_module("word_embeddings", std::make_shared<nn::Embedding>(c.vocab_size, c.d_model, c.pad_token_id));
  position_embeddings = register_module("position_embeddings", std::make_shared<nn::Embedding>(c.max_position, c.d_model));
  token_type_embeddings = register_module("token_type_embeddings", std::make_shared<nn::Embedding>(c.type_vocab_size, c.d_model));
  embedding_norm = register_module("embedding_norm", std::make_shared<nn::LayerNorm>(c.d_model, c.layer_norm_eps));
  embedding_dropout = register_module("embedding_dropout", std::make_shared<nn::Dropout>(c.dropout));
  encoder = register_module("encoder", std::make_shared<nn::TransformerEncoder>(
      c.d_model, c.num_heads, c.d_ff, c.num_layers,
      nn::TransformerEncoderLayerOptions{.dropout = c.dropout, .activation = c.activation,
                                         .norm_first = false, .layer_norm_eps = c.layer_norm_eps}));
  pooler = register_module("pooler", std::make_shared<nn::Linear>(c.d_model, c.d_model));
  encoder->gradient_checkpointing = c.gradient_checkpointing;
  init_weights(*this);
}

EncoderOutput EncoderModel::forward(const Tensor& ids, const Tensor& attention_mask,
                                    const Tensor& token_type_ids) const {
  check_token_ids(ids, config_, "EncoderModel");
  const int64_t T = ids.size(1);
  TS_CHECK(T >= 1,
           "EncoderModel: input_ids {} hold no token (T = 0): the pooled output needs the "
           "[CLS] position",
           ids.describe());
  Tensor x = add(word_embeddings->forward(ids), position_embeddings->forward(positions(0, T)));
  Tensor types = token_type_ids.defined() ? token_type_ids : zeros(ids.shape(), kInt64);
  TS_CHECK(types.shape() == ids.shape(), "EncoderModel: token_type_ids {} must match input_ids {}",
           types.describe(), ids.describe());
  x = add(x, token_type_embeddings->forward(types));
  x = embedding_dropout->forward(embedding_norm->forward(x));
  Tensor hidden = encoder->forward(x, {.src_key_padding_mask = key_padding_from_attention_mask(attention_mask, ids, "EncoderModel")});
  Tensor cls = squeeze(slice(hidden, 1, 0, 1), 1);
  return {hidden, tanh(pooler->forward(cls))};
}

// ---- DecoderModel ----

DecoderModel::DecoderModel(const ModelConfig& c) : config_(c) {
  c.validate("DecoderModel");
  wte = register_module("wte", std::make_shared<nn::Embedding>(c.vocab_size, c.d_model));
  wpe = register_module("wpe", std::make_shared<nn::Embedding>(c.max_position, c.d_model));
  drop = register_module("drop", std::make_shared<nn::Dropout>(c.dropout));
  blocks = register_module("blocks", std::make_shared<nn::TransformerEncoder>(
      c.d_model, c.num_heads, c.d_ff, c.num_layers,
      nn::TransformerEncoderLayerOptions{.dropout = c.dropout, .activation = c.activation,
                                         .norm_first = true, .layer_norm_eps = c.layer_norm_eps},
      /*final_norm=*/true));
  blocks->gradient_checkpointing = c.gradient_checkpointing;
  init_weights(*this);
}

Tensor DecoderModel::hidden_states(const Tensor& ids, const Tensor& attention_mask,
                                   std::vector<nn::KVCache>* caches) const {
  const int64_t past = caches && !caches->empty() ? (*caches)[0].length() : 0;
  check_token_ids(ids, config_, "DecoderModel", past);
  Tensor x = add(wte->forward(ids), wpe->forward(positions(past, ids.size(1))));
  x = drop->forward(x);
  return blocks->forward(x, {.src_key_padding_mask = key_padding_from_attention_mask(attention_mask, ids, "DecoderModel"),
                             .is_causal = true}, caches);
}

Tensor DecoderModel::forward(const Tensor& ids, const Tensor& attention_mask,
                             std::vector<nn::KVCache>* caches) const {
  // logits = h Wteᵀ (the output projection is the token embedding, tied)
  return linear(hidden_states(ids, attention_mask, caches), wte->weight);
}

// ---- EncoderDecoderModel ----

EncoderDecoderModel::EncoderDecoderModel(const ModelConfig& c) : config_(c) {
  c.validate("EncoderDecoderModel");
  const int64_t dec_layers = c.num_decoder_layers > 0 ? c.num_decoder_layers : c.num_layers;
  nn::TransformerEncoderLayerOptions lo{.dropout = c.dropout, .activation = c.activation,
                                        .norm_first = true, .layer_norm_eps = c.layer_norm_eps};
  shared = register_module("shared", std::make_shared<nn::Embedding>(c.vocab_size, c.d_model, c.pad_token_id));
  encoder_positions = register_module("encoder_positions", std::make_shared<nn::Embedding>(c.max_position, c.d_model));
  decoder_positions = register_module("decoder_positions", std::make_shared<nn::Embedding>(c.max_position, c.d_model));
  drop = register_module("drop", std::make_shared<nn::Dropout>(c.dropout));
  encoder = register_module("encoder", std::make_shared<nn::TransformerEncoder>(c.d_model, c.num_heads, c.d_ff, c.num_layers, lo, true));
  decoder = register_module("decoder", std::make_shared<nn::TransformerDecoder>(c.d_model, c.num_heads, c.d_ff, dec_layers, lo, true));
  encoder->gradient_checkpointing = c.gradient_checkpointing;
  decoder->gradient_checkpointing = c.gradient_checkpointing;
  init_weights(*this);
}

Tensor EncoderDecoderModel::embed(const std::shared_ptr<nn::Embedding>& pos, const Tensor& ids,
                                  int64_t offset) const {
  return drop->forward(add(shared->forward(ids), pos->forward(positions(offset, ids.size(1)))));
}

Tensor EncoderDecoderModel::encode(const Tensor& src_ids, const Tensor& src_mask) const {
  check_token_ids(src_ids, config_, "EncoderDecoderModel::encode");
  return encoder->forward(embed(encoder_positions, src_ids, 0),
                          {.src_key_padding_mask = key_padding_from_attention_mask(src_mask, src_ids, "EncoderDecoderModel::encode")});
}

Tensor EncoderDecoderModel::decode(const Tensor& tgt_ids, const Tensor& memory, const Tensor& src_mask,
                                   const Tensor& tgt_mask, std::vector<nn::DecoderLayerCache>* caches) const {
  const int64_t past = caches && !caches->empty() ? (*caches)[0].self_attn.length() : 0;
  check_token_ids(tgt_ids, config_, "EncoderDecoderModel::decode", past);
  TS_CHECK(memory.dim() == 3 && memory.size(0) == tgt_ids.size(0),
           "EncoderDecoderModel::decode: memory {} does not match target ids {}", memory.describe(), tgt_ids.describe());
  Tensor memory_kpm;
  if (src_mask.defined()) {
    TS_CHECK(src_mask.dim() == 2 && src_mask.size(0) == memory.size(0) && src_mask.size(1) == memory.size(1),
             "EncoderDecoderModel::decode: src_mask {} must be (B, S) for memory {}", src_mask.describe(), memory.describe());
    memory_kpm = logical_not(src_mask.dtype() == kBool ? src_mask : gt(src_mask, zeros({}, src_mask.dtype())));
  }
  Tensor h = decoder->forward(embed(decoder_positions, tgt_ids, past), memory,
                              {.tgt_key_padding_mask = key_padding_from_attention_mask(tgt_mask, tgt_ids, "EncoderDecoderModel::decode"),
                               .memory_key_padding_mask = memory_kpm,
                               .tgt_is_causal = true},
                              caches);
  return linear(h, shared->weight);
}

Tensor EncoderDecoderModel::forward(const Tensor& src_ids, const Tensor& src_mask, const Tensor& tgt_ids,
                                    const Tensor& tgt_mask) const {
  return decode(tgt_ids, encode(src_ids, src_mask), src_mask, tgt_mask);
}

}  // namespace taesan::models
