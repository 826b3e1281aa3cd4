/* tests/test_promise_unhandled.c - unhandled rejections, Node.js's rules: reported once
 * after the microtask queue drains, "handled late" when a handler comes afterwards, on the
 * derived promise a rejection flows into, and the three modes (warn, strict, silent). */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <signal.h>
#include <stdio.h>

#include "helpers.h"

TestSuite(promise_unhandled, .init = vow_test_setup, .fini = vow_test_teardown, .timeout = 20);

/* ---- the hook records every report (record_rejection, helpers.h) ------------------- */

static vow_loop_t *hooked_loop(vow_unhandled_mode_t mode) {
    vow_loop_t *loop = vow_test_loop();
    VOW_ASSERT_CODE(vow_set_rejection_hook(loop, record_rejection, &rejections), 0);
    VOW_ASSERT_CODE(vow_set_unhandled_mode(loop, mode), 0);
    return loop;
}

static int catch_calls;
static vow_result_t swallow(vow_loop_t *loop, vow_error_t *e, void *ctx) {
    (void)loop;
    (void)e;
    (void)ctx;
    catch_calls++;
    return vow_ok_none();
}

static int ok_calls;
static vow_result_t pass_ok(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    (void)ctx;
    ok_calls++;
    return vow_ok(vow_value_share(v));
}

/* ---- reported once, after the drain --------------------------------------------------- */

static int check_calls;
static int reports_before_drain; /* what the hook count must still be inside the drain */
static void check_not_reported_yet(vow_loop_t *loop, void *arg) {
    check_calls++;
    VOW_ASSERT_EQ(rejections.calls, reports_before_drain,
                  "reported before the microtask queue drained");
    intptr_t more = (intptr_t)arg;
    if (more > 0)
        VOW_ASSERT_CODE(vow_microtask(loop, check_not_reported_yet, (void *)(more - 1)), 0);
}

Test(promise_unhandled, reported_once_after_the_drain) {
    vow_loop_t *loop = hooked_loop(VOW_UNHANDLED_SILENT);
    vow_error_t *e = vow_error_new(VOW_EBUSY, "nobody catches this");
    vow_t *p = vow_rejected(loop, e);
    VOW_ASSERT_EQ(rejections.calls, 0, "reported synchronously");
    /* A chain of microtasks in the same drain: none of them may see the report. */
    VOW_ASSERT_CODE(vow_microtask(loop, check_not_reported_yet, (void *)5), 0);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(check_calls, 6);
    VOW_ASSERT_EQ(rejections.calls, 1);
    VOW_ASSERT_EQ(rejections.at[0].ctx, (void *)&rejections, "the hook gets its ctx");
    VOW_ASSERT_EQ(rejections.at[0].event, VOW_REJECTION_UNHANDLED);
    VOW_ASSERT_EQ(rejections.at[0].p, p);
    VOW_ASSERT_EQ(rejections.at[0].err, e);

    /* Later drains do not report it again. */
    reports_before_drain = 1;
    VOW_ASSERT_CODE(vow_run(loop, vow_sleep(loop, 1), NULL), 0);
    VOW_ASSERT_CODE(vow_microtask(loop, check_not_reported_yet, (void *)0), 0);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(rejections.calls, 1);
    vow_unref(p);
    VOW_TEST_END(loop);
}

Test(promise_unhandled, not_reported_without_running_the_loop) {
    vow_loop_t *loop = hooked_loop(VOW_UNHANDLED_SILENT);
    vow_unref(vow_rejected(loop, vow_error_new(VOW_EBUSY, NULL)));
    VOW_ASSERT_EQ(rejections.calls, 0);
    VOW_TEST_END(loop);
    VOW_ASSERT_EQ(rejections.calls, 0, "teardown reports nothing");
}

static vow_t *late_target;
static void attach_catch(vow_loop_t *loop, void *arg) {
    (void)loop;
    (void)arg;
    vow_unref(vow_catch(vow_ref(late_target), swallow, NULL, NULL));
}
static void attach_catch_later_in_the_drain(vow_loop_t *loop, void *arg) {
    intptr_t more = (intptr_t)arg;
    if (more > 0)
        VOW_ASSERT_CODE(vow_microtask(loop, attach_catch_later_in_the_drain, (void *)(more - 1)),
                        0);
    else
        attach_catch(loop, NULL);
}

Test(promise_unhandled, handler_from_a_microtask_in_the_same_turn_prevents_the_report) {
    vow_loop_t *loop = hooked_loop(VOW_UNHANDLED_SILENT);
    late_target = vow_rejected(loop, vow_error_new(VOW_EBUSY, NULL));
    VOW_ASSERT_CODE(vow_microtask(loop, attach_catch, NULL), 0);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(catch_calls, 1);
    VOW_ASSERT_EQ(rejections.calls, 0);
    vow_unref(late_target);
    VOW_TEST_END(loop);
}

Test(promise_unhandled, handler_at_the_end_of_a_long_drain_prevents_the_report) {
    vow_loop_t *loop = hooked_loop(VOW_UNHANDLED_SILENT);
    late_target = vow_rejected(loop, vow_error_new(VOW_EBUSY, NULL));
    VOW_ASSERT_CODE(vow_microtask(loop, attach_catch_later_in_the_drain, (void *)20), 0);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(catch_calls, 1);
    VOW_ASSERT_EQ(rejections.calls, 0);
    vow_unref(late_target);
    VOW_TEST_END(loop);
}

static vow_result_t attach_from_reaction(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)v;
    (void)ctx;
    attach_catch(loop, NULL);
    return vow_ok_none();
}

Test(promise_unhandled, handler_from_a_reaction_in_the_same_turn_prevents_the_report) {
    vow_loop_t *loop = hooked_loop(VOW_UNHANDLED_SILENT);
    /* Rejected before the run; handled from the third job of the same drain. */
    late_target = vow_new(loop);
    vow_t *d = vow_then(vow_then(vow_resolved(loop, vow_none()), pass_ok, NULL, NULL, NULL),
                        attach_from_reaction, NULL, NULL, NULL);
    VOW_ASSERT_CODE(vow_reject(late_target, vow_error_new(VOW_EBUSY, NULL)), 0);
    VOW_ASSERT_CODE(vow_run(loop, d, NULL), 0);
    VOW_ASSERT_EQ(catch_calls, 1);
    VOW_ASSERT_EQ(rejections.calls, 0);
    vow_unref(late_target);
    VOW_TEST_END(loop);
}

static int timer_calls;
static int hook_calls_in_timer;
static void attach_from_timer(vow_loop_t *loop, void *arg) {
    (void)arg;
    timer_calls++;
    hook_calls_in_timer = rejections.calls;
    attach_catch(loop, NULL);
    VOW_ASSERT_EQ(rejections.calls, hook_calls_in_timer, "handled-late reported synchronously");
}

Test(promise_unhandled, handler_attached_later_reports_handled_late) {
    vow_loop_t *loop = hooked_loop(VOW_UNHANDLED_SILENT);
    vow_error_t *e = vow_error_new(VOW_EBUSY, NULL);
    late_target = vow_rejected(loop, e);
    VOW_ASSERT_CODE(vow_set_timeout(loop, attach_from_timer, NULL, 5, NULL), 0);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(timer_calls, 1);
    VOW_ASSERT_EQ(hook_calls_in_timer, 1, "the first report came before the timer");
    VOW_ASSERT_EQ(catch_calls, 1);
    VOW_ASSERT_EQ(rejections.calls, 2);
    VOW_ASSERT_EQ(rejections.at[0].event, VOW_REJECTION_UNHANDLED);
    VOW_ASSERT_EQ(rejections.at[1].event, VOW_REJECTION_HANDLED_LATE);
    VOW_ASSERT_EQ(rejections.at[0].p, late_target);
    VOW_ASSERT_EQ(rejections.at[1].p, late_target, "handled late is reported for the same promise");
    VOW_ASSERT_EQ(rejections.at[1].err, e);
    /* A second late handler reports nothing more. */
    attach_catch(loop, NULL);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(catch_calls, 2);
    VOW_ASSERT_EQ(rejections.calls, 2);
    vow_unref(late_target);
    VOW_TEST_END(loop);
}

static void run_from_timer(vow_loop_t *loop, void *arg) {
    (void)arg;
    timer_calls++;
    /* vow_run is refused here, but then() on it is a handler all the same. */
    vow_unref(vow_then(vow_ref(late_target), pass_ok, swallow, NULL, NULL));
    (void)loop;
}

Test(promise_unhandled, then_with_both_reactions_counts_as_handling) {
    vow_loop_t *loop = hooked_loop(VOW_UNHANDLED_SILENT);
    late_target = vow_rejected(loop, vow_error_new(VOW_EBUSY, NULL));
    VOW_ASSERT_CODE(vow_set_timeout(loop, run_from_timer, NULL, 1, NULL), 0);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(rejections.calls, 2);
    VOW_ASSERT_EQ(rejections.at[1].event, VOW_REJECTION_HANDLED_LATE);
    VOW_ASSERT_EQ(catch_calls, 1);
    vow_unref(late_target);
    VOW_TEST_END(loop);
}

Test(promise_unhandled, vow_run_counts_as_a_handler) {
    vow_loop_t *loop = hooked_loop(VOW_UNHANDLED_SILENT);
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, vow_rejected(loop, vow_error_new(VOW_EBUSY, NULL)), &out), 0);
    VOW_ASSERT_STATE(out.state, VOW_REJECTED);
    vow_outcome_release(&out);
    VOW_ASSERT_EQ(rejections.calls, 0);
    VOW_TEST_END(loop);
}

Test(promise_unhandled, vow_run_after_the_report_is_handled_late) {
    vow_loop_t *loop = hooked_loop(VOW_UNHANDLED_SILENT);
    vow_t *p = vow_rejected(loop, vow_error_new(VOW_EBUSY, NULL));
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(rejections.calls, 1);
    VOW_ASSERT_CODE(vow_run(loop, vow_ref(p), NULL), 0);
    VOW_ASSERT_EQ(rejections.calls, 2);
    VOW_ASSERT_EQ(rejections.at[1].event, VOW_REJECTION_HANDLED_LATE);
    VOW_ASSERT_EQ(rejections.at[1].p, p);
    vow_unref(p);
    VOW_TEST_END(loop);
}

/* ---- reported on the derived promise ------------------------------------------------------ */

Test(promise_unhandled, rejection_flowing_into_a_derived_promise_is_reported_there) {
    vow_loop_t *loop = hooked_loop(VOW_UNHANDLED_SILENT);
    vow_error_t *e = vow_error_new(VOW_EBUSY, NULL);
    vow_t *p = vow_rejected(loop, e);
    vow_t *d1 = vow_then(vow_ref(p), pass_ok, NULL, NULL, NULL);
    vow_t *d2 = vow_finally(vow_ref(d1), NULL, NULL, NULL);
    vow_t *d3 = vow_then(vow_ref(d2), pass_ok, NULL, NULL, NULL);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(ok_calls, 0);
    VOW_ASSERT_EQ(rejections.calls, 1, "only the end of the chain is unhandled");
    VOW_ASSERT_EQ(rejections.at[0].p, d3, "reported on the derived promise, not on its source");
    cr_assert_neq(rejections.at[0].p, p);
    VOW_ASSERT_EQ(rejections.at[0].err, e, "with the same error");
    vow_unref(p);
    vow_unref(d1);
    vow_unref(d2);
    vow_unref(d3);
    VOW_TEST_END(loop);
}

static vow_result_t throw_busy(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    (void)v;
    (void)ctx;
    return vow_fail_code(VOW_ERANGE, "thrown in a reaction");
}

Test(promise_unhandled, error_thrown_in_a_reaction_is_reported_on_its_derived_promise) {
    vow_loop_t *loop = hooked_loop(VOW_UNHANDLED_SILENT);
    vow_t *p = vow_resolved(loop, vow_none());
    vow_t *d = vow_then(vow_ref(p), throw_busy, NULL, NULL, NULL);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(rejections.calls, 1);
    VOW_ASSERT_EQ(rejections.at[0].p, d);
    VOW_ASSERT_CODE(rejections.at[0].code, VOW_ERANGE);
    vow_unref(p);
    vow_unref(d);
    VOW_TEST_END(loop);
}

Test(promise_unhandled, several_unhandled_are_reported_in_rejection_order) {
    vow_loop_t *loop = hooked_loop(VOW_UNHANDLED_SILENT);
    vow_t *a = vow_rejected(loop, vow_error_new(VOW_EBUSY, NULL));
    vow_t *b = vow_new(loop);
    vow_t *c = vow_rejected(loop, vow_error_new(VOW_EINVAL, NULL));
    VOW_ASSERT_CODE(vow_reject(b, vow_error_new(VOW_ERANGE, NULL)), 0);
    /* Handled: never reported. */
    vow_unref(vow_catch(vow_rejected(loop, vow_error_new(VOW_EPERM, NULL)), swallow, NULL, NULL));
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(rejections.calls, 3);
    VOW_ASSERT_EQ(rejections.at[0].p, a);
    VOW_ASSERT_EQ(rejections.at[1].p, c);
    VOW_ASSERT_EQ(rejections.at[2].p, b);
    VOW_ASSERT_EQ(catch_calls, 1);
    vow_unref(a);
    vow_unref(b);
    vow_unref(c);
    VOW_TEST_END(loop);
}

Test(promise_unhandled, removed_hook_is_not_called) {
    vow_loop_t *loop = hooked_loop(VOW_UNHANDLED_SILENT);
    VOW_ASSERT_CODE(vow_set_rejection_hook(loop, NULL, NULL), 0);
    vow_unref(vow_rejected(loop, vow_error_new(VOW_EBUSY, NULL)));
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(rejections.calls, 0);
    VOW_TEST_END(loop);
}

/* ---- modes --------------------------------------------------------------------------- */

/* Everything written to the redirected stderr so far. */
static char stderr_text[4096];
static const char *read_stderr(void) {
    fflush(stderr);
    FILE *f = cr_get_redirected_stderr();
    cr_assert_not_null(f);
    size_t n = fread(stderr_text, 1, sizeof stderr_text - 1, f);
    stderr_text[n] = '\0';
    return stderr_text;
}
static int count_lines(const char *s) {
    int n = 0;
    for (; *s; s++)
        if (*s == '\n') n++;
    return n;
}

static vow_error_t *chained_error(void) {
    return vow_error_wrap(VOW_ETIMEDOUT, "deadline passed",
                          vow_error_new(VOW_EAGAIN, "request stopped"));
}

Test(promise_unhandled, silent_mode_prints_nothing) {
    cr_redirect_stderr();
    vow_loop_t *loop = hooked_loop(VOW_UNHANDLED_SILENT);
    late_target = vow_rejected(loop, chained_error());
    VOW_ASSERT_CODE(vow_set_timeout(loop, attach_from_timer, NULL, 2, NULL), 0);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(rejections.calls, 2, "the hook is still called in silent mode");
    vow_unref(late_target);
    VOW_TEST_END(loop);
    const char *out = read_stderr();
    cr_assert_str_eq(out, "", "silent mode printed: %s", out);
}

Test(promise_unhandled, warn_mode_prints_one_line_with_the_cause_chain) {
    cr_redirect_stderr();
    vow_loop_t *loop = vow_test_loop(); /* warn is the default */
    vow_error_t *e = chained_error();
    char chain[256];
    vow_error_format(e, chain, sizeof chain);
    vow_unref(vow_rejected(loop, e));
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_TEST_END(loop);
    const char *out = read_stderr();
    VOW_ASSERT_EQ(count_lines(out), 1, "expected one line, got: %s", out);
    cr_assert_not_null(strstr(out, chain), "no cause chain '%s' in: %s", chain, out);
    cr_assert_not_null(strstr(out, "ETIMEDOUT"), "%s", out);
    cr_assert_not_null(strstr(out, "deadline passed"), "%s", out);
    cr_assert_not_null(strstr(out, "EAGAIN"), "%s", out);
    cr_assert_not_null(strstr(out, "request stopped"), "%s", out);
}

Test(promise_unhandled, warn_mode_with_a_hook_still_prints) {
    cr_redirect_stderr();
    vow_loop_t *loop = hooked_loop(VOW_UNHANDLED_WARN);
    vow_unref(vow_rejected(loop, chained_error()));
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(rejections.calls, 1);
    VOW_TEST_END(loop);
    const char *out = read_stderr();
    VOW_ASSERT_EQ(count_lines(out), 1, "%s", out);
}

Test(promise_unhandled, warn_mode_reports_handled_late_on_a_second_line) {
    cr_redirect_stderr();
    vow_loop_t *loop = vow_test_loop();
    late_target = vow_rejected(loop, chained_error());
    VOW_ASSERT_CODE(vow_set_timeout(loop, attach_from_timer, NULL, 2, NULL), 0);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(catch_calls, 1);
    vow_unref(late_target);
    VOW_TEST_END(loop);
    const char *out = read_stderr();
    VOW_ASSERT_EQ(count_lines(out), 2, "expected two lines, got: %s", out);
}

Test(promise_unhandled, warn_mode_prints_nothing_for_handled_rejections) {
    cr_redirect_stderr();
    vow_loop_t *loop = vow_test_loop();
    vow_unref(vow_catch(vow_rejected(loop, chained_error()), swallow, NULL, NULL));
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(catch_calls, 1);
    VOW_TEST_END(loop);
    const char *out = read_stderr();
    cr_assert_str_eq(out, "", "%s", out);
}

Test(promise_unhandled, strict_mode_aborts, .signal = SIGABRT) {
    vow_loop_t *loop = vow_test_loop();
    VOW_ASSERT_CODE(vow_set_unhandled_mode(loop, VOW_UNHANDLED_STRICT), 0);
    vow_unref(vow_rejected(loop, vow_error_new(VOW_EBUSY, "fatal")));
    vow_loop_run(loop, VOW_RUN_DEFAULT);
    /* Not reached when strict mode works; if it is, the missing SIGABRT fails the test. */
    VOW_TEST_END(loop);
}

Test(promise_unhandled, strict_mode_calls_the_hook_then_aborts, .signal = SIGABRT) {
    vow_loop_t *loop = hooked_loop(VOW_UNHANDLED_STRICT);
    vow_unref(vow_then(vow_resolved(loop, vow_none()), throw_busy, NULL, NULL, NULL));
    vow_loop_run(loop, VOW_RUN_DEFAULT);
    VOW_TEST_END(loop);
}

Test(promise_unhandled, strict_mode_does_not_abort_for_handled_rejections) {
    vow_loop_t *loop = hooked_loop(VOW_UNHANDLED_STRICT);
    vow_unref(vow_catch(vow_rejected(loop, vow_error_new(VOW_EBUSY, NULL)), swallow, NULL, NULL));
    late_target = vow_rejected(loop, vow_error_new(VOW_EBUSY, NULL));
    VOW_ASSERT_CODE(vow_microtask(loop, attach_catch, NULL), 0);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(catch_calls, 2);
    VOW_ASSERT_EQ(rejections.calls, 0);
    vow_unref(late_target);
    VOW_TEST_END(loop);
}
