// The simple baseline of every task type on the same rows as the model (baseline_scores.h): the
// train/baselines.h models, fitted on the training rows (choices on the validation rows), scored
// with the task's own metric.
#include "taesan/app/baseline_scores.h"

#include <cmath>
#include <limits>

#include "taesan/core/error.h"
#include "taesan/data/label_vocab.h"
#include "taesan/data/text_dataset.h"
#include "taesan/train/baselines.h"
#include "taesan/train/metrics.h"

namespace taesan::models {

namespace {

double classify_baseline(const TaskData& d, const std::vector<int64_t>& rows,
                         const std::string& metric) {
  const auto& ds = *d.classify;
  auto texts_labels = [&](const std::vector<int64_t>& idx) {
    std::pair<std::vector<std::string>, std::vector<std::string>> out;
    for (int64_t i : idx) {
      out.first.push_back(ds.texts[static_cast<size_t>(i)]);
      out.second.push_back(ds.labels.label(ds.examples[static_cast<size_t>(i)].labels.at(0)));
    }
    return out;
  };
  const auto [train_x, train_y] = texts_labels(d.split.train);
  const auto [valid_x, valid_y] = texts_labels(d.split.validation);
  const auto [test_x, test_y] = texts_labels(rows);
  const train::BowClassifier clf =
      valid_x.empty() ? train::BowClassifier::fit(train_x, train_y)
                      : train::BowClassifier::fit(train_x, train_y, valid_x, valid_y);
  const auto predicted = clf.predict_all(test_x);
  std::vector<int64_t> pred, gold;
  for (size_t i = 0; i < predicted.size(); ++i) {
    pred.push_back(ds.labels.find(predicted[i]).value_or(-1));
    gold.push_back(ds.labels.find(test_y[i]).value_or(-1));
  }
  return 100.0 *
         (metric == "macro-F1" ? macro_f1(pred, gold, ds.labels.size()) : accuracy(pred, gold));
}

double ner_baseline(const TaskData& d, const std::vector<int64_t>& rows) {
  const auto& ds = *d.ner;
  std::vector<data::NerSentence> train;
  for (int64_t i : d.split.train) train.push_back(ds.sentences[static_cast<size_t>(i)]);
  const auto tagger = train::MostFrequentTagTagger::fit(train);
  std::vector<std::vector<std::string>> pred, gold;
  for (int64_t i : rows) {
    const auto& s = ds.sentences[static_cast<size_t>(i)];
    pred.push_back(tagger.predict(s.words));
    gold.push_back(s.tags);
  }
  return 100.0 * entity_f1(pred, gold).f1;
}

double qa_baseline(const TaskData& d, const std::vector<int64_t>& rows) {
  double sum = 0;
  for (int64_t i : rows) {
    const auto& r = d.qa->records[static_cast<size_t>(i)];
    sum += max_token_f1(train::best_overlap_sentence(r.context, r.question).text,
                        r.answers.empty() ? std::vector<std::string>{r.answer_text} : r.answers);
  }
  return 100.0 * sum / static_cast<double>(rows.size());
}

double translation_baseline(const TaskData& d, const std::vector<int64_t>& rows) {
  std::vector<std::pair<std::string, std::string>> pairs;
  for (int64_t i : d.split.train) pairs.push_back(d.translation->pairs[static_cast<size_t>(i)]);
  const auto memory = train::NearestNeighbourTranslator::fit(pairs);
  std::vector<std::string> hyp, ref;
  for (int64_t i : rows) {
    const auto& p = d.translation->pairs[static_cast<size_t>(i)];
    hyp.push_back(memory.translate(p.first));
    ref.push_back(p.second);
  }
  return corpus_chrf(hyp, ref);
}

/// The blocks the generation run scores (block_size + 1 tokens every block_size tokens): an LM
/// baseline predicting each token after a block's first scores exactly the model's targets.
std::vector<std::vector<int64_t>> lm_blocks(const TaskData& d, const std::vector<int64_t>& rows,
                                            const data::BpeTokenizer& tok, int64_t block) {
  std::vector<std::string> docs;
  for (int64_t i : rows) docs.push_back((*d.documents)[static_cast<size_t>(i)]);
  const auto stream = data::token_stream(tok, docs, tok.token_to_id("[EOS]"));
  return data::cut_blocks(stream, block + 1, block);
}

}  // namespace

double task_baseline(const TaskData& d, const std::vector<int64_t>& rows,
                     const data::BpeTokenizer& tok, const std::string& metric, std::string* name,
                     int64_t block_size) {
  TS_CHECK(!rows.empty(), "task_baseline: no rows to score");
  TS_CHECK(!d.split.train.empty(), "task_baseline: no training rows to fit the baseline on");
  std::string what;
  double v = std::numeric_limits<double>::quiet_NaN();
  switch (d.type) {
    case TaskType::kClassify:
      what = "bag-of-words logistic regression";
      v = classify_baseline(d, rows, metric);
      break;
    case TaskType::kNer:
      what = "most frequent tag per word";
      v = ner_baseline(d, rows);
      break;
    case TaskType::kQa:
      what = "best-overlap sentence";
      v = qa_baseline(d, rows);
      break;
    case TaskType::kTranslation:
      what = "nearest training pair (translation memory)";
      v = translation_baseline(d, rows);
      break;
    case TaskType::kGeneration: {
      TS_CHECK(block_size >= 1, "task_baseline: block_size must be >= 1, got {}", block_size);
      const auto r =
          train::ngram_lm_baseline(lm_blocks(d, d.split.train, tok, block_size),
                                   lm_blocks(d, rows, tok, block_size), tok.vocab_size());
      what = r.model + " LM (add-k smoothed)";
      v = r.value;
      break;
    }
  }
  if (name) *name = what;
  return v;
}

}  // namespace taesan::models
