// DistEnv: how a process learns its place in a data-parallel job, torchrun's way: RANK,
// WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, and where the ranks meet: TS_STORE_PATH (a directory:
// Gloo's FileStore, one machine or a shared filesystem) or MASTER_ADDR + MASTER_PORT (a Redis
// server: Gloo's RedisStore, several machines). taesan-run sets all of them.
#pragma once

#include <string>

namespace taesan::dist {

/// The job description read from the environment (see DistEnv::from_env for every variable).
struct DistEnv {
  bool distributed = false;       ///< WORLD_SIZE is set: the process is one rank of a job
  int rank = 0;                   ///< RANK: 0 .. world_size - 1
  int world_size = 1;             ///< WORLD_SIZE: number of ranks
  int local_rank = 0;             ///< LOCAL_RANK: rank on this machine (default: rank)
  int local_world_size = 1;       ///< LOCAL_WORLD_SIZE: ranks on this machine (default: world_size)
  std::string store_path;         ///< TS_STORE_PATH: a directory for Gloo's FileStore
  std::string master_addr;        ///< MASTER_ADDR: host of the Redis rendezvous server
  int master_port = 0;            ///< MASTER_PORT: its port
  std::string run_id = "taesan";  ///< TS_RUN_ID: prefix of the store keys (one per job)
  std::string listen_host;        ///< TS_DIST_HOST: the address this rank listens on (default: the
                                  ///< one that reaches MASTER_ADDR, or 127.0.0.1 with a FileStore)
  std::string listen_iface;       ///< GLOO_SOCKET_IFNAME: listen on this interface instead
  double timeout_seconds = 300;   ///< TS_DIST_TIMEOUT: any collective operation
  double connect_timeout_seconds = 60;  ///< TS_DIST_CONNECT_TIMEOUT: waiting for the ranks

  /// Reads the variables above. Without WORLD_SIZE the process is alone (distributed = false,
  /// rank 0 of 1). Throws ts::Error naming the variable that is missing or malformed (RANK not
  /// in [0, WORLD_SIZE), no TS_STORE_PATH nor MASTER_ADDR/MASTER_PORT, a bad number, ...).
  static DistEnv from_env();
  /// "rank 1 of 2 (store /tmp/x)" / "rank 0 of 4 (redis 10.0.0.1:29500)".
  std::string describe() const;
  /// "TS_STORE_PATH=/tmp/x" or "MASTER_ADDR=10.0.0.1 MASTER_PORT=29500".
  std::string store_description() const;
};

}  // namespace taesan::dist
