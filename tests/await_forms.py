#!/usr/bin/env python3
"""tests/await_forms.py - every chapter example has an await form, and it is one.

Issue 16: the await form of every chapter example (each examples/py/<name>.py) is
examples/<name>_await.c (or, for an example whose own name ends in _await, such as
ch10_2_await, examples/<name>_await.c all the same). An await form:
  - calls vow_await (or vow_await_next) where Python awaits: at least one call;
  - contains no vow_then, vow_then_ok, vow_then_ex, vow_catch, vow_catch_ex, vow_finally
    (comments aside): the reactions are the callback form's;
  - starts a coroutine (vow_async, vow_async_ex, vow_create_task_async or vow_async_gen).
examples/check.py compares each await form's output with the Python original.
Usage: await_forms.py SOURCE_DIR
"""
import glob
import os
import re
import sys

root = sys.argv[1] if len(sys.argv) > 1 else "."
errors = []
names = sorted(os.path.basename(p)[:-3] for p in glob.glob(f"{root}/examples/py/*.py"))
if len(names) < 20:
    errors.append(f"only {len(names)} Python originals found: wrong directory?")


def strip_comments(src):
    src = re.sub(r"/\*.*?\*/", " ", src, flags=re.S)
    return re.sub(r"//[^\n]*", " ", src)


for name in names:
    path = f"{root}/examples/{name}_await.c"
    if not os.path.isfile(path):
        errors.append(f"{name}: no await form (examples/{name}_await.c)")
        continue
    with open(path, encoding="utf-8") as f:
        code = strip_comments(f.read())
    if not re.search(r"\bvow_await(_next)?\s*\(", code):
        errors.append(f"{name}_await.c: no vow_await call")
    for fn in re.findall(r"\b(vow_then(?:_ok|_ex)?|vow_catch(?:_ex)?|vow_finally)\s*\(", code):
        errors.append(f"{name}_await.c: calls {fn} (an await form has no reactions)")
    if not re.search(r"\b(vow_async|vow_async_ex|vow_create_task_async|vow_async_gen)\s*\(", code):
        errors.append(f"{name}_await.c: starts no coroutine")

for e in errors:
    print(f"await_forms: {e}")
print(f"await_forms: {len(names)} examples, {len(errors)} problem(s)")
sys.exit(1 if errors else 0)
