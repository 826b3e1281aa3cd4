/* tests/helpers.h - the test fixture every Criterion test uses.
 *
 * - A counting allocator installed through vow_replace_allocator: it counts vow's live
 *   allocations and can fail the Nth one (for the out-of-memory tests).
 * - vow_test_loop(): a loop on the backend the environment asks for (VOW_BACKEND, set by
 *   ctest once per backend); the test fails unless the loop really uses it.
 * - VOW_TEST_END(loop): checks the loop's invariants (vow_loop_verify), closes the loop (it must close cleanly: nothing left running) and
 *   asserts that no vow allocation is live, inside the test body, because Criterion 2.4
 *   reports PASS for a failed assert in .fini (STYLE.md section 12).
 *
 * - Assertions that print both values on failure (VOW_ASSERT_EQ, VOW_ASSERT_CODE,
 *   VOW_ASSERT_STATE, VOW_ASSERT_STR_EQ): Criterion's cr_assert_eq only says that the
 *   expression is false.
 * - A rejection hook that records every report (record_rejection, `rejections`).
 * - vow_test_mono_s: the monotonic clock in seconds.
 * - record_code: a vow_catch_ex handler that stores the error's code in *(int *)ctx.
 * - vow_test_exit_at_eof(fds, code): a forked child that exits once a pipe reaches its end.
 * - vow_test_sweep_allocations(program, check): the out-of-memory sweep (each allocation of
 *   a program failed in turn).
 *
 * Use: TestSuite(name, .init = vow_test_setup, .fini = vow_test_teardown, .timeout = 10);
 *
 * The other shared headers: counted.h (heap objects and destructors whose calls are
 * counted), settle.h (promises a timer settles later, for the combinator tests),
 * net_helpers.h (a connected TCP pair, a socket run to its end).
 */
#ifndef VOW_TEST_HELPERS_H
#define VOW_TEST_HELPERS_H

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vow.h"

/* ---- counting allocator ---------------------------------------------------------- */
#define VOW_TEST_HDR 16 /* keeps max_align_t alignment */

static atomic_long vow_test_live;   /* live allocations */
static atomic_long vow_test_total;  /* allocations since setup */
static atomic_long vow_test_fail_n; /* fail the allocation with this ordinal (1-based); 0 = never */
static atomic_long vow_test_failed; /* how many allocations were failed */

static inline int vow_test__should_fail(void) {
    long n = atomic_fetch_add(&vow_test_total, 1) + 1;
    long f = atomic_load(&vow_test_fail_n);
    if (f != 0 && n == f) {
        atomic_fetch_add(&vow_test_failed, 1);
        return 1;
    }
    return 0;
}

static inline void *vow_test__malloc(size_t n) {
    if (vow_test__should_fail()) return NULL;
    unsigned char *b = malloc(n + VOW_TEST_HDR);
    if (b == NULL) return NULL;
    memcpy(b, &n, sizeof n);
    atomic_fetch_add(&vow_test_live, 1);
    return b + VOW_TEST_HDR;
}

static inline void vow_test__free(void *p) {
    if (p == NULL) return;
    atomic_fetch_sub(&vow_test_live, 1);
    free((unsigned char *)p - VOW_TEST_HDR);
}

static inline void *vow_test__realloc(void *p, size_t n) {
    if (p == NULL) return vow_test__malloc(n);
    if (vow_test__should_fail()) return NULL;
    unsigned char *b = realloc((unsigned char *)p - VOW_TEST_HDR, n + VOW_TEST_HDR);
    if (b == NULL) return NULL;
    memcpy(b, &n, sizeof n);
    return b + VOW_TEST_HDR;
}

static inline void *vow_test__calloc(size_t c, size_t n) {
    if (n != 0 && c > SIZE_MAX / n) return NULL;
    void *p = vow_test__malloc(c * n);
    if (p != NULL) memset(p, 0, c * n);
    return p;
}

static inline long vow_test_live_allocs(void) { return atomic_load(&vow_test_live); }
static inline long vow_test_alloc_total(void) { return atomic_load(&vow_test_total); }
static inline long vow_test_failed_allocs(void) { return atomic_load(&vow_test_failed); }
/* Fail the n-th allocation counted from the last vow_test_reset_counts (1-based); 0: off. */
static inline void vow_test_fail_at(long n) { atomic_store(&vow_test_fail_n, n); }
static inline void vow_test_reset_counts(void) {
    atomic_store(&vow_test_total, 0);
    atomic_store(&vow_test_failed, 0);
    atomic_store(&vow_test_fail_n, 0);
}

static inline void vow_test_setup(void) {
    vow_test_reset_counts();
    atomic_store(&vow_test_live, 0);
    cr_assert_eq(vow_replace_allocator(vow_test__malloc, vow_test__realloc, vow_test__calloc,
                                       vow_test__free),
                 0);
}

static inline void vow_test_teardown(void) {
    /* Nothing to check here: .fini failures are not reported by Criterion 2.4. */
}

/* The backend bit the environment asks for, or 0 when VOW_BACKEND is unset. */
static inline unsigned vow_test_expected_backend(void) {
    const char *b = getenv("VOW_BACKEND");
    if (b == NULL || *b == '\0') return 0;
    if (strcmp(b, "select") == 0) return VOW_BACKEND_SELECT;
    if (strcmp(b, "poll") == 0) return VOW_BACKEND_POLL;
    if (strcmp(b, "epoll") == 0) return VOW_BACKEND_EPOLL;
    if (strcmp(b, "kqueue") == 0) return VOW_BACKEND_KQUEUE;
    return 0xffffffffu;
}

/* A new loop on the backend VOW_BACKEND names; fails the test unless it is that one. */
static inline vow_loop_t *vow_test_loop(void) {
    vow_loop_t *loop = NULL;
    int rc = vow_loop_new(&loop, VOW_BACKEND_AUTO);
    cr_assert_eq(rc, 0, "vow_loop_new: %s", vow_strerror(rc));
    unsigned want = vow_test_expected_backend();
    if (want != 0)
        cr_assert_eq(vow_loop_backend(loop), want, "backend %u, asked for %u",
                     vow_loop_backend(loop), want);
    return loop;
}

/* vow_test_loop with VOW_POOL=off (read when a loop is made): every promise and record of
 * that loop is an allocation of its own. */
static inline vow_loop_t *vow_test_loop_without_pools(void) {
    cr_assert_eq(setenv("VOW_POOL", "off", 1), 0);
    vow_loop_t *loop = vow_test_loop();
    unsetenv("VOW_POOL");
    return loop;
}

/* Runs a scenario whose loops are made with VOW_POOL=off. */
static inline void vow_test_without_pools(void (*scenario)(void)) {
    cr_assert_eq(setenv("VOW_POOL", "off", 1), 0);
    scenario();
    unsetenv("VOW_POOL");
}

/* ---- assertions that print both values ---------------------------------------------- */
/* Each takes the value got, the value wanted and, optionally, a printf-style note:
 *   VOW_ASSERT_EQ(ok_calls, 1);
 *   VOW_ASSERT_EQ(fired[i], want[i], "fired[%d]", i);
 *   VOW_ASSERT_CODE(vow_run(loop, p, NULL), 0);     names: "got ENEVER (-5005), want OK (0)"
 *   VOW_ASSERT_STATE(vow_state(p), VOW_REJECTED);   names: "got PENDING, want REJECTED"
 *   VOW_ASSERT_STR_EQ(vow_error_message(e), "inner");
 * On failure the message reads `ok_calls: got 2, want 1 (note)`. Every argument is
 * evaluated once; the note only on failure. VOW_ASSERT_EQ compares as the type of `got`
 * says: an integer (signed or unsigned, 64 bits), a floating value, or a pointer (by
 * address: strings go to VOW_ASSERT_STR_EQ). */

/* " (note)" from "x" followed by a printf-style format, and its arguments; "" when the
 * format is empty. The "x" lets the macros pass a note-less call a format that is not
 * empty (as Criterion does), so the compiler checks every note's format and arguments. */
__attribute__((format(printf, 1, 2))) static inline const char *vow_test__note(const char *xfmt,
                                                                               ...) {
    static char buf[512];
    if (xfmt[1] == '\0') return "";
    va_list ap;
    va_start(ap, xfmt);
    buf[0] = ' ';
    buf[1] = '(';
    int n = vsnprintf(buf + 2, sizeof buf - 3, xfmt + 1, ap);
    va_end(ap);
    size_t len = n < 0 ? 2 : 2 + ((size_t)n < sizeof buf - 3 ? (size_t)n : sizeof buf - 4);
    buf[len] = ')';
    buf[len + 1] = '\0';
    return buf;
}

/* The first of 1 to 16 macro arguments, and the others (nothing when there is one). */
#define VOW_TEST__N(...)                                                                           \
    VOW_TEST__N_(__VA_ARGS__, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, 1, ~)
#define VOW_TEST__N_(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, n,     \
                     ...)                                                                          \
    n
#define VOW_TEST__CAT(a, b) VOW_TEST__CAT_(a, b)
#define VOW_TEST__CAT_(a, b) a##b
#define VOW_TEST__HEAD(...) VOW_TEST__CAT(VOW_TEST__HEAD_, VOW_TEST__N(__VA_ARGS__))(__VA_ARGS__)
#define VOW_TEST__HEAD_1(a) a
#define VOW_TEST__HEAD_M(a, ...) a
#define VOW_TEST__TAIL(...) VOW_TEST__CAT(VOW_TEST__TAIL_, VOW_TEST__N(__VA_ARGS__))(__VA_ARGS__)
#define VOW_TEST__TAIL_1(a)
#define VOW_TEST__TAIL_M(a, ...) __VA_ARGS__

/* The comparisons: NULL when equal, else a message about the two values (one buffer, read
 * before the next comparison). */
static char vow_test__msg[512];
static inline const char *vow_test__eq_signed(const char *what, long long got, long long want) {
    if (got == want) return NULL;
    snprintf(vow_test__msg, sizeof vow_test__msg, "%s: got %lld, want %lld", what, got, want);
    return vow_test__msg;
}
static inline const char *vow_test__eq_unsigned(const char *what, unsigned long long got,
                                                unsigned long long want) {
    if (got == want) return NULL;
    snprintf(vow_test__msg, sizeof vow_test__msg, "%s: got %llu, want %llu", what, got, want);
    return vow_test__msg;
}
static inline const char *vow_test__eq_double(const char *what, double got, double want) {
    if (got == want) return NULL;
    snprintf(vow_test__msg, sizeof vow_test__msg, "%s: got %.17g, want %.17g", what, got, want);
    return vow_test__msg;
}
static inline const char *vow_test__eq_ptr(const char *what, const void *got, const void *want) {
    if (got == want) return NULL;
    snprintf(vow_test__msg, sizeof vow_test__msg, "%s: got %p, want %p", what, got, want);
    return vow_test__msg;
}
static inline const char *vow_test__eq_code(const char *what, int got, int want) {
    if (got == want) return NULL;
    snprintf(vow_test__msg, sizeof vow_test__msg, "%s: got %s (%d), want %s (%d)", what,
             vow_err_name(got), got, vow_err_name(want), want);
    return vow_test__msg;
}
static inline const char *vow_test_state_name(vow_state_t s) {
    switch (s) {
    case VOW_PENDING: return "PENDING";
    case VOW_FULFILLED: return "FULFILLED";
    case VOW_REJECTED: return "REJECTED";
    }
    return "(not a state)";
}
static inline const char *vow_test__eq_state(const char *what, vow_state_t got, vow_state_t want) {
    if (got == want) return NULL;
    snprintf(vow_test__msg, sizeof vow_test__msg, "%s: got %s (%d), want %s (%d)", what,
             vow_test_state_name(got), (int)got, vow_test_state_name(want), (int)want);
    return vow_test__msg;
}
static inline const char *vow_test__eq_str(const char *what, const char *got, const char *want) {
    if (got == want || (got != NULL && want != NULL && strcmp(got, want) == 0)) return NULL;
    snprintf(vow_test__msg, sizeof vow_test__msg, "%s: got %s%s%s, want %s%s%s", what,
             got ? "\"" : "", got ? got : "NULL", got ? "\"" : "", want ? "\"" : "",
             want ? want : "NULL", want ? "\"" : "");
    return vow_test__msg;
}

/* The comparison function for the type of x (enums are one of the integer types). */
#define VOW_TEST__EQ_FN(x)                                                                         \
    _Generic((x), _Bool                                                                            \
             : vow_test__eq_signed, char                                                           \
             : vow_test__eq_signed, signed char                                                    \
             : vow_test__eq_signed, short                                                          \
             : vow_test__eq_signed, int                                                            \
             : vow_test__eq_signed, long                                                           \
             : vow_test__eq_signed, long long                                                      \
             : vow_test__eq_signed, unsigned char                                                  \
             : vow_test__eq_unsigned, unsigned short                                               \
             : vow_test__eq_unsigned, unsigned int                                                 \
             : vow_test__eq_unsigned, unsigned long                                                \
             : vow_test__eq_unsigned, unsigned long long                                           \
             : vow_test__eq_unsigned, float                                                        \
             : vow_test__eq_double, double                                                         \
             : vow_test__eq_double, long double                                                    \
             : vow_test__eq_double, default                                                        \
             : vow_test__eq_ptr)

/* __VA_ARGS__: the value wanted, then the note's format and arguments if any. */
#define VOW_TEST__ASSERT(fn, what, got, ...)                                                       \
    do {                                                                                           \
        const char *vow_test_fail_ = fn(what, got, VOW_TEST__HEAD(__VA_ARGS__));                   \
        cr_assert(vow_test_fail_ == NULL, "%s%s", vow_test_fail_,                                  \
                  vow_test__note("x" VOW_TEST__TAIL(__VA_ARGS__)));                                \
    } while (0)

/* VOW_ASSERT_EQ(got, want [, fmt, ...]) */
#define VOW_ASSERT_EQ(got, ...) VOW_TEST__ASSERT(VOW_TEST__EQ_FN(got), #got, (got), __VA_ARGS__)
/* VOW_ASSERT_CODE(got, want [, fmt, ...]): vow error codes, printed by name. */
#define VOW_ASSERT_CODE(got, ...) VOW_TEST__ASSERT(vow_test__eq_code, #got, (got), __VA_ARGS__)
/* VOW_ASSERT_STATE(got, want [, fmt, ...]): promise states, printed by name. */
#define VOW_ASSERT_STATE(got, ...) VOW_TEST__ASSERT(vow_test__eq_state, #got, (got), __VA_ARGS__)
/* VOW_ASSERT_STR_EQ(got, want [, fmt, ...]): strings by content (NULL equals only NULL). */
#define VOW_ASSERT_STR_EQ(got, ...) VOW_TEST__ASSERT(vow_test__eq_str, #got, (got), __VA_ARGS__)

/* ---- a rejection hook that records every report ----------------------------------- */
/* vow_set_rejection_hook(loop, record_rejection, ctx) (or record_rejections(loop)): each
 * report counts in `rejections` and the first VOW_TEST_REPORTS of them are kept in order.
 * The promises and errors are borrowed: compare them, do not use them. */
enum { VOW_TEST_REPORTS = 16 };

typedef struct vow_test_report {
    vow_t *p;         /* borrowed, compared only */
    vow_error_t *err; /* borrowed, compared only */
    int code;         /* vow_error_code(err) when reported */
    vow_rejection_event_t event;
    void *ctx; /* the hook's ctx */
} vow_test_report;

static struct {
    int calls;                            /* every report, of either event */
    int unhandled;                        /* VOW_REJECTION_UNHANDLED reports */
    int handled_late;                     /* VOW_REJECTION_HANDLED_LATE reports */
    vow_test_report last;                 /* the last report */
    vow_test_report last_unhandled;       /* the last VOW_REJECTION_UNHANDLED report */
    vow_test_report at[VOW_TEST_REPORTS]; /* the first reports, in order */
} rejections;

static inline void record_rejection(vow_loop_t *loop, vow_t *p, vow_error_t *err,
                                    vow_rejection_event_t event, void *ctx) {
    (void)loop;
    vow_test_report r = {p, err, vow_error_code(err), event, ctx};
    if (rejections.calls < VOW_TEST_REPORTS) rejections.at[rejections.calls] = r;
    rejections.calls++;
    rejections.last = r;
    if (event == VOW_REJECTION_UNHANDLED) {
        rejections.unhandled++;
        rejections.last_unhandled = r;
    } else {
        rejections.handled_late++;
    }
}

/* Installs record_rejection on loop (ctx NULL). */
static inline void record_rejections(vow_loop_t *loop) {
    VOW_ASSERT_CODE(vow_set_rejection_hook(loop, record_rejection, NULL), 0);
}

/* Forgets every report, for a second round of a scenario. */
static inline void rejections_reset(void) { memset(&rejections, 0, sizeof rejections); }

/* CLOCK_MONOTONIC in seconds (how long a run waited). */
static inline double vow_test_mono_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A vow_catch_ex handler: stores the error's code in *(int *)ctx and fulfils with none. */
static inline vow_result_t record_code(vow_loop_t *loop, vow_error_t *err, void *ctx) {
    (void)loop;
    *(int *)ctx = vow_error_code(err);
    return vow_ok_none();
}

/* In a forked child: closes fds[1], reads fds[0] (the pipe's read end) until end of file (the
 * parent closed its write end, or died), then exits with `code`. */
static inline _Noreturn void vow_test_exit_at_eof(int fds[2], int code) {
    char c;
    close(fds[1]);
    while (read(fds[0], &c, 1) > 0) {
    }
    _exit(code);
}

/* ---- the out-of-memory sweep -------------------------------------------------------- */
/* Runs program() once as is (it must answer 0), then once for each allocation that run
 * made, k = 1..total, with the k-th allocation failing: each such run must answer 0 or
 * VOW_ENOMEM and at least one VOW_ENOMEM. No run may leave a vow allocation live.
 * check(k), when not NULL, is the caller's own checks after each run (k 0: the normal run);
 * program() resets whatever counters check reads. */
static inline void vow_test_sweep_allocations(int (*program)(void), void (*check)(long k)) {
    int rc = program();
    VOW_ASSERT_CODE(rc, 0, "normal run");
    if (check != NULL) check(0);
    VOW_ASSERT_EQ(vow_test_live_allocs(), 0L);
    long total = vow_test_alloc_total();
    cr_assert_gt(total, 0);
    long enomem_runs = 0;
    for (long k = 1; k <= total; k++) {
        vow_test_reset_counts();
        vow_test_fail_at(k);
        rc = program();
        cr_assert(rc == 0 || rc == VOW_ENOMEM, "N=%ld: program returned %d (%s)", k, rc,
                  vow_strerror(rc));
        if (check != NULL) check(k);
        VOW_ASSERT_EQ(vow_test_live_allocs(), 0L, "N=%ld: allocation(s) leaked", k);
        if (rc == VOW_ENOMEM) enomem_runs++;
    }
    cr_assert_gt(enomem_runs, 0, "no run saw the failure");
    vow_test_fail_at(0);
}

/* The loop must close cleanly (nothing left running) and no vow allocation may be live. */
#define VOW_TEST_END(loop)                                                                         \
    do {                                                                                           \
        cr_assert_eq(vow_loop_verify(loop), 0); /* aborts on a broken invariant */                 \
        int vow_test_end_rc_ = vow_loop_close(loop);                                               \
        cr_assert_eq(vow_test_end_rc_, 0, "vow_loop_close: %s", vow_strerror(vow_test_end_rc_));   \
        cr_assert_eq(vow_test_live_allocs(), 0, "%ld vow allocation(s) still live",                \
                     vow_test_live_allocs());                                                      \
    } while (0)

/* For tests that end with promises still pending on purpose: forced teardown. */
#define VOW_TEST_END_FORCED(loop)                                                                  \
    do {                                                                                           \
        cr_assert_eq(vow_loop_verify(loop), 0);                                                    \
        cr_assert_eq(vow_loop_free(loop), 0);                                                      \
        cr_assert_eq(vow_test_live_allocs(), 0, "%ld vow allocation(s) still live",                \
                     vow_test_live_allocs());                                                      \
    } while (0)

#endif /* VOW_TEST_HELPERS_H */
