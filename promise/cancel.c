/* promise/cancel.c - cancellation (asyncio's model; JavaScript has none): vow_cancel, the
 * upstream rule, and vow_on_cancel.
 *
 * Cancelling a pending promise rejects it with the cancelled error and tells its source.
 * Upstream: cancelling d cancels what d waits on (the promise it follows, a combinator's
 * inputs: each kind's own rule, through its operations) only when no other live reaction
 * waits on that promise. The promises to cancel go through a FIFO worklist, so a chain
 * of any length is cancelled in a loop, not in recursion.
 */
#include "internal.h"

int vow_is_cancellation(const vow_error_t *err) {
    return err != NULL && vow_error_code(err) == VOW_ECANCELED;
}

void vow__cancel_cb_release(vow_t *p) {
    struct vow__cancel_cb *c = VOW__CANCEL_CB(p);
    if (c == NULL) return;
    p->cancel = NULL;
    int embedded = c->embedded; /* then ctx_free frees c with its record */
    if (c->ctx_free != NULL) c->ctx_free(c->ctx);
    if (!embedded) vow__free(c);
}

void vow__work_push(vow__worklist *work, vow_t *u) {
    /* Reached twice: cancelled once. Being destroyed (a destructor run by its destruction
     * got here): nothing to cancel, and a reference would bring it back. */
    if (u->flags & (VOW__F_CANCEL_QUEUED | VOW__F_DYING)) return;
    u->flags |= VOW__F_CANCEL_QUEUED;
    vow__ref(u);
    VOW__FIFO_PUSH(&work->q, u, cancel_next);
}

void vow__drop_wait(vow__rec *r, vow__worklist *work) {
    vow_t *u;
    if (r->kind == VOW__R_THENABLE_JOB && r->state == VOW__RS_QUEUED) {
        /* Queued, not yet subscribed: the job will only release what it holds. */
        u = ((vow__reaction *)r)->follow;
        vow__detach(r); /* its promise no longer waits on it */
        r->kind = VOW__R_DEAD;
        if (u->state == VOW_PENDING && !vow__has_live_waiter(u, NULL)) vow__work_push(work, u);
        return;
    }
    if (r->state != VOW__RS_WAITING) return;
    u = r->owner;
    if (r->kind == VOW__R_FINALLY) {
        /* finally always runs: its record stays, to run when the source settles (at once,
         * if the source is cancelled now); its result is then discarded. */
        if (u->state == VOW_PENDING && !vow__has_live_waiter(u, r)) vow__work_push(work, u);
        return;
    }
    if (u->flags & VOW__F_DYING) { /* u is being destroyed: its list goes anyway */
        vow__rec_free(u->loop, r);
        return;
    }
    vow__ref(u);
    vow__rec_free(u->loop, r); /* unlinks it */
    if (u->state == VOW_PENDING && !vow__has_live_waiter(u, NULL)) vow__work_push(work, u);
    vow__unref(u);
}

static void run_cancellations(vow__worklist *work) {
    vow_t *p;
    for (;;) {
        VOW__FIFO_POP(&work->q, p, cancel_next);
        if (p == NULL) return;
        p->flags &= (uint16_t)~VOW__F_CANCEL_QUEUED;
        if (p->state == VOW_PENDING && !vow__closed(p)) {
            struct vow__combine *pc = VOW__COMBINE(p);
            struct vow__cancel_cb *cb = VOW__CANCEL_CB(p);
            if (pc != NULL)
                pc->ops->cancel(p, work); /* the kind's rule for its inputs */
            else if (p->waiting != NULL)
                vow__drop_wait(p->waiting, work);
            int declined = 0;
            if (cb != NULL) { /* vow_on_cancel refuses fn NULL; detached below, runs once */
                uint16_t resolved = p->flags & VOW__F_RESOLVED;
                /* Detached while it runs: a callback that settles p itself must not see its
                 * own ctx freed under it (settling releases the cancel record). Its
                 * ctx_free runs below, once p is cancelled or declined. */
                p->cancel = NULL;
                cb->fn(p->loop, cb->ctx);
                if ((p->flags & VOW__F_DEFER_CANCEL) && p->state == VOW_PENDING &&
                    !vow__closed(p)) {
                    /* A coroutine's: the callback took the request, the promise settles
                     * when the coroutine returns; the callback stays for the next one. */
                    if (p->cancel == NULL) p->cancel = cb;
                    vow__unref(p);
                    continue;
                }
                /* The callback resolved p itself (settled it, or locked it onto another
                 * promise or a thenable): its outcome stands, as an asyncio future that
                 * completes first cannot be cancelled. */
                declined = p->state == VOW_PENDING && !resolved && (p->flags & VOW__F_RESOLVED);
            }
            if (p->state == VOW_PENDING && !declined && !vow__closed(p))
                vow__reject(p, vow_error_new(VOW_ECANCELED, NULL));
            if (cb != NULL) { /* the callback ran: its record is ours now */
                int embedded = cb->embedded;
                if (cb->ctx_free != NULL) cb->ctx_free(cb->ctx);
                if (!embedded) vow__free(cb);
            }
        }
        vow__unref(p);
    }
}

void vow__cancel(vow_t *p) {
    vow__worklist work = {{NULL, NULL}};
    vow__work_push(&work, p);
    run_cancellations(&work);
}

void vow__drop_waiter(vow__rec *r) {
    vow__worklist work = {{NULL, NULL}};
    vow__drop_wait(r, &work);
    run_cancellations(&work);
}

int vow_cancel(vow_t *p) {
    if (p == NULL) return VOW_EINVAL;
    if (vow__closed(p)) return VOW_ECLOSED;
    if (p->state != VOW_PENDING) return VOW_ESETTLED;
    /* Already on the worklist of a cancellation running further up the stack (a cancel
     * callback cancelling a sibling): that one will cancel it. */
    if (p->flags & VOW__F_CANCEL_QUEUED) return 0;
    vow__cancel(p);
    /* p is the caller's (borrowed), so it is still here. A callback may have freed the
     * loop; whoever rejected p with a cancellation (the cancel, or its callback), it is
     * cancelled. */
    if (vow__closed(p)) return VOW_ECLOSED;
    if (p->state == VOW_REJECTED && vow_is_cancellation(p->error)) return 0;
    /* A coroutine took the request: it settles when the coroutine returns. */
    if (p->state == VOW_PENDING && (p->flags & VOW__F_DEFER_CANCEL)) return 0;
    return VOW_CANCEL_DECLINED;
}

int vow_on_cancel(vow_t *p, vow_cancel_fn fn, void *ctx, void (*ctx_free)(void *)) {
    int rc = 0;
    if (p == NULL || fn == NULL)
        rc = VOW_EINVAL;
    else if (vow__closed(p))
        rc = VOW_ECLOSED;
    else if (!(p->flags & VOW__F_SETTLEABLE) || (p->flags & VOW__F_SYNC))
        rc = VOW_EPERM;
    else if (p->state != VOW_PENDING)
        rc = VOW_ESETTLED;
    else if (p->cancel != NULL)
        rc = VOW_EBUSY;
    else if ((p->cancel = vow__malloc(sizeof *p->cancel)) == NULL)
        rc = VOW_ENOMEM;
    if (rc != 0) {
        if (ctx_free != NULL) ctx_free(ctx);
        return rc;
    }
    *p->cancel = (struct vow__cancel_cb){.fn = fn, .ctx = ctx, .ctx_free = ctx_free};
    return 0;
}
