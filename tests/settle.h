/* tests/settle.h - promises that a timer settles later, for the tests of the combinators
 * (test_all, test_race, test_timeout, test_wait). Each timer counts from its own creation
 * (Node's rule), so inputs settle in the order of their delays when they are made in that
 * order, however slow the machine; made in another order, they keep it only while the
 * time between two makes stays below the difference of their delays (not so under
 * valgrind). A test whose verdict depends on the settle order makes its inputs in that
 * order, whatever their places in the input array.
 *
 *   settle_in(loop, ms, tag, v, err)  a vow_new promise a timer settles `ms` from now with
 *                                     `v`, or with `err` when it is not NULL (both consumed);
 *                                     returns one reference
 *   fulfil_in(loop, ms, tag, i)       ... fulfilled with the int `i`
 *   reject_in(loop, ms, tag, err)     ... rejected with `err` (consumed)
 *   cancel_in(loop, ms, tag)          ... cancelled (vow_cancel) instead
 *   settle_in_ex(..., flags, ...)     the general form: LATER_CANCEL, LATER_MAY_BE_CANCELLED
 *   fired[], fired_len                the tags, in the order the timers fired (reset
 *                                     fired_len for a second round)
 *
 * The timer's settle must succeed (the test fails otherwise), except under
 * LATER_MAY_BE_CANCELLED: then the promise may have been cancelled meanwhile, and it
 * refuses (and releases) what the timer brings with VOW_ESETTLED. */
#ifndef VOW_TEST_SETTLE_H
#define VOW_TEST_SETTLE_H

#include <stdint.h>
#include <stdlib.h>

#include "helpers.h"

enum {
    FIRED_MAX = 64,
    LATER_CANCEL = 1,          /* cancel the promise instead of settling it */
    LATER_MAY_BE_CANCELLED = 2 /* the promise may be cancelled by then: VOW_ESETTLED is fine */
};

/* The order in which the timers settled or cancelled their promises (tags). */
static int fired[FIRED_MAX];
static int fired_len;

typedef struct later {
    vow_t *p; /* owned reference: the promise this timer settles */
    int tag;
    unsigned flags;    /* LATER_* */
    vow_value_t value; /* owned, when err is NULL */
    vow_error_t *err;  /* owned */
} later;

static inline void later_cb(vow_loop_t *loop, void *arg) {
    (void)loop;
    later *l = arg;
    cr_assert_lt(fired_len, FIRED_MAX);
    fired[fired_len++] = l->tag;
    int rc = (l->flags & LATER_CANCEL) ? vow_cancel(l->p)
             : l->err != NULL          ? vow_reject(l->p, l->err)
                                       : vow_resolve(l->p, l->value);
    if (l->flags & LATER_MAY_BE_CANCELLED)
        cr_assert(rc == 0 || (rc == VOW_ESETTLED && vow_is_cancellation(vow_error(l->p))),
                  "settling input %d: %s", l->tag, vow_err_name(rc));
    else
        cr_assert_eq(rc, 0, "settling input %d: %s", l->tag, vow_err_name(rc));
    vow_unref(l->p);
    free(l);
}

static inline vow_t *settle_in_ex(vow_loop_t *loop, uint64_t ms, int tag, unsigned flags,
                                  vow_value_t v, vow_error_t *err) {
    later *l = malloc(sizeof *l);
    cr_assert_not_null(l);
    vow_t *p = vow_new(loop);
    cr_assert_not_null(p);
    l->p = vow_ref(p);
    l->tag = tag;
    l->flags = flags;
    l->value = v;
    l->err = err;
    int rc = vow_set_timeout(loop, later_cb, l, ms, NULL);
    cr_assert_eq(rc, 0, "vow_set_timeout: %s", vow_err_name(rc));
    return p;
}
static inline vow_t *settle_in(vow_loop_t *loop, uint64_t ms, int tag, vow_value_t v,
                               vow_error_t *err) {
    return settle_in_ex(loop, ms, tag, 0, v, err);
}
static inline vow_t *fulfil_in(vow_loop_t *loop, uint64_t ms, int tag, int64_t i) {
    return settle_in_ex(loop, ms, tag, 0, vow_int(i), NULL);
}
static inline vow_t *reject_in(vow_loop_t *loop, uint64_t ms, int tag, vow_error_t *err) {
    return settle_in_ex(loop, ms, tag, 0, vow_none(), err);
}
static inline vow_t *cancel_in(vow_loop_t *loop, uint64_t ms, int tag) {
    return settle_in_ex(loop, ms, tag, LATER_CANCEL, vow_none(), NULL);
}

#endif /* VOW_TEST_SETTLE_H */
