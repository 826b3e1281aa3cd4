/* promise/cache.c - the async cache (vow/cache.h): a hash table of entries by key, each a
 * call in flight (PENDING: a line of waiters, promise/waiter.c) or a stored value (READY).
 *
 * Lists (circular, with a sentinel in the cache): `flights` holds the pending entries
 * (attached to the table or detached by an invalidation) through their `use` link, so
 * vow_cache_free can cancel their waiters; `lru` holds the ready ones through `use`, most
 * recently used first; `age` holds the ready ones in the order they settled, which is the
 * order they expire in (one ttl for all), so expired values are dropped from its head.
 *
 * An entry is referenced by the table (while attached), by its subscription (the vow_then
 * reaction on fn's promise, whose ctx it is, until that reaction ran or was dropped) and by
 * a vow_cache_get while it runs fn. Its waiters do not reference it: an entry freed with
 * waiters still in its line (the loop's teardown dropped the subscription first) lets them
 * go (they no longer name it).
 */
#include "internal.h"
#include "vow/cache.h"

enum { E_PENDING = 0, E_READY };

struct link {
    struct link *prev, *next; /* NULL: in no list */
};

struct entry {
    struct entry *hnext; /* the table's chain */
    struct link use;     /* PENDING: in `flights`; READY: in `lru` */
    struct link age;     /* READY: in `age` */
    vow__wline waiters;  /* PENDING */
    vow_cache_t *c;      /* NULL once the cache is freed */
    vow_t *call;         /* PENDING, subscribed: the derived promise of the subscription */
    vow_t *src;          /* PENDING, subscribed: fn's promise (held: a promise nothing else
                            holds would be freed, its subscription dropped unrun, and the
                            waiters left in a line nobody could reach) */
    vow_value_t value;   /* READY: the cache's share */
    uint64_t hash, expires;
    size_t len;
    uint32_t refs;
    uint8_t state;     /* E_* */
    uint8_t attached;  /* in the table */
    uint8_t abandoned; /* every waiter went before the call settled */
    unsigned char key[];
};

struct vow_cache {
    vow_loop_t *loop;
    vow_t *anchor; /* keeps the loop's memory valid (owned) */
    vow_cache_fn fn;
    void *ctx;
    void (*ctx_free)(void *);
    uint64_t ttl;
    size_t max;             /* values stored at most; 0: no bound */
    struct entry **buckets; /* nb chains */
    size_t nb, attached;    /* buckets, entries in the table */
    size_t stored;          /* READY entries */
    struct link flights, lru, age;
    unsigned calling;      /* fn calls running */
    unsigned free_pending; /* vow_cache_free was called from inside fn */
};

/* ---- lists -------------------------------------------------------------------------------- */
static void l_init(struct link *h) { h->prev = h->next = h; }
static void l_unlink(struct link *n) {
    if (n->next == NULL) return;
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->next = n->prev = NULL;
}
static void l_insert_after(struct link *at, struct link *n) {
    n->prev = at;
    n->next = at->next;
    at->next->prev = n;
    at->next = n;
}
#define ENTRY_OF(l, field) vow__container_of(l, struct entry, field)

/* ---- entries ------------------------------------------------------------------------------ */
/* w leaves its entry's line and forgets the entry (its promise is the caller's concern). */
static void let_go(vow__waiter *w) {
    vow__waiter_leave(w);
    w->owner = NULL;
    w->abandoned = 1;
}

static void entry_put(struct entry *e) {
    if (--e->refs > 0) return;
    vow__waiter *w;
    while ((w = e->waiters.head) != NULL) let_go(w); /* teardown released them before */
    l_unlink(&e->use);
    l_unlink(&e->age);
    vow__unref(e->call);
    vow__unref(e->src);
    vow_value_release(&e->value);
    vow__free(e);
}

static uint64_t hash_key(const void *key, size_t len) {
    const unsigned char *k = key;
    uint64_t h = 14695981039346656037ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++) h = (h ^ k[i]) * 1099511628211ull;
    return h;
}

static struct entry **slot_of(vow_cache_t *c, uint64_t h) { return &c->buckets[h & (c->nb - 1)]; }

static struct entry *lookup(vow_cache_t *c, const void *key, size_t len, uint64_t h) {
    for (struct entry *e = *slot_of(c, h); e != NULL; e = e->hnext)
        if (e->hash == h && e->len == len && (len == 0 || memcmp(e->key, key, len) == 0)) return e;
    return NULL;
}

/* Doubles the table when it is fuller than one entry per chain (when memory allows). */
static void grow(vow_cache_t *c) {
    if (c->attached <= c->nb || c->nb > SIZE_MAX / 2 / sizeof *c->buckets) return;
    size_t nb = c->nb * 2;
    struct entry **b = vow__calloc(nb, sizeof *b);
    if (b == NULL) return; /* longer chains, nothing worse */
    for (size_t i = 0; i < c->nb; i++) {
        struct entry *e, *next;
        for (e = c->buckets[i]; e != NULL; e = next) {
            next = e->hnext;
            e->hnext = b[e->hash & (nb - 1)];
            b[e->hash & (nb - 1)] = e;
        }
    }
    vow__free(c->buckets);
    c->buckets = b;
    c->nb = nb;
}

/* Takes e out of the table (and a READY one out of `lru` and `age`); drops the table's
 * reference. */
static void detach(vow_cache_t *c, struct entry *e) {
    if (!e->attached) return;
    struct entry **pp = slot_of(c, e->hash);
    while (*pp != e) pp = &(*pp)->hnext;
    *pp = e->hnext;
    e->hnext = NULL;
    e->attached = 0;
    c->attached--;
    if (e->state == E_READY) {
        l_unlink(&e->use);
        l_unlink(&e->age);
        c->stored--;
    }
    entry_put(e);
}

/* Drops the values whose time is up. */
static void purge(vow_cache_t *c) {
    uint64_t now = vow_loop_update_time(c->loop);
    while (c->age.next != &c->age && ENTRY_OF(c->age.next, age)->expires <= now)
        detach(c, ENTRY_OF(c->age.next, age));
}

/* ---- a call's outcome --------------------------------------------------------------------- */
/* Stores the value of e's call (READY from now; the cache holds a share). */
static void store(vow_cache_t *c, struct entry *e, const vow_value_t *v) {
    uint64_t now = vow_loop_update_time(c->loop);
    l_unlink(&e->use); /* out of `flights` */
    e->state = E_READY;
    e->value = vow_value_share(v);
    e->expires = c->ttl > UINT64_MAX - now ? UINT64_MAX : now + c->ttl;
    l_insert_after(&c->lru, &e->use);
    l_insert_after(c->age.prev, &e->age);
    c->stored++;
    while (c->max != 0 && c->stored > c->max) detach(c, ENTRY_OF(c->lru.prev, use));
}

/* The call settled: e lets its promises go. */
static void call_release(struct entry *e) {
    vow_t *call = e->call, *src = e->src;
    e->call = e->src = NULL;
    vow__unref(call);
    vow__unref(src);
}

/* The call's subscription has settled: e leaves `flights`, and the table unless stored. */
static void call_done(struct entry *e) {
    call_release(e);
    l_unlink(&e->use);
    if (e->c != NULL) detach(e->c, e);
}

/* Rejects every waiter of e with err (consumed; each gets a reference), in arrival order. */
static void reject_all(struct entry *e, vow_error_t *err) {
    vow__waiter *w;
    while ((w = e->waiters.head) != NULL) {
        let_go(w);
        vow__waiter_reject(w, vow_error_ref(err));
    }
    vow_error_unref(err);
}

static vow_result_t call_ok(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    struct entry *e = ctx;
    vow__waiter *w;
    while ((w = e->waiters.head) != NULL) {
        let_go(w);
        vow__waiter_fulfil(w, vow_value_share(v));
    }
    vow_cache_t *c = e->c;
    if (c != NULL && e->attached && !e->abandoned && c->ttl > 0) {
        call_release(e);
        store(c, e, v);
    } else {
        call_done(e);
    }
    return vow_ok_none();
}

static vow_result_t call_err(vow_loop_t *loop, vow_error_t *err, void *ctx) {
    (void)loop;
    struct entry *e = ctx;
    reject_all(e, vow_error_ref(err));
    call_done(e); /* a rejection is not stored */
    return vow_ok_none();
}

static void sub_free(void *ctx) { entry_put(ctx); }

/* A waiter's promise is being cancelled while pending. When it was the last, the call is
 * abandoned: forgotten by the cache, then cancelled (last, since that can run the user's
 * cancel callbacks). */
static void on_cancel(vow__waiter *w) {
    struct entry *e = w->owner;
    vow__waiter_leave(w);
    if (e->waiters.n > 0 || e->state != E_PENDING || e->abandoned) return;
    e->abandoned = 1;
    vow_t *call = e->call;
    e->call = NULL;
    l_unlink(&e->use);
    if (e->c != NULL) detach(e->c, e); /* may free e: the subscription may be gone already */
    if (call != NULL) {
        vow_cancel(call); /* drops the subscription: its ctx_free releases e */
        vow__unref(call);
    }
}

static const struct vow__waiter_ops waiter_ops = {on_cancel, NULL};

/* The call could not be made: its waiters reject with err (consumed), e is forgotten. */
static void call_failed(vow_cache_t *c, struct entry *e, vow_error_t *err) {
    reject_all(e, err);
    l_unlink(&e->use);
    detach(c, e);
}

/* Subscribes e to q, fn's promise (consumed); or, when there is none, rejects e's waiters. */
static void subscribe(vow_cache_t *c, struct entry *e, vow_t *q) {
    if (q == NULL) {
        call_failed(c, e, vow_error_new(VOW_ENOMEM, "the cache's function answered NULL"));
        return;
    }
    if (q->loop != c->loop) {
        vow__unref(q);
        call_failed(c, e,
                    vow_error_new(VOW_EINVAL, "the cache's function answered a promise "
                                              "of another loop"));
        return;
    }
    if (e->abandoned) { /* every waiter went while fn ran */
        vow_cancel(q);
        vow__unref(q);
        return;
    }
    e->refs++; /* the subscription's (sub_free releases it, on every path) */
    vow_t *sub = vow_then_ex(vow__ref(q), call_ok, call_err, e, sub_free, VOW_CATCH_CANCELLED);
    if (sub == NULL) {
        vow_cancel(q); /* nobody will see its outcome */
        vow__unref(q);
        call_failed(c, e, vow_error_new(VOW_ENOMEM, NULL));
        return;
    }
    e->src = q; /* the caller's reference */
    e->call = sub;
}

/* ---- the API ------------------------------------------------------------------------------ */
static int cache_check(const vow_cache_t *c) {
    if (c == NULL) return VOW_EINVAL;
    return vow__closed(c->anchor) ? VOW_ECLOSED : 0;
}

vow_cache_t *vow_cache_new(vow_loop_t *loop, vow_cache_fn fn, void *ctx, void (*ctx_free)(void *),
                           uint64_t ttl_ms, size_t max_entries) {
    vow_cache_t *c = NULL;
    if (loop == NULL || loop->closed || fn == NULL) goto fail;
    if ((c = vow__malloc(sizeof *c)) == NULL) goto fail;
    *c = (vow_cache_t){.loop = loop,
                       .fn = fn,
                       .ctx = ctx,
                       .ctx_free = ctx_free,
                       .ttl = ttl_ms,
                       .max = max_entries,
                       .nb = 8};
    if ((c->buckets = vow__calloc(c->nb, sizeof *c->buckets)) == NULL) goto fail;
    if ((c->anchor = vow__promise_new(loop, 0)) == NULL) goto fail;
    l_init(&c->flights);
    l_init(&c->lru);
    l_init(&c->age);
    return c;
fail:
    if (c != NULL) vow__free(c->buckets);
    vow__free(c);
    if (ctx_free != NULL) ctx_free(ctx);
    return NULL;
}

void vow_cache_free(vow_cache_t *c) {
    if (c == NULL) return;
    if (c->calling > 0) {
        c->free_pending = 1; /* from inside fn: when it returns */
        return;
    }
    /* Every key is forgotten, the stored values released. */
    for (size_t i = 0; i < c->nb; i++)
        while (c->buckets[i] != NULL) detach(c, c->buckets[i]);
    /* The calls in flight no longer name the cache; once it is gone, their waiters are
     * cancelled (the last one's on_cancel cancels the call: user code may run). After
     * vow_loop_free they are let go instead (nothing can be cancelled any more). */
    int closed = vow__closed(c->anchor);
    struct entry *pending = NULL; /* a stack through hnext, each referenced */
    while (c->flights.next != &c->flights) {
        struct entry *e = ENTRY_OF(c->flights.next, use);
        l_unlink(&e->use);
        e->c = NULL;
        e->refs++;
        e->hnext = pending;
        pending = e;
    }
    void (*ctx_free)(void *) = c->ctx_free;
    void *ctx = c->ctx;
    vow_t *anchor = c->anchor;
    vow__free(c->buckets);
    vow__free(c);
    while (pending != NULL) {
        struct entry *e = pending;
        pending = e->hnext;
        vow__waiter *w;
        while ((w = e->waiters.head) != NULL) {
            /* Queued for cancellation already: the cancellation running further up will. */
            if (closed || (w->p->flags & VOW__F_CANCEL_QUEUED))
                let_go(w);
            else
                vow__cancel(w->p); /* on_cancel takes it out of the line */
        }
        entry_put(e);
    }
    if (ctx_free != NULL) ctx_free(ctx);
    vow__unref(anchor);
}

vow_t *vow_cache_get(vow_cache_t *c, const void *key, size_t len) {
    if (cache_check(c) != 0) return NULL;
    vow_loop_t *loop = c->loop;
    if (key == NULL && len > 0)
        return vow_rejected(loop, vow_error_new(VOW_EINVAL, "vow_cache_get: key NULL, len > 0"));
    purge(c);
    uint64_t h = hash_key(key, len);
    struct entry *e = lookup(c, key, len, h);
    if (e != NULL && e->state == E_READY) { /* a hit */
        vow_t *p = vow_resolved(loop, vow_value_share(&e->value));
        if (p != NULL) {
            l_unlink(&e->use);
            l_insert_after(&c->lru, &e->use);
        }
        return p;
    }
    if (e != NULL)
        return vow__waiter_new(loop, sizeof(vow__waiter), &e->waiters, &waiter_ops, e,
                               &(vow__waiter *){NULL}); /* in flight */
    /* A miss: a new entry, its first waiter, then the call. */
    if (len > SIZE_MAX - sizeof *e || (e = vow__malloc(sizeof *e + len)) == NULL) return NULL;
    *e = (struct entry){.c = c, .hash = h, .len = len, .refs = 2}; /* the table, this get */
    if (len > 0) memcpy(e->key, key, len);
    vow_t *p = vow__waiter_new(loop, sizeof(vow__waiter), &e->waiters, &waiter_ops, e,
                               &(vow__waiter *){NULL});
    if (p == NULL) {
        vow__free(e);
        return NULL;
    }
    struct entry **slot = slot_of(c, h);
    e->hnext = *slot;
    *slot = e;
    e->attached = 1;
    c->attached++;
    l_insert_after(c->flights.prev, &e->use);
    grow(c);
    c->calling++;
    vow_t *q = c->fn(loop, e->key, len, c->ctx);
    c->calling--;
    subscribe(c, e, q);
    entry_put(e);
    if (c->calling == 0 && c->free_pending) vow_cache_free(c);
    return p;
}

int vow_cache_invalidate(vow_cache_t *c, const void *key, size_t len) {
    int rc = cache_check(c);
    if (rc != 0) return rc;
    if (key == NULL && len > 0) return VOW_EINVAL;
    purge(c);
    struct entry *e = lookup(c, key, len, hash_key(key, len));
    if (e == NULL) return VOW_ENOENT;
    detach(c, e); /* a call in flight stays in `flights`, detached */
    return 0;
}

int vow_cache_clear(vow_cache_t *c) {
    int rc = cache_check(c);
    if (rc != 0) return rc;
    for (size_t i = 0; i < c->nb; i++)
        while (c->buckets[i] != NULL) detach(c, c->buckets[i]);
    return 0;
}

int64_t vow_cache_size(vow_cache_t *c) {
    int rc = cache_check(c);
    if (rc != 0) return rc;
    purge(c);
    return (int64_t)c->stored;
}
