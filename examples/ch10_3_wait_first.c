/* Section 10.3, "asyncio.wait()": three tasks of different lengths. wait with
 * FIRST_COMPLETED returns as soon as one is done, with the done and the still-pending tasks;
 * a second wait collects the rest. Then the same with a timeout, after which the pending
 * tasks are cancelled. (The chapter's 1, 2 and 3 s are scaled to 0.1, 0.2 and 0.3 s.)
 *
 * Python construct                        C rendering here
 * asyncio.create_task(job(name, s))       vow_create_task(loop, job, &jobs[i], NULL)
 * done, pending = await asyncio.wait(     vow_wait(loop, tasks, 3, VOW_FIRST_COMPLETED,
 *     tasks, return_when=FIRST_COMPLETED)     VOW_NO_TIMEOUT, 0), fulfilled with a wait
 *                                         result: vow_wait_done / vow_wait_pending, each
 *                                         in input order (Python's are sets: its twin
 *                                         prints them sorted, which is the same order here)
 * t.result()                              vow_value(vow_wait_done(w, i))
 * await asyncio.wait(pending)             vow_wait over vow_ref'd pending tasks: they kept
 *                                         running, and are still live promises
 * asyncio.wait(tasks, timeout=0.15)       vow_wait(..., 150, VOW_WAIT_CANCEL_PENDING): the
 * for t in pending: t.cancel()            timeout never rejects and never cancels by
 *                                         itself; the flag cancels what is still pending
 * t.cancelled()                           vow_is_cancellation(vow_error(t))
 *
 * Compare with examples/py/ch10_3_wait_first.py (examples/check.py does). */
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

static vow_result_t job_done(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v;
    const job_t *job = ctx;
    size_t len = (size_t)snprintf(NULL, 0, "%s done", job->name) + 1;
    char *s = malloc(len);
    if (s == NULL) return vow_fail_code(VOW_ENOMEM, NULL);
    snprintf(s, len, "%s done", job->name);
    return vow_ok(vow_ptr(s, free));
}

/* async def job(name, seconds): the body of each task. */
static vow_t *job(vow_loop_t *loop, void *arg) {
    const job_t *j = arg;
    return vow_then_ok(vow_sleep(loop, j->ms), job_done, (void *)j);
}

static void start_jobs(vow_loop_t *loop, vow_t *tasks[3]) {
    for (int i = 0; i < 3; i++) tasks[i] = vow_create_task(loop, job, (void *)&jobs[i], NULL);
}

/* Prints the results of the done inputs as Python prints a list of strings. */
static void print_done(const vow_wait_result_t *w) {
    printf("[");
    for (size_t i = 0; i < vow_wait_done_count(w); i++)
        printf("%s'%s'", i ? ", " : "",
               (const char *)vow_value_ptr(vow_value(vow_wait_done(w, i))));
    printf("]\n");
}

static double start;

/* ---- part 2: a timeout, then cancel what is still pending -------------------------------- */

/* The three tasks of part 2, kept (vow_ref) to print how each ended. */
typedef struct {
    vow_t *tasks[3];
} kept_t;

static void kept_free(void *ctx) {
    kept_t *k = ctx;
    for (int i = 0; i < 3; i++) vow_unref(k->tasks[i]);
    free(k);
}

static vow_result_t after_timeout(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    const kept_t *k = ctx;
    const vow_wait_result_t *w = vow_wait_result_of(v);
    printf("after %.2f s: %zu done, %zu pending\n", now_s() - start, vow_wait_done_count(w),
           vow_wait_pending_count(w));
    /* VOW_WAIT_CANCEL_PENDING has cancelled the pending tasks already: in vow a cancel
     * settles the task at once, so there is nothing more to wait for. */
    for (int i = 0; i < 3; i++) {
        vow_t *t = k->tasks[i];
        if (vow_state(t) == VOW_REJECTED && vow_is_cancellation(vow_error(t)))
            printf("  cancelled\n");
        else
            printf("  %s\n", (const char *)vow_value_ptr(vow_value(t)));
    }
    return vow_ok_none();
}

static vow_t *demo_timeout(vow_loop_t *loop) {
    printf("\n=== a 0.15 s timeout, then cancel what is still pending ===\n");
    start = now_s();
    kept_t *k = malloc(sizeof *k);
    if (k == NULL) return NULL;
    start_jobs(loop, k->tasks);
    vow_t *tasks[3];
    for (int i = 0; i < 3; i++) tasks[i] = vow_ref(k->tasks[i]);
    vow_t *w = vow_wait(loop, tasks, 3, VOW_ALL_COMPLETED, 150, VOW_WAIT_CANCEL_PENDING);
    return vow_then(w, after_timeout, NULL, k, kept_free);
}

/* ---- part 1: FIRST_COMPLETED, then wait for the rest -------------------------------------- */

static vow_result_t all_done(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)ctx;
    const vow_wait_result_t *w = vow_wait_result_of(v);
    printf("all done after %.2f s: ", now_s() - start);
    print_done(w);
    return vow_follow(demo_timeout(loop));
}

static vow_result_t first_done(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)ctx;
    const vow_wait_result_t *w = vow_wait_result_of(v);
    printf("first done after %.2f s: ", now_s() - start);
    print_done(w);
    size_t n = vow_wait_pending_count(w);
    printf("still running: %zu\n", n);

    /* The pending tasks kept running: wait for them. vow_wait consumes its inputs, and
     * the wait result owns its references, so pass new ones. */
    vow_t *pending[3];
    for (size_t i = 0; i < n; i++) pending[i] = vow_ref(vow_wait_pending(w, i));
    vow_t *rest = vow_wait(loop, pending, n, VOW_ALL_COMPLETED, VOW_NO_TIMEOUT, 0);
    return vow_follow(vow_then_ok(rest, all_done, NULL));
}

/* async def demo_wait() */
static vow_t *demo_wait(vow_loop_t *loop, void *arg) {
    (void)arg;
    start = now_s();
    printf("=== FIRST_COMPLETED, then wait for the rest ===\n");
    vow_t *tasks[3];
    start_jobs(loop, tasks);
    vow_t *w = vow_wait(loop, tasks, 3, VOW_FIRST_COMPLETED, VOW_NO_TIMEOUT, 0);
    return vow_then_ok(w, first_done, NULL);
}

/* asyncio.run(demo_wait()) */
int main(void) { return vow_main(demo_wait, NULL); }
