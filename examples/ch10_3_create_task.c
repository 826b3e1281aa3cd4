/* Section 10.3, "asyncio.create_task()": two tasks are scheduled and the caller carries on
 * at once; the tasks start only when the caller next lets the event loop run, then sleep
 * concurrently, and are awaited afterwards for their results. (The chapter's 1 s and
 * 0.5 s are scaled to 0.2 s and 0.1 s.)
 *
 * Python construct                      C rendering here
 * async def background_task(name, s)    background_task(): the task body, a vow_task_fn;
 *                                       prints, then returns vow_then_ok(vow_sleep(...), ...)
 * asyncio.create_task(coro)             vow_create_task(loop, background_task, job, NULL):
 *                                       the body runs from an immediate on the next loop
 *                                       turn, as asyncio's call_soon, so the prints after
 *                                       it come first
 * result1 = await task1                 vow_then_ok(task1, got_first, ...), which returns
 * result2 = await task2                 vow_follow(task2) to await the second one
 * asyncio.run(demo_create_task())       vow_main(demo_create_task, NULL)
 *
 * Compare with examples/py/ch10_3_create_task.py (examples/check.py does). */
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

static const job_t jobs[2] = {{"task 1", 200}, {"task 2", 100}};

/* The rest of background_task after its await. */
static vow_result_t finished(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v;
    const job_t *job = ctx;
    printf("%s finishes\n", job->name);
    size_t len = (size_t)snprintf(NULL, 0, "%s's result", job->name) + 1;
    char *s = malloc(len);
    if (s == NULL) return vow_fail_code(VOW_ENOMEM, NULL);
    snprintf(s, len, "%s's result", job->name);
    return vow_ok(vow_ptr(s, free));
}

/* async def background_task(name, seconds): the body of a task. */
static vow_t *background_task(vow_loop_t *loop, void *arg) {
    const job_t *job = arg;
    printf("%s starts\n", job->name);
    return vow_then_ok(vow_sleep(loop, job->ms), finished, (void *)job);
}

/* What the coroutine keeps between its two awaits. */
typedef struct {
    double start;
    vow_t *task2;        /* owned until awaited */
    vow_value_t result1; /* owned once task 1 is done */
} demo_t;

/* print(f"results: ..."), after `result2 = await task2` */
static vow_result_t got_second(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    demo_t *d = ctx;
    printf("\nresults: %s, %s\n", (const char *)vow_value_ptr(&d->result1),
           (const char *)vow_value_ptr(v));
    printf("total: %.2f s (the longer task, not the sum)\n", now_s() - d->start);
    return vow_ok_none();
}

/* result1 = await task1; then await task2 */
static vow_result_t got_first(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    demo_t *d = ctx;
    d->result1 = vow_value_share(v); /* keep it past this reaction */
    vow_t *task2 = d->task2;
    d->task2 = NULL;
    return vow_follow(task2);
}

static void demo_free(void *ctx) {
    demo_t *d = ctx;
    vow_unref(d->task2);
    vow_value_release(&d->result1);
    free(d);
}

/* async def demo_create_task() */
static vow_t *demo_create_task(vow_loop_t *loop, void *arg) {
    (void)arg;
    demo_t *d = calloc(1, sizeof *d);
    if (d == NULL) return NULL;
    d->start = now_s();
    d->result1 = vow_none();
    /* create_task schedules the body and returns at once: nothing has run yet */
    vow_t *task1 = vow_create_task(loop, background_task, (void *)&jobs[0], NULL);
    d->task2 = vow_create_task(loop, background_task, (void *)&jobs[1], NULL);

    printf("tasks created, doing something else meanwhile\n");
    printf("(the tasks have not started yet: this code runs first)\n");

    /* awaiting a task gives the loop a turn; both tasks run concurrently */
    vow_t *first = vow_then_ok(task1, got_first, d);
    return vow_then(first, got_second, NULL, d, demo_free);
}

/* asyncio.run(demo_create_task()) */
int main(void) { return vow_main(demo_create_task, NULL); }
