// taesan: the command-line program (built as examples/taesan_cli: the target name `taesan` is
// the library's). Everything is in app/cli.cc; `taesan --help` lists the commands.
#include "taesan/app/cli.h"

int main(int argc, char** argv) { return taesan::models::run_cli(argc, argv); }
