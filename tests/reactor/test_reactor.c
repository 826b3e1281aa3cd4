/* The reactor alone: src/ built as its own static library (vow_reactor) and linked here
 * without promise/. Loops come from the reactor's own constructors; a test layer stands in
 * for the promise layer, with jobs embedded in its records, a pool, a timer release kind
 * and the loop callbacks (after_drain, teardown, destroy, verify). Proves the layering of
 * src/internal.h: if src/ named anything of promise/, this would not link. */
#include <stdint.h>
#include <string.h>

#include "helpers.h"
#include "../../src/internal.h"

TestSuite(reactor, .init = vow_test_setup, .fini = vow_test_teardown, .timeout = 10);

static vow_loop_t *reactor_loop(void) {
    vow_loop_t *loop = NULL;
    int rc = vow__loop_new(&loop, VOW_BACKEND_AUTO);
    cr_assert_eq(rc, 0, "vow__loop_new: %s", vow_strerror(rc));
    unsigned want = vow_test_expected_backend();
    if (want != 0) cr_assert_eq(vow_loop_backend(loop), want);
    return loop;
}

static char trace[256];
static size_t trace_len;
static void put(char c) {
    if (trace_len + 1 < sizeof trace) trace[trace_len++] = c, trace[trace_len] = '\0';
}

/* ---- microtasks, timers, immediates --------------------------------------------------- */

static void mt(vow_loop_t *loop, void *arg) {
    const char *s = arg;
    put(s[0]);
    if (s[1] != '\0') cr_assert_eq(vow_microtask(loop, mt, (void *)(s + 1)), 0);
}

static void on_timer(vow_loop_t *loop, void *arg) {
    put(*(const char *)arg);
    cr_assert_eq(vow_microtask(loop, mt, "m"), 0); /* drains after this callback */
}

static void on_immediate(vow_loop_t *loop, void *arg) {
    (void)loop;
    put(*(const char *)arg);
}

Test(reactor, microtasks_timers_and_immediates_in_node_order) {
    vow_loop_t *loop = reactor_loop();
    trace_len = 0;
    cr_assert_eq(vow_microtask(loop, mt, "abc"), 0); /* a chain of three, queued in turn */
    cr_assert_eq(vow_microtask(loop, mt, "x"), 0);
    /* "2" is made first and fires after "1" and "T" only if all three are made in one
     * millisecond (a timer counts from the clock at its call; a first call is slow under
     * valgrind): an attempt that straddles a tick is cleared and made again. */
    for (int attempt = 0;; attempt++) {
        cr_assert_lt(attempt, 100, "the clock ticked during every attempt");
        vow_timer_t ids[3];
        uint64_t t0 = vow_loop_update_time(loop);
        cr_assert_eq(vow_set_timeout(loop, on_timer, "2", 2, &ids[0]), 0);
        cr_assert_eq(vow_set_timeout(loop, on_timer, "1", 1, &ids[1]), 0);
        cr_assert_eq(vow_set_timeout(loop, on_timer, "T", 1, &ids[2]), 0);
        if (vow_loop_update_time(loop) == t0) break;
        for (int i = 0; i < 3; i++) cr_assert_eq(vow_clear_timeout(loop, ids[i]), 0);
    }
    cr_assert_eq(vow_set_immediate(loop, on_immediate, "i", NULL), 0);
    vow_timer_t gone;
    cr_assert_eq(vow_set_timeout(loop, on_timer, "!", 1, &gone), 0);
    cr_assert_eq(vow_clear_timeout(loop, gone), 0);
    cr_assert_eq(vow_loop_verify(loop), 0);
    cr_assert_eq(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    /* Microtasks FIFO (the chain's later links after x) before anything else; the timers
     * by deadline and creation order, each followed by its microtask; the immediate in
     * the first turn's check phase, which comes after the timers that are due by then (on
     * a loaded machine the 1 ms ones may be: where the immediate lands among them is
     * timing, so only its place after the microtasks is checked). */
    char without_i[sizeof trace];
    size_t k = 0;
    for (size_t i = 0; i < trace_len; i++)
        if (trace[i] != 'i') without_i[k++] = trace[i];
    without_i[k] = '\0';
    cr_assert_str_eq(without_i, "axbc1mTm2m", "trace %s", trace);
    cr_assert(strchr(trace, 'i') != NULL && strchr(trace, 'i') - trace >= 4, "trace %s", trace);
    VOW_TEST_END(loop);
}

/* ---- a layer ----------------------------------------------------------------------------- */

struct test_layer {
    int after_drains, teardowns, destroys, verifies;
};

typedef struct {
    vow__job job; /* at the head: the record queues itself */
    int id;
    int *freed;
} rec;

static int ran[8];
static int ran_len;

static void rec_job(vow_loop_t *loop, vow__job *job, int how) {
    rec *r = (rec *)job;
    if (how == VOW__JOB_RUN) ran[ran_len++] = r->id;
    if (how == VOW__JOB_RUN && r->id == 2) vow__loop_want_after_drain(loop, 1);
    (*r->freed)++;
    vow__pool_put(&loop->pools[VOW__POOL_FIRST_LAYER], r);
}

static void after_drain(vow_loop_t *loop, void *state) {
    (void)loop;
    ((struct test_layer *)state)->after_drains++;
}
static void teardown(vow_loop_t *loop, void *state) {
    (void)loop;
    ((struct test_layer *)state)->teardowns++;
}
static void destroy(vow_loop_t *loop, void *state) {
    (void)loop;
    ((struct test_layer *)state)->destroys++;
}
static void verify(const vow_loop_t *loop, void *state) {
    (void)loop;
    ((struct test_layer *)state)->verifies++;
}

static const vow__layer layer = {"test", after_drain, teardown, destroy, verify};

static int released;
static void release_int(void *arg) { released += *(int *)arg; }
static void nothing(vow_loop_t *loop, void *arg) { (void)loop, (void)arg; }

static rec *queue_rec(vow_loop_t *loop, int id, int *freed) {
    rec *r = vow__pool_alloc(&loop->pools[VOW__POOL_FIRST_LAYER]);
    cr_assert_not_null(r);
    r->id = id;
    r->freed = freed;
    r->job.fn = rec_job;
    vow__job_push(loop, &r->job);
    return r;
}

Test(reactor, a_layer_queues_its_own_records_and_is_called_back) {
    struct test_layer st = {0};
    int freed = 0;
    vow_loop_t *loop = reactor_loop();
    cr_assert_eq(vow__loop_add_layer(loop, 1, &layer, &st), 0);
    cr_assert_eq(vow__loop_add_layer(loop, 1, &layer, &st), VOW_EBUSY);
    cr_assert_eq(vow__loop_add_layer(loop, VOW__LAYERS, &layer, &st), VOW_EINVAL);
    vow__loop_pool_init(loop, VOW__POOL_FIRST_LAYER, sizeof(rec));
    cr_assert_eq(vow__loop_set_release(loop, 3, release_int), 0);
    cr_assert_eq(vow__loop_set_release(loop, 0, release_int), VOW_EINVAL);
    ran_len = 0;
    queue_rec(loop, 1, &freed);
    cr_assert_eq(vow_microtask(loop, nothing, NULL), 0);
    queue_rec(loop, 2, &freed);
    cr_assert_eq(vow_loop_alive(loop), 3);
    static int five = 5, seven = 7;
    cr_assert_eq(vow__timer_start(loop, VOW__T_TIMEOUT, 1, nothing, &five, 3, NULL), 0);
    vow_timer_t id;
    cr_assert_eq(vow__timer_start(loop, VOW__T_TIMEOUT, 50, nothing, &seven, 3, &id), 0);
    cr_assert_eq(vow__timer_clear(loop, id, 0), 0);
    cr_assert_eq(released, 7, "a cleared timer releases its argument at once");
    cr_assert_eq(vow_loop_verify(loop), 0);
    cr_assert_eq(st.verifies, 1);
    cr_assert_eq(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    cr_assert_eq(ran_len, 2);
    cr_assert_eq(ran[0], 1);
    cr_assert_eq(ran[1], 2);
    cr_assert_eq(freed, 2);
    cr_assert_eq(released, 12, "a fired timer releases its argument");
    cr_assert_eq(st.after_drains, 1, "after_drain runs once, after the drain that asked");
    cr_assert_eq(vow_microtask(loop, nothing, NULL), 0);
    cr_assert_eq(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    cr_assert_eq(st.after_drains, 1, "a drain nobody asked anything of calls nothing");
    cr_assert_eq(vow_loop_close(loop), 0);
    cr_assert_eq(st.teardowns, 1);
    cr_assert_eq(st.destroys, 1);
    cr_assert_eq(vow_test_live_allocs(), 0);
}

/* Forced teardown: timers release their arguments, queued records are dropped (their
 * function told so), the layer tears down, then its state is destroyed with the loop. */
Test(reactor, forced_teardown_drops_jobs_and_releases_timers) {
    struct test_layer st = {0};
    int freed = 0;
    released = 0;
    ran_len = 0;
    vow_loop_t *loop = reactor_loop();
    cr_assert_eq(vow__loop_add_layer(loop, 0, &layer, &st), 0);
    vow__loop_pool_init(loop, VOW__POOL_FIRST_LAYER, sizeof(rec));
    cr_assert_eq(vow__loop_set_release(loop, 1, release_int), 0);
    static int two = 2;
    cr_assert_eq(vow__timer_start(loop, VOW__T_TIMEOUT, 1000, nothing, &two, 1, NULL), 0);
    cr_assert_eq(vow__timer_start(loop, VOW__T_IMMEDIATE, 0, nothing, &two, 1, NULL), 0);
    for (int i = 0; i < 3; i++) queue_rec(loop, i, &freed);
    cr_assert_eq(vow_microtask(loop, nothing, NULL), 0);
    cr_assert_eq(vow_loop_close(loop), VOW_EBUSY);
    cr_assert_eq(vow_loop_free(loop), 0);
    cr_assert_eq(ran_len, 0, "nothing ran");
    cr_assert_eq(freed, 3);
    cr_assert_eq(released, 4);
    cr_assert_eq(st.teardowns, 1);
    cr_assert_eq(st.destroys, 1);
    cr_assert_eq(vow_test_live_allocs(), 0);
}

/* An application's own watcher on an owned loop keeps vow_loop_close from destroying the
 * libev loop under it. */
static void app_cb(struct ev_loop *evl, ev_timer *w, int revents) {
    (void)evl, (void)w, (void)revents;
    put('A');
}

Test(reactor, close_refuses_while_the_application_has_a_watcher) {
    vow_loop_t *loop = reactor_loop();
    trace_len = 0;
    ev_timer t;
    ev_timer_init(&t, app_cb, 0.001, 0.0);
    ev_timer_start(vow_loop_ev(loop), &t);
    cr_assert_eq(vow_loop_close(loop), VOW_EBUSY);
    cr_assert_eq(trace_len, 0, "the probe ran no callback");
    ev_run(vow_loop_ev(loop), 0);
    cr_assert_str_eq(trace, "A");
    cr_assert_eq(vow_loop_close(loop), 0);
    cr_assert_eq(vow_test_live_allocs(), 0);
}
