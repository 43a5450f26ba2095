// DistEnv::from_env: strict parsing of the torchrun-style variables (see env.h).
#include "taesan/dist/env.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstdlib>

#include "taesan/core/error.h"

namespace taesan::dist {
namespace {

const char* get(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : nullptr;
}

int64_t parse_int(const char* name, const char* text) {
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(text, &end, 10);
  TS_CHECK(errno == 0 && end != text && *end == '\0',
           "dist: environment variable {}='{}' is not an integer", name, text);
  return v;
}

double parse_seconds(const char* name, double fallback) {
  const char* text = get(name);
  if (!text) return fallback;
  char* end = nullptr;
  const double v = std::strtod(text, &end);
  TS_CHECK(end != text && *end == '\0' && v > 0,
           "dist: environment variable {}='{}' must be a positive number of seconds", name, text);
  return v;
}

}  // namespace

DistEnv DistEnv::from_env() {
  DistEnv e;
  e.timeout_seconds = parse_seconds("TS_DIST_TIMEOUT", e.timeout_seconds);
  e.connect_timeout_seconds = parse_seconds("TS_DIST_CONNECT_TIMEOUT", e.connect_timeout_seconds);
  const char* world = get("WORLD_SIZE");
  if (!world) {
    TS_CHECK(!get("RANK"), "dist: RANK={} is set but WORLD_SIZE is not: set both (taesan-run does)",
             get("RANK"));
    return e;
  }
  e.distributed = true;
  const int64_t w = parse_int("WORLD_SIZE", world);
  TS_CHECK(w >= 1 && w <= 65536, "dist: WORLD_SIZE={} must be in [1, 65536]", w);
  e.world_size = static_cast<int>(w);
  const char* rank = get("RANK");
  TS_CHECK(rank,
           "dist: WORLD_SIZE={} is set but RANK is not: start the ranks with taesan-run, or "
           "set RANK (0 .. {}) for each process",
           w, w - 1);
  const int64_t r = parse_int("RANK", rank);
  TS_CHECK(r >= 0 && r < w, "dist: RANK={} is out of range for WORLD_SIZE={} (expected 0 .. {})", r,
           w, w - 1);
  e.rank = static_cast<int>(r);
  e.local_rank = e.rank;
  e.local_world_size = e.world_size;
  if (const char* lr = get("LOCAL_RANK"))
    e.local_rank = static_cast<int>(parse_int("LOCAL_RANK", lr));
  if (const char* lw = get("LOCAL_WORLD_SIZE"))
    e.local_world_size = static_cast<int>(parse_int("LOCAL_WORLD_SIZE", lw));
  TS_CHECK(e.local_world_size >= 1 && e.local_rank >= 0 && e.local_rank < e.local_world_size,
           "dist: LOCAL_RANK={} is out of range for LOCAL_WORLD_SIZE={}", e.local_rank,
           e.local_world_size);
  if (const char* id = get("TS_RUN_ID")) e.run_id = id;
  if (const char* h = get("TS_DIST_HOST")) e.listen_host = h;
  if (const char* i = get("GLOO_SOCKET_IFNAME")) e.listen_iface = i;
  if (const char* p = get("TS_STORE_PATH")) e.store_path = p;
  const char* addr = get("MASTER_ADDR");
  const char* port = get("MASTER_PORT");
  TS_CHECK(e.store_path.empty() || (!addr && !port),
           "dist: both TS_STORE_PATH={} and MASTER_ADDR/MASTER_PORT are set: give one rendezvous "
           "(a FileStore directory or a Redis server)",
           e.store_path);
  if (e.store_path.empty() && (e.world_size > 1 || addr || port)) {
    TS_CHECK(addr && port,
             "dist: WORLD_SIZE={} needs a rendezvous: set TS_STORE_PATH (a directory every rank "
             "sees) or MASTER_ADDR and MASTER_PORT (a Redis server); got MASTER_ADDR={} "
             "MASTER_PORT={}",
             e.world_size, addr ? addr : "(unset)", port ? port : "(unset)");
    e.master_addr = addr;
    const int64_t pv = parse_int("MASTER_PORT", port);
    TS_CHECK(pv >= 1 && pv <= 65535, "dist: MASTER_PORT={} must be in [1, 65535]", pv);
    e.master_port = static_cast<int>(pv);
  }
  return e;
}

std::string DistEnv::store_description() const {
  if (!store_path.empty()) return "TS_STORE_PATH=" + store_path;
  if (!master_addr.empty())
    return fmt::format("MASTER_ADDR={} MASTER_PORT={}", master_addr, master_port);
  return "no store";
}

std::string DistEnv::describe() const {
  return fmt::format("rank {} of {} ({})", rank, world_size, store_description());
}

}  // namespace taesan::dist
