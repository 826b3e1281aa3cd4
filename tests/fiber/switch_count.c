/* tests/fiber/switch_count.c - 10,000 await round trips in one coroutine, for
 * scripts/fiber_strace.sh, which counts the rt_sigprocmask calls the run makes (strace -c).
 *
 * Each round awaits a promise that is still pending when vow_await is called and that a
 * microtask queued just before fulfils: the coroutine must suspend, and the await's job
 * resumes it, two context switches per round, whatever shortcut an await of an already
 * settled promise may take (promise/async.c goes on without switching when it can). The
 * asm back end makes no system call per switch; the ucontext one (swapcontext) makes one
 * rt_sigprocmask per switch, which is how the script knows these switches happen. The
 * program checks its own answer (the sum of what it awaited) and prints it; exit 0 when
 * right.
 *
 *   switch_count [N]   (default 10000)
 */
#include <stdio.h>
#include <stdlib.h>

#include "vow.h"

static long rounds = 10000;

static void settle(vow_loop_t *loop, void *arg) {
    (void)loop;
    vow_t *p = arg;
    vow_resolve(p, vow_int(1));
    vow_unref(p);
}

static vow_result_t awaiter(vow_loop_t *loop, void *arg) {
    (void)arg;
    int64_t sum = 0;
    for (long i = 0; i < rounds; i++) {
        vow_t *p = vow_new(loop);
        if (p == NULL) return vow_fail_code(VOW_ENOMEM, "vow_new");
        int rc = vow_microtask(loop, settle, vow_ref(p));
        if (rc != 0) {
            vow_unref(p);
            vow_unref(p);
            return vow_fail_code(rc, "vow_microtask");
        }
        vow_outcome_t o;
        rc = vow_await(p, &o); /* pending here: the coroutine suspends */
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
    int ok = rc == 0 && out.state == VOW_FULFILLED && vow_value_int(&out.value) == rounds;
    if (ok)
        printf("switch_count: %ld awaits of a pending promise, each fulfilled with 1: sum %ld\n",
               rounds, rounds);
    else
        fprintf(stderr, "switch_count: run_main %s, state %d, expected the sum %ld\n",
                vow_strerror(rc), (int)out.state, rounds);
    vow_outcome_release(&out);
    return ok ? 0 : 1;
}
