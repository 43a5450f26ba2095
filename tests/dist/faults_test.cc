// Failures must be clear, never a hang: a rank killed mid-training makes the others exit with an
// error naming the broken connection (and taesan-run stops the job and prints every rank's exit
// status); a WORLD_SIZE mismatch, missing ranks or an unreachable master fail at init with a
// message naming them (and the configured timeout, when one ended the wait); signals to
// taesan-run reach the ranks. No check bounds the wall-clock time: a hang is caught by the
// generous kHangSeconds (dist_test_util.h) and CTest's timeout, not by a speed claim that flakes
// on a loaded machine.
#include <catch2/catch.hpp>

#include "dist/dist_test_util.h"

using namespace dist_test;

TEST_CASE("faults: a rank killed mid-training makes every other rank fail with a clear error",
          "[dist]") {
  REQUIRE(!kWorker.empty());
  TempDir dir;
  ProcessGuard guard;
  std::vector<Proc> procs = spawn_ranks(3,
                                        {kWorker, "train", "--out", dir / "k", "--steps", "200",
                                         "--die-rank", "1", "--die-step", "5"},
                                        dir, "10", guard);
  for (int r : {0, 2}) {
    const Exit e = wait_for(procs[r], guard);
    const std::string log = read_file(rank_log(dir, r));
    INFO("rank " << r << ": " << log);
    CHECK(!e.timed_out);
    CHECK(e.code() == 1);
    CHECK(log.find("error: DistributedDataParallel: averaging the gradients failed") !=
          std::string::npos);
    CHECK(log.find("ProcessGroup::allreduce (rank " + std::to_string(r) + " of 3) failed") !=
          std::string::npos);
    CHECK(log.find("another rank probably exited or was killed") != std::string::npos);
  }
  const Exit killed = wait_for(procs[1], guard);
  CHECK(killed.code() == 128 + SIGKILL);
}

TEST_CASE("faults: taesan-run stops the job when a rank dies and reports every rank", "[dist]") {
  REQUIRE(!kWorker.empty());
  TS_SKIP_WITHOUT_LAUNCHER();
  TempDir dir;
  ProcessGuard guard;
  Proc p = spawn({kLauncher, "--nproc", "3", kWorker, "train", "--out", dir / "k", "--steps", "200",
                  "--die-rank", "2", "--die-step", "3"},
                 {{"TS_DIST_TIMEOUT", "10"}}, dir / "log", guard);
  const Exit e = wait_for(p, guard);
  const std::string log = read_file(dir / "log");
  INFO(log);
  REQUIRE(!e.timed_out);
  CHECK(e.code() == 128 + SIGKILL);  // the failing rank's status
  CHECK(log.find("taesan-run: rank 2 (pid") != std::string::npos);
  CHECK(log.find("exit status of every rank") != std::string::npos);
  CHECK(log.find("killed by SIGKILL  <- failed first") != std::string::npos);
  CHECK(log.find("rank 0 (pid") != std::string::npos);
  CHECK(log.find("rank 1 (pid") != std::string::npos);
}

TEST_CASE("faults: a WORLD_SIZE mismatch fails fast on both sides, naming it", "[dist]") {
  REQUIRE(!kWorker.empty());
  TempDir dir;
  ProcessGuard guard;
  Proc a = spawn({kWorker, "init"},
                 {{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"TS_STORE_PATH", dir / "store"}},
                 dir / "log0", guard);
  Proc b = spawn({kWorker, "init"},
                 {{"RANK", "1"}, {"WORLD_SIZE", "3"}, {"TS_STORE_PATH", dir / "store"}},
                 dir / "log1", guard);
  for (auto [proc, log] : {std::pair{a, dir / "log0"}, std::pair{b, dir / "log1"}}) {
    const Exit e = wait_for(proc, guard);
    const std::string text = read_file(log);
    INFO(text);
    CHECK(!e.timed_out);
    CHECK(e.code() == 1);
    CHECK(text.find("WORLD_SIZE mismatch") != std::string::npos);
    // found by comparing the world sizes, not by waiting out the (default 60 s) connect timeout
    CHECK(text.find("timed out") == std::string::npos);
  }
  CHECK(read_file(dir / "log1").find("has WORLD_SIZE=3, but rank 0") != std::string::npos);
}

TEST_CASE("faults: missing ranks and an unreachable master fail within the connect timeout",
          "[dist]") {
  REQUIRE(!kWorker.empty());
  TempDir dir;
  ProcessGuard guard;
  SECTION("a rank that never comes") {
    Proc p = spawn({kWorker, "init"},
                   {{"RANK", "0"},
                    {"WORLD_SIZE", "3"},
                    {"TS_STORE_PATH", dir / "store"},
                    {"TS_DIST_CONNECT_TIMEOUT", "1.5"}},
                   dir / "log", guard);
    const Exit e = wait_for(p, guard);
    const std::string log = read_file(dir / "log");
    INFO(log);
    CHECK(!e.timed_out);
    CHECK(e.code() == 1);
    // the configured 1.5 s ended the wait, not the default 60 s
    CHECK(log.find("timed out after 1.5s (TS_DIST_CONNECT_TIMEOUT) waiting for rank(s) 1, 2") !=
          std::string::npos);
  }
  SECTION("nothing listens at MASTER_ADDR:MASTER_PORT") {
    const int port = free_port();
    Proc p = spawn({kWorker, "init"},
                   {{"RANK", "1"},
                    {"WORLD_SIZE", "2"},
                    {"MASTER_ADDR", "127.0.0.1"},
                    {"MASTER_PORT", std::to_string(port)},
                    {"TS_DIST_CONNECT_TIMEOUT", "1.5"}},
                   dir / "log", guard);
    const Exit e = wait_for(p, guard);
    const std::string log = read_file(dir / "log");
    INFO(log);
    CHECK(!e.timed_out);
    CHECK(e.code() == 1);
    CHECK(log.find("cannot reach the rendezvous server (Redis) at MASTER_ADDR=127.0.0.1 "
                   "MASTER_PORT=" +
                   std::to_string(port) + " within 1.5s (TS_DIST_CONNECT_TIMEOUT)") !=
          std::string::npos);
  }
  SECTION("RANK out of range") {
    Proc p = spawn({kWorker, "init"},
                   {{"RANK", "2"}, {"WORLD_SIZE", "2"}, {"TS_STORE_PATH", dir / "store"}},
                   dir / "log", guard);
    const Exit e = wait_for(p, guard);
    CHECK(e.code() == 1);
    CHECK(read_file(dir / "log").find("RANK=2 is out of range for WORLD_SIZE=2") !=
          std::string::npos);
  }
}

TEST_CASE("faults: taesan-run forwards SIGINT to every rank and reports their exit", "[dist]") {
  REQUIRE(!kWorker.empty());
  TS_SKIP_WITHOUT_LAUNCHER();
  TempDir dir;
  ProcessGuard guard;
  Proc p = spawn({kLauncher, "--nproc", "2", kWorker, "wait-signal"}, {}, dir / "log", guard);
  // Wait until both ranks are waiting (their handlers installed), then Ctrl-C the launcher.
  const auto t0 = std::chrono::steady_clock::now();
  bool waiting = false;
  while (!waiting && std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() <
                         kHangSeconds) {
    const std::string log = read_file(dir / "log");
    waiting = log.find("rank 0: waiting") != std::string::npos &&
              log.find("rank 1: waiting") != std::string::npos;
    if (!waiting) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(waiting);
  ::kill(p.pid, SIGINT);
  const Exit e = wait_for(p, guard);
  const std::string log = read_file(dir / "log");
  INFO(log);
  REQUIRE(!e.timed_out);
  CHECK(e.code() == 128 + SIGINT);
  CHECK(log.find("rank 0: got signal 2") != std::string::npos);
  CHECK(log.find("rank 1: got signal 2") != std::string::npos);
  CHECK(log.find("rank 1 (pid") != std::string::npos);
}
