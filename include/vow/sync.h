/* vow/sync.h - synchronisation primitives for one loop: Lock, Event, Semaphore and
 * BoundedSemaphore, with asyncio's semantics (Python 3.11), whose waiting operations
 * return promises, so they compose with the combinators, vow_timeout, tasks and
 * cancellation.
 *
 * OWNERSHIP. Each object is made by its _new function and freed by its _free function
 * (the caller owns it; no reference counting). An object keeps its loop's memory valid
 * until it is freed, as a pending promise does, but does not keep the loop alive: a
 * waiter alone does not make vow_loop_close answer VOW_EBUSY (a waiter's handoff job
 * queued does). Freeing an object cancels every promise still waiting on it (they reject
 * with VOW_ECANCELED). After vow_loop_close or vow_loop_free the object answers
 * VOW_ECLOSED / NULL to every call but _free, which must still be called.
 *
 * WAITERS. Waiting operations (vow_lock_acquire, vow_sem_acquire, vow_event_wait,
 * vow_cond_wait) return one reference to a promise that fulfils with vow_none() once the
 * operation is done (asyncio returns True): at once (already fulfilled) when nothing has
 * to be waited for, else when the waiter's turn comes. Waiters are served strictly in
 * arrival order (FIFO), and a new acquire never overtakes a waiter already in line. Cancelling a waiting
 * promise (vow_cancel, directly or through the upstream rule: a vow_timeout, a cancelled
 * vow_then or task that awaits it) removes that waiter in O(1). These promises belong to
 * vow: vow_resolve / vow_reject / vow_on_cancel on them answer VOW_EPERM.
 *
 * THE HANDOFF RULE (python/cpython#90155 cannot happen). A release that finds waiters
 * does not add a permit: it reserves the permit for the first waiter W1 and queues a job
 * (one microtask) that fulfils W1's promise. If W1's promise is cancelled before that job
 * runs (W1 gave up: a timeout fired, what awaited it was cancelled), the reserved permit is
 * passed on at once to the next waiter W2 (reserved for it in turn), or, with no waiter
 * left, returned to the object. Once W1's promise is fulfilled it cannot be cancelled, and
 * every reaction already queued on it still runs (vow/promise.h, Cancellation): from then
 * on the permit is W1's, to release. So a permit is always either held by someone whose
 * promise fulfilled or on its way to the next waiter: none is lost, none is doubled. A
 * reaction of W1 that is dropped unrun (the loop freed) takes the permit with it, as the
 * loop itself is gone. Event waiters are fulfilled at once by vow_event_set (an event has
 * no permit to lose).
 *
 * MISUSE. Calls that return a promise follow the MISUSE rule of vow/promise.h: NULL when
 * the object is NULL, its loop closed, or out of memory (there is no other misuse). Calls
 * that return an int answer a negative code: VOW_EINVAL for a NULL object, VOW_ECLOSED
 * when its loop is closed, and the codes each one lists.
 */
#ifndef VOW_SYNC_H
#define VOW_SYNC_H

#include <stddef.h>
#include <stdint.h>

#include "vow/common.h"
#include "vow/loop.h"
#include "vow/promise.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------
 * Lock (asyncio.Lock). Not reentrant. C has no current task to name the holder, so
 * acquire and release take an owner tag (any pointer, NULL included, compared as it is):
 * release by another tag is refused, as releasing a lock that is not locked.
 * --------------------------------------------------------------------------------- */
typedef struct vow_lock vow_lock_t;

/* A new unlocked lock on loop (the caller owns it). NULL when loop is NULL or closed, or
 * out of memory. */
VOW_EXTERN vow_lock_t *vow_lock_new(vow_loop_t *loop);
/* Frees the lock (NULL ignored): its waiters' promises are cancelled. */
VOW_EXTERN void vow_lock_free(vow_lock_t *l);
/* Lock.acquire(): one reference to a promise that fulfils (vow_none) when the lock is
 * held for `owner`; already fulfilled when the lock was free with nobody waiting. NULL
 * when l is NULL, its loop closed, or out of memory. */
VOW_EXTERN vow_t *vow_lock_acquire(vow_lock_t *l, const void *owner);
/* Lock.release(): 0; VOW_EPERM when the lock is not locked, or is held (or reserved, by
 * the handoff rule) for another owner tag; VOW_EINVAL (l NULL); VOW_ECLOSED. With waiters,
 * the lock passes to the first one (see the handoff rule above) and stays locked. */
VOW_EXTERN int vow_lock_release(vow_lock_t *l, const void *owner);
/* Lock.locked(): 1 when held or reserved for a waiter, 0 when free; VOW_EINVAL (l NULL);
 * VOW_ECLOSED. */
VOW_EXTERN int vow_lock_locked(const vow_lock_t *l);

/* ---------------------------------------------------------------------------------
 * Event (asyncio.Event).
 * --------------------------------------------------------------------------------- */
typedef struct vow_event vow_event_t;

/* A new event, clear, on loop. NULL when loop is NULL or closed, or out of memory. */
VOW_EXTERN vow_event_t *vow_event_new(vow_loop_t *loop);
/* Frees the event (NULL ignored): its waiters' promises are cancelled. */
VOW_EXTERN void vow_event_free(vow_event_t *e);
/* Event.set(): sets the flag and fulfils every waiting promise, in arrival order. 0 (also
 * when already set); VOW_EINVAL (e NULL); VOW_ECLOSED. */
VOW_EXTERN int vow_event_set(vow_event_t *e);
/* Event.clear(): 0; VOW_EINVAL (e NULL); VOW_ECLOSED. */
VOW_EXTERN int vow_event_clear(vow_event_t *e);
/* Event.is_set(): 1 or 0; VOW_EINVAL (e NULL); VOW_ECLOSED. */
VOW_EXTERN int vow_event_is_set(const vow_event_t *e);
/* Event.wait(): one reference to a promise that fulfils (vow_none) when the event is set;
 * already fulfilled when it is set now. NULL when e is NULL, its loop closed, or out of
 * memory. */
VOW_EXTERN vow_t *vow_event_wait(vow_event_t *e);

/* ---------------------------------------------------------------------------------
 * Semaphore and BoundedSemaphore (asyncio.Semaphore, asyncio.BoundedSemaphore).
 * --------------------------------------------------------------------------------- */
typedef struct vow_sem vow_sem_t;

/* A semaphore with `value` permits. NULL when loop is NULL or closed, or out of memory. */
VOW_EXTERN vow_sem_t *vow_sem_new(vow_loop_t *loop, uint32_t value);
/* A bounded semaphore: a release that would raise the value above `value` is refused
 * (asyncio's ValueError). NULL as vow_sem_new. */
VOW_EXTERN vow_sem_t *vow_sem_bounded_new(vow_loop_t *loop, uint32_t value);
/* Frees the semaphore (NULL ignored): its waiters' promises are cancelled. */
VOW_EXTERN void vow_sem_free(vow_sem_t *s);
/* Semaphore.acquire(): one reference to a promise that fulfils (vow_none) when a permit
 * is taken; already fulfilled when one was free with nobody waiting. NULL when s is NULL,
 * its loop closed, or out of memory. */
VOW_EXTERN vow_t *vow_sem_acquire(vow_sem_t *s);
/* Semaphore.release(): gives a permit back; with waiters it goes to the first (the
 * handoff rule). 0; VOW_ERANGE when a bounded semaphore would exceed its initial value
 * (permits on their way to a waiter count: asyncio 3.11 accepts that release and ends up
 * above its bound),
 * or a semaphore's value would exceed UINT32_MAX (nothing changes); VOW_EINVAL (s NULL);
 * VOW_ECLOSED. */
VOW_EXTERN int vow_sem_release(vow_sem_t *s);
/* The number of free permits (permits reserved for a waiter are not free): >= 0;
 * VOW_EINVAL (s NULL); VOW_ECLOSED. */
VOW_EXTERN int64_t vow_sem_value(const vow_sem_t *s);
/* Semaphore.locked(): 1 when no permit is free (an acquire would wait), else 0;
 * VOW_EINVAL (s NULL); VOW_ECLOSED. */
VOW_EXTERN int vow_sem_locked(const vow_sem_t *s);

/* ---------------------------------------------------------------------------------
 * Condition (asyncio.Condition), over a Lock. Acquire and release it through its lock
 * (vow_cond_lock), with an owner tag as for any Lock.
 * --------------------------------------------------------------------------------- */
typedef struct vow_cond vow_cond_t;

/* A new condition on loop over `lock` (borrowed: it must outlive the condition; free the
 * condition first), or over a lock of its own when lock is NULL (freed with it). NULL
 * when loop is NULL or closed, lock belongs to another loop, or out of memory. */
VOW_EXTERN vow_cond_t *vow_cond_new(vow_loop_t *loop, vow_lock_t *lock);
/* Frees the condition (NULL ignored): the promises of its waits are cancelled, and its own
 * lock (if it made one) is freed. */
VOW_EXTERN void vow_cond_free(vow_cond_t *c);
/* The condition's lock (borrowed; NULL for c NULL). */
VOW_EXTERN vow_lock_t *vow_cond_lock(const vow_cond_t *c);
/* Condition.wait(): the caller holds the lock for `owner`. Releases the lock, waits for a
 * notify, then reacquires the lock for `owner` (in the lock's FIFO, behind the waiters
 * already there): one reference to a promise that fulfils (vow_none) when the lock is held
 * again. Cancellation: while waiting for a notify, the waiter leaves the line and the lock
 * is NOT reacquired (asyncio reacquires it before raising CancelledError: here the caller
 * does not hold the lock after a cancelled wait); once notified, the waiter is a lock
 * waiter with the handoff rule above, and its notification passes to the next waiter of
 * the condition (as asyncio 3.13 does), so no notify is lost. NULL when c is NULL, its
 * loop closed, or out of memory; a promise rejected with VOW_EPERM when the lock is not
 * held for `owner` (nothing changes). */
VOW_EXTERN vow_t *vow_cond_wait(vow_cond_t *c, const void *owner);
/* A predicate of vow_cond_wait_for: non-zero when the condition holds (called with the lock
 * held; ctx borrowed). */
typedef int (*vow_cond_pred_fn)(void *ctx);
/* Condition.wait_for(predicate): the caller holds the lock for `owner`. Calls pred(ctx)
 * now and after each wake-up (vow_cond_wait, with the lock held again) until it returns
 * non-zero: one reference to a promise that fulfils with vow_int(that value) with the lock
 * held for `owner` (already fulfilled when pred holds at once: the lock was never
 * released). ctx is borrowed: it must stay valid until the promise settles (ctx_free, if
 * not NULL, runs exactly once then, or at once when the call answers NULL). Cancellation
 * and the lock are as vow_cond_wait's; a rejected wait rejects the promise with its error.
 * NULL when c is NULL, its loop closed, or out of memory; a promise rejected with
 * VOW_EINVAL when pred is NULL, VOW_EPERM when the lock is not held for `owner`. */
VOW_EXTERN vow_t *vow_cond_wait_for(vow_cond_t *c, const void *owner, vow_cond_pred_fn pred,
                                    void *ctx, void (*ctx_free)(void *));
/* Condition.notify(n): wakes up to n waiters, in arrival order (each then reacquires the
 * lock). The caller holds the lock for `owner`. 0; VOW_EPERM when it does not; VOW_EINVAL
 * (c NULL); VOW_ECLOSED. */
VOW_EXTERN int vow_cond_notify(vow_cond_t *c, const void *owner, size_t n);
/* Condition.notify_all(): vow_cond_notify with no limit. */
VOW_EXTERN int vow_cond_notify_all(vow_cond_t *c, const void *owner);

#ifdef __cplusplus
}
#endif
#endif /* VOW_SYNC_H */
