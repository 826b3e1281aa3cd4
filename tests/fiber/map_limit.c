/* tests/fiber/map_limit.c - past the kernel's map limit, starting a coroutine fails
 * cleanly (vow/async.h, STACKS): vow_async's promise rejects with VOW_ENOMEM, nothing
 * crashes, and everything started before still finishes and gives its stack back.
 *
 * In a forked child (a process that exhausts its mappings should not be the test runner):
 * coroutines that each await a never-settling vow_new promise are started until vow_async
 * answers a promise rejected with VOW_ENOMEM (at most 70,000 tries: vm.max_map_count is
 * 65530 by default, two mappings per stack). Then: the count must exceed 1000; each
 * coroutine is cancelled and the loop run, so every await returns VOW_ECANCELED and every
 * coroutine returns; vow_async_live must be back to 0; a new coroutine must start and
 * finish again; vow_loop_free must answer 0. The parent expects the child to exit 0.
 *
 * Prints the count and "map_limit: pass" or "map_limit: FAIL ..."; exits 0 or 1.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vow.h"

enum { MAX_TRIES = 70000, MIN_COROUTINES = 1000 };

static long cancelled_awaits, other_awaits, returned;

static vow_result_t waiter(vow_loop_t *loop, void *arg) {
    (void)arg;
    int rc = vow_await(vow_new(loop), NULL); /* never settles: only a cancel ends it */
    if (rc == VOW_ECANCELED)
        cancelled_awaits++;
    else
        other_awaits++;
    returned++;
    return vow_ok_none();
}

static vow_result_t swallow(vow_loop_t *loop, vow_error_t *err, void *ctx) {
    (void)loop;
    (void)err;
    (void)ctx;
    return vow_ok_none();
}

/* Reads a settled promise's rejection code (0 when fulfilled), then handles it and drops it
 * (a rejection nobody handles would be reported, as Node reports it). */
static int code_and_drop(vow_t *p) {
    int code = vow_state(p) == VOW_REJECTED ? vow_error_code(vow_error(p)) : 0;
    vow_unref(vow_catch(p, swallow, NULL, NULL));
    return code;
}

static vow_result_t quick(vow_loop_t *loop, void *arg) {
    (void)arg;
    vow_outcome_t o;
    int rc = vow_await(vow_resolved(loop, vow_int(7)), &o);
    int64_t v = rc == 0 ? vow_value_int(&o.value) : -1;
    vow_outcome_release(&o);
    return vow_ok_int(v * 6);
}

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        printf("map_limit: FAIL: " __VA_ARGS__);                                                   \
        printf("\n");                                                                              \
        return 1;                                                                                  \
    } while (0)

static int child(void) {
    vow_loop_t *loop;
    int rc = vow_loop_new(&loop, VOW_BACKEND_AUTO);
    if (rc != 0) FAIL("vow_loop_new: %s", vow_strerror(rc));
    /* 64 KiB stacks, the default without AddressSanitizer, under it too (its default, 256
     * KiB, would cost a GB of shadow memory here; these coroutines need little stack). */
    rc = vow_async_set_stack_size(loop, 64 * 1024);
    if (rc != 0) FAIL("vow_async_set_stack_size: %s", vow_strerror(rc));
    vow_t **started = malloc(sizeof *started * MAX_TRIES);
    if (started == NULL) FAIL("malloc");
    long n = 0;
    int refused = 0;
    while (n < MAX_TRIES) {
        vow_t *p = vow_async(loop, waiter, NULL, NULL);
        if (p == NULL) FAIL("vow_async answered NULL after %ld coroutines", n);
        if (vow_state(p) == VOW_PENDING) {
            started[n++] = p;
            continue;
        }
        int state = (int)vow_state(p);
        int code = code_and_drop(p);
        if (code != VOW_ENOMEM)
            FAIL("coroutine %ld: state %d, code %s; expected pending or VOW_ENOMEM", n, state,
                 vow_err_name(code));
        refused = 1;
        break;
    }
    printf("map_limit: %ld coroutines started before vow_async refused (%s)\n", n,
           refused ? "VOW_ENOMEM" : "never: stopped at the cap");
    if (!refused) FAIL("no VOW_ENOMEM within %d coroutines", MAX_TRIES);
    if (n <= MIN_COROUTINES) FAIL("only %ld coroutines before VOW_ENOMEM", n);
    if (vow_async_live(loop) != n) FAIL("vow_async_live %d, expected %ld", vow_async_live(loop), n);

    /* A second refusal at the limit is as clean as the first. */
    vow_t *again = vow_async(loop, waiter, NULL, NULL);
    if (again == NULL) FAIL("a second vow_async at the limit answered NULL");
    if (vow_state(again) != VOW_REJECTED || code_and_drop(again) != VOW_ENOMEM)
        FAIL("a second vow_async at the limit did not reject with VOW_ENOMEM");

    for (long i = 0; i < n; i++) {
        vow_cancel(started[i]);
        vow_unref(started[i]);
    }
    free(started);
    rc = vow_loop_run(loop, VOW_RUN_DEFAULT);
    if (rc != 0) FAIL("vow_loop_run: %d", rc);
    if (returned != n || cancelled_awaits != n)
        FAIL("%ld of %ld coroutines returned, %ld awaits cancelled, %ld otherwise", returned, n,
             cancelled_awaits, other_awaits);
    if (vow_async_live(loop) != 0)
        FAIL("vow_async_live %d after all returned", vow_async_live(loop));

    /* The stacks came back: a new coroutine starts and finishes. */
    vow_outcome_t o;
    rc = vow_run(loop, vow_async(loop, quick, NULL, NULL), &o);
    if (rc != 0 || o.state != VOW_FULFILLED || vow_value_int(&o.value) != 42)
        FAIL("a coroutine after the limit: rc %d, state %d", rc, (int)o.state);
    vow_outcome_release(&o);
    if (vow_async_live(loop) != 0) FAIL("vow_async_live %d at the end", vow_async_live(loop));
    rc = vow_loop_free(loop);
    if (rc != 0) FAIL("vow_loop_free: %s", vow_strerror(rc));
    printf("map_limit: pass: %ld coroutines, then VOW_ENOMEM; all cancelled and returned\n", n);
    return 0;
}

int main(void) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        perror("map_limit: fork");
        return 1;
    }
    if (pid == 0) {
        exit(child()); /* exit, not _exit: LeakSanitizer checks the child's teardown */
    }
    int status;
    if (waitpid(pid, &status, 0) != pid) {
        perror("map_limit: waitpid");
        return 1;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
    if (WIFSIGNALED(status))
        printf("map_limit: FAIL: the child died of signal %d (%s)\n", WTERMSIG(status),
               strsignal(WTERMSIG(status)));
    else
        printf("map_limit: FAIL: the child exited with status %d\n", WEXITSTATUS(status));
    return 1;
}
