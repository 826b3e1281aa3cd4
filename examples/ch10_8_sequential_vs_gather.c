/* Section 10.8, pitfall 5, "awaiting one after another instead of concurrently": three
 * independent 0.5 s operations (the chapter's 1 s, halved), first awaited in turn (the
 * times add up), then gathered (they overlap).
 *
 * Python construct                 C rendering here
 * async def slow_operation(name)   slow_operation(): vow_then_ok(vow_sleep(loop, 500), ...)
 *                                  fulfilled with a malloc'd "<name> done"
 * r1 = await slow_operation("A")   a chain: each step's reaction keeps the result and
 * r2 = await slow_operation("B")   returns vow_follow(the next operation), so B starts
 * r3 = await slow_operation("C")   only when A has finished
 * r1, r2, r3 = await gather(...)   vow_all(loop, ops, 3): all three start at once; the
 *                                  list holds the results in argument order
 * asyncio.run(demo())              vow_main(demo, NULL)
 *
 * Compare with examples/py/ch10_8_sequential_vs_gather.py (examples/check.py does). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vow.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *const names[3] = {"A", "B", "C"};
static char results[3][32]; /* r1, r2, r3 */
static double start;

static vow_result_t operation_done(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v;
    size_t len = strlen(ctx) + sizeof " done";
    char *s = malloc(len);
    if (s == NULL) return vow_fail_code(VOW_ENOMEM, NULL);
    snprintf(s, len, "%s done", (const char *)ctx);
    return vow_ok(vow_ptr(s, free));
}

/* async def slow_operation(name): await asyncio.sleep(0.5); return f"{name} done" */
static vow_t *slow_operation(vow_loop_t *loop, const char *name) {
    return vow_then_ok(vow_sleep(loop, 500), operation_done, (void *)name);
}

static void print_results(void) {
    printf("results: %s, %s, %s\n", results[0], results[1], results[2]);
    printf("time: %.2f s\n", now_s() - start);
}

/* ---- right: gather ------------------------------------------------------------------------ */
static vow_result_t gathered(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)ctx;
    const vow_list_t *l = vow_list_of(v);
    for (size_t i = 0; i < 3; i++)
        snprintf(results[i], sizeof results[i], "%s",
                 (const char *)vow_value_ptr(vow_list_value(l, i)));
    print_results();
    return vow_ok_none();
}

static vow_t *demo_gather(vow_loop_t *loop) {
    printf("=== gather (fast) ===\n");
    start = now_s();
    vow_t *ops[3] = {slow_operation(loop, "A"), slow_operation(loop, "B"),
                     slow_operation(loop, "C")};
    return vow_then_ok(vow_all(loop, ops, 3), gathered, NULL);
}

/* ---- wrong: one await after another --------------------------------------------------------- */
/* r<i+1> = await ...: keep result i, then start the next operation (or go on). */
static vow_result_t sequential_step(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    size_t i = (size_t)(uintptr_t)ctx;
    snprintf(results[i], sizeof results[i], "%s", (const char *)vow_value_ptr(v));
    if (i + 1 < 3)
        return vow_follow(vow_then_ok(slow_operation(loop, names[i + 1]), sequential_step,
                                      (void *)(uintptr_t)(i + 1)));
    print_results();
    printf("\n");
    return vow_follow(demo_gather(loop)); /* the next part of the coroutine */
}

static vow_t *demo(vow_loop_t *loop, void *arg) {
    (void)arg;
    printf("=== one await after another (slow) ===\n");
    start = now_s();
    return vow_then_ok(slow_operation(loop, names[0]), sequential_step, (void *)(uintptr_t)0);
}

/* asyncio.run(demo()) */
int main(void) { return vow_main(demo, NULL); }
