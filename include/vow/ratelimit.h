/* vow/ratelimit.h - a rate limiter for one loop (the chapter's exercise 2, made into a
 * library tool): at most `burst` grants at once, then one every `interval_ms`, granted to
 * waiters strictly in arrival order. Acquiring returns a promise, so a grant composes with
 * the combinators, vow_timeout, tasks and cancellation; vow_rate_limit wraps a
 * promise-returning function (the exercise's @rate_limit decorator).
 *
 * THE RULE (GCRA, the generic cell rate algorithm: a token bucket of `burst` tokens that
 * gains one token every `interval_ms`, kept as one number). The limiter keeps a theoretical
 * arrival time TAT, on the loop's clock (vow_loop_now, milliseconds), 0 at first. A grant
 * is possible at time t when t >= TAT - (burst - 1) * interval_ms; a grant sets TAT to
 * max(TAT, t) + interval_ms. So a fresh limiter grants `burst` acquires at once, and from
 * then on grants are at least interval_ms apart on average: burst 1 spaces every grant at
 * least interval_ms after the one before (exercise 2's even spacing), and in any window of
 * w ms there are at most burst + w / interval_ms grants. The clock is read when an acquire
 * is made and when the limiter's timer fires (never earlier than the time computed), so a
 * grant's time is a lower bound: a grant can come late (a busy loop), never early.
 *
 * WAITERS. vow_rate_limiter_acquire returns a promise that fulfils (vow_none) when the
 * caller's grant comes: already fulfilled when a grant is possible now and nobody waits,
 * else when its turn comes; a new acquire never overtakes a waiter. Cancelling a waiting
 * promise (vow_cancel, or through the upstream rule: a vow_timeout, a cancelled vow_then
 * or vow_rate_limit call that awaits it) removes it from the line in O(1): the waiters
 * behind it move up, and each is granted at the time the cancelled one would have been,
 * or earlier. The handoff rule of vow/sync.h holds: a grant is reserved for the first
 * waiter W1 and a job (one microtask) fulfils W1's promise; if W1 is cancelled before, the
 * grant passes at once to the next waiter W2, or with nobody waiting it is given back
 * (TAT moves back by interval_ms), so a cancelled waiter never uses up a grant. Once a
 * waiter's promise is fulfilled the grant is spent (there is nothing to release: time
 * gives grants back). The promises belong to vow: vow_resolve / vow_reject / vow_on_cancel
 * on them answer VOW_EPERM.
 *
 * LIVENESS. While waiters wait, the limiter's timer is armed (one timer, for the first
 * waiter's time), and it keeps the loop alive, so vow_run does not answer VOW_ENEVER for
 * a promise a grant will settle. An idle limiter (nobody waiting) arms no timer and keeps
 * nothing alive. If the timer cannot be re-armed for lack of memory (from inside the
 * timer's callback or a cancellation, where no caller can be told), every waiter still
 * waiting is rejected with VOW_ENOMEM, rather than left waiting for a timer that will
 * never fire.
 *
 * OWNERSHIP. The limiter is the caller's: made by vow_rate_limiter_new, freed by
 * vow_rate_limiter_free (no reference counting). An alive limiter keeps its loop's memory
 * valid (as the objects of vow/sync.h do), so its handle stays safe to call after the loop
 * is closed. vow_loop_close answers VOW_EBUSY while waiters wait (their timer keeps the
 * loop alive); an idle limiter does not hold the close back. Freeing the limiter cancels
 * every promise still waiting on it. After vow_loop_close / vow_loop_free every call
 * answers NULL (its waiters were released by the teardown) but vow_rate_limiter_free,
 * which must still be called.
 *
 * MISUSE. Calls that return a promise follow the MISUSE rule of vow/promise.h: NULL when
 * the limiter is NULL, its loop closed, or out of memory; vow_rate_limit with fn NULL is a
 * promise rejected with VOW_EINVAL.
 */
#ifndef VOW_RATELIMIT_H
#define VOW_RATELIMIT_H

#include <stdint.h>

#include "vow/common.h"
#include "vow/loop.h"
#include "vow/promise.h"
#include "vow/task.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vow_rate_limiter vow_rate_limiter_t;

/* A limiter on loop granting `burst` acquires at once, then one every `interval_ms` (the
 * rule above; "n calls per second" is interval_ms = 1000 / n, rounded up to never exceed
 * the rate). The caller owns it. NULL when loop is NULL or closed, interval_ms is 0 or
 * above UINT32_MAX, burst is 0, or out of memory. */
VOW_EXTERN vow_rate_limiter_t *vow_rate_limiter_new(vow_loop_t *loop, uint64_t interval_ms,
                                                    uint32_t burst);

/* Frees the limiter (NULL ignored): the promises still waiting (those handed a grant whose
 * job has not run yet included) are cancelled, its timer stopped. */
VOW_EXTERN void vow_rate_limiter_free(vow_rate_limiter_t *rl);

/* One reference to a promise that fulfils (vow_none) when the caller is granted a slot
 * (see WAITERS above). NULL when rl is NULL, its loop closed, or out of memory (nothing
 * changes: no grant is taken, nobody is added to the line). */
VOW_EXTERN vow_t *vow_rate_limiter_acquire(vow_rate_limiter_t *rl);

/* The exercise's @rate_limit: waits for a grant (vow_rate_limiter_acquire), then calls
 * fn(loop, arg) and settles as fn's promise does (following it: ECMAScript's two extra
 * jobs; fn returning NULL rejects with VOW_ENOMEM). One reference to that promise.
 * arg_free(arg) runs exactly once: after fn returned, or when fn will never run (the
 * promise was cancelled while waiting, which gives the grant back; the limiter freed; the
 * loop freed), or at once when this call answers NULL or a rejected promise. Cancelling
 * the promise once fn has run cancels fn's promise under the upstream rule.
 * NULL when rl is NULL, its loop closed, or out of memory (no grant is taken); fn NULL: a
 * promise rejected with VOW_EINVAL. */
VOW_EXTERN vow_t *vow_rate_limit(vow_rate_limiter_t *rl, vow_task_fn fn, void *arg,
                                 void (*arg_free)(void *));

#ifdef __cplusplus
}
#endif
#endif /* VOW_RATELIMIT_H */
