// Rendezvous (internal to dist/): the ranks of a job meet through a store — Gloo's FileStore
// (a directory) or RedisStore (MASTER_ADDR:MASTER_PORT) — check that they agree on the world
// size, and connect Gloo's full mesh of TCP pairs. Also the small socket helpers it needs.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "taesan/dist/env.h"

namespace gloo {
class Context;
}

namespace taesan::dist::detail {

/// A connected Gloo context for `env` (world_size >= 2). Throws ts::Error naming what failed.
std::shared_ptr<gloo::Context> rendezvous(const DistEnv& env);

/// Tries one TCP connection to host:port within `timeout`: "" on success, else why it failed.
std::string try_connect(const std::string& host, int port, std::chrono::milliseconds timeout);

/// The local address of the route towards host:port ("127.0.0.1" for a loopback host).
std::string local_address_towards(const std::string& host, int port);

}  // namespace taesan::dist::detail
