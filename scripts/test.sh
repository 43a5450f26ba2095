#!/usr/bin/env bash
# Sets up a Debian 12 machine (missing packages only), builds everything in Release
# (library, tests, benchmarks, examples) and runs every test with CTest. This is what CI runs.
#   bash scripts/test.sh
# Environment: TS_JOBS (default 2) build and test parallelism; TS_TEST_NO_SKIP=1 makes a test
# whose prerequisite is missing (dataset pack, numpy, root for the network namespaces) fail
# instead of skip, and the run fail if CTest skipped anything (CI sets it).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
jobs=${TS_JOBS:-2}

bash scripts/setup.sh
cmake --preset release                       # Ninja, Release, build/release (CMakePresets.json)
cmake --build build/release -j"$jobs"
# Each test has its own timeout (600 s), so a hang fails the run instead of blocking it.
log=build/release/ctest-output.log
ctest --test-dir build/release --output-on-failure -j"$jobs" --timeout 600 2>&1 | tee "$log"
# TS_TEST_NO_SKIP=1 (CI): every prerequisite is installed, so a skipped test is a failure. The
# tests already fail instead of skipping then (TS_SKIP, tests/common/test_util.h); this also
# catches a skip from anywhere else (a disabled test, SKIP_RETURN_CODE).
if [[ "${TS_TEST_NO_SKIP:-0}" == 1 ]] && grep -q "The following tests did not run" "$log"; then
  echo "test: some tests were skipped (listed above), and TS_TEST_NO_SKIP=1 forbids it" >&2
  exit 1
fi
