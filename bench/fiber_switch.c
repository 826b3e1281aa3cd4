/* bench/fiber_switch.c - W11s (issue 16): the raw cost of a coroutine switch, suspend plus
 * resume, on vow's own fibers (src/fiber.h: internal, so this program includes
 * src/internal.h and links the library statically, where the hidden symbols stay linkable).
 *
 *   vow-fiber-asm       w11s [N] [--inject-wrong]   the library's back end ("asm" on x86-64
 *                                                   and AArch64)
 *   vow-fiber-ucontext  w11s [N] [--inject-wrong]   src/fiber.c rebuilt with
 *                                                   VOW_FIBER_UCONTEXT (swapcontext)
 *
 * One fiber on a loop's stack; the thread resumes it N times, and each time it suspends at
 * once: one "switch" in the sense is one vow__fiber_resume plus the
 * vow__fiber_suspend that brings it back (two stack changes, each through
 * vow__fiber_switch: the thread-local bookkeeping and the sanitizer hooks, which compile to
 * nothing here, and the back end's switch; all of it inline, src/fiber.h, as in await). No promise, no job queue: what await adds on top is W11a's figure
 * minus this one. ns/switch: wall time over N.
 *
 * Check: before resume i the thread writes i to `token`; the fiber compares it with a
 * counter kept in a local on its own stack (so a switch that lost the fiber's frame or
 * registers shows) and sums the tokens; after N resumes one more lets the fiber return, and
 * it must then be done. --inject-wrong: the thread writes 1 before resume 0.
 */
#include "internal.h"

#include "bench.h"

#ifndef BENCH_FIBER_SYSTEM
#error "BENCH_FIBER_SYSTEM (the back end's name) is set by bench/CMakeLists.txt"
#endif

typedef struct switch_state {
    long n;
    volatile long token; /* written by the thread before each resume */
    long seen, bad;
    int64_t sum;
} switch_state;

static switch_state st;

static void body(vow__fiber *f) {
    (void)f;
    long expect = 0; /* on the fiber's stack, across every switch */
    for (long i = 0; i < st.n; i++) {
        long t = st.token;
        if (t != expect) st.bad++;
        st.sum += t;
        st.seen++;
        expect++;
        vow__fiber_suspend();
    }
}

int main(int argc, char **argv) {
    bench_args a;
    if (bench_parse(argc, argv, BENCH_FIBER_SYSTEM, &a) != 0) return BENCH_EXIT_USAGE;
    if (a.w != 411) return bench_unsupported(&a);
    vow_loop_t *loop;
    int rc = vow_loop_new(&loop, VOW_BACKEND_AUTO);
    if (rc != 0) {
        fprintf(stderr, "W11s %s: vow_loop_new: %s\n", a.system, vow_strerror(rc));
        return BENCH_EXIT_ERROR;
    }
    static vow__fiber f;
    st.n = a.n;
    if ((rc = vow__fiber_init(loop, &f, 0, body)) != 0) {
        fprintf(stderr, "W11s %s: vow__fiber_init: %s\n", a.system, vow_strerror(rc));
        return BENCH_EXIT_ERROR;
    }
    uint64_t t0 = bench_wall_ns();
    for (long i = 0; i < a.n; i++) {
        st.token = a.inject_wrong && i == 0 ? 1 : i;
        vow__fiber_resume(&f);
    }
    uint64_t t1 = bench_wall_ns();
    int early = f.done; /* it must still be suspended in its last iteration */
    vow__fiber_resume(&f);
    int done = f.done;
    vow__fiber_release(&f);
    vow_loop_free(loop);
    int64_t want = (int64_t)a.n * (a.n - 1) / 2;
    if (early || !done || st.seen != a.n || st.bad != 0 || st.sum != want)
        return bench_wrong(&a,
                           "the fiber saw %ld resumes (%ld with a token it did not expect), "
                           "summing to %lld, %s; expected %ld, 0, %lld, done after one more",
                           st.seen, st.bad, (long long)st.sum,
                           early  ? "done too early"
                           : done ? "done"
                                  : "not done",
                           a.n, (long long)want);
    bench_report(&a, (double)(t1 - t0) / (double)a.n, (double)(t1 - t0) / 1e6);
    return 0;
}
