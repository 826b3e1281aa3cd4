# Chapter 10, exercise 2, "rate limiter": a decorator that lets a coroutine function run at
# most `calls_per_second` times a second. Six calls made one after another at 3 calls a
# second come 1/3 s apart: the last starts after about 1.67 s.
# (The chapter prints time.time(); here the times are counted from the start, so that two
# runs can be compared.)
# Written for vow's examples (the C counterpart is examples/ch10_ex2_rate_limit.c).
import asyncio
import time
from functools import wraps


def rate_limit(calls_per_second):
    """At most `calls_per_second` calls a second."""
    min_interval = 1.0 / calls_per_second
    last_called = [0.0]  # a list, so that the closure can change it

    def decorator(func):
        @wraps(func)
        async def wrapper(*args, **kwargs):
            elapsed = time.monotonic() - last_called[0]
            wait_time = min_interval - elapsed
            if wait_time > 0:
                await asyncio.sleep(wait_time)
            last_called[0] = time.monotonic()
            return await func(*args, **kwargs)

        return wrapper

    return decorator


start = 0.0


@rate_limit(3)  # at most 3 calls a second
async def api_call(id):
    print(f"[{time.monotonic() - start:.2f} s] API call {id}")
    return f"result {id}"


async def test_rate_limit():
    global start
    print("rate limiter test (at most 3 calls a second):")
    start = time.monotonic()
    for i in range(6):
        result = await api_call(i)
        print(f"  got {result}")
    print(f"\ntotal time: {time.monotonic() - start:.2f} s")


asyncio.run(test_rate_limit())
