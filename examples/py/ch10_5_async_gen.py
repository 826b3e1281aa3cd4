# Section 10.5, "async generator": a generator that yields 0..4, one every 0.1 s, walked
# with `async for` and then gathered by an asynchronous list comprehension.
# Written for vow's examples (the C counterpart is examples/ch10_5_async_gen.c).
import asyncio


async def async_generator(n):
    """an asynchronous generator"""
    for i in range(n):
        await asyncio.sleep(0.1)
        yield i


async def demo_async_gen():
    print("async for:")
    async for num in async_generator(5):
        print(f"  received: {num}")

    print("\nasync list comprehension:")
    results = [num async for num in async_generator(5)]
    print(f"  results: {results}")


asyncio.run(demo_async_gen())
