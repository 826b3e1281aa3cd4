#!/bin/bash
# scripts/demo.sh - install the dependencies, build, and run the examples (the `demo`
# target). Run as root on Debian 12 from anywhere in the repo:  bash scripts/demo.sh
# VOW_BUILD_DIR chooses the build directory (default: build).
set -euo pipefail
cd "$(dirname "$0")/.."
build="${VOW_BUILD_DIR:-build}"
scripts/setup.sh
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@"
cmake --build "$build" -j2
cmake --build "$build" --target demo
