#!/usr/bin/env python3
"""tests/misuse_doc.py - docs/misuse.md is complete and matches the tests that walk it.

Checks, and fails naming each difference:
  1. every function declared (VOW_EXTERN) in include/vow/*.h appears in the first column
     of some row of docs/misuse.md;
  2. the table "Every public function" and MISUSE_TABLE of tests/test_misuse_table.c list
     the same case ids, in the same order, and each case's function is one of its row's;
  3. every row of the table "Calls that return a promise" names a case (`table` / `id`)
     that tests/test_misuse_rule.c defines.
Usage: misuse_doc.py SOURCE_DIR
"""
import glob
import os
import re
import sys

root = sys.argv[1] if len(sys.argv) > 1 else "."
errors = []


def read(path):
    with open(f"{root}/{path}", encoding="utf-8") as f:
        return f.read()


doc = read("docs/misuse.md")
headers = "".join(read(f"include/vow/{os.path.basename(h)}")
                  for h in sorted(glob.glob(f"{root}/include/vow/*.h")))
public = sorted(set(re.findall(r"VOW_EXTERN[^;(]*?\b(vow_[a-z0-9_]+)\s*\(", headers)))
if len(public) < 100:
    errors.append(f"only {len(public)} public functions found in include/vow: parser broken?")


def section(title):
    m = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", doc, re.M | re.S)
    if m is None:
        errors.append(f"docs/misuse.md has no section '## {title}'")
        return []
    return [line for line in m.group(1).splitlines() if line.startswith("| `vow_")]


def cells(row):
    return [c.strip() for c in row.strip().strip("|").split("|")]


# 1. every public function has a row
documented = set()
for line in doc.splitlines():
    if line.startswith("| "):
        documented.update(re.findall(r"`(vow_[a-z0-9_]+)`", cells(line)[0]))
for fn in public:
    if fn not in documented:
        errors.append(f"{fn}: no row in docs/misuse.md")

# 2. the table of every public function against MISUSE_TABLE
rows = []
for row in section("Every public function"):
    c = cells(row)
    if len(c) != 5:
        errors.append(f"row with {len(c)} cells, want 5: {row}")
        continue
    m = re.fullmatch(r"`([a-z0-9_]+)`", c[4])
    if m is None:
        errors.append(f"row without a case id in its last cell: {row}")
        continue
    if c[3] not in ("yes", "no"):
        errors.append(f"{m.group(1)}: header column is '{c[3]}', want yes or no")
    rows.append((m.group(1), set(re.findall(r"`(vow_[a-z0-9_]+)`", c[0]))))
src = read("tests/test_misuse_table.c")
table = re.findall(r"^\s*X\(([a-z0-9_]+), (vow_[a-z0-9_]+)\)", src, re.M)
if len(table) < 100:
    errors.append(f"only {len(table)} cases in MISUSE_TABLE: parser broken?")
doc_ids = [r[0] for r in rows]
src_ids = [t[0] for t in table]
for i in sorted(set(doc_ids) - set(src_ids)):
    errors.append(f"{i}: a row of docs/misuse.md, no case in MISUSE_TABLE")
for i in sorted(set(src_ids) - set(doc_ids)):
    errors.append(f"{i}: a case of MISUSE_TABLE, no row in docs/misuse.md")
if not errors and doc_ids != src_ids:
    errors.append("docs/misuse.md and MISUSE_TABLE list the cases in different orders")
fns = dict(rows)
for case, fn in table:
    if case in fns and fn not in fns[case]:
        errors.append(f"{case}: MISUSE_TABLE says {fn}, its row names {sorted(fns[case])}")
for case, _ in table:
    if not re.search(rf"^CASE\({case}\)", src, re.M):
        errors.append(f"{case}: listed in MISUSE_TABLE, no CASE({case}) body")

# 3. the promise-returning calls' rows name cases of test_misuse_rule.c
rule = read("tests/test_misuse_rule.c")
for row in section("Calls that return a promise"):
    m = re.search(r"`([a-z_]+_rows)` / `([a-z0-9_]+)`", cells(row)[-1])
    if m is None:
        errors.append(f"row without a `table` / `case` test: {row}")
        continue
    for name in m.groups():
        if not re.search(rf"\b{name}\b", rule):
            errors.append(f"{name}: named by docs/misuse.md, not in tests/test_misuse_rule.c")

for e in errors:
    print("misuse_doc:", e)
print(f"misuse_doc: {len(public)} public functions, {len(rows)} rows of every public "
      f"function, {len(table)} cases; {len(errors)} problem(s)")
sys.exit(1 if errors else 0)
