/* promise/promise.c - the Promise object: values, the state machine, reactions, the
 * resolution procedure, then/catch/finally, unhandled rejections, vow_run.
 *
 * The job structure is ECMAScript's (27.2): settling a promise queues one job per
 * reaction, in registration order; a reaction that returns a promise queues a
 * NewPromiseResolveThenableJob, which subscribes to that promise, whose reaction job then
 * settles the derived promise (two extra jobs); finally is then(thenFinally,
 * catchFinally) where each step resolves the callback's result to a promise and returns
 * promise.then(valueThunk). docs/job-order.md counts every operation.
 *
 * Memory: promises, then nodes and records come from the loop's pools (src/pool.c), and a
 * promise's fields by state share one union (the list while pending, the value or the
 * error once settled). Queueing a reaction never fails: when the microtask ring is full,
 * the record waits on the loop's overflow list through its own link. Freeing is deferred
 * through a stack, so dropping the head of a 1,000,000-long pending chain uses constant C
 * stack.
 */
#include <string.h>

#include "internal.h"

/* ---- values ------------------------------------------------------------------------- */

/* Values and results are built whole (compound literals), not zeroed and then patched:
 * a 16-byte copy of a struct that was written as a 16-byte store plus smaller stores into
 * it cannot take its data from the store buffer, and `perf annotate` showed that stall as
 * a tenth of W3 in vow_int alone. (vow_value_t has no padding.) */
vow_value_t vow_none(void) { return (vow_value_t){.kind = VOW_VAL_NONE}; }

vow_value_t vow_int(int64_t i) { return (vow_value_t){.kind = VOW_VAL_INT, .u.i = i}; }

vow_value_t vow_double(double d) { return (vow_value_t){.kind = VOW_VAL_DOUBLE, .u.d = d}; }

vow_value_t vow_ptr(void *p, void (*dtor)(void *)) {
    return (vow_value_t){.kind = VOW_VAL_PTR, .u.p = p, .own.dtor = dtor};
}

vow_value_t vow_value_share(const vow_value_t *v) {
    if (v == NULL) return vow_none();
    vow_value_t s = *v;
    if (s.boxed) {
        s.own.box->refcnt++;
    } else {
        /* An unboxed value with a destructor is not a shared thing: sharing it would make
         * a second owner. Give a borrowed view instead. */
        s.own.dtor = NULL;
    }
    return s;
}

void vow_value_release(vow_value_t *v) {
    if (v == NULL) return;
    if (v->boxed) {
        struct vow__box *b = v->own.box;
        if (--b->refcnt == 0) {
            if (b->dtor != NULL) b->dtor(b->p);
            vow__free(b);
        }
    } else if (v->kind == VOW_VAL_PTR && v->own.dtor != NULL) {
        v->own.dtor(v->u.p);
    }
    *v = vow_none();
}

vow_value_kind_t vow_value_kind(const vow_value_t *v) {
    return v != NULL ? (vow_value_kind_t)v->kind : VOW_VAL_NONE;
}

int64_t vow_value_int(const vow_value_t *v) {
    if (v == NULL) return 0;
    if (v->kind == VOW_VAL_INT) return v->u.i;
    if (v->kind == VOW_VAL_DOUBLE) return (int64_t)v->u.d;
    return 0;
}

double vow_value_double(const vow_value_t *v) {
    if (v == NULL) return 0.0;
    if (v->kind == VOW_VAL_DOUBLE) return v->u.d;
    if (v->kind == VOW_VAL_INT) return (double)v->u.i;
    return 0.0;
}

void *vow_value_ptr(const vow_value_t *v) {
    return v != NULL && v->kind == VOW_VAL_PTR ? v->u.p : NULL;
}

/* Makes `v` storable: a pointer with a destructor gets its shared box. On failure the
 * destructor has run and VOW_ENOMEM is returned. */
static int value_store(vow_value_t *v) {
    if (v->kind != VOW_VAL_PTR) {
        /* Written only when set (rarely): see vow_none on partial stores. */
        if (v->boxed != 0 || v->own.dtor != NULL) {
            v->boxed = 0;
            v->own.dtor = NULL;
        }
        return 0;
    }
    if (v->boxed || v->own.dtor == NULL) return 0;
    struct vow__box *b = vow__malloc(sizeof *b);
    if (b == NULL) {
        v->own.dtor(v->u.p);
        *v = vow_none();
        return VOW_ENOMEM;
    }
    b->refcnt = 1;
    b->p = v->u.p;
    b->dtor = v->own.dtor;
    v->own.box = b;
    v->boxed = 1;
    return 0;
}

/* ---- results ------------------------------------------------------------------------ */

static vow_result_t result_empty(vow_result_kind_t kind) {
    return (vow_result_t){.kind = kind, .value = {.kind = VOW_VAL_NONE}};
}

vow_result_t vow_ok(vow_value_t v) { return (vow_result_t){.kind = VOW_RESULT_VALUE, .value = v}; }
vow_result_t vow_ok_none(void) { return vow_ok(vow_none()); }
vow_result_t vow_ok_int(int64_t i) { return vow_ok(vow_int(i)); }
vow_result_t vow_ok_double(double d) { return vow_ok(vow_double(d)); }

vow_result_t vow_fail(vow_error_t *err) {
    if (err == NULL) err = vow_error_new(VOW_ETYPE, "rejected with no error");
    return (vow_result_t){.kind = VOW_RESULT_ERROR, .error = err};
}

vow_result_t vow_fail_code(int code, const char *message) {
    return vow_fail(vow_error_new(code, message));
}

vow_result_t vow_follow(vow_t *p) {
    if (p == NULL) return vow_fail(vow_error_new(VOW_ENOMEM, NULL));
    return (vow_result_t){.kind = VOW_RESULT_FOLLOW, .promise = p};
}

vow_thenable_t *vow_thenable_new(vow_subscribe_fn subscribe, void *ctx,
                                 void (*ctx_free)(void *)) {
    vow_thenable_t *t = subscribe != NULL ? vow__malloc(sizeof *t) : NULL;
    if (t == NULL) {
        if (ctx_free != NULL) ctx_free(ctx);
        return NULL;
    }
    t->subscribe = subscribe;
    t->ctx = ctx;
    t->ctx_free = ctx_free;
    return t;
}

static void thenable_free(vow_thenable_t *t) {
    if (t == NULL) return;
    if (t->ctx_free != NULL) t->ctx_free(t->ctx);
    vow__free(t);
}

vow_result_t vow_follow_thenable(vow_thenable_t *t) {
    if (t == NULL) return vow_fail(vow_error_new(VOW_ENOMEM, NULL));
    return (vow_result_t){.kind = VOW_RESULT_THENABLE, .thenable = t};
}

void vow__result_release(vow_result_t *res) {
    switch (res->kind) {
    case VOW_RESULT_VALUE: vow_value_release(&res->value); break;
    case VOW_RESULT_ERROR: vow_error_unref(res->error); break;
    case VOW_RESULT_FOLLOW: vow__unref(res->promise); break;
    case VOW_RESULT_THENABLE: thenable_free(res->thenable); break;
    }
    *res = result_empty(VOW_RESULT_VALUE);
}

/* ---- promise allocation and the deferred free ------------------------------------------- */

static _Thread_local vow_t *free_stack;
static _Thread_local int freeing;

static vow_t *promise_init(vow_t *p, vow_loop_t *loop, unsigned flags) {
    memset(p, 0, sizeof *p);
    p->refcnt = 1;
    p->loop = loop;
    p->flags = (uint16_t)flags;
    loop->handles++;
    return p;
}

vow_t *vow__promise_new(vow_loop_t *loop, unsigned flags) {
    vow_t *p = vow__pool_alloc(&loop->pools[VOW__POOL_PROMISE]);
    return p != NULL ? promise_init(p, loop, flags) : NULL;
}

void vow__reaction_init(vow__reaction *r, int kind, vow_t *derived) {
    memset(r, 0, sizeof *r);
    r->kind = (uint8_t)kind;
    r->derived = derived;
}

/* then/catch/finally allocate the derived promise and its reaction record together: the
 * record holds a reference to the promise until the record is dropped, so the block is
 * freed with the promise, after the record is done. One allocation per step. */
typedef struct {
    vow_t p;
    vow__reaction r;
} then_node;

void vow__promise_pool_sizes(size_t sizes[VOW__POOLS]) {
    sizes[VOW__POOL_PROMISE] = sizeof(vow_t);
    sizes[VOW__POOL_NODE] = sizeof(then_node);
    sizes[VOW__POOL_REACTION] = sizeof(vow__reaction);
}

static void detach(vow__reaction *r);

/* The vow_on_cancel record goes with the promise's settlement or destruction. */
static void cancel_cb_release(vow_t *p) {
    struct vow__cancel_cb *c = VOW__CANCEL_CB(p);
    if (c == NULL) return;
    p->cancel = NULL;
    if (c->ctx_free != NULL) c->ctx_free(c->ctx);
    vow__free(c);
}

/* Frees the records still waiting in p's reaction list, unrun (a settled promise has none:
 * the list's place holds its value or error). */
static void drop_reactions(vow_t *p) {
    if (p->state != VOW_PENDING) return;
    vow__reaction *r = p->r_head;
    p->r_head = p->r_tail = NULL;
    while (r != NULL) {
        vow__reaction *next = r->next;
        vow__reaction_free(p->loop, r);
        r = next;
    }
}

/* Releases what p holds: its value or error, its combinator state, its cancel callback;
 * p is left pending and empty. */
static void release_holdings(vow_t *p) {
    if (p->state == VOW_FULFILLED) vow_value_release(&p->value);
    if (p->state == VOW_REJECTED) vow_error_unref(p->error);
    p->r_head = p->r_tail = p->waiting = NULL; /* pending again, with an empty list */
    p->state = VOW_PENDING;
    if (VOW__COMBINE(p) != NULL) {
        vow__combine_free(p->combine);
        p->combine = NULL;
        p->flags &= (uint16_t)~VOW__F_COMBINE;
    }
    cancel_cb_release(p);
}

static void promise_destroy(vow_t *p) {
    vow_loop_t *loop = p->loop;
    drop_reactions(p);
    release_holdings(p);
    p->state = VOW__S_FREE; /* for the teardown's walk over the pools */
    vow__pool_put(&loop->pools[(p->flags & VOW__F_NODE) ? VOW__POOL_NODE : VOW__POOL_PROMISE], p);
    vow__loop_handle_release(loop);
}

vow_t *vow_ref(vow_t *p) { return vow__ref(p); }

void vow_unref(vow_t *p) { vow__unref(p); }

/* The last reference went: p is freed, after whatever its destruction frees in turn
 * (iteratively: a chain of a million promises unwinds in a loop, not in recursion). */
void vow__promise_release(vow_t *p) {
    p->flags |= VOW__F_DYING; /* a teardown run from a destructor must not touch it */
    p->free_next = free_stack;
    free_stack = p;
    if (freeing) return;
    freeing = 1;
    while (free_stack != NULL) {
        vow_t *q = free_stack;
        free_stack = q->free_next;
        promise_destroy(q);
    }
    freeing = 0;
}

/* ---- reactions ----------------------------------------------------------------------- */

static void reaction_job(vow_loop_t *loop, void *arg);

vow__reaction *vow__reaction_new(vow_loop_t *loop, int kind, vow_t *derived) {
    vow__reaction *r = vow__pool_alloc(&loop->pools[VOW__POOL_REACTION]);
    if (r == NULL) return NULL;
    vow__reaction_init(r, kind, derived);
    return r;
}

/* Drops a record without running it: its context destructor runs, its references go. */
void vow__reaction_free(vow_loop_t *loop, vow__reaction *r) {
    detach(r);
    vow_t *d = r->derived; /* dropped last: an embedded record lives in d's block */
    if (r->rflags & VOW__RF_QUEUED) vow__unref(r->link);
    switch (r->kind) {
    case VOW__R_THEN:
    case VOW__R_FINALLY:
        if (r->ctx_free != NULL) r->ctx_free(r->ctx);
        break;
    case VOW__R_FOREIGN_JOB: thenable_free(r->thenable); break;
    case VOW__R_THENABLE_JOB:
    case VOW__R_DEAD:
    case VOW__R_TIMEOUT: vow__unref(r->follow); break;
    case VOW__R_FINALLY_VALUE:
        if (r->rflags & VOW__RF_CARRY_ERROR)
            vow_error_unref(r->carry_error);
        else
            vow_value_release(&r->carry_value);
        break;
    case VOW__R_COMBINE: break; /* maybe only a record's head: nothing past it is touched */
    default: break;                /* ADOPT, MICROTASK: nothing owned in the union */
    }
    if (!(r->rflags & VOW__RF_EMBEDDED)) vow__pool_put(&loop->pools[VOW__POOL_REACTION], r);
    vow__unref(d);
}

/* Forgets the weak pointers to r: its owner's list no longer holds it, and its derived
 * promise no longer waits on it. */
static void detach(vow__reaction *r) {
    if (!(r->rflags & VOW__RF_QUEUED)) r->link = NULL;
    vow_t *d = r->derived;
    if (d == NULL) return;
    if (r->kind == VOW__R_COMBINE) {
        struct vow__combine *c = d->combine;
        if (c != NULL && c->block == NULL && c->recs[r->index] == r) c->recs[r->index] = NULL;
    } else if (d->state == VOW_PENDING && d->waiting == r) {
        d->waiting = NULL;
    }
}

/* Makes r the record d waits on. */
static void attach(vow__reaction *r) {
    vow_t *d = r->derived;
    if (r->kind == VOW__R_COMBINE) {
        if (d->combine->block == NULL) d->combine->recs[r->index] = r; /* else: r->link */
    } else if (d->state == VOW_PENDING) {
        d->waiting = r;
    }
}

static void overflow_append(vow_loop_t *loop, vow__reaction *r) {
    r->next = NULL;
    if (loop->overflow_tail != NULL)
        loop->overflow_tail->next = r;
    else
        loop->overflow_head = r;
    loop->overflow_tail = r;
    loop->overflow_len++;
    vow__mq_note_work(loop);
}

/* Queues a record's job; never fails. */
static void reaction_queue(vow_loop_t *loop, vow__reaction *r) {
    if (vow__mq_push(loop, reaction_job, r) == 0) return;
    /* The ring is full (or others already wait past it): the overflow list, through the
     * record's own link, so that queueing a reaction never fails. */
    overflow_append(loop, r);
}

/* Queues r's job with settled p as its source (referenced until the job has run). */
static void queue_from(vow__reaction *r, vow_t *p) {
    r->link = vow__ref(p);
    r->rflags |= VOW__RF_QUEUED;
    reaction_queue(p->loop, r);
}

int vow__promise_overflow_microtask(vow_loop_t *loop, vow_microtask_fn fn, void *arg) {
    vow__reaction *r = vow__reaction_new(loop, VOW__R_MICROTASK, NULL);
    if (r == NULL) return VOW_ENOMEM;
    r->mt_fn = fn;
    r->mt_arg = arg;
    overflow_append(loop, r);
    return 0;
}

/* ---- unhandled-rejection tracking (HostPromiseRejectionTracker) -------------------------- */

/* The two report lists are singly linked FIFOs through list_next; a listed promise holds a
 * reference. A promise handled before the drain stays listed and is skipped then. */
static void list_append(vow_t **head, vow_t **tail, vow_t *p) {
    p->flags |= VOW__F_LISTED;
    p->list_next = NULL;
    if (*tail != NULL)
        (*tail)->list_next = p;
    else
        *head = p;
    *tail = vow__ref(p);
}

static vow_t *list_pop(vow_t **head, vow_t **tail) {
    vow_t *p = *head;
    if (p == NULL) return NULL;
    *head = p->list_next;
    if (*head == NULL) *tail = NULL;
    p->list_next = NULL;
    p->flags &= (uint16_t)~VOW__F_LISTED;
    return p;
}

static void tracker_reject(vow_t *p) {
    if ((p->flags & VOW__F_HANDLED) || vow_is_cancellation(p->error)) return;
    list_append(&p->loop->unhandled, &p->loop->unhandled_tail, p);
}

static void tracker_handle(vow_t *p) {
    if (p->state != VOW_REJECTED || (p->flags & VOW__F_HANDLED)) return;
    /* Not reported yet (listed): the drain will skip it once the caller marks it handled. */
    if ((p->flags & VOW__F_REPORTED) && !(p->flags & VOW__F_LISTED))
        list_append(&p->loop->handled_late, &p->loop->handled_late_tail, p);
}

static void report(vow_loop_t *loop, vow_t *p, vow_rejection_event_t ev) {
    if (loop->hook != NULL) loop->hook(loop, p, p->error, ev, loop->hook_ctx);
    if (loop->mode == VOW_UNHANDLED_SILENT) return;
    if (ev == VOW_REJECTION_UNHANDLED) {
        char buf[512];
        size_t n = vow_error_format(p->error, buf, sizeof buf);
        fprintf(stderr, "vow: unhandled promise rejection (rejection id: %u): %s%s\n",
                p->rejection_id, buf, n >= sizeof buf ? "..." : "");
        if (loop->mode == VOW_UNHANDLED_STRICT) {
            fflush(stderr);
            abort();
        }
    } else {
        fprintf(stderr,
                "vow: promise rejection was handled asynchronously (rejection id: %u)\n",
                p->rejection_id);
    }
}

void vow__promise_after_drain(vow_loop_t *loop) {
    vow_t *p;
    while ((p = list_pop(&loop->unhandled, &loop->unhandled_tail)) != NULL) {
        if (!(p->flags & VOW__F_HANDLED)) {
            p->flags |= VOW__F_REPORTED;
            p->rejection_id = ++loop->rejection_ids;
            report(loop, p, VOW_REJECTION_UNHANDLED);
        }
        vow__unref(p);
    }
    while ((p = list_pop(&loop->handled_late, &loop->handled_late_tail)) != NULL) {
        report(loop, p, VOW_REJECTION_HANDLED_LATE);
        vow__unref(p);
    }
}

int vow_set_rejection_hook(vow_loop_t *loop, vow_rejection_hook hook, void *ctx) {
    if (loop == NULL) return VOW_EINVAL;
    if (loop->closed) return VOW_ECLOSED;
    loop->hook = hook;
    loop->hook_ctx = ctx;
    return 0;
}

int vow_set_unhandled_mode(vow_loop_t *loop, vow_unhandled_mode_t mode) {
    if (loop == NULL || (mode != VOW_UNHANDLED_WARN && mode != VOW_UNHANDLED_STRICT &&
                         mode != VOW_UNHANDLED_SILENT))
        return VOW_EINVAL;
    if (loop->closed) return VOW_ECLOSED;
    loop->mode = mode;
    return 0;
}

/* ---- settling ---------------------------------------------------------------------------- */

/* Queues the reactions r (the list p had while pending). */
static void trigger(vow_t *p, vow__reaction *r) {
    while (r != NULL) {
        vow__reaction *next = r->next;
        r->next = NULL;
        detach(r); /* queued now: cancelling its promise no longer reaches p */
        queue_from(r, p);
        r = next;
    }
}

/* What every settlement does besides the state change: the source's timer stops and is
 * freed, the cancel callback's context goes, the reactions are queued. */
static void settled_cleanup(vow_t *p) {
    vow_timer_t *slot = vow__timer_slot(p);
    if (slot != NULL && *slot != 0) {
        vow_timer_t id = *slot;
        *slot = 0;
        vow__timer_clear(p->loop, id, -1); /* its release drops the timer's reference */
    }
    cancel_cb_release(p);
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
    if (value_store(v) != 0) {
        vow__reject(p, vow_error_new(VOW_ENOMEM, NULL));
        return;
    }
    int guard = needs_guard(p);
    if (guard) vow__ref(p);
    vow__reaction *reactions = p->r_head; /* the value takes the list's place */
    p->flags |= VOW__F_RESOLVED;
    p->state = VOW_FULFILLED;
    p->value = *v;
    settled_cleanup(p);
    trigger(p, reactions);
    if (guard) vow__unref(p);
}

void vow__fulfill(vow_t *p, vow_value_t v) { vow__fulfill_move(p, &v); }

void vow__reject(vow_t *p, vow_error_t *err) {
    vow__assert(p->state == VOW_PENDING, "settling a settled promise");
    int guard = needs_guard(p);
    if (guard) vow__ref(p);
    vow__reaction *reactions = p->r_head; /* the error takes the list's place */
    p->flags |= VOW__F_RESOLVED;
    p->state = VOW_REJECTED;
    p->error = err;
    settled_cleanup(p);
    tracker_reject(p);
    trigger(p, reactions);
    if (guard) vow__unref(p);
}

/* PerformPromiseThen: registers a record on p (which stays the caller's). */
void vow__perform_then(vow_t *p, vow__reaction *r) {
    if (p->state == VOW_PENDING) {
        if (p->r_tail != NULL)
            p->r_tail->next = r;
        else
            p->r_head = r;
        p->r_tail = r;
        r->link = p;
        attach(r);
    } else {
        tracker_handle(p);
        queue_from(r, p);
    }
    p->flags |= VOW__F_HANDLED;
}

/* The Promise Resolve Functions applied to d with `res` (consumed). `r` is a
 * record that may be reused for the thenable job, or NULL (then one is allocated). */
static void resolve_with(vow_t *d, vow_result_t *resp, vow__reaction *r) {
    vow_loop_t *loop = d->loop;
    /* d stays alive throughout: r (freed last, at `done`) or the caller holds it. */
    if (d->state != VOW_PENDING) {
        /* d was cancelled while this reaction was queued: the result is discarded, with
         * its destructors, so nothing handed over is lost. */
        vow__result_release(resp);
        goto done;
    }
    switch (resp->kind) {
    case VOW_RESULT_VALUE:
        vow__fulfill_move(d, &resp->value);
        goto done;
    case VOW_RESULT_ERROR:
        vow__reject(d, resp->error);
        goto done;
    case VOW_RESULT_FOLLOW:
        if (resp->promise == d) {
            vow__unref(resp->promise);
            vow__reject(d, vow_error_new(VOW_ETYPE, "chaining cycle detected for promise"));
            goto done;
        }
        if (resp->promise->loop != loop || (resp->promise->flags & VOW__F_CLOSED)) {
            vow__unref(resp->promise);
            vow__reject(d, vow_error_new(VOW_EINVAL, "cannot follow a promise of another loop"));
            goto done;
        }
        break;
    case VOW_RESULT_THENABLE: break;
    }
    if (r == NULL) r = vow__reaction_new(loop, VOW__R_THENABLE_JOB, NULL);
    if (r == NULL) {
        vow__result_release(resp);
        vow__reject(d, vow_error_new(VOW_ENOMEM, NULL));
        return;
    }
    /* Reuse the record: whatever it held for its previous step is gone by now (its context
     * destructor has run; the kind set below says which union member counts). */
    if (r->derived != d) {
        vow__assert(!(r->rflags & VOW__RF_EMBEDDED), "embedded record reused for another promise");
        vow__unref(r->derived);
        r->derived = vow__ref(d);
    }
    d->flags |= VOW__F_RESOLVED;
    detach(r);
#ifdef VOW_PLANT_DIVERGENCE
    /* Planted divergence, for the differential tester's self-test only: following an
     * already-settled promise skips NewPromiseResolveThenableJob (one job too few).
     * Never defined in a real build. */
    if (resp->kind == VOW_RESULT_FOLLOW && resp->promise->state != VOW_PENDING) {
        vow_t *q = resp->promise;
        r->kind = VOW__R_ADOPT;
        vow__perform_then(q, r);
        vow__unref(q);
        return;
    }
#endif
    if (resp->kind == VOW_RESULT_FOLLOW) {
        r->kind = VOW__R_THENABLE_JOB;
        r->follow = resp->promise;
        d->waiting = r; /* cancelling d reaches the promise it is about to follow */
    } else {
        r->kind = VOW__R_FOREIGN_JOB;
        r->thenable = resp->thenable;
    }
    reaction_queue(loop, r);
    return;
done:
    if (r != NULL) vow__reaction_free(loop, r);
}

/* Settles d as src is settled (sharing the value). */
void vow__settle_like(vow_t *d, vow_t *src) {
    if (d->state != VOW_PENDING) return;
    if (src->state == VOW_FULFILLED) {
        vow_value_t v = vow_value_share(&src->value);
        vow__fulfill_move(d, &v);
    } else {
        vow__reject(d, vow_error_ref(src->error));
    }
}

static void foreign_job(vow_loop_t *loop, vow__reaction *r) {
    vow_t *d = r->derived;
    vow_thenable_t *t = r->thenable;
    r->thenable = NULL;
    vow_resolver_t *res = vow__malloc(sizeof *res);
    if (res == NULL) {
        thenable_free(t);
        if (d->state == VOW_PENDING) vow__reject(d, vow_error_new(VOW_ENOMEM, NULL));
        vow__reaction_free(loop, r);
        return;
    }
    res->refcnt = 1;
    res->target = vow__ref(d);
    res->already = 0;
    vow__reaction_free(loop, r); /* d stays referenced by the resolver */
    int rc = t->subscribe(t->ctx, res);
    thenable_free(t);
    if (rc != 0 && !res->already) {
        res->already = 1;
        if (res->target->state == VOW_PENDING && !(res->target->flags & VOW__F_CLOSED))
            vow__reject(res->target, vow_error_new(rc, "thenable subscribe failed"));
    }
    vow_resolver_unref(res);
}

static void finally_job(vow_loop_t *loop, vow__reaction *r, vow_t *src) {
    vow_result_t res = r->on_fin(loop, r->ctx);
    if (r->ctx_free != NULL) r->ctx_free(r->ctx);
    r->ctx_free = NULL;
    vow_t *d = r->derived;
    if (res.kind == VOW_RESULT_ERROR) { /* onFinally threw */
        resolve_with(d, &res, r);
        return;
    }
    /* promise = PromiseResolve(C, result) */
    vow_t *q;
    if (res.kind == VOW_RESULT_FOLLOW) {
        q = res.promise;
        res = result_empty(VOW_RESULT_VALUE);
    } else {
        q = vow__promise_new(loop, 0);
        if (q != NULL) {
            if (res.kind == VOW_RESULT_VALUE)
                vow__fulfill_move(q, &res.value);
            else
                resolve_with(q, &res, NULL);
            res = result_empty(VOW_RESULT_VALUE);
        }
    }
    /* return promise.then(valueThunk) -- or thrower, for catchFinally */
    vow_t *d2 = q != NULL ? vow__promise_new(loop, 0) : NULL;
    vow__reaction *r2 = d2 != NULL ? vow__reaction_new(loop, VOW__R_FINALLY_VALUE, d2) : NULL;
    if (r2 == NULL) {
        vow__result_release(&res);
        vow__unref(q);
        vow__unref(d2);
        vow_result_t oom = vow_fail(vow_error_new(VOW_ENOMEM, NULL));
        resolve_with(d, &oom, r);
        return;
    }
    vow__ref(d2); /* r2 holds one, the follow below the other */
    if (src->state == VOW_FULFILLED) {
        r2->carry_value = vow_value_share(&src->value);
    } else {
        r2->carry_error = vow_error_ref(src->error);
        r2->rflags |= VOW__RF_CARRY_ERROR;
    }
    vow__perform_then(q, r2);
    vow__unref(q);
    vow_result_t follow = vow_follow(d2);
    resolve_with(d, &follow, r);
}

static void reaction_job(vow_loop_t *loop, void *arg) {
    vow__reaction *r = arg;
    vow_t *src = r->link; /* this job's reference, dropped at the end */
    r->link = NULL;
    r->rflags &= (uint8_t)~VOW__RF_QUEUED;
    vow_t *d = r->derived;
    vow_result_t res;
    switch (r->kind) {
    case VOW__R_THEN:
#ifdef VOW_PLANT_DOUBLE_REACTION
        /* Planted defect, for the fuzzer's self-test only: a fulfilment reaction on an
         * integer equal to 3 modulo 8 runs twice. Never defined in a real build. */
        if (src->state == VOW_FULFILLED && r->on_ok != NULL && src->value.kind == VOW_VAL_INT &&
            (src->value.u.i & 7) == 3) {
            vow_result_t extra = r->on_ok(loop, &src->value, r->ctx);
            vow__result_release(&extra);
        }
#endif
        if (src->state == VOW_FULFILLED)
            res = r->on_ok != NULL ? r->on_ok(loop, &src->value, r->ctx)
                                   : vow_ok(vow_value_share(&src->value));
        else if (r->on_err != NULL && (!vow_is_cancellation(src->error) ||
                                       (r->rflags & VOW_CATCH_CANCELLED)))
            res = r->on_err(loop, src->error, r->ctx);
        else
            res = vow_fail(vow_error_ref(src->error));
        if (r->ctx_free != NULL) r->ctx_free(r->ctx);
        r->ctx_free = NULL;
        resolve_with(d, &res, r);
        break;
    case VOW__R_FINALLY:
        if (r->on_fin == NULL) { /* finally(undefined): plain pass-through */
            res = src->state == VOW_FULFILLED ? vow_ok(vow_value_share(&src->value))
                                              : vow_fail(vow_error_ref(src->error));
            resolve_with(d, &res, r);
        } else {
            finally_job(loop, r, src);
        }
        break;
    case VOW__R_FINALLY_VALUE:
        if (src->state == VOW_FULFILLED) {
            if (r->rflags & VOW__RF_CARRY_ERROR)
                res = vow_fail(r->carry_error);
            else
                res = vow_ok(r->carry_value);
            r->rflags &= (uint8_t)~VOW__RF_CARRY_ERROR;
            r->carry_value = vow_none();
        } else {
            res = vow_fail(vow_error_ref(src->error));
        }
        resolve_with(d, &res, r);
        break;
    case VOW__R_ADOPT:
        vow__settle_like(d, src);
        vow__reaction_free(loop, r);
        break;
    case VOW__R_THENABLE_JOB: {
        vow_t *q = r->follow;
        r->follow = NULL;
        r->kind = VOW__R_ADOPT;
        vow__perform_then(q, r);
        vow__unref(q);
        break;
    }
    case VOW__R_FOREIGN_JOB: foreign_job(loop, r); break;
    case VOW__R_COMBINE: vow__combine_job(loop, r, src); break;
    case VOW__R_TIMEOUT: vow__timeout_job(loop, r, src); break;
    case VOW__R_DEAD: vow__reaction_free(loop, r); break;
    default: vow__assert(0, "unknown reaction kind");
    }
    vow__unref(src);
}

static vow__reaction *overflow_pop(vow_loop_t *loop) {
    vow__reaction *r = loop->overflow_head;
    loop->overflow_head = r->next;
    if (loop->overflow_head == NULL) loop->overflow_tail = NULL;
    loop->overflow_len--;
    r->next = NULL;
    return r;
}

void vow__promise_overflow_discard_one(vow_loop_t *loop) {
    vow__reaction_free(loop, overflow_pop(loop)); /* a microtask's arg is not touched */
}

void vow__promise_overflow_run_one(vow_loop_t *loop) {
    vow__reaction *r = overflow_pop(loop);
    if (r->kind == VOW__R_MICROTASK) {
        vow_microtask_fn fn = r->mt_fn;
        void *arg = r->mt_arg;
        vow__pool_put(&loop->pools[VOW__POOL_REACTION], r);
        fn(loop, arg);
        return;
    }
    reaction_job(loop, r);
}

int vow__promise_discard_job(vow_loop_t *loop, vow_microtask_fn fn, void *arg) {
    if (fn != reaction_job) return 0;
    vow__reaction_free(loop, arg);
    return 1;
}

/* ---- the public API ---------------------------------------------------------------- */

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
    if (p->flags & VOW__F_CLOSED) return VOW_ECLOSED;
    if (!(p->flags & VOW__F_SETTLEABLE)) return VOW_EPERM;
    if (p->flags & VOW__F_RESOLVED) return VOW_ESETTLED;
    return 0;
}

int vow_resolve_with(vow_t *p, vow_result_t result) {
    int rc = settle_check(p);
    if (rc != 0) {
        vow__result_release(&result);
        return rc;
    }
    resolve_with(p, &result, NULL);
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

static vow_t *then_common(vow_t *p, int kind, vow_on_ok on_ok, vow_on_err on_err,
                          vow_on_finally on_fin, void *ctx, void (*ctx_free)(void *),
                          unsigned flags) {
    then_node *n = NULL;
    if (p != NULL && !(p->flags & VOW__F_CLOSED) && (flags & ~VOW_CATCH_CANCELLED) == 0) {
        n = vow__pool_alloc(&p->loop->pools[VOW__POOL_NODE]);
    }
    if (n == NULL) {
        if (ctx_free != NULL) ctx_free(ctx);
        vow__unref(p);
        return NULL;
    }
    vow_t *d = promise_init(&n->p, p->loop, VOW__F_NODE);
    vow__reaction *r = &n->r;
    vow__reaction_init(r, kind, d);
    r->rflags = VOW__RF_EMBEDDED;
    vow__ref(d); /* one for the record, one for the caller */
    if (kind == VOW__R_FINALLY)
        r->on_fin = on_fin;
    else
        r->on_ok = on_ok;
    r->on_err = on_err;
    r->ctx = ctx;
    r->ctx_free = ctx_free;
    r->rflags |= (uint8_t)flags;
    vow__perform_then(p, r);
    vow__unref(p);
    return d;
}

vow_t *vow_then(vow_t *p, vow_on_ok on_ok, vow_on_err on_err, void *ctx,
                void (*ctx_free)(void *)) {
    return then_common(p, VOW__R_THEN, on_ok, on_err, NULL, ctx, ctx_free, 0);
}

vow_t *vow_then_ex(vow_t *p, vow_on_ok on_ok, vow_on_err on_err, void *ctx,
                   void (*ctx_free)(void *), unsigned flags) {
    return then_common(p, VOW__R_THEN, on_ok, on_err, NULL, ctx, ctx_free, flags);
}

vow_t *vow_catch_ex(vow_t *p, vow_on_err on_err, void *ctx, void (*ctx_free)(void *),
                    unsigned flags) {
    return then_common(p, VOW__R_THEN, NULL, on_err, NULL, ctx, ctx_free, flags);
}

vow_t *vow_catch(vow_t *p, vow_on_err on_err, void *ctx, void (*ctx_free)(void *)) {
    return then_common(p, VOW__R_THEN, NULL, on_err, NULL, ctx, ctx_free, 0);
}

vow_t *vow_finally(vow_t *p, vow_on_finally fn, void *ctx, void (*ctx_free)(void *)) {
    return then_common(p, VOW__R_FINALLY, NULL, NULL, fn, ctx, ctx_free, 0);
}

vow_state_t vow_state(const vow_t *p) { return p != NULL ? (vow_state_t)p->state : VOW_PENDING; }

const vow_value_t *vow_value(const vow_t *p) {
    return p != NULL && p->state == VOW_FULFILLED && !(p->flags & VOW__F_CLOSED) ? &p->value
                                                                                 : NULL;
}

vow_error_t *vow_error(const vow_t *p) {
    return p != NULL && p->state == VOW_REJECTED && !(p->flags & VOW__F_CLOSED) ? p->error
                                                                                : NULL;
}

vow_loop_t *vow_loop_of(const vow_t *p) {
    return p != NULL && !(p->flags & VOW__F_CLOSED) ? p->loop : NULL;
}

/* ---- cancellation ---------------------------------------------------------------------- */

int vow_is_cancellation(const vow_error_t *err) {
    return err != NULL && vow_error_code(err) == VOW_ECANCELED;
}

int vow__has_live_waiter(const vow_t *p, const vow__reaction *except) {
    for (const vow__reaction *r = p->r_head; r != NULL; r = r->next)
        if (r != except && r->derived != NULL && r->derived->state == VOW_PENDING) return 1;
    return 0;
}

void vow__unlink_waiter(vow__reaction *r) {
    vow_t *u = vow__r_owner(r);
    vow__reaction **pp = &u->r_head, *prev = NULL;
    while (*pp != NULL && *pp != r) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    vow__assert(*pp == r, "waiting record not in its owner's list");
    *pp = r->next;
    if (u->r_tail == r) u->r_tail = prev;
    r->next = NULL;
    detach(r);
}

/* The cancellation worklist is FIFO, so a combinator's inputs are cancelled (and their
 * cancel callbacks run) in input order, as asyncio cancels. */
typedef struct {
    vow_t *head, *tail;
} worklist;

static void push_work(worklist *work, vow_t *u) {
    if (u->flags & VOW__F_CANCEL_QUEUED) return; /* reached twice: cancelled once */
    u->flags |= VOW__F_CANCEL_QUEUED;
    u->cancel_next = NULL;
    if (work->tail != NULL)
        work->tail->cancel_next = u;
    else
        work->head = u;
    work->tail = vow__ref(u);
}

/* Stops waiting through record r; its upstream joins the worklist when nothing else
 * live waits on it. */
static void drop_wait(vow__reaction *r, worklist *work) {
    vow_t *u;
    if (r->kind == VOW__R_THENABLE_JOB && vow__r_owner(r) == NULL) {
        /* Queued, not yet subscribed: the job will only release what it holds. */
        u = r->follow;
        detach(r);
        r->kind = VOW__R_DEAD;
        if (u->state == VOW_PENDING && !vow__has_live_waiter(u, NULL)) push_work(work, u);
        return;
    }
    u = vow__r_owner(r);
    if (u == NULL) return;
    if (r->kind == VOW__R_FINALLY) {
        /* finally always runs: its record stays, to run when the source settles (at once,
         * if the source is cancelled now); its result is then discarded. */
        if (u->state == VOW_PENDING && !vow__has_live_waiter(u, r)) push_work(work, u);
        return;
    }
    vow__ref(u);
    vow__unlink_waiter(r);
    vow__reaction_free(u->loop, r);
    if (u->state == VOW_PENDING && !vow__has_live_waiter(u, NULL))
        push_work(work, u);
    vow__unref(u);
}

static void run_cancellations(worklist *work) {
    while (work->head != NULL) {
        vow_t *p = work->head;
        work->head = p->cancel_next;
        if (work->head == NULL) work->tail = NULL;
        p->cancel_next = NULL;
        p->flags &= (uint16_t)~VOW__F_CANCEL_QUEUED;
        if (p->state == VOW_PENDING && !(p->flags & VOW__F_CLOSED)) {
            struct vow__combine *pc = VOW__COMBINE(p);
            struct vow__cancel_cb *cb = VOW__CANCEL_CB(p);
            if (pc != NULL && pc->kind == VOW__C_WAIT) {
                /* asyncio.wait: cancelling the wait leaves its inputs running. */
                for (size_t i = 0; i < pc->n; i++) {
                    vow__reaction *r = pc->recs[i];
                    if (r == NULL) continue;
                    vow__unlink_waiter(r);
                    vow__reaction_free(p->loop, r);
                }
            } else if (pc != NULL && pc->kind == VOW__C_GROUP) {
                /* asyncio: cancelling a TaskGroup's parent cancels every pending task,
                 * whoever else waits on it (the group's own abort does the same). */
                for (size_t i = 0; i < pc->n; i++) {
                    vow__reaction *r = pc->recs[i];
                    if (r == NULL || vow__r_owner(r) == NULL) continue;
                    vow_t *task = vow__ref(vow__r_owner(r));
                    vow__unlink_waiter(r);
                    vow__reaction_free(p->loop, r);
                    if (task->state == VOW_PENDING) push_work(work, task);
                    vow__unref(task);
                }
            } else if (pc != NULL) {
                for (size_t i = 0; i < pc->n; i++) {
                    vow__reaction *r = vow__combine_rec(pc, i);
                    if (r != NULL) drop_wait(r, work);
                }
            } else if (p->waiting != NULL) {
                drop_wait(p->waiting, work);
            }
            if (cb != NULL && cb->fn != NULL) {
                vow_cancel_fn fn = cb->fn;
                cb->fn = NULL; /* at most once */
                fn(p->loop, cb->ctx);
            }
            if (p->state == VOW_PENDING)
                vow__reject(p, vow_error_new(VOW_ECANCELED, NULL));
        }
        vow__unref(p);
    }
}

void vow__cancel(vow_t *p) {
    worklist work = {NULL, NULL};
    push_work(&work, p);
    run_cancellations(&work);
}

void vow__drop_waiter(vow__reaction *r) {
    worklist work = {NULL, NULL};
    drop_wait(r, &work);
    run_cancellations(&work);
}

int vow_cancel(vow_t *p) {
    if (p == NULL) return VOW_EINVAL;
    if (p->flags & VOW__F_CLOSED) return VOW_ECLOSED;
    if (p->state != VOW_PENDING) return VOW_ESETTLED;
    vow__cancel(p);
    return 0;
}

int vow_on_cancel(vow_t *p, vow_cancel_fn fn, void *ctx, void (*ctx_free)(void *)) {
    int rc = 0;
    if (p == NULL || fn == NULL)
        rc = VOW_EINVAL;
    else if (p->flags & VOW__F_CLOSED)
        rc = VOW_ECLOSED;
    else if (!(p->flags & VOW__F_SETTLEABLE))
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
    p->cancel->fn = fn;
    p->cancel->ctx = ctx;
    p->cancel->ctx_free = ctx_free;
    return 0;
}

/* ---- foreign thenables' resolvers ------------------------------------------------------- */

static int resolver_check(vow_resolver_t *r) {
    if (r == NULL) return VOW_EINVAL;
    if (r->target->flags & VOW__F_CLOSED) return VOW_ECLOSED;
    if (r->already) return VOW_ESETTLED;
    return 0;
}

int vow_resolver_resolve(vow_resolver_t *r, vow_result_t result) {
    int rc = resolver_check(r);
    if (rc != 0) {
        vow__result_release(&result);
        return rc;
    }
    r->already = 1;
    resolve_with(r->target, &result, NULL);
    return 0;
}

int vow_resolver_reject(vow_resolver_t *r, vow_error_t *err) {
    return vow_resolver_resolve(r, vow_fail(err));
}

vow_resolver_t *vow_resolver_ref(vow_resolver_t *r) {
    if (r != NULL) r->refcnt++;
    return r;
}

void vow_resolver_unref(vow_resolver_t *r) {
    if (r == NULL || --r->refcnt > 0) return;
    vow__unref(r->target);
    vow__free(r);
}

void vow__timer_arg_release(int how, void *arg) {
    if (how == VOW__TR_UNREF)
        vow__unref(arg);
    else if (how == VOW__TR_TASK_START)
        vow__task_start_free(arg);
}

/* ---- vow_sleep --------------------------------------------------------------------------- */

static void sleep_fire(vow_loop_t *loop, void *arg) {
    (void)loop;
    vow_t *p = arg;
    p->timer = 0;
    if (p->state == VOW_PENDING) vow__fulfill(p, vow_none());
}

vow_t *vow_sleep(vow_loop_t *loop, uint64_t ms) {
    if (loop == NULL || loop->closed) return NULL;
    vow_t *p = vow__promise_new(loop, 0);
    if (p == NULL) return NULL;
    vow__ref(p); /* the timer's */
    if (vow__timer_start(loop, VOW__T_TIMEOUT, ms, sleep_fire, p, VOW__TR_UNREF, &p->timer) !=
        0) {
        vow__unref(p);
        vow__unref(p);
        return NULL;
    }
    return p;
}

/* ---- vow_run ------------------------------------------------------------------------ */

static int settled(void *arg) { return ((vow_t *)arg)->state != VOW_PENDING; }

int vow_run(vow_loop_t *loop, vow_t *p, vow_outcome_t *out) {
    if (out != NULL) {
        out->state = VOW_PENDING;
        out->value = vow_none();
        out->error = NULL;
    }
    int rc;
    if (loop == NULL || p == NULL || (p->loop != loop && !(p->flags & VOW__F_CLOSED)))
        rc = VOW_EINVAL;
    else if (loop->closed || (p->flags & VOW__F_CLOSED))
        rc = VOW_ECLOSED;
    else {
        /* Awaiting p handles it. */
        tracker_handle(p);
        p->flags |= VOW__F_HANDLED;
        rc = vow__loop_run_until(loop, settled, p);
    }
    if (rc == 0 && out != NULL) {
        out->state = (vow_state_t)p->state;
        if (p->state == VOW_FULFILLED)
            out->value = vow_value_share(&p->value);
        else
            out->error = vow_error_ref(p->error);
    }
    vow__unref(p);
    return rc;
}

void vow_outcome_release(vow_outcome_t *out) {
    if (out == NULL) return;
    vow_value_release(&out->value);
    vow_error_unref(out->error);
    out->error = NULL;
    out->state = VOW_PENDING;
}

/* ---- forced teardown ---------------------------------------------------------------------- */

/* The teardown's passes over every live promise (both pools hold promises at offset 0). */
static void hold_one(vow_t *p) { p->refcnt++; }

static void strip_reactions(vow_t *p) {
    p->flags |= VOW__F_CLOSED;
    drop_reactions(p);
}

static void drop_hold(vow_t *p) { vow__unref(p); }

/* A promise whose count reached 0 is passed over: it is already being freed (a destructor
 * run during its destruction may be what called vow_loop_free) or waits on the free
 * stack, and holding it again would free it twice. */
struct visit {
    void (*fn)(vow_t *);
};

static void visit_live(void *slot, void *arg) {
    vow_t *p = slot;
    if (!(p->flags & VOW__F_DYING)) ((struct visit *)arg)->fn(p);
}

static void each_promise(vow_loop_t *loop, void (*fn)(vow_t *)) {
    struct visit v = {fn};
    size_t mark = offsetof(vow_t, state);
    vow__pool_walk(&loop->pools[VOW__POOL_PROMISE], mark, VOW__S_FREE, visit_live, &v);
    vow__pool_walk(&loop->pools[VOW__POOL_NODE], mark, VOW__S_FREE, visit_live, &v);
}

void vow__promise_teardown(vow_loop_t *loop) {
    vow_t *p;
    /* (The queued jobs, ring and overflow list, were dropped before: src/loop.c.) */
    /* Hold every promise so that none is freed while the others are stripped. */
    each_promise(loop, hold_one);
    /* First every reaction record (they point into other promises' combinator states)... */
    each_promise(loop, strip_reactions);
    while ((p = list_pop(&loop->unhandled, &loop->unhandled_tail)) != NULL) vow__unref(p);
    while ((p = list_pop(&loop->handled_late, &loop->handled_late_tail)) != NULL) vow__unref(p);
    /* ...then what the promises hold: values, errors, combinator states, cancel callbacks. */
    each_promise(loop, release_holdings);
    /* Drop the holds: promises nobody else references go now; user-held ones stay as
     * closed handles until vow_unref. Stripped promises hold no other promise, so
     * freeing one never frees another. */
    each_promise(loop, drop_hold);
}
