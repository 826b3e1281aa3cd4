/* Section 10.8, pitfall 4, "exceptions nobody handles": a task that fails, first started
 * and never waited on, then awaited with the error caught.
 *
 * A rejection with no handler is reported when the microtask queue drains (Node's rule):
 * the hook installed with vow_set_rejection_hook is called, then the default mode (warn)
 * prints one line on stderr. Python's counterpart is the event loop's exception handler,
 * which reports "Task exception was never retrieved" when the failed task is garbage
 * collected (the Python file collects it at a fixed point, so its stdout is
 * deterministic). Both programs print their report on stdout from the hook/handler and
 * leave the default stderr report as it is. examples/check.py compares stdout line by
 * line, and stderr by its rule for this example: one report on each side, about the same
 * failure ("something went wrong"), however differently vow and asyncio word it.
 *
 * Python construct                     C rendering here
 * async def risky_task()               risky_task(): vow_then_ok(vow_sleep(loop, 100), fail)
 * raise ValueError("...")              vow_fail(vow_error_new(VOW_EINVAL, "...")) (~EINVAL)
 * asyncio.create_task(...), never       vow_unref(risky_task(loop)): nobody reacts to it
 *   awaited
 * loop.set_exception_handler(h)        vow_set_rejection_hook(loop, on_rejection, reports)
 * "Task exception was never retrieved" the VOW_REJECTION_UNHANDLED event (and warn mode's
 *                                      stderr line)
 * try: await task                      vow_catch(risky_task(loop), caught, ...)
 * except ValueError as e:
 * asyncio.run(main())                  vow_main(demo, &reports)
 *
 * Compare with examples/py/ch10_8_unhandled.py (examples/check.py does). */
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

static vow_result_t fail(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v, (void)ctx;
    return vow_fail(vow_error_new(VOW_EINVAL, "something went wrong"));
}

/* async def risky_task(): await asyncio.sleep(0.1); raise ValueError(...) */
static vow_t *risky_task(vow_loop_t *loop) { return vow_then_ok(vow_sleep(loop, 100), fail, NULL); }

/* ---- right: await the task and handle the error ----------------------------------------- */
static vow_result_t caught(vow_loop_t *loop, vow_error_t *err, void *ctx) {
    (void)loop, (void)ctx;
    printf("caught: %s\n", vow_error_message(err));
    return vow_ok_none();
}

static vow_result_t demo_handled(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)v, (void)ctx;
    printf("\n=== right: await the task and catch its error ===\n");
    return vow_follow(vow_catch(risky_task(loop), caught, NULL, NULL));
}

/* ---- wrong: start the task and never look at it again ----------------------------------- */
static vow_t *demo(vow_loop_t *loop, void *reports) {
    vow_set_rejection_hook(loop, on_rejection, reports); /* loop.set_exception_handler */
    printf("=== wrong: the task fails and nobody waits for it ===\n");
    vow_unref(risky_task(loop)); /* started, then forgotten */
    /* await asyncio.sleep(0.2): the task fails meanwhile, and is reported */
    return vow_then_ok(vow_sleep(loop, 200), demo_handled, NULL);
}

int main(void) {
    int reports = 0;
    int status = vow_main(demo, &reports); /* asyncio.run(main()) */
    printf("\nunhandled reports: %d\n", reports);
    return status;
}
