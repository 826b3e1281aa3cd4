#!/usr/bin/env bash
# tests/compare.sh <c-binary> <js-file>
#
# Runs a C trace program and the JavaScript program that does the same thing under
# Node.js (or, for a .py file, the Python program under python3: asyncio as the oracle),
# and compares their standard output line by line. The expected order is never typed by
# hand: Node.js (or Python) produces it in the same run.
#
# Fails (exit 1) when:
#   - `node` (`python3` for a .py file) is not on PATH (never skips: the comparison is the
#     test),
#   - either program exits non-zero, or is killed,
#   - either program prints nothing (an empty trace proves nothing),
#   - the two outputs differ (a unified diff is printed, node's side first).
# Each program's stderr is shown on failure. Exit 0 only when both agree.
set -u

if [ $# -ne 2 ]; then
    echo "usage: $0 <c-binary> <js-file>" >&2
    exit 2
fi
c_bin=$1
js_file=$2

# A .py twin runs under python3 (asyncio as the oracle, tests/py/), any other under node.
case $js_file in
*.py) runner=python3 ;;
*) runner=node ;;
esac
if ! command -v "$runner" >/dev/null 2>&1; then
    echo "compare.sh: FAIL: '$runner' is not on PATH (this test never skips)" >&2
    exit 1
fi
if [ ! -x "$c_bin" ]; then
    echo "compare.sh: FAIL: C program '$c_bin' is missing or not executable" >&2
    exit 1
fi
if [ ! -r "$js_file" ]; then
    echo "compare.sh: FAIL: JavaScript file '$js_file' is missing" >&2
    exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vow-compare.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

"$c_bin" >"$tmp/c.out" 2>"$tmp/c.err"
c_rc=$?
$runner "$js_file" >"$tmp/js.out" 2>"$tmp/js.err"
js_rc=$?

fail=0
show_stderr() {
    if [ -s "$tmp/c.err" ]; then
        echo "--- stderr of $c_bin:"
        cat "$tmp/c.err"
    fi
    if [ -s "$tmp/js.err" ]; then
        echo "--- stderr of node $js_file:"
        cat "$tmp/js.err"
    fi
}

if [ $c_rc -ne 0 ]; then
    echo "compare.sh: FAIL: $c_bin exited with status $c_rc"
    fail=1
fi
if [ $js_rc -ne 0 ]; then
    echo "compare.sh: FAIL: node $js_file exited with status $js_rc"
    fail=1
fi
if [ ! -s "$tmp/c.out" ]; then
    echo "compare.sh: FAIL: $c_bin printed nothing"
    fail=1
fi
if [ ! -s "$tmp/js.out" ]; then
    echo "compare.sh: FAIL: node $js_file printed nothing"
    fail=1
fi
if [ $fail -eq 0 ] && ! cmp -s "$tmp/js.out" "$tmp/c.out"; then
    echo "compare.sh: FAIL: the outputs differ (--- node, +++ C):"
    diff -u --label "node $js_file" --label "$c_bin" "$tmp/js.out" "$tmp/c.out"
    fail=1
fi

if [ $fail -ne 0 ]; then
    show_stderr
    exit 1
fi
echo "compare.sh: OK: $(wc -l <"$tmp/c.out") lines agree ($(basename "$c_bin") vs node $(basename "$js_file"))"
exit 0
