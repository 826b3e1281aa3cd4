/* The job queue (src/microtask.c): one FIFO of intrusive nodes. Promise reactions queue
 * themselves through their records (never failing, never allocating), user microtasks
 * in a pooled node of their own, and FIFO order holds between the two at any length. */
#include <stdint.h>

#include "helpers.h"
#include "../src/internal.h"

TestSuite(job_queue, .init = vow_test_setup, .fini = vow_test_teardown, .timeout = 10);

enum { N = 20000 };
static int order[2 * N];
static int order_len;

static void mark(vow_loop_t *loop, void *arg) {
    (void)loop;
    order[order_len++] = (int)(intptr_t)arg;
}

static vow_result_t mark_ok(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v;
    order[order_len++] = (int)(intptr_t)ctx;
    return vow_ok_none();
}

/* Reactions and microtasks interleaved, far past any ring size: FIFO. */
Test(job_queue, reactions_and_microtasks_keep_fifo_order) {
    vow_loop_t *loop = vow_test_loop();
    order_len = 0;
    vow_t *p = vow_resolved(loop, vow_int(1));
    static vow_t *ds[N];
    for (int i = 0; i < N; i++) {
        if (i % 2 == 0) {
            cr_assert_not_null(ds[i] =
                                   vow_then(vow_ref(p), mark_ok, NULL, (void *)(intptr_t)i, NULL));
        } else {
            ds[i] = NULL;
            cr_assert_eq(vow_microtask(loop, mark, (void *)(intptr_t)i), 0);
        }
    }
    cr_assert_eq(vow_loop_alive(loop), N);
    cr_assert_eq(vow_loop_verify(loop), 0);
    cr_assert_eq(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    cr_assert_eq(order_len, N);
    for (int i = 0; i < N; i++) cr_assert_eq(order[i], i, "job %d ran as %d", i, order[i]);
    for (int i = 0; i < N; i += 2) {
        cr_assert_eq(vow_state(ds[i]), VOW_FULFILLED);
        vow_unref(ds[i]);
    }
    vow_unref(p);
    VOW_TEST_END(loop);
}

/* Queueing a reaction allocates nothing: with every allocation failing, a then on a
 * settled promise still queues (its node was allocated before). */
Test(job_queue, queueing_a_reaction_never_allocates) {
    vow_loop_t *loop = vow_test_loop();
    order_len = 0;
    vow_t *p = vow_new(loop);
    vow_t *a = vow_then(vow_ref(p), mark_ok, NULL, (void *)(intptr_t)5, NULL);
    cr_assert_not_null(a);
    vow_test_reset_counts();
    vow_test_fail_at(1);
    cr_assert_eq(vow_resolve(p, vow_int(1)), 0);
    cr_assert_eq(vow_test_alloc_total(), 0, "settling allocated");
    vow_test_fail_at(0);
    cr_assert_eq(vow_loop_alive(loop), 1);
    cr_assert_eq(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    cr_assert_eq(order_len, 1);
    cr_assert_eq(order[0], 5);
    vow_unref(a);
    vow_unref(p);
    VOW_TEST_END(loop);
}

/* A microtask that cannot be queued (its ring cannot grow, or the marker of a new run
 * cannot be had) is refused with VOW_ENOMEM and queues nothing; freeing the loop drops
 * the waiting ones, running none. */
Test(job_queue, a_microtask_that_cannot_be_queued_is_refused_and_waiting_ones_are_dropped) {
    vow_loop_t *loop = vow_test_loop_without_pools();
    order_len = 0;
    /* The ring's first 16 slots, one run (the loop's own marker). */
    for (int i = 0; i < 16; i++) cr_assert_eq(vow_microtask(loop, mark, (void *)(intptr_t)i), 0);
    vow_test_reset_counts();
    vow_test_fail_at(1); /* the ring's growth */
    VOW_ASSERT_CODE(vow_microtask(loop, mark, (void *)(intptr_t)-1), VOW_ENOMEM);
    vow_test_fail_at(0);
    VOW_ASSERT_EQ(vow_test_failed_allocs(), 1);
    VOW_ASSERT_EQ(vow_loop_alive(loop), 16, "the refused microtask was queued");
    /* A reaction after the run, then a microtask: a new run needs a marker of its own (the
     * loop's is queued), from the pool, here one allocation. */
    vow_t *a = vow_then(vow_resolved(loop, vow_int(1)), mark_ok, NULL, (void *)(intptr_t)50, NULL);
    cr_assert_not_null(a);
    cr_assert_eq(vow_microtask(loop, mark, (void *)(intptr_t)16), 0); /* the ring grows */
    vow_test_reset_counts();
    vow_test_fail_at(1);
    cr_assert_eq(vow_microtask(loop, mark, (void *)(intptr_t)17), 0, "joins the tail's run");
    VOW_ASSERT_EQ(vow_test_alloc_total(), 0, "joining a run allocates nothing");
    vow_test_fail_at(0);
    vow_unref(vow_then(vow_resolved(loop, vow_int(1)), mark_ok, NULL, NULL, NULL));
    vow_test_reset_counts();
    vow_test_fail_at(1); /* the new run's marker */
    VOW_ASSERT_CODE(vow_microtask(loop, mark, (void *)(intptr_t)-2), VOW_ENOMEM);
    vow_test_fail_at(0);
    VOW_ASSERT_EQ(vow_loop_alive(loop), 20); /* 18 microtasks, 2 reactions */
    cr_assert_eq(vow_loop_verify(loop), 0);
    vow_unref(a);
    VOW_TEST_END_FORCED(loop);
    VOW_ASSERT_EQ(order_len, 0, "nothing ran");
}

/* Runs of microtasks between reactions keep their places; a microtask queued by one of a
 * run's entries runs after everything queued before it, not inside its run. */
static vow_loop_t *nest_loop;
static void nest(vow_loop_t *loop, void *arg) {
    order[order_len++] = (int)(intptr_t)arg;
    if ((intptr_t)arg == 1) cr_assert_eq(vow_microtask(loop, mark, (void *)(intptr_t)9), 0);
}

Test(job_queue, runs_of_microtasks_keep_their_places) {
    vow_loop_t *loop = nest_loop = vow_test_loop();
    order_len = 0;
    vow_t *p = vow_resolved(loop, vow_int(1));
    cr_assert_eq(vow_microtask(loop, nest, (void *)(intptr_t)1), 0);
    cr_assert_eq(vow_microtask(loop, nest, (void *)(intptr_t)2), 0);
    vow_t *a = vow_then(vow_ref(p), mark_ok, NULL, (void *)(intptr_t)3, NULL);
    cr_assert_eq(vow_microtask(loop, nest, (void *)(intptr_t)4), 0);
    vow_t *b = vow_then(vow_ref(p), mark_ok, NULL, (void *)(intptr_t)5, NULL);
    cr_assert_eq(vow_microtask(loop, nest, (void *)(intptr_t)6), 0);
    cr_assert_eq(vow_microtask(loop, nest, (void *)(intptr_t)7), 0);
    VOW_ASSERT_EQ(vow_loop_alive(loop), 7);
    cr_assert_eq(vow_loop_verify(loop), 0);
    cr_assert_eq(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    static const int want[] = {1, 2, 3, 4, 5, 6, 7, 9};
    VOW_ASSERT_EQ(order_len, 8);
    for (int i = 0; i < 8; i++) VOW_ASSERT_EQ(order[i], want[i], "job %d", i);
    vow_unref(a);
    vow_unref(b);
    vow_unref(p);
    VOW_TEST_END(loop);
}

/* vow_loop_free with queued jobs whose destructors queue more (a microtask, a settlement
 * with a reaction): everything is dropped, nothing runs, nothing leaks. */
static vow_t *settle_on_free;
static void queue_more(void *ctx) {
    vow_loop_t *loop = ctx;
    (void)vow_microtask(loop, mark, (void *)(intptr_t)-1);
    if (settle_on_free != NULL) {
        vow_t *p = settle_on_free;
        settle_on_free = NULL;
        (void)vow_resolve(p, vow_int(1));
        vow_unref(p);
    }
}

Test(job_queue, destructors_that_queue_jobs_while_the_loop_is_freed) {
    vow_loop_t *loop = vow_test_loop();
    order_len = 0;
    vow_t *p = vow_resolved(loop, vow_int(1));
    settle_on_free = vow_new(loop);
    vow_unref(vow_then(vow_ref(settle_on_free), mark_ok, NULL, (void *)(intptr_t)-2, NULL));
    for (int i = 0; i < 100; i++) vow_unref(vow_then(vow_ref(p), mark_ok, NULL, NULL, NULL));
    vow_unref(vow_then(vow_ref(p), mark_ok, NULL, loop, queue_more));
    cr_assert_eq(vow_loop_alive(loop), 101);
    vow_unref(p);
    VOW_TEST_END_FORCED(loop);
    cr_assert_eq(order_len, 0, "nothing ran");
    cr_assert_null(settle_on_free);
}

/* A run whose entries queue more while nothing else waits: the new microtask joins the
 * running run (no marker), and once a reaction is queued the next microtask starts a run
 * of its own after it. FIFO holds throughout. */
static vow_t *chain_src;
static int chain_left;
static void chain_step(vow_loop_t *loop, void *arg) {
    order[order_len++] = (int)(intptr_t)arg;
    if (--chain_left > 0)
        cr_assert_eq(vow_microtask(loop, chain_step, (void *)((intptr_t)arg + 1)), 0);
}
static void queue_mixed(vow_loop_t *loop, void *arg) {
    (void)arg;
    order[order_len++] = 100;
    cr_assert_eq(vow_microtask(loop, mark, (void *)(intptr_t)101), 0); /* joins the run */
    vow_unref(vow_then(vow_ref(chain_src), mark_ok, NULL, (void *)(intptr_t)102, NULL));
    cr_assert_eq(vow_microtask(loop, mark, (void *)(intptr_t)103), 0); /* a run after it */
    cr_assert_eq(vow_loop_verify(loop), 0);
}

Test(job_queue, a_running_run_grows_until_something_else_is_queued) {
    vow_loop_t *loop = vow_test_loop();
    order_len = 0;
    chain_src = vow_resolved(loop, vow_int(1));
    chain_left = 5;
    cr_assert_eq(vow_microtask(loop, chain_step, (void *)(intptr_t)0), 0);
    cr_assert_eq(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(order_len, 5);
    for (int i = 0; i < 5; i++) VOW_ASSERT_EQ(order[i], i);
    order_len = 0;
    cr_assert_eq(vow_microtask(loop, queue_mixed, NULL), 0);
    cr_assert_eq(vow_microtask(loop, mark, (void *)(intptr_t)99), 0);
    cr_assert_eq(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    static const int want[] = {100, 99, 101, 102, 103};
    VOW_ASSERT_EQ(order_len, 5);
    for (int i = 0; i < 5; i++) VOW_ASSERT_EQ(order[i], want[i], "job %d", i);
    vow_unref(chain_src);
    VOW_TEST_END(loop);
}

/* The microtask ring grows for a burst and goes back once it is empty; up to 4,096 slots
 * it stays (a steady loop allocates nothing). */
Test(job_queue, the_microtask_ring_goes_back_after_a_burst) {
    vow_loop_t *loop = vow_test_loop();
    order_len = 0;
    for (int i = 0; i < 1000; i++) cr_assert_eq(vow_microtask(loop, mark, (void *)(intptr_t)i), 0);
    cr_assert_eq(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(loop->mt_cap, 1024, "a small ring stays");
    long before = vow_test_alloc_total();
    order_len = 0;
    for (int i = 0; i < 1000; i++) cr_assert_eq(vow_microtask(loop, mark, (void *)(intptr_t)i), 0);
    cr_assert_eq(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(vow_test_alloc_total() - before, 0, "a second round of 1,000 allocated");
    order_len = 0;
    for (int i = 0; i < 2 * N; i++) /* 40,000: past the slots the ring keeps */
        if (vow_microtask(loop, mark, (void *)(intptr_t)i) != 0) cr_assert_fail("microtask %d", i);
    VOW_ASSERT_EQ(loop->mt_cap >= 2 * N, 1);
    cr_assert_eq(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(order_len, 2 * N);
    VOW_ASSERT_EQ(loop->mt_cap, 0, "the burst's ring went back");
    VOW_TEST_END(loop);
}
