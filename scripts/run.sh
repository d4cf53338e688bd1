#!/usr/bin/env bash
# The main job: install what a fresh Debian 12 machine lacks, build in Release
# and run the demonstration of the database on a local directory (bulk load
# with progress, checkpoint, proofs, reopen, consistency, figures).
# Arguments go to `rotortree demo` (e.g. --leaves 1000000, --dir DIR --keep).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build-run -DCMAKE_BUILD_TYPE=Release -DROTORTREE_BUILD_TESTS=OFF \
  -DROTORTREE_BUILD_BENCH=OFF -DROTORTREE_BUILD_EXAMPLES=OFF --log-level=WARNING
cmake --build build-run -j"$(nproc)" --target rotortree_cli
./build-run/cli/rotortree demo "$@"
