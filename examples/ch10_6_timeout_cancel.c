/* Section 10.6, "timeout and cancellation": a task that would run for 10 s is stopped
 * twice, first by a timeout (wait_for), then by an explicit cancel. Each time the task
 * notices, prints, and lets the cancellation through.
 *
 * The task is a promise made with vow_new and settled by a 10 s timer of its own. Its
 * cancel callback (vow_on_cancel) is the C form of the chapter's
 * `except asyncio.CancelledError: print(...); raise`: it runs when the promise is
 * cancelled, stops the timer, and the promise then rejects with the cancellation.
 *
 * Python construct                       C rendering here
 * async def long_running_task()          long_running_task(): vow_new + vow_set_timeout
 *                                        (10 s) + vow_on_cancel(p, task_cancelled, ...)
 * except asyncio.CancelledError: raise   task_cancelled(): clears the timer and prints;
 *                                        the promise rejects with VOW_ECANCELED
 * await asyncio.wait_for(t, timeout=1.0) vow_timeout(t, 1000, 0): cancels t at 1 s,
 *                                        settles once t has: VOW_ETIMEDOUT
 * except asyncio.TimeoutError            the rejection reaction (code VOW_ETIMEDOUT)
 * task = asyncio.create_task(...)        vow_t *task, handed to the reaction as ctx
 * await asyncio.sleep(0.5)               vow_then(vow_sleep(loop, 500), cancel_it, ...)
 * task.cancel()                          vow_cancel(task)
 * try: await task                        vow_catch_ex(task, confirmed, ...,
 * except asyncio.CancelledError:             VOW_CATCH_CANCELLED): catch reactions do not
 *                                        see a cancellation unless they ask for it
 * async def main(): await demo_cancel()  vow_then_ok(demo_cancel(loop), still_running, NULL)
 * len(asyncio.all_tasks()) - 1           vow_loop_alive(loop), in that reaction: the timers
 *                                        still running and the jobs still queued
 * asyncio.run(main())                    vow_main(amain, NULL)
 *
 * Compare with examples/py/ch10_6_timeout_cancel.py (examples/check.py does). */
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

/* ---- the long-running task ------------------------------------------------------------- */
typedef struct {
    vow_t *p;          /* our reference: the running timer keeps the task alive */
    vow_timer_t timer; /* the task's 10 s of work */
} long_task_t;

/* The timer's end: the work is done ("task finished"; return "result"). */
static void task_work_done(vow_loop_t *loop, void *arg) {
    (void)loop;
    long_task_t *t = arg;
    vow_t *p = vow_ref(t->p); /* t is freed as p settles (release_task) */
    printf("task finished\n");
    vow_resolve(p, vow_ptr("result", NULL));
    vow_unref(p);
}

/* except asyncio.CancelledError: print(...); raise */
static void task_cancelled(vow_loop_t *loop, void *ctx) {
    long_task_t *t = ctx;
    vow_clear_timeout(loop, t->timer); /* stop the work */
    printf("task cancelled!\n");
    /* returning lets the cancellation through: the promise rejects with it */
}

/* Runs once, when the task settles (either way). */
static void release_task(void *ctx) {
    long_task_t *t = ctx;
    vow_unref(t->p);
    free(t);
}

/* async def long_running_task(). NULL when out of memory. */
static vow_t *long_running_task(vow_loop_t *loop) {
    vow_t *p = vow_new(loop);
    long_task_t *t = p != NULL ? malloc(sizeof *t) : NULL;
    if (t == NULL) {
        vow_unref(p);
        return NULL;
    }
    t->p = vow_ref(p);
    t->timer = 0;
    if (vow_on_cancel(p, task_cancelled, t, release_task) != 0) {
        vow_unref(p); /* release_task has run: t is gone */
        return NULL;
    }
    printf("task started\n");
    if (vow_set_timeout(loop, task_work_done, t, 10000, &t->timer) != 0)
        vow_reject(p, vow_error_new(VOW_ENOMEM, NULL)); /* settles: release_task runs */
    return p;
}

/* ---- method 2: cancel it by hand ------------------------------------------------------ */
static vow_result_t confirmed(vow_loop_t *loop, vow_error_t *err, void *ctx) {
    (void)loop, (void)ctx;
    if (!vow_is_cancellation(err)) return vow_fail(vow_error_ref(err));
    printf("confirmed: the task was cancelled after %.2f s\n", now_s() - start);
    return vow_ok_none();
}

static vow_result_t not_cancelled(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)ctx;
    printf("not reached: the task returned %s\n", (const char *)vow_value_ptr(v));
    return vow_ok_none();
}

/* After the 0.5 s sleep. ctx: our reference to the task (dropped by unref_task). */
static vow_result_t cancel_it(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v;
    vow_t *task = ctx;
    printf("cancelling the task...\n");
    vow_cancel(task); /* the task's cancel callback runs now, then it rejects */
    /* try: await task / except asyncio.CancelledError: the flag lets the catch see it */
    return vow_follow(
        vow_then_ex(vow_ref(task), not_cancelled, confirmed, NULL, NULL, VOW_CATCH_CANCELLED));
}

static void unref_task(void *p) { vow_unref(p); }

static vow_t *demo_manual_cancel(vow_loop_t *loop) {
    printf("=== cancel by hand ===\n");
    start = now_s();
    vow_t *task = long_running_task(loop);
    return vow_then(vow_sleep(loop, 500), cancel_it, NULL, task, unref_task);
}

/* ---- method 1: wait_for ---------------------------------------------------------------- */
static vow_result_t timed_out(vow_loop_t *loop, vow_error_t *err, void *ctx) {
    (void)ctx;
    if (vow_error_code(err) != VOW_ETIMEDOUT) return vow_fail(vow_error_ref(err));
    printf("timed out after %.2f s\n\n", now_s() - start);
    return vow_follow(demo_manual_cancel(loop)); /* the next statement of demo_cancel */
}

static vow_result_t finished_in_time(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)v, (void)ctx;
    printf("not reached: the task finished in time\n");
    return vow_follow(demo_manual_cancel(loop));
}

/* async def demo_cancel() */
static vow_t *demo_cancel(vow_loop_t *loop) {
    printf("=== timeout ===\n");
    start = now_s();
    return vow_then(vow_timeout(long_running_task(loop), 1000, 0), finished_in_time, timed_out,
                    NULL, NULL);
}

/* async def main() */
static vow_result_t still_running(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)v, (void)ctx;
    /* Both 10 s timers were stopped: nothing is left to wait for. */
    printf("operations still running: %d\n", vow_loop_alive(loop));
    return vow_ok_none();
}

static vow_t *amain(vow_loop_t *loop, void *arg) {
    (void)arg;
    return vow_then_ok(demo_cancel(loop), still_running, NULL);
}

/* asyncio.run(main()) */
int main(void) { return vow_main(amain, NULL); }
