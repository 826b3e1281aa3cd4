# Section 10.3, "asyncio.sleep() vs time.sleep()": three tasks under gather, first with a
# blocking sleep inside each (they run one after the other: the event loop is stuck while
# each one sleeps), then with asyncio.sleep (they overlap).
# The first half blocks on purpose: it is the mistake this section warns about.
# Written for vow's examples (the C counterpart is examples/ch10_3_sleep_blocking.c).
import asyncio
import time


async def blocking_task(name):
    print(f"{name} started")
    time.sleep(0.5)  # blocks the event loop: no other coroutine can run
    print(f"{name} finished")


async def non_blocking_task(name):
    print(f"{name} started")
    await asyncio.sleep(0.5)  # suspends this coroutine only
    print(f"{name} finished")


async def main():
    print("=== time.sleep(): blocks the loop ===")
    start = time.monotonic()
    await asyncio.gather(blocking_task("A"), blocking_task("B"), blocking_task("C"))
    print(f"total: {time.monotonic() - start:.2f} s (one after another)")

    print("\n=== asyncio.sleep(): the loop runs the others meanwhile ===")
    start = time.monotonic()
    await asyncio.gather(non_blocking_task("A"), non_blocking_task("B"), non_blocking_task("C"))
    print(f"total: {time.monotonic() - start:.2f} s (concurrent)")


asyncio.run(main())
