/* vow/combinators.h - Promise.all, allSettled, race, any, and asyncio's wait_for.
 *
 * OWNERSHIP. Every input promise is consumed (the array itself stays the caller's), on
 * every path, errors included; pass the same promise twice only after a vow_ref. Each
 * returns one reference to the result.
 *
 * MISUSE follows the rule of vow/promise.h. NULL when out of memory, `loop` is NULL or
 * closed, or an input is NULL (an earlier call ran out of memory); a promise rejected with
 * VOW_EINVAL for an input of another (or a freed) loop, `inputs` NULL with n > 0, or
 * unknown flags; with VOW_ERANGE for more than UINT32_MAX inputs. The inputs are released
 * in every case. `inputs` may be NULL when n is 0 (the empty input).
 *
 * JOBS. As in ECMAScript, each input subscribes with one then: a combinator settles in
 * the job of the input reaction that decides it, and results come in input order
 * (docs/job-order.md).
 *
 * CANCELLATION. Cancelling a combinator's result cancels its inputs under the upstream
 * rule (an input that another live reaction waits on keeps running). race and any leave
 * the losers running unless VOW_CANCEL_LOSERS is given.
 */
#ifndef VOW_COMBINATORS_H
#define VOW_COMBINATORS_H

#include <stddef.h>

#include "vow/common.h"
#include "vow/promise.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the list value ---------------------------------------------------------------------
 * all and allSettled fulfil with a list: vow_value_ptr(v) of the result's value is a
 * vow_list_t, owned by the promise (borrowed by reactions, like any value). The list owns
 * its items: values are shared with the inputs' values (never copied), errors referenced.
 * Read it with vow_list_of(v) and the accessors; forward it with vow_value_share. */
typedef struct vow_list vow_list_t;

/* The list in a value, or NULL when the value is not a vow list (or v is NULL). The
 * accessors below answer NULL l as an empty list. */
VOW_EXTERN const vow_list_t *vow_list_of(const vow_value_t *v);
VOW_EXTERN size_t vow_list_len(const vow_list_t *l);
/* VOW_FULFILLED or VOW_REJECTED (allSettled); VOW_PENDING past the end. */
VOW_EXTERN vow_state_t vow_list_state(const vow_list_t *l, size_t i);
/* Item i's value (borrowed), NULL when rejected or past the end. */
VOW_EXTERN const vow_value_t *vow_list_value(const vow_list_t *l, size_t i);
/* Item i's error (borrowed), NULL when fulfilled or past the end. */
VOW_EXTERN vow_error_t *vow_list_error(const vow_list_t *l, size_t i);

/* Flags for vow_race / vow_any. */
#define VOW_CANCEL_LOSERS 0x1u /* once settled, cancel the inputs still pending */

/* Promise.all: fulfils with the list of values in input order; rejects with the first
 * rejection in time (the other inputs keep running). Empty input fulfils with an empty
 * list (its reactions still run asynchronously). */
VOW_EXTERN vow_t *vow_all(vow_loop_t *loop, vow_t *const *inputs, size_t n);

/* Promise.allSettled (asyncio's gather(return_exceptions=True)): fulfils, once every
 * input settled, with one outcome per input in input order (vow_list_state, then
 * vow_list_value or vow_list_error); never rejects. */
VOW_EXTERN vow_t *vow_all_settled(vow_loop_t *loop, vow_t *const *inputs, size_t n);

/* Promise.race: settles like the first input to settle; among inputs already settled
 * the lowest index wins. Empty input stays pending forever (and holds nothing: dropping
 * it frees it). flags: 0 or VOW_CANCEL_LOSERS; others give VOW_EINVAL as a rejection. */
VOW_EXTERN vow_t *vow_race(vow_loop_t *loop, vow_t *const *inputs, size_t n, unsigned flags);

/* Promise.any: fulfils with the first fulfilment in time; when every input rejected,
 * rejects with an aggregate error (VOW_EAGGREGATE) whose inner errors are in input order.
 * Empty input rejects at once with an empty aggregate. flags as vow_race. */
VOW_EXTERN vow_t *vow_any(vow_loop_t *loop, vow_t *const *inputs, size_t n, unsigned flags);

/* Flags for vow_timeout. */
#define VOW_TIMEOUT_RACE 0x1u /* JavaScript's form: Promise.race with a timer, nothing cancelled */

/* asyncio.wait_for(p, ms) (Python 3.11). Consumes p. Settles like p if p settles within
 * `ms` milliseconds (the timer is then stopped and freed). On expiry: if another live
 * reaction also waits on p, rejects at once with VOW_ETIMEDOUT and leaves p running;
 * otherwise cancels p (under the upstream rule) and settles once p has settled: with
 * VOW_ETIMEDOUT caused by p's cancellation error, or like p if p settled otherwise anyway.
 * With VOW_TIMEOUT_RACE: rejects with VOW_ETIMEDOUT at expiry and cancels nothing.
 * Cancelling the result stops the timer and cancels p under the upstream rule.
 * Returns one reference; NULL when out of memory, p NULL or p's loop closed (p consumed).
 * Unknown flags: a promise rejected with VOW_EINVAL (p consumed, nothing started). */
VOW_EXTERN vow_t *vow_timeout(vow_t *p, uint64_t ms, unsigned flags);

#ifdef __cplusplus
}
#endif
#endif /* VOW_COMBINATORS_H */
