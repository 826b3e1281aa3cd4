/* tests/test_scope.c - vow/scope.h: acquire, body, release in that order; release runs
 * after success, failure and cancellation (of the acquire, the body, or with the acquired
 * resource's reaction queued); the outcome is the body's, release's error after a success,
 * or release's error caused by the body's; a vow_timeout around a scope settles after the
 * release; the loop freed in the middle; the resource (a counted object) freed once. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "counted.h"
#include "helpers.h"

TestSuite(scope, .init = vow_test_setup, .fini = vow_test_teardown, .timeout = 30);

/* What the callbacks do, and what they saw. */
static struct {
    int acquire_fails, body_fails, release_fails;
    uint64_t acquire_ms, body_ms, release_ms;
    int body_never; /* the body returns a promise nothing settles (counted cancel) */
    char trace[64];
    int body_cancels;
    int release_error_code; /* the code release saw (0: NULL) */
    int res_id;
} S;

static void reset(void) {
    memset(&S, 0, sizeof S);
    memset(obj_freed, 0, sizeof obj_freed);
    obj_made = 0;
    ctx_free_calls = 0;
}
static void mark(char c) {
    size_t n = strlen(S.trace);
    S.trace[n] = c;
    S.trace[n + 1] = '\0';
}

static vow_result_t give_resource(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v, (void)ctx;
    if (S.acquire_fails) return vow_fail_code(VOW_EUSER, "acquire failed");
    return vow_ok(vow_ptr(obj_new(), obj_free));
}
static vow_t *acquire(vow_loop_t *loop, void *ctx) {
    (void)ctx;
    mark('a');
    return vow_then_ok(vow_sleep(loop, S.acquire_ms), give_resource, NULL);
}

static void count_body_cancel(vow_loop_t *loop, void *ctx) {
    (void)loop, (void)ctx;
    S.body_cancels++;
}
static vow_result_t body_result(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v, (void)ctx;
    mark('B');
    if (S.body_fails) return vow_fail_code(VOW_EUSER, "body failed");
    return vow_ok_int(42);
}
static vow_t *body(vow_loop_t *loop, const vow_value_t *res, void *ctx) {
    (void)ctx;
    mark('b');
    S.res_id = ((const obj *)vow_value_ptr(res))->id;
    if (S.body_never) {
        vow_t *p = vow_new(loop);
        cr_assert_eq(vow_on_cancel(p, count_body_cancel, NULL, NULL), 0);
        return p;
    }
    return vow_then_ok(vow_sleep(loop, S.body_ms), body_result, NULL);
}

static vow_result_t release_result(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v, (void)ctx;
    mark('R');
    if (S.release_fails) return vow_fail_code(VOW_EBUSY, "release failed");
    return vow_ok_none();
}
static vow_t *release(vow_loop_t *loop, const vow_value_t *res, vow_error_t *err, void *ctx) {
    (void)ctx;
    mark('r');
    cr_assert_eq(((const obj *)vow_value_ptr(res))->id, S.res_id, "release sees the resource");
    S.release_error_code = err != NULL ? vow_error_code(err) : 0;
    return vow_then_ok(vow_sleep(loop, S.release_ms), release_result, NULL);
}

static vow_t *scope(vow_loop_t *loop) {
    vow_t *p = vow_scope(loop, acquire, body, release, NULL, ctx_free_count);
    cr_assert_not_null(p);
    return p;
}

Test(scope, success_runs_the_three_steps_in_order_and_gives_the_bodys_value) {
    reset();
    vow_loop_t *loop = vow_test_loop();
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, scope(loop), &out), 0);
    VOW_ASSERT_STATE(out.state, VOW_FULFILLED);
    VOW_ASSERT_EQ(vow_value_int(&out.value), (int64_t)42);
    VOW_ASSERT_STR_EQ(S.trace, "abBrR");
    VOW_ASSERT_EQ(S.release_error_code, 0);
    VOW_ASSERT_EQ(ctx_free_calls, 1);
    vow_outcome_release(&out);
    expect_every_obj_freed_once();
    VOW_ASSERT_EQ(obj_made, 1);
    VOW_TEST_END(loop);
}

Test(scope, a_body_failure_is_released_and_kept) {
    reset();
    S.body_fails = 1;
    vow_loop_t *loop = vow_test_loop();
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, scope(loop), &out), 0);
    VOW_ASSERT_STR_EQ(vow_error_message(out.error), "body failed");
    VOW_ASSERT_STR_EQ(S.trace, "abBrR");
    VOW_ASSERT_CODE(S.release_error_code, VOW_EUSER, "release saw the body's error");
    vow_outcome_release(&out);
    expect_every_obj_freed_once();
    VOW_TEST_END(loop);
}

Test(scope, a_release_failure_after_success_is_the_outcome) {
    reset();
    S.release_fails = 1;
    vow_loop_t *loop = vow_test_loop();
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, scope(loop), &out), 0);
    VOW_ASSERT_CODE(vow_error_code(out.error), VOW_EBUSY);
    cr_assert_null(vow_error_cause(out.error));
    vow_outcome_release(&out);
    expect_every_obj_freed_once();
    VOW_TEST_END(loop);
}

Test(scope, a_release_failure_after_a_body_failure_is_caused_by_it) {
    reset();
    S.body_fails = S.release_fails = 1;
    vow_loop_t *loop = vow_test_loop();
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, scope(loop), &out), 0);
    VOW_ASSERT_CODE(vow_error_code(out.error), VOW_EBUSY);
    VOW_ASSERT_STR_EQ(vow_error_message(out.error), "release failed");
    VOW_ASSERT_STR_EQ(vow_error_message(vow_error_cause(out.error)), "body failed");
    vow_error_t *own = vow_error_payload(out.error);
    cr_assert_not_null(own, "release's own error rides as the payload");
    VOW_ASSERT_STR_EQ(vow_error_message(own), "release failed");
    vow_outcome_release(&out);
    expect_every_obj_freed_once();
    VOW_TEST_END(loop);
}

Test(scope, an_acquire_failure_runs_neither_body_nor_release) {
    reset();
    S.acquire_fails = 1;
    vow_loop_t *loop = vow_test_loop();
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, scope(loop), &out), 0);
    VOW_ASSERT_STR_EQ(vow_error_message(out.error), "acquire failed");
    VOW_ASSERT_STR_EQ(S.trace, "a");
    VOW_ASSERT_EQ(ctx_free_calls, 1);
    vow_outcome_release(&out);
    VOW_TEST_END(loop);
}

Test(scope, cancelling_during_the_body_cancels_it_and_settles_after_release) {
    reset();
    S.body_never = 1;
    S.release_ms = 5;
    vow_loop_t *loop = vow_test_loop();
    vow_t *p = scope(loop);
    /* Run until the body waits. */
    VOW_ASSERT_CODE(vow_run(loop, vow_sleep(loop, 10), NULL), 0);
    VOW_ASSERT_STR_EQ(S.trace, "ab");
    VOW_ASSERT_CODE(vow_cancel(p), VOW_CANCEL_DECLINED, "it settles after its release");
    VOW_ASSERT_EQ(S.body_cancels, 1, "the body is cancelled");
    VOW_ASSERT_STATE(vow_state(p), VOW_PENDING);
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, vow_ref(p), &out), 0);
    VOW_ASSERT_STR_EQ(S.trace, "abrR", "release ran before the scope settled");
    VOW_ASSERT_CODE(S.release_error_code, VOW_ECANCELED);
    cr_assert(vow_is_cancellation(out.error), "the outcome is the cancellation");
    vow_outcome_release(&out);
    vow_unref(p);
    VOW_ASSERT_EQ(ctx_free_calls, 1);
    expect_every_obj_freed_once();
    VOW_TEST_END(loop);
}

Test(scope, a_release_failure_after_a_cancel_is_caused_by_the_cancellation) {
    reset();
    S.body_never = 1;
    S.release_fails = 1;
    vow_loop_t *loop = vow_test_loop();
    vow_t *p = scope(loop);
    VOW_ASSERT_CODE(vow_run(loop, vow_sleep(loop, 5), NULL), 0);
    vow_cancel(p);
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, p, &out), 0);
    VOW_ASSERT_CODE(vow_error_code(out.error), VOW_EBUSY);
    cr_assert(vow_is_cancellation(vow_error_cause(out.error)));
    vow_outcome_release(&out);
    expect_every_obj_freed_once();
    VOW_TEST_END(loop);
}

Test(scope, cancelling_during_acquire_runs_no_body_and_no_release) {
    reset();
    S.acquire_ms = 50;
    vow_loop_t *loop = vow_test_loop();
    vow_t *p = scope(loop);
    VOW_ASSERT_CODE(vow_cancel(p), VOW_CANCEL_DECLINED);
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, p, &out), 0);
    cr_assert(vow_is_cancellation(out.error));
    VOW_ASSERT_STR_EQ(S.trace, "a");
    VOW_ASSERT_EQ(obj_made, 0, "nothing was acquired");
    vow_outcome_release(&out);
    VOW_ASSERT_EQ(ctx_free_calls, 1);
    VOW_TEST_END(loop);
}

static vow_t *acquire_now(vow_loop_t *loop, void *ctx) {
    (void)ctx;
    mark('a');
    return vow_resolved(loop, vow_ptr(obj_new(), obj_free));
}

Test(scope, cancelled_with_the_acquired_resource_on_its_way_releases_it) {
    reset();
    vow_loop_t *loop = vow_test_loop();
    vow_t *p = vow_scope(loop, acquire_now, body, release, NULL, ctx_free_count);
    VOW_ASSERT_CODE(vow_cancel(p), VOW_CANCEL_DECLINED);
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, p, &out), 0);
    cr_assert(vow_is_cancellation(out.error));
    VOW_ASSERT_STR_EQ(S.trace, "arR", "no body; the resource is released");
    vow_outcome_release(&out);
    expect_every_obj_freed_once();
    VOW_TEST_END(loop);
}

static int timeout_seen_trace;
static vow_result_t check_trace(vow_loop_t *loop, vow_error_t *e, void *ctx) {
    (void)loop, (void)ctx;
    timeout_seen_trace = strcmp(S.trace, "abrR") == 0;
    return vow_fail(vow_error_ref(e));
}

Test(scope, a_timeout_around_a_scope_settles_after_its_release) {
    reset();
    S.body_never = 1;
    S.release_ms = 10;
    vow_loop_t *loop = vow_test_loop();
    vow_t *t = vow_catch(vow_timeout(scope(loop), 5, 0), check_trace, NULL, NULL);
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, t, &out), 0);
    VOW_ASSERT_CODE(vow_error_code(out.error), VOW_ETIMEDOUT);
    cr_assert(timeout_seen_trace, "the timeout settled before the release finished: %s", S.trace);
    vow_outcome_release(&out);
    expect_every_obj_freed_once();
    VOW_TEST_END(loop);
}

Test(scope, freeing_the_loop_mid_body_frees_everything_once) {
    reset();
    S.body_never = 1;
    vow_loop_t *loop = vow_test_loop();
    vow_t *p = scope(loop);
    VOW_ASSERT_CODE(vow_run(loop, vow_sleep(loop, 5), NULL), 0);
    VOW_ASSERT_CODE(vow_loop_free(loop), 0);
    VOW_ASSERT_EQ(ctx_free_calls, 1);
    vow_unref(p);
    expect_every_obj_freed_once();
    VOW_ASSERT_EQ(vow_test_live_allocs(), 0L);
}

Test(scope, the_scopes_promise_belongs_to_vow) {
    reset();
    vow_loop_t *loop = vow_test_loop();
    vow_t *p = scope(loop);
    VOW_ASSERT_CODE(vow_resolve(p, vow_int(1)), VOW_EPERM);
    VOW_ASSERT_CODE(vow_on_cancel(p, count_body_cancel, NULL, NULL), VOW_EPERM);
    VOW_ASSERT_CODE(vow_run(loop, p, NULL), 0);
    expect_every_obj_freed_once();
    VOW_TEST_END(loop);
}

/* scope.h: while the scope waits for its release, a second vow_cancel rejects it at once
 * (release still runs to its end, and the resource is freed once). */
Test(scope, a_second_cancel_while_releasing_rejects_at_once) {
    reset();
    S.body_never = 1;
    S.release_ms = 5;
    vow_loop_t *loop = vow_test_loop();
    vow_t *p = scope(loop);
    VOW_ASSERT_CODE(vow_run(loop, vow_sleep(loop, 10), NULL), 0);
    VOW_ASSERT_CODE(vow_cancel(p), VOW_CANCEL_DECLINED);
    VOW_ASSERT_STATE(vow_state(p), VOW_PENDING, "waiting for its release");
    VOW_ASSERT_CODE(vow_cancel(p), 0, "the second cancel");
    VOW_ASSERT_STATE(vow_state(p), VOW_REJECTED);
    cr_assert(vow_is_cancellation(vow_error(p)));
    VOW_ASSERT_CODE(vow_run(loop, vow_sleep(loop, 20), NULL), 0);
    VOW_ASSERT_STR_EQ(S.trace, "abrR", "release finished all the same");
    vow_unref(p);
    VOW_ASSERT_EQ(ctx_free_calls, 1);
    expect_every_obj_freed_once();
    VOW_TEST_END(loop);
}

/* Each allocation failing in turn: vow_scope answers NULL (ctx_free ran, no callback), or
 * the scope settles (fulfilled, or rejected with VOW_ENOMEM); ctx_free ran once, the
 * resource was freed once if it was made, and nothing is left. */
Test(scope, every_allocation_failing_in_turn_ends_cleanly) {
    long k = 1, made = 0;
    for (;; k++) {
        reset();
        vow_loop_t *loop = vow_test_loop_without_pools();
        vow_set_unhandled_mode(loop, VOW_UNHANDLED_SILENT);
        vow_test_fail_at(vow_test_alloc_total() + k);
        long failed_before = vow_test_failed_allocs();
        vow_t *p = vow_scope(loop, acquire, body, release, NULL, ctx_free_count);
        if (p == NULL) {
            VOW_ASSERT_EQ(ctx_free_calls, 1, "k %ld", k);
            VOW_ASSERT_STR_EQ(S.trace, "", "no callback ran (k %ld)", k);
        } else {
            vow_outcome_t out;
            VOW_ASSERT_CODE(vow_run(loop, p, &out), 0, "k %ld", k);
            if (out.state == VOW_FULFILLED)
                VOW_ASSERT_EQ(vow_value_int(&out.value), (int64_t)42, "k %ld", k);
            else
                VOW_ASSERT_CODE(vow_error_code(out.error), VOW_ENOMEM, "k %ld", k);
            vow_outcome_release(&out);
            VOW_ASSERT_EQ(ctx_free_calls, 1, "k %ld", k);
        }
        int failed = vow_test_failed_allocs() > failed_before;
        vow_test_fail_at(0);
        /* A step whose promise the scope could not watch (out of memory) was dropped, not
         * cancelled: its timer still runs out. */
        VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
        expect_every_obj_freed_once();
        VOW_TEST_END(loop);
        if (!failed) break; /* k is past the scope's last allocation */
        made++;
    }
    cr_assert_gt(made, 5, "the sweep failed %ld allocations", made);
}
