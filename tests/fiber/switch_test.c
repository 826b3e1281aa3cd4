/* tests/fiber/switch_test.c - the hand-written context switch (src/fiber_switch.[ch]) alone:
 * a plain C program with its own main, no Criterion, no libev, no libvow. It compiles the
 * switch file itself, so it builds with any C compiler for x86-64 or AArch64 (static, for
 * qemu-aarch64-static: scripts/fiber_cross.sh).
 *
 *   cc -O2 -std=c11 -D_GNU_SOURCE tests/fiber/switch_test.c -lm -o switch_test
 *
 * src/fiber_switch.c includes "internal.h", which pulls in libev and vow's headers (absent
 * from a cross toolchain); the switch needs only <stdint.h>. So this file defines
 * internal.h's include guard before including the switch file: "internal.h" is found (in
 * src/, beside the switch file) and skipped. If that guard is ever renamed the build fails
 * at once (ev.h not found, or vow's headers), never silently.
 *
 * Checks (each runs in a forked child, so a crash, or a hang past 60 s, is one failed
 * check, not a lost run):
 *   ping_pong        main and 2 fibers, 100,000 round trips each, and a ring
 *                    main -> 1 -> 2 -> main; the order of turns is checked at every switch,
 *                    and each fiber's locals lie on its own stack
 *   callee_saved     an assembly probe loads distinct values into every callee-saved
 *                    register (x86-64: rbx rbp r12-r15; AArch64: x19-x29 and d8-d15) in each
 *                    of 3 contexts, switches, and reads them back: each context must see
 *                    its own values, whatever the others loaded
 *   register_churn   a register-heavy C computation (8 integer and 8 double accumulators
 *                    live across every switch) in 3 contexts switching in a ring, compared
 *                    with the same computation run without switching
 *   fp_control       the rounding mode is per context: each context sets its own
 *                    (fesetround) before each switch and finds it again after, in fegetround,
 *                    in MXCSR and the x87 control word (x86-64) or FPCR (AArch64), and in
 *                    the result of a division; a new fiber starts with the mode of the
 *                    context that prepared its stack
 *   alignment        at a fiber's entry and in a function it calls: 16-byte aligned frame
 *                    address and _Alignas(16) local, an aligned SSE store (x86-64) or a
 *                    NEON one (AArch64), snprintf of doubles
 *
 * Planted defects (scripts/fiber_cross.sh builds each and requires the build to FAIL):
 * every switch of this test goes through test_fswitch. On x86-64 it is a function holding
 * the library's inline switch (src/fiber_switch.h), whose hooks plant the defects; on
 * AArch64 it is a plain jump to vow__fswitch, or with -DVOW_PLANT_SWITCH=N a call of it
 * followed by code that breaks what the switch is meant to preserve:
 *   1  a callee-saved general register: x86-64, rbx left out of the switch's clobbers (so
 *      nothing saves it); AArch64, x19 comes back inverted
 *   2  the rounding mode: x86-64, the target's MXCSR and x87 control word never loaded;
 *      AArch64, FPCR comes back changed
 *   3  AArch64 only: d8 comes back inverted
 *   4  x86-64 only: a new fiber's first frame is 8 bytes off 16-byte alignment
 * Arguments: the names of the checks to run (default: all). Prints "N passed, M failed";
 * exits 1 on any failure or when no check ran.
 */
#include <fenv.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__x86_64__)
#include <immintrin.h>
#elif defined(__aarch64__)
#include <arm_neon.h>
#endif

#ifndef VOW_PLANT_SWITCH
#define VOW_PLANT_SWITCH 0
#endif
/* x86-64's planted defects live in the inline switch's own hooks (src/fiber_switch.h). */
#if defined(__x86_64__) && VOW_PLANT_SWITCH == 1
#define VOW__FSWITCH_RBX /* rbx left out of the clobbers: nothing saves it */
#elif defined(__x86_64__) && VOW_PLANT_SWITCH == 2
#define VOW__FSWITCH_LOADFPU /* the target's MXCSR and control word never loaded */
#endif

/* The switch file, compiled here: skip its "internal.h" (see the top comment). */
#define VOW_SRC_INTERNAL_H
#include "../../src/fiber_switch.c"

#if defined(VOW_FIBER_UCONTEXT)
#error "tests/fiber/switch_test.c tests the asm back end: build it without VOW_FIBER_UCONTEXT"
#endif

#define STR2(x) #x
#define STR(x) STR2(x)

#if !defined(__x86_64__)
void vow__fswitch(void **save_sp, void *to_sp);
#endif

/* ---- test_fswitch: the switch every check uses (planted defects go here) ---------------- */
void test_fswitch(void **save_sp, void *to_sp);
/* probe_switch: loads vals[] into the callee-saved registers, switches through test_fswitch,
 * stores what those registers hold after the switch into out[], restores the caller's. */
void probe_switch(void **save_sp, void *to_sp, const uint64_t *vals, uint64_t *out);

#if defined(__x86_64__)
#define PROBE_N 6
static const char *const probe_names[PROBE_N] = {"rbx", "rbp", "r12", "r13", "r14", "r15"};
#if VOW_PLANT_SWITCH == 3 || VOW_PLANT_SWITCH > 4
#error "VOW_PLANT_SWITCH: 1 (register), 2 (rounding mode) or 4 (alignment) on x86-64"
#endif
/* The library's switch is inline (src/fiber_switch.h): here it is inlined into a function
 * of its own, as src/fiber.h inlines it into vow__fiber_resume and vow__fiber_suspend, and
 * the compiler saves what the switch's clobbers tell it to. */
__attribute__((noinline)) void test_fswitch(void **save_sp, void *to_sp) {
    VOW__FSWITCH_INLINE(save_sp, to_sp);
}
__asm__(".text\n"
        ".globl probe_switch\n"
        ".type probe_switch,@function\n"
        ".p2align 4\n"
        "probe_switch:\n"
        "    pushq %rbp\n"
        "    pushq %rbx\n"
        "    pushq %r12\n"
        "    pushq %r13\n"
        "    pushq %r14\n"
        "    pushq %r15\n"
        "    pushq %rcx\n" /* out; 7 pushes: rsp 16-byte aligned for the call */
        "    movq 0(%rdx), %rbx\n"
        "    movq 8(%rdx), %rbp\n"
        "    movq 16(%rdx), %r12\n"
        "    movq 24(%rdx), %r13\n"
        "    movq 32(%rdx), %r14\n"
        "    movq 40(%rdx), %r15\n"
        "    call test_fswitch\n"
        "    popq %rcx\n"
        "    movq %rbx, 0(%rcx)\n"
        "    movq %rbp, 8(%rcx)\n"
        "    movq %r12, 16(%rcx)\n"
        "    movq %r13, 24(%rcx)\n"
        "    movq %r14, 32(%rcx)\n"
        "    movq %r15, 40(%rcx)\n"
        "    popq %r15\n"
        "    popq %r14\n"
        "    popq %r13\n"
        "    popq %r12\n"
        "    popq %rbx\n"
        "    popq %rbp\n"
        "    ret\n"
        ".size probe_switch, .-probe_switch\n");

#elif defined(__aarch64__)
#define PROBE_N 19
static const char *const probe_names[PROBE_N] = {"x19", "x20", "x21", "x22", "x23", "x24", "x25",
                                                 "x26", "x27", "x28", "x29", "d8",  "d9",  "d10",
                                                 "d11", "d12", "d13", "d14", "d15"};
#if VOW_PLANT_SWITCH == 0
#define TEST_FSWITCH_BODY "    b vow__fswitch\n"
#else
#if VOW_PLANT_SWITCH == 1
#define PLANT_AFTER "    mvn x19, x19\n"
#elif VOW_PLANT_SWITCH == 2
#define PLANT_AFTER                                                                                \
    "    mrs x9, fpcr\n"                                                                           \
    "    eor x9, x9, #0xc00000\n"                                                                  \
    "    msr fpcr, x9\n"
#elif VOW_PLANT_SWITCH == 3
#define PLANT_AFTER                                                                                \
    "    fmov x9, d8\n"                                                                            \
    "    mvn x9, x9\n"                                                                             \
    "    fmov d8, x9\n"
#else
#error "VOW_PLANT_SWITCH: 1 (register), 2 (rounding mode) or 3 (d8) on AArch64"
#endif
#define TEST_FSWITCH_BODY                                                                          \
    "    stp x29, x30, [sp, #-16]!\n"                                                              \
    "    mov x29, sp\n"                                                                            \
    "    bl vow__fswitch\n"                                                                        \
    "    ldp x29, x30, [sp], #16\n" PLANT_AFTER "    ret\n"
#endif
__asm__(".text\n"
        ".globl test_fswitch\n"
        ".type test_fswitch,%function\n"
        ".p2align 4\n"
        "test_fswitch:\n" TEST_FSWITCH_BODY ".size test_fswitch, .-test_fswitch\n"
        ".globl probe_switch\n"
        ".type probe_switch,%function\n"
        ".p2align 4\n"
        "probe_switch:\n"
        "    sub sp, sp, #176\n"
        "    stp x19, x20, [sp, #0]\n"
        "    stp x21, x22, [sp, #16]\n"
        "    stp x23, x24, [sp, #32]\n"
        "    stp x25, x26, [sp, #48]\n"
        "    stp x27, x28, [sp, #64]\n"
        "    stp x29, x30, [sp, #80]\n"
        "    stp d8, d9, [sp, #96]\n"
        "    stp d10, d11, [sp, #112]\n"
        "    stp d12, d13, [sp, #128]\n"
        "    stp d14, d15, [sp, #144]\n"
        "    str x3, [sp, #160]\n"
        "    ldp x19, x20, [x2, #0]\n"
        "    ldp x21, x22, [x2, #16]\n"
        "    ldp x23, x24, [x2, #32]\n"
        "    ldp x25, x26, [x2, #48]\n"
        "    ldp x27, x28, [x2, #64]\n"
        "    ldr x29, [x2, #80]\n"
        "    ldp d8, d9, [x2, #88]\n"
        "    ldp d10, d11, [x2, #104]\n"
        "    ldp d12, d13, [x2, #120]\n"
        "    ldp d14, d15, [x2, #136]\n"
        "    bl test_fswitch\n"
        "    ldr x3, [sp, #160]\n"
        "    stp x19, x20, [x3, #0]\n"
        "    stp x21, x22, [x3, #16]\n"
        "    stp x23, x24, [x3, #32]\n"
        "    stp x25, x26, [x3, #48]\n"
        "    stp x27, x28, [x3, #64]\n"
        "    str x29, [x3, #80]\n"
        "    stp d8, d9, [x3, #88]\n"
        "    stp d10, d11, [x3, #104]\n"
        "    stp d12, d13, [x3, #120]\n"
        "    stp d14, d15, [x3, #136]\n"
        "    ldp x19, x20, [sp, #0]\n"
        "    ldp x21, x22, [sp, #16]\n"
        "    ldp x23, x24, [sp, #32]\n"
        "    ldp x25, x26, [sp, #48]\n"
        "    ldp x27, x28, [sp, #64]\n"
        "    ldp x29, x30, [sp, #80]\n"
        "    ldp d8, d9, [sp, #96]\n"
        "    ldp d10, d11, [sp, #112]\n"
        "    ldp d12, d13, [sp, #128]\n"
        "    ldp d14, d15, [sp, #144]\n"
        "    add sp, sp, #176\n"
        "    ret\n"
        ".size probe_switch, .-probe_switch\n");
#endif

/* ---- contexts: 0 is main's own stack, 1.. are fibers ------------------------------------- */
enum { NCTX = 3, STACK = 64 * 1024 };

static void *sp[NCTX];       /* saved stack pointers */
static char *stack_lo[NCTX]; /* a fiber's stack bounds */
static char *stack_hi[NCTX];
static int next_of[NCTX];      /* where a context switches to next */
static unsigned long failures; /* in the running check */

#define FAILF(...)                                                                                 \
    do {                                                                                           \
        if (failures++ < 5) {                                                                      \
            printf("    ");                                                                        \
            printf(__VA_ARGS__);                                                                   \
            printf("\n");                                                                          \
            fflush(stdout);                                                                        \
        }                                                                                          \
    } while (0)

static void sw(int me) { test_fswitch(&sp[me], sp[next_of[me]]); }

/* A fiber's stack: one guard page below STACK bytes; prepared to run entry(arg). */
static void make_fiber(int i, void (*entry)(void *), void *arg) {
    long page = sysconf(_SC_PAGESIZE);
    char *m = mmap(NULL, STACK + (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
    if (m == MAP_FAILED || mprotect(m, (size_t)page, PROT_NONE) != 0) {
        perror("mmap");
        exit(2);
    }
    stack_lo[i] = m + page;
    stack_hi[i] = m + page + STACK;
    sp[i] = vow__fstack_prepare(stack_lo[i], stack_hi[i], entry, arg);
#if VOW_PLANT_SWITCH == 4
    /* The planted misalignment: the prepared frame moves 8 bytes down. */
#if defined(__x86_64__)
    memmove((char *)sp[i] - 8, sp[i], VOW__FSTACK_FRAME);
#else
    memmove((char *)sp[i] - 8, sp[i], 80);
#endif
    sp[i] = (char *)sp[i] - 8;
#endif
}

static int on_stack(int i, const void *p) {
    return (const char *)p >= stack_lo[i] && (const char *)p < stack_hi[i];
}

/* ---- ping_pong ------------------------------------------------------------------------------ */
enum { PING_ROUNDS = 100000 };
static volatile int turn; /* whose turn it is */
static unsigned long visits[NCTX];

static void ping_fiber(void *arg) {
    int me = (int)(intptr_t)arg;
    volatile int local = me;
    if (!on_stack(me, (const void *)&local))
        FAILF("fiber %d: a local at %p is off its stack", me, (void *)&local);
    for (;;) {
        if (turn != me) FAILF("fiber %d resumed on turn %d", me, turn);
        visits[me]++;
        turn = next_of[me];
        sw(me);
    }
}

static int t_ping_pong(void) {
    make_fiber(1, ping_fiber, (void *)(intptr_t)1);
    make_fiber(2, ping_fiber, (void *)(intptr_t)2);
    unsigned long expect[NCTX] = {0};
    /* Ping-pong: main <-> 1, main <-> 2, alternately. */
    next_of[1] = next_of[2] = 0;
    for (int r = 0; r < PING_ROUNDS; r++) {
        for (int f = 1; f <= 2; f++) {
            next_of[0] = f;
            turn = f;
            sw(0);
            expect[f]++;
            if (turn != 0) FAILF("main resumed on turn %d (round %d, fiber %d)", turn, r, f);
        }
    }
    /* A ring: main -> 1 -> 2 -> main, fiber to fiber. */
    next_of[0] = 1;
    next_of[1] = 2;
    next_of[2] = 0;
    for (int r = 0; r < PING_ROUNDS; r++) {
        turn = 1;
        sw(0);
        expect[1]++;
        expect[2]++;
        if (turn != 0) FAILF("main resumed on turn %d (ring round %d)", turn, r);
    }
    for (int f = 1; f <= 2; f++)
        if (visits[f] != expect[f])
            FAILF("fiber %d ran %lu times, expected %lu", f, visits[f], expect[f]);
    printf("    %lu switches\n", 2 * (expect[1] + expect[2]) - PING_ROUNDS);
    return failures == 0;
}

/* ---- callee_saved --------------------------------------------------------------------------- */
enum { PROBE_ROUNDS = 20000 };

static void probe_fill(uint64_t *vals, int me, int round) {
    for (int k = 0; k < PROBE_N; k++)
        vals[k] = 0x9e3779b97f4a7c15ull * (uint64_t)(me * 1000003 + round * 131 + k + 1) ^
                  ((uint64_t)me << 56);
}

static void probe_check(const uint64_t *vals, const uint64_t *out, int me, int round) {
    for (int k = 0; k < PROBE_N; k++)
        if (vals[k] != out[k])
            FAILF("context %d, round %d: %s was %#" PRIx64 ", came back %#" PRIx64, me, round,
                  probe_names[k], vals[k], out[k]);
}

static void probe_fiber(void *arg) {
    int me = (int)(intptr_t)arg;
    uint64_t vals[PROBE_N], out[PROBE_N];
    for (int r = 0;; r++) {
        probe_fill(vals, me, r);
        probe_switch(&sp[me], sp[next_of[me]], vals, out);
        probe_check(vals, out, me, r);
    }
}

static int t_callee_saved(void) {
    make_fiber(1, probe_fiber, (void *)(intptr_t)1);
    make_fiber(2, probe_fiber, (void *)(intptr_t)2);
    uint64_t vals[PROBE_N], out[PROBE_N];
    for (int r = 0; r < PROBE_ROUNDS; r++) {
        if (r % 2 == 0) { /* main -> 1 -> 2 -> main */
            next_of[1] = 2;
            next_of[2] = 0;
            probe_fill(vals, 0, r);
            probe_switch(&sp[0], sp[1], vals, out);
            probe_check(vals, out, 0, r);
        } else { /* main <-> 2, then main <-> 1 */
            next_of[1] = next_of[2] = 0;
            for (int f = 2; f >= 1; f--) {
                probe_fill(vals, 0, r * 7 + f);
                probe_switch(&sp[0], sp[f], vals, out);
                probe_check(vals, out, 0, r * 7 + f);
            }
        }
    }
    return failures == 0;
}

/* ---- register_churn ------------------------------------------------------------------------- */
enum { CHURN_STEPS = 50000 };
typedef void (*switch_fn)(int me);
static void no_switch(int me) { (void)me; }
static uint64_t churn_result[NCTX];

static uint64_t dbits(double d) {
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

/* Many values live across each call of sw: the compiler keeps them in callee-saved
 * registers (and spills the rest to the stack), so a switch that loses either shows. */
static __attribute__((noinline)) uint64_t churn(int me, int steps, switch_fn volatile *swp) {
    uint64_t a = 0x1234567 + (uint64_t)me, b = a * 3 + 1, c = a ^ 0xdeadbeef, d = a << 7, e = ~a,
             f = a * a, g = a + 99, h = a ^ (a >> 3);
    double x = 1.0 + me, y = 2.5 - me, z = 0.125 * me, w = 3.0, u = 0.5, v = -1.0, s = 7.0,
           t = 1e-3;
    for (int i = 0; i < steps; i++) {
        a = a * 6364136223846793005ull + b;
        b ^= a >> 13;
        c += b * 7;
        d = ((d ^ c) << 11) | ((d ^ c) >> 53);
        e += d;
        f ^= e << 3;
        g += f;
        h ^= g >> 7;
        x = x * 0.999 + 0.5;
        y = y * 0.998 + x;
        z = z * 0.997 + y * 1e-3;
        w = w * 0.996 + z;
        u = u * 0.995 + w * 1e-3;
        v = v * 0.994 + u;
        s = s * 0.993 + v * 1e-3;
        t = t * 0.992 + s;
        (*swp)(me);
    }
    return a ^ b ^ c ^ d ^ e ^ f ^ g ^ h ^ dbits(x) ^ dbits(y) ^ dbits(z) ^ dbits(w) ^ dbits(u) ^
           dbits(v) ^ dbits(s) ^ dbits(t);
}

static switch_fn volatile real_sw = sw;
static switch_fn volatile fake_sw = no_switch;

static void churn_fiber(void *arg) {
    int me = (int)(intptr_t)arg;
    churn_result[me] = churn(me, CHURN_STEPS, &real_sw);
    sw(me); /* the ring's last lap */
    FAILF("fiber %d resumed after its last lap", me);
    sw(me);
}

static int t_register_churn(void) {
    uint64_t expect[NCTX];
    for (int i = 0; i < NCTX; i++) expect[i] = churn(i, CHURN_STEPS, &fake_sw);
    make_fiber(1, churn_fiber, (void *)(intptr_t)1);
    make_fiber(2, churn_fiber, (void *)(intptr_t)2);
    next_of[0] = 1;
    next_of[1] = 2;
    next_of[2] = 0;
    churn_result[0] = churn(0, CHURN_STEPS, &real_sw);
    sw(0); /* the fibers finish their last step */
    for (int i = 0; i < NCTX; i++)
        if (churn_result[i] != expect[i])
            FAILF("context %d computed %#" PRIx64 " across switches, %#" PRIx64 " without", i,
                  churn_result[i], expect[i]);
    return failures == 0;
}

/* ---- fp_control ----------------------------------------------------------------------------- */
enum { FP_ROUNDS = 2000 };
static const int modes[4] = {FE_TONEAREST, FE_UPWARD, FE_DOWNWARD, FE_TOWARDZERO};
static const char *const mode_names[4] = {"to-nearest", "upward", "downward", "toward-zero"};
static uint64_t quotient_bits[4][4]; /* per mode: 1/3, 1/10, -1/3, -1/10 */
static volatile double one = 1.0, three = 3.0, ten = 10.0;
#if defined(__x86_64__)
static long double lquot[4];
static volatile long double lone = 1.0L, lthree = 3.0L;
#endif

static void quotients(uint64_t q[4]) {
    q[0] = dbits(one / three);
    q[1] = dbits(one / ten);
    q[2] = dbits(-one / three);
    q[3] = dbits(-one / ten);
}

/* The rounding mode's bits in the hardware register(s), as fesetround(modes[m]) sets them:
 * 1 when they say mode m. */
static int hw_says(int m, char *what, size_t n) {
#if defined(__x86_64__)
    static const unsigned rc[4] = {0, 2, 1, 3}; /* nearest, up, down, zero */
    uint32_t mxcsr;
    uint16_t cw;
    __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
    __asm__ volatile("fnstcw %0" : "=m"(cw));
    snprintf(what, n, "MXCSR.RC %u, x87 RC %u", (mxcsr >> 13) & 3, (cw >> 10) & 3u);
    return ((mxcsr >> 13) & 3) == rc[m] && ((cw >> 10) & 3u) == rc[m];
#elif defined(__aarch64__)
    static const unsigned rm[4] = {0, 1, 2, 3}; /* nearest, +inf, -inf, zero */
    uint64_t fpcr;
    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    snprintf(what, n, "FPCR.RMode %u", (unsigned)((fpcr >> 22) & 3));
    return ((fpcr >> 22) & 3) == rm[m];
#endif
}

/* Context `me` finds mode m in force, by every measure. */
static void fp_expect(int me, int m, int round) {
    char what[64];
    if (fegetround() != modes[m])
        FAILF("context %d, round %d: fegetround says %d, expected %s", me, round, fegetround(),
              mode_names[m]);
    if (!hw_says(m, what, sizeof what))
        FAILF("context %d, round %d: %s, expected %s", me, round, what, mode_names[m]);
    uint64_t q[4];
    quotients(q);
    if (memcmp(q, quotient_bits[m], sizeof q) != 0)
        FAILF("context %d, round %d: divisions do not round %s", me, round, mode_names[m]);
#if defined(__x86_64__)
    long double l = lone / lthree; /* the x87 unit, under its own control word */
    if (memcmp(&l, &lquot[m], 10) != 0)
        FAILF("context %d, round %d: x87 division does not round %s", me, round, mode_names[m]);
#endif
}

static int mode_of(int me, int round) { return (me + round) % 4; }

static void fp_fiber(void *arg) {
    int me = (int)(intptr_t)arg;
    /* A new fiber starts with the mode of the context that prepared its stack: fiber 1 was
     * prepared under "downward", fiber 2 under "upward". */
    fp_expect(me, me == 1 ? 2 : 1, -1);
    for (int r = 0;; r++) {
        int m = mode_of(me, r);
        fesetround(modes[m]);
        sw(me);
        fp_expect(me, m, r);
    }
}

static int t_fp_control(void) {
    for (int m = 0; m < 4; m++) {
        fesetround(modes[m]);
        quotients(quotient_bits[m]);
#if defined(__x86_64__)
        lquot[m] = lone / lthree;
#endif
    }
    fesetround(FE_TONEAREST);
    for (int m = 0; m < 4; m++) /* the measure must tell the modes apart */
        for (int k = 0; k < m; k++)
            if (memcmp(quotient_bits[m], quotient_bits[k], sizeof quotient_bits[m]) == 0)
                FAILF("self-check: %s and %s divide alike", mode_names[m], mode_names[k]);
    fesetround(FE_DOWNWARD);
    make_fiber(1, fp_fiber, (void *)(intptr_t)1);
    fesetround(FE_UPWARD);
    make_fiber(2, fp_fiber, (void *)(intptr_t)2);
    for (int r = 0; r < FP_ROUNDS; r++) {
        if (r % 2 == 0) {
            next_of[0] = 1;
            next_of[1] = 2;
            next_of[2] = 0;
        } else {
            next_of[0] = r % 4 == 1 ? 2 : 1;
            next_of[1] = next_of[2] = 0;
        }
        int m = mode_of(0, r);
        fesetround(modes[m]);
        sw(0);
        fp_expect(0, m, r);
        if (r % 2 == 1) { /* the other fiber too, so both run every round */
            next_of[0] = 3 - next_of[0];
            fesetround(modes[m]);
            sw(0);
            fp_expect(0, m, r);
        }
    }
    fesetround(FE_TONEAREST);
    return failures == 0;
}

/* ---- alignment ------------------------------------------------------------------------------ */
static __attribute__((noinline)) void check_alignment(const char *where) {
    _Alignas(16) volatile unsigned char buf[16];
    uintptr_t fa = (uintptr_t)__builtin_frame_address(0);
    if (fa % 16 != 0) FAILF("%s: frame address %#" PRIxPTR " is not 16-byte aligned", where, fa);
    if ((uintptr_t)buf % 16 != 0)
        FAILF("%s: an _Alignas(16) local at %p is not 16-byte aligned", where, (void *)buf);
#if defined(__x86_64__)
    __m128 vec;
    _mm_store_ps((float *)buf, _mm_set1_ps(1.5f)); /* movaps: faults when misaligned */
    vec = _mm_load_ps((const float *)buf);
    if (_mm_cvtss_f32(vec) != 1.5f) FAILF("%s: an aligned SSE store/load lost its value", where);
#elif defined(__aarch64__)
    vst1q_f32((float *)buf, vdupq_n_f32(1.5f));
    if (vgetq_lane_f32(vld1q_f32((const float *)buf), 3) != 1.5f)
        FAILF("%s: a NEON store/load lost its value", where);
#endif
    char text[64];
    snprintf(text, sizeof text, "%.3f %g %.1e", 3.14159, 0.0025, -12345.678);
    if (strcmp(text, "3.142 0.0025 -1.2e+04") != 0)
        FAILF("%s: snprintf of doubles gave '%s'", where, text);
}

static void align_fiber(void *arg) {
    int me = (int)(intptr_t)arg;
    _Alignas(16) volatile unsigned char here[16];
    uintptr_t fa = (uintptr_t)__builtin_frame_address(0);
    if (fa % 16 != 0) FAILF("fiber %d entry: frame address %#" PRIxPTR " misaligned", me, fa);
    if ((uintptr_t)here % 16 != 0) FAILF("fiber %d entry: _Alignas(16) local misaligned", me);
    check_alignment(me == 1 ? "fiber 1" : "fiber 2");
    for (;;) {
        sw(me);
        check_alignment("a resumed fiber");
    }
}

static int t_alignment(void) {
    check_alignment("main (the self-check)");
    make_fiber(1, align_fiber, (void *)(intptr_t)1);
    make_fiber(2, align_fiber, (void *)(intptr_t)2);
    next_of[1] = next_of[2] = 0;
    for (int r = 0; r < 4; r++) {
        next_of[0] = 1 + r % 2;
        sw(0);
        check_alignment("main after a switch");
    }
    return failures == 0;
}

/* ---- the runner: each check in a child of its own ------------------------------------------- */
static const struct {
    const char *name;
    int (*fn)(void);
} checks[] = {
    {"ping_pong", t_ping_pong},           {"callee_saved", t_callee_saved},
    {"register_churn", t_register_churn}, {"fp_control", t_fp_control},
    {"alignment", t_alignment},
};

int main(int argc, char **argv) {
    int passed = 0, failed = 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
#if defined(__x86_64__)
    const char *arch = "x86-64";
#else
    const char *arch = "aarch64";
#endif
    printf("switch_test (%s, planted defect %d)\n", arch, VOW_PLANT_SWITCH);
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
        int wanted = argc < 2;
        for (int a = 1; a < argc; a++) wanted |= strcmp(argv[a], checks[i].name) == 0;
        if (!wanted) continue;
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return 2;
        }
        if (pid == 0) {
            alarm(60); /* a broken switch may loop: SIGALRM fails the check */
            _exit(checks[i].fn() ? 0 : 1);
        }
        int status;
        if (waitpid(pid, &status, 0) != pid) {
            perror("waitpid");
            return 2;
        }
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
            printf("ok   %s\n", checks[i].name);
            passed++;
        } else {
            if (WIFSIGNALED(status))
                printf("FAIL %s (killed by signal %d: %s)\n", checks[i].name, WTERMSIG(status),
                       strsignal(WTERMSIG(status)));
            else
                printf("FAIL %s\n", checks[i].name);
            failed++;
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 && passed > 0 ? 0 : 1;
}
