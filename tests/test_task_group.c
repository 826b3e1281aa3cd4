/* tests/test_task_group.c - task groups, Python 3.11's TaskGroup (vow/task.h): join fulfils
 * with the results in the order added (not the completion order), with add and spawn
 * mixed; when one task fails the others are cancelled (cancel callbacks run, sleeps
 * freed), the group waits for them, and the join rejects with VOW_EAGGREGATE of every
 * failure, cancellations left out, in the order added - two failures in one loop turn
 * both appear while a sibling that would fail 10 ms later is cancelled and absent; a group
 * whose every failure is a cancellation rejects as cancelled; adding after join or after
 * the abort is VOW_EPERM (the refused promise is cancelled and released); join twice;
 * empty group; cancelling the join cancels the pending tasks; a group dropped before join
 * leaks nothing and reports its failure as unhandled; misuse; out of memory. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "counted.h"
#include "helpers.h"

TestSuite(task_group, .init = vow_test_setup, .fini = vow_test_teardown, .timeout = 30);

#define CTX(x) ((void *)(intptr_t)(x))

/* ---- inputs ----------------------------------------------------------------------------- */

static vow_result_t give_value(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v;
    return vow_ok_int((int64_t)(intptr_t)ctx);
}

/* Bodies that ran, by tag, and the order tasks completed in. */
static int fail_ran[16];
static int done_order[16], done_len;

typedef struct failure {
    int tag;
    vow_error_t *err; /* owned */
} failure;
static void failure_free(void *p) {
    failure *f = p;
    vow_error_unref(f->err);
    free(f);
}
static vow_result_t give_error(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v;
    failure *f = ctx;
    fail_ran[f->tag]++;
    done_order[done_len++] = f->tag;
    return vow_fail(vow_error_ref(f->err));
}
static vow_result_t note_done(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v;
    done_order[done_len++] = (int)(intptr_t)ctx;
    return vow_ok_int((int64_t)(intptr_t)ctx);
}

/* Fulfils with `i` after a vow_sleep of `ms` (cancelling it frees the timer). */
static vow_t *sleep_value(vow_loop_t *loop, uint64_t ms, int64_t i) {
    vow_t *p = vow_then(vow_sleep(loop, ms), note_done, NULL, CTX(i), NULL);
    cr_assert_not_null(p);
    return p;
}
/* Continues `src` (consumed) with a rejection by `err` (consumed), noting tag. */
static vow_t *fail_after(vow_t *src, int tag, vow_error_t *err) {
    failure *f = malloc(sizeof *f);
    cr_assert_not_null(f);
    f->tag = tag;
    f->err = err;
    vow_t *p = vow_then(src, give_error, NULL, f, failure_free);
    cr_assert_not_null(p);
    return p;
}
static vow_t *fail_in(vow_loop_t *loop, uint64_t ms, int tag, vow_error_t *err) {
    return fail_after(vow_sleep(loop, ms), tag, err);
}

/* A vow_new promise with a counting cancel callback. */
static int cancel_calls[16], cancel_ctx_freed[16];
static void on_cancel(vow_loop_t *loop, void *ctx) {
    (void)loop;
    cancel_calls[(intptr_t)ctx]++;
}
static void cancel_ctx_free(void *ctx) { cancel_ctx_freed[(intptr_t)ctx]++; }
static vow_t *cancellable(vow_loop_t *loop, int id) {
    vow_t *p = vow_new(loop);
    cr_assert_not_null(p);
    VOW_ASSERT_CODE(vow_on_cancel(p, on_cancel, CTX(id), cancel_ctx_free), 0);
    return p;
}

/* A vow_new promise that, when cancelled, rejects with an error of its own instead (a task
 * that fails while being cancelled). */
static vow_t *fails_on_cancel_p;
static void reject_instead(vow_loop_t *loop, void *ctx) {
    (void)loop;
    cancel_calls[(intptr_t)ctx]++;
    VOW_ASSERT_CODE(vow_reject(fails_on_cancel_p, vow_error_new(VOW_EBUSY, "cleanup failed")), 0);
}

static void expect_cancelled(const vow_t *p, const char *what) {
    VOW_ASSERT_STATE(vow_state(p), VOW_REJECTED, "%s is not rejected (state %d)", what,
                     (int)vow_state(p));
    cr_assert(vow_is_cancellation(vow_error(p)), "%s: %s, not a cancellation", what,
              vow_err_name(vow_error_code(vow_error(p))));
}

/* ---- task bodies ---------------------------------------------------------------------------- */

static int body_calls[16];
static int arg_free_calls[16];
static void tag_free(void *arg) { arg_free_calls[(intptr_t)arg]++; }
/* Body: sleeps 10 * tag ms then fulfils with 100 + tag. */
static vow_t *body(vow_loop_t *loop, void *arg) {
    int tag = (int)(intptr_t)arg;
    body_calls[tag]++;
    return vow_then(vow_sleep(loop, (uint64_t)(10 * tag)), give_value, NULL, CTX(100 + tag), NULL);
}

/* ---- reading the join ------------------------------------------------------------------------ */

static int join_ok_calls, join_err_calls;
static int alive_at_join = -1;
static int pending_tasks_at_join = -1;
static vow_t *watched[16]; /* references to tasks whose state the join's reaction checks */
static int n_watched;
static void watch(vow_t *p) { watched[n_watched++] = vow_ref(p); }
static void unwatch_all(void) {
    for (int i = 0; i < n_watched; i++) vow_unref(watched[i]);
    n_watched = 0;
}
static void at_join(vow_loop_t *loop) {
    alive_at_join = vow_loop_alive(loop);
    pending_tasks_at_join = 0;
    for (int i = 0; i < n_watched; i++)
        if (vow_state(watched[i]) == VOW_PENDING) pending_tasks_at_join++;
}
static vow_result_t join_ok(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)ctx;
    join_ok_calls++;
    at_join(loop);
    return vow_ok(vow_value_share(v));
}
static vow_result_t join_err(vow_loop_t *loop, vow_error_t *e, void *ctx) {
    (void)ctx;
    join_err_calls++;
    at_join(loop);
    return vow_fail(vow_error_ref(e));
}

/* Joins g, runs the loop until the join settles, and returns its outcome. */
static vow_outcome_t run_join(vow_loop_t *loop, vow_task_group_t *g) {
    vow_t *j = vow_task_group_join(g);
    cr_assert_not_null(j);
    vow_t *d = vow_then_ex(j, join_ok, join_err, NULL, NULL, VOW_CATCH_CANCELLED);
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, d, &out), 0);
    VOW_ASSERT_EQ(join_ok_calls + join_err_calls, 1);
    return out;
}

static void expect_list(const vow_outcome_t *out, const int64_t *want, size_t n) {
    VOW_ASSERT_STATE(out->state, VOW_FULFILLED, "the join rejected: %s",
                     out->state == VOW_REJECTED ? vow_error_message(out->error) : "");
    const vow_list_t *l = vow_list_of(&out->value);
    cr_assert_not_null(l, "the join's value is not a list");
    VOW_ASSERT_EQ(vow_list_len(l), n);
    for (size_t i = 0; i < n; i++) {
        VOW_ASSERT_STATE(vow_list_state(l, i), VOW_FULFILLED);
        VOW_ASSERT_EQ(vow_value_int(vow_list_value(l, i)), want[i], "item %zu is %lld, not %lld", i,
                      (long long)vow_value_int(vow_list_value(l, i)), (long long)want[i]);
    }
}

/* The join rejected with an aggregate of exactly these errors, in this order. */
static void expect_aggregate(const vow_outcome_t *out, vow_error_t *const *want, size_t n) {
    VOW_ASSERT_STATE(out->state, VOW_REJECTED);
    VOW_ASSERT_CODE(vow_error_code(out->error), VOW_EAGGREGATE, "%s",
                    vow_err_name(vow_error_code(out->error)));
    VOW_ASSERT_EQ(vow_error_count(out->error), n, "%zu errors in the aggregate, expected %zu",
                  vow_error_count(out->error), n);
    for (size_t i = 0; i < n; i++)
        VOW_ASSERT_EQ(vow_error_at(out->error, i), want[i], "error %zu is %s (%s)", i,
                      vow_err_name(vow_error_code(vow_error_at(out->error, i))),
                      vow_error_message(vow_error_at(out->error, i)));
}

/* ---- results in the order added ----------------------------------------------------------- */

/* Tasks 0, 1, 2 sleep 30, 10 and 20 ms and so complete in the order 1, 2, 0. A timer counts
 * from its own creation, so the sleeps are made in the order they are due (1, 2, 0): then
 * no machine is too slow for that order. Made in the order added, a gap of 10 ms between
 * two of them (valgrind) would reorder them. */
Test(task_group, join_fulfils_with_the_results_in_the_order_added) {
    vow_loop_t *loop = vow_test_loop();
    vow_task_group_t *g = vow_task_group_new(loop);
    cr_assert_not_null(g);
    vow_t *t1 = sleep_value(loop, 10, 1);
    vow_t *t2 = sleep_value(loop, 20, 2);
    vow_t *t0 = sleep_value(loop, 30, 0);
    VOW_ASSERT_CODE(vow_task_group_add(g, t0), 0);
    VOW_ASSERT_CODE(vow_task_group_add(g, t1), 0);
    VOW_ASSERT_CODE(vow_task_group_add(g, t2), 0);
    vow_outcome_t out = run_join(loop, g);
    VOW_ASSERT_EQ(done_len, 3);
    VOW_ASSERT_EQ(done_order[0], 1, "the tasks did not complete in the order 1, 2, 0");
    VOW_ASSERT_EQ(done_order[1], 2);
    expect_list(&out, (int64_t[]){0, 1, 2}, 3);
    vow_outcome_release(&out);
    vow_task_group_unref(g);
    VOW_TEST_END(loop);
}

Test(task_group, spawn_and_add_mixed_keep_the_order_added) {
    vow_loop_t *loop = vow_test_loop();
    vow_task_group_t *g = vow_task_group_new(loop);
    VOW_ASSERT_CODE(vow_task_group_spawn(g, body, CTX(3), tag_free), 0); /* 30 ms: 103 */
    VOW_ASSERT_CODE(vow_task_group_add(g, sleep_value(loop, 5, 7)), 0);
    VOW_ASSERT_CODE(vow_task_group_spawn(g, body, CTX(0), tag_free), 0); /* at once: 100 */
    VOW_ASSERT_CODE(vow_task_group_add(g, vow_resolved(loop, vow_int(8))), 0);
    VOW_ASSERT_CODE(vow_task_group_spawn(g, body, CTX(1), NULL), 0); /* 10 ms: 101 */
    VOW_ASSERT_EQ(body_calls[3] + body_calls[0], 0, "a spawned body ran inside spawn");
    vow_outcome_t out = run_join(loop, g);
    expect_list(&out, (int64_t[]){103, 7, 100, 8, 101}, 5);
    VOW_ASSERT_EQ(body_calls[3], 1);
    VOW_ASSERT_EQ(arg_free_calls[3], 1);
    VOW_ASSERT_EQ(arg_free_calls[0], 1);
    vow_outcome_release(&out);
    vow_task_group_unref(g);
    VOW_TEST_END(loop);
}

Test(task_group, join_waits_for_every_task_and_tasks_may_finish_before_join) {
    vow_loop_t *loop = vow_test_loop();
    vow_task_group_t *g = vow_task_group_new(loop);
    VOW_ASSERT_CODE(vow_task_group_add(g, sleep_value(loop, 5, 0)), 0);
    VOW_ASSERT_CODE(vow_task_group_add(g, sleep_value(loop, 10, 1)), 0);
    /* Every task finishes before join is called. */
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    vow_outcome_t out = run_join(loop, g);
    expect_list(&out, (int64_t[]){0, 1}, 2);
    vow_outcome_release(&out);
    vow_task_group_unref(g);
    VOW_TEST_END(loop);
}

Test(task_group, empty_group_joins_with_an_empty_list) {
    vow_loop_t *loop = vow_test_loop();
    vow_task_group_t *g = vow_task_group_new(loop);
    vow_t *j = vow_task_group_join(g);
    cr_assert_not_null(j);
    vow_t *d = vow_then(j, join_ok, join_err, NULL, NULL);
    VOW_ASSERT_EQ(join_ok_calls, 0, "the reaction ran inside join");
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, d, &out), 0);
    VOW_ASSERT_EQ(join_ok_calls, 1);
    expect_list(&out, NULL, 0);
    vow_outcome_release(&out);
    vow_task_group_unref(g);
    VOW_TEST_END(loop);
}

/* ---- one failure: the rest are cancelled, the join rejects with the failures --------------- */

Test(task_group, a_failure_cancels_the_others_and_the_join_rejects_with_the_aggregate) {
    vow_loop_t *loop = vow_test_loop();
    record_rejections(loop);
    vow_error_t *e = vow_error_new(VOW_EINVAL, "task 2 failed");
    vow_task_group_t *g = vow_task_group_new(loop);
    vow_t *t[4];
    t[0] = cancellable(loop, 0);
    t[1] = sleep_value(loop, 1000, 1);
    /* Task 3's 2 ms sleep is made before task 2's 10 ms timer, so it is due first however
     * slow the machine (each timer counts from its own creation). */
    t[3] = sleep_value(loop, 2, 3);
    t[2] = fail_in(loop, 10, 2, vow_error_ref(e));
    for (int i = 0; i < 4; i++) {
        watch(t[i]);
        VOW_ASSERT_CODE(vow_task_group_add(g, t[i]), 0);
    }
    vow_outcome_t out = run_join(loop, g);
    expect_aggregate(&out, &e, 1);
    VOW_ASSERT_EQ(cancel_calls[0], 1, "the pending vow_new task's cancel callback ran %d times",
                  cancel_calls[0]);
    VOW_ASSERT_EQ(cancel_ctx_freed[0], 1);
    expect_cancelled(watched[0], "task 0");
    expect_cancelled(watched[1], "task 1 (a 1 s sleep)");
    VOW_ASSERT_STATE(vow_state(watched[3]), VOW_FULFILLED, "the task done before the failure");
    VOW_ASSERT_EQ(pending_tasks_at_join, 0, "the join settled before its tasks did");
    VOW_ASSERT_EQ(alive_at_join, 0, "the cancelled sleep's timer still runs");
    VOW_ASSERT_EQ(rejections.unhandled, 0, "a task's failure was reported as unhandled");
    vow_outcome_release(&out);
    unwatch_all();
    vow_error_unref(e);
    vow_task_group_unref(g);
    VOW_TEST_END(loop);
}

Test(task_group, spawned_tasks_are_cancelled_too_and_their_sleeps_freed) {
    vow_loop_t *loop = vow_test_loop();
    vow_task_group_t *g = vow_task_group_new(loop);
    VOW_ASSERT_CODE(vow_task_group_spawn(g, body, CTX(9), tag_free), 0); /* 90 ms */
    VOW_ASSERT_CODE(vow_task_group_spawn(g, body, CTX(8), tag_free), 0); /* 80 ms */
    VOW_ASSERT_CODE(vow_task_group_add(g, fail_in(loop, 10, 0, vow_error_new(VOW_EPERM, NULL))), 0);
    vow_outcome_t out = run_join(loop, g);
    VOW_ASSERT_CODE(vow_error_code(out.error), VOW_EAGGREGATE);
    VOW_ASSERT_EQ(vow_error_count(out.error), 1);
    VOW_ASSERT_EQ(body_calls[9], 1);
    VOW_ASSERT_EQ(body_calls[8], 1);
    VOW_ASSERT_EQ(arg_free_calls[9], 1);
    VOW_ASSERT_EQ(arg_free_calls[8], 1);
    VOW_ASSERT_EQ(alive_at_join, 0, "a spawned task's sleep still runs");
    vow_outcome_release(&out);
    vow_task_group_unref(g);
    VOW_TEST_END(loop);
}

/* Continues the shared sleep with 10 ms more: made in the drain after the shared timer, so
 * C's timer is due 10 ms after that turn, whatever the machine's speed. (A 30 ms timer made
 * beside the 20 ms one would be due in the same timers pass whenever the loop wakes 10 ms
 * late, as under valgrind, and fail before the group aborted.) */
static vow_result_t sleep_10_more(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)v, (void)ctx;
    return vow_follow(vow_sleep(loop, 10));
}

/* The test: two tasks fail in one loop turn, a sibling would fail 10 ms later.
 * Both continue one shared 20 ms sleep, so both fail in the microtask drain after that
 * timer; A, added first, fails last (three jobs deeper), so a group that aborted as soon
 * as it saw B's failure would cancel A before it failed. Both failures are in the
 * aggregate, in the order added (A, B), not in time order; the late sibling C is
 * cancelled (its pending sleep with it) and absent; a long task is cancelled. */
Test(task_group, two_failures_in_one_turn_both_appear_in_the_order_added) {
    vow_loop_t *loop = vow_test_loop();
    vow_error_t *ea = vow_error_new(VOW_EINVAL, "A failed");
    vow_error_t *eb = vow_error_new(VOW_ERANGE, "B failed");
    vow_error_t *ec = vow_error_new(VOW_EBUSY, "C would fail 10 ms later");
    vow_t *shared = vow_sleep(loop, 20);
    vow_t *deeper = vow_then(
        vow_then(vow_then(vow_ref(shared), NULL, NULL, NULL, NULL), NULL, NULL, NULL, NULL), NULL,
        NULL, NULL, NULL);
    vow_t *a = fail_after(deeper, 0, vow_error_ref(ea));
    vow_t *c = fail_after(vow_then(vow_ref(shared), sleep_10_more, NULL, NULL, NULL), 2,
                          vow_error_ref(ec));
    vow_t *b = fail_after(shared, 1, vow_error_ref(eb));
    vow_t *d = sleep_value(loop, 1000, 3);
    vow_task_group_t *g = vow_task_group_new(loop);
    vow_t *order_added[4] = {a, d, b, c};
    for (int i = 0; i < 4; i++) {
        watch(order_added[i]);
        VOW_ASSERT_CODE(vow_task_group_add(g, order_added[i]), 0);
    }
    vow_outcome_t out = run_join(loop, g);
    VOW_ASSERT_EQ(done_order[0], 1, "B did not fail first in time");
    VOW_ASSERT_EQ(done_order[1], 0);
    expect_aggregate(&out, (vow_error_t *[]){ea, eb}, 2);
    VOW_ASSERT_EQ(fail_ran[2], 0, "C ran: it was not cancelled");
    expect_cancelled(watched[1], "the long task");
    expect_cancelled(watched[3], "C");
    VOW_ASSERT_EQ(alive_at_join, 0, "C's or the long task's timer still runs");
    vow_outcome_release(&out);
    unwatch_all();
    vow_error_unref(ea);
    vow_error_unref(eb);
    vow_error_unref(ec);
    vow_task_group_unref(g);
    VOW_TEST_END(loop);
}

/* One failure in a timer callback, another in an immediate that callback queued: the same
 * loop turn, in two phases. The group aborts from an immediate queued after both, so both
 * are in the aggregate. */
static vow_t *second_failer;
static void reject_second(vow_loop_t *loop, void *arg) {
    (void)loop;
    VOW_ASSERT_CODE(vow_reject(second_failer, arg), 0);
}
static vow_t *first_failer;
static void reject_first(vow_loop_t *loop, void *arg) {
    VOW_ASSERT_CODE(
        vow_set_immediate(loop, reject_second, vow_error_new(VOW_ERANGE, "second"), NULL), 0);
    VOW_ASSERT_CODE(vow_reject(first_failer, arg), 0);
}

Test(task_group, failures_in_the_timer_and_check_phases_of_one_turn_both_appear) {
    vow_loop_t *loop = vow_test_loop();
    vow_task_group_t *g = vow_task_group_new(loop);
    first_failer = vow_new(loop);
    second_failer = vow_new(loop);
    VOW_ASSERT_CODE(
        vow_set_timeout(loop, reject_first, vow_error_new(VOW_EINVAL, "first"), 10, NULL), 0);
    VOW_ASSERT_CODE(vow_task_group_add(g, vow_ref(second_failer)), 0);
    VOW_ASSERT_CODE(vow_task_group_add(g, sleep_value(loop, 1000, 0)), 0);
    VOW_ASSERT_CODE(vow_task_group_add(g, vow_ref(first_failer)), 0);
    vow_outcome_t out = run_join(loop, g);
    VOW_ASSERT_CODE(vow_error_code(out.error), VOW_EAGGREGATE);
    VOW_ASSERT_EQ(vow_error_count(out.error), 2, "%zu errors", vow_error_count(out.error));
    cr_assert_str_eq(vow_error_message(vow_error_at(out.error, 0)), "second");
    cr_assert_str_eq(vow_error_message(vow_error_at(out.error, 1)), "first");
    vow_outcome_release(&out);
    vow_unref(first_failer);
    vow_unref(second_failer);
    vow_task_group_unref(g);
    VOW_TEST_END(loop);
}

Test(task_group, a_task_failing_while_cancelled_is_a_failure_in_the_order_added) {
    vow_loop_t *loop = vow_test_loop();
    vow_error_t *e = vow_error_new(VOW_EINVAL, "the first failure");
    vow_task_group_t *g = vow_task_group_new(loop);
    fails_on_cancel_p = vow_new(loop);
    VOW_ASSERT_CODE(vow_on_cancel(fails_on_cancel_p, reject_instead, CTX(5), NULL), 0);
    VOW_ASSERT_CODE(vow_task_group_add(g, vow_ref(fails_on_cancel_p)), 0);
    VOW_ASSERT_CODE(vow_task_group_add(g, fail_in(loop, 10, 0, vow_error_ref(e))), 0);
    vow_outcome_t out = run_join(loop, g);
    VOW_ASSERT_EQ(cancel_calls[5], 1);
    VOW_ASSERT_EQ(vow_error_count(out.error), 2, "%zu errors", vow_error_count(out.error));
    VOW_ASSERT_CODE(vow_error_code(vow_error_at(out.error, 0)), VOW_EBUSY,
                    "the task added first is first in the aggregate");
    VOW_ASSERT_EQ(vow_error_at(out.error, 1), e);
    vow_outcome_release(&out);
    vow_unref(fails_on_cancel_p);
    vow_error_unref(e);
    vow_task_group_unref(g);
    VOW_TEST_END(loop);
}

Test(task_group, failure_before_join_still_rejects_the_join) {
    vow_loop_t *loop = vow_test_loop();
    vow_error_t *e = vow_error_new(VOW_EPERM, NULL);
    vow_task_group_t *g = vow_task_group_new(loop);
    vow_t *slow = sleep_value(loop, 1000, 0);
    watch(slow);
    VOW_ASSERT_CODE(vow_task_group_add(g, slow), 0);
    VOW_ASSERT_CODE(vow_task_group_add(g, vow_rejected(loop, vow_error_ref(e))), 0);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0, "the abort did not stop the sleep");
    expect_cancelled(watched[0], "the slow task");
    vow_outcome_t out = run_join(loop, g);
    expect_aggregate(&out, &e, 1);
    vow_outcome_release(&out);
    unwatch_all();
    vow_error_unref(e);
    vow_task_group_unref(g);
    VOW_TEST_END(loop);
}

/* A task spawned in the turn of a failure, after the group learned of it: the abort runs
 * before the task's start, so its body never runs and its arg_free runs once. */
static vow_task_group_t *spawn_group;
static int spawn_rc = 1;
static void spawn_later(vow_loop_t *loop, void *arg) {
    (void)loop, (void)arg;
    spawn_rc = vow_task_group_spawn(spawn_group, body, CTX(4), tag_free);
}

Test(task_group, task_spawned_after_a_failure_in_the_same_turn_never_starts) {
    vow_loop_t *loop = vow_test_loop();
    spawn_group = vow_task_group_new(loop);
    VOW_ASSERT_CODE(
        vow_task_group_add(spawn_group, vow_rejected(loop, vow_error_new(VOW_EPERM, NULL))), 0);
    VOW_ASSERT_CODE(vow_microtask(loop, spawn_later, NULL), 0); /* after the group's record */
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    vow_outcome_t out = run_join(loop, spawn_group);
    VOW_ASSERT_CODE(spawn_rc, 0, "spawn in the failure's turn: %s", vow_strerror(spawn_rc));
    VOW_ASSERT_EQ(body_calls[4], 0, "the body of a task cancelled before its start ran");
    VOW_ASSERT_EQ(arg_free_calls[4], 1);
    VOW_ASSERT_EQ(vow_error_count(out.error), 1);
    vow_outcome_release(&out);
    vow_task_group_unref(spawn_group);
    VOW_TEST_END(loop);
}

/* ---- cancellations are not failures --------------------------------------------------------- */

/* Cancels arg (a reference, dropped). */
static void cancel_cb(vow_loop_t *loop, void *arg) {
    (void)loop;
    VOW_ASSERT_CODE(vow_cancel(arg), 0);
    vow_unref(arg);
}

Test(task_group, every_failure_a_cancellation_rejects_as_cancelled_without_aborting) {
    vow_loop_t *loop = vow_test_loop();
    vow_task_group_t *g = vow_task_group_new(loop);
    vow_t *victim = cancellable(loop, 0);
    VOW_ASSERT_CODE(vow_set_timeout(loop, cancel_cb, vow_ref(victim), 5, NULL), 0);
    vow_t *ok = sleep_value(loop, 30, 1);
    watch(ok);
    VOW_ASSERT_CODE(vow_task_group_add(g, victim), 0);
    VOW_ASSERT_CODE(vow_task_group_add(g, ok), 0);
    vow_outcome_t out = run_join(loop, g);
    VOW_ASSERT_STATE(out.state, VOW_REJECTED);
    VOW_ASSERT_CODE(vow_error_code(out.error), VOW_ECANCELED, "%s",
                    vow_err_name(vow_error_code(out.error)));
    VOW_ASSERT_STATE(vow_state(watched[0]), VOW_FULFILLED, "a cancellation aborted the group");
    vow_outcome_release(&out);
    unwatch_all();
    vow_task_group_unref(g);
    VOW_TEST_END(loop);
}

Test(task_group, cancellations_are_left_out_of_the_aggregate) {
    vow_loop_t *loop = vow_test_loop();
    vow_error_t *e = vow_error_new(VOW_EINVAL, NULL);
    vow_task_group_t *g = vow_task_group_new(loop);
    vow_t *victim = cancellable(loop, 0);
    VOW_ASSERT_CODE(vow_set_timeout(loop, cancel_cb, vow_ref(victim), 5, NULL), 0);
    VOW_ASSERT_CODE(vow_task_group_add(g, victim), 0);
    VOW_ASSERT_CODE(vow_task_group_add(g, fail_in(loop, 20, 0, vow_error_ref(e))), 0);
    VOW_ASSERT_CODE(vow_task_group_add(g, vow_rejected(loop, vow_error_new(VOW_ECANCELED, NULL))),
                    0);
    vow_outcome_t out = run_join(loop, g);
    expect_aggregate(&out, &e, 1);
    vow_outcome_release(&out);
    vow_error_unref(e);
    vow_task_group_unref(g);
    VOW_TEST_END(loop);
}

/* ---- adding after join or after the abort --------------------------------------------------- */

Test(task_group, add_after_join_is_eperm_and_cancels_and_releases_the_promise) {
    vow_loop_t *loop = vow_test_loop();
    vow_task_group_t *g = vow_task_group_new(loop);
    VOW_ASSERT_CODE(vow_task_group_add(g, sleep_value(loop, 10, 0)), 0);
    vow_t *j = vow_task_group_join(g);
    vow_t *refused = cancellable(loop, 1);
    watch(refused);
    VOW_ASSERT_CODE(vow_task_group_add(g, refused), VOW_EPERM);
    VOW_ASSERT_EQ(cancel_calls[1], 1, "the refused promise was not cancelled");
    expect_cancelled(watched[0], "the refused promise");
    VOW_ASSERT_CODE(vow_task_group_add(g, vow_resolved(loop, vow_int(1))), VOW_EPERM);
    VOW_ASSERT_CODE(vow_task_group_spawn(g, body, CTX(2), tag_free), VOW_EPERM);
    VOW_ASSERT_EQ(arg_free_calls[2], 1, "arg_free of a refused spawn");
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, j, &out), 0);
    expect_list(&out, (int64_t[]){0}, 1);
    VOW_ASSERT_EQ(body_calls[2], 0);
    vow_outcome_release(&out);
    unwatch_all();
    vow_task_group_unref(g);
    VOW_TEST_END(loop);
}

Test(task_group, add_after_the_abort_is_eperm_and_cancels_the_promise) {
    vow_loop_t *loop = vow_test_loop();
    vow_task_group_t *g = vow_task_group_new(loop);
    VOW_ASSERT_CODE(vow_task_group_add(g, vow_rejected(loop, vow_error_new(VOW_EPERM, NULL))), 0);
    VOW_ASSERT_CODE(vow_task_group_add(g, sleep_value(loop, 1000, 0)), 0);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0); /* the failure and the abort */
    vow_t *refused = cancellable(loop, 1);
    watch(refused);
    VOW_ASSERT_CODE(vow_task_group_add(g, refused), VOW_EPERM);
    expect_cancelled(watched[0], "the refused promise");
    VOW_ASSERT_CODE(vow_task_group_spawn(g, body, CTX(2), tag_free), VOW_EPERM);
    VOW_ASSERT_EQ(arg_free_calls[2], 1);
    vow_outcome_t out = run_join(loop, g);
    VOW_ASSERT_EQ(vow_error_count(out.error), 1);
    VOW_ASSERT_EQ(body_calls[2], 0);
    vow_outcome_release(&out);
    unwatch_all();
    vow_task_group_unref(g);
    VOW_TEST_END(loop);
}

Test(task_group, join_twice_is_a_rejection_with_eperm) {
    vow_loop_t *loop = vow_test_loop();
    vow_task_group_t *g = vow_task_group_new(loop);
    VOW_ASSERT_CODE(vow_task_group_add(g, sleep_value(loop, 5, 0)), 0);
    vow_t *j1 = vow_task_group_join(g);
    vow_t *j2 = vow_task_group_join(g);
    cr_assert_not_null(j2);
    cr_assert_neq(j1, j2);
    VOW_ASSERT_STATE(vow_state(j2), VOW_REJECTED);
    VOW_ASSERT_CODE(vow_error_code(vow_error(j2)), VOW_EPERM);
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, j2, &out), 0);
    vow_outcome_release(&out);
    VOW_ASSERT_CODE(vow_run(loop, j1, &out), 0);
    expect_list(&out, (int64_t[]){0}, 1);
    vow_outcome_release(&out);
    vow_task_group_unref(g);
    VOW_TEST_END(loop);
}

/* ---- cancelling the join -------------------------------------------------------------------- */

Test(task_group, cancelling_the_join_cancels_the_pending_tasks) {
    vow_loop_t *loop = vow_test_loop();
    vow_task_group_t *g = vow_task_group_new(loop);
    /* Both sleeps far enough out that the NOWAIT turn below never reaches them (a 5 ms one
     * did, under valgrind). */
    vow_t *t[3] = {cancellable(loop, 0), sleep_value(loop, 1000, 1), sleep_value(loop, 2000, 2)};
    for (int i = 0; i < 3; i++) {
        watch(t[i]);
        VOW_ASSERT_CODE(vow_task_group_add(g, t[i]), 0);
    }
    VOW_ASSERT_CODE(vow_task_group_spawn(g, body, CTX(9), tag_free), 0);
    vow_t *j = vow_task_group_join(g);
    VOW_ASSERT_EQ(vow_loop_run(loop, VOW_RUN_NOWAIT), 1); /* the spawned body starts */
    VOW_ASSERT_CODE(vow_task_group_spawn(g, body, CTX(8), tag_free), VOW_EPERM);
    VOW_ASSERT_EQ(body_calls[9], 1);
    VOW_ASSERT_CODE(vow_cancel(j), 0);
    expect_cancelled(j, "the join");
    VOW_ASSERT_EQ(cancel_calls[0], 1);
    expect_cancelled(watched[0], "task 0");
    expect_cancelled(watched[1], "task 1");
    expect_cancelled(watched[2], "task 2");
    VOW_ASSERT_EQ(vow_loop_alive(loop), 0, "a cancelled task's timer still runs");
    VOW_ASSERT_EQ(arg_free_calls[9], 1);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    unwatch_all();
    vow_unref(j);
    vow_task_group_unref(g);
    VOW_TEST_END(loop);
}

Test(task_group, cancelling_the_join_before_a_spawned_task_starts_means_it_never_runs) {
    vow_loop_t *loop = vow_test_loop();
    vow_task_group_t *g = vow_task_group_new(loop);
    VOW_ASSERT_CODE(vow_task_group_spawn(g, body, CTX(6), tag_free), 0);
    vow_t *j = vow_task_group_join(g);
    VOW_ASSERT_CODE(vow_cancel(j), 0);
    VOW_ASSERT_EQ(arg_free_calls[6], 1);
    VOW_ASSERT_EQ(vow_loop_alive(loop), 0, "the unstarted task's immediate is still queued");
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(body_calls[6], 0);
    vow_unref(j);
    vow_task_group_unref(g);
    VOW_TEST_END(loop);
}

/* asyncio: cancelling the group's parent cancels every child task, even one that someone
 * else also awaits (task.h: the upstream rule does not apply to a group). The Python judge
 * found vow sparing it (proof/regressions-py/join-cancel-shared-task.prog). */
Test(task_group, cancelling_the_join_cancels_a_task_someone_else_waits_on_too) {
    vow_loop_t *loop = vow_test_loop();
    vow_task_group_t *g = vow_task_group_new(loop);
    vow_t *shared = sleep_value(loop, 20, 4);
    vow_t *other = vow_then(vow_ref(shared), NULL, NULL, NULL, NULL);
    VOW_ASSERT_CODE(vow_task_group_add(g, vow_ref(shared)), 0);
    vow_t *j = vow_task_group_join(g);
    VOW_ASSERT_CODE(vow_cancel(j), 0);
    VOW_ASSERT_STATE(vow_state(shared), VOW_REJECTED, "the shared task was spared");
    cr_assert(vow_is_cancellation(vow_error(shared)));
    VOW_ASSERT_CODE(vow_run(loop, other, NULL), 0);
    VOW_ASSERT_EQ(vow_loop_alive(loop), 0);
    vow_unref(shared);
    vow_unref(j);
    vow_task_group_unref(g);
    VOW_TEST_END(loop);
}

/* ---- dropping the group ---------------------------------------------------------------------- */

Test(task_group, group_dropped_before_join_lets_its_tasks_finish_and_leaks_nothing) {
    vow_loop_t *loop = vow_test_loop();
    record_rejections(loop);
    vow_task_group_t *g = vow_task_group_new(loop);
    vow_t *a = sleep_value(loop, 10, 0);
    watch(a);
    VOW_ASSERT_CODE(vow_task_group_add(g, a), 0);
    VOW_ASSERT_CODE(vow_task_group_spawn(g, body, CTX(2), tag_free), 0);
    vow_task_group_unref(g);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_STATE(vow_state(watched[0]), VOW_FULFILLED);
    VOW_ASSERT_EQ(body_calls[2], 1);
    VOW_ASSERT_EQ(arg_free_calls[2], 1);
    VOW_ASSERT_EQ(rejections.unhandled, 0);
    unwatch_all();
    VOW_TEST_END(loop);
}

Test(task_group, group_dropped_before_join_reports_its_failure_as_unhandled_once) {
    vow_loop_t *loop = vow_test_loop();
    record_rejections(loop);
    VOW_ASSERT_CODE(vow_set_unhandled_mode(loop, VOW_UNHANDLED_SILENT), 0);
    vow_task_group_t *g = vow_task_group_new(loop);
    vow_t *slow = sleep_value(loop, 1000, 0);
    watch(slow);
    VOW_ASSERT_CODE(vow_task_group_add(g, slow), 0);
    VOW_ASSERT_CODE(vow_task_group_add(g, fail_in(loop, 5, 0, vow_error_new(VOW_EINVAL, NULL))), 0);
    vow_task_group_unref(g);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    expect_cancelled(watched[0], "the slow task of a dropped group");
    VOW_ASSERT_EQ(rejections.unhandled, 1);
    VOW_ASSERT_CODE(rejections.last_unhandled.code, VOW_EAGGREGATE);
    unwatch_all();
    VOW_TEST_END(loop);
}

Test(task_group, group_dropped_after_join_keeps_the_join_working) {
    vow_loop_t *loop = vow_test_loop();
    vow_task_group_t *g = vow_task_group_new(loop);
    VOW_ASSERT_CODE(vow_task_group_add(g, sleep_value(loop, 10, 3)), 0);
    vow_t *j = vow_task_group_join(g);
    vow_task_group_unref(g);
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, j, &out), 0);
    expect_list(&out, (int64_t[]){3}, 1);
    vow_outcome_release(&out);
    VOW_TEST_END(loop);
}

Test(task_group, loop_freed_with_a_group_pending) {
    vow_loop_t *loop = vow_test_loop();
    vow_task_group_t *g = vow_task_group_new(loop);
    VOW_ASSERT_CODE(vow_task_group_add(g, sleep_value(loop, 1000, 0)), 0);
    VOW_ASSERT_CODE(vow_task_group_spawn(g, body, CTX(1), tag_free), 0);
    vow_t *j = vow_task_group_join(g);
    VOW_ASSERT_CODE(vow_loop_free(loop), 0);
    VOW_ASSERT_EQ(arg_free_calls[1], 1);
    VOW_ASSERT_EQ(body_calls[1], 0);
    VOW_ASSERT_CODE(vow_cancel(j), VOW_ECLOSED);
    VOW_ASSERT_CODE(vow_task_group_add(g, NULL), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_task_group_spawn(g, body, CTX(2), tag_free), VOW_ECLOSED);
    VOW_ASSERT_EQ(arg_free_calls[2], 1);
    vow_unref(j);
    vow_task_group_unref(g);
    VOW_ASSERT_EQ(vow_test_live_allocs(), 0, "%ld vow allocation(s) still live",
                  vow_test_live_allocs());
}

/* ---- values and misuse ------------------------------------------------------------------------ */

Test(task_group, heap_values_reach_the_list_and_are_freed_once) {
    vow_loop_t *loop = vow_test_loop();
    vow_task_group_t *g = vow_task_group_new(loop);
    for (int i = 0; i < 3; i++)
        VOW_ASSERT_CODE(vow_task_group_add(g, vow_then(vow_sleep(loop, (uint64_t)(3 - i)), give_obj,
                                                       NULL, CTX(i), NULL)),
                        0);
    vow_outcome_t out = run_join(loop, g);
    const vow_list_t *l = vow_list_of(&out.value);
    VOW_ASSERT_EQ(vow_list_len(l), 3);
    for (size_t i = 0; i < 3; i++) {
        const obj *o = vow_value_ptr(vow_list_value(l, i));
        cr_assert_not_null(o);
        VOW_ASSERT_EQ(o->id, (int)i);
    }
    for (int i = 0; i < 3; i++) VOW_ASSERT_EQ(obj_freed[i], 0);
    vow_outcome_release(&out);
    vow_task_group_unref(g);
    VOW_TEST_END(loop);
    for (int i = 0; i < 3; i++)
        VOW_ASSERT_EQ(obj_freed[i], 1, "object %d freed %d times", i, obj_freed[i]);
}

static int free_calls77;
static void free77(void *p) {
    VOW_ASSERT_EQ(p, CTX(77));
    free_calls77++;
}

Test(task_group, misuse_answers_codes_and_releases_what_it_was_given) {
    cr_assert_null(vow_task_group_new(NULL));
    cr_assert_null(vow_task_group_join(NULL));
    vow_task_group_unref(NULL);
    vow_loop_t *loop = vow_test_loop();
    vow_loop_t *other = vow_test_loop();
    vow_task_group_t *g = vow_task_group_new(loop);
    vow_t *p = cancellable(loop, 0);
    watch(p);
    VOW_ASSERT_CODE(vow_task_group_add(NULL, p), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_task_group_add(g, NULL), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_task_group_add(g, vow_resolved(other, vow_int(1))), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_task_group_spawn(NULL, body, CTX(77), free77), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_task_group_spawn(g, NULL, CTX(77), free77), VOW_EINVAL);
    VOW_ASSERT_EQ(free_calls77, 2);
    VOW_ASSERT_CODE(vow_task_group_spawn(g, NULL, CTX(77), NULL), VOW_EINVAL);
    /* The group still works. */
    VOW_ASSERT_CODE(vow_task_group_add(g, vow_resolved(loop, vow_int(5))), 0);
    vow_outcome_t out = run_join(loop, g);
    expect_list(&out, (int64_t[]){5}, 1);
    vow_outcome_release(&out);
    VOW_ASSERT_STATE(vow_state(watched[0]), VOW_PENDING,
                     "a refused NULL group cancelled its promise");
    unwatch_all();
    vow_task_group_unref(g);
    VOW_ASSERT_CODE(vow_loop_close(other), 0);
    VOW_TEST_END(loop);
}

/* ---- out of memory ----------------------------------------------------------------------------- */

static int spawn_called;
static int oom_program(vow_loop_t *loop, int fail) {
    vow_task_group_t *g = vow_task_group_new(loop);
    if (g == NULL) return VOW_ENOMEM;
    spawn_called = 1;
    int rc = 0;
    for (int i = 0; i < 3; i++) {
        vow_t *p = vow_then(vow_sleep(loop, (uint64_t)(1 + i)), give_value, NULL, CTX(i), NULL);
        int r = vow_task_group_add(g, p);
        if (r != 0 && r != VOW_ENOMEM && !(r == VOW_EINVAL && p == NULL)) rc = -100 + r;
        if (r != 0 && rc == 0) rc = VOW_ENOMEM;
    }
    int r = vow_task_group_spawn(g, body, CTX(1), tag_free);
    if (r != 0 && rc == 0) rc = r == VOW_ENOMEM ? VOW_ENOMEM : -200 + r;
    if (fail) {
        vow_t *bad = vow_rejected(loop, vow_error_new(VOW_EINVAL, NULL));
        vow_t *slow = vow_then(vow_sleep(loop, 500), give_value, NULL, NULL, NULL);
        int oom = bad == NULL || slow == NULL;
        r = vow_task_group_add(g, bad);
        if (r != 0 && rc == 0) rc = r == VOW_ENOMEM || oom ? VOW_ENOMEM : -300 + r;
        r = vow_task_group_add(g, slow);
        if (r != 0 && rc == 0) rc = r == VOW_ENOMEM || oom ? VOW_ENOMEM : -400 + r;
        if (oom) rc = VOW_ENOMEM;
    }
    vow_t *j = vow_task_group_join(g);
    vow_task_group_unref(g);
    if (j == NULL) return VOW_ENOMEM;
    vow_outcome_t out;
    int run = vow_run(loop, j, &out);
    if (run != 0) return run;
    int code = out.state == VOW_REJECTED ? vow_error_code(out.error) : 0;
    if (code == VOW_EAGGREGATE) {
        for (size_t i = 0; i < vow_error_count(out.error); i++)
            if (vow_error_code(vow_error_at(out.error, i)) == VOW_ENOMEM) code = VOW_ENOMEM;
        if (code == VOW_EAGGREGATE && fail) code = 0; /* the planted failure */
    }
    vow_outcome_release(&out);
    if (code != 0) return code;
    return rc;
}

Test(task_group, every_allocation_fails_once) {
    for (int fail = 0; fail < 2; fail++) {
        long first = -1;
        for (long n = 0;; n++) {
            vow_loop_t *loop = vow_test_loop();
            VOW_ASSERT_CODE(vow_set_unhandled_mode(loop, VOW_UNHANDLED_SILENT), 0);
            vow_test_reset_counts();
            vow_test_fail_at(n);
            arg_free_calls[1] = 0;
            spawn_called = 0;
            int rc = oom_program(loop, fail);
            long failed = vow_test_failed_allocs();
            vow_test_fail_at(0);
            VOW_ASSERT_CODE(vow_loop_free(loop), 0);
            cr_assert(rc == 0 || rc == VOW_ENOMEM, "fail=%d run %ld: %d %s", fail, n, rc,
                      vow_strerror(rc));
            VOW_ASSERT_EQ(arg_free_calls[1], spawn_called, "fail=%d run %ld: arg_free ran %d times",
                          fail, n, arg_free_calls[1]);
            VOW_ASSERT_EQ(vow_test_live_allocs(), 0, "fail=%d run %ld: %ld allocation(s) leaked",
                          fail, n, vow_test_live_allocs());
            if (n == 0) {
                first = vow_test_alloc_total();
                VOW_ASSERT_CODE(rc, 0);
            } else if (failed == 0) {
                break;
            }
            cr_assert_lt(n, first + 10, "sweep did not end");
        }
    }
}
