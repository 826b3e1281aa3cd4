/* The allocation-failure sweep of Foundation I, extended to promises: a program with
 * chains, adoption of a promise and of a foreign thenable, finally, a heap value with a
 * destructor, an error with a cause and an unhandled rejection runs once normally, then
 * once for every N with vow's N-th allocation failing. Each run must end normally or with
 * a clean out-of-memory outcome, with every value destructor run exactly once and no vow
 * allocation live. */
#include "helpers.h"

static int dtor_runs, values_made;

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

static vow_result_t add_heap(vow_loop_t *l, const vow_value_t *v, void *c) {
    (void)l, (void)c;
    return vow_ok(heap_int(vow_value_int(v) + 1));
}

static vow_result_t to_heap_value(vow_loop_t *l, const vow_value_t *v, void *c) {
    (void)l, (void)c, (void)v;
    return vow_ok(heap_int(10));
}

static vow_result_t read_heap(vow_loop_t *l, const vow_value_t *v, void *c) {
    (void)l, (void)c;
    int64_t *p = vow_value_ptr(v);
    return vow_ok_int(p != NULL ? *p : -1);
}

static vow_result_t follow_resolved(vow_loop_t *l, const vow_value_t *v, void *c) {
    (void)c;
    return vow_follow(vow_resolved(l, vow_value_share(v)));
}

static int sub(void *ctx, vow_resolver_t *r) {
    (void)ctx;
    vow_resolver_resolve(r, vow_ok_int(100));
    return 0;
}

static vow_result_t follow_thenable(vow_loop_t *l, const vow_value_t *v, void *c) {
    (void)l, (void)v, (void)c;
    return vow_follow_thenable(vow_thenable_new(sub, NULL, NULL));
}

static vow_result_t fin(vow_loop_t *l, void *c) {
    (void)c;
    return vow_follow(vow_sleep(l, 1));
}

static vow_result_t fail_with_cause(vow_loop_t *l, const vow_value_t *v, void *c) {
    (void)l, (void)v, (void)c;
    return vow_fail(vow_error_wrap(VOW_ERANGE, "outer", vow_error_new(VOW_EINVAL, "inner")));
}

static vow_result_t recover(vow_loop_t *l, vow_error_t *e, void *c) {
    (void)l, (void)c;
    if (vow_error_code(e) == VOW_ENOMEM) return vow_fail(vow_error_ref(e)); /* pass it on */
    return vow_ok_int(vow_error_code(e) == VOW_ERANGE ? 1000 : -1);
}

static vow_result_t sum(vow_loop_t *l, const vow_value_t *v, void *c) {
    (void)l;
    return vow_ok_int(vow_value_int(v) + *(int64_t *)c);
}

static int64_t thenable_part = 100;

/* Returns 0 when the program completed normally, VOW_ENOMEM when it saw a clean
 * out-of-memory code or outcome; any other value is a failure. */
static int program(void) {
    vow_loop_t *loop;
    int rc = vow_loop_new(&loop, VOW_BACKEND_AUTO);
    if (rc != 0) return rc;
    vow_set_unhandled_mode(loop, VOW_UNHANDLED_SILENT);

    /* An unhandled rejection with a cause chain. */
    vow_unref(vow_rejected(
        loop, vow_error_wrap(VOW_ETIMEDOUT, NULL, vow_error_new(VOW_ECANCELED, NULL))));

    /* A chain: sleep -> heap value -> +1 (heap) -> adopt a resolved promise -> read ->
     * finally (waits on a sleep) -> throw with a cause -> recover. */
    vow_t *a = vow_then(vow_sleep(loop, 2), to_heap_value, NULL, NULL, NULL);
    a = vow_then(a, add_heap, NULL, NULL, NULL);
    a = vow_then(a, follow_resolved, NULL, NULL, NULL);
    a = vow_then(a, read_heap, NULL, NULL, NULL);
    a = vow_finally(a, fin, NULL, NULL);
    a = vow_then(a, fail_with_cause, NULL, NULL, NULL);
    a = vow_catch(a, recover, NULL, NULL);

    /* A second chain adopting a foreign thenable, joined to the first. */
    vow_t *b = vow_then(vow_resolved(loop, vow_int(0)), follow_thenable, NULL, NULL, NULL);
    vow_t *joined = vow_then(b, sum, NULL, &thenable_part, NULL);
    (void)joined;

    vow_outcome_t out;
    int rc_a = vow_run(loop, a, &out);
    int result = 0;
    if (rc_a == VOW_EINVAL) {
        result = VOW_ENOMEM; /* a constructor returned NULL: the chain ended in NULL */
    } else if (rc_a != 0) {
        result = rc_a;
    } else if (out.state == VOW_FULFILLED) {
        result = vow_value_int(&out.value) == 1000 ? 0 : -1;
    } else {
        result = vow_error_code(out.error) == VOW_ENOMEM ? VOW_ENOMEM : -2;
    }
    vow_outcome_release(&out);

    vow_outcome_t out_b;
    int rc_b = vow_run(loop, joined, &out_b);
    if (rc_b == 0 && out_b.state == VOW_FULFILLED) {
        if (vow_value_int(&out_b.value) != 200) result = -3;
    } else if (rc_b == 0 && vow_error_code(out_b.error) != VOW_ENOMEM) {
        result = -4;
    } else if (rc_b != 0 && rc_b != VOW_EINVAL) {
        result = rc_b;
    } else if (result == 0) {
        result = VOW_ENOMEM;
    }
    vow_outcome_release(&out_b);
    vow_loop_free(loop);
    return result;
}

TestSuite(oom_promise, .init = vow_test_setup, .fini = vow_test_teardown, .timeout = 120);

/* Fails each allocation of program() in turn. With the loop's pools on (the default), a
 * promise or record takes an allocation only when its pool needs a chunk; with VOW_POOL=off
 * every one is its own allocation, so every creation point in program() fails once. */
/* program() with its counters zeroed first. */
static int counted_program(void) {
    dtor_runs = values_made = 0;
    return program();
}

/* Every value made was destroyed, and a failed run (k > 0) failed its allocation. */
static void check_counts(long k) {
    if (k == 0) {
        VOW_ASSERT_EQ(dtor_runs, values_made);
        return;
    }
    VOW_ASSERT_EQ(vow_test_failed_allocs(), 1, "N=%ld: the allocation did not fail", k);
    VOW_ASSERT_EQ(dtor_runs, values_made, "N=%ld: %d of %d value destructors ran", k, dtor_runs,
                  values_made);
}

static void sweep_every_allocation(void) {
    vow_test_sweep_allocations(counted_program, check_counts);
}

Test(oom_promise, every_allocation_fails_once) { sweep_every_allocation(); }

Test(oom_promise, every_allocation_fails_once_without_pools) {
    vow_test_without_pools(sweep_every_allocation);
}
