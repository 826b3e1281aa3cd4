/* proof/fuzz.c - libFuzzer target: the input bytes are a proof program (proof/FORMAT.md),
 * parsed leniently (bad lines are dropped, references to nodes that do not exist when an
 * op runs are skipped, timer delays become delay % 3 ms), run on a fresh vow loop.
 *
 * Checks, each an abort() that libFuzzer reports as a crash:
 *   - no reaction, timer or microtask callback runs twice (proof/interp.c counts runs per
 *     reaction id);
 *   - every value box, error payload and reaction context destructor runs exactly once;
 *   - every promise was freed: once the interpreter dropped its references and the loop
 *     was closed (or freed), no allocation vow made through vow_replace_allocator is live;
 *   - a loop that ran out of work closes with vow_loop_close (no VOW_EBUSY), once the
 *     program's locks, semaphores and events were freed and the cancellations of their
 *     waiters ran.
 * The teardown varies with the input: run to the end then close; run to the end, free the
 * loop, then drop the handles; or one non-blocking turn, then free the loop with timers
 * and reactions still pending (vow_loop_free's forced path). Coroutines (async bodies)
 * still suspended at the end make vow_loop_close answer VOW_EBUSY (vow/async.h): then the
 * program is stopped (proof_stop: its bodies unwind) and the loop freed, which resumes
 * each one; that path must leave nothing live either.
 *
 * Sockets (FORMAT.md, Sockets): the program's `pair` ops (4 at most) are set up first, on
 * the same loop (vow_tcp_listen, vow_tcp_connect, the server's accept stream), run until
 * connected. A mutated program's reads need not be satisfiable, so a watchdog timer closes
 * every end 5 ms after the start: what waits then rejects with VOW_ECLOSED, later socket
 * ops answer VOW_ECLOSED, and the loop runs out of work.
 *
 * Build (clang): -fsanitize=fuzzer,address,undefined, the library with
 * -fsanitize=fuzzer-no-link,address,undefined (tests/compare_proof.cmake does this).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "interp.h"

/* Formats the trace (so the formatting code is fuzzed too) and throws it away. */
static void emit(void *ud, int index, const char *line) {
    (void)index;
    *(size_t *)ud += strlen(line);
}

static void watchdog(vow_loop_t *loop, void *arg) {
    (void)loop;
    proof_io_close(arg);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    if (vow_proof_counting_allocator() != 0) abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 16384) return 0;
    proof_prog *p = proof_parse((const char *)data, size, PROOF_FUZZ, NULL, 0);
    if (p == NULL) return 0;
    if (proof_op_count(p) == 0) {
        proof_free(p);
        return 0;
    }
    unsigned mode = 0;
    for (size_t i = 0; i < size; i++) mode = mode * 31u + data[i];
    mode %= 4; /* 0, 1: close; 2: free then release; 3: early forced free */

    vow_loop_t *loop = NULL;
    if (vow_loop_new(&loop, VOW_BACKEND_AUTO) != 0) abort();
    vow_set_unhandled_mode(loop, VOW_UNHANDLED_SILENT);
    if (proof_io_pairs(p) > 0) {
        int rc = proof_io_setup(p, loop);
        if (rc == 0 && vow_loop_run(loop, VOW_RUN_DEFAULT) != 0) rc = VOW_EINVAL;
        if (rc == 0) rc = proof_io_ready(p);
        if (rc != 0) {
            fprintf(stderr, "fuzz: the socket pairs were not set up: %s\n", vow_strerror(rc));
            abort();
        }
        if (vow_set_timeout(loop, watchdog, p, 5, NULL) != 0) abort();
    }
    size_t chars = 0;
    proof_start(p, loop, 0, emit, &chars);

    if (mode == 3) {
        if (vow_loop_run(loop, VOW_RUN_NOWAIT) < 0) abort();
        proof_stop(p);
        if (vow_loop_free(loop) != 0) abort();
        proof_release(p);
    } else {
        if (vow_loop_run(loop, VOW_RUN_DEFAULT) != 0) {
            fprintf(stderr, "fuzz: vow_loop_run did not return 0\n");
            abort();
        }
        if (mode == 2) {
            proof_stop(p);
            if (vow_loop_free(loop) != 0) abort();
            proof_release(p);
        } else {
            /* Freeing the objects cancels their waiters; those reactions run first. */
            if (proof_free_objects(p) && vow_loop_run(loop, VOW_RUN_DEFAULT) != 0) abort();
            proof_release(p);
            int rc = 0;
            if (vow_async_live(loop) > 0) {
                proof_stop(p); /* suspended for good: vow_loop_close would be EBUSY */
                if (vow_loop_free(loop) != 0) abort();
            } else {
                rc = vow_loop_close(loop);
            }
            if (rc != 0) {
                fprintf(stderr, "fuzz: vow_loop_close after the loop ran out of work: %s\n",
                        vow_strerror(rc));
                abort();
            }
        }
    }
    proof_check_and_free(p);
    if (vow_proof_live_allocs() != 0) {
        fprintf(stderr,
                "fuzz: %ld vow allocations still live after teardown (a promise "
                "or reaction was not freed)\n",
                vow_proof_live_allocs());
        abort();
    }
    return 0;
}
