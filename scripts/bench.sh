#!/bin/bash
# scripts/bench.sh - build the benchmarks at -O2 without sanitizers and run W1-W7, W10-W12 on
# vow, Node.js, Python asyncio and the C floors side by side (bench/README.md). Run as root on
# Debian 12 from anywhere in the repo (scripts/setup.sh installs what is missing):
#
#   bash scripts/bench.sh                  the full comparison, 5 rounds (about 6 minutes on 2 cores)
#   bash scripts/bench.sh --selftest       small N: every program passes its own check, and fails it
#                                          with --inject-wrong (CI runs this; about 20 s)
#   bash scripts/bench.sh --rounds 7 --workloads w1,w3 --n w1=100000 --markdown out.md
#                                          any other arguments go to bench/compare.py
#   bash scripts/bench.sh --callgrind [--workloads w1]
#                                          instructions per step of vow and its floor under
#                                          callgrind, top functions (bench/callgrind.py; valgrind)
#
# The build directory is build-bench (VOW_BENCH_BUILD_DIR overrides it). Do not run two of
# these at once, nor beside other heavy work, if the figures are to mean anything.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${VOW_BENCH_BUILD_DIR:-build-bench}"
scripts/setup.sh libuv1-dev # libuv: W10's comparison (uv-bench), a bench-only dependency
for tool in node python3; do
    command -v "$tool" >/dev/null 2>&1 || { echo "bench.sh: $tool is needed" >&2; exit 1; }
done
# Release, but -O2 rather than CMake's -O3: issue 7 measures at -O2 (the library too).
# -g for callgrind's function names; it does not change the code GCC generates.
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS_RELEASE="-O2 -g -DNDEBUG" \
    -DVOW_BUILD_BENCH=ON -DVOW_BUILD_TESTS=OFF -DVOW_BUILD_EXAMPLES=OFF -DVOW_SANITIZE=OFF \
    >/dev/null
targets="vow-bench floor-naive floor-libev uv-bench vow-fiber-ucontext"
# W11s's asm program exists when the library's back end is asm (bench/CMakeLists.txt).
grep -q '^VOW_FIBER:STRING=asm$' "$build/CMakeCache.txt" && targets="$targets vow-fiber-asm"
# shellcheck disable=SC2086 # the list splits on purpose
cmake --build "$build" -j2 --target $targets >/dev/null
if [ "${1:-}" = "--callgrind" ]; then
    shift
    if ! command -v valgrind >/dev/null 2>&1; then
        [ "$(id -u)" -eq 0 ] || { echo "bench.sh: valgrind is needed (run as root to install it)" >&2; exit 1; }
        echo "bench.sh: installing valgrind"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends valgrind \
            >/dev/null || { apt-get update -qq >/dev/null &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends valgrind >/dev/null; }
    fi
    exec python3 bench/callgrind.py --bin "$build/bench" "$@"
fi
exec python3 bench/compare.py --bin "$build/bench" "$@"
