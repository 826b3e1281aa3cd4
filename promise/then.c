/* promise/then.c - then, catch and finally (ECMAScript 27.2.5).
 *
 * A then step allocates its derived promise and its reaction record together (a then
 * node, one pool slot): the record holds a reference to the promise until the record is
 * dropped, so the node is freed with the promise, after the record is done.
 * finally is then(thenFinally, catchFinally), where each step resolves the callback's
 * result to a promise and returns promise.then(valueThunk) (or the thrower): the job
 * counts docs/job-order.md gives.
 */
#include "internal.h"

typedef struct {
    vow_t p;
    vow__reaction r;
} then_node;

size_t vow__then_node_size(void) { return sizeof(then_node); }

/* thenFinally / catchFinally: the callback runs; its result is resolved to a promise q,
 * and the derived promise follows q.then(valueThunk or thrower). */
void vow__finally_job(vow_loop_t *loop, vow__reaction *r, vow_t *src) {
    vow_result_t res = r->on_fin(loop, r->ctx);
    if (r->ctx_free != NULL) r->ctx_free(r->ctx);
    r->ctx_free = NULL;
    vow_t *d = r->rec.derived;
    if (res.kind == VOW_RESULT_ERROR) { /* onFinally threw */
        vow__resolve_with(d, &res, r);
        return;
    }
    /* promise = PromiseResolve(C, result) */
    vow_t *q;
    if (res.kind == VOW_RESULT_FOLLOW) {
        q = res.promise;
        res = vow__result_empty(VOW_RESULT_VALUE);
    } else {
        q = vow__promise_new(loop, 0);
        if (q != NULL) {
            if (res.kind == VOW_RESULT_VALUE)
                vow__fulfill_move(q, &res.value);
            else
                vow__resolve_with(q, &res, NULL);
            res = vow__result_empty(VOW_RESULT_VALUE);
        }
    }
    /* return promise.then(valueThunk) -- or thrower, for catchFinally */
    vow_t *d2 = q != NULL ? vow__promise_new(loop, 0) : NULL;
    vow__reaction *r2 = d2 != NULL ? vow__reaction_new(loop, VOW__R_FINALLY_VALUE, d2) : NULL;
    if (r2 == NULL) {
        vow__result_release(&res);
        vow__unref(q);
        vow__unref(d2);
        vow_result_t oom = vow_fail(vow_error_new(VOW_ENOMEM, NULL));
        vow__resolve_with(d, &oom, r);
        return;
    }
    vow__ref(d2); /* r2 holds one, the follow below the other */
    if (src->state == VOW_FULFILLED) {
        r2->carry_value = vow_value_share(&src->value);
    } else {
        r2->carry_error = vow_error_ref(src->error);
        r2->rec.flags |= VOW__RF_CARRY_ERROR;
    }
    vow__perform_then(q, &r2->rec);
    vow__unref(q);
    vow_result_t follow = vow_follow(d2);
    vow__resolve_with(d, &follow, r);
}

/* (Inline in each public call: a then step is the commonest call there is, and the call's
 * frame cost about 18 instructions a step.) */
static inline __attribute__((always_inline)) vow_t *
then_common(vow_t *p, int kind, vow_on_ok on_ok, vow_on_err on_err, vow_on_finally on_fin,
            void *ctx, void (*ctx_free)(void *), unsigned flags) {
    then_node *n = NULL;
    int bad_flags = (flags & ~VOW_CATCH_CANCELLED) != 0;
    if (p != NULL && !vow__closed(p) && !bad_flags)
        n = vow__pool_alloc(&p->loop->pools[VOW__POOL_NODE]);
    if (n == NULL) {
        /* No subject, a closed loop or no memory: NULL. Unknown flags: a rejection. */
        vow_loop_t *loop = p != NULL && !vow__closed(p) ? p->loop : NULL;
        if (ctx_free != NULL) ctx_free(ctx);
        vow__unref(p);
        return bad_flags && loop != NULL
                   ? vow_rejected(loop, vow_error_new(VOW_EINVAL, "unknown flags"))
                   : NULL;
    }
    vow_t *d = vow__promise_init(&n->p, p->loop, VOW__F_NODE);
    vow__reaction *r = &n->r;
    vow__rec_init(&r->rec, kind, d, VOW__RF_EMBEDDED | flags);
    vow__ref(d); /* one for the record, one for the caller */
    if (kind == VOW__R_FINALLY)
        r->on_fin = on_fin;
    else
        r->on_ok = on_ok;
    r->on_err = on_err;
    r->ctx = ctx;
    r->ctx_free = ctx_free;
    vow__perform_then(p, &r->rec);
    vow__unref(p);
    return d;
}

vow_t *vow_then(vow_t *p, vow_on_ok on_ok, vow_on_err on_err, void *ctx, void (*ctx_free)(void *)) {
    return then_common(p, VOW__R_THEN, on_ok, on_err, NULL, ctx, ctx_free, 0);
}

vow_t *vow_then_ok(vow_t *p, vow_on_ok on_ok, void *ctx) {
    return then_common(p, VOW__R_THEN, on_ok, NULL, NULL, ctx, NULL, 0);
}

vow_t *vow_then_ex(vow_t *p, vow_on_ok on_ok, vow_on_err on_err, void *ctx,
                   void (*ctx_free)(void *), unsigned flags) {
    return then_common(p, VOW__R_THEN, on_ok, on_err, NULL, ctx, ctx_free, flags);
}

vow_t *vow_catch_ex(vow_t *p, vow_on_err on_err, void *ctx, void (*ctx_free)(void *),
                    unsigned flags) {
    return then_common(p, VOW__R_THEN, NULL, on_err, NULL, ctx, ctx_free, flags);
}

vow_t *vow_catch(vow_t *p, vow_on_err on_err, void *ctx, void (*ctx_free)(void *)) {
    return then_common(p, VOW__R_THEN, NULL, on_err, NULL, ctx, ctx_free, 0);
}

vow_t *vow_finally(vow_t *p, vow_on_finally fn, void *ctx, void (*ctx_free)(void *)) {
    return then_common(p, VOW__R_FINALLY, NULL, NULL, fn, ctx, ctx_free, 0);
}
