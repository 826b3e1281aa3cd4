# Section 10.8, pitfall 5, "awaiting one after another instead of concurrently": three
# independent 0.5 s operations (the chapter's 1 s, halved), first awaited in turn (the
# times add up), then gathered (they overlap).
# Written for vow's examples (the C counterpart is examples/ch10_8_sequential_vs_gather.c).
import asyncio
import time


async def slow_operation(name):
    await asyncio.sleep(0.5)
    return f"{name} done"


async def demo():
    print("=== one await after another (slow) ===")
    start = time.monotonic()
    r1 = await slow_operation("A")
    r2 = await slow_operation("B")  # starts only once A has finished
    r3 = await slow_operation("C")
    print(f"results: {r1}, {r2}, {r3}")
    print(f"time: {time.monotonic() - start:.2f} s\n")

    print("=== gather (fast) ===")
    start = time.monotonic()
    r1, r2, r3 = await asyncio.gather(
        slow_operation("A"),
        slow_operation("B"),
        slow_operation("C"),
    )
    print(f"results: {r1}, {r2}, {r3}")
    print(f"time: {time.monotonic() - start:.2f} s")


asyncio.run(demo())
