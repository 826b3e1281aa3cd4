/* src/fiber.c - coroutine stacks and switching between them (src/fiber.h).
 *
 * The running fiber and the thread's own context live in thread-local variables: a fiber
 * is resumed by the thread that runs its loop. Every switch goes through vow__fiber_switch
 * (inline, src/fiber.h), which tells AddressSanitizer (start/finish_switch_fiber: it must
 * know which stack is live, or it reports the fiber's frames as stack-buffer overflows) and
 * ThreadSanitizer; a live stack is a LeakSanitizer root region (a pointer kept only in a
 * suspended fiber's frames is not a leak) and a valgrind stack (or memcheck takes a switch
 * for a huge alloca).
 */
#include <errno.h>
#include <string.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

#ifdef VOW__ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/lsan_interface.h>
#endif
#ifdef VOW__TSAN
#include <sanitizer/tsan_interface.h>
#endif
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define VOW__VALGRIND 1
#endif
#endif

#if !defined(VOW_FIBER_UCONTEXT)
/* src/fiber_switch.c */
void *vow__fstack_prepare(char *lo, char *hi, void (*entry)(void *), void *arg);
#endif

VOW__TLS vow__fiber *vow__fiber_tls_current;
VOW__TLS vow__fctx vow__fiber_tls_root;
#ifdef VOW__ASAN
static VOW__TLS vow__fctx *tls_from; /* the context the last switch left */
#endif

#ifdef VOW__FIBER_SAN
void vow__fiber_san_leave(vow__fctx *from, vow__fctx *to, int last) {
#ifdef VOW__ASAN
    tls_from = from;
    __sanitizer_start_switch_fiber(last ? NULL : &from->asan_fake, to->stack_lo, to->stack_size);
#else
    (void)last;
#endif
#ifdef VOW__TSAN
    if (from->tsan_fiber == NULL) from->tsan_fiber = __tsan_get_current_fiber();
    __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
}

/* After a switch has landed in a context: AddressSanitizer learns it is back on this
 * stack, and tells the bounds of the one it left (the thread's own are learnt so). */
void vow__fiber_san_landed(void *fake) {
#ifdef VOW__ASAN
    const void *lo;
    size_t size;
    __sanitizer_finish_switch_fiber(fake, &lo, &size);
    if (tls_from != NULL && tls_from->stack_lo == NULL) {
        tls_from->stack_lo = lo;
        tls_from->stack_size = size;
    }
#else
    (void)fake;
#endif
}
#endif

/* The first code a fiber runs, on its own stack. */
static void fiber_entry(void *arg) {
    vow__fiber *f = arg;
#ifdef VOW__FIBER_SAN
    vow__fiber_san_landed(NULL);
#endif
    f->fn(f);
    f->done = 1;
    vow__fiber_switch(&f->ctx, f->back, 1);
    vow__assert(0, "a finished fiber was resumed");
}

#if defined(VOW_FIBER_UCONTEXT)
static void uc_entry(void) { fiber_entry(vow__fiber_tls_current); }

/* getcontext in a function of its own: gcc's -Wclobbered sees a setjmp-like call and
 * warns about every local of the caller (getcontext never returns twice here). */
static __attribute__((noinline)) int uc_prepare(ucontext_t *uc, char *lo, size_t size) {
    if (getcontext(uc) != 0) return -1;
    uc->uc_stack.ss_sp = lo;
    uc->uc_stack.ss_size = size;
    uc->uc_link = NULL;
    makecontext(uc, uc_entry, 0);
    return 0;
}
#endif

/* ---- stacks ------------------------------------------------------------------------------ */

static size_t page_size(vow_loop_t *loop) {
    if (loop->stacks.page == 0) {
        long p = sysconf(_SC_PAGESIZE);
        loop->stacks.page = p > 0 ? (size_t)p : 4096;
    }
    return loop->stacks.page;
}

/* The guard below each stack: 64 KiB of PROT_NONE (one mapping whatever its size: it costs
 * address space, not memory). One page would do for a program whose frames are all
 * smaller than a page, but a frame larger than the guard (a big local array) can step
 * over it into the stack mapped below, unless the code was built with
 * -fstack-clash-protection, which Debian's gcc leaves off. */
enum { GUARD = 64 * 1024 };
static size_t guard_size(vow_loop_t *loop) {
    size_t page = page_size(loop);
    return (GUARD + page - 1) & ~(page - 1);
}

static size_t default_size(vow_loop_t *loop) {
    return loop->stacks.default_size != 0 ? loop->stacks.default_size : VOW__FIBER_STACK;
}

/* A mapping of `size` bytes of stack plus the guard below it, or NULL. */
static char *map_stack(vow_loop_t *loop, size_t size) {
    size_t guard = guard_size(loop);
    char *m = mmap(NULL, size + guard, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE
#ifdef MAP_STACK
                       | MAP_STACK
#endif
                   ,
                   -1, 0);
    if (m == MAP_FAILED) return NULL;
    if (mprotect(m, guard, PROT_NONE) != 0) { /* ENOMEM: the map count limit */
        munmap(m, size + guard);
        return NULL;
    }
    return m;
}

int vow__fiber_init(vow_loop_t *loop, vow__fiber *f, size_t stack_size, vow__fiber_fn fn) {
    size_t page = page_size(loop);
    if (stack_size == 0) stack_size = default_size(loop);
    if (!vow__fiber_size_ok(stack_size)) return VOW_EINVAL;
    stack_size = (stack_size + page - 1) & ~(page - 1);
    char *m = NULL;
    if (stack_size == default_size(loop) && loop->stacks.free_head != NULL) {
        m = loop->stacks.free_head;
        loop->stacks.free_head = *(char **)(m + guard_size(loop));
        loop->stacks.free_n--;
    } else if ((m = map_stack(loop, stack_size)) == NULL) {
        return VOW_ENOMEM;
    }
    memset(f, 0, sizeof *f);
    f->fn = fn;
    f->loop = loop;
    f->map = m;
    f->map_size = stack_size + guard_size(loop);
    char *lo = m + guard_size(loop), *hi = m + f->map_size;
    f->ctx.stack_lo = lo;
    f->ctx.stack_size = stack_size;
#if defined(VOW_FIBER_UCONTEXT)
    if (uc_prepare(&f->ctx.uc, lo, stack_size) != 0) {
        munmap(m, f->map_size);
        return VOW_ENOMEM;
    }
#else
    f->ctx.sp = vow__fstack_prepare(lo, hi, fiber_entry, f);
#endif
#ifdef VOW__TSAN
    f->ctx.tsan_fiber = __tsan_create_fiber(0);
#endif
#ifdef VOW__ASAN
    __lsan_register_root_region(lo, stack_size);
#endif
#ifdef VOW__VALGRIND
    f->vg_id = VALGRIND_STACK_REGISTER(lo, hi);
#endif
    (void)hi;
    loop->stacks.live++;
    return 0;
}

enum { FREE_LIST_MAX = 64 };

void vow__fiber_release(vow__fiber *f) {
    if (f->map == NULL) return;
    vow__assert(f != vow__fiber_tls_current, "releasing the running fiber");
    vow_loop_t *loop = f->loop;
    char *lo = f->map + guard_size(loop);
#ifdef VOW__ASAN
    __lsan_unregister_root_region(lo, f->ctx.stack_size);
    /* A fiber dropped while suspended leaves its frames' poison behind. */
    __asan_unpoison_memory_region(lo, f->ctx.stack_size);
#endif
#ifdef VOW__TSAN
    if (f->ctx.tsan_fiber != NULL) __tsan_destroy_fiber(f->ctx.tsan_fiber);
#endif
#ifdef VOW__VALGRIND
    VALGRIND_STACK_DEREGISTER(f->vg_id);
#endif
    if (f->ctx.stack_size == default_size(loop) && loop->stacks.free_n < FREE_LIST_MAX &&
        !loop->closed) {
        *(char **)lo = loop->stacks.free_head;
        loop->stacks.free_head = f->map;
        loop->stacks.free_n++;
    } else {
        munmap(f->map, f->map_size);
    }
    f->map = NULL;
    loop->stacks.live--;
}

size_t vow__fiber_live(const vow_loop_t *loop) { return loop->stacks.live; }

int vow__fiber_size_ok(size_t size) { return size >= 16u * 1024u && size <= ((size_t)1 << 30); }

int vow__fiber_set_default(vow_loop_t *loop, size_t size) {
    size_t page = page_size(loop);
    if (size == 0) size = VOW__FIBER_STACK;
    if (!vow__fiber_size_ok(size)) return VOW_EINVAL;
    size = (size + page - 1) & ~(page - 1);
    vow__fiber_stacks_free(loop); /* the free list holds stacks of the old size */
    loop->stacks.default_size = size;
    return 0;
}

void vow__fiber_stacks_free(vow_loop_t *loop) {
    size_t guard = guard_size(loop);
    size_t size = default_size(loop) + guard;
    while (loop->stacks.free_head != NULL) {
        char *m = loop->stacks.free_head;
        loop->stacks.free_head = *(char **)(m + guard);
        munmap(m, size);
    }
    loop->stacks.free_n = 0;
}
