// taesan-run: launches the ranks of a data-parallel job, torchrun's shape (built as
// examples/taesan_run, output name taesan-run; the work is in dist/launcher.cc).
//
//   taesan-run --nproc 2 taesan pretrain --objective clm --out runs/dec          # one machine
//   taesan-run --nproc 2 --nnodes 2 --node-rank 0 --master 10.0.0.1:29500 prog  # machine 0
//   taesan-run --nproc 2 --nnodes 2 --node-rank 1 --master 10.0.0.1:29500 prog  # machine 1
#include <cstdio>
#include <string>
#include <vector>

#include "taesan/dist/launcher.h"

namespace ts = taesan;

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "-h" || args[0] == "--help") {
    std::printf("%s", ts::dist::launch_usage());
    return args.empty() ? 2 : 0;
  }
  ts::dist::LaunchOptions options;
  try {
    options = ts::dist::parse_launch_args(args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n%s", e.what(), ts::dist::launch_usage());
    return 2;
  }
  try {
    return ts::dist::launch(options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
