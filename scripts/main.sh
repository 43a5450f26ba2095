#!/usr/bin/env bash
# Sets up a Debian 12 machine (missing packages only), builds the main job in Release and runs
# it on the dataset pack. The main job is examples/mlp_demo.cc (a small MLP trained end to end
# on SMS spam detection) until the Transformer demo replaces it.
#   bash scripts/main.sh [data_dir = ../shared/data]
# Environment: TS_JOBS (default 2) build parallelism.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
data_dir=$(cd "${1:-$root/../shared/data}" && pwd)  # fails here, with the path, if it is missing
cd "$root"
jobs=${TS_JOBS:-2}
main_target=mlp_demo

bash scripts/setup.sh
cmake --preset release                       # Ninja, Release, build/release (CMakePresets.json)
cmake --build build/release -j"$jobs" --target "$main_target"
"build/release/examples/$main_target" "$data_dir"
