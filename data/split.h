// Deterministic dataset splits and per-epoch orders, fixed by a seed: the same seed gives the same
// train/validation/test rows on every machine and thread count.
#pragma once

#include <cstdint>
#include <vector>

#include "taesan/core/error.h"

namespace taesan::data {

/// Row indices of each split, ascending (file order).
struct SplitIndices {
  std::vector<int64_t> train;
  std::vector<int64_t> validation;
  std::vector<int64_t> test;
};

/// Splits 0..n-1 at random (fixed by `seed`): round(n * validation_fraction) rows go to
/// validation, round(n * test_fraction) to test, the rest to train.
SplitIndices split_indices(int64_t n, double validation_fraction, double test_fraction,
                           uint64_t seed);

/// The order of 0..n-1 for `epoch`: a permutation fixed by (seed, epoch).
std::vector<int64_t> epoch_order(int64_t n, uint64_t seed, int64_t epoch);

/// items[indices[0]], items[indices[1]], ...; throws for an index out of range.
template <typename T>
std::vector<T> select(const std::vector<T>& items, const std::vector<int64_t>& indices) {
  std::vector<T> out;
  out.reserve(indices.size());
  for (int64_t i : indices) {
    TS_CHECK(i >= 0 && i < static_cast<int64_t>(items.size()),
             "select: index {} is outside [0, {})", i, items.size());
    out.push_back(items[static_cast<size_t>(i)]);
  }
  return out;
}

}  // namespace taesan::data
