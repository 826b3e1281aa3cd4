/* Section 10.3, "asyncio.create_task()", in await form: the await form of
 * examples/ch10_3_create_task.c (issue 16), the same program written with coroutines,
 * which reads line for line like examples/py/ch10_3_create_task.py (check.py compares
 * them): two tasks are scheduled and the caller carries on at once; the tasks start only
 * when the caller next lets the event loop run, then sleep concurrently, and are awaited
 * afterwards for their results. (The chapter's 1 s and 0.5 s are scaled to 0.2 s and
 * 0.1 s.)
 *
 * Python                                vow, await form
 * async def background_task(name, s)    static vow_result_t background_task(loop, arg)
 * asyncio.create_task(coro)             vow_create_task_async(loop, background_task, job,
 *                                       NULL): the body starts on the next loop turn, as
 *                                       asyncio's call_soon, so the prints after it come
 *                                       first
 * result1 = await task1                 vow_await(task1, &result1)
 * an exception out of an await          return vow_rethrow(rc, &o): its error, handed on
 * asyncio.run(demo_create_task())       vow_main_async(demo_create_task, NULL)
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

static const job_t jobs[2] = {{"task 1", 200}, {"task 2", 100}};

/* async def background_task(name, seconds) */
static vow_result_t background_task(vow_loop_t *loop, void *arg) {
    const job_t *job = arg;
    printf("%s starts\n", job->name);
    int rc = vow_await(vow_sleep(loop, job->ms), NULL);
    if (rc != 0) return vow_fail_code(rc, NULL); /* cancelled: pass it on */
    printf("%s finishes\n", job->name);
    size_t len = (size_t)snprintf(NULL, 0, "%s's result", job->name) + 1;
    char *s = malloc(len);
    if (s == NULL) return vow_fail_code(VOW_ENOMEM, NULL);
    snprintf(s, len, "%s's result", job->name);
    return vow_ok(vow_ptr(s, free)); /* return f"{name}'s result" */
}

/* async def demo_create_task() */
static vow_result_t demo_create_task(vow_loop_t *loop, void *arg) {
    (void)arg;
    double start = now_s();
    /* create_task schedules the coroutine and returns at once: nothing has run yet */
    vow_t *task1 = vow_create_task_async(loop, background_task, (void *)&jobs[0], NULL);
    vow_t *task2 = vow_create_task_async(loop, background_task, (void *)&jobs[1], NULL);

    printf("tasks created, doing something else meanwhile\n");
    printf("(the tasks have not started yet: this code runs first)\n");

    /* awaiting a task gives the loop a turn; both tasks run concurrently */
    vow_outcome_t result1, result2;
    int rc = vow_await(task1, &result1);
    if (rc != 0) {
        vow_unref(task2);
        return vow_rethrow(rc, &result1);
    }
    rc = vow_await(task2, &result2);
    if (rc != 0) {
        vow_outcome_release(&result1);
        return vow_rethrow(rc, &result2);
    }

    printf("\nresults: %s, %s\n", (const char *)vow_value_ptr(&result1.value),
           (const char *)vow_value_ptr(&result2.value));
    printf("total: %.2f s (the longer task, not the sum)\n", now_s() - start);
    vow_outcome_release(&result1);
    vow_outcome_release(&result2);
    return vow_ok_none();
}

int main(void) {
    return vow_main_async(demo_create_task, NULL); /* asyncio.run(demo_create_task()) */
}
