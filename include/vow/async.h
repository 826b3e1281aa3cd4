/* vow/async.h - async/await on stackful coroutines, and async generators.
 *
 * A coroutine is a C function run on a stack of its own: vow_async starts it at once, as
 * JavaScript starts an async function, and it runs up to its first vow_await, which
 * suspends it until the awaited promise settles; vow_async then returns the promise of its
 * result. Code reads top to bottom, with locals kept across awaits:
 *
 *     static vow_result_t fetch(vow_loop_t *loop, void *arg) {
 *         vow_outcome_t o;
 *         if (vow_await(vow_sleep(loop, 100), NULL) != 0) return vow_fail_code(VOW_ECANCELED, NULL);
 *         int rc = vow_await(get_data(loop, arg), &o);     // o owns the value or the error
 *         ...
 *         vow_outcome_release(&o);
 *         return vow_ok_int(42);
 *     }
 *     vow_t *p = vow_async(loop, fetch, NULL);              // JavaScript's fetch()
 *
 * THE JOB ORDER is Node's for an async function: the body runs synchronously up to the
 * first await; `await p` resumes one job after p settles (at once one job later when p
 * has settled already), as V8 awaits a native promise; returning a value fulfils the
 * coroutine's promise at once, returning vow_follow(q) adopts q with ECMAScript's two
 * extra jobs (an async function's `return q`). tests/trace_async.c is compared with node.
 *
 * CANCELLATION (DESIGN.md: a coroutine is the one exception, asyncio's Task.cancel): a
 * vow_cancel of the coroutine's promise, direct or through the upstream rule (a
 * vow_timeout, a cancelled reaction), is a request. The promise stays pending; the await
 * in progress stops waiting (what it awaited is cancelled under the upstream rule) and
 * returns the cancellation (VOW_ECANCELED) one job later; later awaits work normally, so
 * cleanup may await. A cancel that arrives while the coroutine runs, or after its awaited
 * promise settled but before it resumed, is delivered at its next await of a promise
 * still pending (which is cancelled under the upstream rule); an await of a promise that
 * has settled already (a queue get that took an item) gets its outcome, so a value handed
 * over is never lost. A coroutine that returns a value after a cancellation was delivered,
 * or with one still waiting to be, rejects as cancelled, unless it called vow_uncancel
 * (asyncio's Task.uncancel); one that returns an error rejects with it.
 *
 * LIVENESS AND TEARDOWN. A suspended coroutine does not keep the loop alive (what it
 * awaits does, as for any promise), but vow_loop_close answers VOW_EBUSY while one exists.
 * vow_run_main cancels every suspended coroutine once (as asyncio.run cancels its tasks),
 * closes every async generator suspended at a yield (asyncio's shutdown_asyncgens), and
 * runs the loop until those have finished, so their cleanup may await (a sleep too).
 * vow_loop_free resumes each one still suspended: its await returns
 * VOW_ECANCELED, later awaits VOW_ECLOSED at once (and vow_yield VOW_ECLOSED), so its
 * cleanup runs and its stack is freed before vow_loop_free returns. vow_loop_free,
 * vow_loop_close, vow_run, vow_loop_run and vow_loop_drain called from a coroutine answer
 * VOW_EREENTRANT.
 *
 * STACKS are mmap'd with a 64 KiB guard below (an overflow is a segmentation fault at the
 * guard, never silent corruption; a single frame larger than 64 KiB needs code built with
 * -fstack-clash-protection), 64 KiB by default (256 KiB under AddressSanitizer), reused
 * through a free list. Each costs two kernel mappings: Linux's vm.max_map_count (65530 by
 * default) caps live coroutines near 32,000; past it vow_async's promise rejects with
 * VOW_ENOMEM. A coroutine must not keep pointers to its stack in objects that outlive it.
 *
 * SANITIZERS. Every switch is announced to AddressSanitizer, ThreadSanitizer and valgrind.
 * Not supported: AddressSanitizer's detect_stack_use_after_return=1, under which
 * LeakSanitizer may report a heap block held only by an address-taken local of a suspended
 * coroutine (it does not scan a suspended fiber's fake stack).
 *
 * THREADS. A coroutine runs on its loop's thread only. Blocking work goes to the pool
 * (vow_work) and is awaited like any promise.
 */
#ifndef VOW_ASYNC_H
#define VOW_ASYNC_H

#include <stddef.h>

#include "vow/common.h"
#include "vow/promise.h"
#include "vow/stream.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A coroutine body: runs on its own stack; its result settles the coroutine's promise as a
 * reaction's result settles a then's promise (a value, an error, a promise to follow). */
typedef vow_result_t (*vow_async_fn)(vow_loop_t *loop, void *arg);

/* JavaScript's call of an async function: starts fn(loop, arg) at once on a new coroutine
 * and returns when it first suspends (or returns): one reference to the promise of its
 * result. Callable from the loop's thread, inside or outside a coroutine (a coroutine
 * started from another runs until its first await, then the caller continues).
 * arg_free(arg) (optional) runs exactly once: after fn returned, when the coroutine is
 * dropped unstarted, or at once on error. Errors: NULL when loop is NULL or closed or out of
 * memory for the promise; a promise rejected with VOW_EINVAL for fn NULL, with VOW_ENOMEM
 * when no stack can be mapped (memory, or the kernel's map limit). */
VOW_EXTERN vow_t *vow_async(vow_loop_t *loop, vow_async_fn fn, void *arg, void (*arg_free)(void *));

/* vow_async with a stack of `stack_size` bytes (0: the loop's default; rounded up to
 * pages; 16 KiB .. 1 GiB, else a promise rejected with VOW_EINVAL). */
VOW_EXTERN vow_t *vow_async_ex(vow_loop_t *loop, vow_async_fn fn, void *arg,
                               void (*arg_free)(void *), size_t stack_size);

/* The default stack size of the loop's coroutines (0: 64 KiB, 256 KiB under
 * AddressSanitizer): 0; VOW_EINVAL (loop NULL, size under 16 KiB or above 1 GiB);
 * VOW_ECLOSED. Applies to coroutines started afterwards. */
VOW_EXTERN int vow_async_set_stack_size(vow_loop_t *loop, size_t stack_size);

/* `await p`. Inside a coroutine: consumes p, suspends until p settles, and stores its
 * outcome in *out (NULL: discarded), owning one reference (release it with
 * vow_outcome_release), as vow_run. Awaiting counts as handling p. Returns 0 when p
 * fulfilled; when it rejected, the rejection's code (negative: VOW_ECANCELED for a
 * cancellation delivered to this coroutine, whose error *out holds) with out->state
 * VOW_REJECTED. Misuse, out->state VOW_PENDING: VOW_EPERM outside a coroutine (on the
 * loop's own stack, or another thread: p is not consumed); VOW_ENOMEM for p NULL (the call
 * that made it ran out of memory; VOW_ECLOSED once the loop is torn down); VOW_EINVAL for p of another loop than the coroutine's
 * (consumed); VOW_ECLOSED while the loop is torn down (consumed; no suspension). */
VOW_EXTERN int vow_await(vow_t *p, vow_outcome_t *out);

/* Python's `raise` of what an await failed with, for a coroutine's return: when *out holds
 * a rejection (vow_await returned its code), a result rejecting with that error (the
 * outcome's reference moves into it: *out is left empty); otherwise (a misuse code, out
 * NULL or empty) a result rejecting with a new error of code `rc` (0 becomes VOW_EUSER).
 *     if ((rc = vow_await(p, &o)) != 0) return vow_rethrow(rc, &o); */
VOW_EXTERN vow_result_t vow_rethrow(int rc, vow_outcome_t *out);

/* asyncio.run(main()) with a coroutine for main: vow_main (vow/promise.h) on the promise
 * of vow_async(loop, fn, arg, NULL): a loop made, fn run as a coroutine to its end, what is
 * left cancelled, the loop freed; an uncaught rejection written on stderr; returns
 * vow_exit_status. int main(void) { return vow_main_async(amain, NULL); }. fn NULL: a line
 * on stderr and 1. */
VOW_EXTERN int vow_main_async(vow_async_fn fn, void *arg);

/* 1 inside a coroutine (of any loop), else 0. */
VOW_EXTERN int vow_in_coroutine(void);

/* asyncio's Task.uncancel: inside a coroutine, takes back one delivered cancellation, so a
 * normal return fulfils. Returns the cancellations still counted (asyncio's count); 0 when
 * there were none; VOW_EPERM outside a coroutine. */
VOW_EXTERN int vow_uncancel(void);
/* asyncio's Task.cancelling: inside a coroutine, the cancellations requested and not taken
 * back (delivered or pending); VOW_EPERM outside. */
VOW_EXTERN int vow_cancelling(void);

/* Live coroutines of the loop (started and not yet finished: running or suspended;
 * each holds a stack): the count; VOW_EINVAL (loop NULL); VOW_ECLOSED. */
VOW_EXTERN int vow_async_live(const vow_loop_t *loop);

/* asyncio.create_task with a coroutine body: starts fn on the next loop turn (as
 * vow_create_task), then runs it as vow_async does; the task's promise settles as the
 * coroutine's. Cancelled before it starts, fn never runs; after, the cancel is the
 * coroutine's request (above). arg_free as vow_async. Errors as vow_create_task. */
VOW_EXTERN vow_t *vow_create_task_async(vow_loop_t *loop, vow_async_fn fn, void *arg,
                                        void (*arg_free)(void *));

/* ---- async generators and async for ----------------------------------------------------- */

/* An async generator: a stream (vow/stream.h, pulled: nothing buffered) whose items fn
 * yields with vow_yield. fn starts on the first vow_stream_next, runs until it yields
 * (that next fulfils with the item) or returns (the stream ends; an error result fails
 * the stream), and resumes only on the next vow_stream_next, as a JavaScript async
 * generator resumes only on next(). Closing the stream early (vow_stream_close, the last
 * unref) resumes fn at its vow_yield with VOW_ECLOSED (or, when it is awaiting, cancels
 * that await), so its cleanup runs; its later yields return VOW_ECLOSED at once and its
 * result is dropped. arg_free as vow_async. One reference; NULL when loop is NULL or
 * closed, fn NULL or out of memory (arg_free has run). */
VOW_EXTERN vow_stream_t *vow_async_gen(vow_loop_t *loop, vow_async_fn fn, void *arg,
                                       void (*arg_free)(void *));

/* Inside an async generator's fn: hands `item` (consumed) to the waiting next, suspends
 * until the consumer asks again. 0: asked again; VOW_ECLOSED: the stream was closed (the
 * generator should clean up and return; the item was released); VOW_EPERM outside an
 * async generator (the item released); VOW_ECANCELED when the stream cancelled the pull
 * the item was for while it was not closing (the item released; not expected: the stream
 * cancels a pull only when it closes). */
VOW_EXTERN int vow_yield(vow_value_t item);

/* `async for` inside a coroutine: awaits s's next item. 1 with *out fulfilled (owning the
 * item: vow_outcome_release it); 0 at the end of the stream (*out empty); a negative code
 * when the stream failed (*out holds the error, the code is its code) or when cancelled
 * (VOW_ECANCELED); misuse as vow_await, and VOW_EINVAL for s NULL. s stays the caller's.
 *
 *     vow_outcome_t it;
 *     while (vow_await_next(s, &it) > 0) { use(vow_value_int(&it.value)); vow_outcome_release(&it); }
 */
VOW_EXTERN int vow_await_next(vow_stream_t *s, vow_outcome_t *out);

#ifdef __cplusplus
}
#endif

#endif /* VOW_ASYNC_H */
