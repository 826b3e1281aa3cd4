#!/usr/bin/env python3
"""proof/difftest.py - runs proof programs on vow and on Node.js, compares the traces
line for line, and shrinks any program whose traces differ; or, with --judge python, runs
asyncio programs (gen_tasks.py) on vow and on Python 3.11 and compares each node's final
outcome and which reactions ran with what (not their order).

    python3 proof/difftest.py --runner BUILD/tests/vow_proof_run --seeds 0-9999
    python3 proof/difftest.py --runner ... --files prog.txt DIR ...   (programs or batches)
    python3 proof/difftest.py --runner ... --seeds 5 --show          (print both traces)
    python3 proof/difftest.py --runner ... --judge python --seeds 0-299
    python3 proof/difftest.py --runner ... --io --seeds 0-299       (socket programs)

Programs run in batches (--batch, 250 by default): one vow_proof_run process and one
node process per batch, every program of the batch started in the same turn (FORMAT.md,
Batches). A program whose traces differ is shrunk by delta debugging over its ops
(shrink.py) and printed with its seed, both shrunk traces and their diff.

Exit status: 0 when every program agrees; 1 on any divergence (or failure of a back end).
With --expect-divergence the sense is reversed: 0 only when a divergence was found and
shrunk to at most --max-ops ops (the planted-divergence self-test), stopping at the first.
"""

import argparse
import concurrent.futures
import difflib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import emit_js  # noqa: E402
import emit_py  # noqa: E402
import gen  # noqa: E402
import gen_tasks  # noqa: E402
import model  # noqa: E402
from gen import parse_seeds  # noqa: E402
from prog import CORO_KINDS, depth_of  # noqa: E402
from prog import dump, dump_batch, parse_batch, validate, FormatError  # noqa: E402
import shrink  # noqa: E402


class Judge:
    """Node.js: traces identical line for line."""
    name = "node"
    end_lines = False

    def __init__(self, exe, coro=False, io=False):
        self.exe = exe
        self.coro = coro
        self.io = io
        self.ran = {}

    def generate(self, seed):
        return gen.generate(seed, coro=self.coro, io=self.io)

    def check(self, ops):
        """None when the program can be judged, else why not."""
        return None

    def valid(self, ops):
        return shrink._valid(ops)

    def emit(self, named):
        return emit_js.emit_batch(named)

    @staticmethod
    def agree(c, other):
        return c == other

    def features(self, ops):
        return gen.features(ops)

    def print_coverage(self, named, out, ran_deep):
        counts = {}
        for _, ops in named:
            for k in gen.features(ops) | (gen.coro_features(ops) if self.coro else set()) | \
                    (gen.io_features(ops) if self.io else set()):
                counts[k] = counts.get(k, 0) + 1
        names = (gen.CORO_FEATURES + ["depth>=4"] + gen.JS_KINDS) if self.coro else \
            (gen.IO_FEATURES + gen.ALL_FEATURES) if self.io else gen.ALL_FEATURES
        table = {k: 100.0 * counts.get(k, 0) / len(named) for k in names}
        gen.print_coverage(table, sum(len(o) for _, o in named) / len(named), len(named), out,
                           coro=self.coro, io=self.io)
        out.write("  %-28s %5.1f  (traces: a callback at nesting depth >= 4 ran)\n"
                  % ("ran at depth>=4", 100.0 * ran_deep / len(named)))
        for k in CORO_RAN if self.coro else IO_RAN if self.io else []:
            if True:
                out.write("  %-28s %5.1f  (traces)\n"
                          % (k, 100.0 * self.ran.get(k, 0) / len(named)))

    def note_trace(self, trace):
        """Coroutine programs: what their traces show happened (CORO_RAN); socket programs:
        IO_RAN."""
        seen = set()
        if self.io:
            for line in trace:
                for m in re.finditer(r"(?:^|(?<=[ \[,:]))s:(.?)", line):
                    seen.add("ran:read-eof" if m.group(1) in ("", ",", "]", " ")
                             else "ran:read-bytes")
                if "EEOF" in line:
                    seen.add("ran:read-eeof")
            for k in seen:
                self.ran[k] = self.ran.get(k, 0) + 1
            return seen
        for line in trace:
            head = line.split(" ", 1)[0]
            if head.endswith(".aw"):
                seen.add("ran:await-threw" if " !" in line else "ran:await-fulfilled")
            elif head.endswith(".catch"):
                seen.add("ran:catch")
            elif head.endswith(".async"):
                seen.add("ran:async-body")
        aw = [i for i, l in enumerate(trace) if l.split(" ", 1)[0].endswith(".aw")]
        other = [i for i, l in enumerate(trace) if not l.split(" ", 1)[0].endswith((".aw", ".async"))]
        if aw and other and min(other) < max(aw) and max(other) > min(aw):
            seen.add("ran:awaits-and-reactions-interleaved")
        for k in seen:
            self.ran[k] = self.ran.get(k, 0) + 1
        return seen


# What the traces of coroutine programs must show (difftest --coro --coverage, and the
# floor of --check-ran: each in >= 5% of the programs).
CORO_RAN = ["ran:async-body", "ran:await-fulfilled", "ran:await-threw", "ran:catch",
            "ran:awaits-and-reactions-interleaved"]
# What the traces of socket programs must show (difftest --io --check-ran): a read's bytes,
# the end of a stream (an empty read), a read cut short by the end (EEOF).
IO_RAN = ["ran:read-bytes", "ran:read-eof", "ran:read-eeof"]


class PythonJudge(Judge):
    """Python 3.11 asyncio: the same final outcome for every node (ID.end lines), and the
    same reactions run with the same values, in any order (FORMAT.md, Final outcomes)."""
    name = "python"
    end_lines = True

    def __init__(self, exe, plant=None, known=False):
        Judge.__init__(self, exe)
        self.plant = plant
        self.known = known

    def generate(self, seed):
        return gen_tasks.generate(seed)

    def check(self, ops):
        return model.check(ops, self.known)

    def valid(self, ops):
        try:
            validate(ops)
        except FormatError:
            return False
        return model.check(ops, self.known) is None

    def emit(self, named):
        return emit_py.emit_batch(named, plant=self.plant, known=self.known)

    @staticmethod
    def agree(c, other):
        return sorted(c) == sorted(other)

    def print_coverage(self, named, out, ran_deep):
        counts = {}
        for _, ops in named:
            for k in gen_tasks.features(ops):
                counts[k] = counts.get(k, 0) + 1
        table = {k: 100.0 * counts.get(k, 0) / len(named) for k in gen_tasks.FEATURES}
        gen_tasks.print_coverage(table, sum(len(o) for _, o in named) / len(named),
                                 len(named), out)


class Backends:
    def __init__(self, runner, judge, tmp=None, keep=False, seq=False):
        self.seq = seq
        self.runner = runner
        self.judge = judge
        self.tmp = tmp or tempfile.mkdtemp(prefix="vow-proof.")
        self.keep = keep
        self.runs = 0

    def close(self):
        if not self.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)

    @staticmethod
    def _split(text, n):
        traces = [[] for _ in range(n)]
        for line in text.splitlines():
            idx, _, rest = line.partition(" ")
            if idx.isdigit() and int(idx) < n:
                traces[int(idx)].append(rest)
        return traces

    def run_c(self, named, seq=None):
        seq = self.seq if seq is None else seq
        path = os.path.join(self.tmp, "batch%d.txt" % threading.get_ident())
        with open(path, "w") as f:
            f.write(dump_batch(named))
        cmd = [self.runner] + (["--seq"] if seq else []) + \
            (["--end"] if self.judge.end_lines else []) + [path]
        try:
            p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            raise RuntimeError("vow_proof_run did not finish in %d s (a read that waits for "
                               "ever?): %s" % (TIMEOUT, path))
        return self._split(p.stdout, len(named)), p.returncode, p.stderr

    def run_js(self, named):
        js = os.path.join(self.tmp, "batch.js" if self.judge.name == "node" else "batch.py")
        out = os.path.join(self.tmp, self.judge.name + ".out")
        with open(js, "w") as f:
            f.write(self.judge.emit(named))
        if os.path.exists(out):
            os.unlink(out)
        try:
            p = subprocess.run([self.judge.exe, js, out], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            raise RuntimeError("%s did not finish in %d s: %s" % (self.judge.name, TIMEOUT, js))
        text = open(out).read() if os.path.exists(out) else ""
        return self._split(text, len(named)), p.returncode, p.stderr

    def run(self, named):
        """Per program: (C trace, JS trace, C failed). Both back ends run at once (they
        mostly wait on timers). A crash of the C batch is pinned on its programs by
        running each alone."""
        self.runs += 1
        with concurrent.futures.ThreadPoolExecutor(2) as ex:
            fjs = ex.submit(self.run_js, named)
            fc = ex.submit(self.run_c, named)
            js, jrc, jerr = fjs.result()
            c, crc, cerr = fc.result()
        if jrc != 0:
            raise RuntimeError("%s failed (exit %d):\n%s" % (self.judge.name, jrc, jerr[-4000:]))
        failed = [False] * len(named)
        if crc != 0:
            if len(named) == 1:
                failed[0] = True
                self.last_c_stderr = cerr
            else:
                for i, prog in enumerate(named):
                    ci, rc, err = self.run_c([prog])
                    c[i] = ci[0]
                    failed[i] = rc != 0
                    if rc != 0:
                        self.last_c_stderr = err
        return [(c[i], js[i], failed[i]) for i in range(len(named))]


JUDGE = Judge("node")
# A back end that runs longer than this on one batch has hung (the programs' timers end
# before 2 s): a failure, not a wait until ctest's timeout.
TIMEOUT = 120


def diverges(result):
    c, js, failed = result
    return failed or not JUDGE.agree(c, js)


def same_failure(original):
    """A shrinking candidate must fail the way the original did: a crash (or failed
    check) of vow_proof_run, or traces that differ while both back ends ran fine."""
    def check(result):
        c, js, failed = result
        return failed if original[2] else (not failed and not JUDGE.agree(c, js))
    return check


def show_diff(c, js, out):
    if JUDGE.end_lines:  # order does not count: compare sorted
        c, js = sorted(c), sorted(js)
    for line in difflib.unified_diff(js, c, JUDGE.name, "vow", lineterm="", n=100):
        out.write("    " + line + "\n")


def report(name, ops, small, c, js, failed, out):
    out.write("DIVERGENCE: %s (%d ops, shrunk to %d)\n" % (name, len(ops), len(small)))
    out.write("  shrunk program:\n")
    for line in dump(small).splitlines():
        out.write("    " + line + "\n")
    if failed:
        out.write("  vow_proof_run failed on it (crash or check)\n")
    out.write("  traces (--- %s, +++ vow%s):\n" % (JUDGE.name, ", sorted" if JUDGE.end_lines else ""))
    show_diff(c, js, out)


def load_files(paths):
    named = []
    for p in paths:
        files = sorted(os.path.join(p, f) for f in os.listdir(p)) if os.path.isdir(p) else [p]
        for f in files:
            if not f.endswith((".prog", ".txt")):
                continue
            with open(f) as fh:
                progs = parse_batch(fh.read())
            for name, ops in progs:
                named.append((os.path.basename(f) if len(progs) == 1 else name, ops))
    return named


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runner", required=True, help="vow_proof_run binary")
    ap.add_argument("--node", default="node")
    ap.add_argument("--judge", choices=["node", "python"], default="node",
                    help="node: JavaScript programs, traces line for line (default); python: "
                         "asyncio programs (gen_tasks.py), final outcomes")
    ap.add_argument("--python", default=sys.executable, help="the Python 3.11 judge")
    ap.add_argument("--plant", choices=["no-shield"],
                    help="python judge: a deliberately wrong emission (emit_py.py), for the "
                         "self-test with --expect-divergence")
    ap.add_argument("--known", action="store_true",
                    help="python judge: also judge the known differences (README.md, "
                         "proof/known-py/), which diverge until vow or its contract changes")
    ap.add_argument("--seeds", help="e.g. 0-9999 or 3,17")
    ap.add_argument("--files", nargs="+", help="program files, batch files or directories")
    ap.add_argument("--batch", type=int, default=50, help="programs per process")
    ap.add_argument("--expect-divergence", action="store_true")
    ap.add_argument("--max-ops", type=int, default=10)
    ap.add_argument("--no-shrink", action="store_true")
    ap.add_argument("--show", action="store_true", help="print each program's traces")
    ap.add_argument("--keep", action="store_true", help="keep the temporary files")
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--coverage", action="store_true",
                    help="print the coverage table of the programs run, and how deep their "
                         "traces went")
    ap.add_argument("--coro", action="store_true",
                    help="node judge: --seeds generates coroutine programs (gen.py --coro)")
    ap.add_argument("--io", action="store_true",
                    help="node judge: --seeds generates socket programs (gen.py --io)")
    ap.add_argument("--seq", action="store_true",
                    help="vow runs each program of a batch on a fresh loop of its own, one "
                         "after the other (vow_proof_run --seq): no other program's jobs in "
                         "its queue (async.c's await fast path needs an empty queue)")
    ap.add_argument("--check-ran", action="store_true",
                    help="with --coro (--io): fail unless each of the behaviours CORO_RAN "
                         "(IO_RAN) shows in the node traces of >= 5%% of the programs")
    a = ap.parse_args()

    global JUDGE
    if a.judge == "python":
        JUDGE = PythonJudge(a.python, a.plant, a.known)
        exe = a.python
    else:
        JUDGE = Judge(a.node, coro=a.coro, io=a.io)
        exe = a.node
    if shutil.which(exe) is None and not os.path.exists(exe):
        print("difftest: FAIL: '%s' is not on PATH (this test never skips)" % exe)
        return 1
    if a.judge == "python":
        v = subprocess.run([exe, "-c", "import sys; print(sys.version_info[:2] >= (3, 11))"],
                           stdout=subprocess.PIPE, text=True).stdout.strip()
        if v != "True":
            print("difftest: FAIL: '%s' is not Python 3.11 or later (TaskGroup)" % exe)
            return 1
    named = []
    if a.seeds:
        named += [("seed %d" % s, JUDGE.generate(s)) for s in parse_seeds(a.seeds)]
    if a.files:
        named += load_files(a.files)
    if not named:
        ap.error("nothing to run: --seeds or --files")
    if a.judge == "python":
        # asyncio's job order is not JavaScript's: coroutine programs are Node's alone
        # (FORMAT.md, Coroutines).
        coro = [name for name, ops in named if any(o.kind in CORO_KINDS for o in ops)]
        if coro:
            print("difftest: skipped %d coroutine program%s (the python judge does not judge "
                  "them): %s" % (len(coro), "s" if len(coro) > 1 else "",
                                 ", ".join(coro[:5]) + (" ..." if len(coro) > 5 else "")))
            named = [(n, o) for n, o in named if n not in set(coro)]
            if not named:
                print("difftest: nothing left to judge")
                return 0
    for name, ops in named:
        try:
            validate(ops)
        except FormatError as e:
            print("difftest: %s: invalid program: %s" % (name, e))
            return 1
        why = JUDGE.check(ops)
        if why is not None:
            print("difftest: %s: the %s judge cannot judge it: %s" % (name, JUDGE.name, why))
            return 1

    be = Backends(a.runner, JUDGE, keep=a.keep, seq=a.seq)
    out = sys.stdout
    found = 0
    noise = 0
    lines = 0
    ran_deep = 0
    try:
        for start in range(0, len(named), a.batch):
            chunk = named[start:start + a.batch]
            results = be.run(chunk)
            for (name, ops), res in zip(chunk, results):
                lines += len(res[1])
                depth = depth_of(ops)
                ran = [depth.get(int(l.split(".", 1)[0]), 0) + 1 for l in res[1]
                       if l[:1].isdigit()]
                if ran and max(ran) >= 4:
                    ran_deep += 1
                if JUDGE.coro or JUDGE.io:
                    JUDGE.note_trace(res[1])
                if a.show:
                    out.write("== %s\n" % name)
                    for l in res[0]:
                        out.write("  %s\n" % l)
                    if not JUDGE.agree(res[0], res[1]):
                        out.write("  (%s differs)\n" % JUDGE.name)
                if not diverges(res):
                    continue
                # Confirm alone, three times: a program's trace cannot depend on the others
                # in its batch, except through timer lateness when the machine is
                # overloaded (FORMAT.md, Timers). A real divergence is deterministic and
                # shows up in every run; one agreeing run proves it was timing.
                for _ in range(3):
                    alone = be.run([(name, ops)])[0]
                    if not same_failure(res)(alone):
                        break
                if not same_failure(res)(alone):
                    noise += 1
                    out.write("note: %s diverged in its batch but not alone (timer lateness "
                              "under load?); not counted\n" % name)
                    if a.show:
                        show_diff(res[0], res[1], out)
                    continue
                res = alone
                found += 1
                if a.no_shrink:
                    out.write("DIVERGENCE: %s (not shrunk)\n" % name)
                    show_diff(res[0], res[1], out)
                    small, sres = ops, res
                else:
                    like = same_failure(res)

                    def still_fails(progs):
                        verdicts = [like(r) for r in be.run(
                            [("candidate %d" % i, p) for i, p in enumerate(progs)])]
                        return verdicts

                    def confirm(p):
                        return like(be.run([("candidate", p)])[0])
                    small = shrink.shrink(ops, still_fails, confirm,
                                          valid=JUDGE.valid if JUDGE.end_lines else None)
                    sres = be.run([(name, small)])[0]
                    report(name, ops, small, sres[0], sres[1], sres[2], out)
                    if sres[2] and getattr(be, "last_c_stderr", ""):
                        out.write("  vow_proof_run stderr:\n" + "".join(
                            "    " + l + "\n" for l in be.last_c_stderr.splitlines()[-30:]))
                if a.expect_divergence:
                    ok = len(small) <= a.max_ops
                    if ok or found >= 3:
                        out.write("%s: the planted divergence was found (%s) and shrunk to %d "
                                  "ops (limit %d)\n" % ("OK" if ok else "FAIL", name, len(small),
                                                         a.max_ops))
                        return 0 if ok else 1
                    out.write("note: %s shrank to %d ops, over the limit of %d: trying the "
                              "next divergent program (3 at most)\n" % (name, len(small), a.max_ops))
    except RuntimeError as e:
        out.write("difftest: FAIL: %s\n" % e)
        return 1
    finally:
        be.close()
    if a.expect_divergence:
        if found:
            out.write("FAIL: %d divergences found, none shrunk to %d ops or fewer\n" % (found, a.max_ops))
        else:
            out.write("FAIL: no divergence in %d programs: the tester missed the planted one\n" % len(named))
        return 1
    if found:
        out.write("FAIL: %d of %d programs diverge\n" % (found, len(named)))
        return 1
    if a.coverage:
        JUDGE.print_coverage(named, out, ran_deep)
    if a.check_ran:
        low = [k for k in (IO_RAN if a.io else CORO_RAN)
               if 100.0 * JUDGE.ran.get(k, 0) / len(named) < 5.0]
        if low:
            out.write("FAIL: behaviours in under 5%% of the traces: %s\n" % ", ".join(low))
            return 1
    if noise > 10:
        out.write("FAIL: %d programs diverged in their batch and not alone: the timing rule "
                  "is too tight for this machine\n" % noise)
        return 1
    if True:
        out.write("OK: %d programs, %d %s, identical on vow and %s (%d batch runs)\n"
                  % (len(named), lines, "trace and outcome lines" if JUDGE.end_lines
                     else "trace lines", JUDGE.name, be.runs))
    if lines == 0:
        out.write("FAIL: no trace lines at all: an empty comparison proves nothing\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
