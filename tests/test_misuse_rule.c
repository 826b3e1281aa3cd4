/* tests/test_misuse_rule.c - the misuse rule of vow/promise.h (MISUSE), for every public
 * function that returns a promise it makes (issue 12): NULL only when no promise can be
 * made at all (loop or subject NULL, a closed loop or a subject whose loop was freed, out
 * of memory); every other misuse answers a promise rejected with its code; in every case
 * the subject and inputs are consumed and a ctx_free / arg_free runs exactly once.
 *
 * Four tables, each row one case of docs/misuse.md:
 *  - null_rows:   a NULL loop or subject gives NULL;
 *  - reject_rows: a misuse on a live loop gives a promise already rejected with the code,
 *                 reported as unhandled like any rejection, whose reaction never ran;
 *  - closed_rows: the loop was freed (vow_loop_free) before the call: NULL, even when
 *                 the call is also a misuse (no promise can be made beats misuse);
 *  - oom_rows:    every allocation the call makes fails in turn (the first included):
 *                 NULL each time.
 * Every row checks that each counted object held by an input was freed exactly once, that
 * ctx_free / arg_free ran exactly once where one was given, and that no vow allocation is
 * left.
 */
#include <criterion/criterion.h>
#include <stdio.h>

#include "counted.h"
#include "helpers.h"

TestSuite(misuse_rule, .init = vow_test_setup, .fini = vow_test_teardown, .timeout = 60);

/* ---- what a row works on ---------------------------------------------------------------- */

/* The environment of one row: the loop, a second live loop (for inputs of another loop),
 * the inputs `prep` made (consumed by the call), a task group. */
static struct {
    vow_loop_t *loop, *other;
    vow_t *in[2];
    vow_task_group_t *g;
    vow_error_t *err;
    vow_rate_limiter_t *rl;
    vow_cache_t *cache;
    vow_t *keep; /* P_CACHE: the waiter of the call in flight for key "k" */
} E;

enum prep_kind {
    P_NONE,    /* nothing */
    P_INPUTS,  /* in[0]: fulfilled with a counted object; in[1]: pending (vow_new) */
    P_SETTLED, /* in[0] only: fulfilled with a counted object */
    P_PENDING, /* in[0] only: pending (vow_new) */
    P_GROUP,   /* g: a task group on loop */
    P_ERROR,   /* err: an error (so that the call under test is what allocates) */
    P_LIMITER, /* rl: a rate limiter on loop, with a grant free */
    P_CACHE    /* cache: a cache on loop, with a call in flight for key "k" (keep) */
};

static int reaction_calls;
static vow_result_t on_ok(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v, (void)ctx;
    reaction_calls++;
    return vow_ok_none();
}
static vow_result_t on_err(vow_loop_t *loop, vow_error_t *e, void *ctx) {
    (void)loop, (void)e, (void)ctx;
    reaction_calls++;
    return vow_ok_none();
}
static vow_result_t on_fin(vow_loop_t *loop, void *ctx) {
    (void)loop, (void)ctx;
    reaction_calls++;
    return vow_ok_none();
}
static vow_t *body(vow_loop_t *loop, void *arg) {
    (void)arg;
    reaction_calls++;
    return vow_resolved(loop, vow_int(1));
}

static vow_t *cache_fn(vow_loop_t *loop, const void *key, size_t len, void *ctx) {
    (void)key, (void)len, (void)ctx;
    return vow_new(loop); /* the cache holds it; freeing the cache cancels it */
}

static vow_t *counted_input(vow_loop_t *loop) {
    vow_t *p = vow_resolved(loop, vow_ptr(obj_new(), obj_free));
    cr_assert_not_null(p);
    return p;
}

static void prep(vow_loop_t *loop, enum prep_kind k) {
    E.in[0] = E.in[1] = NULL;
    E.g = NULL;
    if (k == P_INPUTS || k == P_SETTLED) E.in[0] = counted_input(loop);
    if (k == P_INPUTS) E.in[1] = vow_new(loop);
    if (k == P_PENDING) E.in[0] = vow_new(loop);
    if (k == P_INPUTS || k == P_PENDING) cr_assert_not_null(E.in[k == P_INPUTS ? 1 : 0]);
    if (k == P_ERROR) E.err = vow_error_new(VOW_EBUSY, "x");
    E.rl = k == P_LIMITER ? vow_rate_limiter_new(loop, 1000, 1) : NULL;
    E.cache = k == P_CACHE ? vow_cache_new(loop, cache_fn, NULL, NULL, VOW_CACHE_FOREVER, 0) : NULL;
    E.keep = E.cache != NULL ? vow_cache_get(E.cache, "k", 1) : NULL;
    if (k == P_LIMITER) cr_assert_not_null(E.rl);
    if (k == P_CACHE) cr_assert_not_null(E.keep);
    if (k == P_GROUP) {
        E.g = vow_task_group_new(loop);
        cr_assert_not_null(E.g);
    }
}

/* A promise whose loop was freed (a closed handle): the loop it came from is freed here,
 * and lives on (as memory) only as long as this promise. */
static vow_t *input_of_a_freed_loop(void) {
    vow_loop_t *dead = vow_test_loop();
    vow_t *p = counted_input(dead);
    VOW_ASSERT_CODE(vow_loop_free(dead), 0);
    return p;
}

/* Frees what prep made that the call does not consume (the limiter, the cache). */
static void unprep(void) {
    vow_rate_limiter_free(E.rl);
    vow_cache_free(E.cache);
    vow_unref(E.keep);
    E.rl = NULL;
    E.cache = NULL;
    E.keep = NULL;
}

static void reset(void) {
    memset(obj_freed, 0, sizeof obj_freed);
    obj_made = 0;
    ctx_free_calls = reaction_calls = 0;
    rejections_reset();
    memset(&E, 0, sizeof E);
}

/* ---- the rows ----------------------------------------------------------------------------- */

typedef struct row {
    const char *fn, *misuse;
    enum prep_kind prep;
    vow_t *(*call)(void);
    int want;  /* 0: NULL; otherwise the code of the rejection */
    int frees; /* ctx_free / arg_free calls expected (0 when the row gives none) */
} row;

#define L E.loop
#define IN E.in
#define CTX ((void *)(intptr_t)7)
#define BAD_FLAGS 0x80u

/* NULL loop or subject. */
static vow_t *new_null(void) { return vow_new(NULL); }
static vow_t *resolved_null(void) { return vow_resolved(NULL, vow_ptr(obj_new(), obj_free)); }
static vow_t *rejected_null(void) { return vow_rejected(NULL, vow_error_new(VOW_EBUSY, "x")); }
static vow_t *sleep_null(void) { return vow_sleep(NULL, 1); }
static vow_t *then_null(void) { return vow_then(NULL, on_ok, on_err, CTX, ctx_free_count); }
static vow_t *catch_null(void) { return vow_catch(NULL, on_err, CTX, ctx_free_count); }
static vow_t *finally_null(void) { return vow_finally(NULL, on_fin, CTX, ctx_free_count); }
static vow_t *then_ex_null(void) {
    return vow_then_ex(NULL, on_ok, on_err, CTX, ctx_free_count, BAD_FLAGS);
}
static vow_t *catch_ex_null(void) {
    return vow_catch_ex(NULL, on_err, CTX, ctx_free_count, VOW_CATCH_CANCELLED);
}
static vow_t *all_null_loop(void) { return vow_all(NULL, IN, 2); }
static vow_t *all_settled_null_loop(void) { return vow_all_settled(NULL, IN, 2); }
static vow_t *race_null_loop(void) { return vow_race(NULL, IN, 2, BAD_FLAGS); }
static vow_t *any_null_loop(void) { return vow_any(NULL, IN, 2, 0); }
static vow_t *null_third(vow_t *(*f)(vow_t *const *)) {
    vow_t *in[3] = {IN[0], NULL, IN[1]};
    return f(in);
}
static vow_t *all3(vow_t *const *in) { return vow_all(L, in, 3); }
static vow_t *all_settled3(vow_t *const *in) { return vow_all_settled(L, in, 3); }
static vow_t *race3(vow_t *const *in) { return vow_race(L, in, 3, 0); }
static vow_t *any3(vow_t *const *in) { return vow_any(L, in, 3, BAD_FLAGS); }
static vow_t *wait3(vow_t *const *in) {
    return vow_wait(L, in, 3, VOW_ALL_COMPLETED, VOW_NO_TIMEOUT, 0);
}
static vow_t *all_null_input(void) { return null_third(all3); }
static vow_t *all_settled_null_input(void) { return null_third(all_settled3); }
static vow_t *race_null_input(void) { return null_third(race3); }
static vow_t *any_null_input(void) { return null_third(any3); }
static vow_t *wait_null_input(void) { return null_third(wait3); }
static vow_t *timeout_null(void) { return vow_timeout(NULL, 10, BAD_FLAGS); }
static vow_t *wait_null_loop(void) {
    return vow_wait(NULL, IN, 2, VOW_ALL_COMPLETED, VOW_NO_TIMEOUT, 0);
}
static vow_t *create_task_null_loop(void) {
    return vow_create_task(NULL, body, CTX, ctx_free_count);
}
static vow_t *create_task_null_both(void) {
    return vow_create_task(NULL, NULL, CTX, ctx_free_count);
}
static vow_t *join_null(void) { return vow_task_group_join(NULL); }
static vow_t *rate_limit_null(void) { return vow_rate_limit(NULL, body, CTX, ctx_free_count); }
static vow_t *cache_get_null(void) { return vow_cache_get(NULL, "k", 1); }

static const row null_rows[] = {
    {"vow_new", "loop NULL", P_NONE, new_null, 0, 0},
    {"vow_resolved", "loop NULL", P_NONE, resolved_null, 0, 0},
    {"vow_rejected", "loop NULL", P_NONE, rejected_null, 0, 0},
    {"vow_sleep", "loop NULL", P_NONE, sleep_null, 0, 0},
    {"vow_then", "p NULL", P_NONE, then_null, 0, 1},
    {"vow_catch", "p NULL", P_NONE, catch_null, 0, 1},
    {"vow_finally", "p NULL", P_NONE, finally_null, 0, 1},
    {"vow_then_ex", "p NULL (and unknown flags)", P_NONE, then_ex_null, 0, 1},
    {"vow_catch_ex", "p NULL", P_NONE, catch_ex_null, 0, 1},
    {"vow_all", "loop NULL", P_INPUTS, all_null_loop, 0, 0},
    {"vow_all", "an input NULL", P_INPUTS, all_null_input, 0, 0},
    {"vow_all_settled", "loop NULL", P_INPUTS, all_settled_null_loop, 0, 0},
    {"vow_all_settled", "an input NULL", P_INPUTS, all_settled_null_input, 0, 0},
    {"vow_race", "loop NULL (and unknown flags)", P_INPUTS, race_null_loop, 0, 0},
    {"vow_race", "an input NULL", P_INPUTS, race_null_input, 0, 0},
    {"vow_any", "loop NULL", P_INPUTS, any_null_loop, 0, 0},
    {"vow_any", "an input NULL (and unknown flags)", P_INPUTS, any_null_input, 0, 0},
    {"vow_timeout", "p NULL (and unknown flags)", P_NONE, timeout_null, 0, 0},
    {"vow_wait", "loop NULL", P_INPUTS, wait_null_loop, 0, 0},
    {"vow_wait", "an input NULL", P_INPUTS, wait_null_input, 0, 0},
    {"vow_create_task", "loop NULL", P_NONE, create_task_null_loop, 0, 1},
    {"vow_create_task", "loop NULL and fn NULL", P_NONE, create_task_null_both, 0, 1},
    {"vow_task_group_join", "g NULL", P_NONE, join_null, 0, 0},
    {"vow_rate_limit", "rl NULL", P_NONE, rate_limit_null, 0, 1},
    {"vow_cache_get", "c NULL", P_NONE, cache_get_null, 0, 0},
};

/* Misuse on a live loop: a rejected promise. */
static vow_t *then_ex_flags(void) {
    return vow_then_ex(IN[0], on_ok, on_err, CTX, ctx_free_count, BAD_FLAGS);
}
static vow_t *catch_ex_flags(void) {
    return vow_catch_ex(IN[0], on_err, CTX, ctx_free_count, BAD_FLAGS | VOW_CATCH_CANCELLED);
}
static vow_t *foreign(vow_t *(*f)(vow_t *const *)) {
    vow_t *in[3] = {IN[0], counted_input(E.other), IN[1]};
    return f(in);
}
static vow_t *freed_loop_input(vow_t *(*f)(vow_t *const *)) {
    vow_t *in[3] = {IN[0], input_of_a_freed_loop(), IN[1]};
    return f(in);
}
static vow_t *race3_ok(vow_t *const *in) { return vow_race(L, in, 3, VOW_CANCEL_LOSERS); }
static vow_t *any3_ok(vow_t *const *in) { return vow_any(L, in, 3, 0); }
static vow_t *all_foreign(void) { return foreign(all3); }
static vow_t *all_freed(void) { return freed_loop_input(all3); }
static vow_t *all_array_null(void) { return vow_all(L, NULL, 2); }
static vow_t *all_settled_foreign(void) { return foreign(all_settled3); }
static vow_t *all_settled_freed(void) { return freed_loop_input(all_settled3); }
static vow_t *all_settled_array_null(void) { return vow_all_settled(L, NULL, 2); }
static vow_t *race_foreign(void) { return foreign(race3_ok); }
static vow_t *race_freed(void) { return freed_loop_input(race3_ok); }
static vow_t *race_array_null(void) { return vow_race(L, NULL, 2, 0); }
static vow_t *race_flags(void) { return vow_race(L, IN, 2, BAD_FLAGS | VOW_CANCEL_LOSERS); }
static vow_t *any_foreign(void) { return foreign(any3_ok); }
static vow_t *any_freed(void) { return freed_loop_input(any3_ok); }
static vow_t *any_array_null(void) { return vow_any(L, NULL, 2, 0); }
static vow_t *any_flags(void) { return vow_any(L, IN, 2, BAD_FLAGS); }
static vow_t *timeout_flags(void) { return vow_timeout(IN[0], 10, BAD_FLAGS); }
static vow_t *timeout_flags_pending(void) {
    return vow_timeout(IN[0], 10, BAD_FLAGS | VOW_TIMEOUT_RACE);
}
static vow_t *wait_empty(void) { return vow_wait(L, NULL, 0, VOW_ALL_COMPLETED, 10, 0); }
static vow_t *wait_array_null(void) {
    return vow_wait(L, NULL, 2, VOW_FIRST_COMPLETED, VOW_NO_TIMEOUT, 0);
}
static vow_t *wait_mode0(void) { return vow_wait(L, IN, 2, (vow_wait_mode_t)0, VOW_NO_TIMEOUT, 0); }
static vow_t *wait_mode4(void) { return vow_wait(L, IN, 2, (vow_wait_mode_t)4, 10, 0); }
static vow_t *wait_flags(void) {
    return vow_wait(L, IN, 2, VOW_FIRST_EXCEPTION, VOW_NO_TIMEOUT, BAD_FLAGS);
}
static vow_t *wait_foreign(void) { return foreign(wait3); }
static vow_t *wait_freed(void) { return freed_loop_input(wait3); }
static vow_t *create_task_fn_null(void) { return vow_create_task(L, NULL, CTX, ctx_free_count); }
static vow_t *join_twice(void) {
    vow_t *first = vow_task_group_join(E.g);
    cr_assert_not_null(first);
    vow_t *second = vow_task_group_join(E.g);
    VOW_ASSERT_STATE(vow_state(first), VOW_FULFILLED, "an empty group's first join");
    vow_unref(first);
    vow_task_group_unref(E.g);
    E.g = NULL;
    return second;
}

static vow_t *rate_limit_fn_null(void) { return vow_rate_limit(E.rl, NULL, CTX, ctx_free_count); }
static vow_t *cache_get_key_null(void) { return vow_cache_get(E.cache, NULL, 1); }

static const row reject_rows[] = {
    {"vow_then_ex", "unknown flags", P_SETTLED, then_ex_flags, VOW_EINVAL, 1},
    {"vow_catch_ex", "unknown flags", P_SETTLED, catch_ex_flags, VOW_EINVAL, 1},
    {"vow_all", "an input of another loop", P_INPUTS, all_foreign, VOW_EINVAL, 0},
    {"vow_all", "an input whose loop was freed", P_INPUTS, all_freed, VOW_EINVAL, 0},
    {"vow_all", "inputs NULL with n > 0", P_NONE, all_array_null, VOW_EINVAL, 0},
    {"vow_all_settled", "an input of another loop", P_INPUTS, all_settled_foreign, VOW_EINVAL, 0},
    {"vow_all_settled", "an input whose loop was freed", P_INPUTS, all_settled_freed, VOW_EINVAL,
     0},
    {"vow_all_settled", "inputs NULL with n > 0", P_NONE, all_settled_array_null, VOW_EINVAL, 0},
    {"vow_race", "an input of another loop", P_INPUTS, race_foreign, VOW_EINVAL, 0},
    {"vow_race", "an input whose loop was freed", P_INPUTS, race_freed, VOW_EINVAL, 0},
    {"vow_race", "inputs NULL with n > 0", P_NONE, race_array_null, VOW_EINVAL, 0},
    {"vow_race", "unknown flags", P_INPUTS, race_flags, VOW_EINVAL, 0},
    {"vow_any", "an input of another loop", P_INPUTS, any_foreign, VOW_EINVAL, 0},
    {"vow_any", "an input whose loop was freed", P_INPUTS, any_freed, VOW_EINVAL, 0},
    {"vow_any", "inputs NULL with n > 0", P_NONE, any_array_null, VOW_EINVAL, 0},
    {"vow_any", "unknown flags", P_INPUTS, any_flags, VOW_EINVAL, 0},
    {"vow_timeout", "unknown flags (p settled)", P_SETTLED, timeout_flags, VOW_EINVAL, 0},
    {"vow_timeout", "unknown flags (p pending)", P_PENDING, timeout_flags_pending, VOW_EINVAL, 0},
    {"vow_wait", "empty input", P_NONE, wait_empty, VOW_EINVAL, 0},
    {"vow_wait", "inputs NULL with n > 0", P_NONE, wait_array_null, VOW_EINVAL, 0},
    {"vow_wait", "mode 0", P_INPUTS, wait_mode0, VOW_EINVAL, 0},
    {"vow_wait", "mode 4", P_INPUTS, wait_mode4, VOW_EINVAL, 0},
    {"vow_wait", "unknown flags", P_INPUTS, wait_flags, VOW_EINVAL, 0},
    {"vow_wait", "an input of another loop", P_INPUTS, wait_foreign, VOW_EINVAL, 0},
    {"vow_wait", "an input whose loop was freed", P_INPUTS, wait_freed, VOW_EINVAL, 0},
    {"vow_create_task", "fn NULL", P_NONE, create_task_fn_null, VOW_EINVAL, 1},
    {"vow_task_group_join", "second call", P_GROUP, join_twice, VOW_EPERM, 0},
    {"vow_rate_limit", "fn NULL", P_LIMITER, rate_limit_fn_null, VOW_EINVAL, 1},
    {"vow_cache_get", "key NULL with len > 0", P_CACHE, cache_get_key_null, VOW_EINVAL, 0},
};

/* The loop was freed before the call (the rows' inputs and group were made before). */
static vow_t *c_new(void) { return vow_new(L); }
static vow_t *c_resolved(void) { return vow_resolved(L, vow_ptr(obj_new(), obj_free)); }
static vow_t *c_rejected(void) { return vow_rejected(L, vow_error_new(VOW_EBUSY, "x")); }
static vow_t *c_sleep(void) { return vow_sleep(L, 1); }
static vow_t *c_then(void) { return vow_then(IN[0], on_ok, on_err, CTX, ctx_free_count); }
static vow_t *c_catch(void) { return vow_catch(IN[0], on_err, CTX, ctx_free_count); }
static vow_t *c_finally(void) { return vow_finally(IN[0], on_fin, CTX, ctx_free_count); }
static vow_t *c_then_ex(void) {
    return vow_then_ex(IN[0], on_ok, on_err, CTX, ctx_free_count, BAD_FLAGS);
}
static vow_t *c_catch_ex(void) {
    return vow_catch_ex(IN[0], on_err, CTX, ctx_free_count, VOW_CATCH_CANCELLED);
}
static vow_t *c_all(void) { return vow_all(L, IN, 2); }
static vow_t *c_all_settled(void) { return vow_all_settled(L, IN, 2); }
static vow_t *c_race(void) { return vow_race(L, IN, 2, BAD_FLAGS); }
static vow_t *c_any(void) { return vow_any(L, IN, 2, 0); }
static vow_t *c_timeout(void) { return vow_timeout(IN[0], 10, 0); }
static vow_t *c_timeout_flags(void) { return vow_timeout(IN[0], 10, BAD_FLAGS); }
static vow_t *c_wait(void) { return vow_wait(L, IN, 2, VOW_ALL_COMPLETED, 10, 0); }
static vow_t *c_wait_mode(void) {
    return vow_wait(L, IN, 2, (vow_wait_mode_t)9, VOW_NO_TIMEOUT, 0);
}
static vow_t *c_wait_empty(void) { return vow_wait(L, NULL, 0, VOW_ALL_COMPLETED, 10, 0); }
static vow_t *c_create_task(void) { return vow_create_task(L, body, CTX, ctx_free_count); }
static vow_t *c_create_task_fn_null(void) { return vow_create_task(L, NULL, CTX, ctx_free_count); }
static vow_t *c_join(void) { return vow_task_group_join(E.g); }
static vow_t *c_rate_limit(void) { return vow_rate_limit(E.rl, body, CTX, ctx_free_count); }
static vow_t *c_cache_get(void) { return vow_cache_get(E.cache, "k", 1); }

static const row closed_rows[] = {
    {"vow_new", "loop closed", P_NONE, c_new, 0, 0},
    {"vow_resolved", "loop closed", P_NONE, c_resolved, 0, 0},
    {"vow_rejected", "loop closed", P_NONE, c_rejected, 0, 0},
    {"vow_sleep", "loop closed", P_NONE, c_sleep, 0, 0},
    {"vow_then", "p's loop closed", P_SETTLED, c_then, 0, 1},
    {"vow_catch", "p's loop closed", P_PENDING, c_catch, 0, 1},
    {"vow_finally", "p's loop closed", P_SETTLED, c_finally, 0, 1},
    {"vow_then_ex", "p's loop closed (and unknown flags)", P_SETTLED, c_then_ex, 0, 1},
    {"vow_catch_ex", "p's loop closed", P_SETTLED, c_catch_ex, 0, 1},
    {"vow_all", "loop closed", P_INPUTS, c_all, 0, 0},
    {"vow_all_settled", "loop closed", P_INPUTS, c_all_settled, 0, 0},
    {"vow_race", "loop closed (and unknown flags)", P_INPUTS, c_race, 0, 0},
    {"vow_any", "loop closed", P_INPUTS, c_any, 0, 0},
    {"vow_timeout", "p's loop closed", P_PENDING, c_timeout, 0, 0},
    {"vow_timeout", "p's loop closed (and unknown flags)", P_SETTLED, c_timeout_flags, 0, 0},
    {"vow_wait", "loop closed", P_INPUTS, c_wait, 0, 0},
    {"vow_wait", "loop closed (and mode 9)", P_INPUTS, c_wait_mode, 0, 0},
    {"vow_wait", "loop closed (and empty input)", P_NONE, c_wait_empty, 0, 0},
    {"vow_create_task", "loop closed", P_NONE, c_create_task, 0, 1},
    {"vow_create_task", "loop closed (and fn NULL)", P_NONE, c_create_task_fn_null, 0, 1},
    {"vow_task_group_join", "the group's loop closed", P_GROUP, c_join, 0, 0},
    {"vow_rate_limit", "the limiter's loop closed", P_LIMITER, c_rate_limit, 0, 1},
    {"vow_cache_get", "the cache's loop closed", P_CACHE, c_cache_get, 0, 0},
};

/* Valid calls, for the out-of-memory sweep. */
static vow_t *o_new(void) { return vow_new(L); }
static vow_t *o_resolved(void) { return vow_resolved(L, vow_int(3)); }
static vow_t *o_rejected(void) { return vow_rejected(L, E.err); }
static vow_t *o_resolved_boxed(void) { return vow_resolved(L, vow_ptr(obj_new(), obj_free)); }
static vow_t *o_sleep(void) { return vow_sleep(L, 1000); }
static vow_t *o_then(void) { return vow_then(IN[0], on_ok, on_err, CTX, ctx_free_count); }
static vow_t *o_catch(void) { return vow_catch(IN[0], on_err, CTX, ctx_free_count); }
static vow_t *o_finally(void) { return vow_finally(IN[0], on_fin, CTX, ctx_free_count); }
static vow_t *o_then_ex(void) {
    return vow_then_ex(IN[0], on_ok, on_err, CTX, ctx_free_count, VOW_CATCH_CANCELLED);
}
static vow_t *o_catch_ex(void) {
    return vow_catch_ex(IN[0], on_err, CTX, ctx_free_count, VOW_CATCH_CANCELLED);
}
static vow_t *o_all(void) { return vow_all(L, IN, 2); }
static vow_t *o_all_settled(void) { return vow_all_settled(L, IN, 2); }
static vow_t *o_race(void) { return vow_race(L, IN, 2, VOW_CANCEL_LOSERS); }
static vow_t *o_any(void) { return vow_any(L, IN, 2, 0); }
static vow_t *o_timeout(void) {
    return vow_timeout(IN[0], 1000, 0); /* pending: the call starts a timer */
}
static vow_t *o_wait(void) { return vow_wait(L, IN, 2, VOW_ALL_COMPLETED, 1000, 0); }
static vow_t *o_create_task(void) { return vow_create_task(L, body, CTX, ctx_free_count); }
static vow_t *o_rate_limit(void) { return vow_rate_limit(E.rl, body, CTX, ctx_free_count); }
static vow_t *o_cache_get(void) { return vow_cache_get(E.cache, "k", 1); } /* joins the call */

static const row oom_rows[] = {
    {"vow_new", "out of memory", P_NONE, o_new, 0, 0},
    {"vow_resolved", "out of memory", P_NONE, o_resolved, 0, 0},
    {"vow_rejected", "out of memory", P_ERROR, o_rejected, 0, 0},
    {"vow_sleep", "out of memory", P_NONE, o_sleep, 0, 0},
    {"vow_then", "out of memory", P_SETTLED, o_then, 0, 1},
    {"vow_catch", "out of memory", P_PENDING, o_catch, 0, 1},
    {"vow_finally", "out of memory", P_SETTLED, o_finally, 0, 1},
    {"vow_then_ex", "out of memory", P_PENDING, o_then_ex, 0, 1},
    {"vow_catch_ex", "out of memory", P_SETTLED, o_catch_ex, 0, 1},
    {"vow_all", "out of memory", P_INPUTS, o_all, 0, 0},
    {"vow_all_settled", "out of memory", P_INPUTS, o_all_settled, 0, 0},
    {"vow_race", "out of memory", P_INPUTS, o_race, 0, 0},
    {"vow_any", "out of memory", P_INPUTS, o_any, 0, 0},
    {"vow_timeout", "out of memory", P_PENDING, o_timeout, 0, 0},
    {"vow_wait", "out of memory", P_INPUTS, o_wait, 0, 0},
    {"vow_create_task", "out of memory", P_NONE, o_create_task, 0, 1},
    {"vow_rate_limit", "out of memory", P_LIMITER, o_rate_limit, 0, 1},
    {"vow_cache_get", "out of memory", P_CACHE, o_cache_get, 0, 0},
};

#define ROWS(t) (sizeof(t) / sizeof(t)[0])

/* ---- the runners -------------------------------------------------------------------------- */

static void open_loops(vow_loop_t *loop) {
    E.loop = loop;
    E.other = vow_test_loop();
    record_rejections(loop);
    VOW_ASSERT_CODE(vow_set_unhandled_mode(loop, VOW_UNHANDLED_SILENT), 0);
}

/* What every row checks once the call's answer was dropped and the loop has run. */
static void expect_consumed(const row *r) {
    VOW_ASSERT_EQ(ctx_free_calls, r->frees, "%s, %s: ctx_free/arg_free calls", r->fn, r->misuse);
    for (int i = 0; i < obj_made; i++)
        VOW_ASSERT_EQ(obj_freed[i], 1, "%s, %s: object %d", r->fn, r->misuse, i);
    VOW_ASSERT_EQ(reaction_calls, 0, "%s, %s: a callback ran", r->fn, r->misuse);
}

static void run_live_row(const row *r) {
    reset();
    open_loops(vow_test_loop());
    prep(E.loop, r->prep);
    vow_t *p = r->call();
    if (r->want == 0) {
        cr_assert_null(p, "%s, %s: not NULL", r->fn, r->misuse);
    } else {
        cr_assert_not_null(p, "%s, %s: NULL, want a rejection", r->fn, r->misuse);
        VOW_ASSERT_STATE(vow_state(p), VOW_REJECTED, "%s, %s", r->fn, r->misuse);
        VOW_ASSERT_CODE(vow_error_code(vow_error(p)), r->want, "%s, %s", r->fn, r->misuse);
        VOW_ASSERT_EQ(vow_loop_of(p), E.loop, "%s, %s: the rejection's loop", r->fn, r->misuse);
    }
    /* ctx_free / arg_free ran inside the call, before any loop turn. */
    VOW_ASSERT_EQ(ctx_free_calls, r->frees, "%s, %s: ctx_free/arg_free in the call", r->fn,
                  r->misuse);
    unprep();
    VOW_ASSERT_CODE(vow_loop_run(E.loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(rejections.unhandled, r->want != 0 ? 1 : 0,
                  "%s, %s: unhandled reports (the rejection is a promise like any other)", r->fn,
                  r->misuse);
    vow_unref(p);
    VOW_ASSERT_CODE(vow_loop_close(E.other), 0);
    expect_consumed(r);
    VOW_TEST_END(E.loop);
}

Test(misuse_rule, null_loop_or_subject_gives_null_and_consumes_everything) {
    for (size_t i = 0; i < ROWS(null_rows); i++) run_live_row(&null_rows[i]);
}

Test(misuse_rule, misuse_on_a_live_loop_gives_a_rejected_promise_and_consumes_everything) {
    for (size_t i = 0; i < ROWS(reject_rows); i++) run_live_row(&reject_rows[i]);
}

Test(misuse_rule, a_closed_loop_gives_null_and_consumes_everything) {
    for (size_t i = 0; i < ROWS(closed_rows); i++) {
        const row *r = &closed_rows[i];
        reset();
        E.loop = vow_test_loop();
        vow_t *keep = vow_new(E.loop); /* keeps the freed loop's memory valid */
        prep(E.loop, r->prep);
        VOW_ASSERT_CODE(vow_loop_free(E.loop), 0);
        vow_t *p = r->call();
        cr_assert_null(p, "%s, %s: not NULL", r->fn, r->misuse);
        unprep();
        vow_unref(keep);
        vow_task_group_unref(E.g);
        expect_consumed(r);
        VOW_ASSERT_EQ(vow_test_live_allocs(), 0, "%s, %s: %ld allocation(s) live", r->fn, r->misuse,
                      vow_test_live_allocs());
    }
}

/* Each allocation the call makes fails in turn (the first one first), with everything
 * consumed each time. A valid call gives NULL. A misuse gives NULL when its rejected promise
 * cannot be allocated, and a promise rejected with VOW_ENOMEM (vow's static error) when only
 * the error cannot: the promise exists, so it is answered. The loops run without pools, so
 * that every promise and record is an allocation of its own. */
static void sweep_row(const row *r) {
    /* A normal run counts the call's allocations. */
    reset();
    open_loops(vow_test_loop_without_pools());
    prep(E.loop, r->prep);
    long before = vow_test_alloc_total();
    vow_t *p = r->call();
    long allocs = vow_test_alloc_total() - before;
    cr_assert_not_null(p, "%s, %s: the normal run gave NULL", r->fn, r->misuse);
    cr_assert_gt(allocs, 0, "%s, %s: the call allocates nothing", r->fn, r->misuse);
    vow_unref(p);
    unprep();
    VOW_ASSERT_CODE(vow_loop_close(E.other), 0);
    VOW_TEST_END_FORCED(E.loop);
    for (long n = 1; n <= allocs; n++) {
        reset();
        open_loops(vow_test_loop_without_pools());
        prep(E.loop, r->prep);
        vow_test_reset_counts();
        vow_test_fail_at(n);
        p = r->call();
        vow_test_fail_at(0);
        VOW_ASSERT_EQ(vow_test_failed_allocs(), 1, "%s, %s: allocation %ld of %ld did not fail",
                      r->fn, r->misuse, n, allocs);
        cr_assert(p == NULL || (r->want != 0 && vow_state(p) == VOW_REJECTED &&
                                vow_error_code(vow_error(p)) == VOW_ENOMEM),
                  "%s, %s: allocation %ld of %ld failed: got %s (state %s, %s)", r->fn, r->misuse,
                  n, allocs, p == NULL ? "NULL" : "a promise", vow_test_state_name(vow_state(p)),
                  vow_err_name(vow_error_code(vow_error(p))));
        VOW_ASSERT_EQ(ctx_free_calls, r->frees, "%s, %s: allocation %ld: ctx_free/arg_free calls",
                      r->fn, r->misuse, n);
        unprep();
        VOW_ASSERT_CODE(vow_loop_run(E.loop, VOW_RUN_DEFAULT), 0);
        VOW_ASSERT_EQ(rejections.unhandled, p != NULL ? 1 : 0, "%s, %s: allocation %ld", r->fn,
                      r->misuse, n);
        vow_unref(p);
        VOW_ASSERT_CODE(vow_loop_close(E.other), 0);
        expect_consumed(r);
        VOW_TEST_END(E.loop);
    }
}

Test(misuse_rule, out_of_memory_gives_null_and_consumes_everything) {
    for (size_t i = 0; i < ROWS(oom_rows); i++) sweep_row(&oom_rows[i]);
}

/* The misuse rows whose call allocates nothing but its answer (not the rows that make an
 * input of another loop, or join a group first). */
Test(misuse_rule, out_of_memory_in_a_misuse_gives_null_or_a_rejection_and_consumes_everything) {
    for (size_t i = 0; i < ROWS(reject_rows); i++) {
        const row *r = &reject_rows[i];
        if (r->prep == P_GROUP || strstr(r->misuse, "loop") != NULL) continue;
        sweep_row(r);
    }
}

/* vow_resolved with a value that has a destructor makes its promise, then the value's box:
 * when only the box cannot be allocated it answers NULL too (it used to answer a promise
 * rejected with VOW_ENOMEM). */
static const row resolved_boxed_row = {
    "vow_resolved", "out of memory (a value with a destructor)", P_NONE, o_resolved_boxed, 0, 0};
Test(misuse_rule, out_of_memory_in_vow_resolved_with_a_boxed_value_gives_null) {
    sweep_row(&resolved_boxed_row);
}
