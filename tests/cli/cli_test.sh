#!/usr/bin/env bash
# End-to-end tests of the rotortree command line (SPEC §3): reference roots,
# proof round trips (JSON and binary), tampering (exit 1), malformed input
# (exit 2, a message on stderr, nothing on stdout), usage errors and --help.
#
# Usage: tests/cli/cli_test.sh ROTORTREE_BINARY REFERENCE_ROOTS_FILE
# Needs python3 (to generate leaves and edit proofs). Exit: 0 all passed,
# 1 a failure, 77 skipped (no python3). A missing fixture skips only the
# reference-root checks.
set -uo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 ROTORTREE_BINARY REFERENCE_ROOTS_FILE" >&2
  exit 2
fi
BIN="$1"
FIXTURE="$2"
command -v python3 >/dev/null 2>&1 || { echo "cli_test: SKIPPED: python3 not found" >&2; exit 77; }
# The interpreter itself: version-manager shims (pyenv) cost ~0.4 s per call.
PYTHON="$(python3 -c 'import sys; print(sys.executable)')"
[[ -x "$BIN" ]] || { echo "cli_test: not executable: $BIN" >&2; exit 1; }
if [[ ! -r "$FIXTURE" ]]; then
  # As the other reference tests: without the shared fixture, skip only its checks.
  echo "cli_test: fixture not found, reference roots not checked: $FIXTURE" >&2
  FIXTURE=/dev/null
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
OUT="$WORK/stdout" ERR="$WORK/stderr"
passed=0 failed=0

pass() { passed=$((passed + 1)); }
fail() {
  failed=$((failed + 1))
  echo "FAIL: $1" >&2
  [[ -s "$OUT" ]] && { echo "  stdout: $(head -c 300 "$OUT")" >&2; }
  [[ -s "$ERR" ]] && { echo "  stderr: $(head -c 300 "$ERR")" >&2; }
}

# run ARGS...: run the tool, keep stdout/stderr in $OUT/$ERR and the status in $RC.
run() { "$BIN" "$@" >"$OUT" 2>"$ERR"; RC=$?; }

# expect_exit CODE NAME ARGS...: exit CODE; for 2 also a message and no result.
expect_exit() {
  local code="$1" name="$2"
  shift 2
  run "$@"
  if [[ $RC -ne $code ]]; then
    fail "$name: exit $RC, expected $code"
  elif [[ $code -eq 2 && ( ! -s "$ERR" || -s "$OUT" ) ]]; then
    fail "$name: an error must print a message on stderr and nothing on stdout"
  else
    pass
  fi
}

# expect_output NAME EXPECTED ARGS...: exit 0 and stdout exactly EXPECTED (plus newline).
expect_output() {
  local name="$1" expected="$2"
  shift 2
  run "$@"
  if [[ $RC -ne 0 ]]; then
    fail "$name: exit $RC, expected 0"
  elif [[ "$(cat "$OUT")" != "$expected" ]]; then
    fail "$name: stdout differs from '$expected'"
  else
    pass
  fi
}

# expect_invalid NAME ARGS...: exit 1 and stdout "invalid: REASON".
expect_invalid() {
  local name="$1"
  shift
  run "$@"
  if [[ $RC -ne 1 ]]; then
    fail "$name: exit $RC, expected 1"
  elif ! grep -q '^invalid: .' "$OUT"; then
    fail "$name: stdout is not 'invalid: REASON'"
  else
    pass
  fi
}

# edit_json IN OUT PYTHON: apply a Python statement to the proof `p` (a dict).
edit_json() {
  "$PYTHON" - "$1" "$2" "$3" <<'EOF'
import json, sys
p = json.load(open(sys.argv[1]))
exec(sys.argv[3])
open(sys.argv[2], "w").write(json.dumps(p, separators=(",", ":")))
EOF
}

# flip_hex IN OUT FIELD_PATH: change one hex digit of a hash in the proof.
flip_hex() {
  edit_json "$1" "$2" "
import functools
path = $3
obj = functools.reduce(lambda o, k: o[k], path[:-1], p)
h = obj[path[-1]]
i = 17 % len(h)
obj[path[-1]] = h[:i] + ('0' if h[i] != '0' else '1') + h[i + 1:]"
}

# --- leaves: leaf i = SHA-256("rotortree" || u64 little-endian i) ------------------
LEAVES="$WORK/leaves.bin"
"$PYTHON" -c '
import hashlib, struct, sys
sys.stdout.buffer.write(b"".join(hashlib.sha256(b"rotortree" + struct.pack("<Q", i)).digest() for i in range(1000)))
' >"$LEAVES"

# --- version and help -------------------------------------------------------------
run --version
if [[ $RC -eq 0 && "$(cat "$OUT")" =~ ^rotortree\ [0-9]+\.[0-9]+\.[0-9]+$ ]]; then pass; else fail "--version"; fi
run --help
if [[ $RC -eq 0 && -s "$OUT" ]]; then pass; else fail "--help"; fi
# Every subcommand the tool lists, plus the ones SPEC §3 requires.
commands="$(awk '/^Subcommands:/ {on = 1; next} on && NF {print $1}' "$OUT")"
for command in root prove verify consistency verify-consistency; do
  grep -qx "$command" <<<"$commands" || fail "subcommand '$command' is not listed by --help"
done
for command in $commands; do
  run "$command" --help
  if [[ $RC -eq 0 && -s "$OUT" ]]; then pass; else fail "$command --help"; fi
done
expect_exit 2 "no subcommand"
expect_exit 2 "unknown option" root --leaves "$LEAVES" --no-such-option

# --- reference roots (one call per scheme and arity, every listed size) ------------
while read -r scheme arity; do
  sizes="$(awk -v s="$scheme" -v a="$arity" '$1 == s && $2 == a {print $3}' "$FIXTURE" | paste -sd, -)"
  expected="$(awk -v s="$scheme" -v a="$arity" '$1 == s && $2 == a {print $3 " " $4}' "$FIXTURE")"
  expect_output "reference roots $scheme arity $arity" "$expected" \
    root --leaves "$LEAVES" --arity "$arity" --node-hash "$scheme" --at "$sizes"
done < <(grep -v '^#' "$FIXTURE" | awk 'NF >= 4 {print $1, $2}' | sort -u)

# Defaults: arity 4, blake3, lean-imt, all leaves; standard input as the leaf file.
full_root="$(awk '$1 == "lean-imt" && $2 == 4 && $3 == 1000 {print $4}' "$FIXTURE")"
if [[ -n "$full_root" ]]; then
  expect_output "root with defaults" "1000 $full_root" root --leaves "$LEAVES"
  run root --leaves - <"$LEAVES"
  if [[ $RC -eq 0 && "$(cat "$OUT")" == "1000 $full_root" ]]; then pass; else fail "root --leaves - (stdin)"; fi
fi

# --- leaf files and options ---------------------------------------------------------
head -c 33 "$LEAVES" >"$WORK/33.bin"
expect_exit 2 "33-byte leaf file" root --leaves "$WORK/33.bin"
grep -q "33" "$ERR" || fail "33-byte leaf file: the message does not give the length"
: >"$WORK/empty.bin"
expect_exit 2 "empty leaf file has no root" root --leaves "$WORK/empty.bin"
expect_exit 2 "missing leaf file" root --leaves "$WORK/does-not-exist.bin"
expect_exit 2 "--arity 5" root --leaves "$LEAVES" --arity 5
expect_exit 2 "--arity 1" root --leaves "$LEAVES" --arity 1
expect_exit 2 "--arity abc" root --leaves "$LEAVES" --arity abc
expect_exit 2 "--hash md5" root --leaves "$LEAVES" --hash md5
expect_exit 2 "--node-hash foo" root --leaves "$LEAVES" --node-hash foo
expect_exit 2 "--at 0" root --leaves "$LEAVES" --at 0
expect_exit 2 "--at past the end" root --leaves "$LEAVES" --at 5,1001
expect_exit 2 "--at negative" root --leaves "$LEAVES" --at -1
expect_exit 2 "neither --leaves nor --db" root
expect_exit 2 "both --leaves and --db" root --leaves "$LEAVES" --db "$WORK"
expect_exit 2 "prove: index past the end" prove --leaves "$LEAVES" --index 1000
expect_exit 2 "prove: index past --size" prove --leaves "$LEAVES" --index 17 --size 17
expect_exit 2 "prove: --size past the end" prove --leaves "$LEAVES" --index 0 --size 1001
expect_exit 2 "prove: --index missing" prove --leaves "$LEAVES"
expect_exit 2 "consistency: --old-size 0" consistency --leaves "$LEAVES" --old-size 0
expect_exit 2 "consistency: --old-size past --size" consistency --leaves "$LEAVES" --old-size 18 --size 17

# --- inclusion proofs: round trips ---------------------------------------------------
for params in "--arity 2" "--arity 3" "--arity 4" "--arity 8" "--arity 16" \
              "--arity 4 --hash sha256" "--arity 3 --node-hash tagged" "--arity 16 --hash sha256 --node-hash tagged"; do
  for case in "0 1" "5 17" "16 17" "999 1000" "123 1000" "64 65"; do
    read -r index size <<<"$case"
    # shellcheck disable=SC2086  # $params is a list of options
    run prove --leaves "$LEAVES" $params --index "$index" --size "$size"
    if [[ $RC -ne 0 || $(wc -l <"$OUT") -ne 1 ]]; then fail "prove $params $case: one JSON line"; continue; fi
    cp "$OUT" "$WORK/proof.json"
    # shellcheck disable=SC2086
    root_line="$("$BIN" root --leaves "$LEAVES" $params --at "$size")"
    expect_output "verify $params $case" "valid" verify "$WORK/proof.json" --root "${root_line#* }" --size "$size"
    # shellcheck disable=SC2086
    "$BIN" prove --leaves "$LEAVES" $params --index "$index" --size "$size" --binary --out "$WORK/proof.bin"
    expect_output "verify binary $params $case" "valid" verify "$WORK/proof.bin" --root "${root_line#* }"
  done
done

# The proof for the tests below: leaf 5 of 17, arity 4 (3 levels, 7 siblings).
"$BIN" prove --leaves "$LEAVES" --index 5 --size 17 >"$WORK/p.json"
"$BIN" prove --leaves "$LEAVES" --index 5 --size 17 --binary >"$WORK/p.bin"
p_root="$("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["root"])' "$WORK/p.json")"
expect_output "verify from standard input" "valid" verify - <"$WORK/p.json"
expect_output "verify binary from standard input" "valid" verify - <"$WORK/p.bin"
expect_output "verify --arity matching" "valid" verify "$WORK/p.json" --arity 4 --hash blake3 --node-hash lean-imt

# --- inclusion proofs: tampering and wrong expectations (exit 1) ---------------------
for field in '["root"]' '["leaf"]' '["levels", 0, "siblings", 0]' '["levels", 0, "siblings", 2]' \
             '["levels", 1, "siblings", 1]' '["levels", 2, "siblings", 0]'; do
  flip_hex "$WORK/p.json" "$WORK/t.json" "$field"
  expect_invalid "tampered $field" verify "$WORK/t.json"
done
edit_json "$WORK/p.json" "$WORK/t.json" 'p["leaf_index"] = 6'
expect_invalid "tampered leaf_index" verify "$WORK/t.json"
edit_json "$WORK/p.json" "$WORK/t.json" 'p["tree_size"] = 16'
expect_invalid "tampered tree_size (level count)" verify "$WORK/t.json"
edit_json "$WORK/p.json" "$WORK/t.json" 'p["levels"][0]["position"] = 2'
expect_invalid "tampered position" verify "$WORK/t.json"
edit_json "$WORK/p.json" "$WORK/t.json" 'p["levels"][0]["siblings"].pop()'
expect_invalid "a sibling removed" verify "$WORK/t.json"
edit_json "$WORK/p.json" "$WORK/t.json" 'p["hash"] = "sha256"'
expect_invalid "tampered hash" verify "$WORK/t.json"
edit_json "$WORK/p.json" "$WORK/t.json" 'p["node_hash"] = "tagged"'
expect_invalid "tampered node_hash" verify "$WORK/t.json"
"$PYTHON" -c '
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[len(b) - 40] ^= 1
open(sys.argv[2], "wb").write(b)' "$WORK/p.bin" "$WORK/t.bin"
expect_invalid "tampered binary sibling" verify "$WORK/t.bin"
expect_invalid "wrong --root" verify "$WORK/p.json" --root "$(printf '0%.0s' {1..64})"
expect_invalid "verify --arity mismatch" verify "$WORK/p.json" --arity 2
grep -q "^invalid: proof is for arity 4, expected 2$" "$OUT" || fail "verify --arity mismatch: reason"
expect_invalid "verify --hash mismatch" verify "$WORK/p.json" --hash sha256
expect_invalid "verify --size mismatch" verify "$WORK/p.json" --size 18
expect_output "verify --root right" "valid" verify "$WORK/p.json" --root "$p_root"

# --- malformed input (exit 2, message, no result) -------------------------------------
head -c 100 "$WORK/p.json" >"$WORK/m.json"
expect_exit 2 "truncated JSON" verify "$WORK/m.json"
edit_json "$WORK/p.json" "$WORK/m.json" 'p["root"] = "zz" + p["root"][2:]'
expect_exit 2 "bad hex" verify "$WORK/m.json"
edit_json "$WORK/p.json" "$WORK/m.json" 'p["leaf"] = p["leaf"][:-2]'
expect_exit 2 "short hex" verify "$WORK/m.json"
edit_json "$WORK/p.json" "$WORK/m.json" 'p["levels"][0]["position"] = 4'
expect_exit 2 "position >= arity" verify "$WORK/m.json"
edit_json "$WORK/p.json" "$WORK/m.json" 'p["levels"][0]["siblings"] = [p["root"]] * 20'
expect_exit 2 "20 siblings" verify "$WORK/m.json"
edit_json "$WORK/p.json" "$WORK/m.json" 'p["levels"] = [{"position": 0, "siblings": []}] * 65'
expect_exit 2 "65 levels" verify "$WORK/m.json"
for field in type arity hash node_hash root leaf leaf_index tree_size levels; do
  edit_json "$WORK/p.json" "$WORK/m.json" "del p['$field']"
  expect_exit 2 "missing field $field" verify "$WORK/m.json"
done
edit_json "$WORK/p.json" "$WORK/m.json" 'del p["levels"][1]["siblings"]'
expect_exit 2 "missing siblings" verify "$WORK/m.json"
edit_json "$WORK/p.json" "$WORK/m.json" 'p["leaf_index"] = -1'
expect_exit 2 "negative integer" verify "$WORK/m.json"
edit_json "$WORK/p.json" "$WORK/m.json" 'p["tree_size"] = 17.5'
expect_exit 2 "fractional integer" verify "$WORK/m.json"
edit_json "$WORK/p.json" "$WORK/m.json" 'p["tree_size"] = 2 ** 64'
expect_exit 2 "integer past u64" verify "$WORK/m.json"
edit_json "$WORK/p.json" "$WORK/m.json" 'p["leaf_index"] = "5"'
expect_exit 2 "integer as a string" verify "$WORK/m.json"
edit_json "$WORK/p.json" "$WORK/m.json" 'p["arity"] = 17'
expect_exit 2 "arity 17" verify "$WORK/m.json"
edit_json "$WORK/p.json" "$WORK/m.json" 'p["hash"] = "md5"'
expect_exit 2 "unknown hash" verify "$WORK/m.json"
edit_json "$WORK/p.json" "$WORK/m.json" 'p["type"] = "exclusion"'
expect_exit 2 "unknown type" verify "$WORK/m.json"
edit_json "$WORK/p.json" "$WORK/m.json" 'p["extra"] = 1'
expect_exit 2 "unknown field" verify "$WORK/m.json"
head -c 3000 /dev/urandom >"$WORK/garbage.bin"
printf '\x00' | cat - "$WORK/garbage.bin" >"$WORK/garbage2.bin"  # never starts like JSON or the magic
expect_exit 2 "binary garbage" verify "$WORK/garbage2.bin"
expect_exit 2 "empty proof file" verify "$WORK/empty.bin"
head -c 200 "$WORK/p.bin" >"$WORK/m.bin"
expect_exit 2 "truncated binary" verify "$WORK/m.bin"
cat "$WORK/p.bin" "$WORK/p.bin" >"$WORK/m.bin"
expect_exit 2 "binary with trailing bytes" verify "$WORK/m.bin"
"$PYTHON" -c '
import sys
b = bytearray(open(sys.argv[1], "rb").read()); b[4] = 9
open(sys.argv[2], "wb").write(b)' "$WORK/p.bin" "$WORK/m.bin"
expect_exit 2 "binary version 9" verify "$WORK/m.bin"
expect_exit 2 "missing proof file" verify "$WORK/does-not-exist.json"
expect_exit 2 "bad --root hex" verify "$WORK/p.json" --root xyz
expect_exit 2 "verify --arity 5" verify "$WORK/p.json" --arity 5

# --- consistency proofs ----------------------------------------------------------------
for params in "--arity 2" "--arity 3" "--arity 4" "--arity 16 --node-hash tagged" "--arity 8 --hash sha256"; do
  for case in "1 1" "5 17" "17 17" "16 17" "100 1000" "1 1000"; do
    read -r old new <<<"$case"
    # shellcheck disable=SC2086
    run consistency --leaves "$LEAVES" $params --old-size "$old" --size "$new"
    if [[ $RC -ne 0 || $(wc -l <"$OUT") -ne 1 ]]; then fail "consistency $params $case: one JSON line"; continue; fi
    cp "$OUT" "$WORK/c.json"
    # shellcheck disable=SC2086
    old_root="$("$BIN" root --leaves "$LEAVES" $params --at "$old")"
    expect_output "verify-consistency $params $case" "valid" \
      verify-consistency "$WORK/c.json" --old-root "${old_root#* }" --old-size "$old" --new-size "$new"
    # shellcheck disable=SC2086
    "$BIN" consistency --leaves "$LEAVES" $params --old-size "$old" --size "$new" --binary >"$WORK/c.bin"
    expect_output "verify-consistency binary $params $case" "valid" verify-consistency "$WORK/c.bin"
  done
done

"$BIN" consistency --leaves "$LEAVES" --old-size 5 --size 17 >"$WORK/c.json"
old_root="$("$BIN" root --leaves "$LEAVES" --at 5)"
old_root="${old_root#* }"
expect_output "consistency --old-root right" "$(cat "$WORK/c.json")" \
  consistency --leaves "$LEAVES" --old-size 5 --size 17 --old-root "$old_root"
expect_exit 2 "consistency --old-root wrong" \
  consistency --leaves "$LEAVES" --old-size 5 --size 17 --old-root "$(printf '1%.0s' {1..64})"
for field in '["old_root"]' '["new_root"]' '["leaf"]' '["levels", 0, "siblings", 0]' \
             '["levels", 0, "siblings", 2]' '["levels", 1, "siblings", 0]' '["levels", 2, "siblings", 0]'; do
  flip_hex "$WORK/c.json" "$WORK/t.json" "$field"
  expect_invalid "consistency tampered $field" verify-consistency "$WORK/t.json"
done
edit_json "$WORK/c.json" "$WORK/t.json" 'p["old_size"] = 6'
expect_invalid "consistency tampered old_size" verify-consistency "$WORK/t.json"
edit_json "$WORK/c.json" "$WORK/t.json" 'p["old_size"] = 18'
# SPEC §3: sizes no valid proof can hold are malformed (2) in JSON as in binary.
expect_exit 2 "consistency old_size > new_size" verify-consistency "$WORK/t.json"
edit_json "$WORK/c.json" "$WORK/t.json" 'p["old_size"] = 0'
expect_exit 2 "consistency old_size 0" verify-consistency "$WORK/t.json"
edit_json "$WORK/p.json" "$WORK/t.json" 'p["tree_size"] = 0'
expect_exit 2 "inclusion tree_size 0" verify "$WORK/t.json"
edit_json "$WORK/p.json" "$WORK/t.json" 'p["leaf_index"] = p["tree_size"]'
expect_exit 2 "inclusion leaf_index = tree_size" verify "$WORK/t.json"
# Decoding is bounded (issue 9): 340,000 empty objects are refused at once.
python3 -c 'import sys; sys.stdout.write("{\"type\":\"inclusion\",\"levels\":[" + ",".join(["{}"] * 340000) + "]}")' >"$WORK/objects.json"
expect_exit 2 "340000 empty objects" verify "$WORK/objects.json"
grep -q "more than 65 objects" "$ERR" || fail "340000 empty objects: no bound named on stderr"
expect_invalid "verify-consistency wrong --old-root" verify-consistency "$WORK/c.json" --old-root "$(printf 'a%.0s' {1..64})"
expect_invalid "verify-consistency --new-size mismatch" verify-consistency "$WORK/c.json" --new-size 18
expect_invalid "verify-consistency --arity mismatch" verify-consistency "$WORK/c.json" --arity 8
expect_output "verify-consistency from standard input" "valid" verify-consistency - <"$WORK/c.json"
edit_json "$WORK/c.json" "$WORK/m.json" 'del p["new_root"]'
expect_exit 2 "consistency missing new_root" verify-consistency "$WORK/m.json"
edit_json "$WORK/c.json" "$WORK/m.json" 'p["levels"][0]["position"] = 7'
expect_exit 2 "consistency position >= arity" verify-consistency "$WORK/m.json"
expect_exit 2 "verify given a consistency proof" verify "$WORK/c.json"
expect_exit 2 "verify-consistency given an inclusion proof" verify-consistency "$WORK/p.json"
expect_exit 2 "verify-consistency binary garbage" verify-consistency "$WORK/garbage2.bin"

# --- the database commands (issue: init, insert, info, checkpoint, --db) ------------
DB="$WORK/db"
run init "$DB" --arity 4
[[ $RC -eq 0 ]] && pass || fail "init: exit $RC"
run insert "$DB" --leaves "$LEAVES" --batch 300 --ack
if [[ $RC -ne 0 ]]; then
  fail "insert --ack: exit $RC"
else
  # One ack per durable batch: 300, 600, 900, 1000, each with that prefix's root.
  acks_ok=1
  while read -r word size root; do
    [[ "$word" == ack && "$root" == "$("$BIN" root --leaves "$LEAVES" --at "$size" | cut -d' ' -f2)" ]] || acks_ok=0
  done <"$OUT"
  [[ $acks_ok -eq 1 && "$(cut -d' ' -f2 "$OUT" | tr '\n' ' ')" == "300 600 900 1000 " ]] && pass \
    || fail "insert --ack: expected 'ack SIZE ROOT' for 300 600 900 1000 with their roots"
fi
expect_output "root --db" "$("$BIN" root --leaves "$LEAVES")" root --db "$DB"
expect_output "root --db --at" "$("$BIN" root --leaves "$LEAVES" --at 1,17,999)" root --db "$DB" --at 1,17,999
expect_output "prove --db" "$("$BIN" prove --leaves "$LEAVES" --index 5)" prove --db "$DB" --index 5
expect_output "prove --db --size" "$("$BIN" prove --leaves "$LEAVES" --index 5 --size 17)" \
  prove --db "$DB" --index 5 --size 17
expect_output "consistency --db" "$("$BIN" consistency --leaves "$LEAVES" --old-size 10)" \
  consistency --db "$DB" --old-size 10
json_field() { "$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }
run info "$DB" --json
[[ $RC -eq 0 && "$(json_field "$OUT" size)" == 1000 && "$(json_field "$OUT" arity)" == 4 \
   && "$(json_field "$OUT" root)" == "$("$BIN" root --leaves "$LEAVES" | cut -d' ' -f2)" ]] && pass \
  || fail "info --json: size, arity or root wrong"
run checkpoint "$DB"
[[ $RC -eq 0 ]] && pass || fail "checkpoint: exit $RC"
run info "$DB" --json
[[ "$(json_field "$OUT" checkpoint_size)" == 1000 ]] && pass || fail "info after checkpoint: checkpoint_size"
# Bad input changes nothing.
# Two whole batches, then 4 stray bytes: refused before the first batch.
head -c $((600 * 32 + 4)) "$LEAVES" >"$WORK/bad.bin"
expect_exit 2 "insert: length not a multiple of 32" insert "$DB" --leaves "$WORK/bad.bin" --batch 300
grep -q "19204 bytes" "$ERR" || fail "insert of a 19204-byte file: the message does not give the length"
expect_exit 2 "insert: --batch 0" insert "$DB" --leaves "$LEAVES" --batch 0
expect_exit 2 "insert: into a missing database" insert "$WORK/no-db" --leaves "$LEAVES"
expect_exit 2 "init: arity 8 over an arity-4 database" init "$DB" --arity 8
grep -q "arity" "$ERR" || fail "init with a conflicting arity: the message does not name it"
expect_exit 2 "init: --max-depth 0" init "$WORK/db0" --max-depth 0
expect_output "root --db after refused writes" "$("$BIN" root --leaves "$LEAVES")" root --db "$DB"
# Max depth: 4^2 = 16 leaves fit; 17 are refused whole.
run init "$WORK/small" --max-depth 2
head -c $((17 * 32)) "$LEAVES" >"$WORK/seventeen.bin"
expect_exit 2 "insert past --max-depth" insert "$WORK/small" --leaves "$WORK/seventeen.bin"
run info "$WORK/small" --json
[[ "$(json_field "$OUT" size)" == 0 ]] && pass || fail "a batch past max depth changed the database"
head -c $((16 * 32)) "$LEAVES" | "$BIN" insert "$WORK/small" --leaves - >/dev/null 2>&1
expect_output "16 leaves fit max depth 2" "$("$BIN" root --leaves "$LEAVES" --at 16)" root --db "$WORK/small"

# --- issue 9: reliability ------------------------------------------------------
# A missing or short live log named by meta is damage, never an empty log.
R="$WORK/rel"
"$BIN" init "$R" >/dev/null 2>&1
head -c $((500 * 32)) "$LEAVES" | "$BIN" insert "$R" --leaves - >/dev/null 2>&1
"$BIN" checkpoint "$R" >/dev/null 2>&1
tail -c $((500 * 32)) "$LEAVES" | "$BIN" insert "$R" --leaves - --durable >/dev/null 2>&1
cp -a "$R" "$WORK/rel-copy"
live="$(ls "$R" | grep '^wal-' | sort | head -1)"
for damage in rm truncate0 truncate1 truncate47 devzero; do
  rm -rf "$R" && cp -a "$WORK/rel-copy" "$R"
  case $damage in
    rm) rm "$R/$live" ;;
    truncate0) truncate -s 0 "$R/$live" ;;
    truncate1) truncate -s 1 "$R/$live" ;;
    truncate47) truncate -s 47 "$R/$live" ;;
    devzero) rm "$R/$live" && ln -s /dev/zero "$R/$live" ;;
  esac
  expect_exit 2 "live log damaged ($damage)" root --db "$R"
  grep -q "$live" "$ERR" || fail "live log damaged ($damage): the message does not name $live"
  expect_exit 2 "checkpoint after live log damage ($damage)" checkpoint "$R"
done
# A FIFO in place of a database file is refused at once (no hang).
for file in meta "$live"; do
  rm -rf "$R" && cp -a "$WORK/rel-copy" "$R"
  rm "$R/$file" && mkfifo "$R/$file"
  RC=0; timeout 20 "$BIN" root --db "$R" >"$OUT" 2>"$ERR" || RC=$?
  [[ $RC -eq 2 ]] && grep -q "not a regular file" "$ERR" && pass || fail "FIFO as $file: exit $RC, expected 2 naming it"
  RC=0; timeout 20 "$BIN" insert "$R" --leaves "$LEAVES" >"$OUT" 2>"$ERR" || RC=$?
  [[ $RC -eq 2 ]] && pass || fail "insert with a FIFO as $file: exit $RC, expected 2"
done
# init never deletes: a directory with anything of a database is refused,
# a non-empty one needs --force, and the advice never says to init over data.
rm -rf "$R" && cp -a "$WORK/rel-copy" "$R"
rm "$R/meta"
before="$(ls "$R" | sort | tr '\n' ' ')"
expect_exit 2 "root --db without meta" root --db "$R"
grep -q "init" "$ERR" && fail "the advice for a lost meta points at init"
grep -q "$live" "$ERR" || fail "a lost meta: the message does not name the remaining files"
expect_exit 2 "init over a database without meta" init "$R"
expect_exit 2 "init --force over a database without meta" init "$R" --force
[[ "$(ls "$R" | sort | tr '\n' ' ')" == "$before" ]] && pass || fail "init removed files: $(ls "$R")"
expect_exit 2 "init over an existing database" init "$WORK/rel-copy"
mkdir -p "$WORK/notempty" && echo x >"$WORK/notempty/notes.txt"
expect_exit 2 "init in a non-empty directory" init "$WORK/notempty"
run init "$WORK/notempty" --force
[[ $RC -eq 0 && -f "$WORK/notempty/notes.txt" ]] && pass || fail "init --force beside other files: exit $RC"
expect_exit 2 "insert into a missing database" insert "$WORK/none" --leaves "$LEAVES"
grep -q "rotortree init" "$ERR" || fail "a missing database: no advice to init"
# SPEC §3 exit 3: part of the input committed; the durable state on stderr.
rm -rf "$R" && "$BIN" init "$R" >/dev/null 2>&1
{ head -c $((300 * 32)) "$LEAVES"; printf 'xyz'; } | "$BIN" insert "$R" --leaves - --batch 100 >"$OUT" 2>"$ERR"; RC=$?
expected_root="$("$BIN" root --leaves "$LEAVES" --at 300 | cut -d' ' -f2)"
[[ $RC -eq 3 ]] && grep -q "size 300 root $expected_root" "$ERR" && pass \
  || fail "partial leaf after 300 committed: exit $RC, expected 3 with the durable state"
expect_output "the committed prefix is durable" "300 $expected_root" root --db "$R"
# Results that cannot be written fail the command.
if [[ -w /dev/full ]]; then
  "$BIN" insert "$R" --leaves "$LEAVES" --batch 100 --ack >/dev/full 2>"$ERR"; RC=$?
  [[ $RC -eq 3 ]] && grep -q "cannot write standard output" "$ERR" && pass \
    || fail "insert --ack >/dev/full: exit $RC, expected 3"
  "$BIN" root --db "$R" >/dev/full 2>"$ERR"; RC=$?
  [[ $RC -eq 2 ]] && pass || fail "root >/dev/full: exit $RC, expected 2"
  "$BIN" info "$R" >/dev/full 2>"$ERR"; RC=$?
  [[ $RC -eq 2 ]] && pass || fail "info >/dev/full: exit $RC, expected 2"
fi
# Bounded in-memory input: a clear message, no library exception text.
RC=0; timeout 60 "$BIN" root --leaves /dev/zero --max-leaves 100000 >"$OUT" 2>"$ERR" || RC=$?
[[ $RC -eq 2 ]] && grep -q "more than 100000 leaves" "$ERR" && ! grep -q "std::" "$ERR" && pass \
  || fail "root --leaves /dev/zero: exit $RC, expected 2 with the bound"
# SPEC §3: a checkpoint failing at the end of insert, after every leaf was made
# durable in the log, is a warning (exit 0), and nothing is lost. A directory
# where the checkpoint's first data file goes makes it fail.
W="$WORK/warn-db"
"$BIN" init "$W" >/dev/null 2>&1
mkdir "$W/data-L00-000000.dat"
run insert "$W" --leaves "$LEAVES"
[[ $RC -eq 0 ]] && grep -q "^warning: every leaf is durable in the log (size 1000 root" "$ERR" && pass \
  || fail "a failed close-time checkpoint after durable inserts: exit $RC, expected 0 with the warning"
expect_output "the leaves of a failed close-time checkpoint are in the log" "$("$BIN" root --leaves "$LEAVES")" root --db "$W"
rmdir "$W/data-L00-000000.dat"
expect_exit 0 "the checkpoint succeeds once the obstacle is gone" checkpoint "$W"
expect_output "and the root stays" "$("$BIN" root --leaves "$LEAVES")" root --db "$W"
# --- find, prove --leaf (SPEC §5), from a leaf file ---------------------------------
L5="$("$PYTHON" -c 'import hashlib,struct; print(hashlib.sha256(b"rotortree" + struct.pack("<Q", 5)).hexdigest())')"
L999="$("$PYTHON" -c 'import hashlib,struct; print(hashlib.sha256(b"rotortree" + struct.pack("<Q", 999)).hexdigest())')"
NOPE="$(printf 'ab%.0s' {1..32})"
expect_output "find: present leaves" "$L5 5
$L999 999" find --leaves "$LEAVES" "$L5" "$L999"
expect_exit 1 "find: an absent leaf" find --leaves "$LEAVES" "$L5" "$NOPE"
[[ "$(cat "$OUT")" == "$L5 5
$NOPE absent" ]] && pass || fail "find with an absent leaf: expected 'HEX 5' and 'HEX absent'"
expect_exit 2 "find: bad hex" find --leaves "$LEAVES" "xyz"
# A repeated leaf: the lowest index.
{ cat "$LEAVES"; head -c $((6 * 32)) "$LEAVES"; } >"$WORK/repeated.bin"
expect_output "find: the lowest index of a repeated leaf" "$L5 5" find --leaves "$WORK/repeated.bin" "$L5"
expect_output "prove --leaf = prove --index of its lowest index" \
  "$("$BIN" prove --leaves "$LEAVES" --index 5)" prove --leaves "$WORK/repeated.bin" --leaf "$L5" --size 1000
expect_exit 1 "prove --leaf: absent" prove --leaves "$LEAVES" --leaf "$NOPE"
[[ "$(cat "$ERR")" == "absent" && ! -s "$OUT" ]] && pass || fail "prove --leaf of an absent leaf: 'absent' on stderr only"
expect_exit 1 "prove --leaf: absent in the prefix" prove --leaves "$LEAVES" --leaf "$L999" --size 999
expect_exit 2 "prove: both --index and --leaf" prove --leaves "$LEAVES" --index 1 --leaf "$L5"
expect_exit 2 "prove: neither --index nor --leaf" prove --leaves "$LEAVES"

# --- leaf policies in a database (SPEC §5) ----------------------------------------
U="$WORK/unique-db"
expect_exit 2 "init: an unknown leaf policy" init "$U" --leaf-policy sometimes
expect_exit 0 "init --leaf-policy unique" init "$U" --leaf-policy unique
run info "$U" --json
"$PYTHON" -c 'import json,sys; sys.exit(json.load(open(sys.argv[1]))["leaf_policy"] != "unique")' "$OUT" && pass \
  || fail "info --json: leaf_policy unique"
run info "$U"; grep -qx "leaf_policy unique" "$OUT" && pass || fail "info: leaf_policy unique"
head -c $((600 * 32)) "$LEAVES" >"$WORK/first600.bin"
expect_exit 0 "insert into a unique database" insert "$U" --leaves "$WORK/first600.bin" --batch 256
expect_output "find --db: present leaves" "$L5 5" find --db "$U" "$L5"
expect_exit 1 "find --db: an absent leaf" find --db "$U" "$L999"
[[ "$(cat "$OUT")" == "$L999 absent" ]] && pass || fail "find --db: 'HEX absent'"
expect_output "prove --db --leaf = prove --index" "$("$BIN" prove --db "$U" --index 5)" prove --db "$U" --leaf "$L5"
expect_exit 1 "prove --db --leaf: absent" prove --db "$U" --leaf "$L999"
# A batch holding a leaf the database holds: refused whole, exit 1, named on stderr.
{ head -c $((700 * 32)) "$LEAVES" | tail -c $((100 * 32)); head -c $((6 * 32)) "$LEAVES" | tail -c 32; } >"$WORK/dup-in-first-batch.bin"
root600="$("$BIN" root --db "$U")"
expect_exit 1 "insert: a duplicate in the first batch" insert "$U" --leaves "$WORK/dup-in-first-batch.bin" --batch 256
grep -q "duplicate leaf $L5 at input position 100: the database already holds it at index 5" "$ERR" && pass \
  || fail "insert: the duplicate's leaf, input position and index on stderr"
expect_output "a refused batch changes nothing" "$root600" root --db "$U"
# Earlier batches were committed: exit 3, and they stay.
expect_exit 3 "insert: a duplicate after a committed batch" insert "$U" --leaves "$WORK/dup-in-first-batch.bin" --batch 50
grep -q "at input position 100" "$ERR" && grep -q "size 700 root" "$ERR" && pass \
  || fail "insert exit 3: the position and the durable state on stderr"
expect_output "the committed batches stay" "700 $("$BIN" root --leaves "$LEAVES" --at 700 | cut -d' ' -f2)" root --db "$U"
# A batch repeating a leaf of its own.
{ head -c $((800 * 32)) "$LEAVES" | tail -c $((2 * 32)); head -c $((800 * 32)) "$LEAVES" | tail -c 32; } >"$WORK/repeat.bin"
expect_exit 1 "insert: a leaf repeated inside the batch" insert "$U" --leaves "$WORK/repeat.bin"
grep -q "at input position 2: it repeats input position 1" "$ERR" && pass || fail "insert: both input positions of a repeat"
# Lookups need a database with an index; a policy is fixed at creation.
expect_exit 2 "find --db on a database of leaf policy none" find --db "$R" "$L5"
grep -q "leaf policy none" "$ERR" && pass || fail "find --db on policy none: the reason on stderr"

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
