/* promise/stream.c - async streams (vow/stream.h): the stream itself (a ring of buffered
 * items, a line of waiting nexts and one of waiting pushes, an optional pull producer) and
 * its helpers: for_each, collect, map, range.
 *
 * Waiters. A waiting next or push is a waiter of promise/waiter.c (a pooled record, its
 * promise's cancel record inside, a line with O(1) removal); its ops->release is the one
 * place it lets go of what it holds (a push's item, a next's reference to the stream). An
 * item is handed to a next by fulfilling its promise at once (no handoff job: a fulfilled
 * promise cannot be cancelled, and its value goes with it), so no item can be stranded in
 * a cancelled waiter.
 *
 * Invariant: nexts wait only when nothing is buffered and no push waits.
 *
 * Memory. `refs` counts the handles (and waiting nexts); the last one closes the stream.
 * `holds` keeps the memory: one for all the handles together, one for a pull in flight's
 * reaction, and one around each internal operation that may run user code. The ring has
 * one slot more than the buffer: a pulled item that arrives after its next was cancelled
 * waits there (a pull starts only when the ring is empty, and one at a time).
 */
#include "internal.h"
#include "vow/stream.h"

enum { S_OPEN = 0, S_ENDED, S_FAILED, S_DONE, S_CLOSED };

/* A waiting push (a waiting next is a bare vow__waiter whose owner, the stream, it holds a
 * handle of). */
struct pwaiter {
    vow__waiter w;    /* first; owner: the stream (weak) */
    vow_value_t item; /* owned until moved out */
};

struct vow_stream {
    vow_loop_t *loop;
    vow_t *anchor; /* keeps the loop's memory valid (owned) */
    size_t refs, holds;
    vow_value_t *buf; /* ring of `slots` = buffer + 1 */
    size_t cap, slots, head, len;
    vow__wline nexts, pushes;
    vow_error_t *err; /* S_FAILED: the error one next will reject with (owned) */
    vow_stream_pull_fn pull;
    vow_stream_cleanup_fn cleanup;
    void *ctx;
    void (*ctx_free)(void *);
    vow_t *pull_p;             /* the reaction's promise of the pull in flight (owned), or NULL */
    void (*demand)(void *ctx); /* told when the waiting nexts go from none to some, and back */
    void *demand_ctx;
    uint8_t state; /* S_* */
    uint8_t pulling;
};

static const char end_mark;

vow_value_t vow_stream_end_value(void) { return vow_ptr((void *)&end_mark, NULL); }

int vow_stream_is_end(const vow_value_t *v) {
    return v != NULL && v->kind == VOW_VAL_PTR && v->u.p == (const void *)&end_mark;
}

/* ---- memory ------------------------------------------------------------------------------ */
static int live(const vow_stream_t *s) { return !vow__closed(s->anchor); }

static void s_hold(vow_stream_t *s) { s->holds++; }

static void s_release(vow_stream_t *s) {
    if (--s->holds > 0) return;
    /* The handles' hold goes only after close_stream, which emptied all of this. */
    vow__assert(s->state == S_CLOSED && s->nexts.head == NULL && s->pushes.head == NULL &&
                    s->len == 0 && s->err == NULL && s->pull_p == NULL,
                "a stream is freed before it is closed");
    if (s->ctx_free != NULL) s->ctx_free(s->ctx);
    vow__unref(s->anchor);
    vow__free(s->buf);
    vow__free(s);
}

static void close_stream(vow_stream_t *s);

vow_stream_t *vow_stream_ref(vow_stream_t *s) {
    if (s != NULL) s->refs++;
    return s;
}

void vow_stream_unref(vow_stream_t *s) {
    if (s == NULL || --s->refs > 0) return;
    close_stream(s);
    s_release(s); /* the handles' hold */
}

/* ---- waiters ----------------------------------------------------------------------------- */
/* The record is being freed (its promise settled, was cancelled, or is released by the
 * loop's teardown; it has left its line). */
static void next_release(vow__waiter *w) { vow_stream_unref(w->owner); }
static void push_release(vow__waiter *w) { vow_value_release(&((struct pwaiter *)w)->item); }

/* A waiting next cancelled: it leaves its line; the producer hears when none is left. */
static void next_cancel(vow__waiter *w) {
    vow_stream_t *s = w->owner;
    vow__waiter_leave(w);
    if (s->nexts.n == 0 && s->demand != NULL) s->demand(s->demand_ctx);
}

static const struct vow__waiter_ops next_ops = {next_cancel, next_release};
static const struct vow__waiter_ops push_ops = {NULL, push_release};

/* A next at the end of its line; NULL when out of memory. */
static vow_t *next_waiter_new(vow_stream_t *s) {
    vow__waiter *w;
    vow_t *p = vow__waiter_new(s->loop, sizeof *w, &s->nexts, &next_ops, s, &w);
    if (p != NULL) s->refs++;
    return p;
}

/* A push at the end of its line; NULL when out of memory (the item released). */
static vow_t *push_waiter_new(vow_stream_t *s, vow_value_t item) {
    vow__waiter *w;
    vow_t *p = vow__waiter_new(s->loop, sizeof(struct pwaiter), &s->pushes, &push_ops, s, &w);
    if (p == NULL)
        vow_value_release(&item);
    else
        ((struct pwaiter *)w)->item = item;
    return p;
}

/* Settles the first waiter of a line: fulfils with *v (moved) or rejects with err. */
static void answer(vow__wline *l, vow_value_t *v, vow_error_t *err) {
    vow__waiter *w = l->head;
    vow_t *p = vow__ref(w->p);
    vow__waiter_leave(w);
    if (err != NULL)
        vow__reject(p, err);
    else
        vow__fulfill_move(p, v); /* the waiter's release runs inside */
    vow__unref(p);
}

static void answer_end(vow__wline *l) {
    vow_value_t end = vow_stream_end_value();
    answer(l, &end, NULL);
}

static void answer_none(vow__wline *l) {
    vow_value_t none = vow__none();
    answer(l, &none, NULL);
}

/* ---- the stream -------------------------------------------------------------------------- */
vow_stream_t *vow_stream_new(vow_loop_t *loop, size_t buffer, vow_stream_pull_fn pull,
                             vow_stream_cleanup_fn cleanup, void *ctx, void (*ctx_free)(void *)) {
    vow_stream_t *s = NULL;
    vow_value_t *buf = NULL;
    vow_t *anchor = NULL;
    if (loop == NULL || loop->closed || buffer >= SIZE_MAX / sizeof(vow_value_t)) goto fail;
    if ((s = vow__malloc(sizeof *s)) == NULL) goto fail;
    if ((buf = vow__malloc((buffer + 1) * sizeof *buf)) == NULL) goto fail;
    if ((anchor = vow__promise_new(loop, 0)) == NULL) goto fail;
    *s = (struct vow_stream){.loop = loop,
                             .anchor = anchor,
                             .refs = 1,
                             .holds = 1,
                             .buf = buf,
                             .cap = buffer,
                             .slots = buffer + 1,
                             .pull = pull,
                             .cleanup = cleanup,
                             .ctx = ctx,
                             .ctx_free = ctx_free};
    return s;
fail:
    vow__free(buf);
    vow__free(s);
    if (ctx_free != NULL) ctx_free(ctx);
    return NULL;
}

/* Puts an accepted item (stored) to the first next, or at the ring's tail. */
static void deliver(vow_stream_t *s, vow_value_t *item) {
    if (s->nexts.head != NULL) {
        answer(&s->nexts, item, NULL);
        return;
    }
    vow__assert(s->len < s->slots, "stream ring overflow");
    s->buf[(s->head + s->len) % s->slots] = *item;
    s->len++;
    *item = vow__none();
}

static void finish_nexts(vow_stream_t *s) {
    if (s->state == S_FAILED && s->nexts.head != NULL) {
        vow_error_t *err = s->err;
        s->err = NULL;
        s->state = S_DONE;
        answer(&s->nexts, NULL, err);
    }
    while (s->nexts.head != NULL) answer_end(&s->nexts);
}

static void start_pull(vow_stream_t *s);

static void maybe_pull(vow_stream_t *s) {
    if (s->pull != NULL && s->state == S_OPEN && s->pull_p == NULL && !s->pulling &&
        s->nexts.head != NULL && live(s))
        start_pull(s);
}

static void finish(vow_stream_t *s, int state, vow_error_t *err) {
    s->state = (uint8_t)state;
    s->err = err;
    finish_nexts(s); /* nexts wait only when nothing is left before the finish */
}

static void pull_done(vow_stream_t *s) {
    vow_t *d = s->pull_p;
    s->pull_p = NULL;
    vow__unref(d); /* its record holds it while the reaction runs */
}

static vow_result_t pull_ok(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    vow_stream_t *s = ctx;
    pull_done(s);
    if (s->state != S_OPEN) return vow_ok_none();
    if (vow_stream_is_end(v)) {
        finish(s, S_ENDED, NULL);
        return vow_ok_none();
    }
    vow_value_t item = vow_value_share(v);
    deliver(s, &item);
    maybe_pull(s);
    return vow_ok_none();
}

static vow_result_t pull_err(vow_loop_t *loop, vow_error_t *err, void *ctx) {
    (void)loop;
    vow_stream_t *s = ctx;
    pull_done(s);
    if (s->state == S_OPEN) finish(s, S_FAILED, vow_error_ref(err));
    return vow_ok_none();
}

static void pull_release(void *ctx) { s_release(ctx); }

static void start_pull(vow_stream_t *s) {
    s_hold(s);
    s->pulling = 1;
    vow_t *q = s->pull(s->loop, s->ctx);
    s->pulling = 0;
    if (s->state != S_OPEN || !live(s)) {
        /* The pull closed or finished the stream itself: its promise is not wanted. */
        if (q != NULL && s->state == S_CLOSED && q->state == VOW_PENDING && !vow__closed(q))
            vow_cancel(q);
        vow_unref(q);
    } else if (q == NULL) {
        finish(s, S_FAILED, vow_error_new(VOW_ENOMEM, NULL));
    } else if (q->loop != s->loop) {
        vow_unref(q);
        finish(s, S_FAILED, vow_error_new(VOW_EINVAL, "pull promise of another loop"));
    } else {
        s_hold(s); /* the reaction's */
        vow_t *d = vow_then_ex(q, pull_ok, pull_err, s, pull_release, VOW_CATCH_CANCELLED);
        if (d == NULL)
            finish(s, S_FAILED, vow_error_new(VOW_ENOMEM, NULL));
        else
            s->pull_p = d;
    }
    s_release(s);
}

static void close_stream(vow_stream_t *s) {
    if (s->state == S_CLOSED) return;
    int early = s->state == S_OPEN;
    int on = live(s);
    s->state = S_CLOSED;
    s_hold(s);
    for (; s->len > 0; s->len--, s->head = (s->head + 1) % s->slots)
        vow_value_release(&s->buf[s->head]);
    vow_error_unref(s->err);
    s->err = NULL;
    while (s->pushes.head != NULL) {
        if (on)
            answer(&s->pushes, NULL, vow_error_new(VOW_ECLOSED, "stream closed"));
        else
            vow__waiter_leave(s->pushes.head); /* the teardown releases it, and the item */
    }
    while (s->nexts.head != NULL) {
        if (on)
            answer_end(&s->nexts);
        else
            vow__waiter_leave(s->nexts.head);
    }
    if (s->pull_p != NULL) {
        vow_t *d = s->pull_p;
        s->pull_p = NULL;
        if (on && d->state == VOW_PENDING) vow_cancel(d); /* its record goes, and its hold */
        vow__unref(d);
    }
    if (early && s->cleanup != NULL) s->cleanup(s->loop, s->ctx);
    s_release(s);
}

static int check(const vow_stream_t *s) {
    if (s == NULL) return VOW_EINVAL;
    if (!live(s)) return VOW_ECLOSED;
    return 0;
}

int vow_stream_close(vow_stream_t *s) {
    int rc = check(s);
    if (rc == 0) close_stream(s);
    return rc;
}

vow_t *vow_stream_push(vow_stream_t *s, vow_value_t item) {
    if (check(s) != 0) {
        vow_value_release(&item);
        return NULL;
    }
    if (s->state != S_OPEN) {
        vow_value_release(&item);
        if (s->state == S_CLOSED)
            return vow_rejected(s->loop, vow_error_new(VOW_ECLOSED, "stream closed"));
        return vow_rejected(s->loop, vow_error_new(VOW_EPERM, "stream already finished"));
    }
    if (vow__value_store(&item) != 0) return NULL; /* its destructor has run */
    if (s->nexts.head == NULL && (s->len >= s->cap || s->pushes.head != NULL))
        return push_waiter_new(s, item); /* back-pressure */
    vow_t *p = vow_resolved(s->loop, vow__none());
    if (p == NULL) {
        vow_value_release(&item);
        return NULL;
    }
    s_hold(s);
    deliver(s, &item);
    s_release(s);
    return p;
}

static int producer_check(vow_stream_t *s) {
    int rc = check(s);
    if (rc != 0) return rc;
    if (s->state == S_CLOSED) return VOW_ECLOSED;
    if (s->state != S_OPEN) return VOW_EPERM;
    return 0;
}

int vow_stream_end(vow_stream_t *s) {
    int rc = producer_check(s);
    if (rc != 0) return rc;
    s_hold(s);
    finish(s, S_ENDED, NULL);
    s_release(s);
    return 0;
}

int vow_stream_fail(vow_stream_t *s, vow_error_t *err) {
    if (err == NULL) err = vow_error_new(VOW_ETYPE, "failed with no error");
    int rc = producer_check(s);
    if (rc != 0) {
        vow_error_unref(err);
        return rc;
    }
    s_hold(s);
    finish(s, S_FAILED, err);
    s_release(s);
    return 0;
}

/* Takes the first item (one is buffered or a push waits): a waiting push moves up. */
static vow_value_t take(vow_stream_t *s) {
    vow_value_t item;
    if (s->len > 0) {
        item = s->buf[s->head];
        s->head = (s->head + 1) % s->slots;
        s->len--;
        if (s->pushes.head != NULL && s->len < s->cap) {
            struct pwaiter *w = (struct pwaiter *)s->pushes.head;
            vow_value_t moved = w->item;
            w->item = vow__none();
            deliver(s, &moved);
            answer_none(&s->pushes);
        }
    } else {
        struct pwaiter *w = (struct pwaiter *)s->pushes.head;
        item = w->item;
        w->item = vow__none();
        answer_none(&s->pushes);
    }
    return item;
}

vow_t *vow_stream_next(vow_stream_t *s) {
    if (check(s) != 0) return NULL;
    if (s->len > 0 || s->pushes.head != NULL) {
        vow_t *p = vow__promise_new(s->loop, 0);
        if (p == NULL) return NULL;
        s_hold(s);
        vow_value_t item = take(s);
        vow__fulfill_move(p, &item); /* stored: nothing to allocate */
        s_release(s);
        return p;
    }
    if (s->state == S_FAILED) {
        vow_t *p = vow__promise_new(s->loop, 0);
        if (p == NULL) return NULL;
        vow_error_t *err = s->err;
        s->err = NULL;
        s->state = S_DONE;
        vow__reject(p, err);
        return p;
    }
    if (s->state != S_OPEN) return vow_resolved(s->loop, vow_stream_end_value());
    vow_t *p = next_waiter_new(s);
    if (p != NULL) {
        s_hold(s);
        maybe_pull(s);
        if (s->nexts.n == 1 && s->demand != NULL) s->demand(s->demand_ctx);
        s_release(s);
    }
    return p;
}

void vow__stream_on_demand(vow_stream_t *s, void (*fn)(void *ctx), void *ctx) {
    s->demand = fn;
    s->demand_ctx = ctx;
}

size_t vow__stream_nexts_waiting(const vow_stream_t *s) { return s->nexts.n; }

/* ---- for_each and collect --------------------------------------------------------------- */
struct each {
    size_t refs;
    vow_loop_t *loop;
    vow_stream_t *s; /* owned handle */
    vow_on_ok fn;    /* NULL: collect */
    void *ctx;
    void (*ctx_free)(void *);
    vow_t *result; /* owned */
    vow_t *src;    /* what the loop waits on now (owned), to cancel it */
    vow_value_t *items;
    size_t n, cap;
    struct vow__cancel_cb cb; /* result's cancel record (embedded: each_unref frees it) */
};

static void each_unref(void *ctx) {
    struct each *e = ctx;
    if (--e->refs > 0) return;
    vow_stream_unref(e->s);
    vow__unref(e->result);
    vow__unref(e->src);
    for (size_t i = 0; i < e->n; i++) vow_value_release(&e->items[i]);
    vow__free(e->items);
    if (e->ctx_free != NULL) e->ctx_free(e->ctx);
    vow__free(e);
}

static int each_on(const struct each *e) {
    return e->result->state == VOW_PENDING && !vow__closed(e->result);
}

/* Stops with err (consumed): the stream is closed, the result rejects. */
static void each_stop(struct each *e, vow_error_t *err) {
    if (!each_on(e)) {
        vow_error_unref(err);
        return;
    }
    e->refs++;
    vow_stream_close(e->s);
    if (each_on(e))
        vow__reject(e->result, err);
    else
        vow_error_unref(err);
    each_unref(e);
}

static void each_round(struct each *e);

static vow_result_t each_fail(vow_loop_t *loop, vow_error_t *err, void *ctx) {
    (void)loop;
    each_stop(ctx, vow_error_ref(err));
    return vow_ok_none();
}

static vow_result_t each_again(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v;
    struct each *e = ctx;
    if (each_on(e)) each_round(e);
    return vow_ok_none();
}

/* Waits on q (consumed) with ok / each_fail. */
static void each_watch(struct each *e, vow_t *q, vow_on_ok ok) {
    vow__unref(e->src);
    e->src = vow__ref(q);
    e->refs++;
    vow_t *d = vow_then_ex(q, ok, each_fail, e, each_unref, VOW_CATCH_CANCELLED);
    if (d == NULL)
        each_stop(e, vow_error_new(VOW_ENOMEM, NULL));
    else
        vow__unref(d); /* its record keeps it until the reaction ran */
}

static void each_end(struct each *e) {
    if (e->fn != NULL) {
        vow__fulfill(e->result, vow__none());
        return;
    }
    struct vow_list *l = vow__list_new(e->n);
    if (l == NULL) {
        vow__reject(e->result, vow_error_new(VOW_ENOMEM, NULL));
        return;
    }
    for (size_t i = 0; i < e->n; i++) vow__list_set_value(l, i, e->items[i]); /* moved */
    e->n = 0;
    vow__fulfill(e->result, vow__list_value(l));
}

static int each_keep(struct each *e, const vow_value_t *v) {
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 8;
        vow_value_t *items =
            cap < SIZE_MAX / sizeof *items ? vow__realloc(e->items, cap * sizeof *items) : NULL;
        if (items == NULL) return VOW_ENOMEM;
        e->items = items;
        e->cap = cap;
    }
    e->items[e->n++] = vow_value_share(v);
    return 0;
}

static vow_result_t each_item(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    struct each *e = ctx;
    if (!each_on(e)) return vow_ok_none();
    if (vow_stream_is_end(v)) {
        e->refs++;
        each_end(e);
        each_unref(e);
        return vow_ok_none();
    }
    if (e->fn == NULL) {
        if (each_keep(e, v) != 0)
            each_stop(e, vow_error_new(VOW_ENOMEM, NULL));
        else
            each_round(e);
        return vow_ok_none();
    }
    vow_result_t r = e->fn(loop, v, e->ctx);
    if (!each_on(e)) { /* fn cancelled the loop */
        vow__result_release(&r);
        return vow_ok_none();
    }
    if (r.kind == VOW_RESULT_VALUE) {
        vow_value_release(&r.value);
        each_round(e);
    } else if (r.kind == VOW_RESULT_ERROR) {
        each_stop(e, r.error);
    } else if (!vow__result_kind_ok(r.kind)) {
        each_stop(e, vow_error_new(VOW_EINVAL, "a result of unknown kind"));
    } else {
        /* A promise or a thenable: a promise of ours follows it (resolve's rules). */
        vow_t *q = vow__promise_new(loop, 0);
        if (q == NULL) {
            vow__result_release(&r);
            each_stop(e, vow_error_new(VOW_ENOMEM, NULL));
        } else {
            vow__resolve_with(q, &r, NULL);
            each_watch(e, q, each_again);
        }
    }
    return vow_ok_none();
}

static void each_round(struct each *e) {
    vow_t *q = vow_stream_next(e->s);
    if (q == NULL)
        each_stop(e, vow_error_new(VOW_ENOMEM, NULL));
    else
        each_watch(e, q, each_item);
}

/* The result is cancelled: stop what it waits on and close the stream. */
static void each_cancel(vow_loop_t *loop, void *ctx) {
    (void)loop;
    struct each *e = ctx;
    e->refs++;
    if (e->src != NULL && e->src->state == VOW_PENDING) vow_cancel(e->src);
    vow_stream_close(e->s);
    each_unref(e);
}

static vow_t *each_new(vow_stream_t *s, vow_on_ok fn, void *ctx, void (*ctx_free)(void *),
                       int collect) {
    if (s == NULL || !live(s)) {
        vow_stream_unref(s);
        if (ctx_free != NULL) ctx_free(ctx);
        return NULL;
    }
    if (!collect && fn == NULL) {
        vow_loop_t *loop = s->loop;
        vow_stream_unref(s);
        if (ctx_free != NULL) ctx_free(ctx);
        return vow_rejected(loop, vow_error_new(VOW_EINVAL, "fn is NULL"));
    }
    struct each *e = vow__malloc(sizeof *e);
    vow_t *p = e != NULL ? vow__promise_new(s->loop, VOW__F_SETTLEABLE | VOW__F_SYNC) : NULL;
    if (p == NULL) {
        vow__free(e);
        vow_stream_unref(s);
        if (ctx_free != NULL) ctx_free(ctx);
        return NULL;
    }
    *e = (struct each){.refs = 2, /* the caller's promise's cancel record, and this call */
                       .loop = s->loop,
                       .s = s,
                       .fn = fn,
                       .ctx = ctx,
                       .ctx_free = ctx_free,
                       .result = vow__ref(p),
                       .cb = {.fn = each_cancel, .ctx = e, .ctx_free = each_unref, .embedded = 1}};
    p->cancel = &e->cb;
    each_round(e);
    each_unref(e);
    return p;
}

vow_t *vow_stream_for_each(vow_stream_t *s, vow_on_ok fn, void *ctx, void (*ctx_free)(void *)) {
    return each_new(s, fn, ctx, ctx_free, 0);
}

vow_t *vow_stream_collect(vow_stream_t *s) { return each_new(s, NULL, NULL, NULL, 1); }

/* ---- map ------------------------------------------------------------------------------------
 * The output is a pull stream whose pull hands over, in input order, the promise of the
 * oldest item being mapped. Each item is r = vow_then(vow_stream_next(src), map_item): it
 * counts as running from the next until r settles (a tracking reaction on r counts it
 * down and reads further ahead). At most `cap` items are running or waiting for their turn
 * in the read-ahead ring. */
struct map {
    size_t refs;
    vow_stream_t *src; /* owned handle */
    vow_on_ok fn;
    void *ctx;
    void (*ctx_free)(void *);
    vow_t **ring; /* read ahead, in input order (owned) */
    size_t cap, head, len;
    size_t running;
    vow_t *last; /* the item handed to the output last (owned) */
    int src_done, closed;
    int oom; /* an item may have been lost to out of memory */
};

static void map_unref(void *ctx) {
    struct map *m = ctx;
    if (--m->refs > 0) return;
    for (size_t i = 0; i < m->len; i++) vow__unref(m->ring[(m->head + i) % m->cap]);
    vow__unref(m->last);
    vow_stream_unref(m->src);
    if (m->ctx_free != NULL) m->ctx_free(m->ctx);
    vow__free(m->ring);
    vow__free(m);
}

static vow_result_t map_item(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    struct map *m = ctx;
    if (vow_stream_is_end(v)) {
        m->src_done = 1;
        return vow_ok(vow_stream_end_value());
    }
    if (m->closed) return vow_ok_none();
    return m->fn(loop, v, m->ctx);
}

static void map_fill(struct map *m);

static vow_result_t map_track(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v;
    struct map *m = ctx;
    m->running--;
    map_fill(m);
    return vow_ok_none();
}

static vow_result_t map_track_err(vow_loop_t *loop, vow_error_t *err, void *ctx) {
    (void)loop, (void)err;
    struct map *m = ctx;
    m->running--;
    m->src_done = 1; /* the output fails when it reaches this item: read no further */
    return vow_ok_none();
}

/* Out of memory after the next was made: its item may be lost, so the output fails once
 * the items before it are out (map_pull). */
static int map_lost(struct map *m) {
    m->src_done = m->oom = 1;
    return VOW_ENOMEM;
}

static int map_start(struct map *m) {
    vow_t *q = vow_stream_next(m->src);
    if (q == NULL) return VOW_ENOMEM;
    m->refs++;
    vow_t *r = vow_then(vow__ref(q), map_item, NULL, m, map_unref);
    if (r == NULL) {
        if (q->state == VOW_PENDING && !vow__closed(q)) vow_cancel(q); /* leaves the line */
        vow__unref(q);
        return map_lost(m);
    }
    vow__unref(q);
    m->refs++;
    vow_t *t =
        vow_then_ex(vow__ref(r), map_track, map_track_err, m, map_unref, VOW_CATCH_CANCELLED);
    if (t == NULL) {
        vow_cancel(r);
        vow__unref(r);
        return map_lost(m);
    }
    vow__unref(t);
    m->running++;
    m->ring[(m->head + m->len) % m->cap] = r;
    m->len++;
    return 0;
}

static void map_fill(struct map *m) {
    while (!m->src_done && !m->closed && m->len < m->cap && m->running < m->cap && live(m->src))
        if (map_start(m) != 0) return;
}

static vow_t *map_pull(vow_loop_t *loop, void *ctx) {
    struct map *m = ctx;
    map_fill(m);
    if (m->len == 0)
        return m->src_done && !m->oom ? vow_resolved(loop, vow_stream_end_value()) : NULL;
    vow_t *r = m->ring[m->head];
    m->head = (m->head + 1) % m->cap;
    m->len--;
    vow__unref(m->last);
    m->last = vow__ref(r);
    map_fill(m);
    return r;
}

static void map_cleanup(vow_loop_t *loop, void *ctx) {
    (void)loop;
    struct map *m = ctx;
    m->closed = 1;
    m->refs++;
    for (size_t i = 0; i < m->len; i++) {
        vow_t *r = m->ring[(m->head + i) % m->cap];
        if (r->state == VOW_PENDING && !vow__closed(r)) vow_cancel(r);
    }
    if (m->last != NULL && m->last->state == VOW_PENDING && !vow__closed(m->last))
        vow_cancel(m->last);
    if (live(m->src)) vow_stream_close(m->src);
    map_unref(m);
}

vow_stream_t *vow_stream_map(vow_stream_t *s, vow_on_ok fn, void *ctx, void (*ctx_free)(void *),
                             size_t concurrency) {
    struct map *m = NULL;
    if (s == NULL || !live(s) || fn == NULL || concurrency == 0 ||
        concurrency > SIZE_MAX / sizeof(vow_t *))
        goto fail;
    if ((m = vow__calloc(1, sizeof *m)) == NULL) goto fail;
    if ((m->ring = vow__malloc(concurrency * sizeof *m->ring)) == NULL) goto fail;
    m->refs = 1;
    m->src = s;
    m->fn = fn;
    m->ctx = ctx;
    m->ctx_free = ctx_free;
    m->cap = concurrency;
    /* From here the map owns s and ctx: its unref releases them. */
    return vow_stream_new(s->loop, 0, map_pull, map_cleanup, m, map_unref);
fail:
    if (m != NULL) vow__free(m->ring);
    vow__free(m);
    vow_stream_unref(s);
    if (ctx_free != NULL) ctx_free(ctx);
    return NULL;
}

/* ---- range ---------------------------------------------------------------------------------- */
struct range {
    int64_t cur, stop, step;
    uint64_t delay;
    int done;
};

static vow_result_t range_give(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v;
    return vow_ok_int(*(int64_t *)ctx);
}

static vow_t *range_pull(vow_loop_t *loop, void *ctx) {
    struct range *r = ctx;
    if (r->done || (r->step > 0 ? r->cur >= r->stop : r->cur <= r->stop))
        return vow_resolved(loop, vow_stream_end_value());
    int64_t v = r->cur;
    if (__builtin_add_overflow(r->cur, r->step, &r->cur)) r->done = 1;
    if (r->delay == 0) return vow_resolved(loop, vow_int(v));
    int64_t *box = vow__malloc(sizeof *box);
    if (box == NULL) return NULL;
    *box = v;
    return vow_then(vow_sleep(loop, r->delay), range_give, NULL, box, vow__free);
}

vow_stream_t *vow_stream_range(vow_loop_t *loop, int64_t start, int64_t stop, int64_t step,
                               uint64_t delay_ms) {
    if (loop == NULL || loop->closed || step == 0) return NULL;
    struct range *r = vow__malloc(sizeof *r);
    if (r == NULL) return NULL;
    *r = (struct range){.cur = start, .stop = stop, .step = step, .delay = delay_ms};
    return vow_stream_new(loop, 0, range_pull, NULL, r, vow__free);
}
