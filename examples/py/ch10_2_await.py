# Section 10.2, "await": get_user, then get_posts, one after the other.
# Written for vow's examples (the C counterpart is examples/ch10_2_await.c).
import asyncio
import time


async def get_user(user_id):
    await asyncio.sleep(0.3)
    return {"id": user_id, "name": f"User {user_id}"}


async def get_posts(user_id):
    await asyncio.sleep(0.3)
    return [{"id": 1, "title": "Post 1"}, {"id": 2, "title": "Post 2"}]


async def demo_await():
    start = time.monotonic()
    # await suspends demo_await until get_user's coroutine is done
    user = await get_user(1)
    print(f"user: {user}")

    posts = await get_posts(user["id"])
    print(f"posts: {posts}")
    print(f"total: {time.monotonic() - start:.2f} s (sequential: 0.3 + 0.3)")


asyncio.run(demo_await())
