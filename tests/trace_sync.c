/* tests/trace_sync.c - vow/sync.h against Python 3.11's asyncio (tests/py/trace_sync.py,
 * compared line by line by tests/compare.sh): Lock handoff in FIFO order, a Semaphore
 * whose middle waiter is cancelled, Event set/clear/wait (and a wait that times out), a
 * BoundedSemaphore's over-release (asyncio's ValueError, vow's VOW_ERANGE), a Condition's
 * notify and notify_all. Only what both must agree on is printed: who gets the permit in
 * which order and the final states, not the job-by-job interleaving (a vow reaction costs
 * a microtask job where asyncio resumes a task). */
#include <stdint.h>
#include <stdio.h>

#include "trace.h"
#include "vow.h"

static const char *const NAMES[] = {"T0", "T1", "T2", "T3"};

/* ---- Lock: T0 holds it; T1..T3 wait; each prints, then releases ------------------------ */
static vow_lock_t *lock;
static vow_result_t lock_turn(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v;
    printf("%s acquired\n", NAMES[(intptr_t)ctx]);
    printf("%s releases\n", NAMES[(intptr_t)ctx]);
    EXPECT(vow_lock_release(lock, ctx) == 0);
    return vow_ok_none();
}

/* ---- Semaphore(1): W1..W3 wait, W2 is cancelled ---------------------------------------- */
static vow_sem_t *sem;
static const char *const WN[] = {"W1", "W2", "W3"};
static vow_result_t sem_turn(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v;
    printf("%s acquired\n", WN[(intptr_t)ctx]);
    EXPECT(vow_sem_release(sem) == 0);
    return vow_ok_none();
}

/* ---- Event: E1, E2 wait --------------------------------------------------------------- */
static vow_result_t woke(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v;
    printf("%s woke\n", (const char *)ctx);
    return vow_ok_none();
}

/* ---- Condition: C1..C3 take the lock and wait; main notifies one, then all -------------- */
static vow_cond_t *cond;
static const char *const CN[] = {"C0", "C1", "C2", "C3"};
static vow_result_t cond_wait_now(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v;
    return vow_follow(vow_cond_wait(cond, ctx));
}
static vow_result_t cond_woke(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v;
    printf("%s woke\n", CN[(intptr_t)ctx]);
    EXPECT(vow_lock_release(vow_cond_lock(cond), ctx) == 0);
    return vow_ok_none();
}

static const char *py_bool(int b) { return b ? "True" : "False"; }

/* ---- Condition.wait_for: a predicate on a counter the main program raises --------------- */
static int count, calls;
static int reached(void *ctx) {
    (void)ctx;
    printf("predicate call %d: count %d\n", ++calls, count);
    return count >= 3 ? count * 10 : 0;
}
static vow_result_t wait_for_now(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v, (void)ctx;
    return vow_follow(vow_cond_wait_for(cond, (void *)1, reached, NULL, NULL));
}
static vow_result_t wait_for_done(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)ctx;
    printf("wait_for returned %lld, locked %s\n", (long long)vow_value_int(v),
           py_bool(vow_lock_locked(vow_cond_lock(cond))));
    EXPECT(vow_lock_release(vow_cond_lock(cond), (void *)1) == 0);
    return vow_ok_none();
}

/* Runs until every promise of ps settled (ps stays the caller's). */
static void run_all(vow_loop_t *loop, vow_t **ps, size_t n) {
    vow_t *in[3];
    for (size_t i = 0; i < n; i++) in[i] = vow_ref(ps[i]);
    EXPECT(vow_run(loop, vow_all_settled(loop, in, n), NULL) == 0);
}

int main(void) {
    vow_loop_t *loop = NULL;
    if (vow_loop_new(&loop, 0) != 0) return 1;

    log_line("-- lock");
    lock = vow_lock_new(loop);
    EXPECT(vow_run(loop, vow_lock_acquire(lock, (void *)0), NULL) == 0);
    vow_t *t[3];
    for (intptr_t i = 1; i <= 3; i++)
        t[i - 1] = vow_then(vow_lock_acquire(lock, (void *)i), lock_turn, NULL, (void *)i, NULL);
    log_line("T0 releases");
    EXPECT(vow_lock_release(lock, (void *)0) == 0);
    run_all(loop, t, 3);
    for (int i = 0; i < 3; i++) vow_unref(t[i]);
    printf("locked %s\n", py_bool(vow_lock_locked(lock)));
    vow_lock_free(lock);

    log_line("-- semaphore");
    sem = vow_sem_new(loop, 1);
    EXPECT(vow_run(loop, vow_sem_acquire(sem), NULL) == 0);
    vow_t *w[3];
    for (intptr_t i = 0; i < 3; i++)
        w[i] = vow_then(vow_sem_acquire(sem), sem_turn, NULL, (void *)i, NULL);
    EXPECT(vow_cancel(w[1]) == 0); /* the upstream rule cancels its acquire */
    EXPECT(vow_sem_release(sem) == 0);
    run_all(loop, w, 3);
    for (int i = 0; i < 3; i++) {
        printf("%s %s\n", WN[i], vow_state(w[i]) == VOW_FULFILLED ? "ok" : "cancelled");
        vow_unref(w[i]);
    }
    printf("locked %s\n", py_bool(vow_sem_locked(sem)));
    vow_sem_free(sem);

    log_line("-- event");
    vow_event_t *ev = vow_event_new(loop);
    vow_t *e[2] = {vow_then(vow_event_wait(ev), woke, NULL, "E1", NULL),
                   vow_then(vow_event_wait(ev), woke, NULL, "E2", NULL)};
    printf("is_set %s\n", py_bool(vow_event_is_set(ev)));
    EXPECT(vow_event_set(ev) == 0);
    run_all(loop, e, 2);
    vow_unref(e[0]), vow_unref(e[1]);
    printf("is_set %s\n", py_bool(vow_event_is_set(ev)));
    EXPECT(vow_event_clear(ev) == 0);
    printf("is_set %s\n", py_bool(vow_event_is_set(ev)));
    vow_outcome_t out;
    EXPECT(vow_run(loop, vow_timeout(vow_event_wait(ev), 10, 0), &out) == 0);
    if (out.state == VOW_REJECTED && vow_error_code(out.error) == VOW_ETIMEDOUT)
        log_line("wait timed out");
    vow_outcome_release(&out);
    vow_event_free(ev);

    log_line("-- bounded semaphore");
    vow_sem_t *b = vow_sem_bounded_new(loop, 1);
    if (vow_sem_release(b) == VOW_ERANGE) log_line("over-release refused");
    EXPECT(vow_run(loop, vow_sem_acquire(b), NULL) == 0);
    if (vow_sem_release(b) == 0) log_line("release after acquire ok");
    if (vow_sem_release(b) == VOW_ERANGE) log_line("over-release refused");
    vow_sem_free(b);

    log_line("-- condition");
    cond = vow_cond_new(loop, NULL);
    vow_lock_t *cl = vow_cond_lock(cond);
    vow_t *cw[3];
    for (intptr_t i = 1; i <= 3; i++)
        cw[i - 1] = vow_then(
            vow_then(vow_lock_acquire(cl, (void *)i), cond_wait_now, NULL, (void *)i, NULL),
            cond_woke, NULL, (void *)i, NULL);
    EXPECT(vow_loop_drain(loop) == 0); /* every one waits */
    EXPECT(vow_run(loop, vow_lock_acquire(cl, (void *)0), NULL) == 0);
    log_line("notify 1");
    EXPECT(vow_cond_notify(cond, (void *)0, 1) == 0);
    EXPECT(vow_lock_release(cl, (void *)0) == 0);
    EXPECT(vow_run(loop, vow_ref(cw[0]), NULL) == 0);
    EXPECT(vow_run(loop, vow_lock_acquire(cl, (void *)0), NULL) == 0);
    log_line("notify all");
    EXPECT(vow_cond_notify_all(cond, (void *)0) == 0);
    EXPECT(vow_lock_release(cl, (void *)0) == 0);
    run_all(loop, cw, 3);
    for (int i = 0; i < 3; i++) vow_unref(cw[i]);
    printf("locked %s\n", py_bool(vow_lock_locked(cl)));

    log_line("-- condition wait_for");
    vow_t *wf = vow_then(vow_then(vow_lock_acquire(cl, (void *)1), wait_for_now, NULL, NULL, NULL),
                         wait_for_done, NULL, NULL, NULL);
    EXPECT(vow_loop_drain(loop) == 0); /* it waits */
    for (int i = 0; i < 3; i++) {
        EXPECT(vow_run(loop, vow_lock_acquire(cl, (void *)0), NULL) == 0);
        count++;
        EXPECT(vow_cond_notify_all(cond, (void *)0) == 0);
        EXPECT(vow_lock_release(cl, (void *)0) == 0);
        EXPECT(vow_run(loop, vow_sleep(loop, 1), NULL) == 0);
    }
    EXPECT(vow_run(loop, wf, NULL) == 0);
    printf("locked %s\n", py_bool(vow_lock_locked(cl)));
    vow_cond_free(cond);

    EXPECT(vow_loop_close(loop) == 0);
    return failures != 0;
}
