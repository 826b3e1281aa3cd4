/* tests/trace_queue.c - vow/queue.h against Python 3.11's asyncio (tests/py/trace_queue.py,
 * compared line by line by tests/compare.sh): a bounded FIFO queue between a producer and a
 * consumer (every item once, in order; join after every task_done), LIFO and priority
 * order, getters waiting in line with one cancelled in the middle, the non-waiting answers
 * (QueueFull, QueueEmpty: VOW_EAGAIN), task_done called too often (ValueError:
 * VOW_ERANGE), and a get that times out without losing the item put after it. Only what
 * both must agree on is printed, not the job-by-job interleaving (a vow reaction costs a
 * microtask job where asyncio resumes a task). Shutdown is Python 3.13's and is not in
 * 3.11: tests/test_queue.c checks it against the 3.13 documentation. */
#include <stdint.h>
#include <stdio.h>

#include "trace.h"
#include "vow.h"

/* ---- a producer and a consumer over Queue(2) ------------------------------------------- */
enum { ITEMS = 6 };
struct pc {
    vow_queue_t *q;
    int64_t next;
    vow_t *produced; /* resolved when the last put is in */
};
static vow_result_t produce(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v;
    struct pc *s = ctx;
    if (s->next == ITEMS) {
        EXPECT(vow_resolve(s->produced, vow_none()) == 0);
        return vow_ok_none();
    }
    vow_unref(vow_then_ok(vow_queue_put(s->q, vow_int(s->next++)), produce, s));
    return vow_ok_none();
}
static vow_result_t consume(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    struct pc *s = ctx;
    printf("got %lld\n", (long long)vow_value_int(v));
    EXPECT(vow_queue_task_done(s->q) == 0);
    if (vow_value_int(v) < ITEMS - 1) vow_unref(vow_then_ok(vow_queue_get(s->q), consume, s));
    return vow_ok_none();
}

static vow_result_t got_named(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    printf("%s got %lld\n", (const char *)ctx, (long long)vow_value_int(v));
    return vow_ok_none();
}

static void put_nowait(vow_queue_t *q, int64_t i) {
    vow_value_t v = vow_int(i);
    int rc = vow_queue_put_nowait(q, &v);
    if (rc == VOW_EAGAIN) log_line("QueueFull");
    EXPECT(rc == 0 || rc == VOW_EAGAIN);
}
static void get_nowait(vow_queue_t *q) {
    vow_value_t v;
    int rc = vow_queue_get_nowait(q, &v);
    if (rc == 0) printf("%lld\n", (long long)vow_value_int(&v));
    if (rc == VOW_EAGAIN) log_line("QueueEmpty");
    EXPECT(rc == 0 || rc == VOW_EAGAIN);
}

int main(void) {
    vow_loop_t *loop = NULL;
    if (vow_loop_new(&loop, 0) != 0) return 1;

    log_line("-- producer and consumer");
    struct pc s = {.q = vow_queue_new(loop, 2), .produced = vow_new(loop)};
    vow_unref(vow_then_ok(vow_queue_get(s.q), consume, &s));
    vow_unref(produce(loop, NULL, &s).promise);
    EXPECT(vow_run(loop, s.produced, NULL) == 0);
    EXPECT(vow_run(loop, vow_queue_join(s.q), NULL) == 0);
    /* One line: vow_run returns once the microtasks of its turn ran, after the gets that
     * asyncio runs after its `await producer()` returns. */
    log_line("produced, joined");
    printf("empty %s\n", vow_queue_empty(s.q) ? "True" : "False");
    vow_queue_free(s.q);

    log_line("-- lifo and priority");
    vow_queue_t *l = vow_queue_lifo_new(loop, 0), *p = vow_queue_priority_new(loop, 0, NULL, NULL);
    const int in[] = {3, 1, 4, 1, 5};
    for (int i = 0; i < 5; i++) put_nowait(l, in[i]), put_nowait(p, in[i]);
    for (int i = 0; i < 5; i++) get_nowait(l);
    for (int i = 0; i < 5; i++) get_nowait(p);
    vow_queue_free(l);
    vow_queue_free(p);

    log_line("-- getters in line, the middle one cancelled");
    vow_queue_t *q = vow_queue_new(loop, 0);
    static const char *const G[] = {"G1", "G2", "G3"};
    vow_t *g[3];
    for (int i = 0; i < 3; i++) g[i] = vow_then_ok(vow_queue_get(q), got_named, (void *)G[i]);
    EXPECT(vow_loop_drain(loop) == 0);
    EXPECT(vow_cancel(g[1]) == 0); /* the upstream rule cancels its get */
    put_nowait(q, 10);
    put_nowait(q, 20);
    vow_t *all[3] = {vow_ref(g[0]), vow_ref(g[1]), vow_ref(g[2])};
    EXPECT(vow_run(loop, vow_all_settled(loop, all, 3), NULL) == 0);
    for (int i = 0; i < 3; i++) {
        printf("%s %s\n", G[i], vow_state(g[i]) == VOW_FULFILLED ? "ok" : "cancelled");
        vow_unref(g[i]);
    }
    printf("qsize %lld\n", (long long)vow_queue_size(q));

    log_line("-- non-waiting answers");
    vow_queue_t *b = vow_queue_new(loop, 1);
    put_nowait(b, 1);
    put_nowait(b, 2);
    printf("full %s\n", vow_queue_full(b) ? "True" : "False");
    get_nowait(b);
    get_nowait(b);
    if (vow_queue_task_done(b) == 0) log_line("task_done ok");
    if (vow_queue_task_done(b) == VOW_ERANGE) log_line("ValueError");
    vow_queue_free(b);

    log_line("-- a get that times out");
    vow_outcome_t out;
    EXPECT(vow_run(loop, vow_timeout(vow_queue_get(q), 10, 0), &out) == 0);
    if (out.state == VOW_REJECTED && vow_error_code(out.error) == VOW_ETIMEDOUT)
        log_line("get timed out");
    vow_outcome_release(&out);
    put_nowait(q, 30);
    get_nowait(q);
    vow_queue_free(q);

    EXPECT(vow_loop_close(loop) == 0);
    return failures != 0;
}
