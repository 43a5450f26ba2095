// Pretraining pipelines: the pack's text, the demo's tokenizer and model sizes, one pretraining
// run per objective (masked LM, replaced-token detection, causal LM, span corruption), and the
// warm start of an encoder-decoder from a causal LM. Every file they write is atomic.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "taesan/app/run_options.h"
#include "taesan/data/bpe_tokenizer.h"
#include "taesan/models/config.h"
#include "taesan/models/heads.h"
#include "taesan/models/transformer_models.h"

namespace taesan::models {

/// The pack's pretraining text (English + Korean), at most `max_lines_per_file` lines per file
/// (<= 0: all). Throws naming a missing file.
std::vector<std::string> pretraining_texts(const std::string& data_dir,
                                           int64_t max_lines_per_file = 0);

/// Trains the demo's byte-level BPE tokenizer: [PAD] [UNK] [CLS] [SEP] [MASK] [BOS] [EOS] and
/// 16 span-corruption sentinels <extra_id_i> as special tokens.
data::BpeTokenizer train_tokenizer(const std::vector<std::string>& texts, int64_t vocab_size);

/// A small Transformer config for `vocab_size` tokens (d_model, layers, heads, context).
ModelConfig small_config(int64_t vocab_size, int64_t d_model = 128, int64_t num_layers = 2,
                         int64_t max_position = 128);

/// What a pretraining run produced.
struct PretrainResult {
  std::string weights_path;  ///< <out_dir>/<name>.safetensors (+ <name>.json sidecar)
  double validation_loss = 0;
  double seconds = 0;
  TrainResult train;
};

/// Pretrains a model of `config` with `objective` ("mlm" encoder: masked LM; "rtd" encoder:
/// ELECTRA's replaced-token detection; "clm" decoder; "span" encoder-decoder) on `texts` (5%
/// held out for the validation loss), from random weights or from `options.init`. Writes the
/// weights and a JSON sidecar (kind, config, tokenizer fingerprint) to out_dir (required).
PretrainResult pretrain(const std::string& objective, const data::BpeTokenizer& tokenizer,
                        const std::vector<std::string>& texts, const ModelConfig& config,
                        const RunOptions& options);

/// Warm-starts an encoder-decoder from a causal-LM (DecoderModel) checkpoint, as Rothe et al.
/// 2020 ("Leveraging Pre-trained Checkpoints for Sequence Generation Tasks") warm-start both
/// stacks from one pretrained checkpoint: the shared embedding (tied output) from wte, both
/// position tables from wpe, every encoder layer from the same block (both are pre-norm
/// TransformerEncoder layers), and every decoder layer's self-attention, feed-forward and their
/// norms (norm1, norm3) from it too. The cross-attention has no counterpart in a causal LM: with
/// `cross_from_self` it starts as a copy of the block's self-attention (and norm2 as norm1),
/// otherwise it stays random.
/// Throws naming the file when a tensor's shape differs or nothing fits.
TransferReport warm_start_encdec_from_decoder(EncoderDecoderModel& model, const std::string& path,
                                              bool cross_from_self = true);

}  // namespace taesan::models
