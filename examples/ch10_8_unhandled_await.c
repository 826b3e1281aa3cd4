/* Section 10.8, pitfall 4, "exceptions nobody handles", in await form: the await form of
 * examples/ch10_8_unhandled.c (issue 16), the same program written with coroutines, which
 * reads line for line like examples/py/ch10_8_unhandled.py (check.py compares them, stderr
 * included): a task that fails, first started and never awaited, then awaited with the
 * error caught.
 *
 * A coroutine that returns an error rejects its promise; with nobody awaiting it, that
 * rejection is reported when the microtask queue drains (Node's rule): the hook installed
 * with vow_set_rejection_hook is called, then the default mode (warn) prints one line on
 * stderr. Python's counterpart is the event loop's exception handler, which reports "Task
 * exception was never retrieved" when the failed task is garbage collected. Both programs
 * print their report on stdout from the hook/handler and leave the default stderr report
 * as it is; check.py compares stderr by the rule of ch10_8_unhandled: one report on each
 * side, about the same failure ("something went wrong").
 *
 * Python                                vow, await form
 * async def risky_task()                a coroutine body
 * raise ValueError("...")               return vow_fail_code(VOW_EINVAL, "...") (~EINVAL)
 * task = asyncio.create_task(...)       vow_create_task_async(loop, risky_task, NULL, NULL)
 * del task (never awaited)              vow_unref(task): nobody awaits its promise
 * loop.set_exception_handler(h)         vow_set_rejection_hook(loop, on_rejection, &reports)
 * "Task exception was never retrieved"  the VOW_REJECTION_UNHANDLED event (and warn mode's
 *                                       stderr line)
 * try: await task                       rc = vow_await(task, &o)
 * except ValueError as e:               rc == VOW_EINVAL: o.error is e
 * an exception out of an await          return vow_rethrow(rc, &o): its error, handed on
 * asyncio.run(main())                   vow_main_async(amain, &reports)
 */
#include <stdio.h>

#include "vow.h"

/* The hook (asyncio's exception handler): called for each report; the mode acts after. */
static void on_rejection(vow_loop_t *loop, vow_t *p, vow_error_t *err, vow_rejection_event_t ev,
                         void *ctx) {
    (void)loop, (void)p;
    if (ev == VOW_REJECTION_UNHANDLED) {
        ++*(int *)ctx;
        printf("reported as unhandled: %s\n", vow_error_message(err));
    } else {
        printf("handled after it was reported: %s\n", vow_error_message(err));
    }
}

/* async def risky_task() */
static vow_result_t risky_task(vow_loop_t *loop, void *arg) {
    (void)arg;
    vow_outcome_t o;
    int rc = vow_await(vow_sleep(loop, 100), &o);
    if (rc != 0) return vow_rethrow(rc, &o);
    return vow_fail_code(VOW_EINVAL, "something went wrong"); /* raise ValueError(...) */
}

/* async def main() */
static vow_result_t amain(vow_loop_t *loop, void *reports) {
    vow_outcome_t o;
    vow_set_rejection_hook(loop, on_rejection, reports); /* loop.set_exception_handler */

    printf("=== wrong: the task fails and nobody waits for it ===\n");
    vow_t *task = vow_create_task_async(loop, risky_task, NULL, NULL); /* started, */
    int rc = vow_await(vow_sleep(loop, 200), &o); /* the task fails meanwhile */
    vow_unref(task);                              /* then forgotten (del task) */
    if (rc != 0) return vow_rethrow(rc, &o);

    printf("\n=== right: await the task and catch its error ===\n");
    task = vow_create_task_async(loop, risky_task, NULL, NULL);
    rc = vow_await(task, &o); /* try: await task */
    if (rc == VOW_EINVAL) {   /* except ValueError as e: */
        printf("caught: %s\n", vow_error_message(o.error));
        vow_outcome_release(&o);
    } else if (rc != 0) {
        return vow_rethrow(rc, &o);
    } else {
        vow_outcome_release(&o);
    }
    return vow_ok_none();
}

int main(void) {
    int reports = 0;
    int status = vow_main_async(amain, &reports); /* asyncio.run(main()) */
    printf("\nunhandled reports: %d\n", reports);
    return status;
}
