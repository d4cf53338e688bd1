# shellcheck shell=bash
# Sourced by the cross-check scripts of this folder: `require_node` skips
# (exit 77) without a usable node/npm, then installs the pinned packages of
# package-lock.json into node_modules with `npm ci` unless they are current.
# Expects $HERE (this folder) and a `skip MESSAGE` function.

require_node() {
  command -v node >/dev/null 2>&1 || skip "node not found"
  command -v npm >/dev/null 2>&1 || skip "npm not found"
  # @noble/hashes 2.x and @semaphore-protocol 4.x declare node >= 20.19.0.
  node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' \
    || skip "node $(node --version) is older than v20.19.0"

  # npm writes node_modules/.package-lock.json on install: older than the
  # lockfile means node_modules predates a dependency change.
  if [[ ! -f "$HERE/node_modules/.package-lock.json" || "$HERE/package-lock.json" -nt "$HERE/node_modules/.package-lock.json" ]]; then
    local log
    log="$(mktemp)"
    if ! (cd "$HERE" && npm ci --no-audit --no-fund) >"$log" 2>&1; then
      cat "$log" >&2
      rm -f "$log"
      rm -rf "$HERE/node_modules"
      skip "npm ci failed in $HERE"
    fi
    rm -f "$log"
  fi
}
