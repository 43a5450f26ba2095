// Settings shared by the pretraining and fine-tuning pipelines, and how they become the
// Trainer's options and output file names.
#pragma once

#include <cstdint>
#include <string>

#include "taesan/train/trainer.h"

namespace taesan::models {

/// Settings shared by pretraining and fine-tuning runs.
struct RunOptions {
  std::string name = "run";  ///< file stem in out_dir
  std::string out_dir = "";  ///< weights, sidecar JSON, CSV log, SVG chart ("": nothing written)
  /// Optimizer steps: the cap of the run (training stops earlier on patience or time_budget).
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
  /// Dropout of the model trained (replaces the config's; -1: the config's). Dropout is a
  /// training setting, not part of the architecture: a body pretrained without dropout is
  /// fine-tuned with it (and check_model_meta ignores it).
  double dropout = -1;
  double warmup_ratio = 0.06;  ///< linear warmup as a fraction of the steps (then cosine decay)
  /// Label smoothing of the sequence-to-sequence loss (translation); 0: plain cross entropy.
  double label_smoothing = 0.0;
  /// Evaluate every N steps; 0: only at the end (as TrainerOptions::eval_every); -1 (default):
  /// chosen by the pipeline (pretraining: 5 evaluations; fine-tuning: twice per epoch, between
  /// 25 and 500 steps apart).
  int64_t eval_every = -1;
  int64_t patience = 0;  ///< early stopping (evaluations without improvement; 0: off)
  uint64_t seed = 1234;
  double time_budget_seconds = 0;  ///< stop training after this long (0: no limit)
  int64_t max_train = 0;           ///< at most this many training examples (0: all)
  int64_t max_eval = 0;            ///< at most this many validation / test examples each (0: all)
  bool verbose = true;
  std::string resume_from = "";
  /// Pretraining only: start from these weights (a checkpoint of the same objective's model,
  /// written by pretrain) instead of random ones — continued, e.g. task-adaptive, pretraining.
  std::string init = "";
};

/// The Trainer's options for a run: `eval_every` already resolved (>= 0).
TrainerOptions trainer_options(const RunOptions& options, bool greater_is_better,
                               int64_t eval_every);
/// <out_dir>/<name>.safetensors; throws when out_dir is empty.
std::string weights_file(const RunOptions& options);

}  // namespace taesan::models
