/* tests/test_async_review.c - a review of the coroutine core (issue 16): cases that
 * exercise paths tests/test_async.c does not reach. Each case says whether it shows a
 * defect of the current code (DEFECT: fails until fixed) or covers an untested path
 * (COVERAGE: passes today, kept as a guard).
 *
 * Criterion's failing asserts jump out of the test body: never assert on a coroutine's
 * stack. Coroutines record what they saw in globals; the test body asserts afterwards. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <sys/resource.h>

#include "counted.h"
#include "helpers.h"

TestSuite(async_review, .init = vow_test_setup, .fini = vow_test_teardown, .timeout = 60);

#define CTX(x) ((void *)(intptr_t)(x))

/* ---- async generators: the generator's own promise is internal -------------------------- */

static vow_result_t gen_one(vow_loop_t *loop, void *arg) {
    (void)loop, (void)arg;
    vow_yield(vow_int(1));
    return vow_ok_none();
}

/* DEFECT: closing a generator before its first next rejects its internal promise (which
 * nobody can reach) with VOW_ECLOSED, and that rejection is reported as unhandled (a
 * warning line in the default mode, abort() in strict mode). */
Test(async_review, a_generator_closed_before_its_first_next_reports_no_unhandled_rejection) {
    vow_loop_t *loop = vow_test_loop();
    rejections_reset();
    record_rejections(loop);
    vow_stream_t *s = vow_async_gen(loop, gen_one, NULL, NULL);
    cr_assert_not_null(s);
    vow_stream_unref(s);
    VOW_ASSERT_CODE(vow_loop_drain(loop), 0);
    VOW_ASSERT_EQ(rejections.unhandled, 0, "code of the report: %s",
                  vow_err_name(rejections.last_unhandled.code));
    VOW_TEST_END(loop);
}

/* Lowers the address-space limit to the current size plus `room` bytes, so that one
 * mapping larger than `room` fails with ENOMEM (sanitizer runtimes included: their shadow
 * reservations are part of the current size). */
static struct rlimit saved_as;
static void limit_address_space(size_t room) {
    FILE *f = fopen("/proc/self/status", "r");
    cr_assert_not_null(f);
    char line[256];
    unsigned long long vm_kb = 0;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "VmSize: %llu kB", &vm_kb) == 1) break;
    fclose(f);
    cr_assert_gt(vm_kb, 0);
    cr_assert_eq(getrlimit(RLIMIT_AS, &saved_as), 0);
    struct rlimit lim = saved_as;
    lim.rlim_cur = (rlim_t)(vm_kb * 1024ull + room);
    cr_assert_eq(setrlimit(RLIMIT_AS, &lim), 0);
}
static void restore_address_space(void) { cr_assert_eq(setrlimit(RLIMIT_AS, &saved_as), 0); }

/* DEFECT: a generator whose stack cannot be mapped fails its stream with VOW_ENOMEM (as
 * it should) but also rejects its internal promise with it, which is reported as an
 * unhandled rejection. */
Test(async_review, a_generator_without_a_stack_fails_its_stream_and_reports_nothing_else) {
    vow_loop_t *loop = vow_test_loop();
    rejections_reset();
    record_rejections(loop);
    VOW_ASSERT_CODE(vow_async_set_stack_size(loop, (size_t)1 << 30), 0);
    vow_stream_t *s = vow_async_gen(loop, gen_one, NULL, ctx_free_count);
    cr_assert_not_null(s);
    ctx_free_calls = 0;
    limit_address_space(256u << 20); /* the 1 GiB stack cannot be mapped */
    vow_t *n = vow_stream_next(s);
    restore_address_space();
    cr_assert_not_null(n);
    vow_outcome_t o;
    VOW_ASSERT_CODE(vow_run(loop, n, &o), 0);
    VOW_ASSERT_STATE(o.state, VOW_REJECTED);
    VOW_ASSERT_CODE(vow_error_code(o.error), VOW_ENOMEM);
    vow_outcome_release(&o);
    VOW_ASSERT_EQ(ctx_free_calls, 1);
    vow_stream_unref(s);
    VOW_ASSERT_CODE(vow_loop_drain(loop), 0);
    VOW_ASSERT_EQ(rejections.unhandled, 0, "code of the report: %s",
                  vow_err_name(rejections.last_unhandled.code));
    VOW_ASSERT_CODE(vow_async_set_stack_size(loop, 0), 0);
    VOW_TEST_END(loop);
}

/* ---- cancellation ------------------------------------------------------------------------- */

static vow_t *self_p;
static int cancel_rc;
static vow_result_t body_cancel_self_then_return(vow_loop_t *loop, void *arg) {
    (void)loop, (void)arg;
    cancel_rc = vow_cancel(self_p); /* taken as a request (0) */
    return vow_ok_int(5);           /* no await follows */
}

/* DEFECT (asyncio semantics; compare python3.11: a task that cancels itself and returns
 * without awaiting ends cancelled, Task.__step's _must_cancel): vow_cancel answered 0 (the
 * request was taken) yet the coroutine's promise fulfils with 5: the request is lost. */
Test(async_review, a_cancel_taken_while_running_is_not_lost_when_the_body_returns) {
    vow_loop_t *loop = vow_test_loop();
    cancel_rc = 1;
    vow_t *p = vow_create_task_async(loop, body_cancel_self_then_return, NULL, NULL);
    self_p = p;
    vow_outcome_t o;
    VOW_ASSERT_CODE(vow_run(loop, vow_ref(p), &o), 0);
    VOW_ASSERT_CODE(cancel_rc, 0);
    VOW_ASSERT_STATE(o.state, VOW_REJECTED);
    vow_outcome_release(&o);
    vow_unref(p);
    VOW_TEST_END(loop);
}

/* COVERAGE: a coroutine that returned vow_follow(q) is cancelled while its promise
 * follows q: q is cancelled (nobody else waits on it) and the promise rejects as
 * cancelled; at each of the three moments (the adoption job queued, subscribed, and q
 * still pending). */
static vow_t *follow_q;
static vow_result_t body_follow(vow_loop_t *loop, void *arg) {
    (void)loop, (void)arg;
    return vow_follow(vow_ref(follow_q));
}

Test(async_review, a_cancel_while_following_the_returned_promise) {
    vow_loop_t *loop = vow_test_loop();
    for (int moment = 0; moment < 2; moment++) {
        follow_q = vow_new(loop);
        vow_t *p = vow_async(loop, body_follow, NULL, NULL);
        VOW_ASSERT_STATE(vow_state(p), VOW_PENDING);
        VOW_ASSERT_EQ(vow_async_live(loop), 0);                    /* its stack is back */
        if (moment == 1) VOW_ASSERT_CODE(vow_loop_drain(loop), 0); /* now subscribed to q */
        VOW_ASSERT_CODE(vow_cancel(p), 0);
        VOW_ASSERT_STATE(vow_state(p), VOW_REJECTED);
        VOW_ASSERT_EQ(vow_is_cancellation(vow_error(p)), 1);
        VOW_ASSERT_STATE(vow_state(follow_q), VOW_REJECTED, "moment %d", moment);
        VOW_ASSERT_CODE(vow_loop_drain(loop), 0);
        vow_unref(p);
        vow_unref(follow_q);
    }
    VOW_TEST_END(loop);
}

/* ---- vow_run_main ------------------------------------------------------------------------- */

static int rm_first, rm_cleanup, rm_done;
static vow_result_t body_cleanup_sleeps(vow_loop_t *loop, void *arg) {
    (void)arg;
    rm_first = vow_await(vow_sleep(loop, 10000), NULL);
    rm_cleanup = vow_await(vow_sleep(loop, 1), NULL); /* the cleanup awaits a sleep */
    rm_done++;
    return vow_ok_none();
}

/* DEFECT (doc/behaviour; compare python3.11: asyncio.run cancels each task once, then
 * runs the loop until they finish, so a cleanup's `await asyncio.sleep(0.001)` completes).
 * design-notes.md: "vow_run_main first cancels them as asyncio.run cancels its tasks, so
 * their cleanup may still await (a sleep) while the loop runs". The second round cancels the
 * coroutine again (it is still pending) and its cleanup's sleep with it. */
Test(async_review, run_main_lets_a_cancelled_coroutine_s_cleanup_sleep_complete) {
    vow_loop_t *loop = vow_test_loop();
    rm_first = rm_cleanup = 1;
    rm_done = 0;
    vow_unref(vow_async(loop, body_cleanup_sleeps, NULL, NULL));
    vow_outcome_t o;
    VOW_ASSERT_CODE(vow_run_main(loop, vow_sleep(loop, 1), &o), 0);
    vow_outcome_release(&o);
    VOW_ASSERT_EQ(rm_done, 1);
    VOW_ASSERT_CODE(rm_first, VOW_ECANCELED);
    VOW_ASSERT_CODE(rm_cleanup, 0);
    VOW_ASSERT_EQ(vow_test_live_allocs(), 0);
}

/* ---- vow_loop_free with coroutines in every state ------------------------------------------ */

static int td_rc[8], td_after[8], td_done;
static vow_t *td_gate[8];
/* Awaits td_gate[i], then (its cleanup) a short sleep. */
static vow_result_t body_td(vow_loop_t *loop, void *arg) {
    int i = (int)(intptr_t)arg;
    td_rc[i] = vow_await(vow_ref(td_gate[i]), NULL);
    td_after[i] = vow_await(vow_sleep(loop, 1), NULL);
    td_done++;
    return vow_ok_int(i);
}

static int gen_td_yield_rc, gen_td_await_rc, gen_td_done;
static vow_result_t gen_td(vow_loop_t *loop, void *arg) {
    int mode = (int)(intptr_t)arg;
    if (mode == 1) gen_td_await_rc = vow_await(vow_sleep(loop, 10000), NULL);
    gen_td_yield_rc = vow_yield(vow_ptr(obj_new(), obj_free));
    gen_td_done++;
    return vow_ok_none();
}

/* COVERAGE: vow_loop_free with one coroutine in each state: suspended at an await whose
 * promise is pending (0), whose resume job is queued with a value (1), whose cancellation
 * job is queued (2); an unstarted task (3); a coroutine whose promise follows a pending one
 * (4); a generator suspended at its yield, one suspended at an await with its pull in
 * flight, and one never started. Every body finishes, every allocation goes, every value
 * is freed once. */
Test(async_review, vow_loop_free_with_coroutines_in_every_state) {
    vow_loop_t *loop = vow_test_loop();
    memset(obj_freed, 0, sizeof obj_freed);
    obj_made = 0;
    td_done = gen_td_done = 0;
    ctx_free_calls = 0;
    vow_t *keep[5];
    for (int i = 0; i < 3; i++) {
        td_gate[i] = vow_new(loop);
        keep[i] = vow_async(loop, body_td, CTX(i), ctx_free_count);
    }
    VOW_ASSERT_CODE(vow_resolve(td_gate[1], vow_ptr(obj_new(), obj_free)), 0); /* job queued */
    VOW_ASSERT_CODE(vow_cancel(keep[2]), 0); /* cancellation job queued */
    keep[3] = vow_create_task_async(loop, body_td, CTX(3), ctx_free_count);
    follow_q = vow_new(loop);
    keep[4] = vow_async(loop, body_follow, NULL, ctx_free_count);
    vow_stream_t *g0 = vow_async_gen(loop, gen_td, CTX(0), ctx_free_count);
    vow_stream_t *g1 = vow_async_gen(loop, gen_td, CTX(1), ctx_free_count);
    vow_stream_t *g2 = vow_async_gen(loop, gen_td, CTX(2), ctx_free_count);
    vow_t *n0 = vow_stream_next(g0); /* g0 yields at once: suspended at its yield */
    vow_t *n1 = vow_stream_next(g1); /* g1 awaits its sleep, the pull in flight */
    VOW_ASSERT_EQ(vow_async_live(loop), 5);
    VOW_ASSERT_CODE(vow_loop_free(loop), 0);
    VOW_ASSERT_EQ(td_done, 3);
    VOW_ASSERT_CODE(td_rc[0], VOW_ECANCELED);
    VOW_ASSERT_CODE(td_rc[1], VOW_ECANCELED); /* the queued job was dropped */
    VOW_ASSERT_CODE(td_rc[2], VOW_ECANCELED);
    VOW_ASSERT_CODE(td_after[0], VOW_ECLOSED);
    VOW_ASSERT_EQ(gen_td_done, 2);
    VOW_ASSERT_CODE(gen_td_await_rc, VOW_ECANCELED);
    VOW_ASSERT_EQ(ctx_free_calls, 5 + 2); /* every started body, the unstarted task */
    for (int i = 0; i < 5; i++) vow_unref(keep[i]);
    for (int i = 0; i < 3; i++) vow_unref(td_gate[i]);
    vow_unref(follow_q);
    vow_unref(n0);
    vow_unref(n1);
    vow_stream_unref(g0);
    vow_stream_unref(g1);
    vow_stream_unref(g2);
    VOW_ASSERT_EQ(ctx_free_calls, 5 + 3); /* the unstarted generator's, with its stream */
    expect_every_obj_freed_once();
    VOW_ASSERT_EQ(vow_test_live_allocs(), 0);
}
