# Section 10.8, pitfall 4, "exceptions nobody handles": a task that fails, first started
# and never awaited, then awaited with the error caught.
# asyncio reports a failed task nobody awaited ("Task exception was never retrieved")
# through the loop's exception handler when the task is garbage collected. The handler
# below prints the report on stdout, then lets the default handler log it on stderr; the
# task is collected at a fixed point (del + gc.collect()), so stdout is deterministic.
# Written for vow's examples (the C counterpart is examples/ch10_8_unhandled.c).
import asyncio
import gc

reports = 0


def on_exception(loop, context):
    global reports
    reports += 1
    print(f"reported as unhandled: {context['exception']}")
    loop.default_exception_handler(context)  # the usual stderr report


async def risky_task():
    await asyncio.sleep(0.1)
    raise ValueError("something went wrong")


async def main():
    asyncio.get_running_loop().set_exception_handler(on_exception)

    print("=== wrong: the task fails and nobody waits for it ===")
    task = asyncio.create_task(risky_task())  # started, then forgotten
    await asyncio.sleep(0.2)  # the task fails meanwhile
    del task
    gc.collect()  # the report comes when the task is collected: now

    print("\n=== right: await the task and catch its error ===")
    task = asyncio.create_task(risky_task())
    try:
        await task
    except ValueError as e:
        print(f"caught: {e}")


asyncio.run(main())
print(f"\nunhandled reports: {reports}")
