// taesan-run's launcher (see launcher.h). Single-threaded: the signals it handles are blocked
// and taken with sigtimedwait, so forwarding, reaping and the SIGKILL deadline share one loop
// with no race. Ranks get their own process group and die with the launcher (PR_SET_PDEATHSIG).
#include "taesan/dist/launcher.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netdb.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <thread>

#include "taesan/core/error.h"
#include "taesan/dist/rendezvous.h"

extern char** environ;

namespace taesan::dist {
namespace {

using Clock = std::chrono::steady_clock;

int parse_int(const std::string& flag, const std::string& text) {
  try {
    size_t used = 0;
    const long v = std::stol(text, &used);
    if (used == text.size() && v >= 0 && v <= 1 << 20) return static_cast<int>(v);
  } catch (const std::exception&) {
  }
  fail("taesan-run: {} expects a non-negative integer, got '{}'", flag, text);
}

std::string status_text(int status) {
  if (WIFEXITED(status)) return fmt::format("exit {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    const char* name = sigabbrev_np(sig);
    return fmt::format("killed by SIG{}", name ? name : std::to_string(sig));
  }
  return fmt::format("status {}", status);
}

int exit_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

/// A numeric address for `host` (redis-server's --bind wants one).
std::string numeric_address(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &res);
  TS_CHECK(rc == 0, "taesan-run: cannot resolve --master host '{}': {}", host, ::gai_strerror(rc));
  char buf[INET6_ADDRSTRLEN] = {0};
  const void* src =
      res->ai_family == AF_INET
          ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(res->ai_addr)->sin_addr)
          : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(res->ai_addr)->sin6_addr);
  ::inet_ntop(res->ai_family, src, buf, sizeof(buf));
  ::freeaddrinfo(res);
  return buf;
}

/// fork + exec with `env`; the child restores the signal mask, gets its own process group and
/// dies with the launcher. stdout_null: send the child's stdout to /dev/null.
pid_t spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env,
            const sigset_t& child_mask, bool stdout_null) {
  std::vector<char*> av, ev;
  for (auto& a : argv) av.push_back(const_cast<char*>(a.c_str()));
  av.push_back(nullptr);
  for (auto& e : env) ev.push_back(const_cast<char*>(e.c_str()));
  ev.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  TS_CHECK(pid >= 0, "taesan-run: fork failed: {}", std::strerror(errno));
  if (pid == 0) {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(1);  // the launcher died before prctl
    ::sigprocmask(SIG_SETMASK, &child_mask, nullptr);
    if (stdout_null) {
      FILE* f = std::freopen("/dev/null", "w", stdout);
      (void)f;
    }
    ::execvpe(av[0], av.data(), ev.data());
    std::fprintf(stderr, "taesan-run: cannot run '%s': %s\n", av[0], std::strerror(errno));
    ::_exit(127);
  }
  return pid;
}

std::vector<std::string> environment_with(const std::map<std::string, std::string>& set,
                                          const std::vector<std::string>& unset) {
  std::vector<std::string> out;
  for (char** e = environ; e && *e; ++e) {
    const std::string kv = *e;
    const std::string key = kv.substr(0, kv.find('='));
    bool drop = set.count(key) > 0;
    for (auto& u : unset) drop = drop || key == u;
    if (!drop) out.push_back(kv);
  }
  for (auto& [k, v] : set) out.push_back(k + "=" + v);
  return out;
}

struct Rank {
  int rank = 0;
  pid_t pid = -1;
  bool alive = true;
  int status = 0;
};

}  // namespace

const char* launch_usage() {
  return "usage: taesan-run --nproc N [--nnodes M --node-rank R --master ADDR:PORT] [options]\n"
         "                  program [args...]\n"
         "Starts N ranks of `program` on this machine (ranks R*N .. R*N+N-1 of N*M) with RANK,\n"
         "WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE and the rendezvous in their environment.\n"
         "One machine: a fresh Gloo FileStore directory. Several: a Redis server at --master,\n"
         "started by the node with --node-rank 0 (Debian package redis-server).\n"
         "  --nproc N        ranks on this machine (also --nproc-per-node)\n"
         "  --nnodes M       machines in the job (default 1)\n"
         "  --node-rank R    this machine's index, 0 .. M-1 (default 0)\n"
         "  --master A:P     the rendezvous server (required when M > 1)\n"
         "  --no-redis       do not start redis-server on node 0 (one is already running)\n"
         "  --run-id ID      prefix of the store keys (jobs sharing a Redis server)\n"
         "  --grace S        seconds the ranks get to stop before SIGKILL (default 15)\n"
         "  --quiet          no launcher messages except errors\n"
         "SIGINT/SIGTERM/SIGHUP are forwarded to every rank. If a rank fails, the others are\n"
         "stopped and every rank's exit status is printed; the exit code is the failing rank's.\n";
}

LaunchOptions parse_launch_args(const std::vector<std::string>& args) {
  LaunchOptions o;
  size_t i = 0;
  auto value = [&](const std::string& flag) -> std::string {
    TS_CHECK(i + 1 < args.size(), "taesan-run: {} needs a value", flag);
    return args[++i];
  };
  bool nproc_given = false;
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      ++i;
      break;
    }
    if (a.rfind("--", 0) != 0 && a != "-h") break;  // the program
    if (a == "-h" || a == "--help") return LaunchOptions{};
    if (a == "--nproc" || a == "--nproc-per-node" || a == "--nproc_per_node") {
      o.nproc = parse_int(a, value(a));
      nproc_given = true;
    } else if (a == "--nnodes") {
      o.nnodes = parse_int(a, value(a));
    } else if (a == "--node-rank" || a == "--node_rank") {
      o.node_rank = parse_int(a, value(a));
    } else if (a == "--master" || a == "--master-addr") {
      const std::string m = value(a);
      const size_t colon = m.rfind(':');
      TS_CHECK(colon != std::string::npos && colon > 0 && colon + 1 < m.size(),
               "taesan-run: --master expects ADDR:PORT, got '{}'", m);
      o.master_addr = m.substr(0, colon);
      if (o.master_addr.size() > 2 && o.master_addr.front() == '[' && o.master_addr.back() == ']')
        o.master_addr = o.master_addr.substr(1, o.master_addr.size() - 2);
      o.master_port = parse_int("--master port", m.substr(colon + 1));
      TS_CHECK(o.master_port >= 1 && o.master_port <= 65535,
               "taesan-run: --master port must be in [1, 65535], got {}", o.master_port);
    } else if (a == "--no-redis") {
      o.start_redis = false;
    } else if (a == "--run-id") {
      o.run_id = value(a);
    } else if (a == "--grace") {
      o.grace_seconds = parse_int(a, value(a));
    } else if (a == "--quiet") {
      o.verbose = false;
    } else {
      fail("taesan-run: unknown option {}", a);
    }
  }
  for (; i < args.size(); ++i) o.command.push_back(args[i]);
  TS_CHECK(nproc_given, "taesan-run: --nproc N is required");
  TS_CHECK(o.nproc >= 1, "taesan-run: --nproc must be >= 1, got {}", o.nproc);
  TS_CHECK(o.nnodes >= 1, "taesan-run: --nnodes must be >= 1, got {}", o.nnodes);
  TS_CHECK(o.node_rank < o.nnodes, "taesan-run: --node-rank {} is out of range for --nnodes {}",
           o.node_rank, o.nnodes);
  TS_CHECK(o.nnodes == 1 || !o.master_addr.empty(),
           "taesan-run: --nnodes {} needs --master ADDR:PORT (the rendezvous server every "
           "machine reaches)",
           o.nnodes);
  TS_CHECK(!o.command.empty(), "taesan-run: no program to run (taesan-run --nproc N program ...)");
  return o;
}

int launch(const LaunchOptions& o) {
  TS_CHECK(!o.command.empty() && o.nproc >= 1, "taesan-run: nothing to launch");
  const int world = o.nproc * o.nnodes;
  sigset_t handled, previous;
  sigemptyset(&handled);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGCHLD}) sigaddset(&handled, s);
  ::sigprocmask(SIG_BLOCK, &handled, &previous);
  struct Restore {
    sigset_t mask;
    ~Restore() { ::sigprocmask(SIG_SETMASK, &mask, nullptr); }
  } restore{previous};

  // The rendezvous.
  std::map<std::string, std::string> common = {{"WORLD_SIZE", std::to_string(world)},
                                               {"LOCAL_WORLD_SIZE", std::to_string(o.nproc)},
                                               {"GROUP_RANK", std::to_string(o.node_rank)},
                                               {"TS_RUN_ID", o.run_id}};
  std::vector<std::string> unset;
  std::string store_dir;
  pid_t redis = -1;
  struct Cleanup {
    std::string* dir;
    pid_t* redis;
    ~Cleanup() {
      if (*redis > 0) {
        ::kill(*redis, SIGTERM);
        int st = 0;
        ::waitpid(*redis, &st, 0);
      }
      std::error_code ec;
      if (!dir->empty()) std::filesystem::remove_all(*dir, ec);
    }
  } cleanup{&store_dir, &redis};
  if (o.master_addr.empty()) {
    char tmpl[] = "/tmp/taesan-run-XXXXXX";
    TS_CHECK(::mkdtemp(tmpl) != nullptr, "taesan-run: cannot create a store directory in /tmp: {}",
             std::strerror(errno));
    store_dir = tmpl;
    common["TS_STORE_PATH"] = store_dir;
    unset = {"MASTER_ADDR", "MASTER_PORT"};
  } else {
    common["MASTER_ADDR"] = o.master_addr;
    common["MASTER_PORT"] = std::to_string(o.master_port);
    unset = {"TS_STORE_PATH"};
    if (o.node_rank == 0 && o.start_redis) {
      const std::string bind = numeric_address(o.master_addr);
      redis =
          spawn({"redis-server", "--port", std::to_string(o.master_port), "--bind", bind, "--save",
                 "", "--appendonly", "no", "--protected-mode", "no", "--loglevel", "warning"},
                environment_with({}, {}), previous, /*stdout_null=*/true);
      const auto deadline = Clock::now() + std::chrono::seconds(10);
      for (;;) {
        int st = 0;
        if (::waitpid(redis, &st, WNOHANG) == redis) {
          redis = -1;
          fail(
              "taesan-run: redis-server for the rendezvous at {}:{} exited at once ({}): is the "
              "Debian package redis-server installed, and the port free?",
              o.master_addr, o.master_port, status_text(st));
        }
        if (detail::try_connect(o.master_addr, o.master_port, std::chrono::milliseconds(200))
                .empty())
          break;
        TS_CHECK(Clock::now() < deadline,
                 "taesan-run: redis-server did not listen on {}:{} within 10s", o.master_addr,
                 o.master_port);
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
  }

  std::vector<Rank> ranks(o.nproc);
  for (int lr = 0; lr < o.nproc; ++lr) {
    auto env = common;
    ranks[lr].rank = o.node_rank * o.nproc + lr;
    env["RANK"] = std::to_string(ranks[lr].rank);
    env["LOCAL_RANK"] = std::to_string(lr);
    ranks[lr].pid = spawn(o.command, environment_with(env, unset), previous, false);
  }
  if (o.verbose)
    std::fprintf(stderr, "taesan-run: started ranks %d..%d of %d (%s)\n", ranks.front().rank,
                 ranks.back().rank, world,
                 store_dir.empty()
                     ? fmt::format("rendezvous {}:{}", o.master_addr, o.master_port).c_str()
                     : ("store " + store_dir).c_str());

  bool stopping = false;
  int stop_signal = 0;
  int failed = -1;                          // index of the first rank that failed on its own
  auto term_at = Clock::time_point::max();  // SIGTERM the ranks still running
  auto kill_at = Clock::time_point::max();  // SIGKILL them
  auto signal_all = [&](int sig) {
    for (Rank& r : ranks)
      if (r.alive) ::kill(r.pid, sig);
  };
  auto alive = [&] {
    for (Rank& r : ranks)
      if (r.alive) return true;
    return false;
  };
  const auto grace =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.grace_seconds));
  while (alive()) {
    timespec wait_for{0, 100 * 1000 * 1000};
    siginfo_t info;
    const int sig = ::sigtimedwait(&handled, &info, &wait_for);
    if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP) {
      if (!stopping) {
        if (o.verbose)
          std::fprintf(stderr, "taesan-run: got SIG%s, forwarding it to the ranks\n",
                       sigabbrev_np(sig));
        stopping = true;
        stop_signal = sig;
        signal_all(sig);
        kill_at = Clock::now() + grace;
      } else {
        std::fprintf(stderr, "taesan-run: second SIG%s: killing the ranks\n", sigabbrev_np(sig));
        signal_all(SIGKILL);
      }
    }
    int status = 0;
    pid_t pid;
    while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
      if (pid == redis) {
        redis = -1;
        if (!stopping) {
          std::fprintf(stderr, "taesan-run: the rendezvous redis-server exited (%s); stopping\n",
                       status_text(status).c_str());
          stopping = true;
          signal_all(SIGTERM);
          kill_at = Clock::now() + grace;
        }
        continue;
      }
      for (size_t k = 0; k < ranks.size(); ++k) {
        Rank& r = ranks[k];
        if (r.pid != pid) continue;
        r.alive = false;
        r.status = status;
        const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (!ok && !stopping) {
          failed = static_cast<int>(k);
          stopping = true;
          std::fprintf(stderr, "taesan-run: rank %d (pid %d) failed (%s); stopping the others\n",
                       r.rank, static_cast<int>(r.pid), status_text(status).c_str());
          // The others usually see the broken connections at once and exit with their own
          // error: give them a moment to say it before SIGTERM.
          term_at = Clock::now() + std::chrono::seconds(2);
          kill_at = term_at + grace;
        }
      }
    }
    if (Clock::now() >= term_at) {
      signal_all(SIGTERM);
      term_at = Clock::time_point::max();
    }
    if (Clock::now() >= kill_at) {
      std::fprintf(stderr, "taesan-run: ranks still running %gs after being stopped: SIGKILL\n",
                   o.grace_seconds);
      signal_all(SIGKILL);
      kill_at = Clock::time_point::max();
    }
  }

  int code = 0;
  if (failed >= 0) {
    code = exit_code(ranks[failed].status);
  } else {
    for (Rank& r : ranks)
      if (exit_code(r.status) != 0) {
        code = exit_code(r.status);
        break;
      }
  }
  if (code != 0 || stop_signal != 0) {
    std::string lines;
    for (Rank& r : ranks)
      lines += fmt::format("  rank {} (pid {}): {}{}\n", r.rank, r.pid, status_text(r.status),
                           failed >= 0 && &r == &ranks[failed] ? "  <- failed first" : "");
    std::fprintf(stderr, "taesan-run: exit status of every rank:\n%s", lines.c_str());
  }
  return code;
}

}  // namespace taesan::dist
