/* tests/test_race.c - Promise.race and Promise.any (vow/combinators.h): the first to settle
 * (or fulfil) in time, the lowest index among inputs already settled, empty input (race
 * pends holding nothing; any rejects at once with an empty aggregate), the aggregate's
 * inner errors in input order, VOW_CANCEL_LOSERS (losers' timers stopped and freed at once)
 * and its default (losers keep running), losers that settle later, misuse. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "counted.h"
#include "helpers.h"
#include "settle.h"

TestSuite(race, .init = vow_test_setup, .fini = vow_test_teardown, .timeout = 30);
TestSuite(any, .init = vow_test_setup, .fini = vow_test_teardown, .timeout = 30);

/* ---- reactions ------------------------------------------------------------------------- */

static int ok_calls, err_calls;
static int64_t seen_int;
static vow_error_t *seen_err; /* compared only */
static int seen_code;
static int alive_in_reaction = -1; /* vow_loop_alive() inside the last reaction */
/* Inputs settled by timers when the last reaction ran. vow drains the microtasks after
 * each timer callback, so this is exact even when a busy machine makes several timers
 * due at once; counted after vow_run, it would not be. */
static int fired_in_reaction = -1;

static vow_result_t count_ok(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)ctx;
    ok_calls++;
    seen_int = vow_value_int(v);
    alive_in_reaction = vow_loop_alive(loop);
    fired_in_reaction = fired_len;
    return vow_ok(vow_value_share(v));
}
static vow_result_t count_err(vow_loop_t *loop, vow_error_t *e, void *ctx) {
    (void)ctx;
    err_calls++;
    seen_err = e;
    seen_code = vow_error_code(e);
    alive_in_reaction = vow_loop_alive(loop);
    fired_in_reaction = fired_len;
    return vow_ok_none();
}

static int side_calls; /* a second reaction on a loser */
static vow_result_t side_ok(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v, (void)ctx;
    side_calls++;
    return vow_ok_none();
}

static void expect_cancelled(vow_t *p, const char *what) {
    VOW_ASSERT_STATE(vow_state(p), VOW_REJECTED, "%s is not rejected", what);
    cr_assert(vow_is_cancellation(vow_error(p)), "%s: %s, not a cancellation", what,
              vow_err_name(vow_error_code(vow_error(p))));
}

/* Counters back to their start, for a second round of a scenario. */
static void reset_counts(void) {
    fired_len = 0;
    ok_calls = err_calls = side_calls = 0;
    rejections_reset();
    seen_int = 0;
    seen_err = NULL;
    seen_code = 0;
    alive_in_reaction = fired_in_reaction = -1;
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

/* ---- race ----------------------------------------------------------------------------- */

Test(race, first_to_settle_wins) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *in[3];
    in[1] = fulfil_in(loop, 10, 1, 2); /* made in the order they settle (settle.h) */
    in[2] = reject_in(loop, 20, 2, vow_error_new(VOW_EBUSY, NULL));
    in[0] = fulfil_in(loop, 30, 0, 1);
    vow_t *d = vow_then(vow_race(loop, in, 3, 0), count_ok, count_err, NULL, NULL);
    VOW_ASSERT_CODE(vow_run(loop, d, NULL), 0);
    VOW_ASSERT_EQ(fired_in_reaction, 1, "the race waited for more than the first input");
    VOW_ASSERT_EQ(ok_calls, 1);
    VOW_ASSERT_EQ(seen_int, 2);
    VOW_ASSERT_EQ(err_calls, 0);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(ok_calls + err_calls, 1, "a loser reached the reaction");
    VOW_TEST_END(loop);
}

Test(race, first_rejection_in_time_wins) {
    vow_loop_t *loop = vow_test_loop();
    record_rejections(loop);
    vow_error_t *e = vow_error_new(VOW_EBUSY, NULL);
    vow_t *in[3];
    in[1] = reject_in(loop, 10, 1, vow_error_ref(e)); /* made in the order they settle */
    in[2] = reject_in(loop, 20, 2, vow_error_new(VOW_EPERM, NULL));
    in[0] = fulfil_in(loop, 30, 0, 1);
    vow_t *r = vow_race(loop, in, 3, 0);
    vow_t *d = vow_then(vow_ref(r), count_ok, count_err, NULL, NULL);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(fired_len, 3);
    VOW_ASSERT_EQ(err_calls, 1);
    VOW_ASSERT_EQ(ok_calls, 0);
    VOW_ASSERT_EQ(seen_err, e);
    VOW_ASSERT_EQ(vow_error(r), e, "a later input changed the result");
    VOW_ASSERT_EQ(rejections.calls, 0, "a losing rejection was reported as unhandled");
    vow_unref(r);
    vow_unref(d);
    vow_error_unref(e);
    VOW_TEST_END(loop);
}

Test(race, lowest_index_wins_among_settled_inputs) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *pending = vow_new(loop);
    vow_t *in[4] = {vow_ref(pending), vow_resolved(loop, vow_int(2)),
                    vow_rejected(loop, vow_error_new(VOW_EPERM, NULL)),
                    vow_resolved(loop, vow_int(4))};
    vow_t *d = vow_then(vow_race(loop, in, 4, 0), count_ok, count_err, NULL, NULL);
    VOW_ASSERT_CODE(vow_run(loop, d, NULL), 0);
    VOW_ASSERT_EQ(ok_calls, 1);
    VOW_ASSERT_EQ(seen_int, 2);
    VOW_ASSERT_EQ(err_calls, 0);
    vow_unref(pending);
    VOW_TEST_END(loop);
}

Test(race, lowest_index_wins_even_when_it_is_a_rejection) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *in[3] = {vow_new(loop), vow_rejected(loop, vow_error_new(VOW_EPERM, NULL)),
                    vow_resolved(loop, vow_int(3))};
    vow_t *d = vow_then(vow_race(loop, in, 3, 0), count_ok, count_err, NULL, NULL);
    VOW_ASSERT_CODE(vow_run(loop, d, NULL), 0);
    VOW_ASSERT_EQ(err_calls, 1);
    VOW_ASSERT_CODE(seen_code, VOW_EPERM);
    VOW_ASSERT_EQ(ok_calls, 0);
    VOW_TEST_END(loop);
}

Test(race, empty_input_stays_pending_and_is_released_without_a_leak) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *r = vow_race(loop, NULL, 0, 0);
    cr_assert_not_null(r);
    vow_t *d = vow_then(vow_ref(r), count_ok, count_err, NULL, NULL);
    VOW_ASSERT_EQ(vow_loop_alive(loop), 0, "race([]) keeps the loop alive");
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_STATE(vow_state(r), VOW_PENDING);
    VOW_ASSERT_CODE(vow_run(loop, vow_ref(r), NULL), VOW_ENEVER);
    VOW_ASSERT_EQ(ok_calls + err_calls, 0);
    VOW_ASSERT_EQ(vow_loop_alive(loop), 0);
    vow_unref(d);
    vow_unref(r);
    VOW_ASSERT_EQ(vow_loop_alive(loop), 0);
    VOW_TEST_END(loop);
}

Test(race, empty_input_with_cancel_losers_stays_pending_too) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *none[1] = {NULL};
    vow_t *r = vow_race(loop, none, 0, VOW_CANCEL_LOSERS);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_STATE(vow_state(r), VOW_PENDING);
    vow_unref(r);
    VOW_TEST_END(loop);
}

Test(race, cancel_losers_stops_and_frees_their_timers_at_once) {
    vow_loop_t *loop = vow_test_loop();
    long first = -1;
    for (int round = 0; round < 2; round++) {
        reset_counts();
        vow_t *l0 = vow_sleep(loop, 500), *l2 = vow_sleep(loop, 1000);
        vow_t *in[3] = {vow_ref(l0), fulfil_in(loop, 10, 1, 7), vow_ref(l2)};
        vow_t *r = vow_race(loop, in, 3, VOW_CANCEL_LOSERS);
        vow_t *d = vow_then(r, count_ok, count_err, NULL, NULL);
        uint64_t t0 = vow_loop_update_time(loop);
        VOW_ASSERT_CODE(vow_run(loop, d, NULL), 0);
        VOW_ASSERT_EQ(vow_loop_alive(loop), 0, "a loser's timer still runs");
        VOW_ASSERT_EQ(alive_in_reaction, 0, "a loser's timer still ran in the winner's reaction");
        cr_assert_lt(vow_loop_update_time(loop) - t0, 400, "waited for a loser");
        VOW_ASSERT_EQ(ok_calls, 1);
        VOW_ASSERT_EQ(seen_int, 7);
        /* The user's references did not keep the losers from being cancelled. */
        expect_cancelled(l0, "loser 0");
        expect_cancelled(l2, "loser 2");
        vow_unref(l0);
        vow_unref(l2);
        same_live_as_first_round(round, &first);
    }
    VOW_TEST_END(loop);
}

Test(race, cancel_losers_with_an_already_settled_winner) {
    vow_loop_t *loop = vow_test_loop();
    long first = -1;
    for (int round = 0; round < 2; round++) {
        reset_counts();
        vow_t *l1 = vow_sleep(loop, 1000);
        vow_t *in[2] = {vow_resolved(loop, vow_int(3)), vow_ref(l1)};
        vow_t *d = vow_then(vow_race(loop, in, 2, VOW_CANCEL_LOSERS), count_ok, NULL, NULL, NULL);
        VOW_ASSERT_CODE(vow_run(loop, d, NULL), 0);
        VOW_ASSERT_EQ(vow_loop_alive(loop), 0);
        VOW_ASSERT_EQ(seen_int, 3);
        expect_cancelled(l1, "the loser");
        vow_unref(l1);
        same_live_as_first_round(round, &first);
    }
    VOW_TEST_END(loop);
}

Test(race, losers_keep_running_by_default) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *l0 = vow_sleep(loop, 600), *l2 = vow_sleep(loop, 400);
    vow_t *in[3] = {vow_ref(l0), fulfil_in(loop, 10, 1, 7), vow_ref(l2)};
    vow_t *d = vow_then(vow_race(loop, in, 3, 0), count_ok, count_err, NULL, NULL);
    VOW_ASSERT_CODE(vow_run(loop, d, NULL), 0);
    VOW_ASSERT_EQ(seen_int, 7);
    VOW_ASSERT_EQ(vow_loop_alive(loop), 2, "the losers' timers must still run");
    VOW_ASSERT_EQ(alive_in_reaction, 2);
    VOW_ASSERT_STATE(vow_state(l0), VOW_PENDING);
    VOW_ASSERT_STATE(vow_state(l2), VOW_PENDING);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_STATE(vow_state(l0), VOW_FULFILLED, "loser 0 did not fulfil");
    VOW_ASSERT_STATE(vow_state(l2), VOW_FULFILLED, "loser 2 did not fulfil");
    VOW_ASSERT_EQ(ok_calls, 1);
    vow_unref(l0);
    vow_unref(l2);
    VOW_TEST_END(loop);
}

Test(race, cancel_losers_spares_a_loser_another_reaction_waits_on) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *shared = vow_sleep(loop, 300);
    vow_t *side = vow_then(vow_ref(shared), side_ok, NULL, NULL, NULL);
    vow_t *alone = vow_sleep(loop, 1000);
    vow_t *in[3] = {shared, fulfil_in(loop, 10, 1, 5), vow_ref(alone)};
    vow_t *d = vow_then(vow_race(loop, in, 3, VOW_CANCEL_LOSERS), count_ok, NULL, NULL, NULL);
    VOW_ASSERT_CODE(vow_run(loop, d, NULL), 0);
    VOW_ASSERT_EQ(seen_int, 5);
    expect_cancelled(alone, "the loser nobody else waits on");
    VOW_ASSERT_EQ(vow_loop_alive(loop), 1, "the shared loser must keep its timer");
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(side_calls, 1, "the other reaction on the shared loser did not run");
    VOW_ASSERT_STATE(vow_state(side), VOW_FULFILLED);
    vow_unref(side);
    vow_unref(alone);
    VOW_TEST_END(loop);
}

static int cancel_calls, cancel_ctx_free_calls;
static void on_cancel_count(vow_loop_t *loop, void *ctx) {
    (void)loop, (void)ctx;
    cancel_calls++;
}
static void cancel_ctx_free(void *ctx) {
    (void)ctx;
    cancel_ctx_free_calls++;
}

Test(race, cancel_losers_runs_a_losers_cancel_callback_once) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *loser = vow_new(loop);
    VOW_ASSERT_CODE(vow_on_cancel(loser, on_cancel_count, NULL, cancel_ctx_free), 0);
    vow_t *in[2] = {vow_ref(loser), fulfil_in(loop, 5, 1, 1)};
    vow_t *d = vow_then(vow_race(loop, in, 2, VOW_CANCEL_LOSERS), count_ok, NULL, NULL, NULL);
    VOW_ASSERT_CODE(vow_run(loop, d, NULL), 0);
    VOW_ASSERT_EQ(cancel_calls, 1);
    VOW_ASSERT_EQ(cancel_ctx_free_calls, 1);
    expect_cancelled(loser, "the loser");
    VOW_ASSERT_CODE(vow_resolve(loser, vow_int(1)), VOW_ESETTLED);
    vow_unref(loser);
    VOW_ASSERT_EQ(cancel_calls, 1);
    VOW_ASSERT_EQ(cancel_ctx_free_calls, 1);
    VOW_TEST_END(loop);
}

Test(race, loser_settling_later_changes_nothing_and_leaks_nothing) {
    vow_loop_t *loop = vow_test_loop();
    obj *o = obj_new();
    vow_t *in[2];
    in[1] = fulfil_in(loop, 10, 1, 9); /* the winner, made first (settle.h) */
    in[0] = settle_in(loop, 30, 0, vow_ptr(o, obj_free), NULL);
    vow_t *r = vow_race(loop, in, 2, 0);
    vow_t *d = vow_then(vow_ref(r), count_ok, count_err, NULL, NULL);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(fired_len, 2);
    VOW_ASSERT_EQ(ok_calls, 1);
    VOW_ASSERT_EQ(vow_value_int(vow_value(r)), 9);
    VOW_ASSERT_EQ(obj_freed[0], 1, "the loser's value: freed %d times", obj_freed[0]);
    vow_unref(r);
    vow_unref(d);
    VOW_TEST_END(loop);
    VOW_ASSERT_EQ(obj_freed[0], 1);
}

Test(race, winner_value_is_shared_not_copied) {
    vow_loop_t *loop = vow_test_loop();
    obj *o = obj_new();
    vow_t *w = vow_resolved(loop, vow_ptr(o, obj_free));
    vow_t *in[1] = {vow_ref(w)};
    vow_t *r = vow_race(loop, in, 1, 0);
    VOW_ASSERT_CODE(vow_run(loop, vow_ref(r), NULL), 0);
    VOW_ASSERT_EQ(vow_value_ptr(vow_value(r)), o);
    vow_unref(w);
    VOW_ASSERT_EQ(obj_freed[0], 0);
    vow_unref(r);
    VOW_ASSERT_EQ(obj_freed[0], 1);
    VOW_TEST_END(loop);
}

Test(race, unknown_flags_reject_with_einval_and_release_the_inputs) {
    vow_loop_t *loop = vow_test_loop();
    obj *o = obj_new();
    vow_t *in[2] = {vow_resolved(loop, vow_ptr(o, obj_free)), vow_new(loop)};
    vow_t *r = vow_race(loop, in, 2, 0x10u);
    cr_assert_not_null(r);
    VOW_ASSERT_EQ(obj_freed[0], 1, "the inputs were not released");
    vow_t *d = vow_catch(r, count_err, NULL, NULL);
    VOW_ASSERT_CODE(vow_run(loop, d, NULL), 0);
    VOW_ASSERT_CODE(seen_code, VOW_EINVAL);
    VOW_TEST_END(loop);
}

Test(race, null_input_gives_null) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *in[2] = {vow_new(loop), NULL};
    cr_assert_null(vow_race(loop, in, 2, 0));
    vow_t *in2[1] = {vow_new(loop)};
    cr_assert_null(vow_race(NULL, in2, 1, 0));
    VOW_TEST_END(loop);
}

/* ---- any ------------------------------------------------------------------------------ */

Test(any, first_fulfilment_in_time_wins) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *in[4];
    in[1] = reject_in(loop, 10, 1, vow_error_new(VOW_EPERM, NULL)); /* made in settle order */
    in[2] = fulfil_in(loop, 20, 2, 2);
    in[0] = fulfil_in(loop, 40, 0, 3);
    in[3] = vow_rejected(loop, vow_error_new(VOW_EBUSY, NULL));
    vow_t *a = vow_any(loop, in, 4, 0);
    vow_t *d = vow_then(vow_ref(a), count_ok, count_err, NULL, NULL);
    VOW_ASSERT_CODE(vow_run(loop, vow_ref(d), NULL), 0);
    VOW_ASSERT_EQ(fired_in_reaction, 2, "any() settled at the wrong input");
    VOW_ASSERT_EQ(ok_calls, 1);
    VOW_ASSERT_EQ(seen_int, 2);
    VOW_ASSERT_EQ(err_calls, 0);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(ok_calls, 1);
    VOW_ASSERT_EQ(vow_value_int(vow_value(a)), 2);
    vow_unref(a);
    vow_unref(d);
    VOW_TEST_END(loop);
}

Test(any, lowest_index_fulfilment_among_settled_inputs) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *in[4] = {vow_rejected(loop, vow_error_new(VOW_EPERM, NULL)), vow_new(loop),
                    vow_resolved(loop, vow_int(5)), vow_resolved(loop, vow_int(6))};
    vow_t *d = vow_then(vow_any(loop, in, 4, 0), count_ok, count_err, NULL, NULL);
    VOW_ASSERT_CODE(vow_run(loop, d, NULL), 0);
    VOW_ASSERT_EQ(seen_int, 5);
    VOW_ASSERT_EQ(ok_calls, 1);
    VOW_ASSERT_EQ(err_calls, 0);
    VOW_TEST_END(loop);
}

Test(any, all_rejected_gives_an_aggregate_in_input_order) {
    vow_loop_t *loop = vow_test_loop();
    record_rejections(loop);
    /* Rejection times: input 0 last, input 1 first, input 2 second; input 3 at once. */
    vow_error_t *e[4] = {vow_error_new(VOW_EPERM, "0"), vow_error_new(VOW_EBUSY, "1"),
                         vow_error_new(VOW_EINVAL, "2"), vow_error_new(VOW_ERANGE, "3")};
    vow_t *in[4] = {
        reject_in(loop, 30, 0, vow_error_ref(e[0])), reject_in(loop, 10, 1, vow_error_ref(e[1])),
        reject_in(loop, 20, 2, vow_error_ref(e[2])), vow_rejected(loop, vow_error_ref(e[3]))};
    vow_t *a = vow_any(loop, in, 4, 0);
    vow_t *d = vow_then(vow_ref(a), count_ok, count_err, NULL, NULL);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(fired_len, 3);
    VOW_ASSERT_EQ(err_calls, 1);
    VOW_ASSERT_EQ(ok_calls, 0);
    vow_error_t *agg = vow_error(a);
    VOW_ASSERT_EQ(seen_err, agg);
    VOW_ASSERT_CODE(vow_error_code(agg), VOW_EAGGREGATE);
    VOW_ASSERT_EQ(vow_error_count(agg), 4);
    for (size_t i = 0; i < 4; i++)
        VOW_ASSERT_EQ(vow_error_at(agg, i), e[i], "inner error %zu is %s", i,
                      vow_err_name(vow_error_code(vow_error_at(agg, i))));
    cr_assert_null(vow_error_at(agg, 4));
    VOW_ASSERT_EQ(rejections.calls, 0, "an input's rejection was reported as unhandled");
    vow_unref(a);
    vow_unref(d);
    for (int i = 0; i < 4; i++) vow_error_unref(e[i]);
    VOW_TEST_END(loop);
}

Test(any, all_rejected_waits_for_the_last_input) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *p = vow_new(loop);
    vow_t *in[2] = {vow_rejected(loop, vow_error_new(VOW_EPERM, NULL)), vow_ref(p)};
    vow_t *a = vow_any(loop, in, 2, 0);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_STATE(vow_state(a), VOW_PENDING, "rejected before its last input did");
    VOW_ASSERT_CODE(vow_reject(p, vow_error_new(VOW_EAGAIN, NULL)), 0);
    vow_t *d = vow_catch(vow_ref(a), count_err, NULL, NULL);
    VOW_ASSERT_CODE(vow_run(loop, d, NULL), 0);
    VOW_ASSERT_CODE(seen_code, VOW_EAGGREGATE);
    VOW_ASSERT_EQ(vow_error_count(vow_error(a)), 2);
    VOW_ASSERT_CODE(vow_error_code(vow_error_at(vow_error(a), 0)), VOW_EPERM);
    VOW_ASSERT_CODE(vow_error_code(vow_error_at(vow_error(a), 1)), VOW_EAGAIN);
    vow_unref(p);
    vow_unref(a);
    VOW_TEST_END(loop);
}

Test(any, empty_input_rejects_at_once_with_an_empty_aggregate) {
    vow_loop_t *loop = vow_test_loop();
    record_rejections(loop);
    vow_t *a = vow_any(loop, NULL, 0, 0);
    cr_assert_not_null(a);
    VOW_ASSERT_STATE(vow_state(a), VOW_REJECTED, "any([]) must reject at once");
    VOW_ASSERT_CODE(vow_error_code(vow_error(a)), VOW_EAGGREGATE);
    VOW_ASSERT_EQ(vow_error_count(vow_error(a)), 0);
    vow_t *d = vow_catch(vow_ref(a), count_err, NULL, NULL);
    VOW_ASSERT_EQ(err_calls, 0, "the reaction ran inside the call");
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(err_calls, 1);
    VOW_ASSERT_CODE(seen_code, VOW_EAGGREGATE);
    VOW_ASSERT_EQ(rejections.calls, 0);
    vow_unref(a);
    vow_unref(d);
    VOW_TEST_END(loop);
}

Test(any, cancel_losers_stops_and_frees_their_timers_at_once) {
    vow_loop_t *loop = vow_test_loop();
    long first = -1;
    for (int round = 0; round < 2; round++) {
        reset_counts();
        vow_t *l0 = vow_sleep(loop, 500), *l3 = vow_sleep(loop, 1000);
        vow_t *in[4] = {vow_ref(l0), reject_in(loop, 5, 1, vow_error_new(VOW_EPERM, NULL)),
                        fulfil_in(loop, 10, 2, 8), vow_ref(l3)};
        vow_t *d =
            vow_then(vow_any(loop, in, 4, VOW_CANCEL_LOSERS), count_ok, count_err, NULL, NULL);
        VOW_ASSERT_CODE(vow_run(loop, d, NULL), 0);
        VOW_ASSERT_EQ(seen_int, 8);
        VOW_ASSERT_EQ(vow_loop_alive(loop), 0, "a loser's timer still runs");
        VOW_ASSERT_EQ(alive_in_reaction, 0);
        expect_cancelled(l0, "loser 0");
        expect_cancelled(l3, "loser 3");
        vow_unref(l0);
        vow_unref(l3);
        same_live_as_first_round(round, &first);
    }
    VOW_TEST_END(loop);
}

Test(any, losers_keep_running_by_default) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *l0 = vow_sleep(loop, 400);
    vow_t *in[2] = {vow_ref(l0), fulfil_in(loop, 10, 1, 8)};
    vow_t *d = vow_then(vow_any(loop, in, 2, 0), count_ok, count_err, NULL, NULL);
    VOW_ASSERT_CODE(vow_run(loop, d, NULL), 0);
    VOW_ASSERT_EQ(seen_int, 8);
    VOW_ASSERT_EQ(vow_loop_alive(loop), 1);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_STATE(vow_state(l0), VOW_FULFILLED);
    vow_unref(l0);
    VOW_TEST_END(loop);
}

Test(any, unknown_flags_reject_with_einval) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *in[1] = {vow_resolved(loop, vow_int(1))};
    vow_t *d = vow_catch(vow_any(loop, in, 1, 0x2u), count_err, NULL, NULL);
    VOW_ASSERT_CODE(vow_run(loop, d, NULL), 0);
    VOW_ASSERT_EQ(err_calls, 1);
    VOW_ASSERT_CODE(seen_code, VOW_EINVAL);
    VOW_TEST_END(loop);
}

Test(race, cancel_losers_reaches_a_losing_timeout_and_its_inner) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *s = vow_sleep(loop, 1000);
    vow_t *in[2] = {vow_timeout(vow_ref(s), 500, 0), fulfil_in(loop, 10, 1, 4)};
    vow_t *d = vow_then(vow_race(loop, in, 2, VOW_CANCEL_LOSERS), count_ok, NULL, NULL, NULL);
    VOW_ASSERT_CODE(vow_run(loop, d, NULL), 0);
    VOW_ASSERT_EQ(seen_int, 4);
    VOW_ASSERT_EQ(vow_loop_alive(loop), 0, "the timeout's timer or its inner's still runs");
    expect_cancelled(s, "the losing timeout's inner");
    vow_unref(s);
    VOW_TEST_END(loop);
}

Test(race, loop_free_with_pending_races_frees_everything) {
    vow_loop_t *loop = vow_test_loop();
    obj *o = obj_new();
    vow_error_t *e = vow_error_new(VOW_EPERM, NULL);
    VOW_ASSERT_CODE(vow_error_set_payload(e, o, obj_free), 0);
    vow_t *in[2] = {vow_sleep(loop, 1000), vow_new(loop)};
    vow_t *r = vow_race(loop, in, 2, VOW_CANCEL_LOSERS);
    /* any() holds the first rejection while it waits for the second input. */
    vow_t *in2[2] = {vow_rejected(loop, e), vow_new(loop)};
    vow_t *a = vow_any(loop, in2, 2, 0);
    VOW_ASSERT_EQ(vow_loop_run(loop, VOW_RUN_NOWAIT), 1);
    VOW_ASSERT_STATE(vow_state(a), VOW_PENDING);
    vow_unref(r);
    vow_unref(a);
    VOW_TEST_END_FORCED(loop);
    VOW_ASSERT_EQ(obj_freed[0], 1, "the held rejection's payload: freed %d times", obj_freed[0]);
}
