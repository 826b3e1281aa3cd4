/* bench/floor_libev.c - the bare libev floor for W4 and W5: the same work in plain libev
 * callbacks, one ev_timer per timer in one array, no promises, no ordering guarantees for
 * equal deadlines (libev's 4-heap), timers measured from the loop's cached time (libev's
 * rule; vow and Node read the clock per timer).
 *
 *   floor-libev <w4|w5> [N] [--inject-wrong]     (W1-W3, W6-W7 exit 3: no floor here)
 *
 * --inject-wrong: one timer fewer is started, so the count the check expects never comes.
 */
#include <ev.h>
#include <inttypes.h>

#include "bench.h"

static struct {
    long fired;
    uint64_t sum;
} st;

static void fire(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop;
    (void)revents;
    st.fired++;
    st.sum += (uintptr_t)w->data;
}

/* Starts `n` timers (one fewer with --inject-wrong) and runs the loop until they fired.
 * *ns_out: the wall time taken, *cpu_out: the CPU time. */
static int run_timers(const bench_args *a, struct ev_loop *loop, double (*delay_s)(long i),
                      uint64_t *ns_out, uint64_t *cpu_out) {
    uint64_t c0 = bench_cpu_ns(), t0 = bench_wall_ns();
    ev_now_update(loop); /* after t0: no timer can be due before t0 + its delay */
    ev_timer *t = malloc((size_t)a->n * sizeof *t);
    if (t == NULL) {
        fprintf(stderr, "W%d libev: out of memory\n", a->w);
        return BENCH_EXIT_ERROR;
    }
    long set = a->inject_wrong ? a->n - 1 : a->n;
    for (long i = 0; i < set; i++) {
        ev_timer_init(&t[i], fire, delay_s(i), 0.);
        t[i].data = (void *)(uintptr_t)i;
        ev_timer_start(loop, &t[i]);
    }
    ev_run(loop, 0);
    *cpu_out = bench_cpu_ns() - c0;
    *ns_out = bench_wall_ns() - t0;
    free(t);
    return 0;
}

static double w4_delay(long i) { return (double)bench_w4_delay(i) / 1e3; }
static double w5_delay(long i) {
    (void)i;
    return 0.1;
}

static int check(const bench_args *a) {
    uint64_t want_sum = (uint64_t)a->n * (uint64_t)(a->n - 1) / 2;
    if (st.fired != a->n || st.sum != want_sum)
        return bench_wrong(
            a, "%ld timers fired (ids summing to %" PRIu64 "), expected %ld (%" PRIu64 ")",
            st.fired, st.sum, a->n, want_sum);
    return 0;
}

int main(int argc, char **argv) {
    bench_args a;
    if (bench_parse(argc, argv, "libev", &a) != 0) return BENCH_EXIT_USAGE;
    if (a.w != 4 && a.w != 5) return bench_unsupported(&a);
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    if (loop == NULL) {
        fprintf(stderr, "floor-libev: ev_loop_new failed\n");
        return BENCH_EXIT_ERROR;
    }
    uint64_t ns, cpu;
    int rc = run_timers(&a, loop, a.w == 4 ? w4_delay : w5_delay, &ns, &cpu);
    ev_loop_destroy(loop);
    if (rc != 0) return rc;
    if ((rc = check(&a)) != 0) return rc;
    double ms = (double)ns / 1e6;
    if (a.w == 4) {
        /* 1 ms of slack: timers are kept in milliseconds by vow and Node, in doubles here. */
        uint64_t longest = bench_w4_delay(a.n > 1000 ? 1000 : a.n - 1);
        if (ms + 1.0 < (double)longest)
            return bench_wrong(&a, "all timers fired within %.1f ms; the longest is %" PRIu64 " ms",
                               ms, longest);
        bench_report(&a, (double)cpu / (double)a.n, ms);
    } else {
        if (ms + 1.0 < 100.0)
            return bench_wrong(&a, "the sleeps ended after %.1f ms, before 100 ms", ms);
        bench_report(&a, ms - 100.0, ms);
    }
    return 0;
}
