/* Section 10.3, "asyncio.sleep() vs time.sleep()", in await form: the await form of
 * examples/ch10_3_sleep_blocking.c (issue 16), the same program written with coroutines,
 * which reads line for line like examples/py/ch10_3_sleep_blocking.py (check.py compares
 * them): three tasks under gather, first with a blocking sleep inside each (they run one
 * after the other: the loop is stuck while each one sleeps), then with the loop's sleep
 * (they overlap).
 *
 * The first half blocks on purpose: it is the mistake this section warns about.
 *
 * Python                               vow, await form
 * async def blocking_task(name)        static vow_result_t blocking_task(loop, arg)
 * time.sleep(0.5) inside a coroutine   nanosleep(): the loop, and every other coroutine,
 *                                      waits (on purpose)
 * await asyncio.sleep(0.5)             vow_await(vow_sleep(loop, 500), NULL): this
 *                                      coroutine waits, the loop runs the others
 * await asyncio.gather(a, b, c)        vow_await(vow_all(loop, tasks, 3), NULL)
 * asyncio.run(main())                  vow_main_async(amain, NULL)
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

/* time.sleep: the thread, and so the loop, does nothing else meanwhile. */
static void blocking_sleep(unsigned ms) {
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* async def blocking_task(name): arg is the name (a string literal) */
static vow_result_t blocking_task(vow_loop_t *loop, void *arg) {
    (void)loop;
    printf("%s started\n", (const char *)arg);
    blocking_sleep(500); /* blocks the event loop: no other coroutine can run */
    printf("%s finished\n", (const char *)arg);
    return vow_ok_none();
}

/* async def non_blocking_task(name) */
static vow_result_t non_blocking_task(vow_loop_t *loop, void *arg) {
    printf("%s started\n", (const char *)arg);
    int rc = vow_await(vow_sleep(loop, 500), NULL); /* suspends this coroutine only */
    if (rc != 0) return vow_fail_code(rc, NULL);    /* cancelled: pass it on */
    printf("%s finished\n", (const char *)arg);
    return vow_ok_none();
}

/* asyncio.gather(task("A"), task("B"), task("C")), awaited */
static int gather3(vow_loop_t *loop, vow_async_fn task) {
    vow_t *tasks[3] = {vow_async(loop, task, "A", NULL), vow_async(loop, task, "B", NULL),
                       vow_async(loop, task, "C", NULL)};
    return vow_await(vow_all(loop, tasks, 3), NULL);
}

/* async def main() */
static vow_result_t amain(vow_loop_t *loop, void *arg) {
    (void)arg;
    printf("=== time.sleep(): blocks the loop ===\n");
    double start = now_s();
    int rc = gather3(loop, blocking_task);
    if (rc != 0) return vow_fail_code(rc, NULL);
    printf("total: %.2f s (one after another)\n", now_s() - start);

    printf("\n=== asyncio.sleep(): the loop runs the others meanwhile ===\n");
    start = now_s();
    rc = gather3(loop, non_blocking_task);
    if (rc != 0) return vow_fail_code(rc, NULL);
    printf("total: %.2f s (concurrent)\n", now_s() - start);
    return vow_ok_none();
}

int main(void) { return vow_main_async(amain, NULL); } /* asyncio.run(main()) */
