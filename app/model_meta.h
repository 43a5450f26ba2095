// The JSON sidecar written next to every weights file of the pipelines (<stem>.json beside
// <stem>.safetensors): model kind, task, config, labels, the tokenizer file and its
// fingerprint. Loading checks it, so a mismatched model, config or tokenizer is a clear error.
#pragma once

#include <string>
#include <vector>

#include "taesan/data/bpe_tokenizer.h"
#include "taesan/models/config.h"

namespace taesan::models {

/// The sidecar of a weights file.
struct ModelMeta {
  std::string kind;  ///< "encoder" (MLM body), "decoder", "encdec"
  std::string task;  ///< "" for a pretrained model, else the task type or pack task name
  ModelConfig config;
  std::string tokenizer_fingerprint;
  /// The tokenizer.json the model was trained with, relative to the sidecar's folder when it is
  /// inside it ("" in sidecars written before it was recorded: tokenizer.json beside the file).
  std::string tokenizer_file;
  std::vector<std::string> labels;  ///< classification / NER labels
  int64_t seq_len = 0;              ///< fine-tuning truncation length (0: unknown)
  /// NER: "mean" or "first" (TaskRunOptions::ner_word_pooling; "first" in older sidecars).
  std::string word_pooling = "first";
};

/// `config` with `dropout` (a training setting; < 0: unchanged).
ModelConfig with_dropout(ModelConfig config, double dropout);

/// `<weights without .safetensors>.json`.
std::string model_meta_path(const std::string& weights_path);
/// Reads the sidecar of `weights_path`; throws naming the file when it or the weights are
/// missing or the JSON is not a sidecar.
ModelMeta read_model_meta(const std::string& weights_path);
/// Writes the sidecar of `weights_path` atomically.
void write_model_meta(const std::string& weights_path, const ModelMeta& meta);
/// The absolute path of the tokenizer.json recorded in the sidecar (tokenizer.json beside the
/// weights when none is recorded).
std::string model_tokenizer_path(const std::string& weights_path, const ModelMeta& meta);
/// A fingerprint of a tokenizer's vocabulary and merges (to refuse a checkpoint's mismatch).
std::string tokenizer_fingerprint(const data::BpeTokenizer& tokenizer);
/// Throws (naming `who` and the file) unless the sidecar holds a `kind` model trained with this
/// tokenizer and, when given, this config.
void check_model_meta(const ModelMeta& meta, const std::string& weights, const std::string& kind,
                      const ModelConfig* config, const data::BpeTokenizer& tokenizer,
                      const char* who);

}  // namespace taesan::models
