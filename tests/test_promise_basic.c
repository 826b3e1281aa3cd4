/* tests/test_promise_basic.c - states, settling rules, values, vow_sleep, vow_run, and what
 * happens to promises that outlive their loop.
 *
 * Every callback run is counted in a *_calls variable and asserted; every test body ends
 * by closing the loop and checking that no vow allocation is live (VOW_TEST_END). */
#include <criterion/criterion.h>

#include "helpers.h"

TestSuite(promise_basic, .init = vow_test_setup, .fini = vow_test_teardown, .timeout = 20);

/* ---- shared helpers --------------------------------------------------------------- */

static int dtor_calls;
static void count_dtor(void *p) {
    (void)p;
    dtor_calls++;
}

/* A heap object whose destructor is counted (and frees it). */
static int obj_dtor_calls;
static void obj_free(void *p) {
    obj_dtor_calls++;
    free(p);
}
static int *obj_new(int v) {
    int *o = malloc(sizeof *o);
    cr_assert_not_null(o);
    *o = v;
    return o;
}

static int payload_dtor_calls;
static void payload_dtor(void *p) {
    (void)p;
    payload_dtor_calls++;
}

/* An error whose destruction is observable through payload_dtor_calls. */
static vow_error_t *tracked_error(int code, const char *msg) {
    vow_error_t *e = vow_error_new(code, msg);
    VOW_ASSERT_CODE(vow_error_set_payload(e, (void *)1, payload_dtor), 0);
    return e;
}

/* ---- vow_new, vow_resolve, vow_reject ------------------------------------------------ */

Test(promise_basic, new_is_pending_and_settles_by_resolve) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *p = vow_new(loop);
    cr_assert_not_null(p);
    VOW_ASSERT_STATE(vow_state(p), VOW_PENDING);
    cr_assert_null(vow_value(p));
    cr_assert_null(vow_error(p));
    VOW_ASSERT_EQ(vow_loop_of(p), loop);

    VOW_ASSERT_CODE(vow_resolve(p, vow_int(42)), 0);
    /* Settling itself is synchronous; only reactions wait for the microtask queue. */
    VOW_ASSERT_STATE(vow_state(p), VOW_FULFILLED);
    cr_assert_not_null(vow_value(p));
    VOW_ASSERT_EQ(vow_value_kind(vow_value(p)), VOW_VAL_INT);
    VOW_ASSERT_EQ(vow_value_int(vow_value(p)), 42);
    cr_assert_null(vow_error(p));
    vow_unref(p);
    VOW_TEST_END(loop);
}

Test(promise_basic, new_settles_by_reject) {
    vow_loop_t *loop = vow_test_loop();
    VOW_ASSERT_CODE(vow_set_unhandled_mode(loop, VOW_UNHANDLED_SILENT), 0);
    vow_t *p = vow_new(loop);
    vow_error_t *e = vow_error_new(VOW_ETIMEDOUT, "late");
    VOW_ASSERT_CODE(vow_reject(p, e), 0);
    VOW_ASSERT_STATE(vow_state(p), VOW_REJECTED);
    VOW_ASSERT_EQ(vow_error(p), e, "the promise holds the very error it was given");
    VOW_ASSERT_CODE(vow_error_code(vow_error(p)), VOW_ETIMEDOUT);
    cr_assert_str_eq(vow_error_message(vow_error(p)), "late");
    cr_assert_null(vow_value(p));
    vow_unref(p);
    VOW_TEST_END(loop);
}

Test(promise_basic, resolve_twice_is_esettled_and_changes_nothing) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *p = vow_new(loop);
    VOW_ASSERT_CODE(vow_resolve(p, vow_int(1)), 0);

    /* A second value is refused, and consumed: its destructor runs at once. */
    int marker = 0;
    VOW_ASSERT_CODE(vow_resolve(p, vow_ptr(&marker, count_dtor)), VOW_ESETTLED);
    VOW_ASSERT_EQ(dtor_calls, 1);
    /* A rejection is refused too, and its error released. */
    VOW_ASSERT_CODE(vow_reject(p, tracked_error(VOW_EINVAL, "no")), VOW_ESETTLED);
    VOW_ASSERT_EQ(payload_dtor_calls, 1);
    VOW_ASSERT_CODE(vow_resolve_with(p, vow_ok_int(3)), VOW_ESETTLED);

    VOW_ASSERT_STATE(vow_state(p), VOW_FULFILLED);
    VOW_ASSERT_EQ(vow_value_int(vow_value(p)), 1);
    vow_unref(p);
    VOW_TEST_END(loop);
}

Test(promise_basic, reject_then_resolve_is_esettled) {
    vow_loop_t *loop = vow_test_loop();
    VOW_ASSERT_CODE(vow_set_unhandled_mode(loop, VOW_UNHANDLED_SILENT), 0);
    vow_t *p = vow_new(loop);
    vow_error_t *e = vow_error_new(VOW_EINVAL, "first");
    VOW_ASSERT_CODE(vow_reject(p, e), 0);
    VOW_ASSERT_CODE(vow_resolve(p, vow_int(5)), VOW_ESETTLED);
    VOW_ASSERT_CODE(vow_reject(p, vow_error_new(VOW_EBUSY, "second")), VOW_ESETTLED);
    VOW_ASSERT_STATE(vow_state(p), VOW_REJECTED);
    VOW_ASSERT_EQ(vow_error(p), e);
    vow_unref(p);
    VOW_TEST_END(loop);
}

/* ---- derived promises may not be settled by the user -------------------------------- */

static vow_result_t ok_int_7(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    (void)v;
    (void)ctx;
    return vow_ok_int(7);
}

static void expect_eperm(vow_t *p) {
    int m = 0;
    dtor_calls = 0;
    VOW_ASSERT_CODE(vow_resolve(p, vow_ptr(&m, count_dtor)), VOW_EPERM);
    VOW_ASSERT_EQ(dtor_calls, 1, "a refused value is released at once");
    payload_dtor_calls = 0;
    VOW_ASSERT_CODE(vow_reject(p, tracked_error(VOW_EINVAL, "x")), VOW_EPERM);
    VOW_ASSERT_EQ(payload_dtor_calls, 1, "a refused error is released at once");
    VOW_ASSERT_CODE(vow_resolve_with(p, vow_ok_int(1)), VOW_EPERM);
}

Test(promise_basic, settling_a_derived_promise_is_eperm) {
    vow_loop_t *loop = vow_test_loop();
    VOW_ASSERT_CODE(vow_set_unhandled_mode(loop, VOW_UNHANDLED_SILENT), 0);

    vow_t *src = vow_new(loop);
    vow_t *d = vow_then(vow_ref(src), ok_int_7, NULL, NULL, NULL);
    cr_assert_not_null(d);
    expect_eperm(d);
    VOW_ASSERT_STATE(vow_state(d), VOW_PENDING);

    vow_t *s = vow_sleep(loop, 1);
    cr_assert_not_null(s);
    expect_eperm(s);
    VOW_ASSERT_STATE(vow_state(s), VOW_PENDING);

    vow_t *r = vow_resolved(loop, vow_int(3));
    expect_eperm(r);
    VOW_ASSERT_EQ(vow_value_int(vow_value(r)), 3);

    vow_t *j = vow_rejected(loop, vow_error_new(VOW_EBUSY, NULL));
    expect_eperm(j);
    VOW_ASSERT_CODE(vow_error_code(vow_error(j)), VOW_EBUSY);

    vow_t *f = vow_finally(vow_ref(src), NULL, NULL, NULL);
    expect_eperm(f);
    vow_t *c = vow_catch(vow_ref(src), NULL, NULL, NULL);
    expect_eperm(c);

    /* The refusals changed nothing: the derived promises still settle their own way. */
    VOW_ASSERT_CODE(vow_resolve(src, vow_int(1)), 0);
    VOW_ASSERT_CODE(vow_run(loop, vow_ref(s), NULL), 0);
    VOW_ASSERT_STATE(vow_state(s), VOW_FULFILLED);
    VOW_ASSERT_STATE(vow_state(d), VOW_FULFILLED);
    VOW_ASSERT_EQ(vow_value_int(vow_value(d)), 7);
    VOW_ASSERT_EQ(vow_value_int(vow_value(f)), 1);
    VOW_ASSERT_EQ(vow_value_int(vow_value(c)), 1);

    vow_unref(src);
    vow_unref(d);
    vow_unref(s);
    vow_unref(r);
    vow_unref(j);
    vow_unref(f);
    vow_unref(c);
    VOW_TEST_END(loop);
}

/* ---- a promise locked onto another one ------------------------------------------------- */

Test(promise_basic, locked_promise_refuses_resolve_and_stays_pending) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *p = vow_new(loop);
    vow_t *q = vow_new(loop);
    VOW_ASSERT_CODE(vow_resolve_with(p, vow_follow(vow_ref(q))), 0);
    VOW_ASSERT_STATE(vow_state(p), VOW_PENDING, "a locked promise is still pending");

    int m = 0;
    VOW_ASSERT_CODE(vow_resolve(p, vow_ptr(&m, count_dtor)), VOW_ESETTLED);
    VOW_ASSERT_EQ(dtor_calls, 1);
    VOW_ASSERT_CODE(vow_reject(p, vow_error_new(VOW_EINVAL, NULL)), VOW_ESETTLED);
    VOW_ASSERT_CODE(vow_resolve_with(p, vow_follow(vow_resolved(loop, vow_int(9)))), VOW_ESETTLED);
    VOW_ASSERT_STATE(vow_state(p), VOW_PENDING);

    /* Run the adoption jobs: p still waits for q. */
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_STATE(vow_state(p), VOW_PENDING);
    VOW_ASSERT_CODE(vow_resolve(p, vow_int(2)), VOW_ESETTLED);

    VOW_ASSERT_CODE(vow_resolve(q, vow_int(11)), 0);
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, vow_ref(p), &out), 0);
    VOW_ASSERT_STATE(out.state, VOW_FULFILLED);
    VOW_ASSERT_EQ(vow_value_int(&out.value), 11, "p took q's value, not any refused one");
    vow_outcome_release(&out);
    vow_unref(p);
    vow_unref(q);
    VOW_TEST_END(loop);
}

Test(promise_basic, resolving_with_itself_rejects_with_etype) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *p = vow_new(loop);
    VOW_ASSERT_CODE(vow_resolve_with(p, vow_follow(vow_ref(p))), 0);
    VOW_ASSERT_STATE(vow_state(p), VOW_REJECTED);
    VOW_ASSERT_CODE(vow_error_code(vow_error(p)), VOW_ETYPE);
    VOW_ASSERT_CODE(vow_resolve(p, vow_int(1)), VOW_ESETTLED);

    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, vow_ref(p), &out), 0);
    VOW_ASSERT_STATE(out.state, VOW_REJECTED);
    VOW_ASSERT_CODE(vow_error_code(out.error), VOW_ETYPE);
    vow_outcome_release(&out);
    vow_unref(p);
    VOW_TEST_END(loop);
}

/* ---- vow_sleep ------------------------------------------------------------------------ */

static int sleep_ok_calls;
static uint64_t sleep_fired_at;
static vow_result_t on_sleep(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)ctx;
    sleep_ok_calls++;
    VOW_ASSERT_EQ(vow_value_kind(v), VOW_VAL_NONE, "vow_sleep fulfils with nothing");
    sleep_fired_at = vow_loop_update_time(loop);
    return vow_ok_none();
}

Test(promise_basic, sleep_fulfils_after_its_delay) {
    vow_loop_t *loop = vow_test_loop();
    uint64_t t0 = vow_loop_update_time(loop);
    /* Long enough to be still pending after the NOWAIT turn below, however slow the
     * machine (30 ms was not always, under valgrind). */
    vow_t *s = vow_sleep(loop, 200);
    cr_assert_not_null(s);
    VOW_ASSERT_STATE(vow_state(s), VOW_PENDING);
    cr_assert_gt(vow_loop_alive(loop), 0, "the sleep's timer keeps the loop alive");
    vow_t *d = vow_then(vow_ref(s), on_sleep, NULL, NULL, NULL);
    VOW_ASSERT_EQ(vow_loop_run(loop, VOW_RUN_NOWAIT), 1, "work remains while it sleeps");
    VOW_ASSERT_STATE(vow_state(s), VOW_PENDING);
    VOW_ASSERT_EQ(sleep_ok_calls, 0);

    /* vow_run does not report ENEVER: the timer will settle it. */
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, d, &out), 0);
    VOW_ASSERT_STATE(out.state, VOW_FULFILLED);
    VOW_ASSERT_EQ(sleep_ok_calls, 1);
    VOW_ASSERT_STATE(vow_state(s), VOW_FULFILLED);
    cr_assert_geq(sleep_fired_at - t0, 200, "fired after %llu ms",
                  (unsigned long long)(sleep_fired_at - t0));
    VOW_ASSERT_EQ(vow_loop_alive(loop), 0);
    vow_outcome_release(&out);
    vow_unref(s);
    VOW_TEST_END(loop);
}

Test(promise_basic, sleep_without_user_reference_still_fires) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *d = vow_then(vow_sleep(loop, 5), on_sleep, NULL, NULL, NULL);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(sleep_ok_calls, 1);
    VOW_ASSERT_STATE(vow_state(d), VOW_FULFILLED);
    vow_unref(d);
    VOW_TEST_END(loop);
}

Test(promise_basic, loop_close_is_busy_while_a_sleep_waits) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *s = vow_sleep(loop, 10);
    VOW_ASSERT_CODE(vow_loop_close(loop), VOW_EBUSY);
    VOW_ASSERT_CODE(vow_run(loop, s, NULL), 0);
    VOW_TEST_END(loop);
}

/* ---- vow_run -------------------------------------------------------------------------- */

Test(promise_basic, run_on_unsettleable_promise_is_enever) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *p = vow_new(loop);
    vow_outcome_t out;
    out.state = VOW_FULFILLED; /* garbage the call must overwrite */
    VOW_ASSERT_CODE(vow_run(loop, vow_ref(p), &out), VOW_ENEVER);
    VOW_ASSERT_STATE(out.state, VOW_PENDING);
    cr_assert_null(out.error);
    VOW_ASSERT_STATE(vow_state(p), VOW_PENDING);

    /* A derived promise of it can never settle either. */
    VOW_ASSERT_CODE(vow_run(loop, vow_then(vow_ref(p), ok_int_7, NULL, NULL, NULL), NULL),
                    VOW_ENEVER);
    /* Once settled, the same promise runs fine. */
    VOW_ASSERT_CODE(vow_resolve(p, vow_int(4)), 0);
    VOW_ASSERT_CODE(vow_run(loop, vow_ref(p), &out), 0);
    VOW_ASSERT_EQ(vow_value_int(&out.value), 4);
    vow_outcome_release(&out);
    vow_unref(p);
    VOW_TEST_END(loop);
}

static int stop_calls;
static void stop_from_timer(vow_loop_t *loop, void *arg) {
    (void)arg;
    stop_calls++;
    vow_loop_stop(loop);
}

Test(promise_basic, run_interrupted_by_loop_stop_is_eintr) {
    vow_loop_t *loop = vow_test_loop();
    /* The stopping timer first: made first with the shorter delay, it is due first however
     * slow the machine. */
    VOW_ASSERT_CODE(vow_set_timeout(loop, stop_from_timer, NULL, 1, NULL), 0);
    vow_t *s = vow_sleep(loop, 50);
    vow_outcome_t out;
    out.state = VOW_FULFILLED;
    VOW_ASSERT_CODE(vow_run(loop, vow_ref(s), &out), VOW_EINTR);
    VOW_ASSERT_EQ(stop_calls, 1);
    VOW_ASSERT_STATE(out.state, VOW_PENDING);
    VOW_ASSERT_STATE(vow_state(s), VOW_PENDING);
    /* The next run starts afresh and finishes the sleep. */
    VOW_ASSERT_CODE(vow_run(loop, s, &out), 0);
    VOW_ASSERT_STATE(out.state, VOW_FULFILLED);
    vow_outcome_release(&out);
    VOW_TEST_END(loop);
}

static int reentrant_calls;
static int reentrant_rc;
static int reentrant_loop_run_rc;
static vow_state_t reentrant_out_state;
static vow_result_t run_from_reaction(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)v;
    (void)ctx;
    reentrant_calls++;
    vow_outcome_t out;
    out.state = VOW_FULFILLED;
    reentrant_rc = vow_run(loop, vow_resolved(loop, vow_int(1)), &out);
    reentrant_out_state = out.state;
    reentrant_loop_run_rc = vow_loop_run(loop, VOW_RUN_NOWAIT);
    return vow_ok_int(5);
}

Test(promise_basic, run_from_inside_a_reaction_is_ereentrant) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *d = vow_then(vow_resolved(loop, vow_none()), run_from_reaction, NULL, NULL, NULL);
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, d, &out), 0);
    VOW_ASSERT_EQ(reentrant_calls, 1);
    VOW_ASSERT_CODE(reentrant_rc, VOW_EREENTRANT);
    VOW_ASSERT_STATE(reentrant_out_state, VOW_PENDING);
    VOW_ASSERT_CODE(reentrant_loop_run_rc, VOW_EREENTRANT);
    VOW_ASSERT_EQ(vow_value_int(&out.value), 5, "the outer run is unaffected");
    vow_outcome_release(&out);
    VOW_TEST_END(loop);
}

static void run_from_timer(vow_loop_t *loop, void *arg) {
    (void)arg;
    reentrant_calls++;
    reentrant_rc = vow_run(loop, vow_resolved(loop, vow_none()), NULL);
}

Test(promise_basic, run_from_a_timer_callback_is_ereentrant) {
    vow_loop_t *loop = vow_test_loop();
    VOW_ASSERT_CODE(vow_set_timeout(loop, run_from_timer, NULL, 1, NULL), 0);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(reentrant_calls, 1);
    VOW_ASSERT_CODE(reentrant_rc, VOW_EREENTRANT);
    VOW_TEST_END(loop);
}

Test(promise_basic, outcome_owns_one_reference_to_the_value) {
    vow_loop_t *loop = vow_test_loop();
    int *o = obj_new(17);
    vow_outcome_t out;
    /* vow_run consumes the only reference: the promise is gone when it returns. */
    VOW_ASSERT_CODE(vow_run(loop, vow_resolved(loop, vow_ptr(o, obj_free)), &out), 0);
    VOW_ASSERT_STATE(out.state, VOW_FULFILLED);
    VOW_ASSERT_EQ(vow_value_ptr(&out.value), o);
    VOW_ASSERT_EQ(obj_dtor_calls, 0, "the outcome keeps the value alive");
    VOW_ASSERT_EQ(*(int *)vow_value_ptr(&out.value), 17);
    vow_outcome_release(&out);
    VOW_ASSERT_EQ(obj_dtor_calls, 1);
    VOW_ASSERT_STATE(out.state, VOW_PENDING);
    vow_outcome_release(&out); /* releasing twice is harmless */
    VOW_ASSERT_EQ(obj_dtor_calls, 1);
    VOW_TEST_END(loop);
}

Test(promise_basic, outcome_owns_one_reference_to_the_error) {
    vow_loop_t *loop = vow_test_loop();
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, vow_rejected(loop, tracked_error(VOW_EBUSY, "b")), &out), 0);
    VOW_ASSERT_STATE(out.state, VOW_REJECTED);
    VOW_ASSERT_CODE(vow_error_code(out.error), VOW_EBUSY);
    VOW_ASSERT_EQ(payload_dtor_calls, 0, "the outcome keeps the error alive");
    vow_outcome_release(&out);
    VOW_ASSERT_EQ(payload_dtor_calls, 1);
    cr_assert_null(out.error);
    VOW_TEST_END(loop);
}

Test(promise_basic, outcome_shares_with_a_promise_still_held) {
    vow_loop_t *loop = vow_test_loop();
    int *o = obj_new(3);
    vow_t *p = vow_resolved(loop, vow_ptr(o, obj_free));
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, vow_ref(p), &out), 0);
    vow_outcome_release(&out);
    VOW_ASSERT_EQ(obj_dtor_calls, 0, "the promise still holds the value");
    VOW_ASSERT_EQ(vow_value_ptr(vow_value(p)), o);
    vow_unref(p);
    VOW_ASSERT_EQ(obj_dtor_calls, 1);
    VOW_TEST_END(loop);
}

/* ---- values ------------------------------------------------------------------------- */

Test(promise_basic, value_accessors) {
    vow_value_t n = vow_none();
    VOW_ASSERT_EQ(vow_value_kind(&n), VOW_VAL_NONE);
    VOW_ASSERT_EQ(vow_value_int(&n), 0);
    VOW_ASSERT_EQ(vow_value_double(&n), 0.0);
    cr_assert_null(vow_value_ptr(&n));

    vow_value_t i = vow_int(-5);
    VOW_ASSERT_EQ(vow_value_kind(&i), VOW_VAL_INT);
    VOW_ASSERT_EQ(vow_value_int(&i), -5);
    VOW_ASSERT_EQ(vow_value_double(&i), -5.0);
    cr_assert_null(vow_value_ptr(&i));
    vow_value_t big = vow_int(INT64_MIN);
    VOW_ASSERT_EQ(vow_value_int(&big), INT64_MIN);

    vow_value_t d = vow_double(2.75);
    VOW_ASSERT_EQ(vow_value_kind(&d), VOW_VAL_DOUBLE);
    VOW_ASSERT_EQ(vow_value_double(&d), 2.75);
    VOW_ASSERT_EQ(vow_value_int(&d), 2, "doubles are truncated");
    vow_value_t dn = vow_double(-2.75);
    VOW_ASSERT_EQ(vow_value_int(&dn), -2, "truncated toward zero");
    cr_assert_null(vow_value_ptr(&d));

    int x = 0;
    vow_value_t p = vow_ptr(&x, NULL);
    VOW_ASSERT_EQ(vow_value_kind(&p), VOW_VAL_PTR);
    VOW_ASSERT_EQ(vow_value_ptr(&p), &x);
    VOW_ASSERT_EQ(vow_value_int(&p), 0);
    VOW_ASSERT_EQ(vow_value_double(&p), 0.0);

    VOW_ASSERT_EQ(vow_value_kind(NULL), VOW_VAL_NONE);
    VOW_ASSERT_EQ(vow_value_int(NULL), 0);
    VOW_ASSERT_EQ(vow_value_double(NULL), 0.0);
    cr_assert_null(vow_value_ptr(NULL));

    /* A pointer without destructor stays the caller's: releasing it never frees. */
    vow_value_release(&p);
    VOW_ASSERT_EQ(vow_value_kind(&p), VOW_VAL_NONE);
    /* A pointer value with a destructor owns it: release runs the destructor once. */
    vow_value_t owned = vow_ptr(&x, count_dtor);
    vow_value_release(&owned);
    vow_value_release(&owned);
    VOW_ASSERT_EQ(dtor_calls, 1);
}

static vow_value_t seen_values[4];
static int values_calls;
static vow_result_t record_value(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    (void)ctx;
    seen_values[values_calls++] = *v;
    return vow_ok_none();
}

Test(promise_basic, every_value_kind_reaches_a_reaction) {
    vow_loop_t *loop = vow_test_loop();
    int x = 0;
    vow_t *ds[4];
    ds[0] = vow_then(vow_resolved(loop, vow_none()), record_value, NULL, NULL, NULL);
    ds[1] = vow_then(vow_resolved(loop, vow_int(-9)), record_value, NULL, NULL, NULL);
    ds[2] = vow_then(vow_resolved(loop, vow_double(0.5)), record_value, NULL, NULL, NULL);
    ds[3] = vow_then(vow_resolved(loop, vow_ptr(&x, NULL)), record_value, NULL, NULL, NULL);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(values_calls, 4);
    VOW_ASSERT_EQ(vow_value_kind(&seen_values[0]), VOW_VAL_NONE);
    VOW_ASSERT_EQ(vow_value_int(&seen_values[1]), -9);
    VOW_ASSERT_EQ(vow_value_double(&seen_values[2]), 0.5);
    VOW_ASSERT_EQ(vow_value_ptr(&seen_values[3]), &x);
    for (int i = 0; i < 4; i++) vow_unref(ds[i]);
    VOW_TEST_END(loop);
}

Test(promise_basic, integers_and_doubles_allocate_nothing) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *a = vow_new(loop);
    vow_t *b = vow_new(loop);
    vow_t *c = vow_new(loop);
    vow_t *d = vow_new(loop);
    vow_t *e = vow_new(loop);

    long t0 = vow_test_alloc_total();
    VOW_ASSERT_CODE(vow_resolve(a, vow_int(123456789)), 0);
    VOW_ASSERT_CODE(vow_resolve(b, vow_double(1e300)), 0);
    VOW_ASSERT_CODE(vow_resolve(c, vow_none()), 0);
    int x = 0;
    VOW_ASSERT_CODE(vow_resolve(d, vow_ptr(&x, NULL)), 0);
    VOW_ASSERT_EQ(vow_test_alloc_total() - t0, 0, "int/double/none/plain ptr allocated");

    /* A pointer with a destructor needs its shared box: exactly one allocation. */
    VOW_ASSERT_CODE(vow_resolve(e, vow_ptr(&x, count_dtor)), 0);
    VOW_ASSERT_EQ(vow_test_alloc_total() - t0, 1);

    /* Sharing a value never copies it: no allocation either. */
    long t1 = vow_test_alloc_total();
    vow_value_t s = vow_value_share(vow_value(e));
    vow_value_t si = vow_value_share(vow_value(a));
    VOW_ASSERT_EQ(vow_test_alloc_total() - t1, 0);
    vow_value_release(&s);
    vow_value_release(&si);
    VOW_ASSERT_EQ(dtor_calls, 0, "the promise still owns it");

    vow_unref(a);
    vow_unref(b);
    vow_unref(c);
    vow_unref(d);
    vow_unref(e);
    VOW_ASSERT_EQ(dtor_calls, 1);
    VOW_TEST_END(loop);
}

/* ---- promises that outlive their loop ---------------------------------------------- */

static int free_ctx_calls;
static void free_ctx(void *ctx) {
    (void)ctx;
    free_ctx_calls++;
}

Test(promise_basic, loop_free_leaves_user_handles_closed) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *pending = vow_new(loop);
    vow_t *done = vow_resolved(loop, vow_int(1));
    int *o = obj_new(1);
    vow_t *boxed = vow_resolved(loop, vow_ptr(o, obj_free));
    vow_t *sleeping = vow_sleep(loop, 100000);
    vow_t *derived = vow_then(vow_ref(pending), ok_int_7, NULL, (void *)1, free_ctx);
    VOW_ASSERT_EQ(free_ctx_calls, 0);

    VOW_ASSERT_CODE(vow_loop_free(loop), 0);
    VOW_ASSERT_EQ(free_ctx_calls, 1, "the dropped reaction's ctx_free ran");
    cr_assert_leq(obj_dtor_calls, 1);

    int m = 0;
    VOW_ASSERT_CODE(vow_resolve(pending, vow_ptr(&m, count_dtor)), VOW_ECLOSED);
    VOW_ASSERT_EQ(dtor_calls, 1, "the refused value was released");
    VOW_ASSERT_CODE(vow_reject(pending, tracked_error(VOW_EINVAL, NULL)), VOW_ECLOSED);
    VOW_ASSERT_EQ(payload_dtor_calls, 1);
    VOW_ASSERT_CODE(vow_resolve_with(pending, vow_follow(vow_ref(done))), VOW_ECLOSED);
    VOW_ASSERT_CODE(vow_resolve(derived, vow_int(1)), VOW_ECLOSED);
    cr_assert_null(vow_loop_of(pending));
    cr_assert_null(vow_value(done));
    cr_assert_null(vow_value(boxed));

    /* vow_then on a closed promise returns NULL, consumes the subject, runs ctx_free. */
    cr_assert_null(vow_then(vow_ref(done), ok_int_7, NULL, (void *)1, free_ctx));
    VOW_ASSERT_EQ(free_ctx_calls, 2);
    cr_assert_null(vow_catch(vow_ref(done), NULL, (void *)1, free_ctx));
    VOW_ASSERT_EQ(free_ctx_calls, 3);
    cr_assert_null(vow_finally(vow_ref(done), NULL, (void *)1, free_ctx));
    VOW_ASSERT_EQ(free_ctx_calls, 4);
    VOW_ASSERT_CODE(vow_run(loop, vow_ref(sleeping), NULL), VOW_ECLOSED);

    cr_assert_gt(vow_test_live_allocs(), 0, "the handles (and the loop's struct) remain");
    vow_unref(pending);
    vow_unref(done);
    vow_unref(boxed);
    vow_unref(sleeping);
    vow_unref(derived);
    VOW_ASSERT_EQ(obj_dtor_calls, 1, "the value's destructor ran exactly once");
    /* The loop was freed by the test itself, so VOW_TEST_END (which closes it) cannot be
     * used: its zero-live-allocations check is made here. */
    VOW_ASSERT_EQ(vow_test_live_allocs(), 0, "%ld vow allocation(s) still live",
                  vow_test_live_allocs());
}

Test(promise_basic, adoption_cycle_stays_pending_and_loop_free_frees_it) {
    vow_loop_t *loop = vow_test_loop();
    long base = vow_test_live_allocs();
    vow_t *p = vow_new(loop);
    vow_t *q = vow_new(loop);
    VOW_ASSERT_CODE(vow_resolve_with(p, vow_follow(vow_ref(q))), 0);
    VOW_ASSERT_CODE(vow_resolve_with(q, vow_follow(vow_ref(p))), 0);
    vow_t *dp = vow_then(vow_ref(p), ok_int_7, NULL, (void *)1, free_ctx);

    VOW_ASSERT_CODE(vow_run(loop, vow_ref(p), NULL), VOW_ENEVER);
    VOW_ASSERT_STATE(vow_state(p), VOW_PENDING);
    VOW_ASSERT_STATE(vow_state(q), VOW_PENDING);
    VOW_ASSERT_STATE(vow_state(dp), VOW_PENDING);
    VOW_ASSERT_CODE(vow_resolve(p, vow_int(1)), VOW_ESETTLED);
    VOW_ASSERT_CODE(vow_resolve(q, vow_int(1)), VOW_ESETTLED);

    vow_unref(p);
    vow_unref(q);
    vow_unref(dp);
    /* Nobody holds them any more, but they hold each other. */
    cr_assert_gt(vow_test_live_allocs(), base, "the cycle is still allocated");
    VOW_ASSERT_EQ(free_ctx_calls, 0);
    VOW_TEST_END_FORCED(loop);
    VOW_ASSERT_EQ(free_ctx_calls, 1);
}

Test(promise_basic, adoption_cycle_is_broken_by_gentle_close_too) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *p = vow_new(loop);
    vow_t *q = vow_new(loop);
    VOW_ASSERT_CODE(vow_resolve_with(p, vow_follow(q)), 0);
    VOW_ASSERT_CODE(vow_resolve_with(q, vow_follow(p)), 0);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    /* Nothing keeps the loop alive, so the gentle close succeeds and frees the cycle. */
    VOW_TEST_END(loop);
}

/* ---- references ------------------------------------------------------------------------ */

Test(promise_basic, ref_and_unref_balance) {
    vow_loop_t *loop = vow_test_loop();
    int *o = obj_new(0);
    vow_t *p = vow_resolved(loop, vow_ptr(o, obj_free));
    VOW_ASSERT_EQ(vow_ref(p), p);
    cr_assert_null(vow_ref(NULL));
    vow_unref(NULL);
    vow_unref(p);
    VOW_ASSERT_EQ(obj_dtor_calls, 0);
    vow_unref(p);
    VOW_ASSERT_EQ(obj_dtor_calls, 1);
    VOW_TEST_END(loop);
}

Test(promise_basic, dropping_a_pending_promise_cancels_nothing) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *p = vow_new(loop);
    vow_t *d = vow_then(vow_ref(p), on_sleep, NULL, NULL, NULL);
    vow_unref(d); /* nobody holds the derived promise: its reaction still runs */
    VOW_ASSERT_CODE(vow_resolve(p, vow_none()), 0);
    vow_unref(p);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(sleep_ok_calls, 1);
    VOW_TEST_END(loop);
}
