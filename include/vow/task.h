/* vow/task.h - asyncio's task tools, which JavaScript lacks: wait, create_task and
 * TaskGroup (Python 3.11), on vow's promises. These follow asyncio's semantics, not
 * JavaScript's (DESIGN.md, "JavaScript or asyncio, per construct").
 *
 * OWNERSHIP is the promise rule: promises passed in are consumed (on every path, errors
 * included), promises returned give the caller one reference. MISUSE is vow/promise.h's
 * rule: NULL only when no promise can be made (loop or subject NULL, loop closed, out of
 * memory), a promise rejected with the code for every other misuse.
 */
#ifndef VOW_TASK_H
#define VOW_TASK_H

#include <stddef.h>
#include <stdint.h>

#include "vow/common.h"
#include "vow/promise.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- asyncio.wait ------------------------------------------------------------------ */

typedef enum {
    VOW_FIRST_COMPLETED = 1, /* when any input settles (a cancellation counts) */
    VOW_FIRST_EXCEPTION = 2, /* when any input rejects with an error that is not a
                                cancellation; else when all have settled */
    VOW_ALL_COMPLETED = 3    /* when every input has settled */
} vow_wait_mode_t;

#define VOW_NO_TIMEOUT UINT64_MAX
#define VOW_WAIT_CANCEL_PENDING 0x1u /* when the wait completes, cancel the inputs still pending */

/* asyncio.wait(inputs, timeout, return_when). Consumes every input (the array stays the
 * caller's). Fulfils, when `mode` is met or `timeout_ms` has passed (VOW_NO_TIMEOUT: never),
 * with a vow_wait_result_t (vow_wait_result_of on the value): the inputs split into done
 * and pending, each in input order, as live promises that can still be used: take a
 * vow_ref of a pending one and await it afterwards to get its value. "Done" means settled
 * at the moment the wait completes (as asyncio's set of done futures), even if that
 * input's own reactions have not run yet. The timeout never rejects and never cancels
 * anything; without VOW_WAIT_CANCEL_PENDING the pending inputs keep running. With it, the
 * pending inputs are cancelled directly (as asyncio's task.cancel(), not under the upstream
 * rule) when the wait completes, before any reaction reads the result: a reaction sees them
 * listed as pending and already rejected as cancelled.
 * The wait's promise never rejects, except: empty input, `inputs` NULL with n > 0, an
 * unknown mode or flag, or an input of another (or a freed) loop is a promise rejected
 * with VOW_EINVAL (asyncio's ValueError); more than UINT32_MAX inputs, with VOW_ERANGE.
 * Cancelling the wait's promise does not cancel its inputs (asyncio's rule). Returns one
 * reference; NULL when out of memory, loop NULL/closed, or an input is NULL (an input that
 * ran out of memory). The inputs are released in every case. */
VOW_EXTERN vow_t *vow_wait(vow_loop_t *loop, vow_t *const *inputs, size_t n, vow_wait_mode_t mode,
                           uint64_t timeout_ms, unsigned flags);

typedef struct vow_wait_result vow_wait_result_t;

/* The wait result in a value, or NULL when the value is not one (or v is NULL). Borrowed
 * from the value. The accessors below answer NULL w as an empty result. */
VOW_EXTERN const vow_wait_result_t *vow_wait_result_of(const vow_value_t *v);
VOW_EXTERN size_t vow_wait_done_count(const vow_wait_result_t *w);
VOW_EXTERN size_t vow_wait_pending_count(const vow_wait_result_t *w);
/* The i-th done / pending input (borrowed; NULL past the end). A pending input is a live
 * promise: vow_ref it to keep it, vow_then it or vow_run it to await its outcome. */
VOW_EXTERN vow_t *vow_wait_done(const vow_wait_result_t *w, size_t i);
VOW_EXTERN vow_t *vow_wait_pending(const vow_wait_result_t *w, size_t i);
/* The input index (in the array given to vow_wait) of the i-th done / pending input;
 * SIZE_MAX past the end. */
VOW_EXTERN size_t vow_wait_done_index(const vow_wait_result_t *w, size_t i);
VOW_EXTERN size_t vow_wait_pending_index(const vow_wait_result_t *w, size_t i);

/* ---- asyncio.create_task -------------------------------------------------------------- */

/* A task body: starts an operation and returns its promise (one reference), or NULL
 * when out of memory (the task then rejects with VOW_ENOMEM). */
typedef vow_t *(*vow_task_fn)(vow_loop_t *loop, void *arg);

/* asyncio.create_task: schedules fn(loop, arg) on the next loop turn (an immediate, as
 * asyncio's call_soon: code after create_task runs first) and returns a promise that
 * settles as fn's promise does. Cancelled before it starts, fn never runs; cancelled
 * after, the cancellation reaches fn's promise under the upstream rule. arg_free(arg)
 * runs exactly once, after fn returned or when the task is dropped unstarted (cancelled,
 * loop freed), or at once when fn will never run (this call returned NULL or a rejected
 * promise). Returns one reference; NULL when out of memory, loop NULL or closed; fn NULL:
 * a promise rejected with VOW_EINVAL. */
VOW_EXTERN vow_t *vow_create_task(vow_loop_t *loop, vow_task_fn fn, void *arg,
                                  void (*arg_free)(void *));

/* ---- asyncio.TaskGroup (Python 3.11) -----------------------------------------------------
 * A group collects tasks; joining it waits for all of them. When one fails (rejects with
 * an error that is not a cancellation), the group cancels every task still pending at
 * once, waits for them to settle, and the join rejects with an aggregate error
 * (VOW_EAGGREGATE) of every failure, in the order the tasks were added, cancellations left
 * out; if every failure was a cancellation, the join rejects as cancelled. Otherwise the
 * join fulfils with a list (vow_list_of) of the values in the order added.
 *
 * Cancelling: the abort after a failure, and cancelling the join's promise, both cancel
 * every pending task directly (asyncio's TaskGroup: a task is the group's child), whoever
 * else waits on it; the upstream rule does not apply to a group. The group learns of a failure one loop turn later (asyncio runs done callbacks
 * with call_soon), so every task that fails in the same turn reaches the aggregate.
 * Tasks may be added until join is called and until that abort has run; a task added in
 * the turn of a failure is accepted and then cancelled by the abort. */
typedef struct vow_task_group vow_task_group_t;

/* A new group on loop (one reference, released with vow_task_group_unref). NULL when out of
 * memory or the loop is NULL or closed. */
VOW_EXTERN vow_task_group_t *vow_task_group_new(vow_loop_t *loop);

/* Adds a running operation (p consumed). Returns 0; VOW_EPERM after join, or once the
 * group is shutting down after a failure (p is then cancelled, as asyncio closes the
 * coroutine it refuses); VOW_EINVAL (g or p NULL; p of another loop); VOW_ENOMEM;
 * VOW_ECLOSED. On error p has been released. */
VOW_EXTERN int vow_task_group_add(vow_task_group_t *g, vow_t *p);

/* TaskGroup.create_task: vow_create_task(fn, arg, arg_free) added to the group. Errors as
 * vow_task_group_add (VOW_EINVAL also for fn NULL); on error fn never runs and
 * arg_free(arg) has run. */
VOW_EXTERN int vow_task_group_spawn(vow_task_group_t *g, vow_task_fn fn, void *arg,
                                    void (*arg_free)(void *));

/* The group's outcome (async with's exit): one reference to a promise that settles as the
 * group comment above says. Call it once: a second call returns a promise rejected with
 * VOW_EPERM. NULL when out of memory, g NULL or the group's loop closed. The group handle
 * stays valid (and needs its vow_task_group_unref); adding after join answers VOW_EPERM. */
VOW_EXTERN vow_t *vow_task_group_join(vow_task_group_t *g);

/* One more reference to the group (returns g; NULL passes through). */
VOW_EXTERN vow_task_group_t *vow_task_group_ref(vow_task_group_t *g);

/* Drops one reference (NULL ignored); the last one releases the handle. A group dropped
 * before join is
 * joined implicitly: its
 * tasks keep running and their failures are reported through its join promise, which is
 * then unhandled (reported as an unhandled rejection like any other). */
VOW_EXTERN void vow_task_group_unref(vow_task_group_t *g);

#ifdef __cplusplus
}
#endif
#endif /* VOW_TASK_H */
