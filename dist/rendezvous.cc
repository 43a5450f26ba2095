// Rendezvous over Gloo's stores (see rendezvous.h). Each rank announces "world hostname pid"
// under <run_id>/rank/<r>, waits for ranks 0 .. world-1 (failing at once on a different world
// size, or after the connect timeout naming the missing ranks), then lets Gloo exchange its
// pair addresses under <run_id>/gloo/.
#include "taesan/dist/rendezvous.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <sstream>
#include <thread>
#include <vector>

#define HIREDIS_NESTED_INCLUDE 1
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gloo/rendezvous/context.h>
#include <gloo/rendezvous/file_store.h>
#include <gloo/rendezvous/prefix_store.h>
#include <gloo/rendezvous/redis_store.h>
#include <gloo/transport/tcp/device.h>

#include "taesan/core/error.h"

namespace taesan::dist::detail {
namespace {

using Clock = std::chrono::steady_clock;

/// Gloo's FileStore with its (protected) non-blocking key check made public.
class CheckedFileStore : public gloo::rendezvous::FileStore {
 public:
  using FileStore::FileStore;
  bool has(const std::string& key) { return check({key}); }
};

/// A store and a non-blocking "is this key set?".
struct Store {
  std::unique_ptr<gloo::rendezvous::Store> store;
  std::function<bool(const std::string&)> has;
};

std::string hostname() {
  char buf[256] = {0};
  if (::gethostname(buf, sizeof(buf) - 1) != 0) return "?";
  return buf;
}

std::string errno_text(int err) { return std::strerror(err); }

Store open_store(const DistEnv& env, Clock::time_point deadline) {
  const char* who = "init_process_group";
  Store s;
  if (!env.store_path.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(env.store_path, ec);
    TS_CHECK(std::filesystem::is_directory(env.store_path),
             "{} (rank {}): TS_STORE_PATH={} is not a directory and cannot be created{}", who,
             env.rank, env.store_path, ec ? ": " + ec.message() : "");
    auto fs = std::make_unique<CheckedFileStore>(env.store_path);
    CheckedFileStore* raw = fs.get();
    s.has = [raw](const std::string& k) { return raw->has(k); };
    s.store = std::move(fs);
    return s;
  }
  // Redis: wait (bounded) for the master to listen, as torchrun waits for its store.
  std::string why;
  for (;;) {
    why = try_connect(env.master_addr, env.master_port, std::chrono::milliseconds(1000));
    if (why.empty()) break;
    const bool unresolvable = why.rfind("cannot resolve", 0) == 0;
    TS_CHECK(!unresolvable && Clock::now() < deadline,
             "{} (rank {} of {}): cannot reach the rendezvous server (Redis) at MASTER_ADDR={} "
             "MASTER_PORT={} within {:g}s (TS_DIST_CONNECT_TIMEOUT): {}. Is it running (taesan-run "
             "starts one on node 0), are the address and port right, is the port open?",
             who, env.rank, env.world_size, env.master_addr, env.master_port,
             env.connect_timeout_seconds, why);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  try {
    auto redis = std::make_unique<gloo::rendezvous::RedisStore>(env.master_addr, env.master_port);
    gloo::rendezvous::RedisStore* raw = redis.get();
    s.has = [raw](const std::string& k) { return raw->check({k}); };
    s.store = std::move(redis);
  } catch (const std::exception& e) {
    fail(
        "{} (rank {}): connecting to the Redis rendezvous at MASTER_ADDR={} MASTER_PORT={} "
        "failed: {}",
        who, env.rank, env.master_addr, env.master_port, e.what());
  }
  return s;
}

}  // namespace

std::string try_connect(const std::string& host, int port, std::chrono::milliseconds timeout) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const std::string service = std::to_string(port);
  if (int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &res); rc != 0)
    return "cannot resolve host '" + host + "': " + ::gai_strerror(rc);
  std::string why = "no address";
  for (addrinfo* a = res; a; a = a->ai_next) {
    const int fd =
        ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      why = errno_text(errno);
      continue;
    }
    int err = 0;
    if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      err = errno;
      if (err == EINPROGRESS) {
        pollfd p{fd, POLLOUT, 0};
        const int n = ::poll(&p, 1, static_cast<int>(timeout.count()));
        if (n <= 0) {
          err = ETIMEDOUT;
        } else {
          socklen_t len = sizeof(err);
          ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        }
      }
    }
    ::close(fd);
    if (err == 0) {
      ::freeaddrinfo(res);
      return "";
    }
    why = errno_text(err);
  }
  ::freeaddrinfo(res);
  return why;
}

std::string local_address_towards(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res) != 0)
    return hostname();
  std::string out = hostname();
  for (addrinfo* a = res; a; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    sockaddr_storage local{};
    socklen_t len = sizeof(local);
    // A UDP connect sends nothing: it only asks the kernel which source address the route uses.
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) == 0) {
      char buf[INET6_ADDRSTRLEN] = {0};
      const void* src =
          local.ss_family == AF_INET
              ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(&local)->sin_addr)
              : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(&local)->sin6_addr);
      if (::inet_ntop(local.ss_family, src, buf, sizeof(buf))) {
        out = buf;
        ::close(fd);
        break;
      }
    }
    ::close(fd);
  }
  ::freeaddrinfo(res);
  return out;
}

std::shared_ptr<gloo::Context> rendezvous(const DistEnv& env) {
  const char* who = "init_process_group";
  const auto deadline =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(
                         std::chrono::duration<double>(env.connect_timeout_seconds));
  Store s = open_store(env, deadline);
  const std::string prefix = env.run_id + "/";
  auto rank_key = [&](int r) { return prefix + "rank/" + std::to_string(r); };

  // Announce this rank; a key that already exists means a duplicate RANK or a stale store.
  const std::string me = fmt::format("{} {} {}", env.world_size, hostname(), ::getpid());
  try {
    s.store->set(rank_key(env.rank), std::vector<char>(me.begin(), me.end()));
  } catch (const std::exception& e) {
    fail(
        "{}: rank {} is already registered in the store ({}): two processes have RANK={}, or "
        "the store holds an earlier run's keys (use a fresh TS_STORE_PATH directory or "
        "TS_RUN_ID, or restart the Redis server). Store said: {}",
        who, env.rank, env.store_description(), env.rank, e.what());
  }

  // Wait for every rank, comparing world sizes as they arrive.
  for (int r = 0; r < env.world_size; ++r) {
    while (!s.has(rank_key(r))) {
      if (Clock::now() >= deadline) {
        std::vector<int> missing;
        for (int q = r; q < env.world_size; ++q)
          if (!s.has(rank_key(q))) missing.push_back(q);
        fail(
            "{} (rank {} of {}): timed out after {:g}s (TS_DIST_CONNECT_TIMEOUT) waiting for "
            "rank(s) {} at {}: were all {} ranks started, with the same WORLD_SIZE={}?",
            who, env.rank, env.world_size, env.connect_timeout_seconds, fmt::join(missing, ", "),
            env.store_description(), env.world_size, env.world_size);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    const std::vector<char> v = s.store->get(rank_key(r));
    std::istringstream in(std::string(v.begin(), v.end()));
    int world = -1;
    std::string host, pid;
    in >> world >> host >> pid;
    TS_CHECK(world == env.world_size,
             "{}: WORLD_SIZE mismatch: this process (rank {}) has WORLD_SIZE={}, but rank {} "
             "(host {}, pid {}) has WORLD_SIZE={}: start every rank with the same WORLD_SIZE",
             who, env.rank, env.world_size, r, host, pid, world);
  }
  TS_CHECK(!s.has(rank_key(env.world_size)),
           "{}: WORLD_SIZE mismatch: this process (rank {}) has WORLD_SIZE={}, but a process "
           "registered as rank {}: start every rank with the same WORLD_SIZE",
           who, env.rank, env.world_size, env.world_size);

  // Gloo's own rendezvous: every pair's address through the store, then a full mesh of TCP pairs.
  gloo::transport::tcp::attr attr;
  if (!env.listen_iface.empty()) {
    attr.iface = env.listen_iface;
  } else if (!env.listen_host.empty()) {
    attr.hostname = env.listen_host;
  } else {
    attr.hostname = env.store_path.empty() ? local_address_towards(env.master_addr, env.master_port)
                                           : std::string("127.0.0.1");
  }
  std::shared_ptr<gloo::transport::Device> device;
  try {
    device = gloo::transport::tcp::CreateDevice(attr);
  } catch (const std::exception& e) {
    fail(
        "{} (rank {}): cannot open a TCP device on {} (set TS_DIST_HOST to an address of this "
        "machine or GLOO_SOCKET_IFNAME to an interface): {}",
        who, env.rank, attr.iface.empty() ? attr.hostname : "interface " + attr.iface, e.what());
  }
  auto context = std::make_shared<gloo::rendezvous::Context>(env.rank, env.world_size);
  context->setTimeout(std::chrono::milliseconds(static_cast<int64_t>(env.timeout_seconds * 1000)));
  try {
    gloo::rendezvous::PrefixStore gloo_store(prefix + "gloo", *s.store);
    context->connectFullMesh(gloo_store, device);
  } catch (const std::exception& e) {
    fail("{} (rank {} of {}): connecting to the other ranks failed ({}): {}", who, env.rank,
         env.world_size, env.store_description(), e.what());
  }
  return context;
}

}  // namespace taesan::dist::detail
