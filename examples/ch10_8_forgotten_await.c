/* Section 10.8, pitfall 1, "forgetting await": calling an async function hands back
 * something to wait on, not its result.
 *
 * In Python, get_data() without await gives a coroutine object; in C, get_data(loop)
 * gives a vow_t *, a promise. Either way what you hold is not the data, and the data can
 * only be had by waiting: `await` there, a reaction (vow_then) or vow_run here.
 *
 * One honest difference: a Python coroutine does nothing until it is awaited, while a
 * vow promise, like a JavaScript one, starts its work when it is made (the 0.1 s timer
 * below is already running when get_data returns). So forgetting to wait on it in C does
 * not skip the work; it loses the result, and if the program ends first, the work is cut
 * off. That is the last part: a promise nobody waits on is still pending when main's
 * vow_run returns, so vow_loop_close refuses (VOW_EBUSY, reported on stderr, where Python
 * reports "coroutine ... was never awaited"), and vow_loop_free drops it unfinished.
 *
 * Python construct                   C rendering here
 * async def get_data()               get_data(): vow_then(vow_sleep(loop, 100), ...)
 * data_wrong = get_data()            vow_t *data_wrong = get_data(loop): a handle
 * "is it finished?" (coroutine state) vow_state(p) == VOW_PENDING
 * data_correct = await get_data()    vow_then(get_data(loop), got_data, ...)
 * await data_wrong  (the clean-up)   vow_then(data_wrong, got_forgotten, ...)
 * del never (never awaited)          vow_unref(never): the timer still runs
 * asyncio.run(demo())                vow_run(loop, demo(loop), &out)
 *
 * Compare with examples/py/ch10_8_forgotten_await.py (examples/check.py does). */
#include <stdio.h>

#include "vow.h"

static vow_result_t make_data(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v, (void)ctx;
    return vow_ok(vow_ptr("data", NULL)); /* a static string: nothing to free */
}

/* async def get_data(): await asyncio.sleep(0.1); return "data" */
static vow_t *get_data(vow_loop_t *loop) {
    return vow_then(vow_sleep(loop, 100), make_data, NULL, NULL, NULL);
}

static void unref_promise(void *p) { vow_unref(p); }

/* What a variable holds: the data, or something that will produce it. */
static void describe_promise(const char *label, const vow_t *p) {
    if (vow_state(p) == VOW_PENDING)
        printf("%s: an awaitable that has not finished, not the data\n", label);
    else
        printf("%s: an awaitable that has finished, still not the data\n", label);
}

static vow_result_t got_forgotten(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)ctx;
    printf("the forgotten one, awaited at last: '%s'\n", (const char *)vow_value_ptr(v));

    printf("=== never awaiting at all ===\n");
    vow_t *never = get_data(loop);
    printf("called it, and moved on without awaiting\n");
    vow_unref(never); /* no one will ever look at it; its timer keeps running */
    return vow_ok_none();
}

/* ctx: our reference to data_wrong (dropped by unref_promise after the call). */
static vow_result_t got_data(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    printf("with await: '%s'\n", (const char *)vow_value_ptr(v));
    /* clean-up, as the chapter does: wait for the forgotten one too */
    return vow_follow(vow_then(vow_ref(ctx), got_forgotten, NULL, NULL, NULL));
}

/* async def demo_forgot_await() */
static vow_t *demo(vow_loop_t *loop) {
    printf("=== forgetting await ===\n");
    vow_t *data_wrong = get_data(loop); /* a promise, not "data" */
    if (data_wrong == NULL) return NULL;
    describe_promise("without await", data_wrong);

    printf("=== awaiting ===\n");
    return vow_then(get_data(loop), got_data, NULL, data_wrong, unref_promise);
}

int main(void) {
    vow_loop_t *loop;
    int rc = vow_loop_new(&loop, VOW_BACKEND_AUTO);
    if (rc != 0) {
        fprintf(stderr, "vow_loop_new: %s\n", vow_strerror(rc));
        return 1;
    }
    vow_outcome_t out;
    rc = vow_run(loop, demo(loop), &out);
    int ok = rc == 0 && out.state == VOW_FULFILLED;
    if (!ok)
        fprintf(stderr, "demo failed: %s\n",
                rc != 0 ? vow_strerror(rc) : vow_error_message(out.error));
    vow_outcome_release(&out);
    if (!ok) {
        vow_loop_free(loop);
        return 1;
    }
    /* The never-awaited promise is still pending: the gentle close refuses. */
    rc = vow_loop_close(loop);
    if (rc != VOW_EBUSY) {
        fprintf(stderr, "vow_loop_close: expected VOW_EBUSY, got %d\n", rc);
        if (rc != 0) vow_loop_free(loop);
        return 1;
    }
    fprintf(stderr, "vow_loop_close: %s: %d operation(s) never awaited are still pending\n",
            vow_strerror(rc), vow_loop_alive(loop));
    printf("at exit, its work is dropped unfinished\n");
    vow_loop_free(loop); /* the forced path: stops the timer, frees the promise */
    return 0;
}
