/* promise/async.c - async/await on the reactor's fibers (src/fiber.h), async generators
 * and `async for` (vow/async.h).
 *
 * A coroutine is one record: its fiber (stack and context), the reaction record of the
 * await in progress (VOW__R_AWAIT, embedded; its derived promise is the coroutine's own,
 * so the upstream rule sees the coroutine as a live waiter of what it awaits), and the
 * cancel callback of its promise (embedded). The promise is vow's own (VOW__F_SYNC: the
 * user cannot settle it) and defers cancellation (VOW__F_DEFER_CANCEL): a vow_cancel runs
 * the callback, which turns it into a request for the coroutine, and the promise settles
 * when the coroutine returns.
 *
 * await: the record is registered on the awaited promise (PerformPromiseThen), the fiber
 * suspends; the record's job (one job after the settlement, as V8's await of a native
 * promise) resumes it. A cancel request while the record waits: the cancellation has
 * already dropped the record (cancel.c, through the promise's `waiting`) and cancelled
 * what it awaited under the upstream rule; the callback queues the record again, with no
 * source, and that job resumes the coroutine with the cancellation.
 *
 * References to a record: its life (from the start until its function returned and the
 * fiber was released), its promise's cancel callback (until the promise settles or goes),
 * a pending start (vow_create_task_async's immediate), and a generator's stream. The
 * record goes when the last is dropped.
 */
#include "internal.h"

enum { CO_NEW = 0, CO_RUNNING, CO_AWAITING, CO_YIELDED, CO_DONE };

struct vow__coro {
    vow__fiber fiber;         /* first: the running fiber is the running coroutine */
    vow__rec rec;             /* the await's record (VOW__RF_EMBEDDED) */
    struct vow__cancel_cb cb; /* the promise's cancel callback (embedded) */
    vow_loop_t *loop;
    vow_t *promise; /* the coroutine's (one reference, dropped when its function is done) */
    vow_async_fn fn;
    void *arg;
    void (*arg_free)(void *);
    size_t stack_size;
    vow_t *awaiting;     /* the await in progress: what it awaits (one reference) */
    vow_t *result;       /* set by the await's job: the settled promise it awaited (borrowed:
                            `awaiting` holds it); NULL: resumed with the cancellation */
    int state;           /* CO_* */
    int cancelling;      /* asyncio's count: requests not taken back by vow_uncancel */
    unsigned pending;    /* a request waits for the next await */
    unsigned delivered;  /* a cancellation was delivered */
    unsigned rec_cancel; /* the record is queued to deliver a cancellation */
    unsigned by_job;     /* resumed by its await's job, which waits for it to suspend */
    unsigned sweep;      /* vow__gens_close's mark */
    unsigned refs;
    vow_timer_t start;             /* vow_create_task_async's start (an immediate), 0 */
    struct vow__coro *next, *prev; /* the loop's live coroutines */
    /* an async generator's */
    unsigned is_gen;
    unsigned closing; /* the stream was closed: yields answer VOW_ECLOSED */
    vow_t *yp;        /* the pull waiting for an item (one reference), NULL */
    struct vow__cancel_cb ycb;
};
typedef struct vow__coro coro;

static coro *current(void) { return (coro *)vow__fiber_current(); }

static void coro_unref(coro *c) {
    vow__assert(c->refs > 0, "coroutine refcount underflow");
    if (--c->refs != 0) return;
    vow__assert(c->rec.state == VOW__RS_IDLE, "freeing a coroutine whose await is pending");
    vow__assert(c->fiber.map == NULL, "freeing a coroutine that holds a stack");
    if (c->arg_free != NULL) c->arg_free(c->arg);
    vow_t *p = c->promise; /* last: it keeps the loop's memory while the record lives */
    vow__free(c);
    vow__unref(p);
}

static void cb_free(void *ctx) { coro_unref(ctx); }

static void unlink_coro(coro *c) {
    struct vow__promise_layer *pl = vow__pl(c->loop);
    VOW__DLIST_UNLINK(&pl->coros, c);
}

/* After a resume returned (the coroutine suspended or finished): a finished one gives its
 * stack back and drops its life reference. */
static void after_resume(coro *c) {
    if (!c->fiber.done) return;
    vow__fiber_release(&c->fiber);
    c->state = CO_DONE;
    unlink_coro(c);
    coro_unref(c);
}

static void resume(coro *c) {
    c->state = CO_RUNNING;
    vow__fiber_resume(&c->fiber);
    after_resume(c);
}

/* ---- the end of a coroutine ---------------------------------------------------------------- */

static void gen_finish(coro *c, vow_result_t *res);

static void finish(coro *c, vow_result_t *res) {
    if (c->arg_free != NULL) c->arg_free(c->arg);
    c->arg_free = NULL;
    if (c->is_gen) gen_finish(c, res);
    vow_t *p = c->promise;
    if (p->state != VOW_PENDING || vow__closed(p)) {
        vow__result_release(res);
        return;
    }
    if ((c->delivered || c->pending) && c->cancelling > 0 && res->kind != VOW_RESULT_ERROR) {
        /* Returned normally after a cancellation it did not take back (delivered, or
         * requested while it ran and never delivered: no await came; asyncio's
         * _must_cancel ends such a task cancelled too). */
        vow__result_release(res);
        *res = vow_fail(vow_error_new(VOW_ECANCELED, NULL));
    }
    vow__resolve_with(p, res, NULL); /* p stays: the record holds it until it goes */
}

static void coro_main(vow__fiber *f) {
    coro *c = (coro *)f;
    vow_result_t res = c->fn(c->loop, c->arg);
    finish(c, &res);
}

/* ---- cancellation ----------------------------------------------------------------------- */

/* Queues the await's record with no source: its job resumes the coroutine with the
 * cancellation. */
static void queue_cancel(coro *c) {
    vow__rec_init(&c->rec, VOW__R_AWAIT, vow__ref(c->promise), VOW__RF_EMBEDDED);
    c->rec.source = NULL;
    c->rec.state = VOW__RS_QUEUED;
    c->rec.job.fn = vow__reaction_job;
    c->rec_cancel = 1;
    vow__job_push(c->loop, &c->rec.job);
}

static void start_clear(coro *c);

/* The promise's cancel callback: a request. */
static void coro_cancel(vow_loop_t *loop, void *ctx) {
    (void)loop;
    coro *c = ctx;
    vow_t *p = c->promise;
    switch (c->state) {
    case CO_NEW:            /* not started: it never will (asyncio: a task cancelled before its
                    first step never runs) */
        c->state = CO_DONE; /* first: the start's release sees it */
        start_clear(c);
        vow__reject(p, vow_error_new(VOW_ECANCELED, NULL));
        coro_unref(c); /* its life */
        return;
    case CO_DONE: /* returned, and following the promise it returned: that wait was
                     dropped by the cancellation, so the promise is cancelled now */
        vow__reject(p, vow_error_new(VOW_ECANCELED, NULL));
        return;
    default: break;
    }
    c->cancelling++;
    if (c->state == CO_AWAITING && c->rec.state == VOW__RS_IDLE) {
        /* The cancellation dropped the record from what it awaited. */
        queue_cancel(c);
    } else if (c->state == CO_AWAITING && c->rec.state == VOW__RS_WAITING) {
        vow__drop_waiter(&c->rec);
        queue_cancel(c);
    } else if (c->state == CO_AWAITING && c->rec_cancel) {
        /* A cancellation is on its way already: one delivery. */
    } else {
        /* Running, at a yield, or its await's value is on its way: the next await. */
        c->pending = 1;
    }
}

/* ---- starting ---------------------------------------------------------------------------- */

static coro *coro_new(vow_loop_t *loop, vow_async_fn fn, void *arg, void (*arg_free)(void *),
                      size_t stack_size, vow_t **pp) {
    coro *c = vow__calloc(1, sizeof *c);
    vow_t *p = c != NULL
                   ? vow__promise_new(loop, VOW__F_SETTLEABLE | VOW__F_SYNC | VOW__F_DEFER_CANCEL)
                   : NULL;
    if (p == NULL) {
        vow__free(c);
        if (arg_free != NULL) arg_free(arg);
        *pp = NULL;
        return NULL;
    }
    c->loop = loop;
    c->promise = p;
    c->fn = fn;
    c->arg = arg;
    c->arg_free = arg_free;
    c->stack_size = stack_size;
    c->cb =
        (struct vow__cancel_cb){.fn = coro_cancel, .ctx = c, .ctx_free = cb_free, .embedded = 1};
    p->cancel = &c->cb;
    c->refs = 2; /* its life, the cancel callback */
    *pp = vow__ref(p);
    return c;
}

/* Maps the stack and runs the coroutine to its first suspension. A stack that cannot be
 * made rejects the promise. */
static void coro_start(coro *c) {
    int rc = vow__fiber_init(c->loop, &c->fiber, c->stack_size, coro_main);
    if (rc != 0) {
        c->state = CO_DONE;
        if (c->arg_free != NULL) c->arg_free(c->arg);
        c->arg_free = NULL;
        vow__reject(c->promise,
                    vow_error_new(rc, rc == VOW_ENOMEM ? "no stack for the coroutine" : NULL));
        coro_unref(c);
        return;
    }
    struct vow__promise_layer *pl = vow__pl(c->loop);
    VOW__DLIST_PUSH(&pl->coros, c);
    resume(c);
}

vow_t *vow_async_ex(vow_loop_t *loop, vow_async_fn fn, void *arg, void (*arg_free)(void *),
                    size_t stack_size) {
    if (loop == NULL || loop->closed) {
        if (arg_free != NULL) arg_free(arg);
        return NULL;
    }
    if (fn == NULL || (stack_size != 0 && !vow__fiber_size_ok(stack_size))) {
        if (arg_free != NULL) arg_free(arg);
        return vow_rejected(
            loop, vow_error_new(VOW_EINVAL, fn == NULL ? "async: fn NULL" : "async: stack size"));
    }
    vow_t *p;
    coro *c = coro_new(loop, fn, arg, arg_free, stack_size, &p);
    if (c != NULL) coro_start(c);
    return p;
}

vow_t *vow_async(vow_loop_t *loop, vow_async_fn fn, void *arg, void (*arg_free)(void *)) {
    return vow_async_ex(loop, fn, arg, arg_free, 0);
}

int vow_async_set_stack_size(vow_loop_t *loop, size_t stack_size) {
    if (loop == NULL) return VOW_EINVAL;
    if (loop->closed) return VOW_ECLOSED;
    return vow__fiber_set_default(loop, stack_size);
}

int vow_async_live(const vow_loop_t *loop) {
    if (loop == NULL) return VOW_EINVAL;
    if (loop->closed) return VOW_ECLOSED;
    size_t n = vow__fiber_live(loop);
    return n > INT32_MAX ? INT32_MAX : (int)n;
}

int vow_in_coroutine(void) { return current() != NULL; }

vow_result_t vow_rethrow(int rc, vow_outcome_t *out) {
    if (out != NULL && out->state == VOW_REJECTED && out->error != NULL) {
        vow_error_t *e = out->error;
        out->error = NULL;
        out->state = VOW_PENDING;
        return vow_fail(e);
    }
    return vow_fail_code(rc != 0 ? rc : VOW_EUSER, NULL);
}

struct main_args {
    vow_async_fn fn;
    void *arg;
};

static vow_t *main_start(vow_loop_t *loop, void *arg) {
    struct main_args *m = arg;
    return vow_async(loop, m->fn, m->arg, NULL);
}

int vow_main_async(vow_async_fn fn, void *arg) {
    if (fn == NULL) return vow_main(NULL, NULL);
    /* vow_main's fn takes one argument: the body and its argument travel together. */
    struct main_args m = {fn, arg};
    return vow_main(main_start, &m);
}

/* ---- create_task with a coroutine body ---------------------------------------------------- */

static void start_cb(vow_loop_t *loop, void *arg) {
    (void)loop;
    coro *c = arg;
    c->start = 0; /* running: nothing to clear */
    if (c->state != CO_NEW) return;
    coro_start(c);
}

/* The start immediate is freed (after it ran, cleared, or dropped by the teardown): an
 * unstarted coroutine never runs, its life ends. */
void vow__coro_start_free(void *arg) {
    coro *c = arg;
    c->start = 0;
    if (c->state == CO_NEW) {
        c->state = CO_DONE;
        coro_unref(c); /* its life (arg_free runs when the record goes) */
    }
    coro_unref(c); /* the start's */
}

vow_t *vow__coro_start_promise(void *arg) { return ((coro *)arg)->promise; }

static void start_clear(coro *c) {
    if (c->start == 0) return;
    vow_timer_t id = c->start;
    c->start = 0;
    vow__timer_clear(c->loop, id, 1); /* its release drops the start's reference */
}

vow_t *vow_create_task_async(vow_loop_t *loop, vow_async_fn fn, void *arg,
                             void (*arg_free)(void *)) {
    if (loop == NULL || loop->closed) {
        if (arg_free != NULL) arg_free(arg);
        return NULL;
    }
    if (fn == NULL) {
        if (arg_free != NULL) arg_free(arg);
        return vow_rejected(loop, vow_error_new(VOW_EINVAL, "create_task: fn NULL"));
    }
    vow_t *p;
    coro *c = coro_new(loop, fn, arg, arg_free, 0, &p);
    if (c == NULL) return NULL;
    c->refs++; /* the start's */
    if (vow__timer_start(loop, VOW__T_IMMEDIATE, 0, start_cb, c, VOW__REL_CORO_START, &c->start) !=
        0) {
        c->refs--;
        c->state = CO_DONE;
        vow__unref(p);
        p = NULL;
        vow__cancel_cb_release(c->promise); /* the callback's reference */
        coro_unref(c);                      /* its life: arg_free runs */
        return NULL;
    }
    return p;
}

/* ---- await ------------------------------------------------------------------------------- */

static void outcome_clear(vow_outcome_t *out) {
    if (out == NULL) return;
    out->state = VOW_PENDING;
    out->value = vow__none();
    out->error = NULL;
}

static int take_outcome(vow_t *p, vow_outcome_t *out);
static int await_suspend(coro *c, vow_t *p, vow_outcome_t *out);

static int reject_code(const vow_error_t *e) {
    int code = vow_error_code(e);
    return code < 0 ? code : VOW_EUSER;
}

/* The cancellation delivered to the running coroutine. */
static int deliver_cancel(coro *c, vow_outcome_t *out, int code) {
    if (code == VOW_ECANCELED) c->delivered = 1;
    if (out != NULL) {
        out->state = VOW_REJECTED;
        out->error = vow_error_new(code, NULL);
    }
    return code;
}

int vow_await(vow_t *p, vow_outcome_t *out) {
    outcome_clear(out);
    coro *c = current();
    if (c == NULL) return VOW_EPERM;
    if (p == NULL) return c->loop->closed ? VOW_ECLOSED : VOW_ENOMEM;
    if (p->loop != c->loop) {
        vow__unref(p);
        return VOW_EINVAL;
    }
    if (c->loop->closed || vow__closed(p)) {
        vow__unref(p);
        return VOW_ECLOSED;
    }
    if (c->pending && p->state == VOW_PENDING) {
        /* A request that came while it ran: delivered here; what it was about to await
         * is cancelled under the upstream rule (nobody else waits on it). An await of a
         * promise that has settled already (a queue get or a stream next that took an
         * item) gets its outcome instead, so nothing handed over is lost: the request
         * waits for the next await of a pending promise, or the return. */
        c->pending = 0;
        if (!vow__has_live_waiter(p, NULL)) vow__cancel(p);
        if (p->state == VOW_REJECTED) vow__tracker_handle(p);
        p->flags |= VOW__F_HANDLED;
        vow__unref(p);
        return deliver_cancel(c, out, VOW_ECANCELED);
    }
    if (p->state != VOW_PENDING && c->by_job && c->loop->jobs_len == 0) {
        /* The job this await would queue is the next one to run: the drain's job that
         * resumed this coroutine returns to an empty queue, pops the job and resumes the
         * coroutine. Nothing can run in between, so it goes on now, with the same
         * outcome in the same job (only the moment an earlier promise's last reference
         * drops moves, which nothing observes but a value's destructor). */
        if (p->state == VOW_REJECTED) vow__tracker_handle(p);
        p->flags |= VOW__F_HANDLED;
        return take_outcome(p, out);
    }
    return await_suspend(c, p, out);
}

/* The await's suspension: a function of its own, entered by a jump (the tail call above),
 * so the short cut's path saves no register for the switch (src/fiber_switch.h: the
 * compiler saves the callee-saved registers around an inline switch). */
static __attribute__((noinline)) int await_suspend(coro *c, vow_t *p, vow_outcome_t *out) {
    c->awaiting = p;
    vow__rec_init(&c->rec, VOW__R_AWAIT, vow__ref(c->promise), VOW__RF_EMBEDDED);
    vow__perform_then(p, &c->rec);
    c->state = CO_AWAITING;
    c->by_job = 0;
    vow__fiber_suspend();
    /* Resumed by the record's job (result set; NULL: a cancellation), or by the teardown. */
    c->state = CO_RUNNING;
    int resumed_by_cancel = c->result == NULL;
    c->result = NULL;
    c->awaiting = NULL;
    if (resumed_by_cancel) {
        vow__unref(p);
        return deliver_cancel(c, out, VOW_ECANCELED);
    }
    return take_outcome(p, out);
}

/* The outcome of settled p into *out; drops the caller's reference to p. A plain value
 * (no box to share) is copied here, saving no register; the rest in take_outcome_slow. */
static int take_outcome_slow(vow_t *p, vow_outcome_t *out);
static int take_outcome(vow_t *p, vow_outcome_t *out) {
    if (p->state != VOW_FULFILLED || p->value.boxed) return take_outcome_slow(p, out);
    if (out != NULL) {
        out->state = VOW_FULFILLED;
        out->value = vow__value_share(&p->value);
    }
    vow__unref(p);
    return 0;
}

static __attribute__((noinline)) int take_outcome_slow(vow_t *p, vow_outcome_t *out) {
    const vow_t *src = p;
    int rc = 0;
    if (src->state == VOW_FULFILLED) {
        if (out != NULL) {
            out->state = VOW_FULFILLED;
            out->value = vow__value_share(&src->value);
        }
    } else {
        rc = reject_code(src->error);
        if (out != NULL) {
            out->state = VOW_REJECTED;
            out->error = vow_error_ref(src->error);
        }
    }
    vow__unref(p);
    return rc;
}

void vow__await_job(vow_loop_t *loop, vow__rec *r, vow_t *src) {
    (void)loop;
    coro *c = (coro *)((char *)r - offsetof(coro, rec));
    vow_t *d = r->derived; /* the record's reference to the coroutine's promise */
    r->derived = NULL;
    c->rec_cancel = 0;
    c->result = src; /* NULL: the cancellation */
    c->refs++;       /* the coroutine may finish inside */
    c->by_job = 1;
    resume(c);
    c->by_job = 0;
    coro_unref(c);
    vow__unref(d);
}

int vow_uncancel(void) {
    coro *c = current();
    if (c == NULL) return VOW_EPERM;
    if (c->cancelling > 0) c->cancelling--;
    if (c->cancelling == 0) c->pending = 0;
    return c->cancelling;
}

int vow_cancelling(void) {
    coro *c = current();
    return c == NULL ? VOW_EPERM : c->cancelling;
}

/* ---- the loop's sweep and teardown ---------------------------------------------------------- */

void vow__coros_each(vow_loop_t *loop, void (*fn)(vow_t *p, void *ctx), void *ctx) {
    for (coro *c = vow__pl(loop)->coros.head; c != NULL; c = c->next)
        if (!c->is_gen && c->cancelling == 0 && c->promise->state == VOW_PENDING)
            fn(c->promise, ctx); /* once: a coroutine asked already is finishing */
}

int vow__coros_finishing(const vow_loop_t *loop) {
    int n = 0;
    for (const coro *c = vow__pl(loop)->coros.head; c != NULL; c = c->next)
        if (c->cancelling > 0 || c->closing) n++;
    return n;
}

static void gen_cleanup(vow_loop_t *loop, void *ctx);

void vow__gens_close(vow_loop_t *loop) {
    /* asyncio.run's shutdown_asyncgens: every generator still suspended is closed while
     * the loop still runs, so its cleanup may await. Marked first, then closed one at a
     * time from the head: a close runs code that may start or end coroutines. */
    struct vow__promise_layer *pl = vow__pl(loop);
    for (coro *c = pl->coros.head; c != NULL; c = c->next)
        c->sweep = c->is_gen && !c->closing && (c->state == CO_YIELDED || c->state == CO_AWAITING);
    for (;;) {
        coro *c = pl->coros.head;
        while (c != NULL && !c->sweep) c = c->next;
        if (c == NULL) return;
        c->sweep = 0;
        gen_cleanup(loop, c);
    }
}

void vow__coros_teardown(vow_loop_t *loop) {
    struct vow__promise_layer *pl = vow__pl(loop);
    /* Each one is resumed until it finishes (its awaits and yields answer at once now);
     * one that starts another while finishing puts it on the list, which is done next. */
    coro *c;
    while ((c = pl->coros.head) != NULL) {
        c->refs++;
        if (c->rec.state == VOW__RS_WAITING) {
            vow__unlink_waiter(&c->rec);
            vow_t *d = c->rec.derived;
            c->rec.derived = NULL;
            vow__unref(d);
        }
        c->closing = 1;
        if (c->state == CO_NEW || !c->fiber.started) {
            /* (never ran: its start immediate was freed with the timers) */
            c->fiber.done = 1;
            after_resume(c);
        } else {
            c->result = NULL; /* its await answers VOW_ECANCELED */
            resume(c);
            vow__assert(c->fiber.done, "a coroutine suspended during the teardown");
        }
        coro_unref(c);
    }
}

/* ---- async generators ----------------------------------------------------------------------- */

static void gen_finish(coro *c, vow_result_t *res) {
    vow_t *yp = c->yp;
    c->yp = NULL;
    if (yp == NULL) {
        vow__result_release(res);
    } else {
        if (yp->state == VOW_PENDING && !vow__closed(yp)) {
            if (res->kind == VOW_RESULT_ERROR) {
                vow__reject(yp, res->error);
            } else {
                vow__result_release(res);
                vow__fulfill(yp, vow_stream_end_value());
            }
        } else {
            vow__result_release(res);
        }
        vow__unref(yp);
    }
    *res = vow_ok_none();
}

static void ycb_free(void *ctx) { coro_unref(ctx); }

/* The stream cancelled the pull in flight (it does when the consumer closes it; a
 * cancelled next alone leaves the pull running, its item goes to the next next): the
 * generator's await is cancelled. */
/* A close reaches a generator's await only while it waits: an await whose value is on its
 * way gets it (the next yield answers VOW_ECLOSED), and one close is one request however
 * many of the stream's paths report it (the pull's cancel, the cleanup). */
static void gen_cancel_wait(vow_loop_t *loop, coro *c) {
    if (c->state == CO_AWAITING && c->rec.state == VOW__RS_WAITING) coro_cancel(loop, c);
}

static void gen_pull_cancel(vow_loop_t *loop, void *ctx) {
    coro *c = ctx;
    vow_t *yp = c->yp;
    c->yp = NULL;
    c->closing = 1;
    gen_cancel_wait(loop, c);
    vow__unref(yp);
}

static vow_t *gen_pull(vow_loop_t *loop, void *ctx) {
    coro *c = ctx;
    if (c->state == CO_DONE) return vow_resolved(loop, vow_stream_end_value());
    vow_t *yp = vow__promise_new(loop, VOW__F_SETTLEABLE | VOW__F_SYNC);
    if (yp == NULL) return NULL;
    c->ycb = (struct vow__cancel_cb){
        .fn = gen_pull_cancel, .ctx = c, .ctx_free = ycb_free, .embedded = 1};
    yp->cancel = &c->ycb;
    c->refs++;
    vow__unref(c->yp);
    c->yp = vow__ref(yp);
    c->refs++;
    if (c->state == CO_NEW) {
        coro_start(c);
        if (c->state == CO_DONE && c->yp == yp && yp->state == VOW_PENDING) {
            /* No stack: the stream fails with the coroutine's error. */
            c->yp = NULL;
            vow__reject(yp, vow_error_ref(c->promise->error));
            vow__unref(yp);
        }
    } else if (c->state == CO_YIELDED) {
        resume(c);
    }
    coro_unref(c);
    return yp;
}

static void gen_cleanup(vow_loop_t *loop, void *ctx) {
    (void)loop;
    coro *c = ctx;
    c->closing = 1;
    c->refs++;
    if (c->state == CO_NEW) {
        /* Closed before the first next: the body never runs. */
        c->state = CO_DONE;
        if (c->arg_free != NULL) c->arg_free(c->arg);
        c->arg_free = NULL;
        if (!vow__closed(c->promise)) vow__reject(c->promise, vow_error_new(VOW_ECLOSED, NULL));
        coro_unref(c); /* its life */
    } else if (c->state == CO_YIELDED) {
        resume(c); /* its vow_yield answers VOW_ECLOSED */
    } else if (c->state == CO_AWAITING) {
        gen_cancel_wait(loop, c);
    }
    coro_unref(c);
}

/* The stream's memory goes. A generator it never started (the stream failed first: no
 * memory for the first pull) never will: its life ends here; one it started and never
 * closed (it failed) is closed now. */
static void gen_ctx_free(void *ctx) {
    coro *c = ctx;
    if (c->state != CO_NEW && c->state != CO_DONE && !c->closing && !c->loop->closed)
        gen_cleanup(c->loop, c); /* a stream that failed (out of memory) never closed it */
    if (c->state == CO_NEW) {
        c->state = CO_DONE;
        if (!vow__closed(c->promise))
            vow__reject(c->promise, vow_error_new(VOW_ECLOSED, NULL));
        else
            vow__cancel_cb_release(c->promise);
        coro_unref(c); /* its life */
    }
    coro_unref(c); /* the stream's */
}

vow_stream_t *vow_async_gen(vow_loop_t *loop, vow_async_fn fn, void *arg,
                            void (*arg_free)(void *)) {
    if (loop == NULL || loop->closed || fn == NULL) {
        if (arg_free != NULL) arg_free(arg);
        return NULL;
    }
    vow_t *p;
    coro *c = coro_new(loop, fn, arg, arg_free, 0, &p);
    if (c == NULL) return NULL;
    vow__unref(p); /* nobody awaits a generator's own promise: never report it */
    c->promise->flags |= VOW__F_HANDLED;
    c->is_gen = 1;
    c->refs++; /* the stream's */
    vow_stream_t *s = vow_stream_new(loop, 0, gen_pull, gen_cleanup, c, gen_ctx_free);
    /* NULL: gen_ctx_free ran, and ended the unstarted generator (arg_free ran) */
    return s;
}

int vow_yield(vow_value_t item) {
    coro *c = current();
    if (c == NULL || !c->is_gen) {
        vow_value_release(&item);
        return VOW_EPERM;
    }
    if (c->closing || c->loop->closed) {
        vow_value_release(&item);
        return VOW_ECLOSED;
    }
    vow_t *yp = c->yp;
    c->yp = NULL;
    if (yp == NULL || yp->state != VOW_PENDING) {
        /* The pull was cancelled: nobody takes the item. */
        vow_value_release(&item);
        vow__unref(yp);
        return c->closing ? VOW_ECLOSED : VOW_ECANCELED;
    }
    vow__fulfill_move(yp, &item);
    vow__unref(yp);
    c->state = CO_YIELDED;
    vow__fiber_suspend();
    c->state = CO_RUNNING;
    return c->closing || c->loop->closed ? VOW_ECLOSED : 0;
}

int vow_await_next(vow_stream_t *s, vow_outcome_t *out) {
    outcome_clear(out);
    coro *c = current();
    if (c == NULL) return VOW_EPERM;
    if (s == NULL) return VOW_EINVAL;
    if (c->loop->closed) return VOW_ECLOSED;
    vow_outcome_t o;
    int rc = vow_await(vow_stream_next(s), &o);
    if (rc == 0 && vow_stream_is_end(&o.value)) {
        vow_outcome_release(&o);
        return 0;
    }
    if (out != NULL)
        *out = o;
    else
        vow_outcome_release(&o);
    return rc == 0 ? 1 : rc;
}
