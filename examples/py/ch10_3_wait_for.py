# Section 10.3, "asyncio.wait_for()": give a slow operation a deadline. (The chapter's
# 5 s operation and 1 s timeout are scaled to 1.0 s and 0.3 s.)
# Part 1: wait_for cancels the operation at the deadline; nothing is left running.
# Part 2: the chapter's JavaScript form (Promise.race with a timer): shield the task, so
# the caller stops waiting but the operation runs on and can still be awaited.
# Written for vow's examples (the C counterpart is examples/ch10_3_wait_for.c).
import asyncio
import time


async def slow_operation():
    print("slow operation started...")
    await asyncio.sleep(1.0)
    print("slow operation finished")
    return "done"


async def demo_wait_for():
    print("=== wait_for: the operation is cancelled at the timeout ===")
    start = time.monotonic()
    try:
        result = await asyncio.wait_for(slow_operation(), timeout=0.3)
        print(result)
    except asyncio.TimeoutError as e:
        print(f"timed out after {time.monotonic() - start:.2f} s")
        cancelled = isinstance(e.__cause__, asyncio.CancelledError)
        print(f"caused by the operation's cancellation: {'yes' if cancelled else 'no'}")


async def demo_race():
    print("=== JavaScript's form: a race with a timer, nothing is cancelled ===")
    start = time.monotonic()
    task = asyncio.create_task(slow_operation())
    try:
        print(await asyncio.wait_for(asyncio.shield(task), timeout=0.3))
    except asyncio.TimeoutError:
        print(f"timed out after {time.monotonic() - start:.2f} s; the operation keeps running")
        result = await task
        print(f"result after {time.monotonic() - start:.2f} s: {result}")


async def main():
    await demo_wait_for()
    print(f"operations still running: {len(asyncio.all_tasks()) - 1}")
    print()
    await demo_race()


asyncio.run(main())
