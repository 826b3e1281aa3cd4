/* tests/thread_scenarios.h - the threaded scenarios of vow/thread.h, written once and run
 * twice: by tests/test_thread.c under Criterion (every backend, ASan/UBSan, valgrind) and
 * by tests/tsan_thread.c, a plain program (ThreadSanitizer cannot run Criterion's
 * binaries: Criterion#274) that scripts/tsan.sh builds with -fsanitize=thread.
 *
 * Each scenario returns its number of failed checks; a failed CHECK prints where on stderr.
 * No scenario has an upper time bound: waits that would hang on a defect are bounded by a
 * deadline and counted as a failure. */
#ifndef VOW_TEST_THREAD_SCENARIOS_H
#define VOW_TEST_THREAD_SCENARIOS_H

#include <errno.h>
#include <ev.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "vow.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            fails++;                                                                               \
        }                                                                                          \
    } while (0)

static vow_loop_t *ts_loop(void) {
    vow_loop_t *loop = NULL;
    if (vow_loop_new(&loop, VOW_BACKEND_AUTO) != 0) {
        fprintf(stderr, "vow_loop_new failed\n");
        exit(2);
    }
    return loop;
}

static void ts_sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static atomic_int ts_arg_frees;
static void ts_count_free(void *arg) {
    (void)arg;
    atomic_fetch_add(&ts_arg_frees, 1);
}

/* ---- four jobs that wait for each other: the pool runs them at once ------------------- */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int arrived, n;
} ts_barrier;

/* 1 when all n arrived within 10 s, 0 on the deadline (a pool that runs fewer at once). */
static int ts_barrier_wait(ts_barrier *b) {
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 10;
    pthread_mutex_lock(&b->mu);
    b->arrived++;
    pthread_cond_broadcast(&b->cv);
    int rc = 0;
    while (b->arrived < b->n && rc == 0) rc = pthread_cond_timedwait(&b->cv, &b->mu, &deadline);
    int ok = b->arrived >= b->n;
    pthread_mutex_unlock(&b->mu);
    return ok;
}

static vow_result_t ts_barrier_job(vow_work_t *job, void *arg) {
    (void)job;
    return ts_barrier_wait(arg) ? vow_ok_int(1) : vow_fail_code(VOW_ETIMEDOUT, "barrier");
}

static int scenario_four_jobs_run_at_once(void) {
    int fails = 0;
    vow_loop_t *loop = ts_loop();
    CHECK(vow_loop_set_threads(loop, 4) == 0);
    ts_barrier b = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 4};
    vow_t *jobs[4];
    for (int i = 0; i < 4; i++) jobs[i] = vow_work(loop, ts_barrier_job, &b, NULL);
    CHECK(vow_loop_set_threads(loop, 2) == VOW_EBUSY);
    vow_outcome_t out;
    CHECK(vow_run(loop, vow_all(loop, jobs, 4), &out) == 0);
    CHECK(out.state == VOW_FULFILLED);
    if (out.state == VOW_FULFILLED) {
        const vow_list_t *l = vow_list_of(&out.value);
        for (size_t i = 0; i < 4; i++) CHECK(vow_value_int(vow_list_value(l, i)) == 1);
    }
    vow_outcome_release(&out);
    CHECK(vow_loop_close(loop) == 0);
    return fails;
}

/* ---- 8 threads x 10,000 remote settles, each delivered once ---------------------------- */
enum { TS_THREADS = 8, TS_PER_THREAD = 10000 };
typedef struct {
    vow_remote_t **remotes;
    int first;
    atomic_int *bad;
} ts_settler;

static void *ts_settle_many(void *arg) {
    ts_settler *s = arg;
    for (int i = 0; i < TS_PER_THREAD; i++) {
        int idx = s->first + i;
        if (vow_remote_resolve(s->remotes[idx], vow_ok_int(idx)) != 0) atomic_fetch_add(s->bad, 1);
        if (vow_remote_resolve(s->remotes[idx], vow_ok_int(-1)) != VOW_ESETTLED)
            atomic_fetch_add(s->bad, 1);
        vow_remote_free(s->remotes[idx]);
    }
    return NULL;
}

static int ts_seen;
static vow_result_t ts_seen_ok(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    if (vow_value_int(v) == (int64_t)(intptr_t)ctx) ts_seen++;
    return vow_ok_none();
}

static int scenario_remote_settles_from_many_threads(void) {
    int fails = 0;
    vow_loop_t *loop = ts_loop();
    enum { N = TS_THREADS * TS_PER_THREAD };
    vow_remote_t **remotes = calloc(N, sizeof *remotes);
    vow_t **ps = calloc(N, sizeof *ps);
    atomic_int bad = 0;
    ts_seen = 0;
    for (int i = 0; i < N; i++) {
        vow_t *p;
        remotes[i] = vow_remote_new(loop, &p);
        CHECK(remotes[i] != NULL);
        ps[i] = vow_then_ok(p, ts_seen_ok, (void *)(intptr_t)i);
    }
    pthread_t th[TS_THREADS];
    ts_settler s[TS_THREADS];
    for (int t = 0; t < TS_THREADS; t++) {
        s[t] = (ts_settler){remotes, t * TS_PER_THREAD, &bad};
        pthread_create(&th[t], NULL, ts_settle_many, &s[t]);
    }
    vow_outcome_t out;
    CHECK(vow_run(loop, vow_all(loop, ps, N), &out) == 0);
    CHECK(out.state == VOW_FULFILLED);
    vow_outcome_release(&out);
    for (int t = 0; t < TS_THREADS; t++) pthread_join(th[t], NULL);
    CHECK(atomic_load(&bad) == 0);
    CHECK(ts_seen == N); /* each promise saw its own value, once */
    CHECK(vow_loop_alive(loop) == 0);
    CHECK(vow_loop_close(loop) == 0);
    free(remotes);
    free(ps);
    return fails;
}

/* ---- waiting for a remote settle blocks in the backend --------------------------------- */
static int ts_iterations;
static void ts_count_iteration(struct ev_loop *evl, ev_prepare *w, int revents) {
    (void)evl, (void)w, (void)revents;
    ts_iterations++;
}

static void *ts_settle_late(void *arg) {
    ts_sleep_ms(300);
    vow_remote_resolve(arg, vow_ok_int(7));
    vow_remote_free(arg);
    return NULL;
}

static int scenario_waiting_for_a_remote_blocks_in_the_backend(void) {
    int fails = 0;
    vow_loop_t *loop = ts_loop();
    ev_prepare counter;
    ev_prepare_init(&counter, ts_count_iteration);
    ev_prepare_start(vow_loop_ev(loop), &counter);
    ev_unref(vow_loop_ev(loop));
    ts_iterations = 0;
    vow_t *p;
    vow_remote_t *r = vow_remote_new(loop, &p);
    pthread_t th;
    pthread_create(&th, NULL, ts_settle_late, r);
    vow_outcome_t out;
    CHECK(vow_run(loop, p, &out) == 0);
    CHECK(out.state == VOW_FULFILLED && vow_value_int(&out.value) == 7);
    vow_outcome_release(&out);
    pthread_join(th, NULL);
    /* Blocked in the backend the loop turns once (the wakeup), twice with a spurious one.
     * An idle watcher would turn it thousands of times in the 300 ms (at least) the settle
     * takes, and a polling timer of 100 ms or less three times or more: a count, no clock. */
    CHECK(ts_iterations <= 2);
    ev_ref(vow_loop_ev(loop));
    ev_prepare_stop(vow_loop_ev(loop), &counter);
    CHECK(vow_loop_close(loop) == 0);
    return fails;
}

/* ---- a settle, a post, a free after vow_loop_free -------------------------------------- */
static void ts_never(vow_loop_t *loop, void *arg) {
    (void)loop, (void)arg;
    abort();
}

static int scenario_after_free_is_an_error(void) {
    int fails = 0;
    vow_loop_t *loop = ts_loop();
    vow_t *p;
    vow_remote_t *r = vow_remote_new(loop, &p);
    vow_poster_t *h = vow_poster_new(loop);
    CHECK(vow_loop_close(loop) == VOW_EBUSY); /* both keep it alive */
    CHECK(vow_loop_free(loop) == 0);
    atomic_store(&ts_arg_frees, 0);
    CHECK(vow_remote_resolve(r, vow_ok_int(1)) == VOW_ECLOSED);
    CHECK(vow_remote_resolve(r, vow_ok_int(1)) == VOW_ESETTLED);
    CHECK(vow_post(h, ts_never, NULL, ts_count_free) == VOW_ECLOSED);
    CHECK(atomic_load(&ts_arg_frees) == 1);
    vow_remote_free(r);
    vow_poster_free(h);
    CHECK(vow_state(p) == VOW_PENDING);
    vow_unref(p);
    return fails;
}

/* ---- a blocking job does not stop a 5 ms interval ---------------------------------------- */
static atomic_int ts_ticks;
static void ts_tick(vow_loop_t *loop, void *arg) {
    (void)loop, (void)arg;
    atomic_fetch_add(&ts_ticks, 1);
}
/* Blocks until the loop ticked 10 times (so the loop ran while the job blocked), or gives
 * up after 10 s (a loop that stopped while the job ran would hang the test otherwise). No
 * rate is asked of the loop: under load it may tick slowly, the job just waits longer. */
static vow_result_t ts_block_until_ticks(vow_work_t *job, void *arg) {
    (void)job, (void)arg;
    for (int i = 0; i < 10000 && atomic_load(&ts_ticks) < 10; i++) ts_sleep_ms(1);
    return vow_ok_int(atomic_load(&ts_ticks));
}

static int scenario_a_blocking_job_leaves_the_loop_free(void) {
    int fails = 0;
    vow_loop_t *loop = ts_loop();
    vow_timer_t id;
    atomic_store(&ts_ticks, 0);
    CHECK(vow_set_interval(loop, ts_tick, NULL, 5, &id) == 0);
    vow_outcome_t out;
    CHECK(vow_run(loop, vow_work(loop, ts_block_until_ticks, NULL, NULL), &out) == 0);
    CHECK(out.state == VOW_FULFILLED && vow_value_int(&out.value) >= 10);
    vow_outcome_release(&out);
    CHECK(vow_clear_interval(loop, id) == 0);
    CHECK(vow_loop_close(loop) == 0);
    return fails;
}

/* ---- cancel before start, during, after completion -------------------------------------- */
static atomic_int ts_gate, ts_ran, ts_saw_cancel;
static vow_result_t ts_wait_gate(vow_work_t *job, void *arg) {
    (void)job, (void)arg;
    for (int i = 0; i < 10000 && !atomic_load(&ts_gate); i++) ts_sleep_ms(1);
    return vow_ok_int(1);
}
static vow_result_t ts_mark_ran(vow_work_t *job, void *arg) {
    (void)job, (void)arg;
    atomic_fetch_add(&ts_ran, 1);
    return vow_ok_none();
}
static vow_result_t ts_poll_cancel(vow_work_t *job, void *arg) {
    (void)arg;
    atomic_store(&ts_gate, 1); /* started */
    for (int i = 0; i < 10000 && !vow_work_cancelled(job); i++) ts_sleep_ms(1);
    if (vow_work_cancelled(job)) atomic_fetch_add(&ts_saw_cancel, 1);
    /* What a cancelled job returns is released on the loop's thread (its destructor runs). */
    return vow_ok(vow_ptr(malloc(16), free));
}

static int scenario_cancel_before_during_after(void) {
    int fails = 0;
    vow_loop_t *loop = ts_loop();
    CHECK(vow_loop_set_threads(loop, 1) == 0);
    atomic_store(&ts_arg_frees, 0);
    atomic_store(&ts_gate, 0);
    atomic_store(&ts_ran, 0);
    atomic_store(&ts_saw_cancel, 0);
    /* Before: the only worker is busy, the second job waits in the queue. */
    vow_t *busy = vow_work(loop, ts_wait_gate, NULL, ts_count_free);
    vow_t *queued = vow_work(loop, ts_mark_ran, NULL, ts_count_free);
    CHECK(vow_cancel(queued) == 0);
    CHECK(vow_state(queued) == VOW_REJECTED);
    CHECK(atomic_load(&ts_arg_frees) == 1); /* at once: it never runs */
    atomic_store(&ts_gate, 1);
    vow_outcome_t out;
    CHECK(vow_run(loop, busy, &out) == 0);
    CHECK(out.state == VOW_FULFILLED);
    vow_outcome_release(&out);
    CHECK(atomic_load(&ts_arg_frees) == 2);
    CHECK(atomic_load(&ts_ran) == 0);
    vow_unref(queued);
    /* During: the promise is cancelled at once, the job sees its flag, arg_free after. */
    atomic_store(&ts_gate, 0);
    vow_t *running = vow_work(loop, ts_poll_cancel, NULL, ts_count_free);
    while (!atomic_load(&ts_gate)) ts_sleep_ms(1);
    CHECK(vow_cancel(running) == 0);
    CHECK(vow_state(running) == VOW_REJECTED);
    CHECK(vow_loop_close(loop) == VOW_EBUSY); /* still in flight */
    CHECK(vow_run(loop, vow_sleep(loop, 1), NULL) == 0);
    while (atomic_load(&ts_arg_frees) < 3 && vow_loop_alive(loop) > 0)
        vow_loop_run(loop, VOW_RUN_ONCE);
    CHECK(atomic_load(&ts_saw_cancel) == 1);
    CHECK(atomic_load(&ts_arg_frees) == 3);
    vow_unref(running);
    /* After: settled, so a cancel is refused; arg_free ran once. */
    vow_t *done = vow_work(loop, ts_mark_ran, NULL, ts_count_free);
    CHECK(vow_run(loop, vow_ref(done), NULL) == 0);
    CHECK(vow_cancel(done) == VOW_ESETTLED);
    CHECK(atomic_load(&ts_arg_frees) == 4);
    CHECK(atomic_load(&ts_ran) == 1);
    vow_unref(done);
    CHECK(vow_loop_close(loop) == 0);
    return fails;
}

/* ---- vow_loop_free cancels and joins ---------------------------------------------------- */
static int scenario_loop_free_cancels_and_joins(void) {
    int fails = 0;
    vow_loop_t *loop = ts_loop();
    CHECK(vow_loop_set_threads(loop, 1) == 0);
    atomic_store(&ts_arg_frees, 0);
    atomic_store(&ts_gate, 0);
    atomic_store(&ts_saw_cancel, 0);
    atomic_store(&ts_ran, 0);
    vow_t *running = vow_work(loop, ts_poll_cancel, NULL, ts_count_free);
    vow_t *queued = vow_work(loop, ts_mark_ran, NULL, ts_count_free);
    while (!atomic_load(&ts_gate)) ts_sleep_ms(1);
    CHECK(vow_loop_free(loop) == 0);
    /* Returned: the worker was joined, so the running job has seen its flag. */
    CHECK(atomic_load(&ts_saw_cancel) == 1);
    CHECK(atomic_load(&ts_ran) == 0);
    CHECK(atomic_load(&ts_arg_frees) == 2);
    vow_unref(running);
    vow_unref(queued);
    return fails;
}

/* ---- posts from other threads run on the loop's thread, in order ------------------------- */
enum { TS_POSTS = 1000 };
static pthread_t ts_loop_thread;
static int ts_post_next, ts_post_bad;
static void ts_on_post(vow_loop_t *loop, void *arg) {
    (void)loop;
    if (!pthread_equal(pthread_self(), ts_loop_thread)) ts_post_bad++;
    if ((intptr_t)arg != ts_post_next++) ts_post_bad++;
}
static void *ts_poster_thread(void *arg) {
    vow_poster_t *h = arg;
    for (intptr_t i = 0; i < TS_POSTS; i++) vow_post(h, ts_on_post, (void *)i, ts_count_free);
    vow_poster_free(h);
    return NULL;
}

static int scenario_posts_run_on_the_loop_thread_in_order(void) {
    int fails = 0;
    vow_loop_t *loop = ts_loop();
    ts_loop_thread = pthread_self();
    ts_post_next = ts_post_bad = 0;
    atomic_store(&ts_arg_frees, 0);
    vow_poster_t *h = vow_poster_new(loop);
    CHECK(h != NULL);
    pthread_t th;
    pthread_create(&th, NULL, ts_poster_thread, h);
    CHECK(vow_loop_run(loop, VOW_RUN_DEFAULT) == 0); /* until the poster is freed */
    pthread_join(th, NULL);
    CHECK(ts_post_next == TS_POSTS);
    CHECK(ts_post_bad == 0);
    CHECK(atomic_load(&ts_arg_frees) == TS_POSTS);
    CHECK(vow_loop_close(loop) == 0);
    return fails;
}

/* ---- vow_run_main cancels the jobs and waits for the running ones ------------------------ */
static vow_result_t ts_started(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v, (void)ctx;
    return vow_ok_int(5);
}

static int scenario_run_main_waits_for_running_jobs(void) {
    int fails = 0;
    vow_loop_t *loop = ts_loop();
    CHECK(vow_loop_set_threads(loop, 1) == 0);
    atomic_store(&ts_arg_frees, 0);
    atomic_store(&ts_gate, 0);
    atomic_store(&ts_saw_cancel, 0);
    vow_unref(vow_work(loop, ts_poll_cancel, NULL, ts_count_free));
    vow_unref(vow_work(loop, ts_mark_ran, NULL, ts_count_free));
    while (!atomic_load(&ts_gate)) ts_sleep_ms(1);
    vow_outcome_t out;
    CHECK(vow_run_main(loop, vow_then_ok(vow_resolved(loop, vow_none()), ts_started, NULL), &out) ==
          0);
    CHECK(out.state == VOW_FULFILLED && vow_value_int(&out.value) == 5);
    vow_outcome_release(&out);
    CHECK(atomic_load(&ts_saw_cancel) == 1);
    CHECK(atomic_load(&ts_arg_frees) == 2);
    return fails;
}

/* ---- vow_loop_free while other threads settle, post and free ----------------------------- */
/* Other threads settle remotes, post and free their handles while the loop thread turns a
 * few times and then frees the loop. Whatever the interleaving: every value a settle handed
 * over is released exactly once (delivered, dropped at teardown, or released by a settle that
 * answered VOW_ECLOSED), every post's arg_free runs exactly once, every job's arg_free once,
 * and nothing is touched after it is freed (ASan, TSan). */
enum { TS_RACE_THREADS = 4, TS_RACE_REMOTES = 200, TS_RACE_POSTS = 200, TS_RACE_ROUNDS = 20 };
static atomic_int ts_race_go, ts_race_values, ts_race_value_frees, ts_race_post_frees;
static atomic_int ts_race_posts;
static void ts_race_value_free(void *arg) {
    (void)arg;
    atomic_fetch_add(&ts_race_value_frees, 1);
}
static void ts_race_post_free(void *arg) {
    (void)arg;
    atomic_fetch_add(&ts_race_post_frees, 1);
}
static void ts_race_on_post(vow_loop_t *loop, void *arg) { (void)loop, (void)arg; }
typedef struct {
    vow_remote_t *remotes[TS_RACE_REMOTES];
    vow_poster_t *poster;
} ts_race_share;
static void *ts_race_thread(void *arg) {
    ts_race_share *s = arg;
    while (!atomic_load(&ts_race_go)) {
    }
    for (int i = 0; i < TS_RACE_REMOTES || i < TS_RACE_POSTS; i++) {
        if (i < TS_RACE_REMOTES) {
            atomic_fetch_add(&ts_race_values, 1);
            int rc =
                vow_remote_resolve(s->remotes[i], vow_ok(vow_ptr(&ts_race_go, ts_race_value_free)));
            (void)rc;
            vow_remote_free(s->remotes[i]);
        }
        if (i < TS_RACE_POSTS) {
            atomic_fetch_add(&ts_race_posts, 1);
            (void)vow_post(s->poster, ts_race_on_post, NULL, ts_race_post_free);
        }
    }
    vow_poster_free(s->poster);
    return NULL;
}
static vow_result_t ts_race_job(vow_work_t *job, void *arg) {
    (void)arg;
    while (!vow_work_cancelled(job)) {
    }
    atomic_fetch_add(&ts_race_values, 1);
    return vow_ok(vow_ptr(&ts_race_go, ts_race_value_free));
}

static int scenario_loop_free_races_other_threads(void) {
    int fails = 0;
    for (int round = 0; round < TS_RACE_ROUNDS; round++) {
        vow_loop_t *loop = ts_loop();
        CHECK(vow_loop_set_threads(loop, 2) == 0);
        atomic_store(&ts_race_go, 0);
        atomic_store(&ts_race_values, 0);
        atomic_store(&ts_race_value_frees, 0);
        atomic_store(&ts_race_post_frees, 0);
        atomic_store(&ts_race_posts, 0);
        atomic_store(&ts_arg_frees, 0);
        static ts_race_share share[TS_RACE_THREADS];
        static vow_t *ps[TS_RACE_THREADS][TS_RACE_REMOTES];
        for (int t = 0; t < TS_RACE_THREADS; t++) {
            for (int i = 0; i < TS_RACE_REMOTES; i++)
                share[t].remotes[i] = vow_remote_new(loop, &ps[t][i]);
            share[t].poster = vow_poster_new(loop);
        }
        vow_t *jobs[4];
        for (int i = 0; i < 4; i++) jobs[i] = vow_work(loop, ts_race_job, NULL, ts_count_free);
        pthread_t th[TS_RACE_THREADS];
        for (int t = 0; t < TS_RACE_THREADS; t++)
            pthread_create(&th[t], NULL, ts_race_thread, &share[t]);
        atomic_store(&ts_race_go, 1);
        for (int i = 0; i < round; i++) vow_loop_run(loop, VOW_RUN_NOWAIT);
        CHECK(vow_loop_free(loop) == 0);
        CHECK(atomic_load(&ts_arg_frees) == 4); /* the jobs: joined, dropped */
        for (int t = 0; t < TS_RACE_THREADS; t++) pthread_join(th[t], NULL);
        for (int t = 0; t < TS_RACE_THREADS; t++)
            for (int i = 0; i < TS_RACE_REMOTES; i++) vow_unref(ps[t][i]);
        for (int i = 0; i < 4; i++) vow_unref(jobs[i]);
        /* every settle's value and the results of the jobs that ran, each released once */
        if (atomic_load(&ts_race_value_frees) != atomic_load(&ts_race_values))
            fprintf(stderr, "round %d: values %d, released %d\n", round,
                    atomic_load(&ts_race_values), atomic_load(&ts_race_value_frees));
        CHECK(atomic_load(&ts_race_value_frees) == atomic_load(&ts_race_values));
        CHECK(atomic_load(&ts_race_post_frees) == atomic_load(&ts_race_posts));
    }
    return fails;
}

/* ---- vow_run_main: a job submitted while it waits for the running ones -------------------- */
/* asyncio.run refuses run_in_executor once it shuts its executor down; a job an interval (or
 * a remote settle's reaction, a posted function) submits while vow_run_main waits for the
 * running jobs must not hold the exit forever: it is cancelled (or refused). The late job
 * polls its flag and gives up after 5 s (a defect would otherwise hang the test), counted
 * as a failure. */
static _Atomic(vow_work_t *) ts_late_first;
static atomic_int ts_late_submitted, ts_late_saw_cancel, ts_late_gave_up;
static vow_result_t ts_late_first_job(vow_work_t *job, void *arg) {
    (void)arg;
    atomic_store(&ts_late_first, job);
    /* Back only once the late job was submitted: vow_run_main is still waiting for us then. */
    while (!vow_work_cancelled(job) || !atomic_load(&ts_late_submitted)) ts_sleep_ms(1);
    return vow_ok_none();
}
static vow_result_t ts_late_job(vow_work_t *job, void *arg) {
    (void)arg;
    for (int i = 0; i < 5000 && !vow_work_cancelled(job); i++) ts_sleep_ms(1);
    if (vow_work_cancelled(job))
        atomic_fetch_add(&ts_late_saw_cancel, 1);
    else
        atomic_fetch_add(&ts_late_gave_up, 1);
    return vow_ok_none();
}
static void ts_late_tick(vow_loop_t *loop, void *arg) {
    (void)arg;
    vow_work_t *first = atomic_load(&ts_late_first);
    /* The shutdown has begun once the first job's flag is up. */
    if (first == NULL || !vow_work_cancelled(first) || atomic_load(&ts_late_submitted)) return;
    vow_t *p = vow_work(loop, ts_late_job, NULL, NULL);
    atomic_store(&ts_late_submitted, 1);
    if (p != NULL) vow_unref(p);
}

static int scenario_run_main_does_not_wait_for_jobs_submitted_during_shutdown(void) {
    int fails = 0;
    vow_loop_t *loop = ts_loop();
    CHECK(vow_loop_set_threads(loop, 2) == 0);
    atomic_store(&ts_late_first, NULL);
    atomic_store(&ts_late_submitted, 0);
    atomic_store(&ts_late_saw_cancel, 0);
    atomic_store(&ts_late_gave_up, 0);
    vow_set_unhandled_mode(loop, VOW_UNHANDLED_SILENT); /* the late job's refusal */
    vow_unref(vow_work(loop, ts_late_first_job, NULL, NULL));
    vow_timer_t id;
    CHECK(vow_set_interval(loop, ts_late_tick, NULL, 1, &id) == 0);
    while (atomic_load(&ts_late_first) == NULL) ts_sleep_ms(1);
    vow_outcome_t out;
    CHECK(vow_run_main(loop, vow_resolved(loop, vow_int(1)), &out) == 0);
    vow_outcome_release(&out);
    CHECK(atomic_load(&ts_late_submitted) == 1);
    CHECK(atomic_load(&ts_late_gave_up) == 0); /* vow_run_main waited for a job nobody cancelled */
    return fails;
}

static const struct {
    const char *name;
    int (*run)(void);
} thread_scenarios[] = {
    {"four_jobs_run_at_once", scenario_four_jobs_run_at_once},
    {"remote_settles_from_many_threads", scenario_remote_settles_from_many_threads},
    {"waiting_for_a_remote_blocks_in_the_backend",
     scenario_waiting_for_a_remote_blocks_in_the_backend},
    {"after_free_is_an_error", scenario_after_free_is_an_error},
    {"a_blocking_job_leaves_the_loop_free", scenario_a_blocking_job_leaves_the_loop_free},
    {"cancel_before_during_after", scenario_cancel_before_during_after},
    {"loop_free_cancels_and_joins", scenario_loop_free_cancels_and_joins},
    {"posts_run_on_the_loop_thread_in_order", scenario_posts_run_on_the_loop_thread_in_order},
    {"run_main_waits_for_running_jobs", scenario_run_main_waits_for_running_jobs},
    {"loop_free_races_other_threads", scenario_loop_free_races_other_threads},
    {"run_main_does_not_wait_for_jobs_submitted_during_shutdown",
     scenario_run_main_does_not_wait_for_jobs_submitted_during_shutdown},
};
enum { N_THREAD_SCENARIOS = sizeof thread_scenarios / sizeof thread_scenarios[0] };

#endif /* VOW_TEST_THREAD_SCENARIOS_H */
