// Helpers shared by the tests of every layer: fixture and dataset-pack paths, skips that CTest
// reports as skipped, scratch directories and files, tensor comparison with a tolerance, and
// catching ts::Error messages.
// Include as "common/test_util.h" (tests/ is on every test program's include path).
#pragma once

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "taesan/autograd/tensor.h"
#include "taesan/core/error.h"

namespace taesan::test {

/// Path of a file in tests/fixtures/<layer>, e.g. fixture("nn", "linear.safetensors").
inline std::string fixture(const std::string& layer, const std::string& name) {
  return std::string(TS_TEST_DIR) + "/fixtures/" + layer + "/" + name;
}

/// The dataset pack directory (TS_DATA_DIR) and a file in it.
inline std::string data_dir() { return TS_DATA_DIR; }
inline std::string data_file(const std::string& name) { return data_dir() + "/" + name; }

/// Printed by a skipped test; tests/CMakeLists.txt gives it to CTest as SKIP_REGULAR_EXPRESSION,
/// so CTest reports such a test as skipped (Catch2 v2 has no skip of its own).
#define TS_SKIP_MARKER "TAESAN_TEST_SKIPPED"

/// True when TS_TEST_NO_SKIP=1 (CI sets it: its machine has every prerequisite, so a missing one
/// is a failure there, not a skip).
inline bool skips_forbidden() {
  const char* v = std::getenv("TS_TEST_NO_SKIP");
  return v != nullptr && std::string(v) == "1";
}

/// Ends the calling TEST_CASE as skipped, naming the missing prerequisite (`reason` is streamed,
/// as in INFO); under TS_TEST_NO_SKIP=1 it fails instead. Call it before the test's first check:
/// CTest reports the whole test as skipped once the marker is printed.
#define TS_SKIP(reason)                                               \
  do {                                                                \
    if (::taesan::test::skips_forbidden())                            \
      FAIL("prerequisite missing and TS_TEST_NO_SKIP=1: " << reason); \
    WARN(TS_SKIP_MARKER ": " << reason);                              \
    return;                                                           \
  } while (false)

/// True when the dataset pack exists.
inline bool pack_exists() { return std::filesystem::exists(data_file("README.md")); }

/// Skips the calling TEST_CASE (TS_SKIP) when the dataset pack is missing.
#define TS_SKIP_WITHOUT_PACK()                                             \
  do {                                                                     \
    if (!::taesan::test::pack_exists())                                    \
      TS_SKIP("dataset pack not found at " << ::taesan::test::data_dir()); \
  } while (false)

/// A fresh directory under the system temp dir, removed with its contents on destruction.
class ScratchDir {
 public:
  ScratchDir() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("taesan_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  /// Path of `name` inside the directory.
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

/// The whole content of a text file ("" when it cannot be read).
inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// Writes `content` to `name` in a shared temp directory (taesan_test_files); returns its path.
inline std::string temp_file(const std::string& name, const std::string& content) {
  const auto dir = std::filesystem::temp_directory_path() / "taesan_test_files";
  std::filesystem::create_directories(dir);
  const std::string path = (dir / name).string();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  return path;
}

/// Largest |a - b| / max(|b|, 1) over all elements (a and b of the same shape); NaN counts as
/// infinitely wrong.
inline double max_scaled_error(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  const auto va = a.to_vector<double>(), vb = b.to_vector<double>();
  double worst = 0.0;
  for (size_t i = 0; i < va.size(); ++i) {
    const double e = std::abs(va[i] - vb[i]) / std::max(std::abs(vb[i]), 1.0);
    worst = std::isnan(e) ? INFINITY : std::max(worst, e);
  }
  return worst;
}

/// Runs `fn` and returns the ts::Error message it throws ("" when it does not throw).
template <typename Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const taesan::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace taesan::test
