/* promise/timeout.c - vow_timeout: asyncio.wait_for (Python 3.11), and with
 * VOW_TIMEOUT_RACE JavaScript's Promise.race with a timer.
 *
 * One reaction record (kind TIMEOUT) on the inner and one timer. On expiry wait_for
 * cancels the inner (under the upstream rule) and settles once the inner has, with the
 * timed-out error caused by the cancellation (or the inner's value if it fulfilled
 * anyway); when someone else still waits on the inner, or in the race form, the timeout
 * rejects at once and leaves the inner running.
 */
#include "internal.h"

static void timeout_fire(vow_loop_t *loop, void *arg) {
    (void)loop;
    vow_t *t = arg;
    t->timer = 0; /* fired: nothing to stop any more */
    if (t->state != VOW_PENDING || t->waiting == NULL)
        return; /* the inner settled and its job is queued: t settles like it */
    vow__rec *r = t->waiting;
    vow_t *inner = r->owner; /* r waits in the inner's list */
    if ((t->flags & VOW__F_RACE_TIMEOUT) || vow__has_live_waiter(inner, r)) {
        /* JavaScript's race, or someone else still wants the inner: leave it running. */
        vow__ref(t);
        vow__rec_free(loop, r); /* unlinks it */
        if (t->state == VOW_PENDING) vow__reject(t, vow_error_new(VOW_ETIMEDOUT, NULL));
        vow__unref(t);
        return;
    }
    /* wait_for: cancel the inner; t settles when the inner's reaction runs. */
    t->flags |= VOW__F_TIMED_OUT;
    vow__cancel(inner);
}

void vow__timeout_job(vow_loop_t *loop, vow__reaction *r, vow_t *src) {
    vow_t *t = r->rec.derived;
    if (t->state == VOW_PENDING) {
        if ((t->flags & VOW__F_TIMED_OUT) && src->state == VOW_REJECTED &&
            vow_is_cancellation(src->error))
            vow__reject(t, vow_error_wrap(VOW_ETIMEDOUT, NULL, vow_error_ref(src->error)));
        else
            vow__settle_like(t, src);
    }
    vow__rec_free(loop, &r->rec);
}

/* The misuse rule (vow/promise.h, MISUSE): NULL for p NULL, p of a closed loop, out of
 * memory; unknown flags are a promise rejected with VOW_EINVAL. p is consumed on every path. */
vow_t *vow_timeout(vow_t *p, uint64_t ms, unsigned flags) {
    if (p == NULL) return NULL;
    vow_loop_t *loop = p->loop;
    if (vow__closed(p)) {
        vow__unref(p);
        return NULL;
    }
    if (flags & ~VOW_TIMEOUT_RACE) { /* misuse: a rejection (promise.h) */
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
        if (vow__timer_start(loop, VOW__T_TIMEOUT, ms, timeout_fire, t, VOW__REL_UNREF,
                             &t->timer) != 0) {
            /* Out of memory: no promise (vow/promise.h, MISUSE), nothing subscribed. */
            vow__unref(t);                /* the timer's */
            vow__rec_free(loop, &r->rec); /* drops r's references to t and to p */
            vow__unref(p);
            vow__unref(t); /* the caller's: t is freed */
            return NULL;
        }
    }
    vow__perform_then(p, &r->rec);
    vow__unref(p);
    return t;
}
