/* tests/test_stream.c - vow/stream.h: items in order, back-pressure (the fifth push into a
 * buffer of 4 stays pending until a next; a buffer of 0 is a rendezvous), end, failure
 * (the items first, then one rejection, then the end), early close (buffered and pending
 * items released, pending pushes rejected, cleanup exactly once, counted), cancellation of
 * a waiting next or push in the middle of its line (it leaves; the others keep their
 * order; a cancelled push's item released once; a timed-out next loses no item), pull
 * producers asked only on demand, for_each waiting on the promise its reaction returns
 * before it asks for the next item, collect, map (in-flight count never above the bound,
 * output in input order, early close cancels what is being mapped), range, and a loop
 * freed with items inside. Every item is a counted object: each destructor runs once. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "counted.h"
#include "helpers.h"

static void reset_counts(void) {
    memset(obj_freed, 0, sizeof obj_freed);
    obj_made = 0;
    ctx_free_calls = 0;
}

TestSuite(stream, .init = vow_test_setup, .fini = vow_test_teardown, .timeout = 30);

static vow_value_t item(void) { return vow_ptr(obj_new(), obj_free); }
static int id_of(const vow_t *p) {
    const obj *o = vow_value_ptr(vow_value(p));
    cr_assert_not_null(o, "not an object item");
    return o->id;
}
static void run(vow_loop_t *loop) { VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0); }
static void expect_end(const vow_t *p) {
    VOW_ASSERT_STATE(vow_state(p), VOW_FULFILLED);
    cr_assert(vow_stream_is_end(vow_value(p)), "not the end");
}
static void expect_state_unref(vow_t *p, vow_state_t st) {
    VOW_ASSERT_STATE(vow_state(p), st);
    vow_unref(p);
}

static int cleanups;
static void count_cleanup(vow_loop_t *loop, void *ctx) {
    (void)loop, (void)ctx;
    cleanups++;
}

Test(stream, items_come_in_order_then_the_end_for_ever) {
    reset_counts();
    vow_loop_t *loop = vow_test_loop();
    vow_stream_t *s = vow_stream_new(loop, VOW_STREAM_BUFFER, NULL, NULL, NULL, NULL);
    cr_assert_not_null(s);
    for (int i = 0; i < 3; i++) expect_state_unref(vow_stream_push(s, item()), VOW_FULFILLED);
    VOW_ASSERT_CODE(vow_stream_end(s), 0);
    VOW_ASSERT_CODE(vow_stream_end(s), VOW_EPERM, "ended twice");
    vow_t *late = vow_stream_push(s, item());
    VOW_ASSERT_CODE(vow_error_code(vow_error(late)), VOW_EPERM, "a push after the end");
    vow_unref(late);
    VOW_ASSERT_EQ(obj_freed[3], 1, "the refused item is released");
    for (int i = 0; i < 3; i++) {
        vow_t *n = vow_stream_next(s);
        VOW_ASSERT_STATE(vow_state(n), VOW_FULFILLED, "a buffered item is there at once");
        VOW_ASSERT_EQ(id_of(n), i);
        vow_unref(n);
    }
    for (int i = 0; i < 2; i++) {
        vow_t *n = vow_stream_next(s);
        expect_end(n);
        vow_unref(n);
    }
    vow_stream_unref(s);
    expect_every_obj_freed_once();
    VOW_TEST_END(loop);
}

Test(stream, the_fifth_push_into_a_buffer_of_4_waits_for_a_next) {
    reset_counts();
    vow_loop_t *loop = vow_test_loop();
    vow_stream_t *s = vow_stream_new(loop, VOW_STREAM_BUFFER, NULL, NULL, NULL, NULL);
    vow_t *push[6];
    for (int i = 0; i < 6; i++) push[i] = vow_stream_push(s, item());
    for (int i = 0; i < 4; i++) VOW_ASSERT_STATE(vow_state(push[i]), VOW_FULFILLED, "push %d", i);
    VOW_ASSERT_STATE(vow_state(push[4]), VOW_PENDING, "the fifth push waits");
    VOW_ASSERT_STATE(vow_state(push[5]), VOW_PENDING);
    run(loop);
    VOW_ASSERT_STATE(vow_state(push[4]), VOW_PENDING, "nothing but a next frees room");
    vow_t *n = vow_stream_next(s);
    VOW_ASSERT_EQ(id_of(n), 0);
    VOW_ASSERT_STATE(vow_state(push[4]), VOW_FULFILLED, "a next made room");
    VOW_ASSERT_STATE(vow_state(push[5]), VOW_PENDING, "for one push only");
    vow_unref(n);
    for (int i = 1; i < 6; i++) {
        n = vow_stream_next(s);
        VOW_ASSERT_EQ(id_of(n), i, "order kept through the waiting pushes");
        vow_unref(n);
    }
    VOW_ASSERT_STATE(vow_state(push[5]), VOW_FULFILLED);
    for (int i = 0; i < 6; i++) vow_unref(push[i]);
    vow_stream_unref(s);
    expect_every_obj_freed_once();
    VOW_TEST_END(loop);
}

Test(stream, a_buffer_of_0_is_a_rendezvous) {
    reset_counts();
    vow_loop_t *loop = vow_test_loop();
    vow_stream_t *s = vow_stream_new(loop, 0, NULL, NULL, NULL, NULL);
    vow_t *push = vow_stream_push(s, item());
    VOW_ASSERT_STATE(vow_state(push), VOW_PENDING, "no room: waits for a next");
    vow_t *n = vow_stream_next(s);
    VOW_ASSERT_EQ(id_of(n), 0);
    VOW_ASSERT_STATE(vow_state(push), VOW_FULFILLED);
    vow_unref(n);
    vow_unref(push);
    n = vow_stream_next(s);
    VOW_ASSERT_STATE(vow_state(n), VOW_PENDING, "a next waits for a push");
    push = vow_stream_push(s, item());
    VOW_ASSERT_STATE(vow_state(push), VOW_FULFILLED, "a waiting next takes the item at once");
    VOW_ASSERT_EQ(id_of(n), 1);
    vow_unref(n);
    vow_unref(push);
    vow_stream_unref(s);
    expect_every_obj_freed_once();
    VOW_TEST_END(loop);
}

static int got[8], n_got;
static vow_result_t record_item(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)ctx;
    const obj *o = vow_value_ptr(v);
    got[n_got++] = vow_stream_is_end(v) ? -1 : o->id;
    return vow_ok_none();
}

Test(stream, a_waiting_next_keeps_the_stream_and_gets_its_item) {
    reset_counts();
    n_got = 0;
    vow_loop_t *loop = vow_test_loop();
    vow_stream_t *s = vow_stream_new(loop, 1, NULL, count_cleanup, NULL, ctx_free_count);
    vow_stream_t *producer = vow_stream_ref(s);
    vow_unref(vow_then_ok(vow_stream_next(s), record_item, NULL));
    vow_unref(vow_then_ok(vow_stream_next(s), record_item, NULL));
    vow_stream_unref(s); /* the consumer's handle goes; its nexts still wait */
    vow_unref(vow_stream_push(producer, item()));
    VOW_ASSERT_CODE(vow_stream_end(producer), 0);
    run(loop);
    VOW_ASSERT_EQ(n_got, 2);
    VOW_ASSERT_EQ(got[0], 0);
    VOW_ASSERT_EQ(got[1], -1, "then the end");
    VOW_ASSERT_EQ(ctx_free_calls, 0, "the producer still holds it");
    vow_stream_unref(producer);
    VOW_ASSERT_EQ(ctx_free_calls, 1);
    VOW_ASSERT_EQ(cleanups, 0, "ended by the producer: no cleanup");
    expect_every_obj_freed_once();
    VOW_TEST_END(loop);
}

Test(stream, a_failure_comes_after_the_items_once_then_the_end) {
    reset_counts();
    vow_loop_t *loop = vow_test_loop();
    vow_stream_t *s = vow_stream_new(loop, VOW_STREAM_BUFFER, NULL, NULL, NULL, NULL);
    vow_unref(vow_stream_push(s, item()));
    vow_unref(vow_stream_push(s, item()));
    VOW_ASSERT_CODE(vow_stream_fail(s, vow_error_new(VOW_EUSER, "boom")), 0);
    VOW_ASSERT_CODE(vow_stream_fail(s, vow_error_new(VOW_EUSER, "again")), VOW_EPERM);
    VOW_ASSERT_CODE(vow_stream_end(s), VOW_EPERM);
    for (int i = 0; i < 2; i++) {
        vow_t *n = vow_stream_next(s);
        VOW_ASSERT_EQ(id_of(n), i);
        vow_unref(n);
    }
    vow_t *n = vow_stream_next(s);
    VOW_ASSERT_STATE(vow_state(n), VOW_REJECTED);
    VOW_ASSERT_STR_EQ(vow_error_message(vow_error(n)), "boom");
    vow_unref(n);
    n = vow_stream_next(s);
    expect_end(n);
    vow_unref(n);
    /* Nexts waiting when the failure comes: the first rejects, the others end. */
    vow_stream_t *t = vow_stream_new(loop, 0, NULL, NULL, NULL, NULL);
    vow_t *w[3] = {vow_stream_next(t), vow_stream_next(t), vow_stream_next(t)};
    VOW_ASSERT_CODE(vow_stream_fail(t, vow_error_new(VOW_EUSER, "late")), 0);
    VOW_ASSERT_STATE(vow_state(w[0]), VOW_REJECTED);
    expect_end(w[1]);
    expect_end(w[2]);
    for (int i = 0; i < 3; i++) vow_unref(w[i]);
    vow_stream_unref(t);
    vow_stream_unref(s);
    expect_every_obj_freed_once();
    VOW_TEST_END(loop);
}

Test(stream, ending_answers_every_waiting_next) {
    vow_loop_t *loop = vow_test_loop();
    vow_stream_t *s = vow_stream_new(loop, 2, NULL, NULL, NULL, NULL);
    vow_t *w[2] = {vow_stream_next(s), vow_stream_next(s)};
    VOW_ASSERT_STATE(vow_state(w[0]), VOW_PENDING);
    VOW_ASSERT_CODE(vow_stream_end(s), 0);
    expect_end(w[0]);
    expect_end(w[1]);
    vow_unref(w[0]);
    vow_unref(w[1]);
    vow_stream_unref(s);
    VOW_TEST_END(loop);
}

Test(stream, closing_early_releases_everything_and_runs_cleanup_once) {
    reset_counts();
    cleanups = 0;
    vow_loop_t *loop = vow_test_loop();
    vow_stream_t *s = vow_stream_new(loop, 2, NULL, count_cleanup, NULL, ctx_free_count);
    vow_t *push[4];
    for (int i = 0; i < 4; i++) push[i] = vow_stream_push(s, item());
    VOW_ASSERT_STATE(vow_state(push[3]), VOW_PENDING);
    VOW_ASSERT_CODE(vow_stream_close(s), 0);
    VOW_ASSERT_EQ(cleanups, 1);
    for (int i = 0; i < 4; i++) VOW_ASSERT_EQ(obj_freed[i], 1, "item %d released at the close", i);
    VOW_ASSERT_CODE(vow_error_code(vow_error(push[2])), VOW_ECLOSED, "a pending push rejects");
    VOW_ASSERT_CODE(vow_error_code(vow_error(push[3])), VOW_ECLOSED);
    VOW_ASSERT_CODE(vow_stream_close(s), 0, "closing twice");
    vow_t *n = vow_stream_next(s);
    expect_end(n);
    vow_unref(n);
    vow_t *late = vow_stream_push(s, item());
    VOW_ASSERT_CODE(vow_error_code(vow_error(late)), VOW_ECLOSED);
    vow_unref(late);
    VOW_ASSERT_CODE(vow_stream_end(s), VOW_ECLOSED, "the producer learns it is closed");
    VOW_ASSERT_CODE(vow_stream_fail(s, vow_error_new(VOW_EUSER, NULL)), VOW_ECLOSED);
    run(loop);
    for (int i = 0; i < 4; i++) vow_unref(push[i]);
    vow_stream_unref(s);
    VOW_ASSERT_EQ(cleanups, 1, "exactly once");
    VOW_ASSERT_EQ(ctx_free_calls, 1);
    expect_every_obj_freed_once();
    VOW_TEST_END(loop);
}

Test(stream, the_last_unref_closes_and_a_finished_stream_has_no_cleanup) {
    reset_counts();
    cleanups = 0;
    vow_loop_t *loop = vow_test_loop();
    vow_stream_t *s = vow_stream_new(loop, 4, NULL, count_cleanup, NULL, ctx_free_count);
    vow_unref(vow_stream_push(s, item()));
    vow_stream_unref(s);
    VOW_ASSERT_EQ(cleanups, 1, "dropped before the end: closed early");
    VOW_ASSERT_EQ(ctx_free_calls, 1);
    s = vow_stream_new(loop, 4, NULL, count_cleanup, NULL, ctx_free_count);
    vow_unref(vow_stream_push(s, item()));
    VOW_ASSERT_CODE(vow_stream_end(s), 0);
    VOW_ASSERT_CODE(vow_stream_close(s), 0);
    vow_stream_unref(s);
    VOW_ASSERT_EQ(cleanups, 1, "ended by its producer: no cleanup");
    VOW_ASSERT_EQ(ctx_free_calls, 2);
    expect_every_obj_freed_once();
    VOW_TEST_END(loop);
}

Test(stream, a_cancelled_next_leaves_the_middle_of_the_line) {
    reset_counts();
    vow_loop_t *loop = vow_test_loop();
    vow_stream_t *s = vow_stream_new(loop, 0, NULL, NULL, NULL, NULL);
    vow_t *w[3] = {vow_stream_next(s), vow_stream_next(s), vow_stream_next(s)};
    VOW_ASSERT_CODE(vow_cancel(w[1]), 0);
    VOW_ASSERT_CODE(vow_resolve(w[0], vow_int(1)), VOW_EPERM, "vow's own promise");
    vow_unref(vow_stream_push(s, item()));
    vow_unref(vow_stream_push(s, item()));
    VOW_ASSERT_EQ(id_of(w[0]), 0);
    VOW_ASSERT_EQ(id_of(w[2]), 1, "the second item skips the cancelled next");
    VOW_ASSERT_CODE(vow_cancel(w[0]), VOW_ESETTLED, "a fulfilled next cannot be cancelled");
    for (int i = 0; i < 3; i++) vow_unref(w[i]);
    vow_stream_unref(s);
    expect_every_obj_freed_once();
    VOW_TEST_END(loop);
}

Test(stream, a_cancelled_push_leaves_its_line_and_releases_its_item_once) {
    reset_counts();
    vow_loop_t *loop = vow_test_loop();
    vow_stream_t *s = vow_stream_new(loop, 0, NULL, NULL, NULL, NULL);
    vow_t *push[3];
    for (int i = 0; i < 3; i++) push[i] = vow_stream_push(s, item());
    VOW_ASSERT_CODE(vow_cancel(push[1]), 0);
    VOW_ASSERT_EQ(obj_freed[1], 1, "released at the cancel");
    vow_t *a = vow_stream_next(s), *b = vow_stream_next(s);
    VOW_ASSERT_EQ(id_of(a), 0);
    VOW_ASSERT_EQ(id_of(b), 2);
    VOW_ASSERT_STATE(vow_state(push[2]), VOW_FULFILLED);
    vow_unref(a);
    vow_unref(b);
    for (int i = 0; i < 3; i++) vow_unref(push[i]);
    vow_stream_unref(s);
    expect_every_obj_freed_once();
    VOW_TEST_END(loop);
}

Test(stream, a_timed_out_next_loses_no_item) {
    reset_counts();
    vow_loop_t *loop = vow_test_loop();
    vow_stream_t *s = vow_stream_new(loop, 1, NULL, NULL, NULL, NULL);
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, vow_timeout(vow_stream_next(s), 2, 0), &out), 0);
    VOW_ASSERT_CODE(vow_error_code(out.error), VOW_ETIMEDOUT);
    vow_outcome_release(&out);
    vow_unref(vow_stream_push(s, item()));
    vow_t *n = vow_stream_next(s);
    VOW_ASSERT_EQ(id_of(n), 0, "the item waited in the buffer for the next next");
    vow_unref(n);
    vow_stream_unref(s);
    expect_every_obj_freed_once();
    VOW_TEST_END(loop);
}

/* ---- pull producers ---------------------------------------------------------------------- */
static int pulls;
static vow_t *pull_counted(vow_loop_t *loop, void *ctx) {
    (void)ctx;
    pulls++;
    if (pulls > 3) return vow_resolved(loop, vow_stream_end_value());
    return vow_resolved(loop, item());
}

Test(stream, a_pull_producer_is_asked_only_for_what_is_consumed) {
    reset_counts();
    pulls = 0;
    vow_loop_t *loop = vow_test_loop();
    vow_stream_t *s = vow_stream_new(loop, 4, pull_counted, NULL, NULL, NULL);
    run(loop);
    VOW_ASSERT_EQ(pulls, 0, "nothing asked yet");
    vow_t *a = vow_stream_next(s);
    VOW_ASSERT_EQ(pulls, 1, "the next that needs it pulls");
    vow_t *b = vow_stream_next(s);
    VOW_ASSERT_EQ(pulls, 1, "one pull at a time");
    run(loop);
    VOW_ASSERT_EQ(pulls, 2);
    VOW_ASSERT_EQ(id_of(a), 0);
    VOW_ASSERT_EQ(id_of(b), 1);
    vow_unref(a);
    vow_unref(b);
    vow_t *c = vow_stream_next(s), *d = vow_stream_next(s), *e = vow_stream_next(s);
    run(loop);
    VOW_ASSERT_EQ(id_of(c), 2);
    expect_end(d);
    expect_end(e);
    VOW_ASSERT_EQ(pulls, 4, "nothing pulled past the end");
    vow_unref(c);
    vow_unref(d);
    vow_unref(e);
    vow_stream_unref(s);
    expect_every_obj_freed_once();
    VOW_TEST_END(loop);
}

static vow_t *pull_fails(vow_loop_t *loop, void *ctx) {
    (void)ctx;
    return vow_rejected(loop, vow_error_new(VOW_EUSER, "pull failed"));
}
static vow_t *pull_null(vow_loop_t *loop, void *ctx) {
    (void)loop, (void)ctx;
    return NULL;
}

Test(stream, a_pull_that_rejects_or_returns_null_fails_the_stream) {
    vow_loop_t *loop = vow_test_loop();
    vow_stream_pull_fn fns[2] = {pull_fails, pull_null};
    int codes[2] = {VOW_EUSER, VOW_ENOMEM};
    for (int i = 0; i < 2; i++) {
        vow_stream_t *s = vow_stream_new(loop, 0, fns[i], NULL, NULL, NULL);
        vow_t *n = vow_stream_next(s);
        run(loop);
        VOW_ASSERT_STATE(vow_state(n), VOW_REJECTED);
        VOW_ASSERT_CODE(vow_error_code(vow_error(n)), codes[i]);
        vow_unref(n);
        n = vow_stream_next(s);
        expect_end(n);
        vow_unref(n);
        vow_stream_unref(s);
    }
    VOW_TEST_END(loop);
}

Test(stream, closing_a_range_cancels_its_pending_sleep) {
    cleanups = 0;
    vow_loop_t *loop = vow_test_loop();
    vow_stream_t *s = vow_stream_range(loop, 0, 10, 1, 60000);
    vow_t *n = vow_stream_next(s);
    VOW_ASSERT_CODE(vow_stream_close(s), 0);
    expect_end(n);
    /* No timer is left: the loop has nothing to wait for (it would wait a minute). */
    VOW_ASSERT_CODE(vow_loop_alive(loop), 0);
    vow_unref(n);
    vow_stream_unref(s);
    VOW_TEST_END(loop);
}

static void expect_ints(const vow_value_t *v, const int64_t *want, size_t n) {
    const vow_list_t *l = vow_list_of(v);
    cr_assert_not_null(l, "not a list");
    VOW_ASSERT_EQ(vow_list_len(l), n);
    for (size_t i = 0; i < n; i++)
        VOW_ASSERT_EQ(vow_value_int(vow_list_value(l, i)), want[i], "item %zu", i);
}

Test(stream, range_counts_up_and_down_with_its_delay) {
    vow_loop_t *loop = vow_test_loop();
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, vow_stream_collect(vow_stream_range(loop, 0, 5, 1, 0)), &out), 0);
    expect_ints(&out.value, (int64_t[]){0, 1, 2, 3, 4}, 5);
    vow_outcome_release(&out);
    VOW_ASSERT_CODE(vow_run(loop, vow_stream_collect(vow_stream_range(loop, 5, -1, -2, 0)), &out),
                    0);
    expect_ints(&out.value, (int64_t[]){5, 3, 1}, 3);
    vow_outcome_release(&out);
    VOW_ASSERT_CODE(vow_run(loop, vow_stream_collect(vow_stream_range(loop, 3, 3, 1, 0)), &out), 0);
    VOW_ASSERT_EQ(vow_list_len(vow_list_of(&out.value)), 0u, "empty");
    vow_outcome_release(&out);
    VOW_ASSERT_CODE(
        vow_run(loop, vow_stream_collect(vow_stream_range(loop, INT64_MAX - 1, INT64_MAX, 5, 0)),
                &out),
        0);
    expect_ints(&out.value, (int64_t[]){INT64_MAX - 1}, 1);
    vow_outcome_release(&out);
    cr_assert_null(vow_stream_range(loop, 0, 5, 0, 0), "step 0");
    uint64_t t0 = vow_loop_now(loop);
    VOW_ASSERT_CODE(vow_run(loop, vow_stream_collect(vow_stream_range(loop, 0, 3, 1, 20)), &out),
                    0);
    expect_ints(&out.value, (int64_t[]){0, 1, 2}, 3);
    vow_outcome_release(&out);
    cr_assert_geq(vow_loop_now(loop) - t0, 60, "three items, 20 ms each, one after the other");
    VOW_TEST_END(loop);
}

/* ---- for_each ---------------------------------------------------------------------------- */
static int calls, settled_steps, in_step;
static int64_t seen[16];
static vow_result_t step_done(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v, (void)ctx;
    in_step = 0;
    settled_steps++;
    return vow_ok_none();
}
static vow_result_t slow_step(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)ctx;
    cr_assert_eq(in_step, 0, "an item came before the previous step's promise settled");
    cr_assert_eq(pulls, calls + 1, "the next item was asked for before the step settled");
    seen[calls++] = vow_value_int(v);
    in_step = 1;
    return vow_follow(vow_then_ok(vow_sleep(loop, 3), step_done, NULL));
}
static vow_t *pull_ints(vow_loop_t *loop, void *ctx) {
    (void)ctx;
    int64_t i = pulls++;
    return vow_resolved(loop, i < 4 ? vow_int(i * 10) : vow_stream_end_value());
}

Test(stream, for_each_waits_for_its_reactions_promise_before_the_next_item) {
    calls = settled_steps = in_step = pulls = 0;
    ctx_free_calls = 0;
    vow_loop_t *loop = vow_test_loop();
    vow_stream_t *s = vow_stream_new(loop, 4, pull_ints, NULL, NULL, NULL);
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, vow_stream_for_each(s, slow_step, NULL, ctx_free_count), &out),
                    0);
    VOW_ASSERT_STATE(out.state, VOW_FULFILLED);
    VOW_ASSERT_EQ(calls, 4);
    VOW_ASSERT_EQ(settled_steps, 4);
    VOW_ASSERT_EQ(pulls, 5, "four items and the end");
    for (int i = 0; i < 4; i++) VOW_ASSERT_EQ(seen[i], (int64_t)(i * 10));
    VOW_ASSERT_EQ(ctx_free_calls, 1);
    vow_outcome_release(&out);
    VOW_TEST_END(loop);
}

static vow_result_t fail_on_second(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v, (void)ctx;
    if (++calls == 2) return vow_fail_code(VOW_EUSER, "step failed");
    return vow_ok_int(0);
}

Test(stream, for_each_stops_at_its_reactions_error_and_closes_the_stream) {
    reset_counts();
    calls = 0;
    cleanups = 0;
    vow_loop_t *loop = vow_test_loop();
    vow_stream_t *s = vow_stream_new(loop, 4, NULL, count_cleanup, NULL, NULL);
    for (int i = 0; i < 4; i++) vow_unref(vow_stream_push(s, item()));
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, vow_stream_for_each(s, fail_on_second, NULL, NULL), &out), 0);
    VOW_ASSERT_STR_EQ(vow_error_message(out.error), "step failed");
    VOW_ASSERT_EQ(calls, 2);
    VOW_ASSERT_EQ(cleanups, 1, "the stream was closed early");
    vow_outcome_release(&out);
    expect_every_obj_freed_once();
    /* The stream's own failure. */
    s = vow_stream_new(loop, 4, NULL, NULL, NULL, NULL);
    vow_unref(vow_stream_push(s, vow_int(1)));
    VOW_ASSERT_CODE(vow_stream_fail(s, vow_error_new(VOW_EUSER, "source failed")), 0);
    calls = 0;
    VOW_ASSERT_CODE(vow_run(loop, vow_stream_for_each(s, fail_on_second, NULL, NULL), &out), 0);
    VOW_ASSERT_STR_EQ(vow_error_message(out.error), "source failed");
    VOW_ASSERT_EQ(calls, 1);
    vow_outcome_release(&out);
    VOW_TEST_END(loop);
}

static vow_result_t count_call(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v, (void)ctx;
    calls++;
    return vow_ok_none();
}

Test(stream, cancelling_for_each_stops_it_and_closes_the_stream) {
    reset_counts();
    calls = 0;
    cleanups = 0;
    vow_loop_t *loop = vow_test_loop();
    vow_stream_t *s = vow_stream_new(loop, 4, NULL, count_cleanup, NULL, ctx_free_count);
    vow_stream_t *producer = vow_stream_ref(s);
    vow_unref(vow_stream_push(producer, item()));
    vow_t *f = vow_stream_for_each(s, count_call, NULL, NULL);
    run(loop);
    VOW_ASSERT_EQ(calls, 1);
    VOW_ASSERT_STATE(vow_state(f), VOW_PENDING, "waits for the second item");
    VOW_ASSERT_CODE(vow_cancel(f), 0);
    VOW_ASSERT_EQ(cleanups, 1);
    vow_t *late = vow_stream_push(producer, item());
    VOW_ASSERT_CODE(vow_error_code(vow_error(late)), VOW_ECLOSED);
    vow_unref(late);
    run(loop);
    VOW_ASSERT_EQ(calls, 1);
    vow_unref(f);
    vow_stream_unref(producer);
    VOW_ASSERT_EQ(ctx_free_calls, 1);
    expect_every_obj_freed_once();
    VOW_TEST_END(loop);
}

Test(stream, collect_lists_every_item_shared_and_releases_them_on_failure) {
    reset_counts();
    vow_loop_t *loop = vow_test_loop();
    vow_stream_t *s = vow_stream_new(loop, 8, NULL, NULL, NULL, NULL);
    for (int i = 0; i < 5; i++) vow_unref(vow_stream_push(s, item()));
    VOW_ASSERT_CODE(vow_stream_end(s), 0);
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, vow_stream_collect(s), &out), 0);
    const vow_list_t *l = vow_list_of(&out.value);
    VOW_ASSERT_EQ(vow_list_len(l), 5u);
    for (size_t i = 0; i < 5; i++)
        VOW_ASSERT_EQ(((const obj *)vow_value_ptr(vow_list_value(l, i)))->id, (int)i);
    VOW_ASSERT_EQ(obj_freed[0], 0, "the list holds them");
    vow_outcome_release(&out);
    expect_every_obj_freed_once();
    s = vow_stream_new(loop, 8, NULL, NULL, NULL, NULL);
    for (int i = 0; i < 3; i++) vow_unref(vow_stream_push(s, item()));
    VOW_ASSERT_CODE(vow_stream_fail(s, vow_error_new(VOW_EUSER, "x")), 0);
    VOW_ASSERT_CODE(vow_run(loop, vow_stream_collect(s), &out), 0);
    VOW_ASSERT_CODE(vow_error_code(out.error), VOW_EUSER);
    vow_outcome_release(&out);
    expect_every_obj_freed_once();
    VOW_TEST_END(loop);
}

/* ---- map --------------------------------------------------------------------------------- */
static int in_flight, max_in_flight;
static vow_result_t map_done(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v;
    in_flight--;
    return vow_ok_int((int64_t)(intptr_t)ctx * 100);
}
/* Later items finish first: item i takes (10 - i) ms. */
static vow_result_t slow_map(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)ctx;
    int64_t i = vow_value_int(v);
    if (++in_flight > max_in_flight) max_in_flight = in_flight;
    calls++;
    return vow_follow(
        vow_then_ok(vow_sleep(loop, (uint64_t)(10 - i)), map_done, (void *)(intptr_t)i));
}

Test(stream, map_keeps_input_order_and_never_exceeds_its_bound) {
    vow_loop_t *loop = vow_test_loop();
    for (size_t bound = 1; bound <= 4; bound++) {
        in_flight = max_in_flight = calls = 0;
        ctx_free_calls = 0;
        vow_stream_t *m = vow_stream_map(vow_stream_range(loop, 0, 10, 1, 0), slow_map, NULL,
                                         ctx_free_count, bound);
        cr_assert_not_null(m);
        vow_outcome_t out;
        VOW_ASSERT_CODE(vow_run(loop, vow_stream_collect(m), &out), 0);
        int64_t want[10];
        for (int i = 0; i < 10; i++) want[i] = i * 100;
        expect_ints(&out.value, want, 10);
        vow_outcome_release(&out);
        VOW_ASSERT_EQ(calls, 10);
        VOW_ASSERT_EQ(max_in_flight, (int)bound, "the bound is reached and never passed");
        VOW_ASSERT_EQ(ctx_free_calls, 1);
    }
    VOW_TEST_END(loop);
}

static vow_result_t map_fail_3(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)ctx;
    if (vow_value_int(v) == 3) return vow_fail_code(VOW_EUSER, "item 3");
    return vow_ok_int(vow_value_int(v));
}
static vow_result_t record_int(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)ctx;
    seen[calls++] = vow_value_int(v);
    return vow_ok_none();
}

Test(stream, a_map_failure_comes_after_the_items_before_it) {
    calls = 0;
    vow_loop_t *loop = vow_test_loop();
    vow_stream_t *m =
        vow_stream_map(vow_stream_range(loop, 0, 10, 1, 0), map_fail_3, NULL, NULL, 4);
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, vow_stream_for_each(m, record_int, NULL, NULL), &out), 0);
    VOW_ASSERT_STR_EQ(vow_error_message(out.error), "item 3");
    VOW_ASSERT_EQ(calls, 3);
    for (int i = 0; i < 3; i++) VOW_ASSERT_EQ(seen[i], (int64_t)i);
    vow_outcome_release(&out);
    VOW_TEST_END(loop);
}

static int map_cancels;
static vow_t *pending_maps[8];
static void count_cancel(vow_loop_t *loop, void *ctx) {
    (void)loop, (void)ctx;
    map_cancels++;
}
static vow_result_t never_map(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)ctx, (void)v;
    vow_t *p = vow_new(loop);
    cr_assert_eq(vow_on_cancel(p, count_cancel, NULL, NULL), 0);
    pending_maps[calls++] = vow_ref(p);
    return vow_follow(p);
}

Test(stream, closing_a_map_early_cancels_what_it_maps_and_closes_its_source) {
    reset_counts();
    calls = map_cancels = cleanups = 0;
    vow_loop_t *loop = vow_test_loop();
    vow_stream_t *src = vow_stream_new(loop, 8, NULL, count_cleanup, NULL, ctx_free_count);
    for (int i = 0; i < 6; i++) vow_unref(vow_stream_push(src, item()));
    vow_stream_t *m = vow_stream_map(src, never_map, NULL, NULL, 3);
    vow_t *n = vow_stream_next(m);
    run(loop);
    VOW_ASSERT_EQ(calls, 3, "three items being mapped");
    VOW_ASSERT_STATE(vow_state(n), VOW_PENDING);
    VOW_ASSERT_CODE(vow_stream_close(m), 0);
    expect_end(n);
    VOW_ASSERT_EQ(map_cancels, 3, "each item being mapped is cancelled");
    VOW_ASSERT_EQ(cleanups, 1, "the source is closed early");
    run(loop);
    VOW_ASSERT_EQ(calls, 3);
    vow_unref(n);
    vow_stream_unref(m);
    for (int i = 0; i < 3; i++) vow_unref(pending_maps[i]);
    VOW_ASSERT_EQ(ctx_free_calls, 1);
    expect_every_obj_freed_once();
    VOW_TEST_END(loop);
}

/* ---- teardown ----------------------------------------------------------------------------- */
Test(stream, freeing_the_loop_with_items_inside_releases_each_once) {
    reset_counts();
    cleanups = 0;
    vow_loop_t *loop = vow_test_loop();
    vow_stream_t *s = vow_stream_new(loop, 2, NULL, count_cleanup, NULL, ctx_free_count);
    vow_t *push[4];
    for (int i = 0; i < 4; i++) push[i] = vow_stream_push(s, item());
    vow_stream_t *t = vow_stream_new(loop, 2, NULL, count_cleanup, NULL, ctx_free_count);
    vow_unref(vow_then_ok(vow_stream_next(t), record_item, NULL));
    vow_stream_unref(t); /* only its waiting next holds it */
    VOW_ASSERT_CODE(vow_loop_close(loop), 0, "nothing runs: the loop closes around them");
    VOW_ASSERT_EQ(obj_freed[2], 1, "a pending push's item goes with the loop");
    VOW_ASSERT_EQ(obj_freed[3], 1);
    VOW_ASSERT_EQ(ctx_free_calls, 1, "the stream only a next held is freed");
    VOW_ASSERT_EQ(cleanups, 1);
    cr_assert_null(vow_stream_next(s));
    cr_assert_null(vow_stream_push(s, item()));
    VOW_ASSERT_CODE(vow_stream_close(s), VOW_ECLOSED);
    VOW_ASSERT_CODE(vow_stream_end(s), VOW_ECLOSED);
    for (int i = 0; i < 4; i++) vow_unref(push[i]);
    vow_stream_unref(s);
    VOW_ASSERT_EQ(cleanups, 2);
    VOW_ASSERT_EQ(ctx_free_calls, 2);
    expect_every_obj_freed_once();
    VOW_ASSERT_EQ(vow_test_live_allocs(), 0L);
}
