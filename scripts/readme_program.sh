#!/bin/bash
# scripts/readme_program.sh - builds and runs the README's first program exactly as the
# README says: its first ```c block is saved as hello.c, and the ```sh block that follows
# "Save it as `hello.c`" runs line by line, in a copy of the repository's tracked files,
# with HOME set to a fresh directory (the README installs into ~/.local). Fails when
# either block is missing, a command fails, or the program's output is not the one the
# README's comment promises ("first", then "a second later"). .ci/run's install pass runs
# it; so can anyone: bash scripts/readme_program.sh
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d "${TMPDIR:-/tmp}/vow-readme.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The blocks, as written.
awk '/^```c$/ && !done {inside = 1; next} inside && /^```$/ {inside = 0; done = 1} inside' \
    README.md >"$work/hello.c"
awk '/^Save it as `hello.c`/ {armed = 1} armed && /^```sh$/ {inside = 1; next}
     inside && /^```$/ {exit} inside' README.md >"$work/commands.sh"
[ -s "$work/hello.c" ] || { echo "readme_program: no \`\`\`c block in README.md" >&2; exit 1; }
[ -s "$work/commands.sh" ] || { echo "readme_program: no build commands after 'Save it as hello.c'" >&2; exit 1; }
echo "readme_program: the README's program:"
sed 's/^/    /' "$work/hello.c"
echo "readme_program: the README's commands:"
sed 's/^/    /' "$work/commands.sh"

# A copy of the repository (what a clone has), the program beside it, a fresh HOME.
mkdir "$work/repo" "$work/home"
git ls-files -z | tar --null -T - -cf - | tar -xf - -C "$work/repo"
cp "$work/hello.c" "$work/repo/hello.c"
(
    cd "$work/repo"
    export HOME="$work/home"
    unset PKG_CONFIG_PATH LD_LIBRARY_PATH
    bash -euo pipefail "$work/commands.sh"
) | tee "$work/out"

want=$'first\na second later'
got=$(tail -n 2 "$work/out")
if [ "$got" != "$want" ]; then
    echo "readme_program: the program printed" >&2
    printf '%s\n' "$got" >&2
    echo "readme_program: want" >&2
    printf '%s\n' "$want" >&2
    exit 1
fi
echo "readme_program: the README's first program builds and runs as the README says"
