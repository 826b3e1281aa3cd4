/* Section 10.6, "timeout and cancellation", in await form: the await form of
 * examples/ch10_6_timeout_cancel.c (issue 16), the same program written with coroutines,
 * which reads line for line like examples/py/ch10_6_timeout_cancel.py (check.py compares
 * them): a task that would run for 10 s is stopped twice, first by a timeout (wait_for),
 * then by an explicit cancel. Each time the task notices, prints, and lets the
 * cancellation through.
 *
 * Python                                vow, await form
 * async def long_running_task()         a coroutine body (vow_async_fn)
 * try: await asyncio.sleep(10)          rc = vow_await(vow_sleep(loop, 10000), &o)
 * except asyncio.CancelledError:        rc == VOW_ECANCELED: the cancellation arrives as
 *     print(...); raise                 the await's answer; return vow_rethrow(rc, &o)
 *                                       lets it through (o's error, handed on)
 * await asyncio.wait_for(coro, 1.0)     vow_await(vow_timeout(vow_async(...), 1000, 0)):
 *                                       at 1 s the timeout cancels the coroutine (a
 *                                       request: its await answers VOW_ECANCELED), waits
 *                                       for it to finish, then rejects with VOW_ETIMEDOUT
 * except asyncio.TimeoutError           rc == VOW_ETIMEDOUT
 * task = asyncio.create_task(coro)      vow_create_task_async(loop, long_running_task, ...)
 * task.cancel()                         vow_cancel(task)
 * result = await task                   vow_await(task, &o): VOW_ECANCELED once the task has
 *                                       run its except clause and finished
 * len(asyncio.all_tasks()) - 1          vow_async_live(loop) - 1: the live coroutines but
 *                                       main (the timers are gone with the tasks)
 * asyncio.run(main())                   vow_main_async(amain, NULL)
 */
#include <stdio.h>
#include <time.h>

#include "vow.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double start = 0.0;

/* async def long_running_task() */
static vow_result_t long_running_task(vow_loop_t *loop, void *arg) {
    (void)arg;
    vow_outcome_t o;
    printf("task started\n");
    int rc = vow_await(vow_sleep(loop, 10000), &o);
    if (rc == VOW_ECANCELED) { /* except asyncio.CancelledError: */
        printf("task cancelled!\n");
        return vow_rethrow(rc, &o); /* raise: let the caller see the cancellation */
    }
    if (rc != 0) return vow_rethrow(rc, &o);
    printf("task finished\n");
    return vow_ok(vow_ptr("result", NULL));
}

/* async def demo_cancel() */
static vow_result_t demo_cancel(vow_loop_t *loop, void *arg) {
    (void)arg;
    vow_outcome_t o;
    printf("=== timeout ===\n");
    start = now_s();
    int rc = vow_await(vow_timeout(vow_async(loop, long_running_task, NULL, NULL), 1000, 0), &o);
    if (rc == 0) {
        printf("not reached: the task finished in time\n");
        vow_outcome_release(&o);
    } else if (rc == VOW_ETIMEDOUT) { /* except asyncio.TimeoutError: */
        printf("timed out after %.2f s\n\n", now_s() - start);
        vow_outcome_release(&o);
    } else {
        return vow_rethrow(rc, &o);
    }

    printf("=== cancel by hand ===\n");
    start = now_s();
    vow_t *task = vow_create_task_async(loop, long_running_task, NULL, NULL);
    rc = vow_await(vow_sleep(loop, 500), &o);
    if (rc != 0) {
        vow_unref(task);
        return vow_rethrow(rc, &o);
    }
    printf("cancelling the task...\n");
    vow_cancel(task);
    rc = vow_await(task, &o); /* try: result = await task */
    if (rc == 0) {
        printf("not reached: the task returned %s\n", (const char *)vow_value_ptr(&o.value));
        vow_outcome_release(&o);
    } else if (rc == VOW_ECANCELED) { /* except asyncio.CancelledError: */
        printf("confirmed: the task was cancelled after %.2f s\n", now_s() - start);
        vow_outcome_release(&o);
    } else {
        return vow_rethrow(rc, &o);
    }
    return vow_ok_none();
}

/* async def main() */
static vow_result_t amain(vow_loop_t *loop, void *arg) {
    vow_outcome_t o;
    int rc = vow_await(vow_async(loop, demo_cancel, arg, NULL), &o);
    if (rc != 0) return vow_rethrow(rc, &o);
    printf("operations still running: %d\n", vow_async_live(loop) - 1);
    return vow_ok_none();
}

int main(void) { return vow_main_async(amain, NULL); } /* asyncio.run(main()) */
