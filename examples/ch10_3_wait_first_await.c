/* Section 10.3, "asyncio.wait()", in await form: the await form of
 * examples/ch10_3_wait_first.c (issue 16), the same program written with coroutines,
 * which reads line for line like examples/py/ch10_3_wait_first.py (check.py compares
 * them): three tasks of different lengths. wait with FIRST_COMPLETED returns as soon as
 * one is done, with the done and the still-pending tasks; a second wait collects the
 * rest. Then the same with a timeout, after which the pending tasks are cancelled and
 * awaited. (The chapter's 1, 2 and 3 s are scaled to 0.1, 0.2 and 0.3 s.)
 *
 * Python                                  vow, await form
 * asyncio.create_task(job(name, s))       vow_create_task_async(loop, job, &jobs[i], NULL)
 * done, pending = await asyncio.wait(     vow_await(vow_wait(loop, tasks, 3,
 *     tasks, return_when=FIRST_COMPLETED)     VOW_FIRST_COMPLETED, VOW_NO_TIMEOUT, 0), &o):
 *                                         vow_wait_done / vow_wait_pending of the result,
 *                                         each in input order (Python's are sets: its twin
 *                                         prints them sorted, the same order here)
 * t.result()                              vow_value(t)
 * await asyncio.wait(pending)             vow_wait over vow_ref'd pending tasks
 * t.cancel()                              vow_cancel(t): a request to the coroutine, as
 *                                         asyncio's; its await of the sleep returns
 *                                         VOW_ECANCELED, it hands that on and so ends
 * t.cancelled()                           vow_is_cancellation(vow_error(t))
 * an exception out of an await            return vow_rethrow(rc, &o): its error, handed on
 * asyncio.run(demo_wait())                vow_main_async(demo_wait, NULL)
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
    const char *name;
    uint64_t ms;
} job_t;

static const job_t jobs[3] = {{"A", 100}, {"B", 200}, {"C", 300}};

/* async def job(name, seconds) */
static vow_result_t job(vow_loop_t *loop, void *arg) {
    const job_t *j = arg;
    int rc = vow_await(vow_sleep(loop, j->ms), NULL);
    if (rc != 0) return vow_fail_code(rc, NULL); /* cancelled: pass it on */
    size_t len = (size_t)snprintf(NULL, 0, "%s done", j->name) + 1;
    char *s = malloc(len);
    if (s == NULL) return vow_fail_code(VOW_ENOMEM, NULL);
    snprintf(s, len, "%s done", j->name);
    return vow_ok(vow_ptr(s, free));
}

/* def start_jobs(): three tasks; tasks[] gets one reference to each. */
static void start_jobs(vow_loop_t *loop, vow_t *tasks[3]) {
    for (int i = 0; i < 3; i++) tasks[i] = vow_create_task_async(loop, job, (void *)&jobs[i], NULL);
}

/* print(sorted(t.result() for t in done)), as Python prints a list of strings */
static void print_done(const vow_wait_result_t *w) {
    printf("[");
    for (size_t i = 0; i < vow_wait_done_count(w); i++)
        printf("%s'%s'", i ? ", " : "",
               (const char *)vow_value_ptr(vow_value(vow_wait_done(w, i))));
    printf("]\n");
}

/* async def demo_wait() */
static vow_result_t demo_wait(vow_loop_t *loop, void *arg) {
    (void)arg;
    double start = now_s();
    printf("=== FIRST_COMPLETED, then wait for the rest ===\n");
    vow_t *tasks[3];
    start_jobs(loop, tasks);
    vow_outcome_t first, rest;
    int rc = vow_await(vow_wait(loop, tasks, 3, VOW_FIRST_COMPLETED, VOW_NO_TIMEOUT, 0), &first);
    if (rc != 0) return vow_rethrow(rc, &first);
    const vow_wait_result_t *w = vow_wait_result_of(&first.value);
    printf("first done after %.2f s: ", now_s() - start);
    print_done(w);
    size_t n = vow_wait_pending_count(w);
    printf("still running: %zu\n", n);

    /* the pending tasks kept running: wait for them (vow_wait consumes its inputs, and the
     * first result holds the pending tasks: pass references of our own) */
    vow_t *pending[3];
    for (size_t i = 0; i < n; i++) pending[i] = vow_ref(vow_wait_pending(w, i));
    vow_outcome_release(&first);
    rc = vow_await(vow_wait(loop, pending, n, VOW_ALL_COMPLETED, VOW_NO_TIMEOUT, 0), &rest);
    if (rc != 0) return vow_rethrow(rc, &rest);
    printf("all done after %.2f s: ", now_s() - start);
    print_done(vow_wait_result_of(&rest.value));
    vow_outcome_release(&rest);

    printf("\n=== a 0.15 s timeout, then cancel what is still pending ===\n");
    start = now_s();
    start_jobs(loop, tasks);
    vow_t *inputs[3];
    for (int i = 0; i < 3; i++) inputs[i] = vow_ref(tasks[i]); /* keep the tasks */
    vow_outcome_t timed;
    rc = vow_await(vow_wait(loop, inputs, 3, VOW_ALL_COMPLETED, 150, 0), &timed);
    if (rc != 0) {
        for (int i = 0; i < 3; i++) vow_unref(tasks[i]);
        return vow_rethrow(rc, &timed);
    }
    w = vow_wait_result_of(&timed.value);
    printf("after %.2f s: %zu done, %zu pending\n", now_s() - start, vow_wait_done_count(w),
           vow_wait_pending_count(w));
    n = vow_wait_pending_count(w);
    for (size_t i = 0; i < n; i++) {
        vow_cancel(vow_wait_pending(w, i)); /* t.cancel() */
        pending[i] = vow_ref(vow_wait_pending(w, i));
    }
    vow_outcome_release(&timed);
    /* let the cancellations land */
    rc = vow_await(vow_wait(loop, pending, n, VOW_ALL_COMPLETED, VOW_NO_TIMEOUT, 0), NULL);
    for (int i = 0; i < 3 && rc == 0; i++) {
        vow_t *t = tasks[i];
        if (vow_state(t) == VOW_REJECTED && vow_is_cancellation(vow_error(t)))
            printf("  cancelled\n");
        else
            printf("  %s\n", (const char *)vow_value_ptr(vow_value(t)));
    }
    for (int i = 0; i < 3; i++) vow_unref(tasks[i]);
    return rc == 0 ? vow_ok_none() : vow_fail_code(rc, NULL);
}

int main(void) { return vow_main_async(demo_wait, NULL); } /* asyncio.run(demo_wait()) */
