#!/usr/bin/env bash
# scripts/fiber_cross.sh - the hand-written context switch (src/fiber_switch.c) on both of
# its CPUs: tests/fiber/switch_test.c built natively (gcc and clang) and for AArch64 with
# Debian's cross compiler (static), run under qemu-aarch64-static. Before that, planted
# defects (VOW_PLANT_SWITCH, see the test's top comment) must each make the check they
# target FAIL: the proof that the test can see a broken switch on that CPU.
#
#   bash scripts/fiber_cross.sh [BUILD_DIR]     (default: a temporary directory)
#
# Needs gcc-aarch64-linux-gnu, libc6-dev-arm64-cross and qemu-user-static (scripts/setup.sh
# installs whatever is missing, as root). On an AArch64 host the native build is the
# AArch64 one and x86-64 is not tested (said so).
set -euo pipefail
cd "$(dirname "$0")/.."

host=$(uname -m)
if [ "$host" = x86_64 ]; then
    scripts/setup.sh gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static
else
    scripts/setup.sh
fi

if [ $# -ge 1 ]; then
    out=$1
    mkdir -p "$out"
else
    out=$(mktemp -d "${TMPDIR:-/tmp}/vow-fiber-cross.XXXXXX")
    trap 'rm -rf "$out"' EXIT
fi
src=tests/fiber/switch_test.c
flags=(-O2 -g -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror)

# build NAME CC [FLAGS...]: $out/NAME from the test.
build() {
    local name=$1 cc=$2
    shift 2
    "$cc" "${flags[@]}" "$@" "$src" -lm -o "$out/$name"
}

# run_ok NAME RUNNER...: the test must pass every check.
run_ok() {
    local name=$1
    shift
    echo "fiber_cross.sh: $name"
    if ! "$@" "$out/$name" >"$out/$name.log" 2>&1; then
        cat "$out/$name.log"
        echo "fiber_cross.sh: $name FAILED" >&2
        return 1
    fi
    cat "$out/$name.log"
    grep -q '^5 passed, 0 failed$' "$out/$name.log" || {
        echo "fiber_cross.sh: $name did not run all 5 checks" >&2
        return 1
    }
}

# run_planted NAME CHECK RUNNER...: the planted build must fail, and CHECK must be the
# check that says so.
run_planted() {
    local name=$1 check=$2
    shift 2
    if "$@" "$out/$name" "$check" >"$out/$name.log" 2>&1; then
        cat "$out/$name.log"
        echo "fiber_cross.sh: planted defect $name was NOT caught by $check" >&2
        return 1
    fi
    grep -q "^FAIL $check" "$out/$name.log" || {
        cat "$out/$name.log"
        echo "fiber_cross.sh: $name failed, but not in $check" >&2
        return 1
    }
    echo "fiber_cross.sh: planted defect $name caught by $check"
}

native=$host
[ "$host" = x86_64 ] && native=x86-64
# Planted defects first: a test that cannot fail proves nothing.
case "$host" in
    x86_64)
        build plant-x86-64-register gcc -DVOW_PLANT_SWITCH=1
        build plant-x86-64-rounding gcc -DVOW_PLANT_SWITCH=2
        build plant-x86-64-alignment gcc -DVOW_PLANT_SWITCH=4
        run_planted plant-x86-64-register callee_saved
        run_planted plant-x86-64-register register_churn
        run_planted plant-x86-64-rounding fp_control
        run_planted plant-x86-64-alignment alignment
        ;;
    aarch64)
        build plant-aarch64-register gcc -DVOW_PLANT_SWITCH=1
        build plant-aarch64-rounding gcc -DVOW_PLANT_SWITCH=2
        build plant-aarch64-d8 gcc -DVOW_PLANT_SWITCH=3
        run_planted plant-aarch64-register callee_saved
        run_planted plant-aarch64-rounding fp_control
        run_planted plant-aarch64-d8 callee_saved
        ;;
    *)
        echo "fiber_cross.sh: no hand-written switch for $host" >&2
        exit 1
        ;;
esac
build "switch-$native-gcc" gcc
run_ok "switch-$native-gcc"
if command -v clang >/dev/null 2>&1; then
    build "switch-$native-clang" clang
    run_ok "switch-$native-clang"
fi

if [ "$host" = x86_64 ]; then
    xcc=aarch64-linux-gnu-gcc
    qemu=qemu-aarch64-static
    build plant-aarch64-register $xcc -static -DVOW_PLANT_SWITCH=1
    build plant-aarch64-rounding $xcc -static -DVOW_PLANT_SWITCH=2
    build plant-aarch64-d8 $xcc -static -DVOW_PLANT_SWITCH=3
    run_planted plant-aarch64-register callee_saved $qemu
    run_planted plant-aarch64-register register_churn $qemu
    run_planted plant-aarch64-rounding fp_control $qemu
    run_planted plant-aarch64-d8 callee_saved $qemu
    run_planted plant-aarch64-d8 register_churn $qemu
    build switch-aarch64-gcc $xcc -static
    readelf -h "$out/switch-aarch64-gcc" | grep -q "Machine: *AArch64" || {
        echo "fiber_cross.sh: the cross build is not an AArch64 binary" >&2
        exit 1
    }
    run_ok switch-aarch64-gcc $qemu
else
    echo "fiber_cross.sh: host $host: the x86-64 switch is not tested here"
fi
echo "fiber_cross.sh: ok"
