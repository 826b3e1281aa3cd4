# Section 10.6, "simulated HTTP requests": four requests with random delays, sent at once;
# the results come back in request order, and the total time is the slowest request's.
# The delays come from a seeded xorshift32 generator written out identically here and in
# the C file (random.uniform would differ between the two): 0.5 s + (next() % 1501) ms.
# Completion lines come in delay order, so the lines are compared as a set:
# check: unordered
# Written for vow's examples (the C counterpart is examples/ch10_6_http.c).
import asyncio
import time

_state = 42


def rng_next():
    """xorshift32 (Marsaglia), the same as rng_next in the C file."""
    global _state
    x = _state
    x ^= (x << 13) & 0xFFFFFFFF
    x ^= x >> 17
    x ^= (x << 5) & 0xFFFFFFFF
    _state = x
    return x


async def fetch_url(url):
    """A simulated HTTP request."""
    delay_ms = 500 + rng_next() % 1501  # random.uniform(0.5, 2.0), in ms
    print(f"fetching {url}...")
    await asyncio.sleep(delay_ms / 1000)
    print(f"done: {url}")
    return {"url": url, "status": 200, "time": delay_ms / 1000}


async def demo_http():
    urls = [
        "https://api.example.com/users",
        "https://api.example.com/posts",
        "https://api.example.com/comments",
        "https://api.example.com/photos",
    ]
    start = time.monotonic()
    # every request in flight at once
    results = await asyncio.gather(*[fetch_url(url) for url in urls])

    print("\n=== results ===")
    for result in results:
        print(f"{result['url']}: status {result['status']}, {result['time']:.2f} s")
    print(f"\ntotal: {time.monotonic() - start:.2f} s")


asyncio.run(demo_http())
