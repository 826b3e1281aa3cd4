/* Section 10.3, "gather's error handling": three tasks, the second one fails. By default
 * gather raises the first exception; with return_exceptions=True it hands back every
 * outcome, exceptions included, in argument order.
 *
 * Python construct                      C rendering here
 * async def may_fail(name, should_fail) may_fail(): vow_then(vow_sleep(loop, 500),
 *                                       finish, ...), where finish "returns" with
 *                                       vow_ok(...) or "raises" with vow_fail(...)
 * raise ValueError(f"{name} failed")    vow_fail(vow_error_newf(VOW_EINVAL, ...)): a
 *                                       rejection (ValueError ~ EINVAL)
 * await asyncio.gather(a, b, c)         vow_all (Promise.all): rejects with the first
 *                                       rejection; the other inputs keep running
 * try: ... except ValueError as e:      the rejection reaction of vow_then (on_err)
 * gather(..., return_exceptions=True)   vow_all_settled (Promise.allSettled): never rejects;
 *                                       vow_list_state tells a value from an error
 * isinstance(result, Exception)         vow_list_state(list, i) == VOW_REJECTED
 * asyncio.run(demo_gather_error())      vow_main(demo_gather_error, NULL)
 *
 * Compare with examples/py/ch10_3_gather_errors.py (examples/check.py does). */
#include <stdio.h>
#include <stdlib.h>

#include "vow.h"

typedef struct {
    const char *name;
    int should_fail;
} job_t;

static const job_t jobs[3] = {{"task 1", 0}, {"task 2", 1}, {"task 3", 0}};

/* The rest of may_fail after its await. */
static vow_result_t finish(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v;
    const job_t *job = ctx;
    if (job->should_fail) return vow_fail(vow_error_newf(VOW_EINVAL, "%s failed", job->name));
    size_t len = (size_t)snprintf(NULL, 0, "%s succeeded", job->name) + 1;
    char *s = malloc(len);
    if (s == NULL) return vow_fail_code(VOW_ENOMEM, NULL);
    snprintf(s, len, "%s succeeded", job->name);
    return vow_ok(vow_ptr(s, free));
}

/* async def may_fail(name, should_fail=False) */
static vow_t *may_fail(vow_loop_t *loop, const job_t *job) {
    return vow_then_ok(vow_sleep(loop, 500), finish, (void *)job);
}

static void start_all(vow_loop_t *loop, vow_t *tasks[3]) {
    for (int i = 0; i < 3; i++) tasks[i] = may_fail(loop, &jobs[i]);
}

/* ---- part 2: return_exceptions=True ---------------------------------------------------- */
static vow_result_t print_outcomes(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)ctx;
    const vow_list_t *results = vow_list_of(v);
    for (size_t i = 0; i < vow_list_len(results); i++) {
        if (vow_list_state(results, i) == VOW_REJECTED)
            printf("task %zu error: %s\n", i + 1, vow_error_message(vow_list_error(results, i)));
        else
            printf("task %zu ok: %s\n", i + 1,
                   (const char *)vow_value_ptr(vow_list_value(results, i)));
    }
    return vow_ok_none();
}

static vow_t *demo_return_exceptions(vow_loop_t *loop) {
    printf("\n=== return_exceptions=True: errors come back as results ===\n");
    vow_t *tasks[3];
    start_all(loop, tasks);
    return vow_then_ok(vow_all_settled(loop, tasks, 3), print_outcomes, NULL);
}

/* ---- part 1: the default, the first exception propagates ------------------------------ */
static vow_result_t all_ok(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)v, (void)ctx;
    printf("not reached: every task succeeded\n");
    return vow_follow(demo_return_exceptions(loop));
}

static vow_result_t caught(vow_loop_t *loop, vow_error_t *err, void *ctx) {
    (void)ctx;
    printf("caught: %s\n", vow_error_message(err));
    return vow_follow(demo_return_exceptions(loop)); /* the next statement of the coroutine */
}

/* async def demo_gather_error() */
static vow_t *demo_gather_error(vow_loop_t *loop, void *arg) {
    (void)arg;
    printf("=== default: the first exception propagates ===\n");
    vow_t *tasks[3];
    start_all(loop, tasks);
    return vow_then(vow_all(loop, tasks, 3), all_ok, caught, NULL, NULL);
}

/* asyncio.run(demo_gather_error()) */
int main(void) { return vow_main(demo_gather_error, NULL); }
