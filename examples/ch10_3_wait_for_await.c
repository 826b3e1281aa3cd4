/* Section 10.3, "asyncio.wait_for()", in await form: the await form of
 * examples/ch10_3_wait_for.c (issue 16), the same program written with coroutines, which
 * reads line for line like examples/py/ch10_3_wait_for.py (check.py compares them): give
 * a slow operation a deadline. (The chapter's 5 s operation and 1 s timeout are scaled to
 * 1.0 s and 0.3 s.)
 * Part 1: wait_for, which vow_timeout is, cancels the operation at the deadline (a
 * request to the coroutine, as asyncio's: its await of the sleep returns the
 * cancellation, which it hands on), and the timeout error is caused by that
 * cancellation; nothing is left running.
 * Part 2: the chapter's JavaScript form, Promise.race with a timer (VOW_TIMEOUT_RACE;
 * asyncio.shield in the Python file): the caller stops waiting, the operation runs on,
 * and can still be awaited.
 *
 * Python                                 vow, await form
 * async def slow_operation()             static vow_result_t slow_operation(loop, arg)
 * await asyncio.wait_for(op, timeout=.3) vow_await(vow_timeout(op, 300, 0), &o)
 * except asyncio.TimeoutError as e       rc == VOW_ETIMEDOUT (o.error is e)
 * e.__cause__ is a CancelledError        vow_is_cancellation(vow_error_cause(o.error))
 * len(asyncio.all_tasks()) - 1           vow_async_live(loop) - 1: the coroutines still
 *                                        running, but this one
 * task = asyncio.create_task(op)         vow_create_task_async(loop, slow_operation, ...)
 * wait_for(asyncio.shield(task), .3)     vow_timeout(vow_ref(task), 300, VOW_TIMEOUT_RACE)
 * result = await task                    vow_await(task, &o)
 * an exception out of an await           return vow_rethrow(rc, &o): its error, handed on
 * asyncio.run(main())                    vow_main_async(amain, NULL)
 */
#include <stdio.h>
#include <time.h>

#include "vow.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* async def slow_operation() */
static vow_result_t slow_operation(vow_loop_t *loop, void *arg) {
    (void)arg;
    printf("slow operation started...\n");
    int rc = vow_await(vow_sleep(loop, 1000), NULL);
    if (rc != 0) return vow_fail_code(rc, NULL); /* cancelled: pass it on */
    printf("slow operation finished\n");
    return vow_ok(vow_ptr("done", NULL)); /* a static string: nothing to free */
}

/* async def demo_wait_for() */
static vow_result_t demo_wait_for(vow_loop_t *loop, void *arg) {
    (void)arg;
    printf("=== wait_for: the operation is cancelled at the timeout ===\n");
    double start = now_s();
    vow_outcome_t o;
    int rc = vow_await(vow_timeout(vow_async(loop, slow_operation, NULL, NULL), 300, 0), &o);
    if (rc == 0) {
        printf("%s\n", (const char *)vow_value_ptr(&o.value));
    } else if (rc == VOW_ETIMEDOUT) { /* except asyncio.TimeoutError as e */
        printf("timed out after %.2f s\n", now_s() - start);
        int cancelled = vow_is_cancellation(vow_error_cause(o.error));
        printf("caused by the operation's cancellation: %s\n", cancelled ? "yes" : "no");
    } else {
        return vow_rethrow(rc, &o);
    }
    vow_outcome_release(&o);
    return vow_ok_none();
}

/* async def demo_race() */
static vow_result_t demo_race(vow_loop_t *loop, void *arg) {
    (void)arg;
    printf("=== JavaScript's form: a race with a timer, nothing is cancelled ===\n");
    double start = now_s();
    vow_t *task = vow_create_task_async(loop, slow_operation, NULL, NULL);
    vow_outcome_t o;
    int rc = vow_await(vow_timeout(vow_ref(task), 300, VOW_TIMEOUT_RACE), &o);
    if (rc == 0) {
        printf("%s\n", (const char *)vow_value_ptr(&o.value));
        vow_outcome_release(&o);
        vow_unref(task);
    } else if (rc == VOW_ETIMEDOUT) { /* except asyncio.TimeoutError */
        vow_outcome_release(&o);
        printf("timed out after %.2f s; the operation keeps running\n", now_s() - start);
        rc = vow_await(task, &o); /* result = await task */
        if (rc != 0) return vow_rethrow(rc, &o);
        printf("result after %.2f s: %s\n", now_s() - start, (const char *)vow_value_ptr(&o.value));
        vow_outcome_release(&o);
    } else {
        vow_unref(task);
        return vow_rethrow(rc, &o);
    }
    return vow_ok_none();
}

/* async def main() */
static vow_result_t amain(vow_loop_t *loop, void *arg) {
    (void)arg;
    int rc = vow_await(vow_async(loop, demo_wait_for, NULL, NULL), NULL);
    if (rc != 0) return vow_fail_code(rc, NULL);
    printf("operations still running: %d\n", vow_async_live(loop) - 1);
    printf("\n");
    rc = vow_await(vow_async(loop, demo_race, NULL, NULL), NULL);
    if (rc != 0) return vow_fail_code(rc, NULL);
    return vow_ok_none();
}

int main(void) { return vow_main_async(amain, NULL); } /* asyncio.run(main()) */
