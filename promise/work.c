/* promise/work.c - vow_work: a job on the loop's pool (src/workers.c) whose promise settles
 * on the loop's thread (vow/thread.h).
 *
 * The record is a waiter (promise/waiter.c: a promise only vow settles, a cancel callback,
 * in no line) with a pool task inside. References: the promise's cancel context, and the
 * pool's until the task comes back through the mailbox (or is taken out of the queue). The
 * worker writes only `result`, and the mailbox's release/acquire pair orders it before the
 * loop thread reads it.
 */
#include "internal.h"
#include "vow/thread.h"

struct vow_work {
    vow__waiter w; /* first (promise/waiter.c) */
    vow__task t;
    vow_loop_t *loop;
    vow_work_fn fn;
    void *arg;
    void (*arg_free)(void *);
    vow_result_t result;          /* the worker's */
    struct vow_work *next, *prev; /* the loop's jobs in flight (loop thread) */
};

/* The job is no longer in flight: off the list, and the loop no longer kept for it. */
static void landed(struct vow_work *j, int unkeep) {
    VOW__DLIST_UNLINK(&vow__pl(j->loop)->works, j);
    if (unkeep) vow__loop_unkeep(j->loop);
}

void vow__works_each(vow_loop_t *loop, void (*fn)(vow_t *p, void *ctx), void *ctx) {
    for (struct vow_work *j = vow__pl(loop)->works.head; j != NULL; j = j->next) fn(j->w.p, ctx);
}

static struct vow_work *first_pending(struct vow__promise_layer *pl) {
    for (struct vow_work *j = pl->works.head; j != NULL; j = j->next)
        if (j->w.p->state == VOW_PENDING && !vow__closed(j->w.p)) return j;
    return NULL;
}

void vow__works_wait(vow_loop_t *loop) {
    struct vow__promise_layer *pl = vow__pl(loop);
    /* As asyncio's shut-down executor refuses run_in_executor: from here on vow_work
     * answers a rejection, so that a job submitted while we wait (by an interval, a posted
     * function, a remote settle's reaction) cannot hold the exit forever. One that slipped
     * in since the cancellation rounds is told now (each cancel settles one, and none can
     * be added: the loop is bounded). */
    pl->works_closed = 1;
    size_t n = 0;
    for (struct vow_work *j = pl->works.head; j != NULL; j = j->next) n++;
    for (struct vow_work *j; n-- > 0 && (j = first_pending(pl)) != NULL;) {
        vow_t *p = vow__ref(j->w.p);
        vow__cancel(p);
        vow__unref(p);
    }
    while (!loop->closed && pl->works.head != NULL) {
        ev_run(loop->evl, EVRUN_ONCE); /* the mailbox's wakeup; its callback drains */
        vow__drain(loop);
    }
}

static void arg_release(struct vow_work *j) {
    void (*arg_free)(void *) = j->arg_free;
    j->arg_free = NULL;
    if (arg_free != NULL) arg_free(j->arg);
}

/* On a worker. */
static void work_run(vow__task *t) {
    struct vow_work *j = vow__container_of(t, struct vow_work, t);
    j->result = j->fn(j, j->arg);
}

/* On the loop's thread: the job came back (RUN), or is dropped at teardown (DROP). */
static void work_done(vow_loop_t *loop, vow__xnode *x, int how) {
    struct vow_work *j = vow__container_of(x, struct vow_work, t.x);
    vow_t *p = j->w.p;
    int kind_ok = j->result.kind == VOW_RESULT_VALUE || j->result.kind == VOW_RESULT_ERROR;
    (void)loop;
    landed(j, how == VOW__JOB_RUN);
    if (how == VOW__JOB_RUN && p->state == VOW_PENDING && !vow__closed(p) && kind_ok) {
        vow__ref(p);
        vow__resolve_with(p, &j->result, NULL);
        vow__unref(p);
    } else {
        vow__result_release(&j->result);
        if (how == VOW__JOB_RUN && !kind_ok)
            vow__waiter_reject(&j->w,
                               vow_error_new(VOW_EINVAL, "a job must return a value or an error"));
    }
    arg_release(j);
    vow__waiter_put(&j->w);
}

/* The promise is being cancelled while pending. */
static void work_cancel(vow__waiter *w) {
    struct vow_work *j = (struct vow_work *)w;
    if (vow__task_cancel(j->loop, &j->t)) { /* still queued: it never runs */
        landed(j, 1);
        arg_release(j);
        vow__waiter_put(w); /* the pool's reference */
    }
    /* Running: its flag is set; work_done releases what it returns. */
}

static const struct vow__waiter_ops work_ops = {work_cancel, NULL};

vow_t *vow_work(vow_loop_t *loop, vow_work_fn fn, void *arg, void (*arg_free)(void *)) {
    if (loop == NULL || loop->closed) goto fail;
    if (fn == NULL) {
        vow_t *p = vow_rejected(loop, vow_error_new(VOW_EINVAL, "no job function"));
        if (arg_free != NULL) arg_free(arg);
        return p;
    }
    if (vow__pl(loop)->works_closed) { /* vow_run_main is exiting */
        vow_t *p = vow_rejected(loop, vow_error_new(VOW_ECLOSED, "the pool is shut down"));
        if (arg_free != NULL) arg_free(arg);
        return p;
    }
    vow__waiter *w;
    vow_t *p = vow__waiter_new(loop, sizeof(struct vow_work), NULL, &work_ops, NULL, &w);
    if (p == NULL) goto fail;
    struct vow_work *j = (struct vow_work *)w;
    j->loop = loop;
    j->fn = fn;
    j->arg = arg;
    j->arg_free = arg_free;
    j->result = vow__result_empty(VOW_RESULT_VALUE);
    j->t.run = work_run;
    j->t.x.fn = work_done;
    int rc = vow__task_submit(loop, &j->t);
    if (rc == VOW_ENOMEM) {
        vow__cancel_cb_release(p); /* the record, and its reference to p */
        vow__unref(p);
        goto fail;
    }
    if (rc != 0) {
        arg_release(j);
        vow__waiter_reject(w, vow_error_new(rc, "no thread could be started"));
        return p;
    }
    w->refs++; /* the pool's */
    vow__loop_keep(loop);
    VOW__DLIST_PUSH(&vow__pl(loop)->works, j);
    return p;
fail:
    if (arg_free != NULL) arg_free(arg);
    return NULL;
}

int vow_work_cancelled(const vow_work_t *job) {
    if (job == NULL) return VOW_EINVAL;
    return __atomic_load_n(&job->t.cancelled, __ATOMIC_ACQUIRE) != 0;
}

int vow_loop_set_threads(vow_loop_t *loop, unsigned n) {
    if (loop == NULL) return VOW_EINVAL;
    if (loop->closed) return VOW_ECLOSED;
    return vow__loop_set_threads(loop, n);
}

_Static_assert(sizeof(struct vow_work) <= VOW__WAITER_BIG, "a job's record fits a pool slot");
