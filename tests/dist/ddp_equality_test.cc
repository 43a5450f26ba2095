// DistributedDataParallel end to end: 2 ranks (through taesan-run) and 3 ranks (started
// directly, with gradient accumulation under no_sync) train the toy model for 20 steps as real
// processes over loopback TCP. Every rank checks after every step that all parameters are
// bit-identical to rank 0's; here the parameters after every step must equal (1e-6) those of
// one process trained on the concatenated batch.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <sstream>

#include "dist/dist_test_util.h"

using namespace dist_test;

namespace {

constexpr int64_t kSteps = 20;
constexpr int64_t kBatch = 4;  // rows per rank and step

/// Checks every rank's file: identical bytes across ranks, and within 1e-6 of the reference.
void check_against_reference(const TempDir& dir, const std::string& prefix, int world) {
  const std::vector<float> ref = reference_run(world, kBatch, kSteps);
  const std::vector<float> rank0 = read_floats(dir / (prefix + ".rank0"));
  REQUIRE(rank0.size() == ref.size());
  for (int r = 1; r < world; ++r)
    CHECK(read_file(dir / (prefix + ".rank" + std::to_string(r))) ==
          read_file(dir / (prefix + ".rank0")));
  double max_diff = 0;
  for (size_t i = 0; i < ref.size(); ++i)
    max_diff = std::max(max_diff, std::abs(static_cast<double>(rank0[i]) - ref[i]));
  INFO("world " << world << ": max |data-parallel - one process| over " << kSteps
                << " steps = " << max_diff);
  CHECK(max_diff <= 1e-6);
  // The run must have moved the weights, or the comparison would prove nothing.
  const size_t n = ref.size() / kSteps;
  double moved = 0;
  for (size_t i = 0; i < n; ++i)
    moved = std::max(moved, std::abs(double(ref[i]) - ref[ref.size() - n + i]));
  CHECK(moved > 1e-2);
}

}  // namespace

TEST_CASE("ddp: 2 ranks under taesan-run equal one process on the concatenated batch", "[dist]") {
  REQUIRE(!kWorker.empty());
  TS_SKIP_WITHOUT_LAUNCHER();
  TempDir dir;
  ProcessGuard guard;
  Proc p = spawn({kLauncher, "--nproc", "2", kWorker, "train", "--out", dir / "two", "--steps",
                  std::to_string(kSteps), "--batch", std::to_string(kBatch)},
                 {}, dir / "log", guard);
  const Exit e = wait_for(p, guard);
  INFO(read_file(dir / "log"));
  REQUIRE(!e.timed_out);
  REQUIRE(e.code() == 0);
  check_against_reference(dir, "two", 2);
}

TEST_CASE("ddp: 3 ranks with no_sync gradient accumulation equal one process", "[dist]") {
  REQUIRE(!kWorker.empty());
  TempDir dir;
  ProcessGuard guard;
  std::vector<Proc> procs =
      spawn_ranks(3, {kWorker, "train", "--out", dir / "three", "--steps", std::to_string(kSteps),
                      "--batch", std::to_string(kBatch), "--accum", "2"},
                  dir, "20", guard);
  for (int r = 0; r < 3; ++r) {
    const Exit e = wait_for(procs[r], guard);
    INFO("rank " << r << ": " << read_file(rank_log(dir, r)));
    REQUIRE(!e.timed_out);
    REQUIRE(e.code() == 0);
  }
  check_against_reference(dir, "three", 3);
}

TEST_CASE("trainer: under taesan-run it shards micro-batches, averages, and only rank 0 writes",
          "[dist]") {
  REQUIRE(!kWorker.empty());
  TS_SKIP_WITHOUT_LAUNCHER();
  TempDir dir;
  ProcessGuard guard;
  Proc p = spawn({kLauncher, "--nproc", "2", kWorker, "trainer", "--out", dir / "run"}, {},
                 dir / "log", guard);
  const Exit e = wait_for(p, guard);
  const std::string log = read_file(dir / "log");
  INFO(log);
  REQUIRE(!e.timed_out);
  REQUIRE(e.code() == 0);
  // 6 steps x 2 micro-batches: rank r trained indices (step * 2 + k) * 2 + r.
  std::vector<int64_t> all;
  for (int r = 0; r < 2; ++r) {
    std::istringstream in(read_file(dir / ("run/indices.rank" + std::to_string(r))));
    std::vector<int64_t> mine;
    for (int64_t i; in >> i;) mine.push_back(i);
    REQUIRE(mine.size() == 12);
    for (size_t k = 0; k < mine.size(); ++k) CHECK(mine[k] == static_cast<int64_t>(k) * 2 + r);
    all.insert(all.end(), mine.begin(), mine.end());
  }
  std::sort(all.begin(), all.end());
  CHECK(std::adjacent_find(all.begin(), all.end()) == all.end());  // disjoint
  for (const char* f : {"toy.csv", "toy.svg", "toy.ckpt.safetensors", "toy.best.safetensors"})
    CHECK(std::filesystem::exists(dir / (std::string("run/") + f)));
  // Progress and evaluations are printed once (by rank 0), not once per rank.
  auto count = [&](const std::string& needle) {
    size_t n = 0;
    for (size_t at = log.find(needle); at != std::string::npos; at = log.find(needle, at + 1)) ++n;
    return n;
  };
  CHECK(count("[toy] step 6/6 loss") == 1);
  CHECK(count("[toy] step 3/6 eval") == 1);
  CHECK(count("trainer done, 6 steps") == 2);
}

TEST_CASE("ddp: a parameter only one rank uses gets its averaged gradient on every rank",
          "[dist]") {
  REQUIRE(!kWorker.empty());
  TempDir dir;
  ProcessGuard guard;
  std::vector<Proc> procs = spawn_ranks(
      3, {kWorker, "train", "--out", dir / "partial", "--steps", "3", "--partial-rank", "1"}, dir,
      "20", guard);
  for (int r = 0; r < 3; ++r) {
    const Exit e = wait_for(procs[r], guard);
    INFO("rank " << r << ": " << read_file(rank_log(dir, r)));
    REQUIRE(!e.timed_out);
    CHECK(e.code() == 0);  // each rank checked the gradient 0.5 / 3 and identical parameters
  }
}
