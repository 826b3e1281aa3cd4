# Section 10.8, pitfall 1, "forgetting await": calling an async function hands back
# something to wait on (a coroutine object), not its result.
# The last part never awaits a call at all: Python then warns on stderr
# ("coroutine 'get_data' was never awaited"; gc.collect() makes it come at once) and the
# work never happens.
# Written for vow's examples (the C counterpart is examples/ch10_8_forgotten_await.c).
import asyncio
import gc
import inspect


async def get_data():
    await asyncio.sleep(0.1)
    return "data"


def describe(label, obj):
    if inspect.getcoroutinestate(obj) != inspect.CORO_CLOSED:
        print(f"{label}: an awaitable that has not finished, not the data")
    else:
        print(f"{label}: an awaitable that has finished, still not the data")


async def demo_forgot_await():
    print("=== forgetting await ===")
    data_wrong = get_data()  # forgot await: a coroutine object, not "data"
    describe("without await", data_wrong)

    print("=== awaiting ===")
    data_correct = await get_data()
    print(f"with await: {data_correct!r}")

    # clean-up, as the chapter does: await the forgotten one too
    print(f"the forgotten one, awaited at last: {await data_wrong!r}")

    print("=== never awaiting at all ===")
    never = get_data()
    print("called it, and moved on without awaiting")
    del never  # nobody will ever await it
    gc.collect()


asyncio.run(demo_forgot_await())
print("at exit, its work is dropped unfinished")
