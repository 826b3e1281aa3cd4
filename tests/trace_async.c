/* tests/trace_async.c - the C twin of tests/js/trace_async.js (issue 16: await's job counts
 * are Node's).
 *
 * Coroutines (vow_async, vow_await) against then-chains in one microtask drain: await of a
 * settled and of a pending promise, the body running synchronously up to its first await,
 * returning a value and returning a promise (vow_follow: an async function's `return
 * promise`), a coroutine awaiting another, rejected awaits caught, several coroutines
 * awaiting one promise. One line per step. tests/compare.sh runs this program and node on
 * the JavaScript twin and diffs the outputs: the expected order is Node's, never typed
 * here. Errors print by their code's name, as the JavaScript prints e.code. */
#include <stdio.h>
#include <stdlib.h>

#include "vow.h"

static vow_loop_t *loop;

static void log_line(const char *s) { printf("%s\n", s); }
static void log_int(const char *label, int64_t v) { printf("%s %lld\n", label, (long long)v); }

static vow_result_t log_only(vow_loop_t *l, const vow_value_t *v, void *ctx) {
    (void)l, (void)v;
    log_line(ctx);
    return vow_ok_none();
}
static vow_result_t log_value(vow_loop_t *l, const vow_value_t *v, void *ctx) {
    (void)l;
    log_int(ctx, vow_value_int(v));
    return vow_ok_none();
}
static vow_result_t log_error(vow_loop_t *l, vow_error_t *e, void *ctx) {
    (void)l;
    printf("%s %s\n", (const char *)ctx, vow_err_name(vow_error_code(e)));
    return vow_ok_none();
}

/* chain(tag): Promise.resolve().then(x1)...then(x5) */
static char chain_labels[5][16];
static void chain(const char *tag) {
    vow_t *p = vow_resolved(loop, vow_none());
    for (int i = 0; i < 5; i++) {
        snprintf(chain_labels[i], sizeof chain_labels[i], "%s x%d", tag, i + 1);
        p = vow_then_ok(p, log_only, chain_labels[i]);
    }
    vow_unref(p);
}

/* await p, returning the integer it fulfilled with (the outcome released) */
static int64_t await_int(vow_t *p, int *rc) {
    vow_outcome_t o;
    *rc = vow_await(p, &o);
    int64_t v = o.state == VOW_FULFILLED ? vow_value_int(&o.value) : 0;
    vow_outcome_release(&o);
    return v;
}

/* ---- A: await of a settled promise, against a then-chain on it ---------------------------- */
static vow_t *a_p;
static vow_result_t a_fn(vow_loop_t *l, void *arg) {
    (void)arg;
    int rc;
    log_line("A f start");
    vow_await(vow_ref(a_p), NULL);
    log_line("A f after 1");
    vow_await(vow_ref(a_p), NULL);
    log_line("A f after 2");
    int64_t v = await_int(vow_resolved(l, vow_int(5)), &rc);
    log_int("A f after 3", v);
    return vow_ok_none();
}
static void A(void) {
    a_p = vow_resolved(loop, vow_int(0));
    vow_t *t = vow_then_ok(vow_ref(a_p), log_only, "A t1");
    t = vow_then_ok(t, log_only, "A t2");
    t = vow_then_ok(t, log_only, "A t3");
    vow_unref(vow_then_ok(t, log_only, "A t4"));
    vow_unref(vow_async(loop, a_fn, NULL, NULL));
    log_line("A sync end");
}

/* ---- B: await of a pending promise that a reaction resolves -------------------------------- */
static vow_t *b_q;
static vow_result_t b_fn(vow_loop_t *l, void *arg) {
    (void)l, (void)arg;
    int rc;
    log_line("B f start");
    int64_t v = await_int(vow_ref(b_q), &rc);
    log_int("B f got", v);
    return vow_ok_none();
}
static vow_result_t b_t1(vow_loop_t *l, const vow_value_t *v, void *ctx) {
    (void)l, (void)v, (void)ctx;
    log_line("B t1");
    vow_resolve(b_q, vow_int(7));
    return vow_ok_none();
}
static void B(void) {
    b_q = vow_new(loop);
    vow_unref(vow_async(loop, b_fn, NULL, NULL));
    vow_t *t = vow_then_ok(vow_resolved(loop, vow_none()), b_t1, NULL);
    t = vow_then_ok(t, log_only, "B t2");
    vow_unref(vow_then_ok(t, log_only, "B t3"));
    log_line("B sync end");
}

/* ---- C: returning a value, a promise, and a promise after an await --------------------------- */
static vow_result_t c_val(vow_loop_t *l, void *arg) {
    (void)l, (void)arg;
    log_line("C val body");
    return vow_ok_int(1);
}
static vow_result_t c_prom(vow_loop_t *l, void *arg) {
    (void)arg;
    log_line("C prom body");
    return vow_follow(vow_resolved(l, vow_int(2)));
}
static vow_result_t c_late(vow_loop_t *l, void *arg) {
    (void)arg;
    vow_await(vow_resolved(l, vow_none()), NULL); /* await null */
    log_line("C late body");
    return vow_follow(vow_resolved(l, vow_int(3)));
}
static void C(void) {
    vow_unref(vow_then_ok(vow_async(loop, c_val, NULL, NULL), log_value, "C val"));
    vow_unref(vow_then_ok(vow_async(loop, c_prom, NULL, NULL), log_value, "C prom"));
    vow_unref(vow_then_ok(vow_async(loop, c_late, NULL, NULL), log_value, "C late"));
    chain("C");
    log_line("C sync end");
}

/* ---- D: a coroutine awaiting another ---------------------------------------------------------- */
static vow_result_t d_inner(vow_loop_t *l, void *arg) {
    (void)arg;
    log_line("D inner start");
    vow_await(vow_resolved(l, vow_none()), NULL);
    log_line("D inner end");
    return vow_ok_int(3);
}
static vow_result_t d_outer(vow_loop_t *l, void *arg) {
    (void)arg;
    int rc;
    log_line("D outer start");
    int64_t v = await_int(vow_async(l, d_inner, NULL, NULL), &rc);
    log_int("D outer got", v);
    return vow_ok_int(v + 1);
}
static void D(void) {
    vow_unref(vow_then_ok(vow_async(loop, d_outer, NULL, NULL), log_value, "D outer result"));
    chain("D");
    log_line("D sync end");
}

/* ---- E: rejected awaits caught, then a throw ---------------------------------------------------- */
static vow_result_t throw_ebusy(vow_loop_t *l, const vow_value_t *v, void *ctx) {
    (void)l, (void)v, (void)ctx;
    return vow_fail_code(VOW_EBUSY, NULL);
}
static vow_result_t e_fn(vow_loop_t *l, void *arg) {
    (void)arg;
    vow_outcome_t o;
    if (vow_await(vow_rejected(l, vow_error_new(VOW_ERANGE, NULL)), &o) != 0)
        printf("E caught %s\n", vow_err_name(vow_error_code(o.error)));
    vow_outcome_release(&o);
    if (vow_await(vow_then_ok(vow_resolved(l, vow_none()), throw_ebusy, NULL), &o) != 0)
        printf("E caught2 %s\n", vow_err_name(vow_error_code(o.error)));
    vow_outcome_release(&o);
    return vow_fail_code(VOW_EINVAL, NULL);
}
static void E_(void) {
    vow_unref(vow_catch(vow_async(loop, e_fn, NULL, NULL), log_error, "E outer", NULL));
    chain("E");
    log_line("E sync end");
}

/* ---- F: several coroutines awaiting one promise, and a then on it -------------------------------- */
static vow_t *f_q;
static vow_result_t f_co(vow_loop_t *l, void *arg) {
    (void)l;
    int rc;
    int64_t v = await_int(vow_ref(f_q), &rc);
    printf("F co%d %lld\n", (int)(intptr_t)arg, (long long)v);
    return vow_ok_none();
}
static void F(void) {
    f_q = vow_new(loop);
    for (intptr_t n = 1; n <= 3; n++) vow_unref(vow_async(loop, f_co, (void *)n, NULL));
    vow_unref(vow_then_ok(vow_ref(f_q), log_value, "F then"));
    vow_unref(vow_async(loop, f_co, (void *)4, NULL));
    vow_resolve(f_q, vow_int(9));
    log_line("F sync end");
}

/* ---- G: start two, then await them in turn --------------------------------------------------------- */
static vow_result_t g_inner(vow_loop_t *l, void *arg) {
    int n = (int)(intptr_t)arg;
    printf("G inner %d\n", n);
    vow_await(vow_resolved(l, vow_none()), NULL);
    printf("G inner %d resumed\n", n);
    return vow_ok_int(n);
}
static vow_result_t g_fn(vow_loop_t *l, void *arg) {
    (void)arg;
    int rc;
    vow_t *a = vow_async(l, g_inner, (void *)1, NULL);
    vow_t *b = vow_async(l, g_inner, (void *)2, NULL);
    log_line("G started both");
    log_int("G got", await_int(a, &rc));
    log_int("G got", await_int(b, &rc));
    return vow_ok_none();
}
static void G(void) {
    vow_unref(vow_async(loop, g_fn, NULL, NULL));
    chain("G");
    log_line("G sync end");
}

/* ---- H: a microtask queued between awaits runs before the coroutine resumes --------------- */
static void h_micro(vow_loop_t *l, void *arg) {
    (void)l, (void)arg;
    log_line("H micro");
}
static vow_result_t h_fn(vow_loop_t *l, void *arg) {
    (void)arg;
    log_line("H start");
    vow_await(vow_resolved(l, vow_none()), NULL);
    log_line("H 1");
    vow_microtask(l, h_micro, NULL);
    vow_await(vow_resolved(l, vow_none()), NULL);
    log_line("H 2");
    vow_await(vow_resolved(l, vow_none()), NULL);
    log_line("H 3");
    vow_await(vow_resolved(l, vow_none()), NULL);
    log_line("H 4");
    return vow_ok_none();
}
static void H(void) {
    vow_unref(vow_async(loop, h_fn, NULL, NULL));
    vow_unref(vow_then_ok(vow_resolved(loop, vow_none()), log_only, "H x1"));
    log_line("H sync end");
}

static void (*const scenarios[])(void) = {A, B, C, D, E_, F, G, H};
enum { N_SCENARIOS = sizeof scenarios / sizeof scenarios[0] };
static int next_i;
static void next(vow_loop_t *l, void *arg) {
    (void)l, (void)arg;
    if (next_i == N_SCENARIOS) return;
    printf("-- %d\n", next_i);
    scenarios[next_i++]();
    vow_set_timeout(loop, next, NULL, 5, NULL);
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (vow_loop_new(&loop, VOW_BACKEND_AUTO) != 0) return 1;
    next(loop, NULL);
    int rc = vow_loop_run(loop, VOW_RUN_DEFAULT);
    vow_unref(a_p);
    vow_unref(b_q);
    vow_unref(f_q);
    if (rc != 0 || vow_async_live(loop) != 0) return 1;
    return vow_loop_close(loop) == 0 ? 0 : 1;
}
