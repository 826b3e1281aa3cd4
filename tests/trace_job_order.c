/* The job counts of docs/job-order.md, measured as tests/js/trace_job_order.js measures
 * them: a microtask that re-queues itself counts rounds; each case prints the round in
 * which its last reaction ran. tests/compare.sh diffs this output against Node's. */
#include <stdio.h>
#include <string.h>

#include "vow.h"

static int tick;
static const char *case_name;

static void ticker(vow_loop_t *loop, void *arg) {
    (void)arg;
    tick++;
    if (tick < 40) vow_microtask(loop, ticker, NULL);
}

static void print_value(const vow_value_t *v) {
    if (vow_value_kind(v) == VOW_VAL_NONE)
        printf("%s round=%d value=none\n", case_name, tick);
    else
        printf("%s round=%d value=%lld\n", case_name, tick, (long long)vow_value_int(v));
}

static vow_result_t rec(vow_loop_t *l, const vow_value_t *v, void *c) {
    (void)l, (void)c;
    print_value(v);
    return vow_ok_none();
}

static vow_result_t rec_err(vow_loop_t *l, vow_error_t *e, void *c) {
    (void)l, (void)c;
    printf("%s round=%d value=%s\n", case_name, tick, vow_err_name(vow_error_code(e)));
    return vow_ok_none();
}

static vow_result_t plus1(vow_loop_t *l, const vow_value_t *v, void *c) {
    (void)l, (void)c;
    return vow_ok_int(vow_value_int(v) + 1);
}
static vow_result_t same(vow_loop_t *l, const vow_value_t *v, void *c) {
    (void)l, (void)c;
    return vow_ok(vow_value_share(v));
}
static vow_result_t zero_err(vow_loop_t *l, vow_error_t *e, void *c) {
    (void)l, (void)c, (void)e;
    return vow_ok_int(0);
}
static vow_result_t nothing(vow_loop_t *l, void *c) {
    (void)l, (void)c;
    return vow_ok_none();
}
/* Returns the code given as ctx. */
static vow_result_t throw_code(vow_loop_t *l, const vow_value_t *v, void *c) {
    (void)l, (void)v;
    return vow_fail_code((int)(intptr_t)c, NULL);
}
static vow_result_t fin_throw(vow_loop_t *l, void *c) {
    (void)l;
    return vow_fail_code((int)(intptr_t)c, NULL);
}
static vow_result_t ret_resolved(vow_loop_t *l, const vow_value_t *v, void *c) {
    (void)v;
    return vow_follow(vow_resolved(l, vow_int((intptr_t)c)));
}
static vow_result_t ret_rejected(vow_loop_t *l, const vow_value_t *v, void *c) {
    (void)v;
    return vow_follow(vow_rejected(l, vow_error_new((int)(intptr_t)c, NULL)));
}
static vow_result_t ret_pending(vow_loop_t *l, const vow_value_t *v, void *c) {
    (void)v;
    return vow_follow(vow_then(vow_resolved(l, vow_int((intptr_t)c)), plus1, NULL, NULL, NULL));
}
static vow_result_t fin_ret_pending(vow_loop_t *l, void *c) {
    (void)c;
    return vow_follow(vow_then(vow_resolved(l, vow_int(0)), same, NULL, NULL, NULL));
}
static vow_result_t fin_ret_rejected(vow_loop_t *l, void *c) {
    return vow_follow(vow_rejected(l, vow_error_new((int)(intptr_t)c, NULL)));
}

/* Foreign thenables: ctx is the value (or, negative, the error code). */
static int sub_value(void *ctx, vow_resolver_t *r) {
    vow_resolver_resolve(r, vow_ok_int((intptr_t)ctx));
    return 0;
}
static int sub_reject(void *ctx, vow_resolver_t *r) {
    vow_resolver_reject(r, vow_error_new((int)(intptr_t)ctx, NULL));
    return 0;
}
static int sub_nested(void *ctx, vow_resolver_t *r) {
    vow_resolver_resolve(r, vow_follow_thenable(vow_thenable_new(sub_value, ctx, NULL)));
    return 0;
}
static vow_loop_t *the_loop;
static int sub_promise(void *ctx, vow_resolver_t *r) {
    vow_resolver_resolve(r, vow_follow(vow_resolved(the_loop, vow_int((intptr_t)ctx))));
    return 0;
}
typedef struct {
    vow_subscribe_fn fn;
    intptr_t arg;
} thenable_spec;

static vow_result_t ret_thenable(vow_loop_t *l, const vow_value_t *v, void *c) {
    (void)l, (void)v;
    const thenable_spec *t = c;
    return vow_follow_thenable(vow_thenable_new(t->fn, (void *)t->arg, NULL));
}

#define CTX(x) ((void *)(intptr_t)(x))

static void run_case(vow_loop_t *loop, int i) {
    vow_t *p, *d;
    static thenable_spec t_sync = {sub_value, 14}, t_nested = {sub_nested, 15},
                         t_rej = {sub_reject, VOW_ENOENT}, t_prom = {sub_promise, 16};
    switch (i) {
    case 0:
        case_name = "then_resolved";
        d = vow_then(vow_resolved(loop, vow_int(1)), rec, NULL, NULL, NULL);
        break;
    case 1:
        case_name = "then_pending_then_resolve";
        p = vow_new(loop);
        d = vow_then(vow_ref(p), rec, NULL, NULL, NULL);
        vow_resolve(p, vow_int(2));
        vow_unref(p);
        break;
    case 2:
        case_name = "then_then";
        d = vow_then(vow_then(vow_resolved(loop, vow_int(1)), plus1, NULL, NULL, NULL), rec, NULL,
                     NULL, NULL);
        break;
    case 3:
        case_name = "then_passthrough_value";
        d = vow_then(vow_then(vow_resolved(loop, vow_int(3)), NULL, NULL, NULL, NULL), rec, NULL,
                     NULL, NULL);
        break;
    case 4:
        case_name = "catch_rejected";
        d = vow_catch(vow_rejected(loop, vow_error_new(VOW_EINVAL, NULL)), rec_err, NULL, NULL);
        break;
    case 5:
        case_name = "then_passthrough_rejection";
        d = vow_catch(
            vow_then(vow_rejected(loop, vow_error_new(VOW_EINVAL, NULL)), same, NULL, NULL, NULL),
            rec_err, NULL, NULL);
        break;
    case 6:
        case_name = "catch_passthrough_value";
        d = vow_then(vow_catch(vow_resolved(loop, vow_int(4)), zero_err, NULL, NULL), rec, NULL,
                     NULL, NULL);
        break;
    case 7:
        case_name = "throw_in_then";
        d = vow_catch(
            vow_then(vow_resolved(loop, vow_int(1)), throw_code, NULL, CTX(VOW_ERANGE), NULL),
            rec_err, NULL, NULL);
        break;
    case 8:
        case_name = "return_resolved_promise";
        d = vow_then(vow_then(vow_resolved(loop, vow_int(1)), ret_resolved, NULL, CTX(5), NULL),
                     rec, NULL, NULL, NULL);
        break;
    case 9:
        case_name = "return_rejected_promise";
        d = vow_catch(
            vow_then(vow_resolved(loop, vow_int(1)), ret_rejected, NULL, CTX(VOW_EPERM), NULL),
            rec_err, NULL, NULL);
        break;
    case 10:
        case_name = "return_pending_promise";
        d = vow_then(vow_then(vow_resolved(loop, vow_int(1)), ret_pending, NULL, CTX(6), NULL), rec,
                     NULL, NULL, NULL);
        break;
    case 11:
        case_name = "resolve_with_promise";
        p = vow_new(loop);
        d = vow_then(vow_ref(p), rec, NULL, NULL, NULL);
        vow_resolve_with(p, vow_follow(vow_resolved(loop, vow_int(8))));
        vow_unref(p);
        break;
    case 12:
        case_name = "resolve_with_pending_promise";
        p = vow_new(loop);
        d = vow_then(vow_ref(p), rec, NULL, NULL, NULL);
        vow_resolve_with(
            p, vow_follow(vow_then(vow_resolved(loop, vow_int(9)), same, NULL, NULL, NULL)));
        vow_unref(p);
        break;
    case 13:
        case_name = "finally_fulfilled";
        d = vow_then(vow_finally(vow_resolved(loop, vow_int(10)), nothing, NULL, NULL), rec, NULL,
                     NULL, NULL);
        break;
    case 14:
        case_name = "finally_rejected";
        d = vow_catch(
            vow_finally(vow_rejected(loop, vow_error_new(VOW_EBUSY, NULL)), nothing, NULL, NULL),
            rec_err, NULL, NULL);
        break;
    case 15:
        case_name = "finally_returns_promise";
        d = vow_then(vow_finally(vow_resolved(loop, vow_int(11)), fin_ret_pending, NULL, NULL), rec,
                     NULL, NULL, NULL);
        break;
    case 16:
        case_name = "finally_throws";
        d = vow_catch(
            vow_finally(vow_resolved(loop, vow_int(12)), fin_throw, CTX(VOW_EAGAIN), NULL), rec_err,
            NULL, NULL);
        break;
    case 17:
        case_name = "finally_returns_rejected";
        d = vow_catch(
            vow_finally(vow_resolved(loop, vow_int(13)), fin_ret_rejected, CTX(VOW_EINTR), NULL),
            rec_err, NULL, NULL);
        break;
    case 18:
        case_name = "thenable_sync";
        d = vow_then(vow_then(vow_resolved(loop, vow_int(1)), ret_thenable, NULL, &t_sync, NULL),
                     rec, NULL, NULL, NULL);
        break;
    case 19:
        case_name = "thenable_nested";
        d = vow_then(vow_then(vow_resolved(loop, vow_int(1)), ret_thenable, NULL, &t_nested, NULL),
                     rec, NULL, NULL, NULL);
        break;
    case 20:
        case_name = "thenable_rejects";
        d = vow_catch(vow_then(vow_resolved(loop, vow_int(1)), ret_thenable, NULL, &t_rej, NULL),
                      rec_err, NULL, NULL);
        break;
    case 21:
        case_name = "thenable_resolves_promise";
        d = vow_then(vow_then(vow_resolved(loop, vow_int(1)), ret_thenable, NULL, &t_prom, NULL),
                     rec, NULL, NULL, NULL);
        break;
    case 22:
        case_name = "resolve_with_thenable";
        p = vow_new(loop);
        d = vow_then(vow_ref(p), rec, NULL, NULL, NULL);
        vow_resolve_with(p, vow_follow_thenable(vow_thenable_new(sub_value, CTX(17), NULL)));
        vow_unref(p);
        break;
    default: return;
    }
    vow_unref(d);
}

#define N_CASES 23

int main(void) {
    vow_loop_t *loop;
    int rc = vow_loop_new(&loop, VOW_BACKEND_AUTO);
    if (rc != 0) {
        fprintf(stderr, "vow_loop_new: %s\n", vow_strerror(rc));
        return 1;
    }
    the_loop = loop;
    for (int i = 0; i < N_CASES; i++) {
        tick = 0;
        vow_microtask(loop, ticker, NULL);
        run_case(loop, i);
        if (vow_loop_run(loop, VOW_RUN_DEFAULT) != 0) return 1;
    }
    return vow_loop_close(loop) == 0 ? 0 : 1;
}
