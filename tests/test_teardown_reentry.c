/* Calls into a loop from a destructor that its teardown runs (issue 18, items 1 and 2): a
 * reaction's ctx_free, run when vow_loop_free releases the timer's promise it waits on,
 * calls one public function on the same loop or one of its promises. Each answers a code
 * (VOW_EREENTRANT for vow_loop_free / vow_loop_close, VOW_ECLOSED or NULL for the rest),
 * schedules nothing and touches nothing freed; no allocation is left (ASan in CI). Before
 * the fix vow_loop_free from there answered 0 and the outer teardown crashed, and
 * vow_set_timeout answered 0 and leaked its new timer list. */
#include "helpers.h"

TestSuite(teardown_reentry, .init = vow_test_setup, .fini = vow_test_teardown, .timeout = 10);

static vow_loop_t *L;
static vow_t *held; /* a pending vow_new promise of L, referenced by the test */

static void nothing_timer(vow_loop_t *loop, void *arg) { (void)loop, (void)arg; }
static void nothing_mt(vow_loop_t *loop, void *arg) { (void)loop, (void)arg; }
static vow_t *task_body(vow_loop_t *loop, void *arg) {
    (void)arg;
    return vow_resolved(loop, vow_none());
}
static vow_result_t ok(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v, (void)ctx;
    return vow_ok_none();
}

/* A promise-returning call answers NULL: report it as VOW_ECLOSED, anything else as 0. */
static int null_is_closed(vow_t *p) {
    if (p == NULL) return VOW_ECLOSED;
    vow_unref(p);
    return 0;
}

static int c_loop_free(void) { return vow_loop_free(L); }
static int c_loop_close(void) { return vow_loop_close(L); }
static int c_loop_run(void) { return vow_loop_run(L, VOW_RUN_NOWAIT); }
static int c_run(void) { return vow_run(L, vow_ref(held), NULL); }
static int c_microtask(void) { return vow_microtask(L, nothing_mt, NULL); }
static int c_set_timeout(void) { return vow_set_timeout(L, nothing_timer, NULL, 5, NULL); }
static int c_set_interval(void) { return vow_set_interval(L, nothing_timer, NULL, 5, NULL); }
static int c_set_immediate(void) { return vow_set_immediate(L, nothing_timer, NULL, NULL); }
static int c_clear_timeout(void) { return vow_clear_timeout(L, 1); }
static int c_loop_alive(void) { return vow_loop_alive(L); }
static int c_loop_verify(void) { return vow_loop_verify(L); }
static int c_hook(void) { return vow_set_rejection_hook(L, NULL, NULL); }
static int c_mode(void) { return vow_set_unhandled_mode(L, VOW_UNHANDLED_SILENT); }
static int c_new(void) { return null_is_closed(vow_new(L)); }
static int c_resolved(void) { return null_is_closed(vow_resolved(L, vow_int(1))); }
static int c_rejected(void) {
    return null_is_closed(vow_rejected(L, vow_error_new(VOW_EINVAL, NULL)));
}
static int c_sleep(void) { return null_is_closed(vow_sleep(L, 5)); }
static int c_then(void) { return null_is_closed(vow_then(vow_ref(held), ok, NULL, NULL, NULL)); }
static int c_timeout(void) { return null_is_closed(vow_timeout(vow_ref(held), 5, 0)); }
static int c_all(void) {
    vow_t *in[1] = {vow_ref(held)};
    return null_is_closed(vow_all(L, in, 1));
}
static int c_create_task(void) { return null_is_closed(vow_create_task(L, task_body, NULL, NULL)); }
static int c_task_group(void) {
    vow_task_group_t *g = vow_task_group_new(L);
    if (g == NULL) return VOW_ECLOSED;
    vow_task_group_unref(g);
    return 0;
}
static int c_resolve(void) { return vow_resolve(held, vow_int(1)); }
static int c_reject(void) { return vow_reject(held, vow_error_new(VOW_EINVAL, NULL)); }
static int c_cancel(void) { return vow_cancel(held); }

typedef struct {
    const char *name;
    int (*call)(void);
    int want;
} row;

static const row rows[] = {
    {"vow_loop_free", c_loop_free, VOW_EREENTRANT},
    {"vow_loop_close", c_loop_close, VOW_EREENTRANT},
    {"vow_loop_run", c_loop_run, VOW_ECLOSED},
    {"vow_run", c_run, VOW_ECLOSED},
    {"vow_microtask", c_microtask, VOW_ECLOSED},
    {"vow_set_timeout", c_set_timeout, VOW_ECLOSED},
    {"vow_set_interval", c_set_interval, VOW_ECLOSED},
    {"vow_set_immediate", c_set_immediate, VOW_ECLOSED},
    {"vow_clear_timeout", c_clear_timeout, VOW_ECLOSED},
    {"vow_loop_alive", c_loop_alive, VOW_ECLOSED},
    {"vow_loop_verify", c_loop_verify, VOW_ECLOSED},
    {"vow_set_rejection_hook", c_hook, VOW_ECLOSED},
    {"vow_set_unhandled_mode", c_mode, VOW_ECLOSED},
    {"vow_new", c_new, VOW_ECLOSED},
    {"vow_resolved", c_resolved, VOW_ECLOSED},
    {"vow_rejected", c_rejected, VOW_ECLOSED},
    {"vow_sleep", c_sleep, VOW_ECLOSED},
    {"vow_then", c_then, VOW_ECLOSED},
    {"vow_timeout", c_timeout, VOW_ECLOSED},
    {"vow_all", c_all, VOW_ECLOSED},
    {"vow_create_task", c_create_task, VOW_ECLOSED},
    {"vow_task_group_new", c_task_group, VOW_ECLOSED},
    {"vow_resolve", c_resolve, VOW_ECLOSED},
    {"vow_reject", c_reject, VOW_ECLOSED},
    {"vow_cancel", c_cancel, VOW_ECLOSED},
};

static const row *current;
static int answered, calls;

static void call_from_destructor(void *ctx) {
    (void)ctx;
    calls++;
    answered = current->call();
}

/* The program: a then on a sleep, its ctx_free runs when vow_loop_free releases
 * the sleep's timer (and with it the promise the reaction waits on). */
Test(teardown_reentry, every_call_from_a_teardown_destructor_answers_a_code) {
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        current = &rows[i];
        L = vow_test_loop();
        held = vow_new(L);
        vow_unref(vow_then(vow_sleep(L, 1000), ok, NULL, NULL, call_from_destructor));
        calls = 0;
        answered = 12345;
        VOW_ASSERT_CODE(vow_loop_free(L), 0, "%s", current->name);
        VOW_ASSERT_EQ(calls, 1, "%s: the destructor ran", current->name);
        VOW_ASSERT_CODE(answered, current->want, "%s from a teardown destructor", current->name);
        vow_unref(held); /* the last handle: the loop's memory goes */
        VOW_ASSERT_EQ(vow_test_live_allocs(), 0, "%s: allocations left", current->name);
    }
}

/* The same from the last stage of teardown: a destructor run while the layer strips the
 * promises (a then on a bare pending promise the test keeps). */
Test(teardown_reentry, calls_from_a_strip_destructor_answer_a_code) {
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        current = &rows[i];
        L = vow_test_loop();
        held = vow_new(L);
        vow_unref(vow_then(vow_ref(held), ok, NULL, NULL, call_from_destructor));
        calls = 0;
        answered = 12345;
        VOW_ASSERT_CODE(vow_loop_free(L), 0, "%s", current->name);
        VOW_ASSERT_EQ(calls, 1, "%s: the destructor ran", current->name);
        VOW_ASSERT_CODE(answered, current->want, "%s from a strip destructor", current->name);
        vow_unref(held);
        VOW_ASSERT_EQ(vow_test_live_allocs(), 0, "%s: allocations left", current->name);
    }
}

/* vow_loop_close's teardown (nothing left running) runs destructors too: a held promise's
 * reaction is dropped there. */
Test(teardown_reentry, close_from_a_close_destructor_is_reentrant) {
    current = &rows[1];
    L = vow_test_loop();
    held = vow_new(L);
    vow_unref(vow_then(vow_ref(held), ok, NULL, NULL, call_from_destructor));
    calls = 0;
    VOW_ASSERT_CODE(vow_loop_close(L), 0);
    VOW_ASSERT_EQ(calls, 1);
    VOW_ASSERT_CODE(answered, VOW_EREENTRANT);
    VOW_ASSERT_CODE(vow_loop_free(L), VOW_EINVAL, "a closed loop a promise still holds");
    vow_unref(held);
    VOW_ASSERT_EQ(vow_test_live_allocs(), 0);
}
