# Section 10.3, "gather's error handling": three tasks, the second one fails. By default
# gather raises the first exception; with return_exceptions=True it hands back every
# outcome, exceptions included, in argument order.
# Written for vow's examples (the C counterpart is examples/ch10_3_gather_errors.c).
import asyncio


async def may_fail(name, should_fail=False):
    await asyncio.sleep(0.5)
    if should_fail:
        raise ValueError(f"{name} failed")
    return f"{name} succeeded"


async def demo_gather_error():
    print("=== default: the first exception propagates ===")
    try:
        await asyncio.gather(
            may_fail("task 1"),
            may_fail("task 2", should_fail=True),
            may_fail("task 3"),
        )
        print("not reached: every task succeeded")
    except ValueError as e:
        print(f"caught: {e}")

    print("\n=== return_exceptions=True: errors come back as results ===")
    results = await asyncio.gather(
        may_fail("task 1"),
        may_fail("task 2", should_fail=True),
        may_fail("task 3"),
        return_exceptions=True,
    )
    for i, result in enumerate(results, 1):
        if isinstance(result, Exception):
            print(f"task {i} error: {result}")
        else:
            print(f"task {i} ok: {result}")


asyncio.run(demo_gather_error())
