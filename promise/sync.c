/* promise/sync.c - Lock, Event, Semaphore and BoundedSemaphore (asyncio.Lock, .Event,
 * .Semaphore, .BoundedSemaphore; vow/sync.h).
 *
 * One object layout serves the kinds. Its waiters wait in lines of promise/waiter.c
 * (arrival order, O(1) removal; a waiter's promise only vow settles); the cancel callback
 * unlinks a waiter or passes on its reserved permit.
 *
 * The handoff rule (vow/sync.h; python/cpython#90155): a permit released to a waiter is
 * reserved for it (the waiter moves to the `resv` list) and a job fulfils its promise
 * one microtask later; a cancellation that comes first passes the permit to the next
 * waiter.
 */
#include "internal.h"
#include "vow/sync.h"

enum { K_LOCK = 1, K_EVENT, K_SEM, K_COND };

struct vow__sync {
    vow_loop_t *loop;
    vow_t *anchor;          /* a promise that keeps the loop's memory valid (owned) */
    struct vow__wline wait; /* waiting, in arrival order */
    struct vow__wline resv; /* handed a permit, their fulfilment job queued */
    uint32_t value;         /* free permits (a lock: 1 free, 0 locked; an event: its flag) */
    uint32_t bound;         /* most permits there may be: a BoundedSemaphore's initial value,
                               UINT32_MAX for the others */
    uint8_t kind;           /* K_* */
    const void *holder;     /* a lock's owner tag (locked or reserved) */
};

struct vow_lock {
    struct vow__sync s;
};
struct vow_event {
    struct vow__sync s;
};
struct vow_sem {
    struct vow__sync s;
};
struct vow_cond {
    struct vow__sync s; /* its waiters, before they are notified */
    vow_lock_t *lock;
    int own_lock;
};

struct waiter {
    struct vow__waiter w;  /* first (promise/waiter.c); w.owner: its object (a struct
                              vow__sync), NULL once the object is freed */
    const void *owner;     /* a lock waiter's tag */
    struct vow_cond *cond; /* notified by this condition, now waiting for its lock */
};

/* Leaves w's line: w no longer waits. */
static void waiter_leave(struct waiter *w) {
    vow__waiter_leave(&w->w);
    w->w.state = VOW__W_DONE;
}

/* ---- the handoff ---------------------------------------------------------------------- */
/* A permit is free: reserve it for the first waiter, or give it back to the object. */
static void grant(struct vow__sync *o) {
    struct waiter *w = (struct waiter *)o->wait.head;
    if (w == NULL) {
        if (o->kind == K_LOCK) {
            o->value = 1;
            o->holder = NULL;
        } else {
            o->value++;
        }
        return;
    }
    if (o->kind == K_LOCK) o->holder = w->owner;
    vow__waiter_reserve(&w->w, &o->resv, vow__waiter_grant_job);
}

static void cond_pass(struct vow_cond *c, size_t n);

/* The waiter's promise is being cancelled while pending. */
static void waiter_cancel(struct vow__waiter *base) {
    struct waiter *w = (struct waiter *)base;
    struct vow__sync *o = w->w.owner;
    struct vow_cond *cond = w->cond;
    int reserved = w->w.state == VOW__W_RESERVED;
    w->cond = NULL;
    waiter_leave(w);
    if (reserved && o != NULL) grant(o);  /* the next waiter gets the permit */
    if (cond != NULL) cond_pass(cond, 1); /* and the next one of the condition its notify */
}

static const struct vow__waiter_ops waiter_ops = {waiter_cancel, NULL};

/* A waiter at the end of o's line: its promise (one reference for the caller), or NULL. */
static vow_t *waiter_new(struct vow__sync *o, const void *owner) {
    struct vow__waiter *base;
    vow_t *p = vow__waiter_new(o->loop, sizeof(struct waiter), &o->wait, &waiter_ops, o, &base);
    if (p == NULL) return NULL;
    struct waiter *w = (struct waiter *)base;
    w->owner = owner;
    return p;
}

/* ---- objects -------------------------------------------------------------------------- */
static struct vow__sync *sync_new(vow_loop_t *loop, size_t size, int kind, uint32_t value) {
    if (loop == NULL || loop->closed) return NULL;
    struct vow__sync *o = vow__malloc(size);
    vow_t *anchor = o != NULL ? vow__promise_new(loop, 0) : NULL;
    if (anchor == NULL) {
        vow__free(o);
        return NULL;
    }
    memset(o, 0, size); /* the kind's own fields too */
    *o = (struct vow__sync){
        .loop = loop, .anchor = anchor, .kind = (uint8_t)kind, .value = value, .bound = UINT32_MAX};
    return o;
}

static void sync_free(struct vow__sync *o) {
    if (o == NULL) return;
    struct vow__wline *lines[2] = {&o->wait, &o->resv};
    for (int i = 0; i < 2; i++) {
        struct waiter *w;
        while ((w = (struct waiter *)lines[i]->head) != NULL) {
            w->w.owner = NULL;
            w->cond = NULL;
            w->w.state = VOW__W_DONE;
            vow__waiter_abandon(&w->w);
        }
    }
    vow__unref(o->anchor);
    vow__free(o);
}

static int sync_check(const struct vow__sync *o) {
    if (o == NULL) return VOW_EINVAL;
    if (vow__closed(o->anchor)) return VOW_ECLOSED;
    return 0;
}

/* ---- Lock ----------------------------------------------------------------------------- */
vow_lock_t *vow_lock_new(vow_loop_t *loop) {
    return (vow_lock_t *)sync_new(loop, sizeof(vow_lock_t), K_LOCK, 1);
}
void vow_lock_free(vow_lock_t *l) { sync_free(l != NULL ? &l->s : NULL); }

vow_t *vow_lock_acquire(vow_lock_t *l, const void *owner) {
    if (l == NULL || sync_check(&l->s) != 0) return NULL;
    struct vow__sync *o = &l->s;
    if (o->value == 1 && o->wait.head == NULL) {
        vow_t *p = vow_resolved(o->loop, vow__none());
        if (p != NULL) {
            o->value = 0;
            o->holder = owner;
        }
        return p;
    }
    return waiter_new(o, owner);
}

int vow_lock_release(vow_lock_t *l, const void *owner) {
    int rc = sync_check(l != NULL ? &l->s : NULL);
    if (rc != 0) return rc;
    struct vow__sync *o = &l->s;
    if (o->value == 1 || o->resv.n > 0 || o->holder != owner) return VOW_EPERM;
    grant(o);
    return 0;
}

int vow_lock_locked(const vow_lock_t *l) {
    int rc = sync_check(l != NULL ? &l->s : NULL);
    return rc != 0 ? rc : l->s.value == 0;
}

/* ---- Event ---------------------------------------------------------------------------- */
vow_event_t *vow_event_new(vow_loop_t *loop) {
    return (vow_event_t *)sync_new(loop, sizeof(vow_event_t), K_EVENT, 0);
}
void vow_event_free(vow_event_t *e) { sync_free(e != NULL ? &e->s : NULL); }

int vow_event_set(vow_event_t *e) {
    int rc = sync_check(e != NULL ? &e->s : NULL);
    if (rc != 0) return rc;
    struct vow__sync *o = &e->s;
    o->value = 1;
    struct waiter *w;
    while ((w = (struct waiter *)o->wait.head) != NULL) {
        waiter_leave(w);
        vow__waiter_fulfil(&w->w, vow__none()); /* its context destructor releases w */
    }
    return 0;
}

int vow_event_clear(vow_event_t *e) {
    int rc = sync_check(e != NULL ? &e->s : NULL);
    if (rc == 0) e->s.value = 0;
    return rc;
}

int vow_event_is_set(const vow_event_t *e) {
    int rc = sync_check(e != NULL ? &e->s : NULL);
    return rc != 0 ? rc : e->s.value != 0;
}

vow_t *vow_event_wait(vow_event_t *e) {
    if (e == NULL || sync_check(&e->s) != 0) return NULL;
    if (e->s.value != 0) return vow_resolved(e->s.loop, vow__none());
    return waiter_new(&e->s, NULL);
}

/* ---- Semaphore ------------------------------------------------------------------------ */
vow_sem_t *vow_sem_new(vow_loop_t *loop, uint32_t value) {
    return (vow_sem_t *)sync_new(loop, sizeof(vow_sem_t), K_SEM, value);
}
vow_sem_t *vow_sem_bounded_new(vow_loop_t *loop, uint32_t value) {
    vow_sem_t *s = vow_sem_new(loop, value);
    if (s != NULL) s->s.bound = value;
    return s;
}
void vow_sem_free(vow_sem_t *s) { sync_free(s != NULL ? &s->s : NULL); }

vow_t *vow_sem_acquire(vow_sem_t *s) {
    if (s == NULL || sync_check(&s->s) != 0) return NULL;
    struct vow__sync *o = &s->s;
    if (o->value > 0 && o->wait.head == NULL) {
        vow_t *p = vow_resolved(o->loop, vow__none());
        if (p != NULL) o->value--;
        return p;
    }
    return waiter_new(o, NULL);
}

int vow_sem_release(vow_sem_t *s) {
    int rc = sync_check(s != NULL ? &s->s : NULL);
    if (rc != 0) return rc;
    struct vow__sync *o = &s->s;
    uint64_t after = (uint64_t)o->value + o->resv.n + 1;
    if (after > o->bound) return VOW_ERANGE;
    grant(o);
    return 0;
}

int64_t vow_sem_value(const vow_sem_t *s) {
    int rc = sync_check(s != NULL ? &s->s : NULL);
    return rc != 0 ? rc : (int64_t)s->s.value;
}

int vow_sem_locked(const vow_sem_t *s) {
    int rc = sync_check(s != NULL ? &s->s : NULL);
    return rc != 0 ? rc : s->s.value == 0;
}

/* ---- Condition ------------------------------------------------------------------------ */
static int lock_held(const vow_lock_t *l, const void *owner) {
    return l->s.value == 0 && l->s.resv.n == 0 && l->s.holder == owner;
}

/* Moves up to n of c's waiters to the end of its lock's line. */
static void cond_pass(struct vow_cond *c, size_t n) {
    struct waiter *w;
    for (size_t i = 0; i < n && (w = (struct waiter *)c->s.wait.head) != NULL; i++) {
        vow__waiter_leave(&w->w);
        w->w.owner = &c->lock->s;
        w->cond = c;
        vow__wline_push(&c->lock->s.wait, &w->w);
    }
    /* The lock is free (a cancelled waiter gave it back just before): the first of its
     * line takes it, by the handoff rule. */
    if (c->lock->s.value == 1 && c->lock->s.wait.head != NULL) {
        c->lock->s.value = 0;
        grant(&c->lock->s);
    }
}

vow_cond_t *vow_cond_new(vow_loop_t *loop, vow_lock_t *lock) {
    if (lock != NULL && lock->s.loop != loop) return NULL;
    vow_cond_t *c = (vow_cond_t *)sync_new(loop, sizeof(vow_cond_t), K_COND, 0);
    if (c == NULL) return NULL;
    if (lock == NULL) {
        if ((lock = vow_lock_new(loop)) == NULL) {
            sync_free(&c->s);
            return NULL;
        }
        c->own_lock = 1;
    }
    c->lock = lock;
    return c;
}

void vow_cond_free(vow_cond_t *c) {
    if (c == NULL) return;
    /* Notified waiters now wait for the lock: they forget the condition. */
    struct vow__wline *lines[2] = {&c->lock->s.wait, &c->lock->s.resv};
    for (int i = 0; i < 2; i++)
        for (struct vow__waiter *w = lines[i]->head; w != NULL; w = w->next)
            if (((struct waiter *)w)->cond == c) ((struct waiter *)w)->cond = NULL;
    vow_lock_t *lock = c->own_lock ? c->lock : NULL;
    sync_free(&c->s);
    vow_lock_free(lock);
}

vow_lock_t *vow_cond_lock(const vow_cond_t *c) { return c != NULL ? c->lock : NULL; }

vow_t *vow_cond_wait(vow_cond_t *c, const void *owner) {
    if (c == NULL || sync_check(&c->s) != 0) return NULL;
    if (!lock_held(c->lock, owner))
        return vow_rejected(c->s.loop, vow_error_new(VOW_EPERM, "the lock is not held"));
    vow_t *p = waiter_new(&c->s, owner);
    if (p != NULL) grant(&c->lock->s); /* releases the lock */
    return p;
}

int vow_cond_notify(vow_cond_t *c, const void *owner, size_t n) {
    int rc = sync_check(c != NULL ? &c->s : NULL);
    if (rc != 0) return rc;
    if (!lock_held(c->lock, owner)) return VOW_EPERM;
    cond_pass(c, n);
    return 0;
}

int vow_cond_notify_all(vow_cond_t *c, const void *owner) {
    return vow_cond_notify(c, owner, SIZE_MAX);
}

/* wait_for: a wait, then the predicate; again while it does not hold. */
struct wait_for {
    vow_cond_t *c;
    const void *owner;
    vow_cond_pred_fn pred;
    void *ctx;
    void (*ctx_free)(void *);
};

static void wait_for_free(void *arg) {
    struct wait_for *wf = arg;
    if (wf->ctx_free != NULL) wf->ctx_free(wf->ctx);
    vow__free(wf);
}

static vow_result_t wait_for_woke(vow_loop_t *loop, const vow_value_t *v, void *arg) {
    (void)loop, (void)v;
    struct wait_for *wf = arg;
    int r = wf->pred(wf->ctx);
    if (r != 0) return vow_ok_int(r);
    /* The next round owns the record now; this reaction's ctx_free must not free it. */
    struct wait_for *next = vow__malloc(sizeof *next);
    if (next == NULL) return vow_fail_code(VOW_ENOMEM, NULL);
    *next = *wf;
    wf->ctx_free = NULL;
    vow_t *w = vow_cond_wait(wf->c, wf->owner);
    vow_t *d = vow_then(w, wait_for_woke, NULL, next, wait_for_free);
    return d != NULL ? vow_follow(d) : vow_fail_code(VOW_ENOMEM, NULL);
}

vow_t *vow_cond_wait_for(vow_cond_t *c, const void *owner, vow_cond_pred_fn pred, void *ctx,
                         void (*ctx_free)(void *)) {
    vow_t *p = NULL;
    if (c == NULL || sync_check(&c->s) != 0) goto out;
    if (pred == NULL) {
        p = vow_rejected(c->s.loop, vow_error_new(VOW_EINVAL, "no predicate"));
        goto out;
    }
    if (!lock_held(c->lock, owner)) {
        p = vow_rejected(c->s.loop, vow_error_new(VOW_EPERM, "the lock is not held"));
        goto out;
    }
    int r = pred(ctx);
    if (r != 0) {
        p = vow_resolved(c->s.loop, vow_int(r));
        goto out;
    }
    struct wait_for *wf = vow__malloc(sizeof *wf);
    if (wf == NULL) goto out;
    *wf = (struct wait_for){c, owner, pred, ctx, ctx_free};
    return vow_then(vow_cond_wait(c, owner), wait_for_woke, NULL, wf, wait_for_free);
out:
    if (ctx_free != NULL) ctx_free(ctx);
    return p;
}

_Static_assert(sizeof(struct waiter) <= VOW__WAITER_SLOT, "a sync waiter fits a pool slot");
