"""proof/prog.py - the proof program format (proof/FORMAT.md): parse, print, validate,
remove ops with their dependents, batches.

Two families of ops share the format: the JavaScript ones (judged by Node.js, trace for
trace) and the asyncio ones of issue 6 (sleep, timeout, cancel, wait, create_task, task
groups: judged by Python 3.11, final outcome by final outcome; see model.py).

A program is a list of Op in file order. Everything an op refers to is derived from its
kind's argument spec (SPEC), so a new kind of op needs one SPEC entry (plus its scopes in
SCOPES) to be parsed, validated and shrunk; the back ends (emit_js.py, interp.c) give it
its meaning.
"""

import re

# Argument types: node (any op that makes a promise), newnode (a `new` op), value,
# code, action, delay, node* (zero or more nodes, last argument only); for the asyncio
# ops: group (a `group` op), taction (what a task body returns: val:, throw: or ret:),
# tform (wait_for | race), wmode (first | exception | all), wdelay (a delay or `-`),
# wflag (keep | cancel); for the synchronisation primitives: lock, sem, event (an op
# that makes that object), count (a semaphore's permits, a queue's maxsize), owner (a lock's
# owner tag); queue (a queue op), qkind (fifo | lifo | prio), qshut (drain | now).
SPEC = {
    "new": [],
    "resolved": ["value"],
    "rejected": ["code"],
    "resolve": ["newnode", "value"],
    "reject": ["newnode", "code"],
    "resolve_with": ["newnode", "node"],
    "then": ["node", "action", "action"],
    "catch": ["node", "action"],
    "finally": ["node", "action"],
    "all": ["node*"],
    "all_settled": ["node*"],
    "race": ["node*"],
    "any": ["node*"],
    "timer": ["delay"],
    "micro": [],
    # asyncio's constructs (issue 6): judged by Python, not by Node.
    "sleep": ["delay"],
    "timeout": ["node", "delay", "tform"],
    "cancel": ["node"],
    "wait": ["wmode", "wdelay", "wflag", "node*"],
    "create_task": ["taction"],
    "group": [],
    "group_add": ["group", "node"],
    "group_spawn": ["group", "taction"],
    "group_join": ["group"],
    # asyncio's synchronisation primitives (issue 14): judged by Python. An object (lock,
    # sem, bsem, event) is not a node; the ops that answer a code (lock_release,
    # sem_release) make a node settled at once with it.
    "lock": [],
    "sem": ["count"],
    "bsem": ["count"],
    "event": [],
    "lock_acquire": ["lock", "owner"],
    "lock_release": ["lock", "owner"],
    "sem_acquire": ["sem"],
    "sem_release": ["sem"],
    "event_wait": ["event"],
    "event_set": ["event"],
    "event_clear": ["event"],
    # asyncio.Queue (FIFO), LifoQueue, PriorityQueue, with 3.13's shutdown (issue 14).
    "queue": ["qkind", "count"],
    "put": ["queue", "value"],
    "put_nowait": ["queue", "value"],
    "get": ["queue"],
    "get_nowait": ["queue"],
    "task_done": ["queue"],
    "join": ["queue"],
    "shutdown": ["queue", "qshut"],
    # Coroutines (issue 16): judged by Node. `async` is an async function called at once
    # (its body is the scope ID.async, run up to its first await; the node is its
    # promise); `await`, `try` (scopes ID.try and ID.catch) and `throw` are statements of
    # an async body (FORMAT.md, Coroutines).
    "async": ["caction"],
    "await": ["node"],
    "try": [],
    "throw": ["code"],
    # Sockets (issue 17): judged by Node. `pair` is a connected loopback TCP pair (ends c,
    # the client, and s, the accepted connection), set up before the program starts; an
    # object like a lock, not a node. The others act on one end (FORMAT.md, Sockets).
    "pair": [],
    "sock_write": ["pair", "end", "text"],
    "sock_read": ["pair", "end", "nbytes"],
    "sock_eof": ["pair", "end"],
    "sock_shutdown": ["pair", "end"],
    "sock_close": ["pair", "end"],
}

# The kinds only Python judges (a program with one of them has no JavaScript form).
ASYNCIO_KINDS = {"sleep", "timeout", "cancel", "wait", "create_task", "group", "group_add",
                 "group_spawn", "group_join"}
SYNC_KINDS = {"lock", "sem", "bsem", "event", "lock_acquire", "lock_release", "sem_acquire",
              "sem_release", "event_wait", "event_set", "event_clear",
              "queue", "put", "put_nowait", "get", "get_nowait", "task_done", "join",
              "shutdown"}
ASYNCIO_KINDS |= SYNC_KINDS

# The coroutine kinds (judged by Node; the Python judge skips programs that have them).
CORO_KINDS = {"async", "await", "try", "throw"}
# Statements that only an async body (or a try/catch block inside one) may hold.
BODY_ONLY_KINDS = {"await", "try", "throw"}

# The socket kinds (issue 17; judged by Node), and those of them that make a node.
IO_KINDS = {"pair", "sock_write", "sock_read", "sock_eof", "sock_shutdown", "sock_close"}
IO_NODE_KINDS = {"sock_write", "sock_read", "sock_eof", "sock_shutdown"}
ENDS = ["c", "s"]
IO_MAX_TEXT = 16384     # bytes of one sock_write
IO_MAX_STREAM = 32768   # bytes written on one end in all (the kernel takes them at once)
# The socket rule's margin (FORMAT.md, Sockets): I/O epochs at least IO_GAP ms apart, a
# socket node used only IO_GAP ms after its epoch. Twice the timers' GAP: a timer's order
# survives a process that stalls (every expired timer then runs in deadline order), but
# after a stall longer than the margin the next epoch's timer and the epoch's I/O events
# come in the same loop iteration, in an order of the backend's.
IO_GAP = 200

# Object argument types (not nodes) and the op kinds that make such an object.
OBJ_TYPES = {"group": ("group",), "lock": ("lock",), "sem": ("sem", "bsem"),
             "event": ("event",), "queue": ("queue",), "pair": ("pair",)}
QKINDS = ["fifo", "lifo", "prio"]
QSHUT = ["drain", "now"]

# Ops that make a promise (a node).
NODE_KINDS = {"new", "resolved", "rejected", "then", "catch", "finally",
              "all", "all_settled", "race", "any", "async",
              "sleep", "timeout", "wait", "create_task", "group_join",
              "lock_acquire", "lock_release", "sem_acquire", "sem_release", "event_wait",
              "put", "put_nowait", "get", "get_nowait", "task_done", "join",
              "sock_write", "sock_read", "sock_eof", "sock_shutdown"}

NODE_TYPES = ("node", "newnode", "node*")
ACTION_TYPES = ("action", "taction", "caction")
TFORMS = ["wait_for", "race"]
WMODES = ["first", "exception", "all"]
WFLAGS = ["keep", "cancel"]

CODES = ["EINVAL", "ENOENT", "ERANGE", "EAGAIN", "EPERM", "EBUSY"]
TAGS = ["ok", "err", "fin", "t", "m", "task", "async", "try", "catch"]
# Scopes that run inline, inside the async body that holds them (not callbacks).
BLOCK_TAGS = ("try", "catch")


def scopes_of(op):
    """The scope tags (callbacks) an op creates."""
    k = op.kind
    if k == "then":
        return [t for t, a in (("ok", op.args[1]), ("err", op.args[2])) if a != "-"]
    if k == "catch":
        return ["err"]
    if k == "finally":
        return ["fin"]
    if k == "timer":
        return ["t"]
    if k == "micro":
        return ["m"]
    if k in ("create_task", "group_spawn"):
        return ["task"]
    if k == "async":
        return ["async"]
    if k == "try":
        return ["try", "catch"]
    return []


class FormatError(Exception):
    pass


class Op:
    __slots__ = ("id", "scope", "kind", "args")

    def __init__(self, id, scope, kind, args):
        self.id = id          # int
        self.scope = scope    # None (main) or (op id, tag)
        self.kind = kind      # str
        self.args = list(args)  # list of str tokens

    def scope_str(self):
        return "main" if self.scope is None else "%d.%s" % self.scope

    def __str__(self):
        return " ".join([str(self.id), self.scope_str(), self.kind] + self.args)

    def __repr__(self):
        return "Op(%s)" % self

    def refs(self):
        """(type, node id) for every op this one refers to, scope excluded."""
        out = []
        spec = SPEC[self.kind]
        for i, a in enumerate(self.args):
            t = spec[min(i, len(spec) - 1)] if spec else None
            if t in NODE_TYPES or t in OBJ_TYPES:
                out.append((t, int(a)))
            elif t in ACTION_TYPES and a.startswith("ret:"):
                out.append(("ret", int(a[4:])))
        return out


def arg_type(op, i):
    """The SPEC type of op's i-th argument."""
    spec = SPEC[op.kind]
    return spec[min(i, len(spec) - 1)]


def scope_key(s):
    return "main" if s is None else "%d.%s" % s


_VALUE = re.compile(r"^(u|b?-?\d{1,9})$")
_TEXT = re.compile(r"^([a-z0-9]{1,64})(\*([1-9]\d{0,4}))?$")


def text_bytes(a):
    """The bytes a sock_write TEXT argument stands for: WORD, or WORD*N (N times)."""
    m = _TEXT.match(a)
    return m.group(1) * (int(m.group(3)) if m.group(3) else 1)


def _check_arg(t, a):
    if t == "end":
        return a in ENDS
    if t == "nbytes":
        return a.isdigit() and 1 <= int(a) <= 65536 and a[0] != "0"
    if t == "text":
        m = _TEXT.match(a)
        return bool(m) and len(m.group(1)) * int(m.group(3) or 1) <= IO_MAX_TEXT
    if t == "value":
        return bool(_VALUE.match(a))
    if t == "code":
        return a in CODES
    if t == "delay":
        return a.isdigit() and int(a) <= 100000
    if t in ("node", "newnode", "node*") or t in OBJ_TYPES:
        return a.isdigit() and int(a) > 0
    if t == "count":
        return a.isdigit() and int(a) <= 1000
    if t == "qkind":
        return a in QKINDS
    if t == "qshut":
        return a in QSHUT
    if t == "owner":
        return a.isdigit() and int(a) <= 1000
    if t == "tform":
        return a in TFORMS
    if t == "wmode":
        return a in WMODES
    if t == "wflag":
        return a in WFLAGS
    if t == "wdelay":
        return a == "-" or (a.isdigit() and int(a) <= 100000)
    if t == "taction":
        return a not in ("-", "pass") and _check_arg("action", a)
    if t == "caction":
        # An async body's return: val:, throw:, ret: (return a promise: adopted), or pass
        # (return the value of the body's last await that fulfilled; undefined if none).
        return a != "-" and _check_arg("action", a)
    if t == "action":
        if a in ("-", "pass"):
            return True
        if a.startswith("val:"):
            return bool(_VALUE.match(a[4:]))
        if a.startswith("throw:"):
            return a[6:] in CODES
        if a.startswith("ret:"):
            return a[4:].isdigit()
        return False
    return False


def parse(text):
    """Parses one program; raises FormatError. Checks the syntax only (see validate)."""
    ops = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        tok = line.split()
        if len(tok) < 3:
            raise FormatError("line %d: expected ID SCOPE KIND ARGS..." % lineno)
        if not tok[0].isdigit() or int(tok[0]) < 1:
            raise FormatError("line %d: bad id %r" % (lineno, tok[0]))
        if tok[1] == "main":
            scope = None
        else:
            m = re.match(r"^(\d+)\.(\w+)$", tok[1])
            if not m or m.group(2) not in TAGS:
                raise FormatError("line %d: bad scope %r" % (lineno, tok[1]))
            scope = (int(m.group(1)), m.group(2))
        kind = tok[2]
        if kind not in SPEC:
            raise FormatError("line %d: unknown kind %r" % (lineno, kind))
        spec, args = SPEC[kind], tok[3:]
        variadic = spec and spec[-1].endswith("*")
        if (len(args) != len(spec)) if not variadic else (len(args) < len(spec) - 1):
            raise FormatError("line %d: %s takes %s" % (lineno, kind, " ".join(spec) or "nothing"))
        for i, a in enumerate(args):
            t = spec[min(i, len(spec) - 1)]
            if not _check_arg(t, a):
                raise FormatError("line %d: bad %s %r" % (lineno, t, a))
        if kind in ("catch", "finally") and args[1] == "-":
            raise FormatError("line %d: %s needs an action" % (lineno, kind))
        ops.append(Op(int(tok[0]), scope, kind, args))
    return ops


def dump(ops, header=None):
    lines = []
    if header:
        lines += ["# " + h for h in header]
    lines += [str(o) for o in ops]
    return "\n".join(lines) + "\n"


# Ops after which an async body may not have gone on synchronously: an await suspends it,
# a try block may (it may hold an await), a throw leaves it.
SUSPENDS = ("await", "try", "throw")


def _kids(ops):
    kids = {}
    for o in ops:
        kids.setdefault(o.scope, []).append(o)
    return kids


def in_body(ops, scope):
    """True when `scope` is an async body or a try/catch block inside one (where await,
    try and throw may stand)."""
    byid = {o.id: o for o in ops}
    while scope is not None and scope[1] in BLOCK_TAGS:
        scope = byid[scope[0]].scope
    return scope is not None and scope[1] == "async"


def analyse(ops, starts=None):
    """What exists when, statically (FORMAT.md, Visibility). Returns (before, at_end):
    before[op id] is the set of op ids guaranteed to have run whenever that op runs;
    at_end[(op id, tag)] the set guaranteed when that callback or async body returns (for
    its `ret:`). Scopes must come earlier than their ops (validate checks it first).
    starts (a dict, optional) receives, for every scope an op creates, (base, extra): what
    exists when it starts, and (async bodies and their blocks) what their first await adds
    (None elsewhere): the generator's view of a scope it is about to fill.

    Callbacks never nest: a callback made by op X runs in a later job, once the run of
    X's scope that made it has ended, so it sees what existed at X and every op of X's
    scope after X up to the next point where that scope may stop running synchronously
    (SUSPENDS; a scope with none: all of it). An async body runs at its call up to its
    first await (seeing what its `async` op sees, not the async node itself, which is
    assigned when the call returns), then, resumed in a later job, also what a callback of
    the `async` op would see. The ops of an async body before its first SUSPENDS (with,
    recursively, the same prefix of the bodies they start) have run when its `async` op
    returns; a try block's prefix likewise once the try is over. A try or catch block sees
    what its try op sees, its own earlier ops, and nothing of the block after it."""
    kids = _kids(ops)
    before, at_end = {}, {}

    def end_of(block, i, cur):
        s = set(cur)
        for x in block[i + 1:]:
            if x.kind in SUSPENDS:
                break
            s.add(x.id)
        return s

    def walk(scope, base, extra):
        """Walks one scope from `base`; `extra` (async bodies and their blocks): what the
        first await adds. Returns the ids run before the scope first may suspend."""
        if starts is not None:
            starts[scope] = (frozenset(base), None if extra is None else frozenset(extra))
        cur = set(base)
        block = kids.get(scope, [])
        prefix, open_ = set(), True
        for i, o in enumerate(block):
            before[o.id] = frozenset(cur)
            if o.kind in SUSPENDS:
                open_ = False
            cur.add(o.id)
            if open_:
                prefix.add(o.id)
            tags = scopes_of(o)
            if tags:
                end = end_of(block, i, cur)
            for tag in tags:
                s = (o.id, tag)
                if tag == "async":
                    got = walk(s, before[o.id], end)
                    cur |= got
                    if open_:
                        prefix |= got
                elif tag == "try":
                    got = walk(s, before[o.id] | {o.id}, extra)
                    cur |= got
                elif tag == "catch":
                    walk(s, before[o.id] | {o.id}, extra)
                else:
                    walk(s, end, None)
            if o.kind == "await" and extra is not None:
                cur |= extra
                extra = None
        at_end[scope] = frozenset(cur)
        return prefix

    walk(None, set(), None)
    return before, at_end


# Which callback a then/catch/finally/task/async action belongs to, by argument index.
def action_tag(op, i):
    k = op.kind
    if k == "then":
        return "ok" if i == 1 else "err"
    return {"catch": "err", "finally": "fin", "create_task": "task", "group_spawn": "task",
            "async": "async"}[k]


def validate(ops):
    """Raises FormatError unless the program is well formed and deterministic: unique
    ids; each scope's op comes earlier and has that callback; every reference names a
    node that exists when the op runs (FORMAT.md, Visibility, computed by analyse);
    resolve/reject/resolve_with target `new` nodes; await, try and throw stand in async
    bodies only."""
    byid = {}
    for o in ops:
        if o.id in byid:
            raise FormatError("duplicate id %d" % o.id)
        if o.scope is not None:
            p = byid.get(o.scope[0])
            if p is None:
                raise FormatError("op %d: scope %s has no earlier op" % (o.id, o.scope_str()))
            if o.scope[1] not in scopes_of(p):
                raise FormatError("op %d: op %d has no %s callback" % (o.id, p.id, o.scope[1]))
        if o.kind in BODY_ONLY_KINDS and not in_body(ops, o.scope):
            raise FormatError("op %d: %s outside an async body" % (o.id, o.kind))
        byid[o.id] = o

    before, at_end = analyse(ops)
    for o in ops:
        for i, a in enumerate(o.args):
            t = arg_type(o, i)
            if t in ACTION_TYPES:
                if not a.startswith("ret:"):
                    continue
                r, see = int(a[4:]), at_end.get((o.id, action_tag(o, i)), frozenset())
                t = "ret"
            elif t in NODE_TYPES or t in OBJ_TYPES:
                r, see = int(a), before[o.id]
            else:
                continue
            x = byid.get(r)
            if t in OBJ_TYPES:
                if x is None or x.kind not in OBJ_TYPES[t]:
                    raise FormatError("op %d: %d is not a %s" % (o.id, r, t))
            elif x is None or x.kind not in NODE_KINDS:
                raise FormatError("op %d: %d is not a node" % (o.id, r))
            if t == "newnode" and x.kind != "new":
                raise FormatError("op %d: %d is not a `new` node" % (o.id, r))
            if r not in see:
                raise FormatError("op %d: node %d is not visible there" % (o.id, r))
    if any(o.kind in IO_KINDS for o in ops):
        io_simulate(ops)
    return True


# ---- sockets (FORMAT.md, Sockets) ------------------------------------------------------

def lower_times(ops):
    """A lower bound (ms) of when each op runs: its scope's nominal time where it is known
    (main, timer callbacks, microtasks queued from them), else the lower bound of the op
    that made the callback (a callback runs after the op that made it)."""
    kids = _kids(ops)
    lb = {}

    def walk(scope, t):
        for o in kids.get(scope, []):
            lb[o.id] = t
            for tag in scopes_of(o):
                walk((o.id, tag), t + max(int(o.args[0]), 1) if tag == "t" else t)

    walk(None, 0)
    return lb


def io_simulate(ops, gap=None):
    """Checks the socket rules (FORMAT.md, Sockets) and returns what each socket node
    settles with: {op id: "f u" | "f s:TEXT" | "r EEOF"}. Raises FormatError.

    Socket ops stand in main or in timer callbacks of known time (I/O epochs); the scopes
    holding them have distinct times, pairwise >= gap (IO_GAP) apart, so all the I/O an
    epoch starts is over long before the next epoch. Within an epoch
    the outcome of each op is decided by the epoch's totals (every write of the peer in
    this epoch or an earlier one), never by which I/O event comes first; and a socket node
    is referred to only from ops that run at least gap after its epoch, when it has
    settled silently (nothing observed the order in which it did)."""
    gap = IO_GAP if gap is None else gap
    byid = {o.id: o for o in ops}
    times = op_times(ops)
    epochs = {}  # scope -> time
    for o in ops:
        if o.kind == "pair":
            if o.scope is not None:
                raise FormatError("op %d: pair outside main" % o.id)
            continue
        if o.kind not in IO_KINDS:
            continue
        if o.scope is not None and (o.scope[1] != "t" or times.get(o.id) is None):
            raise FormatError("op %d: %s outside main and timer callbacks of known time"
                              % (o.id, o.kind))
        epochs[o.scope] = times[o.id]
    ts = sorted(epochs.values())
    for a, b in zip(ts, ts[1:]):
        if b - a < gap:
            raise FormatError("socket ops in scopes %d ms apart (under %d)" % (b - a, gap))

    # The ends: state per (pair id, end).
    class End:
        def __init__(self):
            self.out = ""          # bytes written on this end (what the peer reads)
            self.shut = None       # epoch of sock_shutdown
            self.closed = None     # epoch of sock_close
            self.consumed = 0      # bytes of the peer's stream taken by reads here
            self.last_read = None  # epoch of the last read or eof here
            self.eeof = None       # epoch of the first read here that met the end (EEOF)
            self.last_write = None

    ends = {}

    def end_of(o):
        pr = int(o.args[0])
        if byid.get(pr) is None or byid[pr].kind != "pair":
            raise FormatError("op %d: %d is not a pair" % (o.id, pr))
        for e in ENDS:
            ends.setdefault((pr, e), End())
        other = "s" if o.args[1] == "c" else "c"
        return ends[(pr, o.args[1])], ends[(pr, other)]

    result = {}
    io_time = {}
    order = sorted(epochs.items(), key=lambda x: x[1])
    kids = _kids(ops)
    for scope, t in order:
        block = [o for o in kids.get(scope, []) if o.kind in IO_KINDS and o.kind != "pair"]
        # The epoch's totals first: writes, shutdowns and closes anywhere in it count for
        # the reads of the epoch (a read waits for them).
        closing = set()
        for o in block:
            me, peer = end_of(o)
            io_time[o.id] = t
            if me.closed is not None:
                raise FormatError("op %d: %s on a closed end" % (o.id, o.kind))
            if o.kind == "sock_write":
                if me.shut is not None:
                    raise FormatError("op %d: write after shutdown" % o.id)
                if peer.closed is not None:
                    raise FormatError("op %d: write to an end its peer closed" % o.id)
                me.out += text_bytes(o.args[2])
                me.last_write = t
                if len(me.out) > IO_MAX_STREAM:
                    raise FormatError("op %d: over %d bytes on one end" % (o.id, IO_MAX_STREAM))
            elif o.kind == "sock_shutdown":
                if me.shut is not None:
                    raise FormatError("op %d: a second shutdown" % o.id)
                me.shut = t
            elif o.kind == "sock_close":
                if any(x is not o and x.args[:2] == o.args[:2] for x in block):
                    raise FormatError("op %d: other ops on the end in the epoch of its close"
                                      % o.id)
                closing.add(id(me))
                me.closed = t
        for o in block:
            me, peer = end_of(o)
            if o.kind == "sock_close":
                if peer.last_write is not None and peer.last_write >= t:
                    raise FormatError("op %d: close while the peer writes (a reset)" % o.id)
                if me.consumed != len(peer.out):
                    raise FormatError("op %d: close with unread bytes (a reset)" % o.id)
                continue
            if o.kind not in ("sock_read", "sock_eof"):
                if o.kind == "sock_write":
                    result[o.id] = "f u"
                elif o.kind == "sock_shutdown":
                    result[o.id] = "f u"
                continue
            if me.last_read == t:
                raise FormatError("op %d: two reads of one end in one epoch" % o.id)
            me.last_read = t
            avail = len(peer.out) - me.consumed
            eof = peer.shut is not None or peer.closed is not None
            if o.kind == "sock_eof":
                if avail != 0 and me.eeof is not None and me.eeof < t:
                    # An earlier read met the end: every byte left is buffered, and a read
                    # of some bytes takes them all (<= IO_MAX_STREAM < 65536).
                    result[o.id] = "f s:" + peer.out[me.consumed:]
                    me.consumed = len(peer.out)
                    continue
                if avail != 0 or not eof:
                    raise FormatError("op %d: sock_eof %s" % (
                        o.id, "with unread bytes (and no earlier EEOF)" if avail
                        else "without the peer's end"))
                result[o.id] = "f s:"
                continue
            n = int(o.args[2])
            if avail >= n:
                result[o.id] = "f s:" + peer.out[me.consumed:me.consumed + n]
                me.consumed += n
            elif eof:
                result[o.id] = "r EEOF"
                if me.eeof is None:
                    me.eeof = t
            else:
                raise FormatError("op %d: reads %d bytes, %d will come" % (o.id, n, avail))
        # A peer that writes after this epoch to an end closed now: caught above at the
        # write (peer.closed); writes of the peer later in this epoch: caught at the close.

    lb = lower_times(ops)
    for o in ops:
        spec = SPEC[o.kind]
        for i, a in enumerate(o.args):
            t = spec[min(i, len(spec) - 1)] if spec else None
            if t in NODE_TYPES:
                r = int(a)
            elif t in ACTION_TYPES and a.startswith("ret:"):
                r = int(a[4:])
            else:
                continue
            if r in io_time and lb[o.id] < io_time[r] + gap:
                raise FormatError("op %d: refers to socket node %d (epoch %d ms) before %d ms"
                                  % (o.id, r, io_time[r], io_time[r] + gap))
    return result


# ---- timing (FORMAT.md, Timers) ---------------------------------------------------------
# Two timers of different durations must have nominal deadlines at least GAP ms apart, and
# timers may only be created where the scope's start time is known statically.
GAP = 100


def op_times(ops):
    """Nominal time (ms) at which each op runs, None where it is not known statically: a
    reaction runs whenever its promise settles; an async body runs at its call up to its
    first await, try or throw (its blocks count as unknown), then whenever it resumes."""
    kids = _kids(ops)
    times = {}

    def walk(scope, t, body):
        for o in kids.get(scope, []):
            times[o.id] = t
            if body and o.kind in SUSPENDS:
                t = None
            for tag in scopes_of(o):
                u = times[o.id]
                if tag == "t":
                    walk((o.id, tag), None if u is None else u + max(int(o.args[0]), 1), False)
                elif tag == "m":
                    walk((o.id, tag), u, False)
                elif tag == "async":
                    walk((o.id, tag), u, True)
                else:
                    walk((o.id, tag), None, tag in BLOCK_TAGS)

    walk(None, 0, False)
    return times


def scope_times(ops):
    """Nominal start time (ms) of each scope, None where it is not known statically."""
    ot = op_times(ops)
    times = {None: 0}
    for o in ops:
        for tag in scopes_of(o):
            t = ot.get(o.id)
            if tag == "t":
                times[(o.id, tag)] = None if t is None else t + max(int(o.args[0]), 1)
            elif tag in ("m", "async"):
                times[(o.id, tag)] = t
            else:
                times[(o.id, tag)] = None
    return times


def timing_ok(ops, gap=GAP):
    ot = op_times(ops)
    timers = []
    for o in ops:
        if o.kind == "timer":
            t = ot.get(o.id)
            if t is None:
                return False
            key = max(int(o.args[0]), 1)
            timers.append((key, t + key))
    for i, (k1, t1) in enumerate(timers):
        for k2, t2 in timers[i + 1:]:
            if k1 != k2 and abs(t1 - t2) < gap:
                return False
    return True


def depth_of(ops):
    """Scope nesting depth of each op (main = 0)."""
    byid = {o.id: o for o in ops}
    d = {}
    for o in ops:
        d[o.id] = 0 if o.scope is None else d[o.scope[0]] + 1
    return d


def max_depth(ops):
    d = depth_of(ops)
    return max(d.values()) if d else 0


def remove(ops, ids):
    """The program without the ops `ids` and everything that depends on them: ops in
    their scopes and ops referring to them, transitively."""
    gone = set(ids)
    changed = True
    while changed:
        changed = False
        for o in ops:
            if o.id in gone:
                continue
            if (o.scope is not None and o.scope[0] in gone) or any(r in gone for _, r in o.refs()):
                gone.add(o.id)
                changed = True
    return [o for o in ops if o.id not in gone]


def renumber(ops):
    """Ids 1..n in file order (for a readable shrunk program)."""
    m = {o.id: i + 1 for i, o in enumerate(ops)}
    out = []
    for o in ops:
        scope = None if o.scope is None else (m[o.scope[0]], o.scope[1])
        spec = SPEC[o.kind]
        args = []
        for i, a in enumerate(o.args):
            t = spec[min(i, len(spec) - 1)]
            if t in NODE_TYPES or t in OBJ_TYPES:
                a = str(m[int(a)])
            elif t in ACTION_TYPES and a.startswith("ret:"):
                a = "ret:%d" % m[int(a[4:])]
            args.append(a)
        out.append(Op(m[o.id], scope, o.kind, args))
    return out


# ---- batches ---------------------------------------------------------------------------

def dump_batch(named_programs):
    """named_programs: list of (name, ops). One text, programs after "=== name" lines."""
    parts = []
    for name, ops in named_programs:
        parts.append("=== %s\n" % name)
        parts.append(dump(ops))
    return "".join(parts)


def parse_batch(text):
    """List of (name, ops); a text without "===" lines is one program."""
    if not any(l.startswith("===") for l in text.splitlines()):
        return [("program", parse(text))]
    out, name, buf = [], None, []
    for line in text.splitlines():
        if line.startswith("==="):
            if name is not None:
                out.append((name, parse("\n".join(buf))))
            name, buf = line[3:].strip() or str(len(out)), []
        elif name is not None:
            buf.append(line)
    if name is not None:
        out.append((name, parse("\n".join(buf))))
    return out
