/* tests/test_shared_context.c - the shared-context pattern (examples/shared_context.c): an
 * async function's locals in one heap context that a chain of 4 steps shares, each step
 * borrowing it, and exactly one owner that frees it. Two safe owners are checked:
 *   - OWNER_FINALLY: a last vow_finally(chain, NULL, ctx, free) (its record is never
 *     dropped by a cancellation: it runs when its source settles, after the steps already
 *     queued);
 *   - OWNER_REFCOUNT: each step's then holds a reference (ctx_free releases it) and the
 *     builder drops its own; the last release frees.
 * The chain's task is cancelled at every point: before step 1 runs, with step 1 queued,
 * between each two steps, with each next step already queued, from inside each step, after
 * step 4 ran, after the task settled; and the loop is freed with a step queued. Each time:
 * the context is freed exactly once and never before a step that reads it; the steps that
 * ran are those before the cancel plus the one already queued, which still runs
 * (vow/promise.h, "Cancellation"); no vow allocation is left. Last, the unsafe owner (the
 * last step's ctx_free) is shown to free the context before a queued step runs.
 *
 * Step k (1..4) reacts to gate[k-1], a vow_new promise the test resolves: step 1 directly,
 * steps 2-4 through the previous step, which returns vow_follow(gate[k-1]). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "helpers.h"

TestSuite(shared_context, .init = vow_test_setup, .fini = vow_test_teardown, .timeout = 30);

enum { STEPS = 4 };
typedef enum { OWNER_FINALLY, OWNER_REFCOUNT, OWNER_LAST_STEP } owner_t;
static const owner_t safe_owners[] = {OWNER_FINALLY, OWNER_REFCOUNT};
static const char *const owner_names[] = {"finally", "refcount", "last step"};

/* The async function's locals (a heap object of the test's, not a vow allocation). */
typedef struct {
    int refs; /* OWNER_REFCOUNT */
    int sum;  /* each step adds its number: 1 + 2 + 3 + 4 = 10 */
} locals_t;

static struct {
    owner_t owner;
    vow_t *gate[STEPS]; /* the test's references */
    vow_t *task;        /* the chain's end, the handle its caller holds: the test's reference */
    locals_t *ctx;
    int live;           /* allocated and not freed */
    int freed;          /* how many times it was freed */
    int keep;           /* count the free but keep the memory (the unsafe owner) */
    int ran[STEPS + 1]; /* ran[k]: step k's runs */
    int ran_after_cancel[STEPS + 1];
    int ran_on_freed[STEPS + 1]; /* step k ran after the context was freed */
    int cancelled;               /* vow_cancel(task) was called */
    int cancel_rc;               /* and answered this */
    int cancel_from_step;        /* step k calls vow_cancel(task) itself */
    int cancel_after_step;       /* step k queues a microtask that cancels */
    int steps_at_cancel;         /* how many steps had run when the cancel came */
} t;

static int steps_run(void) {
    int n = 0;
    for (int k = 1; k <= STEPS; k++) n += t.ran[k];
    return n;
}

/* ---- the owners' destructors ------------------------------------------------------------ */
static void locals_free(void *p) {
    cr_assert(t.live, "the context is freed a second time");
    cr_assert_eq(p, t.ctx);
    t.live = 0;
    t.freed++;
    if (!t.keep) free(p);
}

static void locals_unref(void *p) {
    locals_t *l = p;
    cr_assert_gt(l->refs, 0);
    if (--l->refs == 0) locals_free(l);
}

static locals_t *locals_ref(locals_t *l) {
    l->refs++;
    return l;
}

/* ---- the cancel, from wherever it comes ------------------------------------------------- */
static void cancel_task(void) {
    t.steps_at_cancel = steps_run();
    t.cancel_rc = vow_cancel(t.task);
    t.cancelled = 1;
}

static void cancel_task_mt(vow_loop_t *loop, void *arg) {
    (void)loop, (void)arg;
    cancel_task();
}

/* ---- the steps: each borrows the context ------------------------------------------------- */
static vow_result_t step(vow_loop_t *loop, int k, locals_t *l) {
    t.ran[k]++;
    if (t.cancelled) t.ran_after_cancel[k]++;
    if (!t.live) {
        t.ran_on_freed[k]++;
        cr_assert(t.keep, "step %d ran after the context was freed", k);
    }
    l->sum += k; /* reads and writes the context (a use after free is a sanitizer report) */
    if (t.cancel_from_step == k) cancel_task();
    if (t.cancel_after_step == k) VOW_ASSERT_CODE(vow_microtask(loop, cancel_task_mt, NULL), 0);
    if (k < STEPS) return vow_follow(vow_ref(t.gate[k])); /* await the next gate */
    return vow_ok_int(l->sum);
}

static vow_result_t step1(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)v;
    return step(loop, 1, ctx);
}
static vow_result_t step2(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)v;
    return step(loop, 2, ctx);
}
static vow_result_t step3(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)v;
    return step(loop, 3, ctx);
}
static vow_result_t step4(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)v;
    return step(loop, 4, ctx);
}
static const vow_on_ok steps[STEPS] = {step1, step2, step3, step4};

/* ---- the chain ----------------------------------------------------------------------------- */
static vow_loop_t *build(owner_t owner) {
    memset(&t, 0, sizeof t);
    vow_loop_t *loop = vow_test_loop();
    t.owner = owner;
    for (int k = 0; k < STEPS; k++) {
        t.gate[k] = vow_new(loop);
        cr_assert_not_null(t.gate[k]);
    }
    locals_t *l = calloc(1, sizeof *l);
    cr_assert_not_null(l);
    t.ctx = l;
    t.live = 1;
    vow_t *p = vow_ref(t.gate[0]);
    switch (owner) {
    case OWNER_FINALLY: /* every step borrows; the finally owns */
        for (int k = 0; k < STEPS; k++) p = vow_then_ok(p, steps[k], l);
        t.task = vow_finally(p, NULL, l, locals_free);
        break;
    case OWNER_REFCOUNT: /* every step holds a reference; so does the builder, until here */
        l->refs = 1;
        for (int k = 0; k < STEPS; k++)
            p = vow_then(p, steps[k], NULL, locals_ref(l), locals_unref);
        locals_unref(l);
        t.task = p;
        break;
    case OWNER_LAST_STEP: /* unsafe: the last step's ctx_free frees */
        for (int k = 0; k < STEPS - 1; k++) p = vow_then_ok(p, steps[k], l);
        t.task = vow_then(p, steps[STEPS - 1], NULL, l, locals_free);
        break;
    }
    cr_assert_not_null(t.task);
    return loop;
}

static void run(vow_loop_t *loop) { VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0); }

static void open_gate(int k) { VOW_ASSERT_CODE(vow_resolve(t.gate[k], vow_int(k)), 0); }

/* Steps 1..n run, and the chain waits on gate[n]. */
static void run_steps(vow_loop_t *loop, int n) {
    for (int k = 0; k < n; k++) {
        open_gate(k);
        run(loop);
    }
    VOW_ASSERT_EQ(steps_run(), n, "steps run before the cancel");
    VOW_ASSERT_EQ(t.freed, 0, "the context was freed before the cancel");
}

/* Runs what is left, then checks: steps 1..n ran once each, step `queued` (0: none) and
 * no other ran after the cancel, the context was freed once, the task is cancelled (or
 * fulfilled with 10 when `fulfilled`); then releases everything and ends the test. */
static void finish(vow_loop_t *loop, int n, int queued, int fulfilled) {
    const char *o = owner_names[t.owner];
    run(loop);
    for (int k = 1; k <= STEPS; k++) {
        VOW_ASSERT_EQ(t.ran[k], k <= n ? 1 : 0, "%s: step %d's runs", o, k);
        VOW_ASSERT_EQ(t.ran_after_cancel[k], k == queued ? 1 : 0,
                      "%s: step %d's runs after the cancel", o, k);
        VOW_ASSERT_EQ(t.ran_on_freed[k], 0, "%s: step %d ran on a freed context", o, k);
    }
    VOW_ASSERT_EQ(t.freed, 1, "%s: the context's frees", o);
    VOW_ASSERT_EQ(t.live, 0, "%s", o);
    if (fulfilled) {
        VOW_ASSERT_STATE(vow_state(t.task), VOW_FULFILLED, "%s", o);
        VOW_ASSERT_EQ(vow_value_int(vow_value(t.task)), 10, "%s", o);
    } else {
        VOW_ASSERT_STATE(vow_state(t.task), VOW_REJECTED, "%s", o);
        cr_assert(vow_is_cancellation(vow_error(t.task)), "%s: the task is not cancelled", o);
    }
    for (int k = 0; k < STEPS; k++) vow_unref(t.gate[k]);
    vow_unref(t.task);
    VOW_TEST_END(loop);
}

/* ---- cancel points --------------------------------------------------------------------------- */

Test(shared_context, cancelled_before_step_1_runs) {
    for (size_t i = 0; i < 2; i++) {
        vow_loop_t *loop = build(safe_owners[i]);
        cancel_task();
        VOW_ASSERT_CODE(t.cancel_rc, 0);
        /* the upstream rule reaches what the chain waits on (user references do not count) */
        VOW_ASSERT_STATE(vow_state(t.gate[0]), VOW_REJECTED, "%s", owner_names[t.owner]);
        finish(loop, 0, 0, 0);
    }
}

Test(shared_context, cancelled_with_step_1_queued_runs_step_1_then_frees) {
    for (size_t i = 0; i < 2; i++) {
        vow_loop_t *loop = build(safe_owners[i]);
        open_gate(0); /* step 1's reaction is queued now */
        cancel_task();
        VOW_ASSERT_CODE(t.cancel_rc, 0);
        VOW_ASSERT_EQ(t.ran[1], 0);
        finish(loop, 1, 1, 0);
    }
}

Test(shared_context, cancelled_between_two_steps) {
    for (size_t i = 0; i < 2; i++) {
        for (int k = 1; k < STEPS; k++) { /* after step k, waiting for step k + 1 */
            vow_loop_t *loop = build(safe_owners[i]);
            run_steps(loop, k);
            cancel_task();
            VOW_ASSERT_CODE(t.cancel_rc, 0, "after step %d", k);
            finish(loop, k, 0, 0);
        }
    }
}

Test(shared_context, cancelled_with_the_next_step_queued_runs_it_then_frees) {
    for (size_t i = 0; i < 2; i++) {
        for (int k = 1; k < STEPS; k++) {
            vow_loop_t *loop = build(safe_owners[i]);
            run_steps(loop, k);
            /* Opening gate k queues the job that settles step k's promise; that job queues
             * step k + 1, so a microtask queued now runs between the two: the cancel comes
             * with step k + 1 queued. */
            open_gate(k);
            VOW_ASSERT_CODE(vow_microtask(loop, cancel_task_mt, NULL), 0);
            run(loop);
            VOW_ASSERT_EQ(t.steps_at_cancel, k, "%s: step %d had run at the cancel",
                          owner_names[t.owner], k + 1);
            VOW_ASSERT_CODE(t.cancel_rc, 0);
            finish(loop, k + 1, k + 1, 0);
        }
    }
}

Test(shared_context, cancelled_from_inside_a_step) {
    for (size_t i = 0; i < 2; i++) {
        for (int k = 1; k <= STEPS; k++) {
            vow_loop_t *loop = build(safe_owners[i]);
            t.cancel_from_step = k;
            run_steps(loop, k - 1);
            open_gate(k - 1);
            run(loop);
            VOW_ASSERT_CODE(t.cancel_rc, 0, "%s: cancelled in step %d", owner_names[t.owner], k);
            finish(loop, k, 0, 0);
        }
    }
}

Test(shared_context, cancelled_after_step_4_ran) {
    for (size_t i = 0; i < 2; i++) {
        vow_loop_t *loop = build(safe_owners[i]);
        t.cancel_after_step = STEPS; /* a microtask step 4 queues: runs right after it */
        run_steps(loop, STEPS - 1);
        open_gate(STEPS - 1);
        run(loop);
        if (t.owner == OWNER_FINALLY) {
            /* step 4's promise has fulfilled, the finally is queued: the task is pending */
            VOW_ASSERT_CODE(t.cancel_rc, 0);
            finish(loop, STEPS, 0, 0);
        } else {
            /* the task is step 4's promise: settled, and the context went with step 4 */
            VOW_ASSERT_CODE(t.cancel_rc, VOW_ESETTLED);
            finish(loop, STEPS, 0, 1);
        }
    }
}

Test(shared_context, cancelled_after_the_task_settled_changes_nothing) {
    for (size_t i = 0; i < 2; i++) {
        vow_loop_t *loop = build(safe_owners[i]);
        run_steps(loop, STEPS - 1);
        open_gate(STEPS - 1);
        run(loop);
        VOW_ASSERT_EQ(t.freed, 1, "%s: freed once the chain ended", owner_names[t.owner]);
        cancel_task();
        VOW_ASSERT_CODE(t.cancel_rc, VOW_ESETTLED);
        finish(loop, STEPS, 0, 1);
    }
}

Test(shared_context, loop_freed_with_a_step_queued_frees_once_and_runs_nothing) {
    for (size_t i = 0; i < 2; i++) {
        for (int k = 0; k < STEPS; k++) {
            vow_loop_t *loop = build(safe_owners[i]);
            run_steps(loop, k);
            open_gate(k); /* queued: step 1 itself, or the job that leads to step k + 1 */
            for (int g = 0; g < STEPS; g++) vow_unref(t.gate[g]);
            vow_unref(t.task);
            VOW_TEST_END_FORCED(loop);
            VOW_ASSERT_EQ(steps_run(), k, "%s: a step ran at teardown", owner_names[t.owner]);
            VOW_ASSERT_EQ(t.freed, 1, "%s: the context's frees", owner_names[t.owner]);
        }
    }
}

/* ---- why one owner that outlives the steps ------------------------------------------------ */

Test(shared_context, the_last_step_as_owner_frees_before_a_queued_step_runs) {
    vow_loop_t *loop = build(OWNER_LAST_STEP);
    t.keep = 1; /* the free is only counted: the step below then reads valid memory */
    open_gate(0);
    cancel_task(); /* step 1 queued; step 4's reaction waits, is dropped: its ctx_free runs */
    VOW_ASSERT_CODE(t.cancel_rc, 0);
    VOW_ASSERT_EQ(t.freed, 1, "the last step's ctx_free ran at the cancel");
    run(loop);
    VOW_ASSERT_EQ(t.ran[1], 1, "the queued step ran");
    VOW_ASSERT_EQ(t.ran_on_freed[1], 1, "and found its context freed: a use after free");
    free(t.ctx);
    for (int k = 0; k < STEPS; k++) vow_unref(t.gate[k]);
    vow_unref(t.task);
    VOW_TEST_END(loop);
}
