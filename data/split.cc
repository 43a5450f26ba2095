// Seeded train/validation/test splits and per-epoch permutations.
#include "taesan/data/split.h"

#include <algorithm>
#include <cmath>

#include "taesan/data/rng.h"

namespace taesan::data {

SplitIndices split_indices(int64_t n, double validation_fraction, double test_fraction,
                           uint64_t seed) {
  TS_CHECK(n >= 0, "split_indices: n = {} is negative", n);
  TS_CHECK(
      validation_fraction >= 0 && test_fraction >= 0 && validation_fraction + test_fraction <= 1,
      "split_indices: validation_fraction {} and test_fraction {} must be >= 0 and sum to "
      "at most 1",
      validation_fraction, test_fraction);
  const auto nv = static_cast<int64_t>(std::llround(static_cast<double>(n) * validation_fraction));
  const auto nt =
      std::min(n - nv, static_cast<int64_t>(std::llround(static_cast<double>(n) * test_fraction)));
  std::vector<int64_t> perm = random_permutation(n, seed, /*stream=*/0x5B117ull);
  SplitIndices s;
  s.validation.assign(perm.begin(), perm.begin() + nv);
  s.test.assign(perm.begin() + nv, perm.begin() + nv + nt);
  s.train.assign(perm.begin() + nv + nt, perm.end());
  std::sort(s.train.begin(), s.train.end());
  std::sort(s.validation.begin(), s.validation.end());
  std::sort(s.test.begin(), s.test.end());
  return s;
}

std::vector<int64_t> epoch_order(int64_t n, uint64_t seed, int64_t epoch) {
  TS_CHECK(n >= 0 && epoch >= 0, "epoch_order: n = {} and epoch = {} must be >= 0", n, epoch);
  return random_permutation(n, seed, static_cast<uint64_t>(epoch) * 2);
}

}  // namespace taesan::data
