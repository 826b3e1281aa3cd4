/* Chapter 10, exercise 2, "rate limiter", in await form: the await form of
 * examples/ch10_ex2_rate_limit.c (issue 16), the same program written with coroutines,
 * which reads line for line like examples/py/ch10_ex2_rate_limit.py (check.py compares
 * them): a decorator that lets a coroutine function run at most `calls_per_second` times a
 * second. Six calls made one after another at 3 calls a second come 1/3 s apart: the last
 * starts after about 1.67 s. (The times are counted from the start.)
 *
 * Here the decorator is written out as the exercise writes it, with the time of the last
 * call and a sleep for the rest of the interval: with await, that is a few lines. (The
 * callback form uses vow_rate_limiter_t, the library's limiter, which also keeps
 * concurrent callers in arrival order and gives a cancelled caller's slot back; a
 * coroutine would use it as `vow_await(vow_rate_limiter_acquire(rl), &o)`.)
 *
 * Python                                vow, await form
 * rate_limit(calls_per_second)          rate_limit_t {min_interval, last_called}: the
 *                                       decorator's closure
 * @rate_limit(3) async def api_call(id)  api_call(loop, id) = rate_limited(loop, &limit3,
 *                                       api_call_body, id): the decorated function
 * async def wrapper(*args)              wrapper(): a coroutine body; arg is the call (the
 *                                       closure, func and its argument), freed after it
 * await asyncio.sleep(wait_time)        vow_await(vow_sleep(loop, ms), &o), ms rounded up
 * return await func(*args)              vow_await(vow_async(loop, func, arg, NULL), &o),
 *                                       then its value handed on
 * result = await api_call(i)            vow_await(api_call(loop, i), &result)
 * an exception out of an await          return vow_rethrow(rc, &o): its error, handed on
 * asyncio.run(test_rate_limit())        vow_main_async(test_rate_limit, NULL)
 */
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

/* def rate_limit(calls_per_second): at most `calls_per_second` calls a second */
typedef struct {
    double min_interval; /* 1.0 / calls_per_second */
    double last_called;
} rate_limit_t;

/* One call of the decorated function: wrapper's arguments. */
typedef struct {
    rate_limit_t *limit;
    vow_async_fn func;
    void *arg;
} call_t;

/* async def wrapper(*args, **kwargs) */
static vow_result_t wrapper(vow_loop_t *loop, void *arg) {
    call_t *call = arg;
    vow_outcome_t o;
    double elapsed = now_s() - call->limit->last_called;
    double wait_time = call->limit->min_interval - elapsed;
    if (wait_time > 0) {
        uint64_t ms = (uint64_t)(wait_time * 1000.0);
        ms += (double)ms < wait_time * 1000.0; /* rounded up: never early */
        int rc = vow_await(vow_sleep(loop, ms), &o);
        if (rc != 0) return vow_rethrow(rc, &o);
    }
    call->limit->last_called = now_s();
    int rc = vow_await(vow_async(loop, call->func, call->arg, NULL), &o); /* await func(*args) */
    if (rc != 0) return vow_rethrow(rc, &o);
    return vow_ok(o.value); /* return it (the outcome's value, handed over) */
}

/* decorator(func)(arg): a call of the decorated function, the promise of its result. */
static vow_t *rate_limited(vow_loop_t *loop, rate_limit_t *limit, vow_async_fn func, void *arg) {
    call_t *call = malloc(sizeof *call);
    if (call == NULL) return NULL;
    *call = (call_t){.limit = limit, .func = func, .arg = arg};
    return vow_async(loop, wrapper, call, free);
}

static double start = 0.0;

/* @rate_limit(3): at most 3 calls a second */
static rate_limit_t limit3 = {.min_interval = 1.0 / 3, .last_called = 0.0};

/* async def api_call(id) */
static vow_result_t api_call_body(vow_loop_t *loop, void *arg) {
    (void)loop;
    int id = (int)(intptr_t)arg;
    printf("[%.2f s] API call %d\n", now_s() - start, id);
    char *result = malloc(32);
    if (result == NULL) return vow_fail_code(VOW_ENOMEM, NULL);
    snprintf(result, 32, "result %d", id);
    return vow_ok(vow_ptr(result, free)); /* return f"result {id}" */
}

static vow_t *api_call(vow_loop_t *loop, int id) {
    return rate_limited(loop, &limit3, api_call_body, (void *)(intptr_t)id);
}

/* async def test_rate_limit() */
static vow_result_t test_rate_limit(vow_loop_t *loop, void *arg) {
    (void)arg;
    vow_outcome_t result;
    printf("rate limiter test (at most 3 calls a second):\n");
    start = now_s();
    for (int i = 0; i < 6; i++) {
        int rc = vow_await(api_call(loop, i), &result);
        if (rc != 0) return vow_rethrow(rc, &result);
        printf("  got %s\n", (const char *)vow_value_ptr(&result.value));
        vow_outcome_release(&result);
    }
    printf("\ntotal time: %.2f s\n", now_s() - start);
    return vow_ok_none();
}

int main(void) {
    return vow_main_async(test_rate_limit, NULL); /* asyncio.run(test_rate_limit()) */
}
