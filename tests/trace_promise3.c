/* tests/trace_promise3.c - the C twin of tests/js/trace_promise3.js.
 *
 * Fan-out and adoption: several thens on one promise (each its own outcome), pass-through
 * (then and finally without handlers), several chains adopting the same pending promise,
 * vow_resolve_with called with a resolved, a pending and a rejected promise (JavaScript's
 * resolve functions called with a promise), nested adoption, throws recovered by catch,
 * finally on both paths, microtasks in between (one of which settles the shared promise).
 * One line per reaction run; tests/compare.sh diffs the output against node's. */
#include <stdio.h>

#include "vow.h"
#include "trace.h"

#define L(s) ((void *)(s))

static vow_loop_t *loop;
static vow_t *shared, *root, *n3;

static void log_int(const char *label, const vow_value_t *v) {
    printf("%s %lld\n", label, (long long)vow_value_int(v));
}
static void log_err(const char *label, vow_error_t *e) {
    printf("%s %s\n", label, vow_err_name(vow_error_code(e)));
}
static void m_log(vow_loop_t *l, void *arg) {
    (void)l;
    log_line(arg);
}

static vow_result_t log_value(vow_loop_t *l, const vow_value_t *v, void *ctx) {
    (void)l;
    log_int(ctx, v);
    return vow_ok_none();
}
static vow_result_t log_value_return_shared(vow_loop_t *l, const vow_value_t *v, void *ctx) {
    (void)l;
    log_int(ctx, v);
    return vow_follow(vow_ref(shared));
}
static vow_result_t log_value_throw_ebusy(vow_loop_t *l, const vow_value_t *v, void *ctx) {
    (void)l;
    log_int(ctx, v);
    return vow_fail_code(VOW_EBUSY, NULL);
}
static vow_result_t catch_return_shared(vow_loop_t *l, vow_error_t *e, void *ctx) {
    (void)l;
    log_err(ctx, e);
    return vow_follow(vow_ref(shared));
}
static vow_result_t f3(vow_loop_t *l, const vow_value_t *v, void *ctx) {
    (void)l;
    log_int(ctx, v);
    return vow_follow(vow_then(vow_ref(root), log_value_return_shared, NULL, L("f3 inner"), NULL));
}
static vow_result_t fin_log_return_shared(vow_loop_t *l, void *ctx) {
    (void)l;
    log_line(ctx);
    return vow_follow(vow_ref(shared));
}
static vow_result_t fin_log(vow_loop_t *l, void *ctx) {
    (void)l;
    log_line(ctx);
    return vow_ok_none();
}
static vow_result_t catch_throw_erange(vow_loop_t *l, vow_error_t *e, void *ctx) {
    (void)l;
    log_err(ctx, e);
    return vow_fail_code(VOW_ERANGE, NULL);
}
static vow_result_t catch_return_33(vow_loop_t *l, vow_error_t *e, void *ctx) {
    (void)l;
    log_err(ctx, e);
    return vow_ok_int(33);
}
static vow_result_t n2_step(vow_loop_t *l, const vow_value_t *v, void *ctx) {
    (void)l;
    log_int(ctx, v);
    return vow_follow(vow_ref(n3));
}
static vow_t *n2;
static vow_result_t n1_step(vow_loop_t *l, const vow_value_t *v, void *ctx) {
    (void)l;
    (void)v;
    log_line(ctx);
    return vow_follow(vow_ref(n2));
}
static void m2(vow_loop_t *l, void *arg) {
    (void)l;
    (void)arg;
    log_line("m2");
    EXPECT(vow_resolve(shared, vow_int(9)) == 0);
}
static vow_result_t g1(vow_loop_t *l, const vow_value_t *v, void *ctx) {
    (void)v;
    EXPECT(vow_microtask(l, m2, NULL) == 0);
    log_line(ctx);
    return vow_ok_none();
}

int main(void) {
    if (vow_loop_new(&loop, VOW_BACKEND_AUTO) != 0) return 1;
    shared = vow_new(loop);
    root = vow_resolved(loop, vow_int(0));

    /* Fan-out from root, in registration order. */
    vow_t *c = vow_then(vow_ref(root), log_value_return_shared, NULL, L("f1"), NULL);
    vow_unref(vow_then(c, log_value, NULL, L("f1b"), NULL));

    c = vow_then(vow_ref(root), log_value_throw_ebusy, NULL, L("f2"), NULL);
    c = vow_then(c, NULL, NULL, NULL, NULL);
    c = vow_catch(c, catch_return_shared, L("f2 catch"), NULL);
    vow_unref(vow_then(c, log_value, NULL, L("f2b"), NULL));

    c = vow_then(vow_ref(root), NULL, NULL, NULL, NULL);
    c = vow_finally(c, NULL, NULL, NULL);
    c = vow_then(c, f3, NULL, L("f3"), NULL);
    vow_unref(vow_then(c, log_value, NULL, L("f3b"), NULL));

    c = vow_finally(vow_ref(root), fin_log_return_shared, L("f4 finally"), NULL);
    vow_unref(vow_then(c, log_value, NULL, L("f4b"), NULL));

    /* Resolving with promises. */
    vow_t *d1 = vow_new(loop), *d2 = vow_new(loop), *d3 = vow_new(loop);
    vow_unref(vow_then(vow_ref(d1), log_value, NULL, L("d1"), NULL));
    vow_unref(vow_then(vow_ref(d2), log_value, NULL, L("d2"), NULL));
    c = vow_catch(vow_ref(d3), catch_throw_erange, L("d3 catch"), NULL);
    c = vow_finally(c, fin_log, L("d3 finally"), NULL);
    c = vow_catch(c, catch_return_33, L("d3 catch again"), NULL);
    vow_unref(vow_then(c, log_value, NULL, L("d3b"), NULL));
    EXPECT(vow_resolve_with(d1, vow_follow(vow_resolved(loop, vow_int(11)))) == 0);
    EXPECT(vow_resolve_with(d2, vow_follow(vow_ref(shared))) == 0);
    EXPECT(vow_resolve_with(d3, vow_follow(vow_rejected(loop, vow_error_new(VOW_EINVAL, NULL)))) ==
           0);

    /* Nested adoption. */
    n3 = vow_resolved(loop, vow_int(30));
    n2 = vow_then(vow_ref(n3), n2_step, NULL, L("n2"), NULL);
    vow_t *n1 = vow_then(vow_resolved(loop, vow_none()), n1_step, NULL, L("n1"), NULL);
    vow_unref(vow_then(n1, log_value, NULL, L("n1b"), NULL));

    /* Microtasks. */
    EXPECT(vow_microtask(loop, m_log, "m1") == 0);
    vow_unref(vow_then(vow_ref(root), g1, NULL, L("g1"), NULL));
    EXPECT(vow_microtask(loop, m_log, "m3") == 0);

    int rc = vow_loop_run(loop, VOW_RUN_DEFAULT);
    vow_unref(d1);
    vow_unref(d2);
    vow_unref(d3);
    vow_unref(n2);
    vow_unref(n3);
    vow_unref(root);
    vow_unref(shared);
    if (rc != 0 || failures != 0) return 1;
    return vow_loop_close(loop) == 0 ? 0 : 1;
}
