/* tests/test_timeout.c - vow_timeout, asyncio.wait_for (Python 3.11) as vow/combinators.h
 * states it: the inner wins (its outcome, the timer stopped and freed at once); expiry
 * cancels the inner (its cancel callback once) and rejects with VOW_ETIMEDOUT caused by the
 * inner's cancellation error, after the inner settled; an inner another reaction waits on
 * is left running and the timeout rejects at once; VOW_TIMEOUT_RACE cancels nothing;
 * cancelling the result stops the timer and cancels the inner; unknown flags.
 * Every "freed at once" is checked in the test body, right after the outcome, never by
 * waiting for the loop to run dry. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "counted.h"
#include "helpers.h"
#include "settle.h"

TestSuite(timeout, .init = vow_test_setup, .fini = vow_test_teardown, .timeout = 30);

/* An inner a timer settles `ms` from now (v or err consumed; settle.h); a cancelled inner
 * refuses (and releases) what the timer brings. One reference. */
static vow_t *inner_in(vow_loop_t *loop, uint64_t ms, vow_value_t v, vow_error_t *err) {
    return settle_in_ex(loop, ms, 0, LATER_MAY_BE_CANCELLED, v, err);
}

/* ---- reactions and cancel callbacks ------------------------------------------------------ */

static vow_t *watched_inner; /* borrowed: the inner whose state reactions record */
static vow_t *watched_timeout;

static int ok_calls, err_calls;
static int64_t seen_int;
static void *seen_ptr;
static int seen_code;
static int alive_in_reaction = -1;
static vow_state_t inner_state_in_reaction;

static vow_result_t count_ok(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)ctx;
    ok_calls++;
    seen_int = vow_value_int(v);
    seen_ptr = vow_value_ptr(v);
    alive_in_reaction = vow_loop_alive(loop);
    if (watched_inner != NULL) inner_state_in_reaction = vow_state(watched_inner);
    return vow_ok(vow_value_share(v));
}
static vow_result_t count_err(vow_loop_t *loop, vow_error_t *e, void *ctx) {
    (void)ctx;
    err_calls++;
    seen_code = vow_error_code(e);
    alive_in_reaction = vow_loop_alive(loop);
    if (watched_inner != NULL) inner_state_in_reaction = vow_state(watched_inner);
    return vow_ok_none();
}

static int never_calls;
static vow_result_t never(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v, (void)ctx;
    never_calls++;
    return vow_ok_none();
}

static int side_calls;
static int64_t side_int;
static vow_result_t side_ok(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)ctx;
    side_calls++;
    side_int = vow_value_int(v);
    return vow_ok_none();
}

static int cancel_calls, cancel_ctx_free_calls;
static vow_state_t inner_state_in_cancel = (vow_state_t)-1;
static vow_state_t timeout_state_in_cancel = (vow_state_t)-1;
static void on_cancel_count(vow_loop_t *loop, void *ctx) {
    (void)loop;
    cancel_calls++;
    if (ctx != NULL) inner_state_in_cancel = vow_state(ctx);
    if (watched_timeout != NULL) timeout_state_in_cancel = vow_state(watched_timeout);
}
static void cancel_ctx_free(void *ctx) {
    (void)ctx;
    cancel_ctx_free_calls++;
}
/* A cancel callback that fulfils its promise instead (the operation completed anyway). */
static void on_cancel_fulfil(vow_loop_t *loop, void *ctx) {
    (void)loop;
    cancel_calls++;
    VOW_ASSERT_CODE(vow_resolve(ctx, vow_int(99)), 0);
}

/* An inner made with vow_new, with a counting cancel callback, settled by a timer. */
static vow_t *cancellable_in(vow_loop_t *loop, uint64_t ms, int64_t v) {
    vow_t *p = inner_in(loop, ms, vow_int(v), NULL);
    VOW_ASSERT_CODE(vow_on_cancel(p, on_cancel_count, p, cancel_ctx_free), 0);
    return p;
}

/* Counters back to their start, for a second round of a scenario. */
static void reset_counts(void) {
    fired_len = 0;
    ok_calls = err_calls = never_calls = side_calls = 0;
    rejections_reset();
    cancel_calls = cancel_ctx_free_calls = 0;
    seen_int = side_int = 0;
    seen_ptr = NULL;
    seen_code = 0;
    alive_in_reaction = -1;
    inner_state_in_reaction = inner_state_in_cancel = timeout_state_in_cancel = (vow_state_t)-1;
}

/* The scenarios that check memory run twice on one loop, and the live allocation count
 * after the second round must equal the count after the first. vow may keep freed promise
 * and reaction memory for reuse (per loop, freed at close), so the first round fills what
 * it keeps; whatever a round leaks (a timer list, a promise, a record) shows as growth in
 * the second. VOW_TEST_END then checks that nothing at all is left. */
static void same_live_as_first_round(int round, long *first) {
    long live = vow_test_live_allocs();
    if (round == 0)
        *first = live;
    else
        VOW_ASSERT_EQ(live, *first, "%ld allocation(s) more after the second round", live - *first);
}

/* ---- the inner wins --------------------------------------------------------------------- */

Test(timeout, inner_wins_with_its_value_and_the_timer_is_freed_at_once) {
    vow_loop_t *loop = vow_test_loop();
    long first = -1;
    for (int round = 0; round < 2; round++) {
        reset_counts();
        vow_t *t = vow_timeout(inner_in(loop, 10, vow_int(42), NULL), 1000, 0);
        cr_assert_not_null(t);
        VOW_ASSERT_STATE(vow_state(t), VOW_PENDING);
        vow_t *d = vow_then(t, count_ok, count_err, NULL, NULL);
        uint64_t t0 = vow_loop_update_time(loop);
        VOW_ASSERT_CODE(vow_run(loop, d, NULL), 0);
        VOW_ASSERT_EQ(vow_loop_alive(loop), 0, "the timeout's timer is still active");
        VOW_ASSERT_EQ(alive_in_reaction, 0, "the timer was still active in the reaction");
        cr_assert_lt(vow_loop_update_time(loop) - t0, 500, "waited for the timeout");
        VOW_ASSERT_EQ(ok_calls, 1);
        VOW_ASSERT_EQ(seen_int, 42);
        VOW_ASSERT_EQ(err_calls, 0);
        same_live_as_first_round(round, &first);
    }
    VOW_TEST_END(loop);
}

Test(timeout, inner_rejecting_first_passes_its_own_error) {
    vow_loop_t *loop = vow_test_loop();
    long first = -1;
    for (int round = 0; round < 2; round++) {
        reset_counts();
        vow_error_t *e = vow_error_new(VOW_EPERM, "inner");
        vow_t *t = vow_timeout(inner_in(loop, 10, vow_none(), vow_error_ref(e)), 1000, 0);
        vow_t *d = vow_then(vow_ref(t), count_ok, count_err, NULL, NULL);
        VOW_ASSERT_CODE(vow_run(loop, d, NULL), 0);
        VOW_ASSERT_EQ(vow_loop_alive(loop), 0);
        VOW_ASSERT_EQ(err_calls, 1);
        VOW_ASSERT_EQ(vow_error(t), e, "not the inner's error");
        vow_unref(t);
        vow_error_unref(e);
        same_live_as_first_round(round, &first);
    }
    VOW_TEST_END(loop);
}

Test(timeout, inner_already_fulfilled_settles_without_waiting) {
    vow_loop_t *loop = vow_test_loop();
    obj *o = obj_new();
    vow_t *t = vow_timeout(vow_resolved(loop, vow_ptr(o, obj_free)), 1000, 0);
    vow_t *d = vow_then(t, count_ok, count_err, NULL, NULL);
    uint64_t t0 = vow_loop_update_time(loop);
    VOW_ASSERT_CODE(vow_run(loop, d, NULL), 0);
    cr_assert_lt(vow_loop_update_time(loop) - t0, 500);
    VOW_ASSERT_EQ(vow_loop_alive(loop), 0);
    VOW_ASSERT_EQ(ok_calls, 1);
    VOW_ASSERT_EQ(seen_ptr, o, "the value was not shared through");
    VOW_ASSERT_EQ(obj_freed[0], 1);
    VOW_TEST_END(loop);
}

Test(timeout, inner_wins_under_the_race_flag_too) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *t = vow_timeout(inner_in(loop, 10, vow_int(6), NULL), 1000, VOW_TIMEOUT_RACE);
    vow_t *d = vow_then(t, count_ok, count_err, NULL, NULL);
    VOW_ASSERT_CODE(vow_run(loop, d, NULL), 0);
    VOW_ASSERT_EQ(vow_loop_alive(loop), 0);
    VOW_ASSERT_EQ(seen_int, 6);
    VOW_TEST_END(loop);
}

/* ---- expiry: wait_for cancels the inner ------------------------------------------------- */

Test(timeout, expiry_cancels_the_inner_and_rejects_with_etimedout_caused_by_it) {
    vow_loop_t *loop = vow_test_loop();
    long first = -1;
    for (int round = 0; round < 2; round++) {
        reset_counts();
        /* Read before the timeout is made: it counts from its own creation, and a clock
         * read after it could be later (seen under ASan on a loaded machine). */
        uint64_t t0 = vow_loop_update_time(loop);
        vow_t *inner = cancellable_in(loop, 400, 1);
        vow_t *t = vow_timeout(vow_ref(inner), 10, 0);
        watched_inner = inner;
        watched_timeout = t;
        vow_t *d = vow_catch(vow_ref(t), count_err, NULL, NULL);
        VOW_ASSERT_CODE(vow_run(loop, d, NULL), 0);
        cr_assert_geq(vow_loop_update_time(loop) - t0, 10, "expired early");
        VOW_ASSERT_EQ(cancel_calls, 1, "the inner's cancel callback ran %d times", cancel_calls);
        VOW_ASSERT_EQ(cancel_ctx_free_calls, 1);
        VOW_ASSERT_STATE(inner_state_in_cancel, VOW_PENDING,
                         "the cancel callback ran after the inner "
                         "settled");
        VOW_ASSERT_STATE(timeout_state_in_cancel, VOW_PENDING,
                         "the timeout settled before the inner was cancelled");
        /* The timeout settled after the inner did. */
        VOW_ASSERT_EQ(err_calls, 1);
        VOW_ASSERT_STATE(inner_state_in_reaction, VOW_REJECTED, "the timeout settled first");
        VOW_ASSERT_CODE(seen_code, VOW_ETIMEDOUT);
        /* ETIMEDOUT caused by the inner's own cancellation error. */
        VOW_ASSERT_STATE(vow_state(inner), VOW_REJECTED);
        vow_error_t *e = vow_error(t);
        VOW_ASSERT_CODE(vow_error_code(e), VOW_ETIMEDOUT);
        cr_assert_not_null(vow_error_cause(e), "no cause");
        VOW_ASSERT_CODE(vow_error_code(vow_error_cause(e)), VOW_ECANCELED);
        VOW_ASSERT_EQ(vow_error_cause(e), vow_error(inner), "the cause is not the inner's error");
        char text[128];
        vow_error_format(e, text, sizeof text);
        cr_assert(strstr(text, "ETIMEDOUT") != NULL && strstr(text, "caused by ECANCELED") != NULL,
                  "formatted: %s", text);
        /* The timeout's timer is gone; the plain setTimeout that would have settled the inner
     * is not the inner's source, so it remains. */
        VOW_ASSERT_EQ(vow_loop_alive(loop), 1, "only the inner's own settle timer may remain");
        watched_inner = watched_timeout = NULL;
        vow_unref(t);
        /* The settle timer finds the inner cancelled. */
        VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
        vow_unref(inner);
        VOW_ASSERT_EQ(cancel_calls, 1);
        same_live_as_first_round(round, &first);
    }
    VOW_TEST_END(loop);
}

Test(timeout, expiry_cancels_the_inner_chain_up_to_its_sleep_and_frees_the_timers) {
    vow_loop_t *loop = vow_test_loop();
    long first = -1;
    for (int round = 0; round < 2; round++) {
        reset_counts();
        vow_t *sleep = vow_sleep(loop, 1000);
        vow_t *inner = vow_then(vow_ref(sleep), never, NULL, NULL, NULL);
        vow_t *t = vow_timeout(inner, 10, 0);
        vow_t *d = vow_catch(t, count_err, NULL, NULL);
        uint64_t t0 = vow_loop_update_time(loop);
        VOW_ASSERT_CODE(vow_run(loop, d, NULL), 0);
        VOW_ASSERT_EQ(vow_loop_alive(loop), 0, "the sleep's timer still runs");
        VOW_ASSERT_EQ(alive_in_reaction, 0);
        cr_assert_lt(vow_loop_update_time(loop) - t0, 500, "waited for the sleep");
        VOW_ASSERT_CODE(seen_code, VOW_ETIMEDOUT);
        VOW_ASSERT_EQ(never_calls, 0);
        VOW_ASSERT_STATE(vow_state(sleep), VOW_REJECTED, "the sleep was not cancelled");
        cr_assert(vow_is_cancellation(vow_error(sleep)));
        vow_unref(sleep);
        same_live_as_first_round(round, &first);
    }
    VOW_TEST_END(loop);
}

Test(timeout, expiry_reaches_a_combinators_inputs) {
    vow_loop_t *loop = vow_test_loop();
    long first = -1;
    for (int round = 0; round < 2; round++) {
        reset_counts();
        vow_t *s0 = vow_sleep(loop, 1000), *s1 = vow_sleep(loop, 2000);
        vow_t *in[2] = {vow_ref(s0), vow_ref(s1)};
        vow_t *d = vow_catch(vow_timeout(vow_all(loop, in, 2), 10, 0), count_err, NULL, NULL);
        VOW_ASSERT_CODE(vow_run(loop, d, NULL), 0);
        VOW_ASSERT_CODE(seen_code, VOW_ETIMEDOUT);
        VOW_ASSERT_EQ(vow_loop_alive(loop), 0, "an input's timer still runs");
        cr_assert(vow_is_cancellation(vow_error(s0)));
        cr_assert(vow_is_cancellation(vow_error(s1)));
        vow_unref(s0);
        vow_unref(s1);
        same_live_as_first_round(round, &first);
    }
    VOW_TEST_END(loop);
}

Test(timeout, inner_that_completes_when_cancelled_gives_its_value) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *inner = vow_new(loop);
    VOW_ASSERT_CODE(vow_on_cancel(inner, on_cancel_fulfil, inner, NULL), 0);
    vow_t *d = vow_then(vow_timeout(vow_ref(inner), 10, 0), count_ok, count_err, NULL, NULL);
    VOW_ASSERT_CODE(vow_run(loop, d, NULL), 0);
    VOW_ASSERT_EQ(cancel_calls, 1);
    VOW_ASSERT_EQ(ok_calls, 1, "wait_for must give the value the inner completed with");
    VOW_ASSERT_EQ(seen_int, 99);
    VOW_ASSERT_EQ(err_calls, 0);
    vow_unref(inner);
    VOW_TEST_END(loop);
}

Test(timeout, expiry_with_a_second_waiter_rejects_at_once_and_leaves_the_inner_running) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *inner = cancellable_in(loop, 400, 7);
    vow_t *second = vow_then(vow_ref(inner), side_ok, NULL, NULL, NULL);
    vow_t *t = vow_timeout(vow_ref(inner), 10, 0);
    watched_inner = inner;
    vow_t *d = vow_catch(vow_ref(t), count_err, NULL, NULL);
    uint64_t t0 = vow_loop_update_time(loop);
    VOW_ASSERT_CODE(vow_run(loop, d, NULL), 0);
    cr_assert_lt(vow_loop_update_time(loop) - t0, 300, "waited for the inner");
    VOW_ASSERT_EQ(err_calls, 1);
    VOW_ASSERT_CODE(seen_code, VOW_ETIMEDOUT);
    VOW_ASSERT_STATE(inner_state_in_reaction, VOW_PENDING);
    cr_assert_null(vow_error_cause(vow_error(t)), "nothing was cancelled, so no cause");
    VOW_ASSERT_EQ(cancel_calls, 0, "the inner was cancelled although another reaction waits");
    VOW_ASSERT_EQ(vow_loop_alive(loop), 1, "the inner's own timer must still run");
    /* The inner keeps running and fulfils the second reaction. */
    VOW_ASSERT_CODE(vow_run(loop, vow_ref(second), NULL), 0);
    VOW_ASSERT_EQ(side_calls, 1);
    VOW_ASSERT_EQ(side_int, 7);
    VOW_ASSERT_STATE(vow_state(inner), VOW_FULFILLED);
    VOW_ASSERT_CODE(vow_error_code(vow_error(t)), VOW_ETIMEDOUT, "the timeout changed");
    VOW_ASSERT_EQ(cancel_calls, 0);
    VOW_ASSERT_EQ(cancel_ctx_free_calls, 1);
    watched_inner = NULL;
    vow_unref(t);
    vow_unref(second);
    vow_unref(inner);
    VOW_TEST_END(loop);
}

Test(timeout, user_references_to_the_inner_do_not_keep_it_running) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *inner = cancellable_in(loop, 200, 1);
    vow_t *extra[3] = {vow_ref(inner), vow_ref(inner), vow_ref(inner)};
    vow_t *d = vow_catch(vow_timeout(vow_ref(inner), 10, 0), count_err, NULL, NULL);
    VOW_ASSERT_CODE(vow_run(loop, d, NULL), 0);
    VOW_ASSERT_EQ(cancel_calls, 1);
    VOW_ASSERT_CODE(seen_code, VOW_ETIMEDOUT);
    for (int i = 0; i < 3; i++) vow_unref(extra[i]);
    vow_unref(inner);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_TEST_END(loop);
}

/* ---- VOW_TIMEOUT_RACE: JavaScript's race with a timer ---------------------------------- */

Test(timeout, race_flag_rejects_at_expiry_and_cancels_nothing) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *inner = cancellable_in(loop, 400, 5);
    vow_t *t = vow_timeout(vow_ref(inner), 10, VOW_TIMEOUT_RACE);
    watched_inner = inner;
    vow_t *d = vow_catch(vow_ref(t), count_err, NULL, NULL);
    VOW_ASSERT_CODE(vow_run(loop, d, NULL), 0);
    VOW_ASSERT_CODE(seen_code, VOW_ETIMEDOUT);
    VOW_ASSERT_STATE(inner_state_in_reaction, VOW_PENDING);
    cr_assert_null(vow_error_cause(vow_error(t)));
    VOW_ASSERT_EQ(cancel_calls, 0);
    VOW_ASSERT_EQ(vow_loop_alive(loop), 1, "the inner's timer must still run");
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_STATE(vow_state(inner), VOW_FULFILLED, "the inner did not go on to fulfil");
    VOW_ASSERT_EQ(vow_value_int(vow_value(inner)), 5);
    VOW_ASSERT_EQ(cancel_calls, 0);
    VOW_ASSERT_CODE(vow_error_code(vow_error(t)), VOW_ETIMEDOUT);
    watched_inner = NULL;
    vow_unref(t);
    vow_unref(inner);
    VOW_TEST_END(loop);
}

Test(timeout, race_flag_leaves_an_inner_sleep_running) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *s = vow_sleep(loop, 400);
    vow_t *d = vow_catch(vow_timeout(vow_ref(s), 10, VOW_TIMEOUT_RACE), count_err, NULL, NULL);
    VOW_ASSERT_CODE(vow_run(loop, d, NULL), 0);
    VOW_ASSERT_CODE(seen_code, VOW_ETIMEDOUT);
    VOW_ASSERT_EQ(vow_loop_alive(loop), 1);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_STATE(vow_state(s), VOW_FULFILLED);
    vow_unref(s);
    VOW_TEST_END(loop);
}

/* ---- cancelling the result --------------------------------------------------------------- */

Test(timeout, cancelling_the_result_stops_its_timer_and_cancels_the_inner) {
    vow_loop_t *loop = vow_test_loop();
    long first = -1;
    for (int round = 0; round < 2; round++) {
        reset_counts();
        vow_t *sleep = vow_sleep(loop, 1000);
        vow_t *t = vow_timeout(vow_then(vow_ref(sleep), never, NULL, NULL, NULL), 500, 0);
        VOW_ASSERT_EQ(vow_loop_alive(loop), 2);
        VOW_ASSERT_CODE(vow_cancel(t), 0);
        VOW_ASSERT_EQ(vow_loop_alive(loop), 0, "a timer still runs after the cancel");
        VOW_ASSERT_STATE(vow_state(t), VOW_REJECTED);
        cr_assert(vow_is_cancellation(vow_error(t)), "the result is %s, not a cancellation",
                  vow_err_name(vow_error_code(vow_error(t))));
        cr_assert(vow_is_cancellation(vow_error(sleep)), "the inner's sleep was not cancelled");
        VOW_ASSERT_CODE(vow_cancel(t), VOW_ESETTLED);
        VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
        VOW_ASSERT_EQ(never_calls, 0);
        vow_unref(t);
        vow_unref(sleep);
        same_live_as_first_round(round, &first);
    }
    VOW_TEST_END(loop);
}

Test(timeout, cancelling_the_result_runs_the_inners_cancel_callback_once) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *inner = cancellable_in(loop, 50, 1);
    vow_t *t = vow_timeout(vow_ref(inner), 500, 0);
    VOW_ASSERT_CODE(vow_cancel(t), 0);
    VOW_ASSERT_EQ(cancel_calls, 1);
    VOW_ASSERT_EQ(cancel_ctx_free_calls, 1);
    cr_assert(vow_is_cancellation(vow_error(inner)));
    VOW_ASSERT_EQ(vow_loop_alive(loop), 1, "only the inner's own settle timer may remain");
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(cancel_calls, 1);
    vow_unref(t);
    vow_unref(inner);
    VOW_TEST_END(loop);
}

Test(timeout, cancelling_the_result_spares_an_inner_another_reaction_waits_on) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *inner = cancellable_in(loop, 30, 3);
    vow_t *second = vow_then(vow_ref(inner), side_ok, NULL, NULL, NULL);
    vow_t *t = vow_timeout(vow_ref(inner), 500, 0);
    VOW_ASSERT_CODE(vow_cancel(t), 0);
    VOW_ASSERT_EQ(cancel_calls, 0);
    VOW_ASSERT_EQ(vow_loop_alive(loop), 1, "the timeout's timer was not stopped");
    VOW_ASSERT_CODE(vow_run(loop, second, NULL), 0);
    VOW_ASSERT_EQ(side_int, 3);
    cr_assert(vow_is_cancellation(vow_error(t)));
    vow_unref(t);
    vow_unref(inner);
    VOW_TEST_END(loop);
}

/* ---- unhandled reports ------------------------------------------------------------------- */

Test(timeout, an_unhandled_timeout_is_reported_but_not_the_inners_cancellation) {
    vow_loop_t *loop = vow_test_loop();
    record_rejections(loop);
    VOW_ASSERT_CODE(vow_set_unhandled_mode(loop, VOW_UNHANDLED_SILENT), 0);
    vow_t *inner = vow_then(vow_sleep(loop, 1000), never, NULL, NULL, NULL);
    vow_unref(vow_timeout(inner, 10, 0));
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(rejections.calls, 1);
    VOW_ASSERT_CODE(rejections.last.code, VOW_ETIMEDOUT);
    VOW_TEST_END(loop);
}

/* ---- misuse ------------------------------------------------------------------------------ */

Test(timeout, unknown_flags_reject_with_einval_and_release_the_inner) {
    vow_loop_t *loop = vow_test_loop();
    obj *o = obj_new();
    vow_t *t = vow_timeout(vow_resolved(loop, vow_ptr(o, obj_free)), 10, 0x4u);
    cr_assert_not_null(t);
    VOW_ASSERT_EQ(obj_freed[0], 1, "the inner was not released");
    vow_t *d = vow_catch(t, count_err, NULL, NULL);
    VOW_ASSERT_CODE(vow_run(loop, d, NULL), 0);
    VOW_ASSERT_CODE(seen_code, VOW_EINVAL);
    VOW_ASSERT_EQ(vow_loop_alive(loop), 0);
    cr_assert_null(vow_timeout(NULL, 10, 0));
    VOW_TEST_END(loop);
}

Test(timeout, unknown_flags_on_a_pending_inner_cancel_nothing) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *inner = cancellable_in(loop, 10, 1);
    vow_t *d = vow_catch(vow_timeout(vow_ref(inner), 10, 0x100u), count_err, NULL, NULL);
    VOW_ASSERT_CODE(vow_run(loop, d, NULL), 0);
    VOW_ASSERT_CODE(seen_code, VOW_EINVAL);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_STATE(vow_state(inner), VOW_FULFILLED);
    VOW_ASSERT_EQ(cancel_calls, 0);
    vow_unref(inner);
    VOW_TEST_END(loop);
}

/* ---- nested timeouts ------------------------------------------------------------------------ */

Test(timeout, outer_expiry_cancels_an_inner_timeout_and_its_sleep) {
    vow_loop_t *loop = vow_test_loop();
    long first = -1;
    for (int round = 0; round < 2; round++) {
        reset_counts();
        vow_t *s = vow_sleep(loop, 2000);
        vow_t *inner = vow_timeout(vow_ref(s), 1000, 0);
        vow_t *outer = vow_timeout(vow_ref(inner), 10, 0);
        vow_t *d = vow_catch(vow_ref(outer), count_err, NULL, NULL);
        VOW_ASSERT_CODE(vow_run(loop, d, NULL), 0);
        VOW_ASSERT_EQ(vow_loop_alive(loop), 0, "a timer still runs");
        VOW_ASSERT_CODE(seen_code, VOW_ETIMEDOUT);
        cr_assert(vow_is_cancellation(vow_error(inner)), "the inner timeout: %s",
                  vow_err_name(vow_error_code(vow_error(inner))));
        cr_assert(vow_is_cancellation(vow_error(s)));
        VOW_ASSERT_EQ(vow_error_cause(vow_error(outer)), vow_error(inner));
        vow_unref(s);
        vow_unref(inner);
        vow_unref(outer);
        same_live_as_first_round(round, &first);
    }
    VOW_TEST_END(loop);
}

Test(timeout, inner_timeout_expiring_first_passes_through_the_outer) {
    vow_loop_t *loop = vow_test_loop();
    long first = -1;
    for (int round = 0; round < 2; round++) {
        reset_counts();
        vow_t *s = vow_sleep(loop, 2000);
        vow_t *d =
            vow_catch(vow_timeout(vow_timeout(vow_ref(s), 10, 0), 1000, 0), count_err, NULL, NULL);
        uint64_t t0 = vow_loop_update_time(loop);
        VOW_ASSERT_CODE(vow_run(loop, d, NULL), 0);
        cr_assert_lt(vow_loop_update_time(loop) - t0, 900);
        VOW_ASSERT_EQ(vow_loop_alive(loop), 0, "the outer timer still runs");
        VOW_ASSERT_CODE(seen_code, VOW_ETIMEDOUT);
        cr_assert(vow_is_cancellation(vow_error(s)));
        vow_unref(s);
        same_live_as_first_round(round, &first);
    }
    VOW_TEST_END(loop);
}

/* ---- forced teardown ----------------------------------------------------------------------- */

Test(timeout, loop_free_with_a_pending_timeout_runs_no_cancel_callback) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *inner = vow_new(loop);
    VOW_ASSERT_CODE(vow_on_cancel(inner, on_cancel_count, NULL, cancel_ctx_free), 0);
    vow_t *t = vow_timeout(inner, 1000, 0);
    vow_t *d = vow_then(t, count_ok, count_err, NULL, NULL);
    VOW_ASSERT_EQ(vow_loop_alive(loop), 1);
    vow_unref(d);
    VOW_TEST_END_FORCED(loop);
    VOW_ASSERT_EQ(cancel_calls, 0, "loop_free is not a cancel");
    VOW_ASSERT_EQ(cancel_ctx_free_calls, 1);
    VOW_ASSERT_EQ(ok_calls + err_calls, 0);
}
