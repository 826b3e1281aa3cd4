/* bench/bench.h - what the C benchmark programs share: the command line, clocks, peak
 * RSS, the report line and the wrong-result exit. Header-only, so that each program is one
 * translation unit plus what it measures. Not part of vow's API: the vow workloads use
 * vow's public headers only.
 *
 * Every program takes the same arguments:   <prog> <w1..w11s> [N] [--inject-wrong]
 * and prints one line on stdout (STYLE.md 14):
 *   W1 vow n=1000000 ns_per_step=71.3 total_ms=71.3 rss_kb=41212
 * A wrong result prints "W1 vow: wrong result: ..." on stderr and exits 1; bad usage
 * exits 2; an unsupported workload (a floor that sets none) exits 3; a failure that is not
 * a wrong answer (out of memory, a loop that cannot be made) exits 4.
 */
#ifndef VOW_BENCH_H
#define VOW_BENCH_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

enum {
    BENCH_EXIT_WRONG = 1,
    BENCH_EXIT_USAGE = 2,
    BENCH_EXIT_UNSUPPORTED = 3,
    BENCH_EXIT_ERROR = 4
};

/* The workloads: W1-W5 issue 7, W6-W7 issue 14, W10 and W10r issue 15, W11a, W11b, W11c and
 * W11s issue 16. `id` is what a program switches on (bench_args.w): the number, plus 100 for
 * an "r" variant, 200 for "a", 300 for "c", 400 for "s", 500 for "b". */
typedef struct bench_workload {
    const char *name; /* as on the command line, after the w: "1", "10r" */
    int id;
    long default_n;
    const char *metric; /* what the report line measures, in the workload's unit */
} bench_workload;
static const bench_workload bench_workloads[] = {
    {"1", 1, 1000000, "ns_per_step"},      {"2", 2, 1000000, "ns_per_promise"},
    {"3", 3, 100000, "ns_per_round"},      {"4", 4, 1000000, "cpu_ns_per_timer"},
    {"5", 5, 100000, "overhead_ms"},       {"6", 6, 1000000, "ns_per_item"},
    {"7", 7, 100000, "ns_per_task"},       {"10", 10, 100000, "ns_per_job"},
    {"10r", 110, 100000, "ns_per_settle"}, {"11a", 211, 1000000, "ns_per_await"},
    {"11c", 311, 1000000, "ns_per_step"},  {"11s", 411, 10000000, "ns_per_switch"},
    {"11b", 511, 1000000, "ns_per_await"},
};
enum { BENCH_WORKLOADS = sizeof bench_workloads / sizeof bench_workloads[0] };

static inline const bench_workload *bench_workload_of(int id) {
    for (int i = 0; i < BENCH_WORKLOADS; i++)
        if (bench_workloads[i].id == id) return &bench_workloads[i];
    return NULL;
}

typedef struct bench_args {
    int w; /* a bench_workload id */
    long n;
    int inject_wrong; /* make the workload compute a wrong answer: its check must fire */
    const char *system;
} bench_args;

static inline void bench_usage(const char *prog) {
    fprintf(stderr,
            "usage: %s <w1|w2|w3|w4|w5|w6|w7|w10|w10r|w11a|w11b|w11c|w11s> [N] [--inject-wrong]\n",
            prog);
}

static inline int bench_parse(int argc, char **argv, const char *system, bench_args *a) {
    memset(a, 0, sizeof *a);
    a->system = system;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        int named = 0;
        if (s[0] == 'w' || s[0] == 'W')
            for (int k = 0; k < BENCH_WORKLOADS; k++)
                if (strcmp(s + 1, bench_workloads[k].name) == 0) {
                    a->w = bench_workloads[k].id;
                    named = 1;
                }
        if (named) continue;
        if (strcmp(s, "--inject-wrong") == 0) {
            a->inject_wrong = 1;
        } else {
            char *end;
            long n = strtol(s, &end, 10);
            if (*s == '\0' || *end != '\0' || n < 1) {
                bench_usage(argv[0]);
                return -1;
            }
            a->n = n;
        }
    }
    if (a->w == 0) {
        bench_usage(argv[0]);
        return -1;
    }
    if (a->n == 0) a->n = bench_workload_of(a->w)->default_n;
    return 0;
}

static inline uint64_t bench_wall_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* User + system CPU time of the whole process. */
static inline uint64_t bench_cpu_ns(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000u +
           ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000u;
}

/* Peak resident set size of the process so far, in KiB: Linux's VmHWM, the high-water mark
 * of this program's own memory. Not ru_maxrss: Linux carries it across execve, so a program
 * started by bench/compare.py reported the Python driver's peak (about 16 MiB) whenever its
 * own was smaller. ru_maxrss where /proc is not there. */
static inline long bench_rss_kb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (f != NULL) {
        char line[256];
        long kb = -1;
        while (kb < 0 && fgets(line, sizeof line, f) != NULL)
            if (strncmp(line, "VmHWM:", 6) == 0) kb = strtol(line + 6, NULL, 10);
        fclose(f);
        if (kb >= 0) return kb;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* Prints the report line. `metric` is in the workload's unit (bench_workloads). */
static inline void bench_report(const bench_args *a, double metric, double total_ms) {
    const bench_workload *wl = bench_workload_of(a->w);
    printf("W%s %s n=%ld %s=%.1f total_ms=%.1f rss_kb=%ld\n", wl->name, a->system, a->n, wl->metric,
           metric, total_ms, bench_rss_kb());
    fflush(stdout);
}

/* Says what is wrong and returns the exit code for a wrong result. */
static inline int bench_wrong(const bench_args *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static inline int bench_wrong(const bench_args *a, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "W%s %s: wrong result: ", bench_workload_of(a->w)->name, a->system);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return BENCH_EXIT_WRONG;
}

static inline int bench_unsupported(const bench_args *a) {
    fprintf(stderr, "W%s %s: no such workload in this program\n", bench_workload_of(a->w)->name,
            a->system);
    return BENCH_EXIT_UNSUPPORTED;
}

/* The delay of timer i in W4: spread evenly over 0..1000 ms. */
static inline uint64_t bench_w4_delay(long i) { return (uint64_t)(i % 1001); }

/* W6: the queue's bound, and item i as the producer puts it (--inject-wrong: item 0 is put
 * as 1, so the consumer sees 1, 1, 2, ...: out of order, and the sum one too high). */
enum { BENCH_W6_BOUND = 64 };
static inline int64_t bench_w6_item(const bench_args *a, long i) {
    return a->inject_wrong && i == 0 ? 1 : (int64_t)i;
}

/* W6's check, on what the consumer saw: `count` items summing to `sum`, the first item out
 * of order at index `first_bad` (-1: none). Returns 0 or the wrong-result exit. */
static inline int bench_w6_check(const bench_args *a, long count, int64_t sum, long first_bad) {
    int64_t want = (int64_t)a->n * (a->n - 1) / 2;
    if (count != a->n || sum != want || first_bad >= 0)
        return bench_wrong(a,
                           "the consumer got %ld items summing to %lld (first out of order at "
                           "%ld), expected %ld summing to %lld, in order",
                           count, (long long)sum, first_bad, a->n, (long long)want);
    return 0;
}

/* W7: at most this many tasks at once (--inject-wrong: the semaphore gets one permit more,
 * so the concurrency observed is 101). */
enum { BENCH_W7_LIMIT = 100 };
static inline uint32_t bench_w7_permits(const bench_args *a) {
    return BENCH_W7_LIMIT + (a->inject_wrong ? 1 : 0);
}

/* W7's check: `done` tasks finished, at most `peak` ran at once (the limit is reached when
 * N >= the limit). Returns 0 or the wrong-result exit. */
static inline int bench_w7_check(const bench_args *a, long done, long peak) {
    long want_peak = a->n < BENCH_W7_LIMIT ? a->n : BENCH_W7_LIMIT;
    if (done != a->n || peak != want_peak)
        return bench_wrong(a, "%ld tasks done, at most %ld at once; expected %ld, at most %ld",
                           done, peak, a->n, want_peak);
    return 0;
}

/* W11a, W11b and W11c: the value of step i (--inject-wrong: step 0's is 1, so the sum is one too
 * high), and the check of what the loop summed over `count` steps. */
static inline int64_t bench_w11_value(const bench_args *a, long i) {
    return a->inject_wrong && i == 0 ? 1 : (int64_t)i;
}
static inline int bench_w11_check(const bench_args *a, long count, int64_t sum) {
    int64_t want = (int64_t)a->n * (a->n - 1) / 2;
    if (count != a->n || sum != want)
        return bench_wrong(a, "%ld steps summing to %lld, expected %ld summing to %lld", count,
                           (long long)sum, a->n, (long long)want);
    return 0;
}

#endif /* VOW_BENCH_H */
