/* Section 10.3, "asyncio.wait_for()": give a slow operation a deadline. (The chapter's
 * 5 s operation and 1 s timeout are scaled to 1.0 s and 0.3 s.)
 *
 * Part 1 is Python's wait_for, which vow_timeout is: at the deadline the operation is
 * cancelled (its timer stopped and freed), and the timeout error is caused by that
 * cancellation; nothing is left running. Part 2 is the chapter's JavaScript form,
 * Promise.race against a timer (VOW_TIMEOUT_RACE; asyncio.shield in the Python file): the
 * caller stops waiting, the operation runs on, and can still be awaited.
 *
 * Python construct                       C rendering here
 * async def slow_operation()             slow_operation(): prints, then returns
 *                                        vow_then_ok(vow_sleep(loop, 1000), finished, ...)
 * await asyncio.wait_for(op, timeout=.3) vow_timeout(op, 300, 0), then a reaction
 * except asyncio.TimeoutError as e       the rejection reaction: code VOW_ETIMEDOUT
 * e.__cause__ is a CancelledError        vow_is_cancellation(vow_error_cause(err))
 * len(asyncio.all_tasks()) - 1           vow_loop_alive(loop): the timers still running and
 *                                        the jobs still queued (none: this reaction is the
 *                                        only one, and vow_timeout stopped the sleep)
 * task = asyncio.create_task(op)         vow_t *op, kept with vow_ref
 * wait_for(asyncio.shield(task), .3)     vow_timeout(vow_ref(op), 300, VOW_TIMEOUT_RACE)
 * result = await task                    return vow_follow(op) from the reaction
 * async def main():                      amain(): vow_then_ok(demo_wait_for(loop),
 *     await demo_wait_for(); print(...)  between_parts, NULL); between_parts prints, then
 *     await demo_race()                  returns vow_follow(demo_race(loop))
 * asyncio.run(main())                    vow_main(amain, NULL)
 *
 * Compare with examples/py/ch10_3_wait_for.py (examples/check.py does). */
#include <stdio.h>
#include <time.h>

#include "vow.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double start;

/* The rest of slow_operation after its await. */
static vow_result_t finished(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v, (void)ctx;
    printf("slow operation finished\n");
    return vow_ok(vow_ptr("done", NULL)); /* a static string: nothing to free */
}

/* async def slow_operation() */
static vow_t *slow_operation(vow_loop_t *loop) {
    printf("slow operation started...\n");
    return vow_then_ok(vow_sleep(loop, 1000), finished, NULL);
}

/* ---- part 1: wait_for cancels the operation -------------------------------------------- */
static vow_result_t print_result(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)ctx;
    printf("%s\n", (const char *)vow_value_ptr(v));
    return vow_ok_none();
}

static vow_result_t timed_out(vow_loop_t *loop, vow_error_t *err, void *ctx) {
    (void)loop, (void)ctx;
    if (vow_error_code(err) != VOW_ETIMEDOUT) return vow_fail(vow_error_ref(err)); /* re-raise */
    printf("timed out after %.2f s\n", now_s() - start);
    printf("caused by the operation's cancellation: %s\n",
           vow_is_cancellation(vow_error_cause(err)) ? "yes" : "no");
    return vow_ok_none();
}

static vow_t *demo_wait_for(vow_loop_t *loop) {
    printf("=== wait_for: the operation is cancelled at the timeout ===\n");
    start = now_s();
    return vow_then(vow_timeout(slow_operation(loop), 300, 0), print_result, timed_out, NULL, NULL);
}

/* ---- part 2: JavaScript's race, nothing cancelled -------------------------------------- */
static vow_result_t print_late_result(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)ctx;
    printf("result after %.2f s: %s\n", now_s() - start, (const char *)vow_value_ptr(v));
    return vow_ok_none();
}

static void unref_promise(void *p) { vow_unref(p); }

/* race_won and race_lost get as ctx our own reference to the operation (the task),
 * dropped by unref_promise once the reaction ran. */
static vow_result_t race_won(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)ctx;
    printf("%s\n", (const char *)vow_value_ptr(v));
    return vow_ok_none();
}

static vow_result_t race_lost(vow_loop_t *loop, vow_error_t *err, void *ctx) {
    (void)loop;
    if (vow_error_code(err) != VOW_ETIMEDOUT) return vow_fail(vow_error_ref(err));
    printf("timed out after %.2f s; the operation keeps running\n", now_s() - start);
    /* result = await task: follow it (vow_follow consumes a reference of our own). */
    return vow_follow(vow_then_ok(vow_ref(ctx), print_late_result, NULL));
}

static vow_t *demo_race(vow_loop_t *loop) {
    printf("=== JavaScript's form: a race with a timer, nothing is cancelled ===\n");
    start = now_s();
    vow_t *task = slow_operation(loop);
    vow_t *raced = vow_timeout(vow_ref(task), 300, VOW_TIMEOUT_RACE);
    return vow_then(raced, race_won, race_lost, task, unref_promise);
}

/* ---- async def main() ------------------------------------------------------------------ */
static vow_result_t between_parts(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)v, (void)ctx;
    printf("operations still running: %d\n", vow_loop_alive(loop));
    printf("\n");
    return vow_follow(demo_race(loop)); /* await demo_race() */
}

static vow_t *amain(vow_loop_t *loop, void *arg) {
    (void)arg;
    return vow_then_ok(demo_wait_for(loop), between_parts, NULL);
}

/* asyncio.run(main()) */
int main(void) { return vow_main(amain, NULL); }
