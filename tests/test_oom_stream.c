/* The allocation-failure sweep (as tests/test_oom_promise.c) over streams and scopes: a
 * program that pushes heap items into a stream with back-pressure, takes some, cancels a
 * waiting push and closes the stream early; collects a bounded map over a range with a
 * delay; runs for_each with a reaction returning a promise; and runs a scope whose body
 * and release both fail. It runs once normally, then once with each of vow's allocations
 * failing in turn: every run ends normally or with a clean out-of-memory outcome, every
 * value destructor runs exactly once, the cleanup at most once, and no vow allocation is
 * left. */
#include "helpers.h"

static int dtor_runs, values_made, cleanups;

static void counted_free(void *p) {
    dtor_runs++;
    free(p);
}

static vow_value_t heap_int(int64_t v) {
    int64_t *p = malloc(sizeof *p);
    *p = v;
    values_made++;
    return vow_ptr(p, counted_free);
}

static void cleanup(vow_loop_t *loop, void *ctx) {
    (void)loop, (void)ctx;
    cleanups++;
}

static vow_result_t twice(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v;
    return vow_ok(heap_int(*(int64_t *)ctx * 2));
}
static vow_result_t later_twice(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)ctx;
    int64_t *box = malloc(sizeof *box);
    *box = vow_value_int(v);
    return vow_follow(vow_then(vow_sleep(loop, 1), twice, NULL, box, free));
}
static int64_t sum;
static vow_result_t add(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)ctx;
    int64_t *p = vow_value_ptr(v);
    sum += p != NULL ? *p : -1000;
    return vow_follow(vow_resolved(loop, vow_none()));
}

static vow_t *acquire(vow_loop_t *loop, void *ctx) {
    (void)ctx;
    return vow_resolved(loop, heap_int(7));
}
static vow_t *body(vow_loop_t *loop, const vow_value_t *res, void *ctx) {
    (void)res, (void)ctx;
    return vow_rejected(loop, vow_error_new(VOW_EUSER, "body"));
}
static vow_t *release(vow_loop_t *loop, const vow_value_t *res, vow_error_t *err, void *ctx) {
    (void)res, (void)err, (void)ctx;
    return vow_rejected(loop, vow_error_new(VOW_EBUSY, "release"));
}

/* An out-of-memory error, or one caused by it (a scope's release error caused by a body
 * that ran out of memory). */
static int has_enomem(const vow_error_t *e) {
    for (; e != NULL; e = vow_error_cause(e))
        if (vow_error_code(e) == VOW_ENOMEM) return 1;
    return 0;
}

/* 0: as wanted; VOW_ENOMEM: a clean out-of-memory answer; anything else: a failure. */
static int judge(int rc, vow_outcome_t *out, int (*ok)(vow_outcome_t *), int which) {
    int r;
    if (rc == VOW_EINVAL)
        r = VOW_ENOMEM; /* a call answered NULL: the chain ended in NULL */
    else if (rc != 0)
        r = rc;
    else if (out->state == VOW_REJECTED && has_enomem(out->error))
        r = VOW_ENOMEM;
    else
        r = ok(out) ? 0 : -which;
    vow_outcome_release(out);
    return r;
}

static int map_ok(vow_outcome_t *out) {
    const vow_list_t *l = vow_list_of(&out->value);
    if (out->state != VOW_FULFILLED || vow_list_len(l) != 5) return 0;
    for (size_t i = 0; i < 5; i++)
        if (*(int64_t *)vow_value_ptr(vow_list_value(l, i)) != (int64_t)i * 2) return 0;
    return 1;
}
static int each_ok(vow_outcome_t *out) { return out->state == VOW_FULFILLED && sum == 6; }
static int scope_ok(vow_outcome_t *out) {
    return out->state == VOW_REJECTED && vow_error_code(out->error) == VOW_EBUSY &&
           vow_error_code(vow_error_cause(out->error)) == VOW_EUSER;
}

static int program(void) {
    vow_loop_t *loop;
    int rc = vow_loop_new(&loop, VOW_BACKEND_AUTO);
    if (rc != 0) return rc;
    vow_set_unhandled_mode(loop, VOW_UNHANDLED_SILENT);
    int result = 0;

    /* Back-pressure, a cancelled push, an early close. */
    vow_stream_t *s = vow_stream_new(loop, 2, NULL, cleanup, NULL, NULL);
    if (s == NULL) result = VOW_ENOMEM;
    vow_t *push[4];
    for (int i = 0; i < 4; i++) push[i] = vow_stream_push(s, heap_int(i));
    vow_cancel(push[3]);
    vow_t *n = vow_stream_next(s);
    if (s != NULL && n == NULL) result = VOW_ENOMEM;
    vow_stream_close(s);
    vow_unref(n);
    for (int i = 0; i < 4; i++) vow_unref(push[i]);
    vow_stream_unref(s);

    /* A bounded map over a range, collected. */
    vow_outcome_t out;
    vow_stream_t *m =
        vow_stream_map(vow_stream_range(loop, 0, 5, 1, 1), later_twice, NULL, NULL, 2);
    rc = judge(vow_run(loop, vow_stream_collect(m), &out), &out, map_ok, 10);
    if (result == 0) result = rc;

    /* for_each over pushed items with a reaction that returns a promise. */
    sum = 0;
    vow_stream_t *t = vow_stream_new(loop, 4, NULL, NULL, NULL, NULL);
    for (int i = 1; i <= 3; i++) {
        vow_t *p = vow_stream_push(t, heap_int(i));
        if (t != NULL && p == NULL) sum -= 100; /* the item could not go in */
        vow_unref(p);
    }
    vow_stream_end(t);
    rc = judge(vow_run(loop, vow_stream_for_each(t, add, NULL, NULL), &out), &out, each_ok, 20);
    if (result == 0) result = rc == -20 && sum < 0 ? VOW_ENOMEM : rc;

    /* A scope whose body and release fail. */
    rc = judge(vow_run(loop, vow_scope(loop, acquire, body, release, NULL, NULL), &out), &out,
               scope_ok, 30);
    if (result == 0) result = rc;

    vow_loop_free(loop);
    return result;
}

TestSuite(oom_stream, .init = vow_test_setup, .fini = vow_test_teardown, .timeout = 120);

/* program() with its counters zeroed first. */
static int counted_program(void) {
    dtor_runs = values_made = cleanups = 0;
    return program();
}

/* The normal run (k 0) ran every destructor and the cleanup once; a failed run, every
 * destructor and the cleanup at most once. */
static void check_counts(long k) {
    if (k == 0) {
        VOW_ASSERT_EQ(dtor_runs, values_made);
        VOW_ASSERT_EQ(cleanups, 1);
        return;
    }
    VOW_ASSERT_EQ(vow_test_failed_allocs(), 1L, "N=%ld: the allocation did not fail", k);
    VOW_ASSERT_EQ(dtor_runs, values_made, "N=%ld: value destructors", k);
    cr_assert(cleanups <= 1, "N=%ld: cleanup ran %d times", k, cleanups);
}

static void sweep_every_allocation(void) {
    vow_test_sweep_allocations(counted_program, check_counts);
}

Test(oom_stream, every_allocation_fails_once) { sweep_every_allocation(); }

Test(oom_stream, every_allocation_fails_once_without_pools) {
    vow_test_without_pools(sweep_every_allocation);
}
