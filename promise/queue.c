/* promise/queue.c - asyncio.Queue, LifoQueue and PriorityQueue (vow/queue.h).
 *
 * The items live in one array: a ring for FIFO and LIFO (taken from its head or its tail),
 * a binary heap for the priority kind (each item with its arrival number, so equal items
 * leave in arrival order). Getters, putters and joiners wait in three lines of
 * promise/waiter.c. The handoff rule (vow/queue.h): an item that arrives while gets wait
 * is reserved for the first getter (it waits in `gresv`), whose job takes it out one
 * microtask later; a slot that frees while puts wait is reserved for the first putter
 * (`presv`), whose job puts its item. A waiter cancelled before its job passes the
 * reservation on.
 */
#include "internal.h"
#include "vow/queue.h"

enum { Q_FIFO = 0, Q_LIFO, Q_PRIO };

struct slot {
    vow_value_t v;
    uint64_t seq; /* arrival number (the priority kind's tie-break) */
};

struct vow_queue {
    vow_loop_t *loop;
    vow_t *anchor; /* a promise that keeps the loop's memory valid (owned) */
    struct slot *items;
    size_t cap, head, len; /* a ring (FIFO, LIFO) or a heap in items[0..len) */
    size_t maxsize;        /* 0: no bound */
    size_t unfinished;     /* items put and not yet task_done */
    uint64_t seq;
    vow_queue_cmp_fn cmp;
    void *cmp_ctx;
    struct vow__wline getters, putters, joiners;
    struct vow__wline gresv; /* getters an item is reserved for (their job is queued) */
    struct vow__wline presv; /* putters a slot is reserved for (their job is queued) */
    uint8_t kind;
    uint8_t shutdown;
};

struct qwaiter {
    struct vow__waiter w; /* first; w.owner: the queue, NULL once it is freed */
    vow_value_t item;     /* a putter's item, until its job puts it */
    uint8_t is_put;
};

static int check(const vow_queue_t *q) {
    if (q == NULL) return VOW_EINVAL;
    if (vow__closed(q->anchor)) return VOW_ECLOSED;
    return 0;
}

/* ---- the items ------------------------------------------------------------------------ */
static int before(const vow_queue_t *q, const struct slot *a, const struct slot *b) {
    int c;
    if (q->cmp != NULL) {
        c = q->cmp(&a->v, &b->v, q->cmp_ctx);
    } else {
        double x = vow_value_double(&a->v), y = vow_value_double(&b->v);
        c = x < y ? -1 : x > y ? 1 : 0;
    }
    return c < 0 || (c == 0 && a->seq < b->seq);
}

/* Makes room for `need` items in the array (VOW_ENOMEM: nothing changed). */
static int grow(vow_queue_t *q, size_t need) {
    if (need <= q->cap) return 0;
    size_t cap = q->cap ? q->cap : 8;
    while (cap < need) {
        if (cap > SIZE_MAX / 2 / sizeof(struct slot)) return VOW_ENOMEM;
        cap *= 2;
    }
    struct slot *s = vow__malloc(cap * sizeof *s);
    if (s == NULL) return VOW_ENOMEM;
    for (size_t i = 0; i < q->len; i++) /* unrolls the ring (a heap has head 0) */
        s[i] = q->items[(q->head + i) % q->cap];
    vow__free(q->items);
    q->items = s;
    q->cap = cap;
    q->head = 0;
    return 0;
}

/* Puts v (moved in) into the array, which has room. */
static void items_push(vow_queue_t *q, vow_value_t v) {
    struct slot s = {.v = v, .seq = q->seq++};
    if (q->kind != Q_PRIO) {
        q->items[(q->head + q->len++) % q->cap] = s;
        return;
    }
    size_t i = q->len++;
    while (i > 0) { /* sift up */
        size_t parent = (i - 1) / 2;
        if (!before(q, &s, &q->items[parent])) break;
        q->items[i] = q->items[parent];
        i = parent;
    }
    q->items[i] = s;
}

/* Takes the next item out (there is one). */
static vow_value_t items_pop(vow_queue_t *q) {
    vow_value_t v;
    if (q->kind == Q_FIFO) {
        v = q->items[q->head].v;
        q->head = (q->head + 1) % q->cap;
        q->len--;
        return v;
    }
    if (q->kind == Q_LIFO) return q->items[(q->head + --q->len) % q->cap].v;
    v = q->items[0].v;
    struct slot last = q->items[--q->len];
    size_t i = 0, n = q->len;
    for (;;) { /* sift down */
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && before(q, &q->items[c + 1], &q->items[c])) c++;
        if (!before(q, &q->items[c], &last)) break;
        q->items[i] = q->items[c];
        i = c;
    }
    if (n > 0) q->items[i] = last;
    return v;
}

static int has_room(const vow_queue_t *q) {
    return q->maxsize == 0 || q->len + q->presv.n < q->maxsize;
}

/* ---- the handoff ---------------------------------------------------------------------- */
static void joiners_release(vow_queue_t *q) {
    struct vow__waiter *w;
    while ((w = q->joiners.head) != NULL) {
        vow__waiter_leave(w);
        vow__waiter_fulfil(w, vow__none()); /* its context destructor releases it */
    }
}

static void wake_getters(vow_queue_t *q);
static void wake_putters(vow_queue_t *q);

static void got(vow_queue_t *q, struct qwaiter *g) {
    vow_value_t v = items_pop(q);
    vow__waiter_fulfil(&g->w, v);
    wake_putters(q);
}

static void get_job(vow_loop_t *loop, vow__job *job, int how) {
    (void)loop;
    struct qwaiter *g = (struct qwaiter *)job;
    vow_queue_t *q = g->w.owner;
    if (g->w.state == VOW__W_RESERVED && q != NULL) {
        vow__waiter_leave(&g->w);
        g->w.state = VOW__W_DONE;
        if (how == VOW__JOB_RUN) got(q, g);
        /* Dropped (the loop is being freed): the item stays in the queue for its free. */
    }
    vow__waiter_put(&g->w);
}

static void put_in(vow_queue_t *q, vow_value_t *v) {
    items_push(q, *v);
    *v = vow__none();
    q->unfinished++;
    wake_getters(q);
}

static void put_job(vow_loop_t *loop, vow__job *job, int how) {
    (void)loop;
    struct qwaiter *p = (struct qwaiter *)job;
    vow_queue_t *q = p->w.owner;
    if (p->w.state == VOW__W_RESERVED && q != NULL) {
        vow__waiter_leave(&p->w);
        p->w.state = VOW__W_DONE;
        /* The array has room: wake_putters made it when it reserved the slot. */
        if (how == VOW__JOB_RUN) {
            put_in(q, &p->item);
            vow__waiter_fulfil(&p->w, vow__none());
        }
    }
    vow__waiter_put(&p->w);
}

/* Items free for gets go to the getters in line, one each. */
static void wake_getters(vow_queue_t *q) {
    struct vow__waiter *w;
    while (q->len > q->gresv.n && (w = q->getters.head) != NULL) {
        vow__waiter_reserve(w, &q->gresv, get_job);
    }
}

/* Free slots go to the putters in line, one each. Room in the array is made now, so the
 * put job cannot fail; out of memory, the putters wait for the next free slot. */
static void wake_putters(vow_queue_t *q) {
    struct vow__waiter *w;
    while (has_room(q) && (w = q->putters.head) != NULL) {
        if (grow(q, q->len + q->presv.n + 1) != 0) return;
        vow__waiter_reserve(w, &q->presv, put_job);
    }
}

/* The waiter's promise is being cancelled while pending. */
static void qwaiter_cancel(struct vow__waiter *w) {
    struct qwaiter *qw = (struct qwaiter *)w;
    vow_queue_t *q = qw->w.owner;
    int reserved = w->state == VOW__W_RESERVED;
    vow__waiter_leave(w);
    w->state = VOW__W_DONE;
    vow_value_release(&qw->item); /* a put's item goes at once, not when its job does */
    if (!reserved || q == NULL) return;
    if (qw->is_put)
        wake_putters(q); /* the slot goes to the next putter */
    else
        wake_getters(q); /* the item goes to the next getter */
}

static void qwaiter_release(struct vow__waiter *w) {
    vow_value_release(&((struct qwaiter *)w)->item);
}

static const struct vow__waiter_ops qwaiter_ops = {qwaiter_cancel, qwaiter_release};

static vow_t *waiter(vow_queue_t *q, struct vow__wline *line, struct qwaiter **out) {
    struct vow__waiter *w;
    vow_t *p = vow__waiter_new(q->loop, sizeof(struct qwaiter), line, &qwaiter_ops, q, &w);
    if (p == NULL) return NULL;
    *out = (struct qwaiter *)w;
    (*out)->item = vow__none();
    return p;
}

/* ---- the queue ------------------------------------------------------------------------ */
static vow_queue_t *queue_new(vow_loop_t *loop, size_t maxsize, int kind) {
    if (loop == NULL || loop->closed) return NULL;
    vow_queue_t *q = vow__malloc(sizeof *q);
    vow_t *anchor = q != NULL ? vow__promise_new(loop, 0) : NULL;
    if (anchor == NULL) {
        vow__free(q);
        return NULL;
    }
    *q = (vow_queue_t){.loop = loop, .anchor = anchor, .maxsize = maxsize, .kind = (uint8_t)kind};
    return q;
}

vow_queue_t *vow_queue_new(vow_loop_t *loop, size_t maxsize) {
    return queue_new(loop, maxsize, Q_FIFO);
}

vow_queue_t *vow_queue_lifo_new(vow_loop_t *loop, size_t maxsize) {
    return queue_new(loop, maxsize, Q_LIFO);
}

vow_queue_t *vow_queue_priority_new(vow_loop_t *loop, size_t maxsize, vow_queue_cmp_fn cmp,
                                    void *ctx) {
    vow_queue_t *q = queue_new(loop, maxsize, Q_PRIO);
    if (q != NULL) {
        q->cmp = cmp;
        q->cmp_ctx = ctx;
    }
    return q;
}

static void abandon_line(struct vow__wline *line) {
    struct vow__waiter *w;
    while ((w = line->head) != NULL) {
        w->owner = NULL;
        vow__waiter_abandon(w);
    }
}

void vow_queue_free(vow_queue_t *q) {
    if (q == NULL) return;
    struct vow__wline *lines[] = {&q->getters, &q->putters, &q->joiners, &q->gresv, &q->presv};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) abandon_line(lines[i]);
    while (q->len > 0) {
        vow_value_t v = items_pop(q);
        vow_value_release(&v);
    }
    vow__free(q->items);
    vow__unref(q->anchor);
    vow__free(q);
}

/* ---- put ------------------------------------------------------------------------------ */
/* The item can go in now: 0; else the answer of put_nowait. */
static int can_put(vow_queue_t *q) {
    if (q->shutdown) return VOW_ESHUTDOWN;
    if (!has_room(q) || q->putters.head != NULL) return VOW_EAGAIN;
    return grow(q, q->len + q->presv.n + 1);
}

int vow_queue_put_nowait(vow_queue_t *q, vow_value_t *item) {
    int rc = check(q);
    if (rc == 0 && item == NULL) rc = VOW_EINVAL;
    if (rc == 0) rc = can_put(q);
    if (rc == VOW_ENOMEM) vow_value_release(item);
    if (rc == 0 && vow__value_store(item) != 0) rc = VOW_ENOMEM; /* released, left none */
    if (rc == 0) put_in(q, item);
    return rc;
}

vow_t *vow_queue_put(vow_queue_t *q, vow_value_t item) {
    vow_t *p = NULL;
    /* Stored (boxed) before it goes in: a get's promise can then always hold it. */
    if (check(q) != 0 || vow__value_store(&item) != 0) goto out;
    int rc = can_put(q);
    if (rc == 0) {
        if ((p = vow_resolved(q->loop, vow__none())) != NULL) put_in(q, &item);
    } else if (rc == VOW_ESHUTDOWN) {
        p = vow_rejected(q->loop, vow_error_new(VOW_ESHUTDOWN, NULL));
    } else if (rc == VOW_EAGAIN) {
        struct qwaiter *w;
        if ((p = waiter(q, &q->putters, &w)) != NULL) {
            w->is_put = 1;
            w->item = item;
            item = vow__none();
        }
    }
out:
    vow_value_release(&item);
    return p;
}

/* ---- get ------------------------------------------------------------------------------ */
int vow_queue_get_nowait(vow_queue_t *q, vow_value_t *out) {
    int rc = check(q);
    if (out != NULL) *out = vow__none();
    if (rc != 0) return rc;
    if (out == NULL) return VOW_EINVAL;
    if (q->len <= q->gresv.n) return q->shutdown ? VOW_ESHUTDOWN : VOW_EAGAIN;
    *out = items_pop(q);
    wake_putters(q);
    return 0;
}

vow_t *vow_queue_get(vow_queue_t *q) {
    if (check(q) != 0) return NULL;
    if (q->len > q->gresv.n && q->getters.head == NULL) {
        vow_t *p = vow__promise_new(q->loop, 0);
        if (p == NULL) return NULL;
        vow__fulfill(p, items_pop(q)); /* out of memory boxing it: rejected, item released */
        wake_putters(q);
        return p;
    }
    if (q->shutdown) return vow_rejected(q->loop, vow_error_new(VOW_ESHUTDOWN, NULL));
    struct qwaiter *w;
    return waiter(q, &q->getters, &w);
}

/* ---- join, shutdown ------------------------------------------------------------------- */
int vow_queue_task_done(vow_queue_t *q) {
    int rc = check(q);
    if (rc != 0) return rc;
    if (q->unfinished == 0) return VOW_ERANGE;
    if (--q->unfinished == 0) joiners_release(q);
    return 0;
}

vow_t *vow_queue_join(vow_queue_t *q) {
    if (check(q) != 0) return NULL;
    if (q->unfinished == 0) return vow_resolved(q->loop, vow__none());
    struct qwaiter *w;
    return waiter(q, &q->joiners, &w);
}

static void reject_line(struct vow__wline *line) {
    struct vow__waiter *w;
    while ((w = line->head) != NULL) {
        vow__waiter_leave(w);
        w->state = VOW__W_DONE;
        vow__waiter_reject(w, vow_error_new(VOW_ESHUTDOWN, NULL));
    }
}

int vow_queue_shutdown(vow_queue_t *q, int immediate) {
    int rc = check(q);
    if (rc != 0) return rc;
    q->shutdown = 1;
    if (immediate) {
        while (q->len > 0) {
            vow_value_t v = items_pop(q);
            vow_value_release(&v);
            if (q->unfinished > 0) q->unfinished--;
        }
        reject_line(&q->gresv);
    }
    reject_line(&q->presv);
    reject_line(&q->putters);
    reject_line(&q->getters); /* no item is free for them: each free one has a getter */
    if (immediate && q->unfinished == 0) joiners_release(q);
    return 0;
}

/* ---- state ---------------------------------------------------------------------------- */
int64_t vow_queue_size(const vow_queue_t *q) {
    int rc = check(q);
    return rc != 0 ? rc : (int64_t)q->len;
}

int64_t vow_queue_maxsize(const vow_queue_t *q) {
    int rc = check(q);
    return rc != 0 ? rc : (int64_t)q->maxsize;
}

int vow_queue_empty(const vow_queue_t *q) {
    int rc = check(q);
    return rc != 0 ? rc : q->len == 0;
}

int vow_queue_full(const vow_queue_t *q) {
    int rc = check(q);
    return rc != 0 ? rc : !has_room(q);
}

int vow_queue_is_shutdown(const vow_queue_t *q) {
    int rc = check(q);
    return rc != 0 ? rc : q->shutdown;
}

_Static_assert(sizeof(struct qwaiter) <= VOW__WAITER_SLOT, "a queue waiter fits a pool slot");
