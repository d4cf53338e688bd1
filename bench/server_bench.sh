#!/usr/bin/env bash
# Benchmarks of `rotortree serve` (docs/server.md, docs/deployment.md):
#  1. random inclusion proofs (JSON) over keep-alive, wrk -c32: proofs/s, p50, p99
#  2. the same while a writer posts 10k-leaf batches continuously
#  3. POST /v1/leaves with raw 1M-leaf bodies vs `rotortree insert --durable` of the same leaves
#  4. a replica's lag behind a primary taking ~1M leaves/s
# Usage: bench/server_bench.sh PATH/TO/rotortree [LEAVES] [SECONDS]
# Prints `name value` lines. Server, load generator and writer share this machine's cores.
set -euo pipefail
BIN=${1:?usage: server_bench.sh PATH/TO/rotortree [LEAVES] [SECONDS]}
LEAVES=${2:-1000000}
SECONDS_EACH=${3:-10}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

calc() { python3 -c "print($1)"; }
start() {  # start DIR OUTFILE ARGS... -> sets URL
  local dir=$1 out=$2; shift 2
  "$BIN" serve "$dir" --listen 127.0.0.1:0 "$@" > "$out" 2> "$out.err" &
  pids+=($!)
  for _ in $(seq 1 600); do grep -q '^listening on' "$out" && break; sleep 0.05; done
  URL="http://$(sed -n 's/^listening on //p' "$out")"
}

head -c $((32 * LEAVES)) /dev/urandom > "$WORK/leaves.bin"
"$BIN" init "$WORK/db" > /dev/null
"$BIN" insert "$WORK/db" --leaves "$WORK/leaves.bin" --batch 1000000 2> /dev/null
start "$WORK/db" "$WORK/primary.out" --threads 2
echo "tree_leaves $LEAVES"
for run in 1 2; do
  TREE_SIZE=$LEAVES wrk -t2 -c32 -d"${SECONDS_EACH}s" -s "$HERE/wrk_proofs.lua" "$URL" | grep -E '^[a-z_0-9]+ ' | sed "s/^/proofs_alone_run${run}_/"
done
for run in 1 2; do
  python3 "$HERE/server_load.py" writer "$URL" 10000 0 "$SECONDS_EACH" > "$WORK/writer.txt" &
  writer=$!
  TREE_SIZE=$LEAVES wrk -t2 -c32 -d"${SECONDS_EACH}s" -s "$HERE/wrk_proofs.lua" "$URL" | grep -E '^[a-z_0-9]+ ' | sed "s/^/proofs_with_writer_run${run}_/"
  wait $writer
  sed "s/^/proofs_with_writer_run${run}_/" "$WORK/writer.txt"
done
kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true; pids=()

# 3. Durable insertion: five 1M-leaf bodies over HTTP vs the CLI, fresh databases, alternately.
BATCHES=5
head -c $((32 * 1000000 * BATCHES)) /dev/urandom > "$WORK/big.bin"
for b in $(seq 0 $((BATCHES - 1))); do
  dd if="$WORK/big.bin" of="$WORK/body$b.bin" bs=32000000 skip="$b" count=1 status=none
done
for run in 1 2; do
  rm -rf "$WORK/cli" "$WORK/http"
  "$BIN" init "$WORK/cli" > /dev/null
  t0=$(date +%s.%N)
  "$BIN" insert "$WORK/cli" --leaves "$WORK/big.bin" --batch 1000000 --durable 2> /dev/null
  t1=$(date +%s.%N)
  cli_rate=$(calc "$BATCHES * 1000000 / ($t1 - $t0)")
  "$BIN" init "$WORK/http" > /dev/null
  start "$WORK/http" "$WORK/http.out" --threads 2
  t0=$(date +%s.%N)
  for b in $(seq 0 $((BATCHES - 1))); do
    curl -sf --data-binary @"$WORK/body$b.bin" -H 'Content-Type: application/octet-stream' "$URL/v1/leaves" > /dev/null
  done
  t1=$(date +%s.%N)
  http_rate=$(calc "$BATCHES * 1000000 / ($t1 - $t0)")
  kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true; pids=()
  [[ $("$BIN" root --db "$WORK/cli") == $("$BIN" root --db "$WORK/http") ]] || { echo "different roots" >&2; exit 1; }
  printf 'durable_cli_leaves_per_sec_run%d %.0f\ndurable_http_leaves_per_sec_run%d %.0f\ndurable_http_over_cli_run%d %.2f\n' \
    "$run" "$cli_rate" "$run" "$http_rate" "$run" "$(calc "$http_rate / $cli_rate")"
done

# 4. Replica lag: the primary takes 100k-leaf batches paced to 1M leaves/s.
rm -rf "$WORK/p" "$WORK/r"
"$BIN" init "$WORK/p" > /dev/null
start "$WORK/p" "$WORK/p.out" --threads 2
PRIMARY=$URL
start "$WORK/r" "$WORK/r.out" --threads 2 --follow "$PRIMARY"
REPLICA=$URL
python3 "$HERE/server_load.py" lag "$PRIMARY" "$REPLICA" 100000 1000000 "$SECONDS_EACH"
