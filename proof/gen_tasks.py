#!/usr/bin/env python3
"""proof/gen_tasks.py - the seeded generator of asyncio programs, judged by Python.

    python3 proof/gen_tasks.py SEED                  one program, on standard output
    python3 proof/gen_tasks.py --seeds 0-99          a batch ("=== seed N" separators)
    python3 proof/gen_tasks.py --coverage --seeds 0-299 [--check]
                                                     the coverage table (op kinds, forms,
                                                     and what the model saw happen)

The same seed always gives the same program (random.Random(seed), no other input).

Programs use the asyncio ops (sleep, timeout, cancel, wait, create_task, task groups) with
new/resolve/reject and then/catch/finally around them. Time is cut in slots: the start
(0 ms) and multiples of SLOT ms up to MAX; every event (a timer, a sleep, a timeout, a
wait's timeout) takes a slot of its own, so two events are always >= SLOT ms apart
(model.py's rule). Then model.py judges the program: an op it finds ambiguous (the
outcome would depend on the order inside one turn, where asyncio and vow differ) or
unsupported is removed with what depends on it, and the program is checked again, until
the model accepts it. Nodes are shared between consumers on purpose (the upstream rule).
"""

import argparse
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from prog import Op, SPEC, ASYNCIO_KINDS, SYNC_KINDS, dump, dump_batch, remove, validate  # noqa: E402
import model  # noqa: E402

SLOT = 120
NSLOTS = 9               # events at 120 .. 1080 ms
GEN_CODES = ["EINVAL", "ENOENT", "ERANGE", "EAGAIN"]
BASIC = ("new", "resolved", "rejected", "then", "catch", "finally")


class Gen:
    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.ops = []
        self.next_id = 1
        self.free = list(range(1, NSLOTS + 1))   # slot numbers still free
        self.settled = set()                      # `new` ids with a settle op
        self.scope_nodes = {}                     # scope -> [op] nodes made there
        self.groups = []                          # (group op, joined?)
        self.queue = []                           # (scope, time or None, visible nodes)
        self.late = set()                         # nodes likely pending for a while
        self.timer_at = {}                        # slot -> scope of main's timer there
        self.root = {}                            # node -> the `new` node it waits on
        self.wish = {}                            # `new` node -> settle after this (ms)
        self.objs = []                            # lock / sem / bsem / event ops (main)

    # ---- helpers -------------------------------------------------------------------
    def op(self, scope, kind, args):
        o = Op(self.next_id, scope, kind, [str(a) for a in args])
        self.next_id += 1
        self.ops.append(o)
        a = o.args
        if kind in ("new", "sleep", "group_join") or \
                (kind in ("then", "catch", "finally", "timeout") and int(a[0]) in self.late) or \
                (kind == "wait" and any(int(x) in self.late for x in a[3:])) or \
                (kind == "create_task" and a[0].startswith("ret:") and int(a[0][4:]) in self.late):
            self.late.add(o.id)
        if kind == "new":
            self.root[o.id] = o.id
        elif kind in ("then", "catch", "finally", "timeout") and int(a[0]) in self.root:
            self.root[o.id] = self.root[int(a[0])]
        elif kind == "create_task" and a[0].startswith("ret:") and int(a[0][4:]) in self.root:
            self.root[o.id] = self.root[int(a[0][4:])]
        if kind in ("new", "resolved", "rejected", "then", "catch", "finally", "sleep",
                    "timeout", "wait", "create_task", "group_join"):
            self.scope_nodes.setdefault(scope, []).append(o)
        if kind in ("lock_acquire", "sem_acquire", "event_wait"):
            self.late.add(o.id)
        return o

    def value(self):
        r = self.rng
        x = r.random()
        if x < 0.1:
            return "u"
        v = str(r.randint(0, 40))
        return ("b" + v) if x < 0.3 else v

    def code(self):
        return self.rng.choice(GEN_CODES)

    def slot_after(self, now, early=4):
        """A free slot later than `now` (ms), among the `early` first, or None."""
        ok = [s for s in self.free if s * SLOT > now]
        if not ok:
            return None
        s = self.rng.choice(ok[:early])
        self.free.remove(s)
        return s * SLOT

    def pick(self, vis, recent=5):
        r = self.rng
        pool = vis[-recent:] if r.random() < 0.6 else vis
        return r.choice(pool)

    def pick_late(self, vis, p=0.8):
        """A node likely pending for a while (for timeouts, waits, cancels, groups)."""
        late = [o for o in vis if o.id in self.late]
        if late and self.rng.random() < p:
            return self.rng.choice(late[-8:])
        return self.pick(vis, 8)

    def action(self, vis, own_tag=None):
        r = self.rng
        k = r.choices(["val", "pass", "throw", "ret"], [3, 2, 2, 2 if vis else 0])[0]
        if k == "val":
            return "val:" + self.value()
        if k == "pass":
            return "pass"
        if k == "throw":
            return "throw:" + self.code()
        return "ret:%d" % self.pick(vis).id

    def taction(self, vis):
        r = self.rng
        k = r.choices(["val", "throw", "ret"], [2, 1.5, 3 if vis else 0])[0]
        if k == "val":
            return "val:" + self.value()
        if k == "throw":
            return "throw:" + self.code()
        return "ret:%d" % self.pick(vis).id

    def settle(self, scope, vis):
        r = self.rng
        news = [o for o in vis if o.kind == "new" and o.id not in self.settled]
        if not news:
            return None
        n = r.choice(news)
        self.settled.add(n.id)
        if r.random() < 0.65:
            return self.op(scope, "resolve", [n.id, self.value()])
        return self.op(scope, "reject", [n.id, self.code()])

    # ---- ops -------------------------------------------------------------------------
    def reaction_op(self, scope, vis, depth):
        """then / catch / finally on a visible node; its scopes are filled later."""
        r = self.rng
        src = self.pick(vis)
        k = r.choices(["then", "catch", "finally"], [6, 2.5, 1.5])[0]
        oid = self.next_id
        if k == "then":
            ok = self.action(vis) if r.random() < 0.85 else "-"
            err = self.action(vis) if r.random() < (0.5 if ok != "-" else 1.0) else "-"
            o = self.op(scope, "then", [src.id, ok, err])
            for tag, a in (("ok", ok), ("err", err)):
                if a != "-":
                    self.queue.append(((oid, tag), None, depth + 1))
        elif k == "catch":
            o = self.op(scope, "catch", [src.id, self.action(vis)])
            self.queue.append(((oid, "err"), None, depth + 1))
        else:
            a = r.choice(["val:" + self.value(), "pass", "throw:" + self.code()])
            o = self.op(scope, "finally", [src.id, a])
            self.queue.append(((oid, "fin"), None, depth + 1))
        return o

    def static_op(self, scope, now, vis, depth):
        """One op of a scope whose time is known (main, a timer callback)."""
        r = self.rng
        w = {
            "new": 3, "resolved": 0.8, "rejected": 0.6, "sleep": 1.5,
            "settle": 3 if now > 0 else 0.6,
            "reaction": 5 if vis else 0,
            "timeout": 2.2 if vis else 0,
            "cancel": (3 if now > 0 else 0.3) if vis else 0,
            "wait": 2 if vis else 0,
            "create_task": 1.5,
            "group": 1.2 if len(self.groups) < 2 else 0,
            "group_add": 3.5 if self.groups and vis else 0,
            "group_spawn": 2 if self.groups else 0,
            "group_join": 2.5 if any(not gj[1] for gj in self.groups) else 0,
            "timer": 1.2 if depth < 2 else 0,
            "sync": 2.5 if self.objs else 0,
        }
        k = r.choices(list(w), list(w.values()))[0]
        if k == "new":
            return self.op(scope, "new", [])
        if k == "resolved":
            return self.op(scope, "resolved", [self.value()])
        if k == "rejected":
            return self.op(scope, "rejected", [self.code()])
        if k == "settle":
            return self.settle(scope, vis)
        if k == "reaction":
            return self.reaction_op(scope, vis, depth)
        if k == "sleep":
            t = self.slot_after(now)
            return self.op(scope, "sleep", [t - now]) if t else None
        if k == "timeout":
            t = self.slot_after(now, 6)
            if t is None:
                return None
            form = "race" if r.random() < 0.3 else "wait_for"
            x = self.pick_late(vis, 0.6)
            if x.id in self.root and r.random() < 0.7:  # expire before the inner settles
                self.wish[self.root[x.id]] = max(self.wish.get(self.root[x.id], 0), t)
            return self.op(scope, "timeout", [x.id, t - now, form])
        if k == "cancel":
            return self.op(scope, "cancel", [self.pick_late(vis).id])
        if k == "wait":
            n = r.choice([1, 2, 2, 3, 3, 4]) if r.random() > 0.04 else 0
            ins = [self.pick_late(vis, 0.6).id for _ in range(n)]
            mode = r.choice(["first", "first", "exception", "all"])
            t = self.slot_after(now) if r.random() < 0.4 else None
            flag = "cancel" if r.random() < 0.35 else "keep"
            return self.op(scope, "wait", [mode, "-" if t is None else t - now, flag] + ins)
        if k == "create_task":
            oid = self.next_id
            o = self.op(scope, "create_task", [self.taction(vis)])
            self.queue.append(((oid, "task"), None, depth + 1))
            if r.random() < 0.15:
                self.op(scope, "cancel", [oid])  # cancelled before it starts
            return o
        if k == "group":
            g = self.op(scope, "group", [])
            self.groups.append([g, False, []])
            return g
        if k == "group_add":
            g = r.choice(self.groups)[0]
            if not self.visible_group(g, scope):
                return None
            return self.op(scope, "group_add", [g.id, self.pick_late(vis, 0.5).id])
        if k == "group_spawn":
            g = r.choice(self.groups)[0]
            if not self.visible_group(g, scope):
                return None
            oid = self.next_id
            o = self.op(scope, "group_spawn", [g.id, self.taction(vis)])
            self.queue.append(((oid, "task"), None, depth + 1))
            return o
        if k == "group_join":
            cands = [gj for gj in self.groups if not gj[1] and self.visible_group(gj[0], scope)]
            if not cands:
                return None
            gj = r.choice(cands)
            gj[1] = True
            return self.op(scope, "group_join", [gj[0].id])
        if k == "timer":
            t = self.slot_after(now)
            if t is None:
                return None
            oid = self.next_id
            o = self.op(scope, "timer", [t - now])
            self.queue.append(((oid, "t"), t, depth + 1))
            return o
        if k == "sync":
            return self.sync_op(scope, self.rng.choice(self.objs))
        raise AssertionError(k)

    def sync_op(self, scope, x, acquire=True):
        """One op on object x (a lock's owner tags are 1-3)."""
        r = self.rng
        if x.kind == "queue":
            v = str(r.randint(0, 40)) if x.args[0] == "prio" else self.value()
            if acquire:
                k = r.choices(["put", "put_nowait", "get", "get_nowait", "task_done", "join",
                               "shutdown"], [3, 2, 3, 2, 2, 1, 0.3])[0]
            else:
                k = r.choices(["put_nowait", "get_nowait", "task_done", "put", "get"],
                              [2, 1, 3, 1, 1])[0]
            if k in ("put", "put_nowait"):
                return self.op(scope, k, [x.id, v])
            if k == "shutdown":
                return self.op(scope, k, [x.id, r.choice(["drain", "now"])])
            return self.op(scope, k, [x.id])
        if x.kind == "lock":
            ow = r.randint(1, 3)
            if acquire and r.random() < 0.5:
                return self.op(scope, "lock_acquire", [x.id, ow])
            return self.op(scope, "lock_release", [x.id, ow])
        if x.kind in ("sem", "bsem"):
            if acquire and r.random() < 0.5:
                return self.op(scope, "sem_acquire", [x.id])
            return self.op(scope, "sem_release", [x.id])
        k = r.choice(["event_wait", "event_set", "event_set", "event_clear"] if acquire
                     else ["event_set", "event_clear"])
        return self.op(scope, k, [x.id])

    def visible_group(self, g, scope):
        return g.scope is None or g.scope == scope or scope is not None and self.chain_has(scope, g.scope)

    def chain_has(self, scope, target):
        byid = {o.id: o for o in self.ops}
        while scope is not None:
            if scope == target:
                return True
            scope = byid[scope[0]].scope
        return target is None

    def basic_op(self, scope, vis, depth):
        """One op of a reaction or task scope (no asyncio op: its time is not static)."""
        r = self.rng
        k = r.choices(["new", "resolved", "settle", "reaction", "sync"],
                      [1.5, 0.8, 2, 2.5 if vis and depth < 4 else 0,
                       1.5 if self.objs else 0])[0]
        if k == "sync":
            return self.sync_op(scope, r.choice(self.objs), acquire=r.random() < 0.3)
        if k == "new":
            return self.op(scope, "new", [])
        if k == "resolved":
            return self.op(scope, "resolved", [self.value()])
        if k == "settle":
            return self.settle(scope, vis)
        return self.reaction_op(scope, vis, depth)

    # ---- the program -----------------------------------------------------------------
    def visible(self, scope):
        """Nodes visible from the start of `scope`: those of every enclosing scope."""
        byid = {o.id: o for o in self.ops}
        out = []
        s = scope
        chain = []
        while s is not None:
            chain.append(s)
            s = byid[s[0]].scope
        chain.append(None)
        for o in self.ops:
            if o.kind in ("new", "resolved", "rejected", "then", "catch", "finally", "sleep",
                          "timeout", "wait", "create_task", "group_join") and o.scope in chain[1:]:
                out.append(o)
        return out

    def fill(self, scope, time, depth):
        r = self.rng
        vis = self.visible(scope)
        if scope is None:
            n = r.randint(2, 8)
        elif time is not None:
            n = r.randint(1, 5)
        else:
            n = r.choice([0, 0, 1, 1, 2, 3]) if depth < 4 else 0
        for _ in range(n):
            o = self.static_op(scope, time, vis, depth) if time is not None else \
                self.basic_op(scope, vis, depth)
            if o is not None and o.kind in ("new", "resolved", "rejected", "then", "catch",
                                            "finally", "sleep", "timeout", "wait",
                                            "create_task", "group_join"):
                vis.append(o)
        if scope is None:
            # A few timers from the start, to settle and cancel things later.
            for _ in range(r.randint(0, 2)):
                t = self.slot_after(0)
                if t is None:
                    break
                oid = self.next_id
                self.op(None, "timer", [t])
                self.queue.append(((oid, "t"), t, 1))
        # ret: of a reaction's own node, now that its scope exists
        return vis

    # ---- scenarios: a few deliberate interactions, then random ops around them ----------
    def at(self, slot):
        """The scope of the timer of main that fires at `slot` (made on first use)."""
        t = slot * SLOT
        if slot in self.timer_at:
            return self.timer_at[slot]
        if slot not in self.free:
            return None
        self.free.remove(slot)
        oid = self.next_id
        self.op(None, "timer", [t])
        self.timer_at[slot] = (oid, "t")
        self.queue.append(((oid, "t"), t, 1))
        return (oid, "t")

    def free_slot(self, lo=1):
        ok = [s for s in self.free if s >= lo]
        if not ok:
            return None
        s = self.rng.choice(ok)
        self.free.remove(s)
        return s

    def timer_slot(self, lo=1):
        """A slot at or after lo that is (or can become) a timer of main."""
        ok = [s for s in range(lo, NSLOTS + 1) if s in self.free or s in self.timer_at]
        return self.rng.choice(ok) if ok else None

    def leaf(self):
        """A node pending until a later slot: a `new` settled by a timer (or never), or a
        sleep. Returns (node, slot it settles at or None)."""
        r = self.rng
        if r.random() < 0.25:
            sl = self.free_slot()
            if sl is not None:
                return self.op(None, "sleep", [sl * SLOT]), sl
        n = self.op(None, "new", [])
        sl = self.timer_slot() if r.random() < 0.85 else None
        sc = self.at(sl) if sl is not None else None
        if sc is not None:
            self.settled.add(n.id)
            if r.random() < 0.6:
                self.op(sc, "resolve", [n.id, self.value()])
            else:
                self.op(sc, "reject", [n.id, self.code()])
            return n, sl
        return n, None

    def consumer(self, x, groups=True):
        """One consumer of node x, made in main."""
        r = self.rng
        k = r.choices(["then", "catch", "finally", "timeout", "wait", "group", "task"],
                      [4, 1.5, 1, 2, 1.5, 1.5 if groups and self.groups else 0, 1])[0]
        if k == "then":
            return self.op(None, "then", [x.id, "val:" + self.value(),
                                          r.choice(["-", "pass", "val:1"])])
        if k == "catch":
            return self.op(None, "catch", [x.id, r.choice(["pass", "val:2"])])
        if k == "finally":
            return self.op(None, "finally", [x.id, r.choice(["pass", "val:3"])])
        if k == "timeout":
            sl = self.free_slot()
            if sl is None:
                return None
            return self.op(None, "timeout", [x.id, sl * SLOT, r.choice(["wait_for", "race"])])
        if k == "wait":
            return self.op(None, "wait", [r.choice(["first", "all", "exception"]), "-",
                                          "keep", x.id])
        if k == "task":
            oid = self.next_id
            o = self.op(None, "create_task", ["ret:%d" % x.id])
            self.queue.append(((oid, "task"), None, 1))
            return o
        g = r.choice(self.groups)[0]
        self.op(None, "group_add", [g.id, x.id])
        return None

    def scenario(self):
        r = self.rng
        k = r.choices(["shared", "timeout", "wait", "group", "task"], [3, 2, 2, 2.5, 1])[0]
        if k == "shared":
            # One input, several consumers, some cancelled: the upstream rule.
            x, _ = self.leaf()
            cons = [c for c in (self.consumer(x) for _ in range(r.randint(2, 3))) if c]
            for c in r.sample(cons, min(len(cons), r.randint(1, 2))):
                sl = self.timer_slot()
                sc = self.at(sl) if sl else None
                if sc:
                    self.op(sc, "cancel", [c.id])
        elif k == "timeout":
            x, sx = self.leaf()
            if r.random() < 0.4:
                x = self.op(None, "then", [x.id, "val:" + self.value(), "-"])
            sl = self.free_slot()
            if sl is None:
                return
            if sx is not None and sl > sx and r.random() < 0.6:
                # mostly: expire before the inner settles
                self.free.append(sl)
                ok = [s for s in self.free if s < sx]
                if not ok:
                    return
                sl = r.choice(ok)
                self.free.remove(sl)
            tm = self.op(None, "timeout", [x.id, sl * SLOT, "race" if r.random() < 0.3
                                           else "wait_for"])
            if r.random() < 0.4:
                self.consumer(x)
            if r.random() < 0.6:
                self.op(None, "catch", [tm.id, "pass"])
        elif k == "wait":
            ins = [self.leaf()[0] for _ in range(r.randint(1, 3))]
            if r.random() < 0.3:
                ins.append(self.op(None, "resolved", [self.value()]))
            r.shuffle(ins)
            sl = self.free_slot() if r.random() < 0.4 else None
            w = self.op(None, "wait", [r.choice(["first", "first", "exception", "all"]),
                                       "-" if sl is None else sl * SLOT,
                                       "cancel" if r.random() < 0.4 else "keep"]
                        + [x.id for x in ins])
            if r.random() < 0.5:
                self.op(None, "then", [w.id, "pass", "-"])
            if r.random() < 0.4:
                self.consumer(r.choice(ins), groups=False)
        elif k == "group":
            g = self.op(None, "group", [])
            self.groups.append([g, False, []])
            for _ in range(r.randint(1, 3)):
                if r.random() < 0.6:
                    x, _ = self.leaf()
                    self.groups[-1][2].append(x)
                    self.op(None, "group_add", [g.id, x.id])
                else:
                    x, _ = self.leaf()
                    self.groups[-1][2].append(x)
                    oid = self.next_id
                    self.op(None, "group_spawn", [g.id, r.choice(
                        ["ret:%d" % x.id, "ret:%d" % x.id, "val:" + self.value(),
                         "throw:" + self.code()])])
                    self.queue.append(((oid, "task"), None, 1))
            if r.random() < 0.5:
                self.groups[-1][1] = True
                j = self.op(None, "group_join", [g.id])
            else:
                sl = self.timer_slot()
                sc = self.at(sl) if sl else None
                if sc is None:
                    return
                self.groups[-1][1] = True
                j = self.op(sc, "group_join", [g.id])
                if r.random() < 0.4:
                    x, _ = self.leaf()
                    self.op(sc, "group_add", [g.id, x.id])  # after join: refused
            if r.random() < 0.6:
                self.op(j.scope, "catch", [j.id, "pass"])
            if r.random() < 0.25:
                # a task cancelled: if it is the only failure, the join is cancelled
                x = r.choice(self.groups[-1][2])
                sl = self.timer_slot()
                sc = self.at(sl) if sl else None
                if sc is not None:
                    self.op(sc, "cancel", [x.id])
            if r.random() < 0.35 and j.scope is None:
                sl = self.timer_slot()
                sc = self.at(sl) if sl else None
                if sc is not None:
                    self.op(sc, "cancel", [j.id])
        else:
            x, _ = self.leaf()
            oid = self.next_id
            t = self.op(None, "create_task", ["ret:%d" % x.id])
            self.queue.append(((oid, "task"), None, 1))
            if r.random() < 0.4:
                self.op(None, "cancel", [t.id])  # before it starts
            else:
                sl = self.timer_slot()
                sc = self.at(sl) if sl else None
                if sc:
                    self.op(sc, "cancel", [t.id])
            self.op(None, "then", [t.id, "pass", "pass"])

    def sync_scenario(self):
        """A lock, semaphore or event with a line of waiters: critical sections released
        by their reactions or by timers, waiters cancelled or timed out (the handoff rule),
        a release by the wrong owner, an over-release, an event set and cleared."""
        r = self.rng
        kind = r.choice(["lock", "lock", "sem", "bsem", "event", "event", "handoff",
                         "queue", "queue", "queue", "queue", "queue"])
        if kind == "queue":
            self.queue_scenario()
            return
        if kind == "handoff":
            # held, two waiters; a callback releases and the first waiter gives up before
            # its job runs: the permit goes on to the second (the handoff rule)
            lock = r.random() < 0.5
            x = self.op(None, "lock" if lock else r.choice(["sem", "bsem"]),
                        [] if lock else [1])
            self.objs.append(x)
            ws = [self.op(None, "lock_acquire", [x.id, i + 1]) if lock else
                  self.op(None, "sem_acquire", [x.id]) for i in range(r.randint(2, 4))]
            for w in ws[1:]:
                if r.random() < 0.5:
                    self.op(None, "then", [w.id, "val:" + self.value(), "pass"])
            sl = self.timer_slot()
            sc = self.at(sl) if sl else None
            if sc is not None:
                self.op(sc, "lock_release" if lock else "sem_release",
                        [x.id, 1] if lock else [x.id])
                self.op(sc, "cancel", [ws[1].id])
            return
        x = self.op(None, kind, [r.randint(0, 2)] if kind in ("sem", "bsem") else [])
        self.objs.append(x)
        if kind == "bsem" and r.random() < 0.4:
            self.op(None, "sem_release", [x.id])  # before any acquire: too many
        waiters = []
        for i in range(r.randint(2, 4)):
            sl = self.timer_slot() if r.random() < 0.35 else None
            sc = self.at(sl) if sl else None
            if kind == "lock":
                ow = i + 1 if r.random() < 0.85 else r.randint(1, 3)
                w = self.op(sc, "lock_acquire", [x.id, ow])
            elif kind == "event":
                w = self.op(sc, "event_wait", [x.id])
            else:
                w = self.op(sc, "sem_acquire", [x.id])
            waiters.append(w)
            # the critical section: its reaction releases (or a later timer does)
            how = r.random()
            if kind == "event":
                if how < 0.5:
                    self.op(sc, "then", [w.id, "val:" + self.value(), "pass"])
            elif how < 0.5:
                oid = self.next_id
                self.op(sc, "then", [w.id, "val:" + self.value(), "pass"])
                if kind == "lock":
                    self.op((oid, "ok"), "lock_release", [x.id, w.args[1]])
                else:
                    self.op((oid, "ok"), "sem_release", [x.id])
            elif how < 0.85:
                sl2 = self.timer_slot((sl or 0) + 1)
                sc2 = self.at(sl2) if sl2 else None
                if sc2 is not None:
                    if kind == "lock":
                        self.op(sc2, "lock_release", [x.id, w.args[1]])
                    else:
                        self.op(sc2, "sem_release", [x.id])
        if kind == "event":
            for _ in range(r.randint(1, 2)):
                sl = self.timer_slot()
                sc = self.at(sl) if sl else None
                if sc is not None:
                    k = r.choice(["event_set", "event_set", "event_clear"])
                    self.op(sc, k, [x.id])
                    if r.random() < 0.4:  # a wait after it, in the same callback
                        self.op(sc, "then", [self.op(sc, "event_wait", [x.id]).id,
                                             "val:" + self.value(), "-"])
        # some waiters give up: cancelled by a timer, or by a timeout
        waiters = [w for w in waiters if w.scope is None]
        if kind != "event" and waiters and r.random() < 0.35:
            # a release hands the permit to the first waiter, which gives up in the same
            # callback, before its job runs: the permit goes on (the handoff rule)
            sl = self.timer_slot()
            sc = self.at(sl) if sl else None
            if sc is not None:
                w = waiters[0]
                self.op(sc, "lock_release" if kind == "lock" else "sem_release",
                        [x.id, r.randint(1, 3)] if kind == "lock" else [x.id])
                self.op(sc, "cancel", [w.id])
        self.give_up(waiters)
        if kind != "event" and r.random() < (0.7 if kind == "bsem" else 0.3):
            sl = self.timer_slot()
            sc = self.at(sl) if sl else None
            if sc is not None:  # a release too many, or by the wrong owner
                self.op(sc, "lock_release" if kind == "lock" else "sem_release",
                        [x.id, r.randint(1, 3)] if kind == "lock" else [x.id])

    def give_up(self, waiters):
        """Up to two of the waiters (made in main) give up: cancelled by a timer, or by a
        timeout."""
        r = self.rng
        for w in r.sample(waiters, min(len(waiters), r.randint(0, 2))):
            if r.random() < 0.5:
                sl = self.timer_slot()
                sc = self.at(sl) if sl else None
                if sc is not None:
                    self.op(sc, "cancel", [w.id])
            else:
                sl = self.free_slot()
                if sl is not None:
                    self.op(None, "timeout", [w.id, sl * SLOT, "wait_for"])

    def queue_scenario(self):
        """A queue with producers and consumers: gets waiting for puts (an item handed to
        a getter), puts waiting for room (a slot handed to a putter), consumers marking
        their items done for a join, getters and putters cancelled or timed out, a
        shutdown (drain or now) failing the waiters and later calls."""
        r = self.rng
        qk = r.choices(["fifo", "lifo", "prio"], [2, 1, 1])[0]
        q = self.op(None, "queue", [qk, r.choice([0, 1, 1, 1, 2])])
        self.objs.append(q)

        def val():
            return str(r.randint(0, 40)) if qk == "prio" else self.value()

        waiters = []
        for _ in range(r.randint(1, 3)):  # consumers
            sl = self.timer_slot() if r.random() < 0.4 else None
            sc = self.at(sl) if sl else None
            g = self.op(sc, r.choice(["get", "get", "get_nowait"]), [q.id])
            if sc is None:
                waiters.append(g)
            if r.random() < 0.7:
                oid = self.next_id
                self.op(sc, "then", [g.id, "pass", "pass"])
                if r.random() < 0.8:
                    self.op((oid, "ok"), "task_done", [q.id])
        for _ in range(r.randint(1, 4)):  # producers
            sl = self.timer_slot() if r.random() < 0.6 else None
            sc = self.at(sl) if sl else None
            p = self.op(sc, r.choice(["put", "put", "put_nowait"]), [q.id, val()])
            if sc is None and p.kind == "put":
                waiters.append(p)
        if r.random() < 0.6:
            j = self.op(None, "join", [q.id])
            self.op(None, "then", [j.id, "val:" + self.value(), "-"])
        if r.random() < 0.3:  # a task_done too many, or done before its time
            sl = self.timer_slot()
            sc = self.at(sl) if sl else None
            if sc is not None:
                self.op(sc, "task_done", [q.id])
        if r.random() < 0.5:
            sl = self.timer_slot()
            sc = self.at(sl) if sl else None
            if sc is not None:
                self.op(sc, "shutdown", [q.id, r.choice(["drain", "now"])])
                if r.random() < 0.5:
                    if r.random() < 0.5:
                        self.op(sc, "get", [q.id])
                    else:
                        self.op(sc, "put_nowait", [q.id, val()])
        self.give_up(waiters)

    def program(self):
        r = self.rng
        for _ in range(r.randint(1, 3)):
            self.scenario()
        for _ in range(1 if r.random() < 0.6 else 2):  # synchronisation, queues (issue 14)
            self.sync_scenario()
        self.fill(None, 0, 0)
        while self.queue:
            i = 0 if r.random() < 0.5 else r.randrange(len(self.queue))
            scope, time, depth = self.queue.pop(i)
            self.fill(scope, time, depth)
        # Settle most `new` nodes of main nobody settles yet, from a timer of main, so
        # that they are pending for a while (timeouts, waits, cancellations meet them).
        timers = [o for o in self.ops if o.kind == "timer" and o.scope is None]
        for o in list(self.ops):
            if o.kind == "new" and o.scope is None and o.id not in self.settled and timers \
                    and r.random() < 0.75:
                self.settled.add(o.id)
                after = [t for t in timers if int(t.args[0]) > self.wish.get(o.id, 0)]
                t = r.choice(after or timers)
                if r.random() < 0.6:
                    self.op((t.id, "t"), "resolve", [o.id, self.value()])
                else:
                    self.op((t.id, "t"), "reject", [o.id, self.code()])
        return self.ops


def prune(ops, seed):
    """Removes what the model cannot judge, op by op (with dependents)."""
    for _ in range(200):
        c = model.culprit(ops)
        if c is None:
            return ops
        reason, op = c
        if op is None or not any(o.id == op for o in ops):
            return None
        ops = remove(ops, [op])
    return None


def generate(seed):
    for attempt in range(20):
        g = Gen(seed * 1000 + attempt if attempt else seed)
        ops = g.program()
        validate(ops)
        ops = prune(ops, seed)
        if ops is not None and sum(1 for o in ops if o.kind in ASYNCIO_KINDS) >= 2:
            validate(ops)
            return ops
    raise RuntimeError("gen_tasks: no judgeable program for seed %d" % seed)


# ---- coverage --------------------------------------------------------------------------

def features(ops, plan=None):
    f = set(o.kind for o in ops)
    byid = {o.id: o for o in ops}
    plan = plan or model.plan(ops)
    for o in ops:
        if o.kind == "timeout":
            f.add("timeout:" + o.args[2])
        if o.kind == "wait":
            f.add("wait:" + o.args[0])
            if o.args[1] != "-":
                f.add("wait:timeout")
            if o.args[2] == "cancel":
                f.add("wait:cancel-pending")
            if not o.args[3:]:
                f.add("wait:empty")
        if o.kind in ("then", "catch", "finally", "create_task", "group_spawn"):
            if any(a.startswith("ret:") for a in o.args):
                f.add("action:ret")
        if o.kind == "queue" and o.args[0] != "fifo":
            f.add("queue:" + o.args[0])
        if o.kind in SYNC_KINDS and o.scope is not None and byid[o.scope[0]].kind != "timer":
            f.add("sync-op-in-reaction")
    f |= plan.features
    return f


FEATURES = sorted(k for k in SPEC if k in ASYNCIO_KINDS) + [
    "then", "catch", "finally", "resolve", "reject",
    "timeout:wait_for", "timeout:race", "wait:first", "wait:exception", "wait:all",
    "wait:timeout", "wait:cancel-pending", "action:ret",
    # what the model saw happen
    "ran:shield", "ran:upstream-cancel", "ran:timeout-expired", "ran:timeout-left-running",
    "ran:wait-by-timeout", "ran:wait-cancelled-pending", "ran:group-abort",
    "ran:group-refused", "ran:task-cancelled-unstarted", "ran:join-fulfilled",
    "ran:join-aggregate", "ran:join-cancelled", "ran:finally-on-cancel",
    # the synchronisation primitives (issue 14)
    "sync-op-in-reaction", "ran:acquire-at-once", "ran:acquire-waits", "ran:handoff",
    "ran:handoff-cancelled", "ran:waiter-cancelled", "ran:lock-release-refused",
    "ran:bsem-release-refused", "ran:event-wait-set", "ran:event-wait-waits",
    "ran:event-set-wakes",
    "queue:lifo", "queue:prio", "ran:queue-get-waits", "ran:queue-put-waits",
    "ran:queue-join-waits", "ran:queue-item-handoff", "ran:queue-slot-handoff",
    "ran:queue-full", "ran:queue-empty", "ran:task-done-refused", "ran:queue-join-wakes",
    "ran:queue-shutdown-drain", "ran:queue-shutdown-now", "ran:queue-shut-refuses"]


def coverage(seeds):
    counts = {k: 0 for k in FEATURES}
    total = 0
    for s in seeds:
        ops = generate(s)
        total += len(ops)
        for k in features(ops):
            counts[k] = counts.get(k, 0) + 1
    n = max(len(seeds), 1)
    return {k: 100.0 * v / n for k, v in counts.items()}, total / n


def parse_seeds(spec):
    out = []
    for part in spec.split(","):
        if "-" in part:
            a, b = part.split("-", 1)
            out.extend(range(int(a), int(b) + 1))
        elif part:
            out.append(int(part))
    return out


def print_coverage(table, avg, n, out=sys.stdout):
    out.write("coverage over %d asyncio programs (average %.1f ops):\n" % (n, avg))
    for k in FEATURES:
        out.write("  %-30s %5.1f\n" % (k, table.get(k, 0.0)))


FLOOR = 5.0


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("seed", nargs="?", type=int)
    ap.add_argument("--seeds")
    ap.add_argument("--coverage", action="store_true")
    ap.add_argument("--check", action="store_true")
    a = ap.parse_args()
    if a.coverage:
        seeds = parse_seeds(a.seeds or "0-299")
        table, avg = coverage(seeds)
        print_coverage(table, avg, len(seeds))
        if a.check:
            low = [k for k in FEATURES if table.get(k, 0) < FLOOR]
            if low:
                print("FAIL: under %.0f%%: %s" % (FLOOR, ", ".join(low)))
                return 1
            print("OK: every op kind and feature in >= %.0f%% of programs" % FLOOR)
        return 0
    if a.seeds:
        sys.stdout.write(dump_batch([("seed %d" % s, generate(s)) for s in parse_seeds(a.seeds)]))
        return 0
    if a.seed is None:
        ap.error("a seed, --seeds or --coverage")
    sys.stdout.write(dump(generate(a.seed), ["seed %d (asyncio, judged by Python)" % a.seed]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
