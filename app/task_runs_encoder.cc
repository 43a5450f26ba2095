// The encoder task runs over a TaskData: sequence classification, NER (word-level tags through
// word_ids, tag-weighted loss) and extractive QA (best span over each question's windows).
#include <algorithm>
#include <cmath>
#include <set>

#include "taesan/app/task_runs.h"
#include "taesan/autograd/factory.h"
#include "taesan/core/error.h"
#include "taesan/data/split.h"
#include "taesan/models/heads.h"
#include "taesan/train/batching.h"
#include "taesan/train/decoding.h"
#include "taesan/train/metrics.h"

namespace taesan::models {

namespace {
constexpr int64_t kEvalBatch = 64;

int64_t argmax_row(const float* p, int64_t n) {
  return static_cast<int64_t>(std::max_element(p, p + n) - p);
}
}  // namespace

TaskRun build_classify_run(const TaskData& d, const ModelConfig& config, const TaskRunOptions& o) {
  TS_CHECK(d.classify, "build_classify_run: the task data holds no classification dataset");
  auto ds = d.classify;
  const int64_t nl = ds->labels.size();
  TS_CHECK(nl >= 2, "build_classify_run: {} label(s) in the training data; need at least 2", nl);
  // Mean pooling: an MLM-pretrained body never trained its [CLS] output (no next-sentence task).
  auto model = std::make_shared<SequenceClassifier>(config, nl, 0.1, Pooling::kMean);
  auto batcher = std::make_shared<StepBatcher>(data::select(ds->examples, d.split.train),
                                               o.batch_size, o.seed, config.pad_token_id);
  TaskRun r;
  r.model = model;
  r.steps_per_epoch = batcher->batches_per_epoch();
  r.labels = ds->labels.labels();
  r.metric = o.metric.empty() ? "accuracy" : o.metric;
  TS_CHECK(r.metric == "accuracy" || r.metric == "macro-F1",
           "build_classify_run: metric must be accuracy or macro-F1, got '{}'", r.metric);
  r.step = [model, batcher](int64_t i) {
    data::Batch b = batcher->get(i);
    return StepOutput{model->loss(model->forward(b.input_ids, b.attention_mask), b.labels),
                      count_tokens(b)};
  };
  const bool f1 = r.metric == "macro-F1";
  const int64_t pad = config.pad_token_id;
  r.score = [model, ds, nl, f1, pad](const std::vector<int64_t>& rows) {
    std::vector<int64_t> pred, gold;
    for (auto& b : eval_batches(ds->examples, rows, kEvalBatch, pad)) {
      const Tensor logits = model->forward(b.input_ids, b.attention_mask).contiguous();
      const auto v = logits.to_vector<float>();
      for (int64_t i = 0; i < logits.size(0); ++i) pred.push_back(argmax_row(&v[i * nl], nl));
      for (int64_t y : b.labels.to_vector<int64_t>()) gold.push_back(y);
    }
    if (gold.empty()) return 0.0;
    return 100.0 * (f1 ? macro_f1(pred, gold, nl) : accuracy(pred, gold));
  };
  return r;
}

TaskRun build_ner_run(const TaskData& d, const ModelConfig& config, const TaskRunOptions& o) {
  TS_CHECK(d.ner, "build_ner_run: the task data holds no NER dataset");
  auto ds = d.ner;
  const int64_t nl = ds->labels.size();
  auto model = std::make_shared<TokenClassifier>(config, nl);
  TS_CHECK(o.ner_word_pooling == "mean" || o.ner_word_pooling == "first",
           "build_ner_run: word pooling must be 'mean' or 'first', got '{}'", o.ner_word_pooling);
  const bool mean_pool = o.ner_word_pooling == "mean";
  auto batcher = std::make_shared<StepBatcher>(data::select(ds->examples, d.split.train),
                                               o.batch_size, o.seed, config.pad_token_id);
  TaskRun r;
  r.model = model;
  r.steps_per_epoch = batcher->batches_per_epoch();
  r.labels = ds->labels.labels();
  r.metric = "entity F1";
  // Entities are rare (most tokens are O): weight each tag by (count(O) / count(tag))^power,
  // counted on the training split, so that the model does not settle on all-O.
  Tensor class_weights;
  if (o.ner_tag_weight_power > 0) {
    std::vector<double> tag_count(static_cast<size_t>(nl), 1.0);
    for (int64_t i : d.split.train)
      for (int64_t y : ds->examples[static_cast<size_t>(i)].labels)
        if (y >= 0 && y < nl) tag_count[static_cast<size_t>(y)] += 1;
    const double most = *std::max_element(tag_count.begin(), tag_count.end());
    std::vector<float> w;
    for (double c : tag_count)
      w.push_back(static_cast<float>(std::pow(most / c, o.ner_tag_weight_power)));
    class_weights = from_vector(w, {nl});
  }
  r.step = [model, batcher, class_weights, mean_pool](int64_t i) {
    data::Batch b = batcher->get(i);
    Tensor logits = model->forward(b.input_ids, b.attention_mask);
    if (mean_pool) logits = mean_over_word_pieces(logits, b.labels, b.attention_mask);
    return StepOutput{model->loss(logits, b.labels, class_weights), count_tokens(b)};
  };
  const int64_t pad = config.pad_token_id;
  r.score = [model, ds, nl, pad, mean_pool](const std::vector<int64_t>& rows) {
    std::vector<std::vector<std::string>> pred, gold;
    const auto batches = eval_batches(ds->examples, rows, kEvalBatch, pad);
    size_t next = 0;
    for (const auto& b : batches) {
      Tensor logits = model->forward(b.input_ids, b.attention_mask);
      if (mean_pool) logits = mean_over_word_pieces(logits, b.labels, b.attention_mask);
      logits = logits.contiguous();
      const auto v = logits.to_vector<float>();
      const int64_t T = logits.size(1);
      for (int64_t j = 0; j < logits.size(0); ++j, ++next) {
        const size_t row = static_cast<size_t>(rows[next]);
        const auto& sent = ds->sentences[row];
        pred.push_back(ner_word_tags(&v[static_cast<size_t>(j * T * nl)], T, nl, ds->word_ids[row],
                                     static_cast<int64_t>(sent.words.size()), ds->labels));
        gold.push_back(sent.tags);
      }
    }
    if (gold.empty()) return 0.0;
    return 100.0 * entity_f1(pred, gold).f1;
  };
  return r;
}

TaskRun build_qa_run(const TaskData& d, const ModelConfig& config, const TaskRunOptions& o) {
  TS_CHECK(d.qa, "build_qa_run: the task data holds no QA dataset");
  auto ds = d.qa;
  // Rows are records; a record's windows are its features.
  std::vector<int> role(ds->records.size(), -1);
  for (int64_t i : d.split.train) role[static_cast<size_t>(i)] = 0;
  std::vector<data::Example> train;
  for (size_t f = 0; f < ds->features.size(); ++f)
    if (role[static_cast<size_t>(ds->features[f].record)] == 0) train.push_back(ds->examples[f]);
  auto model = std::make_shared<QuestionAnswering>(config);
  auto batcher =
      std::make_shared<StepBatcher>(std::move(train), o.batch_size, o.seed, config.pad_token_id);
  TaskRun r;
  r.model = model;
  r.steps_per_epoch = batcher->batches_per_epoch();
  r.metric = "token F1";
  r.step = [model, batcher](int64_t i) {
    data::Batch b = batcher->get(i);
    const Tensor logits = model->forward(b.input_ids, b.attention_mask, b.token_type_ids);
    return StepOutput{QuestionAnswering::loss(logits, b.labels), count_tokens(b)};
  };
  const int64_t pad = config.pad_token_id;
  r.score = [model, ds, pad](const std::vector<int64_t>& rows) {
    const std::set<int64_t> records(rows.begin(), rows.end());
    std::vector<int64_t> feats;
    for (size_t f = 0; f < ds->features.size(); ++f)
      if (records.count(ds->features[f].record)) feats.push_back(static_cast<int64_t>(f));
    // The best non-empty span of each record over its windows (SQuAD v1: every question has an
    // answer).
    QaAnswerSelector selector(*ds);
    size_t next = 0;
    for (const auto& b : eval_batches(ds->examples, feats, kEvalBatch, pad)) {
      const Tensor logits =
          model->forward(b.input_ids, b.attention_mask, b.token_type_ids).contiguous();
      const auto v = logits.to_vector<float>();
      const int64_t T = logits.size(1);
      for (int64_t j = 0; j < logits.size(0); ++j, ++next)
        selector.add(feats[next], &v[static_cast<size_t>(j * T * 2)], T);
    }
    double sum = 0;
    for (int64_t rec : records) {
      const auto& r = ds->records[static_cast<size_t>(rec)];
      sum += max_token_f1(selector.answer(rec),
                          r.answers.empty() ? std::vector<std::string>{r.answer_text} : r.answers);
    }
    return records.empty() ? 0.0 : 100.0 * sum / static_cast<double>(records.size());
  };
  return r;
}

}  // namespace taesan::models
