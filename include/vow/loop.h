/* vow/loop.h - the event loop: a libev loop with vow's microtask queue, timers and
 * immediates on top.
 *
 * Threads: a loop, and every promise, timer and error made on it, belong to the thread
 * that runs the loop. Nothing here is thread-safe unless its comment says so.
 *
 * Iteration (one turn of vow_loop_run): poll for I/O with a timeout set by the nearest
 * timer (zero when immediates or microtasks wait); then the timers that are due, in
 * deadline order and, for equal deadlines, creation order; then I/O callbacks; then
 * immediates queued before this turn's check phase. The microtask queue is drained to
 * empty after every callback vow invokes, and once per turn before the loop blocks.
 *
 * Liveness: the loop runs while something can still produce work: an active timer or
 * interval, a queued immediate or microtask, (later) an fd, a job, a resolver handle.
 * A pending promise alone does not keep the loop alive, as in Node.js. vow's internal
 * bookkeeping watchers are unref'd.
 */
#ifndef VOW_LOOP_H
#define VOW_LOOP_H

#include <stdint.h>

#include "vow/common.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ev_loop;
typedef struct vow_loop vow_loop_t;

/* Backends: the same bits as libev's EVBACKEND_*. */
#define VOW_BACKEND_AUTO 0u
#define VOW_BACKEND_SELECT 0x00000001u
#define VOW_BACKEND_POLL 0x00000002u
#define VOW_BACKEND_EPOLL 0x00000004u
#define VOW_BACKEND_KQUEUE 0x00000008u

/* Creates a loop on a new libev loop that vow owns.
 * `backend` is one VOW_BACKEND_* bit, or VOW_BACKEND_AUTO: then the environment variable
 * VOW_BACKEND ("select", "poll", "epoll", "kqueue") chooses, and without it libev's
 * default applies (LIBEV_FLAGS honoured). Whenever vow picks the backend it passes
 * EVFLAG_NOENV, so LIBEV_FLAGS cannot override the choice, and checks that the loop
 * really uses the backend asked for.
 * On success stores the loop in *out (the caller owns it: vow_loop_close or
 * vow_loop_free) and returns 0. Errors: VOW_EINVAL (out NULL, several bits, unknown
 * VOW_BACKEND name), VOW_ENOTSUP (backend not available here), VOW_ENOMEM; on every
 * error *out (when out is not NULL) is NULL. */
VOW_EXTERN int vow_loop_new(vow_loop_t **out, unsigned backend);

/* Wraps an ev_loop the application already has and drives itself (ev_run). vow does
 * not own `evl`: closing or freeing the vow loop leaves `evl` alive (vow's watchers are
 * stopped). With the application's own ev_run, vow drains its queued work after each
 * callback that queued it (vow's or the application's: see vow_loop_drain) and once per
 * iteration before the loop blocks; vow never replaces an invoke-pending callback the
 * application installed. One vow loop per libev loop: when
 * a live vow loop already manages `evl` (vow_loop_default's is libev's default loop, so
 * wrapping EV_DEFAULT while it lives is refused, and vow_loop_default returns NULL while
 * the application's wrapper of the default loop lives), answers VOW_EBUSY and makes
 * nothing. Errors: VOW_EINVAL (out or evl NULL), VOW_EBUSY, VOW_ENOMEM; on every error
 * *out (when out is not NULL) is NULL. */
VOW_EXTERN int vow_loop_wrap(vow_loop_t **out, struct ev_loop *evl);

/* The process-wide default loop, made on first use over libev's default loop (backend
 * chosen as for vow_loop_new with VOW_BACKEND_AUTO). Returns NULL when it cannot be
 * created, and while another loop watches SIGCHLD (vow_signal: libev's default loop
 * watches SIGCHLD itself, and a signal belongs to one loop). vow owns libev's default loop from then on: vow_loop_close / vow_loop_free
 * destroy it (ev_loop_destroy), and the next call makes a new one. An application that
 * drives libev's default loop itself should use vow_loop_wrap(EV_DEFAULT) instead.
 * Not thread-safe on first use. */
VOW_EXTERN vow_loop_t *vow_loop_default(void);

/* The libev loop underneath, for raw libev watchers (borrowed; NULL for a NULL loop and
 * once the loop is closed or freed). */
VOW_EXTERN struct ev_loop *vow_loop_ev(vow_loop_t *loop);

/* The backend in use (one VOW_BACKEND_* bit, ev_backend()); 0 for NULL and once closed. */
VOW_EXTERN unsigned vow_loop_backend(const vow_loop_t *loop);

/* The loop's cached monotonic time in milliseconds, updated at each turn (the clock is read
 * at the first call after each poll of the loop, and the value kept for the rest of that
 * turn), before timer callbacks run, and whenever a timer is set. 0 for NULL and once
 * closed. */
VOW_EXTERN uint64_t vow_loop_now(const vow_loop_t *loop);
/* Refreshes the cached time from the clock and returns it; 0 for NULL and once closed
 * (nothing read or written). */
VOW_EXTERN uint64_t vow_loop_update_time(vow_loop_t *loop);

typedef enum {
    VOW_RUN_DEFAULT = 0, /* until nothing keeps the loop alive, or vow_loop_stop */
    VOW_RUN_ONCE = 1,    /* one turn, blocking for I/O or timers if need be */
    VOW_RUN_NOWAIT = 2   /* one turn, never blocking */
} vow_run_mode_t;

/* Runs the loop. Returns 0 when nothing keeps the loop alive any more, a positive
 * value when work remains (after VOW_RUN_ONCE/NOWAIT, or after vow_loop_stop).
 * Errors: VOW_EINVAL (loop NULL, unknown mode), VOW_ECLOSED, VOW_EREENTRANT when called
 * from a callback running on this loop (or inside the application's ev_run of a wrapped
 * loop, or inside any coroutine): never a hang. */
VOW_EXTERN int vow_loop_run(vow_loop_t *loop, vow_run_mode_t mode);

/* Makes the running vow_loop_run (or vow_run) return after the current callback;
 * a no-op when the loop is not running, is closed, or is NULL. The next run starts
 * afresh. */
VOW_EXTERN void vow_loop_stop(vow_loop_t *loop);

/* How many things keep the loop alive now: active timers and intervals, queued
 * immediates, queued microtasks (and later fds, jobs and resolver handles). 0 means
 * vow_loop_run would return at once. VOW_ECLOSED once closed; VOW_EINVAL for NULL. */
VOW_EXTERN int vow_loop_alive(const vow_loop_t *loop);

/* Gentle teardown (libuv's rule). When work remains (vow_loop_alive() > 0), or, on a loop
 * vow_loop_new made, the application still has a watcher of its own on vow_loop_ev(loop)
 * that keeps the libev loop alive (started and not ev_unref'd: libev's own count, which
 * vow reads by entering ev_run and breaking out in its prepare phase, before any poll or
 * callback), returns VOW_EBUSY and changes nothing (but that the application's prepare
 * watchers, queued by that look, are called once more when ev_run is next entered), or a
 * coroutine (vow/async.h) is suspended, returns VOW_EBUSY as well. Otherwise releases the
 * loop as vow_loop_free does and returns 0. VOW_EREENTRANT from inside a callback of this loop, including any
 * callback of the application's own ev_run on a wrapped loop, and from inside any
 * coroutine; VOW_EINVAL on NULL (or on a closed loop that promises still hold; once
 * closed, the handle must not be used). */
VOW_EXTERN int vow_loop_close(vow_loop_t *loop);

/* Forced teardown: stops every timer, interval and immediate, drops queued microtasks,
 * releases every promise and reaction vow alone holds (running each context and value
 * destructor exactly once, and breaking adoption cycles), stops vow's watchers and
 * destroys the libev loop if vow made it. Suspended coroutines are resumed first, each
 * until it returns: the await it is suspended in answers VOW_ECANCELED, its later awaits
 * and yields VOW_ECLOSED at once (vow/async.h), and its stack is freed. Promises the user still holds stay valid
 * handles: every operation on them answers VOW_ECLOSED and vow_unref frees them; the
 * loop's last memory goes with the last of them. Returns 0; VOW_EREENTRANT from inside
 * a callback of this loop, including any callback of the application's own ev_run on a
 * wrapped loop, and from inside any coroutine (nothing is freed); VOW_EINVAL on NULL (or on a closed loop that promises still hold;
 * once closed, the handle must not be used). */
/* From a destructor that teardown (vow_loop_free or vow_loop_close) runs, this loop is
 * closed already: vow_loop_free and vow_loop_close answer VOW_EREENTRANT, every other
 * call on the loop or one of its promises answers VOW_ECLOSED (or NULL, for a call that
 * returns a promise) and schedules nothing. */
VOW_EXTERN int vow_loop_free(vow_loop_t *loop);

/* queueMicrotask: runs fn(loop, arg) after the current callback returns, in FIFO order
 * with promise reactions. `arg` stays the caller's (borrowed until fn runs; never
 * touched if the loop is freed first). The pair waits in a ring of 16-byte slots that
 * keeps 4,096 slots between bursts (no allocation in steady state); consecutive
 * microtasks share one marker in the loop's job queue, and a microtask queued after
 * other jobs takes one more (the loop's own, or a pooled one).
 * Errors: VOW_EINVAL (loop or fn NULL), VOW_ECLOSED, VOW_ENOMEM (fn will not run). */
typedef void (*vow_microtask_fn)(vow_loop_t *loop, void *arg);
VOW_EXTERN int vow_microtask(vow_loop_t *loop, vow_microtask_fn fn, void *arg);

/* Node's microtask checkpoint, now: runs every queued reaction and microtask (and those
 * they queue) until none is left. vow does this on its own after every callback of the
 * loop, the application's own libev watchers' too (on a loop vow drives or wraps): when a
 * callback queues work, vow feeds an internal watcher that libev calls right after that
 * callback returns, before the next one, as Node runs its microtasks. The call is for
 * the moments between: mid-callback, or from an application's own invoke-pending
 * callback. Returns 0; VOW_EINVAL (NULL),
 * VOW_ECLOSED, VOW_EREENTRANT from inside a drain (a reaction, a microtask, the rejection
 * hook: what you queued runs when the current drain goes on) and from inside a coroutine
 * (a reaction would run on its stack and could suspend it mid-drain). */
VOW_EXTERN int vow_loop_drain(vow_loop_t *loop);

/* Checks the loop's invariants, as libev's ev_verify does: the job queue's links and
 * length, the timer heap's order and its lists, the immediates, every pool's count of
 * live and free slots, and each layer's own (promise reaction lists, unhandled-rejection
 * lists). Costs a walk over all of it; meant for tests and debugging (the test suite's
 * VOW_TEST_END calls it). Returns 0 when everything holds; a broken invariant aborts the
 * process with a message naming it (memory is corrupt: there is nothing to return to).
 * VOW_EINVAL for NULL, VOW_ECLOSED once the loop was freed. */
VOW_EXTERN int vow_loop_verify(const vow_loop_t *loop);

#ifdef __cplusplus
}
#endif
#endif /* VOW_LOOP_H */
