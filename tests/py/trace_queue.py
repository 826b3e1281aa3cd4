"""tests/py/trace_queue.py - the asyncio (Python 3.11) twin of tests/trace_queue.c, compared
line by line by tests/compare.sh: a bounded FIFO queue between a producer and a consumer,
LIFO and priority order, getters in line with the middle one cancelled, QueueFull and
QueueEmpty, task_done called too often, a get that times out."""
import asyncio

ITEMS = 6


async def main():
    print("-- producer and consumer")
    q = asyncio.Queue(2)

    async def producer():
        for i in range(ITEMS):
            await q.put(i)

    async def consumer():
        while True:
            i = await q.get()
            print(f"got {i}")
            q.task_done()
            if i == ITEMS - 1:
                return

    c = asyncio.create_task(consumer())
    await producer()
    await q.join()
    print("produced, joined")  # one line: where "produced" falls among the gets differs
    print("empty", q.empty())
    await c

    print("-- lifo and priority")
    lq, pq = asyncio.LifoQueue(), asyncio.PriorityQueue()
    for i in (3, 1, 4, 1, 5):
        lq.put_nowait(i)
        pq.put_nowait(i)
    for _ in range(5):
        print(lq.get_nowait())
    for _ in range(5):
        print(pq.get_nowait())

    print("-- getters in line, the middle one cancelled")
    q = asyncio.Queue()

    async def getter(name):
        item = await q.get()
        print(f"{name} got {item}")

    names = ("G1", "G2", "G3")
    tasks = [asyncio.create_task(getter(n)) for n in names]
    await asyncio.sleep(0)  # every getter waits
    tasks[1].cancel()
    q.put_nowait(10)
    q.put_nowait(20)
    results = await asyncio.gather(*tasks, return_exceptions=True)
    for n, r in zip(names, results):
        print(n, "cancelled" if isinstance(r, asyncio.CancelledError) else "ok")
    print("qsize", q.qsize())

    print("-- non-waiting answers")
    b = asyncio.Queue(1)
    for i in (1, 2):
        try:
            b.put_nowait(i)
        except asyncio.QueueFull:
            print("QueueFull")
    print("full", b.full())
    for _ in range(2):
        try:
            print(b.get_nowait())
        except asyncio.QueueEmpty:
            print("QueueEmpty")
    for _ in range(2):
        try:
            b.task_done()
            print("task_done ok")
        except ValueError:
            print("ValueError")

    print("-- a get that times out")
    try:
        await asyncio.wait_for(q.get(), 0.01)
    except asyncio.TimeoutError:
        print("get timed out")
    q.put_nowait(30)
    print(q.get_nowait())


asyncio.run(main())
