/* tests/test_thread.c - vow/thread.h under Criterion: the scenarios of
 * tests/thread_scenarios.h (also run under ThreadSanitizer by scripts/tsan.sh through
 * tests/tsan_thread.c), each followed by the count of live vow allocations; the
 * allocation-failure sweeps of vow_work, vow_remote_new, vow_poster_new and vow_post; and
 * the misuse answers of each call. */
#include <criterion/criterion.h>
#include <signal.h>

#include "helpers.h"
#include "thread_scenarios.h"

TestSuite(thread, .init = vow_test_setup, .fini = vow_test_teardown, .timeout = 60);

#define SCENARIO(name)                                                                             \
    Test(thread, name) {                                                                           \
        VOW_ASSERT_EQ(scenario_##name(), 0, "failed checks (see stderr)");                         \
        VOW_ASSERT_EQ(vow_test_live_allocs(), 0L, "vow allocations left");                         \
    }
SCENARIO(four_jobs_run_at_once)
SCENARIO(remote_settles_from_many_threads)
SCENARIO(waiting_for_a_remote_blocks_in_the_backend)
SCENARIO(after_free_is_an_error)
SCENARIO(a_blocking_job_leaves_the_loop_free)
SCENARIO(cancel_before_during_after)
SCENARIO(loop_free_cancels_and_joins)
SCENARIO(posts_run_on_the_loop_thread_in_order)
SCENARIO(run_main_waits_for_running_jobs)
SCENARIO(loop_free_races_other_threads)
SCENARIO(run_main_does_not_wait_for_jobs_submitted_during_shutdown)

static vow_result_t give_3(vow_work_t *job, void *arg) {
    (void)job, (void)arg;
    return vow_ok_int(3);
}
static void posted(vow_loop_t *loop, void *arg) {
    (void)loop;
    ++*(int *)arg;
}

/* Every allocation of a job, a remote, a poster and a post failing in turn (the pool's
 * first use included: mailbox, workers, their thread array): the call answers NULL (or
 * VOW_ENOMEM), arg_free ran once, nothing is left, and the next try works. */
Test(thread, every_allocation_failing_in_turn) {
    for (long k = 1; k <= 12; k++) {
        vow_loop_t *loop = vow_test_loop_without_pools();
        atomic_store(&ts_arg_frees, 0);
        long live = vow_test_live_allocs();
        vow_test_fail_at(vow_test_alloc_total() + k);
        vow_t *p = vow_work(loop, give_3, NULL, ts_count_free);
        vow_test_fail_at(0);
        if (p == NULL) {
            VOW_ASSERT_EQ(atomic_load(&ts_arg_frees), 1, "k %ld", k);
            /* Nothing of the job is left (its promise and record went at once); the loop's
             * mailbox, made before the workers failed, stays for the next job. */
            cr_assert_leq(vow_test_live_allocs() - live, 1, "k %ld: %ld left", k,
                          vow_test_live_allocs() - live);
            p = vow_work(loop, give_3, NULL, ts_count_free);
        }
        vow_outcome_t out;
        VOW_ASSERT_CODE(vow_run(loop, p, &out), 0);
        VOW_ASSERT_EQ(vow_value_int(&out.value), 3);
        vow_outcome_release(&out);

        vow_t *rp;
        vow_test_fail_at(vow_test_alloc_total() + k);
        vow_remote_t *r = vow_remote_new(loop, &rp);
        vow_test_fail_at(0);
        if (r == NULL) VOW_ASSERT_EQ(rp, (vow_t *)NULL);
        if (r != NULL) {
            VOW_ASSERT_CODE(vow_remote_resolve(r, vow_ok_int(4)), 0);
            vow_remote_free(r);
            VOW_ASSERT_CODE(vow_run(loop, rp, &out), 0);
            VOW_ASSERT_EQ(vow_value_int(&out.value), 4);
            vow_outcome_release(&out);
        }

        int runs = 0;
        vow_test_fail_at(vow_test_alloc_total() + k);
        vow_poster_t *h = vow_poster_new(loop);
        vow_test_fail_at(0);
        if (h != NULL) {
            atomic_store(&ts_arg_frees, 0);
            vow_test_fail_at(vow_test_alloc_total() + 1);
            VOW_ASSERT_CODE(vow_post(h, posted, &runs, ts_count_free), VOW_ENOMEM);
            vow_test_fail_at(0);
            VOW_ASSERT_EQ(atomic_load(&ts_arg_frees), 1);
            VOW_ASSERT_CODE(vow_post(h, posted, &runs, ts_count_free), 0);
            vow_poster_free(h);
            VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
            VOW_ASSERT_EQ(runs, 1);
        }
        VOW_TEST_END(loop);
    }
}

Test(thread, misuse_answers) {
    vow_loop_t *loop = vow_test_loop();
    atomic_store(&ts_arg_frees, 0);
    VOW_ASSERT_EQ(vow_work(NULL, give_3, NULL, ts_count_free), (vow_t *)NULL);
    VOW_ASSERT_EQ(atomic_load(&ts_arg_frees), 1);
    vow_t *p = vow_work(loop, NULL, NULL, ts_count_free);
    VOW_ASSERT_CODE(vow_error_code(vow_error(p)), VOW_EINVAL);
    VOW_ASSERT_EQ(atomic_load(&ts_arg_frees), 2);
    vow_set_unhandled_mode(loop, VOW_UNHANDLED_SILENT);
    vow_unref(p);
    VOW_ASSERT_CODE(vow_work_cancelled(NULL), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_loop_set_threads(NULL, 2), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_loop_set_threads(loop, 0), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_loop_set_threads(loop, 1025), VOW_EINVAL);
    vow_t *rp = (vow_t *)1;
    VOW_ASSERT_EQ(vow_remote_new(NULL, &rp), (vow_remote_t *)NULL);
    VOW_ASSERT_EQ(rp, (vow_t *)NULL);
    VOW_ASSERT_EQ(vow_remote_new(loop, NULL), (vow_remote_t *)NULL);
    VOW_ASSERT_CODE(vow_remote_resolve(NULL, vow_ok_int(1)), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_remote_reject(NULL, vow_error_new(VOW_EUSER, NULL)), VOW_EINVAL);
    vow_remote_free(NULL);
    vow_remote_t *r = vow_remote_new(loop, &rp);
    VOW_ASSERT_CODE(vow_resolve(rp, vow_int(1)), VOW_EPERM, "the promise belongs to vow");
    VOW_ASSERT_CODE(vow_remote_reject(r, vow_error_new(VOW_EUSER, "x")), 0);
    VOW_ASSERT_CODE(vow_remote_resolve(r, vow_ok_int(2)), VOW_ESETTLED);
    vow_remote_free(r);
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, rp, &out), 0);
    VOW_ASSERT_CODE(vow_error_code(out.error), VOW_EUSER);
    vow_outcome_release(&out);
    VOW_ASSERT_EQ(vow_poster_new(NULL), (vow_poster_t *)NULL);
    VOW_ASSERT_CODE(vow_post(NULL, posted, NULL, ts_count_free), VOW_EINVAL);
    VOW_ASSERT_EQ(atomic_load(&ts_arg_frees), 3);
    vow_poster_t *h = vow_poster_new(loop);
    VOW_ASSERT_CODE(vow_post(h, NULL, NULL, ts_count_free), VOW_EINVAL);
    VOW_ASSERT_EQ(atomic_load(&ts_arg_frees), 4);
    VOW_ASSERT_CODE(vow_loop_close(loop), VOW_EBUSY, "a poster keeps the loop alive");
    vow_poster_free(h);
    vow_poster_free(NULL);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_TEST_END(loop);
}

/* A remote freed unsettled: its promise stays pending and no longer keeps the loop. */
Test(thread, a_remote_freed_unsettled_lets_the_loop_go) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *p;
    vow_remote_t *r = vow_remote_new(loop, &p);
    VOW_ASSERT_EQ(vow_loop_alive(loop), 1);
    vow_remote_free(r);
    VOW_ASSERT_CODE(vow_run(loop, p, NULL), VOW_ENEVER);
    VOW_TEST_END(loop);
}

/* A job's thread blocks the asynchronous signals and leaves the synchronous ones; its
 * arg_free runs on the loop's thread; a job returning a promise to follow is refused. */
static pthread_t loop_thread;
static int free_on_loop_thread;
static void free_where(void *arg) {
    (void)arg;
    free_on_loop_thread += pthread_equal(pthread_self(), loop_thread) ? 1 : 100;
}
static vow_result_t read_mask(vow_work_t *job, void *arg) {
    (void)job, (void)arg;
    sigset_t m;
    pthread_sigmask(SIG_BLOCK, NULL, &m);
    int64_t bits = (sigismember(&m, SIGINT) ? 1 : 0) | (sigismember(&m, SIGTERM) ? 2 : 0) |
                   (sigismember(&m, SIGSEGV) ? 4 : 0) | (sigismember(&m, SIGFPE) ? 8 : 0);
    return vow_ok_int(bits);
}
static vow_result_t follow_nothing(vow_work_t *job, void *arg) {
    (void)job, (void)arg;
    vow_result_t r = {.kind = VOW_RESULT_FOLLOW};
    r.promise = NULL;
    return r;
}
Test(thread, worker_signals_arg_free_thread_and_refused_results) {
    vow_loop_t *loop = vow_test_loop();
    loop_thread = pthread_self();
    free_on_loop_thread = 0;
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, vow_work(loop, read_mask, NULL, free_where), &out), 0);
    VOW_ASSERT_EQ(vow_value_int(&out.value), 3, "SIGINT, SIGTERM blocked; SIGSEGV, SIGFPE not");
    vow_outcome_release(&out);
    VOW_ASSERT_EQ(free_on_loop_thread, 1, "arg_free ran once, on the loop's thread");
    VOW_ASSERT_CODE(vow_run(loop, vow_work(loop, follow_nothing, NULL, free_where), &out), 0);
    VOW_ASSERT_STATE(out.state, VOW_REJECTED);
    VOW_ASSERT_CODE(vow_error_code(out.error), VOW_EINVAL);
    vow_outcome_release(&out);
    VOW_ASSERT_EQ(free_on_loop_thread, 2);
    VOW_TEST_END(loop);
}
