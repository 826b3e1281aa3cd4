# Section 10.1, "synchronous vs asynchronous": three tasks of 0.5 s each, first one after
# the other with a blocking sleep, then all at once on the event loop.
# Written for vow's examples (the C counterpart is examples/ch10_1_sync_vs_async.c).
import asyncio
import time


def sync_task(name, seconds):
    print(f"{name} started")
    time.sleep(seconds)  # blocks everything: nothing else can run meanwhile
    print(f"{name} finished")


def run_sync_demo():
    print("=== synchronous: one after the other (0.5 s each) ===")
    start = time.monotonic()
    sync_task("task 1", 0.5)
    sync_task("task 2", 0.5)
    sync_task("task 3", 0.5)
    print(f"synchronous total: {time.monotonic() - start:.2f} s")


async def async_task(name, seconds):
    print(f"{name} started")
    await asyncio.sleep(seconds)  # yields to the event loop while waiting
    print(f"{name} finished")


async def run_async_demo():
    print("=== asynchronous: concurrently (0.5 s each) ===")
    start = time.monotonic()
    await asyncio.gather(
        async_task("task 1", 0.5),
        async_task("task 2", 0.5),
        async_task("task 3", 0.5),
    )
    print(f"asynchronous total: {time.monotonic() - start:.2f} s")


run_sync_demo()
asyncio.run(run_async_demo())
