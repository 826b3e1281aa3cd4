/* tests/trace_promise2.c - the C twin of tests/js/trace_promise2.js.
 *
 * Promise chains spread over timers: promises settled from timer callbacks, adoption of a
 * resolved and of a pending promise, a finally that waits for a pending promise (and one
 * whose promise rejects), errors thrown in reactions and recovered in catch, foreign
 * thenables through vow's adapter (settling at once, later from a timer, twice, throwing,
 * nesting), and vow_microtask calls from main, reactions and timer callbacks. One line per
 * reaction run; tests/compare.sh diffs the output against node's.
 *
 * The order never depends on clock readings: the phases are timers that each start the
 * next, and the few sleeps run while the next phase is at least 100 ms away.
 * The program exits non-zero when a call answers something unexpected (say, a second
 * resolver call that was not ignored), which fails the comparison. */
#include <stdio.h>
#include <stdlib.h>

#include "vow.h"
#include "trace.h"

static vow_loop_t *loop;
static vow_t *a, *b, *late, *gate;

#define L(s) ((void *)(s))

static void log_int(const char *label, int64_t v) { printf("%s %lld\n", label, (long long)v); }
static void log_err(const char *label, vow_error_t *e) {
    printf("%s %s\n", label, vow_err_name(vow_error_code(e)));
}
static void m_log(vow_loop_t *l, void *arg) {
    (void)l;
    log_line(arg);
}

/* ---- chain x ------------------------------------------------------------------------- */

static vow_result_t x1(vow_loop_t *l, const vow_value_t *v, void *ctx) {
    log_int(ctx, vow_value_int(v));
    EXPECT(vow_microtask(l, m_log, "x1 micro") == 0);
    return vow_follow(vow_ref(late));
}
static vow_result_t x2(vow_loop_t *l, const vow_value_t *v, void *ctx) {
    (void)l;
    log_int(ctx, vow_value_int(v));
    return vow_fail_code(VOW_EBUSY, NULL);
}
static vow_result_t x3(vow_loop_t *l, vow_error_t *e, void *ctx) {
    log_err(ctx, e);
    return vow_follow(vow_resolved(l, vow_int(7)));
}
static vow_result_t fin_log(vow_loop_t *l, void *ctx) {
    (void)l;
    log_line(ctx);
    return vow_ok_none();
}
static vow_result_t log_value(vow_loop_t *l, const vow_value_t *v, void *ctx) {
    (void)l;
    log_int(ctx, vow_value_int(v));
    return vow_ok_none();
}

/* ---- chain y ------------------------------------------------------------------------- */

static vow_result_t y1(vow_loop_t *l, void *ctx) {
    log_line(ctx);
    gate = vow_new(l);
    return vow_follow(vow_ref(gate));
}
static vow_result_t y2(vow_loop_t *l, vow_error_t *e, void *ctx) {
    (void)l;
    log_err(ctx, e);
    return vow_ok_int(2);
}
static vow_result_t y3_slept(vow_loop_t *l, const vow_value_t *v, void *ctx) {
    (void)l;
    (void)v;
    log_line(ctx);
    return vow_fail_code(VOW_ERANGE, NULL);
}
static vow_result_t y3(vow_loop_t *l, void *ctx) {
    log_line(ctx);
    return vow_follow(vow_then(vow_sleep(l, 5), y3_slept, NULL, L("y3 slept"), NULL));
}
static vow_result_t y4(vow_loop_t *l, vow_error_t *e, void *ctx) {
    (void)l;
    log_err(ctx, e);
    return vow_ok_int(4);
}

/* ---- chain z: foreign thenables -------------------------------------------------------- */

enum { T_NOW, T_TWICE, T_LATER, T_THROWS, T_THROWS_AFTER, T_NESTED };
typedef struct tctx {
    int kind;
    int64_t v;
} tctx;

static vow_resolver_t *later_resolver;
static int64_t later_value;

static int subscribe(void *ctx, vow_resolver_t *r);

static vow_result_t thenable(int kind, int64_t v) {
    tctx *t = malloc(sizeof *t);
    if (t == NULL) return vow_fail_code(VOW_ENOMEM, NULL);
    t->kind = kind;
    t->v = v;
    return vow_follow_thenable(vow_thenable_new(subscribe, t, free));
}

static int subscribe(void *ctx, vow_resolver_t *r) {
    tctx *t = ctx;
    switch (t->kind) {
    case T_NOW:
        log_int("thenable now", t->v);
        EXPECT(vow_resolver_resolve(r, vow_ok_int(t->v)) == 0);
        return 0;
    case T_TWICE:
        log_int("thenable twice", t->v);
        EXPECT(vow_resolver_resolve(r, vow_ok_int(t->v)) == 0);
        EXPECT(vow_resolver_reject(r, vow_error_new(VOW_EPERM, NULL)) == VOW_ESETTLED);
        EXPECT(vow_resolver_resolve(r, vow_ok_int(t->v + 100)) == VOW_ESETTLED);
        return 0;
    case T_LATER:
        log_int("thenable later", t->v);
        later_resolver = vow_resolver_ref(r);
        later_value = t->v;
        return 0;
    case T_THROWS: log_line("thenable throws"); return VOW_ENOENT;
    case T_THROWS_AFTER:
        log_int("thenable resolves then throws", t->v);
        EXPECT(vow_resolver_resolve(r, vow_ok_int(t->v)) == 0);
        return VOW_ENOENT;
    case T_NESTED:
        log_int("thenable nested", t->v);
        EXPECT(vow_resolver_resolve(r, thenable(T_NOW, t->v + 1)) == 0);
        return 0;
    }
    return VOW_EINVAL;
}

static void fire_later(void) {
    EXPECT(vow_resolver_resolve(later_resolver, vow_ok_int(later_value)) == 0);
    EXPECT(vow_resolver_resolve(later_resolver, vow_ok_int(later_value + 100)) == VOW_ESETTLED);
    vow_resolver_unref(later_resolver);
    later_resolver = NULL;
}

/* z1..z3, z6: log the value, return a thenable of the kind in ctx's table. */
typedef struct zstep {
    const char *label;
    int kind;
} zstep;
static vow_result_t z_then(vow_loop_t *l, const vow_value_t *v, void *ctx) {
    (void)l;
    const zstep *z = ctx;
    log_int(z->label, vow_value_int(v));
    return thenable(z->kind, vow_value_int(v) + 1);
}
static vow_result_t z4(vow_loop_t *l, const vow_value_t *v, void *ctx) {
    (void)l;
    log_int(ctx, vow_value_int(v));
    return thenable(T_THROWS, 0);
}
static vow_result_t z5(vow_loop_t *l, vow_error_t *e, void *ctx) {
    (void)l;
    log_err(ctx, e);
    return thenable(T_THROWS_AFTER, 5);
}

/* ---- chain s and the phases --------------------------------------------------------------- */

static vow_result_t s1(vow_loop_t *l, const vow_value_t *v, void *ctx) {
    (void)v;
    log_line(ctx);
    EXPECT(vow_microtask(l, m_log, "s1 micro") == 0);
    return vow_follow(vow_sleep(l, 1));
}
static vow_result_t log_only(vow_loop_t *l, const vow_value_t *v, void *ctx) {
    (void)l;
    (void)v;
    log_line(ctx);
    return vow_ok_none();
}

static void phase4(vow_loop_t *l, void *arg) {
    (void)arg;
    log_line("t4");
    EXPECT(vow_resolve(gate, vow_int(0)) == 0);
    EXPECT(vow_microtask(l, m_log, "t4 micro") == 0);
}
static void phase3(vow_loop_t *l, void *arg) {
    (void)arg;
    log_line("t3");
    EXPECT(vow_resolve(late, vow_int(3)) == 0);
    vow_t *s = vow_then(vow_sleep(l, 1), s1, NULL, L("s1 slept"), NULL);
    vow_unref(vow_then(s, log_only, NULL, L("s2 slept"), NULL));
    EXPECT(vow_set_timeout(l, phase4, NULL, 100, NULL) == 0);
}
static void phase2(vow_loop_t *l, void *arg) {
    (void)arg;
    log_line("t2");
    EXPECT(vow_reject(b, vow_error_new(VOW_EINVAL, NULL)) == 0);
    fire_later();
    EXPECT(vow_set_timeout(l, phase3, NULL, 1, NULL) == 0);
}
static void phase1(vow_loop_t *l, void *arg) {
    (void)arg;
    log_line("t1");
    EXPECT(vow_microtask(l, m_log, "t1 micro before") == 0);
    EXPECT(vow_resolve(a, vow_int(1)) == 0);
    EXPECT(vow_microtask(l, m_log, "t1 micro after") == 0);
    EXPECT(vow_set_timeout(l, phase2, NULL, 1, NULL) == 0);
}

int main(void) {
    if (vow_loop_new(&loop, VOW_BACKEND_AUTO) != 0) return 1;
    a = vow_new(loop);
    b = vow_new(loop);
    late = vow_new(loop);

    /* Chain x. */
    vow_t *c = vow_then(vow_ref(a), x1, NULL, L("x1"), NULL);
    c = vow_then(c, x2, NULL, L("x2"), NULL);
    c = vow_catch(c, x3, L("x3 catch"), NULL);
    c = vow_finally(c, fin_log, L("x4 finally"), NULL);
    vow_unref(vow_then(c, log_value, NULL, L("x5"), NULL));

    /* Chain y. */
    c = vow_finally(vow_ref(b), y1, L("y1 finally"), NULL);
    c = vow_catch(c, y2, L("y2 catch"), NULL);
    c = vow_finally(c, y3, L("y3 finally"), NULL);
    c = vow_then(c, log_value, y4, L("y4 onRejected"), NULL);
    vow_unref(vow_then(c, log_value, NULL, L("y5"), NULL));

    /* Chain z. */
    static const zstep zs[] = {{"z1", T_NOW}, {"z2", T_TWICE}, {"z3", T_LATER}, {"z6", T_NESTED}};
    c = vow_resolved(loop, vow_int(1));
    c = vow_then(c, z_then, NULL, (void *)&zs[0], NULL);
    c = vow_then(c, z_then, NULL, (void *)&zs[1], NULL);
    c = vow_then(c, z_then, NULL, (void *)&zs[2], NULL);
    c = vow_then(c, z4, NULL, L("z4"), NULL);
    c = vow_catch(c, z5, L("z5 catch"), NULL);
    c = vow_then(c, z_then, NULL, (void *)&zs[3], NULL);
    vow_unref(vow_then(c, log_value, NULL, L("z7"), NULL));

    if (vow_set_timeout(loop, phase1, NULL, 1, NULL) != 0) return 1;
    if (vow_microtask(loop, m_log, "script micro") != 0) return 1;

    int rc = vow_loop_run(loop, VOW_RUN_DEFAULT);
    vow_unref(a);
    vow_unref(b);
    vow_unref(late);
    vow_unref(gate);
    if (rc != 0 || failures != 0) return 1;
    return vow_loop_close(loop) == 0 ? 0 : 1;
}
