/* Section 10.4, "TaskGroup (Python 3.11+)", in await form: the await form of
 * examples/ch10_4_task_group.c (issue 16), the same program written with coroutines,
 * which reads line for line like examples/py/ch10_4_task_group.py (check.py compares
 * them): tasks created in a group are all awaited when the group is joined (the end of
 * Python's `async with` block), and their results are read afterwards, in the order the
 * tasks were created (here they finish in another order). Then the failure case: two
 * checks fail at the same moment, the group cancels the task still running, waits for
 * it, and the join rejects with an aggregate error holding both failures (the
 * cancellation is not one of them), as Python raises an ExceptionGroup. (The chapter's
 * 0.5 s fetches become 0.3, 0.1 and 0.2 s.)
 *
 * Python                                  vow, await form
 * async with asyncio.TaskGroup() as tg:   tg = vow_task_group_new(loop); ...; the end of
 *                                         the block is vow_await(vow_task_group_join(tg))
 * task1 = tg.create_task(fetch(url, s))   task1 = vow_create_task_async(loop, fetch, ...),
 *                                         vow_task_group_add(tg, vow_ref(task1))
 * task1.result()                          vow_value(task1)
 * raise ValueError(...)                   return vow_fail(vow_error_newf(VOW_EINVAL, ...))
 * except* ValueError as eg:               rc == VOW_EAGGREGATE, eg = o.error:
 * eg.exceptions                           vow_error_count / vow_error_at, in the order added
 * task.cancelled()                        vow_is_cancellation(vow_error(task))
 * deadline = asyncio.Event()              vow_event_new(loop); await deadline.wait() is
 * call_later(0.1, deadline.set)           vow_await(vow_event_wait(deadline), NULL), and
 *                                         vow_set_timeout(loop, set_event, deadline, 100)
 * an exception out of an await            return vow_rethrow(rc, &o): its error, handed on
 * asyncio.run(demo_taskgroup())           vow_main_async(demo_taskgroup, NULL), then
 * asyncio.run(demo_taskgroup_failure())   vow_main_async(demo_taskgroup_failure, NULL)
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "vow.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct {
    const char *url;
    uint64_t ms;
} fetch_t;

/* async def fetch(url, seconds) */
static vow_result_t fetch(vow_loop_t *loop, void *arg) {
    const fetch_t *f = arg;
    int rc = vow_await(vow_sleep(loop, f->ms), NULL);
    if (rc != 0) return vow_fail_code(rc, NULL); /* cancelled: pass it on */
    printf("fetched %s\n", f->url);
    size_t len = (size_t)snprintf(NULL, 0, "data from %s", f->url) + 1;
    char *s = malloc(len);
    if (s == NULL) return vow_fail_code(VOW_ENOMEM, NULL);
    snprintf(s, len, "data from %s", f->url);
    return vow_ok(vow_ptr(s, free));
}

typedef struct {
    const char *name;
    vow_event_t *deadline;
} check_t;

/* async def check(name, deadline) */
static vow_result_t check(vow_loop_t *loop, void *arg) {
    (void)loop;
    const check_t *c = arg;
    int rc = vow_await(vow_event_wait(c->deadline), NULL);
    if (rc != 0) return vow_fail_code(rc, NULL);
    return vow_fail(vow_error_newf(VOW_EINVAL, "%s is not reachable", c->name));
}

static const fetch_t fetches[3] = {{"url1", 300}, {"url2", 100}, {"url3", 200}};

/* async def demo_taskgroup() */
static vow_result_t demo_taskgroup(vow_loop_t *loop, void *arg) {
    (void)arg;
    printf("=== three fetches in a group ===\n");
    double start = now_s();
    vow_task_group_t *tg = vow_task_group_new(loop); /* async with asyncio.TaskGroup() as tg: */
    if (tg == NULL) return vow_fail_code(VOW_ENOMEM, NULL);
    vow_t *task1 = vow_create_task_async(loop, fetch, (void *)&fetches[0], NULL);
    vow_t *task2 = vow_create_task_async(loop, fetch, (void *)&fetches[1], NULL);
    vow_t *task3 = vow_create_task_async(loop, fetch, (void *)&fetches[2], NULL);
    vow_task_group_add(tg, vow_ref(task1));
    vow_task_group_add(tg, vow_ref(task2));
    vow_task_group_add(tg, vow_ref(task3));
    int rc = vow_await(vow_task_group_join(tg), NULL); /* the end of the block */
    vow_task_group_unref(tg);
    /* leaving the block means every task has finished */
    if (rc == 0) {
        printf("task1: %s\n", (const char *)vow_value_ptr(vow_value(task1)));
        printf("task2: %s\n", (const char *)vow_value_ptr(vow_value(task2)));
        printf("task3: %s\n", (const char *)vow_value_ptr(vow_value(task3)));
        printf("all done after %.2f s\n", now_s() - start);
    }
    vow_unref(task1);
    vow_unref(task2);
    vow_unref(task3);
    return rc == 0 ? vow_ok_none() : vow_fail_code(rc, NULL);
}

/* deadline.set, for call_later */
static void set_event(vow_loop_t *loop, void *deadline) {
    (void)loop;
    vow_event_set(deadline);
}

static const fetch_t slow_fetch = {"url1", 1000};

/* async def demo_taskgroup_failure() */
static vow_result_t demo_taskgroup_failure(vow_loop_t *loop, void *arg) {
    (void)arg;
    printf("\n=== two tasks fail: the group cancels the rest ===\n");
    double start = now_s();
    /* both checks fail when it is set, in the same loop turn */
    vow_event_t *deadline = vow_event_new(loop);
    if (deadline == NULL) return vow_fail_code(VOW_ENOMEM, NULL);
    vow_set_timeout(loop, set_event, deadline, 100, NULL);
    /* check("host A", deadline), check("host B", deadline): static, not on this stack,
     * since a task may outlive this coroutine (when it is cancelled itself) */
    static check_t checks[2] = {{"host A", NULL}, {"host B", NULL}};
    checks[0].deadline = checks[1].deadline = deadline;
    vow_t *tasks[3];
    vow_task_group_t *tg = vow_task_group_new(loop); /* try: async with ... as tg: */
    if (tg == NULL) {
        vow_event_free(deadline);
        return vow_fail_code(VOW_ENOMEM, NULL);
    }
    tasks[0] = vow_create_task_async(loop, fetch, (void *)&slow_fetch, NULL);
    tasks[1] = vow_create_task_async(loop, check, &checks[0], NULL);
    tasks[2] = vow_create_task_async(loop, check, &checks[1], NULL);
    for (int i = 0; i < 3; i++) vow_task_group_add(tg, vow_ref(tasks[i]));
    vow_outcome_t o;
    int rc = vow_await(vow_task_group_join(tg), &o);
    vow_task_group_unref(tg);
    vow_result_t result = vow_ok_none();
    if (rc == VOW_EAGGREGATE) { /* except* ValueError as eg: */
        vow_error_t *eg = o.error;
        printf("the group failed after %.2f s with %zu errors:\n", now_s() - start,
               vow_error_count(eg));
        for (size_t i = 0; i < vow_error_count(eg); i++)
            printf("  - %s\n", vow_error_message(vow_error_at(eg, i)));
        vow_outcome_release(&o);
    } else if (rc != 0) {
        result = vow_rethrow(rc, &o); /* any other failure propagates */
    } else {
        vow_outcome_release(&o);
    }
    if (rc == 0 || rc == VOW_EAGGREGATE) {
        vow_t *t = tasks[0];
        int cancelled = vow_state(t) == VOW_REJECTED && vow_is_cancellation(vow_error(t));
        printf("url1's fetch was cancelled: %s\n", cancelled ? "yes" : "no");
    }
    for (int i = 0; i < 3; i++) vow_unref(tasks[i]);
    vow_event_free(deadline);
    return result;
}

int main(void) {
    int status = vow_main_async(demo_taskgroup, NULL); /* asyncio.run(demo_taskgroup()) */
    if (status != 0) return status;
    return vow_main_async(demo_taskgroup_failure, NULL); /* asyncio.run(demo_taskgroup_failure()) */
}
