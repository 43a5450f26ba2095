#!/usr/bin/env bash
# Sets up a Debian 12 machine (missing packages only), builds the main job in Release and runs
# it on the dataset pack: `taesan demo` (docs/demo.md) pretrains small encoder, decoder and
# encoder-decoder models, fine-tunes every task from scratch and from the pretrained bodies,
# prints the table and writes results.md / results.json / logs and charts to demo_out/.
#   bash scripts/main.sh [data_dir = ../shared/data] [extra demo options, e.g. --quick]
# Environment: TS_JOBS (default 2) build parallelism.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
data_dir=$(cd "${1:-$root/../shared/data}" && pwd)  # fails here, with the path, if it is missing
cd "$root"
jobs=${TS_JOBS:-2}
shift $(($# > 0 ? 1 : 0))

bash scripts/setup.sh
cmake --preset release                       # Ninja, Release, build/release (CMakePresets.json)
cmake --build build/release -j"$jobs" --target taesan_cli   # the `taesan` program
build/release/examples/taesan demo --data "$data_dir" --out demo_out --threads "$jobs" "$@"
