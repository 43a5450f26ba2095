// Task types, the user's task files read into one dataset with its splits, and the table of the
// dataset pack's tasks (task_data.h).
#include "taesan/app/task_data.h"

#include <algorithm>
#include <filesystem>
#include <set>

#include "taesan/core/error.h"
#include "taesan/data/ner.h"
#include "taesan/data/qa.h"
#include "taesan/data/split.h"
#include "taesan/data/text_io.h"

namespace taesan::models {
namespace fs = std::filesystem;

namespace {

struct TypeInfo {
  TaskType type;
  const char* name;
  const char* kind;
  const char* metric;
};
constexpr TypeInfo kTypes[] = {
    {TaskType::kClassify, "classify", "encoder", "accuracy"},
    {TaskType::kNer, "ner", "encoder", "entity F1"},
    {TaskType::kQa, "qa", "encoder", "token F1"},
    {TaskType::kTranslation, "translation", "encdec", "chrF"},
    {TaskType::kGeneration, "generation", "decoder", "-log perplexity"},
};
const TypeInfo& info(TaskType t) {
  for (const auto& i : kTypes)
    if (i.type == t) return i;
  fail("task type {} is not one of the known types", static_cast<int>(t));
}

/// Appends `b`'s rows to `a` (same type); returns the row range [first, last) they got.
std::pair<int64_t, int64_t> append(TaskData& a, const TaskData& b) {
  const int64_t first = a.rows();
  switch (a.type) {
    case TaskType::kClassify: {
      auto& x = *a.classify;
      const auto& y = *b.classify;
      x.examples.insert(x.examples.end(), y.examples.begin(), y.examples.end());
      x.texts.insert(x.texts.end(), y.texts.begin(), y.texts.end());
      x.lines.insert(x.lines.end(), y.lines.begin(), y.lines.end());
      break;
    }
    case TaskType::kNer: {
      auto& x = *a.ner;
      const auto& y = *b.ner;
      x.examples.insert(x.examples.end(), y.examples.begin(), y.examples.end());
      x.sentences.insert(x.sentences.end(), y.sentences.begin(), y.sentences.end());
      x.word_ids.insert(x.word_ids.end(), y.word_ids.begin(), y.word_ids.end());
      x.truncated += y.truncated;
      break;
    }
    case TaskType::kQa: {
      auto& x = *a.qa;
      const auto& y = *b.qa;
      const int64_t offset = static_cast<int64_t>(x.records.size());
      x.records.insert(x.records.end(), y.records.begin(), y.records.end());
      x.examples.insert(x.examples.end(), y.examples.begin(), y.examples.end());
      for (data::QaFeature f : y.features) {
        f.record += offset;
        x.features.push_back(std::move(f));
      }
      break;
    }
    case TaskType::kTranslation: {
      auto& x = *a.translation;
      const auto& y = *b.translation;
      x.examples.insert(x.examples.end(), y.examples.begin(), y.examples.end());
      x.pairs.insert(x.pairs.end(), y.pairs.begin(), y.pairs.end());
      x.lines.insert(x.lines.end(), y.lines.begin(), y.lines.end());
      break;
    }
    case TaskType::kGeneration:
      a.documents->insert(a.documents->end(), b.documents->begin(), b.documents->end());
      break;
  }
  return {first, a.rows()};
}

std::vector<int64_t> range(std::pair<int64_t, int64_t> r) {
  std::vector<int64_t> v;
  for (int64_t i = r.first; i < r.second; ++i) v.push_back(i);
  return v;
}

/// Reads one file of a task; `labels` fixes the label set (empty: the file's own).
TaskData load_one(TaskType type, const std::string& path, const data::BpeTokenizer& tok,
                  const TaskEncoding& enc) {
  const int64_t seq_len = enc.seq_len;
  const std::vector<std::string>& labels = enc.labels;
  TS_CHECK(fs::exists(path), "load_task_files: file '{}' does not exist", path);
  TaskData d;
  d.type = type;
  switch (type) {
    case TaskType::kClassify: {
      data::ClassificationOptions o;
      o.max_length = seq_len;
      o.label_column = 0;
      o.text_column = 1;
      if (!labels.empty()) o.labels = data::LabelVocab(labels);
      d.classify = std::make_shared<data::ClassificationDataset>(
          data::load_classification_tsv(path, tok, o));
      break;
    }
    case TaskType::kNer: {
      data::NerOptions o;
      o.max_length = seq_len;
      if (!labels.empty()) o.labels = data::LabelVocab(labels);
      d.ner = std::make_shared<data::NerDataset>(data::load_conll_ner(path, tok, o));
      break;
    }
    case TaskType::kQa: {
      data::QaOptions o;
      o.max_length = seq_len;
      o.stride = seq_len / 2;
      o.max_query_length = std::min<int64_t>(32, seq_len / 3);
      o.mark_question_words = enc.qa_mark_question_words;
      d.qa = std::make_shared<data::QaDataset>(data::load_squad_jsonl(path, tok, o));
      d.qa_marks_question_words = o.mark_question_words;
      break;
    }
    case TaskType::kTranslation: {
      data::ParallelOptions o;
      o.source_column = 0;
      o.target_column = 1;
      o.max_source_length = seq_len;
      o.max_target_length = seq_len;
      d.translation =
          std::make_shared<data::ParallelDataset>(data::load_parallel_tsv(path, tok, o));
      break;
    }
    case TaskType::kGeneration: {
      data::ReadLinesOptions o;
      o.skip_empty = true;
      d.documents = std::make_shared<std::vector<std::string>>(data::read_lines(path, o));
      break;
    }
  }
  TS_CHECK(d.rows() > 0, "load_task_files: '{}' holds no {} rows", path, info(type).name);
  return d;
}

void truncate_rows(std::vector<int64_t>& v, int64_t n) {
  if (n > 0 && static_cast<int64_t>(v.size()) > n) v.resize(static_cast<size_t>(n));
}

}  // namespace

std::string task_type_name(TaskType t) { return info(t).name; }
std::string task_type_model_kind(TaskType t) { return info(t).kind; }
std::string task_type_metric(TaskType t) { return info(t).metric; }

TaskType parse_task_type(const std::string& name) {
  for (const auto& i : kTypes)
    if (name == i.name) return i.type;
  fail("unknown task type '{}' (expected classify, ner, qa, translation or generation)", name);
}

std::vector<std::string> TaskData::labels() const {
  if (type == TaskType::kClassify && classify) return classify->labels.labels();
  if (type == TaskType::kNer && ner) return ner->labels.labels();
  return {};
}

int64_t TaskData::rows() const {
  switch (type) {
    case TaskType::kClassify:
      return classify ? static_cast<int64_t>(classify->examples.size()) : 0;
    case TaskType::kNer:
      return ner ? static_cast<int64_t>(ner->examples.size()) : 0;
    case TaskType::kQa:
      return qa ? static_cast<int64_t>(qa->records.size()) : 0;
    case TaskType::kTranslation:
      return translation ? static_cast<int64_t>(translation->examples.size()) : 0;
    case TaskType::kGeneration:
      return documents ? static_cast<int64_t>(documents->size()) : 0;
  }
  return 0;
}

std::string TaskData::text(int64_t row) const {
  TS_CHECK(row >= 0 && row < rows(), "TaskData::text: row {} outside [0, {})", row, rows());
  const size_t r = static_cast<size_t>(row);
  switch (type) {
    case TaskType::kClassify:
      return classify->texts[r];
    case TaskType::kNer: {
      std::string s;
      for (const auto& w : ner->sentences[r].words) s += (s.empty() ? "" : " ") + w;
      return s;
    }
    case TaskType::kQa:
      return qa->records[r].question;
    case TaskType::kTranslation:
      return translation->pairs[r].first;
    case TaskType::kGeneration:
      return (*documents)[r];
  }
  return {};
}

TaskData load_task_files(TaskType type, const TaskFiles& files, const data::BpeTokenizer& tok,
                         const TaskEncoding& enc) {
  TS_CHECK(!files.train.empty(), "load_task_files: a training file is required");
  TS_CHECK(enc.seq_len >= 8, "load_task_files: seq_len must be >= 8, got {}", enc.seq_len);
  TaskData d = load_one(type, files.train, tok, enc);
  // The label set is the training file's (or the fixed one): a label that only the validation or
  // test file has is an error naming its file and line.
  TaskEncoding fixed = enc;
  if (fixed.labels.empty()) fixed.labels = d.labels();
  const int64_t n_train = d.rows();
  if (files.validation.empty()) {
    TS_CHECK(files.validation_fraction > 0 && files.validation_fraction < 1,
             "load_task_files: validation_fraction must be in (0, 1), got {}",
             files.validation_fraction);
    d.split = data::split_indices(n_train, files.validation_fraction, 0.0, files.split_seed);
    TS_CHECK(!d.split.validation.empty() && !d.split.train.empty(),
             "load_task_files: '{}' has {} rows: too few to hold out a validation split (give "
             "--valid FILE)",
             files.train, n_train);
  } else {
    d.split.train = range({0, n_train});
    d.split.validation = range(append(d, load_one(type, files.validation, tok, fixed)));
  }
  if (!files.test.empty()) d.split.test = range(append(d, load_one(type, files.test, tok, fixed)));
  return d;
}

const std::vector<PackTask>& pack_tasks() {
  static const std::vector<PackTask> tasks = {
      {"spam", TaskType::kClassify, "en_sms_spam.tsv", "macro-F1"},
      {"sentiment", TaskType::kClassify, "ko_nsmc_raw_sentiment_train.tsv", "accuracy"},
      {"ner", TaskType::kNer, "en_uner_ewt_dev.conll", "entity F1"},
      {"qa", TaskType::kQa, "en_qa_squad_style.jsonl", "token F1"},
      {"generation", TaskType::kGeneration, "ko_nsmc_raw_sentiment_train.tsv", "-log perplexity"},
      {"translation", TaskType::kTranslation, "ko_en_tatoeba.tsv", "chrF"},
  };
  return tasks;
}

const PackTask& pack_task(const std::string& name) {
  for (const auto& t : pack_tasks())
    if (t.name == name) return t;
  fail("unknown task '{}' (the pack's tasks: spam, sentiment, ner, qa, generation, translation)",
       name);
}

bool is_pack_task(const std::string& name) {
  for (const auto& t : pack_tasks())
    if (t.name == name) return true;
  return false;
}

TaskType task_type_of(const std::string& name) {
  return is_pack_task(name) ? pack_task(name).type : parse_task_type(name);
}

const std::vector<std::string>& task_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const auto& t : pack_tasks()) n.push_back(t.name);
    return n;
  }();
  return names;
}

std::string task_model_kind(const std::string& task) {
  if (task == "mlm" || task == "rtd") return "encoder";
  if (task == "clm") return "decoder";
  if (task == "span") return "encdec";
  for (const auto& t : pack_tasks())
    if (t.name == task) return task_type_model_kind(t.type);
  for (const auto& i : kTypes)
    if (task == i.name) return i.kind;
  fail(
      "task_model_kind: unknown task or objective '{}' (expected one of spam, sentiment, ner, "
      "qa, generation, translation, classify, mlm, rtd, clm, span)",
      task);
}

std::string pack_file(const std::string& dir, const std::string& name) {
  const fs::path p = fs::path(dir) / name;
  TS_CHECK(fs::exists(p),
           "dataset file '{}' is missing (is --data pointing at the dataset pack? expected {} in "
           "'{}')",
           p.string(), name, dir);
  return p.string();
}

TaskData load_pack_task(const std::string& name, const std::string& dir,
                        const data::BpeTokenizer& tok, const TaskEncoding& enc, int64_t max_train,
                        int64_t max_eval) {
  const PackTask& spec = pack_task(name);
  const std::string path = pack_file(dir, spec.file);
  TaskData d;
  d.type = spec.type;
  if (name == "sentiment" || name == "generation") {  // NSMC: id, document, label with a header
    data::ReadTsvOptions ro;
    ro.has_header = true;
    ro.min_columns = 3;
    if (name == "generation") {
      const auto file = data::read_tsv(path, ro);
      const int64_t col = file.column("document");
      d.documents = std::make_shared<std::vector<std::string>>();
      for (const auto& row : file.rows) d.documents->push_back(row.fields[col]);
    } else {
      data::ClassificationOptions co;
      co.max_length = enc.seq_len;
      co.has_header = true;
      co.label_column = "label";
      co.text_column = "document";
      if (!enc.labels.empty()) co.labels = data::LabelVocab(enc.labels);
      d.classify = std::make_shared<data::ClassificationDataset>(
          data::load_classification_tsv(path, tok, co));
    }
  } else {
    d = load_one(spec.type, path, tok, enc);
  }
  d.split = data::split_indices(d.rows(), 0.1, 0.1, 20240);
  // Subsample the training rows at random (fixed) rather than taking the file's first ones.
  if (max_train > 0 && static_cast<int64_t>(d.split.train.size()) > max_train) {
    const auto order = data::epoch_order(static_cast<int64_t>(d.split.train.size()), 77, 0);
    std::vector<int64_t> t;
    for (int64_t i = 0; i < max_train; ++i)
      t.push_back(d.split.train[static_cast<size_t>(order[static_cast<size_t>(i)])]);
    std::sort(t.begin(), t.end());
    d.split.train = t;
  }
  truncate_rows(d.split.validation, max_eval);
  truncate_rows(d.split.test, max_eval);
  return d;
}

std::vector<std::string> task_file_texts(TaskType type, const std::string& path) {
  TS_CHECK(fs::exists(path), "task_file_texts: file '{}' does not exist", path);
  std::vector<std::string> out;
  switch (type) {
    case TaskType::kClassify:
    case TaskType::kTranslation: {
      data::ReadTsvOptions ro;
      ro.min_columns = 2;
      for (const auto& row : data::read_tsv(path, ro).rows) {
        if (type == TaskType::kTranslation) out.push_back(row.fields[0]);
        out.push_back(row.fields[1]);
      }
      break;
    }
    case TaskType::kNer:
      for (const auto& s : data::read_conll(path)) {
        std::string t;
        for (const auto& w : s.words) t += (t.empty() ? "" : " ") + w;
        out.push_back(std::move(t));
      }
      break;
    case TaskType::kQa: {
      std::set<std::string> contexts;
      for (const auto& r : data::read_squad_jsonl(path)) {
        if (contexts.insert(r.context).second) out.push_back(r.context);
        out.push_back(r.question);
      }
      break;
    }
    case TaskType::kGeneration: {
      data::ReadLinesOptions o;
      o.skip_empty = true;
      out = data::read_lines(path, o);
      break;
    }
  }
  return out;
}

std::vector<std::string> task_train_texts(const TaskData& d) {
  std::vector<std::string> out;
  switch (d.type) {
    case TaskType::kQa: {
      std::set<std::string> contexts;  // several questions share a context: keep it once
      for (int64_t i : d.split.train) {
        const auto& r = d.qa->records[static_cast<size_t>(i)];
        if (contexts.insert(r.context).second) out.push_back(r.context);
        out.push_back(r.question);
      }
      break;
    }
    case TaskType::kTranslation:
      // the sources of the training pairs, then their targets: a pretraining stream never puts
      // a sentence next to its translation
      for (int64_t i : d.split.train)
        out.push_back(d.translation->pairs[static_cast<size_t>(i)].first);
      for (int64_t i : d.split.train)
        out.push_back(d.translation->pairs[static_cast<size_t>(i)].second);
      break;
    default:
      for (int64_t i : d.split.train) out.push_back(d.text(i));
  }
  return out;
}

bool qa_should_mark_question_words(const ModelConfig& config) {
  return config.type_vocab_size >= 3;
}

std::vector<std::string> task_train_texts(const std::string& task, const data::BpeTokenizer& tok,
                                          const std::string& data_dir) {
  TaskEncoding enc;
  enc.seq_len = task == "qa" ? 128 : 512;  // loaders truncate encodings only; texts stay whole
  return task_train_texts(load_pack_task(task, data_dir, tok, enc));
}

}  // namespace taesan::models
