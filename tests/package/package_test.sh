#!/usr/bin/env bash
# Usage: tests/package/package_test.sh BUILD_DIR
# Installs BUILD_DIR (a configured and built rotortree build) into a temporary
# prefix, then builds tests/package/consumer against it twice: as a CMake
# project (find_package(rotortree) + rotortree::rotortree) and directly with
# `pkg-config --cflags --libs --static rotortree`. Runs both and checks they agree.
set -euo pipefail
if [[ $# -ne 1 ]]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 2
fi
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
cache_get() { sed -n "s/^$1:[A-Z]*=//p" "$build/CMakeCache.txt"; }
cxx=$(cache_get CMAKE_CXX_COMPILER)
build_type=$(cache_get CMAKE_BUILD_TYPE)
sanitize=$(cache_get ROTORTREE_SANITIZE)
shared=$(cache_get BUILD_SHARED_LIBS)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rotortree-package.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix="$tmp/prefix"

echo "== cmake --install $build --prefix $prefix"
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log"
for f in bin/rotortree include/rotortree/rotortree.hpp include/rotortree/version.hpp; do
  [[ -e "$prefix/$f" ]] || { echo "missing after install: $f" >&2; exit 1; }
done
# Test scaffolding stays out of the package (headers and library symbols).
if grep -rlq "FaultInjectionEnv" "$prefix/include" || nm -C "$prefix"/lib*/librotortree.a 2>/dev/null | grep -q "FaultInjectionEnv"; then
  echo "the installed package holds the test scaffolding (FaultInjectionEnv)" >&2; exit 1
fi
# So do the engine's internals: the log's writer and reader, the file formats.
if grep -rlqE "class WalWriter \{|struct WalScan|struct Meta \{|class DbEngine" "$prefix/include"; then
  echo "the installed package declares engine internals (log writer/reader, file formats)" >&2; exit 1
fi
config=$(find "$prefix" -name rotortreeConfig.cmake -print -quit)
pcfile=$(find "$prefix" -name rotortree.pc -print -quit)
[[ -n "$config" && -n "$pcfile" ]] || { echo "missing rotortreeConfig.cmake or rotortree.pc" >&2; exit 1; }
echo "installed: ${config#$prefix/}, ${pcfile#$prefix/}"
"$prefix/bin/rotortree" --version

# Sanitized builds need the same runtime flags in the consumer.
extra_flags=""
if [[ -n "$sanitize" ]]; then
  extra_flags="-fsanitize=$sanitize -fno-omit-frame-pointer"
fi

echo "== find_package(rotortree): configure, build and run tests/package/consumer"
cmake -S "$here/consumer" -B "$tmp/consumer-build" \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_CXX_COMPILER="$cxx" \
  -DCMAKE_BUILD_TYPE="${build_type:-Release}" \
  -DCMAKE_CXX_FLAGS="$extra_flags" -DCMAKE_EXE_LINKER_FLAGS="$extra_flags" >"$tmp/configure.log" \
  || { cat "$tmp/configure.log"; exit 1; }
cmake --build "$tmp/consumer-build" -j2
out_cmake=$("$tmp/consumer-build/consumer" "$tmp/leaves.bin")
echo "$out_cmake"
tool_root=$("$prefix/bin/rotortree" root --leaves "$tmp/leaves.bin")
echo "installed tool: rotortree root --leaves: $tool_root"
case "$out_cmake" in
  *"size ${tool_root%% *}, root ${tool_root##* },"*) ;;
  *) echo "the installed tool and the installed library disagree on the root" >&2; exit 1 ;;
esac

echo "== pkg-config --static: compile tests/package/consumer/main.cpp directly"
export PKG_CONFIG_PATH="$(dirname "$pcfile")${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
pkg_flags=$(pkg-config --cflags --libs --static rotortree)
echo "pkg-config --cflags --libs --static rotortree: $pkg_flags"
rpath=""
if [[ "$shared" =~ ^(ON|on|1|TRUE|true|YES|yes)$ ]]; then
  rpath="-Wl,-rpath,$(pkg-config --variable=libdir rotortree)"
fi
# shellcheck disable=SC2086  # the flags are words
"$cxx" -std=c++20 -O2 $extra_flags "$here/consumer/main.cpp" -o "$tmp/consumer-pkgconfig" $pkg_flags $rpath
out_pc=$("$tmp/consumer-pkgconfig")
echo "$out_pc"

if [[ "$out_cmake" != "$out_pc" ]]; then
  echo "the two consumers disagree" >&2
  exit 1
fi
case "$out_cmake" in
  *"proof of leaf 42 valid"*) ;;
  *) echo "unexpected output: $out_cmake" >&2; exit 1 ;;
esac
echo "package test passed"
