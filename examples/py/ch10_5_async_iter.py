# Section 10.5, "async iterator": a class with __aiter__ / __anext__ that counts to 5, one
# number every 0.1 s, walked with `async for`.
# Written for vow's examples (the C counterpart is examples/ch10_5_async_iter.c).
import asyncio


class AsyncRange:
    """an asynchronous range"""

    def __init__(self, stop):
        self.stop = stop
        self.current = 0

    def __aiter__(self):
        return self

    async def __anext__(self):
        if self.current >= self.stop:
            raise StopAsyncIteration
        await asyncio.sleep(0.1)  # a simulated asynchronous step
        value = self.current
        self.current += 1
        return value


async def demo_async_iter():
    print("iterating with async for:")
    async for num in AsyncRange(5):
        print(f"  {num}")


asyncio.run(demo_async_iter())
