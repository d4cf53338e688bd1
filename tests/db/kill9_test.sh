#!/usr/bin/env bash
# kill -9 loop against `rotortree insert --ack` into a `unique` database:
# after every kill the database must hold at least the last acknowledged
# size, and its root must equal the root of the same prefix computed in
# memory by `rotortree root --leaves`; its leaf index must agree (a random
# recovered leaf is found at its index and refused when offered again).
# Before each kill a reader (`root --db`, which takes no lock) opens the live
# database: it must see at least what was acknowledged before it, with the
# right root. Every third cycle also kills a `rewind` at a random moment: the
# database is then the tree before it or the rewound one (the rewound one if
# `rewind` printed its result).
# Usage: kill9_test.sh PATH/TO/rotortree [CYCLES]
set -euo pipefail
trap 'echo "kill9_test: failed at line $LINENO: $BASH_COMMAND" >&2' ERR
BIN=${1:?usage: kill9_test.sh PATH/TO/rotortree [CYCLES]}
CYCLES=${2:-20}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
DB="$WORK/db"
ALL="$WORK/all.bin"   # every leaf ever offered, in order
: > "$ALL"
"$BIN" init "$DB" --arity 4 --leaf-policy unique
for cycle in $(seq 1 "$CYCLES"); do
  head -c $((32 * 200000)) /dev/urandom > "$WORK/batch.bin"
  before=$(wc -c < "$ALL")
  cat "$WORK/batch.bin" >> "$ALL"
  # Fed one 5000-leaf batch every 10 ms, so that the kill and the reader
  # find the insertion under way.
  for piece in $(seq 0 39); do
    dd if="$WORK/batch.bin" bs=160000 skip="$piece" count=1 status=none; sleep 0.01
  done 2>/dev/null | "$BIN" insert "$DB" --leaves - --batch 5000 --ack > "$WORK/acks.txt" &
  pid=$!
  sleep "0.$(( RANDOM % 40 ))"
  acked_live=$(tail -n 1 "$WORK/acks.txt" | awk '$1=="ack"{print $2}')
  acked_live=${acked_live:-$((before / 32))}
  # A reader can come before the first batch is applied (slow builds, TSan):
  # an empty database is then the right answer, any other failure is not.
  if live=$("$BIN" root --db "$DB" 2> "$WORK/live.err"); then
    read -r live_size live_root <<< "$live"
  elif grep -q 'holds no leaves' "$WORK/live.err"; then
    live_size=0 live_root=-
  else
    live_size=fail live_root=-
  fi
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  acked=$(tail -n 1 "$WORK/acks.txt" | awk '$1=="ack"{print $2}')
  acked=${acked:-$((before / 32))}
  read -r size root < <("$BIN" root --db "$DB" 2>/dev/null || echo "0 none")
  if (( size < acked )); then
    echo "cycle $cycle: database has $size leaves, $acked were acknowledged" >&2; exit 1
  fi
  if [[ "$live_size" == fail ]] || (( live_size < acked_live )); then
    echo "cycle $cycle: a live reader saw ${live_size} leaves, $acked_live were acknowledged ($(head -c 300 "$WORK/live.err"))" >&2; exit 1
  fi
  if (( live_size > 0 )); then
    expected=$("$BIN" root --leaves "$ALL" --at "$live_size" | awk '{print $2}')
    if [[ "$live_root" != "$expected" ]]; then
      echo "cycle $cycle: live reader root $live_root at size $live_size, expected $expected" >&2; exit 1
    fi
  fi
  # Leaves past the database size were never applied: cut them from the history.
  truncate -s $((size * 32)) "$ALL"
  if (( size == 0 )); then echo "cycle $cycle: empty"; continue; fi
  expected=$("$BIN" root --leaves "$ALL" | awk '{print $2}')
  if [[ "$root" != "$expected" ]]; then
    echo "cycle $cycle: root $root at size $size, expected $expected" >&2; exit 1
  fi
  # The index agrees with the recovered tree.
  k=$(( (RANDOM * 32768 + RANDOM) % size ))
  leaf=$(dd if="$ALL" bs=32 skip="$k" count=1 status=none | od -An -tx1 | tr -d ' \n')
  found=$("$BIN" find --db "$DB" "$leaf" 2>"$WORK/find.err") || true
  if [[ "$found" != "$leaf $k" ]]; then
    echo "cycle $cycle: find of leaf $k gave '$found' ($(head -c 300 "$WORK/find.err"))" >&2; exit 1
  fi
  dd if="$ALL" bs=32 skip="$k" count=1 status=none > "$WORK/dup.bin"
  rc=0; "$BIN" insert "$DB" --leaves "$WORK/dup.bin" 2>/dev/null || rc=$?
  if (( rc != 1 )); then
    echo "cycle $cycle: inserting leaf $k again exited $rc, expected 1 (a refused duplicate)" >&2; exit 1
  fi
  if (( cycle % 3 == 0 )); then
    target=$(( size - (RANDOM % (size / 2 + 1)) ))
    "$BIN" rewind "$DB" --size "$target" > "$WORK/rewind.txt" 2>/dev/null &
    pid=$!
    sleep "0.0$(( RANDOM % 10 ))"
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    read -r rsize rroot < <("$BIN" root --db "$DB")
    if [[ -s "$WORK/rewind.txt" ]] && (( rsize != target )); then
      echo "cycle $cycle: rewind to $target acknowledged, database has $rsize" >&2; exit 1
    fi
    if (( rsize != target && rsize != size )); then
      echo "cycle $cycle: after a killed rewind from $size to $target the database has $rsize" >&2; exit 1
    fi
    truncate -s $((rsize * 32)) "$ALL"
    if (( rsize > 0 )) && [[ "$rroot" != "$("$BIN" root --leaves "$ALL" | awk '{print $2}')" ]]; then
      echo "cycle $cycle: root after the killed rewind is wrong at size $rsize" >&2; exit 1
    fi
    echo "cycle $cycle: rewind $size -> $target killed, recovered $rsize"
  fi
  echo "cycle $cycle: live reader $live_size (acked $acked_live), acked $acked, recovered $size, roots ok"
done
echo "kill -9: $CYCLES cycles, no acknowledged leaf or rewind lost, every root and lookup correct, live readers consistent"
