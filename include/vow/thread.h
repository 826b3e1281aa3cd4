/* vow/thread.h - other threads: a pool for blocking work (asyncio's run_in_executor),
 * promises settled from any thread, and functions posted to a loop's thread.
 *
 * THREADS. A loop and its promises belong to the thread that runs the loop. What this
 * header marks "any thread" is the only way another thread reaches a loop: it queues a
 * message to the loop's mailbox (a compare-and-swap, and an ev_async wakeup when it was
 * empty), which the loop's thread handles on its next turn; the handle such a thread holds stays valid after vow_loop_free
 * (the call then answers VOW_ECLOSED and touches no freed memory). A replaced allocator
 * (vow_replace_allocator) must be thread-safe once these are used.
 *
 * LIVENESS. What another thread will finish keeps the loop alive, as a timer does: a job
 * in flight, a remote resolver not yet settled or freed, a poster not yet freed. So
 * vow_run waits for them (blocking in the backend: no timer or idle watcher spins), and
 * vow_loop_close answers VOW_EBUSY while one is there. vow_loop_free cancels every job
 * (queued ones never run; running ones see vow_work_cancelled) and joins the pool's
 * threads before it returns; it does not serve the loop meanwhile, so a job that posts to
 * its own loop and waits for the answer must poll vow_work_cancelled, or vow_loop_free
 * waits for it forever (vow_run_main serves the loop while it waits, and does not).
 *
 * SIGNALS. The pool's threads block every asynchronous signal (they go to the
 * application's threads); the synchronous ones (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP,
 * SIGSYS) stay unblocked, so a fault in a job reaches its handler.
 */
#ifndef VOW_THREAD_H
#define VOW_THREAD_H

#include "vow/common.h"
#include "vow/loop.h"
#include "vow/promise.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------
 * The pool (loop.run_in_executor(None, fn, arg)).
 * --------------------------------------------------------------------------------- */
typedef struct vow_work vow_work_t;

/* A job's body: runs on one of the pool's threads. It may poll vow_work_cancelled(job).
 * It returns a value or an error (vow_ok..., vow_fail...), which settles the job's promise
 * on the loop's thread; it must not touch the loop or any promise (a VOW_RESULT_FOLLOW or
 * VOW_RESULT_THENABLE result rejects the promise with VOW_EINVAL and is released). */
typedef vow_result_t (*vow_work_fn)(vow_work_t *job, void *arg);

/* Runs fn(job, arg) on the loop's pool (made on first use, vow_loop_set_threads workers)
 * and returns one reference to a promise that settles with its result on the loop's
 * thread. arg_free(arg), if not NULL, runs exactly once, on the loop's thread: after fn
 * returned and the promise settled, or instead of fn when the job never starts. Jobs start
 * in submission order.
 * Cancelling the promise (vow_cancel, a vow_timeout, the upstream rule): a job still queued
 * is taken out (fn never runs, arg_free runs at once); a running job is not stopped, but
 * the promise is cancelled at once and vow_work_cancelled(job) turns 1 (what fn returns is
 * then released). The promise belongs to vow (vow_resolve on it: VOW_EPERM).
 * NULL when loop is NULL or closed, or out of memory (arg_free ran); a promise rejected
 * with VOW_EINVAL when fn is NULL, VOW_EAGAIN when no thread could be started (arg_free
 * ran, fn never runs), VOW_ECLOSED once vow_run_main is waiting for the running jobs on its
 * way out (asyncio's shut-down executor; arg_free ran, fn never runs). */
VOW_EXTERN vow_t *vow_work(vow_loop_t *loop, vow_work_fn fn, void *arg, void (*arg_free)(void *));
/* 1 once the job's promise was cancelled (or its loop freed), else 0; any thread (the
 * job's own fn, typically). job NULL: VOW_EINVAL. */
VOW_EXTERN int vow_work_cancelled(const vow_work_t *job);
/* The number of threads of the loop's pool (default: the number of online cores, at least
 * 4), before its first job: 0; VOW_EINVAL (loop NULL, n 0 or above 1024); VOW_ECLOSED;
 * VOW_EBUSY (the pool has started). */
VOW_EXTERN int vow_loop_set_threads(vow_loop_t *loop, unsigned n);

/* ---------------------------------------------------------------------------------
 * Remote resolvers: a promise settled from any thread
 * (asyncio's loop.call_soon_threadsafe(fut.set_result, v)).
 * --------------------------------------------------------------------------------- */
typedef struct vow_remote vow_remote_t;

/* On the loop's thread: a new pending promise (one reference in *promise) and the handle
 * that settles it from any thread (the caller owns it: vow_remote_free). The promise
 * belongs to vow (vow_resolve on it: VOW_EPERM); it may be cancelled (a later settle is
 * then dropped). NULL (and *promise NULL) when loop is NULL or closed, promise is NULL,
 * or out of memory. */
VOW_EXTERN vow_remote_t *vow_remote_new(vow_loop_t *loop, vow_t **promise);
/* Any thread: settles the promise with result (a value or an error, consumed on every
 * path; a FOLLOW or THENABLE result answers VOW_EINVAL and is left untouched: a promise
 * belongs to its loop's thread, which must release it), on the loop's thread's next turn.
 * 0; VOW_ESETTLED when this remote was settled before (from any thread); VOW_ECLOSED when
 * the loop was freed; VOW_EINVAL (r NULL, or a FOLLOW / THENABLE result). */
VOW_EXTERN int vow_remote_resolve(vow_remote_t *r, vow_result_t result);
/* vow_remote_resolve(r, vow_fail(err)). */
VOW_EXTERN int vow_remote_reject(vow_remote_t *r, vow_error_t *err);
/* Any thread: drops the handle (NULL ignored). An unsettled promise stays pending, and no
 * longer keeps the loop alive. The handle must not be used after (a settle racing with the
 * free on another thread is the caller's bug). */
VOW_EXTERN void vow_remote_free(vow_remote_t *r);

/* ---------------------------------------------------------------------------------
 * Posters: a function run on a loop's thread, from any thread
 * (loop.call_soon_threadsafe(fn, arg)).
 * --------------------------------------------------------------------------------- */
typedef struct vow_poster vow_poster_t;
typedef void (*vow_post_fn)(vow_loop_t *loop, void *arg);

/* On the loop's thread: a handle through which any thread may post to the loop (the caller
 * owns it: vow_poster_free). It keeps the loop alive until freed. NULL when loop is NULL
 * or closed, or out of memory. */
VOW_EXTERN vow_poster_t *vow_poster_new(vow_loop_t *loop);
/* Any thread: fn(loop, arg) will run on the loop's thread, on its next turn, in posting
 * order (microtasks drain after it, as after any callback). arg_free(arg), if not NULL,
 * runs exactly once: after fn on the loop's thread, or, when fn can never run, at once on
 * the calling thread (any answer but 0) or at vow_loop_free. 0; VOW_ECLOSED when the loop
 * was freed; VOW_EINVAL (h or fn NULL); VOW_ENOMEM. */
VOW_EXTERN int vow_post(vow_poster_t *h, vow_post_fn fn, void *arg, void (*arg_free)(void *));
/* Any thread: drops the handle (NULL ignored); what it posted still runs. The handle must
 * not be used after (a post racing with the free on another thread is the caller's bug). */
VOW_EXTERN void vow_poster_free(vow_poster_t *h);

#ifdef __cplusplus
}
#endif
#endif /* VOW_THREAD_H */
