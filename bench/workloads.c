/* bench/workloads.c - W1-W7 on vow, written as a user would write them: vow.h only, no
 * internals. Each returns the exit status: 0, or BENCH_EXIT_WRONG after saying what is
 * wrong. The clock runs from the first vow call of the workload to the moment its final
 * promise settled (the loop already exists, as Node's and asyncio's do); the check comes
 * after the clock stops, as in bench/ref/bench.js and bench.py.
 *
 * --inject-wrong makes each workload compute a wrong answer in the way every other system
 * does, so a check that cannot fire is caught (scripts/bench.sh --selftest):
 *   W1 the first step adds 2;  W2 promise 0 is resolved with 1;  W3 round 0 resolves its
 *   ten promises in reverse order;  W4 the last timer is never set;  W5 `all` is given
 *   one sleep fewer than N;  W6 item 0 is put as 1;  W7 the semaphore has 101 permits.
 */
#include <inttypes.h>

#include "workloads.h"

/* Reports a failed vow call (not a wrong answer: out of memory, a loop error). */
static int failed(const bench_args *a, const char *what, int rc) {
    fprintf(stderr, "W%d vow: %s failed: %s\n", a->w, what, vow_strerror(rc));
    return BENCH_EXIT_ERROR;
}

/* Runs p (consumed) to completion; on success *out holds its fulfilment value. */
static int run(const bench_args *a, vow_loop_t *loop, vow_t *p, vow_outcome_t *out) {
    if (p == NULL) return failed(a, "building the promise", VOW_ENOMEM);
    int rc = vow_run(loop, p, out);
    if (rc != 0) return failed(a, "vow_run", rc);
    if (out->state != VOW_FULFILLED) {
        char buf[256];
        vow_error_format(out->error, buf, sizeof buf);
        int r = bench_wrong(a, "the final promise rejected: %s", buf);
        vow_outcome_release(out);
        return r;
    }
    return 0;
}

/* ---- W1 chain: N then steps on a resolved promise, each adding 1 ------------------------ */

static vow_result_t add1(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    (void)ctx;
    return vow_ok_int(vow_value_int(v) + 1);
}

static vow_result_t add2(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    (void)ctx;
    return vow_ok_int(vow_value_int(v) + 2);
}

int bench_w1(const bench_args *a, vow_loop_t *loop) {
    uint64_t t0 = bench_wall_ns();
    vow_t *p = vow_resolved(loop, vow_int(0));
    for (long i = 0; i < a->n; i++)
        p = vow_then(p, a->inject_wrong && i == 0 ? add2 : add1, NULL, NULL, NULL);
    vow_outcome_t out;
    int rc = run(a, loop, p, &out);
    uint64_t t1 = bench_wall_ns();
    if (rc != 0) return rc;
    int64_t got = vow_value_int(&out.value);
    vow_outcome_release(&out);
    if (got != a->n) return bench_wrong(a, "chain ended at %" PRId64 ", expected %ld", got, a->n);
    bench_report(a, (double)(t1 - t0) / (double)a->n, (double)(t1 - t0) / 1e6);
    return 0;
}

/* ---- W2 fan-out: N pending promises, each resolved, all over them ---------------------- */

int bench_w2(const bench_args *a, vow_loop_t *loop) {
    vow_t **ps = malloc((size_t)a->n * sizeof *ps);
    if (ps == NULL) return failed(a, "malloc", VOW_ENOMEM);
    uint64_t t0 = bench_wall_ns();
    for (long i = 0; i < a->n; i++) {
        ps[i] = vow_new(loop);
        if (ps[i] == NULL) return failed(a, "vow_new", VOW_ENOMEM);
        vow_ref(ps[i]); /* one for vow_all to consume, one to resolve it with */
    }
    vow_t *all = vow_all(loop, ps, (size_t)a->n);
    for (long i = 0; i < a->n; i++) {
        vow_resolve(ps[i], vow_int(a->inject_wrong && i == 0 ? 1 : i));
        vow_unref(ps[i]);
    }
    vow_outcome_t out;
    int rc = run(a, loop, all, &out);
    uint64_t t1 = bench_wall_ns();
    free(ps);
    if (rc != 0) return rc;
    const vow_list_t *l = vow_list_of(&out.value);
    size_t len = l ? vow_list_len(l) : 0;
    if (len != (size_t)a->n) {
        vow_outcome_release(&out);
        return bench_wrong(a, "all gave %zu values, expected %ld", len, a->n);
    }
    for (size_t i = 0; i < len; i++) {
        int64_t v = vow_value_int(vow_list_value(l, i));
        if (v != (int64_t)i) {
            vow_outcome_release(&out);
            return bench_wrong(a, "all's value %zu is %" PRId64, i, v);
        }
    }
    vow_outcome_release(&out);
    bench_report(a, (double)(t1 - t0) / (double)a->n, (double)(t1 - t0) / 1e6);
    return 0;
}

/* ---- W3 race and any over 10 promises resolved in order, N rounds ---------------------- *
 * A round starts the next one once both its race and its any have delivered (the two
 * awaits of bench.js); the last round resolves `done`. */

enum { W3_WIDTH = 10 };

typedef struct w3_state {
    vow_loop_t *loop;
    long round, n;
    int seen; /* results of this round delivered so far (race, any) */
    int inject_wrong;
    int64_t sum;
    vow_t *done;
} w3_state;

static void w3_round(w3_state *s);

static vow_result_t w3_got(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    w3_state *s = ctx;
    s->sum += vow_value_int(v);
    if (++s->seen == 2) {
        s->seen = 0;
        if (++s->round == s->n)
            vow_resolve(s->done, vow_int(s->sum));
        else
            w3_round(s);
    }
    return vow_ok_none();
}

static void w3_round(w3_state *s) {
    vow_t *ps[W3_WIDTH];
    for (int i = 0; i < W3_WIDTH; i++) {
        ps[i] = vow_new(s->loop);
        vow_ref(ps[i]); /* race and any each consume one; we keep one to resolve */
        vow_ref(ps[i]);
    }
    vow_t *race = vow_race(s->loop, ps, W3_WIDTH, 0);
    vow_t *any = vow_any(s->loop, ps, W3_WIDTH, 0);
    vow_unref(vow_then(race, w3_got, NULL, s, NULL));
    vow_unref(vow_then(any, w3_got, NULL, s, NULL));
    int64_t base = (int64_t)s->round * W3_WIDTH;
    int reverse = s->inject_wrong && s->round == 0;
    for (int i = 0; i < W3_WIDTH; i++) {
        int k = reverse ? W3_WIDTH - 1 - i : i;
        vow_resolve(ps[k], vow_int(base + k));
        vow_unref(ps[k]);
    }
}

int bench_w3(const bench_args *a, vow_loop_t *loop) {
    w3_state s = {.loop = loop, .n = a->n, .inject_wrong = a->inject_wrong};
    uint64_t t0 = bench_wall_ns();
    s.done = vow_new(loop);
    if (s.done == NULL) return failed(a, "vow_new", VOW_ENOMEM);
    vow_ref(s.done); /* vow_run consumes one; w3_got resolves through the other */
    w3_round(&s);
    vow_outcome_t out;
    int rc = run(a, loop, s.done, &out);
    uint64_t t1 = bench_wall_ns();
    vow_unref(s.done);
    if (rc != 0) return rc;
    vow_outcome_release(&out);
    /* Round r's race and any both give r*10: the sum is 2 * 10 * n(n-1)/2. */
    int64_t want = (int64_t)10 * a->n * (a->n - 1);
    if (s.round != a->n || s.sum != want)
        return bench_wrong(a, "%ld rounds summed to %" PRId64 ", expected %ld rounds and %" PRId64,
                           s.round, s.sum, a->n, want);
    bench_report(a, (double)(t1 - t0) / (double)a->n, (double)(t1 - t0) / 1e6);
    return 0;
}

/* ---- W4 timers: N timeouts with delays spread over 0..1000 ms -------------------------- */

static struct {
    long fired;
    uint64_t sum;
} w4;

static void w4_fire(vow_loop_t *loop, void *arg) {
    (void)loop;
    w4.fired++;
    w4.sum += (uintptr_t)arg;
}

int bench_w4(const bench_args *a, vow_loop_t *loop) {
    long set = a->inject_wrong ? a->n - 1 : a->n;
    uint64_t c0 = bench_cpu_ns(), t0 = bench_wall_ns();
    for (long i = 0; i < set; i++) {
        int rc = vow_set_timeout(loop, w4_fire, (void *)(uintptr_t)i, bench_w4_delay(i), NULL);
        if (rc != 0) return failed(a, "vow_set_timeout", rc);
    }
    int rc = vow_loop_run(loop, VOW_RUN_DEFAULT);
    uint64_t c1 = bench_cpu_ns(), t1 = bench_wall_ns();
    if (rc < 0) return failed(a, "vow_loop_run", rc);
    uint64_t want_sum = (uint64_t)a->n * (uint64_t)(a->n - 1) / 2;
    if (w4.fired != a->n || w4.sum != want_sum)
        return bench_wrong(
            a, "%ld timers fired (ids summing to %" PRIu64 "), expected %ld (%" PRIu64 ")",
            w4.fired, w4.sum, a->n, want_sum);
    /* 1 ms of slack: vow keeps times in whole milliseconds. */
    uint64_t longest = bench_w4_delay(a->n > 1000 ? 1000 : a->n - 1);
    if ((double)(t1 - t0) / 1e6 + 1.0 < (double)longest)
        return bench_wrong(a, "all timers fired within %.1f ms; the longest is %" PRIu64 " ms",
                           (double)(t1 - t0) / 1e6, longest);
    bench_report(a, (double)(c1 - c0) / (double)a->n, (double)(t1 - t0) / 1e6);
    return 0;
}

/* ---- W5 N concurrent 100 ms sleeps under all ------------------------------------------ */

int bench_w5(const bench_args *a, vow_loop_t *loop) {
    vow_t **ps = malloc((size_t)a->n * sizeof *ps);
    if (ps == NULL) return failed(a, "malloc", VOW_ENOMEM);
    uint64_t t0 = bench_wall_ns();
    for (long i = 0; i < a->n; i++) {
        ps[i] = vow_sleep(loop, 100);
        if (ps[i] == NULL) return failed(a, "vow_sleep", VOW_ENOMEM);
    }
    size_t in = (size_t)a->n;
    if (a->inject_wrong) vow_unref(ps[--in]); /* still sleeps; not awaited */
    vow_outcome_t out;
    int rc = run(a, loop, vow_all(loop, ps, in), &out);
    uint64_t t1 = bench_wall_ns();
    free(ps);
    if (rc != 0) return rc;
    const vow_list_t *l = vow_list_of(&out.value);
    size_t len = l ? vow_list_len(l) : 0, ok = 0;
    for (size_t i = 0; i < len; i++) ok += vow_list_state(l, i) == VOW_FULFILLED;
    vow_outcome_release(&out);
    if (len != (size_t)a->n || ok != len)
        return bench_wrong(a, "all gave %zu results (%zu fulfilled), expected %ld", len, ok, a->n);
    double ms = (double)(t1 - t0) / 1e6;
    if (ms + 1.0 < 100.0) /* 1 ms of slack, as in W4 */
        return bench_wrong(a, "the sleeps ended after %.1f ms, before 100 ms", ms);
    bench_report(a, ms - 100.0, ms);
    return 0;
}

/* ---- W6 a bounded queue of 64, one producer, one consumer, N items --------------------- */

/* The producer and the consumer are each a loop of awaits written as reactions: the
 * reaction to put i's promise puts item i + 1, the reaction to a get's promise takes its
 * item and gets the next; the one of them that finishes last resolves `done` (the
 * Promise.all / asyncio.gather of bench.js and bench.py). */

typedef struct w6_state {
    const bench_args *a;
    vow_queue_t *q;
    long put, got, first_bad;
    int64_t sum;
    int finished; /* the producer and the consumer that are through */
    vow_t *done;
} w6_state;

static vow_result_t w6_put_next(vow_loop_t *loop, const vow_value_t *v, void *ctx);
static vow_result_t w6_got(vow_loop_t *loop, const vow_value_t *v, void *ctx);

static void w6_finish(w6_state *s) {
    if (++s->finished == 2) vow_resolve(s->done, vow_none());
}

static void w6_put(w6_state *s) {
    vow_t *p = vow_queue_put(s->q, vow_int(bench_w6_item(s->a, s->put++)));
    vow_unref(vow_then_ok(p, w6_put_next, s));
}

static void w6_get(w6_state *s) { vow_unref(vow_then_ok(vow_queue_get(s->q), w6_got, s)); }

static vow_result_t w6_put_next(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    (void)v;
    w6_state *s = ctx;
    if (s->put < s->a->n)
        w6_put(s);
    else
        w6_finish(s);
    return vow_ok_none();
}

static vow_result_t w6_got(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    w6_state *s = ctx;
    int64_t item = vow_value_int(v);
    if (item != s->got && s->first_bad < 0) s->first_bad = s->got;
    s->sum += item;
    if (++s->got < s->a->n)
        w6_get(s);
    else
        w6_finish(s);
    return vow_ok_none();
}

int bench_w6(const bench_args *a, vow_loop_t *loop) {
    w6_state s = {.a = a, .first_bad = -1};
    uint64_t t0 = bench_wall_ns();
    s.q = vow_queue_new(loop, BENCH_W6_BOUND);
    s.done = vow_new(loop);
    if (s.q == NULL || s.done == NULL) return failed(a, "vow_queue_new / vow_new", VOW_ENOMEM);
    vow_ref(s.done); /* vow_run consumes one; w6_finish resolves through the other */
    w6_put(&s);      /* the producer, then the consumer, as bench.js starts them */
    w6_get(&s);
    vow_outcome_t out;
    int rc = run(a, loop, s.done, &out);
    uint64_t t1 = bench_wall_ns();
    vow_unref(s.done);
    vow_queue_free(s.q);
    if (rc != 0) return rc;
    vow_outcome_release(&out);
    if ((rc = bench_w6_check(a, s.got, s.sum, s.first_bad)) != 0) return rc;
    bench_report(a, (double)(t1 - t0) / (double)a->n, (double)(t1 - t0) / 1e6);
    return 0;
}

/* ---- W7 N tasks, at most 100 at once under a semaphore --------------------------------- *
 * A task is a chain: acquire, then a reaction that counts it running, then (one microtask
 * later) a reaction that counts it done and releases. `all` waits for the N tasks, as
 * Promise.all and asyncio.gather do in bench.js and bench.py. */

typedef struct w7_state {
    vow_sem_t *sem;
    long running, peak, done;
} w7_state;

static vow_result_t w7_acquired(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    (void)v;
    w7_state *s = ctx;
    if (++s->running > s->peak) s->peak = s->running;
    return vow_ok_none(); /* the hop: the next reaction runs one microtask later */
}

static vow_result_t w7_hopped(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    (void)v;
    w7_state *s = ctx;
    s->running--;
    s->done++;
    int rc = vow_sem_release(s->sem);
    return rc == 0 ? vow_ok_none() : vow_fail_code(rc, "vow_sem_release");
}

int bench_w7(const bench_args *a, vow_loop_t *loop) {
    vow_t **ps = malloc((size_t)a->n * sizeof *ps);
    if (ps == NULL) return failed(a, "malloc", VOW_ENOMEM);
    w7_state s = {0};
    uint64_t t0 = bench_wall_ns();
    s.sem = vow_sem_new(loop, bench_w7_permits(a));
    if (s.sem == NULL) return failed(a, "vow_sem_new", VOW_ENOMEM);
    for (long i = 0; i < a->n; i++) {
        ps[i] = vow_then_ok(vow_then_ok(vow_sem_acquire(s.sem), w7_acquired, &s), w7_hopped, &s);
        if (ps[i] == NULL) return failed(a, "a task", VOW_ENOMEM);
    }
    vow_outcome_t out;
    int rc = run(a, loop, vow_all(loop, ps, (size_t)a->n), &out);
    uint64_t t1 = bench_wall_ns();
    free(ps);
    vow_sem_free(s.sem);
    if (rc != 0) return rc;
    const vow_list_t *l = vow_list_of(&out.value);
    size_t len = l ? vow_list_len(l) : 0;
    vow_outcome_release(&out);
    if (len != (size_t)a->n) return bench_wrong(a, "all gave %zu results, expected %ld", len, a->n);
    if ((rc = bench_w7_check(a, s.done, s.peak)) != 0) return rc;
    bench_report(a, (double)(t1 - t0) / (double)a->n, (double)(t1 - t0) / 1e6);
    return 0;
}
