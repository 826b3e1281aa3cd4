/* tests/test_async.c - async/await on coroutines (vow/async.h): the start runs the body up
 * to its first await; await of fulfilled, rejected, already-settled and never-settling
 * promises, outcome ownership; await outside a coroutine; nested coroutines; 10,000
 * concurrent coroutines on the loop thread with no thread made; cancellation during an
 * await with cleanup that awaits, after the value was handed over, under the upstream
 * rule, through vow_timeout, uncancel; the clean exit and vow_loop_free with suspended
 * coroutines; create_task_async; async generators consumed partly then closed; async for;
 * the live stack count back to its baseline; stack sizes; every allocation failing once.
 *
 * Criterion's failing asserts jump out of the test body: never assert on a coroutine's
 * stack. Coroutines record what they saw in globals; the test body asserts afterwards. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>

#include "counted.h"
#include "helpers.h"

TestSuite(async, .init = vow_test_setup, .fini = vow_test_teardown, .timeout = 60);

#define CTX(x) ((void *)(intptr_t)(x))

static char trace[512];
static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...) {
    size_t n = strlen(trace);
    if (n + 64 >= sizeof trace) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(trace + n, sizeof trace - n, fmt, ap);
    va_end(ap);
}

static vow_outcome_t run_out(vow_loop_t *loop, vow_t *p) {
    vow_outcome_t o;
    VOW_ASSERT_CODE(vow_run(loop, p, &o), 0);
    return o;
}

/* ---- the start, and await of each kind of promise ------------------------------------------ */

static vow_result_t body_sleep_twice(vow_loop_t *loop, void *arg) {
    note("b%d ", (int)(intptr_t)arg);
    int rc = vow_await(vow_sleep(loop, 1), NULL);
    note("s%d:%d ", (int)(intptr_t)arg, rc);
    rc = vow_await(vow_sleep(loop, 1), NULL);
    note("t%d:%d ", (int)(intptr_t)arg, rc);
    return vow_ok_int(100 + (intptr_t)arg);
}

Test(async, starts_at_once_and_runs_to_its_first_await) {
    vow_loop_t *loop = vow_test_loop();
    trace[0] = '\0';
    note("before ");
    vow_t *p = vow_async(loop, body_sleep_twice, CTX(1), NULL);
    note("after ");
    VOW_ASSERT_STR_EQ(trace, "before b1 after ");
    VOW_ASSERT_STATE(vow_state(p), VOW_PENDING);
    VOW_ASSERT_EQ(vow_async_live(loop), 1);
    vow_outcome_t o = run_out(loop, p);
    VOW_ASSERT_STATE(o.state, VOW_FULFILLED);
    VOW_ASSERT_EQ(vow_value_int(&o.value), 101);
    vow_outcome_release(&o);
    VOW_ASSERT_STR_EQ(trace, "before b1 after s1:0 t1:0 ");
    VOW_ASSERT_EQ(vow_async_live(loop), 0);
    VOW_TEST_END(loop);
}

static vow_result_t body_return_now(vow_loop_t *loop, void *arg) {
    (void)loop;
    note("r ");
    return vow_ok_int((intptr_t)arg);
}

Test(async, a_body_that_never_awaits_settles_inside_the_call) {
    vow_loop_t *loop = vow_test_loop();
    trace[0] = '\0';
    vow_t *p = vow_async(loop, body_return_now, CTX(5), NULL);
    VOW_ASSERT_STATE(vow_state(p), VOW_FULFILLED);
    VOW_ASSERT_EQ(vow_value_int(vow_value(p)), 5);
    VOW_ASSERT_EQ(vow_async_live(loop), 0);
    vow_unref(p);
    VOW_TEST_END(loop);
}

/* What one await saw. */
static int seen_rc;
static vow_outcome_t seen;
static vow_t *awaited; /* the promise the next body awaits (consumed) */

static vow_result_t body_await_one(vow_loop_t *loop, void *arg) {
    (void)loop, (void)arg;
    seen_rc = vow_await(awaited, &seen);
    return vow_ok_none();
}

static void await_one(vow_loop_t *loop, vow_t *p) {
    awaited = p;
    seen_rc = 1;
    vow_t *c = vow_async(loop, body_await_one, NULL, NULL);
    vow_outcome_t o = run_out(loop, c);
    VOW_ASSERT_STATE(o.state, VOW_FULFILLED);
    vow_outcome_release(&o);
}

Test(async, await_returns_the_outcome_and_owns_one_reference) {
    vow_loop_t *loop = vow_test_loop();
    memset(obj_freed, 0, sizeof obj_freed);
    obj_made = 0;
    /* fulfilled already, with a value that has a destructor */
    await_one(loop, vow_resolved(loop, vow_ptr(obj_new(), obj_free)));
    VOW_ASSERT_EQ(seen_rc, 0);
    VOW_ASSERT_STATE(seen.state, VOW_FULFILLED);
    VOW_ASSERT_EQ(((obj *)vow_value_ptr(&seen.value))->id, 0);
    VOW_ASSERT_EQ(obj_freed[0], 0); /* the outcome holds it */
    vow_outcome_release(&seen);
    VOW_ASSERT_EQ(obj_freed[0], 1);
    /* rejected already */
    await_one(loop, vow_rejected(loop, vow_error_new(VOW_ETIMEDOUT, "late")));
    VOW_ASSERT_CODE(seen_rc, VOW_ETIMEDOUT);
    VOW_ASSERT_STATE(seen.state, VOW_REJECTED);
    VOW_ASSERT_CODE(vow_error_code(seen.error), VOW_ETIMEDOUT);
    vow_outcome_release(&seen);
    /* a rejection with a code that is not negative answers VOW_EUSER */
    await_one(loop, vow_rejected(loop, vow_error_new(7, "positive")));
    VOW_ASSERT_CODE(seen_rc, VOW_EUSER);
    VOW_ASSERT_EQ(vow_error_code(seen.error), 7);
    vow_outcome_release(&seen);
    /* pending, fulfilled later by a timer */
    await_one(loop, vow_then_ok(vow_sleep(loop, 2), give_obj, CTX(1)));
    VOW_ASSERT_EQ(seen_rc, 0);
    VOW_ASSERT_EQ(((obj *)vow_value_ptr(&seen.value))->id, 1);
    vow_outcome_release(&seen);
    /* pending, rejected later; awaiting counts as handling it: nothing reported */
    record_rejections(loop);
    vow_t *q = vow_new(loop);
    awaited = vow_ref(q);
    vow_t *c = vow_async(loop, body_await_one, NULL, NULL);
    VOW_ASSERT_CODE(vow_reject(q, vow_error_new(VOW_ENOENT, NULL)), 0);
    vow_unref(q);
    vow_outcome_t o = run_out(loop, c);
    vow_outcome_release(&o);
    VOW_ASSERT_CODE(seen_rc, VOW_ENOENT);
    vow_outcome_release(&seen);
    VOW_ASSERT_EQ(rejections.calls, 0);
    /* out NULL: the outcome is dropped, the code still tells */
    VOW_ASSERT_EQ(obj_freed[1], 1);
    VOW_TEST_END(loop);
}

static vow_result_t body_discard(vow_loop_t *loop, void *arg) {
    (void)arg;
    seen_rc = vow_await(vow_rejected(loop, vow_error_new(VOW_ENOENT, NULL)), NULL);
    int rc2 = vow_await(vow_resolved(loop, vow_ptr(obj_new(), obj_free)), NULL);
    return vow_ok_int(rc2);
}

Test(async, await_with_out_null_releases_the_outcome) {
    vow_loop_t *loop = vow_test_loop();
    memset(obj_freed, 0, sizeof obj_freed);
    obj_made = 0;
    vow_outcome_t o = run_out(loop, vow_async(loop, body_discard, NULL, NULL));
    VOW_ASSERT_CODE(seen_rc, VOW_ENOENT);
    VOW_ASSERT_EQ(vow_value_int(&o.value), 0);
    vow_outcome_release(&o);
    VOW_ASSERT_EQ(obj_freed[0], 1);
    VOW_TEST_END(loop);
}

Test(async, await_outside_a_coroutine_is_an_error_and_consumes_nothing) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *p = vow_resolved(loop, vow_int(3));
    vow_outcome_t o;
    VOW_ASSERT_CODE(vow_await(p, &o), VOW_EPERM);
    VOW_ASSERT_STATE(o.state, VOW_PENDING);
    VOW_ASSERT_EQ(vow_value_int(vow_value(p)), 3); /* still ours */
    vow_unref(p);
    VOW_ASSERT_CODE(vow_await(NULL, NULL), VOW_EPERM);
    VOW_ASSERT_EQ(vow_in_coroutine(), 0);
    VOW_ASSERT_CODE(vow_uncancel(), VOW_EPERM);
    VOW_ASSERT_CODE(vow_cancelling(), VOW_EPERM);
    VOW_ASSERT_CODE(vow_yield(vow_int(1)), VOW_EPERM);
    VOW_ASSERT_CODE(vow_await_next(NULL, &o), VOW_EPERM);
    VOW_TEST_END(loop);
}

static vow_loop_t *other_loop;
static int misuse_rc[8];
static vow_result_t body_misuse(vow_loop_t *loop, void *arg) {
    (void)arg;
    misuse_rc[0] = vow_await(NULL, NULL);
    misuse_rc[1] = vow_await(vow_resolved(other_loop, vow_int(1)), NULL); /* consumed */
    misuse_rc[2] = vow_in_coroutine();
    misuse_rc[3] = vow_yield(vow_int(1)); /* not a generator */
    misuse_rc[4] = vow_await_next(NULL, NULL);
    misuse_rc[5] = vow_loop_close(loop);
    misuse_rc[6] = vow_loop_free(loop);
    vow_outcome_t o;
    misuse_rc[7] = vow_run(loop, vow_resolved(loop, vow_int(1)), &o); /* consumed */
    return vow_ok_none();
}

Test(async, misuse_inside_a_coroutine) {
    vow_loop_t *loop = vow_test_loop();
    VOW_ASSERT_CODE(vow_loop_new(&other_loop, VOW_BACKEND_AUTO), 0);
    vow_unref(vow_async(loop, body_misuse, NULL, NULL));
    VOW_ASSERT_CODE(misuse_rc[0], VOW_ENOMEM);
    VOW_ASSERT_CODE(misuse_rc[1], VOW_EINVAL);
    VOW_ASSERT_EQ(misuse_rc[2], 1);
    VOW_ASSERT_CODE(misuse_rc[3], VOW_EPERM);
    VOW_ASSERT_CODE(misuse_rc[4], VOW_EINVAL);
    VOW_ASSERT_CODE(misuse_rc[5], VOW_EREENTRANT);
    VOW_ASSERT_CODE(misuse_rc[6], VOW_EREENTRANT);
    VOW_ASSERT_CODE(misuse_rc[7], VOW_EREENTRANT);
    VOW_ASSERT_CODE(vow_loop_close(other_loop), 0);
    VOW_TEST_END(loop);
}

Test(async, constructor_misuse) {
    vow_loop_t *loop = vow_test_loop();
    VOW_ASSERT_EQ(vow_async(NULL, body_return_now, NULL, NULL), NULL);
    ctx_free_calls = 0;
    VOW_ASSERT_EQ(vow_async(NULL, body_return_now, NULL, ctx_free_count), NULL);
    VOW_ASSERT_EQ(ctx_free_calls, 1);
    vow_t *p = vow_async(loop, NULL, NULL, ctx_free_count);
    VOW_ASSERT_EQ(ctx_free_calls, 2);
    VOW_ASSERT_CODE(vow_error_code(vow_error(p)), VOW_EINVAL);
    vow_unref(p);
    p = vow_async_ex(loop, body_return_now, NULL, ctx_free_count, 1024);
    VOW_ASSERT_EQ(ctx_free_calls, 3);
    VOW_ASSERT_CODE(vow_error_code(vow_error(p)), VOW_EINVAL);
    vow_unref(p);
    VOW_ASSERT_CODE(vow_async_set_stack_size(NULL, 0), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_async_set_stack_size(loop, 1000), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_async_set_stack_size(loop, (size_t)2 << 30), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_async_live(NULL), VOW_EINVAL);
    VOW_ASSERT_EQ(vow_async_gen(loop, NULL, NULL, ctx_free_count), NULL);
    VOW_ASSERT_EQ(ctx_free_calls, 4);
    VOW_ASSERT_EQ(vow_create_task_async(NULL, body_return_now, NULL, ctx_free_count), NULL);
    VOW_ASSERT_EQ(ctx_free_calls, 5);
    p = vow_create_task_async(loop, NULL, NULL, ctx_free_count);
    VOW_ASSERT_EQ(ctx_free_calls, 6);
    VOW_ASSERT_CODE(vow_error_code(vow_error(p)), VOW_EINVAL);
    vow_unref(p);
    VOW_TEST_END(loop);
}

/* ---- nesting, many coroutines, stacks ----------------------------------------------------- */

static vow_result_t body_outer(vow_loop_t *loop, void *arg) {
    (void)arg;
    note("o1 ");
    vow_t *inner = vow_async(loop, body_sleep_twice, CTX(2), NULL);
    note("o2 ");
    vow_outcome_t o;
    int rc = vow_await(inner, &o);
    note("o3:%d:%lld ", rc, (long long)vow_value_int(&o.value));
    vow_outcome_release(&o);
    return vow_ok_int(1);
}

Test(async, a_coroutine_started_from_another_runs_to_its_first_await_then_the_caller_goes_on) {
    vow_loop_t *loop = vow_test_loop();
    trace[0] = '\0';
    vow_t *p = vow_async(loop, body_outer, NULL, NULL);
    VOW_ASSERT_STR_EQ(trace, "o1 b2 o2 ");
    VOW_ASSERT_EQ(vow_async_live(loop), 2);
    vow_outcome_t o = run_out(loop, p);
    vow_outcome_release(&o);
    VOW_ASSERT_STR_EQ(trace, "o1 b2 o2 s2:0 t2:0 o3:0:102 ");
    VOW_TEST_END(loop);
}

static int threads_now(void) {
    DIR *d = opendir("/proc/self/task");
    if (d == NULL) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

static long many_done;
static vow_result_t body_many(vow_loop_t *loop, void *arg) {
    intptr_t i = (intptr_t)arg;
    int rc = vow_await(vow_sleep(loop, (uint64_t)(1 + i % 5)), NULL);
    if (rc == 0) many_done++;
    return vow_ok_int(i);
}

Test(async, ten_thousand_coroutines_sleep_at_once_on_the_loop_thread) {
    vow_loop_t *loop = vow_test_loop();
    enum { N = 10000 };
    int threads = threads_now();
    vow_t **ps = malloc(N * sizeof *ps);
    cr_assert_not_null(ps);
    many_done = 0;
    for (intptr_t i = 0; i < N; i++) ps[i] = vow_async(loop, body_many, CTX(i), NULL);
    VOW_ASSERT_EQ(vow_async_live(loop), N);
    vow_outcome_t o = run_out(loop, vow_all(loop, ps, N));
    VOW_ASSERT_STATE(o.state, VOW_FULFILLED);
    const vow_list_t *l = vow_list_of(&o.value);
    VOW_ASSERT_EQ(vow_list_len(l), N);
    for (size_t i = 0; i < N; i += 997)
        VOW_ASSERT_EQ(vow_value_int(vow_list_value(l, i)), (long long)i);
    vow_outcome_release(&o);
    free(ps);
    VOW_ASSERT_EQ(many_done, N);
    VOW_ASSERT_EQ(threads_now(), threads); /* no thread was made */
    VOW_ASSERT_EQ(vow_async_live(loop), 0);
    VOW_TEST_END(loop);
}

static int recurse(int n) {
    volatile char pad[1024];
    pad[0] = (char)n;
    if (n == 0) return pad[0];
    return recurse(n - 1) + 1 + pad[0] * 0;
}

static vow_result_t body_deep(vow_loop_t *loop, void *arg) {
    int depth = (int)(intptr_t)arg;
    vow_await(vow_sleep(loop, 1), NULL);
    return vow_ok_int(recurse(depth));
}

Test(async, stack_sizes) {
    vow_loop_t *loop = vow_test_loop();
    /* 2 MiB: about 1,500 frames of 1 KiB, far past the default stack */
    vow_outcome_t o = run_out(loop, vow_async_ex(loop, body_deep, CTX(1500), NULL, 2u << 20));
    VOW_ASSERT_STATE(o.state, VOW_FULFILLED);
    VOW_ASSERT_EQ(vow_value_int(&o.value), 1500);
    vow_outcome_release(&o);
    /* the loop's default, set larger */
    VOW_ASSERT_CODE(vow_async_set_stack_size(loop, 2u << 20), 0);
    o = run_out(loop, vow_async(loop, body_deep, CTX(1500), NULL));
    VOW_ASSERT_EQ(vow_value_int(&o.value), 1500);
    vow_outcome_release(&o);
    VOW_ASSERT_CODE(vow_async_set_stack_size(loop, 0), 0);
    VOW_TEST_END(loop);
}

/* ---- cancellation ------------------------------------------------------------------------- */

static int cleanup_rc, first_rc, later_rc, cancelling_seen, uncancel_rc;
static int do_uncancel;

/* Awaits a 10 s sleep; when that is cancelled, its cleanup awaits a short sleep. */
static vow_result_t body_cancellable(vow_loop_t *loop, void *arg) {
    (void)arg;
    first_rc = vow_await(vow_sleep(loop, 10000), NULL);
    cancelling_seen = vow_cancelling();
    cleanup_rc = vow_await(vow_sleep(loop, 1), NULL); /* cleanup may await */
    later_rc = vow_await(vow_resolved(loop, vow_int(1)), NULL);
    if (do_uncancel) uncancel_rc = vow_uncancel();
    return vow_ok_int(9);
}

Test(async, cancel_during_an_await_with_cleanup_that_awaits) {
    vow_loop_t *loop = vow_test_loop();
    for (do_uncancel = 0; do_uncancel <= 1; do_uncancel++) {
        first_rc = cleanup_rc = later_rc = 1;
        vow_t *p = vow_async(loop, body_cancellable, NULL, NULL);
        VOW_ASSERT_CODE(vow_cancel(p), 0);           /* a request */
        VOW_ASSERT_STATE(vow_state(p), VOW_PENDING); /* settles when the body returns */
        VOW_ASSERT_CODE(vow_cancel(p), 0);           /* a second request: one delivery */
        vow_outcome_t o = run_out(loop, p);
        VOW_ASSERT_CODE(first_rc, VOW_ECANCELED);
        VOW_ASSERT_EQ(cancelling_seen, 2);
        VOW_ASSERT_CODE(cleanup_rc, 0);
        VOW_ASSERT_CODE(later_rc, 0);
        if (do_uncancel) {
            /* two requests, one taken back: still cancelled */
            VOW_ASSERT_EQ(uncancel_rc, 1);
            VOW_ASSERT_STATE(o.state, VOW_REJECTED);
        } else {
            VOW_ASSERT_STATE(o.state, VOW_REJECTED);
            VOW_ASSERT_CODE(vow_error_code(o.error), VOW_ECANCELED);
        }
        vow_outcome_release(&o);
    }
    VOW_ASSERT_EQ(vow_async_live(loop), 0); /* the 10 s sleeps were cancelled */
    VOW_ASSERT_EQ(vow_loop_alive(loop), 0);
    VOW_TEST_END(loop);
}

static vow_result_t body_uncancel(vow_loop_t *loop, void *arg) {
    (void)arg;
    first_rc = vow_await(vow_sleep(loop, 10000), NULL);
    later_rc = vow_uncancel();
    return vow_ok_int(9);
}

Test(async, uncancel_lets_a_normal_return_fulfil) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *p = vow_async(loop, body_uncancel, NULL, NULL);
    VOW_ASSERT_CODE(vow_cancel(p), 0);
    vow_outcome_t o = run_out(loop, p);
    VOW_ASSERT_CODE(first_rc, VOW_ECANCELED);
    VOW_ASSERT_EQ(later_rc, 0);
    VOW_ASSERT_STATE(o.state, VOW_FULFILLED);
    VOW_ASSERT_EQ(vow_value_int(&o.value), 9);
    vow_outcome_release(&o);
    VOW_TEST_END(loop);
}

static vow_result_t body_fail_after_cancel(vow_loop_t *loop, void *arg) {
    (void)arg;
    first_rc = vow_await(vow_sleep(loop, 10000), NULL);
    return vow_fail_code(VOW_ENOENT, "cleanup failed");
}

Test(async, an_error_returned_after_a_cancel_stands) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *p = vow_async(loop, body_fail_after_cancel, NULL, NULL);
    vow_cancel(p);
    vow_outcome_t o = run_out(loop, p);
    VOW_ASSERT_CODE(vow_error_code(o.error), VOW_ENOENT);
    vow_outcome_release(&o);
    VOW_TEST_END(loop);
}

/* A cancel that comes after the awaited promise fulfilled, before the coroutine resumed:
 * the value is delivered, the next await gets the cancellation and its promise is
 * cancelled. */
static vow_t *gate;
static int64_t got_value;
static vow_t *next_p;
static vow_result_t body_handover(vow_loop_t *loop, void *arg) {
    (void)arg;
    vow_outcome_t o;
    first_rc = vow_await(vow_ref(gate), &o);
    got_value = vow_value_int(&o.value);
    vow_outcome_release(&o);
    next_p = vow_sleep(loop, 10000);
    later_rc = vow_await(vow_ref(next_p), NULL);
    return vow_ok_none();
}

Test(async, a_cancel_after_the_value_was_handed_over_is_delivered_at_the_next_await) {
    vow_loop_t *loop = vow_test_loop();
    gate = vow_new(loop);
    vow_t *p = vow_async(loop, body_handover, NULL, NULL);
    VOW_ASSERT_CODE(vow_resolve(gate, vow_int(77)), 0); /* the resume job is queued */
    VOW_ASSERT_CODE(vow_cancel(p), 0);                  /* before it runs */
    vow_outcome_t o = run_out(loop, p);
    VOW_ASSERT_CODE(first_rc, 0);
    VOW_ASSERT_EQ(got_value, 77);
    VOW_ASSERT_CODE(later_rc, VOW_ECANCELED);
    VOW_ASSERT_STATE(vow_state(next_p), VOW_REJECTED); /* nobody else waited on it */
    VOW_ASSERT_EQ(vow_is_cancellation(vow_error(next_p)), 1);
    VOW_ASSERT_CODE(vow_error_code(o.error), VOW_ECANCELED);
    vow_outcome_release(&o);
    vow_unref(next_p);
    vow_unref(gate);
    VOW_TEST_END(loop);
}

static vow_result_t body_await_shared(vow_loop_t *loop, void *arg) {
    (void)loop, (void)arg;
    first_rc = vow_await(vow_ref(gate), NULL);
    return vow_ok_none();
}

static int other_calls;
static vow_result_t other_reaction(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v, (void)ctx;
    other_calls++;
    return vow_ok_none();
}

Test(async, the_upstream_rule_leaves_what_someone_else_awaits) {
    vow_loop_t *loop = vow_test_loop();
    gate = vow_sleep(loop, 5);
    vow_t *other = vow_then_ok(vow_ref(gate), other_reaction, NULL); /* a second waiter */
    vow_t *p = vow_async(loop, body_await_shared, NULL, NULL);
    vow_cancel(p);
    VOW_ASSERT_STATE(vow_state(gate), VOW_PENDING); /* still wanted by `other` */
    vow_outcome_t o = run_out(loop, p);
    VOW_ASSERT_CODE(first_rc, VOW_ECANCELED);
    vow_outcome_release(&o);
    o = run_out(loop, other);
    VOW_ASSERT_STATE(o.state, VOW_FULFILLED);
    VOW_ASSERT_EQ(other_calls, 1);
    vow_outcome_release(&o);
    vow_unref(gate);
    VOW_TEST_END(loop);
}

Test(async, a_never_settling_await_then_cancelled) {
    vow_loop_t *loop = vow_test_loop();
    gate = vow_new(loop);
    vow_t *p = vow_async(loop, body_await_shared, NULL, NULL);
    vow_t *q = vow_ref(p);
    VOW_ASSERT_CODE(vow_run(loop, q, NULL), VOW_ENEVER); /* nothing will settle it */
    VOW_ASSERT_CODE(vow_loop_close(loop), VOW_EBUSY);    /* a suspended coroutine */
    VOW_ASSERT_CODE(vow_cancel(p), 0);
    VOW_ASSERT_STATE(vow_state(gate), VOW_REJECTED); /* cancelled under the upstream rule */
    vow_outcome_t o = run_out(loop, p);
    VOW_ASSERT_CODE(first_rc, VOW_ECANCELED);
    VOW_ASSERT_CODE(vow_error_code(o.error), VOW_ECANCELED);
    vow_outcome_release(&o);
    vow_unref(gate);
    VOW_TEST_END(loop);
}

Test(async, a_timeout_cancels_the_coroutine_and_waits_for_its_cleanup) {
    vow_loop_t *loop = vow_test_loop();
    cleanup_rc = 1;
    do_uncancel = 0;
    vow_t *p = vow_timeout(vow_async(loop, body_cancellable, NULL, NULL), 5, 0);
    vow_outcome_t o = run_out(loop, p);
    VOW_ASSERT_CODE(first_rc, VOW_ECANCELED);
    VOW_ASSERT_CODE(cleanup_rc, 0); /* ran before the timeout settled */
    VOW_ASSERT_CODE(vow_error_code(o.error), VOW_ETIMEDOUT);
    vow_outcome_release(&o);
    VOW_TEST_END(loop);
}

static vow_result_t body_cancel_self(vow_loop_t *loop, void *arg) {
    (void)arg;
    vow_t *self = awaited;
    VOW_ASSERT_CODE(vow_cancel(self), 0); /* while running: delivered at the next await */
    first_rc = vow_await(vow_sleep(loop, 10000), NULL);
    later_rc = vow_await(vow_sleep(loop, 1), NULL);
    return vow_ok_none();
}

Test(async, a_cancel_while_running_is_delivered_at_the_next_await) {
    vow_loop_t *loop = vow_test_loop();
    /* The body reads its own promise from `awaited`: set it before it can run. A task
     * starts on the next turn, so the promise exists by then. */
    vow_t *p = vow_create_task_async(loop, body_cancel_self, NULL, NULL);
    awaited = p;
    vow_outcome_t o = run_out(loop, vow_ref(p));
    VOW_ASSERT_CODE(first_rc, VOW_ECANCELED);
    VOW_ASSERT_CODE(later_rc, 0);
    VOW_ASSERT_CODE(vow_error_code(o.error), VOW_ECANCELED);
    vow_outcome_release(&o);
    vow_unref(p);
    VOW_ASSERT_EQ(vow_loop_alive(loop), 0); /* the 10 s sleep was cancelled at once */
    VOW_TEST_END(loop);
}

/* ---- create_task_async -------------------------------------------------------------------- */

static int body_runs;
static vow_result_t body_count(vow_loop_t *loop, void *arg) {
    (void)loop, (void)arg;
    body_runs++;
    note("task ");
    return vow_ok_int(3);
}

Test(async, create_task_async_defers_the_start_and_a_cancel_before_it_drops_the_body) {
    vow_loop_t *loop = vow_test_loop();
    trace[0] = '\0';
    body_runs = 0;
    ctx_free_calls = 0;
    vow_t *t = vow_create_task_async(loop, body_count, NULL, ctx_free_count);
    note("after ");
    VOW_ASSERT_EQ(body_runs, 0);
    vow_outcome_t o = run_out(loop, t);
    VOW_ASSERT_STR_EQ(trace, "after task ");
    VOW_ASSERT_EQ(vow_value_int(&o.value), 3);
    VOW_ASSERT_EQ(ctx_free_calls, 1);
    vow_outcome_release(&o);
    /* cancelled before its start: never runs, arg_free once, cancelled at once */
    t = vow_create_task_async(loop, body_count, NULL, ctx_free_count);
    VOW_ASSERT_CODE(vow_cancel(t), 0);
    VOW_ASSERT_STATE(vow_state(t), VOW_REJECTED);
    VOW_ASSERT_EQ(ctx_free_calls, 2);
    o = run_out(loop, t);
    VOW_ASSERT_EQ(body_runs, 1);
    vow_outcome_release(&o);
    /* dropped unstarted by vow_loop_free */
    t = vow_create_task_async(loop, body_count, NULL, ctx_free_count);
    vow_unref(t);
    VOW_TEST_END_FORCED(loop);
    VOW_ASSERT_EQ(body_runs, 1);
    VOW_ASSERT_EQ(ctx_free_calls, 3);
}

/* ---- teardown ------------------------------------------------------------------------------ */

static int td_first, td_second, td_done;
static vow_result_t body_teardown(vow_loop_t *loop, void *arg) {
    (void)arg;
    td_first = vow_await(vow_sleep(loop, 10000), NULL);
    td_second = vow_await(vow_sleep(loop, 1), NULL);
    td_done++;
    return vow_ok_none();
}

Test(async, vow_loop_free_unwinds_suspended_coroutines) {
    vow_loop_t *loop = vow_test_loop();
    td_first = td_second = 1;
    td_done = 0;
    vow_t *p = vow_async(loop, body_teardown, NULL, NULL);
    vow_t *q = vow_async(loop, body_teardown, NULL, NULL);
    vow_unref(q);
    VOW_ASSERT_CODE(vow_loop_close(loop), VOW_EBUSY);
    VOW_ASSERT_CODE(vow_loop_free(loop), 0);
    VOW_ASSERT_EQ(td_done, 2);
    VOW_ASSERT_CODE(td_first, VOW_ECANCELED);
    VOW_ASSERT_CODE(td_second, VOW_ECLOSED);
    vow_unref(p); /* a closed handle */
    VOW_ASSERT_EQ(vow_test_live_allocs(), 0);
}

Test(async, the_clean_exit_cancels_suspended_coroutines_and_lets_them_finish) {
    vow_loop_t *loop = vow_test_loop();
    td_first = td_second = 1;
    td_done = 0;
    vow_t *bg = vow_async(loop, body_teardown, NULL, NULL); /* a background coroutine */
    vow_unref(bg);
    vow_outcome_t o;
    VOW_ASSERT_CODE(vow_run_main(loop, vow_sleep(loop, 1), &o), 0);
    vow_outcome_release(&o);
    VOW_ASSERT_EQ(td_done, 1);
    VOW_ASSERT_CODE(td_first, VOW_ECANCELED);
    VOW_ASSERT_CODE(td_second, 0); /* its cleanup's sleep ran: asyncio.run lets it finish */
    VOW_ASSERT_EQ(vow_test_live_allocs(), 0);
}

static int cancel_seen;
static vow_result_t saw_cancel(vow_loop_t *loop, vow_error_t *e, void *ctx) {
    (void)loop, (void)ctx;
    if (vow_is_cancellation(e)) cancel_seen++;
    return vow_ok_none();
}

Test(async, the_clean_exit_cancels_an_unstarted_task_whose_body_never_runs) {
    vow_loop_t *loop = vow_test_loop();
    body_runs = 0;
    ctx_free_calls = 0;
    cancel_seen = 0;
    vow_t *t = vow_create_task_async(loop, body_count, NULL, ctx_free_count);
    vow_unref(vow_catch_ex(t, saw_cancel, NULL, NULL, VOW_CATCH_CANCELLED));
    vow_outcome_t o;
    VOW_ASSERT_CODE(vow_run_main(loop, vow_resolved(loop, vow_none()), &o), 0);
    vow_outcome_release(&o);
    VOW_ASSERT_EQ(body_runs, 0);
    VOW_ASSERT_EQ(ctx_free_calls, 1);
    VOW_ASSERT_EQ(cancel_seen, 1); /* cancelled, and its reaction ran, before the teardown */
    VOW_ASSERT_EQ(vow_test_live_allocs(), 0);
}

/* ---- async generators and async for --------------------------------------------------------- */

static int gen_closed_rc, gen_cleanup_rc, gen_after;
static vow_result_t gen_count(vow_loop_t *loop, void *arg) {
    int n = (int)(intptr_t)arg;
    for (int i = 0; i < n; i++) {
        if (vow_await(vow_sleep(loop, 1), NULL) != 0) break;
        int rc = vow_yield(vow_int(i));
        if (rc != 0) {
            gen_closed_rc = rc;
            gen_cleanup_rc = vow_await(vow_sleep(loop, 1), NULL); /* cleanup awaits */
            gen_after = vow_yield(vow_int(-1));                   /* yields answer at once */
            return vow_ok_none();
        }
    }
    return vow_ok_none();
}

static int64_t sum;
static int items, next_rc;
static vow_result_t consume(vow_loop_t *loop, void *arg) {
    (void)loop;
    vow_stream_t *s = arg;
    vow_outcome_t it;
    int rc;
    while ((rc = vow_await_next(s, &it)) > 0) {
        sum += vow_value_int(&it.value);
        items++;
        vow_outcome_release(&it);
        if (items == 3) break;
    }
    vow_outcome_release(&it); /* a failed stream's error */
    next_rc = rc;
    return vow_ok_none();
}

Test(async, a_generator_consumed_partly_then_closed_runs_its_cleanup) {
    vow_loop_t *loop = vow_test_loop();
    gen_closed_rc = gen_cleanup_rc = gen_after = 1;
    sum = items = 0;
    ctx_free_calls = 0;
    vow_stream_t *s = vow_async_gen(loop, gen_count, CTX(10), ctx_free_count);
    VOW_ASSERT_EQ(vow_async_live(loop), 0); /* starts on the first next */
    vow_outcome_t o = run_out(loop, vow_async(loop, consume, s, NULL));
    vow_outcome_release(&o);
    VOW_ASSERT_EQ(items, 3);
    VOW_ASSERT_EQ(sum, 0 + 1 + 2);
    VOW_ASSERT_EQ(gen_closed_rc, 1); /* still suspended at its yield */
    VOW_ASSERT_EQ(vow_async_live(loop), 1);
    VOW_ASSERT_CODE(vow_stream_close(s), 0);
    VOW_ASSERT_CODE(gen_closed_rc, VOW_ECLOSED);
    VOW_ASSERT_CODE(vow_run(loop, vow_sleep(loop, 20), NULL), 0); /* its cleanup's await */
    VOW_ASSERT_CODE(gen_cleanup_rc, 0);
    VOW_ASSERT_CODE(gen_after, VOW_ECLOSED);
    VOW_ASSERT_EQ(vow_async_live(loop), 0);
    VOW_ASSERT_EQ(ctx_free_calls, 1);
    vow_stream_unref(s);
    VOW_TEST_END(loop);
}

Test(async, a_generator_consumed_to_its_end) {
    vow_loop_t *loop = vow_test_loop();
    sum = items = 0;
    vow_stream_t *s = vow_async_gen(loop, gen_count, CTX(2), NULL);
    vow_outcome_t o = run_out(loop, vow_async(loop, consume, vow_stream_ref(s), NULL));
    vow_outcome_release(&o);
    VOW_ASSERT_EQ(items, 2);
    VOW_ASSERT_EQ(next_rc, 0); /* the end */
    vow_stream_unref(s);       /* the consumer's reference */
    vow_stream_unref(s);
    VOW_ASSERT_EQ(vow_async_live(loop), 0);
    VOW_TEST_END(loop);
}

static vow_result_t gen_fail(vow_loop_t *loop, void *arg) {
    (void)arg;
    vow_yield(vow_int(5));
    vow_await(vow_sleep(loop, 1), NULL);
    return vow_fail_code(VOW_ENOENT, "generator failed");
}

Test(async, a_generator_that_fails_fails_its_stream) {
    vow_loop_t *loop = vow_test_loop();
    sum = items = 0;
    vow_stream_t *s = vow_async_gen(loop, gen_fail, NULL, NULL);
    vow_outcome_t o = run_out(loop, vow_async(loop, consume, s, NULL));
    vow_outcome_release(&o);
    VOW_ASSERT_EQ(items, 1);
    VOW_ASSERT_CODE(next_rc, VOW_ENOENT);
    vow_stream_unref(s);
    VOW_TEST_END(loop);
}

Test(async, a_generator_closed_before_its_first_next_never_runs) {
    vow_loop_t *loop = vow_test_loop();
    ctx_free_calls = 0;
    gen_closed_rc = 1;
    vow_stream_t *s = vow_async_gen(loop, gen_count, CTX(3), ctx_free_count);
    vow_stream_unref(s);
    VOW_ASSERT_EQ(ctx_free_calls, 1);
    VOW_ASSERT_EQ(gen_closed_rc, 1);
    VOW_TEST_END(loop);
}

Test(async, a_generator_closed_while_it_awaits_is_cancelled_there) {
    vow_loop_t *loop = vow_test_loop();
    gen_closed_rc = 1;
    vow_stream_t *s = vow_async_gen(loop, gen_count, CTX(3), NULL);
    vow_t *n = vow_stream_next(s); /* the generator now awaits its 1 ms sleep */
    VOW_ASSERT_EQ(vow_async_live(loop), 1);
    VOW_ASSERT_CODE(vow_stream_close(s), 0);
    vow_outcome_t o = run_out(loop, n);
    VOW_ASSERT_EQ(vow_stream_is_end(&o.value), 1);
    vow_outcome_release(&o);
    VOW_ASSERT_CODE(vow_run(loop, vow_sleep(loop, 5), NULL), 0);
    VOW_ASSERT_EQ(vow_async_live(loop), 0); /* its await was cancelled: it broke out */
    vow_stream_unref(s);
    VOW_TEST_END(loop);
}

Test(async, async_for_over_any_stream) {
    vow_loop_t *loop = vow_test_loop();
    sum = items = 0;
    vow_stream_t *s = vow_stream_range(loop, 10, 20, 1, 0);
    vow_outcome_t o = run_out(loop, vow_async(loop, consume, s, NULL));
    vow_outcome_release(&o);
    VOW_ASSERT_EQ(items, 3);
    VOW_ASSERT_EQ(sum, 10 + 11 + 12);
    vow_stream_unref(s);
    VOW_TEST_END(loop);
}

/* ---- out of memory --------------------------------------------------------------------------- */

static vow_result_t body_oom(vow_loop_t *loop, void *arg) {
    (void)arg;
    vow_t *inner = vow_async(loop, body_sleep_twice, CTX(3), NULL);
    int rc = vow_await(inner, NULL);
    vow_stream_t *s = vow_async_gen(loop, gen_count, CTX(2), NULL);
    if (s != NULL) {
        vow_outcome_t it;
        while (vow_await_next(s, &it) > 0) vow_outcome_release(&it);
        vow_outcome_release(&it);
        vow_stream_unref(s);
    }
    return rc == 0 ? vow_ok_int(1) : vow_fail_code(rc, NULL);
}

/* A normal run or an error, never a crash, a leak, or a stack left behind. */
static void oom_sweep(void) {
    long first = -1;
    for (long n = 0;; n++) {
        vow_loop_t *loop = vow_test_loop();
        VOW_ASSERT_CODE(vow_set_unhandled_mode(loop, VOW_UNHANDLED_SILENT), 0);
        vow_test_reset_counts();
        vow_test_fail_at(n);
        int rc = 0;
        vow_t *p = vow_async(loop, body_oom, NULL, NULL);
        if (p == NULL) {
            rc = VOW_ENOMEM;
        } else {
            vow_outcome_t r;
            rc = vow_run(loop, p, &r);
            if (rc == 0 && r.state == VOW_REJECTED) rc = vow_error_code(r.error);
            vow_outcome_release(&r);
        }
        long failed = vow_test_failed_allocs();
        vow_test_fail_at(0);
        VOW_ASSERT_CODE(vow_loop_free(loop), 0);
        cr_assert(rc == 0 || rc == VOW_ENOMEM || rc == VOW_ENEVER, "run %ld: %s", n,
                  vow_strerror(rc));
        VOW_ASSERT_EQ(vow_test_live_allocs(), 0, "run %ld: %ld allocation(s) leaked", n,
                      vow_test_live_allocs());
        if (n == 0) {
            first = vow_test_alloc_total();
            VOW_ASSERT_CODE(rc, 0, "the program fails without any failed allocation");
        } else if (failed == 0) {
            break; /* n is past the program's last allocation */
        }
        cr_assert_lt(n, first + 10, "sweep did not end");
    }
}

Test(async, every_allocation_fails_once) { oom_sweep(); }

Test(async, every_allocation_fails_once_without_pools) { vow_test_without_pools(oom_sweep); }

/* ---- vow_rethrow, vow_main_async ---------------------------------------------------------- */

static vow_result_t body_rethrow(vow_loop_t *loop, void *arg) {
    vow_outcome_t o;
    int rc;
    if (arg == NULL) {
        if ((rc = vow_await(vow_rejected(loop, vow_error_new(VOW_ERANGE, "inner")), &o)) != 0)
            return vow_rethrow(rc, &o);
    } else {
        if ((rc = vow_await(NULL, &o)) != 0) return vow_rethrow(rc, &o); /* a misuse code */
    }
    return vow_ok_none();
}

Test(async, rethrow_hands_on_the_error_or_the_code) {
    vow_loop_t *loop = vow_test_loop();
    vow_outcome_t o = run_out(loop, vow_async(loop, body_rethrow, NULL, NULL));
    VOW_ASSERT_CODE(vow_error_code(o.error), VOW_ERANGE);
    VOW_ASSERT_STR_EQ(vow_error_message(o.error), "inner"); /* the same error, handed on */
    vow_outcome_release(&o);
    o = run_out(loop, vow_async(loop, body_rethrow, CTX(1), NULL));
    VOW_ASSERT_CODE(vow_error_code(o.error), VOW_ENOMEM);
    vow_outcome_release(&o);
    vow_result_t r = vow_rethrow(0, NULL);
    VOW_ASSERT_EQ(r.kind, VOW_RESULT_ERROR);
    VOW_ASSERT_CODE(vow_error_code(r.error), VOW_EUSER);
    vow_error_unref(r.error);
    VOW_TEST_END(loop);
}

static vow_result_t body_main(vow_loop_t *loop, void *arg) {
    int rc = vow_await(vow_sleep(loop, 1), NULL);
    if (rc != 0) return vow_fail_code(rc, NULL);
    return arg == NULL ? vow_ok_int(1) : vow_fail_code(VOW_ETIMEDOUT, "main failed");
}

Test(async, vow_main_async_runs_a_coroutine_as_main) {
    VOW_ASSERT_EQ(vow_main_async(body_main, NULL), 0);
    VOW_ASSERT_EQ(vow_main_async(body_main, CTX(1)), 1); /* an uncaught rejection */
    VOW_ASSERT_EQ(vow_main_async(NULL, NULL), 1);
    VOW_ASSERT_EQ(vow_test_live_allocs(), 0);
}
