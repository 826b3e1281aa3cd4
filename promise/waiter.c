/* promise/waiter.c - the waiters of the rate limiter and the cache (promise/internal.h):
 * a promise only vow settles, and its record in its object's line of waiters. */
#include "internal.h"

void vow__wline_push(vow__wline *l, vow__waiter *w) {
    w->next = NULL;
    w->prev = l->tail;
    if (l->tail != NULL)
        l->tail->next = w;
    else
        l->head = w;
    l->tail = w;
    l->n++;
    w->line = l;
}

void vow__wline_unlink(vow__waiter *w) {
    vow__wline *l = w->line;
    if (l == NULL) return;
    if (w->prev != NULL)
        w->prev->next = w->next;
    else
        l->head = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    else
        l->tail = w->prev;
    l->n--;
    w->next = w->prev = NULL;
    w->line = NULL;
}

void vow__waiter_put(vow__waiter *w) {
    if (--w->refs > 0) return;
    vow_t *p = w->p;
    vow__free(w);
    vow__unref(p);
}

/* The promise is being cancelled while pending: the owner hears of it. */
static void waiter_cancel(vow_loop_t *loop, void *ctx) {
    (void)loop;
    vow__waiter *w = ctx;
    if (w->owner != NULL) w->on_cancel(w);
}

/* The promise settled or was released (teardown): the record leaves its line. */
static void waiter_ctx_free(void *ctx) {
    vow__waiter *w = ctx;
    vow__wline_unlink(w);
    vow__waiter_put(w);
}

vow_t *vow__waiter_new(vow_loop_t *loop, vow__wline *line, void *owner,
                       void (*on_cancel)(vow__waiter *w)) {
    vow_t *p = vow__promise_new(loop, VOW__F_SETTLEABLE | VOW__F_SYNC);
    vow__waiter *w = p != NULL ? vow__malloc(sizeof *w) : NULL;
    struct vow__cancel_cb *cb = w != NULL ? vow__malloc(sizeof *cb) : NULL;
    if (cb == NULL) {
        vow__free(w);
        vow__unref(p);
        return NULL;
    }
    *w = (vow__waiter){.p = vow__ref(p), .owner = owner, .on_cancel = on_cancel, .refs = 1};
    *cb = (struct vow__cancel_cb){.fn = waiter_cancel, .ctx = w, .ctx_free = waiter_ctx_free};
    p->cancel = cb;
    vow__wline_push(line, w);
    return p;
}

void vow__waiter_fulfil(vow__waiter *w, vow_value_t v) {
    vow_t *p = w->p;
    if (p->state != VOW_PENDING || vow__closed(p)) {
        vow_value_release(&v);
        return;
    }
    vow__fulfill(p, v); /* guards p itself: the cancel context's destructor may drop w */
}

void vow__waiter_reject(vow__waiter *w, vow_error_t *err) {
    vow_t *p = w->p;
    if (p->state != VOW_PENDING || vow__closed(p)) {
        vow_error_unref(err);
        return;
    }
    vow__reject(p, err);
}
