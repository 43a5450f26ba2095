// Transfer-learning pipelines on the dataset pack, one per stage: the tokenizer, pretraining
// (masked LM for the encoder, causal LM for the decoder, span corruption for the
// encoder-decoder), fine-tuning + held-out evaluation per downstream task, and the demo that
// runs them all from scratch and from the pretrained bodies. The `taesan` CLI and the demo call
// these functions; every file they write is written atomically.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "taesan/data/bpe_tokenizer.h"
#include "taesan/models/config.h"
#include "taesan/models/heads.h"
#include "taesan/models/transformer_models.h"
#include "taesan/train/trainer.h"

namespace taesan::models {

/// The downstream tasks: "spam", "sentiment", "ner", "qa", "generation", "translation".
const std::vector<std::string>& task_names();
/// The model family a task or objective uses: "encoder", "decoder" or "encdec". Throws for an
/// unknown task.
std::string task_model_kind(const std::string& task);

/// The pack's pretraining text (English + Korean), at most `max_lines_per_file` lines per file
/// (<= 0: all). Throws naming a missing file.
std::vector<std::string> pretraining_texts(const std::string& data_dir,
                                           int64_t max_lines_per_file = 0);

/// The unlabeled text of `task`'s training split — exactly the rows finetune() may train on;
/// validation and test rows are never included — for domain-adaptive pretraining: classification
/// texts, NER sentences (words joined by spaces), QA contexts (once each) and questions, the
/// generation reviews, and for translation the English sentences of the training pairs followed
/// by their Korean sentences (monolingual text: no sentence is next to its translation).
std::vector<std::string> task_train_texts(const std::string& task,
                                          const data::BpeTokenizer& tokenizer,
                                          const std::string& data_dir);

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

/// Trains the demo's byte-level BPE tokenizer: [PAD] [UNK] [CLS] [SEP] [MASK] [BOS] [EOS] and
/// 16 span-corruption sentinels <extra_id_i> as special tokens.
data::BpeTokenizer train_tokenizer(const std::vector<std::string>& texts, int64_t vocab_size);

/// A small Transformer config for `vocab_size` tokens (d_model, layers, heads, context).
ModelConfig small_config(int64_t vocab_size, int64_t d_model = 128, int64_t num_layers = 2,
                         int64_t max_position = 128);

/// Settings shared by pretraining and fine-tuning runs.
struct RunOptions {
  std::string name = "run";  ///< file stem in out_dir
  std::string out_dir = "";  ///< weights, sidecar JSON, CSV log, SVG chart ("": nothing written)
  int64_t steps = 200;
  int64_t batch_size = 16;
  int64_t grad_accum = 1;
  int64_t seq_len = 64;  ///< tokens per example (pretraining blocks; fine-tuning truncation)
  double lr = 5e-4;
  /// Fine-tuning from init weights: learning-rate multiplier of the pretrained body (the
  /// "body." parameters of encoder task models; the new head keeps `lr`).
  double body_lr_scale = 1.0;
  /// Masked LM / replaced-token detection: the fraction of tokens selected for masking.
  double mask_probability = 0.15;
  double warmup_ratio = 0.06;  ///< linear warmup as a fraction of the steps (then cosine decay)
  /// Label smoothing of the sequence-to-sequence loss (translation); 0: plain cross entropy.
  double label_smoothing = 0.0;
  int64_t eval_every = 0;  ///< 0: max(steps / 5, 1)
  int64_t patience = 0;    ///< early stopping (evaluations without improvement; 0: off)
  uint64_t seed = 1234;
  double time_budget_seconds = 0;
  int64_t max_train = 0;  ///< at most this many training examples (0: all)
  int64_t max_eval = 0;   ///< at most this many validation / test examples each (0: all)
  bool verbose = true;
  std::string resume_from = "";
  /// Pretraining only: start from these weights (a checkpoint of the same objective's model,
  /// written by pretrain) instead of random ones — continued, e.g. task-adaptive, pretraining.
  std::string init = "";
};

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

/// What fine-tuning a task produced: the held-out test score (higher is better).
struct TaskScore {
  std::string task;
  std::string metric;
  double score = 0;       ///< on the test split, never trained on or used for selection
  double validation = 0;  ///< best validation score (model selection)
  double seconds = 0;
  std::string sample;     ///< generation / translation: an example output
  std::string weights_path;
  TrainResult train;
};

/// Fine-tunes `task` on its file in `data_dir` (80/10/10 train/validation/test split by seed)
/// from `init_weights` (a pretrain() output; "" = from scratch, config used as is), then scores
/// the test split. Translation also takes a causal-LM ("clm") output, which warm-starts both
/// stacks (warm_start_encdec_from_decoder). Throws for an unknown task, a missing file, or init
/// weights of another model kind, config or tokenizer.
TaskScore finetune(const std::string& task, const data::BpeTokenizer& tokenizer,
                   const std::string& data_dir, const ModelConfig& config,
                   const std::string& init_weights, const RunOptions& options);

/// Scores saved fine-tuned weights (with their sidecar) on the test split of `task`.
TaskScore evaluate_task(const std::string& weights_path, const data::BpeTokenizer& tokenizer,
                        const std::string& data_dir, const RunOptions& options);

/// Continues `prompt` with a decoder checkpoint, or translates it with an encoder-decoder one.
std::string generate_text(const std::string& weights_path, const data::BpeTokenizer& tokenizer,
                          const std::string& prompt, int64_t max_new_tokens = 40,
                          bool sample = false, uint64_t seed = 0);

/// The sidecar of a weights file: {"kind", "task", "config", "tokenizer_fingerprint", ...}.
struct ModelMeta {
  std::string kind;  ///< "encoder" (MLM body), "decoder", "encdec", or a task's kind
  std::string task;  ///< "" for a pretrained model
  ModelConfig config;
  std::string tokenizer_fingerprint;
  std::vector<std::string> labels;  ///< classification / NER labels
};
/// Reads `<weights without .safetensors>.json`; throws naming the file when missing or bad.
ModelMeta read_model_meta(const std::string& weights_path);
/// A fingerprint of a tokenizer's vocabulary and merges (to refuse a checkpoint's mismatch).
std::string tokenizer_fingerprint(const data::BpeTokenizer& tokenizer);

/// Options of run_demo.
struct DemoOptions {
  std::string data_dir = "../shared/data";
  std::string out_dir = "demo_out";
  bool quick = false;  ///< every stage briefly (CI: under 3 minutes)
  std::vector<std::string> tasks;  ///< only these tasks and the pretraining they need (empty: all)
  int threads = 2;
  bool verbose = true;
  uint64_t seed = 1234;
};
/// One row of the demo's table (scores: higher is better).
struct DemoRow {
  std::string task, metric;
  double scratch = 0, pretrained = 0, seconds = 0;
};
/// The demo: tokenizer, three pretraining runs, then every task from scratch and from the
/// pretrained body with the same budget; prints the table and writes results.md, results.json,
/// the CSV logs and SVG charts to out_dir (atomically).
std::vector<DemoRow> run_demo(const DemoOptions& options);

}  // namespace taesan::models
