#!/usr/bin/env bash
# Cross-check of Poseidon over BN254 (SPEC §6) with the npm packages
# poseidon-lite, @zk-kit/lean-imt and @semaphore-protocol/{group,identity}:
# regenerates tests/fixtures/{poseidon-lite,poseidon-leaves,zkkit-lean-imt-poseidon,
# zkkit-poseidon-proofs,semaphore-group,lean-imt-poseidon-nary}.txt and compares
# them with the checked-in copies; given a rotortree CLI (or a build directory holding cli/rotortree), also
# checks its `root`, `verify --hash poseidon` and `prove --format zk-kit` against
# those packages (see check_poseidon.mjs).
#
# Usage: tests/reference/check_poseidon.sh [ROTORTREE | BUILD_DIR]
# Exit:  0 all match, 1 mismatch or error, 77 skipped (no node/npm, node too
#        old, or npm ci failed).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
FIXTURES="$(cd "$HERE/../fixtures" && pwd)"

skip() { echo "check_poseidon: SKIPPED: $*" >&2; exit 77; }

args=()
if [[ $# -gt 1 ]]; then
  echo "usage: $0 [ROTORTREE | BUILD_DIR]" >&2
  exit 1
elif [[ $# -eq 1 ]]; then
  cli="$1"
  [[ -d "$cli" ]] && cli="$cli/cli/rotortree"
  if [[ ! -x "$cli" ]]; then
    echo "check_poseidon: not an executable: $cli" >&2
    exit 1
  fi
  args=("$(cd "$(dirname "$cli")" && pwd)/$(basename "$cli")")
fi

# shellcheck source=./node_env.sh source-path=SCRIPTDIR
source "$HERE/node_env.sh"
require_node

node "$HERE/check_poseidon.mjs" "$FIXTURES" "${args[@]}"
