/* promise/task.c - asyncio's task tools: wait, create_task and TaskGroup (Python 3.11).
 *
 * wait and task groups reuse the combinators' machinery (one COMBINE record per input,
 * the shared state in the result promise's vow__combine), with asyncio's rules instead of
 * ECMAScript's: wait never rejects and its cancellation leaves the inputs running; a task
 * group cancels its remaining tasks on the first failure and waits for them. create_task
 * starts its body from an immediate, as asyncio's call_soon does.
 */
#include <string.h>

#include "internal.h"

/* ---- wait --------------------------------------------------------------------------------- */

struct vow_wait_result {
    size_t n, n_done;
    vow_t **items; /* done first, then pending, each in input order (owned references) */
    size_t *index; /* input index of each item */
};

static void wait_result_free(void *p) {
    struct vow_wait_result *w = p;
    for (size_t i = 0; i < w->n; i++) vow__unref(w->items[i]);
    vow__free(w->items);
    vow__free(w->index);
    vow__free(w);
}

const vow_wait_result_t *vow_wait_result_of(const vow_value_t *v) {
    if (v == NULL || v->kind != VOW_VAL_PTR || !v->boxed || v->own.box->dtor != wait_result_free)
        return NULL;
    return v->u.p;
}

size_t vow_wait_done_count(const vow_wait_result_t *w) { return w != NULL ? w->n_done : 0; }
size_t vow_wait_pending_count(const vow_wait_result_t *w) {
    return w != NULL ? w->n - w->n_done : 0;
}
vow_t *vow_wait_done(const vow_wait_result_t *w, size_t i) {
    return w != NULL && i < w->n_done ? w->items[i] : NULL;
}
vow_t *vow_wait_pending(const vow_wait_result_t *w, size_t i) {
    return w != NULL && i < w->n - w->n_done ? w->items[w->n_done + i] : NULL;
}
size_t vow_wait_done_index(const vow_wait_result_t *w, size_t i) {
    return w != NULL && i < w->n_done ? w->index[i] : SIZE_MAX;
}
size_t vow_wait_pending_index(const vow_wait_result_t *w, size_t i) {
    return w != NULL && i < w->n - w->n_done ? w->index[w->n_done + i] : SIZE_MAX;
}

/* The wait is over: split the inputs by their state now (asyncio: done = the futures that
 * are done when the waiter wakes), stop waiting on the others, and fulfil. */
static void wait_complete(vow_t *d) {
    struct vow__combine *c = d->combine;
    vow_loop_t *loop = d->loop;
    vow__ref(d);
    struct vow_wait_result *w = vow__malloc(sizeof *w);
    vow_t **items = vow__malloc(c->n * sizeof *items);
    size_t *index = vow__malloc(c->n * sizeof *index);
    if (w == NULL || items == NULL || index == NULL) {
        vow__free(w);
        vow__free(items);
        vow__free(index);
        vow__reject(d, vow_error_new(VOW_ENOMEM, NULL));
    } else {
        size_t k = 0;
        for (size_t pass = 0; pass < 2; pass++)
            for (size_t i = 0; i < c->n; i++) {
                int done = c->inputs[i]->state != VOW_PENDING;
                if (done != (pass == 0)) continue;
                items[k] = vow__ref(c->inputs[i]);
                index[k++] = i;
                if (pass == 0) w->n_done = k;
            }
        if (c->n > 0 && c->inputs[index[0]]->state == VOW_PENDING) w->n_done = 0;
        w->n = c->n;
        w->items = items;
        w->index = index;
        vow__fulfill(d, vow_ptr(w, wait_result_free));
    }
    /* Stop waiting on what is still pending; cancel it only when asked. */
    for (size_t i = 0; i < c->n; i++) {
        vow__reaction *r = c->recs[i];
        if (r == NULL) continue;
        vow__unlink_waiter(r);
        vow__reaction_free(loop, r);
    }
    if (c->flags & VOW_WAIT_CANCEL_PENDING)
        for (size_t i = 0; i < c->n; i++)
            if (c->inputs[i]->state == VOW_PENDING) vow__cancel(c->inputs[i]);
    vow__unref(d);
}

static void wait_timeout(vow_loop_t *loop, void *arg) {
    (void)loop;
    vow_t *d = arg;
    d->combine->timer = 0;
    if (d->state == VOW_PENDING) wait_complete(d);
}

vow_t *vow_wait(vow_loop_t *loop, vow_t *const *inputs, size_t n, vow_wait_mode_t mode,
                uint64_t timeout_ms, unsigned flags) {
    if (loop == NULL || loop->closed || (n > 0 && inputs == NULL)) {
        for (size_t i = 0; inputs != NULL && i < n; i++) vow__unref(inputs[i]);
        return NULL;
    }
    int bad = n == 0 || n > UINT32_MAX || (mode != VOW_FIRST_COMPLETED && mode != VOW_FIRST_EXCEPTION &&
                         mode != VOW_ALL_COMPLETED) ||
              (flags & ~VOW_WAIT_CANCEL_PENDING) != 0;
    int null_input = 0;
    for (size_t i = 0; i < n; i++) {
        if (inputs[i] == NULL)
            null_input = 1;
        else if (inputs[i]->loop != loop || (inputs[i]->flags & VOW__F_CLOSED))
            bad = 1;
    }
    if (bad || null_input) {
        for (size_t i = 0; i < n; i++) vow__unref(inputs[i]);
        return null_input ? NULL
                          : vow_rejected(loop, vow_error_new(VOW_EINVAL, n == 0
                                                                  ? "wait: empty input"
                                                                  : "wait: invalid argument"));
    }
    vow_t *d = vow__promise_new(loop, 0);
    struct vow__combine *c = d != NULL ? vow__calloc(1, sizeof *c) : NULL;
    vow__reaction **recs = c != NULL ? vow__calloc(n, sizeof *recs) : NULL;
    if (c != NULL) {
        d->combine = c;
        d->flags |= VOW__F_COMBINE;
        c->kind = VOW__C_WAIT;
        c->flags = flags;
        c->mode = (int)mode;
        c->n = c->remaining = n;
        c->recs = vow__calloc(n, sizeof *c->recs);
        c->inputs = vow__calloc(n, sizeof *c->inputs);
    }
    int ok = recs != NULL && c->recs != NULL && c->inputs != NULL;
    for (size_t i = 0; ok && i < n; i++)
        if ((recs[i] = vow__reaction_new(loop, VOW__R_COMBINE, d)) == NULL) ok = 0;
    if (ok && timeout_ms != VOW_NO_TIMEOUT) {
        vow__ref(d); /* the timer's */
        if (vow__timer_start(loop, VOW__T_TIMEOUT, timeout_ms, wait_timeout, d,
                             VOW__TR_UNREF, &c->timer) != 0) {
            vow__unref(d);
            ok = 0;
        }
    }
    if (!ok) {
        for (size_t i = 0; recs != NULL && i < n; i++)
            if (recs[i] != NULL) {
                recs[i]->derived = NULL;
                vow__reaction_free(loop, recs[i]);
            }
        vow__free(recs);
        for (size_t i = 0; i < n; i++) vow__unref(inputs[i]);
        vow__unref(d);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        c->inputs[i] = inputs[i]; /* the caller's reference moves in */
        recs[i]->index = (uint32_t)i;
        vow__ref(d);
        vow__perform_then(inputs[i], recs[i]);
    }
    vow__free(recs);
    return d;
}

/* ---- task groups ------------------------------------------------------------------------ */

struct vow_task_group {
    size_t refcnt;
    vow_loop_t *loop;
    vow_t *done; /* the join promise; its combine holds the tasks' state (owned reference) */
    int join_called;
};

static void group_finish(vow_t *d) {
    struct vow__combine *c = d->combine;
    size_t n_err = 0, n_rejected = 0;
    for (size_t i = 0; i < c->n; i++)
        if (c->outs[i].state == VOW_REJECTED) {
            n_rejected++;
            if (!vow_is_cancellation(c->outs[i].error)) n_err++;
        }
    if (n_err > 0) {
        vow_error_t **errs = vow__malloc(n_err * sizeof *errs);
        if (errs == NULL) {
            vow__reject(d, vow_error_new(VOW_ENOMEM, NULL));
            return;
        }
        size_t k = 0;
        for (size_t i = 0; i < c->n; i++)
            if (c->outs[i].state == VOW_REJECTED && !vow_is_cancellation(c->outs[i].error))
                errs[k++] = vow_error_ref(c->outs[i].error);
        vow__reject(d, vow_error_aggregate("task group failed", errs, n_err));
        vow__free(errs);
    } else if (n_rejected > 0) {
        vow__reject(d, vow_error_new(VOW_ECANCELED, "task group cancelled"));
    } else {
        int oom;
        vow_outcome_t *outs = c->outs;
        size_t n = c->n;
        c->outs = NULL;
        c->n = c->cap = 0; /* the records are all gone: every task has settled */
        vow_value_t v = vow__list_value(outs, n, &oom);
        if (oom)
            vow__reject(d, vow_error_new(VOW_ENOMEM, NULL));
        else
            vow__fulfill(d, v);
    }
}

static void group_abort(vow_t *d) {
    struct vow__combine *c = d->combine;
    c->aborted = 1;
    /* Cancel every task still pending, and keep waiting for it (asyncio's _abort). */
    for (size_t i = 0; i < c->n; i++) {
        vow__reaction *r = c->recs[i];
        vow_t *owner = r != NULL ? vow__r_owner(r) : NULL;
        if (owner != NULL && owner->state == VOW_PENDING) {
            vow_t *task = vow__ref(owner);
            vow__cancel(task);
            vow__unref(task);
        }
    }
}

static void group_abort_now(vow_loop_t *loop, void *arg) {
    (void)loop;
    vow_t *d = arg;
    d->combine->timer = 0;
    if (d->state == VOW_PENDING) group_abort(d);
}

void vow__task_combine_job(vow_loop_t *loop, vow__reaction *r, vow_t *src) {
    vow_t *d = r->derived;
    struct vow__combine *c = d->combine;
    size_t i = r->index;
    int fulfilled = src->state == VOW_FULFILLED;
    if (c->kind == VOW__C_WAIT) {
        int complete = 0;
        c->remaining--;
        if (c->mode == VOW_FIRST_COMPLETED)
            complete = 1;
        else if (c->mode == VOW_FIRST_EXCEPTION && !fulfilled &&
                 !vow_is_cancellation(src->error))
            complete = 1;
        else if (c->remaining == 0)
            complete = 1;
        if (complete) wait_complete(d);
        return;
    }
    /* GROUP */
    c->outs[i].state = fulfilled ? VOW_FULFILLED : VOW_REJECTED;
    if (fulfilled)
        c->outs[i].value = vow_value_share(&src->value);
    else
        c->outs[i].error = vow_error_ref(src->error);
    c->remaining--;
    if (!fulfilled && !vow_is_cancellation(src->error) && !c->aborted && c->timer == 0) {
        /* asyncio runs a task's done callbacks with call_soon, so the group learns of a
         * failure on the next turn, after every task that failed in this turn has: abort
         * from an immediate (the check phase), and they all reach the aggregate. */
        vow__ref(d);
        if (vow__timer_start(loop, VOW__T_IMMEDIATE, 0, group_abort_now, d, VOW__TR_UNREF,
                             &c->timer) != 0) {
            vow__unref(d);
            group_abort(d); /* out of memory: abort at once rather than not at all */
        }
    }
    if (c->joined && c->remaining == 0 && d->state == VOW_PENDING) group_finish(d);
}

void vow__task_combine_free(struct vow__combine *c) {
    if (c->outs != NULL) {
        for (size_t i = 0; i < c->n; i++) vow_outcome_release(&c->outs[i]);
        vow__free(c->outs);
    }
    if (c->inputs != NULL) {
        for (size_t i = 0; i < c->n; i++) vow__unref(c->inputs[i]);
        vow__free(c->inputs);
    }
}

vow_task_group_t *vow_task_group_new(vow_loop_t *loop) {
    if (loop == NULL || loop->closed) return NULL;
    vow_task_group_t *g = vow__malloc(sizeof *g);
    vow_t *d = g != NULL ? vow__promise_new(loop, 0) : NULL;
    struct vow__combine *c = d != NULL ? vow__calloc(1, sizeof *c) : NULL;
    if (c == NULL) {
        vow__unref(d);
        vow__free(g);
        return NULL;
    }
    c->kind = VOW__C_GROUP;
    d->combine = c;
    d->flags |= VOW__F_COMBINE;
    g->refcnt = 1;
    g->loop = loop;
    g->done = d;
    g->join_called = 0;
    return g;
}

static int group_grow(struct vow__combine *c) {
    if (c->n < c->cap) return 0;
    size_t cap = c->cap ? c->cap * 2 : 8;
    vow__reaction **recs = vow__realloc(c->recs, cap * sizeof *recs);
    if (recs == NULL) return VOW_ENOMEM;
    c->recs = recs;
    vow_outcome_t *outs = vow__realloc(c->outs, cap * sizeof *outs);
    if (outs == NULL) return VOW_ENOMEM; /* recs is larger than needed: harmless */
    c->outs = outs;
    c->cap = cap;
    return 0;
}

int vow_task_group_add(vow_task_group_t *g, vow_t *p) {
    int rc = 0;
    if (g == NULL || p == NULL)
        rc = VOW_EINVAL;
    else if (g->loop->closed || (g->done->flags & VOW__F_CLOSED))
        rc = VOW_ECLOSED;
    else if (p->loop != g->loop)
        rc = VOW_EINVAL;
    else if (g->done->combine->joined || g->done->combine->aborted) {
        /* asyncio closes the coroutine it refuses: cancel the operation. */
        if (p->state == VOW_PENDING) vow__cancel(p);
        rc = VOW_EPERM;
    }
    if (rc != 0) {
        vow__unref(p);
        return rc;
    }
    vow_t *d = g->done;
    struct vow__combine *c = d->combine;
    vow__reaction *r = NULL;
    if (c->n >= UINT32_MAX || group_grow(c) != 0 ||
        (r = vow__reaction_new(g->loop, VOW__R_COMBINE, d)) == NULL) {
        vow__unref(p);
        return VOW_ENOMEM;
    }
    vow__ref(d);
    size_t i = c->n++;
    c->recs[i] = NULL;
    c->outs[i].state = VOW_PENDING;
    c->outs[i].value = vow_none();
    c->outs[i].error = NULL;
    c->remaining++;
    r->index = (uint32_t)i;
    vow__perform_then(p, r);
    vow__unref(p);
    return 0;
}

int vow_task_group_spawn(vow_task_group_t *g, vow_task_fn fn, void *arg,
                         void (*arg_free)(void *)) {
    if (g == NULL || fn == NULL) {
        if (arg_free != NULL) arg_free(arg);
        return VOW_EINVAL;
    }
    if (g->loop->closed) {
        if (arg_free != NULL) arg_free(arg);
        return VOW_ECLOSED;
    }
    if (g->done->combine->joined || g->done->combine->aborted) {
        if (arg_free != NULL) arg_free(arg);
        return VOW_EPERM;
    }
    vow_t *t = vow_create_task(g->loop, fn, arg, arg_free);
    if (t == NULL) return VOW_ENOMEM;
    return vow_task_group_add(g, t);
}

static void group_join(vow_task_group_t *g) {
    struct vow__combine *c = g->done->combine;
    c->joined = 1;
    if (c->remaining == 0 && g->done->state == VOW_PENDING) group_finish(g->done);
}

vow_t *vow_task_group_join(vow_task_group_t *g) {
    if (g == NULL) return NULL;
    if (g->loop->closed || (g->done->flags & VOW__F_CLOSED)) return NULL;
    if (g->join_called) return vow_rejected(g->loop, vow_error_new(VOW_EPERM, "already joined"));
    g->join_called = 1;
    group_join(g);
    return vow__ref(g->done);
}

vow_task_group_t *vow_task_group_ref(vow_task_group_t *g) {
    if (g != NULL) g->refcnt++;
    return g;
}

void vow_task_group_unref(vow_task_group_t *g) {
    if (g == NULL || --g->refcnt > 0) return;
    if (!g->join_called && !(g->done->flags & VOW__F_CLOSED)) group_join(g);
    vow__unref(g->done);
    vow__free(g);
}

/* ---- create_task ------------------------------------------------------------------------ */

struct task_start {
    vow_t *task;
    vow_task_fn fn;
    void *arg;
    void (*arg_free)(void *);
};

static void task_start(vow_loop_t *loop, void *arg) {
    struct task_start *ts = arg;
    vow_t *t = ts->task;
    t->timer = 0; /* the immediate is running: nothing to clear any more */
    if (t->state != VOW_PENDING) return;
    vow_t *p = ts->fn(loop, ts->arg);
    if (t->state != VOW_PENDING) {
        /* The body cancelled its own task: its operation is cancelled too, under the
         * upstream rule (asyncio delivers the cancellation at the body's next await). */
        if (p != NULL && p->loop == loop && p->state == VOW_PENDING &&
            !vow__has_live_waiter(p, NULL))
            vow__cancel(p);
        vow__unref(p);
        return;
    }
    if (p == NULL) {
        vow__reject(t, vow_error_new(VOW_ENOMEM, "task body returned NULL"));
        return;
    }
    if (p->loop != loop || (p->flags & VOW__F_CLOSED)) {
        vow__unref(p);
        vow__reject(t, vow_error_new(VOW_EINVAL, "task body returned a promise of another loop"));
        return;
    }
    vow__reaction *r = vow__reaction_new(loop, VOW__R_ADOPT, t);
    if (r == NULL) {
        vow__unref(p);
        vow__reject(t, vow_error_new(VOW_ENOMEM, NULL));
        return;
    }
    vow__ref(t);
    t->flags |= VOW__F_RESOLVED;
    vow__perform_then(p, r);
    vow__unref(p);
}

void vow__task_start_free(void *arg) {
    struct task_start *ts = arg;
    if (ts->arg_free != NULL) ts->arg_free(ts->arg);
    vow__unref(ts->task);
    vow__free(ts);
}

vow_t *vow_create_task(vow_loop_t *loop, vow_task_fn fn, void *arg, void (*arg_free)(void *)) {
    vow_t *t = NULL;
    struct task_start *ts = NULL;
    if (loop != NULL && !loop->closed && fn != NULL) {
        t = vow__promise_new(loop, 0);
        ts = t != NULL ? vow__malloc(sizeof *ts) : NULL;
    }
    if (ts == NULL) {
        vow__unref(t);
        if (arg_free != NULL) arg_free(arg);
        return NULL;
    }
    ts->task = vow__ref(t);
    ts->fn = fn;
    ts->arg = arg;
    ts->arg_free = arg_free;
    if (vow__timer_start(loop, VOW__T_IMMEDIATE, 0, task_start, ts, VOW__TR_TASK_START,
                         &t->timer) != 0) {
        vow__task_start_free(ts);
        vow__unref(t);
        return NULL;
    }
    return t;
}
