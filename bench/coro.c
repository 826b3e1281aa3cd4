/* bench/coro.c - W11a and W11c on vow (issue 16), written as a user would (vow.h only).
 *
 * W11a: one coroutine (vow_async) awaits N already-resolved promises in a loop,
 *       `sum += await Promise.resolve(i)`: vow_await(vow_resolved(loop, vow_int(i))). Each
 *       await registers the coroutine on a fulfilled promise, suspends, and is resumed by
 *       the one job that follows (Node's count for an await of a native promise). The clock
 *       runs from vow_async to the coroutine's promise settled. ns/await: wall time over N.
 * W11c: the same loop in callback form: a reaction on vow_resolved(loop, vow_int(i)) adds
 *       the value and arms the next step the same way (`Promise.resolve(i).then(step)`,
 *       re-armed from inside the step). Per step: one fulfilled promise, one reaction, one
 *       job, as in W11a; the chain is built as it runs, so at most one step is alive (W1
 *       builds all N first). The last step resolves the final promise. ns/step.
 * Both check the count of steps and the sum of the values (bench_w11_check); --inject-wrong:
 * step 0's promise holds 1 (bench_w11_value).
 */
#include "workloads.h"

/* ---- W11a: await in a loop -------------------------------------------------------------- */

typedef struct w11_state {
    const bench_args *a;
    vow_loop_t *loop;
    long count;
    int64_t sum;
    int failed;  /* an await that did not fulfil */
    vow_t *done; /* W11c: resolved by the last step */
} w11_state;

static vow_result_t w11a_body(vow_loop_t *loop, void *arg) {
    w11_state *st = arg;
    const long n = st->a->n;
    for (long i = 0; i < n; i++) {
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

static int w11a(const bench_args *a, vow_loop_t *loop) {
    w11_state st = {a, loop, 0, 0, 0, NULL};
    vow_outcome_t out;
    uint64_t t0 = bench_wall_ns();
    vow_t *p = vow_async(loop, w11a_body, &st, NULL);
    int rc = p != NULL ? vow_run(loop, p, &out) : VOW_ENOMEM;
    uint64_t t1 = bench_wall_ns();
    if (rc != 0) {
        fprintf(stderr, "W11a vow: vow_run failed: %s\n", vow_strerror(rc));
        return BENCH_EXIT_ERROR;
    }
    int state = out.state;
    vow_outcome_release(&out);
    if (state != VOW_FULFILLED || st.failed)
        return bench_wrong(a, "the coroutine %s after %ld awaits",
                           st.failed ? "saw an await fail" : "rejected", st.count);
    if ((rc = bench_w11_check(a, st.count, st.sum)) != 0) return rc;
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
    w11_state st = {a, loop, 0, 0, 0, NULL};
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
    return a->w == 211 ? w11a(a, loop) : a->w == 311 ? w11c(a, loop) : bench_unsupported(a);
}
