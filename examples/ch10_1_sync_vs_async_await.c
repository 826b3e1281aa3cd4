/* Section 10.1, "synchronous vs asynchronous", in await form: the await form of
 * examples/ch10_1_sync_vs_async.c (issue 16), the same program written with coroutines,
 * which reads line for line like examples/py/ch10_1_sync_vs_async.py (check.py compares
 * them): three tasks of 0.5 s each, first one after the other with a blocking sleep, then
 * all at once on the event loop.
 *
 * Python                               vow, await form
 * async def async_task(name, s)        static vow_result_t async_task(loop, arg): a
 *                                      coroutine body; vow_async(loop, async_task, ...)
 *                                      calls it (it runs at once up to its first await)
 * await asyncio.sleep(seconds)         vow_await(vow_sleep(loop, ms), NULL)
 * await asyncio.gather(a, b, c)        vow_await(vow_all(loop, tasks, 3), NULL)
 * asyncio.run(run_async_demo())        vow_main_async(run_async_demo, NULL)
 */
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
    blocking_sleep(ms); /* blocks everything: nothing else can run meanwhile */
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

/* async def async_task(name, seconds): arg is the name (a string literal); 0.5 s each. */
static vow_result_t async_task(vow_loop_t *loop, void *arg) {
    const char *name = arg;
    printf("%s started\n", name);
    int rc = vow_await(vow_sleep(loop, 500), NULL); /* yields to the event loop meanwhile */
    if (rc != 0) return vow_fail_code(rc, NULL);    /* cancelled: pass it on */
    printf("%s finished\n", name);
    return vow_ok_none();
}

/* async def run_async_demo() */
static vow_result_t run_async_demo(vow_loop_t *loop, void *arg) {
    (void)arg;
    printf("=== asynchronous: concurrently (0.5 s each) ===\n");
    double start = now_s();
    vow_t *tasks[3] = {
        vow_async(loop, async_task, "task 1", NULL),
        vow_async(loop, async_task, "task 2", NULL),
        vow_async(loop, async_task, "task 3", NULL),
    };
    int rc = vow_await(vow_all(loop, tasks, 3), NULL);
    if (rc != 0) return vow_fail_code(rc, NULL);
    printf("asynchronous total: %.2f s\n", now_s() - start);
    return vow_ok_none();
}

int main(void) {
    run_sync_demo();
    return vow_main_async(run_async_demo, NULL); /* asyncio.run(run_async_demo()) */
}
