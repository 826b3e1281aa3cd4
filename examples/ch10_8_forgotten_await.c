/* Section 10.8, pitfall 1, "forgetting await": calling an async function hands back
 * something to wait on, not its result.
 *
 * In Python, get_data() without await gives a coroutine object; in C, get_data(loop)
 * gives a vow_t *, a promise. Either way what you hold is not the data, and the data can
 * only be had by waiting: `await` there, a reaction (vow_then_ok) or vow_main here.
 *
 * One honest difference: a Python coroutine does nothing until it is awaited, while a
 * vow promise, like a JavaScript one, starts its work when it is made (the 0.1 s timer
 * below is already running when get_data returns). So forgetting to wait on it in C does
 * not skip the work; it loses the result, and if the program ends first, the work is cut
 * off. That is the last part: a promise nobody waits on is still pending when the main
 * promise settles, so vow_main's clean exit cancels it (as asyncio.run cancels what is
 * left). Python warns on stderr, from the coroutine's finalizer, that the coroutine was
 * never awaited; here get_data's context destructor plays that part: it runs exactly once
 * however the call ends (vow's callback contract), and warns on stderr when the work never
 * finished. examples/check.py checks that both programs warn about get_data.
 *
 * Python construct                   C rendering here
 * async def get_data()               get_data(): vow_then(vow_sleep(loop, 100), ...)
 * data_wrong = get_data()            vow_t *data_wrong = get_data(loop): a handle
 * "is it finished?" (coroutine state) vow_state(p) == VOW_PENDING
 * data_correct = await get_data()    vow_then(get_data(loop), got_data, ...)
 * await data_wrong  (the clean-up)   vow_then_ok(data_wrong, got_forgotten, ...)
 * del never (never awaited)          vow_unref(never): the timer still runs
 * asyncio.run(demo())                vow_main(demo, NULL): the clean exit cancels `never`
 * RuntimeWarning: coroutine          call_ended(), get_data's ctx_free: the work never
 *   'get_data' was never awaited     finished
 *
 * Compare with examples/py/ch10_8_forgotten_await.py (examples/check.py does). */
#include <stdio.h>
#include <stdlib.h>

#include "vow.h"

/* What one call of get_data keeps: whether its work got to the end. */
typedef struct {
    int finished;
} call_t;

static vow_result_t make_data(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v;
    ((call_t *)ctx)->finished = 1;
    return vow_ok(vow_ptr("data", NULL)); /* a static string: nothing to free */
}

/* The call's context destructor: runs once, after make_data, or when the sleep was
 * cancelled and make_data never ran (the clean exit cancels a sleep nobody waited for). */
static void call_ended(void *ctx) {
    call_t *call = ctx;
    if (!call->finished)
        fprintf(stderr, "warning: a promise of 'get_data' was never awaited: its work was "
                        "cancelled at exit, unfinished\n");
    free(call);
}

/* async def get_data(): await asyncio.sleep(0.1); return "data" */
static vow_t *get_data(vow_loop_t *loop) {
    call_t *call = calloc(1, sizeof *call);
    if (call == NULL) return NULL;
    return vow_then(vow_sleep(loop, 100), make_data, NULL, call, call_ended);
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
    return vow_follow(vow_then_ok(vow_ref(ctx), got_forgotten, NULL));
}

/* async def demo_forgot_await() */
static vow_t *demo(vow_loop_t *loop, void *arg) {
    (void)arg;
    printf("=== forgetting await ===\n");
    vow_t *data_wrong = get_data(loop); /* a promise, not "data" */
    if (data_wrong == NULL) return NULL;
    describe_promise("without await", data_wrong);

    printf("=== awaiting ===\n");
    return vow_then(get_data(loop), got_data, NULL, data_wrong, unref_promise);
}

int main(void) {
    int status = vow_main(demo, NULL); /* asyncio.run(demo_forgot_await()) */
    printf("at exit, its work is dropped unfinished\n");
    return status;
}
