/* The microtask ring's overflow list: when the ring is at its cap or cannot grow, promise
 * reactions wait on an intrusive list instead, never failing, user microtasks join it in a
 * record of their own, and FIFO order holds across the ring and the list (src/internal.h,
 * docs/design-notes.md). */
#include <stdint.h>

#include "helpers.h"
#include "../src/internal.h"

TestSuite(overflow, .init = vow_test_setup, .fini = vow_test_teardown, .timeout = 10);

static int order[3 * VOW__MQ_RING_MAX];
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

Test(overflow, reactions_that_find_the_ring_full_keep_fifo_order) {
    vow_loop_t *loop = vow_test_loop();
    order_len = 0;
    /* Fill the ring: its first growth gives 16 slots. */
    for (int i = 0; i < 16; i++) cr_assert_eq(vow_microtask(loop, mark, (void *)(intptr_t)i), 0);
    vow_t *p = vow_resolved(loop, vow_int(1));
    /* Allocation 1: the first then's node; allocation 2: the ring's growth, which fails. */
    vow_test_reset_counts();
    vow_test_fail_at(2);
    vow_t *a = vow_then(vow_ref(p), mark_ok, NULL, (void *)(intptr_t)100, NULL);
    cr_assert_not_null(a, "queueing a reaction must not fail");
    cr_assert_eq(vow_test_failed_allocs(), 1, "the ring did not try to grow");
    vow_test_fail_at(0);
    /* While reactions wait on the overflow list, new jobs join it (a reaction through its
     * record, a user microtask in a record of its own), so nothing overtakes them. */
    vow_t *b = vow_then(vow_ref(p), mark_ok, NULL, (void *)(intptr_t)101, NULL);
    cr_assert_not_null(b);
    cr_assert_eq(vow_microtask(loop, mark, (void *)(intptr_t)999), 0);
    cr_assert_eq(vow_loop_alive(loop), 19, "16 microtasks, 2 reactions and 1 microtask waiting");
    cr_assert_eq(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    cr_assert_eq(order_len, 19);
    for (int i = 0; i < 16; i++) cr_assert_eq(order[i], i);
    cr_assert_eq(order[16], 100);
    cr_assert_eq(order[17], 101);
    cr_assert_eq(order[18], 999);
    cr_assert_eq(vow_state(a), VOW_FULFILLED);
    cr_assert_eq(vow_state(b), VOW_FULFILLED);
    /* Once the list has drained, microtasks use the ring again. */
    cr_assert_eq(vow_microtask(loop, mark, (void *)(intptr_t)7), 0);
    cr_assert_eq(loop->overflow_len, 0);
    cr_assert_eq(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    cr_assert_eq(order[19], 7);
    vow_unref(a);
    vow_unref(b);
    vow_unref(p);
    VOW_TEST_END(loop);
}

Test(overflow, freeing_the_loop_drops_waiting_reactions) {
    vow_loop_t *loop = vow_test_loop();
    order_len = 0;
    for (int i = 0; i < 16; i++) cr_assert_eq(vow_microtask(loop, mark, (void *)(intptr_t)i), 0);
    vow_test_reset_counts();
    vow_test_fail_at(3); /* 1: the resolved promise, 2: the then node, 3: the ring's growth */
    vow_t *a = vow_then(vow_resolved(loop, vow_int(1)), mark_ok, NULL, NULL, NULL);
    vow_test_fail_at(0);
    cr_assert_not_null(a);
    cr_assert_eq(vow_loop_alive(loop), 17);
    vow_unref(a);
    VOW_TEST_END_FORCED(loop);
    cr_assert_eq(order_len, 0, "nothing ran");
}

/* Past the ring's cap, reactions and microtasks queue on the overflow list, in order,
 * and the ring does not grow. */
Test(overflow, the_ring_stops_at_its_cap_and_fifo_order_holds) {
    vow_loop_t *loop = vow_test_loop();
    order_len = 0;
    enum { N = VOW__MQ_RING_MAX + 1000 };
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
    cr_assert_leq(loop->mq_cap, VOW__MQ_RING_MAX, "the ring grew to %zu", loop->mq_cap);
    cr_assert_eq(loop->overflow_len, N - VOW__MQ_RING_MAX);
    cr_assert_eq(vow_loop_alive(loop), N);
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

/* A microtask that cannot get its record (one allocation per object with VOW_POOL=off)
 * is refused with VOW_ENOMEM and queues nothing; freeing the loop drops the microtasks
 * that wait on the overflow list. */
Test(overflow, a_microtask_without_a_record_is_refused_and_waiting_ones_are_dropped) {
    vow_loop_t *loop = vow_test_loop_without_pools();
    order_len = 0;
    for (int i = 0; i < (int)VOW__MQ_RING_MAX + 2; i++)
        cr_assert_eq(vow_microtask(loop, mark, (void *)(intptr_t)i), 0);
    cr_assert_eq(loop->overflow_len, 2);
    vow_test_reset_counts();
    vow_test_fail_at(1);
    cr_assert_eq(vow_microtask(loop, mark, (void *)(intptr_t)-1), VOW_ENOMEM);
    vow_test_fail_at(0);
    cr_assert_eq(vow_test_failed_allocs(), 1);
    cr_assert_eq(loop->overflow_len, 2, "the refused microtask was queued");
    cr_assert_eq(vow_loop_alive(loop), (int)VOW__MQ_RING_MAX + 2);
    VOW_TEST_END_FORCED(loop);
    cr_assert_eq(order_len, 0, "nothing ran");
}

/* vow_loop_free with jobs on the overflow list whose destructors queue more (a microtask,
 * a settlement with a reaction): everything is dropped, nothing runs, nothing leaks. */
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

Test(overflow, destructors_that_queue_jobs_while_the_loop_is_freed) {
    vow_loop_t *loop = vow_test_loop();
    order_len = 0;
    vow_t *p = vow_resolved(loop, vow_int(1));
    settle_on_free = vow_new(loop);
    vow_unref(vow_then(vow_ref(settle_on_free), mark_ok, NULL, (void *)(intptr_t)-2, NULL));
    /* A full ring, then one record on the overflow list whose destructor queues more once
     * the list is empty. */
    for (int i = 0; i < (int)VOW__MQ_RING_MAX; i++)
        vow_unref(vow_then(vow_ref(p), mark_ok, NULL, NULL, NULL));
    vow_unref(vow_then(vow_ref(p), mark_ok, NULL, loop, queue_more));
    cr_assert_eq(loop->overflow_len, 1);
    vow_unref(p);
    VOW_TEST_END_FORCED(loop);
    cr_assert_eq(order_len, 0, "nothing ran");
    cr_assert_null(settle_on_free);
}
