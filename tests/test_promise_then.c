/* tests/test_promise_then.c - reactions: when they run, in which order, what flows through
 * then/catch/finally, context destructors, heap values with destructors, and foreign
 * thenables adopted through the explicit adapter (vow_thenable_new). */
#include <criterion/criterion.h>

#include "counted.h"
#include "helpers.h"

TestSuite(promise_then, .init = vow_test_setup, .fini = vow_test_teardown, .timeout = 20);

/* ---- shared helpers --------------------------------------------------------------- */

/* An order log: reactions append small integers. */
static int order_log[64];
static int order_len;
static void log_push(int v) {
    cr_assert_lt(order_len, 64);
    order_log[order_len++] = v;
}
static void expect_log(const int *want, int n) {
    VOW_ASSERT_EQ(order_len, n, "log has %d entries, expected %d", order_len, n);
    for (int i = 0; i < n; i++)
        VOW_ASSERT_EQ(order_log[i], want[i], "log[%d] = %d, expected %d", i, order_log[i], want[i]);
}

static int payload_freed;
static void payload_free(void *p) {
    (void)p;
    payload_freed++;
}

static int ok_calls;
static vow_result_t ok_count(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    (void)ctx;
    ok_calls++;
    return vow_ok(vow_value_share(v));
}

static int err_calls;
static vow_result_t err_count(vow_loop_t *loop, vow_error_t *e, void *ctx) {
    (void)loop;
    (void)ctx;
    err_calls++;
    return vow_fail(vow_error_ref(e));
}

/* ---- reactions never run synchronously ------------------------------------------------ */

Test(promise_then, reaction_never_runs_inside_then_or_resolve) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *p = vow_new(loop);
    vow_t *d1 = vow_then(vow_ref(p), ok_count, NULL, NULL, NULL);
    VOW_ASSERT_EQ(ok_calls, 0);
    VOW_ASSERT_CODE(vow_resolve(p, vow_int(1)), 0);
    VOW_ASSERT_EQ(ok_calls, 0, "reaction ran inside vow_resolve");
    /* then on an already-settled promise does not run it either. */
    vow_t *d2 = vow_then(vow_ref(p), ok_count, NULL, NULL, NULL);
    VOW_ASSERT_EQ(ok_calls, 0, "reaction ran inside vow_then");
    vow_t *d3 = vow_then(vow_resolved(loop, vow_int(2)), ok_count, NULL, NULL, NULL);
    VOW_ASSERT_EQ(ok_calls, 0);

    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(ok_calls, 3);
    vow_unref(p);
    vow_unref(d1);
    vow_unref(d2);
    vow_unref(d3);
    VOW_TEST_END(loop);
}

static int depth, max_depth, nested_calls;
static vow_t *nest_pending;
static vow_result_t nested_inner(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    (void)v;
    (void)ctx;
    depth++;
    if (depth > max_depth) max_depth = depth;
    nested_calls++;
    depth--;
    return vow_ok_none();
}
static vow_result_t nested_outer(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)v;
    (void)ctx;
    depth++;
    if (depth > max_depth) max_depth = depth;
    nested_calls++;
    /* Settle a promise with a reaction waiting, and attach reactions to settled ones:
     * none of them may run before this reaction returns. */
    int before = nested_calls;
    VOW_ASSERT_CODE(vow_resolve(nest_pending, vow_int(1)), 0);
    vow_unref(vow_then(vow_resolved(loop, vow_int(2)), nested_inner, NULL, NULL, NULL));
    vow_unref(vow_then(vow_ref(nest_pending), nested_inner, NULL, NULL, NULL));
    VOW_ASSERT_EQ(nested_calls, before, "a reaction ran nested inside another");
    depth--;
    return vow_ok_none();
}

Test(promise_then, reactions_never_nest) {
    vow_loop_t *loop = vow_test_loop();
    nest_pending = vow_new(loop);
    vow_unref(vow_then(vow_ref(nest_pending), nested_inner, NULL, NULL, NULL));
    vow_unref(vow_then(vow_resolved(loop, vow_none()), nested_outer, NULL, NULL, NULL));
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(nested_calls, 4);
    VOW_ASSERT_EQ(max_depth, 1, "max reaction depth %d", max_depth);
    vow_unref(nest_pending);
    VOW_TEST_END(loop);
}

static void timer_resolves(vow_loop_t *loop, void *arg) {
    (void)loop;
    int before = ok_calls;
    VOW_ASSERT_CODE(vow_resolve(arg, vow_int(5)), 0);
    VOW_ASSERT_EQ(ok_calls, before, "reaction ran inside the timer callback");
}

Test(promise_then, reactions_run_after_the_timer_callback_returns) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *p = vow_new(loop);
    vow_t *d = vow_then(vow_ref(p), ok_count, NULL, NULL, NULL);
    VOW_ASSERT_CODE(vow_set_timeout(loop, timer_resolves, p, 1, NULL), 0);
    VOW_ASSERT_CODE(vow_run(loop, d, NULL), 0);
    VOW_ASSERT_EQ(ok_calls, 1);
    vow_unref(p);
    VOW_TEST_END(loop);
}

/* ---- several thens on one promise ----------------------------------------------------- */

static int seen_value_ok;
static vow_result_t log_index_ok(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    int i = (int)(intptr_t)ctx;
    log_push(i);
    if (vow_value_int(v) == 7) seen_value_ok++;
    return vow_ok_int(100 + i); /* each returns something else: others must not see it */
}
static vow_result_t log_index_err(vow_loop_t *loop, vow_error_t *e, void *ctx) {
    (void)loop;
    int i = (int)(intptr_t)ctx;
    log_push(i);
    if (vow_error_code(e) == VOW_EBUSY) seen_value_ok++;
    return vow_fail_code(VOW_EINVAL, "replaced"); /* must not change what others see */
}

static void several_thens(int settle_first, int reject) {
    vow_loop_t *loop = vow_test_loop();
    /* The derived promises end rejected with nobody to handle them. */
    VOW_ASSERT_CODE(vow_set_unhandled_mode(loop, VOW_UNHANDLED_SILENT), 0);
    vow_t *p = vow_new(loop);
    if (settle_first) {
        if (reject)
            vow_reject(p, vow_error_new(VOW_EBUSY, NULL));
        else
            vow_resolve(p, vow_int(7));
    }
    vow_t *d[6];
    for (int i = 0; i < 6; i++)
        d[i] = vow_then(vow_ref(p), log_index_ok, log_index_err, (void *)(intptr_t)i, NULL);
    if (!settle_first) {
        if (reject)
            vow_reject(p, vow_error_new(VOW_EBUSY, NULL));
        else
            vow_resolve(p, vow_int(7));
    }
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    int want[] = {0, 1, 2, 3, 4, 5};
    expect_log(want, 6);
    VOW_ASSERT_EQ(seen_value_ok, 6, "every reaction saw the original outcome");
    for (int i = 0; i < 6; i++) {
        if (reject) {
            VOW_ASSERT_CODE(vow_error_code(vow_error(d[i])), VOW_EINVAL);
        } else {
            VOW_ASSERT_EQ(vow_value_int(vow_value(d[i])), 100 + i);
        }
        vow_unref(d[i]);
    }
    vow_unref(p);
    VOW_TEST_END(loop);
}

Test(promise_then, several_thens_run_in_registration_order_pending) { several_thens(0, 0); }
Test(promise_then, several_thens_run_in_registration_order_settled) { several_thens(1, 0); }
Test(promise_then, several_rejection_handlers_in_order_pending) { several_thens(0, 1); }
Test(promise_then, several_rejection_handlers_in_order_settled) { several_thens(1, 1); }

/* ---- pass-through ---------------------------------------------------------------------- */

Test(promise_then, missing_on_ok_passes_the_value_through) {
    vow_loop_t *loop = vow_test_loop();
    obj *o = obj_new();
    vow_t *d = vow_then(vow_resolved(loop, vow_ptr(o, obj_free)), NULL, err_count, (void *)1,
                        ctx_free_count);
    d = vow_catch(d, err_count, NULL, NULL);
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, d, &out), 0);
    VOW_ASSERT_STATE(out.state, VOW_FULFILLED);
    VOW_ASSERT_EQ(vow_value_ptr(&out.value), o, "the same pointer, not a copy");
    VOW_ASSERT_EQ(err_calls, 0);
    VOW_ASSERT_EQ(ctx_free_calls, 1, "ctx_free runs even when no reaction of it ran");
    VOW_ASSERT_EQ(obj_freed[0], 0);
    vow_outcome_release(&out);
    VOW_ASSERT_EQ(obj_freed[0], 1);
    VOW_TEST_END(loop);
}

Test(promise_then, missing_on_err_passes_the_error_through) {
    vow_loop_t *loop = vow_test_loop();
    vow_error_t *e = vow_error_new(VOW_ERANGE, "out");
    VOW_ASSERT_CODE(vow_error_set_payload(e, (void *)1, payload_free), 0);
    vow_t *d = vow_then(vow_rejected(loop, e), ok_count, NULL, (void *)1, ctx_free_count);
    d = vow_then(d, ok_count, NULL, NULL, NULL);
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, d, &out), 0);
    VOW_ASSERT_STATE(out.state, VOW_REJECTED);
    VOW_ASSERT_EQ(out.error, e, "the same error object");
    VOW_ASSERT_EQ(ok_calls, 0);
    VOW_ASSERT_EQ(ctx_free_calls, 1);
    VOW_ASSERT_EQ(payload_freed, 0);
    vow_outcome_release(&out);
    VOW_ASSERT_EQ(payload_freed, 1);
    VOW_TEST_END(loop);
}

/* ---- ctx_free ------------------------------------------------------------------------- */

static int ctx_reaction_calls;
static int ctx_freed_after_reaction;
static vow_result_t ctx_reaction(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    (void)v;
    VOW_ASSERT_EQ(*(int *)ctx, 77, "the reaction gets its ctx");
    VOW_ASSERT_EQ(ctx_free_calls, 0, "ctx freed before its reaction ran");
    ctx_reaction_calls++;
    return vow_ok_none();
}
static vow_result_t ctx_reaction_err(vow_loop_t *loop, vow_error_t *e, void *ctx) {
    (void)loop;
    (void)e;
    VOW_ASSERT_EQ(*(int *)ctx, 77);
    VOW_ASSERT_EQ(ctx_free_calls, 0);
    ctx_reaction_calls++;
    return vow_ok_none();
}
static void ctx_free_heap(void *ctx) {
    VOW_ASSERT_EQ(*(int *)ctx, 77);
    if (ctx_reaction_calls > 0) ctx_freed_after_reaction++;
    ctx_free_calls++;
    free(ctx);
}
static int *ctx_new(void) {
    int *c = malloc(sizeof *c);
    *c = 77;
    return c;
}

Test(promise_then, ctx_free_runs_once_after_the_reaction) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *d = vow_then(vow_resolved(loop, vow_none()), ctx_reaction, ctx_reaction_err, ctx_new(),
                        ctx_free_heap);
    VOW_ASSERT_CODE(vow_run(loop, d, NULL), 0);
    VOW_ASSERT_EQ(ctx_reaction_calls, 1);
    VOW_ASSERT_EQ(ctx_free_calls, 1);
    VOW_ASSERT_EQ(ctx_freed_after_reaction, 1);
    VOW_TEST_END(loop);
}

Test(promise_then, ctx_free_runs_once_for_catch_and_finally) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *d = vow_catch(vow_rejected(loop, vow_error_new(VOW_EBUSY, NULL)), ctx_reaction_err,
                         ctx_new(), ctx_free_heap);
    VOW_ASSERT_CODE(vow_run(loop, d, NULL), 0);
    VOW_ASSERT_EQ(ctx_reaction_calls, 1);
    VOW_ASSERT_EQ(ctx_free_calls, 1);
    VOW_ASSERT_EQ(ctx_freed_after_reaction, 1);
    VOW_TEST_END(loop);
}

Test(promise_then, ctx_free_runs_when_loop_free_drops_a_pending_reaction) {
    vow_loop_t *loop = vow_test_loop();
    /* The subject must stay alive without a user reference: a long sleep's timer holds it
     * (a vow_new promise nobody holds can never settle, and is freed with its reactions
     * as soon as its last reference goes). */
    vow_t *p = vow_sleep(loop, 1000000);
    vow_unref(vow_then(vow_ref(p), ctx_reaction, NULL, ctx_new(), ctx_free_heap));
    vow_unref(vow_finally(vow_ref(p), NULL, ctx_new(), ctx_free_heap));
    vow_unref(p);
    VOW_ASSERT_EQ(vow_loop_run(loop, VOW_RUN_NOWAIT), 1);
    VOW_ASSERT_EQ(ctx_free_calls, 0);
    VOW_TEST_END_FORCED(loop);
    VOW_ASSERT_EQ(ctx_reaction_calls, 0, "a dropped reaction never runs");
    VOW_ASSERT_EQ(ctx_free_calls, 2);
}

Test(promise_then, ctx_free_runs_when_loop_free_drops_a_queued_reaction) {
    vow_loop_t *loop = vow_test_loop();
    /* Queued on the microtask queue (the promise is settled) but never run. */
    vow_unref(
        vow_then(vow_resolved(loop, vow_none()), ctx_reaction, NULL, ctx_new(), ctx_free_heap));
    VOW_TEST_END_FORCED(loop);
    VOW_ASSERT_EQ(ctx_reaction_calls, 0);
    VOW_ASSERT_EQ(ctx_free_calls, 1);
}

Test(promise_then, ctx_free_runs_at_once_when_the_subject_is_null) {
    vow_loop_t *loop = vow_test_loop();
    cr_assert_null(vow_then(NULL, ctx_reaction, NULL, ctx_new(), ctx_free_heap));
    VOW_ASSERT_EQ(ctx_free_calls, 1);
    cr_assert_null(vow_catch(NULL, ctx_reaction_err, ctx_new(), ctx_free_heap));
    VOW_ASSERT_EQ(ctx_free_calls, 2);
    cr_assert_null(vow_finally(NULL, NULL, ctx_new(), ctx_free_heap));
    VOW_ASSERT_EQ(ctx_free_calls, 3);
    VOW_ASSERT_EQ(ctx_reaction_calls, 0);
    VOW_TEST_END(loop);
}

/* ---- catch ------------------------------------------------------------------------------ */

static int recover_calls;
static vow_result_t recover(vow_loop_t *loop, vow_error_t *e, void *ctx) {
    (void)loop;
    (void)ctx;
    recover_calls++;
    VOW_ASSERT_CODE(vow_error_code(e), VOW_EBUSY);
    return vow_ok_int(5);
}
static int seen_after_recover;
static vow_result_t after_recover(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    (void)ctx;
    seen_after_recover = (int)vow_value_int(v);
    return vow_ok(vow_value_share(v));
}

Test(promise_then, catch_recovers) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *d = vow_then(vow_rejected(loop, vow_error_new(VOW_EBUSY, NULL)), ok_count, NULL, NULL,
                        NULL); /* skipped */
    d = vow_catch(d, recover, NULL, NULL);
    d = vow_then(d, after_recover, err_count, NULL, NULL);
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, d, &out), 0);
    VOW_ASSERT_EQ(ok_calls, 0);
    VOW_ASSERT_EQ(recover_calls, 1);
    VOW_ASSERT_EQ(err_calls, 0);
    VOW_ASSERT_EQ(seen_after_recover, 5);
    VOW_ASSERT_STATE(out.state, VOW_FULFILLED);
    vow_outcome_release(&out);
    VOW_TEST_END(loop);
}

Test(promise_then, catch_is_skipped_on_fulfilment) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *d = vow_catch(vow_resolved(loop, vow_int(3)), recover, NULL, NULL);
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, d, &out), 0);
    VOW_ASSERT_EQ(recover_calls, 0);
    VOW_ASSERT_EQ(vow_value_int(&out.value), 3);
    vow_outcome_release(&out);
    VOW_TEST_END(loop);
}

static vow_result_t rethrow_wrapped(vow_loop_t *loop, vow_error_t *e, void *ctx) {
    (void)loop;
    (void)ctx;
    err_calls++;
    return vow_fail(vow_error_wrap(VOW_ETIMEDOUT, "wrapped", vow_error_ref(e)));
}

Test(promise_then, catch_can_rethrow) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *d = vow_catch(vow_rejected(loop, vow_error_new(VOW_EBUSY, "inner")), rethrow_wrapped,
                         NULL, NULL);
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, d, &out), 0);
    VOW_ASSERT_EQ(err_calls, 1);
    VOW_ASSERT_STATE(out.state, VOW_REJECTED);
    VOW_ASSERT_CODE(vow_error_code(out.error), VOW_ETIMEDOUT);
    VOW_ASSERT_CODE(vow_error_code(vow_error_cause(out.error)), VOW_EBUSY);
    vow_outcome_release(&out);
    VOW_TEST_END(loop);
}

/* ---- finally ------------------------------------------------------------------------- */

static int fin_calls;
static vow_result_t fin_plain(vow_loop_t *loop, void *ctx) {
    (void)loop;
    VOW_ASSERT_EQ((intptr_t)ctx, 9, "finally gets its ctx");
    fin_calls++;
    return vow_ok_int(12345); /* its value is ignored */
}
static vow_result_t fin_throw(vow_loop_t *loop, void *ctx) {
    (void)loop;
    (void)ctx;
    fin_calls++;
    return vow_fail_code(VOW_EAGAIN, "finally threw");
}

Test(promise_then, finally_runs_on_fulfilment_and_passes_the_value) {
    vow_loop_t *loop = vow_test_loop();
    obj *o = obj_new();
    vow_t *d =
        vow_finally(vow_resolved(loop, vow_ptr(o, obj_free)), fin_plain, (void *)9, ctx_free_count);
    VOW_ASSERT_EQ(fin_calls, 0);
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, d, &out), 0);
    VOW_ASSERT_EQ(fin_calls, 1);
    VOW_ASSERT_EQ(ctx_free_calls, 1);
    VOW_ASSERT_STATE(out.state, VOW_FULFILLED);
    VOW_ASSERT_EQ(vow_value_ptr(&out.value), o);
    vow_outcome_release(&out);
    expect_every_obj_freed_once();
    VOW_TEST_END(loop);
}

Test(promise_then, finally_runs_on_rejection_and_passes_the_error) {
    vow_loop_t *loop = vow_test_loop();
    vow_error_t *e = vow_error_new(VOW_EBUSY, "kept");
    vow_t *d = vow_finally(vow_rejected(loop, e), fin_plain, (void *)9, ctx_free_count);
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, d, &out), 0);
    VOW_ASSERT_EQ(fin_calls, 1);
    VOW_ASSERT_EQ(ctx_free_calls, 1);
    VOW_ASSERT_STATE(out.state, VOW_REJECTED);
    VOW_ASSERT_EQ(out.error, e, "the same error object");
    vow_outcome_release(&out);
    VOW_TEST_END(loop);
}

Test(promise_then, finally_error_replaces_a_value) {
    vow_loop_t *loop = vow_test_loop();
    obj *o = obj_new();
    vow_t *d = vow_finally(vow_resolved(loop, vow_ptr(o, obj_free)), fin_throw, NULL, NULL);
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, d, &out), 0);
    VOW_ASSERT_EQ(fin_calls, 1);
    VOW_ASSERT_STATE(out.state, VOW_REJECTED);
    VOW_ASSERT_CODE(vow_error_code(out.error), VOW_EAGAIN);
    cr_assert_str_eq(vow_error_message(out.error), "finally threw");
    vow_outcome_release(&out);
    expect_every_obj_freed_once();
    VOW_TEST_END(loop);
}

Test(promise_then, finally_error_replaces_an_error) {
    vow_loop_t *loop = vow_test_loop();
    vow_error_t *e = vow_error_new(VOW_EBUSY, "original");
    VOW_ASSERT_CODE(vow_error_set_payload(e, (void *)1, payload_free), 0);
    vow_t *d = vow_finally(vow_rejected(loop, e), fin_throw, NULL, NULL);
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, d, &out), 0);
    VOW_ASSERT_STATE(out.state, VOW_REJECTED);
    VOW_ASSERT_CODE(vow_error_code(out.error), VOW_EAGAIN);
    vow_outcome_release(&out);
    VOW_ASSERT_EQ(payload_freed, 1, "the replaced error was released once");
    VOW_TEST_END(loop);
}

/* finally returning a promise: q, settled later by a timer. */
static vow_t *fin_q;
static int fin_timer_fired;
static int after_fin_calls;
static int after_fin_saw_timer;
static vow_result_t fin_wait(vow_loop_t *loop, void *ctx) {
    (void)loop;
    (void)ctx;
    fin_calls++;
    return vow_follow(vow_ref(fin_q));
}
static void fin_timer_resolve(vow_loop_t *loop, void *arg) {
    (void)loop;
    fin_timer_fired++;
    obj *o = obj_new();
    VOW_ASSERT_CODE(vow_resolve(arg, vow_ptr(o, obj_free)), 0); /* a value to be ignored */
}
static void fin_timer_reject(vow_loop_t *loop, void *arg) {
    (void)loop;
    fin_timer_fired++;
    VOW_ASSERT_CODE(vow_reject(arg, vow_error_new(VOW_ETIMEDOUT, "from finally's promise")), 0);
}
static vow_result_t after_fin_ok(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    (void)ctx;
    after_fin_calls++;
    after_fin_saw_timer = fin_timer_fired;
    return vow_ok(vow_value_share(v));
}
static vow_result_t after_fin_err(vow_loop_t *loop, vow_error_t *e, void *ctx) {
    (void)loop;
    (void)ctx;
    after_fin_calls++;
    after_fin_saw_timer = fin_timer_fired;
    return vow_fail(vow_error_ref(e));
}

static void finally_waits(int source_rejects, int q_rejects) {
    vow_loop_t *loop = vow_test_loop();
    fin_q = vow_new(loop);
    VOW_ASSERT_CODE(
        vow_set_timeout(loop, q_rejects ? fin_timer_reject : fin_timer_resolve, fin_q, 20, NULL),
        0);
    obj *o = obj_new();
    vow_error_t *src_err = vow_error_new(VOW_EBUSY, "source");
    vow_t *src =
        source_rejects ? vow_rejected(loop, src_err) : vow_resolved(loop, vow_ptr(o, obj_free));
    if (source_rejects) {
        free(o);
        obj_freed[0]++;
    } else {
        vow_error_unref(src_err);
    }
    vow_t *d = vow_finally(src, fin_wait, NULL, NULL);
    d = vow_then(d, after_fin_ok, after_fin_err, NULL, NULL);
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, d, &out), 0);
    VOW_ASSERT_EQ(fin_calls, 1);
    VOW_ASSERT_EQ(fin_timer_fired, 1);
    VOW_ASSERT_EQ(after_fin_calls, 1);
    VOW_ASSERT_EQ(after_fin_saw_timer, 1, "the chain went on before finally's promise settled");
    if (q_rejects) {
        VOW_ASSERT_STATE(out.state, VOW_REJECTED);
        VOW_ASSERT_CODE(vow_error_code(out.error), VOW_ETIMEDOUT, "q's rejection replaces it");
    } else if (source_rejects) {
        VOW_ASSERT_STATE(out.state, VOW_REJECTED);
        VOW_ASSERT_EQ(out.error, src_err, "the original error passes through");
    } else {
        VOW_ASSERT_STATE(out.state, VOW_FULFILLED);
        VOW_ASSERT_EQ(vow_value_ptr(&out.value), o, "the original value, not q's");
    }
    vow_outcome_release(&out);
    vow_unref(fin_q);
    VOW_TEST_END(loop);
    expect_every_obj_freed_once();
}

Test(promise_then, finally_waits_for_its_promise_value_path) { finally_waits(0, 0); }
Test(promise_then, finally_waits_for_its_promise_error_path) { finally_waits(1, 0); }
Test(promise_then, finally_promise_rejection_replaces_value) { finally_waits(0, 1); }
Test(promise_then, finally_promise_rejection_replaces_error) { finally_waits(1, 1); }

Test(promise_then, finally_null_callback_passes_through) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *d = vow_finally(vow_resolved(loop, vow_int(8)), NULL, (void *)1, ctx_free_count);
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, d, &out), 0);
    VOW_ASSERT_EQ(vow_value_int(&out.value), 8);
    VOW_ASSERT_EQ(ctx_free_calls, 1);
    vow_outcome_release(&out);
    VOW_TEST_END(loop);
}

/* ---- heap values with destructors through chains, adoption and finally ---------------- */

static obj *chain_objs[8];
static int chain_steps;
static vow_result_t chain_expect_0_share(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    (void)ctx;
    chain_steps++;
    VOW_ASSERT_EQ(vow_value_ptr(v), chain_objs[0]);
    return vow_ok(vow_value_share(v)); /* forwarding: a shared owner, not a copy */
}
static vow_result_t chain_adopt_resolved_1(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)ctx;
    chain_steps++;
    VOW_ASSERT_EQ(vow_value_ptr(v), chain_objs[0]);
    chain_objs[1] = obj_new();
    return vow_follow(vow_resolved(loop, vow_ptr(chain_objs[1], obj_free)));
}
static vow_t *chain_pending;
static vow_result_t chain_adopt_pending_2(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    (void)ctx;
    chain_steps++;
    VOW_ASSERT_EQ(vow_value_ptr(v), chain_objs[1]);
    return vow_follow(vow_ref(chain_pending));
}
static void chain_timer(vow_loop_t *loop, void *arg) {
    (void)loop;
    (void)arg;
    chain_objs[2] = obj_new();
    VOW_ASSERT_CODE(vow_resolve(chain_pending, vow_ptr(chain_objs[2], obj_free)), 0);
}
static vow_result_t chain_fin_returns_heap_promise(vow_loop_t *loop, void *ctx) {
    (void)ctx;
    chain_steps++;
    chain_objs[3] = obj_new(); /* finally's own promise value: waited for, then dropped */
    return vow_follow(vow_resolved(loop, vow_ptr(chain_objs[3], obj_free)));
}
static vow_result_t chain_expect_2_new_value(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    (void)ctx;
    chain_steps++;
    VOW_ASSERT_EQ(vow_value_ptr(v), chain_objs[2]);
    chain_objs[4] = obj_new();
    return vow_ok(vow_ptr(chain_objs[4], obj_free));
}
static vow_result_t chain_throw_with_payload(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    (void)ctx;
    chain_steps++;
    VOW_ASSERT_EQ(vow_value_ptr(v), chain_objs[4]);
    vow_error_t *e = vow_error_new(VOW_EUSER, "payload");
    chain_objs[5] = obj_new();
    VOW_ASSERT_CODE(vow_error_set_payload(e, chain_objs[5], obj_free), 0);
    return vow_fail(e);
}
static vow_result_t chain_recover_share_payload(vow_loop_t *loop, vow_error_t *e, void *ctx) {
    (void)loop;
    (void)ctx;
    chain_steps++;
    VOW_ASSERT_EQ(vow_error_payload(e), chain_objs[5]);
    chain_objs[6] = obj_new();
    return vow_ok(vow_ptr(chain_objs[6], obj_free));
}

Test(promise_then, heap_values_flow_through_chains_adoption_and_finally) {
    vow_loop_t *loop = vow_test_loop();
    chain_pending = vow_new(loop);
    VOW_ASSERT_CODE(vow_set_timeout(loop, chain_timer, NULL, 5, NULL), 0);
    chain_objs[0] = obj_new();
    vow_t *d = vow_resolved(loop, vow_ptr(chain_objs[0], obj_free));
    d = vow_then(d, NULL, err_count, NULL, NULL);            /* pass-through */
    d = vow_finally(d, fin_plain, (void *)9, NULL);          /* pass-through */
    d = vow_then(d, chain_expect_0_share, NULL, NULL, NULL); /* share */
    d = vow_then(d, chain_adopt_resolved_1, NULL, NULL, NULL);
    d = vow_then(d, chain_adopt_pending_2, NULL, NULL, NULL);
    d = vow_finally(d, chain_fin_returns_heap_promise, NULL, NULL);
    d = vow_then(d, chain_expect_2_new_value, NULL, NULL, NULL);
    d = vow_then(d, chain_throw_with_payload, NULL, NULL, NULL);
    d = vow_finally(d, fin_plain, (void *)9, NULL);
    d = vow_then(d, ok_count, NULL, NULL, NULL); /* skipped: rejected */
    d = vow_catch(d, chain_recover_share_payload, NULL, NULL);
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, d, &out), 0);
    VOW_ASSERT_EQ(chain_steps, 7);
    VOW_ASSERT_EQ(fin_calls, 2);
    VOW_ASSERT_EQ(ok_calls, 0);
    VOW_ASSERT_EQ(err_calls, 0);
    VOW_ASSERT_STATE(out.state, VOW_FULFILLED);
    VOW_ASSERT_EQ(vow_value_ptr(&out.value), chain_objs[6]);
    VOW_ASSERT_EQ(obj_made, 7);
    VOW_ASSERT_EQ(obj_freed[6], 0, "the outcome still holds the last value");
    vow_outcome_release(&out);
    vow_unref(chain_pending);
    VOW_ASSERT_EQ(obj_freed[2], 1);
    VOW_TEST_END(loop);
    expect_every_obj_freed_once();
}

static vow_t *fanout_src;
Test(promise_then, one_heap_value_shared_by_many_reactions_is_freed_once) {
    vow_loop_t *loop = vow_test_loop();
    obj *o = obj_new();
    fanout_src = vow_resolved(loop, vow_ptr(o, obj_free));
    vow_t *ds[5];
    for (int i = 0; i < 5; i++) ds[i] = vow_then(vow_ref(fanout_src), ok_count, NULL, NULL, NULL);
    vow_unref(fanout_src);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(ok_calls, 5);
    for (int i = 0; i < 5; i++) {
        VOW_ASSERT_EQ(vow_value_ptr(vow_value(ds[i])), o);
        vow_unref(ds[i]);
        VOW_ASSERT_EQ(obj_freed[0], i == 4 ? 1 : 0, "freed at the last holder only");
    }
    VOW_TEST_END(loop);
}

/* ---- foreign thenables ------------------------------------------------------------------ */

/* A scripted adapter: subscribe performs the steps in `script`, in order. */
enum { S_END = 0, S_RESOLVE_INT, S_REJECT, S_RESOLVE_THENABLE, S_RESOLVE_PTR, S_KEEP };
typedef struct script {
    int steps[6];
    int64_t arg[6];
    int ret;    /* subscribe's return value */
    int rcs[6]; /* what each step returned */
    int subscribe_calls;
    vow_resolver_t *kept;
    vow_loop_t *loop; /* for adapters that start a timer */
} script;

static int thenable_ctx_freed;
static void script_free(void *ctx) {
    (void)ctx;
    thenable_ctx_freed++;
}

static int script_subscribe(void *ctx, vow_resolver_t *r);

static vow_thenable_t *script_thenable(script *s) {
    vow_thenable_t *t = vow_thenable_new(script_subscribe, s, script_free);
    cr_assert_not_null(t);
    return t;
}

static int script_subscribe(void *ctx, vow_resolver_t *r) {
    script *s = ctx;
    s->subscribe_calls++;
    for (int i = 0; i < 6 && s->steps[i] != S_END; i++) {
        switch (s->steps[i]) {
        case S_RESOLVE_INT: s->rcs[i] = vow_resolver_resolve(r, vow_ok_int(s->arg[i])); break;
        case S_REJECT: {
            vow_error_t *e = vow_error_new((int)s->arg[i], "from thenable");
            VOW_ASSERT_CODE(vow_error_set_payload(e, (void *)1, payload_free), 0);
            s->rcs[i] = vow_resolver_reject(r, e);
            break;
        }
        case S_RESOLVE_THENABLE:
            s->rcs[i] = vow_resolver_resolve(
                r, vow_follow_thenable(script_thenable((script *)(intptr_t)s->arg[i])));
            break;
        case S_RESOLVE_PTR:
            s->rcs[i] =
                vow_resolver_resolve(r, vow_ok(vow_ptr((void *)(intptr_t)s->arg[i], payload_free)));
            break;
        case S_KEEP: s->kept = vow_resolver_ref(r); break;
        }
    }
    return s->ret;
}

/* Adopts the thenable of `s` as the result of a vow_new promise; runs to the end. */
static void adopt(vow_loop_t *loop, script *s, vow_outcome_t *out) {
    vow_t *p = vow_new(loop);
    VOW_ASSERT_CODE(vow_resolve_with(p, vow_follow_thenable(script_thenable(s))), 0);
    VOW_ASSERT_EQ(s->subscribe_calls, 0, "subscribe runs in a job of its own");
    VOW_ASSERT_STATE(vow_state(p), VOW_PENDING);
    VOW_ASSERT_CODE(vow_resolve(p, vow_int(0)), VOW_ESETTLED, "p is locked onto the thenable");
    VOW_ASSERT_CODE(vow_run(loop, p, out), 0);
    VOW_ASSERT_EQ(s->subscribe_calls, 1);
}

Test(promise_then, thenable_resolve_first_call_wins) {
    vow_loop_t *loop = vow_test_loop();
    script s = {.steps = {S_RESOLVE_INT, S_RESOLVE_INT, S_REJECT, S_RESOLVE_PTR},
                .arg = {5, 6, VOW_EBUSY, 1}};
    vow_outcome_t out;
    adopt(loop, &s, &out);
    VOW_ASSERT_STATE(out.state, VOW_FULFILLED);
    VOW_ASSERT_EQ(vow_value_int(&out.value), 5);
    VOW_ASSERT_EQ(s.rcs[0], 0);
    VOW_ASSERT_CODE(s.rcs[1], VOW_ESETTLED);
    VOW_ASSERT_CODE(s.rcs[2], VOW_ESETTLED);
    VOW_ASSERT_CODE(s.rcs[3], VOW_ESETTLED);
    VOW_ASSERT_EQ(payload_freed, 2, "ignored arguments are released (error and pointer)");
    VOW_ASSERT_EQ(thenable_ctx_freed, 1);
    vow_outcome_release(&out);
    VOW_TEST_END(loop);
}

Test(promise_then, thenable_reject_first_call_wins) {
    vow_loop_t *loop = vow_test_loop();
    script s = {.steps = {S_REJECT, S_RESOLVE_INT, S_REJECT}, .arg = {VOW_EBUSY, 6, VOW_EINVAL}};
    vow_outcome_t out;
    adopt(loop, &s, &out);
    VOW_ASSERT_STATE(out.state, VOW_REJECTED);
    VOW_ASSERT_CODE(vow_error_code(out.error), VOW_EBUSY);
    VOW_ASSERT_EQ(s.rcs[0], 0);
    VOW_ASSERT_CODE(s.rcs[1], VOW_ESETTLED);
    VOW_ASSERT_CODE(s.rcs[2], VOW_ESETTLED);
    VOW_ASSERT_EQ(payload_freed, 1, "the ignored error was released");
    vow_outcome_release(&out);
    VOW_ASSERT_EQ(payload_freed, 2);
    VOW_TEST_END(loop);
}

Test(promise_then, thenable_error_return_after_resolve_is_ignored) {
    vow_loop_t *loop = vow_test_loop();
    script s = {.steps = {S_RESOLVE_INT}, .arg = {8}, .ret = VOW_EINVAL};
    vow_outcome_t out;
    adopt(loop, &s, &out);
    VOW_ASSERT_STATE(out.state, VOW_FULFILLED);
    VOW_ASSERT_EQ(vow_value_int(&out.value), 8);
    vow_outcome_release(&out);
    VOW_TEST_END(loop);
}

Test(promise_then, thenable_error_return_after_reject_is_ignored) {
    vow_loop_t *loop = vow_test_loop();
    script s = {.steps = {S_REJECT}, .arg = {VOW_EBUSY}, .ret = VOW_EINVAL};
    vow_outcome_t out;
    adopt(loop, &s, &out);
    VOW_ASSERT_STATE(out.state, VOW_REJECTED);
    VOW_ASSERT_CODE(vow_error_code(out.error), VOW_EBUSY, "the first call's reason, not EINVAL");
    vow_outcome_release(&out);
    VOW_TEST_END(loop);
}

Test(promise_then, thenable_error_return_before_any_call_rejects) {
    vow_loop_t *loop = vow_test_loop();
    script s = {.ret = -7777};
    vow_outcome_t out;
    adopt(loop, &s, &out);
    VOW_ASSERT_STATE(out.state, VOW_REJECTED);
    VOW_ASSERT_CODE(vow_error_code(out.error), -7777);
    vow_outcome_release(&out);
    VOW_ASSERT_EQ(thenable_ctx_freed, 1);
    VOW_TEST_END(loop);
}

Test(promise_then, thenable_kept_resolver_answers_esettled_after_error_return) {
    vow_loop_t *loop = vow_test_loop();
    script s = {.steps = {S_KEEP}, .ret = VOW_EBUSY};
    vow_outcome_t out;
    adopt(loop, &s, &out);
    VOW_ASSERT_STATE(out.state, VOW_REJECTED);
    VOW_ASSERT_CODE(vow_error_code(out.error), VOW_EBUSY);
    /* subscribe's failure counted as the first call: later calls are ignored. */
    VOW_ASSERT_CODE(vow_resolver_resolve(s.kept, vow_ok_int(1)), VOW_ESETTLED);
    vow_resolver_unref(s.kept);
    vow_outcome_release(&out);
    VOW_TEST_END(loop);
}

Test(promise_then, nested_thenables_unwrap) {
    vow_loop_t *loop = vow_test_loop();
    script inner2 = {.steps = {S_RESOLVE_INT}, .arg = {99}};
    script inner1 = {.steps = {S_RESOLVE_THENABLE, S_RESOLVE_INT},
                     .arg = {(int64_t)(intptr_t)&inner2, 1}};
    script outer = {.steps = {S_RESOLVE_THENABLE, S_RESOLVE_INT},
                    .arg = {(int64_t)(intptr_t)&inner1, 2}};
    vow_outcome_t out;
    adopt(loop, &outer, &out);
    VOW_ASSERT_EQ(inner1.subscribe_calls, 1);
    VOW_ASSERT_EQ(inner2.subscribe_calls, 1);
    VOW_ASSERT_STATE(out.state, VOW_FULFILLED);
    VOW_ASSERT_EQ(vow_value_int(&out.value), 99);
    VOW_ASSERT_CODE(outer.rcs[1], VOW_ESETTLED, "resolving with a thenable counts as the call");
    VOW_ASSERT_CODE(inner1.rcs[1], VOW_ESETTLED);
    VOW_ASSERT_EQ(thenable_ctx_freed, 3);
    vow_outcome_release(&out);
    VOW_TEST_END(loop);
}

static void resolve_kept_from_timer(vow_loop_t *loop, void *arg) {
    (void)loop;
    script *s = arg;
    s->rcs[5] = vow_resolver_resolve(s->kept, vow_ok_int(31));
    VOW_ASSERT_CODE(vow_resolver_resolve(s->kept, vow_ok_int(32)), VOW_ESETTLED);
    vow_resolver_unref(s->kept);
    s->kept = NULL;
}

static int keep_subscribe(void *ctx, vow_resolver_t *r) {
    script *s = ctx;
    s->subscribe_calls++;
    s->kept = vow_resolver_ref(r);
    return 0;
}

static int later_ok_calls;
static vow_result_t later_ok(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    (void)ctx;
    later_ok_calls++;
    VOW_ASSERT_EQ(vow_value_int(v), 31);
    return vow_ok_int(vow_value_int(v) + 1);
}

Test(promise_then, kept_resolver_resolved_later_from_a_timer) {
    vow_loop_t *loop = vow_test_loop();
    script s = {.loop = loop};
    vow_thenable_t *t = vow_thenable_new(keep_subscribe, &s, script_free);
    cr_assert_not_null(t);
    vow_t *p = vow_new(loop);
    VOW_ASSERT_CODE(vow_resolve_with(p, vow_follow_thenable(t)), 0);
    vow_t *d = vow_then(vow_ref(p), later_ok, NULL, NULL, NULL);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_NOWAIT), 0, "nothing keeps the loop alive");
    VOW_ASSERT_EQ(s.subscribe_calls, 1);
    VOW_ASSERT_EQ(thenable_ctx_freed, 1, "ctx_free runs after subscribe returned");
    VOW_ASSERT_STATE(vow_state(p), VOW_PENDING);
    VOW_ASSERT_EQ(later_ok_calls, 0);
    /* The timer that resolves the kept resolver is made now, not in subscribe: made there,
     * its 10 ms could pass before that same NOWAIT turn's timers phase on a slow machine
     * (it did under valgrind), and the checks above would see it fired. */
    VOW_ASSERT_CODE(vow_set_timeout(loop, resolve_kept_from_timer, &s, 10, NULL), 0);
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, d, &out), 0);
    VOW_ASSERT_EQ(s.rcs[5], 0);
    VOW_ASSERT_EQ(later_ok_calls, 1);
    VOW_ASSERT_EQ(vow_value_int(&out.value), 32);
    VOW_ASSERT_EQ(vow_value_int(vow_value(p)), 31);
    vow_outcome_release(&out);
    vow_unref(p);
    VOW_TEST_END(loop);
}

/* A reaction may return a thenable too. */
static script *reaction_script;
static vow_result_t return_thenable(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    (void)v;
    (void)ctx;
    return vow_follow_thenable(script_thenable(reaction_script));
}

Test(promise_then, reaction_returning_a_thenable_adopts_it) {
    vow_loop_t *loop = vow_test_loop();
    script s = {.steps = {S_RESOLVE_INT}, .arg = {44}};
    reaction_script = &s;
    vow_t *d = vow_then(vow_resolved(loop, vow_none()), return_thenable, NULL, NULL, NULL);
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, d, &out), 0);
    VOW_ASSERT_EQ(s.subscribe_calls, 1);
    VOW_ASSERT_EQ(vow_value_int(&out.value), 44);
    vow_outcome_release(&out);
    VOW_TEST_END(loop);
}

Test(promise_then, thenable_dropped_unused_frees_its_ctx_once) {
    vow_loop_t *loop = vow_test_loop();
    script s = {.steps = {S_RESOLVE_INT}, .arg = {1}};
    /* Refused settle: the result (and the thenable in it) is released at once. */
    vow_t *r = vow_resolved(loop, vow_none());
    VOW_ASSERT_CODE(vow_resolve_with(r, vow_follow_thenable(script_thenable(&s))), VOW_EPERM);
    VOW_ASSERT_EQ(thenable_ctx_freed, 1);
    /* Queued but never run: vow_loop_free drops the job and the thenable with it. */
    vow_t *p = vow_new(loop);
    VOW_ASSERT_CODE(vow_resolve_with(p, vow_follow_thenable(script_thenable(&s))), 0);
    vow_unref(p);
    vow_unref(r);
    VOW_TEST_END_FORCED(loop);
    VOW_ASSERT_EQ(s.subscribe_calls, 0);
    VOW_ASSERT_EQ(thenable_ctx_freed, 2);
}

/* ---- a then step nobody holds: its node goes when its reaction returns --------------- */

static vow_result_t ret_int_7(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    (void)v;
    (void)ctx;
    ok_calls++;
    return vow_ok_int(7);
}

static vow_result_t ret_heap(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    (void)v;
    (void)ctx;
    ok_calls++;
    return vow_ok(vow_ptr(&payload_freed, payload_free));
}

/* One then step on a pending promise, its derived promise dropped (`hold` 0), kept, or
 * with a reaction of its own; the step's result is a plain int or a heap value. Every
 * allocation of the step is gone once the loop has run and the caller let go. */
static void dropped_step(int hold, int heap) {
    vow_loop_t *loop = vow_test_loop_without_pools();
    vow_t *p = vow_new(loop);
    long before = vow_test_live_allocs();
    vow_t *d = vow_then(vow_ref(p), heap ? ret_heap : ret_int_7, NULL, NULL, ctx_free_count);
    cr_assert_not_null(d);
    vow_t *d2 = hold == 2 ? vow_then(vow_ref(d), ok_count, NULL, NULL, NULL) : NULL;
    if (hold == 0) vow_unref(d);
    VOW_ASSERT_CODE(vow_resolve(p, vow_int(1)), 0);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(ok_calls, hold == 2 ? 2 : 1);
    VOW_ASSERT_EQ(ctx_free_calls, 1, "the context is freed once, when the reaction has run");
    if (hold == 0) {
        VOW_ASSERT_EQ(vow_test_live_allocs(), before, "the dropped step's node is freed");
        VOW_ASSERT_EQ(payload_freed, heap, "its heap value is released at once");
    } else {
        VOW_ASSERT_STATE(vow_state(d), VOW_FULFILLED);
        if (heap)
            VOW_ASSERT_EQ(vow_value_ptr(vow_value(d)), &payload_freed);
        else
            VOW_ASSERT_EQ(vow_value_int(vow_value(d)), 7);
        if (d2 != NULL) VOW_ASSERT_STATE(vow_state(d2), VOW_FULFILLED);
        VOW_ASSERT_EQ(payload_freed, 0);
        vow_unref(d2);
        vow_unref(d);
        VOW_ASSERT_EQ(payload_freed, heap);
    }
    vow_unref(p);
    VOW_TEST_END(loop);
}

Test(promise_then, a_dropped_step_with_a_plain_result_is_freed_when_it_returns) {
    dropped_step(0, 0);
}
Test(promise_then, a_dropped_step_with_a_heap_result_releases_it) { dropped_step(0, 1); }
Test(promise_then, a_kept_step_is_fulfilled_with_a_plain_result) { dropped_step(1, 0); }
Test(promise_then, a_kept_step_is_fulfilled_with_a_heap_result) { dropped_step(1, 1); }
Test(promise_then, a_step_with_a_reaction_of_its_own_passes_the_result_on) { dropped_step(2, 0); }
