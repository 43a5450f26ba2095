#!/usr/bin/env bash
# Sets up a Debian 12 machine (missing packages only), builds everything in Release
# (library, tests, benchmarks, examples) and runs every test with CTest. This is what CI runs.
#   bash scripts/test.sh
# Environment: TS_JOBS (default 2) build and test parallelism.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
jobs=${TS_JOBS:-2}

bash scripts/setup.sh
cmake --preset release                       # Ninja, Release, build/release (CMakePresets.json)
cmake --build build/release -j"$jobs"
# Each test has its own timeout (600 s), so a hang fails the run instead of blocking it.
ctest --test-dir build/release --output-on-failure -j"$jobs" --timeout 600
