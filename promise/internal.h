/* promise/internal.h - the layout of promises, reaction records and combinator states,
 * shared by the promise layer's files. Never installed.
 *
 * The promise layer sits on the reactor (src/internal.h) and registers itself with each
 * loop (promise/loop.c): its per-loop state, its pools, its timer release functions and
 * the callbacks the loop makes at the end of a drain, at forced teardown and when the
 * loop's memory goes. The reactor names nothing declared here.
 */
#ifndef VOW_PROMISE_INTERNAL_H
#define VOW_PROMISE_INTERNAL_H

#include <string.h>

#include "../src/internal.h"
#include "../src/io.h"
#include "vow.h"

/* ---- the layer's registration with a loop ------------------------------------------------ */
/* The loop's layer slots (src/internal.h, vow__loop_add_layer), torn down in slot order:
 * the promise layer first, so the promises let go of their sockets and fd waiters before
 * the net layer (promise/net.c) and the fd registry (src/io.h) tear down. One list, so two
 * layers never share a slot. */
enum { VOW__LAYER_PROMISE = 0, VOW__LAYER_NET = 3 };
_Static_assert((int)VOW__LAYER_NET != (int)VOW__LAYER_IO &&
                   (int)VOW__LAYER_PROMISE != (int)VOW__LAYER_IO && VOW__LAYER_NET < VOW__LAYERS &&
                   VOW__LAYER_IO < VOW__LAYERS,
               "two layers in one slot");
enum {
    VOW__POOL_PROMISE = VOW__POOL_FIRST_LAYER, /* vow_t */
    VOW__POOL_NODE,                            /* then nodes: a promise and its record */
    VOW__POOL_REACTION,                        /* vow__reaction */
    VOW__POOL_WAITER,                          /* waiter records (waiter.c), VOW__WAITER_SLOT */
    VOW__POOL_WAITER_BIG                       /* larger ones (a pool job's), VOW__WAITER_BIG */
};
_Static_assert((int)VOW__POOL_WAITER_BIG < (int)VOW__POOLS,
               "the loop has room for the layer's pools");
/* Timer release kinds (src/internal.h, vow__loop_set_release). */
enum { VOW__REL_UNREF = 1, VOW__REL_TASK_START = 2, VOW__REL_CORO_START = 3 };

/* A FIFO of promises (src/queue.h), linked through a field the user names. */
typedef VOW__FIFO(struct vow) vow__promise_fifo;

/* The layer's state on one loop. */
struct vow__promise_layer {
    vow__promise_fifo unhandled;    /* rejected with no handler, to report after the drain
                                       (through list_next, referenced) */
    vow__promise_fifo handled_late; /* reported ones that got a handler */
    vow_rejection_hook hook;
    void *hook_ctx;
    vow_unhandled_mode_t mode;
    uint32_t rejection_ids; /* numbers reported rejections, as Node's rejection id */
    struct {
        struct vow_work *head, *tail;
    } works;               /* jobs in flight (work.c), for vow_run_main's shutdown */
    unsigned works_closed; /* vow_run_main shut the pool down: vow_work refuses */
    struct {
        vow_resolver_fn fn; /* NULL: getaddrinfo */
        vow_resolver_free_fn free_fn;
        void *ctx;
    } resolver; /* vow_set_resolver (resolve.c) */
    struct {
        struct vow_remote *head, *tail;
    } remotes; /* remote resolvers the loop still holds (remote.c) */
    struct {
        struct vow__coro *head, *tail;
    } coros; /* live coroutines (async.c) */
};

static inline struct vow__promise_layer *vow__pl(const vow_loop_t *loop) {
    return (struct vow__promise_layer *)vow__loop_layer(loop, VOW__LAYER_PROMISE);
}

/* Registers the layer on a new loop: 0 or VOW_ENOMEM (loop.c). */
int vow__promise_layer_init(vow_loop_t *loop);

/* ---- values ------------------------------------------------------------------------------ */

/* A shared owner for a pointer value with a destructor. */
struct vow__box {
    size_t refcnt;
    void *p;
    void (*dtor)(void *);
    uint8_t inert;        /* dtor is vow's own and touches no promise (a socket's bytes):
                             releasing it needs no deferral (promise.c) */
    uint8_t frees_itself; /* the box is part of the block dtor frees (vow's own values:
                             net.c's small bytes blocks go back to their loop's cache) */
    void *owner;          /* frees_itself: what dtor needs to know (net.c: the loop) */
};

/* Makes `v` storable: a pointer with a destructor gets its shared box. On failure the
 * destructor has run and VOW_ENOMEM is returned. (Inline: every settlement passes here;
 * the box is value.c's.) */
int vow__value_store_box(vow_value_t *v);
static inline int vow__value_store(vow_value_t *v) {
    if (v->kind != VOW_VAL_PTR) {
        /* Written only when set (rarely): see vow_none on partial stores. */
        if (v->boxed != 0 || v->own.dtor != NULL) {
            v->boxed = 0;
            v->own.dtor = NULL;
        }
        return 0;
    }
    if (v->boxed || v->own.dtor == NULL) return 0;
    return vow__value_store_box(v);
}
/* vow_none, vow_value_share and vow_value_release for vow's own code, inline: the public
 * functions are value.c's, a call away from every other file, and an await or a settlement
 * passes here for plain values, where there is nothing to do but copy. */
static inline vow_value_t vow__none(void) { return (vow_value_t){.kind = VOW_VAL_NONE}; }
static inline vow_value_t vow__value_share(const vow_value_t *v) {
    if (v->boxed) return vow_value_share(v);
    vow_value_t s = *v;
    s.own.dtor = NULL; /* an unboxed value with a destructor is not shared: a view */
    return s;
}
static inline void vow__value_release(vow_value_t *v) {
    if (v->boxed || (v->kind == VOW_VAL_PTR && v->own.dtor != NULL)) {
        vow_value_release(v);
        return;
    }
    *v = vow__none();
}
/* Fulfils p, a promise just made (no reaction, timer or cancel callback yet), with v, a
 * plain value (not VOW_VAL_PTR): all a settlement has to do then is store it. */
static inline void vow__fulfil_new_plain(vow_t *p, vow_value_t v);
/* Releases whatever a result holds (value.c). */
void vow__result_release(vow_result_t *res);
/* A result holding nothing, of the given kind. */
static inline vow_result_t vow__result_empty(vow_result_kind_t kind) {
    return (vow_result_t){.kind = kind, .value = {.kind = VOW_VAL_NONE}};
}
/* Non-zero for a kind vow_result_t can have. */
static inline int vow__result_kind_ok(vow_result_kind_t kind) {
    return kind == VOW_RESULT_VALUE || kind == VOW_RESULT_ERROR || kind == VOW_RESULT_FOLLOW ||
           kind == VOW_RESULT_THENABLE;
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

/* Frees a thenable adapter (its ctx_free runs) (thenable.c). */
void vow__thenable_free(vow_thenable_t *t);

/* ---- promises ---------------------------------------------------------------------------- */

/* Promise flags. */
enum {
    VOW__F_SETTLEABLE = 1u << 0,    /* made by vow_new: the user may settle it */
    VOW__F_RESOLVED = 1u << 1,      /* [[AlreadyResolved]]: settled or locked onto another */
    VOW__F_HANDLED = 1u << 2,       /* [[PromiseIsHandled]] */
    VOW__F_REPORTED = 1u << 3,      /* reported as unhandled */
    VOW__F_LISTED = 1u << 4,        /* on an unhandled-rejection list (holds a ref) */
    VOW__F_SYNC = 1u << 5,          /* vow's own settleable promise (also SETTLEABLE, for its
                                       cancel callback): a waiter (promise/waiter.c), a stream
                                       helper's or a scope's result; only its file settles it
                                       (user: VOW_EPERM) */
    VOW__F_TIMED_OUT = 1u << 6,     /* vow_timeout: the timer fired and cancelled the inner */
    VOW__F_RACE_TIMEOUT = 1u << 7,  /* vow_timeout: VOW_TIMEOUT_RACE */
    VOW__F_CANCEL_QUEUED = 1u << 8, /* on a cancellation worklist */
    VOW__F_COMBINE = 1u << 9,       /* `combine` is set (combinator, wait, task group) */
    VOW__F_NODE = 1u << 10,         /* the promise of a then node (VOW__POOL_NODE) */
    VOW__F_DYING = 1u << 11,        /* refcount 0: waiting on the free stack or being freed */
    VOW__F_DEFER_CANCEL = 1u << 12  /* a coroutine's (async.c): a cancel is a request its
                                       callback takes; the promise stays pending, and the
                                       callback stays for the next request */
};

struct vow__rec;

struct vow {
    uint32_t refcnt;
    uint32_t rejection_id; /* numbered when reported */
    uint16_t flags;
    uint8_t state; /* vow_state_t */
    vow_loop_t *loop;
    union {                           /* by state: a promise needs one of the three at a time */
        struct {                      /* PENDING */
            struct vow__rec *r_head;  /* reactions waiting, in registration order */
            struct vow__rec *r_tail;  /* (doubly linked: removal is O(1)) */
            struct vow__rec *waiting; /* weak: the record that will settle this promise,
                                          in its upstream's list (or a queued thenable
                                          job); NULL once that record's job is queued */
        };
        vow_value_t value;  /* FULFILLED: owned (boxed when it has a destructor) */
        vow_error_t *error; /* REJECTED: owned */
    };
    union {                            /* which one: VOW__F_SETTLEABLE, VOW__F_COMBINE */
        struct vow__combine *combine;  /* combinator results: the shared state (owned) */
        struct vow__cancel_cb *cancel; /* vow_new promises: vow_on_cancel (owned) */
        vow_timer_t timer;             /* other derived promises: their source timer or
                                          immediate (vow_sleep, vow_timeout, create_task), 0 */
    };
    union {
        struct vow *free_next;   /* the deferred-free stack (refcount 0) */
        struct vow *cancel_next; /* the cancellation worklist (pending, referenced) */
        struct vow *list_next;   /* the unhandled-rejection lists (rejected, referenced) */
    };
};
_Static_assert(sizeof(struct vow) <= 64, "a promise fits one cache line");

/* `state` of a promise slot back in its pool (vow__pool_walk's free mark). */
#define VOW__S_FREE 0xFFu

/* The combinator state / the cancel callback of p, or NULL. */
#define VOW__COMBINE(p) (((p)->flags & VOW__F_COMBINE) ? (p)->combine : NULL)
#define VOW__CANCEL_CB(p) (((p)->flags & VOW__F_SETTLEABLE) ? (p)->cancel : NULL)

struct vow__cancel_cb {
    vow_cancel_fn fn;
    void *ctx;
    void (*ctx_free)(void *);
    int embedded; /* part of its ctx's record (a waiter's): ctx_free frees it, not vow__free */
};

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

/* p's loop is closed (freed, or being torn down: it is closed from the start of its
 * teardown): every call on p answers VOW_ECLOSED or NULL. The loop struct lives while any
 * promise does, so this is always safe to ask. */
static inline int vow__closed(const vow_t *p) { return p->loop->closed; }

/* Initialises p (a slot from one of the loop's pools) with one reference. */
static inline vow_t *vow__promise_init(vow_t *p, vow_loop_t *loop, unsigned flags) {
    *p = (struct vow){.refcnt = 1, .loop = loop, .flags = (uint16_t)flags};
    loop->handles++;
    return p;
}
/* p's slot back to its pool (VOW__S_FREE: for the teardown's walk over the pools), and
 * the loop's handle with it. What p held is released already (promise.c's destruction, and
 * reaction.c's short cut for a then step nobody could see settle). */
static inline void vow__promise_free_slot(vow_t *p) {
    vow_loop_t *loop = p->loop;
    vow__pool *pl = &loop->pools[VOW__POOL_PROMISE];
    if (p->flags & VOW__F_NODE) pl = &loop->pools[VOW__POOL_NODE];
    p->state = VOW__S_FREE;
    vow__pool_put(pl, p);
    vow__loop_handle_release(loop);
}
/* A fulfilment's change of state: v (stored already) takes the reaction list's place in
 * p, pending until now (*v copied in). Returns that list, for vow__trigger. (vow__fulfill_move, a waiter's
 * fulfilment, a promise fulfilled at birth.) */
static inline struct vow__rec *vow__set_fulfilled(vow_t *p, const vow_value_t *v) {
    struct vow__rec *reactions = p->r_head;
    p->flags |= VOW__F_RESOLVED;
    p->state = VOW_FULFILLED;
    p->value = *v;
    return reactions;
}
static inline void vow__fulfil_new_plain(vow_t *p, vow_value_t v) {
    vow__value_store(&v); /* (plain: clears what a partial store left, nothing else) */
    (void)vow__set_fulfilled(p, &v);
}
/* Allocates a promise on `loop` with one reference (NULL when out of memory). */
vow_t *vow__promise_new(vow_loop_t *loop, unsigned flags);
/* Settles p (internal callers: no permission checks). Consume the value / error. */
void vow__fulfill(vow_t *p, vow_value_t v);
/* vow__fulfill, taking the value from *v (moved out; *v is left to the caller to forget). */
void vow__fulfill_move(vow_t *p, vow_value_t *v);
void vow__reject(vow_t *p, vow_error_t *err);
/* Settles d as src is settled (sharing the value); nothing when d is no longer pending. */
void vow__settle_like(vow_t *d, vow_t *src);
/* Frees the records still waiting in p's list, unrun (pending p), and what p holds: its
 * value or error, its combinator state, its cancel callback; p is left pending and empty
 * (promise destruction, forced teardown). */
void vow__drop_reactions(vow_t *p);
void vow__release_holdings(vow_t *p);

/* Where p keeps the id of the timer that settles or serves it (NULL: none possible). */
static inline vow_timer_t *vow__timer_slot(vow_t *p);

/* ---- reaction records ------------------------------------------------------------------
 * Every record begins with a vow__rec (40 bytes): its links, its derived promise, its kind
 * and its state. A record is in exactly one place at a time, and its state says which,
 * so each union member below belongs to one state and its ownership never changes:
 *   IDLE     in no list (new, running its job, or done);
 *   WAITING  in its owner's reaction list: `list` links it, `owner` is that promise (weak:
 *            the promise owns the list);
 *   QUEUED   in the loop's job queue: `job` links it, `source` is the settled promise its
 *            job reads (owned: one reference, dropped when the job has run).
 * A then/catch/finally/adoption/timeout record is a vow__reaction (the head plus what its
 * kind carries, 72 bytes); a combinator input's record is a bare vow__rec that lives in
 * its combinator's state (a block of n records, or for task groups one pooled record per
 * task), so the compiler knows each record's size. */
enum { VOW__RS_IDLE = 0, VOW__RS_WAITING, VOW__RS_QUEUED };

/* What a record does when its job runs. One record can serve several steps in turn (a
 * then reaction whose result is a promise becomes the NewPromiseResolveThenableJob, then
 * the adopting reaction on that promise), so adoption allocates nothing more. */
enum {
    VOW__R_THEN = 1,      /* user then/catch */
    VOW__R_FINALLY,       /* thenFinally / catchFinally */
    VOW__R_FINALLY_VALUE, /* the valueThunk / thrower: carries the original outcome */
    VOW__R_ADOPT,         /* derived settles as the source did (resolving functions) */
    VOW__R_THENABLE_JOB,  /* NewPromiseResolveThenableJob for a vow promise */
    VOW__R_FOREIGN_JOB,   /* NewPromiseResolveThenableJob for a foreign thenable */
    VOW__R_COMBINE,       /* an input of all / allSettled / race / any / wait / group */
    VOW__R_TIMEOUT,       /* vow_timeout's reaction on its inner */
    VOW__R_DEAD,          /* a thenable job whose promise was cancelled: only releases */
    VOW__R_AWAIT,         /* a coroutine's await (async.c; embedded in the coroutine,
                             `derived` its promise): resumes it */
    VOW__R_RUN_WAKE       /* vow_run's watch on its promise (run.c; on its stack, no
                             derived promise): ends the run's ev_run */
};

enum {
    VOW__RF_CATCH_CANCELLED = 0x01, /* = VOW_CATCH_CANCELLED */
    VOW__RF_CARRY_ERROR = 0x10,     /* FINALLY_VALUE carries an error */
    VOW__RF_EMBEDDED = 0x20         /* its memory is not its own: a then node's, or a
                                       combinator state's */
};
_Static_assert(VOW__RF_CATCH_CANCELLED == VOW_CATCH_CANCELLED, "then flags travel as they are");

typedef struct vow__rec {
    union {
        vow__job job; /* QUEUED: the loop's job queue (src/internal.h) */
        struct {
            struct vow__rec *next, *prev;
        } list; /* WAITING: its owner's reaction list */
    };
    union {
        vow_t *owner;  /* WAITING: the promise whose list holds it (weak) */
        vow_t *source; /* QUEUED: the settled promise its job reads (owned) */
    };
    vow_t *derived; /* the promise this record settles (owned; NULL: none) */
    uint8_t kind;   /* VOW__R_* */
    uint8_t state;  /* VOW__RS_* */
    uint8_t flags;  /* VOW__RF_* */
    uint32_t index; /* COMBINE: the input's index */
} vow__rec;
_Static_assert(sizeof(vow__rec) == 40, "a record's head is 40 bytes");

typedef struct vow__reaction {
    vow__rec rec;
    union {      /* by kind */
        struct { /* THEN, FINALLY */
            union {
                vow_on_ok on_ok;       /* THEN */
                vow_on_finally on_fin; /* FINALLY */
            };
            vow_on_err on_err;
            void *ctx;
            void (*ctx_free)(void *);
        };
        union {                      /* FINALLY_VALUE: the original outcome (owned) */
            vow_value_t carry_value; /* unless VOW__RF_CARRY_ERROR */
            vow_error_t *carry_error;
        };
        vow_t *follow;            /* THENABLE_JOB, DEAD, TIMEOUT: a promise held (owned) */
        vow_thenable_t *thenable; /* FOREIGN_JOB (owned) */
    };
} vow__reaction;
_Static_assert(sizeof(vow__reaction) == 72, "a reaction record is 72 bytes");

/* A reaction record from the loop's pool (NULL: out of memory). It takes over the
 * caller's reference to `derived`. */
vow__reaction *vow__reaction_new(vow_loop_t *loop, int kind, vow_t *derived);
/* Initialises a record head; it takes over the caller's reference to `derived`. (Inline:
 * every then step makes one.) */
static inline void vow__rec_init(vow__rec *r, int kind, vow_t *derived, unsigned flags) {
    memset(r, 0, sizeof *r);
    r->kind = (uint8_t)kind;
    r->flags = (uint8_t)flags;
    r->derived = derived;
}
/* Drops a record without running it (context destructor, references); its memory goes
 * back to the pool unless VOW__RF_EMBEDDED. */
void vow__rec_free(vow_loop_t *loop, vow__rec *r);
/* PerformPromiseThen: registers r on p (borrowed), or queues it when p has settled. */
void vow__perform_then(vow_t *p, vow__rec *r);
/* The size of a then node: a promise and its reaction record in one slot (then.c). */
size_t vow__then_node_size(void);
/* The job of every record (reaction.c). */
void vow__reaction_job(vow_loop_t *loop, vow__job *job, int how);
/* Forgets the derived promise's weak pointer to r: d no longer waits on it. */
static inline void vow__detach(vow__rec *r) {
    vow_t *d = r->derived;
    if (d != NULL && r->kind != VOW__R_COMBINE && d->state == VOW_PENDING && d->waiting == r)
        d->waiting = NULL;
}
/* Queues r's job (r in no list) with settled p as its source (referenced until the job
 * has run). */
static inline void vow__queue_from(vow__rec *r, vow_t *p) {
    r->source = vow__ref(p);
    r->state = VOW__RS_QUEUED;
    r->job.fn = vow__reaction_job;
    vow__job_push(p->loop, &r->job);
}
/* Queues the reactions of p (just settled); `r` is the list p had while pending. */
static inline void vow__trigger(vow_t *p, vow__rec *r) {
    while (r != NULL) {
        vow__rec *next = r->list.next;
        vow__detach(r); /* queued now: cancelling its promise no longer reaches p */
        vow__queue_from(r, p);
        r = next;
    }
}
/* Unlinks a WAITING record from its owner's list in O(1) (no cancellation). */
void vow__unlink_waiter(vow__rec *r);
/* Non-zero when a reaction other than `except` waits on p for a pending promise. */
int vow__has_live_waiter(const vow_t *p, const vow__rec *except);
/* The Promise Resolve Functions applied to d with *res (consumed). `r` is a record that
 * may be reused for the thenable job, or NULL (then one is allocated). */
void vow__resolve_with(vow_t *d, vow_result_t *res, vow__reaction *r);

/* Job bodies living with their concepts; each consumes its record. */
void vow__finally_job(vow_loop_t *loop, vow__reaction *r, vow_t *src); /* then.c */
void vow__foreign_job(vow_loop_t *loop, vow__reaction *r);             /* thenable.c */
void vow__timeout_job(vow_loop_t *loop, vow__reaction *r, vow_t *src); /* timeout.c */
void vow__await_job(vow_loop_t *loop, vow__rec *r, vow_t *src);        /* async.c */

/* ---- cancellation ------------------------------------------------------------------------ */

/* The promises to cancel, FIFO (so a combinator's inputs are cancelled, and their cancel
 * callbacks run, in input order, as asyncio cancels). */
typedef struct vow__worklist {
    vow__promise_fifo q;
} vow__worklist;

/* Adds u to the worklist (once; referenced while listed). */
void vow__work_push(vow__worklist *work, vow_t *u);
/* Stops waiting through record r; its upstream joins the worklist when nothing else live
 * waits on it (the upstream rule). */
void vow__drop_wait(vow__rec *r, vow__worklist *work);
/* drop_wait, then the cancellations it started. */
void vow__drop_waiter(vow__rec *r);
/* Cancels p (pending) and, under the upstream rule, what it waits on. */
void vow__cancel(vow_t *p);
/* Frees p's vow_on_cancel record (its ctx_free runs) (cancel.c). */
void vow__cancel_cb_release(vow_t *p);

/* ---- unhandled rejections (unhandled.c) -------------------------------------------------- */

/* p was just rejected: track it (HostPromiseRejectionTracker "reject"). */
void vow__tracker_reject(vow_t *p);
/* p (settled) gets a handler now (HostPromiseRejectionTracker "handle"). */
void vow__tracker_handle(vow_t *p);
/* The layer's after_drain: report; forced teardown: drop the lists. */
void vow__unhandled_report(vow_loop_t *loop, void *state);
void vow__unhandled_clear(vow_loop_t *loop);
void vow__unhandled_verify(const vow_loop_t *loop);

/* ---- combinator states -------------------------------------------------------------------
 * The result promise of all / allSettled / race / any / wait / a task group owns the
 * state its inputs' records share. A common head, a part per kind, and the kind's
 * operations: no file of the layer special-cases another's kind. */
struct vow__combine;
typedef struct vow__combine_ops {
    /* Record r's input (src) settled and the result r->derived is pending: decide. The
     * record is done (its reference to the result is dropped after this returns). */
    void (*job)(vow_loop_t *loop, vow__rec *r, vow_t *src);
    /* The result `d` is being cancelled (it is still pending): stop waiting on the inputs
     * as the kind's rules say, adding the promises to cancel to `work`. */
    void (*cancel)(vow_t *d, vow__worklist *work);
    /* The result is destroyed: free the state (records included; none still waits). */
    void (*free)(struct vow__combine *c);
} vow__combine_ops;

struct vow__combine {
    const vow__combine_ops *ops;
    unsigned flags;      /* the call's flags */
    size_t n, remaining; /* inputs, and inputs not settled yet */
    vow_timer_t timer;   /* wait's timeout, a group's abort immediate; 0 */
    vow__rec *recs;      /* the inputs' records, n of them in the state's block (all,
                              allSettled, race, any, wait); NULL for a group */
    union {
        struct {                   /* ALL, ALL_SETTLED */
            struct vow_list *list; /* the outcomes so far (owned) */
        } all;
        struct {
            vow_error_t **errs; /* ANY: the rejections so far (owned, in the block) */
        } any;
        struct {            /* WAIT */
            vow_t **inputs; /* every input (owned references) */
            int mode;       /* vow_wait_mode_t */
        } wait;
        struct {                 /* GROUP */
            vow__rec **recs;     /* each task's record (pooled, owned by the state) */
            vow_outcome_t *outs; /* each task's outcome (owned) */
            size_t cap;          /* capacity of recs and outs */
            int joined, aborted;
        } group;
    };
};

/* Makes c the combine state of d (a new promise). */
static inline void vow__combine_attach(vow_t *d, struct vow__combine *c) {
    d->combine = c;
    d->flags |= VOW__F_COMBINE;
}

static inline vow_timer_t *vow__timer_slot(vow_t *p) {
    if (p->flags & VOW__F_COMBINE) return &p->combine->timer;
    if (p->flags & VOW__F_SETTLEABLE) return NULL;
    return &p->timer;
}

/* The list value of all / allSettled / a task group (list.c). */
struct vow_list;
struct vow_list *vow__list_new(size_t n);
void vow__list_set_value(struct vow_list *l, size_t i, vow_value_t v);    /* moved in */
void vow__list_set_error(struct vow_list *l, size_t i, vow_error_t *err); /* moved in */
/* The list as a value (it becomes the value's; vow__list_new's list only). */
vow_value_t vow__list_value(struct vow_list *l);
void vow__list_free(struct vow_list *l);
/* Wraps `n` outcomes (moved in; the array is freed) as a list value. */
vow_value_t vow__list_from_outcomes(vow_outcome_t *outs, size_t n, int *oom);

/* Drops the caller's reference to each input (a combinator's misuse path). */
void vow__release_inputs(vow_t *const *inputs, size_t n);

/* ---- other threads (work.c, remote.c) ------------------------------------------------------ */
/* The remotes whose message never came: let go at forced teardown. */
void vow__remotes_teardown(vow_loop_t *loop);
/* Coroutines (async.c): the promise of each live one, for vow_run_main's sweep; forced
 * teardown resumes each suspended one until it finishes and frees its stack. */
void vow__coros_each(vow_loop_t *loop, void (*fn)(vow_t *p, void *ctx), void *ctx);
void vow__coros_teardown(vow_loop_t *loop);
void vow__gens_close(vow_loop_t *loop); /* vow_run_main: asyncio's shutdown_asyncgens */
/* Live coroutines asked to cancel, and generators closed: those vow_run_main waits for. */
int vow__coros_finishing(const vow_loop_t *loop);
void vow__coro_start_free(void *arg);      /* release kind VOW__REL_CORO_START */
vow_t *vow__coro_start_promise(void *arg); /* the promise of an unstarted coroutine */
/* Calls fn(p, ctx) with the promise of every job in flight (fn must not cancel: collect). */
void vow__works_each(vow_loop_t *loop, void (*fn)(vow_t *p, void *ctx), void *ctx);
/* Runs the loop until every job in flight came back (vow_run_main, after cancelling them). */
void vow__works_wait(vow_loop_t *loop);
/* io.c: calls fn(p, ctx) with the promise of every fd, signal and child waiter still
 * waiting (fn must not cancel: collect); closes every signal stream (vow_run_main). */
void vow__io_each_promise(vow_loop_t *loop, void (*fn)(vow_t *p, void *ctx), void *ctx);
/* The promises of the loop's sockets and servers that wait (reads, writes, drains,
 * shutdowns, connects, an accept in flight), for vow_run_main's sweep (promise/net.c). */
void vow__net_each_promise(vow_loop_t *loop, void (*fn)(vow_t *p, void *ctx), void *ctx);

/* Streams (promise/stream.c): fn(ctx) is called when the nexts waiting on s go from none
 * to some (a next made) and from some to none (the last one cancelled), so a producer
 * that keeps the loop alive for its consumer (an accept stream) keeps it only while one
 * waits; and how many wait now. */
void vow__stream_on_demand(vow_stream_t *s, void (*fn)(void *ctx), void *ctx);
size_t vow__stream_nexts_waiting(const vow_stream_t *s);
void vow__signal_streams_close(vow_loop_t *loop);

/* ---- task starts (task.c) ----------------------------------------------------------------- */
void vow__task_start_free(void *arg);
/* The task a VOW__REL_TASK_START timer's argument starts (borrowed). */
vow_t *vow__task_start_task(void *arg);

/* ---- lines of waiters (waiter.c): sync.c, queue.c and the other waiting objects -------- */
/* A waiter is a record whose promise a waiting operation returned: vow_new-like
 * (VOW__F_SETTLEABLE | VOW__F_SYNC: only vow settles it), with a cancel callback whose
 * context is the waiter. It waits in one line of its object (an intrusive doubly linked
 * list, arrival order, O(1) removal) and may have one job queued (the handoff: its turn
 * came, the job settles its promise one microtask later). References: the cancel
 * context, the queued job; the record is freed (ops->release first) when both are gone.
 * Objects embed struct vow__waiter at the head of their own waiter records. */
typedef struct vow__waiter vow__waiter;
typedef struct vow__wline {
    struct vow__waiter *head, *tail;
    size_t n; /* waiters in the line */
} vow__wline;
struct vow__waiter_ops {
    /* The promise is being cancelled while pending (vow_cancel, the upstream rule, a
     * timeout): w is still in its line, if any; the object takes it out and passes on
     * whatever w was handed. NULL: vow__waiter_leave only. */
    void (*cancel)(struct vow__waiter *w);
    /* The record is about to be freed: release what the object stored in it. NULL: none. */
    void (*release)(struct vow__waiter *w);
};
struct vow__waiter {
    vow__job job; /* first: the job's node is the waiter */
    struct vow__waiter *next, *prev;
    struct vow__wline *line; /* the line it waits in, NULL when in none */
    vow_t *p;                /* its promise (owned reference) */
    void *owner;             /* the object's record (the object's to use) */
    const struct vow__waiter_ops *ops;
    uint8_t state;            /* the object's */
    uint8_t refs;             /* the cancel context, a queued job */
    uint8_t abandoned;        /* the object is gone (vow__waiter_abandon) */
    uint8_t pool;             /* the loop pool it came from (0: vow__malloc; VOW__WAITER_OWNED) */
    struct vow__cancel_cb cb; /* its promise's cancel record (embedded) */
};
/* Waiter records up to this size come from the loop's pool (larger ones from vow__malloc):
 * one slot per waiter, the promise's cancel record inside. */
#define VOW__WAITER_SLOT 160
#define VOW__WAITER_BIG 256 /* a second size class (a job's record); larger: vow__malloc */
/* A waiter record of `size` bytes (>= sizeof(struct vow__waiter), zeroed past the head) for
 * `owner`, at the end of `line` (NULL: in none): its promise (one reference for the
 * caller), the record in *out; NULL when out of memory (nothing made). The record holds a
 * reference to the promise, so the user dropping theirs neither frees nor cancels it. */
vow_t *vow__waiter_new(vow_loop_t *loop, size_t size, struct vow__wline *line,
                       const struct vow__waiter_ops *ops, void *owner, struct vow__waiter **out);
/* The same in a record of the owner's own (w->pool VOW__WAITER_OWNED: nothing is freed
 * when it goes; its release op is the owner's sign that the record is free again). Sets the
 * head; the rest of the record is the caller's to set. */
#define VOW__WAITER_OWNED 0xFFu
vow_t *vow__waiter_init(vow_loop_t *loop, struct vow__waiter *w, struct vow__wline *line,
                        const struct vow__waiter_ops *ops, void *owner);
void vow__wline_push(struct vow__wline *l, struct vow__waiter *w);
/* Takes w out of its line (nothing when in none). */
void vow__waiter_leave(struct vow__waiter *w);
/* Queues fn as w's job (one reference, dropped by vow__waiter_put in fn). */
void vow__waiter_schedule(struct vow__waiter *w, vow__job_fn fn);
/* A waiter's state (its `state`, zero when made): waiting in its object's line; handed a
 * permit, an item or a slot (the handoff rule), in the object's `resv` line with its job
 * queued; or done. */
enum { VOW__W_WAITING = 0, VOW__W_RESERVED, VOW__W_DONE };
/* The handoff: w leaves its line for `resv`, reserved, and fn is queued as its job. */
void vow__waiter_reserve(struct vow__waiter *w, struct vow__wline *resv, vow__job_fn fn);
/* A handoff job for a permit (Lock, Semaphore, rate limiter): a waiter still reserved
 * leaves `resv` (the permit is its own now, whether its promise runs or not) and, run, its
 * promise fulfils with vow_none(). */
void vow__waiter_grant_job(vow_loop_t *loop, vow__job *job, int how);
void vow__waiter_put(struct vow__waiter *w);
/* Settles a waiter's promise if it is still pending and its loop open (consumes v / err). */
void vow__waiter_fulfil(struct vow__waiter *w, vow_value_t v);
void vow__waiter_reject(struct vow__waiter *w, vow_error_t *err);
/* Cancels w's promise for the object's teardown: w leaves its line and forgets the
 * object (w->line NULL), its ops->cancel does not run. */
void vow__waiter_abandon(struct vow__waiter *w);

#endif /* VOW_PROMISE_INTERNAL_H */
