/* Section 10.5, "async generator", in await form: the await form of
 * examples/ch10_5_async_gen.c (issue 16), the same program written with coroutines, which
 * reads line for line like examples/py/ch10_5_async_gen.py (check.py compares them): a
 * generator that yields 0..4, one every 0.1 s, walked with `async for` and then gathered
 * by an asynchronous list comprehension.
 *
 * Python                                vow, await form
 * async def async_generator(n):         async_generator(loop, arg): the body of
 *     for i in range(n):                vow_async_gen(loop, async_generator, n, NULL), a
 *         await asyncio.sleep(0.1)      pulled stream: the body starts on the first next,
 *         yield i                       and each vow_yield(vow_int(i)) hands i to the
 *                                       waiting next and suspends until the next one
 * async for num in gen: print(num)      while (vow_await_next(gen, &num) > 0) { ... }
 * [num async for num in gen]            the same loop, appending to a C array (the
 *                                       callback form uses vow_stream_collect)
 * an exception out of an await          return vow_rethrow(rc, &o): its error, handed on
 * asyncio.run(demo_async_gen())         vow_main_async(demo_async_gen, NULL)
 *
 * A generator walked to its end returns by itself; one left early (vow_stream_close, or
 * the last vow_stream_unref) would see vow_yield answer VOW_ECLOSED, or its await answer
 * VOW_ECANCELED, and return: Python's GeneratorExit.
 */
#include <stdint.h>
#include <stdio.h>

#include "vow.h"

/* async def async_generator(n): an asynchronous generator */
static vow_result_t async_generator(vow_loop_t *loop, void *arg) {
    int64_t n = (int64_t)(intptr_t)arg;
    for (int64_t i = 0; i < n; i++) {
        vow_outcome_t o;
        int rc = vow_await(vow_sleep(loop, 100), &o);
        if (rc != 0) return vow_rethrow(rc, &o);              /* closed while sleeping: cancelled */
        if (vow_yield(vow_int(i)) != 0) return vow_ok_none(); /* closed at the yield */
    }
    return vow_ok_none();
}

static vow_stream_t *gen(vow_loop_t *loop, int64_t n) {
    return vow_async_gen(loop, async_generator, (void *)(intptr_t)n, NULL);
}

/* async def demo_async_gen() */
static vow_result_t demo_async_gen(vow_loop_t *loop, void *arg) {
    (void)arg;
    vow_outcome_t num;
    int rc;

    printf("async for:\n");
    vow_stream_t *g = gen(loop, 5);
    while ((rc = vow_await_next(g, &num)) > 0) { /* async for num in async_generator(5) */
        printf("  received: %lld\n", (long long)vow_value_int(&num.value));
        vow_outcome_release(&num);
    }
    vow_stream_unref(g);
    if (rc < 0) return vow_rethrow(rc, &num);

    printf("\nasync list comprehension:\n");
    int64_t results[5]; /* results = [num async for num in async_generator(5)] */
    size_t len = 0;
    g = gen(loop, 5);
    while ((rc = vow_await_next(g, &num)) > 0) {
        if (len < sizeof results / sizeof results[0]) results[len++] = vow_value_int(&num.value);
        vow_outcome_release(&num);
    }
    vow_stream_unref(g);
    if (rc < 0) return vow_rethrow(rc, &num);
    printf("  results: [");
    for (size_t i = 0; i < len; i++) printf("%s%lld", i ? ", " : "", (long long)results[i]);
    printf("]\n");
    return vow_ok_none();
}

int main(void) { return vow_main_async(demo_async_gen, NULL); } /* asyncio.run(demo_async_gen()) */
