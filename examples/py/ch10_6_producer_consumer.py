# Section 10.6, "producer-consumer": two producers put three items each into a queue of 5,
# with a random pause after each put; two consumers take them, with a random pause each,
# and mark each done; after the producers finish, join waits for every item, then a None
# per consumer tells it to stop.
# The pauses come from seeded xorshift32 generators written out identically here and in the
# C file (random.uniform would differ): 100 + next() % 201 ms for producers, 100 +
# next() % 101 ms for consumers, one generator per producer and per consumer. Which
# consumer takes which item, and the order of lines printed at one instant, depend on
# timing and on the turn order (see the README), so the lines are compared as a set after
# the consumer names are taken out; the counts are printed at the end.
# check: unordered
# Written for vow's examples (the C counterpart is examples/ch10_6_producer_consumer.c).
import asyncio


def xorshift(seed):
    state = seed

    def next_():
        nonlocal state
        x = state
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        state = x
        return x

    return next_


consumed = 0


async def producer(queue, name, count, rng):
    """Puts `count` items into the queue."""
    for i in range(count):
        item = f"{name}-item-{i}"
        await queue.put(item)
        print(f"[produce] {item}")
        await asyncio.sleep((100 + rng() % 201) / 1000)


async def consumer(queue, name, rng):
    """Takes items until None."""
    global consumed
    while True:
        item = await queue.get()
        if item is None:  # the end signal
            break
        print(f"[consume] {item}")
        consumed += 1
        await asyncio.sleep((100 + rng() % 101) / 1000)
        queue.task_done()


async def demo_producer_consumer():
    queue = asyncio.Queue(maxsize=5)
    producers = [
        asyncio.create_task(producer(queue, "P1", 3, xorshift(1))),
        asyncio.create_task(producer(queue, "P2", 3, xorshift(2))),
    ]
    consumers = [
        asyncio.create_task(consumer(queue, "C1", xorshift(3))),
        asyncio.create_task(consumer(queue, "C2", xorshift(4))),
    ]
    await asyncio.gather(*producers)
    print("\n--- producers done ---")
    await queue.join()  # every item taken and done
    for _ in consumers:
        await queue.put(None)
    await asyncio.gather(*consumers)
    print(f"\n--- all done: {consumed} items consumed ---")


asyncio.run(demo_producer_consumer())
