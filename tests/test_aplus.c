/* tests/test_aplus.c - Promises/A+ 1.1, clause by clause. Each test is named after the
 * clause it checks (c2_2_4_... is clause 2.2.4); docs/aplus.md maps every clause of 2.1 to
 * 2.3 to its test here, or says why the clause has no meaning in C.
 *
 * As in the official suite (promises-aplus-tests), most clauses are checked for a promise
 * settled in three ways: already settled when the handlers are attached, settled
 * immediately after (in the same callback), and settled eventually (from a timer).
 *
 * Translation: "onFulfilled/onRejected" are vow_then's on_ok/on_err; "not a function" is
 * NULL; "returns x" is vow_ok(x) or vow_follow(x); "throws e" is vow_fail(e); a thenable is
 * an explicit adapter (vow_thenable_new), its `then` is the adapter's subscribe, and
 * resolvePromise/rejectPromise are vow_resolver_resolve/vow_resolver_reject. */
#include <criterion/criterion.h>

#include "helpers.h"

TestSuite(aplus, .init = vow_test_setup, .fini = vow_test_teardown, .timeout = 20);

/* ---- three ways to settle ------------------------------------------------------------- */

enum { ALREADY = 0, IMMEDIATELY = 1, EVENTUALLY = 2, N_WAYS = 3 };
static const char *const way_name[] = {"already", "immediately", "eventually"};

typedef struct way {
    int how;
    int reject;
    vow_t *deferred; /* IMMEDIATELY / EVENTUALLY: the vow_new promise, settled by way_fire */
    vow_value_t v;
    vow_error_t *e;
} way;

static vow_t *way_fulfilled(vow_loop_t *loop, way *w, int how, vow_value_t v) {
    memset(w, 0, sizeof *w);
    w->how = how;
    if (how == ALREADY) return vow_resolved(loop, v);
    w->v = v;
    w->deferred = vow_new(loop);
    return vow_ref(w->deferred);
}

static vow_t *way_rejected(vow_loop_t *loop, way *w, int how, vow_error_t *e) {
    memset(w, 0, sizeof *w);
    w->how = how;
    w->reject = 1;
    if (how == ALREADY) return vow_rejected(loop, e);
    w->e = e;
    w->deferred = vow_new(loop);
    return vow_ref(w->deferred);
}

static void way_fire(vow_loop_t *loop, void *arg) {
    (void)loop;
    way *w = arg;
    if (w->reject)
        VOW_ASSERT_CODE(vow_reject(w->deferred, w->e), 0);
    else
        VOW_ASSERT_CODE(vow_resolve(w->deferred, w->v), 0);
    w->e = NULL;
    w->v = vow_none();
    vow_unref(w->deferred);
    w->deferred = NULL;
}

/* Settles the promise of `w` the way it was made for (call after attaching handlers). */
static void way_settle(vow_loop_t *loop, way *w) {
    if (w->how == IMMEDIATELY) way_fire(loop, w);
    if (w->how == EVENTUALLY) VOW_ASSERT_CODE(vow_set_timeout(loop, way_fire, w, 5, NULL), 0);
}

static vow_loop_t *aplus_loop(void) {
    vow_loop_t *loop = vow_test_loop();
    /* Many derived promises here end rejected on purpose. */
    VOW_ASSERT_CODE(vow_set_unhandled_mode(loop, VOW_UNHANDLED_SILENT), 0);
    return loop;
}

/* ---- counters and handlers ------------------------------------------------------------ */

static int ok_calls, err_calls;
static const void *ok_seen_ptr;
static const vow_error_t *err_seen;
static int order_log[32], order_len;

static void reset(void) {
    ok_calls = err_calls = 0;
    ok_seen_ptr = NULL;
    err_seen = NULL;
    order_len = 0;
}

static vow_result_t on_ok(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    (void)ctx;
    ok_calls++;
    ok_seen_ptr = vow_value_ptr(v);
    return vow_ok(vow_value_share(v));
}

static vow_result_t on_err(vow_loop_t *loop, vow_error_t *e, void *ctx) {
    (void)loop;
    (void)ctx;
    err_calls++;
    err_seen = e;
    return vow_fail(vow_error_ref(e));
}

static vow_result_t log_ok(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    (void)v;
    order_log[order_len++] = (int)(intptr_t)ctx;
    return vow_ok_none();
}

static vow_result_t log_err(vow_loop_t *loop, vow_error_t *e, void *ctx) {
    (void)loop;
    (void)e;
    order_log[order_len++] = (int)(intptr_t)ctx;
    return vow_ok_none();
}

static vow_result_t log_ok_throw(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    log_ok(loop, v, ctx);
    return vow_fail_code(VOW_EINVAL, "handler threw");
}

static vow_result_t log_err_throw(vow_loop_t *loop, vow_error_t *e, void *ctx) {
    log_err(loop, e, ctx);
    return vow_fail_code(VOW_EINVAL, "handler threw");
}

static int sentinel_a, sentinel_b; /* distinct addresses used as values */

static void dummy_timer(vow_loop_t *loop, void *arg) {
    (void)loop;
    (void)arg;
}

/* Runs the loop until everything, including a last timer 20 ms out, is done: "later". */
static void run_a_while(vow_loop_t *loop) {
    VOW_ASSERT_CODE(vow_set_timeout(loop, dummy_timer, NULL, 20, NULL), 0);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
}

/* =====================================================================================
 * 2.1 Promise states
 * ===================================================================================== */

Test(aplus, c2_1_1_1_pending_may_become_fulfilled_or_rejected) {
    vow_loop_t *loop = aplus_loop();
    vow_t *a = vow_new(loop);
    vow_t *b = vow_new(loop);
    run_a_while(loop);
    VOW_ASSERT_STATE(vow_state(a), VOW_PENDING, "pending stays pending while nothing settles it");
    VOW_ASSERT_CODE(vow_resolve(a, vow_int(1)), 0);
    VOW_ASSERT_STATE(vow_state(a), VOW_FULFILLED);
    VOW_ASSERT_CODE(vow_reject(b, vow_error_new(VOW_EBUSY, NULL)), 0);
    VOW_ASSERT_STATE(vow_state(b), VOW_REJECTED);
    vow_unref(a);
    vow_unref(b);
    VOW_TEST_END(loop);
}

static void reject_later(vow_loop_t *loop, void *arg) {
    (void)loop;
    VOW_ASSERT_CODE(vow_reject(arg, vow_error_new(VOW_EBUSY, NULL)), VOW_ESETTLED);
}
static void resolve_later(vow_loop_t *loop, void *arg) {
    (void)loop;
    VOW_ASSERT_CODE(vow_resolve(arg, vow_ptr(&sentinel_b, NULL)), VOW_ESETTLED);
}

Test(aplus, c2_1_2_1_fulfilled_never_transitions) {
    /* Fulfil, then try to reject at once and later: the handlers see only the fulfilment. */
    vow_loop_t *loop = aplus_loop();
    vow_t *p = vow_new(loop);
    vow_unref(vow_then(vow_ref(p), on_ok, on_err, NULL, NULL));
    VOW_ASSERT_CODE(vow_resolve(p, vow_ptr(&sentinel_a, NULL)), 0);
    VOW_ASSERT_CODE(vow_reject(p, vow_error_new(VOW_EBUSY, NULL)), VOW_ESETTLED);
    VOW_ASSERT_CODE(vow_set_timeout(loop, reject_later, p, 5, NULL), 0);
    run_a_while(loop);
    vow_unref(vow_then(vow_ref(p), on_ok, on_err, NULL, NULL));
    run_a_while(loop);
    VOW_ASSERT_STATE(vow_state(p), VOW_FULFILLED);
    VOW_ASSERT_EQ(ok_calls, 2);
    VOW_ASSERT_EQ(err_calls, 0);
    vow_unref(p);
    VOW_TEST_END(loop);
}

Test(aplus, c2_1_2_2_fulfilled_value_never_changes) {
    vow_loop_t *loop = aplus_loop();
    vow_t *p = vow_new(loop);
    vow_unref(vow_then(vow_ref(p), on_ok, NULL, NULL, NULL));
    VOW_ASSERT_CODE(vow_resolve(p, vow_ptr(&sentinel_a, NULL)), 0);
    VOW_ASSERT_CODE(vow_resolve(p, vow_ptr(&sentinel_b, NULL)), VOW_ESETTLED);
    VOW_ASSERT_CODE(vow_set_timeout(loop, resolve_later, p, 5, NULL), 0);
    run_a_while(loop);
    VOW_ASSERT_EQ(ok_seen_ptr, &sentinel_a);
    ok_seen_ptr = NULL;
    vow_unref(vow_then(vow_ref(p), on_ok, NULL, NULL, NULL));
    run_a_while(loop);
    VOW_ASSERT_EQ(ok_seen_ptr, &sentinel_a, "a later handler sees the same value");
    VOW_ASSERT_EQ(vow_value_ptr(vow_value(p)), &sentinel_a);
    VOW_ASSERT_EQ(ok_calls, 2);
    vow_unref(p);
    VOW_TEST_END(loop);
}

Test(aplus, c2_1_3_1_rejected_never_transitions) {
    vow_loop_t *loop = aplus_loop();
    vow_t *p = vow_new(loop);
    vow_unref(vow_then(vow_ref(p), on_ok, on_err, NULL, NULL));
    VOW_ASSERT_CODE(vow_reject(p, vow_error_new(VOW_EBUSY, NULL)), 0);
    VOW_ASSERT_CODE(vow_resolve(p, vow_int(1)), VOW_ESETTLED);
    VOW_ASSERT_CODE(vow_set_timeout(loop, resolve_later, p, 5, NULL), 0);
    run_a_while(loop);
    vow_unref(vow_then(vow_ref(p), on_ok, on_err, NULL, NULL));
    run_a_while(loop);
    VOW_ASSERT_STATE(vow_state(p), VOW_REJECTED);
    VOW_ASSERT_EQ(ok_calls, 0);
    VOW_ASSERT_EQ(err_calls, 2);
    vow_unref(p);
    VOW_TEST_END(loop);
}

Test(aplus, c2_1_3_2_rejected_reason_never_changes) {
    vow_loop_t *loop = aplus_loop();
    vow_t *p = vow_new(loop);
    vow_error_t *e = vow_error_new(VOW_EBUSY, "the reason");
    vow_unref(vow_then(vow_ref(p), NULL, on_err, NULL, NULL));
    VOW_ASSERT_CODE(vow_reject(p, e), 0);
    VOW_ASSERT_CODE(vow_reject(p, vow_error_new(VOW_EINVAL, "another")), VOW_ESETTLED);
    VOW_ASSERT_CODE(vow_set_timeout(loop, reject_later, p, 5, NULL), 0);
    run_a_while(loop);
    VOW_ASSERT_EQ(err_seen, e);
    err_seen = NULL;
    vow_unref(vow_then(vow_ref(p), NULL, on_err, NULL, NULL));
    run_a_while(loop);
    VOW_ASSERT_EQ(err_seen, e, "a later handler sees the same reason");
    VOW_ASSERT_EQ(vow_error(p), e);
    vow_unref(p);
    VOW_TEST_END(loop);
}

/* =====================================================================================
 * 2.2 The then method
 * ===================================================================================== */

/* 2.2.1: both arguments optional; "not a function" is NULL in C. */
Test(aplus, c2_2_1_1_null_on_ok_is_ignored) {
    for (int how = 0; how < N_WAYS; how++) {
        reset();
        vow_loop_t *loop = aplus_loop();
        way w;
        vow_t *p = way_fulfilled(loop, &w, how, vow_ptr(&sentinel_a, NULL));
        vow_t *d = vow_then(vow_ref(p), NULL, on_err, NULL, NULL);
        vow_t *r =
            vow_then(vow_rejected(loop, vow_error_new(VOW_EBUSY, NULL)), NULL, on_err, NULL, NULL);
        way_settle(loop, &w);
        run_a_while(loop);
        VOW_ASSERT_EQ(err_calls, 1, "%s: on_err runs for the rejected one only", way_name[how]);
        VOW_ASSERT_EQ(vow_value_ptr(vow_value(d)), &sentinel_a, "%s", way_name[how]);
        vow_unref(p);
        vow_unref(d);
        vow_unref(r);
        VOW_TEST_END(loop);
    }
}

Test(aplus, c2_2_1_2_null_on_err_is_ignored) {
    for (int how = 0; how < N_WAYS; how++) {
        reset();
        vow_loop_t *loop = aplus_loop();
        way w;
        vow_error_t *e = vow_error_new(VOW_EBUSY, NULL);
        vow_t *p = way_rejected(loop, &w, how, e);
        vow_t *d = vow_then(vow_ref(p), on_ok, NULL, NULL, NULL);
        vow_t *f = vow_then(vow_resolved(loop, vow_none()), on_ok, NULL, NULL, NULL);
        way_settle(loop, &w);
        run_a_while(loop);
        VOW_ASSERT_EQ(ok_calls, 1, "%s: on_ok runs for the fulfilled one only", way_name[how]);
        VOW_ASSERT_EQ(vow_error(d), e, "%s", way_name[how]);
        vow_unref(p);
        vow_unref(d);
        vow_unref(f);
        VOW_TEST_END(loop);
    }
}

/* 2.2.2 onFulfilled */
Test(aplus, c2_2_2_1_on_ok_called_after_fulfilment_with_the_value) {
    for (int how = 0; how < N_WAYS; how++) {
        reset();
        vow_loop_t *loop = aplus_loop();
        way w;
        vow_t *p = way_fulfilled(loop, &w, how, vow_ptr(&sentinel_a, NULL));
        vow_unref(vow_then(vow_ref(p), on_ok, NULL, NULL, NULL));
        way_settle(loop, &w);
        run_a_while(loop);
        VOW_ASSERT_EQ(ok_calls, 1, "%s", way_name[how]);
        VOW_ASSERT_EQ(ok_seen_ptr, &sentinel_a, "%s: called with the value", way_name[how]);
        vow_unref(p);
        VOW_TEST_END(loop);
    }
}

static vow_t *watched;
static int watched_state_at_call;
static vow_result_t on_ok_checks_state(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    watched_state_at_call = (int)vow_state(watched);
    return on_ok(loop, v, ctx);
}
static int ok_calls_at_timer;
static void sample_ok_calls(vow_loop_t *loop, void *arg) {
    (void)loop;
    (void)arg;
    ok_calls_at_timer = ok_calls;
}

Test(aplus, c2_2_2_2_on_ok_not_called_before_fulfilment) {
    vow_loop_t *loop = aplus_loop();
    watched = vow_new(loop);
    watched_state_at_call = -1;
    vow_unref(vow_then(vow_ref(watched), on_ok_checks_state, NULL, NULL, NULL));
    ok_calls_at_timer = -1;
    VOW_ASSERT_CODE(vow_set_timeout(loop, sample_ok_calls, NULL, 5, NULL), 0);
    way w = {.how = EVENTUALLY, .deferred = vow_ref(watched), .v = vow_int(1)};
    VOW_ASSERT_CODE(vow_set_timeout(loop, way_fire, &w, 15, NULL), 0);
    run_a_while(loop);
    VOW_ASSERT_EQ(ok_calls_at_timer, 0, "called before the promise was fulfilled");
    VOW_ASSERT_EQ(ok_calls, 1);
    VOW_ASSERT_STATE(watched_state_at_call, VOW_FULFILLED);
    /* Never called for a promise that is rejected instead. */
    vow_unref(
        vow_then(vow_rejected(loop, vow_error_new(VOW_EBUSY, NULL)), on_ok, NULL, NULL, NULL));
    run_a_while(loop);
    VOW_ASSERT_EQ(ok_calls, 1);
    vow_unref(watched);
    VOW_TEST_END(loop);
}

static void settle_again(vow_loop_t *loop, void *arg) {
    (void)loop;
    vow_t *p = arg;
    VOW_ASSERT_CODE(vow_resolve(p, vow_int(2)), VOW_ESETTLED);
    VOW_ASSERT_CODE(vow_reject(p, vow_error_new(VOW_EBUSY, NULL)), VOW_ESETTLED);
}

Test(aplus, c2_2_2_3_on_ok_called_at_most_once) {
    for (int how = IMMEDIATELY; how < N_WAYS; how++) {
        reset();
        vow_loop_t *loop = aplus_loop();
        way w;
        vow_t *p = way_fulfilled(loop, &w, how, vow_int(1));
        vow_unref(vow_then(vow_ref(p), on_ok, on_err, NULL, NULL));
        way_settle(loop, &w);
        if (how == IMMEDIATELY) settle_again(loop, p); /* at once, after the settle */
        VOW_ASSERT_CODE(vow_set_timeout(loop, settle_again, p, 10, NULL), 0); /* and later */
        run_a_while(loop);
        run_a_while(loop);
        VOW_ASSERT_EQ(ok_calls, 1, "%s: called %d times", way_name[how], ok_calls);
        VOW_ASSERT_EQ(err_calls, 0);
        vow_unref(p);
        VOW_TEST_END(loop);
    }
}

/* 2.2.3 onRejected */
Test(aplus, c2_2_3_1_on_err_called_after_rejection_with_the_reason) {
    for (int how = 0; how < N_WAYS; how++) {
        reset();
        vow_loop_t *loop = aplus_loop();
        way w;
        vow_error_t *e = vow_error_new(VOW_EBUSY, NULL);
        vow_t *p = way_rejected(loop, &w, how, e);
        vow_unref(vow_then(vow_ref(p), NULL, on_err, NULL, NULL));
        way_settle(loop, &w);
        run_a_while(loop);
        VOW_ASSERT_EQ(err_calls, 1, "%s", way_name[how]);
        VOW_ASSERT_EQ(err_seen, e, "%s: called with the reason", way_name[how]);
        vow_unref(p);
        VOW_TEST_END(loop);
    }
}

static int err_calls_at_timer;
static void sample_err_calls(vow_loop_t *loop, void *arg) {
    (void)loop;
    (void)arg;
    err_calls_at_timer = err_calls;
}

Test(aplus, c2_2_3_2_on_err_not_called_before_rejection) {
    vow_loop_t *loop = aplus_loop();
    vow_t *p = vow_new(loop);
    vow_unref(vow_then(vow_ref(p), NULL, on_err, NULL, NULL));
    err_calls_at_timer = -1;
    VOW_ASSERT_CODE(vow_set_timeout(loop, sample_err_calls, NULL, 5, NULL), 0);
    way w = {.how = EVENTUALLY,
             .reject = 1,
             .deferred = vow_ref(p),
             .e = vow_error_new(VOW_EBUSY, NULL)};
    VOW_ASSERT_CODE(vow_set_timeout(loop, way_fire, &w, 15, NULL), 0);
    run_a_while(loop);
    VOW_ASSERT_EQ(err_calls_at_timer, 0, "called before the promise was rejected");
    VOW_ASSERT_EQ(err_calls, 1);
    vow_unref(vow_then(vow_resolved(loop, vow_none()), NULL, on_err, NULL, NULL));
    run_a_while(loop);
    VOW_ASSERT_EQ(err_calls, 1, "never called for a fulfilled promise");
    vow_unref(p);
    VOW_TEST_END(loop);
}

Test(aplus, c2_2_3_3_on_err_called_at_most_once) {
    for (int how = IMMEDIATELY; how < N_WAYS; how++) {
        reset();
        vow_loop_t *loop = aplus_loop();
        way w;
        vow_t *p = way_rejected(loop, &w, how, vow_error_new(VOW_EBUSY, NULL));
        vow_unref(vow_then(vow_ref(p), on_ok, on_err, NULL, NULL));
        way_settle(loop, &w);
        if (how == IMMEDIATELY) settle_again(loop, p); /* at once, after the settle */
        VOW_ASSERT_CODE(vow_set_timeout(loop, settle_again, p, 10, NULL), 0); /* and later */
        run_a_while(loop);
        run_a_while(loop);
        VOW_ASSERT_EQ(err_calls, 1, "%s: called %d times", way_name[how], err_calls);
        VOW_ASSERT_EQ(ok_calls, 0);
        vow_unref(p);
        VOW_TEST_END(loop);
    }
}

/* 2.2.4: not called until the execution context stack contains only platform code. */
static int in_outer;
static int inner_ran_inside_outer;
static vow_result_t inner_handler(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    if (in_outer) inner_ran_inside_outer++;
    return on_ok(loop, v, ctx);
}
static vow_result_t outer_handler(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    in_outer = 1;
    /* A handler added inside a handler, to an already-fulfilled promise. */
    vow_unref(vow_then(vow_resolved(loop, vow_none()), inner_handler, NULL, NULL, NULL));
    vow_unref(vow_then(vow_ref((vow_t *)ctx), inner_handler, NULL, NULL, NULL));
    in_outer = 0;
    return on_ok(loop, v, NULL);
}

Test(aplus, c2_2_4_never_sync) {
    for (int how = 0; how < N_WAYS; how++) {
        reset();
        in_outer = inner_ran_inside_outer = 0;
        vow_loop_t *loop = aplus_loop();
        way w;
        vow_t *p = way_fulfilled(loop, &w, how, vow_int(1));
        vow_unref(vow_then(vow_ref(p), on_ok, NULL, NULL, NULL));
        VOW_ASSERT_EQ(ok_calls, 0, "%s: called inside then", way_name[how]);
        way_settle(loop, &w);
        VOW_ASSERT_EQ(ok_calls, 0, "%s: called inside resolve", way_name[how]);
        vow_unref(vow_then(vow_ref(p), outer_handler, NULL, p, NULL));
        VOW_ASSERT_EQ(ok_calls, 0, "%s", way_name[how]);
        run_a_while(loop);
        VOW_ASSERT_EQ(ok_calls, 4, "%s", way_name[how]);
        VOW_ASSERT_EQ(inner_ran_inside_outer, 0, "%s: a handler ran inside another", way_name[how]);
        vow_unref(p);
        VOW_TEST_END(loop);
    }
}

Test(aplus, c2_2_4_never_sync_rejected) {
    for (int how = 0; how < N_WAYS; how++) {
        reset();
        vow_loop_t *loop = aplus_loop();
        way w;
        vow_t *p = way_rejected(loop, &w, how, vow_error_new(VOW_EBUSY, NULL));
        vow_unref(vow_then(vow_ref(p), NULL, on_err, NULL, NULL));
        VOW_ASSERT_EQ(err_calls, 0, "%s: called inside then", way_name[how]);
        way_settle(loop, &w);
        VOW_ASSERT_EQ(err_calls, 0, "%s: called inside reject", way_name[how]);
        run_a_while(loop);
        VOW_ASSERT_EQ(err_calls, 1);
        vow_unref(p);
        VOW_TEST_END(loop);
    }
}

/* 2.2.5 (called as functions, no `this`): no meaning in C; see docs/aplus.md. */

/* 2.2.6: then may be called several times on the same promise. */
Test(aplus, c2_2_6_1_fulfil_handlers_run_in_then_order) {
    for (int how = 0; how < N_WAYS; how++) {
        reset();
        vow_loop_t *loop = aplus_loop();
        way w;
        vow_t *p = way_fulfilled(loop, &w, how, vow_ptr(&sentinel_a, NULL));
        vow_t *d[4];
        d[0] = vow_then(vow_ref(p), log_ok, NULL, (void *)0, NULL);
        d[1] = vow_then(vow_ref(p), log_ok_throw, NULL, (void *)1, NULL); /* one throws */
        d[2] = vow_then(vow_ref(p), log_ok, log_err, (void *)2, NULL);
        d[3] = vow_then(vow_ref(p), on_ok, NULL, NULL, NULL);
        way_settle(loop, &w);
        run_a_while(loop);
        VOW_ASSERT_EQ(order_len, 3, "%s", way_name[how]);
        for (int i = 0; i < 3; i++) VOW_ASSERT_EQ(order_log[i], i, "%s", way_name[how]);
        VOW_ASSERT_EQ(ok_seen_ptr, &sentinel_a);
        /* Each branch has its own outcome. */
        VOW_ASSERT_STATE(vow_state(d[0]), VOW_FULFILLED);
        VOW_ASSERT_STATE(vow_state(d[1]), VOW_REJECTED);
        VOW_ASSERT_STATE(vow_state(d[2]), VOW_FULFILLED);
        VOW_ASSERT_EQ(vow_value_ptr(vow_value(d[3])), &sentinel_a);
        for (int i = 0; i < 4; i++) vow_unref(d[i]);
        vow_unref(p);
        VOW_TEST_END(loop);
    }
}

static vow_t *order_subject;
static vow_result_t log_and_add(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    log_ok(loop, v, ctx);
    /* Added while the promise's handlers are running: runs after all of them. */
    vow_unref(vow_then(vow_ref(order_subject), log_ok, NULL, (void *)9, NULL));
    return vow_ok_none();
}

Test(aplus, c2_2_6_1_handler_added_inside_a_handler_runs_last) {
    reset();
    vow_loop_t *loop = aplus_loop();
    order_subject = vow_resolved(loop, vow_none());
    vow_unref(vow_then(vow_ref(order_subject), log_and_add, NULL, (void *)0, NULL));
    vow_unref(vow_then(vow_ref(order_subject), log_ok, NULL, (void *)1, NULL));
    vow_unref(vow_then(vow_ref(order_subject), log_ok, NULL, (void *)2, NULL));
    run_a_while(loop);
    int want[] = {0, 1, 2, 9};
    VOW_ASSERT_EQ(order_len, 4);
    for (int i = 0; i < 4; i++) VOW_ASSERT_EQ(order_log[i], want[i]);
    vow_unref(order_subject);
    VOW_TEST_END(loop);
}

Test(aplus, c2_2_6_2_reject_handlers_run_in_then_order) {
    for (int how = 0; how < N_WAYS; how++) {
        reset();
        vow_loop_t *loop = aplus_loop();
        way w;
        vow_error_t *e = vow_error_new(VOW_EBUSY, NULL);
        vow_t *p = way_rejected(loop, &w, how, e);
        vow_t *d[4];
        d[0] = vow_then(vow_ref(p), NULL, log_err, (void *)0, NULL);
        d[1] = vow_then(vow_ref(p), NULL, log_err_throw, (void *)1, NULL);
        d[2] = vow_then(vow_ref(p), log_ok, log_err, (void *)2, NULL);
        d[3] = vow_then(vow_ref(p), NULL, on_err, NULL, NULL);
        way_settle(loop, &w);
        run_a_while(loop);
        VOW_ASSERT_EQ(order_len, 3, "%s", way_name[how]);
        for (int i = 0; i < 3; i++) VOW_ASSERT_EQ(order_log[i], i, "%s", way_name[how]);
        VOW_ASSERT_EQ(err_seen, e);
        VOW_ASSERT_STATE(vow_state(d[0]), VOW_FULFILLED);
        VOW_ASSERT_STATE(vow_state(d[1]), VOW_REJECTED);
        VOW_ASSERT_STATE(vow_state(d[2]), VOW_FULFILLED);
        VOW_ASSERT_EQ(vow_error(d[3]), e);
        for (int i = 0; i < 4; i++) vow_unref(d[i]);
        vow_unref(p);
        VOW_TEST_END(loop);
    }
}

/* 2.2.7: then must return a promise. */
Test(aplus, c2_2_7_then_returns_a_promise) {
    vow_loop_t *loop = aplus_loop();
    vow_t *p = vow_resolved(loop, vow_int(1));
    vow_t *d = vow_then(vow_ref(p), on_ok, on_err, NULL, NULL);
    cr_assert_not_null(d);
    cr_assert_neq(d, p, "a new promise");
    VOW_ASSERT_STATE(vow_state(d), VOW_PENDING);
    vow_t *dd = vow_then(vow_ref(d), NULL, NULL, NULL, NULL);
    cr_assert_not_null(dd, "even with no handlers");
    cr_assert_neq(dd, d);
    run_a_while(loop);
    VOW_ASSERT_EQ(vow_value_int(vow_value(dd)), 1);
    vow_unref(p);
    vow_unref(d);
    vow_unref(dd);
    VOW_TEST_END(loop);
}

static vow_result_t return_b(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    (void)v;
    (void)ctx;
    return vow_ok(vow_ptr(&sentinel_b, NULL));
}
static vow_result_t recover_b(vow_loop_t *loop, vow_error_t *e, void *ctx) {
    (void)loop;
    (void)e;
    (void)ctx;
    return vow_ok(vow_ptr(&sentinel_b, NULL));
}
static vow_result_t return_promise_b(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)v;
    (void)ctx;
    return vow_follow(vow_resolved(loop, vow_ptr(&sentinel_b, NULL)));
}

Test(aplus, c2_2_7_1_returned_value_resolves_promise2) {
    for (int how = 0; how < N_WAYS; how++) {
        vow_loop_t *loop = aplus_loop();
        way w1, w2;
        vow_t *p1 = way_fulfilled(loop, &w1, how, vow_int(1));
        vow_t *p2 = way_rejected(loop, &w2, how, vow_error_new(VOW_EBUSY, NULL));
        vow_t *a = vow_then(vow_ref(p1), return_b, NULL, NULL, NULL);
        vow_t *b = vow_then(vow_ref(p2), NULL, recover_b, NULL, NULL);
        vow_t *c = vow_then(vow_ref(p1), return_promise_b, NULL, NULL, NULL);
        way_settle(loop, &w1);
        way_settle(loop, &w2);
        run_a_while(loop);
        VOW_ASSERT_EQ(vow_value_ptr(vow_value(a)), &sentinel_b, "%s", way_name[how]);
        VOW_ASSERT_EQ(vow_value_ptr(vow_value(b)), &sentinel_b, "%s", way_name[how]);
        VOW_ASSERT_EQ(vow_value_ptr(vow_value(c)), &sentinel_b,
                      "%s: a returned promise is "
                      "resolved through [[Resolve]]",
                      way_name[how]);
        vow_unref(a);
        vow_unref(b);
        vow_unref(c);
        vow_unref(p1);
        vow_unref(p2);
        VOW_TEST_END(loop);
    }
}

static vow_error_t *thrown;
static vow_result_t throw_it(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    (void)v;
    (void)ctx;
    return vow_fail(vow_error_ref(thrown));
}
static vow_result_t throw_it_err(vow_loop_t *loop, vow_error_t *e, void *ctx) {
    (void)loop;
    (void)e;
    (void)ctx;
    return vow_fail(vow_error_ref(thrown));
}

Test(aplus, c2_2_7_2_thrown_error_rejects_promise2) {
    for (int how = 0; how < N_WAYS; how++) {
        vow_loop_t *loop = aplus_loop();
        thrown = vow_error_new(VOW_ERANGE, "thrown");
        way w1, w2;
        vow_t *p1 = way_fulfilled(loop, &w1, how, vow_int(1));
        vow_t *p2 = way_rejected(loop, &w2, how, vow_error_new(VOW_EBUSY, NULL));
        vow_t *a = vow_then(vow_ref(p1), throw_it, NULL, NULL, NULL);
        vow_t *b = vow_then(vow_ref(p2), NULL, throw_it_err, NULL, NULL);
        way_settle(loop, &w1);
        way_settle(loop, &w2);
        run_a_while(loop);
        VOW_ASSERT_EQ(vow_error(a), thrown, "%s: rejected with the thrown error", way_name[how]);
        VOW_ASSERT_EQ(vow_error(b), thrown, "%s", way_name[how]);
        vow_error_unref(thrown);
        vow_unref(a);
        vow_unref(b);
        vow_unref(p1);
        vow_unref(p2);
        VOW_TEST_END(loop);
    }
}

Test(aplus, c2_2_7_3_no_on_ok_fulfils_promise2_with_the_same_value) {
    for (int how = 0; how < N_WAYS; how++) {
        vow_loop_t *loop = aplus_loop();
        way w;
        vow_t *p = way_fulfilled(loop, &w, how, vow_ptr(&sentinel_a, NULL));
        vow_t *a = vow_then(vow_ref(p), NULL, on_err, NULL, NULL);
        vow_t *b = vow_then(vow_ref(p), NULL, NULL, NULL, NULL);
        way_settle(loop, &w);
        run_a_while(loop);
        VOW_ASSERT_EQ(vow_value_ptr(vow_value(a)), &sentinel_a, "%s", way_name[how]);
        VOW_ASSERT_EQ(vow_value_ptr(vow_value(b)), &sentinel_a, "%s", way_name[how]);
        vow_unref(a);
        vow_unref(b);
        vow_unref(p);
        VOW_TEST_END(loop);
    }
}

Test(aplus, c2_2_7_4_no_on_err_rejects_promise2_with_the_same_reason) {
    for (int how = 0; how < N_WAYS; how++) {
        vow_loop_t *loop = aplus_loop();
        way w;
        vow_error_t *e = vow_error_new(VOW_EBUSY, NULL);
        vow_t *p = way_rejected(loop, &w, how, e);
        vow_t *a = vow_then(vow_ref(p), on_ok, NULL, NULL, NULL);
        vow_t *b = vow_then(vow_ref(p), NULL, NULL, NULL, NULL);
        way_settle(loop, &w);
        run_a_while(loop);
        VOW_ASSERT_EQ(vow_error(a), e, "%s", way_name[how]);
        VOW_ASSERT_EQ(vow_error(b), e, "%s", way_name[how]);
        vow_unref(a);
        vow_unref(b);
        vow_unref(p);
        VOW_TEST_END(loop);
    }
}

/* =====================================================================================
 * 2.3 The Promise Resolution Procedure
 * ===================================================================================== */

/* 2.3.1: promise and x are the same object. Three routes to [[Resolve]](promise, promise). */
static vow_t *self_promise;
static vow_result_t return_self(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    (void)v;
    (void)ctx;
    return vow_follow(vow_ref(self_promise));
}
static int subscribe_resolves_with_target(void *ctx, vow_resolver_t *r) {
    (void)ctx;
    return vow_resolver_resolve(r, vow_follow(vow_ref(self_promise)));
}
static vow_result_t return_self_thenable(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    (void)v;
    (void)ctx;
    return vow_follow_thenable(vow_thenable_new(subscribe_resolves_with_target, NULL, NULL));
}

Test(aplus, c2_3_1_resolving_with_itself_is_a_type_error) {
    vow_loop_t *loop = aplus_loop();
    /* promise2 = promise1.then(() => promise2) */
    vow_t *gate = vow_new(loop);
    self_promise = vow_then(vow_ref(gate), return_self, NULL, NULL, NULL);
    VOW_ASSERT_CODE(vow_resolve(gate, vow_none()), 0);
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, vow_ref(self_promise), &out), 0);
    VOW_ASSERT_STATE(out.state, VOW_REJECTED);
    VOW_ASSERT_CODE(vow_error_code(out.error), VOW_ETYPE);
    vow_outcome_release(&out);
    vow_unref(self_promise);
    /* resolve(p) from outside */
    vow_t *p = vow_new(loop);
    VOW_ASSERT_CODE(vow_resolve_with(p, vow_follow(vow_ref(p))), 0);
    VOW_ASSERT_CODE(vow_error_code(vow_error(p)), VOW_ETYPE);
    vow_unref(p);
    /* a thenable whose resolvePromise is called with the promise it resolves */
    self_promise = vow_then(vow_ref(gate), return_self_thenable, NULL, NULL, NULL);
    VOW_ASSERT_CODE(vow_run(loop, vow_ref(self_promise), &out), 0);
    VOW_ASSERT_STATE(out.state, VOW_REJECTED);
    VOW_ASSERT_CODE(vow_error_code(out.error), VOW_ETYPE);
    vow_outcome_release(&out);
    vow_unref(self_promise);
    vow_unref(gate);
    VOW_TEST_END(loop);
}

/* 2.3.2: x is a promise: adopt its state. */
static vow_t *x_promise;
static vow_result_t return_x(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    (void)v;
    (void)ctx;
    return vow_follow(vow_ref(x_promise));
}

Test(aplus, c2_3_2_1_pending_while_x_is_pending) {
    vow_loop_t *loop = aplus_loop();
    x_promise = vow_new(loop);
    vow_t *d = vow_then(vow_resolved(loop, vow_none()), return_x, NULL, NULL, NULL);
    run_a_while(loop);
    VOW_ASSERT_STATE(vow_state(d), VOW_PENDING, "must stay pending while x is pending");
    VOW_ASSERT_CODE(vow_resolve(x_promise, vow_ptr(&sentinel_a, NULL)), 0);
    run_a_while(loop);
    VOW_ASSERT_EQ(vow_value_ptr(vow_value(d)), &sentinel_a);
    vow_unref(d);
    vow_unref(x_promise);
    VOW_TEST_END(loop);
}

Test(aplus, c2_3_2_2_fulfilled_with_the_value_of_x) {
    for (int how = 0; how < N_WAYS; how++) {
        vow_loop_t *loop = aplus_loop();
        way w;
        x_promise = way_fulfilled(loop, &w, how, vow_ptr(&sentinel_a, NULL));
        vow_t *d = vow_then(vow_resolved(loop, vow_none()), return_x, NULL, NULL, NULL);
        way_settle(loop, &w);
        run_a_while(loop);
        VOW_ASSERT_EQ(vow_value_ptr(vow_value(d)), &sentinel_a, "%s", way_name[how]);
        vow_unref(d);
        vow_unref(x_promise);
        VOW_TEST_END(loop);
    }
}

Test(aplus, c2_3_2_3_rejected_with_the_reason_of_x) {
    for (int how = 0; how < N_WAYS; how++) {
        vow_loop_t *loop = aplus_loop();
        way w;
        vow_error_t *e = vow_error_new(VOW_EBUSY, NULL);
        x_promise = way_rejected(loop, &w, how, e);
        vow_t *d = vow_then(vow_resolved(loop, vow_none()), return_x, NULL, NULL, NULL);
        way_settle(loop, &w);
        run_a_while(loop);
        VOW_ASSERT_EQ(vow_error(d), e, "%s", way_name[how]);
        vow_unref(d);
        vow_unref(x_promise);
        VOW_TEST_END(loop);
    }
}

/* 2.3.3: x is a thenable (an explicit adapter in C). */
enum {
    T_END = 0,
    T_RESOLVE_INT,
    T_RESOLVE_PTR,
    T_REJECT,
    T_RESOLVE_PROMISE,
    T_RESOLVE_THENABLE,
    T_KEEP
};
typedef struct tscript {
    int steps[5];
    const void *arg[5];
    int ret;
    int rcs[5];
    int calls;
    void *ctx_seen;
    vow_resolver_t *kept;
} tscript;

static int tscript_subscribe(void *ctx, vow_resolver_t *r);
static vow_thenable_t *tscript_thenable(tscript *s) {
    vow_thenable_t *t = vow_thenable_new(tscript_subscribe, s, NULL);
    cr_assert_not_null(t);
    return t;
}
static int tscript_subscribe(void *ctx, vow_resolver_t *r) {
    tscript *s = ctx;
    s->calls++;
    s->ctx_seen = ctx;
    cr_assert_not_null(r);
    for (int i = 0; i < 5 && s->steps[i] != T_END; i++) {
        switch (s->steps[i]) {
        case T_RESOLVE_INT:
            s->rcs[i] = vow_resolver_resolve(r, vow_ok_int((int64_t)(intptr_t)s->arg[i]));
            break;
        case T_RESOLVE_PTR:
            s->rcs[i] = vow_resolver_resolve(r, vow_ok(vow_ptr((void *)s->arg[i], NULL)));
            break;
        case T_REJECT:
            s->rcs[i] = vow_resolver_reject(r, vow_error_ref((vow_error_t *)s->arg[i]));
            break;
        case T_RESOLVE_PROMISE:
            s->rcs[i] = vow_resolver_resolve(r, vow_follow(vow_ref((vow_t *)s->arg[i])));
            break;
        case T_RESOLVE_THENABLE:
            s->rcs[i] = vow_resolver_resolve(
                r, vow_follow_thenable(tscript_thenable((tscript *)s->arg[i])));
            break;
        case T_KEEP: s->kept = vow_resolver_ref(r); break;
        }
    }
    return s->ret;
}

static tscript *the_script;
static vow_result_t return_thenable(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    (void)v;
    (void)ctx;
    return vow_follow_thenable(tscript_thenable(the_script));
}

/* promise2 = resolved().then(() => thenable(s)); runs until the loop is idle. */
static vow_t *adopt(vow_loop_t *loop, tscript *s) {
    the_script = s;
    vow_t *d = vow_then(vow_resolved(loop, vow_none()), return_thenable, NULL, NULL, NULL);
    run_a_while(loop);
    VOW_ASSERT_EQ(s->calls, 1, "subscribe called %d times", s->calls);
    return d;
}

Test(aplus, c2_3_3_thenable_is_adopted) {
    vow_loop_t *loop = aplus_loop();
    tscript s = {.steps = {T_RESOLVE_PTR}, .arg = {&sentinel_a}};
    vow_t *d = adopt(loop, &s);
    VOW_ASSERT_EQ(vow_value_ptr(vow_value(d)), &sentinel_a);
    vow_unref(d);
    VOW_TEST_END(loop);
}

Test(aplus, c2_3_3_1_subscribe_is_taken_once) {
    /* "Let then be x.then" (read once): the adapter's subscribe runs exactly once, however
     * many handlers wait on the promise that adopts it. */
    vow_loop_t *loop = aplus_loop();
    tscript s = {.steps = {T_RESOLVE_INT}, .arg = {(void *)7}};
    the_script = &s;
    vow_t *d = vow_then(vow_resolved(loop, vow_none()), return_thenable, NULL, NULL, NULL);
    for (int i = 0; i < 5; i++) vow_unref(vow_then(vow_ref(d), on_ok, NULL, NULL, NULL));
    run_a_while(loop);
    VOW_ASSERT_EQ(s.calls, 1);
    VOW_ASSERT_EQ(ok_calls, 5);
    vow_unref(d);
    VOW_TEST_END(loop);
}

static vow_result_t return_null_thenable(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    (void)v;
    (void)ctx;
    return vow_follow_thenable(NULL);
}

Test(aplus, c2_3_3_2_unobtainable_thenable_rejects) {
    /* The C analogue of "retrieving x.then throws e": the adapter could not be made
     * (vow_thenable_new returned NULL, out of memory); promise is rejected with that. */
    vow_loop_t *loop = aplus_loop();
    vow_t *d = vow_then(vow_resolved(loop, vow_none()), return_null_thenable, NULL, NULL, NULL);
    run_a_while(loop);
    VOW_ASSERT_STATE(vow_state(d), VOW_REJECTED);
    VOW_ASSERT_CODE(vow_error_code(vow_error(d)), VOW_ENOMEM);
    vow_unref(d);
    VOW_TEST_END(loop);
}

Test(aplus, c2_3_3_3_subscribe_gets_its_ctx_and_a_resolver) {
    /* "call then with x as this": x's stand-in is the adapter's ctx. */
    vow_loop_t *loop = aplus_loop();
    tscript s = {.steps = {T_RESOLVE_INT}, .arg = {(void *)3}};
    vow_t *d = adopt(loop, &s);
    VOW_ASSERT_EQ(s.ctx_seen, &s);
    VOW_ASSERT_EQ(vow_value_int(vow_value(d)), 3);
    vow_unref(d);
    VOW_TEST_END(loop);
}

Test(aplus, c2_3_3_3_subscribe_runs_in_a_job_of_its_own) {
    vow_loop_t *loop = aplus_loop();
    tscript s = {.steps = {T_RESOLVE_INT}, .arg = {(void *)3}};
    vow_t *p = vow_new(loop);
    VOW_ASSERT_CODE(vow_resolve_with(p, vow_follow_thenable(tscript_thenable(&s))), 0);
    VOW_ASSERT_EQ(s.calls, 0, "subscribe called synchronously");
    run_a_while(loop);
    VOW_ASSERT_EQ(s.calls, 1);
    VOW_ASSERT_EQ(vow_value_int(vow_value(p)), 3);
    vow_unref(p);
    VOW_TEST_END(loop);
}

/* 2.3.3.3.1: resolvePromise(y) runs [[Resolve]](promise, y), whatever y is. */
Test(aplus, c2_3_3_3_1_resolve_with_y_runs_resolve_again) {
    vow_loop_t *loop = aplus_loop();
    /* y a plain value */
    tscript s1 = {.steps = {T_RESOLVE_PTR}, .arg = {&sentinel_a}};
    vow_t *d1 = adopt(loop, &s1);
    VOW_ASSERT_EQ(vow_value_ptr(vow_value(d1)), &sentinel_a);
    /* y a fulfilled promise, a pending one fulfilled later, a rejected one */
    vow_t *yf = vow_resolved(loop, vow_ptr(&sentinel_b, NULL));
    tscript s2 = {.steps = {T_RESOLVE_PROMISE}, .arg = {yf}};
    vow_t *d2 = adopt(loop, &s2);
    VOW_ASSERT_EQ(vow_value_ptr(vow_value(d2)), &sentinel_b);
    vow_t *yp = vow_new(loop);
    tscript s3 = {.steps = {T_RESOLVE_PROMISE}, .arg = {yp}};
    vow_t *d3 = adopt(loop, &s3);
    VOW_ASSERT_STATE(vow_state(d3), VOW_PENDING);
    VOW_ASSERT_CODE(vow_resolve(yp, vow_int(5)), 0);
    run_a_while(loop);
    VOW_ASSERT_EQ(vow_value_int(vow_value(d3)), 5);
    vow_error_t *e = vow_error_new(VOW_EBUSY, NULL);
    vow_t *yr = vow_rejected(loop, e);
    tscript s4 = {.steps = {T_RESOLVE_PROMISE}, .arg = {yr}};
    vow_t *d4 = adopt(loop, &s4);
    VOW_ASSERT_EQ(vow_error(d4), e);
    /* y a thenable (recursively), and one whose resolvePromise is called with a thenable
     * that rejects */
    tscript inner = {.steps = {T_RESOLVE_INT}, .arg = {(void *)8}};
    tscript s5 = {.steps = {T_RESOLVE_THENABLE}, .arg = {&inner}};
    vow_t *d5 = adopt(loop, &s5);
    VOW_ASSERT_EQ(inner.calls, 1);
    VOW_ASSERT_EQ(vow_value_int(vow_value(d5)), 8);
    tscript inner_rej = {.steps = {T_REJECT}, .arg = {e}};
    tscript mid = {.steps = {T_RESOLVE_THENABLE}, .arg = {&inner_rej}};
    tscript s6 = {.steps = {T_RESOLVE_THENABLE}, .arg = {&mid}};
    vow_t *d6 = adopt(loop, &s6);
    VOW_ASSERT_EQ(vow_error(d6), e);
    vow_unref(d1);
    vow_unref(d2);
    vow_unref(d3);
    vow_unref(d4);
    vow_unref(d5);
    vow_unref(d6);
    vow_unref(yf);
    vow_unref(yp);
    vow_unref(yr);
    VOW_TEST_END(loop);
}

Test(aplus, c2_3_3_3_2_reject_with_r_rejects_with_r) {
    vow_loop_t *loop = aplus_loop();
    vow_error_t *e = vow_error_new(VOW_EBUSY, "r");
    tscript s = {.steps = {T_REJECT}, .arg = {e}};
    vow_t *d = adopt(loop, &s);
    VOW_ASSERT_EQ(vow_error(d), e, "the same reason, not a copy");
    /* A reason that is itself a promise's is not unwrapped (rejections never adopt). */
    vow_unref(d);
    vow_error_unref(e);
    VOW_TEST_END(loop);
}

static void call_kept_later(vow_loop_t *loop, void *arg) {
    (void)loop;
    tscript *s = arg;
    s->rcs[4] = vow_resolver_resolve(s->kept, vow_ok_int(666));
    VOW_ASSERT_CODE(vow_resolver_reject(s->kept, vow_error_new(VOW_EINVAL, NULL)), VOW_ESETTLED);
    vow_resolver_unref(s->kept);
    s->kept = NULL;
}

Test(aplus, c2_3_3_3_3_first_call_wins) {
    vow_loop_t *loop = aplus_loop();
    vow_error_t *e = vow_error_new(VOW_EBUSY, NULL);
    vow_error_t *e2 = vow_error_new(VOW_EINVAL, NULL);
    struct {
        tscript s;
        int want_rejected;
        int64_t want_int;
        vow_error_t *want_err;
    } cases[] = {
        {{.steps = {T_RESOLVE_INT, T_RESOLVE_INT}, .arg = {(void *)1, (void *)2}}, 0, 1, NULL},
        {{.steps = {T_RESOLVE_INT, T_REJECT}, .arg = {(void *)1, e}}, 0, 1, NULL},
        {{.steps = {T_REJECT, T_RESOLVE_INT}, .arg = {e, (void *)2}}, 1, 0, e},
        {{.steps = {T_REJECT, T_REJECT}, .arg = {e, e2}}, 1, 0, e},
        {{.steps = {T_RESOLVE_INT, T_KEEP}, .arg = {(void *)1}}, 0, 1, NULL},
        {{.steps = {T_REJECT, T_KEEP}, .arg = {e}}, 1, 0, e},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tscript *s = &cases[i].s;
        the_script = s;
        vow_t *d = vow_then(vow_resolved(loop, vow_none()), return_thenable, NULL, NULL, NULL);
        /* Let subscribe run; then a kept resolver is called again from a timer. */
        VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
        if (s->kept != NULL) {
            VOW_ASSERT_CODE(vow_set_timeout(loop, call_kept_later, s, 2, NULL), 0);
            run_a_while(loop);
            VOW_ASSERT_CODE(s->rcs[4], VOW_ESETTLED, "case %zu: a later call was not ignored", i);
        }
        VOW_ASSERT_EQ(s->calls, 1);
        VOW_ASSERT_EQ(s->rcs[0], 0, "case %zu", i);
        VOW_ASSERT_EQ(s->rcs[1], cases[i].s.steps[1] == T_KEEP ? 0 : VOW_ESETTLED, "case %zu", i);
        if (cases[i].want_rejected) {
            VOW_ASSERT_EQ(vow_error(d), cases[i].want_err, "case %zu", i);
        } else {
            VOW_ASSERT_STATE(vow_state(d), VOW_FULFILLED, "case %zu", i);
            VOW_ASSERT_EQ(vow_value_int(vow_value(d)), cases[i].want_int, "case %zu", i);
        }
        vow_unref(d);
    }
    vow_error_unref(e);
    vow_error_unref(e2);
    VOW_TEST_END(loop);
}

Test(aplus, c2_3_3_3_3_resolving_with_a_pending_promise_counts_as_the_first_call) {
    /* resolvePromise(pendingY) then rejectPromise(r): the rejection is ignored, promise
     * follows y. */
    vow_loop_t *loop = aplus_loop();
    vow_t *y = vow_new(loop);
    vow_error_t *e = vow_error_new(VOW_EBUSY, NULL);
    tscript s = {.steps = {T_RESOLVE_PROMISE, T_REJECT, T_RESOLVE_INT}, .arg = {y, e, (void *)3}};
    vow_t *d = adopt(loop, &s);
    VOW_ASSERT_CODE(s.rcs[1], VOW_ESETTLED);
    VOW_ASSERT_CODE(s.rcs[2], VOW_ESETTLED);
    VOW_ASSERT_STATE(vow_state(d), VOW_PENDING, "following y, which is pending");
    VOW_ASSERT_CODE(vow_resolve(y, vow_ptr(&sentinel_a, NULL)), 0);
    run_a_while(loop);
    VOW_ASSERT_EQ(vow_value_ptr(vow_value(d)), &sentinel_a);
    vow_unref(d);
    vow_unref(y);
    vow_error_unref(e);
    VOW_TEST_END(loop);
}

/* 2.3.3.3.4: "if calling then throws e": subscribe returning a non-zero code. */
Test(aplus, c2_3_3_3_4_1_error_after_a_call_is_ignored) {
    vow_loop_t *loop = aplus_loop();
    vow_error_t *e = vow_error_new(VOW_EBUSY, NULL);
    tscript s1 = {.steps = {T_RESOLVE_INT}, .arg = {(void *)4}, .ret = VOW_EINVAL};
    vow_t *d1 = adopt(loop, &s1);
    VOW_ASSERT_EQ(vow_value_int(vow_value(d1)), 4);
    tscript s2 = {.steps = {T_REJECT}, .arg = {e}, .ret = VOW_EINVAL};
    vow_t *d2 = adopt(loop, &s2);
    VOW_ASSERT_EQ(vow_error(d2), e);
    vow_t *y = vow_new(loop);
    tscript s3 = {.steps = {T_RESOLVE_PROMISE}, .arg = {y}, .ret = VOW_EINVAL};
    vow_t *d3 = adopt(loop, &s3);
    VOW_ASSERT_STATE(vow_state(d3), VOW_PENDING, "still following y");
    VOW_ASSERT_CODE(vow_resolve(y, vow_int(6)), 0);
    run_a_while(loop);
    VOW_ASSERT_EQ(vow_value_int(vow_value(d3)), 6);
    vow_unref(d1);
    vow_unref(d2);
    vow_unref(d3);
    vow_unref(y);
    vow_error_unref(e);
    VOW_TEST_END(loop);
}

Test(aplus, c2_3_3_3_4_2_error_before_any_call_rejects) {
    vow_loop_t *loop = aplus_loop();
    tscript s = {.steps = {T_KEEP}, .ret = -4242};
    vow_t *d = adopt(loop, &s);
    VOW_ASSERT_STATE(vow_state(d), VOW_REJECTED);
    VOW_ASSERT_CODE(vow_error_code(vow_error(d)), -4242);
    /* A resolver kept past the failed subscribe is ignored afterwards. */
    VOW_ASSERT_CODE(vow_resolver_resolve(s.kept, vow_ok_int(1)), VOW_ESETTLED);
    vow_resolver_unref(s.kept);
    VOW_ASSERT_CODE(vow_error_code(vow_error(d)), -4242);
    vow_unref(d);
    VOW_TEST_END(loop);
}

/* 2.3.3.4: "then" is not a function: fulfil with x. In C a value is never inspected: a
 * pointer to a struct that happens to carry a `then` member is just a value. And an
 * adapter cannot be made with a subscribe that is not a function (NULL). */
typedef struct looks_thenable {
    int (*then)(void *ctx, vow_resolver_t *r);
    int value;
} looks_thenable;
static int looks_then_calls;
static int looks_then(void *ctx, vow_resolver_t *r) {
    (void)ctx;
    (void)r;
    looks_then_calls++;
    return 0;
}

Test(aplus, c2_3_3_4_a_value_is_never_taken_for_a_thenable) {
    vow_loop_t *loop = aplus_loop();
    looks_thenable x = {.then = looks_then, .value = 1};
    vow_t *d = vow_then(vow_resolved(loop, vow_none()), return_b, NULL, NULL, NULL);
    vow_t *p = vow_new(loop);
    VOW_ASSERT_CODE(vow_resolve(p, vow_ptr(&x, NULL)), 0);
    run_a_while(loop);
    VOW_ASSERT_EQ(vow_value_ptr(vow_value(p)), &x, "fulfilled with x itself");
    VOW_ASSERT_EQ(looks_then_calls, 0);
    /* An adapter without a subscribe function is x itself: following it fulfils with x. */
    vow_t *q = vow_new(loop);
    VOW_ASSERT_CODE(vow_resolve_with(q, vow_follow_thenable(vow_thenable_new(NULL, &x, NULL))), 0);
    run_a_while(loop);
    VOW_ASSERT_EQ(vow_value_ptr(vow_value(q)), &x, "a thenable without then fulfils with x");
    VOW_ASSERT_EQ(looks_then_calls, 0);
    vow_unref(q);
    vow_unref(d);
    vow_unref(p);
    VOW_TEST_END(loop);
}

/* 2.3.4: x not an object or function: fulfil with x. */
static vow_value_t plain_values[4];
static vow_result_t return_plain(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    (void)v;
    return vow_ok(plain_values[(intptr_t)ctx]);
}

Test(aplus, c2_3_4_plain_values_fulfil) {
    vow_loop_t *loop = aplus_loop();
    plain_values[0] = vow_none();
    plain_values[1] = vow_int(-3);
    plain_values[2] = vow_double(0.25);
    plain_values[3] = vow_ptr(NULL, NULL);
    vow_t *d[4];
    for (int i = 0; i < 4; i++)
        d[i] =
            vow_then(vow_resolved(loop, vow_none()), return_plain, NULL, (void *)(intptr_t)i, NULL);
    run_a_while(loop);
    for (int i = 0; i < 4; i++) VOW_ASSERT_STATE(vow_state(d[i]), VOW_FULFILLED);
    VOW_ASSERT_EQ(vow_value_kind(vow_value(d[0])), VOW_VAL_NONE);
    VOW_ASSERT_EQ(vow_value_int(vow_value(d[1])), -3);
    VOW_ASSERT_EQ(vow_value_double(vow_value(d[2])), 0.25);
    VOW_ASSERT_EQ(vow_value_kind(vow_value(d[3])), VOW_VAL_PTR);
    cr_assert_null(vow_value_ptr(vow_value(d[3])));
    for (int i = 0; i < 4; i++) vow_unref(d[i]);
    VOW_TEST_END(loop);
}
