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
            cr_assert_not_null(ds[i] = vow_then(vow_ref(p), mark_ok, NULL, (void *)(intptr_t)i,
                                                NULL));
        } else {
            ds[i] = NULL;
            cr_assert_eq(vow_microtask(loop, mark, (void *)(intptr_t)i), 0);
        }
    }
    cr_assert_eq(loop->jobs_len, N);
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

/* A microtask that cannot get its node (one allocation per object with VOW_POOL=off) is
 * refused with VOW_ENOMEM and queues nothing; freeing the loop drops the waiting ones. */
Test(job_queue, a_microtask_without_a_node_is_refused_and_waiting_ones_are_dropped) {
    vow_loop_t *loop = vow_test_loop_without_pools();
    order_len = 0;
    for (int i = 0; i < 3; i++) cr_assert_eq(vow_microtask(loop, mark, (void *)(intptr_t)i), 0);
    vow_test_reset_counts();
    vow_test_fail_at(1);
    cr_assert_eq(vow_microtask(loop, mark, (void *)(intptr_t)-1), VOW_ENOMEM);
    vow_test_fail_at(0);
    cr_assert_eq(vow_test_failed_allocs(), 1);
    cr_assert_eq(vow_loop_alive(loop), 3, "the refused microtask was queued");
    VOW_TEST_END_FORCED(loop);
    cr_assert_eq(order_len, 0, "nothing ran");
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
    cr_assert_eq(loop->jobs_len, 101);
    vow_unref(p);
    VOW_TEST_END_FORCED(loop);
    cr_assert_eq(order_len, 0, "nothing ran");
    cr_assert_null(settle_on_free);
}
