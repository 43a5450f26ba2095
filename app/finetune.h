// Fine-tuning pipelines over any TaskData (the user's files or the pack's): train until the
// validation metric stops improving, restore the best weights, score the test rows beside a
// simple baseline on the same rows, and write the model, its sidecar and metrics.json.
// evaluate() scores saved weights on new files; predict() labels new inputs as JSONL.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "taesan/app/run_options.h"
#include "taesan/app/task_data.h"
#include "taesan/app/task_runs.h"
#include "taesan/data/bpe_tokenizer.h"
#include "taesan/models/config.h"

namespace taesan::models {

/// What fine-tuning (or evaluating) a task produced. Scores: higher is better; NaN where a split
/// is absent.
struct TaskScore {
  std::string task;
  std::string metric;
  double score = 0;       ///< on the test rows, never trained on or used for selection
  double validation = 0;  ///< best validation score (model selection)
  double baseline = 0;    ///< the simple baseline on the same test rows
  std::string baseline_name;
  double seconds = 0;
  std::string sample;  ///< generation / translation: an example output
  std::string weights_path;
  int64_t train_rows = 0, validation_rows = 0, test_rows = 0;
  TrainResult train;
};

/// The default fine-tuning settings of a task type: learning rate, batch, warmup, and the
/// stopping rule — up to `steps` steps, stopping after `patience` evaluations without a better
/// validation score or after `time_budget_seconds`, then the best weights. `pretrained`: the
/// body starts from pretrained weights (smaller body learning rate).
RunOptions default_finetune_options(TaskType type, bool pretrained);

/// Fine-tunes a model for `data` (train rows; validation rows choose the best weights and stop
/// the run), from `init_weights` (a pretrain() output; "" = random, `config` used as is), then
/// scores the test rows and the simple baseline on them. With out_dir: writes
/// <name>.safetensors + .json sidecar (kind, task, config, labels, tokenizer) and
/// <out_dir>/metrics.json. Translation also takes a causal-LM init (warm start of both stacks).
TaskScore finetune(const TaskData& data, const std::string& task_name,
                   const data::BpeTokenizer& tokenizer, const ModelConfig& config,
                   const std::string& init_weights, const RunOptions& options,
                   const TaskRunOptions& run_options = {});

/// Fine-tunes a task of the dataset pack (pack_tasks()) found in `data_dir` (80/10/10 split).
TaskScore finetune(const std::string& task, const data::BpeTokenizer& tokenizer,
                   const std::string& data_dir, const ModelConfig& config,
                   const std::string& init_weights, const RunOptions& options);

/// Scores fine-tuned weights (with their sidecar) on the test rows of `data` (all rows when it
/// has no test split), with the baseline trained on its training rows when there are any.
TaskScore evaluate(const std::string& weights_path, const TaskData& data,
                   const data::BpeTokenizer& tokenizer);
/// Scores fine-tuned weights on a labelled file of their task's format.
TaskScore evaluate_file(const std::string& weights_path, const std::string& test_file);
/// Scores fine-tuned weights of a pack task on that task's test split in `data_dir`.
TaskScore evaluate_task(const std::string& weights_path, const data::BpeTokenizer& tokenizer,
                        const std::string& data_dir, const RunOptions& options);

/// Runs fine-tuned weights on new inputs and returns one JSON object per input (JSONL lines):
///   classify     input: text per line (or label<TAB>text)      -> {"text","label","scores"}
///   ner          input: sentence per line (words split on spaces) or a CoNLL file (.conll)
///                -> {"text","words","tags","entities":[{"type","text","start","end"}]}
///                (start/end: character offsets into "text", end exclusive)
///   qa           input: JSONL {"id"?, "context", "question"}    -> {"id","question","answer",
///                "start","end"} (character offsets into the context)
///   translation  input: source per line (or source<TAB>target)  -> {"source","translation"}
///   generation   input: prompt per line                          -> {"prompt","generation"}
/// Errors name the input file and line.
std::vector<std::string> predict(const std::string& weights_path, const std::string& input_file,
                                 int64_t max_new_tokens = 40);

/// Continues `prompt` with a decoder checkpoint, or translates it with an encoder-decoder one.
std::string generate_text(const std::string& weights_path, const data::BpeTokenizer& tokenizer,
                          const std::string& prompt, int64_t max_new_tokens = 40,
                          bool sample = false, uint64_t seed = 0);

/// The weights file of a model given as a folder written by finetune (its one .safetensors
/// with a sidecar) or as the file itself.
std::string resolve_model_path(const std::string& model);

}  // namespace taesan::models
