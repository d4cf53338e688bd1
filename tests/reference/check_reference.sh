#!/usr/bin/env bash
# Cross-check: recompute the `lean-imt 2` reference roots with the independent
# npm implementation (@zk-kit/lean-imt + @noble/hashes blake3) and compare them
# with the reference-roots fixture.
#
# Usage: tests/reference/check_reference.sh   (no arguments)
# Env:   ROTORTREE_REFERENCE_ROOTS  fixture path
#        (default: tests/fixtures/reference-roots.txt, the copy of ../shared's)
# Exit:  0 all roots match, 1 mismatch or error, 77 skipped (no node/npm,
#        node too old, npm ci failed, or fixture missing).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$HERE/../.." && pwd)"
FIXTURE="${ROTORTREE_REFERENCE_ROOTS:-$REPO_ROOT/tests/fixtures/reference-roots.txt}"
SIZES="1,2,3,4,5,9,10,17,100,1000"
COUNT=1000

skip() { echo "check_reference: SKIPPED: $*" >&2; exit 77; }

[[ -r "$FIXTURE" ]] || skip "fixture not found: $FIXTURE"
# shellcheck source=./node_env.sh source-path=SCRIPTDIR
source "$HERE/node_env.sh"
require_node

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

node "$HERE/make_leaves.mjs" "$COUNT" "$tmp/leaves.bin"
node "$HERE/zkkit_roots.mjs" "$tmp/leaves.bin" "$SIZES" >"$tmp/got.txt"

fail=0
checked=0
IFS=',' read -r -a sizes <<<"$SIZES"
for n in "${sizes[@]}"; do
  want="$(awk -v n="$n" '$1=="lean-imt" && $2=="2" && $3==n {print tolower($4)}' "$FIXTURE")"
  got="$(awk -v n="$n" '$1==n {print $2}' "$tmp/got.txt")"
  if [[ -z "$want" ]]; then
    echo "MISMATCH lean-imt 2 $n: no fixture line in $FIXTURE (computed $got)"
    fail=1
  elif [[ "$want" != "$got" ]]; then
    echo "MISMATCH lean-imt 2 $n: fixture $want, @zk-kit/lean-imt $got"
    fail=1
  else
    echo "ok lean-imt 2 $n $got"
  fi
  checked=$((checked + 1))
done

# Every `lean-imt 2` line of the fixture should have been compared.
extra="$(awk -v s=",$SIZES," '$1=="lean-imt" && $2=="2" && index(s, "," $3 ",")==0 {print $3}' "$FIXTURE")"
if [[ -n "$extra" ]]; then
  echo "note: fixture has lean-imt 2 sizes not checked here: $(echo $extra)" >&2
fi

if [[ $fail -ne 0 ]]; then
  echo "check_reference: FAILED" >&2
  exit 1
fi
echo "check_reference: all $checked lean-imt N=2 roots match @zk-kit/lean-imt"
