# Section 10.6, "limiting concurrency (Semaphore)": eight simulated requests of one second
# each, at most three at once, so the whole takes about three seconds.
# Lines printed at the same instant (three requests end, three start) come in another order
# in vow than in asyncio (a promise's reaction is a microtask job, an asyncio task resumes
# in the next turn: see the README), so the lines are compared as a set, and the program
# also prints what must agree in any order: the highest number of requests at once.
# check: unordered
# Written for vow's examples (the C counterpart is examples/ch10_6_semaphore.c).
import asyncio
import time

in_flight = 0
most = 0


async def fetch_with_semaphore(semaphore, url, id):
    """A request that holds one of the semaphore's permits."""
    global in_flight, most
    async with semaphore:
        in_flight += 1
        most = max(most, in_flight)
        print(f"[{id}] start: {url}")
        await asyncio.sleep(1)  # the simulated request
        print(f"[{id}] done: {url}")
        in_flight -= 1
        return f"data of {url}"


async def demo_semaphore():
    semaphore = asyncio.Semaphore(3)  # at most 3 at once
    urls = [f"url{i}" for i in range(8)]
    print(f"{len(urls)} requests, at most 3 at once\n")
    start = time.monotonic()
    tasks = [fetch_with_semaphore(semaphore, url, i) for i, url in enumerate(urls)]
    results = await asyncio.gather(*tasks)
    print(f"\nall done: {len(results)} results, at most {most} at once")
    print(f"total time: {time.monotonic() - start:.2f} s")


asyncio.run(demo_semaphore())
