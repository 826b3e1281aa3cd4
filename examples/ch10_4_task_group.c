/* Section 10.4, "TaskGroup (Python 3.11+)": tasks created in a group are all awaited when
 * the group is joined, and their results come back in the order the tasks were created
 * (here they finish in another order). Then the failure case: two checks fail at the same
 * moment, the group cancels the task still running, waits for it, and rejects with an
 * aggregate error holding both failures (the cancellation is not one of them), as Python
 * raises an ExceptionGroup. (The chapter's 0.5 s fetches become 0.3, 0.1 and 0.2 s.)
 *
 * Python construct                        C rendering here
 * async with asyncio.TaskGroup() as tg:   g = vow_task_group_new(loop); ...;
 *                                         vow_task_group_join(g) is the end of the block
 * tg.create_task(fetch(url, s))           vow_task_group_spawn(g, fetch, &fetches[i], NULL)
 *                                         (the body starts on the next loop turn), or
 *                                         vow_task_group_add(g, promise) for a promise
 *                                         already running
 * task1.result(), task2.result(), ...     the join's value: a vow list of the results in
 *                                         the order added (vow_list_of, vow_list_value)
 * except* ValueError as eg:               the join's rejection: VOW_EAGGREGATE, with
 * eg.exceptions                           vow_error_count / vow_error_at in the order added
 * raise ValueError(...)                   vow_fail(vow_error_newf(VOW_EINVAL, ...))
 * task.cancelled()                        vow_is_cancellation(vow_error(task))
 * deadline = asyncio.Event(), set at      one vow_sleep(loop, 100) that both checks
 * 0.1 s, awaited by both checks           continue (vow_then_ok on a vow_ref of it each)
 *
 * Compare with examples/py/ch10_4_task_group.py (examples/check.py does). */
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

typedef struct {
    const char *url;
    uint64_t ms;
} fetch_t;

/* The rest of fetch after its await. */
static vow_result_t fetched(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v;
    const fetch_t *f = ctx;
    printf("fetched %s\n", f->url);
    size_t len = (size_t)snprintf(NULL, 0, "data from %s", f->url) + 1;
    char *s = malloc(len);
    if (s == NULL) return vow_fail_code(VOW_ENOMEM, NULL);
    snprintf(s, len, "data from %s", f->url);
    return vow_ok(vow_ptr(s, free));
}

/* async def fetch(url, seconds): a task body. */
static vow_t *fetch(vow_loop_t *loop, void *arg) {
    const fetch_t *f = arg;
    return vow_then_ok(vow_sleep(loop, f->ms), fetched, (void *)f);
}

/* ---- part 2: two tasks fail, the group cancels the rest ---------------------------------- */

/* The rest of check after its await: it fails. */
static vow_result_t not_reachable(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v;
    return vow_fail(vow_error_newf(VOW_EINVAL, "%s is not reachable", (const char *)ctx));
}

static vow_result_t group_failed(vow_loop_t *loop, vow_error_t *err, void *ctx) {
    (void)loop;
    vow_t *fetch1 = ctx;
    printf("the group failed after %.2f s with %zu errors:\n", now_s() - start,
           vow_error_count(err));
    for (size_t i = 0; i < vow_error_count(err); i++)
        printf("  - %s\n", vow_error_message(vow_error_at(err, i)));
    printf("url1's fetch was cancelled: %s\n",
           vow_state(fetch1) == VOW_REJECTED && vow_is_cancellation(vow_error(fetch1)) ? "yes"
                                                                                       : "no");
    return vow_ok_none();
}

static vow_result_t group_succeeded(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v, (void)ctx;
    printf("not reached: the group succeeded\n");
    return vow_ok_none();
}

static void unref_task(void *p) { vow_unref(p); }

static const fetch_t slow_fetch = {"url1", 1000};

static vow_t *demo_taskgroup_failure(vow_loop_t *loop) {
    printf("\n=== two tasks fail: the group cancels the rest ===\n");
    start = now_s();
    /* both checks fail when it fires, in the same loop turn */
    vow_t *deadline = vow_sleep(loop, 100);
    vow_task_group_t *tg = vow_task_group_new(loop);
    if (tg == NULL) {
        vow_unref(deadline);
        return NULL;
    }
    vow_t *fetch1 = vow_create_task(loop, fetch, (void *)&slow_fetch, NULL);
    vow_task_group_add(tg, vow_ref(fetch1)); /* keep fetch1 to ask whether it was cancelled */
    vow_task_group_add(tg, vow_then_ok(vow_ref(deadline), not_reachable, "host A"));
    vow_task_group_add(tg, vow_then_ok(deadline, not_reachable, "host B"));
    vow_t *joined = vow_task_group_join(tg);
    vow_task_group_unref(tg);
    return vow_then(joined, group_succeeded, group_failed, fetch1, unref_task);
}

/* ---- part 1: three fetches in a group ----------------------------------------------------- */

static const fetch_t fetches[3] = {{"url1", 300}, {"url2", 100}, {"url3", 200}};

static vow_result_t all_fetched(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)ctx;
    /* joining means every task has finished */
    const vow_list_t *results = vow_list_of(v);
    for (size_t i = 0; i < vow_list_len(results); i++)
        printf("task%zu: %s\n", i + 1, (const char *)vow_value_ptr(vow_list_value(results, i)));
    printf("all done after %.2f s\n", now_s() - start);
    return vow_follow(demo_taskgroup_failure(loop));
}

static vow_t *demo_taskgroup(vow_loop_t *loop, void *arg) {
    (void)arg;
    printf("=== three fetches in a group ===\n");
    start = now_s();
    vow_task_group_t *tg = vow_task_group_new(loop);
    if (tg == NULL) return NULL;
    for (int i = 0; i < 3; i++) vow_task_group_spawn(tg, fetch, (void *)&fetches[i], NULL);
    vow_t *joined = vow_task_group_join(tg);
    vow_task_group_unref(tg);
    return vow_then_ok(joined, all_fetched, NULL);
}

/* asyncio.run(demo_taskgroup()), then demo_taskgroup_failure() */
int main(void) { return vow_main(demo_taskgroup, NULL); }
