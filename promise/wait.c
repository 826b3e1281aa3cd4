/* promise/wait.c - vow_wait: asyncio.wait (Python 3.11), FIRST_COMPLETED, FIRST_EXCEPTION
 * or ALL_COMPLETED, with an optional timeout that never cancels.
 *
 * Built like the combinators (one COMBINE record per input, a block of them in the result
 * promise's state), with asyncio's rules instead of ECMAScript's: wait never rejects, it
 * fulfils with the inputs split into done and pending; cancelling the wait leaves its
 * inputs running.
 */
#include <string.h>

#include "internal.h"

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
    vow_t **inputs = c->wait.inputs;
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
        w->n_done = 0;
        for (size_t pass = 0; pass < 2; pass++)
            for (size_t i = 0; i < c->n; i++) {
                int done = inputs[i]->state != VOW_PENDING;
                if (done != (pass == 0)) continue;
                items[k] = vow__ref(inputs[i]);
                index[k++] = i;
                if (pass == 0) w->n_done = k;
            }
        w->n = c->n;
        w->items = items;
        w->index = index;
        vow__fulfill(d, vow_ptr(w, wait_result_free));
    }
    /* Stop waiting on what is still pending; cancel it only when asked. */
    for (size_t i = 0; i < c->n; i++)
        if (c->recs[i].state == VOW__RS_WAITING) vow__rec_free(loop, &c->recs[i]);
    if (c->flags & VOW_WAIT_CANCEL_PENDING)
        for (size_t i = 0; i < c->n; i++)
            if (inputs[i]->state == VOW_PENDING) vow__cancel(inputs[i]);
    vow__unref(d);
}

static void wait_job(vow_loop_t *loop, vow__rec *r, vow_t *src) {
    (void)loop;
    vow_t *d = r->derived;
    struct vow__combine *c = d->combine;
    int complete = 0;
    c->remaining--;
    if (c->wait.mode == VOW_FIRST_COMPLETED)
        complete = 1;
    else if (c->wait.mode == VOW_FIRST_EXCEPTION && src->state == VOW_REJECTED &&
             !vow_is_cancellation(src->error))
        complete = 1;
    else if (c->remaining == 0)
        complete = 1;
    if (complete) wait_complete(d);
}

/* asyncio.wait: cancelling the wait leaves its inputs running. */
static void wait_cancel(vow_t *d, vow__worklist *work) {
    (void)work;
    struct vow__combine *c = d->combine;
    for (size_t i = 0; i < c->n; i++)
        if (c->recs[i].state == VOW__RS_WAITING) vow__rec_free(d->loop, &c->recs[i]);
}

static void wait_free(struct vow__combine *c) {
#ifndef NDEBUG /* a pass over every record: debug builds only */
    for (size_t i = 0; i < c->n; i++)
        vow__assert(c->recs[i].state == VOW__RS_IDLE, "freeing a wait's busy record");
#endif
    if (c->wait.inputs != NULL) {
        vow__release_inputs(c->wait.inputs, c->n);
        vow__free(c->wait.inputs);
    }
    vow__free(c); /* the records live in c's block */
}

static const vow__combine_ops wait_ops = {wait_job, wait_cancel, wait_free};

static void wait_timeout(vow_loop_t *loop, void *arg) {
    (void)loop;
    vow_t *d = arg;
    d->combine->timer = 0;
    if (d->state == VOW_PENDING) wait_complete(d);
}

/* The misuse rule (vow/promise.h, MISUSE): NULL only for a NULL or closed loop, a NULL
 * input (it ran out of memory) or out of memory here; every other misuse is a promise
 * rejected with its code (VOW_EINVAL: empty input, inputs NULL, unknown mode or flags, an
 * input of another loop; VOW_ERANGE: too many inputs). The inputs are consumed on every
 * path. */
vow_t *vow_wait(vow_loop_t *loop, vow_t *const *inputs, size_t n, vow_wait_mode_t mode,
                uint64_t timeout_ms, unsigned flags) {
    if (loop == NULL || loop->closed) {
        for (size_t i = 0; inputs != NULL && i < n; i++) vow__unref(inputs[i]);
        return NULL;
    }
    if (n > 0 && inputs == NULL)
        return vow_rejected(loop, vow_error_new(VOW_EINVAL, "wait: inputs NULL with n > 0"));
    int null_input = 0, foreign = 0;
    for (size_t i = 0; i < n; i++) {
        if (inputs[i] == NULL)
            null_input = 1;
        else if (inputs[i]->loop != loop || vow__closed(inputs[i]))
            foreign = 1;
    }
    const char *bad = NULL;
    int code = VOW_EINVAL;
    if (n == 0)
        bad = "wait: empty input";
    else if (foreign)
        bad = "wait: input of another loop";
    else if (n > UINT32_MAX)
        bad = "wait: too many inputs", code = VOW_ERANGE;
    else if (mode != VOW_FIRST_COMPLETED && mode != VOW_FIRST_EXCEPTION &&
             mode != VOW_ALL_COMPLETED)
        bad = "wait: unknown mode";
    else if ((flags & ~VOW_WAIT_CANCEL_PENDING) != 0)
        bad = "wait: unknown flags";
    if (bad != NULL || null_input) {
        vow__release_inputs(inputs, n);
        return null_input ? NULL : vow_rejected(loop, vow_error_new(code, bad));
    }
    vow_t *d = vow__promise_new(loop, 0);
    struct vow__combine *c = NULL;
    size_t recs_at = (sizeof(struct vow__combine) + 15u) & ~(size_t)15u;
    if (d != NULL && n <= (SIZE_MAX / 2 - recs_at) / sizeof(vow__rec))
        c = vow__malloc(recs_at + n * sizeof(vow__rec));
    if (c != NULL) {
        memset(c, 0, sizeof *c);
        c->ops = &wait_ops;
        c->recs = (vow__rec *)((char *)c + recs_at);
        c->flags = flags;
        c->wait.mode = (int)mode;
        c->n = c->remaining = n;
        vow__combine_attach(d, c);
        c->wait.inputs = vow__calloc(n, sizeof *c->wait.inputs);
    }
    int ok = c != NULL && c->wait.inputs != NULL;
    if (ok && timeout_ms != VOW_NO_TIMEOUT) {
        vow__ref(d); /* the timer's */
        if (vow__timer_start(loop, VOW__T_TIMEOUT, timeout_ms, wait_timeout, d, VOW__REL_UNREF,
                             &c->timer) != 0) {
            vow__unref(d);
            ok = 0;
        }
    }
    if (!ok) {
        if (c != NULL) c->n = 0; /* no input moved in yet */
        vow__release_inputs(inputs, n);
        vow__unref(d);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        c->wait.inputs[i] = inputs[i]; /* the caller's reference moves in */
        vow__rec *r = &c->recs[i];
        vow__rec_init(r, VOW__R_COMBINE, vow__ref(d), VOW__RF_EMBEDDED);
        r->index = (uint32_t)i;
        vow__perform_then(inputs[i], r);
    }
    return d;
}
