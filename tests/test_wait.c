/* tests/test_wait.c - asyncio.wait (vow/task.h): FIRST_COMPLETED, FIRST_EXCEPTION and
 * ALL_COMPLETED over inputs that settle in several orders (timers at distinct delays,
 * already settled inputs, rejections, cancellations - a cancellation is not an exception
 * for FIRST_EXCEPTION); done and pending in input order with their input indexes; pending
 * inputs are live promises, awaited afterwards for their values; the timeout never rejects
 * and never cancels; VOW_WAIT_CANCEL_PENDING cancels the pending inputs (their timers
 * freed at once); empty input, an unknown mode or flag, an input of another loop: a
 * promise rejected with VOW_EINVAL; cancelling the wait leaves its inputs running; no
 * leaks. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "counted.h"
#include "helpers.h"
#include "settle.h"

TestSuite(wait, .init = vow_test_setup, .fini = vow_test_teardown, .timeout = 30);

#define CTX(x) ((void *)(intptr_t)(x))

/* ---- inputs settled by timers (fulfil_in, reject_in, cancel_in: settle.h) --------------- */

/* A vow_sleep of `ms` that then fulfils with `i`: cancelling it frees its timer. */
static vow_result_t give_value(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v;
    return vow_ok_int((int64_t)(intptr_t)ctx);
}
static vow_t *sleep_value(vow_loop_t *loop, uint64_t ms, int64_t i) {
    vow_t *p = vow_then(vow_sleep(loop, ms), give_value, NULL, CTX(i), NULL);
    cr_assert_not_null(p);
    return p;
}

static void expect_cancelled(const vow_t *p, const char *what) {
    VOW_ASSERT_STATE(vow_state(p), VOW_REJECTED, "%s is not rejected (state %d)", what,
                     (int)vow_state(p));
    cr_assert(vow_is_cancellation(vow_error(p)), "%s: %s, not a cancellation", what,
              vow_err_name(vow_error_code(vow_error(p))));
}

/* ---- the wait's reaction ---------------------------------------------------------------- */

/* What the reaction on the wait saw, recorded when it ran (so exact on a busy machine). */
static int wait_calls;
static int fired_at_wait = -1; /* fired_len when the wait's reaction ran */
static int alive_at_wait = -1; /* vow_loop_alive when the wait's reaction ran */
static size_t done_idx[16], pending_idx[16];
static size_t n_done = 99, n_pending = 99;
static vow_state_t done_state[16];
static vow_state_t pending_state[16];
static vow_t *pending_kept[16]; /* vow_ref'd pending inputs, when keep_pending */
static int keep_pending;

static vow_result_t on_wait(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)ctx;
    wait_calls++;
    fired_at_wait = fired_len;
    alive_at_wait = vow_loop_alive(loop);
    const vow_wait_result_t *w = vow_wait_result_of(v);
    cr_assert_not_null(w, "the wait's value is not a wait result");
    n_done = vow_wait_done_count(w);
    n_pending = vow_wait_pending_count(w);
    cr_assert_leq(n_done + n_pending, 16);
    for (size_t i = 0; i < n_done; i++) {
        done_idx[i] = vow_wait_done_index(w, i);
        cr_assert_not_null(vow_wait_done(w, i));
        done_state[i] = vow_state(vow_wait_done(w, i));
    }
    for (size_t i = 0; i < n_pending; i++) {
        pending_idx[i] = vow_wait_pending_index(w, i);
        cr_assert_not_null(vow_wait_pending(w, i));
        pending_state[i] = vow_state(vow_wait_pending(w, i));
        if (keep_pending) pending_kept[i] = vow_ref(vow_wait_pending(w, i));
    }
    cr_assert_null(vow_wait_done(w, n_done));
    cr_assert_null(vow_wait_pending(w, n_pending));
    VOW_ASSERT_EQ(vow_wait_done_index(w, n_done), SIZE_MAX);
    VOW_ASSERT_EQ(vow_wait_pending_index(w, n_pending), SIZE_MAX);
    return vow_ok_none();
}

static int err_calls, seen_code;
static vow_result_t on_err(vow_loop_t *loop, vow_error_t *e, void *ctx) {
    (void)loop, (void)ctx;
    err_calls++;
    seen_code = vow_error_code(e);
    return vow_ok_none();
}

/* Runs a wait to its end through a reaction; returns the wait (one reference). */
static vow_t *run_wait(vow_loop_t *loop, vow_t *const *in, size_t n, vow_wait_mode_t mode,
                       uint64_t timeout, unsigned flags) {
    vow_t *w = vow_wait(loop, in, n, mode, timeout, flags);
    cr_assert_not_null(w);
    VOW_ASSERT_STATE(vow_state(w), VOW_PENDING);
    vow_t *d = vow_then(vow_ref(w), on_wait, on_err, NULL, NULL);
    VOW_ASSERT_CODE(vow_run(loop, d, NULL), 0);
    VOW_ASSERT_EQ(wait_calls + err_calls, 1);
    return w;
}

#define EXPECT_IDX(arr, n_arr, ...)                                                                \
    do {                                                                                           \
        size_t want_[] = {__VA_ARGS__};                                                            \
        size_t nw_ = sizeof want_ / sizeof want_[0];                                               \
        VOW_ASSERT_EQ(n_arr, nw_, #arr ": %zu items, expected %zu", (size_t)(n_arr), nw_);         \
        for (size_t k_ = 0; k_ < nw_; k_++)                                                        \
            VOW_ASSERT_EQ(arr[k_], want_[k_], #arr "[%zu] is input %zu, expected %zu", k_,         \
                          arr[k_], want_[k_]);                                                     \
    } while (0)

/* Awaits a pending input kept from the result (consumes the reference); returns its int. */
static int64_t await_int(vow_loop_t *loop, vow_t *p) {
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, p, &out), 0);
    VOW_ASSERT_STATE(out.state, VOW_FULFILLED);
    int64_t i = vow_value_int(&out.value);
    vow_outcome_release(&out);
    return i;
}

/* ---- FIRST_COMPLETED ---------------------------------------------------------------------- */

Test(wait, first_completed_returns_when_the_earliest_input_settles) {
    vow_loop_t *loop = vow_test_loop();
    keep_pending = 1;
    vow_t *in[3];
    in[1] = fulfil_in(loop, 10, 1, 101); /* made in the order they settle (settle.h) */
    in[0] = fulfil_in(loop, 60, 0, 100);
    in[2] = fulfil_in(loop, 120, 2, 102);
    vow_t *w = run_wait(loop, in, 3, VOW_FIRST_COMPLETED, VOW_NO_TIMEOUT, 0);
    VOW_ASSERT_EQ(fired_at_wait, 1, "the wait did not complete on the first settle");
    EXPECT_IDX(done_idx, n_done, 1);
    EXPECT_IDX(pending_idx, n_pending, 0, 2);
    VOW_ASSERT_STATE(done_state[0], VOW_FULFILLED);
    VOW_ASSERT_STATE(pending_state[0], VOW_PENDING);
    VOW_ASSERT_STATE(pending_state[1], VOW_PENDING);
    VOW_ASSERT_STATE(vow_state(w), VOW_FULFILLED, "the wait's promise itself");
    /* The pending inputs are live: awaited afterwards, they yield their values. */
    VOW_ASSERT_EQ(await_int(loop, pending_kept[0]), 100);
    VOW_ASSERT_EQ(await_int(loop, pending_kept[1]), 102);
    VOW_ASSERT_EQ(fired_len, 3);
    vow_unref(w);
    VOW_TEST_END(loop);
}

Test(wait, first_completed_done_holds_every_input_already_settled_in_input_order) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *in[5] = {fulfil_in(loop, 20, 0, 0), vow_resolved(loop, vow_int(1)),
                    fulfil_in(loop, 10, 2, 2), vow_rejected(loop, vow_error_new(VOW_EPERM, NULL)),
                    vow_resolved(loop, vow_int(4))};
    vow_t *w = run_wait(loop, in, 5, VOW_FIRST_COMPLETED, VOW_NO_TIMEOUT, 0);
    VOW_ASSERT_EQ(fired_at_wait, 0);
    EXPECT_IDX(done_idx, n_done, 1, 3, 4);
    EXPECT_IDX(pending_idx, n_pending, 0, 2);
    VOW_ASSERT_STATE(done_state[1], VOW_REJECTED);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0); /* the pending ones still run */
    VOW_ASSERT_EQ(fired_len, 2);
    vow_unref(w);
    VOW_TEST_END(loop);
}

/* Two inputs settled by the same timer callback are both done when the wait wakes. */
static vow_t *pair[2];
static void settle_pair(vow_loop_t *loop, void *arg) {
    (void)loop, (void)arg;
    fired[fired_len++] = 9;
    VOW_ASSERT_CODE(vow_resolve(pair[1], vow_int(1)), 0);
    VOW_ASSERT_CODE(vow_resolve(pair[0], vow_int(0)), 0);
}

Test(wait, first_completed_done_holds_every_input_settled_before_the_wait_woke) {
    vow_loop_t *loop = vow_test_loop();
    pair[0] = vow_new(loop);
    pair[1] = vow_new(loop);
    VOW_ASSERT_CODE(vow_set_timeout(loop, settle_pair, NULL, 10, NULL), 0);
    vow_t *in[3] = {vow_ref(pair[0]), fulfil_in(loop, 200, 1, 7), vow_ref(pair[1])};
    vow_t *w = run_wait(loop, in, 3, VOW_FIRST_COMPLETED, VOW_NO_TIMEOUT, 0);
    EXPECT_IDX(done_idx, n_done, 0, 2);
    EXPECT_IDX(pending_idx, n_pending, 1);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    vow_unref(pair[0]);
    vow_unref(pair[1]);
    vow_unref(w);
    VOW_TEST_END(loop);
}

Test(wait, first_completed_counts_a_rejection_and_a_cancellation) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *in[2];
    in[1] = reject_in(loop, 10, 1, vow_error_new(VOW_EBUSY, NULL)); /* made first: settles first */
    in[0] = fulfil_in(loop, 80, 0, 0);
    vow_t *w = run_wait(loop, in, 2, VOW_FIRST_COMPLETED, VOW_NO_TIMEOUT, 0);
    VOW_ASSERT_STATE(vow_state(w), VOW_FULFILLED, "a rejected input rejected the wait");
    EXPECT_IDX(done_idx, n_done, 1);
    VOW_ASSERT_STATE(done_state[0], VOW_REJECTED);
    vow_unref(w);

    wait_calls = 0;
    vow_t *in2[2] = {cancel_in(loop, 10, 2), fulfil_in(loop, 80, 3, 0)};
    w = run_wait(loop, in2, 2, VOW_FIRST_COMPLETED, VOW_NO_TIMEOUT, 0);
    VOW_ASSERT_STATE(vow_state(w), VOW_FULFILLED, "a cancelled input cancelled the wait");
    EXPECT_IDX(done_idx, n_done, 0);
    EXPECT_IDX(pending_idx, n_pending, 1);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    vow_unref(w);
    VOW_TEST_END(loop);
}

/* ---- FIRST_EXCEPTION ---------------------------------------------------------------------- */

Test(wait, first_exception_skips_cancellations_and_returns_on_the_first_error) {
    vow_loop_t *loop = vow_test_loop();
    vow_error_t *e = vow_error_new(VOW_ERANGE, "input 3 at 60 ms");
    /* Settling at 10, 20, 40, 60 and 200 ms: made in that order (settle.h). */
    vow_t *in[5];
    in[4] = fulfil_in(loop, 10, 4, 4);
    in[1] = cancel_in(loop, 20, 1);
    in[0] = fulfil_in(loop, 40, 0, 0);
    in[3] = reject_in(loop, 60, 3, vow_error_ref(e));
    in[2] = fulfil_in(loop, 200, 2, 2);
    vow_t *w = run_wait(loop, in, 5, VOW_FIRST_EXCEPTION, VOW_NO_TIMEOUT, 0);
    VOW_ASSERT_EQ(fired_at_wait, 4, "the wait returned on %d settles, not on the error",
                  fired_at_wait);
    EXPECT_IDX(done_idx, n_done, 0, 1, 3, 4);
    EXPECT_IDX(pending_idx, n_pending, 2);
    VOW_ASSERT_STATE(done_state[1], VOW_REJECTED);
    VOW_ASSERT_STATE(done_state[2], VOW_REJECTED);
    VOW_ASSERT_STATE(vow_state(w), VOW_FULFILLED);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(fired_len, 5);
    vow_unref(w);
    vow_error_unref(e);
    VOW_TEST_END(loop);
}

Test(wait, first_exception_without_an_error_waits_for_every_input) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *in[3] = {fulfil_in(loop, 10, 0, 0), cancel_in(loop, 20, 1), fulfil_in(loop, 40, 2, 2)};
    vow_t *w = run_wait(loop, in, 3, VOW_FIRST_EXCEPTION, VOW_NO_TIMEOUT, 0);
    VOW_ASSERT_EQ(fired_at_wait, 3, "a cancellation ended FIRST_EXCEPTION");
    EXPECT_IDX(done_idx, n_done, 0, 1, 2);
    VOW_ASSERT_EQ(n_pending, 0);
    vow_unref(w);
    VOW_TEST_END(loop);
}

Test(wait, first_exception_with_an_already_rejected_input) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *in[3] = {fulfil_in(loop, 30, 0, 0), vow_resolved(loop, vow_int(1)),
                    vow_rejected(loop, vow_error_new(VOW_EINVAL, NULL))};
    vow_t *w = run_wait(loop, in, 3, VOW_FIRST_EXCEPTION, VOW_NO_TIMEOUT, 0);
    VOW_ASSERT_EQ(fired_at_wait, 0);
    EXPECT_IDX(done_idx, n_done, 1, 2);
    EXPECT_IDX(pending_idx, n_pending, 0);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    vow_unref(w);
    VOW_TEST_END(loop);
}

Test(wait, first_exception_with_only_already_cancelled_inputs) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *a = vow_new(loop), *b = vow_new(loop);
    VOW_ASSERT_CODE(vow_cancel(a), 0);
    VOW_ASSERT_CODE(vow_cancel(b), 0);
    vow_t *in[2] = {a, b};
    vow_t *w = run_wait(loop, in, 2, VOW_FIRST_EXCEPTION, VOW_NO_TIMEOUT, 0);
    VOW_ASSERT_STATE(vow_state(w), VOW_FULFILLED);
    EXPECT_IDX(done_idx, n_done, 0, 1);
    VOW_ASSERT_EQ(n_pending, 0);
    vow_unref(w);
    VOW_TEST_END(loop);
}

/* ---- ALL_COMPLETED ------------------------------------------------------------------------ */

Test(wait, all_completed_in_input_order_whatever_the_settle_order) {
    vow_loop_t *loop = vow_test_loop();
    enum { N = 6 };
    vow_t *in[N];
    /* Reverse order, one rejection, one cancellation, one already settled. */
    in[0] = fulfil_in(loop, 60, 0, 0);
    in[1] = reject_in(loop, 50, 1, vow_error_new(VOW_EBUSY, NULL));
    in[2] = cancel_in(loop, 40, 2);
    in[3] = vow_resolved(loop, vow_int(3));
    in[4] = fulfil_in(loop, 20, 4, 4);
    in[5] = fulfil_in(loop, 10, 5, 5);
    vow_t *w = run_wait(loop, in, N, VOW_ALL_COMPLETED, VOW_NO_TIMEOUT, 0);
    VOW_ASSERT_EQ(fired_at_wait, 5);
    EXPECT_IDX(done_idx, n_done, 0, 1, 2, 3, 4, 5);
    VOW_ASSERT_EQ(n_pending, 0);
    VOW_ASSERT_STATE(vow_state(w), VOW_FULFILLED, "ALL_COMPLETED never rejects");
    const vow_wait_result_t *r = vow_wait_result_of(vow_value(w));
    cr_assert_not_null(r);
    for (size_t i = 0; i < N; i++) {
        vow_t *p = vow_wait_done(r, i);
        if (i == 1)
            VOW_ASSERT_CODE(vow_error_code(vow_error(p)), VOW_EBUSY);
        else if (i == 2)
            expect_cancelled(p, "input 2");
        else
            VOW_ASSERT_EQ(vow_value_int(vow_value(p)), (int64_t)i, "input %zu's value", i);
    }
    vow_unref(w);
    VOW_TEST_END(loop);
}

Test(wait, all_completed_with_every_input_already_settled) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *in[2] = {vow_resolved(loop, vow_int(0)), vow_resolved(loop, vow_int(1))};
    vow_t *w = vow_wait(loop, in, 2, VOW_ALL_COMPLETED, VOW_NO_TIMEOUT, 0);
    vow_t *d = vow_then(vow_ref(w), on_wait, NULL, NULL, NULL);
    VOW_ASSERT_EQ(wait_calls, 0, "the reaction ran inside vow_wait");
    VOW_ASSERT_CODE(vow_run(loop, d, NULL), 0);
    VOW_ASSERT_EQ(wait_calls, 1);
    EXPECT_IDX(done_idx, n_done, 0, 1);
    vow_unref(w);
    VOW_TEST_END(loop);
}

/* The chapter's shape: FIRST_COMPLETED, then a second wait over the pending ones. */
Test(wait, second_wait_over_the_pending_inputs_of_the_first) {
    vow_loop_t *loop = vow_test_loop();
    keep_pending = 1;
    vow_t *in[3] = {sleep_value(loop, 10, 0), sleep_value(loop, 20, 1), sleep_value(loop, 30, 2)};
    vow_t *w = run_wait(loop, in, 3, VOW_FIRST_COMPLETED, VOW_NO_TIMEOUT, 0);
    EXPECT_IDX(done_idx, n_done, 0);
    EXPECT_IDX(pending_idx, n_pending, 1, 2);
    vow_unref(w);
    wait_calls = 0;
    keep_pending = 0;
    w = run_wait(loop, pending_kept, 2, VOW_ALL_COMPLETED, VOW_NO_TIMEOUT, 0);
    EXPECT_IDX(done_idx, n_done, 0, 1); /* indexes into the second wait's input */
    const vow_wait_result_t *r = vow_wait_result_of(vow_value(w));
    VOW_ASSERT_EQ(vow_value_int(vow_value(vow_wait_done(r, 0))), 1);
    VOW_ASSERT_EQ(vow_value_int(vow_value(vow_wait_done(r, 1))), 2);
    vow_unref(w);
    VOW_TEST_END(loop);
}

/* ---- pending inputs after the result is gone ------------------------------------------------ */

Test(wait, pending_input_kept_past_the_result_still_yields_its_value) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *in[2] = {sleep_value(loop, 10, 10), sleep_value(loop, 40, 20)};
    vow_outcome_t out;
    VOW_ASSERT_CODE(
        vow_run(loop, vow_wait(loop, in, 2, VOW_FIRST_COMPLETED, VOW_NO_TIMEOUT, 0), &out), 0);
    VOW_ASSERT_STATE(out.state, VOW_FULFILLED);
    const vow_wait_result_t *r = vow_wait_result_of(&out.value);
    VOW_ASSERT_EQ(vow_wait_pending_count(r), 1);
    vow_t *p = vow_ref(vow_wait_pending(r, 0));
    vow_outcome_release(&out); /* the wait and its result are gone */
    VOW_ASSERT_STATE(vow_state(p), VOW_PENDING);
    VOW_ASSERT_EQ(await_int(loop, p), 20);
    VOW_TEST_END(loop);
}

/* ---- the timeout ---------------------------------------------------------------------------- */

Test(wait, timeout_fulfils_with_everything_pending_and_cancels_nothing) {
    vow_loop_t *loop = vow_test_loop();
    keep_pending = 1;
    vow_t *in[2] = {sleep_value(loop, 150, 1), sleep_value(loop, 200, 2)};
    vow_t *w = run_wait(loop, in, 2, VOW_ALL_COMPLETED, 20, 0);
    VOW_ASSERT_EQ(wait_calls, 1, "the timeout rejected the wait");
    VOW_ASSERT_EQ(n_done, 0);
    EXPECT_IDX(pending_idx, n_pending, 0, 1);
    VOW_ASSERT_EQ(alive_at_wait, 2, "the inputs' timers should still run");
    VOW_ASSERT_STATE(vow_state(pending_kept[0]), VOW_PENDING, "the timeout cancelled an input");
    VOW_ASSERT_EQ(await_int(loop, pending_kept[0]), 1);
    VOW_ASSERT_EQ(await_int(loop, pending_kept[1]), 2);
    vow_unref(w);
    VOW_TEST_END(loop);
}

Test(wait, timeout_splits_done_from_pending) {
    vow_loop_t *loop = vow_test_loop();
    keep_pending = 1;
    vow_t *in[3] = {sleep_value(loop, 300, 0), sleep_value(loop, 10, 1),
                    vow_rejected(loop, vow_error_new(VOW_EBUSY, NULL))};
    vow_t *w = run_wait(loop, in, 3, VOW_ALL_COMPLETED, 100, 0);
    EXPECT_IDX(done_idx, n_done, 1, 2);
    EXPECT_IDX(pending_idx, n_pending, 0);
    VOW_ASSERT_EQ(await_int(loop, pending_kept[0]), 0);
    vow_unref(w);
    VOW_TEST_END(loop);
}

Test(wait, timeout_timer_is_freed_when_the_wait_completes_first) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *in[1] = {sleep_value(loop, 10, 0)};
    vow_t *w = run_wait(loop, in, 1, VOW_FIRST_COMPLETED, 60000, 0);
    VOW_ASSERT_EQ(n_done, 1);
    VOW_ASSERT_EQ(vow_loop_alive(loop), 0, "the wait's 60 s timer is still running");
    vow_unref(w);
    VOW_TEST_END(loop);
}

Test(wait, zero_timeout_returns_on_the_next_timer_turn) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *in[2] = {vow_resolved(loop, vow_int(0)), sleep_value(loop, 100, 1)};
    vow_t *w = run_wait(loop, in, 2, VOW_ALL_COMPLETED, 0, 0);
    EXPECT_IDX(done_idx, n_done, 0);
    EXPECT_IDX(pending_idx, n_pending, 1);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    vow_unref(w);
    VOW_TEST_END(loop);
}

/* asyncio's timeout is any number of seconds. A timeout past timer.h's 2^31-1 ms (Node's
 * setTimeout clamps those to 1 ms) must still be a long timeout, not 1 ms. */
Test(wait, timeout_beyond_2_pow_31_ms_is_not_clamped_to_1_ms) {
    vow_loop_t *loop = vow_test_loop();
    uint64_t long_timeouts[3] = {(uint64_t)1 << 31, (uint64_t)1 << 32, UINT64_MAX - 1};
    for (int k = 0; k < 3; k++) {
        wait_calls = 0;
        fired_len = 0;
        vow_t *in[2] = {fulfil_in(loop, 30, 0, 0), fulfil_in(loop, 60, 1, 1)};
        vow_t *w = run_wait(loop, in, 2, VOW_ALL_COMPLETED, long_timeouts[k], 0);
        VOW_ASSERT_EQ(fired_at_wait, 2, "a timeout of %llu ms expired after %d input(s)",
                      (unsigned long long)long_timeouts[k], fired_at_wait);
        VOW_ASSERT_EQ(n_pending, 0);
        vow_unref(w);
    }
    VOW_TEST_END(loop);
}

/* ---- VOW_WAIT_CANCEL_PENDING ---------------------------------------------------------------- */

Test(wait, cancel_pending_cancels_the_rest_and_frees_their_timers_at_once) {
    vow_loop_t *loop = vow_test_loop();
    keep_pending = 1;
    vow_t *in[3] = {sleep_value(loop, 1000, 0), sleep_value(loop, 10, 1),
                    sleep_value(loop, 2000, 2)};
    vow_t *w = run_wait(loop, in, 3, VOW_FIRST_COMPLETED, VOW_NO_TIMEOUT, VOW_WAIT_CANCEL_PENDING);
    EXPECT_IDX(done_idx, n_done, 1);
    EXPECT_IDX(pending_idx, n_pending, 0, 2);
    VOW_ASSERT_EQ(alive_at_wait, 0, "the cancelled inputs' timers still run");
    expect_cancelled(pending_kept[0], "pending input 0");
    expect_cancelled(pending_kept[1], "pending input 2");
    VOW_ASSERT_EQ(vow_loop_alive(loop), 0);
    vow_unref(pending_kept[0]);
    vow_unref(pending_kept[1]);
    vow_unref(w);
    VOW_TEST_END(loop);
}

Test(wait, cancel_pending_on_timeout_cancels_every_input_still_pending) {
    vow_loop_t *loop = vow_test_loop();
    keep_pending = 1;
    vow_t *in[3] = {sleep_value(loop, 1000, 0), vow_resolved(loop, vow_int(1)),
                    sleep_value(loop, 2000, 2)};
    vow_t *w = run_wait(loop, in, 3, VOW_ALL_COMPLETED, 20, VOW_WAIT_CANCEL_PENDING);
    EXPECT_IDX(done_idx, n_done, 1);
    EXPECT_IDX(pending_idx, n_pending, 0, 2);
    VOW_ASSERT_EQ(alive_at_wait, 0);
    expect_cancelled(pending_kept[0], "pending input 0");
    expect_cancelled(pending_kept[1], "pending input 2");
    vow_unref(pending_kept[0]);
    vow_unref(pending_kept[1]);
    vow_unref(w);
    VOW_TEST_END(loop);
}

Test(wait, cancel_pending_with_nothing_pending_cancels_nothing) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *in[2] = {sleep_value(loop, 10, 0), sleep_value(loop, 20, 1)};
    vow_t *w = run_wait(loop, in, 2, VOW_ALL_COMPLETED, VOW_NO_TIMEOUT, VOW_WAIT_CANCEL_PENDING);
    EXPECT_IDX(done_idx, n_done, 0, 1);
    VOW_ASSERT_STATE(done_state[0], VOW_FULFILLED);
    VOW_ASSERT_STATE(done_state[1], VOW_FULFILLED);
    vow_unref(w);
    VOW_TEST_END(loop);
}

/* Cancelling a pending input the user still reacts to: the flag cancels the input itself
 * (it is pending in the result), so that reaction sees the cancellation. */
static int cancelled_seen;
static vow_result_t see_cancel(vow_loop_t *loop, vow_error_t *e, void *ctx) {
    (void)loop, (void)ctx;
    if (vow_is_cancellation(e)) cancelled_seen++;
    return vow_ok_none();
}

Test(wait, cancel_pending_cancels_an_input_another_reaction_waits_on) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *slow = sleep_value(loop, 1000, 0);
    vow_t *watch = vow_catch_ex(vow_ref(slow), see_cancel, NULL, NULL, VOW_CATCH_CANCELLED);
    vow_t *in[2] = {slow, sleep_value(loop, 10, 1)};
    vow_t *w = run_wait(loop, in, 2, VOW_FIRST_COMPLETED, VOW_NO_TIMEOUT, VOW_WAIT_CANCEL_PENDING);
    EXPECT_IDX(pending_idx, n_pending, 0);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(cancelled_seen, 1);
    vow_unref(watch);
    vow_unref(w);
    VOW_TEST_END(loop);
}

Test(wait, the_same_promise_twice_is_two_inputs) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *p = sleep_value(loop, 10, 3);
    vow_t *q = sleep_value(loop, 1000, 4);
    vow_t *in[4] = {vow_ref(q), vow_ref(p), p, q};
    vow_t *w = run_wait(loop, in, 4, VOW_FIRST_COMPLETED, VOW_NO_TIMEOUT, VOW_WAIT_CANCEL_PENDING);
    EXPECT_IDX(done_idx, n_done, 1, 2);
    EXPECT_IDX(pending_idx, n_pending, 0, 3);
    VOW_ASSERT_EQ(alive_at_wait, 0);
    vow_unref(w);
    VOW_TEST_END(loop);
}

/* The pending inputs are cancelled in input order; one of them continues another, and an
 * unstarted task among them never runs its body. */
static int task_body_calls;
static vow_t *task_body(vow_loop_t *loop, void *arg) {
    task_body_calls++;
    return vow_resolved(loop, vow_int((int64_t)(intptr_t)arg));
}
static int task_arg_freed;
static void task_arg_free(void *arg) {
    (void)arg;
    task_arg_freed++;
}

Test(wait, cancel_pending_with_chained_inputs_and_an_unstarted_task) {
    vow_loop_t *loop = vow_test_loop();
    keep_pending = 1;
    vow_t *base = sleep_value(loop, 1000, 0);
    vow_t *in[4] = {vow_ref(base), vow_then(base, give_value, NULL, CTX(1), NULL),
                    vow_resolved(loop, vow_int(2)),
                    vow_create_task(loop, task_body, CTX(3), task_arg_free)};
    vow_t *w = run_wait(loop, in, 4, VOW_FIRST_COMPLETED, VOW_NO_TIMEOUT, VOW_WAIT_CANCEL_PENDING);
    EXPECT_IDX(done_idx, n_done, 2);
    EXPECT_IDX(pending_idx, n_pending, 0, 1, 3);
    for (int i = 0; i < 3; i++) expect_cancelled(pending_kept[i], "a pending input");
    VOW_ASSERT_EQ(task_arg_freed, 1);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(task_body_calls, 0, "the body of a task cancelled before its start ran");
    for (int i = 0; i < 3; i++) vow_unref(pending_kept[i]);
    vow_unref(w);
    VOW_TEST_END(loop);
}

/* ---- cancelling the wait ------------------------------------------------------------------ */

Test(wait, cancelling_the_wait_leaves_its_inputs_running) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *a = sleep_value(loop, 10, 1), *b = sleep_value(loop, 20, 2);
    vow_t *in[2] = {vow_ref(a), vow_ref(b)};
    vow_t *w = vow_wait(loop, in, 2, VOW_ALL_COMPLETED, 5000, VOW_WAIT_CANCEL_PENDING);
    VOW_ASSERT_EQ(vow_loop_alive(loop), 3, "two sleeps and the wait's timer");
    VOW_ASSERT_CODE(vow_cancel(w), 0);
    expect_cancelled(w, "the wait");
    VOW_ASSERT_STATE(vow_state(a), VOW_PENDING, "cancelling the wait cancelled an input");
    VOW_ASSERT_STATE(vow_state(b), VOW_PENDING, "cancelling the wait cancelled an input");
    VOW_ASSERT_EQ(vow_loop_alive(loop), 2, "the wait's timeout timer was not freed");
    vow_t *d = vow_then(vow_ref(w), on_wait, NULL, NULL, NULL);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(wait_calls, 0);
    expect_cancelled(d, "the reaction on the wait");
    VOW_ASSERT_EQ(vow_value_int(vow_value(a)), 1);
    VOW_ASSERT_EQ(vow_value_int(vow_value(b)), 2);
    vow_unref(a);
    vow_unref(b);
    vow_unref(w);
    vow_unref(d);
    VOW_TEST_END(loop);
}

Test(wait, cancelling_a_reaction_on_the_wait_leaves_its_inputs_running) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *a = sleep_value(loop, 10, 1);
    vow_t *in[1] = {vow_ref(a)};
    vow_t *d = vow_then(vow_wait(loop, in, 1, VOW_ALL_COMPLETED, VOW_NO_TIMEOUT, 0), on_wait, NULL,
                        NULL, NULL);
    VOW_ASSERT_CODE(vow_cancel(d), 0); /* upstream: the wait is cancelled, not its input */
    VOW_ASSERT_STATE(vow_state(a), VOW_PENDING);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(vow_value_int(vow_value(a)), 1);
    vow_unref(a);
    vow_unref(d);
    VOW_TEST_END(loop);
}

/* ---- invalid arguments ---------------------------------------------------------------------- */

static void expect_einval(vow_loop_t *loop, vow_t *w) {
    cr_assert_not_null(w);
    VOW_ASSERT_STATE(vow_state(w), VOW_REJECTED);
    VOW_ASSERT_CODE(vow_error_code(vow_error(w)), VOW_EINVAL, "%s",
                    vow_err_name(vow_error_code(vow_error(w))));
    err_calls = 0;
    vow_t *d = vow_catch(w, on_err, NULL, NULL);
    VOW_ASSERT_EQ(err_calls, 0, "the reaction ran inside the call");
    VOW_ASSERT_CODE(vow_run(loop, d, NULL), 0);
    VOW_ASSERT_EQ(err_calls, 1);
    VOW_ASSERT_CODE(seen_code, VOW_EINVAL);
}

Test(wait, empty_input_is_a_rejection_with_einval) {
    vow_loop_t *loop = vow_test_loop();
    expect_einval(loop, vow_wait(loop, NULL, 0, VOW_FIRST_COMPLETED, VOW_NO_TIMEOUT, 0));
    vow_t *none[1] = {NULL};
    expect_einval(loop, vow_wait(loop, none, 0, VOW_ALL_COMPLETED, 10, 0));
    VOW_TEST_END(loop);
}

Test(wait, unknown_mode_or_flag_is_a_rejection_with_einval_and_consumes_the_inputs) {
    vow_loop_t *loop = vow_test_loop();
    int modes[3] = {0, 4, -1};
    for (int k = 0; k < 3; k++) {
        vow_t *in[2] = {sleep_value(loop, 10, 0), vow_resolved(loop, vow_int(1))};
        expect_einval(loop, vow_wait(loop, in, 2, (vow_wait_mode_t)modes[k], VOW_NO_TIMEOUT, 0));
    }
    vow_t *in[1] = {vow_resolved(loop, vow_int(1))};
    expect_einval(loop, vow_wait(loop, in, 1, VOW_ALL_COMPLETED, VOW_NO_TIMEOUT, 0x2u));
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_TEST_END(loop);
}

Test(wait, input_of_another_loop_is_einval) {
    vow_loop_t *loop = vow_test_loop();
    vow_loop_t *other = vow_test_loop();
    vow_t *in[2] = {vow_resolved(loop, vow_int(0)), vow_resolved(other, vow_int(1))};
    expect_einval(loop, vow_wait(loop, in, 2, VOW_ALL_COMPLETED, VOW_NO_TIMEOUT, 0));
    VOW_ASSERT_CODE(vow_loop_close(other), 0);
    VOW_TEST_END(loop);
}

Test(wait, null_loop_returns_null_and_releases_the_inputs) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *in[2] = {vow_resolved(loop, vow_int(0)), vow_new(loop)};
    cr_assert_null(vow_wait(NULL, in, 2, VOW_ALL_COMPLETED, VOW_NO_TIMEOUT, 0));
    VOW_TEST_END(loop);
}

Test(wait, result_accessors_on_other_values) {
    vow_value_t i = vow_int(5);
    cr_assert_null(vow_wait_result_of(&i));
    cr_assert_null(vow_wait_result_of(NULL));
    int x;
    vow_value_t p = vow_ptr(&x, NULL);
    cr_assert_null(vow_wait_result_of(&p));
    VOW_ASSERT_EQ(vow_wait_done_count(NULL), 0);
    VOW_ASSERT_EQ(vow_wait_pending_count(NULL), 0);
    cr_assert_null(vow_wait_done(NULL, 0));
    cr_assert_null(vow_wait_pending(NULL, 0));
    VOW_ASSERT_EQ(vow_wait_done_index(NULL, 0), SIZE_MAX);
    VOW_ASSERT_EQ(vow_wait_pending_index(NULL, 0), SIZE_MAX);
}

/* ---- memory --------------------------------------------------------------------------------- */

Test(wait, heap_values_are_freed_once_and_nothing_leaks_whatever_the_path) {
    vow_loop_t *loop = vow_test_loop();
    /* Twice: the live count after the second round equals the first's (per-loop free
     * lists are filled by the first). */
    long first = -1;
    for (int round = 0; round < 2; round++) {
        memset(obj_freed, 0, sizeof obj_freed);
        wait_calls = 0;
        keep_pending = 0;
        vow_t *in[3] = {vow_then(vow_sleep(loop, 5), give_obj, NULL, CTX(0), NULL),
                        vow_then(vow_sleep(loop, 30), give_obj, NULL, CTX(1), NULL),
                        vow_then(vow_sleep(loop, 1000), give_obj, NULL, CTX(2), NULL)};
        vow_t *w = run_wait(loop, in, 3, VOW_FIRST_COMPLETED, 20, 0);
        EXPECT_IDX(done_idx, n_done, 0);
        vow_unref(w); /* the pending inputs keep running with nobody holding them */
        wait_calls = 0;
        vow_t *in2[2] = {vow_then(vow_sleep(loop, 5), give_obj, NULL, CTX(3), NULL),
                         vow_then(vow_sleep(loop, 1000), give_obj, NULL, CTX(4), NULL)};
        w = run_wait(loop, in2, 2, VOW_FIRST_COMPLETED, 20, VOW_WAIT_CANCEL_PENDING);
        vow_unref(w);
        VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
        for (int k = 0; k < 4; k++)
            VOW_ASSERT_EQ(obj_freed[k], 1, "object %d freed %d times", k, obj_freed[k]);
        VOW_ASSERT_EQ(obj_freed[4], 0, "a cancelled input made its value");
        long live = vow_test_live_allocs();
        if (round == 0)
            first = live;
        else
            VOW_ASSERT_EQ(live, first, "%ld allocation(s) more after the second round",
                          live - first);
    }
    VOW_TEST_END(loop);
}

Test(wait, loop_freed_while_waiting) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *in[2] = {sleep_value(loop, 1000, 0), sleep_value(loop, 2000, 1)};
    vow_t *w = vow_wait(loop, in, 2, VOW_FIRST_COMPLETED, 500, 0);
    VOW_ASSERT_CODE(vow_loop_free(loop), 0);
    VOW_ASSERT_CODE(vow_cancel(w), VOW_ECLOSED);
    vow_unref(w);
    VOW_ASSERT_EQ(vow_test_live_allocs(), 0, "%ld vow allocation(s) still live",
                  vow_test_live_allocs());
}

/* Out of memory: every allocation of a wait program fails once in turn; each run ends
 * normally or with VOW_ENOMEM and leaks nothing. */
static int oom_program(vow_loop_t *loop) {
    vow_t *in[3] = {vow_then(vow_sleep(loop, 1), give_value, NULL, CTX(1), NULL),
                    vow_resolved(loop, vow_int(2)),
                    vow_then(vow_sleep(loop, 500), give_value, NULL, CTX(3), NULL)};
    int made = in[0] != NULL && in[1] != NULL && in[2] != NULL;
    vow_t *w = vow_wait(loop, in, 3, VOW_ALL_COMPLETED, 2, VOW_WAIT_CANCEL_PENDING);
    if (w == NULL) return VOW_ENOMEM;
    vow_outcome_t out;
    int rc = vow_run(loop, w, &out);
    int result = made ? 0 : VOW_ENOMEM;
    if (rc != 0)
        result = rc;
    else if (out.state == VOW_REJECTED)
        result = vow_error_code(out.error);
    else if (vow_wait_result_of(&out.value) == NULL)
        result = -1;
    vow_outcome_release(&out);
    return result;
}

Test(wait, every_allocation_fails_once) {
    long first = -1;
    for (long n = 0;; n++) {
        vow_loop_t *loop = vow_test_loop();
        VOW_ASSERT_CODE(vow_set_unhandled_mode(loop, VOW_UNHANDLED_SILENT), 0);
        vow_test_reset_counts();
        vow_test_fail_at(n);
        int rc = oom_program(loop);
        long failed = vow_test_failed_allocs();
        vow_test_fail_at(0);
        VOW_ASSERT_CODE(vow_loop_free(loop), 0);
        cr_assert(rc == 0 || rc == VOW_ENOMEM, "run %ld: %s", n, vow_strerror(rc));
        VOW_ASSERT_EQ(vow_test_live_allocs(), 0, "run %ld: %ld allocation(s) leaked", n,
                      vow_test_live_allocs());
        if (n == 0) {
            first = vow_test_alloc_total();
            VOW_ASSERT_CODE(rc, 0);
        } else if (failed == 0) {
            break;
        }
        cr_assert_lt(n, first + 10, "sweep did not end");
    }
}
