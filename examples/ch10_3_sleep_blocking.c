/* Section 10.3, "asyncio.sleep() vs time.sleep()": three tasks under gather, first with a
 * blocking sleep inside each (they run one after the other: the loop is stuck while each
 * one sleeps), then with the loop's sleep (they overlap).
 *
 * The first half blocks on purpose: it is the mistake this section warns about.
 *
 * Python construct                     C rendering here
 * async def task(name)                 a reaction (task_body) started on a resolved
 *                                      promise: like a task, the body runs once the
 *                                      current code returns to the loop
 * time.sleep(0.5) inside a coroutine   nanosleep() inside a reaction: the loop, and every
 *                                      other task, waits (on purpose)
 * await asyncio.sleep(0.5)             return vow_follow(vow_then(vow_sleep(loop, 500),
 *                                      ...)): the reaction ends, the loop runs on
 * await asyncio.gather(a, b, c)        vow_all(loop, tasks, 3)
 * asyncio.run(main())                  vow_main(demo, NULL)
 *
 * Compare with examples/py/ch10_3_sleep_blocking.py (examples/check.py does). */
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

/* A task: body(ctx) runs in a reaction once the caller has returned to the loop. */
static vow_t *start_task(vow_loop_t *loop, vow_on_ok body, const char *name) {
    return vow_then_ok(vow_resolved(loop, vow_none()), body, (void *)name);
}

static double start;

static vow_result_t print_total(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v;
    printf("total: %.2f s (%s)\n", now_s() - start, (const char *)ctx);
    return vow_ok_none();
}

/* ---- the second half: asyncio.sleep ------------------------------------------------------ */
static vow_result_t non_blocking_finish(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v;
    printf("%s finished\n", (const char *)ctx);
    return vow_ok_none();
}

/* async def non_blocking_task(name) */
static vow_result_t non_blocking_task(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)v;
    printf("%s started\n", (const char *)ctx);
    /* await asyncio.sleep(0.5): the reaction returns at once; the rest runs at the timer */
    return vow_follow(vow_then_ok(vow_sleep(loop, 500), non_blocking_finish, ctx));
}

static vow_result_t demo_non_blocking(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)v, (void)ctx;
    printf("\n=== asyncio.sleep(): the loop runs the others meanwhile ===\n");
    /* The blocking half kept the loop from reading its clock for 1.5 s, and vow's timers
     * count from the loop's cached time: without this refresh the 0.5 s sleeps below
     * would be due at once (node and asyncio count from the current time; reported). */
    vow_loop_update_time(loop);
    start = now_s();
    vow_t *tasks[3] = {start_task(loop, non_blocking_task, "A"),
                       start_task(loop, non_blocking_task, "B"),
                       start_task(loop, non_blocking_task, "C")};
    return vow_follow(vow_then_ok(vow_all(loop, tasks, 3), print_total, "concurrent"));
}

/* ---- the first half: time.sleep ---------------------------------------------------------- */
/* async def blocking_task(name): no await inside, so it runs start to end in one go. */
static vow_result_t blocking_task(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v;
    printf("%s started\n", (const char *)ctx);
    blocking_sleep(500); /* blocks the loop: on purpose, this is the pitfall */
    printf("%s finished\n", (const char *)ctx);
    return vow_ok_none();
}

static vow_t *demo(vow_loop_t *loop, void *arg) {
    (void)arg;
    printf("=== time.sleep(): blocks the loop ===\n");
    start = now_s();
    vow_t *tasks[3] = {start_task(loop, blocking_task, "A"), start_task(loop, blocking_task, "B"),
                       start_task(loop, blocking_task, "C")};
    vow_t *blocked = vow_then_ok(vow_all(loop, tasks, 3), print_total, "one after another");
    return vow_then_ok(blocked, demo_non_blocking, NULL);
}

/* asyncio.run(main()) */
int main(void) { return vow_main(demo, NULL); }
