/* vow/timer.h - setTimeout, setInterval, setImmediate, as Node.js has them.
 *
 * Times are milliseconds. A delay below 1, or above 2^31-1 (about 24.8 days), becomes 1
 * (Node's rule). A delay is measured from the moment the timer is set: the call reads the
 * clock (refreshing the loop's cached time, vow_loop_now), as Node's getLibuvNow does, so
 * code that blocked before setTimeout does not shorten the timer. Timers with equal
 * deadlines fire in creation order; timers are kept in one FIFO list per distinct
 * duration, and the lists in a heap by their next deadline, behind a single libev
 * timer (Node's design). Microtasks drain after every timer and immediate callback.
 *
 * Handles are ids, not pointers: a vow_timer_t is a 64-bit number (a slot and that slot's
 * 32-bit generation), so an id comes back only after its slot was reused 2^32 times;
 * clearing a timer that already fired or was cleared is safe and answers VOW_ENOENT.
 * 0 is never a valid id.
 *
 * Callback contract: when a set_* call returns an error, cb never runs, nothing is
 * scheduled and *id is left as it was. `arg` is borrowed: it stays the caller's, and vow
 * never frees it.
 */
#ifndef VOW_TIMER_H
#define VOW_TIMER_H

#include <stdint.h>

#include "vow/common.h"
#include "vow/loop.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef uint64_t vow_timer_t;
typedef void (*vow_timer_cb)(vow_loop_t *loop, void *arg);

/* setTimeout: runs cb(loop, arg) once, `ms` milliseconds from now.
 * The id goes to *id when id is not NULL. An active timeout keeps the loop alive.
 * Errors: VOW_EINVAL (loop or cb NULL), VOW_ECLOSED, VOW_ENOMEM. */
VOW_EXTERN int vow_set_timeout(vow_loop_t *loop, vow_timer_cb cb, void *arg, uint64_t ms,
                               vow_timer_t *id);

/* clearTimeout: cancels a timeout or an interval (as Node's clearTimeout does).
 * Safe from any callback, including the timer's own. Returns 0 when a pending timer
 * was cancelled; VOW_ENOENT when the id is unknown, already fired (a timeout inside its
 * own callback has fired) or already cleared; VOW_EINVAL for a NULL loop or an id that
 * is an immediate's; VOW_ECLOSED. */
VOW_EXTERN int vow_clear_timeout(vow_loop_t *loop, vow_timer_t id);

/* setInterval: runs cb every `ms` milliseconds until cleared; each repetition is
 * scheduled from the time its callback started. Errors as vow_set_timeout. */
VOW_EXTERN int vow_set_interval(vow_loop_t *loop, vow_timer_cb cb, void *arg, uint64_t ms,
                                vow_timer_t *id);

/* clearInterval: same as vow_clear_timeout. An interval cleared from its own callback
 * fires no more (returns 0). */
VOW_EXTERN int vow_clear_interval(vow_loop_t *loop, vow_timer_t id);

/* setImmediate: runs cb once in the loop's check phase, after I/O. Immediates run in
 * FIFO order; one queued from inside an immediate runs on the next loop turn. A queued
 * immediate keeps the loop alive and stops it from blocking.
 * Errors: VOW_EINVAL, VOW_ECLOSED, VOW_ENOMEM. */
VOW_EXTERN int vow_set_immediate(vow_loop_t *loop, vow_timer_cb cb, void *arg, vow_timer_t *id);

/* clearImmediate. Returns 0; VOW_ENOENT when it already ran, was cleared or is unknown;
 * VOW_EINVAL for a NULL loop or a timer's id; VOW_ECLOSED. */
VOW_EXTERN int vow_clear_immediate(vow_loop_t *loop, vow_timer_t id);

#ifdef __cplusplus
}
#endif
#endif /* VOW_TIMER_H */
