/* Section 10.1, "synchronous vs asynchronous": three tasks of 0.5 s each, first one after
 * the other with a blocking sleep, then all at once on the event loop.
 *
 * Python construct                 C rendering here
 * time.sleep(0.5)                  nanosleep(): blocks the whole thread (on purpose, and
 *                                  only in the synchronous half, before any loop runs)
 * async def async_task(name, s)    async_task(): prints, then returns the promise
 *                                  vow_then_ok(vow_sleep(loop, ms), task_finished, ...)
 * await asyncio.sleep(0.5)         vow_sleep(loop, 500); the code after the await is the
 *                                  then reaction (task_finished)
 * await asyncio.gather(a, b, c)    vow_all(loop, tasks, 3), then a reaction that prints
 * asyncio.run(run_async_demo())    vow_main(run_async_demo, &start): runs the main promise,
 *                                  cancels what is left, frees the loop, exit status
 *
 * Compare with examples/py/ch10_1_sync_vs_async.py (examples/check.py does). */
#include <errno.h>
#include <stdio.h>
#include <time.h>

#include "vow.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* time.sleep: the thread does nothing else meanwhile. */
static void blocking_sleep(unsigned ms) {
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* def sync_task(name, seconds) */
static void sync_task(const char *name, unsigned ms) {
    printf("%s started\n", name);
    blocking_sleep(ms);
    printf("%s finished\n", name);
}

static void run_sync_demo(void) {
    printf("=== synchronous: one after the other (0.5 s each) ===\n");
    double start = now_s();
    sync_task("task 1", 500);
    sync_task("task 2", 500);
    sync_task("task 3", 500);
    printf("synchronous total: %.2f s\n", now_s() - start);
}

/* The rest of async_task after its await. ctx is the task's name (a string literal). */
static vow_result_t task_finished(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v;
    printf("%s finished\n", (const char *)ctx);
    return vow_ok_none();
}

/* async def async_task(name, seconds) */
static vow_t *async_task(vow_loop_t *loop, const char *name, uint64_t ms) {
    printf("%s started\n", name);
    return vow_then_ok(vow_sleep(loop, ms), task_finished, (void *)name);
}

static vow_result_t all_done(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v;
    printf("asynchronous total: %.2f s\n", now_s() - *(const double *)ctx);
    return vow_ok_none();
}

/* async def run_async_demo(): the three tasks run concurrently under gather. `start` (a
 * double of main's) is where the start time is kept for all_done. */
static vow_t *run_async_demo(vow_loop_t *loop, void *start) {
    printf("=== asynchronous: concurrently (0.5 s each) ===\n");
    *(double *)start = now_s();
    vow_t *tasks[3] = {async_task(loop, "task 1", 500), async_task(loop, "task 2", 500),
                       async_task(loop, "task 3", 500)};
    return vow_then_ok(vow_all(loop, tasks, 3), all_done, start);
}

int main(void) {
    run_sync_demo();
    double start;
    return vow_main(run_async_demo, &start); /* asyncio.run(run_async_demo()) */
}
