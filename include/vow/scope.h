/* vow/scope.h - resource scopes: Python's `async with` (an asynchronous context manager),
 * with asyncio's guarantee that the exit runs whatever way the body ends.
 *
 *   async with Resource() as r:       vow_scope(loop, acquire, body, release, ctx, ctx_free)
 *       await use(r)                  body(loop, &r, ctx) -> promise
 *   (__aenter__ / __aexit__)          acquire(loop, ctx) / release(loop, &r, error, ctx)
 *
 * THE STEPS. acquire(loop, ctx) is called inside vow_scope and returns one reference to a
 * promise of the resource (any value). If it rejects (or returns NULL: VOW_ENOMEM), the
 * scope rejects with that error and neither body nor release runs (`__aenter__` raised).
 * Once it fulfils, body(loop, &resource, ctx) runs and returns one reference to a promise
 * (NULL counts as a rejection with VOW_ENOMEM); when that settles, release(loop, &resource,
 * error, ctx) runs, with `error` the body's rejection (borrowed; a cancellation when the
 * scope was cancelled) or NULL when the body fulfilled, and returns one reference to a
 * promise (NULL: a failure with VOW_ENOMEM). The resource is borrowed by body and release
 * (vow_value_share to keep it) and released after release's promise settled.
 *
 * THE OUTCOME, once release's promise settled:
 *  - release fulfilled: the body's outcome (its value, or its error);
 *  - release rejected with E after the body fulfilled: E;
 *  - release rejected with E after the body rejected with B: a new error with E's code and
 *    message whose cause is B (Python chains the exception raised in __aexit__ to the one
 *    that was propagating); E itself is its payload (vow_error_payload, borrowed), so E's
 *    own cause and payload stay reachable.
 *
 * CANCELLATION. Cancelling the scope's promise (vow_cancel, or the upstream rule: a
 * vow_timeout, a cancelled vow_then that waits on it) cancels the step in flight, acquire's
 * or body's promise (directly, as a task group cancels its tasks), and the scope settles
 * only after release has run, as an asyncio task that is cancelled inside `async with`
 * finishes after __aexit__: rejected with the cancellation (VOW_ECANCELED), or with
 * release's error caused by it. So vow_cancel answers VOW_CANCEL_DECLINED while the scope
 * waits for its release (a second vow_cancel rejects it at once). Cancelled while acquiring:
 * if acquire's promise is cancelled, release does not run; if it had fulfilled already (its
 * reaction queued), body is skipped and release runs with the cancellation. Cancelled while
 * releasing: release is left to finish. The scope's promise belongs to vow: vow_resolve /
 * vow_reject / vow_on_cancel on it answer VOW_EPERM.
 *
 * OWNERSHIP AND MISUSE (vow/promise.h's rule). Returns one reference. ctx is given to every
 * callback; ctx_free(ctx) runs exactly once: after the last callback returned, when the
 * scope is dropped unfinished (loop freed), or at once when a callback will never run.
 * NULL when loop is NULL or closed, or out of memory (ctx_free ran, no callback ran); a
 * promise rejected with VOW_EINVAL when acquire, body or release is NULL (ctx_free ran).
 */
#ifndef VOW_SCOPE_H
#define VOW_SCOPE_H

#include "vow/common.h"
#include "vow/loop.h"
#include "vow/promise.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef vow_t *(*vow_scope_acquire_fn)(vow_loop_t *loop, void *ctx);
typedef vow_t *(*vow_scope_body_fn)(vow_loop_t *loop, const vow_value_t *resource, void *ctx);
typedef vow_t *(*vow_scope_release_fn)(vow_loop_t *loop, const vow_value_t *resource,
                                       vow_error_t *error, void *ctx);

VOW_EXTERN vow_t *vow_scope(vow_loop_t *loop, vow_scope_acquire_fn acquire, vow_scope_body_fn body,
                            vow_scope_release_fn release, void *ctx, void (*ctx_free)(void *));

#ifdef __cplusplus
}
#endif
#endif /* VOW_SCOPE_H */
