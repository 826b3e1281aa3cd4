/* Section 10.5, "async generator": a generator that yields 0..4, one every 0.1 s, walked
 * with `async for` and then gathered by an asynchronous list comprehension.
 *
 * Python construct                      C rendering here
 * async def async_generator(n):         async_generator(): a stream of buffer 0 fed by a
 *     for i in range(n):                producer chain that sleeps 100 ms, pushes i, and
 *         await asyncio.sleep(0.1)      waits for the push's promise (it fulfils when a
 *         yield i                       next takes the item: the generator's suspension at
 *                                       `yield`), then vow_stream_end
 * async for num in gen: print(...)      vow_stream_for_each(gen, print_num, ...)
 * [num async for num in gen]            vow_stream_collect(gen): a promise of a vow_list_t
 * asyncio.run(demo_async_gen())         vow_main(demo_async_gen, NULL)
 *
 * Compare with examples/py/ch10_5_async_gen.py (examples/check.py does). */
#include <stdio.h>
#include <stdlib.h>

#include "vow.h"

/* The generator's frame: where it is in its loop, and its end of the stream. */
typedef struct {
    vow_stream_t *out; /* the producer's reference */
    int64_t i, n;
} gen_t;

static void gen_free(void *p) {
    gen_t *g = p;
    vow_stream_unref(g->out);
    free(g);
}

static vow_t *gen_step(vow_loop_t *loop, gen_t *g);

/* After `yield i` was taken: the next turn of the for loop. */
static vow_result_t yielded(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)v;
    return vow_follow(gen_step(loop, ctx));
}

/* After the sleep: yield i. */
static vow_result_t slept(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v;
    gen_t *g = ctx;
    vow_t *taken = vow_stream_push(g->out, vow_int(g->i++));
    return vow_follow(vow_then_ok(taken, yielded, g));
}

/* for i in range(n): await asyncio.sleep(0.1) ... */
static vow_t *gen_step(vow_loop_t *loop, gen_t *g) {
    if (g->i >= g->n) {
        vow_stream_end(g->out);
        return vow_resolved(loop, vow_none());
    }
    return vow_then_ok(vow_sleep(loop, 100), slept, g);
}

/* async_generator(n): the consumer's stream; the producer runs on its own. A consumer
 * that stops early (vow_stream_close) makes the producer's pending push reject, which
 * ends its chain. */
static vow_stream_t *async_generator(vow_loop_t *loop, int64_t n) {
    gen_t *g = malloc(sizeof *g);
    vow_stream_t *s = vow_stream_new(loop, 0, NULL, NULL, NULL, NULL);
    if (g == NULL || s == NULL) {
        free(g);
        return s; /* NULL, or a stream nobody feeds: the demo then fails cleanly */
    }
    *g = (gen_t){.out = vow_stream_ref(s), .i = 0, .n = n};
    /* The producer's chain owns the frame (freed after its last step). */
    vow_unref(vow_finally(gen_step(loop, g), NULL, g, gen_free));
    return s;
}

static vow_result_t print_num(vow_loop_t *loop, const vow_value_t *num, void *ctx) {
    (void)loop, (void)ctx;
    printf("  received: %lld\n", (long long)vow_value_int(num));
    return vow_ok_none();
}

static vow_result_t print_results(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)ctx;
    const vow_list_t *l = vow_list_of(v);
    printf("  results: [");
    for (size_t i = 0; i < vow_list_len(l); i++)
        printf("%s%lld", i ? ", " : "", (long long)vow_value_int(vow_list_value(l, i)));
    printf("]\n");
    return vow_ok_none();
}

/* results = [num async for num in async_generator(5)] */
static vow_result_t comprehension(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)v, (void)ctx;
    printf("\nasync list comprehension:\n");
    return vow_follow(
        vow_then_ok(vow_stream_collect(async_generator(loop, 5)), print_results, NULL));
}

/* async def demo_async_gen() */
static vow_t *demo_async_gen(vow_loop_t *loop, void *arg) {
    (void)arg;
    printf("async for:\n");
    vow_t *walked = vow_stream_for_each(async_generator(loop, 5), print_num, NULL, NULL);
    return vow_then_ok(walked, comprehension, NULL);
}

int main(void) { return vow_main(demo_async_gen, NULL); }
