"""proof/shrink.py - delta debugging over ops.

Each round builds candidates from the current failing program:
  - removals: a chunk of consecutive ops (halves, quarters, ... single ops) together with
    everything that depends on them (prog.remove: the ops of their scopes and the ops
    that refer to them), so every candidate is again a valid program;
  - simplifications that let later rounds remove more: an action becomes `val:u` (it no
    longer refers to a node), a `then` loses one of its two handlers, an op moves out of
    its scope into the enclosing one (less nesting). These are kept only when they pass
    prog.validate.
All candidates of a round run in one batch (one vow process and one node process); the
one that still fails and is smallest by (ops, nesting, references) becomes the current
program. It stops when no candidate fails: no single op (with its dependents) can be
removed and no simplification applies.
"""

from prog import IO_KINDS, NODE_TYPES, FormatError, Op, arg_type, remove, renumber, timing_ok, validate


def measure(ops):
    depth = {}
    refs = 0
    for o in ops:
        depth[o.id] = 0 if o.scope is None else depth[o.scope[0]] + 1
        refs += len(o.refs()) + sum(1 for a in o.args if a not in ("-", "val:u"))
    return (len(ops), sum(depth.values()), refs)


def _valid(ops):
    try:
        validate(ops)
        return timing_ok(ops)
    except FormatError:
        return False


def _replace(ops, i, new_op):
    out = list(ops)
    out[i] = new_op
    return out


def _redirect(ops, gone, to):
    """Removes op `gone`, pointing every reference to it at node `to` instead."""
    out = []
    for o in ops:
        if o.id == gone:
            continue
        args = []
        for i, a in enumerate(o.args):
            if a == str(gone) and arg_type(o, i) in NODE_TYPES:
                a = str(to)
            elif a == "ret:%d" % gone:
                a = "ret:%d" % to
            args.append(a)
        out.append(Op(o.id, o.scope, o.kind, args))
    return out


def simplifications(ops, valid=None):
    valid = valid or _valid
    out = []
    byid = {o.id: o for o in ops}
    for i, o in enumerate(ops):
        if o.kind in ("then", "catch", "finally") and not any(
                x.scope is not None and x.scope[0] == o.id for x in ops):
            # Bypass: drop a reaction whose scope is empty; its users use its source.
            out.append(_redirect(ops, o.id, int(o.args[0])))
        if o.kind in ("then", "catch", "finally"):
            for j in range(1, len(o.args)):
                a = o.args[j]
                if a not in ("-", "val:u"):
                    args = list(o.args)
                    args[j] = "val:u"
                    out.append(_replace(ops, i, Op(o.id, o.scope, o.kind, args)))
            if o.kind == "then" and o.args[1] != "-" and o.args[2] != "-":
                for j, tag in ((1, "ok"), (2, "err")):
                    args = list(o.args)
                    args[j] = "-"
                    c = _replace(ops, i, Op(o.id, o.scope, o.kind, args))
                    out.append(remove(c, [x.id for x in ops if x.scope == (o.id, tag)]))
        if o.kind in ("create_task", "group_spawn", "async"):
            j = len(o.args) - 1
            if o.args[j] != "val:u":
                args = list(o.args)
                args[j] = "val:u"
                out.append(_replace(ops, i, Op(o.id, o.scope, o.kind, args)))
        if o.kind == "wait" and o.args[1] != "-":
            args = list(o.args)
            args[1] = "-"
            out.append(_replace(ops, i, Op(o.id, o.scope, o.kind, args)))
        if o.kind == "wait" and o.args[2] != "keep":
            args = list(o.args)
            args[2] = "keep"
            out.append(_replace(ops, i, Op(o.id, o.scope, o.kind, args)))
        if o.scope is not None:
            parent = byid[o.scope[0]]
            out.append(_replace(ops, i, Op(o.id, parent.scope, o.kind, o.args)))
    return [c for c in out if valid(c)]


def candidates(ops, valid=None):
    if valid is None and any(o.kind in IO_KINDS for o in ops):
        # A removal keeps references valid, not the socket rules: removing a write can
        # leave a read that would wait for ever (FORMAT.md, Sockets).
        valid = _valid
    n = len(ops)
    seen = set()
    out = []
    k = n // 2
    sizes = []
    while k >= 1:
        sizes.append(k)
        k //= 2
    if 1 not in sizes and n >= 1:
        sizes.append(1)
    for k in sizes:
        for start in range(0, n, k):
            ids = [o.id for o in ops[start:start + k]]
            c = remove(ops, ids)
            key = tuple(str(o) for o in c)
            if len(c) < n and key not in seen and (valid is None or valid(c)):
                seen.add(key)
                out.append(c)
    if n <= 16:
        # Pairs, once single removals are exhausted in small programs.
        for i in range(n):
            for j in range(i + 1, n):
                c = remove(ops, [ops[i].id, ops[j].id])
                key = tuple(str(o) for o in c)
                if key not in seen and (valid is None or valid(c)):
                    seen.add(key)
                    out.append(c)
    m = measure(ops)
    for c in simplifications(ops, valid):
        key = tuple(str(o) for o in c)
        if key not in seen and measure(c) < m:
            seen.add(key)
            out.append(c)
    return out


def shrink(ops, still_fails, confirm=None, max_rounds=500, valid=None):
    """still_fails(list of programs) -> list of bools; confirm(program) -> bool, run on
    the chosen candidate alone before it is accepted (a batch can be noisy, see
    difftest.py); valid(program) -> bool, an extra filter on candidates (the Python
    judge's: model.py must find the program unambiguous). Returns a renumbered program."""
    cur = ops
    for _ in range(max_rounds):
        cands = candidates(cur, valid)
        if not cands:
            break
        verdicts = still_fails(cands)
        failing = sorted((c for c, bad in zip(cands, verdicts) if bad), key=measure)
        chosen = None
        for c in failing[:3]:
            if confirm is None or confirm(c):
                chosen = c
                break
        if chosen is None:
            break
        cur = chosen
    return renumber(cur)
