/* tests/test_microtask.c - vow_microtask (queueMicrotask): FIFO order, draining to empty
 * after each callback, no allocation per job in steady state, iterative drain. */
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

TestSuite(microtask, .init = vow_test_setup, .fini = vow_test_teardown, .timeout = 10);

/* A trace of events: small ints, appended in the order they happen. */
static int trace[1 << 20];
static int ntrace;
static void rec(int v) {
    cr_assert_lt(ntrace, (int)(sizeof trace / sizeof trace[0]));
    trace[ntrace++] = v;
}
static void expect_trace(const int *want, int n) {
    char got[1024] = "", *p = got;
    for (int i = 0; i < ntrace && p < got + sizeof got - 16; i++) p += sprintf(p, "%d ", trace[i]);
    cr_assert_eq(ntrace, n, "trace has %d events, want %d: %s", ntrace, n, got);
    for (int i = 0; i < n; i++)
        cr_assert_eq(trace[i], want[i], "event %d is %d, want %d: %s", i, trace[i], want[i], got);
}

static void rec_arg(vow_loop_t *loop, void *arg) {
    (void)loop;
    rec((int)(intptr_t)arg);
}

Test(microtask, fifo_order) {
    vow_loop_t *loop = vow_test_loop();
    ntrace = 0;
    int want[500];
    for (int i = 0; i < 500; i++) {
        cr_assert_eq(vow_microtask(loop, rec_arg, (void *)(intptr_t)i), 0);
        want[i] = i;
    }
    cr_assert_eq(vow_loop_alive(loop), 500);
    cr_assert_eq(ntrace, 0, "microtasks never run inside vow_microtask");
    cr_assert_eq(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    expect_trace(want, 500);
    VOW_TEST_END(loop);
}

Test(microtask, null_arguments) {
    vow_loop_t *loop = vow_test_loop();
    cr_assert_eq(vow_microtask(NULL, rec_arg, NULL), VOW_EINVAL);
    cr_assert_eq(vow_microtask(loop, NULL, NULL), VOW_EINVAL);
    cr_assert_eq(vow_loop_alive(loop), 0);
    VOW_TEST_END(loop);
}

Test(microtask, nowait_turn_drains_them) {
    vow_loop_t *loop = vow_test_loop();
    ntrace = 0;
    cr_assert_eq(vow_microtask(loop, rec_arg, (void *)1), 0);
    cr_assert_eq(vow_microtask(loop, rec_arg, (void *)2), 0);
    cr_assert_eq(vow_loop_run(loop, VOW_RUN_NOWAIT), 0);
    const int want[] = {1, 2};
    expect_trace(want, 2);
    VOW_TEST_END(loop);
}

/* A microtask that queues the next one, `depth` deep: arg encodes tag*100 + depth. */
static void nest(vow_loop_t *loop, void *arg) {
    int v = (int)(intptr_t)arg;
    rec(v);
    if (v % 100 > 0) cr_assert_eq(vow_microtask(loop, nest, (void *)(intptr_t)(v - 1)), 0);
}

Test(microtask, queued_during_a_drain_run_in_the_same_drain_before_timers) {
    vow_loop_t *loop = vow_test_loop();
    ntrace = 0;
    /* The timer is queued first and is due after 1 ms; the microtasks and all they queue
     * still run before it. */
    cr_assert_eq(vow_set_timeout(loop, rec_arg, (void *)-1, 1, NULL), 0);
    cr_assert_eq(vow_microtask(loop, nest, (void *)(intptr_t)103), 0);
    cr_assert_eq(vow_microtask(loop, nest, (void *)(intptr_t)202), 0);
    cr_assert_eq(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    /* Interleaved FIFO: each generation after the previous one. */
    const int want[] = {103, 202, 102, 201, 101, 200, 100, -1};
    expect_trace(want, 8);
    VOW_TEST_END(loop);
}

/* Timer callback: records its tag (arg), queues a nested microtask chain. */
static void timer_queues_chain(vow_loop_t *loop, void *arg) {
    int tag = (int)(intptr_t)arg;
    rec(tag);
    cr_assert_eq(vow_microtask(loop, nest, (void *)(intptr_t)(tag * 100 + 2)), 0);
}

Test(microtask, microtask_from_timer_runs_before_the_next_timer_of_the_same_turn) {
    vow_loop_t *loop = vow_test_loop();
    ntrace = 0;
    /* Three timers with one deadline: libev fires them in one turn, vow drains after
     * each callback. */
    for (int t = 1; t <= 3; t++)
        cr_assert_eq(vow_set_timeout(loop, timer_queues_chain, (void *)(intptr_t)t, 5, NULL), 0);
    cr_assert_eq(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    const int want[] = {1, 102, 101, 100, 2, 202, 201, 200, 3, 302, 301, 300};
    expect_trace(want, 12);
    VOW_TEST_END(loop);
}

Test(microtask, microtask_from_immediate_runs_before_the_next_immediate) {
    vow_loop_t *loop = vow_test_loop();
    ntrace = 0;
    for (int t = 1; t <= 3; t++)
        cr_assert_eq(vow_set_immediate(loop, timer_queues_chain, (void *)(intptr_t)t, NULL), 0);
    cr_assert_eq(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    const int want[] = {1, 102, 101, 100, 2, 202, 201, 200, 3, 302, 301, 300};
    expect_trace(want, 12);
    VOW_TEST_END(loop);
}

/* A microtask that queues a timer and an immediate: they wait for their phase, the
 * microtasks queued next to them do not. */
static void micro_schedules(vow_loop_t *loop, void *arg) {
    (void)arg;
    rec(1);
    cr_assert_eq(vow_set_immediate(loop, rec_arg, (void *)3, NULL), 0);
    cr_assert_eq(vow_microtask(loop, rec_arg, (void *)2), 0);
}

Test(microtask, a_microtask_never_waits_for_an_immediate) {
    vow_loop_t *loop = vow_test_loop();
    ntrace = 0;
    cr_assert_eq(vow_microtask(loop, micro_schedules, NULL), 0);
    cr_assert_eq(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    const int want[] = {1, 2, 3};
    expect_trace(want, 3);
    VOW_TEST_END(loop);
}

/* ---- allocation behaviour ------------------------------------------------------------- */

static long chain_left;
static long chain_calls;
static void chain(vow_loop_t *loop, void *arg) {
    chain_calls++;
    if (--chain_left > 0) {
        int rc = vow_microtask(loop, chain, arg);
        if (rc != 0) cr_assert_fail("vow_microtask in chain: %s", vow_strerror(rc));
    }
}

static void run_chain(vow_loop_t *loop, long n) {
    chain_left = n;
    chain_calls = 0;
    cr_assert_eq(vow_microtask(loop, chain, NULL), 0);
    cr_assert_eq(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    cr_assert_eq(chain_calls, n);
}

Test(microtask, a_million_chained_microtasks_drain_iteratively) {
    vow_loop_t *loop = vow_test_loop();
    /* Each microtask queues the next: a recursive drain would need a million frames. */
    run_chain(loop, 1000000);
    VOW_TEST_END(loop);
}

Test(microtask, a_million_chained_microtasks_allocate_nothing_after_warmup) {
    vow_loop_t *loop = vow_test_loop();
    run_chain(loop, 1000);
    long before = vow_test_alloc_total();
    run_chain(loop, 1000000);
    cr_assert_eq(vow_test_alloc_total() - before, 0, "%ld allocations for 1e6 microtasks",
                 vow_test_alloc_total() - before);
    VOW_TEST_END(loop);
}

static long batch_calls;
static void batch_job(vow_loop_t *loop, void *arg) {
    (void)loop;
    (void)arg;
    batch_calls++;
}

/* 1,000 rounds of 1,000 queued at once from the test body, each round drained by a
 * non-blocking turn: after the first round the ring never grows or shrinks again. */
Test(microtask, a_million_batched_microtasks_allocate_nothing_after_warmup) {
    vow_loop_t *loop = vow_test_loop();
    batch_calls = 0;
    for (int i = 0; i < 1000; i++) cr_assert_eq(vow_microtask(loop, batch_job, NULL), 0);
    cr_assert_eq(vow_loop_run(loop, VOW_RUN_NOWAIT), 0);
    cr_assert_eq(batch_calls, 1000);

    long before = vow_test_alloc_total();
    batch_calls = 0;
    for (int round = 0; round < 1000; round++) {
        for (int i = 0; i < 1000; i++) {
            int rc = vow_microtask(loop, batch_job, NULL);
            if (rc != 0) cr_assert_fail("vow_microtask: %s", vow_strerror(rc));
        }
        cr_assert_eq(vow_loop_run(loop, VOW_RUN_NOWAIT), 0);
    }
    cr_assert_eq(batch_calls, 1000000);
    cr_assert_eq(vow_test_alloc_total() - before, 0, "%ld allocations for 1e6 microtasks",
                 vow_test_alloc_total() - before);
    VOW_TEST_END(loop);
}

/* ---- out of memory -------------------------------------------------------------------- */

/* Queue microtasks, failing the first vow allocation of each call. The ring's failed
 * growth sends a job to the overflow list in a pooled record; the call that needs a new
 * chunk of records as well answers VOW_ENOMEM, its job never runs, and the ones already
 * queued still run in order. */
Test(microtask, growth_failure_is_enomem_and_loses_nothing_else) {
    vow_loop_t *loop = vow_test_loop();
    ntrace = 0;
    int queued = 0, failed_at = -1;
    for (int i = 0; i < (1 << 20) - 1 && failed_at < 0; i++) {
        vow_test_reset_counts();
        vow_test_fail_at(1);
        int rc = vow_microtask(loop, rec_arg, (void *)(intptr_t)i);
        vow_test_fail_at(0);
        if (rc == 0) {
            queued++;
        } else {
            cr_assert_eq(rc, VOW_ENOMEM, "rc %d", rc);
            cr_assert_eq(vow_test_failed_allocs(), 1);
            failed_at = i;
        }
    }
    cr_assert_geq(failed_at, 0, "the ring never had to grow");
    cr_assert_eq(vow_loop_alive(loop), queued);
    /* After the failure, queueing works again (the allocator is healthy). */
    cr_assert_eq(vow_microtask(loop, rec_arg, (void *)(intptr_t)-7), 0);
    cr_assert_eq(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    cr_assert_eq(ntrace, queued + 1);
    for (int i = 0; i < queued; i++) cr_assert_eq(trace[i], i);
    cr_assert_eq(trace[queued], -7, "the failed job must not run");
    VOW_TEST_END(loop);
}

/* A microtask still queued when the loop is freed never runs, and its arg is untouched. */
Test(microtask, dropped_by_loop_free) {
    vow_loop_t *loop = vow_test_loop();
    ntrace = 0;
    for (int i = 0; i < 10; i++) cr_assert_eq(vow_microtask(loop, rec_arg, (void *)1), 0);
    VOW_TEST_END_FORCED(loop);
    cr_assert_eq(ntrace, 0);
}
