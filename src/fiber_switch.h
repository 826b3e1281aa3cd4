/* src/fiber_switch.h - the x86-64 context switch of the "asm" fiber back end, inline.
 * Included by src/fiber.h (the fiber layer's switch) and by tests/fiber/switch_test.c
 * (which tests it alone); needs nothing but the compiler.
 *
 *   VOW__FSWITCH_INLINE(void **save_sp, void *to_sp)
 *
 * saves the running context on its stack, stores the stack pointer in *save_sp, loads
 * to_sp and carries on in the context saved there (by an earlier switch, or laid out by
 * vow__fstack_prepare for a fiber that has not started).
 *
 * Why inline, and a jump rather than a call (issue 16, W11; bench/README.md): an
 * out-of-line switch function returns into the other stack, to an address the CPU's
 * return-stack predictor cannot expect, and so does each function the other side then
 * returns from. A switch with no call and no `ret` leaves the return-stack predictor alone:
 * it ends in an indirect jump, which the branch target predictor learns (each switch site
 * jumps to the few places it resumes). Inlined into vow__fiber_resume and
 * vow__fiber_suspend (themselves inline, src/fiber.h), the await's switch makes no call.
 *
 * What is saved where. The compiler saves the registers it needs: the asm statement lists
 * every general register but rsp and rbp as clobbered, and every vector and x87 register,
 * as a function call clobbers the caller-saved ones; the callee-saved ones (rbx, r12-r15)
 * are then saved by the function that holds the switch, once, not at every switch. On
 * the stack, below the red zone (128 bytes a leaf function may use under rsp without
 * moving it), three slots: rbp (the frame pointer: a compiler that keeps one cannot be
 * told it is clobbered), the address to resume at, and MXCSR with the x87 control word
 * (callee-saved under the System V ABI: a coroutine that changes the rounding mode must
 * not change its resumer's). The target's MXCSR and control word are loaded only when
 * their control bits differ from the ones just saved (loading them stalls; comparing
 * costs a load). MXCSR's six status flags (bits 0-5: inexact, underflow, ...) are left
 * out of the comparison: the ABI makes them caller-saved (a call may raise them, as the
 * x87 status word, which no switch saves), and comparing them made every switch into
 * and out of a context that had raised a flag the others had not (one underflow, or an
 * feclearexcept) load a different MXCSR, which costs far more than loading the same one:
 * 124 ns per round trip instead of 12 (a ping-pong of the switch alone, gcc -O2;
 * tests/fiber/switch_mxcsr.c). So the status flags stay the thread's across a switch,
 * unless the control bits differ: then the target's saved MXCSR, flags included, is
 * loaded whole.
 *
 * A fresh fiber's stack (vow__fstack_prepare, src/fiber_switch.c): the three slots, with
 * vow__fstart as the address to resume at and 0 as rbp, then entry and arg; vow__fstart
 * calls entry(arg) with the stack 16-byte aligned, as the ABI asks at a call.
 */
#ifndef VOW_SRC_FIBER_SWITCH_H
#define VOW_SRC_FIBER_SWITCH_H

#if defined(__x86_64__) && !defined(VOW_FIBER_UCONTEXT)

/* The slots a switch leaves under the red zone, and a fresh fiber's frame. */
#define VOW__FSWITCH_REDZONE 128
#define VOW__FSTACK_FRAME 48 /* fpu, vow__fstart, rbp, entry, arg, padding */

/* Under AVX-512 the compiler may keep values in xmm16-31 and in the mask registers k0-k7,
 * all caller-saved (a call clobbers them, so the switch must say it does). */
#if defined(__AVX512F__)
#define VOW__FSWITCH_AVX512                                                                        \
    , "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm24", "xmm25",    \
        "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31", "k0", "k1", "k2", "k3", "k4", "k5",  \
        "k6", "k7"
#else
#define VOW__FSWITCH_AVX512
#endif

/* Under -fcf-protection (Intel CET's indirect branch tracking) an indirect jump must land
 * on an endbr64, which is a no-op elsewhere. */
#if defined(__CET__) && (__CET__ & 1)
#define VOW__FSWITCH_LANDING "endbr64\n\t"
#else
#define VOW__FSWITCH_LANDING ""
#endif

/* tests/fiber/switch_test.c plants defects through these: VOW__FSWITCH_RBX "" drops rbx
 * from the clobbers (the compiler then does not save it), VOW__FSWITCH_LOADFPU "" never
 * loads the target's MXCSR and control word. */
#ifndef VOW__FSWITCH_RBX
#define VOW__FSWITCH_RBX "rbx",
#endif
#ifndef VOW__FSWITCH_LOADFPU
#define VOW__FSWITCH_LOADFPU                                                                       \
    "ldmxcsr (%%rsp)\n\t"                                                                          \
    "fldcw 4(%%rsp)\n\t"
#endif

#define VOW__FSWITCH_INLINE(save_sp, to_sp)                                                        \
    do {                                                                                           \
        void **vow__fs_save = (save_sp);                                                           \
        void *vow__fs_to = (to_sp);                                                                \
        __asm__ volatile("leaq -128(%%rsp), %%rsp\n\t"                                             \
                         "pushq %%rbp\n\t"                                                         \
                         "leaq 1f(%%rip), %%rax\n\t"                                               \
                         "pushq %%rax\n\t"                                                         \
                         "pushq $0\n\t"                                                            \
                         "stmxcsr (%%rsp)\n\t"                                                     \
                         "fnstcw 4(%%rsp)\n\t"                                                     \
                         "movq (%%rsp), %%rax\n\t"                                                 \
                         "movq %%rsp, (%%rdi)\n\t"                                                 \
                         "movq %%rsi, %%rsp\n\t"                                                   \
                         "xorq (%%rsp), %%rax\n\t"                                                 \
                         "testq $-64, %%rax\n\t"                                                   \
                         "je 2f\n\t" VOW__FSWITCH_LOADFPU "2:\n\t"                                 \
                         "movq 8(%%rsp), %%rax\n\t"                                                \
                         "movq 16(%%rsp), %%rbp\n\t"                                               \
                         "addq $24, %%rsp\n\t"                                                     \
                         "jmpq *%%rax\n\t"                                                         \
                         "1:\n\t" VOW__FSWITCH_LANDING "leaq 128(%%rsp), %%rsp\n\t"                \
                         : "+D"(vow__fs_save), "+S"(vow__fs_to)                                    \
                         :                                                                         \
                         : "rax", VOW__FSWITCH_RBX "rcx", "rdx", "r8", "r9", "r10", "r11", "r12",  \
                           "r13", "r14", "r15", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5",    \
                           "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13",     \
                           "xmm14", "xmm15", "st", "st(1)", "st(2)", "st(3)", "st(4)", "st(5)",    \
                           "st(6)", "st(7)", "mm0", "mm1", "mm2", "mm3", "mm4", "mm5", "mm6",      \
                           "mm7", "memory", "cc" VOW__FSWITCH_AVX512);                             \
    } while (0)

#endif /* x86-64 asm */

#endif /* VOW_SRC_FIBER_SWITCH_H */
