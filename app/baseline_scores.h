// The simple baseline of each task type, scored on the same rows as the model: bag-of-words
// logistic regression (classify), most frequent tag per word (ner), best-overlap sentence (qa),
// nearest-neighbour retrieval from the training pairs (translation), and a smoothed n-gram
// model's -log perplexity with the model's tokenizer (generation).
#pragma once

#include <string>
#include <vector>

#include "taesan/app/task_data.h"
#include "taesan/data/bpe_tokenizer.h"

namespace taesan::models {

/// A baseline's score (the task type's metric, higher is better) on `rows` of `data`, trained
/// on its training rows; `name` receives what it is ("bag-of-words logistic regression", ...).
/// `metric`: classify's "accuracy" or "macro-F1"; `block_size`: generation's scoring blocks.
double task_baseline(const TaskData& data, const std::vector<int64_t>& rows,
                     const data::BpeTokenizer& tokenizer, const std::string& metric,
                     std::string* name, int64_t block_size = 64);

}  // namespace taesan::models
