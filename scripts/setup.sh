#!/bin/sh
# scripts/setup.sh - installs what vow needs to build, test and run its demo on Debian 12
# (or Ubuntu), as root. Idempotent and quiet: it installs only what is missing, and does
# nothing (not even apt-get update) when everything is there.
#
#   build-essential cmake pkg-config   the toolchain
#   libev-dev                          the event loop vow builds on
#   libcriterion-dev                   the test framework
#   clang libclang-rt-dev              the second compiler CI builds with (and its sanitizers)
#   clang-format git                   scripts/format.sh (CI fails on an unformatted C file;
#                                      it lists the tracked files with git)
#   python3                            examples/check.py, only when no python3 is on the PATH
#   nodejs                             the tests compare vow's order with Node's; only when no
#                                      `node` is on the PATH (a newer Node.js may be installed
#                                      outside Debian's packages, and Debian's would replace it)
# Extra package names given as arguments are wanted too (scripts/valgrind.sh asks for
# valgrind this way): scripts/setup.sh valgrind. The optional packages, and who asks:
#   valgrind                           scripts/valgrind.sh
#   libuv1-dev                         scripts/bench.sh (a bench-only dependency)
#   gcc-aarch64-linux-gnu              scripts/fiber_cross.sh: the AArch64 context switch,
#   libc6-dev-arm64-cross              cross-compiled (static) and run under
#   qemu-user-static                   qemu-aarch64-static
#   strace                             scripts/fiber_strace.sh (rt_sigprocmask per switch)
set -eu

want="build-essential cmake pkg-config libev-dev libcriterion-dev clang libclang-rt-dev clang-format $*"
command -v git >/dev/null 2>&1 || want="$want git"
command -v python3 >/dev/null 2>&1 || want="$want python3"
command -v node >/dev/null 2>&1 || want="$want nodejs"

missing=""
for pkg in $want; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    case "$status" in
        *"install ok installed"*) ;;
        *) missing="$missing $pkg" ;;
    esac
done

if [ -z "$missing" ]; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO=sudo
    else
        echo "setup.sh: missing packages:$missing; run this script as root" >&2
        exit 1
    fi
else
    SUDO=
fi

echo "setup.sh: installing$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "setup.sh: done"
