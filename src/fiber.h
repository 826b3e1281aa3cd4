/* src/fiber.h - coroutine stacks and the context switch (src/fiber.c, src/fiber_switch.c).
 * Part of src/internal.h (included from there); promise-free: a fiber runs a function on
 * a stack of its own and switches back and forth with whoever resumed it. The promise layer
 * (promise/async.c) builds await on it.
 *
 * A fiber is asymmetric: vow__fiber_resume(f) switches from the running context (the
 * thread's own stack or another fiber) into f; inside f, vow__fiber_suspend() switches back
 * to that context, and resume returns. When f's function returns, f is done and resume
 * returns for the last time. One thread runs a fiber at a time (the one that resumed it);
 * fibers belong to the loop whose stacks they use (one loop per thread).
 *
 * Stacks: mmap'd with a 64 KiB guard below (PROT_NONE: an overflow faults there, never
 * silently corrupts, unless one frame is larger than the guard and skips it), VOW__FIBER_STACK bytes by default (four times that under
 * AddressSanitizer, whose frames are larger), reused through a per-loop free list of
 * default-size stacks. Each stack costs two kernel mappings, so vm.max_map_count caps live
 * fibers (about 32,000 at Linux's default 65530): past it vow__fiber_init answers
 * VOW_ENOMEM.
 *
 * Back ends (build option VOW_FIBER): "asm", a hand-written switch for x86-64 System V
 * (callee-saved registers, MXCSR and the x87 control word) and AArch64 (x19-x30, d8-d15),
 * which makes no system call; "ucontext", swapcontext, which saves and restores the signal
 * mask (one rt_sigprocmask per switch). Each switch tells the sanitizers: AddressSanitizer's
 * fiber annotations, ThreadSanitizer's fibers; each live stack is a LeakSanitizer root
 * region and a valgrind stack.
 */
#ifndef VOW_SRC_FIBER_H
#define VOW_SRC_FIBER_H

#include <stddef.h>

#if defined(VOW_FIBER_UCONTEXT)
#include <ucontext.h>
#endif

/* VOW__ASAN comes from src/internal.h, which includes this header after defining it. */
#if defined(__SANITIZE_THREAD__)
#define VOW__TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define VOW__TSAN 1
#endif
#endif

#ifdef VOW__ASAN
#define VOW__FIBER_STACK (256u * 1024u)
#else
#define VOW__FIBER_STACK (64u * 1024u)
#endif

typedef struct vow__fiber vow__fiber;
typedef void (*vow__fiber_fn)(vow__fiber *f);

/* One execution context: a fiber, or a thread's own stack (the root, kept per thread). */
typedef struct vow__fctx {
#if defined(VOW_FIBER_UCONTEXT)
    ucontext_t uc;
#else
    void *sp; /* the saved stack pointer (the registers are on that stack) */
#endif
    const void *stack_lo; /* the stack's bounds, for AddressSanitizer (the root's learnt */
    size_t stack_size;    /* at the first switch) */
    void *asan_fake;      /* AddressSanitizer's fake stack while switched away */
    void *tsan_fiber;     /* ThreadSanitizer's fiber */
} vow__fctx;

struct vow__fiber {
    vow__fctx ctx;
    vow__fctx *back;  /* the context that resumed it: where suspend goes */
    vow__fiber_fn fn; /* runs on the fiber's stack */
    vow_loop_t *loop;
    char *map;        /* the mapping: the guard, then the stack */
    size_t map_size;  /* guard included */
    unsigned started; /* resumed at least once */
    unsigned done;    /* fn returned: never resumed again */
    unsigned vg_id;   /* valgrind's stack id */
};

/* Prepares f to run fn(f) on a new stack of `stack_size` bytes (0: VOW__FIBER_STACK;
 * rounded up to pages): 0, VOW_ENOMEM (no memory or no more mappings), VOW_EINVAL (too
 * small: under 16 KiB, or above 1 GiB). f's memory is the caller's; it does not start. */
int vow__fiber_init(vow_loop_t *loop, vow__fiber *f, size_t stack_size, vow__fiber_fn fn);
/* Switches into f (started or suspended, not done, not running) until it suspends or is
 * done. (Inline, below.) */
static inline void vow__fiber_resume(vow__fiber *f);
/* From inside the running fiber: back to whoever resumed it; returns when resumed again. */
static inline void vow__fiber_suspend(void);
/* The running fiber of this thread, NULL on the thread's own stack. */
static inline vow__fiber *vow__fiber_current(void);
/* Gives f's stack back (f not running: done, never started, or suspended for good; a
 * suspended fiber's frames are dropped unrun). */
void vow__fiber_release(vow__fiber *f);
/* 1 when a stack size is one a fiber may have (16 KiB to 1 GiB), else 0. */
int vow__fiber_size_ok(size_t size);
/* Live fibers' stacks of a loop (made and not yet released). */
size_t vow__fiber_live(const vow_loop_t *loop);
/* The default stack size of a loop's new fibers (0: VOW__FIBER_STACK; rounded up to pages):
 * 0 or VOW_EINVAL (under 16 KiB or above 1 GiB). Stacks on the free list are unmapped. */
int vow__fiber_set_default(vow_loop_t *loop, size_t size);
/* Teardown: the free list of stacks goes (src/loop.c's destroy). */
void vow__fiber_stacks_free(vow_loop_t *loop);

/* Per loop (in vow_loop). */
struct vow__stacks {
    char *free_head;     /* free default-size mappings, linked through their first word */
    size_t free_n;       /* on the free list */
    size_t live;         /* made and not released */
    size_t page;         /* the page size */
    size_t default_size; /* vow_loop_set_stack_size; 0: VOW__FIBER_STACK */
};

/* ---- switching, inline: the await's switch makes no call (src/fiber_switch.h) ------------ */

#include "fiber_switch.h"

extern VOW__TLS vow__fiber *vow__fiber_tls_current; /* the running fiber; NULL: the thread's */
extern VOW__TLS vow__fctx vow__fiber_tls_root;      /* the thread's own context */

#if defined(VOW__ASAN) || defined(VOW__TSAN)
#define VOW__FIBER_SAN 1
/* The sanitizers' side of a switch (src/fiber.c): before it, and once landed. `last`: from
 * never runs again. */
void vow__fiber_san_leave(vow__fctx *from, vow__fctx *to, int last);
void vow__fiber_san_landed(void *fake);
#endif
#if !defined(VOW_FIBER_UCONTEXT) && !defined(__x86_64__)
void vow__fswitch(void **save_sp, void *to_sp); /* src/fiber_switch.c (AArch64) */
#endif

/* From `from` (the running context) to `to`. */
static inline __attribute__((always_inline)) void vow__fiber_switch(vow__fctx *from, vow__fctx *to,
                                                                    int last) {
#ifdef VOW__FIBER_SAN
    vow__fiber_san_leave(from, to, last);
#else
    (void)last;
#endif
#if defined(VOW_FIBER_UCONTEXT)
    swapcontext(&from->uc, &to->uc);
#elif defined(__x86_64__)
    VOW__FSWITCH_INLINE(&from->sp, to->sp);
#else
    vow__fswitch(&from->sp, to->sp);
#endif
#ifdef VOW__FIBER_SAN
    vow__fiber_san_landed(from->asan_fake);
#endif
}

static inline vow__fiber *vow__fiber_current(void) { return vow__fiber_tls_current; }

static inline void vow__fiber_resume(vow__fiber *f) {
    vow__fiber *prev = vow__fiber_tls_current;
    vow__assert(f->map != NULL && !f->done && f != prev, "resuming a fiber that cannot run");
    f->back = prev != NULL ? &prev->ctx : &vow__fiber_tls_root;
    f->started = 1;
    vow__fiber_tls_current = f;
    vow__fiber_switch(f->back, &f->ctx, 0);
    vow__fiber_tls_current = prev;
}

static inline void vow__fiber_suspend(void) {
    vow__fiber *f = vow__fiber_tls_current;
    vow__assert(f != NULL, "suspending outside a fiber");
    vow__fiber_switch(&f->ctx, f->back, 0);
}

#endif /* VOW_SRC_FIBER_H */
