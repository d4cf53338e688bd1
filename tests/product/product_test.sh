#!/usr/bin/env bash
# End-to-end tests of the product commands (label `cli`):
#   product_test.sh ROTORTREE demo|show|report
set -euo pipefail
tool="$1"
what="$2"
work="$(mktemp -d "${TMPDIR:-/tmp}/rotortree-product-test-XXXXXX")"
trap 'rm -rf "$work"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

# xml_ok FILE: the file is well-formed XML (python3, else xmllint; else skipped).
xml_ok() {
  if command -v python3 >/dev/null; then
    python3 -c 'import sys, xml.etree.ElementTree as E; r = E.parse(sys.argv[1]).getroot(); assert r.tag.endswith("svg"), r.tag' "$1"
  elif command -v xmllint >/dev/null; then
    xmllint --noout "$1"
  else
    echo "note: neither python3 nor xmllint: XML well-formedness not checked"
  fi
}

case "$what" in
demo)
  out="$work/demo.txt"
  "$tool" demo --leaves 20000 >"$out" 2>"$work/demo.err" || { cat "$out" "$work/demo.err"; fail "demo exited $?"; }
  grep -q '^Summary' "$out" || fail "no summary"
  grep -q 'bulk load, durable' "$out" || fail "no bulk load figure"
  grep -q 'resident bytes per leaf' "$out" || fail "no resident figure"
  grep -q '^All [0-9]* checks passed\.' "$out" || fail "checks did not all pass"
  if grep -q FAILED "$out"; then fail "a check failed"; fi
  # The default directory is removed; --dir with --keep leaves a database behind.
  dir=$(sed -n 's/^    directory \([^ ]*\) .*/\1/p' "$out")
  [ -n "$dir" ] && [ ! -e "$dir" ] || fail "the temporary directory $dir was not removed"
  "$tool" demo --leaves 5000 --dir "$work/kept" --keep >"$work/keep.txt" 2>&1 || fail "demo --keep failed"
  [ -f "$work/kept/meta" ] || fail "--keep did not keep the database"
  "$tool" info "$work/kept" >/dev/null || fail "the kept database does not open"
  # A non-empty directory is refused, exit 2, nothing touched.
  if "$tool" demo --leaves 5000 --dir "$work/kept" >"$work/refuse.txt" 2>&1; then fail "demo into a non-empty directory succeeded"; fi
  grep -q 'not empty' "$work/refuse.txt" || fail "no clear message for a non-empty --dir"
  ;;
show)
  head -c 320 /dev/urandom >"$work/ten.bin"
  "$tool" show --leaves "$work/ten.bin" --index 3 --svg "$work/ten.svg" >"$work/show.txt" 2>"$work/show.err" \
    || { cat "$work/show.txt" "$work/show.err"; fail "show exited non-zero"; }
  cat "$work/show.txt"
  grep -q '^root' "$work/show.txt" || fail "no root row"
  grep -q '^level 0' "$work/show.txt" || fail "no leaf row"
  grep -q '\*' "$work/show.txt" || fail "the proof path is not marked"
  grep -q 'proof of leaf 3 .*: valid' "$work/show.txt" || fail "the proof is not shown as valid"
  grep -q '( ' "$work/show.txt" || fail "the partial group of 2 is not marked"
  xml_ok "$work/ten.svg" || fail "the SVG is not well-formed XML"
  grep -q 'stroke-dasharray' "$work/ten.svg" || fail "the SVG marks no partial group"
  if command -v rsvg-convert >/dev/null; then
    rsvg-convert "$work/ten.svg" -o "$work/ten.png" && [ -s "$work/ten.png" ] || fail "rsvg-convert cannot render the SVG"
  fi
  # A lifted node: 9 leaves of arity 4 (the ninth is carried up alone).
  head -c 288 /dev/urandom >"$work/nine.bin"
  "$tool" show --leaves "$work/nine.bin" --arity 2 --index 8 >"$work/nine.txt" || fail "show of 9 leaves failed"
  grep -q '\^' "$work/nine.txt" || fail "no lifted node marked"
  grep -q 'lifted: no siblings' "$work/nine.txt" || fail "the proof's lifted levels are not shown"
  # The same tree from a database.
  "$tool" init "$work/db" >/dev/null
  "$tool" insert "$work/db" --leaves "$work/ten.bin" >/dev/null
  "$tool" show --db "$work/db" --index 3 >"$work/db.txt" || fail "show --db failed"
  diff <(sed -n '1,5p' "$work/show.txt") <(sed -n '1,5p' "$work/db.txt") || fail "show --db draws another tree"
  # Too large: a clear refusal, exit 2.
  head -c $((513 * 32)) /dev/zero >"$work/big.bin"
  set +e
  "$tool" show --leaves "$work/big.bin" >/dev/null 2>"$work/big.err"
  code=$?
  set -e
  [ "$code" -eq 2 ] || fail "show of 513 leaves exited $code, expected 2"
  grep -q 'at most 512 leaves' "$work/big.err" || fail "no clear message for a large tree"
  ;;
report)
  if ! command -v gnuplot >/dev/null; then echo "gnuplot is not installed: plots are not checked"; fi
  ROTORTREE_REPORT_MAX_LEAVES=100000 "$tool" bench --report "$work/report" --quick 2>"$work/report.err" \
    || { cat "$work/report.err"; fail "bench --report exited non-zero"; }
  cat "$work/report.err"
  [ -s "$work/report/results.csv" ] || fail "no results.csv"
  rows=$(($(wc -l <"$work/report/results.csv") - 1))
  [ "$rows" -ge 9 ] || fail "results.csv has $rows runs"
  head -1 "$work/report/results.csv" | grep -q 'insert_many_leaves_per_sec' || fail "results.csv lacks the SPEC fields"
  grep -q '^## Key figures' "$work/report/summary.md" || fail "summary.md has no key figures"
  grep -q '`rotortree bench --json' "$work/report/summary.md" || fail "summary.md does not show the commands"
  if command -v gnuplot >/dev/null; then
    for plot in throughput_vs_size proof_latency_vs_size throughput_vs_arity throughput_vs_threads; do
      [ -s "$work/report/$plot.png" ] || fail "no $plot.png"
      grep -q "($plot.png)" "$work/report/summary.md" || fail "$plot.png is not embedded in summary.md"
    done
  fi
  ;;
*)
  fail "unknown test $what"
  ;;
esac
echo "ok: $what"
