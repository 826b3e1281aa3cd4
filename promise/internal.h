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
    VOW__F_CLOSED = 1u << 5,     /* its loop was freed: stripped, answers VOW_ECLOSED */
    VOW__F_TIMED_OUT = 1u << 6,  /* vow_timeout: the timer fired and cancelled the inner */
    VOW__F_RACE_TIMEOUT = 1u << 7, /* vow_timeout: VOW_TIMEOUT_RACE */
    VOW__F_CANCEL_QUEUED = 1u << 8, /* on a cancellation worklist */
    VOW__F_COMBINE = 1u << 9,       /* `combine` is set (combinator, wait, task group) */
    VOW__F_NODE = 1u << 10,         /* the promise of a then node (VOW__POOL_NODE) */
    VOW__F_DYING = 1u << 11         /* refcount 0: waiting on the free stack or being freed */
};

struct vow {
    uint32_t refcnt;
    uint32_t rejection_id;          /* numbered when reported */
    uint16_t flags;
    uint8_t state;                  /* vow_state_t */
    vow_loop_t *loop;
    union {                         /* by state: a promise needs one of the three at a time */
        struct {                    /* PENDING */
            struct vow__reaction *r_head; /* reactions in registration order */
            struct vow__reaction *r_tail;
            struct vow__reaction *waiting; /* weak: the record that will settle this promise,
                                              in its upstream's list (or a queued thenable
                                              job); NULL once that record's job is queued */
        };
        vow_value_t value;          /* FULFILLED: owned (boxed when it has a destructor) */
        vow_error_t *error;         /* REJECTED: owned */
    };
    union {                         /* which one: VOW__F_SETTLEABLE, VOW__F_COMBINE */
        struct vow__combine *combine; /* combinator results: the shared state (owned) */
        struct vow__cancel_cb *cancel; /* vow_new promises: vow_on_cancel (owned) */
        vow_timer_t timer;          /* other derived promises: their source timer or
                                       immediate (vow_sleep, vow_timeout, create_task), 0 */
    };
    union {
        struct vow *free_next;      /* the deferred-free stack (refcount 0) */
        struct vow *cancel_next;    /* the cancellation worklist (pending, referenced) */
        struct vow *list_next;      /* loop->unhandled / handled_late (rejected, referenced) */
    };
};

/* `state` of a promise slot back in its pool (vow__pool_walk's free mark). */
#define VOW__S_FREE 0xFFu

/* The combinator state / the cancel callback of p, or NULL. */
#define VOW__COMBINE(p) (((p)->flags & VOW__F_COMBINE) ? (p)->combine : NULL)
#define VOW__CANCEL_CB(p) (((p)->flags & VOW__F_SETTLEABLE) ? (p)->cancel : NULL)

struct vow__cancel_cb {
    vow_cancel_fn fn;
    void *ctx;
    void (*ctx_free)(void *);
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
    VOW__R_FOREIGN_JOB,     /* NewPromiseResolveThenableJob for a foreign thenable */
    VOW__R_COMBINE,         /* an input of all / allSettled / race / any */
    VOW__R_TIMEOUT,         /* vow_timeout's reaction on its inner */
    VOW__R_DEAD,            /* a thenable job whose promise was cancelled: only releases */
    VOW__R_MICROTASK        /* a vow_microtask waiting on the overflow list (no derived) */
};

typedef struct vow__reaction {
    struct vow__reaction *next; /* in its owner's list */
    uint8_t kind;
    uint8_t rflags;   /* VOW_CATCH_CANCELLED, VOW__RF_* */
    uint32_t index;   /* COMBINE: the input's index */
    vow_t *link;      /* VOW__RF_QUEUED: the settled promise whose outcome its job passes
                         (owned); otherwise the promise whose reaction list holds this record
                         (weak), or NULL: see vow__r_owner */
    vow_t *derived;   /* owned reference: the promise this reaction settles */
    union {           /* by kind: a record is one kind at a time (64 bytes in all) */
        struct {                      /* THEN, FINALLY */
            union {
                vow_on_ok on_ok;      /* THEN */
                vow_on_finally on_fin; /* FINALLY */
            };
            vow_on_err on_err;
            void *ctx;
            void (*ctx_free)(void *);
        };
        union {                       /* FINALLY_VALUE: the original outcome (owned) */
            vow_value_t carry_value;  /* unless VOW__RF_CARRY_ERROR */
            vow_error_t *carry_error;
        };
        vow_t *follow;            /* THENABLE_JOB, DEAD, TIMEOUT: a promise held (owned) */
        vow_thenable_t *thenable; /* FOREIGN_JOB (owned) */
        struct {                  /* MICROTASK */
            vow_microtask_fn mt_fn;
            void *mt_arg;
        };
    };
} vow__reaction;

enum {
    VOW__RF_CARRY_ERROR = 0x10, /* FINALLY_VALUE carries an error */
    VOW__RF_EMBEDDED = 0x20,    /* lives inside its derived promise's allocation */
    VOW__RF_QUEUED = 0x40       /* `link` is the source its queued job will read (owned) */
};

/* A COMBINE record of all/allSettled/race/any is only the head of a record, the fields
 * before the union (32 bytes, not 64): it lives in its combinator's block at this stride,
 * and nothing reads or writes a COMBINE record past its head. */
#define VOW__COMBINE_REC_SIZE offsetof(vow__reaction, on_ok)
_Static_assert(VOW__COMBINE_REC_SIZE % _Alignof(vow__reaction) == 0,
               "records in a combinator's block stay aligned");
_Static_assert(VOW__COMBINE_REC_SIZE == 32, "a combinator input's record is 32 bytes");

/* The promise whose reaction list holds r (weak), or NULL. */
static inline vow_t *vow__r_owner(const vow__reaction *r) {
    return (r->rflags & VOW__RF_QUEUED) ? NULL : r->link;
}

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

enum { VOW__C_ALL = 1, VOW__C_ALL_SETTLED, VOW__C_RACE, VOW__C_ANY, VOW__C_WAIT, VOW__C_GROUP };

struct vow__combine {
    int kind;
    unsigned flags;
    size_t n, remaining;
    vow__reaction **recs;     /* weak: input i's record while it waits in i's list (WAIT,
                                 GROUP; the others: see vow__combine_rec) */
    char *block;              /* all/allSettled/race/any: the inputs' records (embedded),
                                 VOW__COMBINE_REC_SIZE bytes each */
    struct vow_list *list;    /* ALL / ALL_SETTLED: the outcomes so far (owned) */
    vow_error_t **errs;       /* ANY: the rejections so far (owned) */
    /* task.c */
    size_t cap;               /* GROUP: capacity of recs and outs */
    vow_outcome_t *outs;      /* GROUP: each task's outcome (owned) */
    vow_t **inputs;           /* WAIT: every input (owned references) */
    int mode;                 /* WAIT: vow_wait_mode_t */
    int joined, aborted;      /* GROUP */
    vow_timer_t timer;        /* WAIT: its timeout; GROUP: the abort's immediate; 0 */
};

/* Input i's record while it waits in input i's reaction list, or NULL. A combinator with a
 * block (all/allSettled/race/any) keeps no array of them: its record i is in a list exactly
 * when the record has an owner. */
static inline vow__reaction *vow__combine_rec(const struct vow__combine *c, size_t i) {
    if (c->block == NULL) return c->recs[i];
    vow__reaction *r = (vow__reaction *)(c->block + i * VOW__COMBINE_REC_SIZE);
    return vow__r_owner(r) != NULL ? r : NULL;
}

/* Where p keeps the id of the timer that settles or serves it (NULL: none possible). */
static inline vow_timer_t *vow__timer_slot(vow_t *p) {
    if (p->flags & VOW__F_COMBINE) return &p->combine->timer;
    if (p->flags & VOW__F_SETTLEABLE) return NULL;
    return &p->timer;
}

/* vow_ref / vow_unref for vow's own code (inlined; vow__promise_release frees). */
void vow__promise_release(vow_t *p);
static inline vow_t *vow__ref(vow_t *p) {
    if (p != NULL) p->refcnt++;
    return p;
}
static inline void vow__unref(vow_t *p) {
    if (p == NULL) return;
    vow__assert(p->refcnt > 0, "promise refcount underflow");
    if (--p->refcnt == 0) vow__promise_release(p);
}

/* Allocates a promise on `loop` with one reference (NULL when out of memory). */
vow_t *vow__promise_new(vow_loop_t *loop, unsigned flags);
/* Settles p (internal callers: no permission checks). Consume the value / error. */
void vow__fulfill(vow_t *p, vow_value_t v);
/* vow__fulfill, taking the value from *v (moved out; *v is left to the caller to forget). */
void vow__fulfill_move(vow_t *p, vow_value_t *v);
void vow__reject(vow_t *p, vow_error_t *err);
/* Releases whatever a result holds. */
void vow__result_release(vow_result_t *res);

/* A reaction record (NULL: out of memory). The record takes over the caller's reference
 * to `derived`. */
vow__reaction *vow__reaction_new(vow_loop_t *loop, int kind, vow_t *derived);
/* Initialises a record; it takes over the caller's reference to `derived`. */
void vow__reaction_init(vow__reaction *r, int kind, vow_t *derived);
/* Drops a record without running it (context destructor, references). */
void vow__reaction_free(vow_loop_t *loop, vow__reaction *r);
/* PerformPromiseThen: registers r on p (borrowed), or queues it when p has settled. */
void vow__perform_then(vow_t *p, vow__reaction *r);
/* Settles d as src is settled (sharing the value); nothing when d is no longer pending. */
void vow__settle_like(vow_t *d, vow_t *src);
/* Unlinks a waiting record from its owner's list, frees it, and cancels the owner when no
 * other live reaction waits on it (the upstream rule). */
void vow__drop_waiter(vow__reaction *r);
/* Unlinks a waiting record from its owner's reaction list (no cancellation). */
void vow__unlink_waiter(vow__reaction *r);
/* Non-zero when a reaction other than `except` waits on p for a pending promise. */
int vow__has_live_waiter(const vow_t *p, const vow__reaction *except);
/* Cancels p (pending) and, under the upstream rule, what it waits on. */
void vow__cancel(vow_t *p);

/* WAIT and GROUP records' jobs (task.c): decide, without consuming the record. */
void vow__task_combine_job(vow_loop_t *loop, vow__reaction *r, vow_t *src);
/* Frees what task.c keeps in a combine state. */
void vow__task_combine_free(struct vow__combine *c);
/* Frees a vow_create_task start record (its VOW__TR_TASK_START timer release). */
void vow__task_start_free(void *arg);
/* Wraps `n` outcomes (moved in; the array is freed) as a list value. */
vow_value_t vow__list_value(vow_outcome_t *outs, size_t n, int *oom);

/* Jobs that live in combinators.c; they consume the record. */
void vow__combine_job(vow_loop_t *loop, vow__reaction *r, vow_t *src);
void vow__timeout_job(vow_loop_t *loop, vow__reaction *r, vow_t *src);
/* Frees a combinator's state (at promise destruction). */
void vow__combine_free(struct vow__combine *c);

#endif /* VOW_PROMISE_INTERNAL_H */
