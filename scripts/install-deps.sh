#!/usr/bin/env bash
# Install what building and testing rotortree needs on Debian 12 (bookworm).
# Idempotent and fast on a prepared machine: apt is not touched when every
# package is already installed. Run as root (or with sudo available).
#
#   bash scripts/install-deps.sh
set -euo pipefail

packages=(
  build-essential cmake pkg-config git ca-certificates python3   # toolchain
  libtbb-dev librust-blake3-dev libssl-dev libisal-dev            # the library
  nlohmann-json3-dev libcli11-dev                                 # codec, command line
  libgtest-dev libgmock-dev librapidcheck-dev libgmp-dev          # tests (GMP: the field model)
  libbenchmark-dev librocksdb-dev                                 # bench/ (RocksDB: the side-store comparison)
  clang                                                           # libFuzzer targets
  doxygen                                                         # API docs (test `docs`)
  gnuplot-nox                                                     # bench --report plots
  libboost-dev curl wrk                                           # serve (Beast), its tests, bench/server_bench.sh
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$package")
  fi
done
# node and npm run the @zk-kit/lean-imt cross-check (tests/reference). A node
# installed some other way (e.g. NodeSource's nodejs, which bundles npm) is
# kept: Debian's npm package would conflict with it.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#packages[@]} packages, node and npm are installed"
  exit 0
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
  else
    echo "install-deps: missing ${missing[*]}; run as root to install them" >&2
    exit 1
  fi
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update
"${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
