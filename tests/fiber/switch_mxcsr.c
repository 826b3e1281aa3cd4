/* tests/fiber/switch_mxcsr.c - what the x86-64 inline switch (src/fiber_switch.h) does
 * with MXCSR and the x87 control word: their control bits (rounding, exception masks,
 * flush-to-zero, x87 precision) are each context's own; MXCSR's status flags are not
 * compared, so a switch between contexts whose control bits agree loads nothing and the
 * flags stay the thread's (the ABI makes them caller-saved; loading a different MXCSR at
 * every switch cost 124 ns per round trip instead of 12). A plain program (its own main,
 * no Criterion, no libvow), like switch_test.c: it compiles the switch file itself.
 *
 * The header that compared the flags too fails `flags_alone_load_nothing` (the fiber's
 * underflow flag is gone once back in main: main's saved MXCSR was loaded).
 * Exit 0: passed; 1: failed; 77: skipped (not the x86-64 asm switch).
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && !defined(VOW_FIBER_UCONTEXT)
#include <xmmintrin.h>

/* The switch file, compiled here: skip its "internal.h" (as switch_test.c does). */
#define VOW_SRC_INTERNAL_H
#include "../../src/fiber_switch.c"

enum { STATUS = 0x3f, UE = 0x10, PE = 0x20, RC_UP = 0x4000, RC = 0x6000, X87_PC = 0x300 };

static void *main_sp, *fib_sp;
static _Alignas(16) char fib_stack[64 * 1024];
/* What the fiber saw after it was resumed; volatile: gcc (ipa-reference) takes a call of
 * to_main, whose asm names no static, for one that reads neither, and drops the store. */
static volatile unsigned fib_mxcsr, fib_cw;

static unsigned short get_cw(void) {
    unsigned short cw;
    __asm__ volatile("fnstcw %0" : "=m"(cw));
    return cw;
}
static void set_cw(unsigned short cw) { __asm__ volatile("fldcw %0" : : "m"(cw)); }

__attribute__((noinline)) static void to_fiber(void) { VOW__FSWITCH_INLINE(&main_sp, fib_sp); }
__attribute__((noinline)) static void to_main(void) { VOW__FSWITCH_INLINE(&fib_sp, main_sp); }

static void fib(void *arg) {
    (void)arg;
    /* 1: raise underflow and inexact (status flags only), back to main. */
    volatile double tiny = 1e-300;
    volatile double r = tiny * tiny;
    (void)r;
    to_main();
    /* 2: round upward, back; then what came back. */
    _mm_setcsr(_mm_getcsr() | RC_UP);
    to_main();
    fib_mxcsr = _mm_getcsr();
    /* 3: the x87 precision control only, back; then what came back. */
    set_cw((unsigned short)(get_cw() ^ X87_PC));
    to_main();
    fib_cw = get_cw();
    for (;;) to_main();
}

static int failed;
static void check(int ok, const char *name, const char *what, unsigned got, unsigned want) {
    printf("%s %s", ok ? "ok  " : "FAIL", name);
    if (!ok) printf(": %s %#x, want %#x", what, got, want);
    printf("\n");
    failed |= !ok;
}

int main(void) {
    _mm_setcsr(_mm_getcsr() & ~(unsigned)STATUS); /* main's flags clear */
    unsigned m0 = _mm_getcsr();
    unsigned short cw0 = get_cw();
    fib_sp = vow__fstack_prepare(fib_stack, fib_stack + sizeof fib_stack, fib, NULL);

    to_fiber(); /* 1 */
    unsigned m = _mm_getcsr();
    check((m & ~(unsigned)STATUS) == (m0 & ~(unsigned)STATUS), "control_bits_kept", "MXCSR", m, m0);
    check((m & (UE | PE)) == (UE | PE), "flags_alone_load_nothing", "MXCSR", m, m0 | UE | PE);

    to_fiber(); /* 2 */
    m = _mm_getcsr();
    check((m & RC) == (m0 & RC), "rounding_mode_main", "MXCSR", m, m0);
    to_fiber();
    check((fib_mxcsr & RC) == RC_UP, "rounding_mode_fiber", "MXCSR", fib_mxcsr, m0 | RC_UP);

    unsigned short cw = get_cw(); /* 3 */
    check(cw == cw0, "x87_cw_main", "control word", cw, cw0);
    to_fiber();
    check(get_cw() == cw0, "x87_cw_main_again", "control word", get_cw(), cw0);
    to_fiber();
    check(fib_cw == (cw0 ^ X87_PC), "x87_cw_fiber", "control word", fib_cw, cw0 ^ X87_PC);
    return failed;
}

#else
int main(void) {
    puts("switch_mxcsr: SKIP (the x86-64 asm switch only)");
    return 77;
}
#endif
