/* tests/fiber/switch_count.c - 10,000 await round trips in one coroutine, for
 * scripts/fiber_strace.sh, which counts the rt_sigprocmask calls the run makes (strace -c).
 *
 * Each vow_await(vow_resolved(...)) suspends the coroutine and resumes it one job later:
 * two context switches. The asm back end makes no system call per switch; the ucontext
 * one (swapcontext) makes one rt_sigprocmask per switch. The program checks its own
 * answer (the sum of what it awaited) and prints it; exit 0 when right.
 *
 *   switch_count [N]   (default 10000)
 */
#include <stdio.h>
#include <stdlib.h>

#include "vow.h"
#include "vow/async.h"

static long rounds = 10000;

static vow_result_t awaiter(vow_loop_t *loop, void *arg) {
    (void)arg;
    int64_t sum = 0;
    for (long i = 0; i < rounds; i++) {
        vow_outcome_t o;
        int rc = vow_await(vow_resolved(loop, vow_int(i)), &o);
        if (rc != 0) return vow_fail_code(rc, "await failed");
        sum += vow_value_int(&o.value);
        vow_outcome_release(&o);
    }
    return vow_ok_int(sum);
}

int main(int argc, char **argv) {
    if (argc > 1) rounds = strtol(argv[1], NULL, 10);
    vow_loop_t *loop;
    int rc = vow_loop_new(&loop, VOW_BACKEND_AUTO);
    if (rc != 0) {
        fprintf(stderr, "switch_count: vow_loop_new: %s\n", vow_strerror(rc));
        return 1;
    }
    vow_outcome_t out; /* vow_run_main frees the loop */
    rc = vow_run_main(loop, vow_async(loop, awaiter, NULL, NULL), &out);
    int64_t want = (int64_t)rounds * (rounds - 1) / 2;
    int ok = rc == 0 && out.state == VOW_FULFILLED && vow_value_int(&out.value) == want;
    if (ok)
        printf("switch_count: %ld awaits, sum %lld\n", rounds, (long long)want);
    else
        fprintf(stderr, "switch_count: run_main %s, state %d, expected the sum %lld\n",
                vow_strerror(rc), (int)out.state, (long long)want);
    vow_outcome_release(&out);
    return ok ? 0 : 1;
}
