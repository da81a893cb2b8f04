#!/usr/bin/env bash
# Builds (if needed) and runs the default test suite: every ctest except those labelled `slow` or
# `fuzz` (the fuzz targets exist only in a -DGREENSED_FUZZ=ON clang build, see fuzz/CMakeLists.txt).
# Pass `--all` to include the slow ones; other arguments go to ctest (e.g. -L golden).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)"
args=(-LE 'slow|fuzz')
if [ "${1:-}" = "--all" ]; then args=(); shift; fi
ctest --test-dir build --output-on-failure -j "$(nproc)" "${args[@]}" "$@"
