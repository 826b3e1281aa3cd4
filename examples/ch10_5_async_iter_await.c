/* Section 10.5, "async iterator", in await form: the await form of
 * examples/ch10_5_async_iter.c (issue 16), the same program written with coroutines, which
 * reads line for line like examples/py/ch10_5_async_iter.py (check.py compares them): a
 * class with __aiter__ / __anext__ that counts to 5, one number every 0.1 s, walked with
 * `async for`.
 *
 * Python                                vow, await form
 * class AsyncRange: stop, current       async_range_t
 * def __aiter__(self): return self      async_range(): a pull stream (vow/stream.h, buffer
 *                                       0) over the object, whose pull function calls
 * async def __anext__(self)             __anext__, a coroutine body: the stream awaits the
 *                                       promise vow_async gives for each item asked for
 * raise StopAsyncIteration              return vow_ok(vow_stream_end_value())
 * async for num in AsyncRange(5):       while (vow_await_next(it, &num) > 0) { ... }
 * an exception out of an await          return vow_rethrow(rc, &o): its error, handed on
 * asyncio.run(demo_async_iter())        vow_main_async(demo_async_iter, NULL)
 *
 * (The callback form uses vow_stream_range, the library's AsyncRange; the same stream could
 * be walked here. An async generator, ch10_5_async_gen_await.c, is the shorter way to
 * write an iterator with coroutines.)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "vow.h"

/* class AsyncRange: an asynchronous range */
typedef struct {
    int64_t stop;
    int64_t current;
} async_range_t;

/* async def __anext__(self) */
static vow_result_t anext(vow_loop_t *loop, void *arg) {
    async_range_t *self = arg;
    vow_outcome_t o;
    if (self->current >= self->stop) return vow_ok(vow_stream_end_value()); /* StopAsyncIteration */
    int rc = vow_await(vow_sleep(loop, 100), &o); /* a simulated asynchronous step */
    if (rc != 0) return vow_rethrow(rc, &o);
    int64_t value = self->current;
    self->current += 1;
    return vow_ok_int(value);
}

/* The stream's pull: `await it.__anext__()` for each item asked for. */
static vow_t *anext_pull(vow_loop_t *loop, void *ctx) { return vow_async(loop, anext, ctx, NULL); }

/* AsyncRange(stop).__aiter__(): the stream owns the object (freed with it). NULL when out
 * of memory. */
static vow_stream_t *async_range(vow_loop_t *loop, int64_t stop) {
    async_range_t *self = malloc(sizeof *self);
    if (self == NULL) return NULL;
    *self = (async_range_t){.stop = stop, .current = 0};
    return vow_stream_new(loop, 0, anext_pull, NULL, self, free);
}

/* async def demo_async_iter() */
static vow_result_t demo_async_iter(vow_loop_t *loop, void *arg) {
    (void)arg;
    vow_outcome_t num;
    int rc;
    printf("iterating with async for:\n");
    vow_stream_t *it = async_range(loop, 5);
    while ((rc = vow_await_next(it, &num)) > 0) { /* async for num in AsyncRange(5): */
        printf("  %lld\n", (long long)vow_value_int(&num.value));
        vow_outcome_release(&num);
    }
    vow_stream_unref(it);
    if (rc < 0) return vow_rethrow(rc, &num);
    return vow_ok_none();
}

int main(void) {
    return vow_main_async(demo_async_iter, NULL); /* asyncio.run(demo_async_iter()) */
}
