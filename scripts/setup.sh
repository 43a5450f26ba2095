#!/usr/bin/env bash
# Installs the Debian 12 packages taesan needs, only those that are missing (a rerun with
# everything present touches neither the network nor apt). Non-interactive: safe under CI
# with no stdin. Runs apt as root, or through sudo when not root.
#   bash scripts/setup.sh
set -euo pipefail

# build tools, the library's dependencies, the tests' and benchmarks' dependencies
# (libopenblas-dev: only a comparison inside bench/gemm_bench, never linked by the library;
# libgloo-dev + libhiredis-dev: dist/'s collectives and Redis rendezvous; redis-server: the
# multi-machine rendezvous taesan-run starts; iproute2: the dist tests' network namespaces;
# clang-format: version 14, what scripts/check_format.sh checks the tree with; python3-numpy:
# the independent reader of the safetensors round-trip test).
packages=(
  build-essential g++ cmake ninja-build pkg-config
  libfmt-dev libhwy-dev nlohmann-json3-dev
  libgloo-dev libhiredis-dev redis-server iproute2
  catch2 libbenchmark-dev libopenblas-dev
  clang-format python3-numpy
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "installed" ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
if [[ $(id -u) -eq 0 ]]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  echo "setup: missing packages (${missing[*]}) and not root, no sudo: install them as root" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
  "${missing[@]}" </dev/null
