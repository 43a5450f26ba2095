// The `taesan` command line as a function, so that the program (examples/taesan_cli.cc), the
// tests and the fuzz targets run the same code: run_cli(argc, argv) returns the exit status.
#pragma once

namespace taesan::models {

/// Runs `taesan <command> [options]`: 0 on success, 1 on an error (printed as one line on
/// stderr), 2 on a bad command line, 130 when Ctrl-C interrupted training.
int run_cli(int argc, char** argv);

}  // namespace taesan::models
