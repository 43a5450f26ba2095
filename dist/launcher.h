// The launcher behind `taesan-run` (examples/taesan_run.cc), torchrun's shape: it starts the
// local ranks of a job with RANK / WORLD_SIZE / LOCAL_RANK / ... in their environment and a
// rendezvous (a fresh FileStore directory on one machine; a Redis server at --master, started by
// node 0, across machines), forwards SIGINT / SIGTERM / SIGHUP to them, and when one rank fails
// stops the others at once and reports every rank's exit status.
#pragma once

#include <string>
#include <vector>

namespace taesan::dist {

/// What to launch (see launch_usage()).
struct LaunchOptions {
  int nproc = 1;            ///< --nproc: ranks on this machine
  int nnodes = 1;           ///< --nnodes: machines
  int node_rank = 0;        ///< --node-rank: this machine's index
  std::string master_addr;  ///< --master ADDR:PORT (Redis rendezvous); "" = FileStore
  int master_port = 0;
  bool start_redis = true;        ///< node 0 starts redis-server at --master (--no-redis: one runs)
  std::string run_id = "taesan";  ///< --run-id: store key prefix (distinct jobs on one Redis)
  double grace_seconds = 15;      ///< --grace: after stopping the ranks, SIGKILL what still runs
  bool verbose = true;            ///< --quiet turns the launcher's own lines off
  std::vector<std::string> command;  ///< the program and its arguments
};

/// The usage text of taesan-run.
const char* launch_usage();
/// Parses taesan-run's arguments (without argv[0]). Throws ts::Error naming a bad or missing
/// option; "--help" gives options with an empty command.
LaunchOptions parse_launch_args(const std::vector<std::string>& args);
/// Runs the job and returns the exit code for the launcher: 0 when every rank exited 0, else the
/// failing rank's code (128 + signal when it was killed by one).
int launch(const LaunchOptions& options);

}  // namespace taesan::dist
