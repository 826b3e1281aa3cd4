#!/usr/bin/env bash
# scripts/tsan.sh - vow's threads under ThreadSanitizer.
#
# Criterion's binaries cannot run under TSan (Criterion#274), so the threaded scenarios of
# tests/thread_scenarios.h also build as a plain program (tests/tsan_thread.c) with the
# library's sources, with clang -fsanitize=thread, and run once per libev backend. A planted
# data race (tests/canary_race.c) must be reported, or this fails: the proof that TSan and
# its reports work here. Usage: bash scripts/tsan.sh [BUILD_DIR]   (default: build-tsan)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh # clang and its TSan runtime (libclang-rt-dev), libev-dev, python3
out=${1:-build-tsan}
mkdir -p "$out"
cc=${CC_TSAN:-clang}
flags=(-fsanitize=thread -g -O1 -std=c11 -D_GNU_SOURCE -pthread -Iinclude -Isrc -Ipromise -Itests)
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 ${TSAN_OPTIONS:-}"

"$cc" "${flags[@]}" -o "$out/canary_race" tests/canary_race.c
if "$out/canary_race" >"$out/canary_race.log" 2>&1; then
    echo "tsan.sh: the planted race was not reported: TSan does not work here" >&2
    exit 1
fi
grep -q "WARNING: ThreadSanitizer: data race" "$out/canary_race.log" || {
    echo "tsan.sh: the canary failed without TSan's report:" >&2
    cat "$out/canary_race.log" >&2
    exit 1
}
echo "tsan.sh: the planted data race is reported"

"$cc" "${flags[@]}" -o "$out/tsan_thread" tests/tsan_thread.c src/*.c promise/*.c -lev -lm
backends=$(python3 - <<'PY'
import ctypes, ctypes.util
ev = ctypes.CDLL(ctypes.util.find_library("ev"))
bits = ev.ev_recommended_backends() | (ev.ev_supported_backends() & 0x1)
print(" ".join(n for b, n in ((1, "select"), (2, "poll"), (4, "epoll"), (8, "kqueue")) if bits & b))
PY
)
for b in $backends; do
    echo "tsan.sh: backend $b"
    VOW_BACKEND=$b "$out/tsan_thread"
done
