/* tests/test_ratelimit.c - the rate limiter (vow/ratelimit.h): GCRA grants, FIFO waiters,
 * cancellation (a waiter in the middle of the line, and the handoff rule for a waiter
 * handed a grant), vow_rate_limit, liveness, freeing, out of memory.
 *
 * Times are checked as LOWER bounds only, on the loop's clock (vow_loop_now): a grant may
 * come late on a busy machine, never early. No test has an upper time bound. */
#include <criterion/criterion.h>

#include "counted.h"
#include "helpers.h"

TestSuite(ratelimit, .init = vow_test_setup, .fini = vow_test_teardown, .timeout = 30);

enum { N = 8 };
static uint64_t granted_at[N]; /* the loop's clock when each waiter's reaction ran */
static int order[N], n_order;

static vow_result_t note_grant(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)v;
    int i = (int)(intptr_t)ctx;
    granted_at[i] = vow_loop_now(loop);
    order[n_order++] = i;
    return vow_ok_none();
}

static void reset(void) {
    memset(granted_at, 0, sizeof granted_at);
    n_order = 0;
    obj_made = 0;
    memset(obj_freed, 0, sizeof obj_freed);
    ctx_free_calls = 0;
}

static void expect_cancelled(vow_t *p, const char *what) {
    VOW_ASSERT_STATE(vow_state(p), VOW_REJECTED, "%s", what);
    cr_assert(vow_is_cancellation(vow_error(p)), "%s: not a cancellation", what);
}

Test(ratelimit, new_refuses_bad_arguments) {
    vow_loop_t *loop = vow_test_loop();
    VOW_ASSERT_EQ(vow_rate_limiter_new(NULL, 10, 1), (vow_rate_limiter_t *)NULL);
    VOW_ASSERT_EQ(vow_rate_limiter_new(loop, 0, 1), (vow_rate_limiter_t *)NULL);
    VOW_ASSERT_EQ(vow_rate_limiter_new(loop, (uint64_t)UINT32_MAX + 1, 1),
                  (vow_rate_limiter_t *)NULL);
    VOW_ASSERT_EQ(vow_rate_limiter_new(loop, 10, 0), (vow_rate_limiter_t *)NULL);
    vow_rate_limiter_t *rl = vow_rate_limiter_new(loop, UINT32_MAX, UINT32_MAX);
    cr_assert_not_null(rl, "the largest interval and burst are accepted");
    vow_rate_limiter_free(rl);
    VOW_TEST_END(loop);
}

/* A fresh limiter grants `burst` at once; the rest wait, in arrival order, each at least
 * (k - burst + 1) intervals after the start. */
Test(ratelimit, a_burst_is_granted_at_once_then_one_per_interval_in_fifo_order) {
    reset();
    vow_loop_t *loop = vow_test_loop();
    enum { T = 30, B = 3, K = 7 };
    vow_rate_limiter_t *rl = vow_rate_limiter_new(loop, T, B);
    uint64_t start = vow_loop_update_time(loop);
    vow_t *d[K];
    for (int k = 0; k < K; k++) {
        vow_t *g = vow_rate_limiter_acquire(rl);
        cr_assert_not_null(g);
        VOW_ASSERT_STATE(vow_state(g), k < B ? VOW_FULFILLED : VOW_PENDING, "acquire %d", k);
        d[k] = vow_then_ok(g, note_grant, (void *)(intptr_t)k);
    }
    VOW_ASSERT_CODE(vow_loop_alive(loop) > 0, 1, "waiters keep the loop alive");
    VOW_ASSERT_CODE(vow_run(loop, vow_all(loop, d, K), NULL), 0);
    VOW_ASSERT_EQ(n_order, K);
    for (int k = 0; k < K; k++) {
        VOW_ASSERT_EQ(order[k], k, "FIFO: position %d", k);
        uint64_t want = k < B ? 0 : (uint64_t)(k - B + 1) * T;
        cr_assert_geq(granted_at[k] - start, want, "grant %d at +%llu ms, want >= %llu", k,
                      (unsigned long long)(granted_at[k] - start), (unsigned long long)want);
    }
    VOW_ASSERT_EQ(vow_loop_alive(loop), 0, "an idle limiter keeps nothing alive");
    vow_rate_limiter_free(rl);
    VOW_TEST_END(loop);
}

/* Exercise 2: burst 1, calls made one after another (each after the previous grant). */
static vow_rate_limiter_t *chain_rl;
static vow_result_t next_in_chain(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    note_grant(loop, v, ctx);
    int i = (int)(intptr_t)ctx;
    if (i + 1 == 6) return vow_ok_none();
    return vow_follow(
        vow_then_ok(vow_rate_limiter_acquire(chain_rl), next_in_chain, (void *)(intptr_t)(i + 1)));
}

Test(ratelimit, burst_one_spaces_calls_made_one_after_another) {
    reset();
    vow_loop_t *loop = vow_test_loop();
    enum { T = 25 };
    chain_rl = vow_rate_limiter_new(loop, T, 1);
    uint64_t start = vow_loop_update_time(loop);
    vow_t *p = vow_then_ok(vow_rate_limiter_acquire(chain_rl), next_in_chain, (void *)0);
    VOW_ASSERT_CODE(vow_run(loop, p, NULL), 0);
    VOW_ASSERT_EQ(n_order, 6);
    for (int k = 0; k < 6; k++)
        cr_assert_geq(granted_at[k] - start, (uint64_t)k * T, "call %d at +%llu ms", k,
                      (unsigned long long)(granted_at[k] - start));
    vow_rate_limiter_free(chain_rl);
    VOW_TEST_END(loop);
}

/* A waiter cancelled in the middle of the line leaves it; the one behind it moves up (its
 * grant is not later than the cancelled one's slot: checked as a lower bound, and by the
 * next acquire, which must come one interval later). */
Test(ratelimit, a_waiter_cancelled_in_the_middle_leaves_the_line_and_the_next_moves_up) {
    reset();
    vow_loop_t *loop = vow_test_loop();
    enum { T = 30 };
    vow_rate_limiter_t *rl = vow_rate_limiter_new(loop, T, 1);
    uint64_t start = vow_loop_update_time(loop);
    vow_t *w[4];
    for (int k = 0; k < 4; k++) w[k] = vow_rate_limiter_acquire(rl);
    VOW_ASSERT_STATE(vow_state(w[0]), VOW_FULFILLED);
    VOW_ASSERT_CODE(vow_cancel(w[2]), 0);
    expect_cancelled(w[2], "the cancelled waiter");
    vow_t *d[3] = {vow_then_ok(vow_ref(w[0]), note_grant, (void *)0),
                   vow_then_ok(vow_ref(w[1]), note_grant, (void *)1),
                   vow_then_ok(vow_ref(w[3]), note_grant, (void *)3)};
    VOW_ASSERT_CODE(vow_run(loop, vow_all(loop, d, 3), NULL), 0);
    VOW_ASSERT_EQ(n_order, 3);
    VOW_ASSERT_EQ(order[0], 0);
    VOW_ASSERT_EQ(order[1], 1);
    VOW_ASSERT_EQ(order[2], 3);
    cr_assert_geq(granted_at[1] - start, (uint64_t)T);
    cr_assert_geq(granted_at[3] - start, (uint64_t)2 * T);
    /* The slot W3 took was W2's: the next grant is one interval after W3's. */
    vow_t *w4 = vow_then_ok(vow_rate_limiter_acquire(rl), note_grant, (void *)4);
    VOW_ASSERT_CODE(vow_run(loop, w4, NULL), 0);
    cr_assert_geq(granted_at[4] - start, (uint64_t)3 * T);
    for (int k = 0; k < 4; k++) vow_unref(w[k]);
    vow_rate_limiter_free(rl);
    VOW_TEST_END(loop);
}

/* Busy-waits until the loop's clock has passed `until` (a lower bound, never an upper). */
static void spin_until(vow_loop_t *loop, uint64_t until) {
    while (vow_loop_update_time(loop) <= until) {
    }
}

/* The handoff rule: an acquire made once W1's time has come (before the timer ran) hands
 * W1 its grant (reserved, fulfilled one job later); W1 cancelled before that job runs
 * passes the grant to W2 at once: W2 is fulfilled by the microtask drain alone. */
Test(ratelimit, a_reserved_waiter_cancelled_passes_its_grant_to_the_next_at_once) {
    reset();
    vow_loop_t *loop = vow_test_loop();
    enum { T = 20 };
    vow_rate_limiter_t *rl = vow_rate_limiter_new(loop, T, 1);
    uint64_t start = vow_loop_update_time(loop);
    vow_t *w0 = vow_rate_limiter_acquire(rl);
    vow_t *w1 = vow_rate_limiter_acquire(rl);
    VOW_ASSERT_STATE(vow_state(w1), VOW_PENDING);
    spin_until(loop, start + T);
    vow_t *w2 = vow_rate_limiter_acquire(rl); /* W1's time has come: W1 is handed its grant */
    VOW_ASSERT_STATE(vow_state(w1), VOW_PENDING, "fulfilled one job later");
    VOW_ASSERT_CODE(vow_cancel(w1), 0);
    VOW_ASSERT_CODE(vow_loop_drain(loop), 0);
    VOW_ASSERT_STATE(vow_state(w2), VOW_FULFILLED, "W2 got W1's grant, with no timer turn");
    expect_cancelled(w1, "W1");
    /* With nobody waiting, a cancelled reserved grant goes back to the bucket. */
    vow_t *w3 = vow_rate_limiter_acquire(rl);
    spin_until(loop, vow_loop_now(loop) + T);
    vow_t *w4 = vow_rate_limiter_acquire(rl); /* W3 is handed its grant */
    VOW_ASSERT_CODE(vow_cancel(w3), 0);       /* passes it to W4 */
    VOW_ASSERT_CODE(vow_cancel(w4), 0);       /* nobody left: back to the bucket */
    VOW_ASSERT_CODE(vow_loop_drain(loop), 0);
    expect_cancelled(w4, "W4");
    vow_t *w5 = vow_rate_limiter_acquire(rl);
    VOW_ASSERT_STATE(vow_state(w5), VOW_FULFILLED, "the grant W3 and W4 gave back");
    VOW_ASSERT_EQ(vow_loop_alive(loop), 0, "nobody waits: no timer");
    vow_unref(w0), vow_unref(w1), vow_unref(w2), vow_unref(w3), vow_unref(w4), vow_unref(w5);
    vow_rate_limiter_free(rl);
    VOW_TEST_END(loop);
}

Test(ratelimit, cancelling_the_only_waiter_stops_the_timer) {
    vow_loop_t *loop = vow_test_loop();
    vow_rate_limiter_t *rl = vow_rate_limiter_new(loop, 10000, 1);
    vow_t *w0 = vow_rate_limiter_acquire(rl);
    vow_t *w1 = vow_rate_limiter_acquire(rl);
    VOW_ASSERT_EQ(vow_loop_alive(loop) > 0, 1, "a waiter keeps the loop alive");
    VOW_ASSERT_CODE(vow_cancel(w1), 0);
    VOW_ASSERT_CODE(vow_loop_drain(loop), 0);
    VOW_ASSERT_EQ(vow_loop_alive(loop), 0);
    VOW_ASSERT_CODE(vow_run(loop, vow_ref(w0), NULL), 0);
    vow_unref(w0), vow_unref(w1);
    vow_rate_limiter_free(rl);
    VOW_TEST_END(loop);
}

Test(ratelimit, a_timed_out_acquire_leaves_the_line) {
    reset();
    vow_loop_t *loop = vow_test_loop();
    vow_rate_limiter_t *rl = vow_rate_limiter_new(loop, 60, 1);
    vow_t *w0 = vow_rate_limiter_acquire(rl);
    vow_t *t = vow_timeout(vow_rate_limiter_acquire(rl), 10, 0);
    vow_t *w2 = vow_then_ok(vow_rate_limiter_acquire(rl), note_grant, (void *)2);
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, t, &out), 0);
    VOW_ASSERT_CODE(vow_error_code(out.error), VOW_ETIMEDOUT);
    vow_outcome_release(&out);
    uint64_t start = vow_loop_now(loop);
    VOW_ASSERT_CODE(vow_run(loop, w2, NULL), 0);
    VOW_ASSERT_EQ(n_order, 1);
    cr_assert_geq(granted_at[2], start, "served (in the slot the timed-out one left)");
    vow_unref(w0);
    vow_rate_limiter_free(rl);
    VOW_TEST_END(loop);
}

/* ---- vow_rate_limit ------------------------------------------------------------------- */
static int fn_calls;
static vow_t *api_call(vow_loop_t *loop, void *arg) {
    fn_calls++;
    return vow_resolved(loop, vow_int((int64_t)(intptr_t)arg * 10));
}
static vow_t *api_call_null(vow_loop_t *loop, void *arg) {
    (void)loop, (void)arg;
    fn_calls++;
    return NULL;
}

Test(ratelimit, rate_limit_runs_fn_on_its_grant_and_settles_as_its_promise) {
    reset();
    fn_calls = 0;
    vow_loop_t *loop = vow_test_loop();
    enum { T = 20 };
    vow_rate_limiter_t *rl = vow_rate_limiter_new(loop, T, 1);
    uint64_t start = vow_loop_update_time(loop);
    vow_t *d[4];
    for (int k = 0; k < 4; k++) {
        d[k] = vow_rate_limit(rl, api_call, (void *)(intptr_t)k, ctx_free_count);
        cr_assert_not_null(d[k]);
    }
    VOW_ASSERT_EQ(fn_calls, 0, "fn runs in a reaction, never inside the call");
    for (int k = 0; k < 4; k++) d[k] = vow_then_ok(d[k], note_grant, (void *)(intptr_t)k);
    vow_t *all = vow_all(loop, d, 4);
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, vow_ref(all), &out), 0);
    VOW_ASSERT_STATE(out.state, VOW_FULFILLED);
    vow_outcome_release(&out);
    VOW_ASSERT_EQ(fn_calls, 4);
    VOW_ASSERT_EQ(ctx_free_calls, 4, "arg_free once per call");
    for (int k = 0; k < 4; k++) {
        VOW_ASSERT_EQ(order[k], k);
        cr_assert_geq(granted_at[k] - start, (uint64_t)k * T);
    }
    vow_unref(all);
    vow_rate_limiter_free(rl);
    VOW_TEST_END(loop);
}

static vow_result_t value_of(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)ctx;
    return vow_ok_int(vow_value_int(v));
}

Test(ratelimit, rate_limit_passes_fn_value_and_null_becomes_enomem) {
    reset();
    fn_calls = 0;
    vow_loop_t *loop = vow_test_loop();
    vow_rate_limiter_t *rl = vow_rate_limiter_new(loop, 5, 2);
    vow_outcome_t out;
    VOW_ASSERT_CODE(
        vow_run(loop, vow_then_ok(vow_rate_limit(rl, api_call, (void *)7, NULL), value_of, NULL),
                &out),
        0);
    VOW_ASSERT_EQ(vow_value_int(&out.value), 70);
    vow_outcome_release(&out);
    VOW_ASSERT_CODE(vow_run(loop, vow_rate_limit(rl, api_call_null, NULL, ctx_free_count), &out),
                    0);
    VOW_ASSERT_CODE(vow_error_code(out.error), VOW_ENOMEM);
    vow_outcome_release(&out);
    VOW_ASSERT_EQ(ctx_free_calls, 1);
    VOW_ASSERT_CODE(vow_set_unhandled_mode(loop, VOW_UNHANDLED_SILENT), 0);
    vow_t *bad = vow_rate_limit(rl, NULL, NULL, ctx_free_count);
    VOW_ASSERT_CODE(vow_error_code(vow_error(bad)), VOW_EINVAL);
    VOW_ASSERT_EQ(ctx_free_calls, 2, "arg_free ran at once");
    vow_unref(bad);
    VOW_ASSERT_EQ(vow_rate_limit(NULL, api_call, NULL, ctx_free_count), (vow_t *)NULL);
    VOW_ASSERT_EQ(ctx_free_calls, 3);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    vow_rate_limiter_free(rl);
    VOW_TEST_END(loop);
}

/* Cancelling a wrapped call while it waits: fn never runs, arg_free runs once, and its
 * grant goes to the next call (which is served no later than it would have been). */
Test(ratelimit, a_rate_limited_call_cancelled_while_waiting_never_runs) {
    reset();
    fn_calls = 0;
    vow_loop_t *loop = vow_test_loop();
    vow_rate_limiter_t *rl = vow_rate_limiter_new(loop, 20, 1);
    vow_t *a = vow_rate_limit(rl, api_call, (void *)1, ctx_free_count);
    vow_t *b = vow_rate_limit(rl, api_call, (void *)2, ctx_free_count);
    vow_t *c = vow_rate_limit(rl, api_call, (void *)3, ctx_free_count);
    VOW_ASSERT_CODE(vow_cancel(b), 0);
    expect_cancelled(b, "b");
    VOW_ASSERT_EQ(ctx_free_calls, 1, "b's arg_free ran when it was cancelled");
    vow_t *in[2] = {a, c};
    VOW_ASSERT_CODE(vow_run(loop, vow_all(loop, in, 2), NULL), 0);
    VOW_ASSERT_EQ(fn_calls, 2, "b's fn never ran");
    VOW_ASSERT_EQ(ctx_free_calls, 3);
    vow_unref(b);
    vow_rate_limiter_free(rl);
    VOW_TEST_END(loop);
}

/* ---- lifetime -------------------------------------------------------------------------- */
Test(ratelimit, freeing_the_limiter_cancels_its_waiters_and_the_loop_closes_after) {
    reset();
    vow_loop_t *loop = vow_test_loop();
    vow_rate_limiter_t *rl = vow_rate_limiter_new(loop, 1000, 1);
    VOW_ASSERT_EQ(vow_loop_alive(loop), 0, "an idle limiter keeps nothing alive");
    vow_t *w0 = vow_rate_limiter_acquire(rl);
    vow_t *w1 = vow_rate_limiter_acquire(rl);
    vow_t *w2 = vow_rate_limit(rl, api_call, NULL, ctx_free_count);
    VOW_ASSERT_CODE(vow_loop_close(loop), VOW_EBUSY, "its waiters' timer keeps the loop");
    vow_rate_limiter_free(rl);
    expect_cancelled(w1, "w1");
    VOW_ASSERT_CODE(vow_loop_drain(loop), 0);
    expect_cancelled(w2, "the wrapped call");
    VOW_ASSERT_EQ(ctx_free_calls, 1);
    VOW_ASSERT_STATE(vow_state(w0), VOW_FULFILLED);
    vow_unref(w0), vow_unref(w1), vow_unref(w2);
    VOW_TEST_END(loop);
}

Test(ratelimit, a_reserved_waiter_is_cancelled_by_free_too) {
    vow_loop_t *loop = vow_test_loop();
    vow_rate_limiter_t *rl = vow_rate_limiter_new(loop, 10, 1);
    uint64_t start = vow_loop_update_time(loop);
    vow_t *w0 = vow_rate_limiter_acquire(rl);
    vow_t *w1 = vow_rate_limiter_acquire(rl);
    spin_until(loop, start + 10);
    vow_t *w2 = vow_rate_limiter_acquire(rl); /* W1 reserved */
    vow_rate_limiter_free(rl);
    VOW_ASSERT_CODE(vow_loop_drain(loop), 0);
    expect_cancelled(w1, "reserved W1");
    expect_cancelled(w2, "W2");
    vow_unref(w0), vow_unref(w1), vow_unref(w2);
    VOW_TEST_END(loop);
}

Test(ratelimit, a_closed_loop_answers_null_and_the_limiter_frees_cleanly) {
    reset();
    vow_loop_t *loop = vow_test_loop();
    vow_rate_limiter_t *rl = vow_rate_limiter_new(loop, 1000, 1);
    vow_t *w0 = vow_rate_limiter_acquire(rl);
    vow_t *w1 = vow_rate_limiter_acquire(rl);
    vow_t *w2 = vow_rate_limit(rl, api_call, NULL, ctx_free_count);
    VOW_ASSERT_CODE(vow_loop_free(loop), 0);
    VOW_ASSERT_EQ(ctx_free_calls, 1, "the teardown dropped the wrapped call");
    VOW_ASSERT_EQ(vow_rate_limiter_acquire(rl), (vow_t *)NULL);
    VOW_ASSERT_EQ(vow_rate_limit(rl, api_call, NULL, ctx_free_count), (vow_t *)NULL);
    VOW_ASSERT_EQ(ctx_free_calls, 2);
    vow_rate_limiter_free(rl);
    vow_unref(w0), vow_unref(w1), vow_unref(w2);
    VOW_ASSERT_EQ(vow_test_live_allocs(), 0);
}

Test(ratelimit, waiter_promises_belong_to_vow) {
    vow_loop_t *loop = vow_test_loop();
    vow_rate_limiter_t *rl = vow_rate_limiter_new(loop, 1000, 1);
    vow_t *w0 = vow_rate_limiter_acquire(rl);
    vow_t *w1 = vow_rate_limiter_acquire(rl);
    VOW_ASSERT_CODE(vow_resolve(w1, vow_int(1)), VOW_EPERM);
    VOW_ASSERT_CODE(vow_reject(w1, vow_error_new(VOW_EBUSY, NULL)), VOW_EPERM);
    VOW_ASSERT_STATE(vow_state(w1), VOW_PENDING);
    vow_rate_limiter_free(rl);
    vow_unref(w0), vow_unref(w1);
    VOW_TEST_END(loop);
}

/* ---- out of memory: each allocation of a scenario fails in turn ------------------------ */
static int wrapped_calls; /* vow_rate_limit calls made: each runs arg_free once */
static int oom_program(void) {
    wrapped_calls = 0;
    vow_loop_t *loop = NULL;
    if (vow_loop_new(&loop, VOW_BACKEND_AUTO) != 0) return VOW_ENOMEM;
    vow_set_unhandled_mode(loop, VOW_UNHANDLED_SILENT);
    int rc = 0;
    vow_rate_limiter_t *rl = vow_rate_limiter_new(loop, 2, 1);
    if (rl == NULL) {
        vow_loop_free(loop);
        return VOW_ENOMEM;
    }
    vow_t *p[5];
    for (int k = 0; k < 3; k++) p[k] = vow_rate_limiter_acquire(rl);
    for (int k = 3; k < 5; k++, wrapped_calls++)
        p[k] = vow_rate_limit(rl, api_call, (void *)(intptr_t)k, ctx_free_count);
    if (p[1] != NULL) vow_cancel(p[1]);
    for (int k = 0; k < 5; k++) {
        if (p[k] == NULL) {
            rc = VOW_ENOMEM;
            continue;
        }
        vow_outcome_t out;
        int r = vow_run(loop, p[k], &out);
        if (r != 0)
            rc = r;
        else if (out.state == VOW_REJECTED && vow_error_code(out.error) == VOW_ENOMEM)
            rc = VOW_ENOMEM;
        else if (out.state == VOW_REJECTED && !(k == 1 && vow_is_cancellation(out.error)))
            rc = -1000 - k;
        else if (k >= 3 && out.state == VOW_FULFILLED && vow_value_int(&out.value) != k * 10)
            rc = -2000 - k;
        vow_outcome_release(&out);
    }
    vow_rate_limiter_free(rl);
    int close_rc = vow_loop_close(loop);
    if (close_rc != 0 && rc == 0) rc = close_rc;
    if (close_rc != 0) vow_loop_free(loop);
    return rc;
}

static void oom_sweep(void) {
    ctx_free_calls = 0;
    int rc = oom_program();
    VOW_ASSERT_CODE(rc, 0, "the normal run");
    VOW_ASSERT_EQ(ctx_free_calls, 2);
    long total = vow_test_alloc_total();
    long enomem = 0;
    for (long n = 1; n <= total; n++) {
        vow_test_reset_counts();
        vow_test_fail_at(n);
        ctx_free_calls = 0;
        rc = oom_program();
        vow_test_fail_at(0);
        cr_assert(rc == 0 || rc == VOW_ENOMEM, "N=%ld: %d (%s)", n, rc, vow_strerror(rc));
        VOW_ASSERT_EQ(ctx_free_calls, wrapped_calls, "N=%ld: arg_free calls", n);
        VOW_ASSERT_EQ(vow_test_live_allocs(), 0, "N=%ld: leaked", n);
        if (rc == VOW_ENOMEM) enomem++;
    }
    cr_assert_gt(enomem, 0);
}

Test(ratelimit, out_of_memory_at_each_allocation_gives_enomem_and_leaks_nothing) { oom_sweep(); }
Test(ratelimit, out_of_memory_at_each_allocation_without_pools) {
    vow_test_without_pools(oom_sweep);
}
