#!/usr/bin/env python3
"""bench/compare.py - runs W1-W12 on vow, Node.js, asyncio and the C floors, side by side.

    python3 bench/compare.py --bin build-bench/bench [--rounds 5] [--workloads w1,w3,w11]
                             [--systems vow,node] [--n w1=100000] [--markdown FILE]
    python3 bench/compare.py --bin build-bench/bench --selftest

Run it through scripts/bench.sh, which builds the C programs first.

Every cell (one workload on one system) is a fresh process; every system gets the same N
for a workload; the systems are interleaved round by round (each round runs every workload
on every system, in an order rotated from round to round, so no system always runs just
after the same neighbour); at least 5 rounds. The table gives, per workload and system, N,
the median and min..max of the workload's figure, the median peak RSS, and the ratio of
vow's median to that system's (below 1: vow is faster). Then the targets of issues 7, 14, 15,
16 and 17. A workload group (w10: w10 and w10r; w11: w11a, w11b, w11c and w11s; w12: w12a and
w12b) names its members. W12's lines carry more than their metric (user CPU): their rows
add the throughput (from N and the wall time) and the system CPU (the line's sys_ field).

--selftest runs every program at a small N twice: as is, where it must pass its own check,
and with --inject-wrong, where it must fail it (exit 1, "wrong result" on stderr). It
succeeds only if every program does both, so a check that cannot fire is caught.
"""
import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))

WORKLOADS = {
    # w: (title, metric, unit)
    "w1": ("W1 chain: then steps on a resolved promise, each adding 1", "ns_per_step", "ns/step"),
    "w2": ("W2 fan-out: pending promises, each resolved, all over them", "ns_per_promise",
           "ns/promise"),
    "w3": ("W3 race and any over 10 promises resolved in order", "ns_per_round", "ns/round"),
    "w4": ("W4 timers: delays spread over 0..1000 ms", "cpu_ns_per_timer", "CPU ns/timer"),
    "w5": ("W5 concurrent 100 ms sleeps under all", "overhead_ms", "ms past 100 ms"),
    "w6": ("W6 a bounded queue of 64, one producer, one consumer", "ns_per_item", "ns/item"),
    "w7": ("W7 tasks, at most 100 at once under a semaphore", "ns_per_task", "ns/task"),
    "w10": ("W10 empty jobs through the thread pool, 64 in flight", "ns_per_job", "ns/job"),
    "w10r": ("W10r a promise settled from another thread", "ns_per_settle", "ns/settle"),
    "w11a": ("W11a one coroutine awaiting resolved promises in a loop", "ns_per_await",
             "ns/await"),
    "w11b": ("W11b the same awaits shared by two coroutines (each await switches)",
             "ns_per_await", "ns/await"),
    "w11c": ("W11c the same loop in callback form (each step arms the next)", "ns_per_step",
             "ns/step"),
    "w11s": ("W11s a fiber's resume plus suspend (asm and ucontext back ends)", "ns_per_switch",
             "ns/switch"),
    "w12a": ("W12a TCP echo, one connection, 64-byte ping-pong", "user_us_per_rt", "user us/rt"),
    "w12b": ("W12b TCP echo, 50 connections streaming 4 KiB messages", "user_us_per_mb",
             "user us/MB"),
}
ALL = ("w1", "w2", "w3", "w4", "w5", "w6", "w7", "w10", "w10r", "w11a", "w11b", "w11c", "w11s",
       "w12a", "w12b")
GROUPS = {"w10": ("w10", "w10r"), "w11": ("w11a", "w11b", "w11c", "w11s"),
          "w12": ("w12a", "w12b")}  # a group names its members
NO_W11S = tuple(w for w in ALL if w != "w11s")  # W11s runs on the fiber programs only
# W10 compares with libuv and asyncio (issue 15)
JS = ("w1", "w2", "w3", "w4", "w5", "w6", "w7", "w11a", "w11b", "w11c", "w12a", "w12b")
DEFAULT_N = {"w1": 1000000, "w2": 1000000, "w3": 100000, "w4": 1000000, "w5": 100000,
             "w6": 1000000, "w7": 100000, "w10": 100000, "w10r": 100000, "w11a": 1000000,
             "w11b": 1000000, "w11c": 1000000, "w11s": 10000000, "w12a": 200000, "w12b": 100000}
# W6 and W7 at more than the queue's bound and the semaphore's limit, so both wait.
SELFTEST_N = {"w1": 1000, "w2": 1000, "w3": 100, "w4": 500, "w5": 1000, "w6": 1000, "w7": 1000,
              "w10": 1000, "w10r": 1000, "w11a": 1000, "w11b": 1000, "w11c": 1000,
              "w11s": 1000, "w12a": 200, "w12b": 200}

# system: (workloads it runs, how to build its command line)
SYSTEMS = {
    "vow": (NO_W11S, lambda o: [os.path.join(o.bin, "vow-bench")]),
    "node": (JS, lambda o: [o.node, os.path.join(HERE, "ref", "bench.js")]),
    "asyncio": (NO_W11S, lambda o: [o.python, os.path.join(HERE, "ref", "bench.py")]),
    "naive": (("w1", "w2", "w3", "w6", "w7"), lambda o: [os.path.join(o.bin, "floor-naive")]),
    "libev": (("w4", "w5", "w12a", "w12b"), lambda o: [os.path.join(o.bin, "floor-libev")]),
    "libuv": (("w10", "w10r"), lambda o: [os.path.join(o.bin, "uv-bench")]),
    # W11s on vow's fibers (bench/fiber_switch.c), one program per context-switch back end;
    # a build configured with -DVOW_FIBER=ucontext has no asm program.
    "asm": (("w11s",), lambda o: [os.path.join(o.bin, "vow-fiber-asm")]),
    "ucontext": (("w11s",), lambda o: [os.path.join(o.bin, "vow-fiber-ucontext")]),
}


def missing_program(opts, system):
    """A C program that this build does not have (vow-fiber-asm under VOW_FIBER=ucontext)."""
    cmd = SYSTEMS[system][1](opts)
    return system == "asm" and not os.path.exists(cmd[0])

LINE = re.compile(r"^W(\d+[a-z]?) (\S+) n=(\d+) (\w+)=(-?[0-9.]+) total_ms=([0-9.]+) rss_kb=(\d+)"
                  r"((?: \w+=-?[0-9.]+)*)$")
EXTRA = re.compile(r" (\w+)=(-?[0-9.]+)")

# W12's more figures, each a row of its own below the workload's metric: (label, how to get it
# from a parsed line and N, more is better). The throughput comes from N and the wall time.
W12_MB = 4096 / 1e6  # MB (10^6 bytes) per W12b message
DERIVED = {
    "w12a": (("round trips/s", lambda x, n: n / (x["total_ms"] / 1e3), True),
             ("sys us/rt", lambda x, n: x["extra"].get("sys_us_per_rt"), False)),
    "w12b": (("MB/s", lambda x, n: n * W12_MB / (x["total_ms"] / 1e3), True),
             ("sys us/MB", lambda x, n: x["extra"].get("sys_us_per_mb"), False)),
}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run_cell(opts, system, w, n, inject=False, timeout=900):
    """Runs one cell; returns (returncode, parsed line or None, stdout, stderr)."""
    cmd = SYSTEMS[system][1](opts) + [w, str(n)] + (["--inject-wrong"] if inject else [])
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, None, "", f"timed out after {timeout} s: {' '.join(cmd)}"
    parsed = None
    for line in p.stdout.splitlines():
        m = LINE.match(line.strip())
        if m and f"w{m.group(1)}" == w and m.group(2) == system and int(m.group(3)) == n:
            parsed = {"metric": float(m.group(5)), "total_ms": float(m.group(6)),
                      "rss_kb": int(m.group(7)), "line": line.strip(), "key": m.group(4),
                      "extra": {k: float(v) for k, v in EXTRA.findall(m.group(8))}}
    return p.returncode, parsed, p.stdout, p.stderr


def fmt(x):
    if x >= 1000:
        return f"{x:,.0f}"
    if x >= 100:
        return f"{x:.0f}"
    if abs(x) < 1:
        return f"{x:.3f}"  # W12's user CPU per round trip
    if x < 10:
        return f"{x:.2f}"
    return f"{x:.1f}"


def load_avg():
    try:
        return "%.2f %.2f %.2f" % os.getloadavg()
    except OSError:
        return "?"


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def version(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True).stdout.strip().splitlines()[0]
    except (OSError, IndexError):
        return "?"


def git_commit():
    try:
        return subprocess.run(["git", "-C", HERE, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True).stdout.strip() or "?"
    except OSError:
        return "?"


# ---- the self-test ---------------------------------------------------------------------------
def selftest(opts):
    ok = True
    for system, (ws, _) in SYSTEMS.items():
        if system not in opts.systems:
            continue
        if missing_program(opts, system):
            print(f"selftest {system}: no program in this build (skipped)", flush=True)
            continue
        for w in ws:
            if w not in opts.workloads:
                continue
            n = opts.n.get(w, SELFTEST_N[w])
            rc, parsed, _, err = run_cell(opts, system, w, n, timeout=120)
            good = rc == 0 and parsed is not None
            rc2, _, _, err2 = run_cell(opts, system, w, n, inject=True, timeout=120)
            caught = rc2 == 1 and "wrong result" in err2
            verdict = "ok" if good and caught else "FAIL"
            ok = ok and good and caught
            print(f"selftest {w} {system:8} n={n:<6} plain: {'passes' if good else f'FAILED (exit {rc})'}"
                  f", --inject-wrong: {'caught' if caught else f'NOT CAUGHT (exit {rc2})'}  {verdict}",
                  flush=True)
            if not good:
                log(err.strip())
            if not caught:
                log(err2.strip())
    print(f"selftest: {'ok' if ok else 'FAILED'}", flush=True)
    return 0 if ok else 1


# ---- the comparison --------------------------------------------------------------------------
def compare(opts):
    for s in [s for s in opts.systems if missing_program(opts, s)]:
        log(f"compare.py: no {s} program in this build: skipped")
        opts.systems.remove(s)
    cells = [(w, s) for w in opts.workloads for s in opts.systems if w in SYSTEMS[s][0]]
    results = {c: [] for c in cells}
    failures = []
    start = time.time()
    load_before = load_avg()
    raw = []
    for r in range(opts.rounds):
        log(f"round {r + 1}/{opts.rounds} (load {load_avg()})")
        for w in opts.workloads:
            systems = [s for s in opts.systems if w in SYSTEMS[s][0]]
            k = r % len(systems) if systems else 0
            for s in systems[k:] + systems[:k]:
                n = opts.n.get(w, DEFAULT_N[w])
                rc, parsed, out, err = run_cell(opts, s, w, n)
                if rc != 0 or parsed is None:
                    failures.append((w, s, rc, err.strip() or out.strip()))
                    log(f"  {w} {s}: FAILED (exit {rc}): {(err.strip() or out.strip())[:500]}")
                    continue
                results[(w, s)].append(parsed)
                raw.append(parsed["line"])
                log(f"  {parsed['line']}")
    elapsed = time.time() - start
    load_after = load_avg()

    # The table.
    header = ["workload", "system", "N", "median", "min..max", "peak RSS MiB", "vow/system"]
    rows = []
    summary = {}
    for w in opts.workloads:
        title, metric, unit = WORKLOADS[w]
        vow = results.get((w, "vow"), [])
        vow_med = statistics.median(x["metric"] for x in vow) if vow else None
        for s in opts.systems:
            if w not in SYSTEMS[s][0]:
                continue
            xs = results[(w, s)]
            n = opts.n.get(w, DEFAULT_N[w])
            if not xs:
                rows.append([f"W{w[1:]} {unit}", s, f"{n:,}", "FAILED", "", "", ""])
                continue
            vals = [x["metric"] for x in xs]
            med = statistics.median(vals)
            summary[(w, s)] = med
            rss = statistics.median(x["rss_kb"] for x in xs) / 1024
            if s == "vow" or vow_med is None:
                ratio = "1" if s == "vow" else ""
            elif med <= 0:
                ratio = "n/a"
            else:
                ratio = f"{vow_med / med:.2f}"
            rows.append([f"W{w[1:]} {unit}", s, f"{n:,}", fmt(med),
                         f"{fmt(min(vals))}..{fmt(max(vals))}", f"{rss:.0f}", ratio])
        for label, get_fig, more_better in DERIVED.get(w, ()):
            fig = {}
            for s in opts.systems:
                xs = results.get((w, s), [])
                n = opts.n.get(w, DEFAULT_N[w])
                got = [get_fig(x, n) for x in xs]
                if xs and None not in got:
                    fig[s] = got
            for s in opts.systems:
                if s not in fig:
                    continue
                med = statistics.median(fig[s])
                summary[(w + ":" + label, s)] = med
                vm = statistics.median(fig["vow"]) if "vow" in fig else None
                ratio = "1" if s == "vow" else ("" if vm is None or med <= 0 else f"{vm / med:.2f}")
                rows.append([f"W{w[1:]} {label}" + (" (more is better)" if more_better else ""),
                             s, f"{opts.n.get(w, DEFAULT_N[w]):,}", fmt(med),
                             f"{fmt(min(fig[s]))}..{fmt(max(fig[s]))}", "", ratio])
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(header)]

    def line(cells):
        return "| " + " | ".join(c.ljust(widths[i]) for i, c in enumerate(cells)) + " |"

    table = [line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    table += [line(r) for r in rows]

    # The targets of issues 7, 14, 15, 16 and 17.
    def get(w, s):
        return summary.get((w, s))

    targets = []

    def target(kind, text, vow, other, ok):
        if vow is None or other is None:
            targets.append(f"- {kind}: {text}: not measured")
        else:
            targets.append(f"- {kind}: {text}: {'met' if ok(vow, other) else 'MISSED'} "
                           f"(vow {fmt(vow)}, {fmt(other)})")

    for w in ("w1", "w2", "w3", "w4"):
        if w in opts.workloads:
            target("required", f"{w.upper()} vow faster than Node.js", get(w, "vow"),
                   get(w, "node"), lambda v, o: v < o)
    if "w5" in opts.workloads:
        v = get("w5", "vow")
        targets.append(f"- required: W5 overhead under 15 ms: " +
                       ("not measured" if v is None else
                        f"{'met' if v < 15 else 'MISSED'} (vow {fmt(v)} ms)"))
    for w in ("w1", "w2", "w3"):
        if w in opts.workloads:
            target("goal", f"{w.upper()} at least 5x Node.js", get(w, "vow"), get(w, "node"),
                   lambda v, o: v * 5 <= o)
            target("goal", f"{w.upper()} no slower than the naive floor", get(w, "vow"),
                   get(w, "naive"), lambda v, o: v <= o)
    if "w4" in opts.workloads:
        target("goal", "W4 within 1.25x bare libev CPU per timer", get("w4", "vow"),
               get("w4", "libev"), lambda v, o: v <= 1.25 * o)
    for w in ("w10", "w10r"):
        if w in opts.workloads:
            target("target (issue 15)", f"W{w[1:]} at most libuv's time", get(w, "vow"),
                   get(w, "libuv"), lambda v, o: v <= o)
    for w, times in (("w6", 2), ("w7", 5)):
        if w in opts.workloads:
            target("target (issue 14)", f"{w.upper()} at least {times}x Node.js", get(w, "vow"),
                   get(w, "node"), lambda v, o, t=times: v * t <= o)

    for w in ("w11a", "w11b"):
        if w in opts.workloads:
            target("target (issue 16)", f"W{w[1:]} at least 3x faster than Node.js per await",
                   get(w, "vow"), get(w, "node"), lambda v, o: v * 3 <= o)
    if "w12a" in opts.workloads and 0 in (get("w12a", "vow"), get("w12a", "libev"),
                                          get("w12a", "node")):
        targets.append("- target (issue 17): W12a: a user CPU of 0: under the 4 ms accounting tick "
                       "at this N (bench/README.md), not measured")
    elif "w12a" in opts.workloads:
        target("target (issue 17)", "W12a user CPU per round trip at most 1.5x bare libev's",
               get("w12a", "vow"), get("w12a", "libev"), lambda v, o: v <= 1.5 * o)
        target("target (issue 17)", "W12a user CPU per round trip at least 5x less than Node.js's",
               get("w12a", "vow"), get("w12a", "node"), lambda v, o: v * 5 <= o)
    if "w11s" in opts.workloads:
        for s in ("asm", "ucontext"):
            v = get("w11s", s)
            if v is not None or s == "asm":
                targets.append(f"- target (issue 16): W11s a switch (resume plus suspend) under "
                               f"20 ns, {s}: " + ("not measured" if v is None else
                               f"{'met' if v < 20 else 'MISSED'} ({fmt(v)} ns)"))

    info = [
        f"vow {git_commit()}, {time.strftime('%Y-%m-%d %H:%M', time.localtime(start))}; "
        f"{cpu_model()}, {os.cpu_count()} CPUs; {platform.system()} {platform.release()}",
        f"node {version([opts.node, '--version'])}, {version([opts.python, '--version'])}, "
        f"{version(['cc', '--version'])}",
        f"{opts.rounds} rounds, every cell a fresh process, systems interleaved; "
        f"{elapsed / 60:.1f} min; load average before {load_before}, after {load_after}",
        "figures: median of the rounds; vow/system = vow's median / the system's median "
        "(below 1: vow is faster; above 1 in a row marked 'more is better')",
    ]
    text = "\n".join(info) + "\n\n" + "\n".join(table) + "\n\nTargets (issues 7, 14, 15, 16 and 17), on medians:\n" + \
        "\n".join(targets) + "\n"
    print()
    print(text, flush=True)
    if opts.markdown:
        with open(opts.markdown, "w") as f:
            f.write(text)
    if opts.log:
        with open(opts.log, "w") as f:
            f.write("\n".join(raw) + "\n")
    for w, s, rc, err in failures:
        print(f"FAILED: {w} {s} (exit {rc}): {err[:500]}", file=sys.stderr)
    return 1 if failures else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True, help="directory of vow-bench, floor-naive, floor-libev")
    ap.add_argument("--rounds", type=int, default=5, help="rounds (at least 5 for a report)")
    ap.add_argument("--workloads", default=",".join(ALL))
    ap.add_argument("--systems", default="vow,node,asyncio,naive,libev,libuv,asm,ucontext")
    ap.add_argument("--n", action="append", default=[], metavar="wK=N",
                    help="N for one workload, the same for every system (repeatable)")
    ap.add_argument("--selftest", action="store_true",
                    help="small N: every program must pass its check, and fail it with --inject-wrong")
    ap.add_argument("--markdown", help="also write the table and targets to this file")
    ap.add_argument("--log", help="write every report line to this file")
    ap.add_argument("--node", default=shutil.which("node") or "node")
    ap.add_argument("--python", default=sys.executable or "python3",
                    help="a Python 3.11 or later (default: the one running this script)")
    opts = ap.parse_args()
    opts.workloads = [m for w in opts.workloads.split(",") if w.strip()
                      for m in GROUPS.get(w.strip().lower(), (w.strip().lower(),))]
    opts.systems = [s.strip() for s in opts.systems.split(",") if s.strip()]
    for w in opts.workloads:
        if w not in WORKLOADS:
            ap.error(f"unknown workload {w}")
    for s in opts.systems:
        if s not in SYSTEMS:
            ap.error(f"unknown system {s} (know {', '.join(SYSTEMS)})")
    ns = {}
    for spec in opts.n:
        m = re.fullmatch(r"(w[0-9]+[a-z]?)=([1-9][0-9]*)", spec.strip().lower())
        if not m or m.group(1) not in WORKLOADS:
            ap.error(f"--n wants wK=N for a workload wK, got {spec}")
        ns[m.group(1)] = int(m.group(2))
    opts.n = ns
    if "asyncio" in opts.systems:
        v = subprocess.run([opts.python, "-c", "import sys; print(sys.version_info >= (3, 11))"],
                           capture_output=True, text=True).stdout.strip()
        if v != "True":
            ap.error(f"{opts.python} is not Python 3.11 or later (bench/ref/bench.py needs it)")
    if opts.selftest:
        return selftest(opts)
    if opts.rounds < 5:
        log(f"compare.py: {opts.rounds} rounds: fine for a look, too few for a report (issue 7: >= 5)")
    return compare(opts)


if __name__ == "__main__":
    sys.exit(main())
