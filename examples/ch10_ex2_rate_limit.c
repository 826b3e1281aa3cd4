/* Chapter 10, exercise 2, "rate limiter": a function that may run at most 3 times a second.
 * Six calls made one after another come 1/3 s apart: the last starts after about 1.67 s.
 * (The chapter prints time.time(); here the times are counted from the start.)
 *
 * The chapter's decorator keeps the time of the last call and sleeps for the rest of the
 * interval; vow's rate limiter is that rule made a library tool (GCRA: with burst 1, each
 * grant comes at least one interval after the one before), which also keeps concurrent
 * callers in arrival order and gives a cancelled caller's slot back (vow/ratelimit.h).
 *
 * Python construct                      C rendering here
 * @rate_limit(3)                        vow_rate_limiter_new(loop, 334, 1): one grant every
 *                                       334 ms (1000 / 3, rounded up: never above the rate)
 * await api_call(i) (decorated)         vow_rate_limit(limiter, api_call, i, NULL): waits for
 *                                       a grant, then calls api_call and follows its promise
 * return f"result {id}"                 vow_resolved(loop, a malloc'd string, free)
 * for i in range(6): await ...          each call's reaction makes the next one
 * asyncio.run(test_rate_limit())        vow_main(test_rate_limit, NULL)
 *
 * Compare with examples/py/ch10_ex2_rate_limit.py (examples/check.py does). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "vow.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double start;
static vow_rate_limiter_t *limiter;

/* async def api_call(id) */
static vow_t *api_call(vow_loop_t *loop, void *arg) {
    int id = (int)(intptr_t)arg;
    printf("[%.2f s] API call %d\n", now_s() - start, id);
    char *result = malloc(32);
    if (result == NULL) return NULL;
    snprintf(result, 32, "result %d", id);
    return vow_resolved(loop, vow_ptr(result, free));
}

/* The loop body after `result = await api_call(i)`: prints, then makes call i + 1. */
static vow_result_t got(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    int i = (int)(intptr_t)ctx;
    printf("  got %s\n", (const char *)vow_value_ptr(v));
    if (i + 1 == 6) {
        printf("\ntotal time: %.2f s\n", now_s() - start);
        vow_rate_limiter_free(limiter); /* idle: nobody waits */
        return vow_ok_none();
    }
    vow_t *next = vow_rate_limit(limiter, api_call, (void *)(intptr_t)(i + 1), NULL);
    return vow_follow(vow_then_ok(next, got, (void *)(intptr_t)(i + 1)));
}

/* async def test_rate_limit() */
static vow_t *test_rate_limit(vow_loop_t *loop, void *arg) {
    (void)arg;
    printf("rate limiter test (at most 3 calls a second):\n");
    start = now_s();
    limiter = vow_rate_limiter_new(loop, (1000 + 2) / 3, 1);
    if (limiter == NULL) return NULL;
    return vow_then_ok(vow_rate_limit(limiter, api_call, (void *)0, NULL), got, (void *)0);
}

int main(void) { return vow_main(test_rate_limit, NULL); }
