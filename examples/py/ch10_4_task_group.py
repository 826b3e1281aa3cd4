# Section 10.4, "TaskGroup (Python 3.11+)": tasks created in a group are all awaited when
# the `async with` block ends, and their results are read afterwards, in the order the
# tasks were created (here they finish in another order). Then the failure case: two
# checks fail at the same moment, the group cancels the task still running, waits for it,
# and raises an ExceptionGroup holding both errors (the cancellation is not one of them).
# (The chapter's 0.5 s fetches become 0.3, 0.1 and 0.2 s.)
# Written for vow's examples (the C counterpart is examples/ch10_4_task_group.c).
import asyncio
import time


async def fetch(url, seconds):
    await asyncio.sleep(seconds)
    print(f"fetched {url}")
    return f"data from {url}"


async def check(name, deadline):
    await deadline.wait()
    raise ValueError(f"{name} is not reachable")


async def demo_taskgroup():
    print("=== three fetches in a group ===")
    start = time.monotonic()
    async with asyncio.TaskGroup() as tg:
        task1 = tg.create_task(fetch("url1", 0.3))
        task2 = tg.create_task(fetch("url2", 0.1))
        task3 = tg.create_task(fetch("url3", 0.2))
    # leaving the block means every task has finished
    print(f"task1: {task1.result()}")
    print(f"task2: {task2.result()}")
    print(f"task3: {task3.result()}")
    print(f"all done after {time.monotonic() - start:.2f} s")


async def demo_taskgroup_failure():
    print("\n=== two tasks fail: the group cancels the rest ===")
    start = time.monotonic()
    deadline = asyncio.Event()  # both checks fail when it is set, in the same loop turn
    asyncio.get_running_loop().call_later(0.1, deadline.set)
    tasks = []
    try:
        async with asyncio.TaskGroup() as tg:
            tasks.append(tg.create_task(fetch("url1", 1.0)))
            tasks.append(tg.create_task(check("host A", deadline)))
            tasks.append(tg.create_task(check("host B", deadline)))
    except* ValueError as eg:
        print(f"the group failed after {time.monotonic() - start:.2f} s "
              f"with {len(eg.exceptions)} errors:")
        for e in eg.exceptions:
            print(f"  - {e}")
    print(f"url1's fetch was cancelled: {'yes' if tasks[0].cancelled() else 'no'}")


asyncio.run(demo_taskgroup())
asyncio.run(demo_taskgroup_failure())
