// Step-indexed batching for resumable training and ordered batching for evaluation: the pieces
// every fine-tuning and pretraining pipeline shares. A StepBatcher's batch for micro-batch i
// depends only on i (epoch = i / batches per epoch), so a resumed run sees the same batches.
#pragma once

#include <cstdint>
#include <vector>

#include "taesan/data/batch.h"

namespace taesan::models {

/// Shuffled batches of a training set, addressed by micro-batch index over the whole run.
class StepBatcher {
 public:
  /// Throws when `examples` is empty or batch_size < 1.
  StepBatcher(std::vector<data::Example> examples, int64_t batch_size, uint64_t seed,
              int64_t pad_id);
  /// The batch of micro-batch `index` (>= 0): epoch index / num_batches, then its position.
  data::Batch get(int64_t index);
  int64_t batches_per_epoch() const { return batcher_.num_batches(); }
  data::Batcher& batcher() { return batcher_; }

 private:
  data::Batcher batcher_;
};

/// `examples` in order, `batch_size` at a time (the last batch may be smaller), for evaluation.
std::vector<data::Batch> eval_batches(const std::vector<data::Example>& examples,
                                      int64_t batch_size, int64_t pad_id);
/// Batches of the examples at `rows` (in that order) of `examples`.
std::vector<data::Batch> eval_batches(const std::vector<data::Example>& examples,
                                      const std::vector<int64_t>& rows, int64_t batch_size,
                                      int64_t pad_id);

/// The number of real (non-padding) tokens of a batch: the sum of its attention mask.
int64_t count_tokens(const data::Batch& batch);

}  // namespace taesan::models
