/* promise/scope.c - resource scopes (vow/scope.h): Python's `async with` as a small state
 * machine: acquire, body, release, each a promise the scope waits on with one reaction
 * (VOW_CATCH_CANCELLED: every outcome, a cancellation included, moves the scope on).
 *
 * The scope's promise is vow's (VOW__F_SETTLEABLE | VOW__F_SYNC, for its cancel callback).
 * Cancelled, it waits for release: the cancel callback cancels the step in flight and marks
 * the promise resolved (VOW__F_RESOLVED: "locked onto" the scope's own end), which is how
 * a cancel callback declines a cancellation (promise/cancel.c), and the scope rejects it
 * with the cancellation once release has settled.
 */
#include "internal.h"
#include "vow/scope.h"

enum { ST_ACQUIRE = 0, ST_BODY, ST_RELEASE, ST_DONE };

struct scope {
    size_t refs;
    vow_loop_t *loop;
    vow_scope_acquire_fn acquire;
    vow_scope_body_fn body;
    vow_scope_release_fn release;
    void *ctx;
    void (*ctx_free)(void *);
    vow_t *result;        /* owned */
    vow_t *src;           /* the step's promise (owned), to cancel it */
    vow_value_t res;      /* the resource (owned) */
    vow_value_t body_val; /* the body's value (owned) */
    vow_error_t *body_err;
    vow_error_t *cancel_err; /* the cancellation, once cancelled (owned) */
    int stage;               /* ST_* */
    int cancelled;
    struct vow__cancel_cb cb; /* result's cancel record (embedded: sc_unref frees it) */
};

static void sc_unref(void *ctx) {
    struct scope *sc = ctx;
    if (--sc->refs > 0) return;
    vow_value_release(&sc->res);
    vow_value_release(&sc->body_val);
    vow_error_unref(sc->body_err);
    vow_error_unref(sc->cancel_err);
    vow__unref(sc->result);
    vow__unref(sc->src);
    if (sc->ctx_free != NULL) sc->ctx_free(sc->ctx);
    vow__free(sc);
}

/* The scope's outcome: *v (moved) when err is NULL, else err (consumed). */
static void sc_settle(struct scope *sc, vow_value_t *v, vow_error_t *err) {
    sc->stage = ST_DONE;
    vow_t *p = sc->result;
    if (p->state != VOW_PENDING || vow__closed(p)) {
        if (v != NULL) vow_value_release(v);
        vow_error_unref(err);
        return;
    }
    vow__ref(p);
    if (err != NULL)
        vow__reject(p, err);
    else
        vow__fulfill_move(p, v);
    vow__unref(p);
}

static void sc_watch(struct scope *sc, vow_t *q, vow_on_ok ok, vow_on_err on_err) {
    vow__unref(sc->src);
    sc->src = vow__ref(q);
    sc->refs++;
    vow_t *d = vow_then_ex(q, ok, on_err, sc, sc_unref, VOW_CATCH_CANCELLED);
    if (d != NULL) {
        vow__unref(d); /* its record keeps it until the reaction ran */
        return;
    }
    vow_error_t *e = vow_error_new(VOW_ENOMEM, NULL); /* the step failed */
    on_err(sc->loop, e, sc);
    vow_error_unref(e);
}

static vow_error_t *cancellation(struct scope *sc) {
    if (sc->cancel_err == NULL) sc->cancel_err = vow_error_new(VOW_ECANCELED, NULL);
    return vow_error_ref(sc->cancel_err);
}

static vow_result_t released_ok(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v;
    struct scope *sc = ctx;
    if (sc->cancelled) {
        sc_settle(sc, NULL, cancellation(sc));
    } else if (sc->body_err != NULL) {
        vow_error_t *b = sc->body_err;
        sc->body_err = NULL;
        sc_settle(sc, NULL, b);
    } else {
        sc_settle(sc, &sc->body_val, NULL);
    }
    return vow_ok_none();
}

static void error_unref(void *e) { vow_error_unref(e); }

static vow_result_t released_err(vow_loop_t *loop, vow_error_t *e, void *ctx) {
    (void)loop;
    struct scope *sc = ctx;
    vow_error_t *b = sc->cancelled          ? cancellation(sc)
                     : sc->body_err != NULL ? vow_error_ref(sc->body_err)
                                            : NULL;
    if (b == NULL) {
        sc_settle(sc, NULL, vow_error_ref(e));
        return vow_ok_none();
    }
    vow_error_t *w = vow_error_wrap(vow_error_code(e), vow_error_message(e), b);
    /* (When w is the out-of-memory error, the call releases the reference it was given.) */
    vow_error_set_payload(w, vow_error_ref(e), error_unref);
    sc_settle(sc, NULL, w);
    return vow_ok_none();
}

/* The body settled (or never ran: cancelled after acquire): release. */
static void start_release(struct scope *sc, vow_error_t *err) {
    sc->stage = ST_RELEASE;
    vow_t *r = sc->release(sc->loop, &sc->res, err, sc->ctx);
    if (r == NULL) {
        vow_error_t *e = vow_error_new(VOW_ENOMEM, NULL);
        released_err(sc->loop, e, sc);
        vow_error_unref(e);
        return;
    }
    sc_watch(sc, r, released_ok, released_err);
}

static vow_result_t body_ok(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    struct scope *sc = ctx;
    sc->body_val = vow_value_share(v);
    start_release(sc, NULL);
    return vow_ok_none();
}

static vow_result_t body_err(vow_loop_t *loop, vow_error_t *e, void *ctx) {
    (void)loop;
    struct scope *sc = ctx;
    sc->body_err = vow_error_ref(e);
    start_release(sc, e);
    return vow_ok_none();
}

static vow_result_t acquired_ok(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    struct scope *sc = ctx;
    sc->res = vow_value_share(v);
    if (sc->cancelled) { /* acquired before the cancel could stop it: release only */
        vow_error_t *c = cancellation(sc);
        start_release(sc, c);
        vow_error_unref(c);
        return vow_ok_none();
    }
    sc->stage = ST_BODY;
    vow_t *b = sc->body(loop, &sc->res, sc->ctx);
    if (b == NULL) {
        vow_error_t *e = vow_error_new(VOW_ENOMEM, NULL);
        body_err(loop, e, sc);
        vow_error_unref(e);
        return vow_ok_none();
    }
    sc_watch(sc, b, body_ok, body_err);
    return vow_ok_none();
}

static vow_result_t acquired_err(vow_loop_t *loop, vow_error_t *e, void *ctx) {
    (void)loop;
    sc_settle(ctx, NULL, vow_error_ref(e)); /* __aenter__ raised: no release */
    return vow_ok_none();
}

/* The scope's promise is being cancelled: cancel the step in flight, and decline, so that
 * the promise settles after release. */
static void sc_cancel(vow_loop_t *loop, void *ctx) {
    (void)loop;
    struct scope *sc = ctx;
    sc->cancelled = 1;
    sc->refs++;
    if (sc->stage != ST_RELEASE && sc->src != NULL && sc->src->state == VOW_PENDING)
        vow_cancel(sc->src);
    if (sc->result->state == VOW_PENDING) sc->result->flags |= VOW__F_RESOLVED;
    sc_unref(sc);
}

vow_t *vow_scope(vow_loop_t *loop, vow_scope_acquire_fn acquire, vow_scope_body_fn body,
                 vow_scope_release_fn release, void *ctx, void (*ctx_free)(void *)) {
    if (loop == NULL || loop->closed) {
        if (ctx_free != NULL) ctx_free(ctx);
        return NULL;
    }
    if (acquire == NULL || body == NULL || release == NULL) {
        if (ctx_free != NULL) ctx_free(ctx);
        return vow_rejected(loop, vow_error_new(VOW_EINVAL, "acquire, body or release is NULL"));
    }
    struct scope *sc = vow__malloc(sizeof *sc);
    vow_t *p = sc != NULL ? vow__promise_new(loop, VOW__F_SETTLEABLE | VOW__F_SYNC) : NULL;
    if (p == NULL) {
        vow__free(sc);
        if (ctx_free != NULL) ctx_free(ctx);
        return NULL;
    }
    *sc = (struct scope){.refs = 2, /* the cancel record's, and this call's */
                         .loop = loop,
                         .acquire = acquire,
                         .body = body,
                         .release = release,
                         .ctx = ctx,
                         .ctx_free = ctx_free,
                         .result = vow__ref(p),
                         .res = vow__none(),
                         .body_val = vow__none(),
                         .cb = {.fn = sc_cancel, .ctx = sc, .ctx_free = sc_unref, .embedded = 1}};
    p->cancel = &sc->cb;
    vow_t *a = acquire(loop, ctx);
    if (a == NULL) {
        vow_error_t *e = vow_error_new(VOW_ENOMEM, NULL);
        acquired_err(loop, e, sc);
        vow_error_unref(e);
    } else {
        sc_watch(sc, a, acquired_ok, acquired_err);
    }
    sc_unref(sc);
    return p;
}
