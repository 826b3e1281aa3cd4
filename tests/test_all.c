/* tests/test_all.c - Promise.all and Promise.allSettled (vow/combinators.h): values and
 * outcomes in input order whatever the settle order, the first rejection in time, empty
 * input (fulfilled, reactions still asynchronous), the same promise twice, heap values
 * shared into the list (every destructor once), inputs that settle after the result did,
 * 1,000,000 inputs, and misuse. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "counted.h"
#include "helpers.h"
#include "settle.h"

TestSuite(all, .init = vow_test_setup, .fini = vow_test_teardown, .timeout = 30);
TestSuite(all_settled, .init = vow_test_setup, .fini = vow_test_teardown, .timeout = 30);

#define CTX(x) ((void *)(intptr_t)(x))

/* ---- reactions ------------------------------------------------------------------------- */

static int ok_calls, err_calls;
static vow_error_t *seen_err; /* the error the last err reaction saw (borrowed, compared only) */
static int seen_code;
/* What the last err reaction saw of the timers. vow drains the microtasks after each timer
 * callback, so these are exact even when a busy machine makes several timers due at once;
 * counted after vow_run, they would not be. */
static int fired_in_reaction = -1, alive_in_reaction = -1;

static vow_result_t count_ok(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    (void)ctx;
    ok_calls++;
    return vow_ok(vow_value_share(v));
}
static vow_result_t count_err(vow_loop_t *loop, vow_error_t *e, void *ctx) {
    (void)loop;
    (void)ctx;
    err_calls++;
    seen_err = e;
    seen_code = vow_error_code(e);
    fired_in_reaction = fired_len;
    alive_in_reaction = vow_loop_alive(loop);
    return vow_ok_none();
}

/* Runs in a reaction on an all() result: records the list. */
static int list_calls;
static size_t list_len_seen;
static int64_t list_sum;
static size_t list_mismatch; /* items whose value is not what `expect_index_values` says */
static int expect_index_values;
static vow_result_t read_list(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    (void)ctx;
    list_calls++;
    const vow_list_t *l = vow_list_of(v);
    cr_assert_not_null(l, "the value of all() is not a vow list");
    list_len_seen = vow_list_len(l);
    list_sum = 0;
    list_mismatch = 0;
    for (size_t i = 0; i < list_len_seen; i++) {
        if (vow_list_state(l, i) != VOW_FULFILLED) {
            list_mismatch++;
            continue;
        }
        int64_t x = vow_value_int(vow_list_value(l, i));
        list_sum += x;
        if (expect_index_values && x != (int64_t)i) list_mismatch++;
    }
    return vow_ok_none();
}

/* ---- all: values in input order ------------------------------------------------------ */

Test(all, values_in_input_order_whatever_the_settle_order) {
    vow_loop_t *loop = vow_test_loop();
    enum { N = 5 };
    vow_t *in[N];
    /* Input i settles (with 100 + i) after (N - i) * 10 ms: in reverse input order. Made in
     * that order too, so that no machine is too slow for it (settle.h). */
    for (int i = N - 1; i >= 0; i--) in[i] = fulfil_in(loop, (uint64_t)(N - i) * 10, i, 100 + i);
    vow_t *a = vow_all(loop, in, N);
    cr_assert_not_null(a);
    VOW_ASSERT_STATE(vow_state(a), VOW_PENDING);
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, a, &out), 0);
    VOW_ASSERT_EQ(fired_len, N);
    for (int i = 0; i < N; i++)
        VOW_ASSERT_EQ(fired[i], N - 1 - i, "inputs did not settle in reverse order");
    VOW_ASSERT_STATE(out.state, VOW_FULFILLED);
    const vow_list_t *l = vow_list_of(&out.value);
    cr_assert_not_null(l);
    VOW_ASSERT_EQ(vow_list_len(l), N);
    for (size_t i = 0; i < N; i++) {
        VOW_ASSERT_STATE(vow_list_state(l, i), VOW_FULFILLED);
        VOW_ASSERT_EQ(vow_value_kind(vow_list_value(l, i)), VOW_VAL_INT);
        VOW_ASSERT_EQ(vow_value_int(vow_list_value(l, i)), 100 + (int64_t)i, "item %zu is %lld", i,
                      (long long)vow_value_int(vow_list_value(l, i)));
        cr_assert_null(vow_list_error(l, i), "a fulfilled item has no error");
    }
    /* Past the end. */
    VOW_ASSERT_STATE(vow_list_state(l, N), VOW_PENDING);
    cr_assert_null(vow_list_value(l, N));
    cr_assert_null(vow_list_error(l, N));
    vow_outcome_release(&out);
    VOW_TEST_END(loop);
}

Test(all, reaction_runs_once_with_the_list) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *in[3] = {fulfil_in(loop, 20, 0, 0), vow_resolved(loop, vow_int(1)),
                    fulfil_in(loop, 10, 2, 2)};
    expect_index_values = 1;
    vow_t *d = vow_then(vow_all(loop, in, 3), read_list, NULL, NULL, NULL);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(list_calls, 1);
    VOW_ASSERT_EQ(list_len_seen, 3);
    VOW_ASSERT_EQ(list_mismatch, 0);
    VOW_ASSERT_STATE(vow_state(d), VOW_FULFILLED);
    vow_unref(d);
    VOW_TEST_END(loop);
}

/* ---- all: the first rejection in time -------------------------------------------------- */

Test(all, first_rejection_in_time_wins_and_later_ones_change_nothing) {
    vow_loop_t *loop = vow_test_loop();
    record_rejections(loop);
    vow_error_t *late = vow_error_new(VOW_EBUSY, "input 0, at 40 ms");
    vow_error_t *first = vow_error_new(VOW_EPERM, "input 2, at 10 ms");
    vow_error_t *mid = vow_error_new(VOW_EINVAL, "input 3, at 30 ms");
    vow_t *in[4];
    in[2] = reject_in(loop, 10, 2, vow_error_ref(first)); /* made in settle order (settle.h) */
    in[1] = fulfil_in(loop, 20, 1, 1);
    in[3] = reject_in(loop, 30, 3, vow_error_ref(mid));
    in[0] = reject_in(loop, 40, 0, vow_error_ref(late));
    vow_t *a = vow_all(loop, in, 4);
    vow_t *d = vow_catch(vow_ref(a), count_err, NULL, NULL);
    VOW_ASSERT_CODE(vow_run(loop, vow_ref(d), NULL), 0);
    VOW_ASSERT_EQ(fired_in_reaction, 1, "all() waited for more than the first rejection");
    VOW_ASSERT_EQ(err_calls, 1);
    VOW_ASSERT_EQ(seen_err, first, "rejected with another error than the first in time");
    VOW_ASSERT_EQ(vow_error(a), first);
    /* The other inputs keep running (nothing is cancelled). */
    VOW_ASSERT_EQ(alive_in_reaction, 3);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(fired_len, 4);
    VOW_ASSERT_EQ(err_calls, 1, "a later rejection reached the reaction again");
    VOW_ASSERT_STATE(vow_state(a), VOW_REJECTED);
    VOW_ASSERT_EQ(vow_error(a), first, "a later rejection replaced the first");
    /* The inputs that rejected later are handled by all(): nothing is reported. */
    VOW_ASSERT_EQ(rejections.calls, 0, "a later rejection was reported as unhandled");
    vow_unref(a);
    vow_unref(d);
    vow_error_unref(late);
    vow_error_unref(first);
    vow_error_unref(mid);
    VOW_TEST_END(loop);
}

Test(all, already_rejected_input_wins_over_pending_ones) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *in[3] = {fulfil_in(loop, 10, 0, 0), vow_rejected(loop, vow_error_new(VOW_ERANGE, NULL)),
                    vow_rejected(loop, vow_error_new(VOW_EINVAL, NULL))};
    vow_t *d = vow_catch(vow_all(loop, in, 3), count_err, NULL, NULL);
    VOW_ASSERT_CODE(vow_run(loop, vow_ref(d), NULL), 0);
    VOW_ASSERT_EQ(fired_len, 0, "the result waited for the timer");
    VOW_ASSERT_EQ(err_calls, 1);
    VOW_ASSERT_CODE(seen_code, VOW_ERANGE, "not the lowest-index rejection: %s",
                    vow_err_name(seen_code));
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(err_calls, 1);
    vow_unref(d);
    VOW_TEST_END(loop);
}

/* ---- all: empty input ----------------------------------------------------------------- */

static void empty_case(vow_t *(*make)(vow_loop_t *, vow_t *const *, size_t), int use_array) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *none[1] = {NULL};
    vow_t *a = make(loop, use_array ? none : NULL, 0);
    cr_assert_not_null(a);
    vow_t *d = vow_then(a, read_list, NULL, NULL, NULL);
    VOW_ASSERT_EQ(list_calls, 0, "the reaction ran inside the call");
    VOW_ASSERT_EQ(vow_loop_alive(loop), 1, "one reaction job queued, nothing else");
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(list_calls, 1);
    VOW_ASSERT_EQ(list_len_seen, 0);
    VOW_ASSERT_STATE(vow_state(d), VOW_FULFILLED);
    vow_unref(d);
    VOW_TEST_END(loop);
}

Test(all, empty_input_fulfils_with_an_empty_list_asynchronously) { empty_case(vow_all, 0); }
Test(all, empty_input_through_an_array) { empty_case(vow_all, 1); }
Test(all_settled, empty_input_fulfils_with_an_empty_list_asynchronously) {
    empty_case(vow_all_settled, 0);
}

/* ---- all: the same promise twice; heap values ----------------------------------------- */

Test(all, same_promise_twice_with_a_ref) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *p = vow_new(loop);
    vow_t *in[3] = {vow_ref(p), vow_resolved(loop, vow_int(5)), vow_ref(p)};
    vow_t *a = vow_all(loop, in, 3);
    obj *o = obj_new();
    VOW_ASSERT_CODE(vow_resolve(p, vow_ptr(o, obj_free)), 0);
    vow_unref(p);
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, a, &out), 0);
    VOW_ASSERT_STATE(out.state, VOW_FULFILLED);
    const vow_list_t *l = vow_list_of(&out.value);
    VOW_ASSERT_EQ(vow_list_len(l), 3);
    VOW_ASSERT_EQ(vow_value_ptr(vow_list_value(l, 0)), o, "item 0 is not the shared pointer");
    VOW_ASSERT_EQ(vow_value_ptr(vow_list_value(l, 2)), o, "item 2 is not the shared pointer");
    VOW_ASSERT_EQ(vow_value_int(vow_list_value(l, 1)), 5);
    VOW_ASSERT_EQ(obj_freed[o->id], 0, "freed while the list still holds it");
    vow_outcome_release(&out);
    /* The outcome was the last holder of the list, and the list the last of o. */
    VOW_ASSERT_EQ(obj_freed[0], 1, "the value's destructor did not run exactly once");
    VOW_TEST_END(loop);
    expect_every_obj_freed_once();
}

Test(all, heap_values_are_shared_into_the_list_and_freed_once) {
    vow_loop_t *loop = vow_test_loop();
    enum { N = 4 };
    obj *o[N];
    vow_t *in[N], *keep[N];
    for (int i = 0; i < N; i++) {
        o[i] = obj_new();
        /* Two already fulfilled, two fulfilled later by timers. */
        if (i % 2 == 0) {
            in[i] = vow_resolved(loop, vow_ptr(o[i], obj_free));
        } else {
            in[i] = settle_in(loop, (uint64_t)(10 * i), i, vow_ptr(o[i], obj_free), NULL);
        }
        keep[i] = vow_ref(in[i]);
    }
    vow_t *a = vow_all(loop, in, N);
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, a, &out), 0);
    VOW_ASSERT_STATE(out.state, VOW_FULFILLED);
    const vow_list_t *l = vow_list_of(&out.value);
    VOW_ASSERT_EQ(vow_list_len(l), N);
    for (int i = 0; i < N; i++) {
        /* Shared, not copied: the same pointer as the input's value. */
        VOW_ASSERT_EQ(vow_value_ptr(vow_list_value(l, (size_t)i)), o[i]);
        VOW_ASSERT_EQ(vow_value_ptr(vow_value(keep[i])), o[i]);
    }
    for (int i = 0; i < N; i++) {
        vow_unref(keep[i]);
        VOW_ASSERT_EQ(obj_freed[i], 0, "object %d freed while the list holds it", i);
    }
    vow_outcome_release(&out);
    for (int i = 0; i < N; i++) VOW_ASSERT_EQ(obj_freed[i], 1, "object %d: %d", i, obj_freed[i]);
    VOW_TEST_END(loop);
    expect_every_obj_freed_once();
}

static vow_result_t forward_list(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    (void)ctx;
    return vow_ok(vow_value_share(v));
}

Test(all, the_list_forwarded_downstream_is_the_same_list) {
    vow_loop_t *loop = vow_test_loop();
    obj *o = obj_new();
    vow_t *in[2] = {vow_resolved(loop, vow_ptr(o, obj_free)), vow_resolved(loop, vow_int(1))};
    vow_t *a = vow_all(loop, in, 2);
    vow_t *d = vow_then(vow_then(vow_ref(a), forward_list, NULL, NULL, NULL), forward_list, NULL,
                        NULL, NULL);
    VOW_ASSERT_CODE(vow_run(loop, vow_ref(d), NULL), 0);
    VOW_ASSERT_STATE(vow_state(a), VOW_FULFILLED);
    VOW_ASSERT_EQ(vow_list_of(vow_value(d)), vow_list_of(vow_value(a)), "the list was copied");
    vow_unref(a);
    VOW_ASSERT_EQ(obj_freed[0], 0);
    vow_unref(d);
    VOW_ASSERT_EQ(obj_freed[0], 1);
    VOW_TEST_END(loop);
}

Test(all, list_of_a_value_that_is_not_a_list_is_null) {
    int x = 0;
    vow_value_t v = vow_int(3);
    cr_assert_null(vow_list_of(&v));
    v = vow_ptr(&x, NULL);
    cr_assert_null(vow_list_of(&v));
    cr_assert_null(vow_list_of(NULL));
    VOW_ASSERT_EQ(vow_list_len(NULL), 0);
    VOW_ASSERT_STATE(vow_list_state(NULL, 0), VOW_PENDING);
    cr_assert_null(vow_list_value(NULL, 0));
    cr_assert_null(vow_list_error(NULL, 0));
    /* A heap value with another destructor is no list either, once stored. */
    vow_loop_t *loop = vow_test_loop();
    obj *o = obj_new();
    vow_t *p = vow_resolved(loop, vow_ptr(o, obj_free));
    cr_assert_null(vow_list_of(vow_value(p)));
    vow_unref(p);
    VOW_TEST_END(loop);
    expect_every_obj_freed_once();
}

/* ---- all: inputs that settle after the result -------------------------------------------- */

Test(all, input_settling_after_the_result_changes_nothing_and_leaks_nothing) {
    vow_loop_t *loop = vow_test_loop();
    obj *o = obj_new();
    vow_error_t *e = vow_error_new(VOW_EPERM, NULL);
    vow_t *in[3] = {settle_in(loop, 30, 0, vow_ptr(o, obj_free), NULL),
                    reject_in(loop, 10, 1, vow_error_ref(e)), vow_new(loop)};
    vow_t *last = vow_ref(in[2]); /* settled by hand below */
    vow_t *a = vow_all(loop, in, 3);
    vow_t *d = vow_then(vow_ref(a), count_ok, count_err, NULL, NULL);
    VOW_ASSERT_CODE(vow_run(loop, vow_ref(d), NULL), 0);
    VOW_ASSERT_EQ(err_calls, 1);
    VOW_ASSERT_EQ(ok_calls, 0);
    /* Now the other inputs settle. */
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(fired_len, 2);
    VOW_ASSERT_CODE(vow_resolve(last, vow_int(3)), 0);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(err_calls, 1);
    VOW_ASSERT_EQ(ok_calls, 0);
    VOW_ASSERT_STATE(vow_state(a), VOW_REJECTED);
    VOW_ASSERT_EQ(vow_error(a), e);
    vow_unref(last);
    VOW_ASSERT_EQ(obj_freed[0], 1, "the late input's value: freed %d times", obj_freed[0]);
    vow_unref(a);
    vow_unref(d);
    vow_error_unref(e);
    VOW_TEST_END(loop);
    expect_every_obj_freed_once();
}

/* ---- all: 1,000,000 inputs -------------------------------------------------------------- */

#define MILLION 1000000

Test(all, a_million_resolved_inputs, .timeout = 120) {
    vow_loop_t *loop = vow_test_loop();
    vow_t **in = malloc(MILLION * sizeof *in);
    cr_assert_not_null(in);
    for (size_t i = 0; i < MILLION; i++) {
        in[i] = vow_resolved(loop, vow_int((int64_t)i));
        cr_assert_not_null(in[i]);
    }
    expect_index_values = 1;
    vow_t *d = vow_then(vow_all(loop, in, MILLION), read_list, NULL, NULL, NULL);
    free(in);
    cr_assert_not_null(d);
    VOW_ASSERT_CODE(vow_run(loop, d, NULL), 0);
    VOW_ASSERT_EQ(list_calls, 1);
    VOW_ASSERT_EQ(list_len_seen, MILLION);
    VOW_ASSERT_EQ(list_mismatch, 0, "%zu items out of place", list_mismatch);
    VOW_ASSERT_EQ(list_sum, (int64_t)MILLION * (MILLION - 1) / 2);
    VOW_TEST_END(loop);
}

Test(all, a_million_pending_inputs_resolved_afterwards, .timeout = 120) {
    vow_loop_t *loop = vow_test_loop();
    vow_t **ps = malloc(MILLION * sizeof *ps);
    cr_assert_not_null(ps);
    for (size_t i = 0; i < MILLION; i++) {
        ps[i] = vow_new(loop);
        cr_assert_not_null(ps[i]);
        vow_ref(ps[i]); /* one for all(), one kept to settle it */
    }
    expect_index_values = 1;
    vow_t *a = vow_all(loop, ps, MILLION);
    vow_t *d = vow_then(vow_ref(a), read_list, NULL, NULL, NULL);
    /* Settle in reverse order, all but input 0. */
    for (size_t i = MILLION; i-- > 1;) {
        VOW_ASSERT_CODE(vow_resolve(ps[i], vow_int((int64_t)i)), 0);
        vow_unref(ps[i]);
    }
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_STATE(vow_state(a), VOW_PENDING, "fulfilled before its last input");
    VOW_ASSERT_EQ(list_calls, 0);
    VOW_ASSERT_CODE(vow_resolve(ps[0], vow_int(0)), 0);
    vow_unref(ps[0]);
    free(ps);
    VOW_ASSERT_CODE(vow_run(loop, d, NULL), 0);
    VOW_ASSERT_EQ(list_calls, 1);
    VOW_ASSERT_EQ(list_len_seen, MILLION);
    VOW_ASSERT_EQ(list_mismatch, 0, "%zu items out of place", list_mismatch);
    VOW_ASSERT_EQ(list_sum, (int64_t)MILLION * (MILLION - 1) / 2);
    vow_unref(a);
    VOW_TEST_END(loop);
}

/* ---- all: misuse -------------------------------------------------------------------------- */

Test(all, null_input_gives_null_and_releases_the_others) {
    vow_loop_t *loop = vow_test_loop();
    obj *o = obj_new();
    vow_t *in[3] = {vow_resolved(loop, vow_ptr(o, obj_free)), NULL, vow_new(loop)};
    cr_assert_null(vow_all(loop, in, 3));
    VOW_ASSERT_EQ(obj_freed[0], 1, "the other inputs were not released");
    vow_t *in2[2] = {vow_new(loop), vow_resolved(loop, vow_int(1))};
    cr_assert_null(vow_all(NULL, in2, 2), "a NULL loop must give NULL");
    vow_t *bad = vow_all(loop, NULL, 2); /* misuse on a live loop: a rejection */
    cr_assert_not_null(bad, "a NULL array with n > 0 is a rejection with VOW_EINVAL");
    VOW_ASSERT_CODE(vow_error_code(vow_error(bad)), VOW_EINVAL);
    vow_unref(bad);
    VOW_TEST_END(loop);
}

Test(all, input_of_another_loop_rejects_with_einval) {
    vow_loop_t *loop = vow_test_loop();
    vow_loop_t *other = vow_test_loop();
    vow_t *in[2] = {vow_resolved(loop, vow_int(1)), vow_resolved(other, vow_int(2))};
    vow_t *a = vow_all(loop, in, 2);
    cr_assert_not_null(a);
    vow_t *d = vow_catch(a, count_err, NULL, NULL);
    VOW_ASSERT_CODE(vow_run(loop, d, NULL), 0);
    VOW_ASSERT_EQ(err_calls, 1);
    VOW_ASSERT_CODE(seen_code, VOW_EINVAL);
    VOW_ASSERT_CODE(vow_loop_close(other), 0);
    VOW_TEST_END(loop);
}

Test(all, closed_loop_gives_null) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *p = vow_resolved(loop, vow_int(1));
    VOW_ASSERT_CODE(vow_loop_free(loop), 0);
    vow_t *in[1] = {p};
    cr_assert_null(vow_all(loop, in, 1), "all() on a freed loop's handle");
    VOW_ASSERT_EQ(vow_test_live_allocs(), 0, "the input was not released");
}

/* ---- allSettled ---------------------------------------------------------------------- */

Test(all_settled, one_outcome_per_input_in_input_order) {
    vow_loop_t *loop = vow_test_loop();
    obj *o = obj_new();
    vow_error_t *e_busy = vow_error_new(VOW_EBUSY, "input 2");
    vow_error_t *e_perm = vow_error_new(VOW_EPERM, "input 1");
    vow_t *in[5] = {fulfil_in(loop, 40, 0, 7), vow_rejected(loop, vow_error_ref(e_perm)),
                    reject_in(loop, 10, 2, vow_error_ref(e_busy)),
                    vow_resolved(loop, vow_ptr(o, obj_free)), fulfil_in(loop, 20, 4, 9)};
    vow_t *a = vow_all_settled(loop, in, 5);
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, a, &out), 0);
    VOW_ASSERT_EQ(fired_len, 3, "settled before every input had");
    VOW_ASSERT_STATE(out.state, VOW_FULFILLED);
    const vow_list_t *l = vow_list_of(&out.value);
    cr_assert_not_null(l);
    VOW_ASSERT_EQ(vow_list_len(l), 5);

    VOW_ASSERT_STATE(vow_list_state(l, 0), VOW_FULFILLED);
    VOW_ASSERT_EQ(vow_value_int(vow_list_value(l, 0)), 7);
    cr_assert_null(vow_list_error(l, 0));

    VOW_ASSERT_STATE(vow_list_state(l, 1), VOW_REJECTED);
    VOW_ASSERT_EQ(vow_list_error(l, 1), e_perm, "not the input's own error");
    cr_assert_null(vow_list_value(l, 1), "a rejected item has no value");

    VOW_ASSERT_STATE(vow_list_state(l, 2), VOW_REJECTED);
    VOW_ASSERT_EQ(vow_list_error(l, 2), e_busy);

    VOW_ASSERT_STATE(vow_list_state(l, 3), VOW_FULFILLED);
    VOW_ASSERT_EQ(vow_value_ptr(vow_list_value(l, 3)), o);

    VOW_ASSERT_STATE(vow_list_state(l, 4), VOW_FULFILLED);
    VOW_ASSERT_EQ(vow_value_int(vow_list_value(l, 4)), 9);

    VOW_ASSERT_STATE(vow_list_state(l, 5), VOW_PENDING);
    cr_assert_null(vow_list_value(l, 5));
    cr_assert_null(vow_list_error(l, 5));

    VOW_ASSERT_EQ(obj_freed[0], 0);
    vow_outcome_release(&out);
    VOW_ASSERT_EQ(obj_freed[0], 1);
    vow_error_unref(e_busy);
    vow_error_unref(e_perm);
    VOW_TEST_END(loop);
}

Test(all_settled, never_rejects_and_reports_nothing) {
    vow_loop_t *loop = vow_test_loop();
    record_rejections(loop);
    vow_t *in[3] = {reject_in(loop, 20, 0, vow_error_new(VOW_EINVAL, NULL)),
                    vow_rejected(loop, vow_error_new(VOW_ERANGE, NULL)),
                    reject_in(loop, 10, 2, vow_error_new(VOW_EAGAIN, NULL))};
    vow_t *a = vow_all_settled(loop, in, 3);
    vow_t *d = vow_then(vow_ref(a), count_ok, count_err, NULL, NULL);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(ok_calls, 1);
    VOW_ASSERT_EQ(err_calls, 0);
    const vow_list_t *l = vow_list_of(vow_value(a));
    VOW_ASSERT_EQ(vow_list_len(l), 3);
    const int want[3] = {VOW_EINVAL, VOW_ERANGE, VOW_EAGAIN};
    for (size_t i = 0; i < 3; i++) {
        VOW_ASSERT_STATE(vow_list_state(l, i), VOW_REJECTED);
        VOW_ASSERT_CODE(vow_error_code(vow_list_error(l, i)), want[i], "item %zu: %s", i,
                        vow_err_name(vow_error_code(vow_list_error(l, i))));
    }
    VOW_ASSERT_EQ(rejections.calls, 0, "an input's rejection was reported as unhandled");
    vow_unref(a);
    vow_unref(d);
    VOW_TEST_END(loop);
}

Test(all_settled, waits_for_the_last_input) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *p = vow_new(loop);
    vow_t *in[2] = {vow_rejected(loop, vow_error_new(VOW_EPERM, NULL)), vow_ref(p)};
    vow_t *a = vow_all_settled(loop, in, 2);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_STATE(vow_state(a), VOW_PENDING, "settled before its last input");
    VOW_ASSERT_CODE(vow_resolve(p, vow_int(4)), 0);
    VOW_ASSERT_STATE(vow_state(a), VOW_PENDING, "settled inside vow_resolve");
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_STATE(vow_state(a), VOW_FULFILLED);
    const vow_list_t *l = vow_list_of(vow_value(a));
    VOW_ASSERT_EQ(vow_value_int(vow_list_value(l, 1)), 4);
    VOW_ASSERT_CODE(vow_error_code(vow_list_error(l, 0)), VOW_EPERM);
    vow_unref(p);
    vow_unref(a);
    VOW_TEST_END(loop);
}

Test(all_settled, same_promise_twice_and_heap_errors_freed_once) {
    vow_loop_t *loop = vow_test_loop();
    obj *o = obj_new();
    vow_error_t *e = vow_error_new(VOW_EBUSY, NULL);
    VOW_ASSERT_CODE(vow_error_set_payload(e, o, obj_free), 0);
    vow_t *p = vow_rejected(loop, e);
    vow_t *in[2] = {vow_ref(p), p};
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, vow_all_settled(loop, in, 2), &out), 0);
    const vow_list_t *l = vow_list_of(&out.value);
    VOW_ASSERT_EQ(vow_list_error(l, 0), e);
    VOW_ASSERT_EQ(vow_list_error(l, 1), e);
    VOW_ASSERT_EQ(obj_freed[0], 0);
    vow_outcome_release(&out);
    VOW_ASSERT_EQ(obj_freed[0], 1, "the error's payload: freed %d times", obj_freed[0]);
    VOW_TEST_END(loop);
}

/* ---- unhandled reports and forced teardown ------------------------------------------------ */

Test(all, an_unhandled_rejection_is_reported_once_on_the_result) {
    vow_loop_t *loop = vow_test_loop();
    record_rejections(loop);
    VOW_ASSERT_CODE(vow_set_unhandled_mode(loop, VOW_UNHANDLED_SILENT), 0);
    vow_t *in[3] = {reject_in(loop, 10, 0, vow_error_new(VOW_EPERM, NULL)),
                    reject_in(loop, 20, 1, vow_error_new(VOW_EBUSY, NULL)),
                    vow_rejected(loop, vow_error_new(VOW_EINVAL, NULL))};
    vow_t *a = vow_all(loop, in, 3);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(fired_len, 2);
    VOW_ASSERT_EQ(rejections.calls, 1);
    VOW_ASSERT_EQ(rejections.last_unhandled.p, a, "the report is not about all()'s result");
    VOW_ASSERT_CODE(vow_error_code(vow_error(a)), VOW_EINVAL);
    vow_unref(a);
    VOW_TEST_END(loop);
}

Test(all, loop_free_with_a_half_filled_list_runs_every_destructor_once) {
    vow_loop_t *loop = vow_test_loop();
    obj *o0 = obj_new(), *o1 = obj_new();
    vow_t *pending = vow_new(loop);
    vow_t *in[3] = {vow_resolved(loop, vow_ptr(o0, obj_free)), vow_ref(pending),
                    vow_resolved(loop, vow_ptr(o1, obj_free))};
    vow_t *a = vow_all(loop, in, 3);
    vow_t *s_in[2] = {vow_resolved(loop, vow_int(1)), vow_ref(pending)};
    vow_t *s = vow_all_settled(loop, s_in, 2);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_STATE(vow_state(a), VOW_PENDING);
    VOW_ASSERT_EQ(obj_freed[0] + obj_freed[1], 0);
    vow_unref(pending);
    vow_unref(a);
    vow_unref(s);
    VOW_TEST_END_FORCED(loop);
    expect_every_obj_freed_once();
}
