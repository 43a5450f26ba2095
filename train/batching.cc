// Step-indexed training batches and ordered evaluation batches (see batching.h).
#include "taesan/train/batching.h"

#include <algorithm>

#include "taesan/core/error.h"

namespace taesan::models {

namespace {
data::BatcherOptions batcher_options(int64_t batch_size, uint64_t seed, int64_t pad_id) {
  TS_CHECK(batch_size >= 1, "StepBatcher: batch_size must be >= 1, got {}", batch_size);
  data::BatcherOptions o;
  o.batch_size = batch_size;
  o.shuffle = true;
  o.seed = seed;
  o.drop_last = false;
  o.pad_id = pad_id;
  return o;
}
}  // namespace

StepBatcher::StepBatcher(std::vector<data::Example> examples, int64_t batch_size, uint64_t seed,
                         int64_t pad_id)
    : batcher_(std::move(examples), batcher_options(batch_size, seed, pad_id)) {
  TS_CHECK(batcher_.size() > 0, "StepBatcher: the training set is empty");
}

data::Batch StepBatcher::get(int64_t index) {
  TS_CHECK(index >= 0, "StepBatcher::get: index must be >= 0, got {}", index);
  const int64_t nb = batcher_.num_batches();
  const int64_t epoch = index / nb;
  if (epoch != batcher_.epoch()) batcher_.set_epoch(epoch);
  return batcher_.batch(index % nb);
}

std::vector<data::Batch> eval_batches(const std::vector<data::Example>& examples,
                                      const std::vector<int64_t>& rows, int64_t batch_size,
                                      int64_t pad_id) {
  TS_CHECK(batch_size >= 1, "eval_batches: batch_size must be >= 1, got {}", batch_size);
  std::vector<data::Batch> out;
  data::CollateOptions co;
  co.pad_id = pad_id;
  const size_t bs = static_cast<size_t>(batch_size);
  for (size_t i = 0; i < rows.size(); i += bs) {
    std::vector<const data::Example*> part;
    for (size_t j = i; j < std::min(rows.size(), i + bs); ++j) {
      const int64_t r = rows[j];
      TS_CHECK(r >= 0 && r < static_cast<int64_t>(examples.size()),
               "eval_batches: row {} out of range for {} examples", r, examples.size());
      part.push_back(&examples[static_cast<size_t>(r)]);
    }
    out.push_back(data::collate(part, co));
  }
  return out;
}

std::vector<data::Batch> eval_batches(const std::vector<data::Example>& examples,
                                      int64_t batch_size, int64_t pad_id) {
  std::vector<int64_t> rows(examples.size());
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<int64_t>(i);
  return eval_batches(examples, rows, batch_size, pad_id);
}

int64_t count_tokens(const data::Batch& b) {
  int64_t s = 0;
  for (int64_t x : b.attention_mask.to_vector<int64_t>()) s += x;
  return s;
}

}  // namespace taesan::models
