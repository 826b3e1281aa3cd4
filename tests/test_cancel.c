/* tests/test_cancel.c - cancellation (vow/promise.h, DESIGN.md "Cancellation"): vow_cancel's
 * codes; a cancelled vow_sleep stops and frees its timer at once; the upstream rule (a chain
 * is cancelled up to its source, but not past a promise another live reaction waits on;
 * user references do not count); combinator results reach their inputs under the same
 * rule; catch does not see a cancellation unless VOW_CATCH_CANCELLED; finally runs; a
 * reaction already queued still runs and its result is released; no cancellation is ever
 * reported as unhandled; vow_on_cancel's codes and its ctx_free; a promise locked onto
 * another one cancels what it follows. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdio.h>

#include "counted.h"
#include "helpers.h"

TestSuite(cancel, .init = vow_test_setup, .fini = vow_test_teardown, .timeout = 30);

/* ---- helpers -------------------------------------------------------------------------- */

static void expect_cancelled(const vow_t *p, const char *what) {
    VOW_ASSERT_STATE(vow_state(p), VOW_REJECTED, "%s is not rejected (state %d)", what,
                     (int)vow_state(p));
    cr_assert(vow_is_cancellation(vow_error(p)), "%s: %s, not a cancellation", what,
              vow_err_name(vow_error_code(vow_error(p))));
}

/* Reactions counted per ctx slot: ctx is an index into these arrays. */
static int ok_calls[8], err_calls[8], fin_calls[8];
static int seen_code[8];
static vow_result_t ok_n(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    ok_calls[(intptr_t)ctx]++;
    return vow_ok(vow_value_share(v));
}
static vow_result_t err_n(vow_loop_t *loop, vow_error_t *e, void *ctx) {
    (void)loop;
    err_calls[(intptr_t)ctx]++;
    seen_code[(intptr_t)ctx] = vow_error_code(e);
    return vow_ok_int(5);
}
static vow_result_t fin_n(vow_loop_t *loop, void *ctx) {
    (void)loop;
    fin_calls[(intptr_t)ctx]++;
    return vow_ok_none();
}
#define SLOT(i) ((void *)(intptr_t)(i))

static int cancel_calls, cancel_ctx_free_calls;
static int cancel_order[8], cancel_order_len; /* the ids (ctx) in the order callbacks ran */
static vow_state_t state_in_cancel = (vow_state_t)-1;
static vow_t *cancel_subject; /* borrowed: state recorded in the callback */
static void on_cancel_count(vow_loop_t *loop, void *ctx) {
    (void)loop;
    cancel_calls++;
    if (cancel_order_len < 8) cancel_order[cancel_order_len++] = (int)(intptr_t)ctx;
    if (cancel_subject != NULL) state_in_cancel = vow_state(cancel_subject);
}
static void cancel_ctx_free(void *ctx) {
    (void)ctx;
    cancel_ctx_free_calls++;
}
/* A vow_new promise with a counting cancel callback (ctx = id). */
static vow_t *cancellable(vow_loop_t *loop, int id) {
    vow_t *p = vow_new(loop);
    cr_assert_not_null(p);
    VOW_ASSERT_CODE(vow_on_cancel(p, on_cancel_count, SLOT(id), cancel_ctx_free), 0);
    return p;
}

/* Counters back to their start, for a second round of a scenario. */
static void reset_counts(void) {
    memset(ok_calls, 0, sizeof ok_calls);
    memset(err_calls, 0, sizeof err_calls);
    memset(fin_calls, 0, sizeof fin_calls);
    memset(seen_code, 0, sizeof seen_code);
    memset(obj_freed, 0, sizeof obj_freed);
    obj_made = 0;
    ctx_free_calls = cancel_calls = cancel_ctx_free_calls = cancel_order_len = 0;
    rejections_reset();
    state_in_cancel = (vow_state_t)-1;
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

/* ---- vow_cancel's codes ------------------------------------------------------------------- */

Test(cancel, pending_promise_is_rejected_at_once_with_ecanceled) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *p = vow_new(loop);
    VOW_ASSERT_CODE(vow_cancel(p), 0);
    expect_cancelled(p, "p");
    VOW_ASSERT_CODE(vow_error_code(vow_error(p)), VOW_ECANCELED);
    VOW_ASSERT_CODE(vow_cancel(p), VOW_ESETTLED, "cancelling twice");
    VOW_ASSERT_CODE(vow_resolve(p, vow_int(1)), VOW_ESETTLED);
    VOW_ASSERT_CODE(vow_reject(p, vow_error_new(VOW_EPERM, NULL)), VOW_ESETTLED);
    expect_cancelled(p, "p after the refused settles");
    vow_unref(p);
    VOW_TEST_END(loop);
}

Test(cancel, settled_promise_is_esettled_and_unchanged) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *f = vow_resolved(loop, vow_int(3));
    vow_error_t *e = vow_error_new(VOW_EPERM, NULL);
    vow_t *r = vow_rejected(loop, vow_error_ref(e));
    VOW_ASSERT_CODE(vow_cancel(f), VOW_ESETTLED);
    VOW_ASSERT_CODE(vow_cancel(r), VOW_ESETTLED);
    VOW_ASSERT_STATE(vow_state(f), VOW_FULFILLED);
    VOW_ASSERT_EQ(vow_value_int(vow_value(f)), 3);
    VOW_ASSERT_EQ(vow_error(r), e);
    vow_t *d = vow_catch(r, err_n, SLOT(0), NULL);
    VOW_ASSERT_CODE(vow_run(loop, d, NULL), 0);
    VOW_ASSERT_CODE(seen_code[0], VOW_EPERM);
    vow_unref(f);
    vow_error_unref(e);
    VOW_TEST_END(loop);
}

Test(cancel, null_is_einval_and_closed_is_eclosed) {
    VOW_ASSERT_CODE(vow_cancel(NULL), VOW_EINVAL);
    vow_loop_t *loop = vow_test_loop();
    vow_t *p = vow_new(loop);
    VOW_ASSERT_CODE(vow_loop_free(loop), 0);
    VOW_ASSERT_CODE(vow_cancel(p), VOW_ECLOSED);
    vow_unref(p);
    VOW_ASSERT_EQ(vow_test_live_allocs(), 0);
}

Test(cancel, is_cancellation) {
    vow_error_t *c = vow_error_new(VOW_ECANCELED, NULL);
    vow_error_t *t = vow_error_wrap(VOW_ETIMEDOUT, NULL, vow_error_ref(c));
    cr_assert(vow_is_cancellation(c));
    cr_assert_not(vow_is_cancellation(t), "a timeout caused by a cancel is not a cancel");
    cr_assert_not(vow_is_cancellation(NULL));
    vow_error_unref(c);
    vow_error_unref(t);
    VOW_ASSERT_EQ(vow_test_live_allocs(), 0);
}

/* ---- vow_sleep ------------------------------------------------------------------------------ */

Test(cancel, cancelled_sleep_stops_and_frees_its_timer_at_once) {
    vow_loop_t *loop = vow_test_loop();
    long first = -1;
    for (int round = 0; round < 2; round++) {
        reset_counts();
        vow_t *s = vow_sleep(loop, 1000);
        VOW_ASSERT_EQ(vow_loop_alive(loop), 1);
        VOW_ASSERT_CODE(vow_cancel(s), 0);
        VOW_ASSERT_EQ(vow_loop_alive(loop), 0, "the sleep's timer is still active");
        expect_cancelled(s, "the sleep");
        vow_unref(s);
        same_live_as_first_round(round, &first);
    }
    VOW_TEST_END(loop);
}

Test(cancel, cancelled_sleep_rejects_its_reactions_and_none_sees_a_value) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *s = vow_sleep(loop, 1000);
    vow_t *d = vow_then(vow_ref(s), ok_n, NULL, SLOT(0), NULL);
    VOW_ASSERT_CODE(vow_cancel(s), 0);
    /* Only d's reaction job is left: the timer is gone. */
    VOW_ASSERT_EQ(vow_loop_alive(loop), 1);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_NOWAIT), 0);
    VOW_ASSERT_EQ(ok_calls[0], 0);
    expect_cancelled(d, "d");
    vow_unref(s);
    vow_unref(d);
    VOW_TEST_END(loop);
}

Test(cancel, sleep_without_a_user_reference_is_cancelled_through_its_chain) {
    vow_loop_t *loop = vow_test_loop();
    long first = -1;
    for (int round = 0; round < 2; round++) {
        reset_counts();
        vow_t *d = vow_then(vow_sleep(loop, 1000), ok_n, NULL, SLOT(0), NULL);
        VOW_ASSERT_CODE(vow_cancel(d), 0);
        VOW_ASSERT_EQ(vow_loop_alive(loop), 0);
        vow_unref(d);
        same_live_as_first_round(round, &first);
    }
    VOW_TEST_END(loop);
}

/* ---- the upstream rule --------------------------------------------------------------------- */

Test(cancel, cancelling_the_tail_cancels_the_chain_up_to_its_sleep) {
    vow_loop_t *loop = vow_test_loop();
    long first = -1;
    for (int round = 0; round < 2; round++) {
        reset_counts();
        vow_t *s = vow_sleep(loop, 1000);
        vow_t *a = vow_then(vow_ref(s), ok_n, NULL, SLOT(0), NULL);
        vow_t *b = vow_catch(vow_ref(a), err_n, SLOT(1), NULL);
        vow_t *c = vow_then(vow_ref(b), ok_n, NULL, SLOT(2), NULL);
        VOW_ASSERT_CODE(vow_cancel(c), 0);
        /* Each link is cancelled, although the test holds a reference to every one. */
        expect_cancelled(c, "c");
        expect_cancelled(b, "b");
        expect_cancelled(a, "a");
        expect_cancelled(s, "the sleep");
        VOW_ASSERT_EQ(vow_loop_alive(loop), 0, "the sleep's timer is still active");
        VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
        for (int i = 0; i < 3; i++)
            VOW_ASSERT_EQ(ok_calls[i] + err_calls[i], 0, "reaction %d ran", i);
        vow_unref(s);
        vow_unref(a);
        vow_unref(b);
        vow_unref(c);
        same_live_as_first_round(round, &first);
    }
    VOW_TEST_END(loop);
}

Test(cancel, upstream_stops_at_a_promise_another_live_reaction_waits_on) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *s = vow_sleep(loop, 20);
    vow_t *a = vow_then(s, ok_n, NULL, SLOT(0), NULL);
    vow_t *b = vow_then(vow_ref(a), ok_n, NULL, SLOT(1), NULL);
    vow_t *other = vow_then(a, ok_n, NULL, SLOT(2), NULL);
    VOW_ASSERT_CODE(vow_cancel(b), 0);
    expect_cancelled(b, "b");
    VOW_ASSERT_EQ(vow_loop_alive(loop), 1, "the sleep was cancelled although `other` waits");
    VOW_ASSERT_CODE(vow_run(loop, vow_ref(other), NULL), 0);
    VOW_ASSERT_EQ(ok_calls[0], 1, "a's reaction did not run");
    VOW_ASSERT_EQ(ok_calls[2], 1, "other's reaction did not run");
    VOW_ASSERT_EQ(ok_calls[1], 0, "the cancelled b's reaction ran");
    VOW_ASSERT_STATE(vow_state(other), VOW_FULFILLED);
    vow_unref(b);
    vow_unref(other);
    VOW_TEST_END(loop);
}

Test(cancel, the_last_live_waiter_cancelled_takes_the_source_with_it) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *s = vow_sleep(loop, 1000);
    vow_t *a = vow_then(vow_ref(s), NULL, NULL, NULL, NULL);
    vow_t *b = vow_then(vow_ref(a), ok_n, NULL, SLOT(0), NULL);
    vow_t *c = vow_then(vow_ref(a), ok_n, NULL, SLOT(1), NULL);
    VOW_ASSERT_CODE(vow_cancel(b), 0);
    VOW_ASSERT_STATE(vow_state(a), VOW_PENDING, "a was cancelled while c waits on it");
    VOW_ASSERT_EQ(vow_loop_alive(loop), 1);
    VOW_ASSERT_CODE(vow_cancel(c), 0);
    expect_cancelled(a, "a");
    expect_cancelled(s, "s");
    VOW_ASSERT_EQ(vow_loop_alive(loop), 0);
    vow_unref(s);
    vow_unref(a);
    vow_unref(b);
    vow_unref(c);
    VOW_TEST_END(loop);
}

Test(cancel, a_waiter_whose_promise_already_settled_is_not_live) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *s = vow_sleep(loop, 1000);
    /* race() settles at once with the resolved input; its record stays in s's list, with
     * a settled result: it does not count as a live waiter. */
    vow_t *in[2] = {vow_ref(s), vow_resolved(loop, vow_int(1))};
    vow_t *r = vow_race(loop, in, 2, 0);
    VOW_ASSERT_EQ(vow_loop_run(loop, VOW_RUN_NOWAIT), 1);
    VOW_ASSERT_STATE(vow_state(r), VOW_FULFILLED);
    vow_t *a = vow_then(vow_ref(s), ok_n, NULL, SLOT(0), NULL);
    VOW_ASSERT_CODE(vow_cancel(a), 0);
    expect_cancelled(s, "the sleep");
    /* Its timer is gone: what remains is the race record's job, which changes nothing. */
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_NOWAIT), 0);
    VOW_ASSERT_EQ(vow_value_int(vow_value(r)), 1);
    vow_unref(s);
    vow_unref(a);
    vow_unref(r);
    VOW_TEST_END(loop);
}

Test(cancel, user_references_do_not_count) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *p = cancellable(loop, 1);
    vow_t *refs[4];
    for (int i = 0; i < 4; i++) refs[i] = vow_ref(p);
    vow_t *d = vow_then(vow_ref(p), ok_n, NULL, SLOT(0), NULL);
    VOW_ASSERT_CODE(vow_cancel(d), 0);
    VOW_ASSERT_EQ(cancel_calls, 1, "held by user references, p was not cancelled");
    expect_cancelled(p, "p");
    for (int i = 0; i < 4; i++) vow_unref(refs[i]);
    vow_unref(p);
    vow_unref(d);
    VOW_ASSERT_EQ(cancel_ctx_free_calls, 1);
    VOW_TEST_END(loop);
}

Test(cancel, cancelling_from_inside_a_reaction) {
    vow_loop_t *loop = vow_test_loop();
    long first = -1;
    for (int round = 0; round < 2; round++) {
        reset_counts();
        vow_t *tail = vow_then(vow_then(vow_sleep(loop, 1000), NULL, NULL, NULL, NULL), ok_n, NULL,
                               SLOT(1), NULL);
        VOW_ASSERT_EQ(vow_loop_alive(loop), 1);
        /* A reaction of another chain cancels the tail. */
        extern vow_result_t cancel_ctx_promise(vow_loop_t *, const vow_value_t *, void *);
        vow_t *d = vow_then(vow_resolved(loop, vow_none()), cancel_ctx_promise, NULL, tail, NULL);
        VOW_ASSERT_CODE(vow_run(loop, d, NULL), 0);
        VOW_ASSERT_EQ(vow_loop_alive(loop), 0, "the sleep still runs");
        expect_cancelled(tail, "the tail");
        VOW_ASSERT_EQ(ok_calls[1], 0);
        vow_unref(tail);
        same_live_as_first_round(round, &first);
    }
    VOW_TEST_END(loop);
}
vow_result_t cancel_ctx_promise(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v;
    VOW_ASSERT_CODE(vow_cancel(ctx), 0);
    return vow_ok_none();
}

/* ---- combinators ------------------------------------------------------------------------- */

enum { K_ALL, K_ALL_SETTLED, K_RACE, K_ANY };
static vow_t *combine(int kind, vow_loop_t *loop, vow_t *const *in, size_t n) {
    switch (kind) {
    case K_ALL: return vow_all(loop, in, n);
    case K_ALL_SETTLED: return vow_all_settled(loop, in, n);
    case K_RACE: return vow_race(loop, in, n, 0);
    default: return vow_any(loop, in, n, 0);
    }
}

/* Inputs: a sleep nobody else waits on, a sleep another reaction waits on, a vow_new with a
 * cancel callback, and (twice) one more vow_new with a cancel callback. Cancelling the
 * result cancels inputs 0, 2 and 3 (once), and leaves input 1 running for its reaction. */
static void cancel_reaches_inputs(int kind) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *s0 = vow_sleep(loop, 1000);
    vow_t *s1 = vow_sleep(loop, 20);
    vow_t *side = vow_then(vow_ref(s1), ok_n, NULL, SLOT(0), NULL);
    vow_t *p2 = cancellable(loop, 2);
    vow_t *p3 = cancellable(loop, 3);
    vow_t *in[5] = {vow_ref(s0), s1, vow_ref(p2), vow_ref(p3), vow_ref(p3)};
    vow_t *c = combine(kind, loop, in, 5);
    cr_assert_not_null(c);
    VOW_ASSERT_STATE(vow_state(c), VOW_PENDING);
    VOW_ASSERT_CODE(vow_cancel(c), 0);
    expect_cancelled(c, "the result");
    expect_cancelled(s0, "input 0");
    expect_cancelled(p2, "input 2");
    expect_cancelled(p3, "input 3");
    /* Each callback once (the header does not say in which order). */
    VOW_ASSERT_EQ(cancel_calls, 2, "cancel callbacks ran %d times", cancel_calls);
    VOW_ASSERT_EQ(cancel_order[0] + cancel_order[1], 2 + 3);
    cr_assert_neq(cancel_order[0], cancel_order[1]);
    VOW_ASSERT_EQ(vow_loop_alive(loop), 1, "input 1 must keep its timer, and only it");
    VOW_ASSERT_CODE(vow_run(loop, side, NULL), 0);
    VOW_ASSERT_EQ(ok_calls[0], 1, "the other reaction on input 1 did not run");
    expect_cancelled(c, "the result, afterwards");
    vow_unref(s0);
    vow_unref(p2);
    vow_unref(p3);
    vow_unref(c);
    VOW_ASSERT_EQ(cancel_ctx_free_calls, 2);
    VOW_TEST_END(loop);
}

Test(cancel, cancelling_all_reaches_its_inputs) { cancel_reaches_inputs(K_ALL); }
Test(cancel, cancelling_all_settled_reaches_its_inputs) { cancel_reaches_inputs(K_ALL_SETTLED); }
Test(cancel, cancelling_race_reaches_its_inputs) { cancel_reaches_inputs(K_RACE); }
Test(cancel, cancelling_any_reaches_its_inputs) { cancel_reaches_inputs(K_ANY); }

Test(cancel, cancelling_a_combinator_spares_an_input_that_already_settled) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *s = vow_sleep(loop, 1000);
    vow_t *in[2] = {vow_resolved(loop, vow_int(1)), vow_ref(s)};
    vow_t *a = vow_all(loop, in, 2);
    VOW_ASSERT_EQ(vow_loop_run(loop, VOW_RUN_NOWAIT), 1);
    VOW_ASSERT_CODE(vow_cancel(a), 0);
    expect_cancelled(s, "the pending input");
    VOW_ASSERT_EQ(vow_loop_alive(loop), 0);
    vow_unref(s);
    vow_unref(a);
    VOW_TEST_END(loop);
}

Test(cancel, cancelling_a_chain_on_a_combinator_reaches_the_inputs) {
    vow_loop_t *loop = vow_test_loop();
    long first = -1;
    for (int round = 0; round < 2; round++) {
        reset_counts();
        vow_t *in[2] = {vow_sleep(loop, 1000), vow_sleep(loop, 2000)};
        vow_t *d = vow_then(vow_any(loop, in, 2, 0), ok_n, NULL, SLOT(0), NULL);
        VOW_ASSERT_EQ(vow_loop_alive(loop), 2);
        VOW_ASSERT_CODE(vow_cancel(d), 0);
        VOW_ASSERT_EQ(vow_loop_alive(loop), 0);
        vow_unref(d);
        same_live_as_first_round(round, &first);
    }
    VOW_TEST_END(loop);
}

/* ---- catch, then_ex, finally ---------------------------------------------------------------- */

Test(cancel, catch_does_not_see_a_cancellation) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *p = vow_new(loop);
    vow_t *c = vow_catch(vow_ref(p), err_n, SLOT(0), NULL);
    vow_t *t = vow_then(vow_ref(c), ok_n, err_n, SLOT(1), NULL);
    vow_t *seen = vow_catch_ex(vow_ref(t), err_n, SLOT(2), NULL, VOW_CATCH_CANCELLED);
    /* Cancel p itself (not upstream from the chain). */
    VOW_ASSERT_CODE(vow_cancel(p), 0);
    VOW_ASSERT_CODE(vow_run(loop, vow_ref(seen), NULL), 0);
    VOW_ASSERT_EQ(err_calls[0], 0, "catch saw the cancellation");
    VOW_ASSERT_EQ(err_calls[1], 0, "then's rejection reaction saw the cancellation");
    VOW_ASSERT_EQ(ok_calls[1], 0);
    VOW_ASSERT_EQ(err_calls[2], 1, "catch_ex with VOW_CATCH_CANCELLED did not see it");
    VOW_ASSERT_CODE(seen_code[2], VOW_ECANCELED);
    /* It passed by as if absent: the same error object. */
    VOW_ASSERT_EQ(vow_error(c), vow_error(p));
    VOW_ASSERT_EQ(vow_error(t), vow_error(p));
    /* And catch_ex's handler recovered it. */
    VOW_ASSERT_STATE(vow_state(seen), VOW_FULFILLED);
    VOW_ASSERT_EQ(vow_value_int(vow_value(seen)), 5);
    vow_unref(p);
    vow_unref(c);
    vow_unref(t);
    vow_unref(seen);
    VOW_TEST_END(loop);
}

Test(cancel, then_ex_with_the_flag_sees_it) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *p = vow_new(loop);
    vow_t *t = vow_then_ex(vow_ref(p), ok_n, err_n, SLOT(0), ctx_free_count, VOW_CATCH_CANCELLED);
    cr_assert_not_null(t);
    VOW_ASSERT_CODE(vow_cancel(p), 0);
    VOW_ASSERT_CODE(vow_run(loop, t, NULL), 0);
    VOW_ASSERT_EQ(err_calls[0], 1);
    VOW_ASSERT_CODE(seen_code[0], VOW_ECANCELED);
    VOW_ASSERT_EQ(ok_calls[0], 0);
    VOW_ASSERT_EQ(ctx_free_calls, 1);
    vow_unref(p);
    VOW_TEST_END(loop);
}

Test(cancel, catch_still_sees_ordinary_rejections_and_timeouts) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *c1 = vow_catch(vow_rejected(loop, vow_error_new(VOW_EPERM, NULL)), err_n, SLOT(0), NULL);
    vow_t *c2 = vow_catch(vow_timeout(vow_sleep(loop, 1000), 5, 0), err_n, SLOT(1), NULL);
    VOW_ASSERT_CODE(vow_run(loop, c1, NULL), 0);
    VOW_ASSERT_CODE(vow_run(loop, c2, NULL), 0);
    VOW_ASSERT_EQ(err_calls[0], 1);
    VOW_ASSERT_CODE(seen_code[0], VOW_EPERM);
    VOW_ASSERT_EQ(err_calls[1], 1, "a timeout (caused by a cancel) must reach catch");
    VOW_ASSERT_CODE(seen_code[1], VOW_ETIMEDOUT);
    VOW_TEST_END(loop);
}

/* Unknown flags are misuse: the call answers a promise rejected with VOW_EINVAL (the rule
 * of vow/promise.h), consumes its subject and runs the context destructor; the callbacks
 * never run. */
Test(cancel, unknown_flags_reject_with_einval) {
    vow_loop_t *loop = vow_test_loop();
    obj *o = obj_new();
    vow_t *a = vow_then_ex(vow_resolved(loop, vow_ptr(o, obj_free)), ok_n, err_n, SLOT(0),
                           ctx_free_count, 0x40u);
    cr_assert_not_null(a);
    VOW_ASSERT_EQ(ctx_free_calls, 1);
    VOW_ASSERT_EQ(obj_freed[0], 1, "the subject was not consumed");
    vow_t *b = vow_catch_ex(vow_new(loop), err_n, SLOT(0), ctx_free_count, 0x2u);
    cr_assert_not_null(b);
    VOW_ASSERT_EQ(ctx_free_calls, 2);
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, a, &out), 0);
    VOW_ASSERT_STATE(out.state, VOW_REJECTED);
    VOW_ASSERT_CODE(vow_error_code(out.error), VOW_EINVAL);
    vow_outcome_release(&out);
    VOW_ASSERT_CODE(vow_run(loop, b, &out), 0);
    VOW_ASSERT_CODE(vow_error_code(out.error), VOW_EINVAL);
    vow_outcome_release(&out);
    VOW_ASSERT_EQ(ok_calls[0] + err_calls[0], 0);
    VOW_TEST_END(loop);
}

Test(cancel, finally_runs_when_a_cancellation_flows_into_it) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *p = vow_new(loop);
    vow_t *f = vow_finally(vow_ref(p), fin_n, SLOT(0), ctx_free_count);
    vow_t *seen = vow_catch_ex(vow_ref(f), err_n, SLOT(1), NULL, VOW_CATCH_CANCELLED);
    VOW_ASSERT_CODE(vow_cancel(p), 0);
    VOW_ASSERT_EQ(fin_calls[0], 0, "finally ran inside vow_cancel");
    VOW_ASSERT_CODE(vow_run(loop, seen, NULL), 0);
    VOW_ASSERT_EQ(fin_calls[0], 1, "finally did not run on the cancellation");
    VOW_ASSERT_EQ(ctx_free_calls, 1);
    VOW_ASSERT_EQ(err_calls[1], 1);
    VOW_ASSERT_CODE(seen_code[1], VOW_ECANCELED, "finally changed the outcome");
    expect_cancelled(f, "finally's promise");
    vow_unref(p);
    vow_unref(f);
    VOW_TEST_END(loop);
}

/* asyncio: cancelling a task that awaits inside try/finally runs the finally block. Here:
 * cancelling the promise finally() returned cancels its source, and the callback runs. */
Test(cancel, finally_runs_when_its_own_promise_is_cancelled) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *s = vow_sleep(loop, 1000);
    vow_t *f = vow_finally(vow_ref(s), fin_n, SLOT(0), ctx_free_count);
    VOW_ASSERT_CODE(vow_cancel(f), 0);
    expect_cancelled(f, "finally's promise");
    expect_cancelled(s, "its source");
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(fin_calls[0], 1, "the finally callback ran %d times", fin_calls[0]);
    VOW_ASSERT_EQ(ctx_free_calls, 1);
    vow_unref(s);
    vow_unref(f);
    VOW_TEST_END(loop);
}

/* ---- a reaction already queued -------------------------------------------------------------- */

static int make_calls;
static vow_result_t make_obj(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v, (void)ctx;
    make_calls++;
    return vow_ok(vow_ptr(obj_new(), obj_free));
}
static vow_result_t make_follow(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)v, (void)ctx;
    make_calls++;
    return vow_follow(vow_resolved(loop, vow_ptr(obj_new(), obj_free)));
}
static vow_result_t make_error(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v, (void)ctx;
    make_calls++;
    vow_error_t *e = vow_error_new(VOW_EBUSY, NULL);
    VOW_ASSERT_CODE(vow_error_set_payload(e, obj_new(), obj_free), 0);
    return vow_fail(e);
}

static void queued_reaction_case(vow_on_ok fn) {
    vow_loop_t *loop = vow_test_loop();
    record_rejections(loop);
    /* The job is queued at once: its promise has settled. */
    vow_t *d = vow_then(vow_resolved(loop, vow_int(1)), fn, NULL, NULL, ctx_free_count);
    VOW_ASSERT_CODE(vow_cancel(d), 0);
    expect_cancelled(d, "d");
    VOW_ASSERT_EQ(make_calls, 0);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(make_calls, 1, "the queued reaction did not run");
    VOW_ASSERT_EQ(ctx_free_calls, 1);
    VOW_ASSERT_EQ(obj_made, 1);
    VOW_ASSERT_EQ(obj_freed[0], 1, "its result was not released");
    expect_cancelled(d, "d, afterwards");
    VOW_ASSERT_EQ(rejections.calls, 0);
    vow_unref(d);
    VOW_TEST_END(loop);
    expect_every_obj_freed_once();
}

Test(cancel, queued_reaction_still_runs_and_its_value_is_released) {
    queued_reaction_case(make_obj);
}
Test(cancel, queued_reaction_still_runs_and_the_promise_it_returns_is_released) {
    queued_reaction_case(make_follow);
}
Test(cancel, queued_reaction_still_runs_and_its_error_is_released) {
    queued_reaction_case(make_error);
}

Test(cancel, queued_reaction_upstream_of_the_cancelled_promise_still_runs) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *a = vow_then(vow_resolved(loop, vow_int(1)), make_obj, NULL, NULL, NULL);
    vow_t *b = vow_then(vow_ref(a), ok_n, NULL, SLOT(0), NULL);
    VOW_ASSERT_CODE(vow_cancel(b), 0);
    expect_cancelled(a, "a (nothing else waits on it)");
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(make_calls, 1);
    VOW_ASSERT_EQ(obj_freed[0], 1);
    VOW_ASSERT_EQ(ok_calls[0], 0);
    vow_unref(a);
    vow_unref(b);
    VOW_TEST_END(loop);
}

/* ---- never reported as unhandled ------------------------------------------------------------- */

static char stderr_text[4096];
static const char *read_stderr(void) {
    fflush(stderr);
    FILE *f = cr_get_redirected_stderr();
    cr_assert_not_null(f);
    size_t n = fread(stderr_text, 1, sizeof stderr_text - 1, f);
    stderr_text[n] = '\0';
    return stderr_text;
}

Test(cancel, no_cancellation_is_reported_as_unhandled) {
    cr_redirect_stderr();
    vow_loop_t *loop = vow_test_loop(); /* warn mode: a report would print a line */
    record_rejections(loop);
    vow_t *held[16];
    int n = 0;
    /* A bare vow_new. */
    held[n] = vow_new(loop);
    VOW_ASSERT_CODE(vow_cancel(held[n++]), 0);
    /* A chain with no handler, cancelled at its head: the cancellation flows down. */
    vow_t *head = vow_new(loop);
    held[n++] =
        vow_then(vow_then(vow_ref(head), ok_n, NULL, SLOT(0), NULL), ok_n, NULL, SLOT(1), NULL);
    held[n++] = vow_catch(vow_ref(head), err_n, SLOT(2), NULL);
    held[n++] = vow_finally(vow_ref(head), fin_n, SLOT(3), NULL);
    VOW_ASSERT_CODE(vow_cancel(head), 0);
    held[n++] = head;
    /* A sleep, and a chain cancelled at its tail. */
    held[n] = vow_sleep(loop, 1000);
    VOW_ASSERT_CODE(vow_cancel(held[n++]), 0);
    held[n] = vow_then(vow_sleep(loop, 1000), ok_n, NULL, SLOT(4), NULL);
    VOW_ASSERT_CODE(vow_cancel(held[n++]), 0);
    /* A combinator cancelled, and losers cancelled by race. */
    vow_t *in[2] = {vow_sleep(loop, 1000), vow_new(loop)};
    held[n] = vow_all(loop, in, 2);
    VOW_ASSERT_CODE(vow_cancel(held[n++]), 0);
    vow_t *in2[2] = {vow_sleep(loop, 1000), vow_resolved(loop, vow_int(1))};
    held[n++] = vow_race(loop, in2, 2, VOW_CANCEL_LOSERS);
    /* A timeout's inner (the timeout itself is handled). */
    held[n++] = vow_catch(vow_timeout(vow_sleep(loop, 1000), 5, 0), err_n, SLOT(5), NULL);
    /* Unhandled already-queued reaction on a cancelled promise. */
    held[n] = vow_then(vow_resolved(loop, vow_int(2)), ok_n, NULL, SLOT(6), NULL);
    VOW_ASSERT_CODE(vow_cancel(held[n++]), 0);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(fin_calls[3], 1);
    VOW_ASSERT_EQ(err_calls[2], 0);
    VOW_ASSERT_EQ(err_calls[5], 1);
    VOW_ASSERT_CODE(seen_code[5], VOW_ETIMEDOUT);
    for (int i = 0; i < n; i++) vow_unref(held[i]);
    VOW_ASSERT_EQ(rejections.calls, 0, "a cancellation was reported");
    VOW_TEST_END(loop);
    const char *out = read_stderr();
    cr_assert_str_eq(out, "", "stderr: %s", out);
}

/* The control: the same harness does see an ordinary unhandled rejection. */
Test(cancel, control_an_ordinary_rejection_is_reported) {
    cr_redirect_stderr();
    vow_loop_t *loop = vow_test_loop();
    record_rejections(loop);
    vow_t *p = vow_new(loop);
    vow_t *d = vow_then(vow_ref(p), ok_n, NULL, SLOT(0), NULL);
    VOW_ASSERT_CODE(vow_reject(p, vow_error_new(VOW_EPERM, NULL)), 0);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(rejections.calls, 1);
    vow_unref(p);
    vow_unref(d);
    VOW_TEST_END(loop);
    const char *out = read_stderr();
    cr_assert(strstr(out, "unhandled") != NULL, "stderr: %s", out);
}

/* ---- vow_on_cancel ------------------------------------------------------------------------ */

Test(cancel, on_cancel_runs_once_before_the_rejection_then_ctx_free) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *p = cancellable(loop, 1);
    cancel_subject = p;
    VOW_ASSERT_EQ(cancel_calls, 0);
    VOW_ASSERT_CODE(vow_cancel(p), 0);
    VOW_ASSERT_EQ(cancel_calls, 1);
    VOW_ASSERT_STATE(state_in_cancel, VOW_PENDING, "the callback ran after p rejected");
    VOW_ASSERT_EQ(cancel_ctx_free_calls, 1, "ctx_free did not run when p settled");
    VOW_ASSERT_CODE(vow_cancel(p), VOW_ESETTLED);
    VOW_ASSERT_EQ(cancel_calls, 1);
    cancel_subject = NULL;
    vow_unref(p);
    VOW_ASSERT_EQ(cancel_ctx_free_calls, 1);
    VOW_TEST_END(loop);
}

Test(cancel, on_cancel_ctx_free_runs_once_when_settled_otherwise_or_freed) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *a = cancellable(loop, 1), *b = cancellable(loop, 2), *c = cancellable(loop, 3);
    VOW_ASSERT_CODE(vow_resolve(a, vow_int(1)), 0);
    VOW_ASSERT_EQ(cancel_ctx_free_calls, 1, "ctx_free did not run on fulfilment");
    VOW_ASSERT_CODE(vow_reject(b, vow_error_new(VOW_EPERM, NULL)), 0);
    VOW_ASSERT_EQ(cancel_ctx_free_calls, 2, "ctx_free did not run on rejection");
    vow_unref(c); /* pending, freed */
    VOW_ASSERT_EQ(cancel_ctx_free_calls, 3, "ctx_free did not run when freed");
    vow_t *d = vow_catch(b, err_n, SLOT(0), NULL);
    VOW_ASSERT_CODE(vow_run(loop, d, NULL), 0);
    vow_unref(a);
    VOW_ASSERT_EQ(cancel_calls, 0);
    VOW_ASSERT_EQ(cancel_ctx_free_calls, 3);
    VOW_TEST_END(loop);
}

Test(cancel, on_cancel_ctx_free_runs_at_loop_free) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *p = cancellable(loop, 1);
    vow_unref(vow_then(p, ok_n, NULL, SLOT(0), NULL));
    VOW_TEST_END_FORCED(loop);
    VOW_ASSERT_EQ(cancel_ctx_free_calls, 1);
    VOW_ASSERT_EQ(cancel_calls, 0, "loop_free is not a cancel");
}

Test(cancel, on_cancel_misuse_codes_and_ctx_free_on_error) {
    vow_loop_t *loop = vow_test_loop();
    int ctx = 0;
    /* A derived promise: EPERM. */
    vow_t *d = vow_then(vow_new(loop), ok_n, NULL, SLOT(0), NULL);
    VOW_ASSERT_CODE(vow_on_cancel(d, on_cancel_count, &ctx, cancel_ctx_free), VOW_EPERM);
    VOW_ASSERT_EQ(cancel_ctx_free_calls, 1);
    /* A timer's promise and a vow_resolved one are not vow_new's either. */
    vow_t *s = vow_sleep(loop, 1);
    VOW_ASSERT_CODE(vow_on_cancel(s, on_cancel_count, &ctx, cancel_ctx_free), VOW_EPERM);
    VOW_ASSERT_EQ(cancel_ctx_free_calls, 2);
    vow_t *r = vow_resolved(loop, vow_int(1));
    int rc = vow_on_cancel(r, on_cancel_count, &ctx, cancel_ctx_free);
    cr_assert(rc == VOW_EPERM || rc == VOW_ESETTLED, "vow_resolved: %s", vow_err_name(rc));
    VOW_ASSERT_EQ(cancel_ctx_free_calls, 3);
    /* Settled: ESETTLED. */
    vow_t *p = vow_new(loop);
    VOW_ASSERT_CODE(vow_resolve(p, vow_int(1)), 0);
    VOW_ASSERT_CODE(vow_on_cancel(p, on_cancel_count, &ctx, cancel_ctx_free), VOW_ESETTLED);
    VOW_ASSERT_EQ(cancel_ctx_free_calls, 4);
    /* A second callback: EBUSY; the first stays and runs, the second's ctx is freed now. */
    vow_t *q = vow_new(loop);
    VOW_ASSERT_CODE(vow_on_cancel(q, on_cancel_count, SLOT(1), cancel_ctx_free), 0);
    VOW_ASSERT_CODE(vow_on_cancel(q, on_cancel_count, SLOT(2), cancel_ctx_free), VOW_EBUSY);
    VOW_ASSERT_EQ(cancel_ctx_free_calls, 5);
    VOW_ASSERT_CODE(vow_cancel(q), 0);
    VOW_ASSERT_EQ(cancel_calls, 1);
    VOW_ASSERT_EQ(cancel_order[0], 1, "the second callback replaced the first");
    VOW_ASSERT_EQ(cancel_ctx_free_calls, 6);
    /* NULL subject or callback: EINVAL. */
    VOW_ASSERT_CODE(vow_on_cancel(NULL, on_cancel_count, &ctx, cancel_ctx_free), VOW_EINVAL);
    VOW_ASSERT_EQ(cancel_ctx_free_calls, 7);
    vow_t *e = vow_new(loop);
    VOW_ASSERT_CODE(vow_on_cancel(e, NULL, &ctx, cancel_ctx_free), VOW_EINVAL);
    VOW_ASSERT_EQ(cancel_ctx_free_calls, 8);
    /* No ctx_free: fine. */
    VOW_ASSERT_CODE(vow_on_cancel(e, on_cancel_count, NULL, NULL), 0);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    vow_unref(d);
    vow_unref(s);
    vow_unref(r);
    vow_unref(p);
    vow_unref(q);
    /* Closed: ECLOSED. */
    VOW_ASSERT_CODE(vow_loop_free(loop), 0);
    VOW_ASSERT_CODE(vow_on_cancel(e, on_cancel_count, &ctx, cancel_ctx_free), VOW_ECLOSED);
    VOW_ASSERT_EQ(cancel_ctx_free_calls, 9);
    vow_unref(e);
    VOW_ASSERT_EQ(cancel_calls, 1);
    VOW_ASSERT_EQ(vow_test_live_allocs(), 0);
}

/* ---- a promise locked onto another ---------------------------------------------------------- */

Test(cancel, cancelling_a_locked_promise_cancels_what_it_follows_before_subscribing) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *q = cancellable(loop, 1);
    vow_t *p = vow_new(loop);
    VOW_ASSERT_CODE(vow_resolve_with(p, vow_follow(vow_ref(q))), 0);
    VOW_ASSERT_STATE(vow_state(p), VOW_PENDING);
    VOW_ASSERT_CODE(vow_resolve(p, vow_int(1)), VOW_ESETTLED, "a locked promise refuses");
    /* The thenable job is still queued: p has not subscribed to q yet. */
    VOW_ASSERT_CODE(vow_cancel(p), 0);
    expect_cancelled(p, "p");
    VOW_ASSERT_EQ(cancel_calls, 1, "q was not cancelled");
    expect_cancelled(q, "q");
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(cancel_calls, 1);
    expect_cancelled(p, "p, afterwards");
    vow_unref(p);
    vow_unref(q);
    VOW_TEST_END(loop);
}

Test(cancel, cancelling_a_locked_promise_cancels_what_it_follows_after_subscribing) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *q = cancellable(loop, 1);
    vow_t *p = vow_new(loop);
    vow_t *d = vow_then(vow_ref(p), ok_n, NULL, SLOT(0), NULL);
    VOW_ASSERT_CODE(vow_resolve_with(p, vow_follow(vow_ref(q))), 0);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0); /* p subscribes to q */
    VOW_ASSERT_STATE(vow_state(p), VOW_PENDING);
    VOW_ASSERT_CODE(vow_cancel(p), 0);
    VOW_ASSERT_EQ(cancel_calls, 1, "q was not cancelled");
    expect_cancelled(q, "q");
    expect_cancelled(p, "p");
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    expect_cancelled(d, "d");
    VOW_ASSERT_EQ(ok_calls[0], 0);
    vow_unref(p);
    vow_unref(q);
    vow_unref(d);
    VOW_TEST_END(loop);
}

Test(cancel, cancelling_a_locked_promise_spares_a_followed_promise_someone_else_waits_on) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *q = cancellable(loop, 1);
    vow_t *other = vow_then(vow_ref(q), ok_n, NULL, SLOT(0), NULL);
    vow_t *p = vow_new(loop);
    VOW_ASSERT_CODE(vow_resolve_with(p, vow_follow(vow_ref(q))), 0);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_CODE(vow_cancel(p), 0);
    expect_cancelled(p, "p");
    VOW_ASSERT_EQ(cancel_calls, 0, "q was cancelled although another reaction waits");
    VOW_ASSERT_STATE(vow_state(q), VOW_PENDING);
    VOW_ASSERT_CODE(vow_resolve(q, vow_int(4)), 0);
    VOW_ASSERT_CODE(vow_run(loop, vow_ref(other), NULL), 0);
    VOW_ASSERT_EQ(ok_calls[0], 1);
    VOW_ASSERT_EQ(vow_value_int(vow_value(other)), 4);
    expect_cancelled(p, "p, afterwards");
    vow_unref(p);
    vow_unref(q);
    vow_unref(other);
    VOW_TEST_END(loop);
}

Test(cancel, cancelling_a_promise_that_follows_a_sleep_frees_the_timer) {
    vow_loop_t *loop = vow_test_loop();
    long first = -1;
    for (int round = 0; round < 2; round++) {
        reset_counts();
        vow_t *p = vow_new(loop);
        VOW_ASSERT_CODE(vow_resolve_with(p, vow_follow(vow_sleep(loop, 1000))), 0);
        VOW_ASSERT_EQ(vow_loop_run(loop, VOW_RUN_NOWAIT), 1);
        VOW_ASSERT_CODE(vow_cancel(p), 0);
        VOW_ASSERT_EQ(vow_loop_alive(loop), 0, "the followed sleep still runs");
        vow_unref(p);
        same_live_as_first_round(round, &first);
    }
    VOW_TEST_END(loop);
}

/* ---- deeper cases ----------------------------------------------------------------------------- */

Test(cancel, cancelling_nested_combinators_reaches_the_innermost_inputs) {
    vow_loop_t *loop = vow_test_loop();
    long first = -1;
    for (int round = 0; round < 2; round++) {
        reset_counts();
        vow_t *s0 = vow_sleep(loop, 1000), *s1 = vow_sleep(loop, 2000);
        vow_t *p = cancellable(loop, 1);
        vow_t *inner_in[2] = {vow_ref(s0), vow_ref(p)};
        vow_t *inner = vow_any(loop, inner_in, 2, 0);
        vow_t *outer_in[2] = {inner, vow_ref(s1)};
        vow_t *outer = vow_all_settled(loop, outer_in, 2);
        VOW_ASSERT_CODE(vow_cancel(outer), 0);
        expect_cancelled(s0, "the inner combinator's sleep");
        expect_cancelled(s1, "the outer combinator's sleep");
        expect_cancelled(p, "the inner combinator's vow_new");
        VOW_ASSERT_EQ(cancel_calls, 1);
        VOW_ASSERT_EQ(vow_loop_alive(loop), 0);
        vow_unref(s0);
        vow_unref(s1);
        vow_unref(p);
        vow_unref(outer);
        same_live_as_first_round(round, &first);
    }
    VOW_TEST_END(loop);
}

Test(cancel, cancelling_race_of_nothing) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *r = vow_race(loop, NULL, 0, 0);
    VOW_ASSERT_CODE(vow_cancel(r), 0);
    expect_cancelled(r, "race([])");
    vow_unref(r);
    VOW_TEST_END(loop);
}

static vow_result_t fin_follow_sleep(vow_loop_t *loop, void *ctx) {
    (void)ctx;
    fin_calls[0]++;
    return vow_follow(vow_sleep(loop, 1000));
}

Test(cancel, cancelling_while_finally_waits_for_its_callbacks_promise) {
    vow_loop_t *loop = vow_test_loop();
    long first = -1;
    for (int round = 0; round < 2; round++) {
        reset_counts();
        obj *o = obj_new();
        vow_t *f =
            vow_finally(vow_resolved(loop, vow_ptr(o, obj_free)), fin_follow_sleep, NULL, NULL);
        /* The callback ran; its sleep waits. */
        VOW_ASSERT_EQ(vow_loop_run(loop, VOW_RUN_NOWAIT), 1);
        VOW_ASSERT_EQ(fin_calls[0], 1);
        VOW_ASSERT_STATE(vow_state(f), VOW_PENDING);
        VOW_ASSERT_EQ(vow_loop_alive(loop), 1);
        VOW_ASSERT_CODE(vow_cancel(f), 0);
        expect_cancelled(f, "finally's promise");
        VOW_ASSERT_EQ(vow_loop_alive(loop), 0, "the callback's sleep still runs");
        VOW_ASSERT_EQ(obj_freed[0], 1, "the carried value was not released");
        vow_unref(f);
        same_live_as_first_round(round, &first);
    }
    VOW_TEST_END(loop);
}

static vow_result_t follow_sleep(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)v, (void)ctx;
    ok_calls[0]++;
    return vow_follow(vow_sleep(loop, 1000));
}

Test(cancel, cancelling_while_a_reaction_result_is_adopted) {
    vow_loop_t *loop = vow_test_loop();
    long first = -1;
    for (int round = 0; round < 2; round++) {
        reset_counts();
        vow_t *d = vow_then(vow_resolved(loop, vow_int(1)), follow_sleep, NULL, NULL, NULL);
        /* One round: the reaction ran and its thenable job is queued; then drained fully. */
        VOW_ASSERT_EQ(vow_loop_run(loop, VOW_RUN_NOWAIT), 1);
        VOW_ASSERT_EQ(ok_calls[0], 1);
        VOW_ASSERT_STATE(vow_state(d), VOW_PENDING);
        VOW_ASSERT_CODE(vow_cancel(d), 0);
        VOW_ASSERT_EQ(vow_loop_alive(loop), 0, "the followed sleep still runs");
        vow_unref(d);
        same_live_as_first_round(round, &first);
    }
    VOW_TEST_END(loop);
}

static vow_resolver_t *kept_resolver;
static int subscribe_calls;
static int keep_resolver(void *ctx, vow_resolver_t *r) {
    (void)ctx;
    subscribe_calls++;
    kept_resolver = vow_resolver_ref(r);
    return 0;
}

Test(cancel, cancelling_while_a_foreign_thenable_job_is_queued) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *p = vow_new(loop);
    VOW_ASSERT_CODE(vow_resolve_with(p, vow_follow_thenable(
                                            vow_thenable_new(keep_resolver, NULL, ctx_free_count))),
                    0);
    VOW_ASSERT_CODE(vow_cancel(p), 0);
    expect_cancelled(p, "p");
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    /* Whether the foreign future is still subscribed is not said; if it was, its late
     * answer changes nothing and what it hands over is released. */
    if (kept_resolver != NULL) {
        obj *o = obj_new();
        vow_resolver_resolve(kept_resolver, vow_ok(vow_ptr(o, obj_free)));
        VOW_ASSERT_EQ(obj_freed[0], 1, "the late answer's value was not released");
        vow_resolver_unref(kept_resolver);
    }
    VOW_ASSERT_EQ(ctx_free_calls, 1);
    expect_cancelled(p, "p, afterwards");
    vow_unref(p);
    VOW_TEST_END(loop);
}

Test(cancel, cancelling_the_tail_of_a_million_long_chain, .timeout = 120) {
    vow_loop_t *loop = vow_test_loop();
    long first = -1;
    for (int round = 0; round < 2; round++) {
        reset_counts();
        vow_t *s = vow_sleep(loop, 1000);
        vow_t *tail = vow_ref(s);
        for (int i = 0; i < 1000000; i++) {
            tail = vow_then(tail, ok_n, NULL, SLOT(0), NULL);
            cr_assert_not_null(tail);
        }
        VOW_ASSERT_CODE(vow_cancel(tail), 0);
        expect_cancelled(s, "the head sleep");
        VOW_ASSERT_EQ(vow_loop_alive(loop), 0);
        VOW_ASSERT_EQ(ok_calls[0], 0);
        vow_unref(tail);
        vow_unref(s);
        same_live_as_first_round(round, &first);
    }
    VOW_TEST_END(loop);
}

Test(cancel, finally_whose_promise_is_cancelled_runs_when_a_shared_source_settles) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *s = vow_sleep(loop, 20);
    vow_t *other = vow_then(vow_ref(s), ok_n, NULL, SLOT(1), NULL);
    vow_t *f = vow_finally(vow_ref(s), fin_n, SLOT(0), ctx_free_count);
    VOW_ASSERT_CODE(vow_cancel(f), 0);
    expect_cancelled(f, "finally's promise");
    VOW_ASSERT_STATE(vow_state(s), VOW_PENDING, "the source was cancelled although `other` waits");
    VOW_ASSERT_EQ(fin_calls[0], 0);
    VOW_ASSERT_CODE(vow_run(loop, vow_ref(other), NULL), 0);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(ok_calls[1], 1);
    VOW_ASSERT_EQ(fin_calls[0], 1, "the finally callback ran %d times", fin_calls[0]);
    VOW_ASSERT_EQ(ctx_free_calls, 1);
    expect_cancelled(f, "finally's promise, afterwards");
    vow_unref(s);
    vow_unref(f);
    vow_unref(other);
    VOW_TEST_END(loop);
}

static vow_result_t fin_fail(vow_loop_t *loop, void *ctx) {
    (void)loop;
    fin_calls[(intptr_t)ctx]++;
    vow_error_t *e = vow_error_new(VOW_EBUSY, NULL);
    VOW_ASSERT_CODE(vow_error_set_payload(e, obj_new(), obj_free), 0);
    return vow_fail(e);
}

Test(cancel, finally_of_a_cancelled_promise_runs_once_and_its_result_is_released) {
    vow_loop_t *loop = vow_test_loop();
    record_rejections(loop);
    vow_t *p = cancellable(loop, 1);
    vow_t *f = vow_finally(vow_ref(p), fin_fail, SLOT(0), ctx_free_count);
    vow_t *t = vow_then(vow_ref(f), ok_n, NULL, SLOT(1), NULL);
    VOW_ASSERT_CODE(vow_cancel(t), 0);
    expect_cancelled(f, "finally's promise");
    expect_cancelled(p, "the source");
    VOW_ASSERT_EQ(cancel_calls, 1);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(fin_calls[0], 1);
    VOW_ASSERT_EQ(ctx_free_calls, 1);
    VOW_ASSERT_EQ(obj_freed[0], 1, "the callback's error was not released");
    expect_cancelled(f, "finally's promise, afterwards");
    VOW_ASSERT_EQ(rejections.calls, 0, "something was reported as unhandled");
    vow_unref(p);
    vow_unref(f);
    vow_unref(t);
    VOW_TEST_END(loop);
    expect_every_obj_freed_once();
}
