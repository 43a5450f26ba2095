// A task's model, training step and scoring, built over its TaskData: one builder per task
// type (classify, ner, qa in task_runs_encoder.cc; generation, translation in
// task_runs_seq.cc). finetune() and evaluate() drive them with the Trainer.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "taesan/app/task_data.h"
#include "taesan/models/config.h"
#include "taesan/nn/module.h"
#include "taesan/train/trainer.h"

namespace taesan::models {

/// Settings of a task run that shape its model and batches.
struct TaskRunOptions {
  int64_t batch_size = 16;
  uint64_t seed = 1234;
  double label_smoothing = 0.0;  ///< translation's loss
  int64_t max_new_tokens = 40;   ///< translation's decoding
  int64_t block_size = 64;       ///< generation: tokens per training / scoring block
  /// NER: weigh each tag by (count(most frequent tag) / count(tag))^power on the training rows
  /// (0: plain cross entropy).
  double ner_tag_weight_power = 0.5;
  /// NER: how a word's tokens give its tag, in training and decoding: "mean" (the mean of the
  /// word's token logits, train/decoding.h mean_over_word_pieces) or "first" (its first token's,
  /// the convention of Hugging Face's run_ner).
  std::string ner_word_pooling = "mean";
  std::string metric;  ///< classify: "accuracy" (default) or "macro-F1"
};

/// Everything a task run needs after its model is built.
struct TaskRun {
  std::shared_ptr<nn::Module> model;
  StepFn step;  ///< micro-batch i of the training rows
  /// The metric on `rows` of the TaskData (higher is better), in eval mode without gradients.
  std::function<double(const std::vector<int64_t>& rows)> score;
  std::function<std::string()> sample;  ///< generation / translation: an example output
  std::string metric;
  std::vector<std::string> labels;
  int64_t steps_per_epoch = 1;  ///< training batches per pass over the training rows
};

/// Builds the run of `data.type` (the model of `config`, random weights).
TaskRun build_task_run(const TaskData& data, const data::BpeTokenizer& tokenizer,
                       const ModelConfig& config, const TaskRunOptions& options);

// One builder per task type (build_task_run dispatches).
TaskRun build_classify_run(const TaskData& data, const ModelConfig& config,
                           const TaskRunOptions& options);
TaskRun build_ner_run(const TaskData& data, const ModelConfig& config,
                      const TaskRunOptions& options);
TaskRun build_qa_run(const TaskData& data, const ModelConfig& config,
                     const TaskRunOptions& options);
TaskRun build_generation_run(const TaskData& data, const data::BpeTokenizer& tokenizer,
                             const ModelConfig& config, const TaskRunOptions& options);
TaskRun build_translation_run(const TaskData& data, const data::BpeTokenizer& tokenizer,
                              const ModelConfig& config, const TaskRunOptions& options);

}  // namespace taesan::models
