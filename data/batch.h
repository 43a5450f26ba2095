// Batching: collate examples into padded int64 tensors (pad to the longest in the batch), and a
// Batcher that orders a dataset per epoch — shuffled by (seed, epoch), optionally bucketed by
// length so batches hold similar lengths — and collates batch i on demand.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "taesan/autograd/tensor.h"
#include "taesan/data/example.h"

namespace taesan::data {

/// A batch of B examples, every tensor int64.
struct Batch {
  Tensor input_ids;       ///< (B, T) padded with pad_id
  Tensor attention_mask;  ///< (B, T) 1 for tokens, 0 for padding
  Tensor token_type_ids;  ///< (B, T) segment ids, 0 for padding
  /// kPerToken: (B, T) and kTarget: (B, T_dec), both padded with -100; kPerSequence: (B) for one
  /// label per example, else (B, K); kNone: undefined.
  Tensor labels;
  Tensor decoder_input_ids;       ///< (B, T_dec) padded with pad_id; undefined without a decoder
  Tensor decoder_attention_mask;  ///< (B, T_dec)
  std::vector<int64_t> indices;   ///< the dataset index of each row
};

/// Options of collate.
struct CollateOptions {
  int64_t pad_id = 0;                   ///< id of [PAD]
  int64_t label_pad_id = kIgnoreIndex;  ///< padding of per-token and target labels
};

/// Pads `examples` to the longest in the batch and stacks them. All must share a LabelKind; their
/// labels must fit it (kPerToken: one per input token; kTarget: one per decoder input token;
/// kPerSequence: the same count in each). Throws ts::Error naming the example otherwise.
Batch collate(const std::vector<const Example*>& examples, const CollateOptions& options = {});
/// Same, from values.
Batch collate(const std::vector<Example>& examples, const CollateOptions& options = {});

/// Options of Batcher.
struct BatcherOptions {
  int64_t batch_size = 32;
  bool shuffle = true;  ///< a new order each epoch, fixed by (seed, epoch)
  uint64_t seed = 0;
  bool drop_last = false;  ///< drop a last, smaller batch
  /// Sort pools of `bucket_pool_batches` batches by length before cutting them into batches
  /// (less padding); the batches are then shuffled.
  bool bucket_by_length = false;
  int64_t bucket_pool_batches = 50;
  int64_t pad_id = 0;
};

/// Iterates a dataset in batches: `b.set_epoch(e); for (i < b.num_batches()) b.batch(i)`.
class Batcher {
 public:
  /// Applied to each example when its batch is built, e.g. dynamic masking per epoch.
  using Transform = std::function<Example(const Example& example, int64_t index, int64_t epoch)>;

  Batcher(std::vector<Example> examples, const BatcherOptions& options);

  /// Sets a transform (empty: examples are used as they are).
  void set_transform(Transform transform) { transform_ = std::move(transform); }
  /// Fixes the order of `epoch` (deterministic in seed and epoch). Epoch 0 is set at construction.
  void set_epoch(int64_t epoch);
  int64_t epoch() const { return epoch_; }
  /// Number of batches in an epoch.
  int64_t num_batches() const { return static_cast<int64_t>(plan_.size()); }
  /// Dataset indices of batch `i` of the current epoch.
  const std::vector<int64_t>& batch_indices(int64_t i) const;
  /// Batch `i` of the current epoch, collated.
  Batch batch(int64_t i) const;
  /// Number of examples.
  int64_t size() const { return static_cast<int64_t>(examples_.size()); }
  const std::vector<Example>& examples() const { return examples_; }

 private:
  std::vector<Example> examples_;
  BatcherOptions options_;
  Transform transform_;
  int64_t epoch_ = 0;
  std::vector<std::vector<int64_t>> plan_;
};

}  // namespace taesan::data
