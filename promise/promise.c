/* promise/promise.c - the Promise object: allocation and the deferred free, references,
 * the state machine (settling), the public constructors and settlers, the inspectors.
 *
 * Memory: promises come from the loop's pool (then nodes: then.c), and a promise's fields
 * by state share one union (the reaction list while pending, the value or the error once
 * settled). Freeing is deferred through a stack, so dropping the head of a 1,000,000-long
 * pending chain uses constant C stack.
 */
#include <string.h>

#include "internal.h"
#include "plant.h"

/* ---- allocation and the deferred free ---------------------------------------------------- */

static VOW__TLS vow_t *free_stack;
static VOW__TLS int freeing;

vow_t *vow__promise_new(vow_loop_t *loop, unsigned flags) {
    vow_t *p = vow__pool_alloc(&loop->pools[VOW__POOL_PROMISE]);
    return p != NULL ? vow__promise_init(p, loop, flags) : NULL;
}

void vow__drop_reactions(vow_t *p) {
    /* One record at a time, unlinked before it is freed: a context destructor run by the
     * free may cancel another waiter of p, which then leaves a list that is still whole. */
    while (p->state == VOW_PENDING && p->r_head != NULL) vow__rec_free(p->loop, p->r_head);
}

void vow__release_holdings(vow_t *p) {
    if (p->state == VOW_FULFILLED) vow_value_release(&p->value);
    if (p->state == VOW_REJECTED) vow_error_unref(p->error);
    p->r_head = p->r_tail = p->waiting = NULL; /* pending again, with an empty list */
    p->state = VOW_PENDING;
    if (VOW__COMBINE(p) != NULL) {
        struct vow__combine *c = p->combine;
        p->combine = NULL;
        p->flags &= (uint16_t)~VOW__F_COMBINE;
        c->ops->free(c);
    }
    vow__cancel_cb_release(p);
}

static void promise_destroy(vow_t *p) {
    vow__drop_reactions(p);
    vow__release_holdings(p);
    vow__promise_free_slot(p);
}

vow_t *vow_ref(vow_t *p) { return vow__ref(p); }

void vow_unref(vow_t *p) { vow__unref(p); }

/* The last reference went: p is freed, after whatever its destruction frees in turn
 * (iteratively: a chain of a million promises unwinds in a loop, not in recursion). */
static void release_deferred(vow_t *p);

/* Releasing v runs no user code: a plain value, a pointer without a destructor, a shared
 * box that is not the last reference, or a box whose destructor is vow's own and inert. */
static inline int value_inert(const vow_value_t *v) {
    if (v->kind != VOW_VAL_PTR) return 1;
    if (!v->boxed) return v->own.dtor == NULL;
    return v->own.box->refcnt > 1 || v->own.box->inert;
}

void vow__promise_release(vow_t *p) {
    if (!freeing && p->state == VOW_FULFILLED && p->value.kind != VOW_VAL_PTR &&
        !(p->flags & (VOW__F_COMBINE | VOW__F_SETTLEABLE))) {
        /* A settled promise holding a plain value and nothing else (a vow_resolved, an
         * awaited result, a then's derived promise whose reaction returned a plain value:
         * its record, in the same node, let go of it when its job ran): nothing to destroy
         * but the slot, no destructor to run, so no need for the deferred-free stack. */
        vow__promise_free_slot(p);
        return;
    }
    release_deferred(p); /* a jump: the short cut above saves no register */
}

/* The iterative release: p goes on the deferred-free stack, and the outermost call frees
 * what is on it, so a chain of promises dropping each other never recurses. */
static __attribute__((noinline)) void release_deferred(vow_t *p) {
    if (!freeing && p->state == VOW_FULFILLED && !(p->flags & VOW__F_COMBINE) &&
        VOW__CANCEL_CB(p) == NULL && value_inert(&p->value)) {
        /* The short cut's wider case: a value whose release runs no user code (a socket
         * read's bytes, a shared box), a settleable promise (a settlement released its
         * cancel callback): nothing that could drop another promise from inside. */
        vow__value_release(&p->value);
        vow__promise_free_slot(p);
        return;
    }
    p->flags |= VOW__F_DYING; /* a teardown run from a destructor must not touch it */
    VOW__STACK_PUSH(free_stack, p, free_next);
    if (freeing) return;
    freeing = 1;
    vow_t *q;
    for (;;) {
        VOW__STACK_POP(free_stack, q, free_next);
        if (q == NULL) break;
        promise_destroy(q);
    }
    freeing = 0;
}

/* ---- settling ---------------------------------------------------------------------------- */

/* What every settlement does besides the state change: the source's timer stops and is
 * freed, the cancel callback's context goes. */
static void settled_cleanup(vow_t *p) {
    vow_timer_t *slot = vow__timer_slot(p);
    if (slot != NULL && *slot != 0) {
        vow_timer_t id = *slot;
        *slot = 0;
        vow__timer_clear(p->loop, id, -1); /* its release drops the timer's reference */
    }
    vow__cancel_cb_release(p);
}

/* settled_cleanup can drop a reference to p (a timer's release, a cancel context's
 * destructor): hold p across the settlement then, and only then (the hot path of a
 * `then` step has neither). */
static int needs_guard(vow_t *p) {
    vow_timer_t *slot = vow__timer_slot(p);
    return (slot != NULL && *slot != 0) || VOW__CANCEL_CB(p) != NULL;
}

void vow__fulfill_move(vow_t *p, vow_value_t *v) {
    vow__assert(p->state == VOW_PENDING, "settling a settled promise");
    if (vow__value_store(v) != 0) {
        vow__reject(p, vow_error_new(VOW_ENOMEM, NULL));
        return;
    }
    int guard = needs_guard(p);
    if (guard) vow__ref(p);
    vow__rec *reactions = vow__set_fulfilled(p, v);
    settled_cleanup(p);
    vow__trigger(p, reactions);
    if (guard) vow__unref(p);
}

void vow__fulfill(vow_t *p, vow_value_t v) { vow__fulfill_move(p, &v); }

void vow__reject(vow_t *p, vow_error_t *err) {
    vow__assert(p->state == VOW_PENDING, "settling a settled promise");
    int guard = needs_guard(p);
    if (guard) vow__ref(p);
    vow__rec *reactions = p->r_head; /* the error takes the list's place */
    p->flags |= VOW__F_RESOLVED;
    p->state = VOW_REJECTED;
    p->error = err;
    settled_cleanup(p);
    vow__tracker_reject(p);
    vow__trigger(p, reactions);
    if (guard) vow__unref(p);
}

void vow__settle_like(vow_t *d, vow_t *src) {
    if (d->state != VOW_PENDING) return;
    if (src->state == VOW_FULFILLED) {
        vow_value_t v = vow_value_share(&src->value);
        vow__fulfill_move(d, &v);
    } else {
        vow__reject(d, vow_error_ref(src->error));
    }
}

/* ---- the public constructors and settlers ------------------------------------------------ */

vow_t *vow_new(vow_loop_t *loop) {
    if (loop == NULL || loop->closed) return NULL;
    return vow__promise_new(loop, VOW__F_SETTLEABLE);
}

vow_t *vow_resolved(vow_loop_t *loop, vow_value_t v) {
    vow_t *p = loop != NULL && !loop->closed ? vow__promise_new(loop, 0) : NULL;
    if (p == NULL) {
        vow_value_release(&v);
        return NULL;
    }
    if (v.kind != VOW_VAL_PTR) {
        /* A new promise has no reaction, timer or cancel callback: a plain value is all
         * there is to store (vow__fulfill_move's work, less what cannot apply). */
        vow__fulfil_new_plain(p, v);
        return p;
    }
    if (vow__value_store(&v) != 0) { /* out of memory: NULL (the destructor has run) */
        vow__unref(p);
        return NULL;
    }
    vow__fulfill_move(p, &v);
    return p;
}

vow_t *vow_rejected(vow_loop_t *loop, vow_error_t *err) {
    vow_t *p = loop != NULL && !loop->closed ? vow__promise_new(loop, 0) : NULL;
    if (p == NULL) {
        vow_error_unref(err);
        return NULL;
    }
    vow__reject(p, err != NULL ? err : vow_error_new(VOW_ETYPE, "rejected with no error"));
    return p;
}

static int settle_check(const vow_t *p) {
    if (p == NULL) return VOW_EINVAL;
    if (vow__closed(p)) return VOW_ECLOSED;
    if (!(p->flags & VOW__F_SETTLEABLE) || (p->flags & VOW__F_SYNC)) return VOW_EPERM;
    if (p->flags & VOW__F_RESOLVED) return VOW_ESETTLED;
    return 0;
}

int vow_resolve_with(vow_t *p, vow_result_t result) {
    /* A kind vow_result_t cannot have (memory never initialised): nothing in it can be
     * named, so nothing is released, and p is not touched. */
    if (!vow__result_kind_ok(result.kind)) return VOW_EINVAL;
    int rc = settle_check(p);
    if (rc != 0) {
        vow__result_release(&result);
        return rc;
    }
    vow__resolve_with(p, &result, NULL);
    return 0;
}

int vow_resolve(vow_t *p, vow_value_t v) {
    int rc = settle_check(p);
    if (rc != 0) {
        vow_value_release(&v);
        return rc;
    }
    vow__fulfill_move(p, &v); /* what resolve_with does with a value, without the copies */
    return 0;
}

int vow_reject(vow_t *p, vow_error_t *err) { return vow_resolve_with(p, vow_fail(err)); }

/* ---- inspectors ---------------------------------------------------------------------------- */

vow_state_t vow_state(const vow_t *p) { return p != NULL ? (vow_state_t)p->state : VOW_PENDING; }

const vow_value_t *vow_value(const vow_t *p) {
    return p != NULL && p->state == VOW_FULFILLED && !vow__closed(p) ? &p->value : NULL;
}

vow_error_t *vow_error(const vow_t *p) {
    return p != NULL && p->state == VOW_REJECTED && !vow__closed(p) ? p->error : NULL;
}

vow_loop_t *vow_loop_of(const vow_t *p) { return p != NULL && !vow__closed(p) ? p->loop : NULL; }
