/* Section 10.8, pitfall 5, "awaiting one after another instead of concurrently", in await
 * form: the await form of examples/ch10_8_sequential_vs_gather.c (issue 16), the same
 * program written with coroutines, which reads line for line like
 * examples/py/ch10_8_sequential_vs_gather.py (check.py compares them): three independent
 * 0.5 s operations (the chapter's 1 s, halved), first awaited in turn (the times add up),
 * then gathered (they overlap).
 *
 * Python                                vow, await form
 * async def slow_operation(name)        a coroutine body; arg is the name; returns a
 *                                       malloc'd "<name> done" its promise owns
 * r1 = await slow_operation("A")        vow_await(vow_async(loop, slow_operation, "A"), &r1):
 *                                       B starts only once A has finished
 * r1, r2, r3 = await asyncio.gather(    vow_await(vow_all(loop, ops, 3), &all): the three
 *     slow_operation("A"), ...)         vow_async calls start all three before the await;
 *                                       the list holds the results in argument order
 * an exception out of an await          return vow_rethrow(rc, &o): its error, handed on
 * asyncio.run(demo())                   vow_main_async(demo, NULL)
 */
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

/* async def slow_operation(name) */
static vow_result_t slow_operation(vow_loop_t *loop, void *arg) {
    const char *name = arg;
    vow_outcome_t o;
    int rc = vow_await(vow_sleep(loop, 500), &o);
    if (rc != 0) return vow_rethrow(rc, &o);
    size_t len = strlen(name) + sizeof " done";
    char *s = malloc(len);
    if (s == NULL) return vow_fail_code(VOW_ENOMEM, NULL);
    snprintf(s, len, "%s done", name);
    return vow_ok(vow_ptr(s, free)); /* return f"{name} done" */
}

static vow_t *op(vow_loop_t *loop, const char *name) { /* the call slow_operation(name) */
    return vow_async(loop, slow_operation, (void *)name, NULL);
}

static const char *str(const vow_value_t *v) { return vow_value_ptr(v); }

/* async def demo() */
static vow_result_t demo(vow_loop_t *loop, void *arg) {
    (void)arg;
    vow_outcome_t r1, r2, r3, all;
    int rc;

    printf("=== one await after another (slow) ===\n");
    double start = now_s();
    if ((rc = vow_await(op(loop, "A"), &r1)) != 0) return vow_rethrow(rc, &r1);
    if ((rc = vow_await(op(loop, "B"), &r2)) != 0) { /* starts only once A has finished */
        vow_outcome_release(&r1);
        return vow_rethrow(rc, &r2);
    }
    if ((rc = vow_await(op(loop, "C"), &r3)) != 0) {
        vow_outcome_release(&r1);
        vow_outcome_release(&r2);
        return vow_rethrow(rc, &r3);
    }
    printf("results: %s, %s, %s\n", str(&r1.value), str(&r2.value), str(&r3.value));
    printf("time: %.2f s\n\n", now_s() - start);
    vow_outcome_release(&r1);
    vow_outcome_release(&r2);
    vow_outcome_release(&r3);

    printf("=== gather (fast) ===\n");
    start = now_s();
    vow_t *ops[3] = {op(loop, "A"), op(loop, "B"), op(loop, "C")};
    if ((rc = vow_await(vow_all(loop, ops, 3), &all)) != 0) return vow_rethrow(rc, &all);
    const vow_list_t *l = vow_list_of(&all.value); /* r1, r2, r3 = ... */
    printf("results: %s, %s, %s\n", str(vow_list_value(l, 0)), str(vow_list_value(l, 1)),
           str(vow_list_value(l, 2)));
    printf("time: %.2f s\n", now_s() - start);
    vow_outcome_release(&all);
    return vow_ok_none();
}

int main(void) { return vow_main_async(demo, NULL); } /* asyncio.run(demo()) */
