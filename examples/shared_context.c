/* shared_context - an `async def` with locals, ported as a chain of reactions that share
 * one heap context, and the safe way to free that context: after the last step, and also
 * when the chain is cancelled, even with a step already queued.
 *
 *     async def report(name):                  C: report(name, connection)
 *         conn = await connect(name)           step 1, got_connection: keeps conn
 *         rows = await query(conn)             step 2, got_rows: keeps the rows, the total
 *         await send(total)                    step 3, sent: makes the result
 *         return f"{name}: {total} ..."
 *
 * The locals live in one heap struct (locals_t) that every step reads and writes. Who
 * frees it? OWNERSHIP, the rule this file follows:
 *
 *   - Every step borrows the locals: vow_then_ok(p, step, L), no ctx_free.
 *   - Exactly one owner frees them: a last vow_finally(chain, NULL, L, locals_free). Its
 *     ctx_free runs exactly once, whatever happens (vow's callback contract): after the
 *     chain fulfilled, rejected or was cancelled, or when the loop is freed with the
 *     reaction unrun; or at once if vow_finally itself fails (it then returns NULL).
 *
 * Why the finally and not the last step's ctx_free? A cancellation drops the steps that
 * wait (their ctx_free runs at the cancel), but a step whose reaction is already queued
 * when the cancel comes still runs (vow/promise.h, "Cancellation"). Had the last step
 * owned the locals, they would be freed at the cancel, and the queued step would then
 * read freed memory. A finally's reaction is never dropped by a cancellation: it runs
 * when its source settles, and since it is queued after every step already queued, it
 * runs after them: the locals go last. (Another safe rule is a reference count: each step
 * takes a reference with ctx_free = the release, and the builder drops its own; the last
 * release frees. tests/test_shared_context.c checks both against every cancel point.)
 * One caveat: a vow_then_ok that runs out of memory returns NULL, and so does the rest of
 * the chain, down to the finally, which then frees the locals at once while an earlier
 * step may still wait to use them. A program that must survive running out of memory
 * takes the reference count, where each step's reference goes with its own reaction.
 *
 * Three runs: to the end; cancelled between two steps by a timeout (asyncio.wait_for);
 * cancelled by a callback that, in the same call, delivers the connection step 1 waits
 * for (step 1 is queued when the cancel comes: it runs, then the locals are freed).
 * No Python counterpart: examples/check.py runs it, and it must exit 0. */
#include <stdio.h>
#include <stdlib.h>

#include "vow.h"

/* The coroutine's locals. */
typedef struct {
    const char *name;
    int conn;
    int rows[3];
    int total;
} locals_t;

/* The owner's destructor: runs exactly once (the vow_finally's ctx_free). */
static void locals_free(void *ctx) {
    locals_t *L = ctx;
    printf("  %s: locals freed\n", L->name);
    free(L);
}

/* ---- connect, query, send: each takes 0.1 s ------------------------------------------------ */
static vow_result_t give_int(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v;
    return vow_ok_int((intptr_t)ctx);
}

static vow_t *do_connect(vow_loop_t *loop) {
    return vow_then_ok(vow_sleep(loop, 100), give_int, (void *)(intptr_t)7);
}
static vow_t *do_query(vow_loop_t *loop) { return vow_sleep(loop, 100); }
static vow_t *do_send(vow_loop_t *loop) { return vow_sleep(loop, 100); }

/* ---- the steps: each borrows the locals (ctx) ---------------------------------------------- */
/* conn = await connect(name); rows = await query(conn) */
static vow_result_t got_connection(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    locals_t *L = ctx;
    L->conn = (int)vow_value_int(v);
    printf("  %s step 1: connected (conn %d), querying\n", L->name, L->conn);
    return vow_follow(do_query(loop));
}

/* total = sum(rows); await send(total) */
static vow_result_t got_rows(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)v;
    locals_t *L = ctx;
    L->total = 0;
    for (int i = 0; i < 3; i++) {
        L->rows[i] = 10 * L->conn + i;
        L->total += L->rows[i];
    }
    printf("  %s step 2: 3 rows, total %d, sending\n", L->name, L->total);
    return vow_follow(do_send(loop));
}

/* return f"{name}: {total} from conn {conn}" */
static vow_result_t sent(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v;
    const locals_t *L = ctx;
    printf("  %s step 3: sent\n", L->name);
    char *line = malloc(64);
    if (line == NULL) return vow_fail_code(VOW_ENOMEM, NULL);
    snprintf(line, 64, "%s: %d from conn %d", L->name, L->total, L->conn);
    return vow_ok(vow_ptr(line, free));
}

/* async def report(name). `connection` (consumed) is what step 1 awaits. Returns the
 * task: the finally's promise. When the chain ends by itself, the task settles after the
 * locals are freed; a cancelled task rejects at once (vow_cancel), so whoever awaits it
 * hears of the cancellation while a queued step may still have to run, and the locals
 * are freed after that: only the steps and the finally may touch them. */
static vow_t *report(const char *name, vow_t *connection) {
    locals_t *L = calloc(1, sizeof *L);
    if (L == NULL) {
        vow_unref(connection);
        return NULL;
    }
    L->name = name;
    vow_t *p = vow_then_ok(connection, got_connection, L); /* borrows L */
    p = vow_then_ok(p, got_rows, L);                       /* borrows L */
    p = vow_then_ok(p, sent, L);                           /* borrows L */
    return vow_finally(p, NULL, L, locals_free);           /* owns L: frees it once */
}

/* ---- three runs, one after the other ------------------------------------------------------- */
static vow_result_t print_result(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)ctx;
    printf("result: %s\n", (const char *)vow_value_ptr(v));
    return vow_ok_none();
}

static vow_result_t print_failure(vow_loop_t *loop, vow_error_t *err, void *ctx) {
    (void)loop, (void)ctx;
    printf("result: %s\n", vow_err_name(vow_error_code(err)));
    return vow_ok_none();
}

/* The whole run of one report: prints its result, whatever it is. */
static vow_t *outcome(vow_t *task) {
    return vow_then_ex(task, print_result, print_failure, NULL, NULL, VOW_CATCH_CANCELLED);
}

/* Run 3's callback: the connection arrives, and in the same callback the user quits. */
typedef struct {
    vow_t *connection; /* a vow_new promise step 1 waits on */
    vow_t *task;
} quit_t;

static void connection_and_quit(vow_loop_t *loop, void *arg) {
    (void)loop;
    quit_t *q = arg;
    printf("  callback: the connection arrives (step 1 is queued), then the user quits\n");
    vow_resolve(q->connection, vow_int(9));
    vow_cancel(q->task); /* step 1 already queued: it still runs, before the locals go */
    vow_unref(q->connection);
    vow_unref(q->task);
    free(q);
}

static vow_result_t run3(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)v, (void)ctx;
    printf("\n=== 3. cancelled with step 1 already queued ===\n");
    quit_t *q = malloc(sizeof *q);
    if (q == NULL) return vow_fail_code(VOW_ENOMEM, NULL);
    q->connection = vow_new(loop);
    q->task = report("gamma", vow_ref(q->connection));
    vow_t *run = outcome(vow_ref(q->task));
    if (vow_set_timeout(loop, connection_and_quit, q, 50, NULL) != 0) {
        vow_unref(q->connection);
        vow_cancel(q->task);
        vow_unref(q->task);
        free(q);
    }
    return vow_follow(run);
}

static vow_result_t run2(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)v, (void)ctx;
    printf("\n=== 2. cancelled between steps 1 and 2 (wait_for, 0.15 s) ===\n");
    vow_t *task = report("beta", do_connect(loop));
    return vow_follow(vow_then_ok(outcome(vow_timeout(task, 150, 0)), run3, NULL));
}

static vow_t *amain(vow_loop_t *loop, void *arg) {
    (void)arg;
    printf("=== 1. to the end ===\n");
    vow_t *task = report("alpha", do_connect(loop));
    return vow_then_ok(outcome(task), run2, NULL);
}

int main(void) { return vow_main(amain, NULL); }
