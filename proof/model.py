"""proof/model.py - what the Python judge needs to know about a program before running it.

vow and asyncio agree on final outcomes, not on interleavings. This model runs a program
abstractly (outcome kinds only: F fulfilled, R rejected, C cancelled, P pending) by the
rules of vow's documentation (DESIGN.md, Cancellation; the headers), one *epoch* at a time:
an epoch is one event (the start, a timer, a sleep, a timeout's expiry, a wait's timeout)
with the cascade of reactions, tasks and immediates it causes. It answers three questions:

  1. Is the program in the common subset? Every op kind the Python emitter supports, the
     asyncio ops only in scopes whose time is known statically (main and timer callbacks),
     at most one settle op per `new` node, and every event at a distinct time, GAP ms or
     more from every other event (so no two epochs mix: one epoch's cascade is over long
     before the next event).
  2. Would the outcome depend on the order inside one cascade, where asyncio and vow
     differ (call_soon and task steps against microtasks and immediates; cancellation a
     request in asyncio, immediate in vow)? Then the program is *ambiguous* (Ambiguous,
     with the op to blame) and is not judged: the generator drops that op, the shrinker
     drops that candidate. The checks:
       - a cancellation must not meet other activity of the nodes it reaches in the same
         cascade (a settle, a reaction, a change of who waits on them), nor reach a task
         that has not started yet or whose awaited promise settled earlier in the same
         turn (asyncio never runs that reaction, vow runs it and discards the result);
       - a cancelled `finally` whose source stays pending (vow runs the callback when the
         source settles, asyncio at once), or whose callback throws (asyncio's task then
         fails instead of being cancelled);
       - asyncio.wait (first-completed, first-exception) completing in a turn where two of
         its inputs settle, unless both settle synchronously on both sides (a `new` node
         settled by the event's own ops): which ones are "done" is order-dependent;
       - a task group whose first failure comes in a turn where another task settles,
         with the same exception;
       - asyncio ops in reaction scopes (their time is not static), a second join.
  3. Where does vow's upstream rule keep an input running? A cancellation that reaches a
     consumer (a then's source, a followed promise, a timeout's inner) cancels the input
     only when no other live reaction waits on it. The model records each such decision;
     the Python emitter wraps the input in asyncio.shield exactly where the decision was
     "keep", so asyncio means what vow means.

The model is a specification-level simulation, independent of vow's code: a wrong
decision here shows up as a divergence, to be checked against the documentation.
"""

import collections
import heapq

from prog import GAP, SYNC_KINDS

# Ops the Python judge supports, and those allowed only where the time is static.
PY_KINDS = {"new", "resolved", "rejected", "resolve", "reject", "then", "catch", "finally",
            "timer", "sleep", "timeout", "cancel", "wait", "create_task", "group",
            "group_add", "group_spawn", "group_join"} | SYNC_KINDS
STATIC_ONLY = {"timer", "sleep", "timeout", "cancel", "wait", "create_task", "group",
               "group_add", "group_spawn", "group_join", "lock", "sem", "bsem", "event",
               "queue"}
# Nodes that wait in an object's line (a Task in Python, run eagerly: EAGER).
NODE_KINDS_SYNC = {"lock_acquire", "lock_release", "sem_acquire", "sem_release",
                   "event_wait", "put", "put_nowait", "get", "get_nowait", "task_done", "join"}
WAITER_KINDS = {"lock_acquire", "sem_acquire", "event_wait", "put", "get", "join"}
PLAIN = {"new", "resolved", "rejected", "sleep"}  # asyncio futures, not tasks
MAX_TIME = 2000
# Activity that changes who waits on a node, not the node itself.
LIST_ACTS = ("new waiter", "waiter gone", "waiter settled")


class Unsupported(Exception):
    """Outside the subset the Python judge covers."""

    def __init__(self, reason, op=None):
        Exception.__init__(self, reason if op is None else "%s (op %s)" % (reason, op))
        self.reason = reason
        self.op = op


class Ambiguous(Unsupported):
    """The outcome would depend on the order inside one cascade."""


class Node:
    __slots__ = ("key", "op", "kind", "state", "recs", "waiting", "plain", "created",
                 "settle", "timer", "timed_out", "race", "started", "wait", "group",
                 "acts", "touch", "watch", "task_scope", "obj_wait", "owner", "qrole",
                 "sched")

    def __init__(self, key, op, kind, created):
        self.key = key          # op id, or ("spawn", id) / ("group", id) for internal ones
        self.op = op
        self.kind = kind
        self.state = "P"
        self.recs = []          # records waiting on this node, in registration order
        self.waiting = None     # the record this node waits on
        self.plain = kind in PLAIN
        self.created = created  # (epoch, seq)
        self.settle = None      # (epoch, phase, tag, python_sync)
        self.timer = None       # event key (sleep, timeout, wait) or "start" (task)
        self.timed_out = False
        self.race = False
        self.started = False
        self.wait = None        # Wait
        self.group = None       # Group (its done node)
        self.acts = []          # (epoch, phase, tag, seq, what)
        self.touch = []         # (epoch, tag, seq): reached by a cascade-side cancellation
        self.watch = []         # (epoch, tag, seq, node): a node so reached waits on this one
        self.task_scope = None  # (op id, "task") for create_task / spawn
        self.obj_wait = None    # the SyncObj in whose line this node waits
        self.owner = None       # lock_acquire: the owner tag
        self.qrole = None       # a queue's waiter: get | put | join
        self.sched = 0          # a getter with an item on its way: when asyncio resumes it


class Rec:
    __slots__ = ("kind", "owner", "derived", "op", "edge", "index")

    def __init__(self, kind, derived, op=None, edge=None, index=None):
        self.kind = kind        # then, fin, adopt, timeout, wait, group
        self.owner = None
        self.derived = derived
        self.op = op
        self.edge = edge
        self.index = index


class Wait:
    def __init__(self, mode, flag, inputs):
        self.mode = mode
        self.cancel_pending = flag == "cancel"
        self.inputs = inputs
        self.recs = [None] * len(inputs)
        self.remaining = len(inputs)
        self.inputs_at = None   # set by Model: (epoch, pending at the start on both sides)
        self.completed = None   # (epoch, tag, by_timeout)


class Group:
    def __init__(self, gid, created_epoch):
        self.gid = gid
        self.members = []       # (node, via) via: "add" | "spawn"
        self.recs = []
        self.outs = []
        self.remaining = 0
        self.joined = False
        self.aborted = False
        self.abort_scheduled = None   # epoch
        self.abort_tag = None
        self.abort_trigger = None
        self.created_epoch = created_epoch
        self.added_epoch = []


class SyncObj:
    """A lock, semaphore or event, by vow's rules (vow/sync.h): FIFO waiters, the handoff
    rule (a permit released to a waiter is reserved for it, `resv`, until a job fulfils
    it), owner tags for a lock."""

    def __init__(self, kind, value, bound=None):
        self.kind = kind        # lock | sem | event
        self.value = value      # lock: 1 free, 0 held; sem: free permits; event: the flag
        self.bound = bound      # bsem: its initial value
        self.holder = None      # lock: the owner tag (held or reserved)
        self.waiters = []       # Node, in arrival order
        self.resv = []          # Node: a permit reserved for it, its job not run yet
        self.touches = []       # (epoch, tag) of the cascade's activity on the object
        self.lag = -1           # epoch in which a reserved waiter gave up (asyncio passes
                                # its permit on one step later than vow)
        # a queue (vow/queue.h): `waiters` are its getters, `resv` the getters an item is
        # reserved for; items counts the reserved ones too
        self.qkind = None
        self.maxsize = 0
        self.items = 0
        self.putters = []
        self.resv_put = []      # putters a slot is reserved for
        self.joiners = []
        self.unfinished = 0
        self.shut = False


class Plan:
    """What the emitter needs: the shielded edges, the node kinds, the end time."""

    def __init__(self):
        self.shield = set()     # edges ("src"|"ret"|"inner", op id) where vow keeps the input
        self.decisions = {}     # edge -> "keep" | "cancel"
        self.end_ms = 0
        self.events = []        # (time, what)
        self.outcome = {}       # op id -> F / R / C / P (the model's own prediction)
        self.features = set()   # what happened (gen_tasks.py's coverage table)


class Model:
    def __init__(self, ops, known=False):
        self.known = known     # judge the known differences too (README.md)
        self.ops = ops
        self.byid = {o.id: o for o in ops}
        self.kids = collections.defaultdict(list)
        self.main = []
        for o in ops:
            if o.kind not in PY_KINDS:
                raise Unsupported("op kind %s has no Python form" % o.kind, o.id)
            (self.main if o.scope is None else self.kids[o.scope]).append(o)
        self.static = {None}
        for o in ops:
            if o.kind == "timer" and o.scope in self.static:
                self.static.add((o.id, "t"))
        self.nodes = {}        # op id -> Node
        self.groups = {}       # op id -> Group
        self.plan = Plan()
        self.events = []       # heap (time, seq, kind, payload)
        self.event_times = [0]
        self.dead_events = set()
        self.seq = 0
        self.tag = 0
        self.cur_tag = 0
        self.parent = {}       # tag -> the tag that queued its job (None: an event, an op)
        self.next_cause = None
        self.objs = {}         # op id -> SyncObj (lock, sem, bsem, event)
        self.epoch = 0
        self.now = 0
        self.phase = "sync"
        self.micro = collections.deque()
        self.imm = collections.deque()
        self.waits_done = []   # Wait completed this epoch
        self.groups_aborting = []
        self.settlers = collections.Counter()
        for o in ops:
            if o.kind in ("resolve", "reject"):
                self.settlers[o.args[0]] += 1
                if self.settlers[o.args[0]] > 1:
                    raise Unsupported("a `new` node settled by two ops", o.id)
            for a in o.args:
                if a.startswith("ret:") and int(a[4:]) == o.id:
                    raise Unsupported("a reaction returning its own promise", o.id)
            if o.kind == "finally" and o.args[1].startswith("ret:"):
                raise Unsupported("finally returning a promise", o.id)
            if o.kind == "timeout" and int(o.args[1]) < GAP:
                raise Unsupported("a timeout under GAP ms", o.id)
            if o.kind == "wait" and o.args[1] != "-" and int(o.args[1]) < GAP:
                raise Unsupported("a wait timeout under GAP ms", o.id)

    # ---- bookkeeping ------------------------------------------------------------------
    def next_seq(self):
        self.seq += 1
        return self.seq

    def new_tag(self):
        self.tag += 1
        self.cur_tag = self.tag
        self.parent[self.tag] = self.next_cause  # the tag whose activity queued this job
        self.next_cause = None
        return self.tag

    def caused_by(self, a, b):
        """True when tag a is tag b or one of its causes (a happened before b on both
        sides: b's job was queued, directly or not, by a's)."""
        while b is not None:
            if a == b:
                return True
            b = self.parent.get(b)
        return False

    def act(self, n, what):
        """Logs activity on n; a cancellation that reached n in this cascade conflicts."""
        s = self.next_seq()
        for (e, t, ts) in n.touch:
            if e == self.epoch and t != self.cur_tag and (self.phase == "cascade" or s > ts):
                raise Ambiguous("a cancellation and other activity (%s) meet node %s in one "
                                "turn" % (what, n.key), self.blame(n))
        if what == "settle":
            for (e, t, ts, w) in n.watch:
                if e == self.epoch and t != self.cur_tag and (self.phase == "cascade" or s > ts):
                    raise Ambiguous("node %s settles while asyncio's cancellation of %s, which "
                                    "waits on it, is still on its way" % (n.key, w.key),
                                    self.blame(w))
        n.acts.append((self.epoch, self.phase, self.cur_tag, s, what))

    def blame(self, n):
        return n.op.id if n.op is not None else None

    def add_event(self, delay, kind, payload, op):
        t = self.now + max(int(delay), 1)
        if t > MAX_TIME:
            raise Unsupported("an event after %d ms" % MAX_TIME, op.id)
        for t2 in self.event_times:
            if abs(t - t2) < GAP:
                raise Unsupported("two events less than %d ms apart (%d, %d)" % (GAP, t2, t),
                                  op.id)
        self.event_times.append(t)
        key = self.next_seq()
        heapq.heappush(self.events, (t, key, kind, payload))
        self.plan.events.append((t, "%s %s" % (kind, op.id)))
        return key

    # ---- settling ---------------------------------------------------------------------
    def python_sync(self, n, deferred=False):
        return n.plain and self.phase == "sync" and not deferred

    def settle(self, n, st, deferred=False):
        assert n.state == "P"
        n.state = st
        n.settle = (self.epoch, self.phase, self.cur_tag, self.python_sync(n, deferred))
        self.act(n, "settle")
        if n.timer is not None:
            self.dead_events.add(n.timer)
            n.timer = None
        # Who waited on n through a record: their liveness changes now.
        for r in self.records_of(n):
            if r.owner is not None:
                self.act(r.owner, "waiter settled")
        recs, n.recs = n.recs, []
        for r in recs:
            self.detach(r)
            self.act(r.derived, "awaited settled")
            self.micro.append((r, n, self.cur_tag))

    def records_of(self, n):
        out = []
        if n.waiting is not None:
            out.append(n.waiting)
        if n.wait is not None:
            out += [r for r in n.wait.recs if r is not None]
        if n.group is not None:
            out += [r for r in n.group.recs if r is not None]
        return out

    def detach(self, r):
        r.owner = None
        d = r.derived
        if r.kind == "wait":
            if d.wait.recs[r.index] is r:
                d.wait.recs[r.index] = None
        elif r.kind == "group":
            if d.group.recs[r.index] is r:
                d.group.recs[r.index] = None
        elif d.waiting is r:
            d.waiting = None

    def attach(self, r):
        d = r.derived
        if r.kind == "wait":
            d.wait.recs[r.index] = r
        elif r.kind == "group":
            d.group.recs[r.index] = r
        else:
            d.waiting = r

    def perform_then(self, src, r):
        if src.state == "P":
            src.recs.append(r)
            r.owner = src
            self.attach(r)
            self.act(src, "new waiter")
        else:
            self.micro.append((r, src, self.cur_tag))

    def unlink(self, r):
        u = r.owner
        u.recs.remove(r)
        self.detach(r)
        self.act(u, "waiter gone")

    @staticmethod
    def live_waiter(u, except_rec=None):
        return any(r is not except_rec and r.derived.state == "P" for r in u.recs)

    # ---- cancellation -----------------------------------------------------------------
    def decide(self, r, keep):
        if r.edge is None:
            return
        d = "keep" if keep else "cancel"
        old = self.plan.decisions.get(r.edge)
        if old is not None and old != d:
            raise Ambiguous("edge %s decided both ways" % (r.edge,), r.edge[1])
        self.plan.decisions[r.edge] = d
        self.plan.features.add("ran:shield" if keep else "ran:upstream-cancel")
        if keep:
            self.plan.shield.add(r.edge)

    def check_reach(self, u, deferred, chain_tag, chain_seq):
        """u (pending) is reached by a cancellation: in a cascade (or, in asyncio, later
        in this turn) it must be quiet; synchronously, a task must have started and must
        not have a reaction queued."""
        cascade = self.phase == "cascade" or deferred
        if cascade:
            for (e, ph, t, s, what) in u.acts:
                if e != self.epoch or t == chain_tag:
                    continue
                # A task's own activity earlier in this turn (made, its awaited promise
                # settled, joined) means a step queued in asyncio, at an unknown place.
                if what == "handoff" and self.known:
                    continue  # known-py/wait-for-swallows-handoff.prog
                if ph == "cascade" or (not u.plain and what not in LIST_ACTS):
                    raise Ambiguous("a cancellation reaches node %s in a turn where it is "
                                    "also active (%s)" % (u.key, what), self.blame(u))
            u.touch.append((self.epoch, chain_tag, chain_seq))
            if not u.plain:
                # In asyncio the task still waits on its inputs until the cancellation
                # arrives: one that settles meanwhile would wake it first.
                for r in self.records_of(u):
                    if r.owner is not None:
                        r.owner.watch.append((self.epoch, chain_tag, chain_seq, u))
        elif not u.plain and u.kind != "wait":
            for (e, ph, t, s, what) in u.acts:
                if e != self.epoch or t == chain_tag:
                    continue
                if what in ("created", "task created") and u.kind in ("create_task", "spawn") \
                        and not u.started:
                    continue  # cancelled before it starts: on both sides it never runs
                if what in ("created", "handoff") and u.kind in WAITER_KINDS:
                    # EAGER: it waits in the line from the call, on both sides; cancelled
                    # directly once its permit is on its way, it passes the permit on, on
                    # both sides (vow at once, asyncio at its step)
                    continue
                if what in LIST_ACTS:
                    continue
                raise Ambiguous("a cancellation reaches task %s in the turn it was %s"
                                % (u.key, what), self.blame(u))

    def cancel(self, p, deferred=False):
        """vow__cancel(p): the FIFO worklist of DESIGN.md, Cancellation."""
        chain_tag = self.cur_tag
        chain_seq = self.next_seq()
        work = collections.deque([(p, deferred)])
        queued = {id(p)}
        while work:
            u, dfr = work.popleft()
            queued.discard(id(u))
            if u.state != "P":
                continue
            self.check_reach(u, dfr, chain_tag, chain_seq)
            if u.kind in ("create_task", "spawn") and not u.started:
                self.plan.features.add("ran:task-cancelled-unstarted")
            if u.obj_wait is not None:
                self.obj_drop(u)
            # asyncio reaches the inputs of these later, from the task's next step.
            hop = dfr or u.kind in ("timeout", "group_done")

            def push(x, d):
                if id(x) not in queued:
                    queued.add(id(x))
                    work.append((x, d))

            if u.wait is not None:
                for r in list(u.wait.recs):
                    if r is not None:
                        self.unlink(r)
            elif u.group is not None:
                for r in list(u.group.recs):
                    if r is not None:
                        self.drop_wait(r, push, hop, chain_tag, chain_seq)
            elif u.waiting is not None:
                self.drop_wait(u.waiting, push, hop, chain_tag, chain_seq)
            if u.state == "P":
                self.settle(u, "C", deferred=dfr)

    def drop_wait(self, r, push, hop, chain_tag, chain_seq):
        u = r.owner
        if u is None:
            return
        if (self.phase == "cascade" or hop) and u.state == "P":
            self.check_reach(u, True, chain_tag, chain_seq)
        if r.kind == "fin":
            keep = self.live_waiter(u, r)
            if u.state == "P" and keep:
                raise Ambiguous("a cancelled finally whose source stays pending (vow runs "
                                "the callback later, asyncio at once)", r.op.id)
            self.decide(r, keep)
            if u.state == "P" and not keep:
                push(u, hop)
            return
        self.unlink(r)
        keep = self.live_waiter(u)
        if r.kind == "group":
            # A cancelled join cancels its pending tasks directly, whoever else waits on
            # them, in vow (task.h) as in asyncio's TaskGroup.
            keep = False
        self.decide(r, keep)
        if u.state == "P" and not keep:
            push(u, hop)

    # ---- running ops --------------------------------------------------------------------
    def node(self, ref):
        n = self.nodes.get(int(ref))
        if n is None:
            raise Unsupported("node %s used before it exists" % ref)
        return n

    def make(self, o, kind=None):
        n = Node(o.id, o, kind or o.kind, (self.epoch, self.seq))
        self.nodes[o.id] = n
        self.act(n, "created")
        return n

    def run_scope(self, scope):
        static = scope in self.static
        for o in self.kids.get(scope, []) if scope is not None else self.main:
            if o.kind in STATIC_ONLY and not static:
                raise Unsupported("%s outside main and timer callbacks" % o.kind, o.id)
            if self.phase == "sync":
                self.new_tag()
            self.exec(o)

    def exec(self, o):
        k, a = o.kind, o.args
        if k == "new":
            self.make(o)
        elif k in ("resolved", "rejected"):
            n = self.make(o)
            self.settle(n, "F" if k == "resolved" else "R")
        elif k in ("resolve", "reject"):
            n = self.node(a[0])
            if n.state == "P":
                self.settle(n, "F" if k == "resolve" else "R")
            else:
                self.act(n, "settle op on a settled node")
        elif k in ("then", "catch", "finally"):
            src = self.node(a[0])
            d = self.make(o)
            r = Rec("fin" if k == "finally" else "then", d, o, ("src", o.id))
            self.perform_then(src, r)
        elif k == "timer":
            self.add_event(a[0], "timer", o, o)
        elif k == "sleep":
            n = self.make(o)
            n.timer = self.add_event(a[0], "sleep", n, o)
        elif k == "timeout":
            x = self.node(a[0])
            tm = self.make(o)
            tm.race = a[2] == "race"
            r = Rec("timeout", tm, o, ("inner", o.id))
            if x.state == "P":
                tm.timer = self.add_event(a[1], "expiry", tm, o)
            self.perform_then(x, r)
        elif k == "cancel":
            self.cancel_op(self.node(a[0]), o)
        elif k == "wait":
            ins = [self.node(x) for x in a[3:]]
            w = self.make(o)
            if not ins:
                self.settle(w, "R")
                return
            w.wait = Wait(a[0], a[2], ins)
            # Pending when the wait starts, on both sides: a task vow settled earlier in
            # this turn is still running in asyncio.
            w.wait.inputs_at = (self.epoch, [x.state == "P" or (x.settle[0] == self.epoch
                                                                  and not x.settle[3])
                                             for x in ins])
            for i, x in enumerate(ins):
                self.perform_then(x, Rec("wait", w, o, None, i))
            if a[1] != "-":
                w.timer = self.add_event(a[1], "wait-timeout", w, o)
        elif k == "create_task":
            t = self.make(o)
            t.task_scope = (o.id, "task")
            t.timer = "start"
            self.imm.append(("start", t, self.cur_tag))
        elif k == "group":
            g = Group(o.id, self.epoch)
            done = Node(("group", o.id), o, "group_done", (self.epoch, self.seq))
            done.group = g
            self.act(done, "created")
            g.done = done
            self.groups[o.id] = g
        elif k in ("group_add", "group_spawn"):
            g = self.groups[int(a[0])]
            if k == "group_add":
                x = self.node(a[1])
                if g.joined or g.aborted:
                    self.plan.features.add("ran:group-refused")
                    self.cancel_op(x, o)
                    return
            else:
                if g.joined or g.aborted:
                    self.plan.features.add("ran:group-refused")
                    return
                x = Node(("spawn", o.id), o, "spawn", (self.epoch, self.seq))
                x.task_scope = (o.id, "task")
                x.timer = "start"
                self.act(x, "task created")
                self.imm.append(("start", x, self.cur_tag))
            self.act(g.done, "member added")
            i = len(g.members)
            g.members.append((x, "add" if k == "group_add" else "spawn"))
            g.recs.append(None)
            g.outs.append("P")
            g.added_epoch.append(self.epoch)
            g.remaining += 1
            self.perform_then(x, Rec("group", g.done, o, None, i))
        elif k == "group_join":
            g = self.groups[int(a[0])]
            if g.joined:
                raise Unsupported("a second join of one group", o.id)
            g.joined = True
            self.nodes[o.id] = g.done
            g.done.key = o.id
            g.done.op = o
            self.act(g.done, "join called")
            if g.remaining == 0 and g.done.state == "P":
                self.group_finish(g)
        elif k in SYNC_KINDS:
            self.exec_sync(o)
        else:
            raise Unsupported("op kind %s" % k, o.id)

    # ---- synchronisation primitives (issue 14) -------------------------------------------
    # Activities on one object that give the same result in either order: two handoffs
    # (each waiter's job takes what was reserved for it), two task_done calls that both
    # succeed, a task_done and a handoff (a getter's does not change the count of
    # unfinished items; a putter's adds one, and "done" is only said of a task_done that
    # succeeds without the items the putters' jobs of this turn added, and does not wake
    # the joins in either order).
    COMMUTE = {("handoff", "handoff"), ("done", "done"), ("done", "handoff"),
               ("handoff", "done"), ("handoff", "handoff-put"), ("handoff-put", "handoff"),
               ("handoff-put", "handoff-put"), ("done", "handoff-put"),
               ("handoff-put", "done")}

    def touch_obj(self, x, blame, cascade=False, what="op"):
        """Activity on object x. In a cascade (or when asyncio does it one step later), two
        activities of one epoch must be ordered by causality, or commute (COMMUTE): else
        asyncio and vow may meet them in either order."""
        if not (cascade or self.phase == "cascade") or self.known:
            return
        for (e, t, w) in x.touches:
            if e == self.epoch and (w, what) not in self.COMMUTE \
                    and not self.caused_by(t, self.cur_tag):
                raise Ambiguous("two unordered activities on one %s in one turn" % x.kind,
                                blame)
        x.touches.append((self.epoch, self.cur_tag, what))

    def grant(self, x):
        """A permit is free: reserved for the first waiter (a job fulfils it), or back."""
        if x.waiters:
            w = x.waiters.pop(0)
            x.resv.append(w)
            # asyncio sets the waiter's future now: its task resumes later in the turn (a
            # cancellation passing through another task meanwhile may be swallowed:
            # 3.11's wait_for returns the result of an inner task done by then).
            self.act(w, "handoff")
            if x.kind == "lock":
                x.holder = w.owner
            self.plan.features.add("ran:handoff")
            self.micro.append(("handoff", w, self.cur_tag))
        elif x.kind == "lock":
            x.value, x.holder = 1, None
        else:
            x.value += 1

    def handoff(self, w):
        self.new_tag()
        x = w.obj_wait
        lst = None if x is None else x.resv_put if w.qrole == "put" else x.resv
        if lst is None or w not in lst:
            return  # gave up first: the permit went on
        # a putter's job adds an item to the count a task_done reads
        self.touch_obj(x, w.op.id, what="handoff-put" if w.qrole == "put" else "handoff")
        lst.remove(w)
        w.obj_wait = None
        if w.qrole == "put":
            self.q_add(x)       # its job puts its item
        elif w.qrole == "get":
            x.items -= 1        # its job takes its item out: a slot is free
            self.q_slot(x)
        self.settle(w, "F")

    # ---- queues ---------------------------------------------------------------------------
    def q_reserve(self, x, lst, resv, what):
        w = lst.pop(0)
        if resv is x.resv:
            # asyncio's woken getter resumes at its wakeup, or, made in this turn, at its
            # task's first step, scheduled when it was made: they take the items in that
            # order, vow in the line's
            w.sched = w.created[1] if w.created[0] == self.epoch else self.next_seq()
            if any(v.sched > w.sched for v in resv) and not self.known:
                raise Ambiguous("a getter made in this turn resumes before an older one "
                                "woken in it (asyncio gives it the older one's item)",
                                w.op.id)
        resv.append(w)
        self.act(w, "handoff")
        self.plan.features.add(what)
        self.micro.append(("handoff", w, self.cur_tag))

    def q_add(self, x):
        """An item enters the queue: reserved for the first getter, if any."""
        x.items += 1
        x.unfinished += 1
        if x.waiters:
            self.q_reserve(x, x.waiters, x.resv, "ran:queue-item-handoff")

    def q_slot(self, x):
        """A slot of a bounded queue is free: reserved for the first putter, if any."""
        if x.putters:
            self.q_reserve(x, x.putters, x.resv_put, "ran:queue-slot-handoff")

    def q_full(self, x):
        return x.maxsize > 0 and x.items + len(x.resv_put) >= x.maxsize

    def q_wait(self, x, n, role, lst):
        n.plain = False
        n.obj_wait = x
        n.qrole = role
        lst.append(n)
        self.plan.features.add("ran:queue-%s-waits" % role)

    def exec_queue(self, o, x, n):
        k, a = o.kind, o.args
        in_flight = x.resv or x.resv_put or x.lag == self.epoch
        # unfinished counts only items in the queue, on both sides: task_done and join
        # do not see what is on its way
        # FIFO puts while items are on their way to getters: asyncio's woken getters take
        # the head item in the order they resume (q_reserve checks it is the line's)
        fifo_ok = (k in ("put", "put_nowait") and x.qkind == "fifo" and not x.resv_put
                   and x.lag != self.epoch)
        if in_flight and k not in ("task_done", "join") and not fifo_ok:
            # asyncio wakes a waiter that takes its item (or slot) at its step, and any
            # other call may take it first; vow reserved it (vow/queue.h, the handoff rule)
            raise Ambiguous("a queue op while an item or slot is on its way to a waiter "
                            "(vow reserved it, asyncio lets the next call take it)", o.id)
        if k in ("put", "put_nowait") and x.qkind == "prio" and not a[1].lstrip("-").isdigit():
            raise Unsupported("a priority queue's item that is not a plain integer", o.id)
        if n is not None:
            n.plain = True
        if k in ("put", "put_nowait"):
            if x.shut:
                self.plan.features.add("ran:queue-shut-refuses")
                self.settle(n, "R")
            elif k == "put" and (self.q_full(x) or x.putters):
                self.q_wait(x, n, "put", x.putters)
            elif self.q_full(x):
                self.plan.features.add("ran:queue-full")
                self.settle(n, "R")
            else:
                self.q_add(x)
                self.settle(n, "F")
        elif k in ("get", "get_nowait"):
            if x.items - len(x.resv) > 0 and not x.waiters:
                x.items -= 1
                self.settle(n, "F")
                self.q_slot(x)
            elif x.shut:
                self.plan.features.add("ran:queue-shut-refuses")
                self.settle(n, "R")
            elif k == "get":
                self.q_wait(x, n, "get", x.waiters)
            else:
                self.plan.features.add("ran:queue-empty")
                self.settle(n, "R")
        elif k == "task_done":
            if x.unfinished <= 0:
                self.plan.features.add("ran:task-done-refused")
                self.settle(n, "R")
            else:
                x.unfinished -= 1
                self.settle(n, "F")
                if x.unfinished == 0:
                    self.q_joined(x)
        elif k == "join":
            if x.unfinished == 0:
                self.settle(n, "F")
            else:
                self.q_wait(x, n, "join", x.joiners)
        elif k == "shutdown":
            x.shut = True
            self.plan.features.add("ran:queue-shutdown-" + a[1])
            if a[1] == "now":
                x.unfinished = max(0, x.unfinished - x.items)
                x.items = 0
                if x.unfinished == 0:
                    self.q_joined(x)
            # the waiting gets (the queue is empty for them) and puts fail; asyncio wakes
            # them and they fail at their step
            ws, x.waiters = x.waiters + x.putters, []
            x.putters = []
            for w in ws:
                w.obj_wait = None
                self.plan.features.add("ran:queue-shut-refuses")
                self.settle(w, "R", deferred=True)

    def q_joined(self, x):
        ws, x.joiners = x.joiners, []
        for w in ws:
            w.obj_wait = None
            self.plan.features.add("ran:queue-join-wakes")
            self.settle(w, "F", deferred=True)

    def obj_drop(self, u):
        """Waiter u's promise is cancelled: it leaves the line; a reserved permit goes on."""
        x = u.obj_wait
        u.obj_wait = None
        reserved = u in x.resv or u in x.resv_put
        self.touch_obj(x, u.op.id, cascade=reserved)
        if x.kind == "queue":
            if reserved:
                x.lag = self.epoch
                self.plan.features.add("ran:queue-handoff-cancelled")
                if u.qrole == "put":
                    x.resv_put.remove(u)
                    self.q_slot(x)
                else:
                    x.resv.remove(u)
                    if x.waiters:
                        self.q_reserve(x, x.waiters, x.resv, "ran:queue-item-handoff")
            else:
                {"get": x.waiters, "put": x.putters, "join": x.joiners}[u.qrole].remove(u)
                self.plan.features.add("ran:waiter-cancelled")
            return
        if reserved:
            x.resv.remove(u)
            x.lag = self.epoch
            self.plan.features.add("ran:handoff-cancelled")
            self.grant(x)
        else:
            x.waiters.remove(u)
            self.plan.features.add("ran:waiter-cancelled")

    def exec_sync(self, o):
        k, a = o.kind, o.args
        if k in ("lock", "sem", "bsem", "event"):
            v = {"lock": 1, "event": 0}.get(k)
            self.objs[o.id] = SyncObj("sem" if k == "bsem" else k,
                                      int(a[0]) if v is None else v,
                                      int(a[0]) if k == "bsem" else None)
            return
        if k == "queue":
            x = self.objs[o.id] = SyncObj("queue", 0)
            x.qkind, x.maxsize = a[0], int(a[1])
            return
        x = self.objs[int(a[0])]
        added = sum(1 for (e, t, w) in x.touches if e == self.epoch and w == "handoff-put")
        # a task_done that brings the count to 0 wakes the joins: not when the puts come
        # first (a task's first step comes before the jobs in asyncio, after them in vow)
        done = (k == "task_done" and not x.resv_put
                and x.unfinished - added >= (2 if x.joiners else 1))
        self.touch_obj(x, o.id, what="done" if done else "op")
        n = self.make(o) if k in NODE_KINDS_SYNC else None
        if x.kind == "queue":
            self.exec_queue(o, x, n)
            return
        if k in WAITER_KINDS:
            if k == "lock_acquire":
                n.owner = a[1]
                free = x.value == 1 and not x.waiters
            elif k == "sem_acquire":
                free = x.value > 0 and not x.waiters
            else:
                free = x.value == 1
            if free:
                # asyncio's fast path, at the call (EAGER). While a permit is on its way to
                # a waiter, asyncio's acquire waits for the waiter's step: done in the
                # cascade, so a cancel in this turn would find it pending.
                late = x.kind != "event" and (x.resv or x.lag == self.epoch)
                n.plain = not late
                if k == "lock_acquire":
                    x.value, x.holder = 0, a[1]
                elif k == "sem_acquire":
                    x.value -= 1
                self.plan.features.add("ran:acquire-at-once" if k != "event_wait"
                                       else "ran:event-wait-set")
                self.settle(n, "F", deferred=late)
            else:
                n.obj_wait = x
                x.waiters.append(n)
                self.plan.features.add("ran:acquire-waits" if k != "event_wait"
                                       else "ran:event-wait-waits")
        elif k == "lock_release":
            n.plain = True
            if x.value == 1 or x.resv or x.holder != a[1]:
                self.plan.features.add("ran:lock-release-refused")
                self.settle(n, "R")
            else:
                self.grant(x)
                self.settle(n, "F")
        elif k == "sem_release":
            n.plain = True
            if x.bound is not None and x.value + len(x.resv) + 1 > x.bound:
                if (x.resv or x.lag == self.epoch) and not self.known:
                    # asyncio counts a permit on its way to a waiter as taken already
                    # (3.11 takes it at the wakeup): it would accept this release.
                    raise Ambiguous("a bounded release while a permit is on its way to a "
                                    "waiter (asyncio accepts it, vow refuses)", o.id)
                self.plan.features.add("ran:bsem-release-refused")
                self.settle(n, "R")
            else:
                self.grant(x)
                self.settle(n, "F")
        elif k == "event_set":
            x.value = 1
            ws, x.waiters = x.waiters, []
            if ws:
                self.plan.features.add("ran:event-set-wakes")
            for w in ws:
                w.obj_wait = None
                self.settle(w, "F", deferred=True)  # asyncio: the waiter's task resumes
        elif k == "event_clear":
            x.value = 0
        else:
            raise Unsupported("op kind %s" % k, o.id)

    def cancel_op(self, n, o):
        """A synchronous cancel: the op, or a group refusing an add."""
        if n.state == "P":
            self.cancel(n)
        elif n.settle[0] == self.epoch and not n.settle[3]:
            raise Ambiguous("cancel of a task vow settled earlier in this turn (asyncio's "
                            "is still running)", o.id)

    def group_finish(self, g):
        if any(s == "R" for s in g.outs):
            self.plan.features.add("ran:join-aggregate")
            self.settle(g.done, "R")
        elif any(s == "C" for s in g.outs):
            self.plan.features.add("ran:join-cancelled")
            self.settle(g.done, "C")
        else:
            self.plan.features.add("ran:join-fulfilled")
            self.settle(g.done, "F")

    # ---- jobs -------------------------------------------------------------------------
    def job(self, r, src):
        self.new_tag()
        st = src.state
        d = r.derived
        if r.kind == "then":
            o = r.op
            ok, err = (o.args[1], o.args[2]) if o.kind == "then" else ("-", o.args[1])
            act = ok if st == "F" else err if st == "R" else "-"
            self.act(d, "reaction")
            if act == "-":
                res = st
            else:
                if d.state != "P":
                    raise Ambiguous("the reaction of a cancelled node runs (vow runs it and "
                                    "discards the result; asyncio does not run it)", o.id)
                self.run_scope((o.id, "ok" if st == "F" else "err"))
                res = self.action_result(act, st)
            self.resolve(d, res, r)
        elif r.kind == "fin":
            o = r.op
            self.act(d, "reaction")
            if d.state != "P" and o.args[1].startswith("throw:"):
                raise Ambiguous("a cancelled finally whose callback throws (asyncio's task "
                                "fails with it, vow's stays cancelled)", o.id)
            if d.state != "P" or st == "C":
                self.plan.features.add("ran:finally-on-cancel")
            self.run_scope((o.id, "fin"))
            res = "R" if o.args[1].startswith("throw:") else st
            if d.state == "P":
                self.resolve(d, res, r)
        elif r.kind == "adopt":
            self.act(d, "followed settled")
            if d.state == "P":
                self.settle(d, st)
        elif r.kind == "timeout":
            self.act(d, "inner settled")
            if d.state == "P":
                self.settle(d, "R" if (d.timed_out and st == "C") else st)
        elif r.kind == "wait":
            w = d.wait
            self.act(d, "input settled")
            if d.state == "P" and w.completed is None:
                w.remaining -= 1
                done = (w.mode == "first" or (w.mode == "exception" and st == "R")
                        or w.remaining == 0)
                if done:
                    self.wait_complete(d, False)
        elif r.kind == "group":
            g = d.group
            self.act(d, "member settled")
            if d.state == "P":
                g.outs[r.index] = st
                g.remaining -= 1
                if st == "R" and not g.aborted and g.abort_scheduled is None:
                    g.abort_scheduled = self.epoch
                    g.abort_trigger = src
                    self.groups_aborting.append(g)
                    self.imm.append(("abort", g, self.cur_tag))
                if g.joined and g.remaining == 0 and d.state == "P":
                    self.group_finish(g)

    def action_result(self, act, st):
        if act.startswith("val:"):
            return "F"
        if act.startswith("throw:"):
            return "R"
        if act == "pass":
            return st
        if act.startswith("ret:"):
            return ("follow", int(act[4:]))
        raise AssertionError(act)

    def resolve(self, d, res, r):
        if d.state != "P":
            return
        if isinstance(res, tuple):
            q = self.node(res[1])
            rec = Rec("adopt", d, r.op if r is not None else None, ("ret", d.op.id))
            self.perform_then(q, rec)
        else:
            self.settle(d, res)

    def wait_complete(self, w, by_timeout):
        wt = w.wait
        wt.completed = (self.epoch, self.cur_tag, by_timeout)
        if by_timeout:
            self.plan.features.add("ran:wait-by-timeout")
        if wt.cancel_pending and any(x.state == "P" for x in wt.inputs):
            self.plan.features.add("ran:wait-cancelled-pending")
        self.waits_done.append(w)
        self.settle(w, "F", deferred=by_timeout)
        for r in list(wt.recs):
            if r is not None and r.owner is not None:
                self.unlink(r)
        if wt.cancel_pending:
            for x in wt.inputs:
                if x.state == "P":
                    self.cancel(x, deferred=True)

    def start(self, t):
        self.new_tag()
        t.timer = None
        if t.state != "P":
            return
        t.started = True
        self.act(t, "started")
        self.run_scope(t.task_scope)
        act = t.op.args[-1]
        res = self.action_result(act, "F")
        if isinstance(res, tuple):
            q = self.node(res[1])
            rec = Rec("adopt", t, t.op, ("ret", t.op.id))
            self.perform_then(q, rec)
        else:
            self.settle(t, res)

    def abort(self, g):
        self.new_tag()
        if g.done.state != "P":
            return
        g.aborted = True
        g.abort_tag = self.cur_tag
        self.plan.features.add("ran:group-abort")
        for r in list(g.recs):
            if r is not None and r.owner is not None and r.owner.state == "P":
                self.cancel(r.owner)

    def drain(self):
        self.phase = "cascade"
        while self.micro or self.imm:
            while self.micro:
                r, src, self.next_cause = self.micro.popleft()
                if r == "handoff":
                    self.handoff(src)
                else:
                    self.job(r, src)
            if self.imm:
                what, x, self.next_cause = self.imm.popleft()
                if what == "start":
                    if x.timer == "start":
                        self.start(x)
                else:
                    self.abort(x)
        self.end_of_epoch()

    def end_of_epoch(self):
        e = self.epoch
        for w in self.waits_done:
            wt = w.wait
            ce, ctag, by_timeout = wt.completed
            if by_timeout or wt.mode == "all":
                continue
            made, pend = wt.inputs_at
            s = [x for i, x in enumerate(wt.inputs)
                 if pend[i] and x.settle is not None and x.settle[0] == e
                 and not (x.state == "C" and x.settle[2] == ctag)]
            uniq = {id(x): x for x in s}
            # Inputs done when a wait made in this turn starts complete it at once, on
            # both sides, but asyncio's wait returns one step later than vow's.
            early = made == e and not all(pend)
            if len(uniq) + early >= 2 and not all(x.settle[3] for x in uniq.values()):
                raise Ambiguous("asyncio.wait completes in a turn where several of its "
                                "inputs settle (which are done is order-dependent)", w.op.id)
        self.waits_done = []
        for g in self.groups_aborting:
            s = [(x, via, g.added_epoch[i]) for i, (x, via) in enumerate(g.members)
                 if x.settle is not None and x.settle[0] == e
                 and not (x.state == "C" and x.settle[2] == g.abort_tag)]
            uniq = {id(x): t for t in s for x in [t[0]]}
            # A task that had failed before it was added aborts the group at once, on
            # both sides, but asyncio's abort comes one step after vow's.
            early = g.abort_trigger.settle[0] < e
            if len(uniq) + early >= 2 and (early or not all(
                    x.settle[3] and via == "add" and ae < e and g.created_epoch < e
                    for x, via, ae in uniq.values())):
                raise Ambiguous("a task group's first failure comes in a turn where other "
                                "tasks settle (which are cancelled is order-dependent)",
                                g.done.op.id if g.done.op is not None else None)
        self.groups_aborting = []

    # ---- the run ------------------------------------------------------------------------
    def run(self):
        self.epoch = 0
        self.now = 0
        self.phase = "sync"
        self.run_scope(None)
        self.drain()
        while self.events:
            t, key, kind, payload = heapq.heappop(self.events)
            if key in self.dead_events:
                continue
            self.epoch += 1
            self.now = t
            self.phase = "sync"
            self.new_tag()
            if kind == "timer":
                self.run_scope((payload.id, "t"))
            elif kind == "sleep":
                n = payload
                n.timer = None
                if n.state == "P":
                    self.settle(n, "F")
            elif kind == "expiry":
                self.expire(payload)
            elif kind == "wait-timeout":
                w = payload
                w.timer = None
                if w.state == "P" and w.wait.completed is None:
                    self.wait_complete(w, True)
            self.drain()
        self.plan.end_ms = max(self.event_times) + GAP
        for oid, n in self.nodes.items():
            self.plan.outcome[oid] = n.state
        return self.plan

    def expire(self, tm):
        tm.timer = None
        r = tm.waiting
        if tm.state != "P" or r is None or r.owner is None:
            return
        inner = r.owner
        if tm.race or self.live_waiter(inner, r):
            self.plan.features.add("ran:timeout-left-running")
            self.unlink(r)
            if not tm.race:
                self.decide(r, True)
            self.settle(tm, "R", deferred=True)
            return
        self.decide(r, False)
        self.plan.features.add("ran:timeout-expired")
        tm.timed_out = True
        self.cancel(inner, deferred=True)


def plan(ops, known=False):
    """The Plan of a program; raises Unsupported (or Ambiguous) when the Python judge
    cannot judge it. known: also judge the known differences (proof/README.md), which
    then diverge."""
    return Model(ops, known).run()


def check(ops, known=False):
    """None when the program can be judged, else the reason (a string)."""
    try:
        plan(ops, known)
        return None
    except Unsupported as e:
        return str(e)


def culprit(ops):
    """(reason, op id or None) when the program cannot be judged, else None."""
    try:
        plan(ops)
        return None
    except Unsupported as e:
        return (str(e), e.op)

