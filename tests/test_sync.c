/* tests/test_sync.c - vow/sync.h: Lock, Event, Semaphore, BoundedSemaphore. FIFO order of
 * waiters; a waiter cancelled in the middle of the line leaves it; release codes (a
 * non-holder, an unlocked lock, a bounded semaphore's over-release); the handoff rule,
 * step by step: the python/cpython#90155 sequence (release hands the permit to W1, W1 is
 * cancelled before it runs, W2 gets the permit) through a cancelled vow_then, a direct
 * vow_cancel and a vow_timeout, and a W1 whose consumer is cancelled after its promise
 * fulfilled (its queued reaction still runs and takes the permit); freeing an object
 * cancels its waiters; a closed loop; waiter promises cannot be settled by the user;
 * Condition: wait releases and reacquires the lock, notify in FIFO order, a notified waiter
 * cancelled before it holds the lock passes its notify on. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "helpers.h"

TestSuite(sync, .init = vow_test_setup, .fini = vow_test_teardown, .timeout = 30);

static void expect_cancelled(const vow_t *p, const char *what) {
    VOW_ASSERT_STATE(vow_state(p), VOW_REJECTED, "%s is not rejected", what);
    cr_assert(vow_is_cancellation(vow_error(p)), "%s: not a cancellation", what);
}

static int ok_calls;
static vow_result_t count_ok(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v, (void)ctx;
    ok_calls++;
    return vow_ok_none();
}

static const char A[] = "A", B[] = "B", C[] = "C";

Test(sync, lock_serves_waiters_in_fifo_order_and_refuses_non_holders) {
    vow_loop_t *loop = vow_test_loop();
    vow_lock_t *l = vow_lock_new(loop);
    cr_assert_not_null(l);
    VOW_ASSERT_CODE(vow_lock_locked(l), 0);
    VOW_ASSERT_CODE(vow_lock_release(l, A), VOW_EPERM, "releasing an unlocked lock");
    vow_t *a = vow_lock_acquire(l, A);
    VOW_ASSERT_STATE(vow_state(a), VOW_FULFILLED, "a free lock is taken at once");
    VOW_ASSERT_CODE(vow_lock_locked(l), 1);
    vow_t *b = vow_lock_acquire(l, B);
    vow_t *c = vow_lock_acquire(l, C);
    VOW_ASSERT_STATE(vow_state(b), VOW_PENDING);
    VOW_ASSERT_CODE(vow_lock_release(l, B), VOW_EPERM, "B does not hold the lock");
    VOW_ASSERT_CODE(vow_lock_release(l, A), 0);
    VOW_ASSERT_CODE(vow_lock_locked(l), 1, "reserved for B: still locked");
    VOW_ASSERT_STATE(vow_state(b), VOW_PENDING, "fulfilled from a job, not inside release");
    VOW_ASSERT_CODE(vow_lock_release(l, B), VOW_EPERM, "reserved, not yet B's");
    vow_t *late = vow_lock_acquire(l, A);
    VOW_ASSERT_CODE(vow_loop_drain(loop), 0);
    VOW_ASSERT_STATE(vow_state(b), VOW_FULFILLED);
    VOW_ASSERT_STATE(vow_state(c), VOW_PENDING);
    VOW_ASSERT_CODE(vow_lock_release(l, C), VOW_EPERM);
    VOW_ASSERT_CODE(vow_lock_release(l, B), 0);
    VOW_ASSERT_CODE(vow_loop_drain(loop), 0);
    VOW_ASSERT_STATE(vow_state(c), VOW_FULFILLED, "C before the later acquire");
    VOW_ASSERT_STATE(vow_state(late), VOW_PENDING);
    VOW_ASSERT_CODE(vow_lock_release(l, C), 0);
    VOW_ASSERT_CODE(vow_loop_drain(loop), 0);
    VOW_ASSERT_STATE(vow_state(late), VOW_FULFILLED);
    VOW_ASSERT_CODE(vow_lock_release(l, A), 0);
    VOW_ASSERT_CODE(vow_lock_locked(l), 0);
    vow_unref(a), vow_unref(b), vow_unref(c), vow_unref(late);
    vow_lock_free(l);
    VOW_TEST_END(loop);
}

/* cpython#90155, step by step: A holds the lock; W1 and W2 wait; W1 is awaited by a
 * vow_then; A releases (the lock is reserved for W1); the then is cancelled before W1's
 * job runs, which cancels W1 (upstream rule); W2 must get the lock. */
Test(sync, cpython_90155_a_cancelled_w1_passes_the_lock_to_w2) {
    vow_loop_t *loop = vow_test_loop();
    vow_lock_t *l = vow_lock_new(loop);
    vow_unref(vow_lock_acquire(l, A));
    vow_t *w1 = vow_lock_acquire(l, B);
    vow_t *w2 = vow_lock_acquire(l, C);
    vow_t *d1 = vow_then(vow_ref(w1), count_ok, NULL, NULL, NULL);
    VOW_ASSERT_CODE(vow_lock_release(l, A), 0);
    VOW_ASSERT_STATE(vow_state(w1), VOW_PENDING, "reserved for W1, not yet fulfilled");
    VOW_ASSERT_CODE(vow_cancel(d1), 0);
    expect_cancelled(w1, "W1 (the upstream rule)");
    VOW_ASSERT_CODE(vow_lock_locked(l), 1, "passed on to W2, not freed");
    VOW_ASSERT_CODE(vow_loop_drain(loop), 0);
    VOW_ASSERT_STATE(vow_state(w2), VOW_FULFILLED, "W2 got the lock");
    VOW_ASSERT_EQ(ok_calls, 0);
    VOW_ASSERT_CODE(vow_lock_release(l, B), VOW_EPERM, "W1 never held it");
    VOW_ASSERT_CODE(vow_lock_release(l, C), 0);
    VOW_ASSERT_CODE(vow_lock_locked(l), 0, "nothing lost, nothing doubled");
    vow_unref(w1), vow_unref(w2), vow_unref(d1);
    vow_lock_free(l);
    VOW_TEST_END(loop);
}

/* The other timing: W1's promise was fulfilled (the job ran) and its consumer is cancelled
 * while the reaction that takes the permit is queued. W1's promise cannot be cancelled any
 * more, and the queued reaction still runs: the permit is W1's to release. */
static vow_t *to_cancel;
static void cancel_it(vow_loop_t *loop, void *arg) {
    (void)loop, (void)arg;
    VOW_ASSERT_CODE(vow_cancel(to_cancel), 0);
}
static vow_sem_t *sem;
static vow_result_t take_and_release(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v, (void)ctx;
    ok_calls++;
    VOW_ASSERT_CODE(vow_sem_release(sem), 0);
    return vow_ok_none();
}
Test(sync, a_w1_fulfilled_before_its_consumer_is_cancelled_still_takes_the_permit) {
    vow_loop_t *loop = vow_test_loop();
    sem = vow_sem_new(loop, 0);
    vow_t *w1 = vow_sem_acquire(sem);
    vow_t *w2 = vow_sem_acquire(sem);
    vow_t *d1 = vow_then(vow_ref(w1), take_and_release, NULL, NULL, NULL);
    to_cancel = d1;
    VOW_ASSERT_CODE(vow_sem_release(sem), 0);                 /* queues W1's job */
    VOW_ASSERT_CODE(vow_microtask(loop, cancel_it, NULL), 0); /* after it, before d1's reaction */
    VOW_ASSERT_CODE(vow_loop_drain(loop), 0);
    VOW_ASSERT_STATE(vow_state(w1), VOW_FULFILLED);
    expect_cancelled(d1, "d1");
    VOW_ASSERT_EQ(ok_calls, 1, "the queued reaction ran and released the permit");
    VOW_ASSERT_STATE(vow_state(w2), VOW_FULFILLED, "W2 got it from W1's release");
    VOW_ASSERT_CODE(vow_sem_value(sem), 0);
    VOW_ASSERT_CODE(vow_sem_release(sem), 0);
    VOW_ASSERT_CODE(vow_sem_value(sem), 1);
    vow_unref(w1), vow_unref(w2), vow_unref(d1);
    vow_sem_free(sem);
    VOW_TEST_END(loop);
}

Test(sync, semaphore_fifo_with_a_waiter_cancelled_in_the_middle) {
    vow_loop_t *loop = vow_test_loop();
    vow_sem_t *s = vow_sem_new(loop, 1);
    VOW_ASSERT_CODE(vow_sem_locked(s), 0);
    vow_t *a = vow_sem_acquire(s);
    VOW_ASSERT_STATE(vow_state(a), VOW_FULFILLED);
    VOW_ASSERT_CODE(vow_sem_locked(s), 1);
    vow_t *w[4];
    for (int i = 0; i < 4; i++) w[i] = vow_sem_acquire(s);
    VOW_ASSERT_CODE(vow_cancel(w[1]), 0, "a waiting acquire is pending: cancellable");
    expect_cancelled(w[1], "w1");
    VOW_ASSERT_CODE(vow_sem_release(s), 0);
    VOW_ASSERT_CODE(vow_sem_value(s), 0, "reserved for w0: not free");
    VOW_ASSERT_CODE(vow_loop_drain(loop), 0);
    VOW_ASSERT_STATE(vow_state(w[0]), VOW_FULFILLED);
    VOW_ASSERT_STATE(vow_state(w[2]), VOW_PENDING);
    VOW_ASSERT_CODE(vow_sem_release(s), 0);
    VOW_ASSERT_CODE(vow_sem_release(s), 0);
    VOW_ASSERT_CODE(vow_loop_drain(loop), 0);
    VOW_ASSERT_STATE(vow_state(w[2]), VOW_FULFILLED, "w1 skipped");
    VOW_ASSERT_STATE(vow_state(w[3]), VOW_FULFILLED);
    VOW_ASSERT_CODE(vow_sem_value(s), 0);
    VOW_ASSERT_CODE(vow_sem_release(s), 0);
    VOW_ASSERT_CODE(vow_sem_value(s), 1);
    vow_unref(a);
    for (int i = 0; i < 4; i++) vow_unref(w[i]);
    vow_sem_free(s);
    VOW_TEST_END(loop);
}

/* A reserved waiter cancelled directly (vow_cancel while its job is queued) passes the
 * permit on; with no waiter left it goes back to the semaphore. */
Test(sync, a_reserved_waiter_cancelled_passes_the_permit_on_or_back) {
    vow_loop_t *loop = vow_test_loop();
    vow_sem_t *s = vow_sem_new(loop, 0);
    vow_t *w1 = vow_sem_acquire(s), *w2 = vow_sem_acquire(s);
    VOW_ASSERT_CODE(vow_sem_release(s), 0);
    VOW_ASSERT_CODE(vow_cancel(w1), 0);
    VOW_ASSERT_CODE(vow_sem_value(s), 0, "passed to w2");
    VOW_ASSERT_CODE(vow_cancel(w2), 0);
    VOW_ASSERT_CODE(vow_sem_value(s), 1, "no waiter left: back to the semaphore");
    VOW_ASSERT_CODE(vow_loop_drain(loop), 0);
    expect_cancelled(w1, "w1");
    expect_cancelled(w2, "w2");
    VOW_ASSERT_CODE(vow_sem_value(s), 1);
    vow_unref(w1), vow_unref(w2);
    vow_sem_free(s);
    VOW_TEST_END(loop);
}

/* vow_timeout around a waiting acquire: the timer cancels the waiter, which leaves the
 * line; the lock stays with its holder and is free after its release. */
Test(sync, a_timed_out_acquire_leaves_the_line) {
    vow_loop_t *loop = vow_test_loop();
    vow_lock_t *l = vow_lock_new(loop);
    vow_unref(vow_lock_acquire(l, A));
    vow_t *t = vow_timeout(vow_lock_acquire(l, B), 1, 0);
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, t, &out), 0);
    VOW_ASSERT_STATE(out.state, VOW_REJECTED);
    VOW_ASSERT_CODE(vow_error_code(out.error), VOW_ETIMEDOUT);
    vow_outcome_release(&out);
    VOW_ASSERT_CODE(vow_lock_release(l, A), 0);
    VOW_ASSERT_CODE(vow_lock_locked(l), 0, "no waiter was left to reserve it");
    vow_lock_free(l);
    VOW_TEST_END(loop);
}

Test(sync, bounded_semaphore_refuses_over_release_with_erange) {
    vow_loop_t *loop = vow_test_loop();
    vow_sem_t *s = vow_sem_bounded_new(loop, 1);
    VOW_ASSERT_CODE(vow_sem_release(s), VOW_ERANGE);
    VOW_ASSERT_CODE(vow_sem_value(s), 1, "nothing changed");
    vow_t *a = vow_sem_acquire(s);
    vow_t *w = vow_sem_acquire(s);
    VOW_ASSERT_CODE(vow_sem_release(s), 0, "reserved for w");
    VOW_ASSERT_CODE(vow_sem_release(s), VOW_ERANGE, "a reserved permit counts");
    VOW_ASSERT_CODE(vow_loop_drain(loop), 0);
    VOW_ASSERT_STATE(vow_state(w), VOW_FULFILLED);
    VOW_ASSERT_CODE(vow_sem_release(s), 0);
    VOW_ASSERT_CODE(vow_sem_release(s), VOW_ERANGE);
    vow_sem_t *z = vow_sem_bounded_new(loop, 0);
    VOW_ASSERT_CODE(vow_sem_release(z), VOW_ERANGE, "a bound of 0");
    vow_sem_t *u = vow_sem_new(loop, UINT32_MAX);
    VOW_ASSERT_CODE(vow_sem_release(u), VOW_ERANGE, "past UINT32_MAX");
    VOW_ASSERT_EQ(vow_sem_value(u), (int64_t)UINT32_MAX);
    vow_unref(a), vow_unref(w);
    vow_sem_free(s), vow_sem_free(z), vow_sem_free(u);
    VOW_TEST_END(loop);
}

Test(sync, event_set_clear_wait) {
    vow_loop_t *loop = vow_test_loop();
    vow_event_t *e = vow_event_new(loop);
    VOW_ASSERT_CODE(vow_event_is_set(e), 0);
    vow_t *w1 = vow_event_wait(e), *w2 = vow_event_wait(e), *w3 = vow_event_wait(e);
    VOW_ASSERT_CODE(vow_cancel(w2), 0);
    VOW_ASSERT_STATE(vow_state(w1), VOW_PENDING);
    VOW_ASSERT_CODE(vow_event_set(e), 0);
    VOW_ASSERT_CODE(vow_event_is_set(e), 1);
    VOW_ASSERT_STATE(vow_state(w1), VOW_FULFILLED);
    VOW_ASSERT_STATE(vow_state(w3), VOW_FULFILLED);
    expect_cancelled(w2, "w2");
    VOW_ASSERT_CODE(vow_event_set(e), 0, "set twice");
    vow_t *now = vow_event_wait(e);
    VOW_ASSERT_STATE(vow_state(now), VOW_FULFILLED, "set: no wait");
    VOW_ASSERT_CODE(vow_event_clear(e), 0);
    VOW_ASSERT_CODE(vow_event_is_set(e), 0);
    vow_t *later = vow_event_wait(e);
    VOW_ASSERT_STATE(vow_state(later), VOW_PENDING);
    vow_unref(w1), vow_unref(w2), vow_unref(w3), vow_unref(now);
    VOW_ASSERT_CODE(vow_loop_drain(loop), 0);
    vow_event_free(e); /* cancels `later` */
    expect_cancelled(later, "a waiter of a freed event");
    vow_unref(later);
    VOW_TEST_END(loop);
}

Test(sync, freeing_an_object_cancels_its_waiters_reserved_ones_included) {
    vow_loop_t *loop = vow_test_loop();
    vow_sem_t *s = vow_sem_new(loop, 0);
    vow_t *w1 = vow_sem_acquire(s), *w2 = vow_sem_acquire(s);
    VOW_ASSERT_CODE(vow_sem_release(s), 0); /* w1 reserved */
    vow_sem_free(s);
    expect_cancelled(w1, "w1");
    expect_cancelled(w2, "w2");
    VOW_ASSERT_CODE(vow_loop_drain(loop), 0); /* w1's job finds nothing to do */
    vow_unref(w1), vow_unref(w2);
    VOW_TEST_END(loop);
}

Test(sync, waiter_promises_belong_to_vow) {
    vow_loop_t *loop = vow_test_loop();
    vow_lock_t *l = vow_lock_new(loop);
    vow_t *a = vow_lock_acquire(l, A);
    vow_t *w = vow_lock_acquire(l, B);
    VOW_ASSERT_CODE(vow_resolve(w, vow_none()), VOW_EPERM);
    VOW_ASSERT_CODE(vow_reject(w, NULL), VOW_EPERM);
    VOW_ASSERT_CODE(vow_on_cancel(w, cancel_it, NULL, NULL), VOW_EPERM);
    VOW_ASSERT_STATE(vow_state(w), VOW_PENDING);
    VOW_ASSERT_CODE(vow_lock_release(l, A), 0);
    VOW_ASSERT_CODE(vow_loop_drain(loop), 0);
    VOW_ASSERT_STATE(vow_state(w), VOW_FULFILLED);
    VOW_ASSERT_CODE(vow_lock_release(l, B), 0);
    vow_unref(a), vow_unref(w);
    vow_lock_free(l);
    VOW_TEST_END(loop);
}

/* The loop freed while waiters wait (one reserved): the teardown releases them; the
 * objects then answer "closed" and are freed without touching the loop. */
Test(sync, a_closed_loop_answers_eclosed_and_the_objects_free_cleanly) {
    vow_loop_t *loop = vow_test_loop();
    vow_lock_t *l = vow_lock_new(loop);
    vow_sem_t *s = vow_sem_new(loop, 0);
    vow_event_t *e = vow_event_new(loop);
    vow_unref(vow_lock_acquire(l, A));
    vow_unref(vow_lock_acquire(l, B));
    vow_unref(vow_sem_acquire(s));
    vow_unref(vow_sem_acquire(s));
    VOW_ASSERT_CODE(vow_sem_release(s), 0); /* one reserved, its job queued */
    vow_unref(vow_event_wait(e));
    VOW_ASSERT_CODE(vow_loop_free(loop), 0);
    VOW_ASSERT_EQ(vow_lock_acquire(l, A), (vow_t *)NULL);
    VOW_ASSERT_CODE(vow_lock_release(l, A), VOW_ECLOSED);
    VOW_ASSERT_CODE(vow_lock_locked(l), VOW_ECLOSED);
    VOW_ASSERT_EQ(vow_sem_acquire(s), (vow_t *)NULL);
    VOW_ASSERT_CODE(vow_sem_release(s), VOW_ECLOSED);
    VOW_ASSERT_CODE(vow_sem_value(s), VOW_ECLOSED);
    VOW_ASSERT_CODE(vow_sem_locked(s), VOW_ECLOSED);
    VOW_ASSERT_EQ(vow_event_wait(e), (vow_t *)NULL);
    VOW_ASSERT_CODE(vow_event_set(e), VOW_ECLOSED);
    VOW_ASSERT_CODE(vow_event_clear(e), VOW_ECLOSED);
    VOW_ASSERT_CODE(vow_event_is_set(e), VOW_ECLOSED);
    vow_lock_free(l);
    vow_sem_free(s);
    vow_event_free(e);
    VOW_ASSERT_EQ(vow_test_live_allocs(), 0L, "vow allocations left");
}

Test(sync, out_of_memory_in_a_waiting_acquire_gives_null_and_leaves_nothing) {
    vow_loop_t *loop = vow_test_loop_without_pools();
    vow_lock_t *l = vow_lock_new(loop);
    vow_t *a = vow_lock_acquire(l, A);
    for (long k = 1; k <= 2; k++) { /* the promise, the waiter (its cancel record inside) */
        vow_test_fail_at(vow_test_alloc_total() + k);
        VOW_ASSERT_EQ(vow_lock_acquire(l, B), (vow_t *)NULL, "allocation %ld fails", k);
        vow_test_fail_at(0);
    }
    VOW_ASSERT_CODE(vow_lock_release(l, A), 0);
    VOW_ASSERT_CODE(vow_lock_locked(l), 0, "no waiter was left behind");
    vow_unref(a);
    vow_lock_free(l);
    VOW_TEST_END(loop);
}

/* ---- Condition -------------------------------------------------------------------------- */
static vow_result_t swallow(vow_loop_t *loop, vow_error_t *e, void *ctx) {
    (void)loop, (void)e, (void)ctx;
    return vow_ok_none();
}

/* A and B wait (each holding the lock in turn, the wait releases it); C notifies one while
 * holding the lock; A reacquires the lock once C releases it; notify_all wakes B. */
Test(sync, condition_wait_releases_the_lock_and_notify_wakes_in_fifo_order) {
    vow_loop_t *loop = vow_test_loop();
    vow_cond_t *c = vow_cond_new(loop, NULL);
    vow_lock_t *l = vow_cond_lock(c);
    vow_unref(vow_lock_acquire(l, A));
    vow_t *wa = vow_cond_wait(c, A);
    VOW_ASSERT_CODE(vow_lock_locked(l), 0, "the wait released the lock");
    vow_unref(vow_lock_acquire(l, B));
    vow_t *wb = vow_cond_wait(c, B);
    vow_unref(vow_lock_acquire(l, C));
    VOW_ASSERT_CODE(vow_cond_notify(c, C, 1), 0);
    VOW_ASSERT_CODE(vow_loop_drain(loop), 0);
    VOW_ASSERT_STATE(vow_state(wa), VOW_PENDING, "notified, the lock still C's");
    VOW_ASSERT_CODE(vow_lock_release(l, C), 0);
    VOW_ASSERT_CODE(vow_loop_drain(loop), 0);
    VOW_ASSERT_STATE(vow_state(wa), VOW_FULFILLED, "A holds the lock again");
    VOW_ASSERT_STATE(vow_state(wb), VOW_PENDING, "B was not notified");
    VOW_ASSERT_CODE(vow_cond_notify_all(c, A), 0);
    VOW_ASSERT_CODE(vow_lock_release(l, A), 0);
    VOW_ASSERT_CODE(vow_loop_drain(loop), 0);
    VOW_ASSERT_STATE(vow_state(wb), VOW_FULFILLED);
    VOW_ASSERT_CODE(vow_lock_release(l, B), 0);
    VOW_ASSERT_CODE(vow_lock_locked(l), 0);
    vow_unref(wa), vow_unref(wb);
    vow_cond_free(c);
    VOW_TEST_END(loop);
}

Test(sync, condition_calls_without_the_lock_are_eperm) {
    vow_loop_t *loop = vow_test_loop();
    vow_lock_t *l = vow_lock_new(loop);
    vow_cond_t *c = vow_cond_new(loop, l);
    VOW_ASSERT_EQ(vow_cond_lock(c), l);
    vow_t *w = vow_cond_wait(c, A);
    VOW_ASSERT_STATE(vow_state(w), VOW_REJECTED);
    VOW_ASSERT_CODE(vow_error_code(vow_error(w)), VOW_EPERM);
    vow_unref(vow_catch(w, swallow, NULL, NULL)); /* handled */
    VOW_ASSERT_CODE(vow_cond_notify(c, A, 1), VOW_EPERM);
    vow_unref(vow_lock_acquire(l, A));
    VOW_ASSERT_CODE(vow_cond_notify(c, B, 1), VOW_EPERM, "B does not hold it");
    VOW_ASSERT_CODE(vow_cond_notify_all(c, A), 0, "nobody waits: nothing happens");
    VOW_ASSERT_CODE(vow_lock_release(l, A), 0);
    VOW_ASSERT_CODE(vow_loop_drain(loop), 0);
    vow_cond_free(c);
    vow_lock_free(l);
    VOW_TEST_END(loop);
}

/* The notify counterpart of cpython#90155: A is notified, then cancelled while it waits
 * for the lock; its notification passes to B, and the lock is not lost. */
Test(sync, a_notified_waiter_cancelled_before_it_holds_the_lock_passes_the_notify_on) {
    vow_loop_t *loop = vow_test_loop();
    vow_cond_t *c = vow_cond_new(loop, NULL);
    vow_lock_t *l = vow_cond_lock(c);
    vow_unref(vow_lock_acquire(l, A));
    vow_t *wa = vow_cond_wait(c, A);
    vow_unref(vow_lock_acquire(l, B));
    vow_t *wb = vow_cond_wait(c, B);
    vow_unref(vow_lock_acquire(l, C));
    VOW_ASSERT_CODE(vow_cond_notify(c, C, 1), 0);
    VOW_ASSERT_CODE(vow_lock_release(l, C), 0); /* reserved for A */
    VOW_ASSERT_CODE(vow_cancel(wa), 0);
    VOW_ASSERT_CODE(vow_loop_drain(loop), 0);
    VOW_ASSERT_STATE(vow_state(wb), VOW_FULFILLED, "B got A's notify and the lock");
    VOW_ASSERT_CODE(vow_lock_release(l, A), VOW_EPERM);
    VOW_ASSERT_CODE(vow_lock_release(l, B), 0);
    VOW_ASSERT_CODE(vow_lock_locked(l), 0);
    vow_unref(wa), vow_unref(wb);
    vow_cond_free(c);
    VOW_TEST_END(loop);
}

/* A wait cancelled before any notify leaves the line without the lock; the next notify
 * goes to the waiter after it. */
Test(sync, a_wait_cancelled_before_notify_leaves_the_line_without_the_lock) {
    vow_loop_t *loop = vow_test_loop();
    vow_cond_t *c = vow_cond_new(loop, NULL);
    vow_lock_t *l = vow_cond_lock(c);
    vow_unref(vow_lock_acquire(l, A));
    vow_t *wa = vow_cond_wait(c, A);
    vow_unref(vow_lock_acquire(l, B));
    vow_t *wb = vow_cond_wait(c, B);
    VOW_ASSERT_CODE(vow_cancel(wa), 0);
    VOW_ASSERT_CODE(vow_lock_locked(l), 0, "A does not hold the lock after a cancelled wait");
    vow_unref(vow_lock_acquire(l, C));
    VOW_ASSERT_CODE(vow_cond_notify(c, C, 1), 0);
    VOW_ASSERT_CODE(vow_lock_release(l, C), 0);
    VOW_ASSERT_CODE(vow_loop_drain(loop), 0);
    VOW_ASSERT_STATE(vow_state(wb), VOW_FULFILLED);
    VOW_ASSERT_CODE(vow_lock_release(l, B), 0);
    vow_unref(wa), vow_unref(wb);
    vow_cond_free(c);
    VOW_TEST_END(loop);
}

/* Freeing a condition cancels its waits, notified ones included; freeing it before a
 * lock it borrowed leaves the lock usable. */
Test(sync, freeing_a_condition_cancels_its_waits) {
    vow_loop_t *loop = vow_test_loop();
    vow_lock_t *l = vow_lock_new(loop);
    vow_cond_t *c = vow_cond_new(loop, l);
    vow_unref(vow_lock_acquire(l, A));
    vow_t *wa = vow_cond_wait(c, A);
    vow_unref(vow_lock_acquire(l, B));
    vow_t *wb = vow_cond_wait(c, B);
    vow_unref(vow_lock_acquire(l, C));
    VOW_ASSERT_CODE(vow_cond_notify(c, C, 1), 0); /* A waits for the lock now */
    vow_cond_free(c);
    expect_cancelled(wb, "a waiting wait");
    VOW_ASSERT_STATE(vow_state(wa), VOW_PENDING, "notified: a waiter of the lock");
    VOW_ASSERT_CODE(vow_cancel(wa), 0, "its cancel does not reach the freed condition");
    VOW_ASSERT_CODE(vow_lock_release(l, C), 0);
    VOW_ASSERT_CODE(vow_lock_locked(l), 0);
    vow_unref(wa), vow_unref(wb);
    vow_lock_free(l);
    VOW_TEST_END(loop);
}

/* Condition.wait_for: the predicate is checked now and after each notify, with the lock
 * held; the promise fulfils with its value once it holds, the lock held for the owner. */
struct counter {
    int n, calls;
};
static int at_least_3(void *ctx) {
    struct counter *c = ctx;
    c->calls++;
    return c->n >= 3 ? c->n * 10 : 0;
}
static int ctx_frees;
static void count_ctx_free(void *ctx) {
    (void)ctx;
    ctx_frees++;
}
Test(sync, cond_wait_for_rechecks_after_each_notify_and_holds_the_lock) {
    vow_loop_t *loop = vow_test_loop();
    ctx_frees = 0;
    vow_cond_t *c = vow_cond_new(loop, NULL);
    vow_lock_t *l = vow_cond_lock(c);
    struct counter k = {0, 0};
    vow_unref(vow_lock_acquire(l, A));
    vow_t *w = vow_cond_wait_for(c, A, at_least_3, &k, count_ctx_free);
    VOW_ASSERT_EQ(k.calls, 1, "checked at once");
    VOW_ASSERT_CODE(vow_lock_locked(l), 0, "the wait released the lock");
    for (int i = 1; i <= 3; i++) {
        vow_outcome_t out;
        VOW_ASSERT_CODE(vow_run(loop, vow_lock_acquire(l, B), &out), 0);
        vow_outcome_release(&out);
        k.n = i;
        VOW_ASSERT_CODE(vow_cond_notify(c, B, 1), 0);
        VOW_ASSERT_CODE(vow_lock_release(l, B), 0);
        VOW_ASSERT_CODE(vow_loop_drain(loop), 0);
        VOW_ASSERT_EQ(k.calls, 1 + i, "checked after notify %d", i);
        VOW_ASSERT_STATE(vow_state(w), i < 3 ? VOW_PENDING : VOW_FULFILLED);
    }
    VOW_ASSERT_EQ(vow_value_int(vow_value(w)), 30, "the predicate's value");
    VOW_ASSERT_EQ(ctx_frees, 1);
    VOW_ASSERT_CODE(vow_lock_release(l, B), VOW_EPERM, "held for A");
    VOW_ASSERT_CODE(vow_lock_release(l, A), 0);
    /* Holding at once: fulfilled, the lock never released. */
    vow_unref(vow_lock_acquire(l, A));
    vow_t *now = vow_cond_wait_for(c, A, at_least_3, &k, count_ctx_free);
    VOW_ASSERT_EQ(vow_value_int(vow_value(now)), 30);
    VOW_ASSERT_CODE(vow_lock_locked(l), 1);
    VOW_ASSERT_EQ(ctx_frees, 2);
    /* Cancelled while waiting: the wait leaves the condition's line, ctx_free runs once. */
    k.n = 0;
    vow_t *x = vow_cond_wait_for(c, A, at_least_3, &k, count_ctx_free);
    VOW_ASSERT_CODE(vow_cancel(x), 0);
    expect_cancelled(x, "the cancelled wait_for");
    VOW_ASSERT_CODE(vow_loop_drain(loop), 0);
    VOW_ASSERT_EQ(ctx_frees, 3);
    VOW_ASSERT_CODE(vow_lock_locked(l), 0, "a cancelled wait does not reacquire (see sync.h)");
    vow_unref(w), vow_unref(now), vow_unref(x);
    vow_cond_free(c);
    VOW_TEST_END(loop);
}
