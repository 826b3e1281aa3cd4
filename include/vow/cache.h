/* vow/cache.h - an async cache for one loop (the chapter's exercise 3, made into a library
 * tool): memoises a promise-returning function by a byte-string key.
 *
 * WHAT IT DOES. vow_cache_get(c, key, len) answers one reference to a promise of its own
 * (a waiter) that settles as fn(loop, key, len, ctx)'s promise does:
 *  - a value stored for the key and not expired (a hit): a promise already fulfilled with a
 *    share of it (vow_value_share), and the key becomes the most recently used;
 *  - a call in flight for the key: a new waiter of that call (single flight: concurrent
 *    gets of one key make one call of fn);
 *  - otherwise (a miss): fn is called at once, from inside vow_cache_get, and the caller
 *    is its first waiter.
 * When the call fulfils, every waiter fulfils, in arrival order, with a share of its value
 * (the value's destructor runs once, when the last share goes: the cache's and every
 * waiter's), and the value is stored for ttl_ms counted from that moment (the loop's clock,
 * read when the call settles): a get at a time t with t - settled < ttl_ms is a hit, from
 * ttl_ms on it is a miss. When the call rejects, every waiter rejects with the same error
 * (shared: vow_error_ref) and nothing is stored, so the next get calls fn again.
 *
 * CANCELLATION. Cancelling a waiter (vow_cancel, or through the upstream rule) removes it
 * in O(1) and does not touch the call while other waiters remain. When the last waiter of
 * a call goes, the call is cancelled (fn's promise under the upstream rule: it is cancelled
 * unless something else of yours waits on it) and forgotten: nothing is stored, and the
 * next get calls fn again. A call that settles with a cancellation (fn's promise cancelled
 * by its own maker) rejects its waiters with it, as any rejection.
 *
 * BOUNDS. ttl_ms 0 stores nothing (only single flight); VOW_CACHE_FOREVER never expires.
 * max_entries bounds the values stored (0: no bound): storing one more evicts the least
 * recently used (a hit uses a key; a call in flight is not a stored value, and is never
 * evicted). Expired values are dropped (their shares released) on the next call on the
 * cache, vow_cache_size included: the cache arms no timer and keeps no loop alive by
 * itself (a call in flight keeps it alive as whatever settles that call does).
 *
 * INVALIDATION. vow_cache_invalidate forgets one key, vow_cache_clear every key. A stored
 * value is dropped (the cache's share released; promises already handed out keep theirs).
 * A call in flight is detached: it goes on, its waiters still get its outcome, but that
 * outcome is not stored, and the next get of the key calls fn again (so two calls of one
 * key can be in flight after an invalidation: the old one serves only the waiters it had).
 *
 * OWNERSHIP. The cache is the caller's: made by vow_cache_new, freed by vow_cache_free (no
 * reference counting). An alive cache keeps its loop's memory valid (as the objects of
 * vow/sync.h do), so its handle stays safe to call after the loop is closed; it keeps
 * nothing alive by itself, so it does not hold vow_loop_close back (the work of a call in
 * flight may). Freeing it cancels every waiter, and with them every call in flight,
 * releases the stored values, and runs ctx_free(ctx) once. After vow_loop_close /
 * vow_loop_free every call answers NULL / VOW_ECLOSED but vow_cache_free, which must still
 * be called (it releases the stored values). The waiters' promises belong
 * to vow: vow_resolve / vow_reject / vow_on_cancel on them answer VOW_EPERM.
 *
 * RE-ENTRANCY. fn may call the cache (a get of the same key joins the call being made, as
 * a second waiter); a vow_cache_free from inside fn takes effect when fn returns (the
 * outer get then answers a promise already cancelled). Cancellation callbacks of fn's
 * promises run inside vow_cancel of the last waiter and inside vow_cache_free: from there,
 * do not free the cache being freed.
 *
 * MISUSE. Calls that return a promise follow the MISUSE rule of vow/promise.h: NULL when
 * the cache is NULL, its loop closed, or out of memory; a key NULL with len > 0 is a
 * promise rejected with VOW_EINVAL. Calls that return an int answer VOW_EINVAL for a NULL
 * cache (or key NULL with len > 0), VOW_ECLOSED when its loop is closed, and the codes
 * each one lists.
 */
#ifndef VOW_CACHE_H
#define VOW_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "vow/common.h"
#include "vow/loop.h"
#include "vow/promise.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vow_cache vow_cache_t;

/* The function a cache memoises: starts the work for `key` (len bytes, borrowed for the
 * call: copy what you keep) and returns its promise (one reference, consumed by the cache),
 * or NULL when out of memory (the waiters then reject with VOW_ENOMEM). A promise of
 * another loop rejects the waiters with VOW_EINVAL. */
typedef vow_t *(*vow_cache_fn)(vow_loop_t *loop, const void *key, size_t len, void *ctx);

#define VOW_CACHE_FOREVER UINT64_MAX /* ttl_ms: a stored value never expires */

/* A new cache on loop memoising fn (the caller owns it). ctx is given to every call of fn;
 * ctx_free(ctx) (optional) runs once, when the cache is freed, or at once when this call
 * answers NULL. NULL when loop is NULL or closed, fn is NULL, or out of memory. */
VOW_EXTERN vow_cache_t *vow_cache_new(vow_loop_t *loop, vow_cache_fn fn, void *ctx,
                                      void (*ctx_free)(void *), uint64_t ttl_ms,
                                      size_t max_entries);

/* Frees the cache (NULL ignored): see OWNERSHIP above. */
VOW_EXTERN void vow_cache_free(vow_cache_t *c);

/* One reference to a waiter for `key` (len bytes; borrowed: the cache copies it): see WHAT
 * IT DOES above. NULL when c is NULL, its loop closed, or out of memory (nothing changes:
 * fn is not called, no waiter is added); key NULL with len > 0: a promise rejected with
 * VOW_EINVAL. */
VOW_EXTERN vow_t *vow_cache_get(vow_cache_t *c, const void *key, size_t len);

/* Forgets `key` (see INVALIDATION above). 0; VOW_ENOENT when the cache had nothing for it
 * (expired values count as nothing); VOW_EINVAL (c NULL, key NULL with len > 0);
 * VOW_ECLOSED. */
VOW_EXTERN int vow_cache_invalidate(vow_cache_t *c, const void *key, size_t len);

/* Forgets every key (as vow_cache_invalidate, for each). 0; VOW_EINVAL (c NULL);
 * VOW_ECLOSED. */
VOW_EXTERN int vow_cache_clear(vow_cache_t *c);

/* The number of values stored and not expired (calls in flight are not counted): >= 0;
 * VOW_EINVAL (c NULL); VOW_ECLOSED. */
VOW_EXTERN int64_t vow_cache_size(vow_cache_t *c);

#ifdef __cplusplus
}
#endif
#endif /* VOW_CACHE_H */
