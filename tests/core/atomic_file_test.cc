// Tests of write_file_atomic: the contents arrive whole, no temporary file is left behind after
// a success or a failure, and a failed write leaves the previous file as it was.
#include "taesan/core/atomic_file.h"

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/test_util.h"
#include "taesan/core/error.h"

namespace ts = taesan;
namespace fs = std::filesystem;
using Catch::Matchers::Contains;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// The names in `dir` (no temporary file may be among them).
std::set<std::string> listing(const fs::path& dir) {
  std::set<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.insert(e.path().filename().string());
  return names;
}

struct Unrelated : std::runtime_error {
  Unrelated() : std::runtime_error("produce failed") {}
};

}  // namespace

TEST_CASE("write_file_atomic writes the bytes, replaces the old file, leaves no temporary",
          "[core][atomic_file]") {
  ts::test::ScratchDir dir;
  const std::string path = dir.file("out.txt");
  ts::write_file_atomic(path, "first version\n");
  CHECK(slurp(path) == "first version\n");
  const std::string binary("a\0b\xff\n", 5);
  ts::write_file_atomic(path, binary);
  CHECK(slurp(path) == binary);
  ts::write_file_atomic(path, "");
  CHECK(fs::exists(path));
  CHECK(fs::file_size(path) == 0);
  CHECK(listing(dir.path()) == std::set<std::string>{"out.txt"});
}

TEST_CASE("write_file_atomic_stream appends every chunk in order", "[core][atomic_file]") {
  ts::test::ScratchDir dir;
  const std::string path = dir.file("big.bin");
  std::string expected;
  ts::write_file_atomic_stream(path, [&](const ts::ByteSink& sink) {
    for (int i = 0; i < 300; ++i) {
      const std::string chunk(1 + i * 37, static_cast<char>('a' + i % 26));
      sink(chunk.data(), chunk.size());
      expected += chunk;
    }
  });
  CHECK(slurp(path) == expected);
  CHECK(listing(dir.path()) == std::set<std::string>{"big.bin"});
}

TEST_CASE("write_file_atomic: a target that cannot be written keeps no temporary file",
          "[core][atomic_file]") {
  ts::test::ScratchDir dir;

  SECTION("the target is a directory: rename fails, the directory is untouched") {
    fs::create_directories(dir.path() / "taken" / "inside");
    const std::string path = dir.file("taken");
    const std::string message =
        ts::test::error_of([&] { ts::write_file_atomic(path, "x", "Thing::save"); });
    CHECK_THAT(message, Contains("Thing::save") && Contains("cannot rename") && Contains(path) &&
                            Contains("Is a directory"));
    CHECK(fs::is_directory(dir.path() / "taken" / "inside"));
    CHECK(listing(dir.path()) == std::set<std::string>{"taken"});
  }
  SECTION("the parent directory does not exist") {
    const std::string path = dir.file("missing/out.txt");
    const std::string message = ts::test::error_of([&] { ts::write_file_atomic(path, "x"); });
    CHECK_THAT(message, Contains("write_file_atomic") && Contains(path) &&
                            Contains("No such file or directory"));
    CHECK(listing(dir.path()).empty());
  }
  SECTION("an empty path") {
    CHECK_THAT(ts::test::error_of([&] { ts::write_file_atomic("", "x"); }),
               Contains("the path is empty"));
  }
}

TEST_CASE("write_file_atomic: a failure midway leaves the previous file intact",
          "[core][atomic_file]") {
  ts::test::ScratchDir dir;
  const std::string path = dir.file("model.bin");
  ts::write_file_atomic(path, "the old contents");

  SECTION("the producer throws: its exception propagates unchanged") {
    CHECK_THROWS_AS(ts::write_file_atomic_stream(path,
                                                 [](const ts::ByteSink& sink) {
                                                   sink("partial new", 11);
                                                   throw Unrelated();
                                                 }),
                    Unrelated);
  }
  SECTION("the disk refuses the bytes (file size limit: EFBIG, as ENOSPC would)") {
    // RLIMIT_FSIZE makes write() fail past 4 KiB; SIGXFSZ is ignored so the write returns an error.
    rlimit old{};
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &old) == 0);
    rlimit small = old;
    small.rlim_cur = 4096;
    const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
    const std::string message = ts::test::error_of(
        [&] { ts::write_file_atomic(path, std::string(100000, 'z'), "Big::save"); });
    ::setrlimit(RLIMIT_FSIZE, &old);
    std::signal(SIGXFSZ, old_handler);
    CHECK_THAT(message,
               Contains("Big::save: writing '" + path + "' failed") && Contains("File too large"));
  }
  CHECK(slurp(path) == "the old contents");
  CHECK(listing(dir.path()) == std::set<std::string>{"model.bin"});
}

TEST_CASE("write_file_atomic from several threads: every reader sees one whole version",
          "[core][atomic_file]") {
  ts::test::ScratchDir dir;
  const std::string path = dir.file("shared.txt");
  std::vector<std::string> versions;
  for (int t = 0; t < 4; ++t) versions.push_back(std::string(5000 + t, static_cast<char>('A' + t)));
  ts::write_file_atomic(path, versions[0]);
  std::atomic<bool> done{false};
  int torn = 0;
  std::thread reader([&] {
    do {
      const std::string seen = slurp(path);
      torn += std::find(versions.begin(), versions.end(), seen) == versions.end();
    } while (!done.load());
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) ts::write_file_atomic(path, versions[t]);
    });
  }
  for (auto& th : writers) th.join();
  done.store(true);
  reader.join();
  CHECK(torn == 0);
  const std::string final_contents = slurp(path);
  CHECK(std::find(versions.begin(), versions.end(), final_contents) != versions.end());
  CHECK(listing(dir.path()) == std::set<std::string>{"shared.txt"});
}
