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
Examples without a Python counterpart (timers_demo) are run and must exit 0.

  python3 examples/check.py BUILD_DIR [NAME...]   compare; exit 1 on any mismatch
  python3 examples/check.py --demo BUILD_DIR      the README's demo: show each example's
                                                  output, then its verdict
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


def run(cmd, results, key):
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=TIMEOUT, text=True)
        results[key] = (p.returncode, p.stdout, p.stderr)
    except (OSError, subprocess.TimeoutExpired) as e:
        results[key] = (-1, "", str(e))


def run_pair(c_cmd, py_cmd):
    results = {}
    threads = [threading.Thread(target=run, args=(c_cmd, results, "c")),
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
    print(f"check.py self-test: {len(cases) - bad} passed, {bad} failed")
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
    for name in names:
        exe = os.path.join(bin_dir, name)
        py = os.path.join(PY_DIR, name + ".py")
        if os.path.isfile(py):
            with open(py, encoding="utf-8") as f:
                unordered = "# check: unordered" in f.read()
            (crc, cout, cerr), (prc, pout, perr) = run_pair([exe], [sys.executable, py])
        else:
            unordered = False
            results = {}
            run([exe], results, "c")
            crc, cout, cerr = results["c"]
            prc, pout, perr = 0, None, ""
        if args.demo:
            print(f"==== {name} " + "=" * max(0, 60 - len(name)))
            sys.stdout.write(cout)
        problems = []
        if crc != 0:
            problems.append(f"the C program exited with {crc}: {cerr.strip()}")
        if not cout.strip():
            problems.append("the C program printed nothing")
        if pout is not None:
            if prc != 0:
                problems.append(f"the Python program exited with {prc}: {perr.strip()}")
            problems += compare(cout, pout, unordered, args.tolerance, args.relative)
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
        else:
            passed += 1
            how = (f"matches examples/py/{name}.py" + (" (as a set of lines)" if unordered else "")
                   if pout is not None else "ran cleanly (no Python counterpart)")
            print(f"ok   {name}: {how}")
    print(f"examples: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
