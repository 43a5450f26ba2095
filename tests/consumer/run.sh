#!/usr/bin/env bash
# Builds and runs the outside consumer project (tests/consumer/project) one of two ways:
#   add_subdirectory: the consumer adds taesan's source tree (the library is rebuilt there,
#                     without taesan's tests, benchmarks or examples: they default OFF).
#   find_package:     `cmake --install` of an already-built taesan tree into a temporary prefix,
#                     then find_package(taesan CONFIG REQUIRED) against that prefix only; also
#                     checks that libtaesan.so keeps Highway, nlohmann_json and Gloo private.
# usage: run.sh <add_subdirectory|find_package> <taesan source dir> <taesan build dir> <work dir>
# Registered with CTest (label "consumer"): ctest --test-dir build/release -L consumer
set -euo pipefail

if (($# != 4)); then
  echo "usage: $0 <add_subdirectory|find_package> <taesan source dir> <taesan build dir> <work dir>" >&2
  exit 2
fi
mode=$1 source_dir=$2 taesan_build=$3 work=$4
project=$(cd "$(dirname "${BASH_SOURCE[0]}")/project" && pwd)
generator=${TS_CONSUMER_GENERATOR:-Ninja}
jobs=${TS_CONSUMER_JOBS:-2}

rm -rf "$work"
mkdir -p "$work"
case "$mode" in
  add_subdirectory)
    # -O0 without debug info: this checks the build wiring, and compiles taesan's SIMD kernels
    # about 3 times faster than -O3 (the whole library is rebuilt here).
    cmake -S "$project" -B "$work/build" -G "$generator" -DCMAKE_BUILD_TYPE=Debug \
      -DCMAKE_CXX_FLAGS_DEBUG=-O0 -DTAESAN_SOURCE_DIR="$source_dir"
    # taesan is not the top-level project here: its tests must not have been configured.
    if [[ -e "$work/build/taesan/tests" ]]; then
      echo "consumer: taesan's tests were configured inside the consumer (expected OFF)" >&2
      exit 1
    fi
    ;;
  find_package)
    cmake --install "$taesan_build" --prefix "$work/prefix"
    [[ -f "$work/prefix/include/taesan/taesan.h" ]] || {
      echo "consumer: install did not put taesan.h under $work/prefix/include/taesan" >&2
      exit 1
    }
    # libtaesan.so keeps Highway, nlohmann_json and Gloo private: no installed header includes
    # them and the exported package does not ask a consumer to find them.
    [[ -n $(find "$work/prefix" -name 'libtaesan.so*' -print -quit) ]] || {
      echo "consumer: no libtaesan.so under $work/prefix" >&2
      exit 1
    }
    leaks=$(grep -rlE '^\s*#\s*include\s*[<"](hwy|nlohmann|gloo)/' "$work/prefix/include" || true)
    if [[ -n "$leaks" ]]; then
      echo "consumer: installed headers include a private dependency:" >&2
      echo "$leaks" >&2
      exit 1
    fi
    # (Comments aside; IMPORTED_LINK_DEPENDENT_LIBRARIES may name them: CMake writes it for every shared library
    # with shared private dependencies and uses it only for -rpath-link, skipping names that are
    # not targets in the consumer.)
    config_dir=$(dirname "$(find "$work/prefix" -name taesanConfig.cmake -print -quit)")
    leaks=$(grep -hiE 'gloo|nlohmann|hwy' "$config_dir"/*.cmake |
      grep -vE '^\s*#|IMPORTED_LINK_DEPENDENT_LIBRARIES' || true)
    if [[ -n "$leaks" ]]; then
      echo "consumer: the installed package names a private dependency:" >&2
      echo "$leaks" >&2
      exit 1
    fi
    # ... and the consumer is configured with those packages made unfindable.
    cmake -S "$project" -B "$work/build" -G "$generator" -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF \
      -DCMAKE_DISABLE_FIND_PACKAGE_hwy=ON -DCMAKE_DISABLE_FIND_PACKAGE_Gloo=ON \
      -DCMAKE_DISABLE_FIND_PACKAGE_nlohmann_json=ON
    # The package must come from the temporary prefix, not from anywhere else on the machine.
    found=$(sed -n 's/^taesan_DIR:PATH=//p' "$work/build/CMakeCache.txt")
    if [[ "$found" != "$work/prefix/"* ]]; then
      echo "consumer: find_package used '$found', expected a config under $work/prefix" >&2
      exit 1
    fi
    ;;
  *)
    echo "consumer: unknown mode '$mode' (expected add_subdirectory or find_package)" >&2
    exit 2
    ;;
esac

cmake --build "$work/build" -j"$jobs"
output=$("$work/build/consumer")
echo "consumer ($mode) printed: $output"
if [[ "$output" != "18" ]]; then
  echo "consumer: expected 18 (the sum of d/dx [sum(x*x) + sum(ones(2,3) x)] at x = 1,2,3)" >&2
  exit 1
fi
