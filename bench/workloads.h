/* bench/workloads.h - the vow workloads (workloads.c), run by bench.c. */
#ifndef VOW_BENCH_WORKLOADS_H
#define VOW_BENCH_WORKLOADS_H

#include <vow.h>

#include "bench.h"

int bench_w1(const bench_args *a, vow_loop_t *loop);
int bench_w2(const bench_args *a, vow_loop_t *loop);
int bench_w3(const bench_args *a, vow_loop_t *loop);
int bench_w4(const bench_args *a, vow_loop_t *loop);
int bench_w5(const bench_args *a, vow_loop_t *loop);
int bench_w6(const bench_args *a, vow_loop_t *loop);
int bench_w7(const bench_args *a, vow_loop_t *loop);
/* W10 (a->w 10) and W10r (a->w 110): bench/threads.c. */
int bench_w10(const bench_args *a, vow_loop_t *loop);
/* W11a (a->w 211), W11b (511) and W11c (311): bench/coro.c. */
int bench_w11(const bench_args *a, vow_loop_t *loop);
/* W12a (a->w 212) and W12b (512): bench/net.c. */
int bench_w12(const bench_args *a, vow_loop_t *loop);

#endif /* VOW_BENCH_WORKLOADS_H */
