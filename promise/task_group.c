/* promise/task_group.c - asyncio.TaskGroup (Python 3.11): tasks added to a group are
 * awaited together by join; the first failure cancels the tasks still pending (from an
 * immediate, as asyncio learns of a task's end through call_soon), join waits for every
 * task and rejects with an aggregate of the failures (not the cancellations) in the order
 * the tasks were added, or fulfils with the list of their values.
 *
 * The group's state is the join promise's combine state: one COMBINE record per task,
 * each allocated on its own (the group grows as tasks are added) and freed with the state.
 */
#include <string.h>

#include "internal.h"

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
        if (c->group.outs[i].state == VOW_REJECTED) {
            n_rejected++;
            if (!vow_is_cancellation(c->group.outs[i].error)) n_err++;
        }
    if (n_err > 0) {
        vow_error_t **errs = vow__malloc(n_err * sizeof *errs);
        if (errs == NULL) {
            vow__reject(d, vow_error_new(VOW_ENOMEM, NULL));
            return;
        }
        size_t k = 0;
        for (size_t i = 0; i < c->n; i++)
            if (c->group.outs[i].state == VOW_REJECTED &&
                !vow_is_cancellation(c->group.outs[i].error))
                errs[k++] = vow_error_ref(c->group.outs[i].error);
        vow__reject(d, vow_error_aggregate("task group failed", errs, n_err));
        vow__free(errs);
    } else if (n_rejected > 0) {
        vow__reject(d, vow_error_new(VOW_ECANCELED, "task group cancelled"));
    } else {
        int oom;
        vow_outcome_t *outs = c->group.outs;
        size_t n = c->n;
        c->group.outs = NULL; /* every task has settled: the outcomes move to the list */
        vow_value_t v = vow__list_from_outcomes(outs, n, &oom);
        if (oom)
            vow__reject(d, vow_error_new(VOW_ENOMEM, NULL));
        else
            vow__fulfill(d, v);
    }
}

static void group_abort(vow_t *d) {
    struct vow__combine *c = d->combine;
    c->group.aborted = 1;
    /* Cancel every task still pending, and keep waiting for it (asyncio's _abort). */
    for (size_t i = 0; i < c->n; i++) {
        vow__rec *r = c->group.recs[i];
        if (r->state == VOW__RS_WAITING && r->owner->state == VOW_PENDING) {
            vow_t *task = vow__ref(r->owner);
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

static void group_job(vow_loop_t *loop, vow__rec *r, vow_t *src) {
    vow_t *d = r->derived;
    struct vow__combine *c = d->combine;
    size_t i = r->index;
    int fulfilled = src->state == VOW_FULFILLED;
    c->group.outs[i].state = fulfilled ? VOW_FULFILLED : VOW_REJECTED;
    if (fulfilled)
        c->group.outs[i].value = vow_value_share(&src->value);
    else
        c->group.outs[i].error = vow_error_ref(src->error);
    c->remaining--;
    if (!fulfilled && !vow_is_cancellation(src->error) && !c->group.aborted && c->timer == 0) {
        /* asyncio runs a task's done callbacks with call_soon, so the group learns of a
         * failure on the next turn, after every task that failed in this turn has: abort
         * from an immediate (the check phase), and they all reach the aggregate. */
        vow__ref(d);
        if (vow__timer_start(loop, VOW__T_IMMEDIATE, 0, group_abort_now, d, VOW__REL_UNREF,
                             &c->timer) != 0) {
            vow__unref(d);
            group_abort(d); /* out of memory: abort at once rather than not at all */
        }
    }
    if (c->group.joined && c->remaining == 0 && d->state == VOW_PENDING) group_finish(d);
}

/* asyncio: cancelling a TaskGroup's parent cancels every pending task, whoever else waits
 * on it (the group's own abort does the same). */
static void group_cancel(vow_t *d, vow__worklist *work) {
    struct vow__combine *c = d->combine;
    for (size_t i = 0; i < c->n; i++) {
        vow__rec *r = c->group.recs[i];
        if (r->state != VOW__RS_WAITING) continue;
        vow_t *task = vow__ref(r->owner);
        vow__rec_free(d->loop, r); /* unlinks it */
        if (task->state == VOW_PENDING) vow__work_push(work, task);
        vow__unref(task);
    }
}

static void group_free(struct vow__combine *c) {
    for (size_t i = 0; i < c->n; i++) {
        if (c->group.outs != NULL) vow_outcome_release(&c->group.outs[i]);
        vow__assert(c->group.recs[i]->state == VOW__RS_IDLE, "a task's record still waits");
        vow__free(c->group.recs[i]);
    }
    vow__free(c->group.outs);
    vow__free(c->group.recs);
    vow__free(c);
}

static const vow__combine_ops group_ops = {group_job, group_cancel, group_free};

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
    c->ops = &group_ops;
    vow__combine_attach(d, c);
    g->refcnt = 1;
    g->loop = loop;
    g->done = d;
    g->join_called = 0;
    return g;
}

static int group_grow(struct vow__combine *c) {
    if (c->n < c->group.cap) return 0;
    size_t cap = c->group.cap ? c->group.cap * 2 : 8;
    vow__rec **recs = vow__realloc(c->group.recs, cap * sizeof *recs);
    if (recs == NULL) return VOW_ENOMEM;
    c->group.recs = recs;
    vow_outcome_t *outs = vow__realloc(c->group.outs, cap * sizeof *outs);
    if (outs == NULL) return VOW_ENOMEM; /* recs is larger than needed: harmless */
    c->group.outs = outs;
    c->group.cap = cap;
    return 0;
}

int vow_task_group_add(vow_task_group_t *g, vow_t *p) {
    int rc = 0;
    if (g == NULL || p == NULL)
        rc = VOW_EINVAL;
    else if (g->loop->closed || vow__closed(g->done))
        rc = VOW_ECLOSED;
    else if (p->loop != g->loop)
        rc = VOW_EINVAL;
    else if (g->done->combine->group.joined || g->done->combine->group.aborted) {
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
    vow__rec *r = NULL;
    if (c->n >= UINT32_MAX || group_grow(c) != 0 || (r = vow__malloc(sizeof *r)) == NULL) {
        vow__unref(p);
        return VOW_ENOMEM;
    }
    /* The record is the state's (group_free frees it): embedded, as in a block. */
    vow__rec_init(r, VOW__R_COMBINE, vow__ref(d), VOW__RF_EMBEDDED);
    size_t i = c->n++;
    c->group.recs[i] = r;
    c->group.outs[i].state = VOW_PENDING;
    c->group.outs[i].value = vow__none();
    c->group.outs[i].error = NULL;
    c->remaining++;
    r->index = (uint32_t)i;
    vow__perform_then(p, r);
    vow__unref(p);
    return 0;
}

int vow_task_group_spawn(vow_task_group_t *g, vow_task_fn fn, void *arg, void (*arg_free)(void *)) {
    if (g == NULL || fn == NULL) {
        if (arg_free != NULL) arg_free(arg);
        return VOW_EINVAL;
    }
    if (g->loop->closed) {
        if (arg_free != NULL) arg_free(arg);
        return VOW_ECLOSED;
    }
    if (g->done->combine->group.joined || g->done->combine->group.aborted) {
        if (arg_free != NULL) arg_free(arg);
        return VOW_EPERM;
    }
    vow_t *t = vow_create_task(g->loop, fn, arg, arg_free);
    if (t == NULL) return VOW_ENOMEM;
    return vow_task_group_add(g, t);
}

static void group_join(vow_task_group_t *g) {
    struct vow__combine *c = g->done->combine;
    c->group.joined = 1;
    if (c->remaining == 0 && g->done->state == VOW_PENDING) group_finish(g->done);
}

vow_t *vow_task_group_join(vow_task_group_t *g) {
    if (g == NULL) return NULL;
    if (g->loop->closed || vow__closed(g->done)) return NULL;
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
    if (!g->join_called && !vow__closed(g->done)) group_join(g);
    vow__unref(g->done);
    vow__free(g);
}
