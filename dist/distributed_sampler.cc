// DistributedSampler (see distributed_sampler.h): a Fisher-Yates shuffle driven by taesan's
// counter-based random bits, so the order depends only on (seed, epoch).
#include "taesan/dist/distributed_sampler.h"

#include <numeric>
#include <utility>

#include "taesan/core/error.h"
#include "taesan/core/random.h"
#include "taesan/dist/init.h"

namespace taesan::dist {

DistributedSampler::DistributedSampler(int64_t dataset_size, int num_replicas, int rank,
                                       DistributedSamplerOptions options)
    : dataset_size_(dataset_size),
      num_replicas_(num_replicas < 0 ? get_world_size() : num_replicas),
      rank_(rank < 0 ? get_rank() : rank),
      options_(options) {
  const char* who = "DistributedSampler";
  TS_CHECK(dataset_size_ >= 0, "{}: dataset_size must be >= 0, got {}", who, dataset_size_);
  TS_CHECK(num_replicas_ >= 1, "{}: num_replicas must be >= 1, got {}", who, num_replicas_);
  TS_CHECK(rank_ >= 0 && rank_ < num_replicas_,
           "{}: rank {} is out of range for {} replicas (expected 0 .. {})", who, rank_,
           num_replicas_, num_replicas_ - 1);
  num_samples_ = options_.drop_last ? dataset_size_ / num_replicas_
                                    : (dataset_size_ + num_replicas_ - 1) / num_replicas_;
  TS_CHECK(num_samples_ > 0 || dataset_size_ == 0,
           "{}: {} examples cannot give every one of {} ranks an example with drop_last", who,
           dataset_size_, num_replicas_);
}

std::vector<int64_t> DistributedSampler::indices() const {
  std::vector<int64_t> order(static_cast<size_t>(dataset_size_));
  std::iota(order.begin(), order.end(), int64_t{0});
  if (options_.shuffle) {
    const auto stream = static_cast<uint64_t>(epoch_) ^ 0x5A3D1E7Bull;
    for (int64_t i = dataset_size_ - 1; i > 0; --i) {
      const uint64_t bits = random::bits(options_.seed, static_cast<uint64_t>(i), stream);
      const auto j = static_cast<int64_t>(
          (static_cast<unsigned __int128>(bits) * static_cast<uint64_t>(i + 1)) >> 64);
      std::swap(order[i], order[j]);
    }
  }
  const int64_t total = total_size();
  if (dataset_size_ > 0)
    for (int64_t i = dataset_size_; i < total; ++i) order.push_back(order[i % dataset_size_]);
  order.resize(static_cast<size_t>(total));
  std::vector<int64_t> mine;
  mine.reserve(static_cast<size_t>(num_samples_));
  for (int64_t i = rank_; i < total; i += num_replicas_) mine.push_back(order[i]);
  return mine;
}

}  // namespace taesan::dist
