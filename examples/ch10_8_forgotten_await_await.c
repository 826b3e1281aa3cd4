/* Section 10.8, pitfall 1, "forgetting await", in await form: the await form of
 * examples/ch10_8_forgotten_await.c (issue 16), the same program written with coroutines,
 * which reads line for line like examples/py/ch10_8_forgotten_await.py (check.py compares
 * them, stderr included): calling an async function hands back something to wait on, not
 * its result.
 *
 * In Python, get_data() without await gives a coroutine object; here
 * vow_async(loop, get_data, ...) gives a vow_t *, the promise of the coroutine's result.
 * Either way what you hold is not the data: only an await gets it.
 *
 * One honest difference: a Python coroutine does nothing until it is awaited, while
 * vow_async, as a JavaScript async function, runs the body at once up to its first await
 * (the 0.1 s sleep below is already running when vow_async returns). So forgetting the
 * await in C does not skip the work; it loses the result, and if the program ends first,
 * the work is cut off: at the clean exit, vow_main_async cancels every coroutine still
 * suspended (as asyncio.run cancels what is left), so the forgotten get_data's await
 * answers VOW_ECANCELED and it returns. Python warns on stderr, from the coroutine's
 * finalizer, that the coroutine was never awaited; here get_data's arg_free plays that
 * part: it runs exactly once, after the body returned, and warns when the work never
 * finished. check.py checks that both programs warn about get_data (the stderr rule of
 * ch10_8_forgotten_await).
 *
 * Python                                vow, await form
 * async def get_data()                  a coroutine body, with a call_t of its own (arg)
 * data_wrong = get_data()               vow_t *data_wrong = vow_async(loop, get_data, ...)
 * inspect.getcoroutinestate(obj)        vow_state(p) == VOW_PENDING
 * data_correct = await get_data()       vow_await(vow_async(loop, get_data, ...), &o)
 * await data_wrong  (the clean-up)      vow_await(data_wrong, &o)
 * del never                             vow_unref(never): its sleep still runs
 * RuntimeWarning: coroutine             call_ended(), get_data's arg_free: the work never
 *   'get_data' was never awaited        finished
 * an exception out of an await          return vow_rethrow(rc, &o): its error, handed on
 * asyncio.run(demo_forgot_await())      vow_main_async(demo_forgot_await, NULL)
 */
#include <stdio.h>
#include <stdlib.h>

#include "vow.h"

/* What one call of get_data keeps: whether its work got to the end. */
typedef struct {
    int finished;
} call_t;

/* async def get_data() */
static vow_result_t get_data_body(vow_loop_t *loop, void *arg) {
    call_t *call = arg;
    vow_outcome_t o;
    int rc = vow_await(vow_sleep(loop, 100), &o);
    if (rc != 0) return vow_rethrow(rc, &o); /* cancelled at exit: unfinished */
    call->finished = 1;
    return vow_ok(vow_ptr("data", NULL)); /* a static string: nothing to free */
}

/* get_data's arg_free: runs once, after the body returned, however it ended. */
static void call_ended(void *arg) {
    call_t *call = arg;
    if (!call->finished)
        fprintf(stderr, "warning: a promise of 'get_data' was never awaited: its work was "
                        "cancelled at exit, unfinished\n");
    free(call);
}

/* get_data(): the call of the async function (it starts at once). NULL when out of
 * memory. */
static vow_t *get_data(vow_loop_t *loop) {
    call_t *call = calloc(1, sizeof *call);
    if (call == NULL) return NULL;
    return vow_async(loop, get_data_body, call, call_ended);
}

/* What a variable holds: the data, or something that will produce it. */
static void describe(const char *label, const vow_t *obj) {
    if (vow_state(obj) == VOW_PENDING)
        printf("%s: an awaitable that has not finished, not the data\n", label);
    else
        printf("%s: an awaitable that has finished, still not the data\n", label);
}

/* async def demo_forgot_await() */
static vow_result_t demo_forgot_await(vow_loop_t *loop, void *arg) {
    (void)arg;
    vow_outcome_t data_correct, forgotten;
    printf("=== forgetting await ===\n");
    vow_t *data_wrong = get_data(loop); /* forgot await: a promise, not "data" */
    if (data_wrong == NULL) return vow_fail_code(VOW_ENOMEM, NULL);
    describe("without await", data_wrong);

    printf("=== awaiting ===\n");
    int rc = vow_await(get_data(loop), &data_correct);
    if (rc != 0) {
        vow_unref(data_wrong);
        return vow_rethrow(rc, &data_correct);
    }
    printf("with await: '%s'\n", (const char *)vow_value_ptr(&data_correct.value));
    vow_outcome_release(&data_correct);

    /* clean-up, as the chapter does: await the forgotten one too */
    rc = vow_await(data_wrong, &forgotten);
    if (rc != 0) return vow_rethrow(rc, &forgotten);
    printf("the forgotten one, awaited at last: '%s'\n",
           (const char *)vow_value_ptr(&forgotten.value));
    vow_outcome_release(&forgotten);

    printf("=== never awaiting at all ===\n");
    vow_t *never = get_data(loop);
    printf("called it, and moved on without awaiting\n");
    vow_unref(never); /* nobody will ever await it; its sleep keeps running */
    return vow_ok_none();
}

int main(void) {
    int status = vow_main_async(demo_forgot_await, NULL); /* asyncio.run(demo_forgot_await()) */
    printf("at exit, its work is dropped unfinished\n");
    return status;
}
