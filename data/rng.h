// A small seeded generator for the data pipeline (shuffles, splits, masking), built on taesan's
// counter-based bits(seed, counter, stream): a draw depends only on (seed, stream, draw number),
// never on threads or on the global generator, so data pipelines replay exactly.
#pragma once

#include <cstdint>
#include <vector>

#include "taesan/core/random.h"

namespace taesan::data {

/// Deterministic random numbers for one (seed, stream): e.g. stream = epoch or example index.
class DataRng {
 public:
  DataRng(uint64_t seed, uint64_t stream) : seed_(seed), stream_(stream) {}

  /// 64 random bits.
  uint64_t next() { return random::bits(seed_, counter_++, stream_ ^ 0xD47Aull); }
  /// Uniform double in [0, 1).
  double uniform() { return random::uniform01(next()); }
  /// Uniform integer in [0, n), n > 0 (Lemire's multiply-shift; bias < n / 2^64).
  uint64_t below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
  }

 private:
  uint64_t seed_;
  uint64_t stream_;
  uint64_t counter_ = 0;
};

/// A uniformly random permutation of 0..n-1 (Fisher-Yates), fixed by (seed, stream).
inline std::vector<int64_t> random_permutation(int64_t n, uint64_t seed, uint64_t stream = 0) {
  std::vector<int64_t> p(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) p[i] = i;
  DataRng rng(seed, stream);
  for (int64_t i = n - 1; i > 0; --i) {
    auto j = static_cast<int64_t>(rng.below(static_cast<uint64_t>(i) + 1));
    std::swap(p[i], p[j]);
  }
  return p;
}

}  // namespace taesan::data
