/* Section 10.3, "gather's error handling", in await form: the await form of
 * examples/ch10_3_gather_errors.c (issue 16), the same program written with coroutines,
 * which reads line for line like examples/py/ch10_3_gather_errors.py (check.py compares
 * them): three tasks, the second one fails. By default gather raises the first
 * exception; with return_exceptions=True it hands back every outcome, exceptions
 * included, in argument order.
 *
 * Python                                vow, await form
 * async def may_fail(name, should_fail) static vow_result_t may_fail(loop, arg)
 * raise ValueError(f"{name} failed")    return vow_fail(vow_error_newf(VOW_EINVAL, ...))
 *                                       (ValueError ~ EINVAL)
 * try: await asyncio.gather(a, b, c)    rc = vow_await(vow_all(loop, tasks, 3), &o)
 * except ValueError as e:               if (rc == VOW_EINVAL): o.error is e
 * gather(..., return_exceptions=True)   vow_all_settled (Promise.allSettled): never
 *                                       rejects; vow_list_state tells a value from an error
 * isinstance(result, Exception)         vow_list_state(list, i) == VOW_REJECTED
 * an exception out of an await          return vow_rethrow(rc, &o): its error, handed on
 * asyncio.run(demo_gather_error())      vow_main_async(demo_gather_error, NULL)
 */
#include <stdio.h>
#include <stdlib.h>

#include "vow.h"

typedef struct {
    const char *name;
    int should_fail;
} job_t;

static const job_t jobs[3] = {{"task 1", 0}, {"task 2", 1}, {"task 3", 0}};

/* async def may_fail(name, should_fail=False) */
static vow_result_t may_fail(vow_loop_t *loop, void *arg) {
    const job_t *job = arg;
    int rc = vow_await(vow_sleep(loop, 500), NULL);
    if (rc != 0) return vow_fail_code(rc, NULL); /* cancelled: pass it on */
    if (job->should_fail) return vow_fail(vow_error_newf(VOW_EINVAL, "%s failed", job->name));
    size_t len = (size_t)snprintf(NULL, 0, "%s succeeded", job->name) + 1;
    char *s = malloc(len);
    if (s == NULL) return vow_fail_code(VOW_ENOMEM, NULL);
    snprintf(s, len, "%s succeeded", job->name);
    return vow_ok(vow_ptr(s, free));
}

/* may_fail("task 1"), may_fail("task 2", should_fail=True), may_fail("task 3") */
static void start_all(vow_loop_t *loop, vow_t *tasks[3]) {
    for (int i = 0; i < 3; i++) tasks[i] = vow_async(loop, may_fail, (void *)&jobs[i], NULL);
}

/* async def demo_gather_error() */
static vow_result_t demo_gather_error(vow_loop_t *loop, void *arg) {
    (void)arg;
    printf("=== default: the first exception propagates ===\n");
    vow_t *tasks[3];
    vow_outcome_t o;
    start_all(loop, tasks);
    int rc = vow_await(vow_all(loop, tasks, 3), &o);
    if (rc == 0) {
        printf("not reached: every task succeeded\n");
        vow_outcome_release(&o);
    } else if (rc == VOW_EINVAL && o.state == VOW_REJECTED) { /* except ValueError as e */
        printf("caught: %s\n", vow_error_message(o.error));
        vow_outcome_release(&o);
    } else {
        return vow_rethrow(rc, &o); /* anything else propagates */
    }

    printf("\n=== return_exceptions=True: errors come back as results ===\n");
    start_all(loop, tasks);
    rc = vow_await(vow_all_settled(loop, tasks, 3), &o);
    if (rc != 0) return vow_rethrow(rc, &o);
    const vow_list_t *results = vow_list_of(&o.value);
    for (size_t i = 0; i < vow_list_len(results); i++) {
        if (vow_list_state(results, i) == VOW_REJECTED)
            printf("task %zu error: %s\n", i + 1, vow_error_message(vow_list_error(results, i)));
        else
            printf("task %zu ok: %s\n", i + 1,
                   (const char *)vow_value_ptr(vow_list_value(results, i)));
    }
    vow_outcome_release(&o);
    return vow_ok_none();
}

int main(void) {
    return vow_main_async(demo_gather_error, NULL); /* asyncio.run(demo_gather_error()) */
}
