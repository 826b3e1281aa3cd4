#!/usr/bin/env python3
"""bench/callgrind.py - instructions per step of vow against its floor, under callgrind.

    python3 bench/callgrind.py --bin build-bench/bench [--workloads w1,w5] [--top 12]

For each workload, runs vow-bench and the floor (floor-naive for W1-W3 and W6-W7,
floor-libev for W4-W5 and W12; W11a, W11b and W11c have none, W11s runs vow-fiber-asm and
vow-fiber-ucontext instead) under `valgrind --tool=callgrind` at a small N and at N=1, and
prints:
  - instructions per step: (Ir at N - Ir at N=1) / N, so start-up and teardown cancel out;
  - the top functions by their own instructions per step (callgrind_annotate), with
    glibc's malloc family summed on one line.
callgrind counts instructions, not time: the figures do not drift with the machine's load,
but they miss cache misses and page faults (first touch of new memory), which dominate
some workloads at N=1,000,000 (bench/README.md). The binaries carry -g (scripts/bench.sh
builds them so; -g does not change the code GCC generates).
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

CG_N = {"w1": 100000, "w2": 100000, "w3": 10000, "w4": 100000, "w5": 100000, "w6": 100000,
        "w7": 100000, "w11a": 100000, "w11b": 100000, "w11c": 100000, "w11s": 100000,
        "w12a": 20000, "w12b": 5000}
# The programs run per workload: vow's first, then its floor (if any).
PROGS = {"w1": ("vow-bench", "floor-naive"), "w2": ("vow-bench", "floor-naive"),
         "w3": ("vow-bench", "floor-naive"), "w4": ("vow-bench", "floor-libev"),
         "w5": ("vow-bench", "floor-libev"), "w6": ("vow-bench", "floor-naive"),
         "w7": ("vow-bench", "floor-naive"), "w11a": ("vow-bench",), "w11b": ("vow-bench",), "w11c": ("vow-bench",),
         "w11s": ("vow-fiber-asm", "vow-fiber-ucontext"), "w12a": ("vow-bench", "floor-libev"),
         "w12b": ("vow-bench", "floor-libev")}
UNIT = {"w1": "step", "w2": "promise", "w3": "round", "w4": "timer", "w5": "sleep", "w6": "item",
        "w7": "task", "w11a": "await", "w11b": "await", "w11c": "step", "w11s": "switch",
        "w12a": "round trip", "w12b": "4 KiB message"}
MALLOC = re.compile(r"malloc\.c:|arena\.c:|^.*:(malloc|free|calloc|realloc|cfree)\b")
ROW = re.compile(r"^\s*([0-9,]+)\s+\(\s*[0-9.]+%\)\s+(.*)$")


def callgrind(binary, w, n, outdir):
    out = os.path.join(outdir, f"cg.{os.path.basename(binary)}.{w}.{n}")
    p = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                        binary, w, str(n)], capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"callgrind.py: {binary} {w} {n} failed:\n{p.stderr[-2000:]}")
    m = re.search(r"Collected : ([0-9]+)", p.stderr)
    return int(m.group(1)), out


def top_functions(out, n, top):
    p = subprocess.run(["callgrind_annotate", "--auto=no", "--threshold=100", out],
                       capture_output=True, text=True)
    rows, malloc_ir = [], 0
    section = False  # the function table: after the "file:function" header, to a blank line
    for line in p.stdout.splitlines():
        if line.rstrip().endswith("file:function"):
            section = True
            continue
        if not section or line.startswith("---"):
            continue
        if not line.strip():
            break
        m = ROW.match(line)
        if not m:
            continue
        ir = int(m.group(1).replace(",", ""))
        name = m.group(2).split(" [")[0]
        name = re.sub(r"^.*/", "", name)  # file:function without the directory
        if MALLOC.search(m.group(2)):
            malloc_ir += ir
            continue
        rows.append((ir, name))
    rows.sort(reverse=True)
    rest = sum(ir for ir, _ in rows)
    lines = [f"    {malloc_ir / n:8.1f}  glibc malloc/free/calloc/realloc (all functions)",
             f"    {rest / n:8.1f}  everything else, of which:"]
    lines += [f"    {ir / n:8.1f}  {name}" for ir, name in rows[:top]]
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", required=True)
    ap.add_argument("--workloads", default="w1,w2,w3,w4,w5,w6,w7")
    ap.add_argument("--top", type=int, default=12)
    ap.add_argument("--n", action="append", default=[], metavar="wK=N")
    opts = ap.parse_args()
    ns = dict(CG_N)
    for spec in opts.n:
        k, v = spec.split("=")
        ns[k.lower()] = int(v)
    with tempfile.TemporaryDirectory(prefix="vow-cg.") as tmp:
        for w in [x.strip().lower() for x in opts.workloads.split(",") if x.strip()]:
            n = ns[w]
            results = {}
            progs = [p for p in PROGS[w] if os.path.exists(os.path.join(opts.bin, p))]
            for prog in progs:
                binary = os.path.join(opts.bin, prog)
                base, _ = callgrind(binary, w, 1, tmp)
                total, out = callgrind(binary, w, n, tmp)
                results[prog] = ((total - base) / n, out)
            first = progs[0]
            line = f"{w.upper()} at n={n:,}: {first} {results[first][0]:,.0f} instructions per {UNIT[w]}"
            if len(progs) > 1:
                other = results[progs[1]][0]
                line += (f", {progs[1]} {other:,.0f} "
                         f"({first}/{progs[1]} {results[first][0] / other:.2f})")
            print(line)
            for prog in progs:
                print(f"  {prog}: instructions per {UNIT[w]} by function (self cost)")
                for line in top_functions(results[prog][1], n, opts.top):
                    print(line)
            print(flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
