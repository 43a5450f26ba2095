// Helpers of the dist tests: start real processes (dist_worker, taesan-run, redis-server, ip)
// with extra environment and their output in a file, wait for them with a deadline, and clean
// up whatever happens (a ProcessGuard kills what is left; a TempDir is removed).
#pragma once

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/test_util.h"
#include "dist/worker/toy_training.h"

namespace dist_test {

#ifdef TS_DIST_WORKER
inline const std::string kWorker = TS_DIST_WORKER;
#else
inline const std::string kWorker = "";
#endif
#ifdef TS_TAESAN_RUN
inline const std::string kLauncher = TS_TAESAN_RUN;
#else
inline const std::string kLauncher = "";
#endif

/// Skips the calling TEST_CASE (TS_SKIP) when taesan-run was not built.
#define TS_SKIP_WITHOUT_LAUNCHER()                                \
  do {                                                            \
    if (::dist_test::kLauncher.empty())                           \
      TS_SKIP("taesan-run is not built (TS_BUILD_EXAMPLES=OFF)"); \
  } while (false)

/// A fresh directory under /tmp, removed with its contents at the end of the scope.
struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/taesan-dist-test-XXXXXX";
    path = ::mkdtemp(tmpl) ? tmpl : "";
  }
  ~TempDir() {
    std::error_code ec;
    if (!path.empty()) std::filesystem::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return path + "/" + name; }
};

/// A started process.
struct Proc {
  pid_t pid = -1;
  std::string log;  // its stdout + stderr
};

/// Kills (SIGKILL) and reaps every process it was given that is still running, at scope end.
struct ProcessGuard {
  std::vector<pid_t> pids;
  ~ProcessGuard() { kill_all(); }
  void kill_all() {
    for (pid_t& p : pids) {
      if (p <= 0) continue;
      ::kill(p, SIGKILL);
      int st = 0;
      ::waitpid(p, &st, 0);
      p = -1;
    }
  }
  void forget(pid_t p) {
    for (pid_t& q : pids)
      if (q == p) q = -1;
  }
};

/// Starts argv with `env` added to this process's environment (and `unset` removed), output to
/// `log`. The child gets its own process group (signals to it do not reach the test).
inline Proc spawn(const std::vector<std::string>& argv,
                  const std::map<std::string, std::string>& env, const std::string& log,
                  ProcessGuard& guard,
                  const std::vector<std::string>& unset = {"RANK", "WORLD_SIZE", "LOCAL_RANK",
                                                           "MASTER_ADDR", "MASTER_PORT",
                                                           "TS_STORE_PATH"}) {
  Proc p;
  p.log = log;
  p.pid = ::fork();
  if (p.pid == 0) {
    ::setpgid(0, 0);
    for (auto& u : unset) ::unsetenv(u.c_str());
    for (auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
    if (!log.empty()) {
      FILE* f = std::freopen(log.c_str(), "w", stderr);
      if (f) ::dup2(::fileno(stderr), STDOUT_FILENO);
    }
    std::vector<char*> av;
    for (auto& a : argv) av.push_back(const_cast<char*>(a.c_str()));
    av.push_back(nullptr);
    ::execvp(av[0], av.data());
    std::fprintf(stderr, "cannot exec %s\n", av[0]);
    ::_exit(127);
  }
  guard.pids.push_back(p.pid);
  return p;
}

/// Log file of rank r of a job started by spawn_ranks.
inline std::string rank_log(const TempDir& dir, int r) { return dir / ("log" + std::to_string(r)); }

/// Starts `world` copies of argv as ranks 0..world-1 of one job that meets through a file store
/// in dir (RANK, WORLD_SIZE, TS_STORE_PATH, TS_DIST_TIMEOUT = timeout seconds); rank r logs to
/// rank_log(dir, r).
inline std::vector<Proc> spawn_ranks(int world, const std::vector<std::string>& argv,
                                     const TempDir& dir, const std::string& timeout,
                                     ProcessGuard& guard) {
  std::vector<Proc> procs;
  for (int r = 0; r < world; ++r)
    procs.push_back(spawn(argv,
                          {{"RANK", std::to_string(r)},
                           {"WORLD_SIZE", std::to_string(world)},
                           {"TS_STORE_PATH", dir / "store"},
                           {"TS_DIST_TIMEOUT", timeout}},
                          rank_log(dir, r), guard));
  return procs;
}

/// Result of waiting for a process.
struct Exit {
  bool timed_out = false;
  int status = 0;
  double seconds = 0;
  int code() const { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }
};

/// How long a test waits for a process before calling it hung: only a hang guard (it leaves
/// time to kill the processes and print their logs before CTest's 600 s timeout), never a claim
/// about speed. No test bounds how fast a process exits: on a loaded or sanitized machine that
/// flakes. The timeouts under test (TS_DIST_TIMEOUT, TS_DIST_CONNECT_TIMEOUT) are checked
/// through the messages that name them instead.
inline constexpr double kHangSeconds = 400;

/// Waits up to `timeout` seconds; on timeout kills the process (SIGKILL) and says so.
inline Exit wait_for(const Proc& p, ProcessGuard& guard, double timeout = kHangSeconds) {
  const auto t0 = std::chrono::steady_clock::now();
  Exit e;
  for (;;) {
    const pid_t r = ::waitpid(p.pid, &e.status, WNOHANG);
    e.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (r == p.pid) break;
    if (e.seconds > timeout) {
      e.timed_out = true;
      ::kill(p.pid, SIGKILL);
      ::waitpid(p.pid, &e.status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  guard.forget(p.pid);
  return e;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// Parameters after every step written by a dist_worker rank: steps x params floats.
inline std::vector<float> read_floats(const std::string& path) {
  const std::string bytes = read_file(path);
  std::vector<float> out(bytes.size() / sizeof(float));
  std::memcpy(out.data(), bytes.data(), out.size() * sizeof(float));
  return out;
}

/// The toy job trained in this process on the whole batch (world * batch rows per step): the
/// parameters after every step, concatenated.
inline std::vector<float> reference_run(int world, int64_t batch, int64_t steps) {
  namespace ts = taesan;
  ts::manual_seed(7);  // rank 0's initial weights
  auto net = std::make_shared<toy::ToyNet>();
  auto opt = toy::make_optimizer(*net);
  std::vector<float> out;
  for (int64_t step = 0; step < steps; ++step) {
    auto [x, y] = toy::batch(step, batch * world);
    opt->zero_grad();
    ts::cross_entropy(net->forward(x), y).backward();
    opt->step();
    auto p = toy::flat_parameters(*net);
    out.insert(out.end(), p.begin(), p.end());
  }
  return out;
}

/// A TCP port that was free a moment ago.
inline int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  const int port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

/// Runs a shell-free command to completion; returns its exit code (output into `out`).
inline int run(const std::vector<std::string>& argv, std::string* out = nullptr) {
  TempDir dir;
  ProcessGuard guard;
  Proc p = spawn(argv, {}, dir / "out", guard, {});
  Exit e = wait_for(p, guard);
  if (out) *out = read_file(dir / "out");
  return e.timed_out ? -1 : e.code();
}

}  // namespace dist_test
