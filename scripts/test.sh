#!/usr/bin/env bash
# The test command: builds and runs every test, three times.
#
#   bash scripts/test.sh
#
#  1. release  build/       Release build of everything; the whole suite (ctest, all labels).
#  2. asan     build-asan/  AddressSanitizer + UndefinedBehaviorSanitizer, tests only; the
#                           suite minus what does not test this build's code (node cross-
#                           check, packaging, docs) and fewer RapidCheck cases.
#  3. tsan     build-tsan/  ThreadSanitizer (clang when available), tests only; labels
#                           `concurrent`, `db` and `server`. oneTBB is not built with TSan: see
#                           tests/tsan.supp and tests/tsan-ignorelist.txt.
#  4. fuzz     build-fuzz/  clang + libFuzzer: a short run of the log and checkpoint
#                           parser fuzzer (label `fuzz`); skipped without clang.
#
# Prints one summary line, `test.sh: P passed, F failed, S skipped (...)`, and exits
# non-zero if any build or test failed. Every stage runs even if an earlier one failed.
#
# Environment:
#   JOBS               parallel build and test jobs (default: nproc)
#   STAGES             stages to run (default: "release asan tsan fuzz")
#   RC_PARAMS_RELEASE  RapidCheck parameters of the release stage (default max_success=100)
#   RC_PARAMS_SANITIZE RapidCheck parameters of the sanitizer stages (default max_success=15)
#   SKIP_DEPS=1        do not run scripts/install-deps.sh
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

jobs=${JOBS:-$(nproc)}
stages=${STAGES:-release asan tsan fuzz}
rc_release=${RC_PARAMS_RELEASE:-max_success=100}
rc_sanitize=${RC_PARAMS_SANITIZE:-max_success=15}

if [[ ${SKIP_DEPS:-0} != 1 ]]; then
  bash scripts/install-deps.sh || { echo "test.sh: installing dependencies failed" >&2; exit 1; }
fi

total_passed=0 total_failed=0 total_skipped=0
stage_notes=()
script_start=$SECONDS

# Counts of a ctest JUnit report, "TESTS FAILURES SKIPPED", then the failed tests' names
# (the summary at the end of a long log names them).
junit_counts() {
  python3 - "$1" <<'EOF'
import sys, xml.etree.ElementTree as ET
try:
    suite = ET.parse(sys.argv[1]).getroot()
except Exception:
    print("0 0 0"); sys.exit()
if suite.tag != "testsuite":
    suite = suite.find("testsuite")
get = lambda k: int(suite.get(k, "0") or 0)
failed = [case.get("name", "?").replace(" ", "_") for case in suite.iter("testcase")
          if case.find("failure") is not None or case.find("error") is not None]
print(get("tests"), get("failures") + get("errors"), get("skipped") + get("disabled"), *failed)
EOF
}

# run_stage NAME BUILD_DIR, with the arrays cmake_args, targets (empty: all),
# ctest_args and stage_env (VAR=VALUE for configure, build and ctest).
run_stage() {
  local name=$1 dir=$2
  local start=$SECONDS
  echo
  echo "=== test.sh: stage $name ($dir) ==="
  if ! env "${stage_env[@]}" cmake -S . -B "$dir" --log-level=WARNING "${cmake_args[@]}"; then
    echo "test.sh: stage $name: configure FAILED"
    total_failed=$((total_failed + 1))
    stage_notes+=("$name: configure failed")
    return
  fi
  local target_args=()
  for target in "${targets[@]}"; do target_args+=(--target "$target"); done
  # Keep going past a target that fails to build: the tests of everything else still run
  # (those of the broken target fail as not found).
  local keep_going=(-k)
  grep -q '^CMAKE_GENERATOR:INTERNAL=Ninja' "$dir/CMakeCache.txt" && keep_going=(-k 0)
  local build_failed=0
  if ! env "${stage_env[@]}" cmake --build "$dir" -j"$jobs" "${target_args[@]}" -- "${keep_going[@]}"; then
    echo "test.sh: stage $name: build FAILED (running the tests that were built)"
    build_failed=1
  fi
  local built=$SECONDS
  local junit="$root/$dir/test-results.xml"
  rm -f "$junit"
  env "${stage_env[@]}" ctest --test-dir "$dir" --output-on-failure -j"$jobs" \
    --output-junit "$junit" "${ctest_args[@]}"
  local status=$?
  local tests failures skipped failed_names
  read -r tests failures skipped failed_names < <(junit_counts "$junit")
  if [[ $tests -eq 0 ]]; then
    echo "test.sh: stage $name: no tests ran (ctest exit $status)"
    failures=1
  elif [[ $status -ne 0 && $failures -eq 0 ]]; then
    failures=1  # ctest failed without a failing test (e.g. a test executable not found)
  fi
  local passed=$((tests - failures - skipped))
  failures=$((failures + build_failed))  # a failed build counts as one failure
  total_passed=$((total_passed + passed))
  total_failed=$((total_failed + failures))
  total_skipped=$((total_skipped + skipped))
  local note="$name: $passed passed, $failures failed, $skipped skipped; build $((built - start))s$([[ $build_failed == 1 ]] && echo ' (FAILED)'), tests $((SECONDS - built))s"
  [[ -n $failed_names ]] && note+="; failed: $failed_names"
  stage_notes+=("$note")
  echo "test.sh: stage $note"
}

# A build directory configured with another compiler cannot switch: start afresh.
use_compiler() {
  local dir=$1 compiler=$2
  if [[ -f $dir/CMakeCache.txt ]] && ! grep -q "^CMAKE_CXX_COMPILER:[A-Z]*=.*$compiler\$" "$dir/CMakeCache.txt"; then
    rm -rf "$dir"
  fi
}

sanitizer_build=(-DCMAKE_BUILD_TYPE=RelWithDebInfo  # -O1 with line tables: readable reports,
                 "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1"  # far shorter builds than -O3
                 "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -g1"
                 -DROTORTREE_BUILD_BENCH=OFF -DROTORTREE_BUILD_EXAMPLES=OFF)

for stage in $stages; do
  cmake_args=() targets=() ctest_args=() stage_env=()
  case $stage in
    release)
      cmake_args=(-DCMAKE_BUILD_TYPE=Release)
      stage_env=(RC_PARAMS="$rc_release")
      run_stage release build
      ;;
    asan)
      cmake_args=("${sanitizer_build[@]}" -DROTORTREE_SANITIZE=address,undefined)
      # Not this build's code: the node cross-check, packaging, docs; fuzzers have their own.
      ctest_args=(-LE "external|package|docs|fuzz")
      stage_env=(RC_PARAMS="$rc_sanitize"
                 ASAN_OPTIONS="detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1"
                 UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
      run_stage asan build-asan
      ;;
    tsan)
      cmake_args=("${sanitizer_build[@]}" -DROTORTREE_SANITIZE=thread)
      if command -v clang++ >/dev/null 2>&1 && command -v clang >/dev/null 2>&1; then
        # clang can leave oneTBB's header code uninstrumented (tests/tsan-ignorelist.txt).
        use_compiler build-tsan clang++
        stage_env=(CC=clang CXX=clang++)
        cmake_args+=("-DCMAKE_CXX_FLAGS=-fsanitize-ignorelist=$root/tests/tsan-ignorelist.txt")
      else
        use_compiler build-tsan 'c++'
      fi
      targets=(rotortree_concurrent_tests rotortree_leaf_index_concurrent_tests rotortree_tsan_canary)
      [[ -f tests/db/CMakeLists.txt ]] && targets+=(rotortree_db_tests rotortree_db_leaf_index_tests rotortree_wal_tests rotortree_cli)
      ctest_args=(-L "concurrent|db|server" -LE "fuzz|external")
      stage_env+=(RC_PARAMS="$rc_sanitize"
                  TSAN_OPTIONS="suppressions=$root/tests/tsan.supp:halt_on_error=1:second_deadlock_stack=1")
      run_stage tsan build-tsan
      ;;
    fuzz)
      if command -v clang++ >/dev/null 2>&1 && command -v clang >/dev/null 2>&1; then
        use_compiler build-fuzz clang++
        stage_env=(CC=clang CXX=clang++)
        cmake_args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DROTORTREE_BUILD_BENCH=OFF -DROTORTREE_BUILD_EXAMPLES=OFF)
        targets=(rotortree_fuzz_recovery)
        ctest_args=(-L fuzz)
        run_stage fuzz build-fuzz
      else
        echo "test.sh: stage fuzz skipped: no clang"
        stage_notes+=("fuzz: skipped (no clang)")
      fi
      ;;
    *)
      echo "test.sh: unknown stage '$stage' (expected release, asan, tsan, fuzz)" >&2
      total_failed=$((total_failed + 1))
      ;;
  esac
done

echo
for note in "${stage_notes[@]}"; do echo "  $note"; done
echo "test.sh: $total_passed passed, $total_failed failed, $total_skipped skipped ($((SECONDS - script_start))s)"
[[ $total_failed -eq 0 ]]
