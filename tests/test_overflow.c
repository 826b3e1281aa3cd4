/* The microtask ring's overflow list: when the ring cannot grow, promise reactions wait on
 * an intrusive list instead, never failing, and FIFO order holds across the ring and the
 * list (src/internal.h, docs/design-notes.md). */
#include "helpers.h"

TestSuite(overflow, .init = vow_test_setup, .fini = vow_test_teardown, .timeout = 10);

static int order[64];
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
    /* While reactions wait on the overflow list, new jobs join it (a reaction) or are
     * refused (a user microtask), so nothing overtakes them. */
    vow_t *b = vow_then(vow_ref(p), mark_ok, NULL, (void *)(intptr_t)101, NULL);
    cr_assert_not_null(b);
    cr_assert_eq(vow_microtask(loop, mark, (void *)(intptr_t)999), VOW_ENOMEM);
    cr_assert_eq(vow_loop_alive(loop), 18, "16 microtasks and 2 waiting reactions");
    cr_assert_eq(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    cr_assert_eq(order_len, 18);
    for (int i = 0; i < 16; i++) cr_assert_eq(order[i], i);
    cr_assert_eq(order[16], 100);
    cr_assert_eq(order[17], 101);
    cr_assert_eq(vow_state(a), VOW_FULFILLED);
    cr_assert_eq(vow_state(b), VOW_FULFILLED);
    /* Once the list has drained, microtasks use the ring again. */
    cr_assert_eq(vow_microtask(loop, mark, (void *)(intptr_t)7), 0);
    cr_assert_eq(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    cr_assert_eq(order[18], 7);
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
