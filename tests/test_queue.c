/* tests/test_queue.c - vow/queue.h: FIFO, LIFO and priority order; non-waiting answers;
 * getters and putters served in arrival order; a waiter cancelled in the middle of the
 * line; a cancelled put releases its item; the handoff rule, step by step: the
 * python/asyncio#270 sequence (an item handed to getter W1, W1 cancelled before its job
 * runs, W2 gets the item) and the same for a free slot and two putters; task_done and
 * join; shutdown as Python 3.13 (default and immediate); freeing the queue, freeing its
 * loop; 1,000,000 items through a queue of 64 with nothing leaked; allocation failures. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "counted.h"
#include "helpers.h"

static void reset(void) {
    vow_test_setup();
    obj_made = 0;
    memset(obj_freed, 0, sizeof obj_freed);
}
TestSuite(queue, .init = reset, .fini = vow_test_teardown, .timeout = 60);

static void expect_cancelled(const vow_t *p, const char *what) {
    VOW_ASSERT_STATE(vow_state(p), VOW_REJECTED, "%s is not rejected", what);
    cr_assert(vow_is_cancellation(vow_error(p)), "%s: not a cancellation", what);
}
static void expect_shutdown(const vow_t *p, const char *what) {
    VOW_ASSERT_STATE(vow_state(p), VOW_REJECTED, "%s is not rejected", what);
    VOW_ASSERT_CODE(vow_error_code(vow_error(p)), VOW_ESHUTDOWN, "%s", what);
}
static void expect_int(const vow_t *p, int64_t want, const char *what) {
    VOW_ASSERT_STATE(vow_state(p), VOW_FULFILLED, "%s", what);
    VOW_ASSERT_EQ(vow_value_int(vow_value(p)), want, "%s", what);
}
static int64_t get_now(vow_queue_t *q) {
    vow_value_t v;
    VOW_ASSERT_CODE(vow_queue_get_nowait(q, &v), 0);
    return vow_value_int(&v);
}
static void put_now(vow_queue_t *q, int64_t i) {
    vow_value_t v = vow_int(i);
    VOW_ASSERT_CODE(vow_queue_put_nowait(q, &v), 0);
    VOW_ASSERT_EQ(vow_value_kind(&v), VOW_VAL_NONE, "the queue took it");
}

Test(queue, fifo_order_sizes_and_nonwaiting_answers) {
    vow_loop_t *loop = vow_test_loop();
    vow_queue_t *q = vow_queue_new(loop, 3);
    cr_assert_not_null(q);
    VOW_ASSERT_EQ(vow_queue_maxsize(q), 3);
    VOW_ASSERT_CODE(vow_queue_empty(q), 1);
    vow_value_t v = vow_int(9);
    VOW_ASSERT_CODE(vow_queue_get_nowait(q, &v), VOW_EAGAIN);
    VOW_ASSERT_EQ(vow_value_kind(&v), VOW_VAL_NONE, "*out is none when nothing is taken");
    for (int i = 1; i <= 3; i++) put_now(q, i);
    VOW_ASSERT_CODE(vow_queue_full(q), 1);
    VOW_ASSERT_EQ(vow_queue_size(q), 3);
    v = vow_int(4);
    VOW_ASSERT_CODE(vow_queue_put_nowait(q, &v), VOW_EAGAIN);
    VOW_ASSERT_EQ(vow_value_int(&v), 4, "a refused item stays the caller's");
    for (int i = 1; i <= 3; i++) VOW_ASSERT_EQ(get_now(q), i);
    VOW_ASSERT_CODE(vow_queue_empty(q), 1);
    VOW_ASSERT_CODE(vow_queue_full(q), 0);
    vow_queue_free(q);
    VOW_TEST_END(loop);
}

Test(queue, lifo_and_priority_order) {
    vow_loop_t *loop = vow_test_loop();
    vow_queue_t *l = vow_queue_lifo_new(loop, 0);
    vow_queue_t *p = vow_queue_priority_new(loop, 0, NULL, NULL);
    const int in[] = {5, 1, 4, 1, 5, 9, 2, 6, 5, 3};
    for (int i = 0; i < 10; i++) put_now(l, in[i]), put_now(p, in[i]);
    for (int i = 9; i >= 0; i--) VOW_ASSERT_EQ(get_now(l), in[i], "LIFO");
    const int sorted[] = {1, 1, 2, 3, 4, 5, 5, 5, 6, 9};
    for (int i = 0; i < 10; i++) VOW_ASSERT_EQ(get_now(p), sorted[i], "priority");
    vow_queue_free(l);
    vow_queue_free(p);
    VOW_TEST_END(loop);
}

/* Items that compare equal leave in arrival order: priority in the high digits, identity
 * in the low ones, compared by priority only. */
static int by_tens(const vow_value_t *a, const vow_value_t *b, void *ctx) {
    int *calls = ctx;
    ++*calls;
    int64_t x = vow_value_int(a) / 10, y = vow_value_int(b) / 10;
    return (x > y) - (x < y);
}
Test(queue, priority_ties_leave_in_arrival_order_with_a_comparator) {
    vow_loop_t *loop = vow_test_loop();
    int calls = 0;
    vow_queue_t *p = vow_queue_priority_new(loop, 0, by_tens, &calls);
    const int in[] = {31, 10, 32, 11, 20, 33, 12, 21, 34, 13, 22, 35};
    for (int i = 0; i < 12; i++) put_now(p, in[i]);
    const int out[] = {10, 11, 12, 13, 20, 21, 22, 31, 32, 33, 34, 35};
    for (int i = 0; i < 12; i++) VOW_ASSERT_EQ(get_now(p), out[i]);
    cr_assert_gt(calls, 0, "the comparator was used");
    vow_queue_free(p);
    VOW_TEST_END(loop);
}

Test(queue, getters_served_in_arrival_order_one_microtask_after_the_put) {
    vow_loop_t *loop = vow_test_loop();
    vow_queue_t *q = vow_queue_new(loop, 0);
    vow_t *g[3];
    for (int i = 0; i < 3; i++) g[i] = vow_queue_get(q);
    for (int i = 0; i < 3; i++) VOW_ASSERT_STATE(vow_state(g[i]), VOW_PENDING);
    put_now(q, 10);
    VOW_ASSERT_STATE(vow_state(g[0]), VOW_PENDING, "fulfilled by a job, not inside put");
    VOW_ASSERT_EQ(vow_queue_size(q), 1, "reserved for g0, still counted");
    vow_value_t v;
    VOW_ASSERT_CODE(vow_queue_get_nowait(q, &v), VOW_EAGAIN, "a reserved item is not free");
    vow_t *late = vow_queue_get(q); /* behind g1, g2 */
    put_now(q, 20);
    put_now(q, 30);
    put_now(q, 40);
    VOW_ASSERT_CODE(vow_loop_drain(loop), 0);
    expect_int(g[0], 10, "g0");
    expect_int(g[1], 20, "g1");
    expect_int(g[2], 30, "g2");
    expect_int(late, 40, "the later get comes after those waiting");
    VOW_ASSERT_CODE(vow_queue_empty(q), 1);
    for (int i = 0; i < 3; i++) vow_unref(g[i]);
    vow_unref(late);
    vow_queue_free(q);
    VOW_TEST_END(loop);
}

Test(queue, putters_served_in_arrival_order_when_slots_free) {
    vow_loop_t *loop = vow_test_loop();
    vow_queue_t *q = vow_queue_new(loop, 1);
    vow_t *p0 = vow_queue_put(q, vow_int(1));
    VOW_ASSERT_STATE(vow_state(p0), VOW_FULFILLED, "room: in at once");
    vow_t *p[3];
    for (int i = 0; i < 3; i++) p[i] = vow_queue_put(q, vow_int(2 + i));
    for (int i = 0; i < 3; i++) VOW_ASSERT_STATE(vow_state(p[i]), VOW_PENDING);
    VOW_ASSERT_EQ(get_now(q), 1);
    VOW_ASSERT_CODE(vow_queue_full(q), 1, "the freed slot is reserved for p0");
    vow_value_t v = vow_int(99);
    VOW_ASSERT_CODE(vow_queue_put_nowait(q, &v), VOW_EAGAIN, "no overtaking");
    VOW_ASSERT_CODE(vow_loop_drain(loop), 0);
    VOW_ASSERT_STATE(vow_state(p[0]), VOW_FULFILLED);
    VOW_ASSERT_STATE(vow_state(p[1]), VOW_PENDING);
    for (int i = 0; i < 3; i++) {
        VOW_ASSERT_EQ(get_now(q), 2 + i);
        VOW_ASSERT_CODE(vow_loop_drain(loop), 0);
    }
    for (int i = 0; i < 3; i++) VOW_ASSERT_STATE(vow_state(p[i]), VOW_FULFILLED);
    vow_unref(p0);
    for (int i = 0; i < 3; i++) vow_unref(p[i]);
    vow_queue_free(q);
    VOW_TEST_END(loop);
}

Test(queue, a_getter_cancelled_in_the_middle_of_the_line_is_skipped) {
    vow_loop_t *loop = vow_test_loop();
    vow_queue_t *q = vow_queue_new(loop, 0);
    vow_t *g[3];
    for (int i = 0; i < 3; i++) g[i] = vow_queue_get(q);
    VOW_ASSERT_CODE(vow_cancel(g[1]), 0);
    expect_cancelled(g[1], "g1");
    put_now(q, 1);
    put_now(q, 2);
    VOW_ASSERT_CODE(vow_loop_drain(loop), 0);
    expect_int(g[0], 1, "g0");
    expect_int(g[2], 2, "g2");
    for (int i = 0; i < 3; i++) vow_unref(g[i]);
    vow_queue_free(q);
    VOW_TEST_END(loop);
}

Test(queue, a_cancelled_waiting_put_releases_its_item_once) {
    vow_loop_t *loop = vow_test_loop();
    vow_queue_t *q = vow_queue_new(loop, 1);
    vow_unref(vow_queue_put(q, vow_ptr(obj_new(), obj_free)));
    vow_t *a = vow_queue_put(q, vow_ptr(obj_new(), obj_free));
    vow_t *b = vow_queue_put(q, vow_ptr(obj_new(), obj_free));
    VOW_ASSERT_CODE(vow_cancel(a), 0);
    expect_cancelled(a, "a");
    VOW_ASSERT_EQ(obj_freed[1], 1, "a's item released at its cancel");
    vow_value_t v;
    VOW_ASSERT_CODE(vow_queue_get_nowait(q, &v), 0);
    VOW_ASSERT_EQ(((obj *)vow_value_ptr(&v))->id, 0);
    vow_value_release(&v);
    VOW_ASSERT_CODE(vow_loop_drain(loop), 0);
    VOW_ASSERT_STATE(vow_state(b), VOW_FULFILLED, "b took the slot");
    VOW_ASSERT_CODE(vow_queue_get_nowait(q, &v), 0);
    VOW_ASSERT_EQ(((obj *)vow_value_ptr(&v))->id, 2);
    vow_value_release(&v);
    vow_unref(a), vow_unref(b);
    vow_queue_free(q);
    expect_every_obj_freed_once();
    VOW_TEST_END(loop);
}

/* python/asyncio#270, step by step: W1 and W2 wait in get; W1 is awaited by a vow_then; a
 * put hands the item to W1 (reserved, its job queued); the then is cancelled before the
 * job runs, which cancels W1 (upstream rule); W2 must get the item. */
static int ok_calls;
static vow_result_t count_ok(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v, (void)ctx;
    ok_calls++;
    return vow_ok_none();
}
Test(queue, asyncio_270_a_cancelled_w1_passes_the_item_to_w2) {
    vow_loop_t *loop = vow_test_loop();
    ok_calls = 0;
    vow_queue_t *q = vow_queue_new(loop, 0);
    vow_t *w1 = vow_queue_get(q), *w2 = vow_queue_get(q);
    vow_t *d1 = vow_then(vow_ref(w1), count_ok, NULL, NULL, NULL);
    vow_unref(vow_queue_put(q, vow_ptr(obj_new(), obj_free)));
    VOW_ASSERT_STATE(vow_state(w1), VOW_PENDING, "reserved for W1, not yet fulfilled");
    VOW_ASSERT_CODE(vow_cancel(d1), 0);
    expect_cancelled(w1, "W1 (the upstream rule)");
    VOW_ASSERT_EQ(obj_freed[0], 0, "the item is not lost with W1");
    VOW_ASSERT_CODE(vow_loop_drain(loop), 0);
    VOW_ASSERT_STATE(vow_state(w2), VOW_FULFILLED, "W2 got the item");
    VOW_ASSERT_EQ(((obj *)vow_value_ptr(vow_value(w2)))->id, 0);
    VOW_ASSERT_EQ(ok_calls, 0);
    VOW_ASSERT_CODE(vow_queue_empty(q), 1);
    vow_unref(w1), vow_unref(w2), vow_unref(d1);
    vow_queue_free(q);
    expect_every_obj_freed_once();
    VOW_TEST_END(loop);
}

/* The same through vow_timeout: W1 times out while the item is reserved for it? A timer
 * cannot fire between a put and its job (the job is a microtask), so W1 times out before
 * the put and W2, in line behind it, gets the item. With no getter left, a reserved item
 * cancelled is free again for any get. */
Test(queue, a_timed_out_get_leaves_the_line_and_a_lone_reservation_frees_the_item) {
    vow_loop_t *loop = vow_test_loop();
    vow_queue_t *q = vow_queue_new(loop, 0);
    vow_t *w1 = vow_timeout(vow_queue_get(q), 1, 0);
    vow_t *w2 = vow_queue_get(q);
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, w1, &out), 0);
    VOW_ASSERT_CODE(vow_error_code(out.error), VOW_ETIMEDOUT);
    vow_outcome_release(&out);
    put_now(q, 7);
    VOW_ASSERT_CODE(vow_loop_drain(loop), 0);
    expect_int(w2, 7, "W2, not the timed-out W1");
    vow_t *w3 = vow_queue_get(q);
    put_now(q, 8);
    VOW_ASSERT_CODE(vow_cancel(w3), 0, "cancelled while its item is reserved");
    VOW_ASSERT_EQ(get_now(q), 8, "free again");
    VOW_ASSERT_CODE(vow_loop_drain(loop), 0);
    vow_unref(w2), vow_unref(w3);
    vow_queue_free(q);
    VOW_TEST_END(loop);
}

/* The slot: the queue is full, P1 and P2 wait to put; a get frees a slot, reserved for
 * P1; P1 is cancelled before its job: its item is released, P2's goes in. */
Test(queue, a_cancelled_reserved_putter_passes_the_slot_to_the_next) {
    vow_loop_t *loop = vow_test_loop();
    vow_queue_t *q = vow_queue_new(loop, 1);
    put_now(q, 1);
    vow_t *p1 = vow_queue_put(q, vow_ptr(obj_new(), obj_free));
    vow_t *p2 = vow_queue_put(q, vow_ptr(obj_new(), obj_free));
    VOW_ASSERT_EQ(get_now(q), 1);
    VOW_ASSERT_CODE(vow_cancel(p1), 0);
    VOW_ASSERT_EQ(obj_freed[0], 1, "P1's item released");
    VOW_ASSERT_CODE(vow_loop_drain(loop), 0);
    VOW_ASSERT_STATE(vow_state(p2), VOW_FULFILLED);
    VOW_ASSERT_EQ(vow_queue_size(q), 1);
    vow_value_t v;
    VOW_ASSERT_CODE(vow_queue_get_nowait(q, &v), 0);
    VOW_ASSERT_EQ(((obj *)vow_value_ptr(&v))->id, 1);
    vow_value_release(&v);
    vow_unref(p1), vow_unref(p2);
    vow_queue_free(q);
    expect_every_obj_freed_once();
    VOW_TEST_END(loop);
}

Test(queue, join_settles_only_after_every_task_done) {
    vow_loop_t *loop = vow_test_loop();
    vow_queue_t *q = vow_queue_new(loop, 0);
    vow_t *j0 = vow_queue_join(q);
    VOW_ASSERT_STATE(vow_state(j0), VOW_FULFILLED, "nothing unfinished");
    VOW_ASSERT_CODE(vow_queue_task_done(q), VOW_ERANGE, "more task_done than puts");
    for (int i = 0; i < 3; i++) put_now(q, i);
    vow_t *j1 = vow_queue_join(q), *j2 = vow_queue_join(q);
    for (int i = 0; i < 3; i++) get_now(q);
    VOW_ASSERT_CODE(vow_loop_drain(loop), 0);
    VOW_ASSERT_STATE(vow_state(j1), VOW_PENDING, "taken is not done");
    VOW_ASSERT_CODE(vow_queue_task_done(q), 0);
    VOW_ASSERT_CODE(vow_queue_task_done(q), 0);
    VOW_ASSERT_CODE(vow_loop_drain(loop), 0);
    VOW_ASSERT_STATE(vow_state(j1), VOW_PENDING, "one left");
    VOW_ASSERT_CODE(vow_cancel(j2), 0, "a join waiter is cancellable");
    VOW_ASSERT_CODE(vow_queue_task_done(q), 0);
    VOW_ASSERT_STATE(vow_state(j1), VOW_FULFILLED);
    expect_cancelled(j2, "j2");
    VOW_ASSERT_CODE(vow_queue_task_done(q), VOW_ERANGE);
    vow_unref(j0), vow_unref(j1), vow_unref(j2);
    vow_queue_free(q);
    VOW_TEST_END(loop);
}

Test(queue, shutdown_default_drains_then_fails_and_fails_puts_at_once) {
    vow_loop_t *loop = vow_test_loop();
    vow_set_unhandled_mode(loop, VOW_UNHANDLED_SILENT); /* the rejections are checked */
    vow_queue_t *q = vow_queue_new(loop, 2);
    put_now(q, 1);
    put_now(q, 2);
    vow_t *wp = vow_queue_put(q, vow_ptr(obj_new(), obj_free));
    vow_t *j = vow_queue_join(q);
    VOW_ASSERT_CODE(vow_queue_shutdown(q, 0), 0);
    VOW_ASSERT_CODE(vow_queue_is_shutdown(q), 1);
    expect_shutdown(wp, "the waiting put");
    VOW_ASSERT_EQ(obj_freed[0], 1, "its item released");
    vow_t *late = vow_queue_put(q, vow_ptr(obj_new(), obj_free));
    expect_shutdown(late, "a put after shutdown");
    VOW_ASSERT_EQ(obj_freed[1], 1);
    vow_value_t v = vow_int(5);
    VOW_ASSERT_CODE(vow_queue_put_nowait(q, &v), VOW_ESHUTDOWN);
    VOW_ASSERT_EQ(vow_value_int(&v), 5, "untouched");
    vow_t *g1 = vow_queue_get(q);
    expect_int(g1, 1, "items left are still taken");
    VOW_ASSERT_EQ(get_now(q), 2);
    VOW_ASSERT_CODE(vow_queue_get_nowait(q, &v), VOW_ESHUTDOWN);
    vow_t *g3 = vow_queue_get(q);
    expect_shutdown(g3, "a get of an empty shut-down queue");
    VOW_ASSERT_STATE(vow_state(j), VOW_PENDING, "join still waits for task_done");
    VOW_ASSERT_CODE(vow_queue_task_done(q), 0);
    VOW_ASSERT_CODE(vow_queue_task_done(q), 0);
    VOW_ASSERT_STATE(vow_state(j), VOW_FULFILLED);
    VOW_ASSERT_CODE(vow_loop_drain(loop), 0);
    vow_unref(wp), vow_unref(late), vow_unref(g1), vow_unref(g3), vow_unref(j);
    vow_queue_free(q);
    expect_every_obj_freed_once();
    VOW_TEST_END(loop);
}

Test(queue, shutdown_fails_waiting_getters_of_an_empty_queue) {
    vow_loop_t *loop = vow_test_loop();
    vow_set_unhandled_mode(loop, VOW_UNHANDLED_SILENT); /* the rejections are checked */
    vow_queue_t *q = vow_queue_new(loop, 0);
    vow_t *g[2] = {vow_queue_get(q), vow_queue_get(q)};
    VOW_ASSERT_CODE(vow_queue_shutdown(q, 0), 0);
    expect_shutdown(g[0], "g0");
    expect_shutdown(g[1], "g1");
    VOW_ASSERT_CODE(vow_loop_drain(loop), 0);
    vow_unref(g[0]), vow_unref(g[1]);
    vow_queue_free(q);
    VOW_TEST_END(loop);
}

Test(queue, shutdown_immediate_drops_items_releases_join_and_reserved_getters) {
    vow_loop_t *loop = vow_test_loop();
    vow_set_unhandled_mode(loop, VOW_UNHANDLED_SILENT); /* the rejections are checked */
    vow_queue_t *q = vow_queue_new(loop, 0);
    vow_t *g = vow_queue_get(q);
    vow_unref(vow_queue_put(q, vow_ptr(obj_new(), obj_free))); /* reserved for g */
    vow_unref(vow_queue_put(q, vow_ptr(obj_new(), obj_free)));
    vow_t *j = vow_queue_join(q);
    VOW_ASSERT_CODE(vow_queue_shutdown(q, 1), 0);
    VOW_ASSERT_EQ(obj_freed[0] + obj_freed[1], 2, "both items dropped");
    VOW_ASSERT_EQ(vow_queue_size(q), 0);
    expect_shutdown(g, "the getter its item was reserved for");
    VOW_ASSERT_STATE(vow_state(j), VOW_FULFILLED, "dropped items count as done");
    VOW_ASSERT_CODE(vow_loop_drain(loop), 0);
    VOW_ASSERT_CODE(vow_queue_task_done(q), VOW_ERANGE);
    vow_unref(g), vow_unref(j);
    vow_queue_free(q);
    expect_every_obj_freed_once();
    VOW_TEST_END(loop);
}

Test(queue, free_cancels_every_waiter_and_releases_every_item) {
    vow_loop_t *loop = vow_test_loop();
    vow_queue_t *q = vow_queue_new(loop, 1), *e = vow_queue_new(loop, 0);
    vow_unref(vow_queue_put(q, vow_ptr(obj_new(), obj_free)));
    vow_t *wp = vow_queue_put(q, vow_ptr(obj_new(), obj_free));
    vow_t *j = vow_queue_join(q);
    vow_t *g1 = vow_queue_get(e), *g2 = vow_queue_get(e);
    vow_unref(vow_queue_put(e, vow_ptr(obj_new(), obj_free))); /* reserved for g1 */
    VOW_ASSERT_CODE(vow_loop_close(loop), VOW_EBUSY, "g1's handoff job is queued");
    vow_queue_free(q);
    vow_queue_free(e);
    expect_cancelled(wp, "the waiting put");
    expect_cancelled(j, "join");
    expect_cancelled(g1, "the reserved getter");
    expect_cancelled(g2, "the waiting getter");
    expect_every_obj_freed_once();
    VOW_ASSERT_CODE(vow_loop_drain(loop), 0);
    vow_unref(wp), vow_unref(j), vow_unref(g1), vow_unref(g2);
    VOW_TEST_END(loop);
}

Test(queue, a_freed_loop_answers_eclosed_and_free_releases_the_items) {
    vow_loop_t *loop = vow_test_loop();
    vow_queue_t *q = vow_queue_new(loop, 1);
    vow_unref(vow_queue_put(q, vow_ptr(obj_new(), obj_free)));
    vow_unref(vow_queue_put(q, vow_ptr(obj_new(), obj_free)));
    vow_queue_t *e = vow_queue_new(loop, 0);
    vow_t *g = vow_queue_get(e);
    VOW_ASSERT_CODE(vow_loop_free(loop), 0);
    VOW_ASSERT_EQ(vow_queue_get(q), (vow_t *)NULL);
    VOW_ASSERT_EQ(vow_queue_put(q, vow_ptr(obj_new(), obj_free)), (vow_t *)NULL);
    VOW_ASSERT_EQ(obj_freed[2], 1, "a refused put releases its item");
    vow_value_t v = vow_int(1);
    VOW_ASSERT_CODE(vow_queue_put_nowait(q, &v), VOW_ECLOSED);
    VOW_ASSERT_CODE(vow_queue_get_nowait(q, &v), VOW_ECLOSED);
    VOW_ASSERT_CODE(vow_queue_size(q), VOW_ECLOSED);
    VOW_ASSERT_CODE(vow_queue_shutdown(q, 1), VOW_ECLOSED);
    VOW_ASSERT_CODE(vow_queue_task_done(q), VOW_ECLOSED);
    VOW_ASSERT_EQ(vow_queue_join(q), (vow_t *)NULL);
    VOW_ASSERT_EQ(vow_queue_get(e), (vow_t *)NULL);
    vow_unref(g);
    vow_queue_free(e);
    vow_queue_free(q);
    VOW_ASSERT_EQ(obj_made, 3);
    expect_every_obj_freed_once();
    VOW_ASSERT_EQ(vow_test_live_allocs(), 0);
}

/* 1,000,000 items through a queue of 64: a producer that puts the next item when its put
 * fulfils, a consumer that gets the next when its get fulfils; every item arrives once, in
 * order, is marked done, and nothing is left. */
struct pipe {
    vow_queue_t *q;
    int64_t next, n, got, sum, bad_order;
};
static vow_result_t produce(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v;
    struct pipe *s = ctx;
    if (s->next < s->n) vow_unref(vow_then_ok(vow_queue_put(s->q, vow_int(s->next++)), produce, s));
    return vow_ok_none();
}
static vow_result_t consume(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    struct pipe *s = ctx;
    if (vow_value_int(v) != s->got) s->bad_order++;
    s->sum += vow_value_int(v);
    s->got++;
    VOW_ASSERT_CODE(vow_queue_task_done(s->q), 0);
    if (s->got < s->n) vow_unref(vow_then_ok(vow_queue_get(s->q), consume, s));
    return vow_ok_none();
}
Test(queue, a_million_items_through_a_queue_of_64) {
    vow_loop_t *loop = vow_test_loop();
    const char *env = getenv("VOW_TEST_QUEUE_ITEMS"); /* scripts/valgrind.sh lowers it */
    struct pipe s = {.q = vow_queue_new(loop, 64), .n = env != NULL ? atoll(env) : 1000000};
    vow_t *join = vow_queue_join(s.q);
    vow_unref(vow_then_ok(vow_queue_get(s.q), consume, &s));
    vow_unref(produce(loop, NULL, &s).promise); /* a none value: nothing to release */
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_loop_drain(loop), 0);
    VOW_ASSERT_EQ(s.got, s.n);
    VOW_ASSERT_EQ(s.bad_order, 0);
    VOW_ASSERT_EQ(s.sum, s.n * (s.n - 1) / 2);
    VOW_ASSERT_CODE(vow_run(loop, join, &out), 0);
    VOW_ASSERT_STATE(out.state, VOW_FULFILLED, "join: every item done");
    vow_outcome_release(&out);
    VOW_ASSERT_CODE(vow_queue_empty(s.q), 1);
    vow_queue_free(s.q);
    VOW_TEST_END(loop);
}

/* A program of every operation, run once with each allocation failing in turn: it ends
 * cleanly (operations answer NULL or VOW_ENOMEM), every item's destructor runs once, and
 * no vow allocation is left. */
static int scenario(vow_loop_t *loop) {
    vow_queue_t *q = vow_queue_new(loop, 2), *p = vow_queue_priority_new(loop, 0, NULL, NULL);
    vow_t *ps[8] = {0};
    int k = 0;
    if (q != NULL) {
        ps[k++] = vow_queue_get(q);
        for (int i = 0; i < 4; i++) ps[k++] = vow_queue_put(q, vow_ptr(obj_new(), obj_free));
        ps[k++] = vow_queue_join(q);
        vow_loop_drain(loop);
        vow_value_t v;
        if (vow_queue_get_nowait(q, &v) == 0) vow_value_release(&v);
        vow_loop_drain(loop);
        vow_queue_shutdown(q, 0);
    }
    if (p != NULL) {
        for (int i = 0; i < 20; i++) {
            vow_value_t v = vow_ptr(obj_new(), obj_free);
            int rc = vow_queue_put_nowait(p, &v);
            if (rc != 0) VOW_ASSERT_CODE(rc, VOW_ENOMEM);
            vow_value_release(&v);
        }
        ps[k++] = vow_queue_get(p);
    }
    vow_loop_drain(loop);
    for (int i = 0; i < k; i++) vow_unref(ps[i]);
    vow_queue_free(q);
    vow_queue_free(p);
    int rc = vow_loop_close(loop);
    return rc;
}
Test(queue, every_allocation_failing_in_turn_ends_cleanly) {
    vow_loop_t *loop = vow_test_loop_without_pools();
    vow_set_unhandled_mode(loop, VOW_UNHANDLED_SILENT);
    long base = vow_test_alloc_total();
    VOW_ASSERT_CODE(scenario(loop), 0);
    expect_every_obj_freed_once();
    long total = vow_test_alloc_total() - base;
    cr_assert_gt(total, 10);
    for (long n = 1; n <= total; n++) {
        vow_test_reset_counts();
        obj_made = 0;
        memset(obj_freed, 0, sizeof obj_freed);
        loop = vow_test_loop_without_pools();
        vow_set_unhandled_mode(loop, VOW_UNHANDLED_SILENT);
        vow_test_fail_at(vow_test_alloc_total() + n);
        VOW_ASSERT_CODE(scenario(loop), 0, "allocation %ld failing", n);
        vow_test_fail_at(0);
        expect_every_obj_freed_once();
        VOW_ASSERT_EQ(vow_test_live_allocs(), 0, "allocation %ld failing", n);
    }
}

/* A reservation is a count, not a particular item: a LIFO getter served by a put takes the
 * top of the stack when its job runs (as asyncio's woken getter does), and the priority
 * getter the least item. */
Test(queue, a_reserved_getter_takes_what_is_first_when_its_job_runs) {
    vow_loop_t *loop = vow_test_loop();
    vow_queue_t *l = vow_queue_lifo_new(loop, 0), *p = vow_queue_priority_new(loop, 0, NULL, NULL);
    vow_t *gl = vow_queue_get(l), *gp = vow_queue_get(p);
    put_now(l, 1); /* reserved for gl */
    put_now(l, 2);
    put_now(p, 5); /* reserved for gp */
    put_now(p, 3);
    VOW_ASSERT_CODE(vow_loop_drain(loop), 0);
    expect_int(gl, 2, "LIFO: the top");
    expect_int(gp, 3, "priority: the least");
    VOW_ASSERT_EQ(get_now(l), 1);
    VOW_ASSERT_EQ(get_now(p), 5);
    vow_unref(gl), vow_unref(gp);
    vow_queue_free(l);
    vow_queue_free(p);
    VOW_TEST_END(loop);
}
