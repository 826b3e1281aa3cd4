# Section 10.6, "timeout and cancellation": a task that would run for 10 s is stopped twice,
# first by a timeout (wait_for), then by an explicit cancel. Each time the task notices,
# prints, and lets the cancellation through.
# Written for vow's examples (the C counterpart is examples/ch10_6_timeout_cancel.c).
import asyncio
import time

start = 0.0


async def long_running_task():
    try:
        print("task started")
        await asyncio.sleep(10)
        print("task finished")
        return "result"
    except asyncio.CancelledError:
        print("task cancelled!")
        raise  # let the caller see the cancellation


async def demo_cancel():
    global start
    print("=== timeout ===")
    start = time.monotonic()
    try:
        await asyncio.wait_for(long_running_task(), timeout=1.0)
        print("not reached: the task finished in time")
    except asyncio.TimeoutError:
        print(f"timed out after {time.monotonic() - start:.2f} s\n")

    print("=== cancel by hand ===")
    start = time.monotonic()
    task = asyncio.create_task(long_running_task())
    await asyncio.sleep(0.5)
    print("cancelling the task...")
    task.cancel()
    try:
        result = await task
        print(f"not reached: the task returned {result}")
    except asyncio.CancelledError:
        print(f"confirmed: the task was cancelled after {time.monotonic() - start:.2f} s")


async def main():
    await demo_cancel()
    print(f"operations still running: {len(asyncio.all_tasks()) - 1}")


asyncio.run(main())
