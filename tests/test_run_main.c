/* tests/test_run_main.c - asyncio.run's clean exit (vow/promise.h): vow_run_main runs the
 * main promise, cancels what vow keeps the loop alive for, lets the cancellation reactions
 * run, and frees the loop; vow_exit_status's convention; vow_main. Nothing may be left:
 * every test ends with zero vow allocations live (the loop itself is gone). */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdio.h>
#include <time.h>

#include "counted.h"
#include "helpers.h"

TestSuite(run_main, .init = vow_test_setup, .fini = vow_test_teardown, .timeout = 30);

static void expect_nothing_left(void) {
    VOW_ASSERT_EQ(vow_test_live_allocs(), 0L, "vow allocations left: the loop was not freed");
}

/* Reactions that count what they saw, by ctx slot. */
static int cancelled_seen[4], finally_ran[4];
static vow_result_t saw_cancel(vow_loop_t *loop, vow_error_t *e, void *ctx) {
    (void)loop;
    if (vow_is_cancellation(e)) cancelled_seen[(intptr_t)ctx]++;
    return vow_fail(vow_error_ref(e));
}
static vow_result_t fin(vow_loop_t *loop, void *ctx) {
    (void)loop;
    finally_ran[(intptr_t)ctx]++;
    return vow_ok_none();
}
/* A finally that starts new timed cleanup work (a 10 s sleep) when it runs. */
static vow_result_t fin_sleeps(vow_loop_t *loop, void *ctx) {
    finally_ran[(intptr_t)ctx]++;
    return vow_follow(vow_sleep(loop, 10000));
}

Test(run_main, a_main_that_wins_a_race_against_a_long_sleep_returns_at_once) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *in[2] = {vow_sleep(loop, 1), vow_catch_ex(vow_sleep(loop, 10000), saw_cancel, (void *)0,
                                                     NULL, VOW_CATCH_CANCELLED)};
    vow_t *first = vow_race(loop, in, 2, 0);
    vow_outcome_t out;
    double t0 = vow_test_mono_s();
    VOW_ASSERT_CODE(vow_run_main(loop, first, &out), 0);
    double took = vow_test_mono_s() - t0;
    VOW_ASSERT_STATE(out.state, VOW_FULFILLED);
    VOW_ASSERT_EQ(cancelled_seen[0], 1, "the loser's cancellation reaction ran before close");
    /* The loser's sleep is 10 s; the bound holds with the machine 20x slower than here. */
    cr_assert_lt(took, 5.0, "vow_run_main waited %.3f s: the 10 s sleep was not cancelled", took);
    vow_outcome_release(&out);
    expect_nothing_left();
}

static vow_t *never_body(vow_loop_t *loop, void *arg) {
    (void)arg;
    finally_ran[3]++;
    return vow_sleep(loop, 10000);
}
static vow_t *sleeping_body(vow_loop_t *loop, void *arg) {
    (void)arg;
    return vow_finally(vow_sleep(loop, 10000), fin, (void *)1, NULL);
}
Test(run_main, pending_tasks_are_cancelled_and_their_cancellation_reactions_run_before_close) {
    vow_loop_t *loop = vow_test_loop();
    /* Started (its body awaits a sleep) by the time main settles, and not yet started. */
    vow_t *started = vow_catch_ex(vow_create_task(loop, sleeping_body, NULL, NULL), saw_cancel,
                                  (void *)1, NULL, VOW_CATCH_CANCELLED);
    vow_unref(started);
    vow_t *first = vow_sleep(loop, 5);
    vow_t *late = NULL;
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, vow_ref(first), NULL), 0); /* the first task has started */
    obj_made = 0;
    late = vow_catch_ex(vow_create_task(loop, never_body, obj_new(), obj_free), saw_cancel,
                        (void *)2, NULL, VOW_CATCH_CANCELLED);
    vow_unref(late);
    VOW_ASSERT_CODE(vow_run_main(loop, first, &out), 0);
    VOW_ASSERT_STATE(out.state, VOW_FULFILLED);
    VOW_ASSERT_EQ(finally_ran[1], 1, "the started task's finally ran");
    VOW_ASSERT_EQ(cancelled_seen[1], 1, "the started task was cancelled");
    VOW_ASSERT_EQ(cancelled_seen[2], 1, "the unstarted task was cancelled");
    VOW_ASSERT_EQ(finally_ran[3], 0, "the unstarted task's body never ran");
    expect_every_obj_freed_once(); /* its arg_free ran */
    vow_outcome_release(&out);
    expect_nothing_left();
}

Test(run_main, cleanup_that_starts_timed_work_is_cancelled_in_the_next_round) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *bg = vow_catch_ex(vow_finally(vow_sleep(loop, 10000), fin_sleeps, (void *)0, NULL),
                             saw_cancel, (void *)0, NULL, VOW_CATCH_CANCELLED);
    vow_unref(bg);
    double t0 = vow_test_mono_s();
    VOW_ASSERT_CODE(vow_run_main(loop, vow_resolved(loop, vow_int(3)), NULL), 0);
    cr_assert_lt(vow_test_mono_s() - t0, 5.0, "the cleanup's 10 s sleep was waited for");
    VOW_ASSERT_EQ(finally_ran[0], 1);
    VOW_ASSERT_EQ(cancelled_seen[0], 1, "the chain ends cancelled");
    expect_nothing_left();
}

static int ticks;
static void tick(vow_loop_t *loop, void *arg) {
    (void)loop, (void)arg;
    ticks++;
}
Test(run_main, the_applications_own_timers_are_dropped_unrun) {
    vow_loop_t *loop = vow_test_loop();
    VOW_ASSERT_CODE(vow_set_interval(loop, tick, NULL, 1, NULL), 0);
    VOW_ASSERT_CODE(vow_set_timeout(loop, tick, NULL, 10000, NULL), 0);
    VOW_ASSERT_CODE(vow_set_immediate(loop, tick, NULL, NULL), 0);
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run_main(loop, vow_resolved(loop, vow_ptr(obj_new(), obj_free)), &out), 0);
    VOW_ASSERT_EQ(ticks, 0, "the main promise was settled before the first turn");
    VOW_ASSERT_EQ(obj_freed[0], 0, "the outcome holds the value");
    vow_outcome_release(&out);
    expect_every_obj_freed_once();
    expect_nothing_left();
}

Test(run_main, a_main_that_can_never_settle_frees_the_loop_and_exits_13) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *p = vow_new(loop);
    vow_outcome_t out;
    int rc = vow_run_main(loop, p, &out);
    VOW_ASSERT_CODE(rc, VOW_ENEVER);
    VOW_ASSERT_STATE(out.state, VOW_PENDING);
    VOW_ASSERT_EQ(vow_exit_status(rc, &out), 13);
    expect_nothing_left();
}

static void stop(vow_loop_t *loop, void *arg) {
    (void)arg;
    vow_loop_stop(loop);
}
Test(run_main, a_stopped_run_is_shut_down_all_the_same) {
    vow_loop_t *loop = vow_test_loop();
    VOW_ASSERT_CODE(vow_set_timeout(loop, stop, NULL, 1, NULL), 0);
    vow_t *bg =
        vow_catch_ex(vow_sleep(loop, 10000), saw_cancel, (void *)0, NULL, VOW_CATCH_CANCELLED);
    vow_unref(bg);
    VOW_ASSERT_CODE(vow_run_main(loop, vow_sleep(loop, 10000), NULL), VOW_EINTR);
    VOW_ASSERT_EQ(cancelled_seen[0], 1);
    expect_nothing_left();
}

Test(run_main, exit_status_convention) {
    vow_outcome_t ok = {.state = VOW_FULFILLED, .value = vow_none(), .error = NULL};
    vow_outcome_t bad = {.state = VOW_REJECTED, .value = vow_none(), .error = NULL};
    VOW_ASSERT_EQ(vow_exit_status(0, &ok), 0);
    VOW_ASSERT_EQ(vow_exit_status(0, &bad), 1);
    VOW_ASSERT_EQ(vow_exit_status(0, NULL), 1);
    VOW_ASSERT_EQ(vow_exit_status(VOW_ENEVER, &ok), 13);
    VOW_ASSERT_EQ(vow_exit_status(VOW_EINTR, &ok), 1);
    VOW_ASSERT_EQ(vow_exit_status(VOW_EINVAL, NULL), 1);
}

static vow_t *amain_ok(vow_loop_t *loop, void *arg) {
    (void)arg;
    return vow_then(vow_sleep(loop, 1), NULL, NULL, NULL, NULL);
}
static vow_t *amain_fails(vow_loop_t *loop, void *arg) {
    (void)arg;
    vow_t *bg = vow_sleep(loop, 10000); /* left running: cancelled at exit */
    vow_unref(bg);
    return vow_rejected(loop, vow_error_new(VOW_ETIMEDOUT, "slow server"));
}
Test(run_main, vow_main_runs_a_program_and_answers_its_exit_status, .init = vow_test_setup) {
    cr_redirect_stderr();
    VOW_ASSERT_EQ(vow_main(amain_ok, NULL), 0);
    expect_nothing_left();
    VOW_ASSERT_EQ(vow_main(amain_fails, NULL), 1);
    expect_nothing_left();
    VOW_ASSERT_EQ(vow_main(NULL, NULL), 1);
    expect_nothing_left();
    fflush(stderr);
    cr_assert_stderr_eq_str("vow_main: uncaught rejection: ETIMEDOUT: slow server\n"
                            "vow_main: invalid argument\n");
}

/* A cancel callback that tries to free the loop while vow_run_main cancels what is left:
 * the loop counts as running, so the call is refused and nothing is used after a free. */
static int free_rc = 1;
static void free_the_loop(vow_loop_t *loop, void *ctx) {
    (void)ctx;
    free_rc = vow_loop_free(loop);
}
Test(run_main, a_cancellation_callback_cannot_free_the_loop_under_the_clean_exit) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *q = vow_new(loop);
    VOW_ASSERT_CODE(vow_on_cancel(q, free_the_loop, NULL, NULL), 0);
    vow_unref(vow_timeout(q, 10000, 0)); /* its timer holds the timeout, which holds q */
    VOW_ASSERT_CODE(vow_run_main(loop, vow_resolved(loop, vow_none()), NULL), 0);
    VOW_ASSERT_CODE(free_rc, VOW_EREENTRANT);
    expect_nothing_left();
}
