/* bench/coro.c - W11a, W11b and W11c on vow (issue 16), written as a user would (vow.h only).
 *
 * W11a: one coroutine (vow_async) awaits N already-resolved promises in a loop,
 *       `sum += await Promise.resolve(i)`: vow_await(vow_resolved(loop, vow_int(i))). As in
 *       Node, each await of a settled promise costs one job; vow's coroutine takes a short
 *       cut when that job would be the next to run anyway (it was resumed by its own await's
 *       job and the queue is empty: promise/async.c), so here, alone on the loop, it goes on
 *       without suspending after its first await. The clock runs from vow_async to the
 *       coroutine's promise settled. ns/await: wall time over N.
 * W11b: the same N awaits shared by two coroutines started together (the first awaits the
 *       even steps, the second the odd ones), joined with vow_all: each await finds the
 *       other coroutine's job queued, so every await suspends and is resumed by its job
 *       (a resume plus suspend pair each). ns/await.
 * W11c: the same loop in callback form: a reaction on vow_resolved(loop, vow_int(i)) adds
 *       the value and arms the next step the same way (`Promise.resolve(i).then(step)`,
 *       re-armed from inside the step). Per step: one fulfilled promise, one reaction, one
 *       job, as in W11a; the chain is built as it runs, so at most one step is alive (W1
 *       builds all N first). The last step resolves the final promise. ns/step.
 * Each checks the count of steps and the sum of the values (bench_w11_check); --inject-wrong:
 * step 0's promise holds 1 (bench_w11_value).
 */
#include "workloads.h"

/* ---- W11a and W11b: await in a loop ------------------------------------------------------- */

typedef struct w11_state {
    const bench_args *a;
    vow_loop_t *loop;
    long count;
    int64_t sum;
    int failed;  /* an await that did not fulfil */
    vow_t *done; /* W11c: resolved by the last step */
    long first;  /* W11a, W11b: this coroutine's first step, and the stride to its next */
    long stride;
} w11_state;

static vow_result_t w11a_body(vow_loop_t *loop, void *arg) {
    w11_state *st = arg;
    const long n = st->a->n;
    for (long i = st->first; i < n; i += st->stride) {
        vow_outcome_t o;
        if (vow_await(vow_resolved(loop, vow_int(bench_w11_value(st->a, i))), &o) != 0) {
            vow_outcome_release(&o);
            st->failed = 1;
            break;
        }
        st->sum += vow_value_int(&o.value);
        st->count++;
        vow_outcome_release(&o);
    }
    return vow_ok_none();
}

/* `ncoro` coroutines (1: W11a, 2: W11b) share the N awaits. */
static int w11a(const bench_args *a, vow_loop_t *loop, int ncoro) {
    w11_state st[2];
    vow_t *ps[2];
    for (int k = 0; k < ncoro; k++) st[k] = (w11_state){a, loop, 0, 0, 0, NULL, k, ncoro};
    vow_outcome_t out;
    uint64_t t0 = bench_wall_ns();
    for (int k = 0; k < ncoro; k++) ps[k] = vow_async(loop, w11a_body, &st[k], NULL);
    vow_t *p = ncoro == 1 ? ps[0] : vow_all(loop, ps, (size_t)ncoro);
    int rc = p != NULL ? vow_run(loop, p, &out) : VOW_ENOMEM;
    uint64_t t1 = bench_wall_ns();
    const char *name = bench_workload_of(a->w)->name;
    if (rc != 0) {
        fprintf(stderr, "W%s vow: vow_run failed: %s\n", name, vow_strerror(rc));
        return BENCH_EXIT_ERROR;
    }
    int state = out.state;
    vow_outcome_release(&out);
    long count = 0;
    int64_t sum = 0;
    int failed = 0;
    for (int k = 0; k < ncoro; k++) {
        count += st[k].count;
        sum += st[k].sum;
        failed |= st[k].failed;
    }
    if (state != VOW_FULFILLED || failed)
        return bench_wrong(a, "a coroutine %s after %ld awaits in all",
                           failed ? "saw an await fail" : "rejected", count);
    if ((rc = bench_w11_check(a, count, sum)) != 0) return rc;
    bench_report(a, (double)(t1 - t0) / (double)a->n, (double)(t1 - t0) / 1e6);
    return 0;
}

/* ---- W11c: the callback form ------------------------------------------------------------- */

static vow_result_t w11c_step(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    w11_state *st = ctx;
    st->sum += vow_value_int(v);
    long i = ++st->count;
    if (i < st->a->n) {
        vow_t *next =
            vow_then_ok(vow_resolved(loop, vow_int(bench_w11_value(st->a, i))), w11c_step, st);
        if (next == NULL) {
            st->failed = 1;
            vow_resolve(st->done, vow_none());
        }
        vow_unref(next); /* the reaction stays: dropping the derived promise cancels nothing */
    } else {
        vow_resolve(st->done, vow_none());
    }
    return vow_ok_none();
}

static int w11c(const bench_args *a, vow_loop_t *loop) {
    w11_state st = {a, loop, 0, 0, 0, NULL, 0, 1};
    uint64_t t0 = bench_wall_ns();
    st.done = vow_new(loop);
    vow_t *first = vow_then_ok(vow_resolved(loop, vow_int(bench_w11_value(a, 0))), w11c_step, &st);
    if (st.done == NULL || first == NULL) return BENCH_EXIT_ERROR;
    vow_unref(first);
    vow_outcome_t out;
    int rc = vow_run(loop, vow_ref(st.done), &out);
    uint64_t t1 = bench_wall_ns();
    vow_unref(st.done);
    if (rc != 0) {
        fprintf(stderr, "W11c vow: vow_run failed: %s\n", vow_strerror(rc));
        return BENCH_EXIT_ERROR;
    }
    vow_outcome_release(&out);
    if (st.failed) return bench_wrong(a, "a step could not arm the next after %ld", st.count);
    if ((rc = bench_w11_check(a, st.count, st.sum)) != 0) return rc;
    bench_report(a, (double)(t1 - t0) / (double)a->n, (double)(t1 - t0) / 1e6);
    return 0;
}

int bench_w11(const bench_args *a, vow_loop_t *loop) {
    switch (a->w) {
    case 211: return w11a(a, loop, 1);
    case 511: return w11a(a, loop, 2);
    case 311: return w11c(a, loop);
    default: return bench_unsupported(a);
    }
}
