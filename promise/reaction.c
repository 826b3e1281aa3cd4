/* promise/reaction.c - reaction records: registering them on a promise (PerformPromiseThen),
 * queueing their jobs when it settles (TriggerPromiseReactions), the resolution procedure
 * they end in (the Promise Resolve Functions, thenable adoption), and the job itself.
 *
 * The job structure is ECMAScript's (27.2): settling a promise queues one job per
 * reaction, in registration order; a reaction that returns a promise queues a
 * NewPromiseResolveThenableJob, which subscribes to that promise, whose reaction job then
 * settles the derived promise (two extra jobs). docs/job-order.md counts every operation.
 *
 * A record queues itself through the vow__job at its head (src/internal.h): queueing
 * never allocates and never fails. A promise's waiting records form a doubly linked list,
 * so a waiter leaves it in O(1) (cancelling n waiters of one promise is O(n)).
 */
#include <string.h>

#include "internal.h"
#include "plant.h"

vow__reaction *vow__reaction_new(vow_loop_t *loop, int kind, vow_t *derived) {
    vow__reaction *r = vow__pool_alloc(&loop->pools[VOW__POOL_REACTION]);
    if (r == NULL) return NULL;
    memset(r, 0, sizeof *r);
    r->rec.kind = (uint8_t)kind;
    r->rec.derived = derived;
    return r;
}

/* Makes r the record its derived promise waits on (combinator inputs: their state knows
 * them). */
static inline void attach(vow__rec *r) {
    vow_t *d = r->derived;
    if (r->kind != VOW__R_COMBINE && d != NULL && d->state == VOW_PENDING) d->waiting = r;
}

void vow__rec_free(vow_loop_t *loop, vow__rec *r) {
    /* A queued record is only ever dropped by its own job (VOW__JOB_DROP), which takes it
     * out of the queue and its source out of it first. */
    vow__assert(r->state != VOW__RS_QUEUED, "freeing a record still in the job queue");
    if (r->state == VOW__RS_WAITING) vow__unlink_waiter(r);
    vow__detach(r);
    vow_t *d = r->derived; /* dropped last: an embedded record lives in d's block */
    r->derived = NULL;
    if (r->kind != VOW__R_COMBINE) {
        vow__reaction *x = (vow__reaction *)r;
        switch (r->kind) {
        case VOW__R_THEN:
        case VOW__R_FINALLY:
            if (x->ctx_free != NULL) x->ctx_free(x->ctx);
            x->ctx_free = NULL;
            break;
        case VOW__R_FOREIGN_JOB: vow__thenable_free(x->thenable); break;
        case VOW__R_THENABLE_JOB:
        case VOW__R_DEAD:
        case VOW__R_TIMEOUT: vow__unref(x->follow); break;
        case VOW__R_FINALLY_VALUE:
            if (r->flags & VOW__RF_CARRY_ERROR)
                vow_error_unref(x->carry_error);
            else
                vow_value_release(&x->carry_value);
            break;
        default: break; /* ADOPT: nothing owned in the union */
        }
    }
    if (!(r->flags & VOW__RF_EMBEDDED)) vow__pool_put(&loop->pools[VOW__POOL_REACTION], r);
    vow__unref(d);
}

/* ---- the reaction list ------------------------------------------------------------------- */

/* PerformPromiseThen: registers a record on p (which stays the caller's). */
void vow__perform_then(vow_t *p, vow__rec *r) {
    if (p->state == VOW_PENDING) {
        r->list.next = NULL;
        r->list.prev = p->r_tail;
        if (p->r_tail != NULL)
            p->r_tail->list.next = r;
        else
            p->r_head = r;
        p->r_tail = r;
        r->owner = p;
        r->state = VOW__RS_WAITING;
        attach(r);
    } else {
        vow__tracker_handle(p);
        vow__queue_from(r, p);
    }
    p->flags |= VOW__F_HANDLED;
}

void vow__unlink_waiter(vow__rec *r) {
    vow__assert(r->state == VOW__RS_WAITING, "unlinking a record that does not wait");
    vow_t *u = r->owner;
    if (r->list.prev != NULL)
        r->list.prev->list.next = r->list.next;
    else
        u->r_head = r->list.next;
    if (r->list.next != NULL)
        r->list.next->list.prev = r->list.prev;
    else
        u->r_tail = r->list.prev;
    r->list.next = r->list.prev = NULL;
    r->owner = NULL;
    r->state = VOW__RS_IDLE;
    vow__detach(r);
}

int vow__has_live_waiter(const vow_t *p, const vow__rec *except) {
    if (p->state != VOW_PENDING) return 0;
    for (const vow__rec *r = p->r_head; r != NULL; r = r->list.next)
        if (r != except && r->derived != NULL && r->derived->state == VOW_PENDING) return 1;
    return 0;
}

/* ---- the resolution procedure ------------------------------------------------------------ */

void vow__resolve_with(vow_t *d, vow_result_t *resp, vow__reaction *r) {
    vow_loop_t *loop = d->loop;
    /* d stays alive throughout: r (freed last, at `done`) or the caller holds it. */
    if (d->state != VOW_PENDING) {
        /* d was cancelled while this reaction was queued: the result is discarded, with
         * its destructors, so nothing handed over is lost. */
        vow__result_release(resp);
        goto done;
    }
    switch (resp->kind) {
    case VOW_RESULT_VALUE: vow__fulfill_move(d, &resp->value); goto done;
    case VOW_RESULT_ERROR: vow__reject(d, resp->error); goto done;
    case VOW_RESULT_FOLLOW:
        if (resp->promise == d) {
            vow__unref(resp->promise);
            vow__reject(d, vow_error_new(VOW_ETYPE, "chaining cycle detected for promise"));
            goto done;
        }
        if (resp->promise->loop != loop || vow__closed(resp->promise)) {
            vow__unref(resp->promise);
            vow__reject(d, vow_error_new(VOW_EINVAL, "cannot follow a promise of another loop"));
            goto done;
        }
        break;
    case VOW_RESULT_THENABLE: break;
    default:
        /* Not a kind vow_result_t has (memory the caller never initialised): nothing in
         * it can be named, so nothing is released. */
        vow__reject(d, vow_error_new(VOW_EINVAL, "result of unknown kind"));
        goto done;
    }
    if (r == NULL) r = vow__reaction_new(loop, VOW__R_THENABLE_JOB, NULL);
    if (r == NULL) {
        vow__result_release(resp);
        vow__reject(d, vow_error_new(VOW_ENOMEM, NULL));
        return;
    }
    /* Reuse the record: whatever it held for its previous step is gone by now (its context
     * destructor has run; the kind set below says which union member counts). */
    if (r->rec.derived != d) {
        vow__assert(!(r->rec.flags & VOW__RF_EMBEDDED),
                    "embedded record reused for another promise");
        vow__unref(r->rec.derived);
        r->rec.derived = vow__ref(d);
    }
    d->flags |= VOW__F_RESOLVED;
    vow__detach(&r->rec);
    if (VOW__PLANT_DIVERGENCE(resp, r)) return;
    if (resp->kind == VOW_RESULT_FOLLOW) {
        r->rec.kind = VOW__R_THENABLE_JOB;
        r->follow = resp->promise;
        d->waiting = &r->rec; /* cancelling d reaches the promise it is about to follow */
    } else {
        r->rec.kind = VOW__R_FOREIGN_JOB;
        r->thenable = resp->thenable;
    }
    r->rec.source = NULL; /* a job with no source promise */
    r->rec.state = VOW__RS_QUEUED;
    r->rec.job.fn = vow__reaction_job;
    vow__job_push(loop, &r->rec.job);
    return;
done:
    if (r != NULL) vow__rec_free(loop, &r->rec);
}

/* ---- the job --------------------------------------------------------------------------- */

/* A then step's derived promise that nobody could ever see settle: the record's reference
 * is its only one (the caller dropped what vow_then returned), no reaction waits on it,
 * nothing (timer, cancel callback, combinator) hangs on it, and the result is a plain
 * value, whose release runs nothing. Fulfilling it and then freeing it, as the record's
 * end would, changes nothing anyone can observe (a fulfilment is never reported). */
static inline int unobserved(const vow__reaction *r, const vow_result_t *res) {
    const vow_t *d = r->rec.derived;
    return d->refcnt == 1 && d->state == VOW_PENDING && d->r_head == NULL &&
           res->kind == VOW_RESULT_VALUE && res->value.kind != VOW_VAL_PTR &&
           (d->flags & (VOW__F_NODE | VOW__F_COMBINE | VOW__F_SETTLEABLE)) == VOW__F_NODE &&
           d->timer == 0;
}

/* The end of a then job: the context goes, the result resolves the derived promise.
 * (Inline in each branch of then_job: a call here cost W1 20 instructions a step.) */
static inline __attribute__((always_inline)) void then_done(vow__reaction *r, vow_result_t *res) {
    if (r->ctx_free != NULL) r->ctx_free(r->ctx);
    r->ctx_free = NULL;
    if (unobserved(r, res)) {
        /* The node (the promise and r, in one slot) goes at once: no settlement, and no
         * record to free apart (then.c: a then step's derived promise is its node's). */
        vow_t *d = r->rec.derived; /* (VOW__F_NODE: r is the record of d's node) */
        r->rec.derived = NULL;
        vow__promise_free_slot(d);
        return;
    }
    vow__resolve_with(r->rec.derived, res, r);
}

static void then_job(vow_loop_t *loop, vow__reaction *r, vow_t *src) {
    VOW__PLANT_DOUBLE_REACTION(loop, r, src);
    /* Each branch has its own result, which the call returns straight into: with one
     * shared variable GCC copied the 40-byte result out of a temporary the callee had just
     * written in pieces, a store-forwarding stall that cost W1 4-8 ns a step. */
    if (src->state == VOW_FULFILLED) {
        if (r->on_ok != NULL) {
            vow_result_t res = r->on_ok(loop, &src->value, r->ctx);
            then_done(r, &res);
        } else {
            vow_result_t res = vow_ok(vow_value_share(&src->value));
            then_done(r, &res);
        }
    } else if (r->on_err != NULL &&
               (!vow_is_cancellation(src->error) || (r->rec.flags & VOW__RF_CATCH_CANCELLED))) {
        vow_result_t res = r->on_err(loop, src->error, r->ctx);
        then_done(r, &res);
    } else {
        vow_result_t res = vow_fail(vow_error_ref(src->error));
        then_done(r, &res);
    }
}

static void finally_value_job(vow__reaction *r, vow_t *src) {
    vow_result_t res;
    if (src->state == VOW_FULFILLED) {
        if (r->rec.flags & VOW__RF_CARRY_ERROR)
            res = vow_fail(r->carry_error);
        else
            res = vow_ok(r->carry_value);
        r->rec.flags &= (uint8_t)~VOW__RF_CARRY_ERROR;
        r->carry_value = vow__none();
    } else {
        res = vow_fail(vow_error_ref(src->error));
    }
    vow__resolve_with(r->rec.derived, &res, r);
}

/* A combinator input's record: the kind decides; then the record is done and drops its
 * reference to the result (the record's memory is the state's: it goes with the result). */
static void combine_job(vow_loop_t *loop, vow__rec *r, vow_t *src) {
    vow_t *d = r->derived;
    if (d->state == VOW_PENDING) d->combine->ops->job(loop, r, src);
    r->derived = NULL;
    vow__unref(d);
}

void vow__reaction_job(vow_loop_t *loop, vow__job *job, int how) {
    vow__rec *r = (vow__rec *)job;
    vow_t *src = r->source; /* this job's reference, dropped at the end */
    r->source = NULL;
    r->state = VOW__RS_IDLE;
    if (how == VOW__JOB_DROP) { /* forced teardown */
        vow__rec_free(loop, r);
        vow__unref(src);
        return;
    }
    switch (r->kind) {
    case VOW__R_THEN: then_job(loop, (vow__reaction *)r, src); break;
    case VOW__R_FINALLY:
        if (((vow__reaction *)r)->on_fin != NULL) {
            vow__finally_job(loop, (vow__reaction *)r, src);
        } else { /* finally(undefined): plain pass-through */
            vow_result_t res = src->state == VOW_FULFILLED ? vow_ok(vow_value_share(&src->value))
                                                           : vow_fail(vow_error_ref(src->error));
            vow__resolve_with(r->derived, &res, (vow__reaction *)r);
        }
        break;
    case VOW__R_FINALLY_VALUE: finally_value_job((vow__reaction *)r, src); break;
    case VOW__R_ADOPT:
        vow__settle_like(r->derived, src);
        vow__rec_free(loop, r);
        break;
    case VOW__R_THENABLE_JOB: {
        vow__reaction *x = (vow__reaction *)r;
        vow_t *q = x->follow;
        x->follow = NULL;
        r->kind = VOW__R_ADOPT;
        vow__perform_then(q, r);
        vow__unref(q);
        break;
    }
    case VOW__R_FOREIGN_JOB: vow__foreign_job(loop, (vow__reaction *)r); break;
    case VOW__R_COMBINE: combine_job(loop, r, src); break;
    case VOW__R_TIMEOUT: vow__timeout_job(loop, (vow__reaction *)r, src); break;
    case VOW__R_DEAD: vow__rec_free(loop, r); break;
    case VOW__R_AWAIT: vow__await_job(loop, r, src); break;
    case VOW__R_RUN_WAKE:
        vow__loop_run_wake(loop);
        vow__rec_free(loop, r);
        break;
    default: vow__assert(0, "unknown reaction kind");
    }
    vow__unref(src);
}
