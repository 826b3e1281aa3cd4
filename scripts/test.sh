#!/bin/bash
# scripts/test.sh - install the dependencies, build, and run the whole test suite
# (every tests/test_*.c on every libev backend this machine recommends).
# Run as root on Debian 12 from anywhere in the repo:  bash scripts/test.sh
# Extra arguments go to the configure step (bash scripts/test.sh -DVOW_SANITIZE=ON).
# VOW_BUILD_DIR chooses the build directory (default: build).
set -euo pipefail
cd "$(dirname "$0")/.."
build="${VOW_BUILD_DIR:-build}"
scripts/setup.sh
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug "$@"
cmake --build "$build" -j2
ctest --test-dir "$build" --output-on-failure --no-tests=error -j2
