# Chapter 10, exercise 1, "concurrent downloads": four files, simulated at 0.1 s per MB,
# downloaded at once; the results are listed in the order the files were given, and the
# total time is the largest file's (1.5 s), not the sum (3.3 s).
# Written for vow's examples (the C counterpart is examples/ch10_ex1_downloads.c).
import asyncio
import time


async def download_file(filename, size):
    """Simulates downloading `size` MB at 0.1 s per MB."""
    print(f"downloading {filename} ({size} MB)...")
    await asyncio.sleep(size * 0.1)
    print(f"finished {filename}")
    return {"filename": filename, "size": size, "status": "completed"}


async def main():
    files = [
        ("file1.zip", 10),
        ("file2.zip", 5),
        ("file3.zip", 15),
        ("file4.zip", 3),
    ]
    start = time.monotonic()
    results = await asyncio.gather(*[download_file(name, size) for name, size in files])

    print("\n=== downloads ===")
    for result in results:
        print(f"  {result}")
    total_size = sum(size for _, size in files)
    print(f"\ntotal size: {total_size} MB")
    print(f"total time: {time.monotonic() - start:.2f} s")
    print(f"(one after another it would take {total_size * 0.1:.1f} s)")


asyncio.run(main())
