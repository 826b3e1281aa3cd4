# Section 10.3, "asyncio.wait()": three tasks of different lengths. wait with
# FIRST_COMPLETED returns as soon as one is done, with the done and the still-pending tasks;
# a second wait collects the rest. Then the same with a timeout, after which the pending
# tasks are cancelled. (The chapter's 1, 2 and 3 s are scaled to 0.1, 0.2 and 0.3 s.)
# done and pending are sets in Python: their results are printed sorted, so that both
# programs print the same lines.
# Written for vow's examples (the C counterpart is examples/ch10_3_wait_first.c).
import asyncio
import time


async def job(name, seconds):
    await asyncio.sleep(seconds)
    return f"{name} done"


def start_jobs():
    return [
        asyncio.create_task(job("A", 0.1)),
        asyncio.create_task(job("B", 0.2)),
        asyncio.create_task(job("C", 0.3)),
    ]


async def demo_wait():
    start = time.monotonic()
    print("=== FIRST_COMPLETED, then wait for the rest ===")
    tasks = start_jobs()
    done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    print(f"first done after {time.monotonic() - start:.2f} s: {sorted(t.result() for t in done)}")
    print(f"still running: {len(pending)}")

    # the pending tasks kept running: wait for them (ALL_COMPLETED is the default)
    done, pending = await asyncio.wait(pending)
    print(f"all done after {time.monotonic() - start:.2f} s: {sorted(t.result() for t in done)}")

    print("\n=== a 0.15 s timeout, then cancel what is still pending ===")
    start = time.monotonic()
    tasks = start_jobs()
    done, pending = await asyncio.wait(tasks, timeout=0.15)
    print(f"after {time.monotonic() - start:.2f} s: {len(done)} done, {len(pending)} pending")
    for t in pending:
        t.cancel()
    await asyncio.wait(pending)  # let the cancellations land
    for t in tasks:
        state = "cancelled" if t.cancelled() else t.result()
        print(f"  {state}")


asyncio.run(demo_wait())
