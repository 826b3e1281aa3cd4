/* promise/combinators.c - all, allSettled, race, any (ECMAScript 27.2.4).
 *
 * Each input subscribes with one record (kind COMBINE) whose derived promise is the
 * result; the shared state lives in the result (vow__combine). As in ECMAScript, the
 * result settles inside the job of the input reaction that decides it, so the job counts
 * are JavaScript's. The records are a block of n vow__rec in the state's own allocation; a
 * record still WAITING in its input's list is how cancelling the result reaches its
 * inputs (under the upstream rule) and how VOW_CANCEL_LOSERS finds the losers.
 */
#include <string.h>

#include "internal.h"

enum { C_ALL, C_ALL_SETTLED, C_RACE, C_ANY };

void vow__release_inputs(vow_t *const *inputs, size_t n) {
    for (size_t i = 0; i < n; i++) vow__unref(inputs[i]);
}

/* ---- the kinds' operations ---------------------------------------------------------------- */

/* The records live in c's block: none may still be waiting or queued. (A second pass over
 * all the records, so debug builds only: W2 frees a block of a million.) */
static void check_idle(const struct vow__combine *c) {
#ifndef NDEBUG
    for (size_t i = 0; i < c->n; i++)
        vow__assert(c->recs[i].state == VOW__RS_IDLE, "freeing a combinator's busy record");
#else
    (void)c;
#endif
}

static void js_free(struct vow__combine *c) {
    check_idle(c);
    vow__free(c);
}

static void all_free(struct vow__combine *c) {
    check_idle(c);
    vow__list_free(c->all.list);
    vow__free(c);
}

static void any_free(struct vow__combine *c) {
    check_idle(c);
    if (c->any.errs != NULL) /* in c's block, as the records */
        for (size_t i = 0; i < c->n; i++) vow_error_unref(c->any.errs[i]);
    vow__free(c);
}

/* Cancelling the result cancels each input still waited on, under the upstream rule. */
static void js_cancel(vow_t *d, vow__worklist *work) {
    struct vow__combine *c = d->combine;
    for (size_t i = 0; i < c->n; i++)
        if (c->recs[i].state == VOW__RS_WAITING) vow__drop_wait(&c->recs[i], work);
}

static void cancel_losers(vow_t *d) {
    struct vow__combine *c = d->combine;
    for (size_t i = 0; i < c->n; i++)
        if (c->recs[i].state == VOW__RS_WAITING) vow__drop_waiter(&c->recs[i]);
}

/* A promise fulfilled with the list (moved in). */
static void fulfil_with_list(vow_t *d, struct vow__combine *c) {
    struct vow_list *l = c->all.list;
    c->all.list = NULL;
    vow__fulfill(d, vow__list_value(l));
}

static void all_job(vow_loop_t *loop, vow__rec *r, vow_t *src) {
    (void)loop;
    vow_t *d = r->derived;
    struct vow__combine *c = d->combine;
    if (src->state != VOW_FULFILLED) {
        vow__reject(d, vow_error_ref(src->error));
        return;
    }
    vow__list_set_value(c->all.list, r->index, vow_value_share(&src->value));
    if (--c->remaining == 0) fulfil_with_list(d, c);
}

static void all_settled_job(vow_loop_t *loop, vow__rec *r, vow_t *src) {
    (void)loop;
    vow_t *d = r->derived;
    struct vow__combine *c = d->combine;
    if (src->state == VOW_FULFILLED)
        vow__list_set_value(c->all.list, r->index, vow_value_share(&src->value));
    else
        vow__list_set_error(c->all.list, r->index, vow_error_ref(src->error));
    if (--c->remaining == 0) fulfil_with_list(d, c);
}

static void race_job(vow_loop_t *loop, vow__rec *r, vow_t *src) {
    (void)loop;
    vow_t *d = r->derived;
    vow__settle_like(d, src);
    if (d->combine->flags & VOW_CANCEL_LOSERS) cancel_losers(d);
}

static void any_job(vow_loop_t *loop, vow__rec *r, vow_t *src) {
    (void)loop;
    vow_t *d = r->derived;
    struct vow__combine *c = d->combine;
    if (src->state == VOW_FULFILLED) {
        vow__settle_like(d, src);
        if (c->flags & VOW_CANCEL_LOSERS) cancel_losers(d);
        return;
    }
    c->any.errs[r->index] = vow_error_ref(src->error);
    if (--c->remaining == 0) {
        vow_error_t **errs = c->any.errs;
        c->any.errs = NULL;
        vow__reject(d, vow_error_aggregate(NULL, errs, c->n)); /* errs: in c */
    }
}

static const vow__combine_ops ops[] = {
    [C_ALL] = {all_job, js_cancel, all_free},
    [C_ALL_SETTLED] = {all_settled_job, js_cancel, all_free},
    [C_RACE] = {race_job, js_cancel, js_free},
    [C_ANY] = {any_job, js_cancel, any_free},
};

/* ---- construction --------------------------------------------------------------------------- */

#define ROUND16(n) (((n) + 15u) & ~(size_t)15u)

/* The state, any's rejections and the inputs' records in one allocation (zeroed but for
 * the records, which are initialised one by one). */
static struct vow__combine *state_new(int kind, size_t n) {
    size_t errs_at = ROUND16(sizeof(struct vow__combine));
    size_t per = sizeof(vow__rec) + (kind == C_ANY ? sizeof(vow_error_t *) : 0);
    if (n > (SIZE_MAX / 2 - errs_at) / per) return NULL;
    size_t recs_at = errs_at + (kind == C_ANY ? ROUND16(n * sizeof(vow_error_t *)) : 0);
    char *b = vow__malloc(recs_at + n * sizeof(vow__rec));
    if (b == NULL) return NULL;
    memset(b, 0, recs_at);
    /* A big block is written whole right away (a record per input): fault its pages in
     * with one call rather than a trap each (src/alloc.c; 2 ms of W2's million inputs). */
    if (n * sizeof(vow__rec) >= VOW__PREFAULT_WINDOW)
        vow__prefault(b + recs_at, n * sizeof(vow__rec));
    struct vow__combine *c = (struct vow__combine *)b;
    c->ops = &ops[kind];
    if (n > 0) {
        /* The inputs' records, freed with the result: each record holds a reference to
         * the result while it waits, so the block outlives every record. */
        c->recs = (vow__rec *)(b + recs_at);
        if (kind == C_ANY) c->any.errs = (vow_error_t **)(b + errs_at);
    }
    return c;
}

/* The misuse rule (vow/promise.h, MISUSE): NULL only when no promise can be made (loop NULL
 * or closed, an input NULL: it ran out of memory, out of memory here); any other misuse is
 * a promise rejected with its code. The inputs are consumed on every path. */
static vow_t *combine(vow_loop_t *loop, int kind, unsigned flags, vow_t *const *inputs, size_t n) {
    if (loop == NULL || loop->closed) {
        if (inputs != NULL) vow__release_inputs(inputs, n);
        return NULL;
    }
    if (n > 0 && inputs == NULL)
        return vow_rejected(loop, vow_error_new(VOW_EINVAL, "inputs NULL with n > 0"));
    int null_input = 0, foreign = 0;
    for (size_t i = 0; i < n; i++) {
        if (inputs[i] == NULL) /* an input that ran out of memory */
            null_input = 1;
        else if (inputs[i]->loop != loop || vow__closed(inputs[i]))
            foreign = 1;
    }
    if (null_input || foreign || n > UINT32_MAX || (flags & ~VOW_CANCEL_LOSERS)) {
        vow__release_inputs(inputs, n);
        if (null_input) return NULL;
        if (foreign) return vow_rejected(loop, vow_error_new(VOW_EINVAL, "input of another loop"));
        if (n > UINT32_MAX) return vow_rejected(loop, vow_error_new(VOW_ERANGE, "too many inputs"));
        return vow_rejected(loop, vow_error_new(VOW_EINVAL, "unknown flags"));
    }
    vow_t *d = vow__promise_new(loop, 0);
    struct vow__combine *c = d != NULL ? state_new(kind, n) : NULL;
    if (c != NULL) {
        c->flags = flags;
        c->n = c->remaining = n;
        vow__combine_attach(d, c);
        if (kind == C_ALL || kind == C_ALL_SETTLED) c->all.list = vow__list_new(n);
    }
    int ok = c != NULL && (c->all.list != NULL || (kind != C_ALL && kind != C_ALL_SETTLED));
    /* Everything allocated first, so that running out of memory leaves no input subscribed. */
    if (!ok) {
        if (c != NULL) c->n = 0; /* no record was set up */
        vow__unref(d);
        vow__release_inputs(inputs, n);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        vow__rec *r = &c->recs[i];
        vow__rec_init(r, VOW__R_COMBINE, vow__ref(d), VOW__RF_EMBEDDED);
        r->index = (uint32_t)i;
        vow__perform_then(inputs[i], r);
        vow__unref(inputs[i]);
    }
    if (n == 0) {
        if (kind == C_ALL || kind == C_ALL_SETTLED)
            fulfil_with_list(d, c);
        else if (kind == C_ANY)
            vow__reject(d, vow_error_aggregate(NULL, NULL, 0));
        /* race([]) stays pending forever, holding nothing. */
    }
    return d;
}

vow_t *vow_all(vow_loop_t *loop, vow_t *const *inputs, size_t n) {
    return combine(loop, C_ALL, 0, inputs, n);
}

vow_t *vow_all_settled(vow_loop_t *loop, vow_t *const *inputs, size_t n) {
    return combine(loop, C_ALL_SETTLED, 0, inputs, n);
}

vow_t *vow_race(vow_loop_t *loop, vow_t *const *inputs, size_t n, unsigned flags) {
    return combine(loop, C_RACE, flags, inputs, n);
}

vow_t *vow_any(vow_loop_t *loop, vow_t *const *inputs, size_t n, unsigned flags) {
    return combine(loop, C_ANY, flags, inputs, n);
}
