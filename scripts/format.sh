#!/bin/bash
# scripts/format.sh - vow's C files against .clang-format (Debian 12's clang-format 14).
#
#   bash scripts/format.sh           reformat every tracked C file in place
#   bash scripts/format.sh --check   change nothing; list the files that differ from their
#                                    formatting and fail if there is one (CI runs this)
#
# The files: every *.c and *.h git tracks (include/, src/, promise/, tests/, examples/,
# bench/, proof/). scripts/setup.sh installs clang-format.
set -euo pipefail
cd "$(dirname "$0")/.."
cf=$(command -v clang-format || command -v clang-format-14 || true)
if [ -z "$cf" ]; then
    echo "format.sh: clang-format is needed (scripts/setup.sh installs it)" >&2
    exit 1
fi
mapfile -t files < <(git ls-files '*.c' '*.h')
if [ "${1:-}" = "--check" ]; then
    bad=0
    for f in "${files[@]}"; do
        if ! "$cf" --style=file "$f" | cmp -s - "$f"; then
            echo "format.sh: $f differs from its formatting (bash scripts/format.sh fixes it):"
            "$cf" --style=file "$f" | diff -u "$f" - | head -n 20 || true
            bad=$((bad + 1))
        fi
    done
    if [ "$bad" -gt 0 ]; then
        echo "format.sh: $bad of ${#files[@]} files are not formatted" >&2
        exit 1
    fi
    echo "format.sh: all ${#files[@]} C files are formatted ($("$cf" --version))"
else
    "$cf" -i --style=file "${files[@]}"
fi
