/* tests/fiber/switch_avx512.c - the x86-64 inline switch (src/fiber_switch.h) in code
 * built for AVX-512 (-mavx512f, as -march=native gives on such a CPU): there the compiler
 * may keep values in the mask registers k0-k7 and in xmm16-31 across the switch, and all
 * of them are caller-saved, so the switch's clobbers must name them (a call clobbers them).
 * A plain program (its own main, no Criterion, no libvow), like switch_test.c: it
 * compiles the switch file itself.
 *
 * Checks: a mask computed before a switch and used after it, and sixteen 512-bit values
 * live across it (in a leaf, with the other side writing every k and zmm register). The
 * header without k0-k7 in its AVX-512 clobbers fails the mask check at -O1 and above
 * with gcc 12 and clang 14 ("9 lanes wrong").
 * Exit 0: passed; 1: failed; 77: skipped (no AVX-512 on this CPU, or not x86-64 asm).
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__AVX512F__) && !defined(VOW_FIBER_UCONTEXT)
#include <immintrin.h>

/* The switch file, compiled here: skip its "internal.h" (as switch_test.c does). */
#define VOW_SRC_INTERNAL_H
#include "../../src/fiber_switch.c"

static void *main_sp, *fib_sp;
static _Alignas(64) char fib_stack[64 * 1024];

#define K_ALL(op) op(1) op(2) op(3) op(4) op(5) op(6) op(7)
#define K_SET(n) "kxnorw %%k0, %%k0, %%k" #n "\n\t"
#define Z_ALL(op)                                                                                  \
    op(0) op(1) op(2) op(3) op(4) op(5) op(6) op(7) op(8) op(9) op(10) op(11) op(12) op(13) op(14) \
        op(15) op(16) op(17) op(18) op(19) op(20) op(21) op(22) op(23) op(24) op(25) op(26) op(27) \
            op(28) op(29) op(30) op(31)
#define Z_SET(n) "vpternlogd $0xff, %%zmm" #n ", %%zmm" #n ", %%zmm" #n "\n\t"
#define Z_CLOB(n) "xmm" #n,

/* The other side: every mask and vector register all ones, then back. */
static void fib(void *arg) {
    (void)arg;
    for (;;) {
        __asm__ volatile("kxnorw %%k0, %%k0, %%k0\n\t" K_ALL(K_SET) Z_ALL(Z_SET)::
                             : "k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7",
                               Z_ALL(Z_CLOB) "memory");
        VOW__FSWITCH_INLINE(&fib_sp, main_sp);
    }
}

/* Lanes where a > b get 7; the mask lives across the switch. */
__attribute__((noinline)) static void masked(const int32_t *a, const int32_t *b, int32_t *out) {
    __mmask16 m = _mm512_cmpgt_epi32_mask(_mm512_loadu_si512(a), _mm512_loadu_si512(b));
    VOW__FSWITCH_INLINE(&main_sp, fib_sp);
    _mm512_mask_storeu_epi32(out, m, _mm512_set1_epi32(7));
}

/* Sixteen vectors loaded before the switch, summed after it. */
__attribute__((noinline)) static void vectors(const int32_t *in, int32_t *out) {
    __m512i v[16];
    for (int i = 0; i < 16; i++) v[i] = _mm512_loadu_si512(in + 16 * i);
    VOW__FSWITCH_INLINE(&main_sp, fib_sp);
    __m512i s = _mm512_setzero_si512();
    for (int i = 0; i < 16; i++) s = _mm512_add_epi32(s, _mm512_mullo_epi32(v[i], v[i]));
    _mm512_storeu_si512(out, s);
}

int main(void) {
    if (!__builtin_cpu_supports("avx512f")) {
        puts("switch_avx512: SKIP (no AVX-512F on this CPU)");
        return 77;
    }
    fib_sp = vow__fstack_prepare(fib_stack, fib_stack + sizeof fib_stack, fib, NULL);
    int failed = 0;

    int32_t a[16], b[16], out[16];
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 16; i++) a[i] = i, b[i] = 8, out[i] = 0;
        masked(a, b, out);
        int bad = 0;
        for (int i = 0; i < 16; i++) bad += out[i] != (i > 8 ? 7 : 0);
        if (bad != 0) {
            printf("FAIL mask: %d lanes wrong after the switch (k registers not clobbered)\n", bad);
            failed = 1;
            break;
        }
    }
    printf("%s mask\n", failed ? "FAIL" : "ok  ");

    static int32_t in[256];
    int32_t sum[16];
    for (int i = 0; i < 256; i++) in[i] = i - 100;
    vectors(in, sum);
    int bad = 0;
    for (int l = 0; l < 16; l++) {
        int32_t want = 0;
        for (int i = 0; i < 16; i++) want += in[16 * i + l] * in[16 * i + l];
        bad += sum[l] != want;
    }
    printf("%s vectors\n", bad ? "FAIL" : "ok  ");
    failed |= bad != 0;
    return failed;
}

#else
int main(void) {
    puts("switch_avx512: SKIP (needs the x86-64 asm switch built with -mavx512f)");
    return 77;
}
#endif
