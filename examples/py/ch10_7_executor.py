# Section 10.7, "running blocking code from async code": blocking file I/O and a CPU-heavy
# sum run in the default executor (a thread pool) while a 100 ms timer keeps ticking on the
# loop; then "running async code from sync code": a plain function that runs a coroutine
# to its end with asyncio.run.
# The blocking I/O writes a megabyte to a temporary file, reads it back and sleeps a second
# (the chapter's time.sleep(1), a slow device). The loop's ticks are counted, not printed:
# about ten happen during that second, so the program prints whether there were at least 5.
# Written for vow's examples (the C counterpart is examples/ch10_7_executor.c).
import asyncio
import os
import tempfile
import time

ticks = 0


def blocking_io():
    """Blocking I/O: a file written and read back, then a slow second."""
    print("  blocking I/O starts...")
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "data.bin")
        with open(path, "wb") as f:
            f.write(bytes(range(256)) * 4096)
        with open(path, "rb") as f:
            n = len(f.read())
    time.sleep(1)
    print("  blocking I/O done")
    return f"IO result: {n} bytes"


def cpu_intensive():
    """CPU-heavy work."""
    print("  CPU work starts...")
    total = sum(i * i for i in range(10**6))
    print("  CPU work done")
    return total


async def ticker():
    global ticks
    while True:
        await asyncio.sleep(0.1)
        ticks += 1


async def demo_executor():
    loop = asyncio.get_event_loop()
    t = asyncio.create_task(ticker())

    print("=== blocking I/O in the thread pool ===")
    result = await loop.run_in_executor(None, blocking_io)
    print(f"result: {result}")
    print(f"the loop kept ticking meanwhile: {ticks >= 5}\n")

    print("=== CPU-heavy work in the thread pool ===")
    result = await loop.run_in_executor(None, cpu_intensive)
    print(f"result: {result}")
    t.cancel()


asyncio.run(demo_executor())


async def async_function():
    await asyncio.sleep(1)
    return "async result"


def sync_wrapper():
    """Sync code that runs async code: asyncio.run."""
    result = asyncio.run(async_function())
    return result


print("\n=== async code from sync code ===")
result = sync_wrapper()
print(result)
