/* tests/test_async_abi.c - what a coroutine's context switch must keep across an await
 * (issue 16; the x86-64 switch is an inline asm statement, src/fiber_switch.h, whose
 * clobbers make the compiler save what it keeps in registers): many integer, double and
 * long double values live across thousands of switches between coroutines; the rounding
 * mode (MXCSR and the x87 control word) of each context its own; the stack 16-byte aligned
 * at a coroutine's start and after every landing, and the stack pointer not drifting (deep
 * recursion after thousands of switches); a signal handler that writes its stack firing
 * at a high rate during the switches; a value with a destructor handed through await's
 * short cut and its suspension.
 *
 * Criterion's failing asserts jump out of the test body: never assert on a coroutine's
 * stack. Coroutines count what went wrong in globals; the test body asserts afterwards. */
#include <criterion/criterion.h>
#include <fenv.h>
#include <signal.h>
#include <stdio.h>
#include <sys/time.h>
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "counted.h"
#include "helpers.h"

TestSuite(async_abi, .init = vow_test_setup, .fini = vow_test_teardown, .timeout = 60);

#define CTX(x) ((void *)(intptr_t)(x))

static int wrong;    /* checks that failed on a coroutine's stack */
static int finished; /* coroutines that ran to their end */

/* A value the compiler cannot fold: read through a volatile. */
static volatile int64_t seed = 12345;

/* ---- values in registers across awaits ------------------------------------------------- */

enum { ROUNDS = 2000 };

/* Twelve integers, six doubles and two long doubles computed before each await and checked
 * after it; the awaited promise is settled, so two of these coroutines take turns through
 * the job queue (each await suspends: the other's job is queued). */
static vow_result_t body_values(vow_loop_t *loop, void *arg) {
    int64_t k = (intptr_t)arg + seed;
    for (int r = 0; r < ROUNDS; r++) {
        int64_t a = k * 3 + r, b = a ^ 0x5555, c = b * 7, d = c - a, e = d + 11, f = e * e;
        int64_t g = f ^ a, h = g + b, i = h * 5, j = i - c, l = j + d, m = l ^ e;
        double x = (double)a / 3.0, y = x * 1.5, z = y - 0.25, u = z * z, v = u / 7.0, w = v + x;
        long double q = (long double)a / 3.0L, s = q * q;
        vow_outcome_t o;
        int rc = vow_await(vow_resolved(loop, vow_int(r)), &o);
        if (rc != 0 || vow_value_int(&o.value) != r) wrong++;
        vow_outcome_release(&o);
        if (a != k * 3 + r || b != (a ^ 0x5555) || c != b * 7 || d != c - a || e != d + 11 ||
            f != e * e || g != (f ^ a) || h != g + b || i != h * 5 || j != i - c || l != j + d ||
            m != (l ^ e))
            wrong++;
        if (x != (double)a / 3.0 || y != x * 1.5 || z != y - 0.25 || u != z * z || v != u / 7.0 ||
            w != v + x)
            wrong++;
        if (q != (long double)a / 3.0L || s != q * q) wrong++;
    }
    finished++;
    return vow_ok_int(k);
}

Test(async_abi, values_live_across_thousands_of_switches) {
    vow_loop_t *loop = vow_test_loop();
    wrong = finished = 0;
    vow_t *p1 = vow_async(loop, body_values, CTX(1), NULL);
    vow_t *p2 = vow_async(loop, body_values, CTX(2), NULL);
    VOW_ASSERT_CODE(vow_run(loop, vow_all(loop, (vow_t *[]){p1, p2}, 2), NULL), 0);
    VOW_ASSERT_EQ(finished, 2);
    VOW_ASSERT_EQ(wrong, 0);
    VOW_TEST_END(loop);
}

/* ---- the rounding mode: each context's own ---------------------------------------------- */

static unsigned mxcsr_rc(void) {
#if defined(__x86_64__)
    return _mm_getcsr() & 0x6000u; /* rounding control */
#else
    return 0;
#endif
}

static unsigned x87_rc(void) {
#if defined(__x86_64__)
    unsigned short cw;
    __asm__ volatile("fnstcw %0" : "=m"(cw));
    return cw & 0xc00u; /* rounding control */
#else
    return 0;
#endif
}

/* a / b now, under the rounding mode of the moment: an asm statement on x86-64, which no
 * compiler moves across fesetround (clang without -frounding-math moves a C division). */
static double div_now(double a, double b) {
#if defined(__x86_64__)
    __asm__ volatile("divsd %1, %0" : "+x"(a) : "x"(b));
    return a;
#else
    volatile double q = a / b;
    return q;
#endif
}

/* Sets its own rounding mode (arg), then checks it after every await and that 1/3 rounds
 * as that mode says, in double (SSE) and long double (x87). */
static vow_result_t body_rounding(vow_loop_t *loop, void *arg) {
    int mode = (int)(intptr_t)arg;
    fesetround(mode);
    unsigned m = mxcsr_rc(), x = x87_rc();
    volatile double one = 1.0, three = 3.0;
    volatile long double lone = 1.0L, lthree = 3.0L;
    double down = 0, up = 0;
    long double ldown = 0, lup = 0;
    for (int r = 0; r < 500; r++) {
        int rc = vow_await(vow_resolved(loop, vow_int(r)), NULL);
        if (rc != 0 || fegetround() != mode || mxcsr_rc() != m || x87_rc() != x) wrong++;
        double t = div_now(one, three);
        long double lt = lone / lthree;
        if (r == 0) down = up = t, ldown = lup = lt;
        if (t != (mode == FE_UPWARD ? up : down) || lt != (mode == FE_UPWARD ? lup : ldown))
            wrong++;
    }
    fesetround(FE_TONEAREST);
    finished++;
    return vow_ok_none();
}

/* One coroutine rounds upward, one downward, one to nearest; the loop's own context (the
 * test body) keeps to-nearest throughout. */
Test(async_abi, each_context_keeps_its_rounding_mode) {
    vow_loop_t *loop = vow_test_loop();
    wrong = finished = 0;
    unsigned m = mxcsr_rc(), x = x87_rc();
    vow_t *p[3] = {vow_async(loop, body_rounding, CTX(FE_UPWARD), NULL),
                   vow_async(loop, body_rounding, CTX(FE_DOWNWARD), NULL),
                   vow_async(loop, body_rounding, CTX(FE_TONEAREST), NULL)};
    VOW_ASSERT_EQ(fegetround(), FE_TONEAREST);
    VOW_ASSERT_EQ(mxcsr_rc(), m);
    VOW_ASSERT_EQ(x87_rc(), x);
    VOW_ASSERT_CODE(vow_run(loop, vow_all(loop, p, 3), NULL), 0);
    VOW_ASSERT_EQ(fegetround(), FE_TONEAREST);
    VOW_ASSERT_EQ(mxcsr_rc(), m);
    VOW_ASSERT_EQ(x87_rc(), x);
    VOW_ASSERT_EQ(finished, 3);
    VOW_ASSERT_EQ(wrong, 0);
    /* The checks can fail: an upward and a downward 1/3 differ (not under valgrind, whose
     * arithmetic rounds to nearest whatever the mode says). */
    if (RUNNING_ON_VALGRIND) {
        VOW_TEST_END(loop);
        return;
    }
    fesetround(FE_UPWARD);
    double up = div_now(1.0, 3.0);
    fesetround(FE_DOWNWARD);
    double down = div_now(1.0, 3.0);
    fesetround(FE_TONEAREST);
    cr_assert(up != down);
    VOW_TEST_END(loop);
}

/* ---- alignment and the stack pointer ----------------------------------------------------- */

/* 1 when this frame's 16-byte aligned local is aligned: the compiler places it assuming
 * the ABI's alignment at the call, so a misaligned stack shows here. */
__attribute__((noinline)) static int aligned_here(void) {
    _Alignas(16) volatile char buf[16];
    buf[0] = 1;
    return ((uintptr_t)buf & 15u) == 0;
}

/* Recursion with 1 KiB frames, `depth` deep: the sum of what each frame wrote. */
__attribute__((noinline)) static long deep(int depth) {
    volatile char frame[1024];
    for (size_t i = 0; i < sizeof frame; i += 64) frame[i] = (char)depth;
    long below = depth > 0 ? deep(depth - 1) : 0;
    return below + frame[0] + frame[512];
}

static vow_result_t body_align(vow_loop_t *loop, void *arg) {
    (void)arg;
    if (!aligned_here()) wrong++;
    for (int r = 0; r < 5000; r++) {
        if (vow_await(vow_resolved(loop, vow_int(r)), NULL) != 0) wrong++;
        if (!aligned_here()) wrong++;
    }
    /* A stack pointer off by a few bytes per switch would have moved by 5000 times that;
     * 40 KiB of frames fits a 64 KiB stack only if it has not. */
    long want = 0;
    for (int d = 40; d >= 0; d--) want += 2 * (char)d;
    if (deep(40) != want) wrong++;
    finished++;
    return vow_ok_none();
}

Test(async_abi, stack_aligned_and_not_drifting_after_thousands_of_switches) {
    vow_loop_t *loop = vow_test_loop();
    wrong = finished = 0;
    vow_t *p1 = vow_async(loop, body_align, NULL, NULL);
    vow_t *p2 = vow_async(loop, body_align, NULL, NULL);
    VOW_ASSERT_CODE(vow_run(loop, vow_all(loop, (vow_t *[]){p1, p2}, 2), NULL), 0);
    VOW_ASSERT_EQ(finished, 2);
    VOW_ASSERT_EQ(wrong, 0);
    VOW_TEST_END(loop);
}

/* ---- signals during the switches ----------------------------------------------------------- */

static volatile sig_atomic_t signals;

/* Writes 512 bytes of whatever stack it runs on (a coroutine's, or the loop's), as a
 * handler does, at any instruction of a switch. */
static void on_alarm(int sig) {
    (void)sig;
    volatile char scratch[512];
    for (size_t i = 0; i < sizeof scratch; i++) scratch[i] = (char)0xa5;
    signals = signals + 1;
}

static vow_result_t body_signals(vow_loop_t *loop, void *arg) {
    int64_t k = (intptr_t)arg + seed;
    int r = 0;
    /* Until 2,000 signals came (at 20 us apart) or 200,000 rounds. */
    for (; r < 200000 && signals < 2000; r++) {
        int64_t a = k + r, b = a * 3, c = b ^ 0x7777, d = c + a;
        double x = (double)a * 0.5;
        if (vow_await(vow_resolved(loop, vow_int(r)), NULL) != 0) wrong++;
        if (b != a * 3 || c != (b ^ 0x7777) || d != c + a || x != (double)a * 0.5) wrong++;
    }
    finished++;
    return vow_ok_int(r);
}

Test(async_abi, signals_at_a_high_rate_during_switches) {
    vow_loop_t *loop = vow_test_loop();
    wrong = finished = 0;
    signals = 0;
    struct sigaction sa = {.sa_handler = on_alarm, .sa_flags = SA_RESTART}, old;
    sigemptyset(&sa.sa_mask);
    cr_assert(sigaction(SIGALRM, &sa, &old) == 0);
    struct itimerval it = {.it_interval = {0, 20}, .it_value = {0, 20}}, off = {0};
    cr_assert(setitimer(ITIMER_REAL, &it, NULL) == 0);
    vow_t *p1 = vow_async(loop, body_signals, CTX(1), NULL);
    vow_t *p2 = vow_async(loop, body_signals, CTX(2), NULL);
    int rc = vow_run(loop, vow_all(loop, (vow_t *[]){p1, p2}, 2), NULL);
    setitimer(ITIMER_REAL, &off, NULL);
    signal(SIGALRM, SIG_IGN); /* a signal still pending (valgrind delivers late) goes */
    sigaction(SIGALRM, &old, NULL);
    VOW_ASSERT_CODE(rc, 0);
    VOW_ASSERT_EQ(finished, 2);
    VOW_ASSERT_EQ(wrong, 0);
    cr_assert(signals > 0, "no signal came");
    VOW_TEST_END(loop);
}

/* ---- a value with a destructor through await ---------------------------------------------- */

static obj *handed;

/* Awaits a promise holding an object (boxed: it has a destructor) twice: pending (the
 * suspension) and already settled while resumed by a job (the short cut). */
static vow_result_t body_owned(vow_loop_t *loop, void *arg) {
    vow_t *src = arg;
    vow_outcome_t o;
    if (vow_await(src, &o) != 0 || vow_value_ptr(&o.value) != handed) wrong++;
    vow_outcome_release(&o);
    if (obj_freed[handed->id] != 0) wrong++; /* the test still holds a reference */
    vow_t *again = vow_resolved(loop, vow_ptr(obj_new(), obj_free));
    if (vow_await(again, &o) != 0 || vow_value_ptr(&o.value) == NULL) wrong++;
    obj *mine = vow_value_ptr(&o.value);
    if (mine != NULL && obj_freed[mine->id] != 0) wrong++; /* the outcome owns it */
    vow_outcome_release(&o);
    finished++;
    return vow_ok_none();
}

Test(async_abi, a_value_with_a_destructor_through_both_await_paths) {
    vow_loop_t *loop = vow_test_loop();
    wrong = finished = 0;
    memset(obj_freed, 0, sizeof obj_freed);
    obj_made = 0;
    vow_t *src = vow_new(loop);
    vow_t *p = vow_async(loop, body_owned, vow_ref(src), NULL);
    handed = obj_new();
    VOW_ASSERT_CODE(vow_resolve(src, vow_ptr(handed, obj_free)), 0);
    VOW_ASSERT_CODE(vow_run(loop, p, NULL), 0);
    VOW_ASSERT_EQ(finished, 1);
    VOW_ASSERT_EQ(wrong, 0);
    VOW_ASSERT_EQ(obj_freed[0], 0);
    vow_unref(src);
    VOW_ASSERT_EQ(obj_freed[0], 1);
    VOW_ASSERT_EQ(obj_freed[1], 1);
    VOW_TEST_END(loop);
}
