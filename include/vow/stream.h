/* vow/stream.h - async streams (async iterators, asyncio's `async for`; JavaScript's async
 * iterator protocol): a consumer asks for items one at a time with vow_stream_next, whose
 * promise fulfils with the next item or with the end; a producer pushes items, an end or an
 * error, with back-pressure, or is pulled on demand.
 *
 * THE TWO SIDES.
 *  - Consumer: vow_stream_next returns one reference to a promise of the next item (a
 *    vow_value_t, which the promise owns and reactions borrow) or of the end value
 *    (vow_stream_is_end). Items come in the order they were pushed; several nexts waiting
 *    at once are served in arrival order. After the end, every next fulfils with the end
 *    again. When the producer failed, the items pushed before the failure come first, then
 *    one next rejects with the producer's error, and every later next fulfils with the end
 *    (as a Python async generator that raised). vow_stream_close stops early.
 *  - Producer, pushing: vow_stream_push hands an item in and returns a promise that fulfils
 *    (vow_none) once the item is accepted: at once (already fulfilled) when a next waits
 *    for it or the buffer has room, else when a next makes room (back-pressure: with a
 *    buffer of 4, the fifth push stays pending until a next). vow_stream_end and
 *    vow_stream_fail finish the stream after the items already pushed.
 *  - Producer, pulled: a `pull` function given to vow_stream_new is called when a next
 *    waits with nothing buffered and no pull is in flight (one at a time, so a pull
 *    producer is asked for exactly what is consumed, as an async generator resumes only
 *    on __anext__: vow_stream_range is one). It returns one reference to a promise of the
 *    next item, of the end value (the stream ends) or a rejection (the stream fails with
 *    its error); NULL (out of memory) fails the stream with VOW_ENOMEM, a promise of
 *    another loop with VOW_EINVAL. The first pull runs inside the vow_stream_next that
 *    needs it (as JavaScript runs an async generator's body inside next()); the next ones
 *    in the reaction to the previous pull's promise. A stream may also be pushed into
 *    while it has a pull function (both sides are general, so a coroutine that yields can
 *    feed either one).
 *
 * CLOSING. vow_stream_close is the consumer stopping early (Python's aclose, a `break` out
 * of `async for`): the buffered items are released, pending pushes reject with
 * VOW_ECLOSED (their items released), waiting nexts fulfil with the end, a pull in flight
 * is cancelled (vow_cancel), and, when the producer had not yet ended or failed the
 * stream, the producer's `cleanup(loop, ctx)` runs, exactly once in the stream's life
 * (the generator's `finally`). Dropping the last reference closes the stream the same way.
 * Closing twice does nothing more.
 *
 * OWNERSHIP. A stream is reference counted (vow_stream_ref / vow_stream_unref), as a task
 * group is; vow_stream_new gives the caller one reference. A next that waits holds a
 * reference of its own until it is answered, so vow_then(vow_stream_next(s), ...) followed
 * by vow_stream_unref(s) still gets its item. Items are vow_value_t: vow_stream_push
 * consumes its item on every path; every destructor runs exactly once, when the consumer's
 * promise holding the item goes, or when the stream releases it (closed, freed, a cancelled
 * push). The helpers vow_stream_for_each, vow_stream_collect and vow_stream_map consume the
 * caller's reference to their stream (as vow_then consumes its promise), so
 * vow_stream_collect(vow_stream_range(...)) leaks nothing. ctx_free(ctx) of vow_stream_new
 * runs exactly once, when the stream's memory goes (or at once when it returns NULL).
 *
 * A stream keeps its loop's memory valid while it lives (an anchor promise, as a sync
 * object has). Like a pending promise it does not keep the loop running: vow_loop_close
 * and vow_loop_free tear the loop down around it (a waiting push's item is released then).
 * After that every call answers NULL / VOW_ECLOSED but vow_stream_ref / vow_stream_unref,
 * and the last unref still releases the buffered items and runs cleanup (when due) and
 * ctx_free.
 *
 * CANCELLATION. A waiting next or push (vow_cancel, directly or through the upstream rule:
 * a vow_timeout, a cancelled vow_then or task that awaits it) leaves its line in O(1); a
 * cancelled push releases its item and takes nothing from the stream. An item is handed to
 * a waiting next by fulfilling its promise at once, so a next that is fulfilled can no
 * longer be cancelled and its item is never lost (its reactions run, or the value goes with
 * the promise). These promises belong to vow: vow_resolve / vow_reject / vow_on_cancel on
 * them answer VOW_EPERM.
 *
 * MISUSE. Calls that return a promise follow vow/promise.h's MISUSE rule: NULL when the
 * stream is NULL, its loop closed, or out of memory; a rejected promise for the misuses
 * each one lists. Calls that return an int answer VOW_EINVAL for a NULL stream, VOW_ECLOSED
 * when its loop is closed, and the codes each lists. Constructors return NULL for every
 * misuse, having consumed what they take.
 */
#ifndef VOW_STREAM_H
#define VOW_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "vow/common.h"
#include "vow/loop.h"
#include "vow/promise.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vow_stream vow_stream_t;

/* The buffer the chapter's back-pressure uses: the fifth push waits for a next. */
#define VOW_STREAM_BUFFER 4

/* A pull producer: one reference to a promise of the next item, or of vow_stream_end_value,
 * or a rejection. `ctx` is vow_stream_new's. */
typedef vow_t *(*vow_stream_pull_fn)(vow_loop_t *loop, void *ctx);
/* The producer's cleanup, run once when the consumer closes the stream before the producer
 * ended or failed it. `ctx` is vow_stream_new's (still valid: ctx_free runs later). */
typedef void (*vow_stream_cleanup_fn)(vow_loop_t *loop, void *ctx);

/* The end value: a pointer value without destructor to a private mark (it owns nothing;
 * release it or not). A pull promise fulfils with it to end the stream; a next's promise
 * fulfils with it at the end. */
VOW_EXTERN vow_value_t vow_stream_end_value(void);
/* 1 when v is the end value, else 0 (v NULL: 0). */
VOW_EXTERN int vow_stream_is_end(const vow_value_t *v);

/* A new stream on loop buffering up to `buffer` items (0: a push waits until a next takes
 * its item; VOW_STREAM_BUFFER for the chapter's 4). `pull` (optional) makes it a pulled
 * stream; `cleanup` (optional) is the producer's early-close cleanup; ctx is given to both;
 * ctx_free(ctx) runs exactly once, when the stream's memory goes. One reference for the
 * caller. NULL when loop is NULL or closed, `buffer` is too large to allocate, or out of
 * memory (ctx_free has then run). */
VOW_EXTERN vow_stream_t *vow_stream_new(vow_loop_t *loop, size_t buffer, vow_stream_pull_fn pull,
                                        vow_stream_cleanup_fn cleanup, void *ctx,
                                        void (*ctx_free)(void *));

/* One more reference (returns s; NULL passes through). */
VOW_EXTERN vow_stream_t *vow_stream_ref(vow_stream_t *s);
/* Drops one (NULL ignored); the last one closes the stream (see CLOSING) and frees it once
 * nothing of vow still uses it (a pull in flight). */
VOW_EXTERN void vow_stream_unref(vow_stream_t *s);

/* Pushes `item` (consumed on every path). Returns one reference to a promise that fulfils
 * (vow_none) when the item is accepted (see above). A promise rejected with VOW_ECLOSED
 * when the consumer closed the stream (also for a push waiting when it closes), with
 * VOW_EPERM after vow_stream_end / vow_stream_fail (the item released). NULL when s is
 * NULL, its loop closed, or out of memory (the item released). */
VOW_EXTERN vow_t *vow_stream_push(vow_stream_t *s, vow_value_t item);

/* Ends the stream after the items pushed so far: nexts get them, then the end. 0;
 * VOW_EPERM when already ended or failed; VOW_ECLOSED when the consumer closed it or its
 * loop is closed; VOW_EINVAL (s NULL). */
VOW_EXTERN int vow_stream_end(vow_stream_t *s);
/* Fails the stream after the items pushed so far: one next then rejects with `err`
 * (consumed on every path; NULL becomes a VOW_ETYPE error, as vow_fail). Codes as
 * vow_stream_end. */
VOW_EXTERN int vow_stream_fail(vow_stream_t *s, vow_error_t *err);

/* The next item: one reference to a promise that fulfils with it (or with the end value),
 * or rejects with the producer's error (once; see above). Already settled when an item is
 * buffered or the stream is finished; else it waits (and may call the pull function).
 * NULL when s is NULL, its loop closed, or out of memory. */
VOW_EXTERN vow_t *vow_stream_next(vow_stream_t *s);

/* Stops the stream early (see CLOSING). 0 (also when already closed); VOW_EINVAL (s NULL);
 * VOW_ECLOSED when the loop is closed (nothing done: the last unref does it). */
VOW_EXTERN int vow_stream_close(vow_stream_t *s);

/* `async for item in s: fn(item)`. Consumes the caller's reference to s. Asks for one item
 * at a time and calls fn(loop, item, ctx) with each (borrowed); fn's result is awaited
 * before the next item is asked for: a value is dropped, a promise (or thenable) is waited
 * on, an error stops the loop. Returns one reference to a promise that fulfils (vow_none)
 * at the end of the stream, or rejects with the first error: the stream's, or fn's (the
 * stream is then closed, as leaving `async for` by an exception closes the generator).
 * Cancelling it cancels the next or fn's promise it waits on and closes the stream.
 * ctx_free(ctx) runs exactly once (after the last fn call, or at once on misuse). NULL when
 * s is NULL, its loop closed, or out of memory (s released, ctx_free ran); fn NULL: a
 * promise rejected with VOW_EINVAL (s released, ctx_free ran). */
VOW_EXTERN vow_t *vow_stream_for_each(vow_stream_t *s, vow_on_ok fn, void *ctx,
                                      void (*ctx_free)(void *));

/* `[x async for x in s]`. Consumes the caller's reference to s. One reference to a promise
 * that fulfils with a list (vow_list_of, vow/combinators.h) of every item in order (values
 * shared, never copied), or rejects with the stream's error (the items so far released).
 * NULL when s is NULL, its loop closed, or out of memory (s released). */
VOW_EXTERN vow_t *vow_stream_collect(vow_stream_t *s);

/* A stream of fn(item) for each item of s, at most `concurrency` items being mapped at
 * once, in input order (as p-map and asyncio.gather keep order: a slow item holds back
 * the faster ones after it, which wait in the map's read-ahead of `concurrency` items).
 * Consumes the caller's reference to s. fn(loop, item, ctx) returns a value, an error or a
 * promise to follow (a reaction's result): the output item is the value it settles with; a
 * rejection fails the output stream (after the items before it). Items are read from s
 * ahead of the consumer, up to `concurrency` at a time (mapped or waiting for their turn);
 * the output stream buffers nothing more (a pull stream of buffer 0). Closing the output
 * early cancels the items being mapped and closes s. ctx_free(ctx) runs exactly once, when
 * the output stream's memory goes (or at once on misuse). NULL when s is NULL, its loop
 * closed, fn NULL, concurrency 0, or out of memory (s released, ctx_free ran). */
VOW_EXTERN vow_stream_t *vow_stream_map(vow_stream_t *s, vow_on_ok fn, void *ctx,
                                        void (*ctx_free)(void *), size_t concurrency);

/* The chapter's AsyncRange(stop) is vow_stream_range(loop, 0, stop, 1, 100): the integers
 * start, start + step, ... while below stop (above it for a negative step), each delivered
 * `delay_ms` milliseconds after it is asked for (0: at once); asking past the last one
 * gives the end at once. A pull stream (buffer 0): nothing is computed ahead of the
 * consumer. NULL when loop is NULL or closed, step is 0, or out of memory. */
VOW_EXTERN vow_stream_t *vow_stream_range(vow_loop_t *loop, int64_t start, int64_t stop,
                                          int64_t step, uint64_t delay_ms);

#ifdef __cplusplus
}
#endif
#endif /* VOW_STREAM_H */
