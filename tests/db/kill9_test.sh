#!/usr/bin/env bash
# kill -9 loop against `rotortree insert --ack`: after every kill the database
# must hold at least the last acknowledged size, and its root must equal the
# root of the same prefix computed in memory by `rotortree root --leaves`.
# Usage: kill9_test.sh PATH/TO/rotortree [CYCLES]
set -euo pipefail
BIN=${1:?usage: kill9_test.sh PATH/TO/rotortree [CYCLES]}
CYCLES=${2:-20}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
DB="$WORK/db"
ALL="$WORK/all.bin"   # every leaf ever offered, in order
: > "$ALL"
"$BIN" init "$DB" --arity 4
for cycle in $(seq 1 "$CYCLES"); do
  head -c $((32 * 200000)) /dev/urandom > "$WORK/batch.bin"
  before=$(wc -c < "$ALL")
  cat "$WORK/batch.bin" >> "$ALL"
  "$BIN" insert "$DB" --leaves "$WORK/batch.bin" --batch 5000 --ack > "$WORK/acks.txt" &
  pid=$!
  sleep "0.$(( RANDOM % 40 ))"
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  acked=$(tail -n 1 "$WORK/acks.txt" | awk '$1=="ack"{print $2}')
  acked=${acked:-$((before / 32))}
  read -r size root < <("$BIN" root --db "$DB" 2>/dev/null || echo "0 none")
  if (( size < acked )); then
    echo "cycle $cycle: database has $size leaves, $acked were acknowledged" >&2; exit 1
  fi
  # Leaves past the database size were never applied: cut them from the history.
  truncate -s $((size * 32)) "$ALL"
  if (( size == 0 )); then echo "cycle $cycle: empty"; continue; fi
  expected=$("$BIN" root --leaves "$ALL" | awk '{print $2}')
  if [[ "$root" != "$expected" ]]; then
    echo "cycle $cycle: root $root at size $size, expected $expected" >&2; exit 1
  fi
  echo "cycle $cycle: acked $acked, recovered $size, root ok"
done
echo "kill -9: $CYCLES cycles, no acknowledged leaf lost, every root correct"
