/* proof/interp.h - the C interpreter of proof programs (proof/FORMAT.md) on vow.
 *
 * One parsed program runs on a loop the caller owns; several programs may run on the
 * same loop at once (their trace lines carry the program's index, and one program's
 * lines keep their order whatever the others do). The interpreter uses vow's public API
 * only, and checks as it goes that no reaction, timer or microtask runs twice, and at
 * the end that every value, payload and context destructor ran exactly once.
 */
#ifndef VOW_PROOF_INTERP_H
#define VOW_PROOF_INTERP_H

#include <stddef.h>
#include <stdio.h>

#include "vow.h"

typedef struct proof_prog proof_prog;

/* Where trace lines go: called once per reaction, timer or microtask run, with the line
 * without the program index and without a newline. NULL discards the trace. */
typedef void (*proof_emit_fn)(void *ud, int index, const char *line);

enum {
    PROOF_STRICT = 0x1, /* any malformed line or invalid reference is a parse error */
    PROOF_FUZZ = 0x2    /* delays become delay % 3 (fast fuzzing); limits are tighter */
};

/* Parses `len` bytes. Strict mode fails on the first bad line (message in err);
 * lenient mode drops bad lines and ops whose scope is not defined earlier, and skips
 * references to nodes that do not exist when the op runs. Returns NULL on error. */
proof_prog *proof_parse(const char *text, size_t len, unsigned flags, char *err, size_t errlen);

/* Number of ops kept. */
size_t proof_op_count(const proof_prog *p);

/* Runs the program's main scope on `loop` (the rest runs when the caller runs the loop).
 * `index` prefixes nothing here: it is passed to emit. */
void proof_start(proof_prog *p, vow_loop_t *loop, int index, proof_emit_fn emit, void *ud);

/* Sockets (FORMAT.md, Sockets): each `pair` op of the program is a connected loopback TCP
 * pair, set up before the program starts. proof_io_setup starts the setups on `loop`
 * (vow_tcp_listen on 127.0.0.1 port 0, vow_tcp_connect, the server's first accept; the
 * server is closed once it accepted): 0, or the first error. The caller then runs the loop
 * until it runs out of work; proof_io_ready answers 0 once every pair is connected, else
 * the setup's error (VOW_EAGAIN: not done yet). proof_io_pairs counts the pair ops.
 * proof_io_close closes every end (vow_sock_close: what waits on them rejects with
 * VOW_ECLOSED; the fuzzer's watchdog, so that a read nothing will satisfy cannot keep the
 * loop alive). The ends are unref'd by proof_release. */
int proof_io_pairs(const proof_prog *p);
int proof_io_setup(proof_prog *p, vow_loop_t *loop);
int proof_io_ready(const proof_prog *p);
void proof_io_close(proof_prog *p);

/* After the loop ran out of work: one trace line per node the program made, with its final
 * outcome (FORMAT.md, Final outcomes): "ID.end f VALUE", "ID.end r ERROR", "ID.end c"
 * (cancelled), "ID.end p" (still pending). */
void proof_end(proof_prog *p);

/* Frees the program's locks, semaphores, events and queues (their waiting promises are cancelled,
 * which may queue reactions: run the loop again before closing it) and stops the trace.
 * Returns 1 when there was any. proof_release calls it too. */
int proof_free_objects(proof_prog *p);

/* Before tearing the loop down with coroutines still suspended (async bodies awaiting
 * promises that never settle: vow_loop_close answers VOW_EBUSY then, so the caller uses
 * vow_loop_free, which resumes each with VOW_ECANCELED): marks the program stopped, so
 * its async bodies unwind at once without running more ops, and stops the trace. */
void proof_stop(proof_prog *p);

/* Drops the interpreter's references to the program's promises. Call after the loop ran
 * out of work and before closing it (or after vow_loop_free: handles stay valid). */
void proof_release(proof_prog *p);

/* After the loop is closed or freed: aborts unless every destructor (values, error
 * payloads, reaction contexts) ran exactly once. Then frees the program. */
void proof_check_and_free(proof_prog *p);

/* Frees without checking (a program that was never started). */
void proof_free(proof_prog *p);

/* A counting allocator for vow (vow_replace_allocator): the fuzzer and the batch runner
 * check that no allocation vow made is live at the end. Returns vow_replace_allocator's
 * code. */
int vow_proof_counting_allocator(void);
long vow_proof_live_allocs(void);

#endif /* VOW_PROOF_INTERP_H */
