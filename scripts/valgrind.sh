#!/bin/bash
# scripts/valgrind.sh - the test suite under valgrind's memcheck, on one libev backend.
#
#   bash scripts/valgrind.sh        (from anywhere in the repo; CI's `valgrind` pass)
#
# Environment: VOW_BUILD_DIR (default build-valgrind), VOW_VALGRIND_BACKEND (default epoll),
# VOW_VALGRIND_JOBS (ctest -j, default 2), VOW_VALGRIND_OPTS (extra valgrind options, e.g.
# --track-origins=yes). Extra arguments go to the configure step.
#
# What runs:
#   - every ctest test of the backend's label whose command is a program built here (the
#     Criterion suites: tests/test_*.c and the reactor's), each under valgrind
#     --tool=memcheck --trace-children=yes. Criterion runs each test case in a child it
#     execs, so the code under test runs in those children: without --trace-children they
#     would run natively and only the runner would be checked. The environment has
#     VOW_POOL=off (src/loop.c reads it when a loop is made): every promise, reaction and
#     marker is then a malloc of its own, so memcheck sees each one; inside the pools' chunks
#     a use after free or a leak of one object is invisible to it. tests/test_pool.c, which
#     checks the pools themselves, unsets it (tests/CMakeLists.txt).
#   - the C program of each Node.js comparison (tests/compare*.cmake), directly under
#     valgrind, its output not compared: the comparison needs node, and valgrinding node (or
#     bash, or python) checks node, takes minutes and proves nothing about vow. The
#     comparisons themselves run in the normal suite, on every backend.
# Left out, by label: `compare` (the comparisons, above), `proof` (Python drives node or
# Python 3.11 against the proof interpreter: the same reason), `examples` (Python runs the
# examples beside their Python originals: the same reason), `no-valgrind` (a test that
# cannot run under valgrind: tests/CMakeLists.txt says why beside the label; none today).
# The sanitizer canaries exist only in sanitizer builds (VOW_SANITIZE), not in this one.
#
# How: the build is configured with CMAKE_CROSSCOMPILING_EMULATOR set to this script's
# `--exec` mode, which CMake puts in front of every add_test command that names a target
# (CMake 3.25 to 3.28 always; 3.29 and later while policy CMP0158 is OLD, which it is for
# this project's cmake_minimum_required). `--exec` runs the program under valgrind with one
# log file per process (--log-file=...%p), then fails the test when any of those logs lacks
# an "ERROR SUMMARY:" line (a process killed before valgrind's report) or reports an error;
# it prints such logs, so ctest --output-on-failure shows them. An error is any memcheck
# error or a definitely or indirectly lost block (--errors-for-leak-kinds). "Possibly lost"
# and "still reachable" are left out: the test cases that end on purpose by a signal
# (strict mode's abort(), the control recursion's stack overflow: .signal = ... in
# Criterion) leave their whole heap behind, part of it only possibly lost, and a case that
# calls cr_redirect_stderr() keeps Criterion's FILE reachable. A block vow forgets is
# definitely or indirectly lost, and the tests' own zero-live-allocations checks
# (VOW_TEST_END, tests/helpers.h) catch a vow object still held at the end of a case.
# The deliberate crashes stay in: valgrind checks everything before the signal.
# Then every log of the run is checked once more: at least one "ERROR SUMMARY" each, and
# all of them "0 errors".
#
# First, two planted defects, each in a Criterion test case (a leak, a read after free),
# must fail `--exec` with valgrind's report: Criterion itself reports such a case PASS and
# exits 0 (STYLE.md 12), so a harness that stopped reading the logs would pass everything.
set -euo pipefail

VALGRIND_ERROR_EXIT=99

# ---- --exec: one test program under valgrind -------------------------------------------
if [ "${1-}" = --exec ]; then
    logdir=$2
    shift 2
    mkdir -p "$logdir"
    tag="$logdir/$(basename "$1").$$"
    rc=0
    # shellcheck disable=SC2086
    valgrind --tool=memcheck --trace-children=yes --error-exitcode=$VALGRIND_ERROR_EXIT \
        --leak-check=full --show-leak-kinds=definite,indirect \
        --errors-for-leak-kinds=definite,indirect --num-callers=40 \
        ${VOW_VALGRIND_OPTS-} --log-file="$tag.%p.log" "$@" || rc=$?
    shopt -s nullglob
    logs=("$tag".*.log)
    bad=0
    if [ ${#logs[@]} -eq 0 ]; then
        echo "valgrind.sh: no valgrind log for $*" >&2
        bad=1
    fi
    for log in "${logs[@]}"; do
        if ! grep -q 'ERROR SUMMARY: ' "$log" || grep -q 'ERROR SUMMARY: [1-9]' "$log"; then
            echo "valgrind.sh: $log (no ERROR SUMMARY, or errors):" >&2
            cat "$log" >&2
            bad=1
        fi
    done
    if [ "$bad" -ne 0 ] && [ "$rc" -eq 0 ]; then rc=$VALGRIND_ERROR_EXIT; fi
    exit "$rc"
fi

# ---- the whole run -------------------------------------------------------------------------
cd "$(dirname "$0")/.."
self="$PWD/scripts/valgrind.sh"
build="${VOW_BUILD_DIR:-build-valgrind}"
backend="${VOW_VALGRIND_BACKEND:-epoll}"
jobs="${VOW_VALGRIND_JOBS:-2}"
scripts/setup.sh valgrind # the toolchain and valgrind, whatever is missing
mkdir -p "$build"
logdir="$(cd "$build" && pwd)/valgrind-logs"
rm -rf "$logdir"
mkdir -p "$logdir"

# The planted defects, caught.
canaries="$(cd "$build" && pwd)/valgrind-canaries"
rm -rf "$canaries"
mkdir -p "$canaries"
cat >"$canaries/canary.c" <<'CANARY'
#include <criterion/criterion.h>
#include <stdlib.h>
static void *volatile sink;
Test(canary, leak) { sink = malloc(48), sink = NULL; }
Test(canary, read_after_free) {
    char *volatile p = malloc(8);
    free(p);
    sink = (void *)(long)p[0];
}
CANARY
# shellcheck disable=SC2046
gcc -g -O0 "$canaries/canary.c" $(pkg-config --cflags --libs criterion) -o "$canaries/canary"
for planted in "leak:definitely lost: 48 bytes" "read_after_free:Invalid read of size 1"; do
    case_name=${planted%%:*}
    report=${planted#*:}
    out="$canaries/$case_name.out"
    if bash "$self" --exec "$canaries/$case_name" "$canaries/canary" --filter="canary/$case_name" \
        >"$out" 2>&1; then
        echo "valgrind.sh: the planted $case_name passed: valgrind's reports are not read" >&2
        exit 1
    fi
    if ! grep -q "$report" "$out"; then
        echo "valgrind.sh: the planted $case_name failed without valgrind's report ($report):" >&2
        cat "$out" >&2
        exit 1
    fi
    echo "valgrind.sh: the planted $case_name is caught ($report)"
done

cmake -S . -B "$build" -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_C_FLAGS_DEBUG="-g -O1" -DVOW_SANITIZE=OFF -DVOW_BUILD_EXAMPLES=OFF \
    "-DCMAKE_CROSSCOMPILING_EMULATOR=bash;$self;--exec;$logdir" "$@"
cmake --build "$build" -j"$jobs"

export VOW_POOL=off
# tests/test_queue.c's million items take minutes under valgrind; 20,000 walk the same code.
export VOW_TEST_QUEUE_ITEMS=20000
select=(-L "^$backend\$" -LE '^(compare|proof|examples|no-valgrind)$')

# Every selected test must run under --exec: a test whose command is not a program built
# here (a script, an interpreter) would run natively and prove nothing. Label it above.
ctest --test-dir "$build" "${select[@]}" --show-only=json-v1 >"$logdir/tests.json"
python3 - "$logdir/tests.json" "$self" <<'EOF'
import json, sys
tests = json.load(open(sys.argv[1]))["tests"]
bare = [t["name"] for t in tests if t.get("command", [None, None])[1:2] != [sys.argv[2]]]
if not tests:
    sys.exit("valgrind.sh: no test selected")
if bare:
    sys.exit("valgrind.sh: not run under valgrind (label them or make them targets): "
             + ", ".join(bare))
print(f"valgrind.sh: {len(tests)} tests, each under valgrind")
EOF

rc=0
ctest --test-dir "$build" "${select[@]}" --output-on-failure --no-tests=error -j"$jobs" || rc=$?

# The C side of each comparison with Node.js: the program alone, under valgrind.
ctest --test-dir "$build" -L "^$backend\$" -L '^compare$' --show-only=json-v1 \
    >"$logdir/compare.json"
mapfile -t programs < <(python3 - "$logdir/compare.json" <<'EOF'
import json, sys
seen = set()
for t in json.load(open(sys.argv[1]))["tests"]:
    cmd = t.get("command", [])
    if len(cmd) >= 3 and cmd[1].endswith("/compare.sh") and cmd[2] not in seen:
        seen.add(cmd[2])
        print(cmd[2])
EOF
)
for program in "${programs[@]}"; do
    if VOW_BACKEND="$backend" bash "$self" --exec "$logdir" "$program" >/dev/null; then
        echo "valgrind.sh: $(basename "$program") (a comparison's C side): clean"
    else
        echo "valgrind.sh: $(basename "$program") (a comparison's C side): FAILED" >&2
        rc=1
    fi
done

# Every log of the run, once more: a report each, and no error in any.
shopt -s nullglob
logs=("$logdir"/*.log)
dirty=0
for log in "${logs[@]}"; do
    if ! grep -q 'ERROR SUMMARY: ' "$log" || grep -q 'ERROR SUMMARY: [1-9]' "$log"; then
        echo "valgrind.sh: $log: no ERROR SUMMARY, or errors" >&2
        dirty=$((dirty + 1))
    fi
done
if [ ${#logs[@]} -eq 0 ]; then
    echo "valgrind.sh: no valgrind log at all" >&2
    dirty=1
fi
echo "valgrind.sh: ${#logs[@]} valgrind logs (one per process), $dirty with errors or no report"
[ "$dirty" -eq 0 ] || rc=1
exit "$rc"
