// DistributedSampler: which examples each rank trains on, PyTorch's way. Every epoch the
// dataset's indices are shuffled with (seed, epoch) — the same order on every rank — padded by
// wrapping around (or truncated, drop_last) to a multiple of the world size, and rank r takes
// positions r, r + W, r + 2W, ...: disjoint parts that together cover the epoch.
#pragma once

#include <cstdint>
#include <vector>

namespace taesan::dist {

/// Options of DistributedSampler.
struct DistributedSamplerOptions {
  bool shuffle = true;     ///< a new deterministic order each epoch (else 0, 1, 2, ...)
  uint64_t seed = 0;       ///< must be the same on every rank
  bool drop_last = false;  ///< drop the tail instead of repeating indices to even the parts
};

/// A deterministic shard of a dataset's indices per rank and epoch.
class DistributedSampler {
 public:
  /// `num_replicas` and `rank` default (-1) to the default group's world size and rank.
  explicit DistributedSampler(int64_t dataset_size, int num_replicas = -1, int rank = -1,
                              DistributedSamplerOptions options = {});

  /// Selects the epoch (call before each epoch, as with PyTorch's sampler.set_epoch).
  void set_epoch(int64_t epoch) { epoch_ = epoch; }
  int64_t epoch() const { return epoch_; }
  /// This rank's indices for the current epoch, in training order (num_samples() of them).
  std::vector<int64_t> indices() const;
  /// Indices per rank and epoch.
  int64_t num_samples() const { return num_samples_; }
  /// num_samples() * num_replicas.
  int64_t total_size() const { return num_samples_ * num_replicas_; }
  int num_replicas() const { return num_replicas_; }
  int rank() const { return rank_; }

 private:
  int64_t dataset_size_;
  int num_replicas_;
  int rank_;
  DistributedSamplerOptions options_;
  int64_t epoch_ = 0;
  int64_t num_samples_ = 0;
};

}  // namespace taesan::dist
