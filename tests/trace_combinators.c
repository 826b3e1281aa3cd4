/* tests/trace_combinators.c - the C side of tests/js/trace_combinators.js: the same program
 * on vow_all / vow_all_settled / vow_race / vow_any, one line per reaction.
 * tests/compare.sh diffs it against node's output (ctest compare_combinators@<backend>).
 *
 * Phase A: inputs already settled, interleaved with plain then chains and microtasks;
 *          empty inputs; derived inputs; chains on a result.
 * Phase B: inputs settled by timers in an order unlike their input order; each timer
 *          callback also starts a then chain and queues a microtask.
 * Phase C: pending and settled inputs mixed, one promise given to two combinators, and
 *          combinators nested as inputs of others.
 * Each JavaScript `p.then(onOk, onErr)` is one vow_then with both reactions; each
 * `new Promise(r => setTimeout(...))` is a vow_new settled from a vow_set_timeout callback. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vow.h"

static vow_loop_t *loop;

static void fail(const char *what, int rc) {
    fprintf(stderr, "trace_combinators: %s: %s\n", what, vow_strerror(rc));
    exit(1);
}
static void check(int rc, const char *what) {
    if (rc != 0) fail(what, rc);
}
static vow_t *must(vow_t *p, const char *what) {
    if (p == NULL) fail(what, VOW_ENOMEM);
    return p;
}

static char *strf(const char *fmt, ...) VOW_PRINTF(1, 2);
static char *strf(const char *fmt, ...) {
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char *s = strdup(buf);
    if (s == NULL) fail("strdup", VOW_ENOMEM);
    return s;
}

/* ---- formatting, as the JavaScript side formats ------------------------------------------- */

static void fmt_err(const vow_error_t *e, char *buf, size_t n) {
    if (vow_error_code(e) != VOW_EAGGREGATE) {
        snprintf(buf, n, "%s", vow_err_name(vow_error_code(e)));
        return;
    }
    size_t len = (size_t)snprintf(buf, n, "EAGGREGATE [");
    for (size_t i = 0; i < vow_error_count(e) && len < n; i++)
        len += (size_t)snprintf(buf + len, n - len, "%s%s", i ? "," : "",
                                vow_err_name(vow_error_code(vow_error_at(e, i))));
    if (len < n) snprintf(buf + len, n - len, "]");
}

enum { M_LIST, M_SETTLED, M_VALUE };

static void fmt_ok(const vow_value_t *v, int mode, char *buf, size_t n) {
    if (mode == M_VALUE) {
        snprintf(buf, n, "%lld", (long long)vow_value_int(v));
        return;
    }
    const vow_list_t *l = vow_list_of(v);
    if (l == NULL) {
        snprintf(buf, n, "(not a list)");
        return;
    }
    size_t len = (size_t)snprintf(buf, n, "[");
    for (size_t i = 0; i < vow_list_len(l) && len < n; i++) {
        const char *sep = i ? "," : "";
        if (mode == M_LIST)
            len += (size_t)snprintf(buf + len, n - len, "%s%lld", sep,
                                    (long long)vow_value_int(vow_list_value(l, i)));
        else if (vow_list_state(l, i) == VOW_FULFILLED)
            len += (size_t)snprintf(buf + len, n - len, "%sok:%lld", sep,
                                    (long long)vow_value_int(vow_list_value(l, i)));
        else
            len += (size_t)snprintf(buf + len, n - len, "%serr:%s", sep,
                                    vow_err_name(vow_error_code(vow_list_error(l, i))));
    }
    if (len < n) snprintf(buf + len, n - len, "]");
}

/* ---- reactions ---------------------------------------------------------------------------- */

typedef struct rx {
    const char *label;
    int mode;
} rx;

static vow_result_t rx_ok(vow_loop_t *l, const vow_value_t *v, void *ctx) {
    (void)l;
    const rx *r = ctx;
    char buf[256];
    fmt_ok(v, r->mode, buf, sizeof buf);
    printf("%s ok %s\n", r->label, buf);
    return vow_ok_none();
}
static vow_result_t rx_err(vow_loop_t *l, vow_error_t *e, void *ctx) {
    (void)l;
    const rx *r = ctx;
    char buf[256];
    fmt_err(e, buf, sizeof buf);
    printf("%s err %s\n", r->label, buf);
    return vow_ok_none();
}
/* p.then(v => log(label ok ...), e => log(label err ...)); consumes p. */
static void react(vow_t *p, const char *label, int mode) {
    rx *r = malloc(sizeof *r);
    if (r == NULL) fail("malloc", VOW_ENOMEM);
    r->label = label;
    r->mode = mode;
    vow_unref(must(vow_then(must(p, label), rx_ok, rx_err, r, free), label));
}

/* A reaction that prints its ctx (a string). */
static vow_result_t log_ctx(vow_loop_t *l, const vow_value_t *v, void *ctx) {
    (void)l, (void)v;
    printf("%s\n", (const char *)ctx);
    return vow_ok_none();
}
/* A microtask that prints its arg and frees it (strf). */
static void log_and_free(vow_loop_t *l, void *arg) {
    (void)l;
    printf("%s\n", (char *)arg);
    free(arg);
}
static void log_static(vow_loop_t *l, void *arg) {
    (void)l;
    printf("%s\n", (const char *)arg);
}
static void micro(vow_microtask_fn fn, void *arg) {
    check(vow_microtask(loop, fn, arg), "vow_microtask");
}

static vow_result_t plus(vow_loop_t *l, const vow_value_t *v, void *ctx) {
    (void)l;
    return vow_ok_int(vow_value_int(v) + (intptr_t)ctx);
}
static vow_result_t log_race_then(vow_loop_t *l, const vow_value_t *v, void *ctx) {
    (void)l, (void)ctx;
    printf("A race then %lld\n", (long long)vow_value_int(v));
    return vow_ok_none();
}

/* ---- inputs --------------------------------------------------------------------------------- */

static vow_t *resolved(int64_t v) { return must(vow_resolved(loop, vow_int(v)), "vow_resolved"); }
static vow_t *rejected(int code) {
    return must(vow_rejected(loop, vow_error_new(code, NULL)), "vow_rejected");
}

/* Promise.resolve().then(step 1).then(step 2); queueMicrotask(micro). */
static void after_chain(int ms) {
    vow_t *a = vow_then(resolved(0), log_ctx, NULL, strf("  after %d step 1", ms), free);
    vow_unref(must(vow_then(must(a, "then"), log_ctx, NULL, strf("  after %d step 2", ms), free),
                   "then"));
    micro(log_and_free, strf("  micro after %d", ms));
}

typedef struct later {
    vow_t *p; /* owned */
    int ms;
    int64_t v;
    int code; /* non-zero: reject with it */
} later;

static void later_cb(vow_loop_t *l, void *arg) {
    (void)l;
    later *t = arg;
    if (t->code != 0) {
        printf("  timer %d rejects %s\n", t->ms, vow_err_name(t->code));
        check(vow_reject(t->p, vow_error_new(t->code, NULL)), "vow_reject");
    } else {
        printf("  timer %d fulfils %lld\n", t->ms, (long long)t->v);
        check(vow_resolve(t->p, vow_int(t->v)), "vow_resolve");
    }
    vow_unref(t->p);
    after_chain(t->ms);
    free(t);
}

static vow_t *settle_later(int ms, int64_t v, int code) {
    later *t = malloc(sizeof *t);
    if (t == NULL) fail("malloc", VOW_ENOMEM);
    vow_t *p = must(vow_new(loop), "vow_new");
    t->p = vow_ref(p);
    t->ms = ms;
    t->v = v;
    t->code = code;
    check(vow_set_timeout(loop, later_cb, t, (uint64_t)ms, NULL), "vow_set_timeout");
    return p;
}
static vow_t *later_ok(int ms, int64_t v) { return settle_later(ms, v, 0); }
static vow_t *later_err(int ms, int code) { return settle_later(ms, 0, code); }

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- phases ----------------------------------------------------------------------------------- */

static void phase_b(vow_loop_t *l, void *arg);
static void phase_c(vow_loop_t *l, void *arg);

static void a_micro_1(vow_loop_t *l, void *arg) {
    (void)l, (void)arg;
    printf("A micro 1\n");
    micro(log_static, "A micro 1.1");
}

static void phase_a(vow_loop_t *l, void *arg) {
    (void)l, (void)arg;
    printf("A start\n");
    {
        vow_t *in[] = {resolved(1), resolved(2), resolved(3)};
        react(vow_all(loop, in, N(in)), "A all", M_LIST);
    }
    {
        vow_t *c = resolved(0);
        c = vow_then(c, log_ctx, NULL, "A chain 1", NULL);
        c = vow_then(c, log_ctx, NULL, "A chain 2", NULL);
        c = vow_then(c, log_ctx, NULL, "A chain 3", NULL);
        c = vow_then(c, log_ctx, NULL, "A chain 4", NULL);
        vow_unref(must(c, "chain"));
    }
    micro(a_micro_1, NULL);
    {
        vow_t *in[] = {resolved(4), rejected(VOW_EPERM)};
        react(vow_all_settled(loop, in, N(in)), "A allSettled", M_SETTLED);
    }
    {
        vow_t *in[] = {resolved(5), rejected(VOW_EBUSY)};
        react(vow_race(loop, in, N(in), 0), "A race", M_VALUE);
    }
    {
        vow_t *in[] = {rejected(VOW_EINVAL), resolved(6)};
        react(vow_race(loop, in, N(in), 0), "A race rejected first", M_VALUE);
    }
    {
        vow_t *in[] = {rejected(VOW_EPERM), resolved(7), resolved(8)};
        react(vow_any(loop, in, N(in), 0), "A any", M_VALUE);
    }
    {
        vow_t *in[] = {rejected(VOW_EPERM), rejected(VOW_EBUSY)};
        react(vow_any(loop, in, N(in), 0), "A any all rejected", M_VALUE);
    }
    {
        vow_t *in[] = {resolved(1), rejected(VOW_ERANGE), rejected(VOW_EINVAL)};
        react(vow_all(loop, in, N(in)), "A all rejected", M_LIST);
    }
    react(vow_all(loop, NULL, 0), "A all empty", M_LIST);
    react(vow_all_settled(loop, NULL, 0), "A allSettled empty", M_SETTLED);
    react(vow_any(loop, NULL, 0, 0), "A any empty", M_VALUE);
    react(vow_race(loop, NULL, 0, 0), "A race empty (never)", M_VALUE);
    {
        vow_t *in[] = {must(vow_then(resolved(1), plus, NULL, (void *)10, NULL), "then"),
                       resolved(2)};
        react(vow_all(loop, in, N(in)), "A all derived input", M_LIST);
    }
    {
        vow_t *in[] = {resolved(9)};
        vow_t *c = vow_then(vow_race(loop, in, N(in), 0), plus, NULL, (void *)1, NULL);
        vow_unref(must(vow_then(c, log_race_then, NULL, NULL, NULL), "then"));
    }
    micro(log_static, "A micro 2");
    check(vow_set_timeout(loop, phase_b, NULL, 50, NULL), "vow_set_timeout");
}

static void phase_b(vow_loop_t *l, void *arg) {
    (void)l, (void)arg;
    printf("B start\n");
    {
        vow_t *in[] = {later_ok(100, 1), later_ok(20, 2), later_ok(60, 3)};
        react(vow_all(loop, in, N(in)), "B all", M_LIST);
    }
    {
        vow_t *in[] = {later_err(80, VOW_EPERM), later_ok(40, 5)};
        react(vow_all_settled(loop, in, N(in)), "B allSettled", M_SETTLED);
    }
    {
        vow_t *in[] = {later_ok(120, 6), later_err(140, VOW_EBUSY)};
        react(vow_race(loop, in, N(in), 0), "B race", M_VALUE);
    }
    {
        vow_t *in[] = {later_err(160, VOW_EINVAL), later_ok(200, 8), later_ok(180, 9)};
        react(vow_any(loop, in, N(in), 0), "B any", M_VALUE);
    }
    {
        vow_t *in[] = {later_err(260, VOW_EPERM), later_err(220, VOW_EBUSY),
                       later_err(240, VOW_EINVAL)};
        react(vow_any(loop, in, N(in), 0), "B any all rejected", M_VALUE);
    }
    {
        vow_t *in[] = {later_ok(320, 10), later_err(280, VOW_ERANGE), later_err(300, VOW_EAGAIN)};
        react(vow_all(loop, in, N(in)), "B all rejected", M_LIST);
    }
    {
        vow_t *in[] = {later_ok(360, 11), later_err(340, VOW_EBUSY)};
        react(vow_race(loop, in, N(in), 0), "B race rejected first", M_VALUE);
    }
    check(vow_set_timeout(loop, phase_c, NULL, 420, NULL), "vow_set_timeout");
}

static void phase_c(vow_loop_t *l, void *arg) {
    (void)l, (void)arg;
    printf("C start\n");
    vow_t *shared = later_ok(20, 12);
    {
        vow_t *in[] = {vow_ref(shared), resolved(13)};
        react(vow_race(loop, in, N(in), 0), "C race settled beats pending", M_VALUE);
    }
    {
        vow_t *in[3];
        in[0] = shared;
        in[1] = rejected(VOW_EPERM);
        in[2] = later_ok(40, 14);
        react(vow_all_settled(loop, in, N(in)), "C allSettled shared", M_SETTLED);
    }
    {
        vow_t *in[2];
        in[0] = resolved(15);
        in[1] = later_ok(60, 16);
        react(vow_all(loop, in, N(in)), "C all mixed", M_LIST);
    }
    {
        vow_t *a_in[2];
        a_in[0] = later_ok(80, 17);
        a_in[1] = later_ok(100, 18);
        vow_t *all = vow_all(loop, a_in, N(a_in));
        vow_t *r_in[1];
        r_in[0] = later_ok(120, 19);
        vow_t *race = vow_race(loop, r_in, N(r_in), 0);
        vow_t *in[] = {all, race};
        react(vow_any(loop, in, N(in), 0), "C any of all and race", M_LIST);
    }
    {
        vow_t *y_in[2];
        y_in[0] = later_err(140, VOW_EBUSY);
        y_in[1] = later_ok(160, 20);
        vow_t *any = vow_any(loop, y_in, N(y_in), 0);
        vow_t *in[2];
        in[0] = any;
        in[1] = later_ok(180, 21);
        react(vow_race(loop, in, N(in), 0), "C race of any", M_VALUE);
    }
    vow_t *c = vow_then(resolved(0), log_ctx, NULL, "C chain 1", NULL);
    vow_unref(must(vow_then(must(c, "then"), log_ctx, NULL, "C chain 2", NULL), "then"));
    micro(log_static, "C micro");
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    check(vow_loop_new(&loop, VOW_BACKEND_AUTO), "vow_loop_new");
    check(vow_set_timeout(loop, phase_a, NULL, 1, NULL), "vow_set_timeout");
    int rc = vow_loop_run(loop, VOW_RUN_DEFAULT);
    if (rc != 0) fail("vow_loop_run", rc < 0 ? rc : VOW_EBUSY);
    check(vow_loop_close(loop), "vow_loop_close");
    return 0;
}
