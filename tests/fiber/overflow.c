/* tests/fiber/overflow.c - a coroutine's stack overflow is a clean crash at its guard page
 * (vow/async.h, STACKS), never silent corruption.
 *
 * A forked child starts a coroutine that first finds its guard page in /proc/self/maps
 * (the mapping right below the one holding its stack must be inaccessible), then recurses
 * without bound, each frame holding a 1 KiB volatile array (under the 4 KiB guard page, so
 * no frame can step over it). The child's SIGSEGV handler, on an alternate stack, checks
 * that the fault lies in that guard page (not in some other unmapped or protected place
 * the stack ran into), then restores the default action and returns, so the fault repeats
 * and kills the child. The parent expects the child killed by SIGSEGV; any other end (the
 * handler exits 3 on a fault elsewhere) fails.
 *
 * `overflow --big-frames` (ctest fiber_overflow_bigframe@<backend>): frames of 12 to 60
 * KiB (one size per child, eight children), each written from its lowest byte up: the
 * stack clash that steps over a one-page guard (the first write of a new frame lands a
 * whole frame below the last one; with a 4 KiB guard most sizes skip it). The guard is
 * 64 KiB, so every fault must still be in it.
 *
 * The planted defect, `overflow --plant-unguard` (ctest fiber_overflow_planted, WILL_FAIL):
 * the coroutine makes its guard page read-write before recursing, so the overflow runs past
 * it; the test must then fail.
 *
 * Under AddressSanitizer the child must die of the signal, not of ASan's stack-overflow
 * report (which exits with status 1). ctest runs it with handle_segv=0 appended to
 * ASAN_OPTIONS (tests/fiber/CMakeLists.txt), which turns ASan's SIGSEGV handler off. Our
 * own sigaction is honoured too (ASan's allow_user_segv_handler defaults to 1): with
 * Debian's clang 14 the test passes either way, checked both ways when it was written.
 *
 * Prints "overflow: pass ..." or "overflow: FAIL ..." and exits 0 or 1.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vow.h"

#if defined(__SANITIZE_ADDRESS__)
#define ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ASAN 1
#endif
#endif

enum { FRAME_BYTES = 1024 };

static volatile char *deepest; /* the lowest array any frame has written */
static volatile long depth_reached;
static volatile int forever = 1;     /* the recursion's condition, opaque to the compiler */
static uintptr_t guard_lo, guard_hi; /* the coroutine's guard page, from /proc/self/maps */
static int plant_unguard;            /* --plant-unguard */
static int big_frames;               /* --big-frames */

static void say(const char *s) {
    ssize_t n = write(2, s, strlen(s));
    (void)n;
}

static void on_segv(int sig, siginfo_t *si, void *uc) {
    (void)uc;
    uintptr_t addr = (uintptr_t)si->si_addr;
    if (guard_lo == 0 || addr < guard_lo || addr >= guard_hi) {
        char msg[256];
        snprintf(msg, sizeof msg,
                 "overflow: child: SIGSEGV at %#lx, outside the guard page %#lx-%#lx (deepest "
                 "frame %p, depth %ld)\n",
                 (unsigned long)addr, (unsigned long)guard_lo, (unsigned long)guard_hi,
                 (void *)deepest, (long)depth_reached);
        say(msg);
        _exit(3);
    }
    signal(sig, SIG_DFL); /* the access repeats on return, and kills us */
}

static __attribute__((noinline)) long recurse(long depth) {
    volatile char buf[FRAME_BYTES];
    for (int i = FRAME_BYTES - 1; i >= 0; i--) buf[i] = (char)(depth + i);
    deepest = buf;
    depth_reached = depth;
    if (!forever) return buf[0];
    return buf[depth % FRAME_BYTES] + recurse(depth + 1); /* not a tail call */
}

static size_t big_frame_bytes; /* --big-frames: this child's frame size */
static __attribute__((noinline)) long recurse_big(long depth) {
    volatile char *buf = __builtin_alloca(big_frame_bytes);
    for (size_t i = 0; i < big_frame_bytes; i++)
        buf[i] = (char)(depth + (long)i); /* lowest first */
    deepest = buf;
    depth_reached = depth;
    if (!forever) return buf[0];
    return buf[(size_t)depth % big_frame_bytes] + recurse_big(depth + 1);
}

/* Finds, in /proc/self/maps, the mapping holding `p` (the coroutine's stack) and the one
 * that ends where it starts: it must be inaccessible (---p) and one page or more. */
static int find_guard(const void *p) {
    FILE *f = fopen("/proc/self/maps", "r");
    if (f == NULL) return -1;
    char line[512];
    unsigned long lo, hi, prev_lo = 0, prev_hi = 0;
    char perms[8], prev_perms[8] = "";
    int found = -1;
    while (fgets(line, sizeof line, f) != NULL) {
        if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3) continue;
        if ((uintptr_t)p >= lo && (uintptr_t)p < hi) {
            if (prev_hi == lo && strncmp(prev_perms, "---", 3) == 0) {
                guard_lo = prev_lo;
                guard_hi = prev_hi;
                found = 0;
            } else {
                printf("overflow: child: no inaccessible mapping right below the coroutine's "
                       "stack %lx-%lx (below: %lx-%lx %s)\n",
                       lo, hi, prev_lo, prev_hi, prev_perms);
            }
            break;
        }
        prev_lo = lo;
        prev_hi = hi;
        memcpy(prev_perms, perms, sizeof perms);
    }
    fclose(f);
    return found;
}

static vow_result_t runaway(vow_loop_t *loop, void *arg) {
    (void)loop;
    (void)arg;
    volatile char top = 0;
    if (!vow_in_coroutine()) return vow_fail_code(VOW_EPERM, "not in a coroutine");
    if (find_guard((const void *)&top) != 0) return vow_fail_code(VOW_EINVAL, "no guard page");
    if (plant_unguard) { /* the planted defect: the guard page made accessible */
        mprotect((void *)guard_lo, guard_hi - guard_lo, PROT_READ | PROT_WRITE);
        printf("overflow: child: planted: the guard page %#lx-%#lx is read-write\n",
               (unsigned long)guard_lo, (unsigned long)guard_hi);
    }
    fflush(stdout);
    return vow_ok_int(big_frames ? recurse_big(top) : recurse(top));
}

static int child(void) {
    static char alt[64 * 1024];
    stack_t ss = {.ss_sp = alt, .ss_size = sizeof alt};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    if (sigaltstack(&ss, NULL) != 0 || sigaction(SIGSEGV, &sa, NULL) != 0) {
        perror("overflow: child: sigaltstack/sigaction");
        return 4;
    }
    vow_loop_t *loop;
    if (vow_loop_new(&loop, VOW_BACKEND_AUTO) != 0) return 5;
    vow_t *p = vow_async(loop, runaway, NULL, NULL); /* runs at once: never returns */
    printf("overflow: child: the coroutine returned (state %d, depth %ld)\n",
           p != NULL ? (int)vow_state(p) : -1, (long)depth_reached);
    return 6;
}

static int verdict(pid_t pid);

static int run_one(void) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        perror("overflow: fork");
        return 1;
    }
    if (pid == 0) _exit(child());
    return verdict(pid);
}

static int verdict(pid_t pid) {
    int status;
    if (waitpid(pid, &status, 0) != pid) {
        perror("overflow: waitpid");
        return 1;
    }
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV) {
        printf("overflow: pass: the child's coroutine overflowed into its guard page and died "
               "of SIGSEGV\n");
        return 0;
    }
    if (WIFSIGNALED(status))
        printf("overflow: FAIL: the child died of signal %d (%s), expected SIGSEGV\n",
               WTERMSIG(status), strsignal(WTERMSIG(status)));
    else
        printf("overflow: FAIL: the child exited with status %d, expected death by SIGSEGV\n",
               WEXITSTATUS(status));
    return 1;
}

int main(int argc, char **argv) {
    plant_unguard = argc > 1 && strcmp(argv[1], "--plant-unguard") == 0;
    big_frames = argc > 1 && strcmp(argv[1], "--big-frames") == 0;
#ifdef ASAN
    const char *opts = getenv("ASAN_OPTIONS");
    if (opts == NULL || strstr(opts, "handle_segv=0") == NULL)
        printf("overflow: note: ASAN_OPTIONS has no handle_segv=0; relying on our own handler\n");
#endif
    if (!big_frames) return run_one();
    static const size_t kib[] = {12, 16, 20, 24, 28, 36, 44, 60};
    int failed = 0;
    for (size_t i = 0; i < sizeof kib / sizeof kib[0]; i++) {
        big_frame_bytes = kib[i] * 1024;
        printf("overflow: frames of %zu KiB\n", kib[i]);
        failed |= run_one();
    }
    return failed;
}
