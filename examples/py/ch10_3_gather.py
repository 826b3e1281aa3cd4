# Section 10.3, "asyncio.gather()": three fetches run concurrently; the results come back
# in the order the fetches were passed, and the total time is the longest fetch's.
# (The chapter's delays of 2, 1 and 3 s are scaled to 0.2, 0.1 and 0.3 s.)
# Written for vow's examples (the C counterpart is examples/ch10_3_gather.c).
import asyncio
import time


async def fetch_url(url, delay):
    print(f"started: {url}")
    await asyncio.sleep(delay)
    print(f"finished: {url}")
    return f"data from {url}"


async def demo_gather():
    start = time.monotonic()
    # gather runs the three coroutines concurrently; results keep the argument order
    results = await asyncio.gather(
        fetch_url("url1", 0.2),
        fetch_url("url2", 0.1),
        fetch_url("url3", 0.3),
    )
    print(f"\nall results: {results}")
    print(f"total: {time.monotonic() - start:.2f} s (the longest one)")


asyncio.run(demo_gather())
