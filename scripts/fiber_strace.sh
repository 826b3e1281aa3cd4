#!/usr/bin/env bash
# scripts/fiber_strace.sh - the asm context switch makes no system call per switch.
#
# tests/fiber/switch_count.c runs 10,000 await round trips (20,000 switches: each await is
# of a promise still pending, which a microtask fulfils) with vow_run_main. It is built twice, -DVOW_FIBER=asm and -DVOW_FIBER=ucontext, and each run
# is counted by `strace -f -c -e trace=rt_sigprocmask`:
#   asm        fewer than 100 rt_sigprocmask calls (none per switch)
#   ucontext   at least 10,000 (swapcontext saves and restores the signal mask at every
#              switch): the proof that the count sees the calls when they are there
# Each binary is also checked to hold the switch it claims (the asm back end's vow__fstart,
# its fibers' first code, or swapcontext).
#
#   bash scripts/fiber_strace.sh [BUILD_DIR]     (default: a temporary directory)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh strace

if [ $# -ge 1 ]; then
    out=$1
    mkdir -p "$out"
else
    out=$(mktemp -d "${TMPDIR:-/tmp}/vow-fiber-strace.XXXXXX")
    trap 'rm -rf "$out"' EXIT
fi
rounds=10000

# count VARIANT: builds switch_count with VOW_FIBER=VARIANT, runs it under strace, prints
# the number of rt_sigprocmask calls.
count() {
    local variant=$1 b="$out/$1"
    cmake -S . -B "$b" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVOW_FIBER="$variant" \
        -DVOW_BUILD_TESTS=ON -DVOW_BUILD_EXAMPLES=OFF >"$b.configure.log" 2>&1 || {
        cat "$b.configure.log" >&2
        return 1
    }
    cmake --build "$b" -j2 --target switch_count >"$b.build.log" 2>&1 || {
        cat "$b.build.log" >&2
        return 1
    }
    local bin="$b/tests/fiber/switch_count" want
    [ "$variant" = asm ] && want=vow__fstart || want=swapcontext
    nm "$bin" >"$b.nm"
    grep -q " $want" "$b.nm" || {
        echo "fiber_strace.sh: the $variant build has no $want" >&2
        return 1
    }
    strace -f -c -e trace=rt_sigprocmask -o "$b.strace" "$bin" "$rounds" >"$b.run.log" 2>&1 || {
        cat "$b.run.log" "$b.strace" >&2
        echo "fiber_strace.sh: switch_count ($variant) failed" >&2
        return 1
    }
    grep -q "^switch_count: $rounds awaits" "$b.run.log" || {
        cat "$b.run.log" >&2
        return 1
    }
    # strace -c prints no table at all when no call was made.
    awk '$NF == "rt_sigprocmask" { n = $4 } END { print n + 0 }' "$b.strace"
}

asm=$(count asm)
ucontext=$(count ucontext)
echo "fiber_strace.sh: $rounds await round trips: rt_sigprocmask calls: asm $asm, ucontext $ucontext"
if [ "$ucontext" -lt "$rounds" ]; then
    echo "fiber_strace.sh: the ucontext build made only $ucontext calls (expected >= $rounds):" \
        "the measurement does not see them" >&2
    exit 1
fi
if [ "$asm" -ge 100 ]; then
    echo "fiber_strace.sh: the asm build made $asm rt_sigprocmask calls (expected < 100)" >&2
    exit 1
fi
echo "fiber_strace.sh: ok"
