/* Section 10.5, "async iterator": a class with __aiter__ / __anext__ that counts to 5, one
 * number every 0.1 s, walked with `async for`.
 *
 * Python construct                      C rendering here
 * class AsyncRange (__anext__ sleeps    vow_stream_range(loop, 0, 5, 1, 100): a pull stream;
 * 0.1 s, then returns the next number)  each next waits 100 ms for its number, and asking
 *                                       past the last one gives the end at once
 * async for num in AsyncRange(5): ...   vow_stream_for_each(stream, print_num, NULL, NULL)
 * asyncio.run(demo_async_iter())        vow_main(demo_async_iter, NULL)
 *
 * Compare with examples/py/ch10_5_async_iter.py (examples/check.py does). */
#include <stdio.h>

#include "vow.h"

/* The body of the async for. */
static vow_result_t print_num(vow_loop_t *loop, const vow_value_t *num, void *ctx) {
    (void)loop, (void)ctx;
    printf("  %lld\n", (long long)vow_value_int(num));
    return vow_ok_none();
}

/* async def demo_async_iter() */
static vow_t *demo_async_iter(vow_loop_t *loop, void *arg) {
    (void)arg;
    printf("iterating with async for:\n");
    return vow_stream_for_each(vow_stream_range(loop, 0, 5, 1, 100), print_num, NULL, NULL);
}

int main(void) { return vow_main(demo_async_iter, NULL); }
