/* promise/combinators.c - all, allSettled, race, any (ECMAScript 27.2.4) and timeout
 * (asyncio.wait_for, Python 3.11).
 *
 * Each input subscribes with one reaction record (kind COMBINE) whose derived promise is
 * the result; the shared state lives in the result (vow__combine). As in ECMAScript, the
 * result settles inside the job of the input reaction that decides it, so the job counts
 * are JavaScript's. The records live in the result's state, 32 bytes each (the head of a
 * record: VOW__COMBINE_REC_SIZE); a record still waiting in its input's list has an owner
 * (vow__combine_rec), which is how cancelling the result reaches its inputs (under the
 * upstream rule) and how VOW_CANCEL_LOSERS finds the losers.
 */
#include <string.h>

#include "internal.h"

/* ---- the list value --------------------------------------------------------------------- */

/* An item is one vow_value_t (24 bytes, not a 40-byte vow_outcome_t): a fulfilled input's
 * value as it is; a rejected input's error (owned) in u.p under the internal kind
 * ITEM_REJECTED; an input not settled yet under ITEM_PENDING. Only the accessors below
 * read items, and vow_list_value hands out fulfilled ones only, so the internal kinds
 * never reach a user. */
enum { ITEM_PENDING = 0x7ffffff0, ITEM_REJECTED };

struct vow_list {
    size_t n;
    vow_value_t items[];
};

static void list_free(void *p) {
    struct vow_list *l = p;
    for (size_t i = 0; i < l->n; i++) {
        if (l->items[i].kind == ITEM_REJECTED)
            vow_error_unref(l->items[i].u.p);
        else if (l->items[i].kind != ITEM_PENDING)
            vow_value_release(&l->items[i]);
    }
    vow__free(l);
}

static struct vow_list *list_new(size_t n) {
    if (n > (SIZE_MAX - sizeof(struct vow_list)) / sizeof(vow_value_t)) return NULL;
    struct vow_list *l = vow__malloc(sizeof *l + n * sizeof(vow_value_t));
    if (l == NULL) return NULL;
    l->n = n;
    for (size_t i = 0; i < n; i++) l->items[i] = (vow_value_t){.kind = ITEM_PENDING};
    return l;
}

static vow_value_t item_rejected(vow_error_t *err) {
    return (vow_value_t){.kind = ITEM_REJECTED, .u.p = err};
}

const vow_list_t *vow_list_of(const vow_value_t *v) {
    if (v == NULL || v->kind != VOW_VAL_PTR || !v->boxed || v->own.box->dtor != list_free)
        return NULL;
    return v->u.p;
}

size_t vow_list_len(const vow_list_t *l) { return l != NULL ? l->n : 0; }

vow_state_t vow_list_state(const vow_list_t *l, size_t i) {
    if (l == NULL || i >= l->n || l->items[i].kind == ITEM_PENDING) return VOW_PENDING;
    return l->items[i].kind == ITEM_REJECTED ? VOW_REJECTED : VOW_FULFILLED;
}

const vow_value_t *vow_list_value(const vow_list_t *l, size_t i) {
    return vow_list_state(l, i) == VOW_FULFILLED ? &l->items[i] : NULL;
}

vow_error_t *vow_list_error(const vow_list_t *l, size_t i) {
    return vow_list_state(l, i) == VOW_REJECTED ? l->items[i].u.p : NULL;
}

/* ---- the shared state ------------------------------------------------------------------- */

void vow__combine_free(struct vow__combine *c) {
    if (c->list != NULL) list_free(c->list);
    if (c->errs != NULL) {
        for (size_t i = 0; i < c->n; i++) vow_error_unref(c->errs[i]); /* in c's allocation */
    }
    vow__task_combine_free(c);
    vow__free(c->recs); /* wait and task groups only; errs and block live inside c */
    vow__free(c);
}

#define ROUND16(n) (((n) + 15u) & ~(size_t)15u)

/* all / allSettled / race / any: the state, any's rejections and the inputs' records in
 * one allocation (zeroed but for the records). No array of record pointers: see
 * vow__combine_rec. */
static struct vow__combine *combine_state_new(int kind, size_t n) {
    size_t errs_at = ROUND16(sizeof(struct vow__combine));
    size_t per = VOW__COMBINE_REC_SIZE + (kind == VOW__C_ANY ? sizeof(vow_error_t *) : 0);
    if (n > (SIZE_MAX / 2 - errs_at) / per) return NULL;
    size_t block_at = errs_at + (kind == VOW__C_ANY ? ROUND16(n * sizeof(vow_error_t *)) : 0);
    char *b = vow__malloc(block_at + n * VOW__COMBINE_REC_SIZE);
    if (b == NULL) return NULL;
    memset(b, 0, block_at);
    struct vow__combine *c = (struct vow__combine *)b;
    if (n > 0) {
        /* The inputs' records, freed with the result: each record holds a reference to
         * the result, so the block outlives every record. */
        c->block = b + block_at;
        if (kind == VOW__C_ANY) c->errs = (vow_error_t **)(b + errs_at);
    }
    return c;
}

vow_value_t vow__list_value(vow_outcome_t *outs, size_t n, int *oom) {
    struct vow_list *l = list_new(n);
    *oom = l == NULL;
    if (l == NULL) {
        for (size_t i = 0; i < n; i++) vow_outcome_release(&outs[i]);
        vow__free(outs);
        return vow_none();
    }
    for (size_t i = 0; i < n; i++) { /* moved in */
        if (outs[i].state == VOW_FULFILLED)
            l->items[i] = outs[i].value;
        else if (outs[i].state == VOW_REJECTED)
            l->items[i] = item_rejected(outs[i].error);
    }
    vow__free(outs);
    return vow_ptr(l, list_free);
}

static void release_inputs(vow_t *const *inputs, size_t n) {
    for (size_t i = 0; i < n; i++) vow__unref(inputs[i]);
}

/* A promise fulfilled with the list (moved in). */
static void fulfil_with_list(vow_t *d, struct vow__combine *c) {
    struct vow_list *l = c->list;
    c->list = NULL;
    vow__fulfill(d, vow_ptr(l, list_free));
}

static void cancel_losers(vow_t *d) {
    struct vow__combine *c = d->combine;
    for (size_t i = 0; i < c->n; i++) {
        vow__reaction *r = vow__combine_rec(c, i);
        if (r != NULL) vow__drop_waiter(r);
    }
}

static vow_t *combine(vow_loop_t *loop, int kind, unsigned flags, vow_t *const *inputs,
                      size_t n) {
    if (loop == NULL || loop->closed || (n > 0 && inputs == NULL)) {
        if (inputs != NULL) release_inputs(inputs, n);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        if (inputs[i] == NULL || inputs[i]->loop != loop ||
            (inputs[i]->flags & VOW__F_CLOSED)) {
            /* An input that ran out of memory (NULL), or belongs elsewhere. */
            int null_input = inputs[i] == NULL;
            release_inputs(inputs, n);
            return null_input ? NULL
                              : vow_rejected(loop, vow_error_new(VOW_EINVAL,
                                                                 "input of another loop"));
        }
    if (n > UINT32_MAX) {
        release_inputs(inputs, n);
        return vow_rejected(loop, vow_error_new(VOW_ERANGE, "too many inputs"));
    }
    if (flags & ~VOW_CANCEL_LOSERS) {
        release_inputs(inputs, n);
        return vow_rejected(loop, vow_error_new(VOW_EINVAL, "unknown flags"));
    }
    vow_t *d = vow__promise_new(loop, 0);
    struct vow__combine *c = d != NULL ? combine_state_new(kind, n) : NULL;
    if (c != NULL) {
        c->kind = kind;
        c->flags = flags;
        c->n = c->remaining = n;
        d->combine = c;
        d->flags |= VOW__F_COMBINE;
        if (kind == VOW__C_ALL || kind == VOW__C_ALL_SETTLED) c->list = list_new(n);
    }
    int ok = c != NULL &&
             (c->list != NULL || (kind != VOW__C_ALL && kind != VOW__C_ALL_SETTLED));
    /* Everything allocated first, so that running out of memory leaves no input subscribed. */
    if (!ok) {
        vow__unref(d);
        release_inputs(inputs, n);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        vow__reaction *r = (vow__reaction *)(c->block + i * VOW__COMBINE_REC_SIZE);
        memset(r, 0, VOW__COMBINE_REC_SIZE); /* the head only: see VOW__COMBINE_REC_SIZE */
        r->kind = VOW__R_COMBINE;
        r->derived = vow__ref(d); /* each record holds the result */
        r->rflags = VOW__RF_EMBEDDED;
        r->index = (uint32_t)i;
        vow__perform_then(inputs[i], r);
        vow__unref(inputs[i]);
    }
    if (n == 0) {
        if (kind == VOW__C_ALL || kind == VOW__C_ALL_SETTLED)
            fulfil_with_list(d, c);
        else if (kind == VOW__C_ANY)
            vow__reject(d, vow_error_aggregate(NULL, NULL, 0));
        /* race([]) stays pending forever, holding nothing. */
    }
    return d;
}

void vow__combine_job(vow_loop_t *loop, vow__reaction *r, vow_t *src) {
    vow_t *d = r->derived;
    struct vow__combine *c = d->combine;
    size_t i = r->index;
    if (d->state == VOW_PENDING && (c->kind == VOW__C_WAIT || c->kind == VOW__C_GROUP)) {
        vow__task_combine_job(loop, r, src);
    } else if (d->state == VOW_PENDING) {
        int fulfilled = src->state == VOW_FULFILLED;
        switch (c->kind) {
        case VOW__C_ALL:
            if (!fulfilled) {
                vow__reject(d, vow_error_ref(src->error));
                break;
            }
            c->list->items[i] = vow_value_share(&src->value);
            if (--c->remaining == 0) fulfil_with_list(d, c);
            break;
        case VOW__C_ALL_SETTLED:
            c->list->items[i] = fulfilled ? vow_value_share(&src->value)
                                          : item_rejected(vow_error_ref(src->error));
            if (--c->remaining == 0) fulfil_with_list(d, c);
            break;
        case VOW__C_RACE:
            vow__settle_like(d, src);
            if (c->flags & VOW_CANCEL_LOSERS) cancel_losers(d);
            break;
        case VOW__C_ANY:
            if (fulfilled) {
                vow__settle_like(d, src);
                if (c->flags & VOW_CANCEL_LOSERS) cancel_losers(d);
                break;
            }
            c->errs[i] = vow_error_ref(src->error);
            if (--c->remaining == 0) {
                vow_error_t **errs = c->errs;
                c->errs = NULL;
                vow__reject(d, vow_error_aggregate(NULL, errs, c->n)); /* errs: in c */
            }
            break;
        }
    }
    if (r->rflags & VOW__RF_EMBEDDED) {
        /* An input record of all/allSettled/race/any, its job done: queueing it detached it
         * and its link went to this job, so what is left is its reference to d (the record
         * lives in d's state and goes with it). */
        vow__unref(d);
        return;
    }
    vow__reaction_free(loop, r);
}

vow_t *vow_all(vow_loop_t *loop, vow_t *const *inputs, size_t n) {
    return combine(loop, VOW__C_ALL, 0, inputs, n);
}

vow_t *vow_all_settled(vow_loop_t *loop, vow_t *const *inputs, size_t n) {
    return combine(loop, VOW__C_ALL_SETTLED, 0, inputs, n);
}

vow_t *vow_race(vow_loop_t *loop, vow_t *const *inputs, size_t n, unsigned flags) {
    return combine(loop, VOW__C_RACE, flags, inputs, n);
}

vow_t *vow_any(vow_loop_t *loop, vow_t *const *inputs, size_t n, unsigned flags) {
    return combine(loop, VOW__C_ANY, flags, inputs, n);
}

/* ---- timeout: asyncio.wait_for ---------------------------------------------------------- */

static void timeout_fire(vow_loop_t *loop, void *arg) {
    (void)loop;
    vow_t *t = arg;
    t->timer = 0; /* fired: nothing to stop any more */
    if (t->state != VOW_PENDING || t->waiting == NULL)
        return; /* the inner settled and its job is queued: t settles like it */
    vow__reaction *r = t->waiting;
    vow_t *inner = vow__r_owner(r);
    if ((t->flags & VOW__F_RACE_TIMEOUT) || vow__has_live_waiter(inner, r)) {
        /* JavaScript's race, or someone else still wants the inner: leave it running. */
        vow__ref(t);
        vow__unlink_waiter(r);
        vow__reaction_free(loop, r);
        if (t->state == VOW_PENDING)
            vow__reject(t, vow_error_new(VOW_ETIMEDOUT, NULL));
        vow__unref(t);
        return;
    }
    /* wait_for: cancel the inner; t settles when the inner's reaction runs. */
    t->flags |= VOW__F_TIMED_OUT;
    vow__cancel(inner);
}

void vow__timeout_job(vow_loop_t *loop, vow__reaction *r, vow_t *src) {
    vow_t *t = r->derived;
    if (t->state == VOW_PENDING) {
        if ((t->flags & VOW__F_TIMED_OUT) && src->state == VOW_REJECTED &&
            vow_is_cancellation(src->error))
            vow__reject(t, vow_error_wrap(VOW_ETIMEDOUT, NULL, vow_error_ref(src->error)));
        else
            vow__settle_like(t, src);
    }
    vow__reaction_free(loop, r);
}

vow_t *vow_timeout(vow_t *p, uint64_t ms, unsigned flags) {
    if (p == NULL) return NULL;
    vow_loop_t *loop = p->loop;
    if (p->flags & VOW__F_CLOSED) {
        vow__unref(p);
        return NULL;
    }
    if (flags & ~VOW_TIMEOUT_RACE) {
        vow__unref(p);
        return vow_rejected(loop, vow_error_new(VOW_EINVAL, "unknown flags"));
    }
    vow_t *t = vow__promise_new(loop, 0);
    vow__reaction *r = t != NULL ? vow__reaction_new(loop, VOW__R_TIMEOUT, t) : NULL;
    if (r == NULL) {
        vow__unref(t);
        vow__unref(p);
        return NULL;
    }
    vow__ref(t); /* r holds one; the caller gets the other */
    /* wait_for holds its inner, as Python's does: a promise only the timeout references
     * can still be cancelled (and its cancel callback run) when the timer fires. The
     * cycle inner -> record -> inner ends when the inner settles or the record is dropped. */
    r->follow = vow__ref(p);
    if (flags & VOW_TIMEOUT_RACE) t->flags |= VOW__F_RACE_TIMEOUT;
    if (p->state == VOW_PENDING) {
        vow__ref(t); /* the timer's */
        if (vow__timer_start(loop, VOW__T_TIMEOUT, ms, timeout_fire, t, VOW__TR_UNREF,
                             &t->timer) != 0) {
            vow__unref(t);
            vow__reaction_free(loop, r);
            vow__unref(p);
            vow__reject(t, vow_error_new(VOW_ENOMEM, NULL));
            return t;
        }
    }
    vow__perform_then(p, r);
    vow__unref(p);
    return t;
}
