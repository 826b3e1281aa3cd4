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
 * W11s issue 16, W12a and W12b issue 17. `id` is what a program switches on (bench_args.w):
 * the number, plus 100 for an "r" variant, 200 for "a", 300 for "c", 400 for "s", 500 for "b". */
typedef struct bench_workload {
    const char *name; /* as on the command line, after the w: "1", "10r" */
    int id;
    long default_n;
    const char *metric; /* what the report line measures, in the workload's unit */
} bench_workload;
static const bench_workload bench_workloads[] = {
    {"1", 1, 1000000, "ns_per_step"},       {"2", 2, 1000000, "ns_per_promise"},
    {"3", 3, 100000, "ns_per_round"},       {"4", 4, 1000000, "cpu_ns_per_timer"},
    {"5", 5, 100000, "overhead_ms"},        {"6", 6, 1000000, "ns_per_item"},
    {"7", 7, 100000, "ns_per_task"},        {"10", 10, 100000, "ns_per_job"},
    {"10r", 110, 100000, "ns_per_settle"},  {"11a", 211, 1000000, "ns_per_await"},
    {"11c", 311, 1000000, "ns_per_step"},   {"11s", 411, 10000000, "ns_per_switch"},
    {"11b", 511, 1000000, "ns_per_await"},  {"12a", 212, 200000, "user_us_per_rt"},
    {"12b", 512, 100000, "user_us_per_mb"},
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
            "usage: %s <w1|w2|w3|w4|w5|w6|w7|w10|w10r|w11a|w11b|w11c|w11s|w12a|w12b> [N] "
            "[--inject-wrong]\n",
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

/* User and system CPU time of the whole process, apart (W12). */
static inline void bench_cpu_split_ns(uint64_t *user, uint64_t *sys) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    *user = (uint64_t)ru.ru_utime.tv_sec * 1000000000u + (uint64_t)ru.ru_utime.tv_usec * 1000u;
    *sys = (uint64_t)ru.ru_stime.tv_sec * 1000000000u + (uint64_t)ru.ru_stime.tv_usec * 1000u;
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

/* ---- W12: TCP echo over 127.0.0.1 (issue 17) ------------------------------------------------
 *
 * Every program runs the echo server and its clients in one process, on one loop and one
 * thread, and measures that whole process: user CPU (getrusage's ru_utime; Node's
 * process.cpuUsage().user) and, apart, system CPU, from just before the first connect to
 * the moment the last client has every byte back and checked. The server listens before
 * the clock starts; closing and teardown come after it stops.
 *
 * W12a: one connection, N round trips: the client writes a 64-byte message, reads 64 bytes
 *       back and compares them with what it sent, then writes the next.
 * W12b: 50 connections, N 4 KiB messages in all (connection k sends N / 50, one more when
 *       k < N % 50): each client writes its messages as fast as the write's back-pressure
 *       lets it, and at the same time reads the echo and compares every byte; it closes
 *       once all of it came back.
 * The server reads whatever is there (up to 64 KiB), writes it back, and reads again once
 * that write is accepted (back-pressure); at the end of the stream it closes.
 *
 * The bytes: byte j of connection k's stream is (j + k) % 251, so message i of a W12a or
 * W12b client is bench_w12_pattern() + (i * size + k) % 251, and the bytes a client gets
 * back at offset j are compared with the pattern from (j + k) % 251 (pieces of at most
 * BENCH_W12_READ bytes). --inject-wrong: the first message of connection 0 goes out with
 * its first byte one higher, so its echo differs from what the client expects there. */
enum {
    BENCH_W12A_MSG = 64,
    BENCH_W12B_MSG = 4096,
    BENCH_W12B_CONNS = 50,
    BENCH_W12_PERIOD = 251,
    BENCH_W12_READ = 65536 /* the most any read here asks for */
};

/* The pattern: BENCH_W12_PERIOD + BENCH_W12_READ bytes, byte i = i % 251 (built once). */
static inline const unsigned char *bench_w12_pattern(void) {
    static unsigned char pat[BENCH_W12_PERIOD + BENCH_W12_READ];
    if (pat[1] == 0)
        for (size_t i = 0; i < sizeof pat; i++) pat[i] = (unsigned char)(i % BENCH_W12_PERIOD);
    return pat;
}

/* What connection k expects at stream offset `off` (len <= BENCH_W12_READ bytes). */
static inline const unsigned char *bench_w12_expect(uint64_t off, int k) {
    return bench_w12_pattern() + (off + (uint64_t)k) % BENCH_W12_PERIOD;
}

/* Message i of connection k (size bytes). With --inject-wrong, message 0 of connection 0
 * is a copy in `spare` (size bytes) with its first byte one higher. */
static inline const unsigned char *bench_w12_message(const bench_args *a, long i, int k,
                                                     size_t size, unsigned char *spare) {
    const unsigned char *m = bench_w12_expect((uint64_t)i * size, k);
    if (!(a->inject_wrong && i == 0 && k == 0)) return m;
    memcpy(spare, m, size);
    spare[0]++;
    return spare;
}

/* How many W12b messages connection k sends. */
static inline long bench_w12b_count(const bench_args *a, int k) {
    return a->n / BENCH_W12B_CONNS + (k < a->n % BENCH_W12B_CONNS ? 1 : 0);
}

/* The W12 report: the metric is user CPU per round trip (W12a) or per MB (10^6 bytes sent
 * by the clients and echoed back, W12b), with the system CPU the same way after rss_kb. */
static inline void bench_w12_report(const bench_args *a, uint64_t wall_ns, uint64_t user_ns,
                                    uint64_t sys_ns) {
    const bench_workload *wl = bench_workload_of(a->w);
    double per = a->w == 212 ? (double)a->n : (double)a->n * BENCH_W12B_MSG / 1e6;
    printf("W%s %s n=%ld %s=%.3f total_ms=%.1f rss_kb=%ld sys_%s=%.3f\n", wl->name, a->system, a->n,
           wl->metric, (double)user_ns / 1e3 / per, (double)wall_ns / 1e6, bench_rss_kb(),
           wl->metric + 5, (double)sys_ns / 1e3 / per);
    fflush(stdout);
}

/* W12's check, on what the clients saw: `rounds` W12a round trips (or W12b bytes back,
 * against the `want` bytes sent), `bad` bytes that differed from what was sent. */
static inline int bench_w12_check(const bench_args *a, uint64_t got, uint64_t want, uint64_t bad) {
    if (got != want || bad != 0)
        return bench_wrong(a, "%llu %s came back (%llu bytes wrong), expected %llu, none wrong",
                           (unsigned long long)got, a->w == 212 ? "round trips" : "bytes",
                           (unsigned long long)bad, (unsigned long long)want);
    return 0;
}

#endif /* VOW_BENCH_H */
