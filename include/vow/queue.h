/* vow/queue.h - asyncio.Queue for one loop (Python 3.11, with 3.13's shutdown): FIFO,
 * LIFO (asyncio.LifoQueue) and priority (asyncio.PriorityQueue) queues of vow_value_t
 * items, whose waiting operations return promises, so they compose with the combinators,
 * vow_timeout, tasks and cancellation.
 *
 * OWNERSHIP. A queue is made by a _new function and freed by vow_queue_free (the caller
 * owns it). Items are vow_value_t: a put consumes its item (the queue owns it until a get
 * hands it on), and every item's destructor runs exactly once: when the consumer releases
 * what a get gave it, or when the queue drops it (vow_queue_free, an immediate shutdown, a
 * put refused or cancelled). A queue keeps its loop's memory valid until it is freed, so
 * free it before vow_loop_close (an alive queue makes the close answer VOW_EBUSY). Freeing
 * a queue cancels every promise still waiting on it (VOW_ECANCELED) and releases its
 * items. After vow_loop_free the queue answers VOW_ECLOSED / NULL to every call but
 * vow_queue_free, which must still be called.
 *
 * WAITERS. vow_queue_get, vow_queue_put and vow_queue_join return one reference to a
 * promise. Getters and putters are each served strictly in arrival order (FIFO), and a
 * new get or put never overtakes one already waiting. Cancelling a waiting promise
 * (vow_cancel, a vow_timeout, a cancelled reaction or task awaiting it) removes that waiter
 * in O(1); a put cancelled while waiting releases its item. These promises belong to vow:
 * vow_resolve / vow_reject / vow_on_cancel on them answer VOW_EPERM.
 *
 * THE HANDOFF RULE (python/asyncio#270 cannot happen). When an item arrives for a waiting
 * getter W1, the item is reserved for W1 (it stays in the queue, but no other get can take
 * it: vow_queue_size counts it, vow_queue_get_nowait does not see it) and a job (one
 * microtask) takes it out and fulfils W1's promise with it. If W1's promise is cancelled
 * before that job runs, the reservation passes at once to the next getter W2, or, with no
 * getter left, the item is free again for any get. A freed slot of a full queue is
 * reserved for the first waiting putter the same way: its job puts its item; cancelled
 * first, it passes the slot on (and its item is released). So no item and no slot is lost
 * or taken twice. (asyncio wakes the waiter and lets it retry instead; the counts are the
 * same, but with vow an item one getter was promised is never taken by a later
 * get_nowait.)
 *
 * ORDER. A promise's reaction always runs as a microtask job, while asyncio does not yield
 * when a future is already done; so a port of an asyncio pipeline reaches the same results,
 * but lines printed within one loop turn can come in another order (see the README).
 *
 * MISUSE. Calls that return a promise follow the MISUSE rule of vow/promise.h: NULL when
 * the queue is NULL, its loop closed, or out of memory (a put's item is released then).
 * Calls that return an int answer a negative code: VOW_EINVAL for a NULL queue or pointer
 * argument, VOW_ECLOSED when its loop is closed, and the codes each one lists.
 */
#ifndef VOW_QUEUE_H
#define VOW_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "vow/common.h"
#include "vow/loop.h"
#include "vow/promise.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vow_queue vow_queue_t;

/* A priority queue's order: negative when a comes out before b, 0 when equal, positive
 * after. Items that compare equal come out in the order they were put (asyncio's heapq
 * leaves their order unspecified; Python programs add a sequence number to get this). The
 * items are borrowed; the function must not touch the queue. */
typedef int (*vow_queue_cmp_fn)(const vow_value_t *a, const vow_value_t *b, void *ctx);

/* asyncio.Queue(maxsize): a FIFO queue holding at most `maxsize` items, 0 for no bound.
 * The caller owns it. NULL when loop is NULL or closed, or out of memory. */
VOW_EXTERN vow_queue_t *vow_queue_new(vow_loop_t *loop, size_t maxsize);
/* asyncio.LifoQueue(maxsize): the last item put is the first out. NULL as vow_queue_new. */
VOW_EXTERN vow_queue_t *vow_queue_lifo_new(vow_loop_t *loop, size_t maxsize);
/* asyncio.PriorityQueue(maxsize): the least item (by cmp, with ctx, borrowed: it must
 * outlive the queue) is the first out; cmp NULL compares the items as numbers
 * (vow_value_double: the smallest first). NULL as vow_queue_new. */
VOW_EXTERN vow_queue_t *vow_queue_priority_new(vow_loop_t *loop, size_t maxsize,
                                               vow_queue_cmp_fn cmp, void *ctx);
/* Frees the queue (NULL ignored): its waiters' promises are cancelled (VOW_ECANCELED), the
 * items still inside and those of waiting puts are released. */
VOW_EXTERN void vow_queue_free(vow_queue_t *q);

/* Queue.put(item): consumes item. One reference to a promise that fulfils (vow_none) once
 * the item is in the queue: already fulfilled when there was room with no put waiting,
 * else when this put's turn comes. It rejects with VOW_ESHUTDOWN when the queue is shut
 * down (at the call, or while the put waits; the item is then released). NULL (item
 * released) when q is NULL, its loop closed, or out of memory. */
VOW_EXTERN vow_t *vow_queue_put(vow_queue_t *q, vow_value_t item);
/* Queue.put_nowait(item): on 0 the queue took *item (and *item is left vow_none()). On
 * VOW_ENOMEM (the queue could not grow, or not store the item) the item was released, as
 * vow_resolved releases a value it cannot store, and *item is left vow_none(). On any
 * other answer *item is untouched and still the caller's: VOW_EAGAIN when the queue is
 * full (asyncio's QueueFull; slots reserved for waiting puts count as full), VOW_ESHUTDOWN
 * when it is shut down, VOW_EINVAL (q or item NULL), VOW_ECLOSED. */
VOW_EXTERN int vow_queue_put_nowait(vow_queue_t *q, vow_value_t *item);
/* Queue.get(): one reference to a promise that fulfils with the next item (its value moves
 * into the promise; take it with vow_value_share or vow_run's outcome): already fulfilled
 * when an item was free with no get waiting, else when this get's turn comes. It rejects
 * with VOW_ESHUTDOWN when the queue is shut down and empty (a get waiting at a shutdown,
 * or made after it once the items left are taken). NULL when q is NULL, its loop closed,
 * or out of memory. */
VOW_EXTERN vow_t *vow_queue_get(vow_queue_t *q);
/* Queue.get_nowait(): 0 and the next item in *out (the caller owns it); VOW_EAGAIN when no
 * item is free (asyncio's QueueEmpty; items reserved for waiting gets are not free);
 * VOW_ESHUTDOWN when the queue is shut down and empty; VOW_EINVAL (q or out NULL);
 * VOW_ECLOSED. *out is vow_none() on every answer but 0 (out NULL aside). */
VOW_EXTERN int vow_queue_get_nowait(vow_queue_t *q, vow_value_t *out);
/* Queue.task_done(): one item taken by a get is done. 0; VOW_ERANGE when called more times
 * than items were put (asyncio's ValueError; nothing changes); VOW_EINVAL (q NULL);
 * VOW_ECLOSED. When every item put is done, the join promises fulfil. */
VOW_EXTERN int vow_queue_task_done(vow_queue_t *q);
/* Queue.join(): one reference to a promise that fulfils (vow_none) once every item put has
 * been marked done by vow_queue_task_done (already fulfilled when none is unfinished). An
 * immediate shutdown counts the items it drops as done. NULL when q is NULL, its loop
 * closed, or out of memory. */
VOW_EXTERN vow_t *vow_queue_join(vow_queue_t *q);
/* Queue.shutdown(immediate) (Python 3.13). From now on every put fails with VOW_ESHUTDOWN,
 * and the waiting puts reject with it (their items released). immediate 0: gets go on
 * taking the items left, then fail with VOW_ESHUTDOWN; the gets waiting now (the queue is
 * empty for them) reject with it. immediate non-zero: the items are dropped (released,
 * and counted as done for join), and every waiting get rejects with VOW_ESHUTDOWN. 0 (also
 * when already shut down: a second call may make it immediate); VOW_EINVAL (q NULL);
 * VOW_ECLOSED. */
VOW_EXTERN int vow_queue_shutdown(vow_queue_t *q, int immediate);

/* Queue.qsize(): the number of items in the queue (those reserved for a waiting get
 * included): >= 0; VOW_EINVAL (q NULL); VOW_ECLOSED. */
VOW_EXTERN int64_t vow_queue_size(const vow_queue_t *q);
/* Queue.maxsize: the bound given to _new (0: none); VOW_EINVAL (q NULL); VOW_ECLOSED. */
VOW_EXTERN int64_t vow_queue_maxsize(const vow_queue_t *q);
/* Queue.empty(): 1 when vow_queue_size is 0, else 0; VOW_EINVAL (q NULL); VOW_ECLOSED. */
VOW_EXTERN int vow_queue_empty(const vow_queue_t *q);
/* Queue.full(): 1 when the queue is bounded and a put_nowait would answer VOW_EAGAIN (its
 * items and the slots reserved for waiting puts reach maxsize), else 0; VOW_EINVAL (q
 * NULL); VOW_ECLOSED. */
VOW_EXTERN int vow_queue_full(const vow_queue_t *q);
/* 1 once vow_queue_shutdown was called, else 0; VOW_EINVAL (q NULL); VOW_ECLOSED. */
VOW_EXTERN int vow_queue_is_shutdown(const vow_queue_t *q);

#ifdef __cplusplus
}
#endif
#endif /* VOW_QUEUE_H */
