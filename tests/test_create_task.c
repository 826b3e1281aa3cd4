/* tests/test_create_task.c - asyncio.create_task (vow/task.h): the body does not run inside
 * vow_create_task, and the code after the call runs first; it runs from an immediate (after
 * the current turn's timers and microtasks, in FIFO order with other immediates, and on
 * the next turn when created from an immediate); the task settles as the body's promise
 * (value, error, already settled, NULL = VOW_ENOMEM); cancelled before it starts the body
 * never runs, after it starts the cancellation reaches the body's promise under the
 * upstream rule; arg_free runs exactly once on every path (after the body, on cancel, on
 * vow_loop_free, on a failed call, on every out-of-memory path). */
#include <criterion/criterion.h>
#include <stdio.h>

#include "helpers.h"

TestSuite(create_task, .init = vow_test_setup, .fini = vow_test_teardown, .timeout = 30);

#define CTX(x) ((void *)(intptr_t)(x))

/* ---- what happened, in order ------------------------------------------------------------- */

/* Events: 'B' body, 'M' microtask, 'I' immediate, 'T' timer, each with a tag. */
static char order[64];
static int order_len;
static void note(char what, int tag) {
    cr_assert_lt(order_len + 2, (int)sizeof order);
    order[order_len++] = what;
    order[order_len++] = (char)('0' + tag);
    order[order_len] = '\0';
}

/* ---- arguments with a counted destructor -------------------------------------------------- */

typedef struct targ {
    int tag;
    uint64_t ms;       /* the body sleeps this long (0: no sleep) */
    int64_t value;     /* ...then fulfils with this */
    vow_error_t *fail; /* ...or rejects with this (owned reference) */
} targ;
static int arg_free_calls;
static int arg_freed[16];
static void targ_free(void *p) {
    targ *a = p;
    arg_free_calls++;
    if (a->tag >= 0 && a->tag < 16) arg_freed[a->tag]++;
    vow_error_unref(a->fail);
    free(a);
}
static targ *targ_new(int tag, uint64_t ms, int64_t value) {
    targ *a = malloc(sizeof *a);
    cr_assert_not_null(a);
    a->tag = tag;
    a->ms = ms;
    a->value = value;
    a->fail = NULL;
    return a;
}

/* ---- bodies ------------------------------------------------------------------------------- */

static int body_calls;
static int after_create_at_body = -1; /* `after_create` as the body saw it */
static int arg_freed_at_body = -1;    /* arg_free_calls as the body saw it */
static int after_create;              /* set by the test right after vow_create_task */
static vow_t *body_promise;           /* a reference to what the last body returned */

/* Destructors for ctx / arg (calling vow_unref through another function type is UB). */
static void error_unref(void *e) { vow_error_unref(e); }
static void promise_unref(void *p) { vow_unref(p); }

static vow_result_t give_value(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v;
    return vow_ok_int((int64_t)(intptr_t)ctx);
}
static vow_result_t give_error(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v;
    return vow_fail(vow_error_ref(ctx));
}

/* Sleeps a->ms, then fulfils with a->value or rejects with a->fail. Keeps a reference to
 * its promise in body_promise. */
static vow_t *body(vow_loop_t *loop, void *arg) {
    targ *a = arg;
    body_calls++;
    note('B', a->tag);
    after_create_at_body = after_create;
    arg_freed_at_body = arg_free_calls;
    vow_t *p;
    if (a->ms == 0)
        p = a->fail != NULL ? vow_rejected(loop, vow_error_ref(a->fail))
                            : vow_resolved(loop, vow_int(a->value));
    else if (a->fail != NULL)
        p = vow_then(vow_sleep(loop, a->ms), give_error, NULL, vow_error_ref(a->fail), error_unref);
    else
        p = vow_then(vow_sleep(loop, a->ms), give_value, NULL, CTX(a->value), NULL);
    cr_assert_not_null(p);
    vow_unref(body_promise);
    body_promise = vow_ref(p);
    return p;
}

static vow_t *body_null(vow_loop_t *loop, void *arg) {
    (void)loop, (void)arg;
    body_calls++;
    return NULL;
}

/* Returns (a new reference to) the promise arg points to. */
static vow_t *body_returns_shared(vow_loop_t *loop, void *arg) {
    (void)loop;
    body_calls++;
    return vow_ref(arg);
}

/* ---- other callbacks ---------------------------------------------------------------------- */

static void micro(vow_loop_t *loop, void *arg) {
    (void)loop;
    note('M', (int)(intptr_t)arg);
}
static vow_result_t note_ok(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v;
    note('M', (int)(intptr_t)ctx);
    return vow_ok_none();
}
static void imm(vow_loop_t *loop, void *arg) {
    (void)loop;
    note('I', (int)(intptr_t)arg);
}
static void tmr(vow_loop_t *loop, void *arg) {
    (void)loop;
    note('T', (int)(intptr_t)arg);
}

static int ok_calls;
static int64_t ok_seen;
static vow_result_t count_ok(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)ctx;
    ok_calls++;
    ok_seen = vow_value_int(v);
    return vow_ok(vow_value_share(v));
}

static void expect_cancelled(const vow_t *p, const char *what) {
    VOW_ASSERT_STATE(vow_state(p), VOW_REJECTED, "%s is not rejected (state %d)", what,
                     (int)vow_state(p));
    cr_assert(vow_is_cancellation(vow_error(p)), "%s: %s, not a cancellation", what,
              vow_err_name(vow_error_code(vow_error(p))));
}

/* ---- the body starts later, and the caller's code first ----------------------------------- */

Test(create_task, body_does_not_run_inside_the_call_and_the_code_after_runs_first) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *t = vow_create_task(loop, body, targ_new(0, 10, 42), targ_free);
    cr_assert_not_null(t);
    VOW_ASSERT_EQ(body_calls, 0, "the body ran inside vow_create_task");
    VOW_ASSERT_STATE(vow_state(t), VOW_PENDING);
    after_create = 1; /* "tasks created" */
    VOW_ASSERT_EQ(vow_loop_alive(loop), 1, "the start is one queued immediate");
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, t, &out), 0);
    VOW_ASSERT_EQ(body_calls, 1);
    VOW_ASSERT_EQ(after_create_at_body, 1, "the body ran before the code after the call");
    VOW_ASSERT_STATE(out.state, VOW_FULFILLED);
    VOW_ASSERT_EQ(vow_value_int(&out.value), 42);
    vow_outcome_release(&out);
    VOW_ASSERT_EQ(arg_free_calls, 1);
    vow_unref(body_promise);
    VOW_TEST_END(loop);
}

Test(create_task, microtasks_queued_after_the_call_run_before_the_body) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *t = vow_create_task(loop, body, targ_new(0, 0, 1), targ_free);
    VOW_ASSERT_CODE(vow_microtask(loop, micro, CTX(1)), 0);
    vow_t *d = vow_then(vow_resolved(loop, vow_none()), note_ok, NULL, CTX(2), NULL);
    VOW_ASSERT_CODE(vow_run(loop, t, NULL), 0);
    cr_assert_str_eq(order, "M1M2B0", "order %s", order);
    vow_unref(d);
    vow_unref(body_promise);
    VOW_TEST_END(loop);
}

Test(create_task, body_runs_as_an_immediate_in_fifo_order_with_other_immediates) {
    vow_loop_t *loop = vow_test_loop();
    VOW_ASSERT_CODE(vow_set_immediate(loop, imm, CTX(1), NULL), 0);
    vow_t *t0 = vow_create_task(loop, body, targ_new(0, 0, 0), targ_free);
    vow_t *t1 = vow_create_task(loop, body, targ_new(1, 0, 0), targ_free);
    VOW_ASSERT_CODE(vow_set_immediate(loop, imm, CTX(2), NULL), 0);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    cr_assert_str_eq(order, "I1B0B1I2", "order %s", order);
    VOW_ASSERT_STATE(vow_state(t0), VOW_FULFILLED);
    VOW_ASSERT_STATE(vow_state(t1), VOW_FULFILLED);
    VOW_ASSERT_EQ(arg_free_calls, 2);
    vow_unref(t0);
    vow_unref(t1);
    vow_unref(body_promise);
    VOW_TEST_END(loop);
}

/* Created from a timer callback: after that callback's microtasks, in the same turn's check
 * phase, before a 1 ms timer set at the same time (which can only fire on a later turn). */
static vow_t *task_from_timer;
static void create_from_timer(vow_loop_t *loop, void *arg) {
    (void)arg;
    note('T', 0);
    task_from_timer = vow_create_task(loop, body, targ_new(5, 0, 0), targ_free);
    cr_assert_not_null(task_from_timer);
    VOW_ASSERT_CODE(vow_set_timeout(loop, tmr, CTX(1), 1, NULL), 0);
    VOW_ASSERT_CODE(vow_microtask(loop, micro, CTX(2)), 0);
    VOW_ASSERT_EQ(body_calls, 0);
}

Test(create_task, from_a_timer_it_runs_after_that_turns_microtasks_and_before_later_timers) {
    vow_loop_t *loop = vow_test_loop();
    VOW_ASSERT_CODE(vow_set_timeout(loop, create_from_timer, NULL, 5, NULL), 0);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    cr_assert_str_eq(order, "T0M2B5T1", "order %s", order);
    VOW_ASSERT_STATE(vow_state(task_from_timer), VOW_FULFILLED);
    vow_unref(task_from_timer);
    vow_unref(body_promise);
    VOW_TEST_END(loop);
}

/* Created from an immediate: an immediate runs the immediates queued before its pass, so
 * the body waits for the next turn, after every immediate already queued. */
static vow_t *task_from_imm;
static void create_from_immediate(vow_loop_t *loop, void *arg) {
    (void)arg;
    note('I', 0);
    task_from_imm = vow_create_task(loop, body, targ_new(7, 0, 0), targ_free);
    cr_assert_not_null(task_from_imm);
}

Test(create_task, from_an_immediate_it_runs_after_the_immediates_already_queued) {
    vow_loop_t *loop = vow_test_loop();
    VOW_ASSERT_CODE(vow_set_immediate(loop, create_from_immediate, NULL, NULL), 0);
    VOW_ASSERT_CODE(vow_set_immediate(loop, imm, CTX(1), NULL), 0);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    cr_assert_str_eq(order, "I0I1B7", "order %s", order);
    vow_unref(task_from_imm);
    vow_unref(body_promise);
    VOW_TEST_END(loop);
}

Test(create_task, tasks_start_in_creation_order) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *t[5];
    for (int i = 0; i < 5; i++) t[i] = vow_create_task(loop, body, targ_new(i, 0, i), targ_free);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    cr_assert_str_eq(order, "B0B1B2B3B4");
    for (int i = 0; i < 5; i++) {
        VOW_ASSERT_EQ(vow_value_int(vow_value(t[i])), i);
        VOW_ASSERT_EQ(arg_freed[i], 1);
        vow_unref(t[i]);
    }
    vow_unref(body_promise);
    VOW_TEST_END(loop);
}

/* ---- the task settles as the body's promise ------------------------------------------------ */

Test(create_task, fulfils_with_the_body_value_after_the_body_sleep) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *t = vow_create_task(loop, body, targ_new(0, 20, 7), targ_free);
    vow_t *d = vow_then(vow_ref(t), count_ok, NULL, NULL, NULL);
    VOW_ASSERT_CODE(vow_run(loop, vow_ref(d), NULL), 0);
    VOW_ASSERT_EQ(ok_calls, 1);
    VOW_ASSERT_EQ(ok_seen, 7);
    VOW_ASSERT_STATE(vow_state(body_promise), VOW_FULFILLED);
    VOW_ASSERT_STATE(vow_state(t), VOW_FULFILLED);
    VOW_ASSERT_EQ(arg_free_calls, 1);
    VOW_ASSERT_EQ(arg_freed_at_body, 0, "arg_free ran before the body");
    vow_unref(t);
    vow_unref(d);
    vow_unref(body_promise);
    VOW_TEST_END(loop);
}

Test(create_task, rejects_with_the_body_error_itself) {
    vow_loop_t *loop = vow_test_loop();
    record_rejections(loop);
    vow_error_t *e = vow_error_new(VOW_ERANGE, "the body failed");
    targ *a = targ_new(0, 10, 0);
    a->fail = vow_error_ref(e);
    vow_t *t = vow_create_task(loop, body, a, targ_free);
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, t, &out), 0);
    VOW_ASSERT_STATE(out.state, VOW_REJECTED);
    VOW_ASSERT_EQ(out.error, e, "the task rejected with another error than the body's");
    VOW_ASSERT_EQ(rejections.unhandled, 0, "the body's rejection was reported as unhandled");
    vow_outcome_release(&out);
    vow_error_unref(e);
    vow_unref(body_promise);
    VOW_ASSERT_EQ(arg_free_calls, 1);
    VOW_TEST_END(loop);
}

Test(create_task, body_returning_a_settled_promise) {
    vow_loop_t *loop = vow_test_loop();
    vow_error_t *e = vow_error_new(VOW_EBUSY, NULL);
    targ *a = targ_new(1, 0, 0);
    a->fail = vow_error_ref(e);
    vow_t *ok = vow_create_task(loop, body, targ_new(0, 0, 9), targ_free);
    vow_t *bad = vow_create_task(loop, body, a, targ_free);
    vow_t *both = vow_all_settled(loop, (vow_t *[]){vow_ref(ok), vow_ref(bad)}, 2);
    VOW_ASSERT_CODE(vow_run(loop, both, NULL), 0);
    VOW_ASSERT_EQ(vow_value_int(vow_value(ok)), 9);
    VOW_ASSERT_EQ(vow_error(bad), e);
    vow_unref(ok);
    vow_unref(bad);
    vow_error_unref(e);
    vow_unref(body_promise);
    VOW_ASSERT_EQ(arg_free_calls, 2);
    VOW_TEST_END(loop);
}

Test(create_task, body_returning_null_rejects_with_enomem) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *t = vow_create_task(loop, body_null, targ_new(0, 0, 0), targ_free);
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, t, &out), 0);
    VOW_ASSERT_EQ(body_calls, 1);
    VOW_ASSERT_STATE(out.state, VOW_REJECTED);
    VOW_ASSERT_CODE(vow_error_code(out.error), VOW_ENOMEM, "%s",
                    vow_err_name(vow_error_code(out.error)));
    vow_outcome_release(&out);
    VOW_ASSERT_EQ(arg_free_calls, 1);
    VOW_TEST_END(loop);
}

Test(create_task, unawaited_failing_task_is_reported_once_on_the_task) {
    vow_loop_t *loop = vow_test_loop();
    record_rejections(loop);
    VOW_ASSERT_CODE(vow_set_unhandled_mode(loop, VOW_UNHANDLED_SILENT), 0);
    targ *a = targ_new(0, 5, 0);
    a->fail = vow_error_new(VOW_EPERM, "nobody awaits this");
    vow_t *t = vow_create_task(loop, body, a, targ_free);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_STATE(vow_state(t), VOW_REJECTED);
    VOW_ASSERT_EQ(rejections.unhandled, 1);
    VOW_ASSERT_EQ(rejections.last_unhandled.p, t, "reported on another promise than the task");
    vow_unref(t);
    vow_unref(body_promise);
    VOW_TEST_END(loop);
}

/* ---- cancellation before the start ---------------------------------------------------------- */

Test(create_task, cancelled_before_it_starts_the_body_never_runs) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *t = vow_create_task(loop, body, targ_new(0, 10, 1), targ_free);
    VOW_ASSERT_EQ(vow_loop_alive(loop), 1);
    VOW_ASSERT_CODE(vow_cancel(t), 0);
    expect_cancelled(t, "the task");
    VOW_ASSERT_EQ(arg_free_calls, 1, "arg_free did not run at the cancel (%d)", arg_free_calls);
    VOW_ASSERT_EQ(vow_loop_alive(loop), 0, "the start's immediate is still queued");
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(body_calls, 0, "the body of a cancelled task ran");
    VOW_ASSERT_EQ(arg_free_calls, 1);
    VOW_ASSERT_CODE(vow_cancel(t), VOW_ESETTLED);
    vow_unref(t);
    VOW_TEST_END(loop);
}

/* Cancelled by an immediate that runs just before the start, in the same check pass. */
static void cancel_slot(vow_loop_t *loop, void *arg) {
    (void)loop;
    note('C', 0);
    VOW_ASSERT_CODE(vow_cancel(*(vow_t **)arg), 0);
}

Test(create_task, cancelled_by_an_earlier_immediate_of_the_same_pass_never_starts) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *slot = NULL;
    VOW_ASSERT_CODE(vow_set_immediate(loop, cancel_slot, &slot, NULL), 0);
    vow_t *t = vow_create_task(loop, body, targ_new(0, 10, 1), targ_free);
    slot = t;
    VOW_ASSERT_CODE(vow_set_immediate(loop, imm, CTX(1), NULL), 0);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    cr_assert_str_eq(order, "C0I1", "order %s", order);
    VOW_ASSERT_EQ(body_calls, 0);
    expect_cancelled(t, "the task");
    VOW_ASSERT_EQ(arg_free_calls, 1);
    vow_unref(t);
    VOW_TEST_END(loop);
}

Test(create_task, cancelled_through_a_then_on_it_before_it_starts) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *t = vow_create_task(loop, body, targ_new(0, 10, 1), targ_free);
    vow_t *d = vow_then(t, count_ok, NULL, NULL, NULL); /* the task's only waiter */
    VOW_ASSERT_CODE(vow_cancel(d), 0);
    VOW_ASSERT_EQ(arg_free_calls, 1, "the upstream cancel did not reach the unstarted task");
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(body_calls, 0);
    VOW_ASSERT_EQ(ok_calls, 0);
    vow_unref(d);
    VOW_TEST_END(loop);
}

/* ---- cancellation after the start ----------------------------------------------------------- */

static void cancel_now(vow_loop_t *loop, void *arg) {
    (void)loop;
    note('C', 0);
    VOW_ASSERT_CODE(vow_cancel(arg), 0);
}

Test(create_task, cancelled_after_it_starts_the_body_sleep_is_cancelled_and_freed) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *t = vow_create_task(loop, body, targ_new(0, 1000, 1), targ_free);
    VOW_ASSERT_EQ(vow_loop_run(loop, VOW_RUN_NOWAIT), 1); /* the start: the body sleeps */
    VOW_ASSERT_EQ(body_calls, 1);
    VOW_ASSERT_EQ(vow_loop_alive(loop), 1, "the body's sleep");
    VOW_ASSERT_CODE(vow_cancel(t), 0);
    expect_cancelled(t, "the task");
    expect_cancelled(body_promise, "the body's promise");
    VOW_ASSERT_EQ(vow_loop_alive(loop), 0, "the body's sleep timer was not freed at the cancel");
    VOW_ASSERT_EQ(arg_free_calls, 1);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    vow_unref(t);
    vow_unref(body_promise);
    VOW_TEST_END(loop);
}

Test(create_task, cancelled_from_a_timer_while_the_body_sleeps) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *t = vow_create_task(loop, body, targ_new(0, 1000, 1), targ_free);
    /* The cancelling timer is made once the body has started. Made with the task, it could
     * be due by the loop's first turn on a slow machine (valgrind) and fire in that turn's
     * timers phase, before the check phase starts the body. */
    VOW_ASSERT_EQ(vow_loop_run(loop, VOW_RUN_NOWAIT), 1);
    cr_assert_str_eq(order, "B0");
    VOW_ASSERT_CODE(vow_set_timeout(loop, cancel_now, t, 10, NULL), 0);
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, vow_ref(t), &out), 0);
    cr_assert_str_eq(order, "B0C0");
    VOW_ASSERT_STATE(out.state, VOW_REJECTED);
    cr_assert(vow_is_cancellation(out.error));
    vow_outcome_release(&out);
    expect_cancelled(body_promise, "the body's promise");
    VOW_ASSERT_EQ(vow_loop_alive(loop), 0, "the body's sleep timer was not freed");
    vow_unref(t);
    vow_unref(body_promise);
    VOW_TEST_END(loop);
}

Test(create_task, cancel_after_start_spares_a_body_promise_someone_else_waits_on) {
    vow_loop_t *loop = vow_test_loop();
    /* Far enough out that it is still pending after the NOWAIT turn below, however slow
     * the machine (a 30 ms sleep was not always, under valgrind). */
    vow_t *shared = vow_then(vow_sleep(loop, 300), give_value, NULL, CTX(5), NULL);
    vow_t *other = vow_then(vow_ref(shared), count_ok, NULL, NULL, NULL);
    vow_t *t = vow_create_task(loop, body_returns_shared, vow_ref(shared), promise_unref);
    VOW_ASSERT_EQ(vow_loop_run(loop, VOW_RUN_NOWAIT), 1);
    VOW_ASSERT_EQ(body_calls, 1);
    VOW_ASSERT_CODE(vow_cancel(t), 0);
    expect_cancelled(t, "the task");
    VOW_ASSERT_STATE(vow_state(shared), VOW_PENDING, "the upstream rule was not applied");
    VOW_ASSERT_EQ(vow_loop_alive(loop), 1, "the shared sleep should still be running");
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_STATE(vow_state(shared), VOW_FULFILLED);
    VOW_ASSERT_EQ(ok_calls, 1);
    VOW_ASSERT_EQ(ok_seen, 5);
    vow_unref(t);
    vow_unref(shared);
    vow_unref(other);
    VOW_TEST_END(loop);
}

/* The body cancels its own task before it returns: the task is cancelled while its body is
 * running, so the promise the body then returns must be cancelled too (asyncio delivers
 * the cancellation at the coroutine's next await), not left running with nobody to see it. */
static vow_t *self_task;
static vow_t *body_cancels_itself(vow_loop_t *loop, void *arg) {
    body_calls++;
    VOW_ASSERT_CODE(vow_cancel(self_task), 0);
    vow_t *p = vow_then(vow_sleep(loop, 1000), give_value, NULL, arg, NULL);
    vow_unref(body_promise);
    body_promise = vow_ref(p);
    return p;
}

Test(create_task, body_that_cancels_its_own_task_gets_its_promise_cancelled) {
    vow_loop_t *loop = vow_test_loop();
    self_task = vow_create_task(loop, body_cancels_itself, CTX(3), NULL);
    VOW_ASSERT_CODE(vow_run(loop, vow_ref(self_task), NULL), 0);
    VOW_ASSERT_EQ(body_calls, 1);
    expect_cancelled(self_task, "the task");
    VOW_ASSERT_EQ(vow_loop_alive(loop), 0, "the body's 1 s sleep is still running");
    expect_cancelled(body_promise, "the body's promise");
    vow_unref(self_task);
    vow_unref(body_promise);
    VOW_TEST_END(loop);
}

/* ---- arg_free exactly once on every path ---------------------------------------------------- */

Test(create_task, arg_free_runs_after_the_body_returned) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *t = vow_create_task(loop, body, targ_new(0, 0, 0), targ_free);
    VOW_ASSERT_EQ(arg_free_calls, 0);
    VOW_ASSERT_CODE(vow_run(loop, t, NULL), 0);
    VOW_ASSERT_EQ(arg_freed_at_body, 0);
    VOW_ASSERT_EQ(arg_free_calls, 1);
    vow_unref(body_promise);
    VOW_TEST_END(loop);
}

Test(create_task, loop_freed_before_the_start_frees_arg_once_and_never_runs_the_body) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *t = vow_create_task(loop, body, targ_new(0, 0, 0), targ_free);
    targ stack_arg = {1, 0, 0, NULL};
    vow_t *u = vow_create_task(loop, body, &stack_arg, NULL); /* no arg_free: the caller's */
    VOW_ASSERT_CODE(vow_loop_free(loop), 0);
    VOW_ASSERT_EQ(body_calls, 0);
    VOW_ASSERT_EQ(arg_free_calls, 1);
    VOW_ASSERT_CODE(vow_cancel(t), VOW_ECLOSED);
    vow_unref(t);
    vow_unref(u);
    VOW_ASSERT_EQ(vow_test_live_allocs(), 0, "%ld vow allocation(s) still live",
                  vow_test_live_allocs());
}

Test(create_task, loop_freed_while_the_body_sleeps) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *t = vow_create_task(loop, body, targ_new(0, 1000, 0), targ_free);
    VOW_ASSERT_EQ(vow_loop_run(loop, VOW_RUN_NOWAIT), 1);
    VOW_ASSERT_EQ(body_calls, 1);
    VOW_ASSERT_EQ(arg_free_calls, 1);
    vow_unref(t);
    vow_unref(body_promise);
    VOW_TEST_END_FORCED(loop);
}

static int null_arg_free_calls;
static void count_arg_free(void *p) {
    VOW_ASSERT_EQ(p, CTX(77));
    null_arg_free_calls++;
}

Test(create_task, failed_calls_return_null_and_run_arg_free_at_once) {
    cr_assert_null(vow_create_task(NULL, body, CTX(77), count_arg_free));
    VOW_ASSERT_EQ(null_arg_free_calls, 1);
    vow_loop_t *loop = vow_test_loop();
    vow_set_unhandled_mode(loop, VOW_UNHANDLED_SILENT);
    vow_t *bad = vow_create_task(loop, NULL, CTX(77), count_arg_free); /* misuse: a rejection */
    cr_assert_not_null(bad);
    VOW_ASSERT_CODE(vow_error_code(vow_error(bad)), VOW_EINVAL);
    VOW_ASSERT_EQ(null_arg_free_calls, 2);
    vow_unref(bad);
    vow_unref(vow_create_task(loop, NULL, CTX(77), NULL)); /* no destructor: fine */
    VOW_ASSERT_EQ(vow_loop_alive(loop), 0, "a failed call left work queued");
    VOW_TEST_END(loop);
}

/* Out of memory: fail vow's N-th allocation for every N in a program that creates tasks
 * (one awaited, one cancelled before its start, one cancelled while it sleeps). Every run
 * ends normally or with VOW_ENOMEM; every arg_free runs exactly once; nothing leaks. */
static vow_t *oom_body(vow_loop_t *loop, void *arg) {
    targ *a = arg;
    arg_freed_at_body = arg_free_calls;
    return vow_then(vow_sleep(loop, a->ms), give_value, NULL, CTX(a->value), NULL);
}
static void oom_cancel(vow_loop_t *loop, void *arg) {
    (void)loop;
    vow_cancel(arg);
}

static int oom_program(vow_loop_t *loop) {
    vow_t *a = vow_create_task(loop, oom_body, targ_new(0, 2, 1), targ_free);
    vow_t *b = vow_create_task(loop, oom_body, targ_new(1, 2, 1), targ_free);
    vow_t *c = vow_create_task(loop, oom_body, targ_new(2, 200, 1), targ_free);
    vow_cancel(b);
    if (c != NULL) vow_set_timeout(loop, oom_cancel, c, 1, NULL);
    int result = 0;
    vow_t *all = vow_all_settled(loop, (vow_t *[]){vow_ref(a), vow_ref(c)}, 2);
    if (all == NULL || a == NULL || b == NULL || c == NULL) result = VOW_ENOMEM;
    if (all != NULL) {
        vow_outcome_t out;
        int rc = vow_run(loop, all, &out);
        if (rc != 0)
            result = rc;
        else if (out.state == VOW_REJECTED)
            result = vow_error_code(out.error);
        vow_outcome_release(&out);
    }
    if (a != NULL && vow_state(a) == VOW_REJECTED && vow_error_code(vow_error(a)) == VOW_ENOMEM)
        result = VOW_ENOMEM;
    if (a != NULL && vow_state(a) == VOW_FULFILLED && vow_value_int(vow_value(a)) != 1) result = -1;
    vow_unref(a);
    vow_unref(b);
    vow_unref(c);
    return result;
}

Test(create_task, every_allocation_fails_once) {
    long first = -1;
    for (long n = 0;; n++) {
        vow_loop_t *loop = vow_test_loop();
        VOW_ASSERT_CODE(vow_set_unhandled_mode(loop, VOW_UNHANDLED_SILENT), 0);
        vow_test_reset_counts();
        vow_test_fail_at(n);
        arg_free_calls = 0;
        memset(arg_freed, 0, sizeof arg_freed);
        int rc = oom_program(loop);
        long failed = vow_test_failed_allocs();
        vow_test_fail_at(0);
        VOW_ASSERT_CODE(vow_loop_free(loop), 0);
        cr_assert(rc == 0 || rc == VOW_ENOMEM, "run %ld: %s", n, vow_strerror(rc));
        for (int i = 0; i < 3; i++)
            VOW_ASSERT_EQ(arg_freed[i], 1, "run %ld: arg %d freed %d times", n, i, arg_freed[i]);
        VOW_ASSERT_EQ(vow_test_live_allocs(), 0, "run %ld: %ld allocation(s) leaked", n,
                      vow_test_live_allocs());
        if (n == 0) {
            first = vow_test_alloc_total();
            VOW_ASSERT_CODE(rc, 0, "the program fails without any failed allocation");
        } else if (failed == 0) {
            break; /* n is past the program's last allocation */
        }
        cr_assert_lt(n, first + 10, "sweep did not end");
    }
}
