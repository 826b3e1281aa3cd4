/* vow/promise.h - the Promise object, with JavaScript's semantics.
 *
 * THE CALLBACK CONTRACT. If a call that takes a callback returns an error, NULL or a
 * promise rejected for misuse (MISUSE below), the callback never runs and the context
 * pointer stays the caller's, except that a context destructor passed to it has already
 * run. If the call succeeds, the callback runs at most once and the context destructor
 * runs exactly once: after the callback, or when the reaction is dropped without running
 * (loop freed).
 *
 * OWNERSHIP. vow_t is an opaque, reference-counted handle.
 *  - A function that returns a promise gives the caller one reference.
 *  - A function that takes a promise as its subject (then, catch, finally, vow_run, a
 *    promise to follow) consumes the caller's reference, so chains written inline leak
 *    nothing: vow_then(vow_then(vow_sleep(loop, 10), a, NULL, c, NULL), b, NULL, c, NULL).
 *    It is consumed on every path, errors included. Keep a promise with vow_ref first.
 *  - Borrowed (no reference taken or given): vow_ref, vow_unref, vow_state, vow_value,
 *    vow_error, vow_resolve/vow_reject's subject.
 *  - Dropping the last user reference does not cancel anything: whatever will settle a
 *    promise (a timer, a reaction) keeps it alive.
 *
 * MISUSE: ONE RULE FOR EVERY CALL THAT RETURNS A PROMISE (this is the one place it is
 * written; the per-function comments below and in combinators.h and task.h only list
 * their cases; docs/misuse.md tabulates them with their tests).
 *  - NULL only when no promise can be made at all: the loop is NULL; the subject is NULL
 *    (a promise, a combinator's or vow_wait's input, a task group: NULL is what an
 *    earlier call that ran out of memory returned, so it is passed on); the loop is
 *    closed, or the subject's loop was freed (vow_loop_close / vow_loop_free); or out of
 *    memory. An inline chain that ran out of memory thus ends in NULL without leaking.
 *  - Every other misuse answers a promise rejected with the code: VOW_EINVAL for unknown
 *    flags, an unknown mode, a NULL argument that is not a subject (a task body, an
 *    inputs array with n > 0), an input of another loop, an empty vow_wait; VOW_ERANGE
 *    for more inputs than UINT32_MAX; VOW_EPERM for a second vow_task_group_join. The
 *    rejection is a promise like any other: it is reported as unhandled if nothing
 *    handles it, and a chain written inline carries it to its end. (When its promise
 *    cannot be allocated the answer is NULL; when only its error cannot, the promise
 *    rejects with VOW_ENOMEM.)
 *  - In every case, NULL or rejected, what the call takes is consumed exactly as on
 *    success: the subject and inputs are released, values and errors given are released,
 *    and a ctx_free / arg_free given runs exactly once (at once: the callback never runs).
 *  - Out of the rule: vow_ref (NULL passes through) and vow_wait_done/vow_wait_pending
 *    (borrowed accessors) return promises they do not make.
 *
 * VALUES. A promise fulfils with a vow_value_t: nothing (undefined), an int64, a double,
 * or a pointer with an optional destructor. The settled promise owns its value; reactions
 * borrow it (const vow_value_t *). Pointer values with a destructor are kept in a small
 * shared box: forwarding a value downstream (vow_value_share) shares the box, it never
 * makes a second owner, and the destructor runs once, when the last holder is freed.
 * Integers, doubles and pointers without destructor never allocate.
 *
 * ERRORS. A promise rejects with a vow_error_t (vow/error.h); your own reason rides as
 * the error's payload. Reactions borrow the error.
 *
 * JOBS. Reactions never run inside then/resolve, nor nested inside another reaction:
 * they are queued on the loop's microtask queue, in ECMAScript's order. docs/job-order.md
 * lists the job count of every operation.
 */
#ifndef VOW_PROMISE_H
#define VOW_PROMISE_H

#include <stdint.h>

#include "vow/common.h"
#include "vow/error.h"
#include "vow/loop.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vow vow_t;
struct vow__box;

typedef enum { VOW_PENDING = 0, VOW_FULFILLED = 1, VOW_REJECTED = 2 } vow_state_t;

typedef enum {
    VOW_VAL_NONE = 0, /* undefined */
    VOW_VAL_INT = 1,
    VOW_VAL_DOUBLE = 2,
    VOW_VAL_PTR = 3
} vow_value_kind_t;

/* A value. Treat the fields as private: make values with the constructors below and
 * read them with the accessors. A vow_value_t you hold that came from vow_ptr (with a
 * destructor) or vow_value_share owns what it holds: hand it to vow (vow_resolve,
 * vow_ok) or release it with vow_value_release, exactly once. */
typedef struct vow_value {
    uint32_t kind;  /* vow_value_kind_t */
    uint32_t boxed; /* pointer value kept in a shared box (`box` valid, not `dtor`) */
    union {
        int64_t i;
        double d;
        void *p;
    } u;
    union {
        void (*dtor)(void *); /* pointer values not yet stored */
        struct vow__box *box; /* pointer values with a destructor, once stored */
    } own;
} vow_value_t;

/* Values that own nothing and never allocate: undefined, an integer, a double. */
VOW_EXTERN vow_value_t vow_none(void);
VOW_EXTERN vow_value_t vow_int(int64_t i);
VOW_EXTERN vow_value_t vow_double(double d);
/* A pointer value. With `dtor`, the value owns `p`: dtor(p) runs exactly once, when the
 * last promise holding it is freed, or at once if vow cannot store it (out of memory,
 * settle refused); p NULL is a value like any other (dtor(NULL) runs, as free(NULL)
 * may). Without dtor, `p` stays the caller's and vow never frees it. */
VOW_EXTERN vow_value_t vow_ptr(void *p, void (*dtor)(void *));

/* Another owning handle to the same value (shares the box; no copy of the pointee).
 * Use it to forward a borrowed value: return vow_ok(vow_value_share(v)). v NULL gives
 * vow_none(). */
VOW_EXTERN vow_value_t vow_value_share(const vow_value_t *v);
/* Releases a value you own that you will not hand to vow, and leaves *v vow_none(), so
 * a second release of the same variable does nothing. NULL is ignored. (A copy of the
 * struct made before the release is a second owner: releasing it too is a double free,
 * which vow cannot see.) */
VOW_EXTERN void vow_value_release(vow_value_t *v);

/* The kind of a value (VOW_VAL_NONE for NULL). The accessors below borrow v. */
VOW_EXTERN vow_value_kind_t vow_value_kind(const vow_value_t *v);
/* The integer. Doubles are truncated toward zero and saturate: at or above 2^63 gives
 * INT64_MAX, below -2^63 INT64_MIN (infinities included), NaN gives 0. Other kinds, and
 * v NULL, give 0. */
VOW_EXTERN int64_t vow_value_int(const vow_value_t *v);
/* The double (integers are converted, rounded to nearest; other kinds and v NULL give
 * 0.0). */
VOW_EXTERN double vow_value_double(const vow_value_t *v);
/* The pointer (NULL for other kinds); borrowed. */
VOW_EXTERN void *vow_value_ptr(const vow_value_t *v);

/* ---------------------------------------------------------------------------------
 * What a reaction returns: a value, an error, or a promise (or foreign future) to follow.
 * Each constructor takes ownership of what it is given; the result is consumed by vow
 * when the reaction returns it.
 * --------------------------------------------------------------------------------- */
typedef struct vow_thenable vow_thenable_t;

typedef enum {
    VOW_RESULT_VALUE = 0,
    VOW_RESULT_ERROR = 1,
    VOW_RESULT_FOLLOW = 2,
    VOW_RESULT_THENABLE = 3
} vow_result_kind_t;

typedef struct vow_result {
    vow_result_kind_t kind;
    union {
        vow_value_t value;        /* VALUE */
        vow_error_t *error;       /* ERROR */
        vow_t *promise;           /* FOLLOW */
        vow_thenable_t *thenable; /* THENABLE */
    };
} vow_result_t;

/* Fulfil with `v` (consumed). */
VOW_EXTERN vow_result_t vow_ok(vow_value_t v);
VOW_EXTERN vow_result_t vow_ok_none(void);
VOW_EXTERN vow_result_t vow_ok_int(int64_t i);
VOW_EXTERN vow_result_t vow_ok_double(double d);
/* Reject with `err` (consumed; NULL becomes a VOW_ETYPE error: JavaScript's `throw
 * undefined` has no C counterpart, so a missing error is a type error). "Throwing". */
VOW_EXTERN vow_result_t vow_fail(vow_error_t *err);
/* Reject with a new error of this code and message (NULL message: vow_strerror). */
VOW_EXTERN vow_result_t vow_fail_code(int code, const char *message);
/* Follow `p` (consumed): the derived promise settles as p does, after ECMAScript's two
 * extra jobs (NewPromiseResolveThenableJob, then p's reaction). Following the derived
 * promise itself rejects it with VOW_ETYPE; a promise of another loop with VOW_EINVAL (it
 * is released). NULL (out of memory) rejects with ENOMEM. */
VOW_EXTERN vow_result_t vow_follow(vow_t *p);

/* Foreign futures (another library's). C cannot recognise a thenable in a void *, so
 * it is adopted through an explicit adapter: vow calls subscribe(ctx, resolver) once,
 * in a job of its own (as JavaScript calls a thenable's then). Promises/A+ 2.3.3 holds:
 * the first of vow_resolver_resolve / vow_resolver_reject wins, later calls are ignored
 * (they answer VOW_ESETTLED), and a non-zero return of subscribe rejects with that code
 * only if neither was called before. Resolving with another thenable unwraps it. */
typedef struct vow_resolver vow_resolver_t;
typedef int (*vow_subscribe_fn)(void *ctx, vow_resolver_t *resolver);

/* Makes a thenable from an adapter. `ctx_free` (optional) runs exactly once, after
 * subscribe returned or when the thenable is dropped unused. Returns NULL only when out
 * of memory (ctx_free has then run). `subscribe` NULL is Promises/A+ 2.3.3.4's "then is
 * not a function": the promise that follows the thenable fulfils with ctx itself, as
 * vow_ptr(ctx, ctx_free) (the value then owns ctx; ctx_free runs once, when it goes). */
VOW_EXTERN vow_thenable_t *vow_thenable_new(vow_subscribe_fn subscribe, void *ctx,
                                            void (*ctx_free)(void *));
/* Follow a foreign future (consumed). NULL (what vow_thenable_new answered out of memory)
 * rejects with VOW_ENOMEM. */
VOW_EXTERN vow_result_t vow_follow_thenable(vow_thenable_t *t);

/* Resolver handles given to subscribe. The resolver passed to subscribe is borrowed for
 * the call; keep it past the call with vow_resolver_ref and drop it with
 * vow_resolver_unref. resolve/reject consume their argument on every path and return
 * 0, VOW_ESETTLED (a call already won: ignored), VOW_ECLOSED, VOW_EINVAL. The first call
 * returns 0 even when the promise it resolves was cancelled meanwhile: its value is then
 * released, as any result that reaches a cancelled promise. VOW_EINVAL answers r NULL
 * and a result of no known kind (which is not released: nothing in it can be named); a
 * refused call does not count as the first. */
VOW_EXTERN int vow_resolver_resolve(vow_resolver_t *r, vow_result_t result);
VOW_EXTERN int vow_resolver_reject(vow_resolver_t *r, vow_error_t *err);
/* One more reference to the resolver (returns r; NULL passes through). */
VOW_EXTERN vow_resolver_t *vow_resolver_ref(vow_resolver_t *r);
/* Drops one (NULL ignored); the last frees the handle, and the promise no longer waits
 * on it from then on. */
VOW_EXTERN void vow_resolver_unref(vow_resolver_t *r);

/* ---------------------------------------------------------------------------------
 * Making and settling promises.
 * --------------------------------------------------------------------------------- */

/* A pending promise the caller settles with vow_resolve / vow_reject / vow_resolve_with.
 * Returns one reference; NULL when out of memory or the loop is NULL or closed. */
VOW_EXTERN vow_t *vow_new(vow_loop_t *loop);

/* Promise.resolve(v): a promise fulfilled with `v` (consumed on every path). Returns one
 * reference; NULL as vow_new (v has then been released). */
VOW_EXTERN vow_t *vow_resolved(vow_loop_t *loop, vow_value_t v);
/* Promise.reject(err): a promise rejected with `err` (consumed on every path; NULL err
 * rejects with VOW_ETYPE). Returns one reference; NULL as vow_new (err has then been
 * released). */
VOW_EXTERN vow_t *vow_rejected(vow_loop_t *loop, vow_error_t *err);

/* Settles a promise made by vow_new. `p` is borrowed; `v`, `err`, `result` are consumed
 * on every path. vow_resolve_with takes any result: a value, an error, a promise to
 * follow (ECMAScript's resolve(promise), two extra jobs) or a foreign thenable.
 * Returns 0; VOW_EPERM when p was not made by vow_new (derived from then, a timer, a
 * combinator); VOW_ESETTLED when p is already resolved, which includes being locked
 * onto another promise it follows (nothing changes); VOW_ECLOSED; VOW_EINVAL (NULL).
 * A `result` whose kind is none of vow_result_kind_t's (uninitialised memory) is
 * VOW_EINVAL from vow_resolve_with, before anything else: nothing is released, since
 * nothing in it can be named; a reaction that returns one rejects its derived promise
 * with VOW_EINVAL. */
VOW_EXTERN int vow_resolve(vow_t *p, vow_value_t v);
/* err NULL rejects with a VOW_ETYPE error, as vow_fail(NULL). */
VOW_EXTERN int vow_reject(vow_t *p, vow_error_t *err);
VOW_EXTERN int vow_resolve_with(vow_t *p, vow_result_t result);

/* A promise fulfilled (with vow_none) `ms` milliseconds from now, on a vow timer that
 * keeps the loop alive (asyncio.sleep: any delay is taken as it is; only setTimeout has
 * Node's rule that a delay above 2^31-1 ms becomes 1). Returns one reference; NULL when
 * out of memory, loop NULL or closed (every delay is valid: no misuse). */
VOW_EXTERN vow_t *vow_sleep(vow_loop_t *loop, uint64_t ms);

/* ---------------------------------------------------------------------------------
 * Reactions.
 * --------------------------------------------------------------------------------- */

/* Fulfilment reaction: `value` is borrowed for the call. */
typedef vow_result_t (*vow_on_ok)(vow_loop_t *loop, const vow_value_t *value, void *ctx);
/* Rejection reaction: `err` is borrowed for the call (vow_error_ref to keep it). */
typedef vow_result_t (*vow_on_err)(vow_loop_t *loop, vow_error_t *err, void *ctx);
/* finally's callback: its value is ignored; an error replaces the outcome; a promise is
 * waited for (and its rejection replaces the outcome). */
typedef vow_result_t (*vow_on_finally)(vow_loop_t *loop, void *ctx);

/* p.then(on_ok, on_err). Consumes `p`. Either reaction may be NULL: the outcome passes
 * through unchanged (sharing the value). `ctx` is given to whichever reaction runs;
 * ctx_free(ctx) runs exactly once (after the reaction, or when it is dropped, or at once
 * when the call returns NULL). Returns the derived promise (one reference); NULL when out
 * of memory, p is NULL or p's loop is closed (p consumed, ctx_free has run). */
VOW_EXTERN vow_t *vow_then(vow_t *p, vow_on_ok on_ok, vow_on_err on_err, void *ctx,
                           void (*ctx_free)(void *));

/* p.then(on_ok), the common form: vow_then(p, on_ok, NULL, ctx, NULL). ctx (NULL when the
 * reaction needs none) stays the caller's: no destructor runs. A rejection passes by.
 * NULL as vow_then (p consumed). */
VOW_EXTERN vow_t *vow_then_ok(vow_t *p, vow_on_ok on_ok, void *ctx);

/* p.catch(on_err): vow_then(p, NULL, on_err, ...). */
VOW_EXTERN vow_t *vow_catch(vow_t *p, vow_on_err on_err, void *ctx, void (*ctx_free)(void *));

/* p.finally(fn), with ECMAScript's steps (thenFinally / catchFinally: the callback's
 * result is resolved to a promise and waited for, so finally costs the jobs
 * docs/job-order.md lists). Consumes `p`. fn NULL: the outcome passes through unchanged,
 * as vow_then with no reaction (ctx_free still runs once). Returns one reference, NULL as
 * vow_then. */
VOW_EXTERN vow_t *vow_finally(vow_t *p, vow_on_finally fn, void *ctx, void (*ctx_free)(void *));

/* Flags for vow_then_ex / vow_catch_ex. */
#define VOW_CATCH_CANCELLED 0x1u /* the rejection reaction also sees cancellations */

/* vow_then / vow_catch with flags. Without VOW_CATCH_CANCELLED a cancellation (an error
 * with code VOW_ECANCELED) passes by the rejection reaction as if it were absent, so a
 * cancellation cannot be swallowed by accident (Python's BaseException rule); finally
 * always runs. NULL as vow_then. Unknown flags: a promise rejected with VOW_EINVAL (p
 * consumed, ctx_free has run, the reaction never runs). */
VOW_EXTERN vow_t *vow_then_ex(vow_t *p, vow_on_ok on_ok, vow_on_err on_err, void *ctx,
                              void (*ctx_free)(void *), unsigned flags);
VOW_EXTERN vow_t *vow_catch_ex(vow_t *p, vow_on_err on_err, void *ctx, void (*ctx_free)(void *),
                               unsigned flags);

/* ---------------------------------------------------------------------------------
 * Cancellation (asyncio's model; JavaScript has none). DESIGN.md, Cancellation.
 *
 * vow_cancel(p) on a pending promise rejects it at once with a VOW_ECANCELED error and
 * tells its source: a vow_sleep or timeout timer stops and is freed, a vow_new promise's
 * cancel callback runs. Upstream: what p waits on (the promise it was derived from by
 * then/catch/finally, the promise it follows, a combinator's inputs, a timeout's inner)
 * is cancelled in turn only when no other live reaction waits on it; user references do
 * not count. A reaction already queued when its promise is cancelled still runs, and its
 * result is released (destructors run), so nothing handed over is lost. Cancellations are
 * never reported as unhandled rejections.
 * --------------------------------------------------------------------------------- */

/* Cancels p (borrowed). Returns:
 *   0                    p was pending and is now rejected with a cancellation (by the
 *                        cancel, or by its cancel callback rejecting it with VOW_ECANCELED);
 *   VOW_CANCEL_DECLINED  (positive) p's cancel callback resolved p itself first: it
 *                        fulfilled it, rejected it with another error, or locked it onto
 *                        another promise or a thenable. p keeps that outcome and is not
 *                        cancelled (asyncio: a future that completes first cannot be
 *                        cancelled); what p now follows is not cancelled either;
 *   VOW_ESETTLED         p had already settled (nothing changes);
 *   VOW_ECLOSED          p's loop is closed (or closing: teardown has begun), or a cancel
 *                        callback freed it;
 *   VOW_EINVAL           p is NULL.
 * A pending p that was locked onto another promise before the call is cancelled (0), and
 * what it followed is cancelled by the upstream rule. Called from a cancel callback for
 * a promise that the running cancellation already has on its list (a sibling input of a
 * cancelled combinator): 0 at once, and the running cancellation cancels it next. */
#define VOW_CANCEL_DECLINED 1
VOW_EXTERN int vow_cancel(vow_t *p);

/* The cancel callback of a vow_new promise: fn(loop, ctx) runs at most once, when p is
 * cancelled while pending (before p rejects); ctx_free(ctx) runs exactly once: when p
 * settles in any way or is freed, or, when fn ran, after fn has returned (ctx stays valid
 * for the whole callback, even if the callback settles p). The callback may settle p
 * itself (vow_resolve, vow_reject, vow_resolve_with): p then keeps that outcome instead
 * of the cancellation (vow_cancel answers VOW_CANCEL_DECLINED). Returns 0; VOW_EPERM when p was not made by vow_new;
 * VOW_ESETTLED when p is no longer pending; VOW_EBUSY when a callback is already set;
 * VOW_ENOMEM; VOW_ECLOSED; VOW_EINVAL (p or fn NULL). On error ctx_free(ctx) has run. */
typedef void (*vow_cancel_fn)(vow_loop_t *loop, void *ctx);
VOW_EXTERN int vow_on_cancel(vow_t *p, vow_cancel_fn fn, void *ctx, void (*ctx_free)(void *));

/* Non-zero when err is a cancellation (code VOW_ECANCELED); 0 for NULL. */
VOW_EXTERN int vow_is_cancellation(const vow_error_t *err);

/* ---------------------------------------------------------------------------------
 * References and inspection (all borrow p).
 * --------------------------------------------------------------------------------- */
/* One more reference; returns p (NULL passes through). */
VOW_EXTERN vow_t *vow_ref(vow_t *p);
/* Drops one reference (NULL ignored). Does not cancel pending work. */
VOW_EXTERN void vow_unref(vow_t *p);

/* The state. A promise locked onto another one is still VOW_PENDING; so is NULL. A
 * promise of a closed loop keeps the state it had. */
VOW_EXTERN vow_state_t vow_state(const vow_t *p);
/* The fulfilment value (borrowed, valid while you hold p), NULL unless fulfilled; NULL
 * for p NULL and once p's loop is closed (teardown released the values). */
VOW_EXTERN const vow_value_t *vow_value(const vow_t *p);
/* The rejection reason (borrowed), NULL unless rejected (and for p NULL). Reading it does
 * not count as handling the rejection. */
VOW_EXTERN vow_error_t *vow_error(const vow_t *p);
/* The loop (borrowed); NULL for p NULL and once that loop is closed. */
VOW_EXTERN vow_loop_t *vow_loop_of(const vow_t *p);

/* ---------------------------------------------------------------------------------
 * asyncio.run
 * --------------------------------------------------------------------------------- */
typedef struct vow_outcome {
    vow_state_t state;  /* FULFILLED or REJECTED; PENDING when vow_run failed */
    vow_value_t value;  /* owned when FULFILLED */
    vow_error_t *error; /* owned when REJECTED */
} vow_outcome_t;

/* Runs the loop until `p` (consumed) settles and stores its outcome in *out (which may
 * be NULL to discard it); the outcome owns one reference to the value or error: release
 * it with vow_outcome_release. Handled: awaiting p counts as a handler.
 * Returns 0 when p settled (fulfilled or rejected: see out->state);
 * VOW_ENEVER when the loop ran out of work with p still pending;
 * VOW_EREENTRANT when called from inside a callback of this loop or a coroutine; VOW_EINTR when
 * vow_loop_stop was called; VOW_ECLOSED; VOW_EINVAL (loop or p NULL; p of another loop).
 * On every error out->state is VOW_PENDING and holds nothing. */
VOW_EXTERN int vow_run(vow_loop_t *loop, vow_t *p, vow_outcome_t *out);
/* Releases what an outcome owns and leaves it PENDING and empty, so a second release does
 * nothing. NULL is ignored. */
VOW_EXTERN void vow_outcome_release(vow_outcome_t *out);

/* asyncio.run(main) on a loop you made: vow_run(loop, p, out), then the clean exit.
 * Once p has settled (or the run ended otherwise), everything still pending that vow keeps
 * the loop alive for is cancelled: every vow_sleep, vow_timeout and vow_wait timer's
 * promise, every task of vow_create_task or a task group not yet started (the upstream
 * rule carries each cancellation to what waits on it: a started task whose body awaits a
 * sleep is cancelled through it), every job of the thread pool, and every coroutine's
 * promise (a request, once: the coroutine's await answers VOW_ECANCELED and its cleanup
 * runs, as asyncio.run cancels its tasks); async generators suspended at a yield are
 * closed (asyncio's shutdown_asyncgens). The loop then runs until those coroutines and
 * generators have finished, so their cleanup may await, a sleep included. The reactions those cancellations queue run (a
 * vow_finally's callback, a vow_catch_ex with VOW_CATCH_CANCELLED), in rounds: timed work a
 * reaction starts is cancelled in the next round (at most 64), so the call never waits on
 * a timer once p has settled. Then the loop is freed as by vow_loop_free: the
 * application's own timers, intervals and immediates are dropped unrun, and promises
 * nothing cancelled (a vow_new promise no timer settles) are released, their destructors
 * run. Consumes p; frees the loop on every path (the handle must not be used after),
 * except VOW_EREENTRANT (called from a callback of this loop: nothing is freed) and a
 * NULL loop. Returns what vow_run returns (VOW_EINTR when vow_loop_stop ended the run:
 * the loop is shut down all the same; also after VOW_EINVAL, p NULL or of another loop);
 * *out as vow_run's. While the cancellations run, the loop counts as running: their
 * callbacks and destructors get VOW_EREENTRANT from vow_loop_free, vow_loop_close and
 * vow_run. If memory runs out while
 * collecting what to cancel, the rest is dropped by the teardown without cancellation
 * reactions. */
VOW_EXTERN int vow_run_main(vow_loop_t *loop, vow_t *p, vow_outcome_t *out);

/* The exit status convention for a program's main: 0 when rc is 0 and the outcome
 * fulfilled; 13 for VOW_ENEVER (the main promise could never settle: Node's exit code
 * for an unsettled top-level await); 1 otherwise (a rejection, as Node and Python exit on
 * an uncaught error, or any other error code). out may be NULL (then rc 0 gives 1). */
VOW_EXTERN int vow_exit_status(int rc, const vow_outcome_t *out);

/* asyncio.run(main()) in one call, for a program's main: makes a loop (VOW_BACKEND_AUTO),
 * calls fn(loop, arg) for the main promise, runs it with vow_run_main, writes an uncaught
 * rejection to stderr as one line ("vow_main: uncaught rejection: ETIMEDOUT: timed out"),
 * and returns vow_exit_status: int main(void) { return vow_main(amain, NULL); }.
 * fn NULL or a loop that cannot be made: a line on stderr and 1 (fn is not called). */
VOW_EXTERN int vow_main(vow_t *(*fn)(vow_loop_t *loop, void *arg), void *arg);

/* ---------------------------------------------------------------------------------
 * Unhandled rejections (Node.js's rules).
 * When the microtask queue drains and a rejected promise has no handler, it is reported
 * once: the hook (if any) is called with VOW_REJECTION_UNHANDLED, then the mode acts.
 * A handler attached to a reported promise later reports VOW_REJECTION_HANDLED_LATE
 * (at the next drain). Within a drain, the handled-late reports come before the new
 * unhandled ones, each in the order they happened (Node's processPromiseRejections).
 * A rejection that flows into a derived promise is reported on the
 * derived one. Cancellations are never reported.
 * --------------------------------------------------------------------------------- */
typedef enum {
    VOW_UNHANDLED_WARN = 0,   /* default: one line on stderr with the cause chain */
    VOW_UNHANDLED_STRICT = 1, /* abort() */
    VOW_UNHANDLED_SILENT = 2
} vow_unhandled_mode_t;

typedef enum { VOW_REJECTION_UNHANDLED = 0, VOW_REJECTION_HANDLED_LATE = 1 } vow_rejection_event_t;

/* p and err are borrowed for the call. */
typedef void (*vow_rejection_hook)(vow_loop_t *loop, vow_t *p, vow_error_t *err,
                                   vow_rejection_event_t event, void *ctx);

/* Installs (or with NULL removes) the hook; ctx borrowed. Returns 0, VOW_EINVAL (loop
 * NULL), VOW_ECLOSED. */
VOW_EXTERN int vow_set_rejection_hook(vow_loop_t *loop, vow_rejection_hook hook, void *ctx);
/* Sets the mode. Returns 0, VOW_EINVAL (loop NULL, a mode not in the enum: nothing
 * changes), VOW_ECLOSED. */
VOW_EXTERN int vow_set_unhandled_mode(vow_loop_t *loop, vow_unhandled_mode_t mode);

#ifdef __cplusplus
}
#endif
#endif /* VOW_PROMISE_H */
