/* tests/test_promise_errors.c - every misuse of the promise API returns its code, and
 * whatever the call was given to consume (a value, an error, a promise, a context) is
 * released exactly once on that error path. */
#include <criterion/criterion.h>

#include "counted.h"
#include "helpers.h"

TestSuite(promise_errors, .init = vow_test_setup, .fini = vow_test_teardown, .timeout = 20);

static int dtor_calls;
static void count_dtor(void *p) {
    (void)p;
    dtor_calls++;
}

static int payload_calls;
static void payload_dtor(void *p) {
    (void)p;
    payload_calls++;
}
static vow_error_t *tracked_error(int code) {
    vow_error_t *e = vow_error_new(code, NULL);
    VOW_ASSERT_CODE(vow_error_set_payload(e, (void *)1, payload_dtor), 0);
    return e;
}

static int reaction_calls;
static vow_result_t on_ok(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    (void)v;
    (void)ctx;
    reaction_calls++;
    return vow_ok_none();
}
static vow_result_t on_err(vow_loop_t *loop, vow_error_t *e, void *ctx) {
    (void)loop;
    (void)e;
    (void)ctx;
    reaction_calls++;
    return vow_ok_none();
}
static vow_result_t on_fin(vow_loop_t *loop, void *ctx) {
    (void)loop;
    (void)ctx;
    reaction_calls++;
    return vow_ok_none();
}

static void count_microtask(vow_loop_t *loop, void *arg) {
    (void)loop;
    (void)arg;
    reaction_calls++;
}

/* ---- NULL arguments ---------------------------------------------------------------- */

Test(promise_errors, then_catch_finally_on_null_return_null_and_free_ctx) {
    vow_loop_t *loop = vow_test_loop();
    cr_assert_null(vow_then(NULL, on_ok, on_err, (void *)1, ctx_free_count));
    VOW_ASSERT_EQ(ctx_free_calls, 1);
    cr_assert_null(vow_catch(NULL, on_err, (void *)1, ctx_free_count));
    VOW_ASSERT_EQ(ctx_free_calls, 2);
    cr_assert_null(vow_finally(NULL, on_fin, (void *)1, ctx_free_count));
    VOW_ASSERT_EQ(ctx_free_calls, 3);
    /* Without ctx_free, nothing to run, still NULL. */
    cr_assert_null(vow_then(NULL, on_ok, NULL, NULL, NULL));
    /* An inline chain that starts from NULL ends in NULL. */
    cr_assert_null(vow_then(vow_then(NULL, on_ok, NULL, (void *)1, ctx_free_count), on_ok, NULL,
                            (void *)1, ctx_free_count));
    VOW_ASSERT_EQ(ctx_free_calls, 5);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(reaction_calls, 0);
    VOW_TEST_END(loop);
}

Test(promise_errors, settle_null_is_einval_and_releases_the_argument) {
    vow_loop_t *loop = vow_test_loop();
    int x = 0;
    VOW_ASSERT_CODE(vow_resolve(NULL, vow_ptr(&x, count_dtor)), VOW_EINVAL);
    VOW_ASSERT_EQ(dtor_calls, 1, "the value's destructor ran");
    VOW_ASSERT_CODE(vow_resolve(NULL, vow_int(1)), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_reject(NULL, tracked_error(VOW_EBUSY)), VOW_EINVAL);
    VOW_ASSERT_EQ(payload_calls, 1, "the error was released");
    VOW_ASSERT_CODE(vow_reject(NULL, NULL), VOW_EINVAL);

    /* A promise to follow is consumed too: its last reference goes. */
    vow_t *q = vow_resolved(loop, vow_ptr(&x, count_dtor));
    VOW_ASSERT_CODE(vow_resolve_with(NULL, vow_follow(q)), VOW_EINVAL);
    VOW_ASSERT_EQ(dtor_calls, 2, "the followed promise (and its value) was freed");
    VOW_ASSERT_CODE(vow_resolve_with(NULL, vow_ok(vow_ptr(&x, count_dtor))), VOW_EINVAL);
    VOW_ASSERT_EQ(dtor_calls, 3);
    VOW_TEST_END(loop);
}

Test(promise_errors, constructors_with_null_loop) {
    int x = 0;
    cr_assert_null(vow_new(NULL));
    cr_assert_null(vow_sleep(NULL, 1));
    cr_assert_null(vow_resolved(NULL, vow_ptr(&x, count_dtor)));
    VOW_ASSERT_EQ(dtor_calls, 1, "vow_resolved consumed the value");
    cr_assert_null(vow_rejected(NULL, tracked_error(VOW_EBUSY)));
    VOW_ASSERT_EQ(payload_calls, 1, "vow_rejected consumed the error");
    VOW_ASSERT_EQ(vow_test_live_allocs(), 0);
}

Test(promise_errors, run_argument_errors) {
    vow_loop_t *loop = vow_test_loop();
    int x = 0;
    vow_outcome_t out;

    /* NULL loop: EINVAL, and p is still consumed. */
    out.state = VOW_FULFILLED;
    VOW_ASSERT_CODE(vow_run(NULL, vow_resolved(loop, vow_ptr(&x, count_dtor)), &out), VOW_EINVAL);
    VOW_ASSERT_STATE(out.state, VOW_PENDING);
    VOW_ASSERT_EQ(dtor_calls, 1, "vow_run consumed p on the error path");

    out.state = VOW_FULFILLED;
    VOW_ASSERT_CODE(vow_run(loop, NULL, &out), VOW_EINVAL);
    VOW_ASSERT_STATE(out.state, VOW_PENDING);
    cr_assert_null(out.error);
    VOW_ASSERT_CODE(vow_run(NULL, NULL, NULL), VOW_EINVAL);
    VOW_TEST_END(loop);
}

Test(promise_errors, run_with_a_promise_of_another_loop_is_einval) {
    vow_loop_t *loop = vow_test_loop();
    vow_loop_t *other = vow_test_loop();
    int x = 0;
    vow_t *p = vow_resolved(other, vow_ptr(&x, count_dtor));
    vow_outcome_t out;
    out.state = VOW_FULFILLED;
    VOW_ASSERT_CODE(vow_run(loop, vow_ref(p), &out), VOW_EINVAL);
    VOW_ASSERT_STATE(out.state, VOW_PENDING);
    VOW_ASSERT_EQ(dtor_calls, 0);
    /* A pending one of another loop, too (it must not run the other loop). */
    vow_t *s = vow_sleep(other, 1);
    VOW_ASSERT_CODE(vow_run(loop, vow_ref(s), NULL), VOW_EINVAL);
    VOW_ASSERT_STATE(vow_state(s), VOW_PENDING);
    VOW_ASSERT_CODE(vow_run(other, s, NULL), 0);
    vow_unref(p);
    VOW_ASSERT_EQ(dtor_calls, 1);
    VOW_ASSERT_CODE(vow_loop_close(other), 0);
    VOW_TEST_END(loop);
}

Test(promise_errors, following_a_promise_of_another_loop_rejects_with_einval) {
    vow_loop_t *loop = vow_test_loop();
    vow_loop_t *other = vow_test_loop();
    vow_t *p = vow_new(loop);
    VOW_ASSERT_CODE(vow_resolve_with(p, vow_follow(vow_resolved(other, vow_int(1)))), 0);
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, p, &out), 0);
    VOW_ASSERT_STATE(out.state, VOW_REJECTED);
    VOW_ASSERT_CODE(vow_error_code(out.error), VOW_EINVAL);
    vow_outcome_release(&out);
    VOW_ASSERT_CODE(vow_loop_close(other), 0);
    VOW_TEST_END(loop);
}

/* ---- closed loop ------------------------------------------------------------------- */

static vow_resolver_t *kept_resolver;
static int keep_subscribe(void *ctx, vow_resolver_t *r) {
    (void)ctx;
    kept_resolver = vow_resolver_ref(r);
    return 0;
}

Test(promise_errors, everything_on_a_closed_loop_answers_eclosed) {
    vow_loop_t *loop = vow_test_loop();
    /* A handle held by the user keeps the loop's memory valid after vow_loop_free. */
    vow_t *held = vow_new(loop);
    vow_t *s = vow_new(loop);
    VOW_ASSERT_CODE(
        vow_resolve_with(s, vow_follow_thenable(vow_thenable_new(keep_subscribe, NULL, NULL))), 0);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    cr_assert_not_null(kept_resolver);
    vow_unref(s);
    VOW_ASSERT_CODE(vow_loop_free(loop), 0);

    int x = 0;
    cr_assert_null(vow_new(loop));
    cr_assert_null(vow_sleep(loop, 1));
    cr_assert_null(vow_resolved(loop, vow_ptr(&x, count_dtor)));
    VOW_ASSERT_EQ(dtor_calls, 1);
    cr_assert_null(vow_rejected(loop, tracked_error(VOW_EBUSY)));
    VOW_ASSERT_EQ(payload_calls, 1);
    VOW_ASSERT_CODE(vow_resolve(held, vow_ptr(&x, count_dtor)), VOW_ECLOSED);
    VOW_ASSERT_EQ(dtor_calls, 2);
    VOW_ASSERT_CODE(vow_reject(held, tracked_error(VOW_EBUSY)), VOW_ECLOSED);
    VOW_ASSERT_EQ(payload_calls, 2);
    cr_assert_null(vow_then(vow_ref(held), on_ok, on_err, (void *)1, ctx_free_count));
    VOW_ASSERT_EQ(ctx_free_calls, 1);
    VOW_ASSERT_CODE(vow_run(loop, vow_ref(held), NULL), VOW_ECLOSED);
    VOW_ASSERT_CODE(vow_set_rejection_hook(loop, NULL, NULL), VOW_ECLOSED);
    VOW_ASSERT_CODE(vow_set_unhandled_mode(loop, VOW_UNHANDLED_SILENT), VOW_ECLOSED);
    VOW_ASSERT_CODE(vow_microtask(loop, count_microtask, NULL), VOW_ECLOSED);
    VOW_ASSERT_CODE(vow_resolver_resolve(kept_resolver, vow_ok(vow_ptr(&x, count_dtor))),
                    VOW_ECLOSED);
    VOW_ASSERT_EQ(dtor_calls, 3);
    VOW_ASSERT_CODE(vow_resolver_reject(kept_resolver, tracked_error(VOW_EBUSY)), VOW_ECLOSED);
    VOW_ASSERT_EQ(payload_calls, 3);
    VOW_ASSERT_STATE(vow_state(held), VOW_PENDING);
    cr_assert_null(vow_loop_of(held));
    VOW_ASSERT_EQ(reaction_calls, 0);

    vow_resolver_unref(kept_resolver);
    vow_unref(held);
    /* The test freed the loop itself; VOW_TEST_END's leak check is made here. */
    VOW_ASSERT_EQ(vow_test_live_allocs(), 0, "%ld vow allocation(s) still live",
                  vow_test_live_allocs());
}

/* ---- misuse from inside the loop ------------------------------------------------------ */

static int inner_free_rc, inner_close_rc;
static vow_result_t teardown_from_reaction(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)v;
    (void)ctx;
    reaction_calls++;
    inner_free_rc = vow_loop_free(loop);
    inner_close_rc = vow_loop_close(loop);
    return vow_ok_none();
}

Test(promise_errors, loop_teardown_from_a_reaction_is_ereentrant) {
    vow_loop_t *loop = vow_test_loop();
    VOW_ASSERT_CODE(
        vow_run(loop,
                vow_then(vow_resolved(loop, vow_none()), teardown_from_reaction, NULL, NULL, NULL),
                NULL),
        0);
    VOW_ASSERT_EQ(reaction_calls, 1);
    VOW_ASSERT_CODE(inner_free_rc, VOW_EREENTRANT);
    VOW_ASSERT_CODE(inner_close_rc, VOW_EREENTRANT);
    VOW_TEST_END(loop);
}

/* ---- bad results and bad arguments ------------------------------------------------------ */

Test(promise_errors, fail_with_null_is_a_type_error) {
    vow_loop_t *loop = vow_test_loop();
    /* Several rejections wait for their vow_run in turn: keep stderr quiet. */
    VOW_ASSERT_CODE(vow_set_unhandled_mode(loop, VOW_UNHANDLED_SILENT), 0);
    vow_result_t r = vow_fail(NULL);
    VOW_ASSERT_EQ(r.kind, VOW_RESULT_ERROR);
    cr_assert_not_null(r.error);
    VOW_ASSERT_CODE(vow_error_code(r.error), VOW_ETYPE);
    vow_t *p = vow_new(loop);
    VOW_ASSERT_CODE(vow_resolve_with(p, r), 0);
    VOW_ASSERT_CODE(vow_error_code(vow_error(p)), VOW_ETYPE);
    vow_t *q = vow_new(loop);
    VOW_ASSERT_CODE(vow_reject(q, NULL), 0);
    VOW_ASSERT_CODE(vow_error_code(vow_error(q)), VOW_ETYPE);
    vow_t *j = vow_rejected(loop, NULL);
    VOW_ASSERT_CODE(vow_error_code(vow_error(j)), VOW_ETYPE);
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, p, &out), 0);
    VOW_ASSERT_CODE(vow_error_code(out.error), VOW_ETYPE);
    vow_outcome_release(&out);
    VOW_ASSERT_CODE(vow_run(loop, q, NULL), 0);
    VOW_ASSERT_CODE(vow_run(loop, j, NULL), 0);
    VOW_TEST_END(loop);
}

static vow_result_t return_fail_null(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    (void)v;
    (void)ctx;
    reaction_calls++;
    return vow_fail(NULL);
}

Test(promise_errors, reaction_failing_with_null_rejects_with_etype) {
    vow_loop_t *loop = vow_test_loop();
    vow_outcome_t out;
    VOW_ASSERT_CODE(
        vow_run(loop, vow_then(vow_resolved(loop, vow_none()), return_fail_null, NULL, NULL, NULL),
                &out),
        0);
    VOW_ASSERT_EQ(reaction_calls, 1);
    VOW_ASSERT_STATE(out.state, VOW_REJECTED);
    VOW_ASSERT_CODE(vow_error_code(out.error), VOW_ETYPE);
    vow_outcome_release(&out);
    VOW_TEST_END(loop);
}

Test(promise_errors, follow_null_means_out_of_memory) {
    vow_loop_t *loop = vow_test_loop();
    /* Several rejections wait for their vow_run in turn: keep stderr quiet. */
    VOW_ASSERT_CODE(vow_set_unhandled_mode(loop, VOW_UNHANDLED_SILENT), 0);
    vow_t *p = vow_new(loop);
    VOW_ASSERT_CODE(vow_resolve_with(p, vow_follow(NULL)), 0);
    VOW_ASSERT_CODE(vow_error_code(vow_error(p)), VOW_ENOMEM);
    vow_t *q = vow_new(loop);
    VOW_ASSERT_CODE(vow_resolve_with(q, vow_follow_thenable(NULL)), 0);
    VOW_ASSERT_CODE(vow_error_code(vow_error(q)), VOW_ENOMEM);
    VOW_ASSERT_CODE(vow_run(loop, p, NULL), 0);
    VOW_ASSERT_CODE(vow_run(loop, q, NULL), 0);
    VOW_TEST_END(loop);
}

Test(promise_errors, resolver_null_is_einval_and_releases_the_argument) {
    int x = 0;
    VOW_ASSERT_CODE(vow_resolver_resolve(NULL, vow_ok(vow_ptr(&x, count_dtor))), VOW_EINVAL);
    VOW_ASSERT_EQ(dtor_calls, 1);
    VOW_ASSERT_CODE(vow_resolver_reject(NULL, tracked_error(VOW_EBUSY)), VOW_EINVAL);
    VOW_ASSERT_EQ(payload_calls, 1);
    cr_assert_null(vow_resolver_ref(NULL));
    vow_resolver_unref(NULL);
    vow_loop_t *loop = vow_test_loop();
    VOW_TEST_END(loop);
}

Test(promise_errors, rejection_settings_validate_their_arguments) {
    vow_loop_t *loop = vow_test_loop();
    VOW_ASSERT_CODE(vow_set_rejection_hook(NULL, NULL, NULL), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_set_unhandled_mode(NULL, VOW_UNHANDLED_SILENT), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_set_unhandled_mode(loop, (vow_unhandled_mode_t)42), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_set_unhandled_mode(loop, (vow_unhandled_mode_t)-1), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_set_unhandled_mode(loop, VOW_UNHANDLED_STRICT), 0);
    VOW_ASSERT_CODE(vow_set_unhandled_mode(loop, VOW_UNHANDLED_WARN), 0);
    VOW_ASSERT_CODE(vow_set_rejection_hook(loop, NULL, NULL), 0);
    VOW_TEST_END(loop);
}

Test(promise_errors, inspectors_accept_null) {
    VOW_ASSERT_STATE(vow_state(NULL), VOW_PENDING);
    cr_assert_null(vow_value(NULL));
    cr_assert_null(vow_error(NULL));
    cr_assert_null(vow_loop_of(NULL));
    vow_outcome_release(NULL);
    vow_value_release(NULL);
    vow_value_t s = vow_value_share(NULL);
    VOW_ASSERT_EQ(vow_value_kind(&s), VOW_VAL_NONE);
    vow_loop_t *loop = vow_test_loop();
    VOW_TEST_END(loop);
}

Test(promise_errors, settle_errors_in_order_of_precedence) {
    vow_loop_t *loop = vow_test_loop();
    /* EPERM wins over ESETTLED: a settled derived promise still says EPERM. */
    vow_t *r = vow_resolved(loop, vow_int(1));
    VOW_ASSERT_CODE(vow_resolve(r, vow_int(2)), VOW_EPERM);
    /* ESETTLED for a settled vow_new promise. */
    vow_t *p = vow_new(loop);
    VOW_ASSERT_CODE(vow_resolve(p, vow_int(1)), 0);
    VOW_ASSERT_CODE(vow_resolve(p, vow_int(2)), VOW_ESETTLED);
    VOW_ASSERT_EQ(vow_value_int(vow_value(p)), 1);
    vow_unref(p);
    vow_unref(r);
    VOW_TEST_END(loop);
}

/* A vow_result_t of a kind outside its enum (issue 18, item 3): vow_resolve_with answers
 * VOW_EINVAL and touches nothing; a reaction that returns one rejects its derived promise
 * with VOW_EINVAL (the next drain used to crash in the thenable path). */
static vow_result_t bad_kind(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v, (void)ctx;
    vow_result_t r;
    memset(&r, 0, sizeof r);
    r.kind = (vow_result_kind_t)77;
    return r;
}

Test(promise_errors, a_result_of_unknown_kind_is_einval) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *p = vow_new(loop);
    vow_result_t r;
    memset(&r, 0, sizeof r);
    r.kind = (vow_result_kind_t)77;
    VOW_ASSERT_CODE(vow_resolve_with(p, r), VOW_EINVAL);
    VOW_ASSERT_STATE(vow_state(p), VOW_PENDING);
    VOW_ASSERT_CODE(vow_resolve(p, vow_int(1)), 0, "p was not touched");
    vow_t *d = vow_then(vow_ref(p), bad_kind, NULL, NULL, NULL);
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, d, &out), 0);
    VOW_ASSERT_STATE(out.state, VOW_REJECTED);
    VOW_ASSERT_CODE(vow_error_code(out.error), VOW_EINVAL);
    vow_outcome_release(&out);
    vow_unref(p);
    VOW_TEST_END(loop);
}
