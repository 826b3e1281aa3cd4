/* promise/internal.h - the layout of promises, reactions and values. Never installed. */
#ifndef VOW_PROMISE_INTERNAL_H
#define VOW_PROMISE_INTERNAL_H

#include "../src/internal.h"

/* A shared owner for a pointer value with a destructor. */
struct vow__box {
    size_t refcnt;
    void *p;
    void (*dtor)(void *);
};

/* Promise flags. */
enum {
    VOW__F_SETTLEABLE = 1u << 0, /* made by vow_new: the user may settle it */
    VOW__F_RESOLVED = 1u << 1,   /* [[AlreadyResolved]]: settled or locked onto another */
    VOW__F_HANDLED = 1u << 2,    /* [[PromiseIsHandled]] */
    VOW__F_REPORTED = 1u << 3,   /* reported as unhandled */
    VOW__F_LISTED = 1u << 4,     /* on loop->unhandled or loop->handled_late (holds a ref) */
    VOW__F_CLOSED = 1u << 5      /* its loop was freed: stripped, answers VOW_ECLOSED */
};

struct vow {
    size_t refcnt;
    vow_loop_t *loop;
    uint8_t state; /* vow_state_t */
    uint8_t flags;
    uint32_t rejection_id;          /* numbered when reported */
    vow_value_t value;              /* FULFILLED: owned (boxed when it has a destructor) */
    vow_error_t *error;             /* REJECTED: owned */
    struct vow__reaction *r_head;   /* PENDING: reactions in registration order */
    struct vow__reaction *r_tail;
    vow__queue link;                /* loop->promises */
    vow__queue ulink;               /* loop->unhandled / loop->handled_late */
    vow_timer_t timer;              /* vow_sleep's timer */
    struct vow *free_next;          /* the deferred-free stack */
};

/* What a reaction record does when its job runs. One record can serve several steps in
 * turn (a then reaction whose result is a promise becomes the NewPromiseResolveThenableJob,
 * then the adopting reaction on that promise), so adoption allocates nothing more. */
enum {
    VOW__R_THEN = 1,        /* user then/catch */
    VOW__R_FINALLY,         /* thenFinally / catchFinally */
    VOW__R_FINALLY_VALUE,   /* the valueThunk / thrower: carries the original outcome */
    VOW__R_ADOPT,           /* derived settles as the source did (resolving functions) */
    VOW__R_THENABLE_JOB,    /* NewPromiseResolveThenableJob for a vow promise */
    VOW__R_FOREIGN_JOB      /* NewPromiseResolveThenableJob for a foreign thenable */
};

typedef struct vow__reaction {
    struct vow__reaction *next;
    uint8_t kind;
    uint8_t reserved; /* holds a microtask slot reservation (not queued) */
    vow_t *derived;   /* owned reference: the promise this reaction settles */
    vow_t *source;    /* owned while queued: the settled promise whose outcome it passes */
    vow_on_ok on_ok;
    vow_on_err on_err;
    vow_on_finally on_fin;
    void *ctx;
    void (*ctx_free)(void *);
    vow_t *follow;             /* THENABLE_JOB: the promise to follow (owned) */
    vow_thenable_t *thenable;  /* FOREIGN_JOB (owned) */
    vow_value_t carry_value;   /* FINALLY_VALUE: the original outcome (owned) */
    vow_error_t *carry_error;
} vow__reaction;

struct vow_thenable {
    vow_subscribe_fn subscribe;
    void *ctx;
    void (*ctx_free)(void *);
};

struct vow_resolver {
    size_t refcnt;
    vow_t *target; /* owned */
    int already;   /* [[AlreadyResolved]] of this pair of resolving functions */
};

/* Allocates a promise on `loop` with one reference (NULL when out of memory). */
vow_t *vow__promise_new(vow_loop_t *loop, unsigned flags);
/* Settles p (internal callers: no permission checks). Consume the value / error. */
void vow__fulfill(vow_t *p, vow_value_t v);
void vow__reject(vow_t *p, vow_error_t *err);
/* Resolves p with a result (the Promise Resolve Functions), consuming it. */
void vow__resolve_result(vow_t *p, vow_result_t res);
/* Releases whatever a result holds. */
void vow__result_release(vow_result_t *res);

#endif /* VOW_PROMISE_INTERNAL_H */
