/* bench/bench.c - vow-bench: runs one workload on vow and prints its line.
 *
 *   vow-bench <w1|w2|w3|w4|w5|w6|w7|w10|w10r|w11a|w11b|w11c|w12a|w12b> [N] [--inject-wrong]
 *
 * One workload per process, so each measurement starts from a fresh heap (the driver,
 * bench/compare.py, runs every cell as its own process). The loop is made before the
 * clock starts and freed after it stops.
 */
#include "workloads.h"

int main(int argc, char **argv) {
    bench_args a;
    if (bench_parse(argc, argv, "vow", &a) != 0) return BENCH_EXIT_USAGE;
    vow_loop_t *loop;
    int rc = vow_loop_new(&loop, VOW_BACKEND_AUTO);
    if (rc != 0) {
        fprintf(stderr, "vow-bench: vow_loop_new: %s\n", vow_strerror(rc));
        return BENCH_EXIT_ERROR;
    }
    static int (*const run[8])(const bench_args *, vow_loop_t *) = {
        NULL, bench_w1, bench_w2, bench_w3, bench_w4, bench_w5, bench_w6, bench_w7};
    if (a.w == 10 || a.w == 110)
        rc = bench_w10(&a, loop);
    else if (a.w == 211 || a.w == 311 || a.w == 511)
        rc = bench_w11(&a, loop);
    else if (a.w == 212 || a.w == 512)
        rc = bench_w12(&a, loop);
    else if (a.w > 7)
        rc = bench_unsupported(&a); /* W11s: bench/fiber_switch.c */
    else
        rc = run[a.w](&a, loop);
    vow_loop_free(loop); /* forced: a workload that went wrong may leave work behind */
    return rc;
}
