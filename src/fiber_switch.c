/* src/fiber_switch.c - the hand-written context switch of the "asm" fiber back end
 * (src/fiber.h), for x86-64 System V and AArch64 (AAPCS64).
 *
 * x86-64: the switch is inline, VOW__FSWITCH_INLINE in src/fiber_switch.h (why, and its
 * stack slots, are there); this file has a fresh fiber's first frame (vow__fstack_prepare)
 * and its first code (vow__fstart, which calls entry(arg) with the stack 16-byte aligned
 * as the ABI asks at a call).
 *
 * AArch64: a function,
 *
 *   void vow__fswitch(void **save_sp, void *to_sp);
 *
 * which pushes the callee-saved state on the running stack, stores the stack pointer in
 * *save_sp, loads to_sp and pops the state saved there (by an earlier vow__fswitch, or
 * laid out by vow__fstack_prepare for a fiber that has not started), then returns into
 * that context. Caller-saved registers need no saving: the switch is a function call.
 * x19-x28, x29 (frame pointer), x30 (link register), d8-d15 (the low halves of v8-v15,
 * all the ABI preserves) and FPCR: 176 bytes (16-byte aligned, as sp must be). A fiber's
 * first frame "returns" (x30) into vow__fstart, which calls x20(x19).
 *
 * Neither makes a system call: the signal mask is the thread's and stays as it is. The
 * entry never returns: the fiber's C entry switches away for the last time.
 */
#include "internal.h"
#include "fiber_switch.h"

#if !defined(VOW_FIBER_UCONTEXT)

#if defined(__x86_64__)
/* The switch itself is inline (src/fiber_switch.h); here is a fresh fiber's first code. */
__asm__(".text\n"
        ".globl vow__fstart\n"
        ".hidden vow__fstart\n"
        ".type vow__fstart,@function\n"
        ".p2align 4\n"
        "vow__fstart:\n" VOW__FSWITCH_LANDING "    movq (%rsp), %rax\n"
        "    movq 8(%rsp), %rdi\n"
        "    addq $8, %rsp\n"
        "    callq *%rax\n"
        "    ud2\n"
        ".size vow__fstart, .-vow__fstart\n");

void vow__fstart(void);

void *vow__fstack_prepare(char *lo, char *hi, void (*entry)(void *), void *arg) {
    (void)lo;
    uintptr_t top = (uintptr_t)hi & ~(uintptr_t)15;
    uint64_t *sp = (uint64_t *)(top - VOW__FSTACK_FRAME);
    uint32_t mxcsr;
    uint16_t fpucw;
    __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
    __asm__ volatile("fnstcw %0" : "=m"(fpucw));
    sp[0] = (uint64_t)mxcsr | ((uint64_t)fpucw << 32); /* the slot a switch compares whole */
    sp[1] = (uint64_t)(uintptr_t)vow__fstart;          /* where the first switch jumps */
    sp[2] = 0;                                         /* rbp: the end of the frame chain */
    sp[3] = (uint64_t)(uintptr_t)entry;                /* vow__fstart's rsp: top - 24 */
    sp[4] = (uint64_t)(uintptr_t)arg;
    sp[5] = 0; /* entry is called with rsp at top - 16, aligned */
    return sp;
}

#elif defined(__aarch64__)
__asm__(".text\n"
        ".globl vow__fswitch\n"
        ".hidden vow__fswitch\n"
        ".type vow__fswitch,%function\n"
        ".p2align 4\n"
        "vow__fswitch:\n"
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
        "    mrs x9, fpcr\n"
        "    str x9, [sp, #160]\n"
        "    mov x9, sp\n"
        "    str x9, [x0]\n"
        "    mov sp, x1\n"
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
        "    ldr x9, [sp, #160]\n"
        "    msr fpcr, x9\n"
        "    add sp, sp, #176\n"
        "    ret\n"
        ".size vow__fswitch, .-vow__fswitch\n"
        ".globl vow__fstart\n"
        ".hidden vow__fstart\n"
        ".type vow__fstart,%function\n"
        ".p2align 4\n"
        "vow__fstart:\n"
        "    mov x0, x19\n"
        "    blr x20\n"
        "    brk #0\n"
        ".size vow__fstart, .-vow__fstart\n");

void vow__fstart(void);

void *vow__fstack_prepare(char *lo, char *hi, void (*entry)(void *), void *arg) {
    (void)lo;
    uintptr_t top = (uintptr_t)hi & ~(uintptr_t)15;
    uint64_t *sp = (uint64_t *)(top - 176);
    for (int i = 0; i < 22; i++) sp[i] = 0;
    sp[0] = (uint64_t)(uintptr_t)arg;          /* x19 */
    sp[1] = (uint64_t)(uintptr_t)entry;        /* x20 */
    sp[10] = 0;                                /* x29: the end of the frame chain */
    sp[11] = (uint64_t)(uintptr_t)vow__fstart; /* x30 */
    uint64_t fpcr;
    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    sp[20] = fpcr;
    return sp;
}

#else
#error "vow: no hand-written context switch for this CPU; configure with -DVOW_FIBER=ucontext"
#endif

#endif /* !VOW_FIBER_UCONTEXT */
