# Chapter 10, exercise 3, "async cache": a decorator that memoises a coroutine function
# with a time to live. Part 1 is the chapter's test: a miss, a hit, then (2.5 s later, past
# the 2 s TTL) an expired entry and a new call. Part 2 asks for one key three times at once:
# the chapter's decorator would call the function three times; this one (like vow's cache)
# shares the call in flight, so the function runs once and the three callers get its value.
# Written for vow's examples (the C counterpart is examples/ch10_ex3_cache.c).
import asyncio
import time
from functools import wraps


def async_cache(ttl=60):
    """Memoises a coroutine function for `ttl` seconds, counted from the result."""
    cache = {}  # {key: (value, timestamp)}
    in_flight = {}  # {key: task}: callers of a key being computed share its task

    def decorator(func):
        @wraps(func)
        async def wrapper(*args, **kwargs):
            key = (args, tuple(sorted(kwargs.items())))
            if key in cache:
                value, timestamp = cache[key]
                if time.monotonic() - timestamp < ttl:
                    print(f"  [cache hit] {args}")
                    return value
                print(f"  [cache expired] {args}")
                del cache[key]
            if key in in_flight:
                print(f"  [joining the call in flight] {args}")
                return await asyncio.shield(in_flight[key])
            print(f"  [calling function] {args}")
            task = asyncio.ensure_future(func(*args, **kwargs))
            in_flight[key] = task
            try:
                result = await asyncio.shield(task)
            finally:
                in_flight.pop(key, None)
            cache[key] = (result, time.monotonic())
            return result

        wrapper.clear_cache = lambda: cache.clear()
        return wrapper

    return decorator


calls = 0


@async_cache(ttl=2)  # expires after 2 seconds
async def fetch_data(key):
    global calls
    calls += 1
    await asyncio.sleep(0.5)  # a slow operation
    return f"data for {key}"


async def test_cache():
    print("async cache test (TTL = 2 s):\n")

    print("first call:")
    result1 = await fetch_data("user_1")
    print(f"result: {result1}\n")

    print("second call (a hit):")
    result2 = await fetch_data("user_1")
    print(f"result: {result2}\n")

    print("waiting 2.5 s for the entry to expire...")
    await asyncio.sleep(2.5)

    print("\nthird call (expired):")
    result3 = await fetch_data("user_1")
    print(f"result: {result3}")

    print("\nthree calls at once for one key:")
    start = time.monotonic()
    results = await asyncio.gather(*[fetch_data("user_2") for _ in range(3)])
    for r in results:
        print(f"result: {r}")
    print(f"function calls in all: {calls}; the three took {time.monotonic() - start:.1f} s")


asyncio.run(test_cache())
