// Helpers of the row-kernel tests (rowwise_test.cc, rms_norm_test.cc): the row lengths every
// kernel is tested on, misaligned buffers, random fills, and the comparison of a kernel's output
// with its scalar reference within per-dtype tolerances (reporting the first mismatch).
#pragma once

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <iomanip>
#include <random>
#include <string>
#include <vector>

namespace taesan::testing {

/// Row lengths every kernel is tested on: all of 0..70 (every tail of every vector width, up to
/// 2N+1 for 32 lanes) and a few long rows (several RowSum blocks, odd tails).
inline std::vector<int64_t> test_lengths() {
  std::vector<int64_t> lengths;
  for (int64_t c = 0; c <= 70; ++c) lengths.push_back(c);
  for (int64_t c : {1000, 4097, 32000}) lengths.push_back(c);
  return lengths;
}

/// A buffer whose data starts `offset` elements past an allocation (misaligned for offset > 0).
template <typename T>
class Buf {
 public:
  Buf(size_t n, size_t offset, T fill = T(0)) : data_(n + offset, fill), offset_(offset) {}
  T* p() { return data_.data() + offset_; }
  const T* p() const { return data_.data() + offset_; }
  T& operator[](size_t i) { return data_[offset_ + i]; }
  size_t size() const { return data_.size() - offset_; }

 private:
  std::vector<T> data_;
  size_t offset_;
};

/// x[i] = offset + scale * N(0, 1).
template <typename T>
void fill_normal(T* x, size_t n, std::mt19937& rng, double scale = 1.0, double offset = 0.0) {
  std::normal_distribution<double> normal(0.0, 1.0);
  for (size_t i = 0; i < n; ++i) x[i] = static_cast<T>(offset + scale * normal(rng));
}

/// Relative / absolute tolerances per dtype.
struct Tol {
  double rtol, atol;
};
template <typename T>
Tol tol(Tol for_float, Tol for_double) {
  return sizeof(T) == 4 ? for_float : for_double;
}

/// Equal within tolerance; NaN only matches NaN and infinities match exactly.
inline bool close(double got, double want, Tol t) {
  if (std::isnan(got) || std::isnan(want)) return std::isnan(got) && std::isnan(want);
  if (std::isinf(got) || std::isinf(want)) return got == want;
  return std::abs(got - want) <= t.atol + t.rtol * std::abs(want);
}

/// Checks got[0, n) against want[0, n); reports the first mismatch only.
template <typename T>
void check_close(const T* got, const T* want, int64_t n, Tol t, const std::string& what) {
  for (int64_t i = 0; i < n; ++i) {
    if (!close(static_cast<double>(got[i]), static_cast<double>(want[i]), t)) {
      FAIL_CHECK(what << ": element " << i << " of " << n << ": got " << std::setprecision(10)
                      << got[i] << ", expected " << want[i]);
      return;
    }
  }
  SUCCEED();
}

inline std::string where(int64_t rows, int64_t cols, const char* extra = "") {
  return "rows " + std::to_string(rows) + " cols " + std::to_string(cols) + " " + extra;
}

}  // namespace taesan::testing
