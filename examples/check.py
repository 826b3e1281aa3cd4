#!/usr/bin/env python3
"""examples/check.py - runs each chapter example in C beside its Python 3.11 original.

For every examples/py/<name>.py with a C program <build>/examples/<name>, both run (at
the same time), and their output is compared line by line:
  - the text around the numbers must be identical;
  - integers must be equal;
  - decimals (durations, "0.52 s") must agree within a tolerance (default: 0.12 plus
    10% of Python's value), since both sides really sleep;
  - a Python file that contains the line `# check: unordered` (random delays, fan-out)
    is compared as a multiset of lines instead of a sequence.
stderr is compared by a rule of its own per example (STDERR_RULES below), since Python's
messages and vow's are worded differently: both sides must report the same things (the
same function never awaited, the same failures left unhandled); an example without a rule
must write nothing on stderr, in C or in Python.
An await form, <name>_await (issue 16: the same example written with vow_async and
vow_await), is compared with the same Python original as <name>, by the same rules.
Examples without a Python counterpart (timers_demo, adopt_libev, shared_context, and issue
17's echo_tcp, ch10_6_http_tcp, graceful_shutdown, reuseport_threads) are run and must exit 0
with nothing on stderr; those listed in EXPECTED_OUTPUT (real sockets, signals and threads,
whose output must not depend on timing) must also print exactly the text given there.

  python3 examples/check.py BUILD_DIR [NAME...]   compare; exit 1 on any mismatch
  python3 examples/check.py --demo BUILD_DIR      the README's demo: show each example's
                                                  output (its stderr lines after its
                                                  stdout, marked "stderr| "), then its
                                                  verdict
"""
import argparse
import os
import re
import subprocess
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
PY_DIR = os.path.join(HERE, "py")
NUM = re.compile(r"-?\d+(?:\.\d+)?")
TIMEOUT = 120
STDERR_MARK = "stderr| "

# The stderr rules. Each says what the reports are (`about`), and gives a regular
# expression for one line of the C program's stderr (`c`) and one for a report in Python's
# stderr (`py`, searched in the whole text with re.MULTILINE: Python's reports span several
# lines). Both capture a group `what`: the thing reported. The comparison: every line the C
# program writes on stderr is such a report (nothing else), Python writes at least one, and
# the `what` of the reports are the same on both sides, in the same order.
STDERR_RULES = {
    # Pitfall 1. Python's coroutine finalizer warns "RuntimeWarning: coroutine 'get_data'
    # was never awaited" (then echoes the source line and a tracemalloc hint); the C
    # example's get_data context destructor warns when the work never finished (the clean
    # exit cancelled it). what = the function whose result nobody awaited.
    "ch10_8_forgotten_await": {
        "about": "never-awaited warning",
        "c": r"^warning: a promise of '(?P<what>\w+)' was never awaited: .*$",
        "py": r"^.*RuntimeWarning: coroutine '(?P<what>\w+)' was never awaited$",
    },
    # Pitfall 4. asyncio's default exception handler logs "Task exception was never
    # retrieved", the task, and a traceback ending in "ValueError: <message>"; vow's warn
    # mode writes one line per unhandled rejection, "vow: unhandled promise rejection
    # (rejection id: N): EINVAL: <message>". what = the failure's message: as many reports
    # on each side, with the same messages.
    "ch10_8_unhandled": {
        "about": "unhandled-failure report",
        "c": r"^vow: unhandled promise rejection \(rejection id: \d+\): \w+: (?P<what>.*)$",
        "py": (r"^Task exception was never retrieved\n(?:.*\n)*?"
               r"\w*(?:Error|Exception): (?P<what>.*)$"),
    },
}

# The exact stdout of examples that have no Python original but print the same text on every
# run (issue 17: they use real sockets on 127.0.0.1, signals and threads, and print only
# what does not depend on timing, ports or the kernel's choices). Compared line by line, so
# a slow run (valgrind, a sanitizer) or another backend that changes a line shows up here.
EXPECTED_OUTPUT = {
    "echo_tcp": """\
echo server: listening on 127.0.0.1, on a port the kernel chose
client 1: sent "line 1 of client 1", got back "line 1 of client 1"
client 1: sent "line 2 of client 1", got back "line 2 of client 1"
client 1: sent "line 3 of client 1", got back "line 3 of client 1"
client 1: the server closed its side after the last echo
client 2: sent "line 1 of client 2", got back "line 1 of client 2"
client 2: sent "line 2 of client 2", got back "line 2 of client 2"
client 2: sent "line 3 of client 2", got back "line 3 of client 2"
client 2: the server closed its side after the last echo
client 3: sent "line 1 of client 3", got back "line 1 of client 3"
client 3: sent "line 2 of client 3", got back "line 2 of client 3"
client 3: sent "line 3 of client 3", got back "line 3 of client 3"
client 3: the server closed its side after the last echo
echo server: closed after 3 connections and 9 lines echoed
""",
    "ch10_6_http_tcp": """\
6 GET requests to a local HTTP/1.0 server, at most 2 at once, 500 ms timeout each

=== results ===
GET /users: 200 OK {"users": ["ada", "grace", "linus"]}
GET /posts: 200 OK {"posts": 12}
GET /comments: 200 OK {"comments": 48}
GET /photos: 200 OK {"photos": 7}
GET /slow: timed out after 500 ms
GET /missing: 404 Not Found {"error": "no such path"}

at most 2 requests were in flight at once
server: 6 requests received, 5 answered (the client of /slow gave up first)
""",
    "graceful_shutdown": """\
server: listening on 127.0.0.1; SIGINT stops it
3 requests in flight: sending SIGINT to this process
SIGINT: the server stops accepting; 3 requests in flight go on
a new client: ECONNREFUSED (connection refused)
client 1: "job 1 done"
client 2: "job 2 done"
client 3: "job 3 done"
server: 3 of 3 requests finished after SIGINT, none dropped; exiting 0
""",
    "reuseport_threads": """\
2 threads, each with its own loop, listen on one port of 127.0.0.1 (SO_REUSEPORT)
40 clients: 40 answers, each from thread 1 or thread 2
the threads served 40 connections in all
each thread served as many connections as the answers naming it: yes
both threads stopped; their loops are freed
""",
}


def compare_expected(c_out, expected):
    """Checks a C program's stdout against its EXPECTED_OUTPUT text, line by line (exact,
    trailing spaces aside). Returns a list of problems (empty when they agree)."""
    c_lines = [l.rstrip() for l in c_out.splitlines()]
    want = [l.rstrip() for l in expected.splitlines()]
    problems = []
    if len(c_lines) != len(want):
        problems.append(f"C printed {len(c_lines)} lines, {len(want)} expected")
    for i, (cl, wl) in enumerate(zip(c_lines, want), 1):
        if cl != wl:
            problems.append(f"line {i}: C {cl!r} != expected {wl!r}")
    return problems


# VOW_BACKEND (set by ctest, once per backend) chooses the backend of vow's own loops. An
# example that makes its own libev loop (ev_loop_new, then vow_loop_wrap) gets the same
# through LIBEV_FLAGS, which libev reads unless the caller passes EVFLAG_NOENV (vow passes
# it for the loops it makes, so this changes nothing else).
LIBEV_FLAGS = {"select": "1", "poll": "2", "epoll": "4", "kqueue": "8"}


def c_env():
    env = dict(os.environ)
    backend = env.get("VOW_BACKEND", "")
    if backend in LIBEV_FLAGS and "LIBEV_FLAGS" not in env:
        env["LIBEV_FLAGS"] = LIBEV_FLAGS[backend]
    return env


def run(cmd, results, key, env=None):
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=TIMEOUT, text=True, env=env)
        results[key] = (p.returncode, p.stdout, p.stderr)
    except (OSError, subprocess.TimeoutExpired) as e:
        results[key] = (-1, "", str(e))


def run_pair(c_cmd, py_cmd):
    results = {}
    threads = [threading.Thread(target=run, args=(c_cmd, results, "c", c_env())),
               threading.Thread(target=run, args=(py_cmd, results, "py"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results["c"], results["py"]


def skeleton(line):
    return NUM.sub("#", line.rstrip())


def numbers(line):
    return NUM.findall(line)


def numbers_match(c_nums, py_nums, tol_abs, tol_rel):
    for a, b in zip(c_nums, py_nums):
        if "." in a or "." in b:
            fa, fb = float(a), float(b)
            if abs(fa - fb) > tol_abs + tol_rel * abs(fb):
                return False
        elif int(a) != int(b):
            return False
    return len(c_nums) == len(py_nums)


def lines_match(c_line, py_line, tol_abs, tol_rel):
    return (skeleton(c_line) == skeleton(py_line)
            and numbers_match(numbers(c_line), numbers(py_line), tol_abs, tol_rel))


def compare(c_out, py_out, unordered, tol_abs, tol_rel):
    """Returns a list of problems (empty when the outputs agree)."""
    c_lines = [l.rstrip() for l in c_out.splitlines()]
    py_lines = [l.rstrip() for l in py_out.splitlines()]
    problems = []
    if not py_lines:
        problems.append("the Python program printed nothing")
    if len(c_lines) != len(py_lines):
        problems.append(f"C printed {len(c_lines)} lines, Python {len(py_lines)}")
    if unordered:
        remaining = list(py_lines)
        for cl in c_lines:
            for i, pl in enumerate(remaining):
                if lines_match(cl, pl, tol_abs, tol_rel):
                    del remaining[i]
                    break
            else:
                problems.append(f"C line not in Python's output: {cl!r}")
        for pl in remaining:
            problems.append(f"Python line missing from C's output: {pl!r}")
    else:
        for i, (cl, pl) in enumerate(zip(c_lines, py_lines), 1):
            if not lines_match(cl, pl, tol_abs, tol_rel):
                problems.append(f"line {i}: C {cl!r} != Python {pl!r}")
    return problems


def compare_stderr(name, c_err, py_err):
    """Checks the two stderr streams by the example's rule (py_err None: the example has no
    Python counterpart). Returns (problems, what the C program reported)."""
    rule = STDERR_RULES.get(name)
    if rule is None:
        problems = []
        if c_err.strip():
            problems.append(f"the C program wrote on stderr (check.py has no stderr rule for"
                            f" {name}): {c_err.strip()!r}")
        if py_err is not None and py_err.strip():
            problems.append(f"the Python program wrote on stderr (check.py has no stderr rule"
                            f" for {name}): {py_err.strip()!r}")
        return problems, []
    problems = []
    c_what = []
    for line in c_err.splitlines():
        if not line.strip():
            continue
        m = re.match(rule["c"], line.rstrip())
        if m:
            c_what.append(m.group("what"))
        else:
            problems.append(f"C stderr line is no {rule['about']}: {line.rstrip()!r}")
    if py_err is None:
        problems.append(f"{name} has a stderr rule but no Python counterpart")
        return problems, c_what
    py_what = [m.group("what") for m in re.finditer(rule["py"], py_err, re.MULTILINE)]
    if not py_what:
        problems.append(f"Python wrote no {rule['about']} on stderr (has its wording changed?)")
    if c_what != py_what:
        problems.append(f"stderr: C wrote {len(c_what)} {rule['about']}(s) about {c_what}, "
                        f"Python {len(py_what)} about {py_what}")
    return problems, c_what


def original(name):
    """The Python original's name: an await form <name>_await is compared with <name>
    (a name that has a Python original of its own, ch10_2_await, is its own original)."""
    if os.path.isfile(os.path.join(PY_DIR, name + ".py")) or not name.endswith("_await"):
        return name
    return name[: -len("_await")]


def example_names(bin_dir):
    names = []
    for f in sorted(os.listdir(bin_dir)):
        path = os.path.join(bin_dir, f)
        if os.path.isfile(path) and os.access(path, os.X_OK) and not f.startswith("."):
            names.append(f)
    return names


def self_test():
    """The comparison must be able to fail: planted differences are caught."""
    t, r = 0.12, 0.10
    cases = [
        ("total: 0.60 s\n", "total: 0.61 s\n", False, True),
        ("total: 0.90 s\n", "total: 0.60 s\n", False, False),   # a duration off
        ("task 1 done\n", "task 2 done\n", False, False),       # an integer off
        ("a\nb\n", "b\na\n", False, False),                    # order matters...
        ("a\nb\n", "b\na\n", True, True),                      # ...unless unordered
        ("a\n", "a\nb\n", False, False),                        # a missing line
        ("hello world\n", "hello there\n", False, False),        # text differs
        ("x\n", "", False, False),                               # Python printed nothing
    ]
    bad = 0
    for c, p, unordered, want in cases:
        got = not compare(c, p, unordered, t, r)
        if got != want:
            bad += 1
            print(f"self-test: compare({c!r}, {p!r}, unordered={unordered}) gave {got}")
    # stderr: the rules, on text shaped like each side's real messages
    fa, un = "ch10_8_forgotten_await", "ch10_8_unhandled"
    warn_c = "warning: a promise of 'get_data' was never awaited: its work was cancelled\n"
    warn_py = ("/x/ch10_8_forgotten_await.py:39: RuntimeWarning: coroutine 'get_data' was"
               " never awaited\n  del never\nRuntimeWarning: Enable tracemalloc to get the"
               " object allocation traceback\n")
    rep_c = "vow: unhandled promise rejection (rejection id: 1): EINVAL: {}\n"
    rep_py = ("Task exception was never retrieved\nfuture: <Task finished name='Task-2'"
              " coro=<risky_task() done> exception=ValueError('{0}')>\nTraceback (most"
              " recent call last):\n  File \"/x/u.py\", line 23, in risky_task\n"
              "    raise ValueError(\"{0}\")\nValueError: {0}\n")
    err_cases = [
        (fa, warn_c, warn_py, True),
        (fa, warn_c.replace("get_data", "fetch"), warn_py, False),      # another function
        (fa, "", warn_py, False),                                       # no warning in C
        (fa, warn_c, "", False),                                        # none in Python
        (fa, warn_c + "vow_main: timed out\n", warn_py, False),         # a stray C line
        (fa, warn_c * 2, warn_py, False),                               # a warning too many
        (un, rep_c.format("boom"), rep_py.format("boom"), True),
        (un, rep_c.format("boom"), rep_py.format("bang"), False),       # another failure
        (un, rep_c.format("boom"), rep_py.format("boom") * 2, False),   # a report missing
        (un, "", rep_py.format("boom"), False),                         # no report in C
        ("ch10_2_await", "", "", True),                                 # no rule: silence
        ("ch10_2_await", "vow_main: uncaught rejection: EINVAL\n", "", False),
        ("ch10_2_await", "", "DeprecationWarning: x\n", False),
        ("timers_demo", "", None, True),                                # no Python side
        ("timers_demo", "oops\n", None, False),
    ]
    for name, c, p, want in err_cases:
        got = not compare_stderr(name, c, p)[0]
        if got != want:
            bad += 1
            print(f"self-test: compare_stderr({name}, {c!r}, {p!r}) gave {got}")
    # expected output (examples without a Python original)
    exp = "a 1\nb 2\n"
    exp_cases = [
        ("a 1\nb 2\n", True),
        ("a 1\nb 2  \n", True),          # trailing spaces aside
        ("a 1\nb 3\n", False),           # a number off
        ("b 2\na 1\n", False),           # order matters
        ("a 1\n", False),                # a line missing
        ("a 1\nb 2\nc 3\n", False),      # a line too many
        ("", False),                      # nothing printed
    ]
    for c, want in exp_cases:
        got = not compare_expected(c, exp)
        if got != want:
            bad += 1
            print(f"self-test: compare_expected({c!r}, {exp!r}) gave {got}")
    total = len(cases) + len(err_cases) + len(exp_cases)
    print(f"check.py self-test: {total - bad} passed, {bad} failed")
    return 1 if bad else 0


def main():
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--demo", action="store_true", help="show each example's output")
    ap.add_argument("--tolerance", type=float, default=0.12,
                    help="absolute tolerance for decimals (seconds)")
    ap.add_argument("--relative", type=float, default=0.10,
                    help="relative tolerance for decimals")
    ap.add_argument("build", help="the build directory (or its examples/ folder)")
    ap.add_argument("names", nargs="*", help="only these examples")
    args = ap.parse_args()

    bin_dir = args.build
    if os.path.isdir(os.path.join(bin_dir, "examples")):
        bin_dir = os.path.join(bin_dir, "examples")
    names = args.names or example_names(bin_dir)
    names = [n for n in names if os.path.isfile(os.path.join(bin_dir, n))]
    if not names:
        print(f"check.py: no example programs in {bin_dir}", file=sys.stderr)
        return 1
    py_names = {f[:-3] for f in os.listdir(PY_DIR) if f.endswith(".py")}
    missing_c = sorted(py_names - set(example_names(bin_dir)))
    passed = failed = 0
    for name in missing_c:
        if not args.names:
            print(f"FAIL {name}: examples/py/{name}.py has no C program")
            failed += 1
    for name in sorted(set(EXPECTED_OUTPUT) - set(example_names(bin_dir))):
        if not args.names:
            print(f"FAIL {name}: check.py expects its output, but it was not built")
            failed += 1
    for name in names:
        exe = os.path.join(bin_dir, name)
        py = os.path.join(PY_DIR, original(name) + ".py")
        if os.path.isfile(py):
            with open(py, encoding="utf-8") as f:
                unordered = "# check: unordered" in f.read()
            (crc, cout, cerr), (prc, pout, perr) = run_pair([exe], [sys.executable, py])
        else:
            unordered = False
            results = {}
            run([exe], results, "c", c_env())
            crc, cout, cerr = results["c"]
            prc, pout, perr = 0, None, None
        if args.demo:
            print(f"==== {name} " + "=" * max(0, 60 - len(name)))
            sys.stdout.write(cout)
            # stderr is a pipe of its own (their interleaving is lost): its lines come
            # after stdout's, each marked
            for line in cerr.splitlines():
                print(STDERR_MARK + line)
        problems = []
        if crc != 0:
            problems.append(f"the C program exited with {crc}: {cerr.strip()}")
        if not cout.strip():
            problems.append("the C program printed nothing")
        if pout is None and name in EXPECTED_OUTPUT and crc == 0:
            problems += compare_expected(cout, EXPECTED_OUTPUT[name])
        if pout is not None:
            if prc != 0:
                problems.append(f"the Python program exited with {prc}: {perr.strip()}")
            problems += compare(cout, pout, unordered, args.tolerance, args.relative)
        err_problems, reported = compare_stderr(original(name), cerr, perr)
        if crc == 0 and prc == 0:  # a failed exit already shows its stderr
            problems += err_problems
        if problems:
            failed += 1
            print(f"FAIL {name}")
            for p in problems:
                print(f"    {p}")
            if not args.demo and pout is not None:
                print("    --- C output ---")
                print("    " + "\n    ".join(cout.splitlines()))
                print("    --- Python output ---")
                print("    " + "\n    ".join(pout.splitlines()))
            elif not args.demo and name in EXPECTED_OUTPUT:
                print("    --- C output ---")
                print("    " + "\n    ".join(cout.splitlines()))
                print("    --- expected ---")
                print("    " + "\n    ".join(EXPECTED_OUTPUT[name].splitlines()))
            if not args.demo and err_problems:
                print("    --- C stderr ---")
                print("    " + "\n    ".join(cerr.splitlines()))
                if perr is not None:
                    print("    --- Python stderr ---")
                    print("    " + "\n    ".join(perr.splitlines()))
        else:
            passed += 1
            how = (f"matches examples/py/{original(name)}.py" + (" (as a set of lines)" if unordered else "")
                   if pout is not None else
                   "ran cleanly, printed the expected output (no Python counterpart)"
                   if name in EXPECTED_OUTPUT else "ran cleanly (no Python counterpart)")
            if name in STDERR_RULES:
                how += (f"; stderr too ({len(reported)} {STDERR_RULES[name]['about']}(s)"
                        f" about {', '.join(map(repr, reported))}, as Python's)")
            print(f"ok   {name}: {how}")
    print(f"examples: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
