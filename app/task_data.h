// What a fine-tuning task trains and is scored on: the task types (classify, ner, qa,
// translation, generation), the user's files read into one dataset with train / validation /
// test rows, and the table of the dataset pack's tasks (name, file, type, metric, budget).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "taesan/data/bpe_tokenizer.h"
#include "taesan/data/classification.h"
#include "taesan/data/ner.h"
#include "taesan/data/parallel_text.h"
#include "taesan/data/qa.h"
#include "taesan/data/split.h"
#include "taesan/models/config.h"

namespace taesan::models {

/// The kinds of fine-tuning task, each with its file format:
///   classify     label<TAB>text TSV, any label set
///   ner          CoNLL (word ... tag per line, blank line between sentences), any BIO tag set
///   qa           SQuAD-style JSONL ({"context","question","answers":...} per line)
///   translation  source<TAB>target TSV
///   generation   plain text, one document per line
enum class TaskType { kClassify, kNer, kQa, kTranslation, kGeneration };

/// "classify", "ner", ...; and back (throws naming the accepted names).
std::string task_type_name(TaskType type);
TaskType parse_task_type(const std::string& name);
/// The model family of a task type: "encoder", "decoder" (generation) or "encdec".
std::string task_type_model_kind(TaskType type);
/// The metric a task type reports (higher is better): accuracy, entity F1, token F1, chrF,
/// -log perplexity.
std::string task_type_metric(TaskType type);

/// The files of a task. `validation` empty: a seeded split of `train` (validation_fraction of its
/// rows); `test` empty: no test score.
struct TaskFiles {
  std::string train, validation, test;
  double validation_fraction = 0.1;
  uint64_t split_seed = 20240;
};

/// How rows become model inputs.
struct TaskEncoding {
  int64_t seq_len = 128;  ///< tokens per example (truncation; QA windows)
  /// Fixed labels (a model being evaluated): a label outside them is an error naming file and
  /// line. Empty: the training file's labels.
  std::vector<std::string> labels;
  /// QA: token type 2 for the context's words of the question (data::QaOptions); set it when the
  /// model has a third token type (qa_marks_question_words).
  bool qa_mark_question_words = false;
};

/// Whether QA encodes for a model of `config` mark the question's words in the context: when its
/// token-type table has a third row (small_config's models do; older checkpoints have two).
bool qa_marks_question_words(const ModelConfig& config);

/// One task's data: every row of its files in one dataset, and which rows are which split.
/// Exactly the dataset of `type` is set. Row indices: examples for classify / ner / translation,
/// records for qa, documents for generation.
struct TaskData {
  TaskType type = TaskType::kClassify;
  std::shared_ptr<data::ClassificationDataset> classify;
  std::shared_ptr<data::NerDataset> ner;
  std::shared_ptr<data::QaDataset> qa;
  std::shared_ptr<data::ParallelDataset> translation;
  std::shared_ptr<std::vector<std::string>> documents;  ///< generation
  data::SplitIndices split;
  std::vector<std::string> labels() const;  ///< classification labels / NER tags ({} otherwise)
  int64_t rows() const;
  /// The raw text of a row, for baselines and pretraining text (classify: the text; ner: words
  /// joined by spaces; qa: question; translation: source; generation: the document).
  std::string text(int64_t row) const;
};

/// Reads the user's files of a task. Errors name the file and line (malformed rows, a label or
/// tag of the validation / test file that the training file never has, broken BIO), or say
/// which split is empty.
TaskData load_task_files(TaskType type, const TaskFiles& files, const data::BpeTokenizer& tokenizer,
                         const TaskEncoding& encoding);

/// The raw text of a task file, without tokenizing it (e.g. to train a tokenizer on the user's
/// training file): classification texts, NER sentences (words joined by spaces), QA contexts
/// (once each) and questions, both sides of translation pairs, generation documents.
std::vector<std::string> task_file_texts(TaskType type, const std::string& path);

/// A task of the dataset pack: one file, split 80/10/10 by a fixed seed.
struct PackTask {
  std::string name;  ///< "spam", "sentiment", "ner", "qa", "generation", "translation"
  TaskType type;
  std::string file;    ///< in the pack folder
  std::string metric;  ///< what the demo reports
};
/// The pack's tasks, in the demo's order.
const std::vector<PackTask>& pack_tasks();
/// The pack task called `name`; throws naming the known names.
const PackTask& pack_task(const std::string& name);
/// Reads a pack task from `data_dir` (80/10/10, seed 20240; max_train > 0 subsamples the training
/// rows, max_eval > 0 truncates validation and test).
TaskData load_pack_task(const std::string& name, const std::string& data_dir,
                        const data::BpeTokenizer& tokenizer, const TaskEncoding& encoding,
                        int64_t max_train = 0, int64_t max_eval = 0);

/// Whether `name` is a task of the pack.
bool is_pack_task(const std::string& name);
/// The type of a pack task or of a type name ("spam" -> kClassify, "ner" -> kNer, ...).
TaskType task_type_of(const std::string& name);
/// The path of the pack file `name` in `data_dir`; throws naming both when it is missing.
std::string pack_file(const std::string& data_dir, const std::string& name);
/// The pack's task names (pack_tasks() order).
const std::vector<std::string>& task_names();
/// The model family of a pack task, a task type or a pretraining objective: "encoder",
/// "decoder" or "encdec". Throws for an unknown name.
std::string task_model_kind(const std::string& task);

/// The unlabeled text of the training rows of `task` (a pack task) — exactly the rows finetune
/// may train on; validation and test rows are never included — for domain-adaptive pretraining:
/// classification texts, NER sentences, QA contexts (once each) and questions, the generation
/// documents, and for translation the sources of the training pairs followed by their targets
/// (monolingual text: no sentence is next to its translation).
std::vector<std::string> task_train_texts(const std::string& task,
                                          const data::BpeTokenizer& tokenizer,
                                          const std::string& data_dir);
/// The same for any TaskData.
std::vector<std::string> task_train_texts(const TaskData& data);

}  // namespace taesan::models
