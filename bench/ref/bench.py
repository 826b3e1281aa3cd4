#!/usr/bin/env python3
"""bench/ref/bench.py - W1-W7, W10, W10r, W11a, W11b, W11c, W12a, W12b for Python 3.11
asyncio, written as a Python programmer would.

    python3 bench/ref/bench.py <w1..w7|w10|w10r|w11a|w11b|w11c|w12a|w12b> [N] [--inject-wrong]

Prints one line in vow's format (STYLE.md 14), e.g.
    W1 asyncio n=1000000 ns_per_step=1900.0 total_ms=1900.0 rss_kb=123456
A wrong result says so on stderr and exits 1; bad usage exits 2. The clock runs from the
workload's first future to the moment its final future is done; the check comes after.
--inject-wrong makes each workload compute a wrong answer, as in bench/workloads.c.

asyncio has futures, gather, sleep and call_later, but no `then`, `race` or `any`. W1 and W3
use the few-line helpers below, built on Future.add_done_callback the way asyncio.gather
itself is built: each step is one loop callback, as each JavaScript reaction is one job.
(asyncio.wait(FIRST_COMPLETED) cannot stand in for race: it returns a set, and every
future of a round is already done when it looks, so the winner is lost.) W6 and W7 use
asyncio.Queue and asyncio.Semaphore as they are; W12 asyncio's streams (start_server,
open_connection, StreamReader, StreamWriter).
"""
import asyncio
import resource
import sys
import time

DEFAULT_N = {"1": 1000000, "2": 1000000, "3": 100000, "4": 1000000, "5": 100000, "6": 1000000,
             "7": 100000, "10": 100000, "10r": 100000, "11a": 1000000, "11b": 1000000,
             "11c": 1000000, "12a": 200000, "12b": 100000}
METRIC = {"1": "ns_per_step", "2": "ns_per_promise", "3": "ns_per_round",
          "4": "cpu_ns_per_timer", "5": "overhead_ms", "6": "ns_per_item", "7": "ns_per_task",
          "10": "ns_per_job", "10r": "ns_per_settle", "11a": "ns_per_await",
          "11b": "ns_per_await", "11c": "ns_per_step", "12a": "user_us_per_rt",
          "12b": "user_us_per_mb"}


class Wrong(Exception):
    pass


def parse(argv):
    w, n, inject = 0, 0, False
    for s in argv:
        if s == "--inject-wrong":
            inject = True
        elif s[:1] in ("w", "W") and s[1:] in DEFAULT_N:
            w = s[1:]
        elif s.isdigit() and int(s) > 0:
            n = int(s)
        else:
            return None
    if not w:
        return None
    return w, n or DEFAULT_N[w], inject


def cpu_ns():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return int((ru.ru_utime + ru.ru_stime) * 1e9)


def rss_kb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def report(w, n, metric, total_ms):
    w = str(w)
    print(f"W{w} asyncio n={n} {METRIC[w]}={metric:.1f} total_ms={total_ms:.1f} "
          f"rss_kb={rss_kb()}", flush=True)


# ---- helpers: then, race, any on futures -----------------------------------------------------
def then(fut, fn):
    """fut.then(fn): a future done with fn(result), or with fut's exception."""
    out = fut.get_loop().create_future()

    def step(f):
        exc = f.exception()
        if exc is not None:
            out.set_exception(exc)
        else:
            out.set_result(fn(f.result()))

    fut.add_done_callback(step)
    return out


def race(futs):
    """Promise.race: done as the first of futs to be done."""
    out = futs[0].get_loop().create_future()

    def settle(f):
        if not out.done():
            exc = f.exception()
            if exc is not None:
                out.set_exception(exc)
            else:
                out.set_result(f.result())

    for f in futs:
        f.add_done_callback(settle)
    return out


def any_(futs):
    """Promise.any: the first result; an ExceptionGroup when every future failed."""
    out = futs[0].get_loop().create_future()
    errors = [None] * len(futs)
    left = len(futs)

    def settle(i, f):
        nonlocal left
        left -= 1
        if out.done():
            return
        exc = f.exception()
        if exc is None:
            out.set_result(f.result())
            return
        errors[i] = exc
        if left == 0:
            out.set_exception(ExceptionGroup("all futures failed", errors))

    for i, f in enumerate(futs):
        f.add_done_callback(lambda f, i=i: settle(i, f))
    return out


# ---- W1 chain: N then steps on a resolved future, each adding 1 ------------------------------
async def w1(n, inject):
    loop = asyncio.get_running_loop()
    add1 = lambda v: v + 1
    add2 = lambda v: v + 2
    t0 = time.perf_counter_ns()
    p = loop.create_future()
    p.set_result(0)
    for i in range(n):
        p = then(p, add2 if inject and i == 0 else add1)
    got = await p
    ns = time.perf_counter_ns() - t0
    if got != n:
        raise Wrong(f"chain ended at {got}, expected {n}")
    report(1, n, ns / n, ns / 1e6)


# ---- W2 fan-out: N pending futures, each resolved, gather over them --------------------------
async def w2(n, inject):
    loop = asyncio.get_running_loop()
    t0 = time.perf_counter_ns()
    futs = [loop.create_future() for _ in range(n)]
    all_ = asyncio.gather(*futs)
    for i, f in enumerate(futs):
        f.set_result(1 if inject and i == 0 else i)
    vals = await all_
    ns = time.perf_counter_ns() - t0
    if len(vals) != n:
        raise Wrong(f"gather gave {len(vals)} values, expected {n}")
    for i, v in enumerate(vals):
        if v != i:
            raise Wrong(f"gather's value {i} is {v}")
    report(2, n, ns / n, ns / 1e6)


# ---- W3 race and any over 10 futures resolved in order, N rounds -----------------------------
async def w3(n, inject):
    loop = asyncio.get_running_loop()
    width = 10
    total = 0
    t0 = time.perf_counter_ns()
    for rnd in range(n):
        futs = [loop.create_future() for _ in range(width)]
        r = race(futs)
        a = any_(futs)
        base = rnd * width
        order = range(width - 1, -1, -1) if inject and rnd == 0 else range(width)
        for k in order:
            futs[k].set_result(base + k)
        total += await r
        total += await a
    ns = time.perf_counter_ns() - t0
    want = 10 * n * (n - 1)
    if total != want:
        raise Wrong(f"{n} rounds summed to {total}, expected {want}")
    report(3, n, ns / n, ns / 1e6)


# ---- W4 timers: N call_later with delays spread over 0..1000 ms ------------------------------
async def w4(n, inject):
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    count = [0, 0]  # fired, sum of ids
    n_set = n - 1 if inject else n

    def fire(i):
        count[0] += 1
        count[1] += i
        if count[0] == n_set:
            done.set_result(None)

    c0 = cpu_ns()
    t0 = time.perf_counter_ns()
    for i in range(n_set):
        loop.call_later((i % 1001) / 1000, fire, i)
    if n_set == 0:
        done.set_result(None)
    await done
    cpu = cpu_ns() - c0
    ms = (time.perf_counter_ns() - t0) / 1e6
    want_sum = n * (n - 1) // 2
    if count[0] != n or count[1] != want_sum:
        raise Wrong(f"{count[0]} timers fired (ids summing to {count[1]}), "
                    f"expected {n} ({want_sum})")
    longest = min(n - 1, 1000)
    if ms + 1 < longest:
        raise Wrong(f"all timers fired within {ms:.1f} ms; the longest is {longest} ms")
    report(4, n, cpu / n, ms)


# ---- W5 N concurrent 100 ms sleeps under gather ----------------------------------------------
async def w5(n, inject):
    t0 = time.perf_counter_ns()
    sleeps = [asyncio.sleep(0.1) for _ in range(n)]
    if inject:
        sleeps.pop().close()  # never awaited: closed, so Python does not warn
    results = await asyncio.gather(*sleeps)
    ms = (time.perf_counter_ns() - t0) / 1e6
    if len(results) != n:
        raise Wrong(f"gather gave {len(results)} results, expected {n}")
    if ms + 1 < 100:
        raise Wrong(f"the sleeps ended after {ms:.1f} ms, before 100 ms")
    report(5, n, ms - 100, ms)


# ---- W6 a bounded queue of 64, one producer, one consumer, N items ---------------------------
async def w6(n, inject):
    seen = [0, 0, -1]  # count, sum, first index out of order

    async def producer():
        for i in range(n):
            await q.put(1 if inject and i == 0 else i)

    async def consumer():
        for i in range(n):
            v = await q.get()
            if v != i and seen[2] < 0:
                seen[2] = i
            seen[0] += 1
            seen[1] += v

    t0 = time.perf_counter_ns()
    q = asyncio.Queue(64)
    await asyncio.gather(producer(), consumer())
    ns = time.perf_counter_ns() - t0
    count, total, first_bad = seen
    want = n * (n - 1) // 2
    if count != n or total != want or first_bad >= 0:
        raise Wrong(f"the consumer got {count} items summing to {total} (first out of order at "
                    f"{first_bad}), expected {n} summing to {want}, in order")
    report(6, n, ns / n, ns / 1e6)


# ---- W7 N tasks, at most 100 at once under a semaphore ---------------------------------------
async def w7(n, inject):
    limit = 100
    st = [0, 0, 0]  # running, peak, done

    async def task():
        async with sem:
            st[0] += 1
            if st[0] > st[1]:
                st[1] = st[0]
            await asyncio.sleep(0)  # the hop: asyncio's one loop turn
            st[0] -= 1
        st[2] += 1

    t0 = time.perf_counter_ns()
    sem = asyncio.Semaphore(limit + (1 if inject else 0))
    results = await asyncio.gather(*(task() for _ in range(n)))
    ns = time.perf_counter_ns() - t0
    _, peak, done = st
    want_peak = min(n, limit)
    if len(results) != n:
        raise Wrong(f"gather gave {len(results)} results, expected {n}")
    if done != n or peak != want_peak:
        raise Wrong(f"{done} tasks done, at most {peak} at once; expected {n}, at most {want_peak}")
    report(7, n, ns / n, ns / 1e6)


async def w10(n, inject):
    """W10: N empty jobs through run_in_executor (the default executor), 64 in flight."""
    loop = asyncio.get_running_loop()

    def job(i):
        return 1 if i == 0 and inject else i

    await loop.run_in_executor(None, job, -1)  # the executor's threads start before the clock
    t0 = time.perf_counter_ns()
    nxt, bad = 0, 0

    async def lane():
        nonlocal nxt, bad
        while nxt < n:
            i = nxt
            nxt += 1
            if await loop.run_in_executor(None, job, i) != i:
                bad += 1

    await asyncio.gather(*[lane() for _ in range(min(64, n))])
    ns = time.perf_counter_ns() - t0
    if nxt != n or bad:
        raise Wrong(f"{nxt} jobs, {bad} with a wrong value; expected {n}, 0")
    report("10", n, ns / n, ns / 1e6)


async def w10r(n, inject):
    """W10r: a second thread settles N futures, one call_soon_threadsafe(set_result) each."""
    import threading
    loop = asyncio.get_running_loop()
    futs = [loop.create_future() for _ in range(n)]

    def settler():
        for i, f in enumerate(futs):
            loop.call_soon_threadsafe(f.set_result, 1 if i == 0 and inject else i)

    t0 = time.perf_counter_ns()
    th = threading.Thread(target=settler)
    th.start()
    values = await asyncio.gather(*futs)
    ns = time.perf_counter_ns() - t0
    th.join()
    bad = sum(1 for i, v in enumerate(values) if v != i)
    if len(values) != n or bad:
        raise Wrong(f"{len(values)} settles, {bad} with a wrong value; expected {n}, 0")
    report("10r", n, ns / n, ns / 1e6)


def w11_value(i, inject):
    return 1 if inject and i == 0 else i


def w11_check(n, count, total):
    want = n * (n - 1) // 2
    if count != n or total != want:
        raise Wrong(f"{count} steps summing to {total}, expected {n} summing to {want}")


async def w11a(n, inject, ncoro=1):
    """W11a: the main task awaits N futures that are already done. asyncio's Future.__await__
    returns the result of a done future at once (`if not self.done(): yield self`): the task
    never suspends and no loop turn runs, so this is the cost of an await that does not
    switch, unlike Node's (always resumed by a job) and vow's W11b.
    W11b (ncoro 2): two tasks under gather share the N awaits (even and odd steps); they
    still never suspend, so the first runs all its steps, then the second."""
    loop = asyncio.get_running_loop()
    st = [0, 0]  # count, sum

    async def body(first):
        for i in range(first, n, ncoro):
            f = loop.create_future()
            f.set_result(w11_value(i, inject))
            st[1] += await f
            st[0] += 1

    t0 = time.perf_counter_ns()
    if ncoro == 1:
        await body(0)
    else:
        await asyncio.gather(body(0), body(1))
    ns = time.perf_counter_ns() - t0
    w11_check(n, st[0], st[1])
    report("11a" if ncoro == 1 else "11b", n, ns / n, ns / 1e6)


async def w11b(n, inject):
    await w11a(n, inject, 2)


async def w11c(n, inject):
    """W11c: the callback form: a done callback on a done future (one loop callback through
    call_soon) adds the value and arms the next step the same way."""
    loop = asyncio.get_running_loop()
    st = [0, 0]  # count, sum
    t0 = time.perf_counter_ns()
    done = loop.create_future()

    def arm(i):
        f = loop.create_future()
        f.set_result(w11_value(i, inject))
        f.add_done_callback(step)

    def step(f):
        st[1] += f.result()
        st[0] += 1
        if st[0] < n:
            arm(st[0])
        else:
            done.set_result(None)

    arm(0)
    await done
    ns = time.perf_counter_ns() - t0
    w11_check(n, st[0], st[1])
    report("11c", n, ns / n, ns / 1e6)


# ---- W12 TCP echo over 127.0.0.1 (bench/bench.h has the rules) --------------------------------
# The server and the clients in this process, on one event loop; the clock and the CPU figures
# run from just before the first connect to the last client's last byte checked. The server is
# the echo of asyncio's documentation: read what is there, write it, drain, until the end.
W12A_MSG, W12B_MSG, W12B_CONNS, W12_PERIOD, W12_READ = 64, 4096, 50, 251, 65536
W12_PATTERN = bytes(i % W12_PERIOD for i in range(W12_PERIOD + W12_READ))


def w12_expect(off, k, length):
    o = (off + k) % W12_PERIOD
    return W12_PATTERN[o:o + length]


def w12_message(inject, i, k, size):
    m = w12_expect(i * size, k, size)
    if inject and i == 0 and k == 0:
        m = bytes([(m[0] + 1) & 0xff]) + m[1:]
    return m


def w12_bad(got, off, k):
    """The bytes of got (at stream offset off of connection k) that differ from the pattern."""
    want = w12_expect(off, k, len(got))
    if got == want:
        return 0
    return sum(1 for x, y in zip(got, want) if x != y)


class W12Server:
    """The echo server; closed() waits until every connection's handler has ended."""

    def __init__(self):
        self.open = 0
        self.idle = asyncio.Event()
        self.idle.set()

    async def echo(self, reader, writer):
        self.open += 1
        self.idle.clear()
        try:
            while data := await reader.read(W12_READ):
                writer.write(data)
                await writer.drain()
            writer.close()
        finally:
            self.open -= 1
            if self.open == 0:
                self.idle.set()

    async def start(self):
        self.server = await asyncio.start_server(self.echo, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def closed(self):
        self.server.close()
        await self.idle.wait()


def w12_cpu():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime, ru.ru_stime


def w12_figures(w, n, t0, cpu0):
    """What the report line says, taken when the clock stops."""
    ns = time.perf_counter_ns() - t0
    u1, s1 = w12_cpu()
    per = n if w == "12a" else n * W12B_MSG / 1e6
    return (f"W{w} asyncio n={n} {METRIC[w]}={(u1 - cpu0[0]) * 1e6 / per:.3f} "
            f"total_ms={ns / 1e6:.1f} rss_kb={rss_kb()} "
            f"sys_{METRIC[w][5:]}={(s1 - cpu0[1]) * 1e6 / per:.3f}")


def w12_check(w, got, want, bad):
    if got != want or bad:
        what = "round trips" if w == "12a" else "bytes"
        raise Wrong(f"{got} {what} came back ({bad} bytes wrong), expected {want}, none wrong")


async def w12a(n, inject):
    """W12a: one connection, N ping-pongs of 64 bytes."""
    server = W12Server()
    port = await server.start()
    t0 = time.perf_counter_ns()
    cpu0 = w12_cpu()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    bad = 0
    for i in range(n):
        writer.write(w12_message(inject, i, 0, W12A_MSG))
        await writer.drain()
        bad += w12_bad(await reader.readexactly(W12A_MSG), i * W12A_MSG, 0)
    line = w12_figures("12a", n, t0, cpu0)
    writer.close()
    await server.closed()
    w12_check("12a", n, n, bad)
    print(line, flush=True)


async def w12b(n, inject):
    """W12b: 50 connections, each writing its share of N 4 KiB messages (write, then drain:
    asyncio's back-pressure) while a second task reads the echo."""
    server = W12Server()
    port = await server.start()
    st = [0, 0, 0]  # bytes back, bytes sent, bytes wrong
    writers = []

    async def client(k):
        msgs = n // W12B_CONNS + (1 if k < n % W12B_CONNS else 0)
        total = msgs * W12B_MSG
        st[1] += total
        if total == 0:
            return
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writers.append(writer)

        async def send():
            for i in range(msgs):
                writer.write(w12_message(inject, i, k, W12B_MSG))
                await writer.drain()

        sender = asyncio.create_task(send())
        back = 0
        while back < total:
            data = await reader.read(W12_READ)
            if not data:
                raise ConnectionError("the server closed early")
            st[2] += w12_bad(data, back, k)
            back += len(data)
            st[0] += len(data)
        await sender

    t0 = time.perf_counter_ns()
    cpu0 = w12_cpu()
    await asyncio.gather(*[client(k) for k in range(W12B_CONNS)])
    line = w12_figures("12b", n, t0, cpu0)
    for writer in writers:
        writer.close()
    await server.closed()
    w12_check("12b", st[0], st[1], st[2])
    print(line, flush=True)


def main():
    args = parse(sys.argv[1:])
    if args is None:
        print("usage: bench.py <w1..w7|w10|w10r|w11a|w11b|w11c|w12a|w12b> [N] [--inject-wrong]",
              file=sys.stderr)
        return 2
    w, n, inject = args
    run = {"1": w1, "2": w2, "3": w3, "4": w4, "5": w5, "6": w6, "7": w7, "10": w10, "10r": w10r,
           "11a": w11a, "11b": w11b, "11c": w11c, "12a": w12a, "12b": w12b}
    try:
        asyncio.run(run[w](n, inject))
    except Wrong as e:
        print(f"W{w} asyncio: wrong result: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
