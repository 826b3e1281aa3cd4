/* promise/thenable.c - foreign thenables (another library's futures, adopted through an
 * explicit subscribe adapter) and the resolving functions handed to them (vow_resolver_t),
 * with Promises/A+ 2.3.3's first-call-wins rules. */
#include "internal.h"

/* subscribe NULL is Promises/A+ 2.3.3.4's "then is not a function": following the
 * thenable fulfils with x itself, the ctx pointer (vow__foreign_job). */
vow_thenable_t *vow_thenable_new(vow_subscribe_fn subscribe, void *ctx, void (*ctx_free)(void *)) {
    vow_thenable_t *t = vow__malloc(sizeof *t);
    if (t == NULL) {
        if (ctx_free != NULL) ctx_free(ctx);
        return NULL;
    }
    t->subscribe = subscribe;
    t->ctx = ctx;
    t->ctx_free = ctx_free;
    return t;
}

void vow__thenable_free(vow_thenable_t *t) {
    if (t == NULL) return;
    if (t->ctx_free != NULL) t->ctx_free(t->ctx);
    vow__free(t);
}

vow_result_t vow_follow_thenable(vow_thenable_t *t) {
    if (t == NULL) return vow_fail(vow_error_new(VOW_ENOMEM, NULL));
    return (vow_result_t){.kind = VOW_RESULT_THENABLE, .thenable = t};
}

/* NewPromiseResolveThenableJob for a foreign thenable: subscribe with a fresh pair of
 * resolving functions (the resolver) for the derived promise. */
void vow__foreign_job(vow_loop_t *loop, vow__reaction *r) {
    vow_t *d = r->rec.derived;
    vow_thenable_t *t = r->thenable;
    r->thenable = NULL;
    if (t->subscribe == NULL) { /* not a thenable after all: fulfil with x (ctx) */
        vow_value_t x = vow_ptr(t->ctx, t->ctx_free);
        t->ctx_free = NULL; /* the value owns ctx now */
        vow__thenable_free(t);
        /* Settle first: the record may hold the last reference to d. */
        if (d->state == VOW_PENDING && !vow__closed(d))
            vow__fulfill_move(d, &x);
        else
            vow_value_release(&x);
        vow__rec_free(loop, &r->rec);
        return;
    }
    vow_resolver_t *res = vow__malloc(sizeof *res);
    if (res == NULL) {
        vow__thenable_free(t);
        if (d->state == VOW_PENDING) vow__reject(d, vow_error_new(VOW_ENOMEM, NULL));
        vow__rec_free(loop, &r->rec);
        return;
    }
    res->refcnt = 1;
    res->target = vow__ref(d);
    res->already = 0;
    vow__rec_free(loop, &r->rec); /* d stays referenced by the resolver */
    int rc = t->subscribe(t->ctx, res);
    vow__thenable_free(t);
    if (rc != 0 && !res->already) {
        res->already = 1;
        if (res->target->state == VOW_PENDING && !vow__closed(res->target))
            vow__reject(res->target, vow_error_new(rc, "thenable subscribe failed"));
    }
    vow_resolver_unref(res);
}

/* ---- the resolving functions ------------------------------------------------------------- */

static int resolver_check(vow_resolver_t *r) {
    if (r == NULL) return VOW_EINVAL;
    if (vow__closed(r->target)) return VOW_ECLOSED;
    if (r->already) return VOW_ESETTLED;
    return 0;
}

int vow_resolver_resolve(vow_resolver_t *r, vow_result_t result) {
    if (!vow__result_kind_ok(result.kind)) return VOW_EINVAL; /* as vow_resolve_with */
    int rc = resolver_check(r);
    if (rc != 0) {
        vow__result_release(&result);
        return rc;
    }
    r->already = 1;
    vow__resolve_with(r->target, &result, NULL);
    return 0;
}

int vow_resolver_reject(vow_resolver_t *r, vow_error_t *err) {
    return vow_resolver_resolve(r, vow_fail(err));
}

vow_resolver_t *vow_resolver_ref(vow_resolver_t *r) {
    if (r != NULL) r->refcnt++;
    return r;
}

void vow_resolver_unref(vow_resolver_t *r) {
    if (r == NULL || --r->refcnt > 0) return;
    vow__unref(r->target);
    vow__free(r);
}
