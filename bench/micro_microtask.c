/* bench/micro_microtask.c - vow-micro-microtask: the cost of vow_microtask, the one place
 * issue 12 changed the queue for user code (a ring of (fn, arg) pairs became one queue of
 * intrusive nodes, a user microtask taking a 32-byte pooled node). Not a workload of the
 * cross-language comparison (bench/compare.py): it measures vow against vow, the same
 * source built against two versions of the library (bench/README.md, "Issue 12").
 *
 *   vow-micro-microtask [N]      N microtasks (default 1,000,000) three ways:
 *     batch   rounds of 1,000 queued from outside the loop, each drained by a non-blocking
 *             turn (the steady state: nothing allocated after the first round)
 *     chain   each microtask queues the next (one job in the queue at a time)
 *     burst   all N queued at once, then drained
 * prints one line per way: `MT batch vow n=... ns_per_job=... total_ms=...`, and checks
 * that every job ran (exit 1 otherwise).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <vow.h>

static long ran;
static long chain_left;

static void job(vow_loop_t *loop, void *arg) {
    (void)loop;
    (void)arg;
    ran++;
}

static void chain_job(vow_loop_t *loop, void *arg) {
    ran++;
    if (--chain_left > 0 && vow_microtask(loop, chain_job, arg) != 0) exit(4);
}

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void report(const char *way, long n, double ns) {
    if (ran != n) {
        fprintf(stderr, "MT %s vow: wrong result: %ld of %ld jobs ran\n", way, ran, n);
        exit(1);
    }
    printf("MT %s vow n=%ld ns_per_job=%.2f total_ms=%.2f\n", way, n, ns / (double)n, ns / 1e6);
}

int main(int argc, char **argv) {
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 1000000;
    if (n < 1000) n = 1000;
    vow_loop_t *loop;
    if (vow_loop_new(&loop, VOW_BACKEND_AUTO) != 0) return 4;

    /* batch: warm up one round, then time n jobs in rounds of 1,000 */
    for (int i = 0; i < 1000; i++) vow_microtask(loop, job, NULL);
    vow_loop_run(loop, VOW_RUN_NOWAIT);
    ran = 0;
    double t0 = now_ns();
    for (long done = 0; done < n; done += 1000) {
        for (int i = 0; i < 1000; i++)
            if (vow_microtask(loop, job, NULL) != 0) return 4;
        vow_loop_run(loop, VOW_RUN_NOWAIT);
    }
    report("batch", n / 1000 * 1000, now_ns() - t0);

    /* chain */
    ran = 0;
    chain_left = n;
    t0 = now_ns();
    if (vow_microtask(loop, chain_job, NULL) != 0) return 4;
    vow_loop_run(loop, VOW_RUN_NOWAIT);
    report("chain", n, now_ns() - t0);

    /* burst */
    ran = 0;
    t0 = now_ns();
    for (long i = 0; i < n; i++)
        if (vow_microtask(loop, job, NULL) != 0) return 4;
    vow_loop_run(loop, VOW_RUN_NOWAIT);
    report("burst", n, now_ns() - t0);

    return vow_loop_close(loop) == 0 ? 0 : 4;
}
