# Section 10.5, "async context manager": a resource whose __aenter__ takes 0.2 s and whose
# __aexit__ takes 0.1 s, used by `async with` around a 0.1 s piece of work.
# Written for vow's examples (the C counterpart is examples/ch10_5_async_context.c).
import asyncio


class AsyncResource:
    """an asynchronously managed resource"""

    def __init__(self, name):
        self.name = name

    async def __aenter__(self):
        print(f"[{self.name}] acquiring resource...")
        await asyncio.sleep(0.2)
        print(f"[{self.name}] resource ready")
        return self

    async def __aexit__(self, exc_type, exc_val, exc_tb):
        print(f"[{self.name}] releasing resource...")
        await asyncio.sleep(0.1)
        print(f"[{self.name}] resource released")

    async def do_something(self):
        print(f"[{self.name}] using resource...")
        await asyncio.sleep(0.1)


async def demo_async_context():
    async with AsyncResource("DB connection") as resource:
        await resource.do_something()


asyncio.run(demo_async_context())
