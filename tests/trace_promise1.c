/* tests/trace_promise1.c - the C twin of tests/js/trace_promise1.js.
 *
 * Several promise chains interleaved in one microtask drain: adoption of a resolved and of
 * a pending promise returned from a reaction, finally on both paths (one returning a
 * promise), errors thrown in reactions, recoveries in catch, and vow_microtask calls in
 * between. One line per reaction run. tests/compare.sh runs this program and node on the
 * JavaScript twin and diffs the outputs: the expected order is Node's, never typed here.
 *
 * Each reaction gets its label as ctx; JavaScript's `v + 1`, `throw E(code)` and
 * `return promise` are spelled vow_ok_int, vow_fail_code and vow_follow. Errors print by
 * their code's name, as the JavaScript prints e.code. */
#include <stdio.h>
#include <stdlib.h>

#include "vow.h"

static vow_loop_t *loop;
static vow_t *q; /* resolved by a microtask */

static void log_line(const char *s) { printf("%s\n", s); }
static void log_int(const char *label, const vow_value_t *v) {
    printf("%s %lld\n", label, (long long)vow_value_int(v));
}
static void log_err(const char *label, vow_error_t *e) {
    printf("%s %s\n", label, vow_err_name(vow_error_code(e)));
}

/* ---- reactions, by what they do (ctx: the label) ------------------------------------ */

static vow_result_t log_only(vow_loop_t *l, const vow_value_t *v, void *ctx) {
    (void)l;
    (void)v;
    log_line(ctx);
    return vow_ok_none();
}
static vow_result_t log_value(vow_loop_t *l, const vow_value_t *v, void *ctx) {
    (void)l;
    log_int(ctx, v);
    return vow_ok_none();
}
static vow_result_t log_return_resolved(vow_loop_t *l, const vow_value_t *v, void *ctx) {
    (void)v;
    log_line(ctx);
    return vow_follow(vow_resolved(l, vow_none())); /* return Promise.resolve() */
}
static vow_result_t log_value_return_q(vow_loop_t *l, const vow_value_t *v, void *ctx) {
    (void)l;
    log_int(ctx, v);
    return vow_follow(vow_ref(q)); /* return q (pending) */
}
static vow_result_t log_value_throw_ebusy(vow_loop_t *l, const vow_value_t *v, void *ctx) {
    (void)l;
    log_int(ctx, v);
    return vow_fail_code(VOW_EBUSY, NULL);
}
static vow_result_t catch_log_return_5(vow_loop_t *l, vow_error_t *e, void *ctx) {
    (void)l;
    log_err(ctx, e);
    return vow_ok_int(5);
}
static vow_result_t fin_log_return_resolved_99(vow_loop_t *l, void *ctx) {
    log_line(ctx);
    return vow_follow(vow_resolved(l, vow_int(99)));
}
static vow_result_t fin_log(vow_loop_t *l, void *ctx) {
    (void)l;
    log_line(ctx);
    return vow_ok_none();
}
static vow_result_t catch_log_throw_erange(vow_loop_t *l, vow_error_t *e, void *ctx) {
    (void)l;
    log_err(ctx, e);
    return vow_fail_code(VOW_ERANGE, NULL);
}
static vow_result_t catch_log_return_resolved_3(vow_loop_t *l, vow_error_t *e, void *ctx) {
    log_err(ctx, e);
    return vow_follow(vow_resolved(l, vow_int(3)));
}
static vow_result_t log_value_plus_1(vow_loop_t *l, const vow_value_t *v, void *ctx) {
    (void)l;
    log_int(ctx, v);
    return vow_ok_int(vow_value_int(v) + 1);
}
static vow_result_t fin_log_return_rejected(vow_loop_t *l, void *ctx) {
    log_line(ctx);
    return vow_follow(vow_rejected(l, vow_error_new(VOW_EAGAIN, NULL)));
}
static vow_result_t catch_log_throw_etimedout(vow_loop_t *l, vow_error_t *e, void *ctx) {
    (void)l;
    log_err(ctx, e);
    return vow_fail_code(VOW_ETIMEDOUT, NULL);
}
static vow_result_t fin_log_throw_eperm(vow_loop_t *l, void *ctx) {
    (void)l;
    log_line(ctx);
    return vow_fail_code(VOW_EPERM, NULL);
}
static vow_result_t catch_log_return_4(vow_loop_t *l, vow_error_t *e, void *ctx) {
    (void)l;
    log_err(ctx, e);
    return vow_ok_int(4);
}

/* ---- microtasks ------------------------------------------------------------------------ */

static void m2(vow_loop_t *l, void *arg) {
    (void)l;
    (void)arg;
    log_line("m2");
    vow_resolve(q, vow_int(20));
}
static void m1(vow_loop_t *l, void *arg) {
    (void)arg;
    log_line("m1");
    vow_microtask(l, m2, NULL);
}
static void m_log(vow_loop_t *l, void *arg) {
    (void)l;
    log_line(arg);
}
static vow_result_t e1(vow_loop_t *l, const vow_value_t *v, void *ctx) {
    (void)v;
    log_line(ctx);
    vow_microtask(l, m_log, "m3");
    return vow_follow(vow_ref(q));
}

#define L(s) ((void *)(s))

int main(void) {
    if (vow_loop_new(&loop, VOW_BACKEND_AUTO) != 0) return 1;

    /* The canonical example: node prints 1 2 3 4 A 5. */
    vow_t *p = vow_resolved(loop, vow_none());
    vow_unref(vow_then(vow_then(vow_ref(p), log_return_resolved, NULL, L("1"), NULL), log_only,
                       NULL, L("A"), NULL));
    vow_t *c = vow_then(vow_ref(p), log_only, NULL, L("2"), NULL);
    c = vow_then(c, log_only, NULL, L("3"), NULL);
    c = vow_then(c, log_only, NULL, L("4"), NULL);
    vow_unref(vow_then(c, log_only, NULL, L("5"), NULL));

    /* Chain b. */
    q = vow_new(loop);
    c = vow_resolved(loop, vow_int(10));
    c = vow_then(c, log_value_return_q, NULL, L("b1"), NULL);
    c = vow_then(c, log_value_throw_ebusy, NULL, L("b2"), NULL);
    c = vow_catch(c, catch_log_return_5, L("b3 catch"), NULL);
    c = vow_finally(c, fin_log_return_resolved_99, L("b4 finally"), NULL);
    vow_unref(vow_then(c, log_value, NULL, L("b5"), NULL));

    /* Chain c. */
    c = vow_rejected(loop, vow_error_new(VOW_EINVAL, NULL));
    c = vow_then(c, log_value, NULL, L("c skipped"), NULL);
    c = vow_finally(c, fin_log, L("c1 finally"), NULL);
    c = vow_catch(c, catch_log_throw_erange, L("c2 catch"), NULL);
    c = vow_then(c, log_value, catch_log_return_resolved_3, L("c3 onRejected"), NULL);
    vow_unref(vow_then(c, log_value, NULL, L("c4"), NULL));

    /* Chain d. */
    c = vow_resolved(loop, vow_int(1));
    c = vow_then(c, log_value_plus_1, NULL, L("d1"), NULL);
    c = vow_finally(c, fin_log_return_rejected, L("d2 finally"), NULL);
    c = vow_then(c, log_value, NULL, L("d skipped"), NULL);
    c = vow_catch(c, catch_log_throw_etimedout, L("d3 catch"), NULL);
    c = vow_finally(c, fin_log_throw_eperm, L("d4 finally"), NULL);
    c = vow_catch(c, catch_log_return_4, L("d5 catch"), NULL);
    vow_unref(vow_then(c, log_value, NULL, L("d6"), NULL));

    /* Microtasks queued before, between and inside. */
    vow_microtask(loop, m1, NULL);
    vow_unref(
        vow_then(vow_then(vow_ref(p), e1, NULL, L("e1"), NULL), log_value, NULL, L("e2"), NULL));
    vow_microtask(loop, m_log, "m4");

    vow_unref(p);
    int rc = vow_loop_run(loop, VOW_RUN_DEFAULT);
    vow_unref(q);
    if (rc != 0) return 1;
    return vow_loop_close(loop) == 0 ? 0 : 1;
}
