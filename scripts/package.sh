#!/usr/bin/env bash
# Build the Debian package of rotortree into dist/:
#   bash scripts/package.sh            -> dist/rotortree_VERSION-1_ARCH.deb
# Environment: BUILD_DIR (default build-deb), JOBS (default nproc),
# CMAKE_ARGS (extra configure arguments, e.g. -DBUILD_SHARED_LIBS=ON).
# Needs what the build needs (cmake, g++, libtbb-dev, libssl-dev, libisal-dev,
# nlohmann-json3-dev, librust-blake3-dev, pkg-config) plus dpkg-dev
# (dpkg-shlibdeps computes the run-time dependencies). See docs/packaging.md.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build-deb}
jobs=${JOBS:-$(nproc)}
# shellcheck disable=SC2086  # CMAKE_ARGS is a list of words
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
  -DROTORTREE_BUILD_TESTS=OFF -DROTORTREE_BUILD_BENCH=OFF -DROTORTREE_BUILD_EXAMPLES=OFF \
  --log-level=WARNING ${CMAKE_ARGS:-}
cmake --build "$build" -j"$jobs" --target rotortree rotortree_cli
(cd "$build" && cpack -G DEB)
mkdir -p dist
deb=$(ls -t "$build"/rotortree_*.deb | head -n1)
cp "$deb" dist/
echo "== dist/$(basename "$deb")"
dpkg-deb --info "dist/$(basename "$deb")" | sed -n '/Package:/,$p'
