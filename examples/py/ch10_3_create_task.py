# Section 10.3, "asyncio.create_task()": two tasks are scheduled and the caller carries on
# at once; the tasks start only when the caller next lets the event loop run, then sleep
# concurrently, and are awaited afterwards for their results. (The chapter's 1 s and
# 0.5 s are scaled to 0.2 s and 0.1 s.)
# Written for vow's examples (the C counterpart is examples/ch10_3_create_task.c).
import asyncio
import time


async def background_task(name, seconds):
    print(f"{name} starts")
    await asyncio.sleep(seconds)
    print(f"{name} finishes")
    return f"{name}'s result"


async def demo_create_task():
    start = time.monotonic()
    # create_task schedules the coroutine and returns at once: nothing has run yet
    task1 = asyncio.create_task(background_task("task 1", 0.2))
    task2 = asyncio.create_task(background_task("task 2", 0.1))

    print("tasks created, doing something else meanwhile")
    print("(the tasks have not started yet: this code runs first)")

    # awaiting a task gives the loop a turn; both tasks run concurrently
    result1 = await task1
    result2 = await task2

    print(f"\nresults: {result1}, {result2}")
    print(f"total: {time.monotonic() - start:.2f} s (the longer task, not the sum)")


asyncio.run(demo_create_task())
