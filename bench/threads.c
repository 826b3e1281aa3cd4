/* bench/threads.c - W10 and W10r on vow (issue 15), written as a user would (vow.h only).
 *
 * W10: the round trip of an empty job: N jobs through vow_work, at most 64 in flight (each
 *      completion's reaction submits the next); every job returns its index, and the
 *      reactions check each one and the count. ns/job: wall time over N.
 * W10r: one remote settle from another thread: the loop makes N remote resolvers (and a
 *      reaction on each promise) before the clock starts; a second thread settles them in
 *      order with their index and frees them; the clock runs from the thread's start to the
 *      last reaction. ns/settle: wall time over N.
 * --inject-wrong: W10 job 0 returns 1; W10r remote 0 is settled with 1.
 */
#include <pthread.h>

#include "workloads.h"

enum { W10_IN_FLIGHT = 64 };

typedef struct w10_job_ctx w10_job_ctx;
typedef struct w10_state {
    const bench_args *a;
    vow_loop_t *loop;
    long next, done, bad;
    w10_job_ctx *ctxs; /* one per job: what its reaction checks */
} w10_state;

static vow_result_t w10_job(vow_work_t *job, void *arg) {
    (void)job;
    return vow_ok_int((int64_t)(intptr_t)arg);
}

static vow_t *w10_submit(w10_state *st);

static vow_result_t w10_landed(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    w10_state *st = ctx;
    (void)v;
    st->done++;
    if (st->next < st->a->n) vow_unref(w10_submit(st));
    return vow_ok_none();
}

struct w10_job_ctx {
    w10_state *st;
    long i;
};

static vow_result_t w10_check(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    w10_job_ctx *c = ctx;
    if (vow_value_int(v) != c->i) c->st->bad++;
    return w10_landed(loop, v, c->st);
}

static vow_t *w10_submit(w10_state *st) {
    long i = st->next++;
    int64_t val = i == 0 && st->a->inject_wrong ? 1 : i;
    st->ctxs[i] = (w10_job_ctx){st, i};
    return vow_then_ok(vow_work(st->loop, w10_job, (void *)(intptr_t)val, NULL), w10_check,
                       &st->ctxs[i]);
}

static int w10_jobs(const bench_args *a, vow_loop_t *loop) {
    w10_state st = {a, loop, 0, 0, 0, calloc((size_t)a->n, sizeof(w10_job_ctx))};
    if (st.ctxs == NULL) return BENCH_EXIT_ERROR;
    /* The pool's threads start with the first job: start them before the clock. */
    vow_outcome_t out;
    if (vow_run(loop, vow_work(loop, w10_job, NULL, NULL), &out) != 0) return BENCH_EXIT_ERROR;
    vow_outcome_release(&out);
    uint64_t t0 = bench_wall_ns();
    for (int k = 0; k < W10_IN_FLIGHT && st.next < a->n; k++) vow_unref(w10_submit(&st));
    vow_loop_run(loop, VOW_RUN_DEFAULT);
    uint64_t ns = bench_wall_ns() - t0;
    free(st.ctxs);
    if (st.done != a->n || st.bad != 0)
        return bench_wrong(a, "%ld jobs came back, %ld with a wrong value; expected %ld, 0",
                           st.done, st.bad, a->n);
    bench_report(a, (double)ns / (double)a->n, (double)ns / 1e6);
    return 0;
}

/* ---- W10r ------------------------------------------------------------------------------ */
typedef struct w10r_state {
    const bench_args *a;
    vow_remote_t **remotes;
    long seen, bad;
} w10r_state;

typedef struct w10r_ctx {
    w10r_state *st;
    long i;
} w10r_ctx;

static vow_result_t w10r_seen(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    w10r_ctx *c = ctx;
    if (vow_value_int(v) != c->i) c->st->bad++;
    c->st->seen++;
    return vow_ok_none();
}

static void *w10r_settler(void *arg) {
    w10r_state *st = arg;
    for (long i = 0; i < st->a->n; i++) {
        int64_t val = i == 0 && st->a->inject_wrong ? 1 : i;
        vow_remote_resolve(st->remotes[i], vow_ok_int(val));
        vow_remote_free(st->remotes[i]);
    }
    return NULL;
}

static int w10_remote(const bench_args *a, vow_loop_t *loop) {
    w10r_state st = {a, calloc((size_t)a->n, sizeof(vow_remote_t *)), 0, 0};
    w10r_ctx *ctxs = calloc((size_t)a->n, sizeof *ctxs);
    if (st.remotes == NULL || ctxs == NULL) return BENCH_EXIT_ERROR;
    for (long i = 0; i < a->n; i++) {
        vow_t *p;
        if ((st.remotes[i] = vow_remote_new(loop, &p)) == NULL) return BENCH_EXIT_ERROR;
        ctxs[i] = (w10r_ctx){&st, i};
        vow_unref(vow_then_ok(p, w10r_seen, &ctxs[i]));
    }
    uint64_t t0 = bench_wall_ns();
    pthread_t th;
    if (pthread_create(&th, NULL, w10r_settler, &st) != 0) return BENCH_EXIT_ERROR;
    vow_loop_run(loop, VOW_RUN_DEFAULT); /* until the last remote is settled and seen */
    uint64_t ns = bench_wall_ns() - t0;
    pthread_join(th, NULL);
    free(st.remotes);
    free(ctxs);
    if (st.seen != a->n || st.bad != 0)
        return bench_wrong(a, "%ld settles seen, %ld with a wrong value; expected %ld, 0", st.seen,
                           st.bad, a->n);
    bench_report(a, (double)ns / (double)a->n, (double)ns / 1e6);
    return 0;
}

int bench_w10(const bench_args *a, vow_loop_t *loop) {
    return a->w == 10 ? w10_jobs(a, loop) : w10_remote(a, loop);
}
