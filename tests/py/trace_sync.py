"""tests/py/trace_sync.py - the asyncio (Python 3.11) twin of tests/trace_sync.c, compared
line by line by tests/compare.sh: Lock handoff in FIFO order, a Semaphore whose middle
waiter is cancelled, Event set/clear/wait (and a wait that times out), a BoundedSemaphore's
over-release, a Condition's notify and notify_all."""
import asyncio


async def main():
    print("-- lock")
    lock = asyncio.Lock()
    await lock.acquire()

    async def locker(name):
        async with lock:
            print(f"{name} acquired")
            print(f"{name} releases")

    tasks = [asyncio.create_task(locker(f"T{i}")) for i in (1, 2, 3)]
    await asyncio.sleep(0)  # every task waits on the lock
    print("T0 releases")
    lock.release()
    await asyncio.gather(*tasks, return_exceptions=True)
    print("locked", lock.locked())

    print("-- semaphore")
    sem = asyncio.Semaphore(1)
    await sem.acquire()

    async def waiter(name):
        await sem.acquire()
        print(f"{name} acquired")
        sem.release()

    names = ("W1", "W2", "W3")
    tasks = [asyncio.create_task(waiter(n)) for n in names]
    await asyncio.sleep(0)
    tasks[1].cancel()
    sem.release()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    for n, r in zip(names, results):
        print(n, "cancelled" if isinstance(r, asyncio.CancelledError) else "ok")
    print("locked", sem.locked())

    print("-- event")
    ev = asyncio.Event()

    async def ewait(name):
        await ev.wait()
        print(f"{name} woke")

    tasks = [asyncio.create_task(ewait(n)) for n in ("E1", "E2")]
    await asyncio.sleep(0)
    print("is_set", ev.is_set())
    ev.set()
    await asyncio.gather(*tasks)
    print("is_set", ev.is_set())
    ev.clear()
    print("is_set", ev.is_set())
    try:
        await asyncio.wait_for(ev.wait(), 0.01)
    except asyncio.TimeoutError:
        print("wait timed out")

    print("-- bounded semaphore")
    b = asyncio.BoundedSemaphore(1)
    try:
        b.release()
    except ValueError:
        print("over-release refused")
    await b.acquire()
    b.release()
    print("release after acquire ok")
    try:
        b.release()
    except ValueError:
        print("over-release refused")

    print("-- condition")
    cond = asyncio.Condition()

    async def cwait(name):
        async with cond:
            await cond.wait()
            print(f"{name} woke")

    tasks = [asyncio.create_task(cwait(f"C{i}")) for i in (1, 2, 3)]
    await asyncio.sleep(0)
    async with cond:
        print("notify 1")
        cond.notify(1)
    await tasks[0]
    async with cond:
        print("notify all")
        cond.notify_all()
    await asyncio.gather(*tasks)
    print("locked", cond.locked())

    print("-- condition wait_for")
    count = 0
    calls = 0

    def reached():
        nonlocal calls
        calls += 1
        print(f"predicate call {calls}: count {count}")
        return count * 10 if count >= 3 else 0

    async def waits_for():
        async with cond:
            r = await cond.wait_for(reached)
            print(f"wait_for returned {r}, locked {cond.locked()}")

    task = asyncio.create_task(waits_for())
    await asyncio.sleep(0)
    for _ in range(3):
        async with cond:
            count += 1
            cond.notify_all()
        await asyncio.sleep(0.001)
    await task
    print("locked", cond.locked())


asyncio.run(main())
