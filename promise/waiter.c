/* promise/waiter.c - lines of waiters, shared by the objects whose operations wait
 * (vow/sync.h, vow/queue.h, vow/ratelimit.h, vow/cache.h, vow/stream.h): a waiter's
 * promise, its O(1) removal, its handoff job (promise/internal.h). */
#include "internal.h"

void vow__wline_push(struct vow__wline *l, struct vow__waiter *w) {
    VOW__DLIST_PUSH(l, w);
    l->n++;
    w->line = l;
}

void vow__waiter_leave(struct vow__waiter *w) {
    struct vow__wline *l = w->line;
    if (l == NULL) return;
    VOW__DLIST_UNLINK(l, w);
    l->n--;
    w->line = NULL;
}

/* w's last reference went: its object's release, then its memory. Returns its promise,
 * whose reference the record held: the caller drops it. */
static inline vow_t *waiter_end(struct vow__waiter *w) {
    vow_t *p = w->p;
    unsigned pool = w->pool; /* (an owned record may go with its owner in release) */
    if (w->ops->release != NULL) w->ops->release(w);
    if (pool == VOW__WAITER_OWNED) {
        /* the owner's memory */
    } else if (pool != 0) {
        vow__pool_put(&p->loop->pools[pool], w); /* before p: it holds the loop */
    } else {
        vow__free(w);
    }
    return p;
}

void vow__waiter_put(struct vow__waiter *w) {
    if (--w->refs > 0) return;
    vow__unref(waiter_end(w));
}

void vow__waiter_schedule(struct vow__waiter *w, vow__job_fn fn) {
    w->refs++;
    w->job.fn = fn;
    vow__job_push(w->p->loop, &w->job);
}

void vow__waiter_reserve(struct vow__waiter *w, struct vow__wline *resv, vow__job_fn fn) {
    vow__waiter_leave(w);
    vow__wline_push(resv, w);
    w->state = VOW__W_RESERVED;
    vow__waiter_schedule(w, fn);
}

void vow__waiter_grant_job(vow_loop_t *loop, vow__job *job, int how) {
    (void)loop;
    struct vow__waiter *w = (struct vow__waiter *)job;
    if (w->state == VOW__W_RESERVED) {
        vow__waiter_leave(w);
        w->state = VOW__W_DONE;
        if (how == VOW__JOB_RUN) vow__waiter_fulfil(w, vow__none());
    }
    vow__waiter_put(w);
}

static int settleable(const vow_t *p) { return p->state == VOW_PENDING && !vow__closed(p); }

void vow__waiter_fulfil(struct vow__waiter *w, vow_value_t v) {
    vow_t *p = w->p;
    if (!settleable(p)) {
        vow_value_release(&v);
        return;
    }
    if ((p->flags & (VOW__F_SETTLEABLE | VOW__F_COMBINE)) == VOW__F_SETTLEABLE &&
        p->cancel == &w->cb && (v.kind != VOW_VAL_PTR || v.boxed || v.own.dtor == NULL)) {
        /* The common case, vow__fulfill's steps in its order without its calls: the
         * promise's only cancel record is this waiter's, and v needs no box. The cancel
         * record goes first (settled_cleanup: waiter_ctx_free), dropping its reference to
         * the record; while the record lives, its reference to p holds p, and after its
         * last, this call holds that reference until p's reactions are queued. */
        vow__rec *reactions = vow__set_fulfilled(p, &v);
        p->cancel = NULL;
        if (w->line != NULL) vow__waiter_leave(w); /* (a line's answer left it already) */
        int last = --w->refs == 0;
        if (last) (void)waiter_end(w);
        vow__trigger(p, reactions);
        if (last) vow__unref(p);
        return;
    }
    vow__ref(p);
    vow__fulfill(p, v);
    vow__unref(p);
}

void vow__waiter_reject(struct vow__waiter *w, vow_error_t *err) {
    vow_t *p = w->p;
    if (!settleable(p)) {
        vow_error_unref(err);
        return;
    }
    vow__ref(p);
    vow__reject(p, err);
    vow__unref(p);
}

/* The promise is being cancelled while pending. */
static void waiter_cancel(vow_loop_t *loop, void *ctx) {
    (void)loop;
    struct vow__waiter *w = ctx;
    if (w->ops->cancel != NULL && !w->abandoned)
        w->ops->cancel(w);
    else
        vow__waiter_leave(w);
}

/* The promise settled or was released (teardown): the cancel context goes. */
static void waiter_ctx_free(void *ctx) {
    struct vow__waiter *w = ctx;
    vow__waiter_leave(w);
    vow__waiter_put(w);
}

/* The head of a record whose memory is there (the rest zeroed or the caller's). */
static inline void head_init(struct vow__waiter *w, vow_t *p, struct vow__wline *line,
                             const struct vow__waiter_ops *ops, void *owner, unsigned pool) {
    w->line = NULL;
    w->p = vow__ref(p);
    w->ops = ops;
    w->owner = owner;
    w->state = 0;
    w->refs = 1;
    w->abandoned = 0;
    w->pool = (uint8_t)pool;
    w->cb = (struct vow__cancel_cb){
        .fn = waiter_cancel, .ctx = w, .ctx_free = waiter_ctx_free, .embedded = 1};
    p->cancel = &w->cb;
    if (line != NULL) vow__wline_push(line, w);
}

vow_t *vow__waiter_new(vow_loop_t *loop, size_t size, struct vow__wline *line,
                       const struct vow__waiter_ops *ops, void *owner, struct vow__waiter **out) {
    vow_t *p = vow__promise_new(loop, VOW__F_SETTLEABLE | VOW__F_SYNC);
    if (p == NULL) return NULL;
    int pool = size <= VOW__WAITER_SLOT  ? VOW__POOL_WAITER
               : size <= VOW__WAITER_BIG ? VOW__POOL_WAITER_BIG
                                         : 0;
    struct vow__waiter *w = pool != 0 ? vow__pool_alloc(&loop->pools[pool]) : vow__malloc(size);
    if (w == NULL) {
        vow__unref(p);
        return NULL;
    }
    memset(w, 0, size);
    head_init(w, p, line, ops, owner, (unsigned)pool);
    *out = w;
    return p;
}

vow_t *vow__waiter_init(vow_loop_t *loop, struct vow__waiter *w, struct vow__wline *line,
                        const struct vow__waiter_ops *ops, void *owner) {
    vow_t *p = vow__promise_new(loop, VOW__F_SETTLEABLE | VOW__F_SYNC);
    if (p == NULL) return NULL;
    head_init(w, p, line, ops, owner, VOW__WAITER_OWNED);
    return p;
}

void vow__waiter_abandon(struct vow__waiter *w) {
    vow_t *p = vow__ref(w->p);
    vow__waiter_leave(w);
    w->abandoned = 1; /* the cancel callback must not reach the object: it is going away */
    if (!vow__closed(p)) vow__cancel(p);
    vow__unref(p);
}
