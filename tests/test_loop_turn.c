/* tests/test_loop_turn.c - what a loop turn does without vow's prepare callback and without
 * a clock read per phase (src/loop.c's top comment): work queued outside the libev loop of
 * a wrapped loop still runs before libev blocks in its poll (libev invokes the fed drain
 * watcher when ev_run is entered); vow_loop_close still counts the application's watchers
 * on a loop vow owns (foreign_watchers starts the prepare watcher for that alone);
 * vow_loop_now reads the clock at the first look after each poll and keeps that value for
 * the rest of the turn. */
#include <criterion/criterion.h>
#include <ev.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"

TestSuite(loop_turn, .init = vow_test_setup, .fini = vow_test_teardown, .timeout = 30);

/* ---- work queued outside a wrapped loop's ev_run ------------------------------------------- */
static double ran_at;
static int reactions;

static vow_result_t note_time(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v, (void)ctx;
    ran_at = vow_test_mono_s();
    reactions++;
    return vow_ok_none();
}

static int fired;
static void app_timer(struct ev_loop *evl, ev_timer *w, int revents) {
    (void)evl, (void)w, (void)revents;
    fired++;
}

Test(loop_turn, outside_work_runs_before_the_poll_blocks) {
    struct ev_loop *evl = ev_loop_new(EVFLAG_AUTO);
    cr_assert_not_null(evl);
    vow_loop_t *loop = NULL;
    VOW_ASSERT_CODE(vow_loop_wrap(&loop, evl), 0);
    /* The application's own timer, 400 ms away: the poll would block that long. */
    ev_timer t;
    ev_timer_init(&t, app_timer, 0.4, 0.0);
    ev_timer_start(evl, &t);
    for (int round = 0; round < 2; round++) {
        /* A reaction queued by the application's code, outside any callback. */
        vow_t *p = vow_new(loop);
        vow_unref(vow_then_ok(vow_ref(p), note_time, NULL));
        VOW_ASSERT_CODE(vow_resolve(p, vow_none()), 0);
        vow_unref(p);
        VOW_ASSERT_EQ(reactions, round, "queued, not run yet");
        double start = vow_test_mono_s();
        ev_run(evl, EVRUN_ONCE);
        VOW_ASSERT_EQ(reactions, round + 1);
        cr_assert_lt(ran_at - start, 0.2, "the reaction waited %.3f s for the poll",
                     ran_at - start);
    }
    cr_assert_eq(fired, 1, "the second round's poll blocked until the timer");
    VOW_ASSERT_CODE(vow_loop_close(loop), 0);
    ev_loop_destroy(evl);
    VOW_ASSERT_EQ(vow_test_live_allocs(), 0L);
}

/* A loop vow owns, with a watcher of the application's: vow_loop_close counts it. */
Test(loop_turn, close_counts_the_application_watchers_on_an_owned_loop) {
    vow_loop_t *loop = vow_test_loop();
    ev_timer t;
    ev_timer_init(&t, app_timer, 10.0, 0.0);
    ev_timer_start(vow_loop_ev(loop), &t);
    VOW_ASSERT_CODE(vow_loop_close(loop), VOW_EBUSY);
    ev_timer_stop(vow_loop_ev(loop), &t);
    VOW_TEST_END(loop);
}

/* ---- the cached time ------------------------------------------------------------------------ */
struct times {
    vow_loop_t *loop;
    uint64_t set_at, in_timer, in_timer_later, in_immediate, next_turn;
    int done;
};

static void next_turn_cb(vow_loop_t *loop, void *arg) {
    struct times *t = arg;
    t->next_turn = vow_loop_now(loop);
    t->done = 1;
}

static void immediate_cb(vow_loop_t *loop, void *arg) {
    struct times *t = arg;
    t->in_immediate = vow_loop_now(loop);
    /* Queued during the check phase: runs in the next turn, after another poll. */
    VOW_ASSERT_CODE(vow_set_immediate(loop, next_turn_cb, t, NULL), 0);
}

static void timer_cb(vow_loop_t *loop, void *arg) {
    struct times *t = arg;
    t->in_timer = vow_loop_now(loop);
    usleep(5 * 1000);
    t->in_timer_later = vow_loop_now(loop);
    VOW_ASSERT_CODE(vow_set_immediate(loop, immediate_cb, t, NULL), 0);
}

Test(loop_turn, now_is_read_once_a_turn) {
    vow_loop_t *loop = vow_test_loop();
    struct times t = {.loop = loop};
    t.set_at = vow_loop_update_time(loop);
    VOW_ASSERT_CODE(vow_set_timeout(loop, timer_cb, &t, 20, NULL), 0);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    cr_assert(t.done);
    cr_assert_geq(t.in_timer, t.set_at + 20, "the timer's turn reads the clock");
    VOW_ASSERT_EQ(t.in_timer_later, t.in_timer, "cached for the rest of the turn");
    VOW_ASSERT_EQ(t.in_immediate, t.in_timer, "the same turn's check phase: the same time");
    cr_assert_geq(t.next_turn, t.in_timer + 5, "the next turn reads the clock again");
    VOW_TEST_END(loop);
}

Test(loop_turn, now_outside_the_loop_reads_the_clock_once_then_caches) {
    vow_loop_t *loop = vow_test_loop();
    uint64_t a = vow_loop_now(loop);
    usleep(3 * 1000);
    VOW_ASSERT_EQ(vow_loop_now(loop), a, "no poll since: cached");
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_NOWAIT), 0); /* one poll */
    uint64_t b = vow_loop_now(loop);
    cr_assert_geq(b, a + 3, "a poll since: read again");
    VOW_TEST_END(loop);
}

/* ---- vow_run runs libev's loop for many turns at once ---------------------------------------- */
/* vow_run no longer enters ev_run once per turn: the drain that follows the promise's
 * settlement ends the run (vow_run watches its promise with a record whose job does
 * nothing, so even a settlement nothing else reacts to queues a job and a drain). Here the
 * promise is settled by the application's own lowest-priority watcher, last in its turn,
 * with no reaction on it but vow_run's; the application's timer, 2 s away, would keep the
 * next poll blocked that long if libev went on polling. */
struct late {
    vow_t *p;
    int fds[2];
};

static void late_io(struct ev_loop *evl, ev_io *w, int revents) {
    (void)revents;
    struct late *l = w->data;
    char c;
    cr_assert_eq(read(w->fd, &c, 1), 1);
    ev_io_stop(evl, w);
    VOW_ASSERT_CODE(vow_resolve(l->p, vow_int(7)), 0);
}

Test(loop_turn, run_returns_when_a_watcher_after_the_check_settles_the_promise) {
    vow_loop_t *loop = vow_test_loop();
    struct ev_loop *evl = vow_loop_ev(loop);
    struct late l = {.p = vow_new(loop)};
    cr_assert_eq(pipe(l.fds), 0);
    ev_io io;
    ev_io_init(&io, late_io, l.fds[0], EV_READ);
    ev_set_priority(&io, EV_MINPRI);
    io.data = &l;
    ev_io_start(evl, &io);
    ev_timer t;
    ev_timer_init(&t, app_timer, 2.0, 0.0);
    ev_timer_start(evl, &t);
    cr_assert_eq(write(l.fds[1], "x", 1), 1);
    double start = vow_test_mono_s();
    vow_outcome_t o;
    VOW_ASSERT_CODE(vow_run(loop, vow_ref(l.p), &o), 0);
    cr_assert_lt(vow_test_mono_s() - start, 1.0, "vow_run waited %.3f s after its promise settled",
                 vow_test_mono_s() - start);
    VOW_ASSERT_STATE(o.state, VOW_FULFILLED);
    VOW_ASSERT_EQ(vow_value_int(&o.value), 7);
    vow_outcome_release(&o);
    vow_unref(l.p);
    ev_timer_stop(evl, &t);
    close(l.fds[0]);
    close(l.fds[1]);
    VOW_TEST_END(loop);
}

/* A promise that settles after many turns (a chain of immediates, each a turn). */
static void count_turns(vow_loop_t *loop, void *arg) {
    struct late *l = arg;
    int *n = (int *)&l->fds[0];
    if (++*n == 100)
        VOW_ASSERT_CODE(vow_resolve(l->p, vow_none()), 0);
    else
        VOW_ASSERT_CODE(vow_set_immediate(loop, count_turns, l, NULL), 0);
}

Test(loop_turn, run_over_many_turns) {
    vow_loop_t *loop = vow_test_loop();
    struct late l = {.p = vow_new(loop)};
    VOW_ASSERT_CODE(vow_set_immediate(loop, count_turns, &l, NULL), 0);
    vow_outcome_t o;
    VOW_ASSERT_CODE(vow_run(loop, vow_ref(l.p), &o), 0);
    VOW_ASSERT_STATE(o.state, VOW_FULFILLED);
    VOW_ASSERT_EQ(l.fds[0], 100);
    vow_outcome_release(&o);
    vow_unref(l.p);
    VOW_TEST_END(loop);
}

/* ---- the check phase: on only while immediates wait ------------------------------------------ */
/* vow's check watcher is started when the first immediate is queued and stopped when the
 * last has run. An immediate queued by a callback of a turn (a timer's, an I/O watcher's,
 * the application's own) still runs in that turn's check phase, as Node runs it: libev
 * queued the turn's check watchers before it invoked them, so the new one is fed. */
struct imm_turn {
    vow_loop_t *loop;
    unsigned queued_in, ran_in;
    int ran;
};

static void imm_note(vow_loop_t *loop, void *arg) {
    struct imm_turn *it = arg;
    it->ran_in = ev_iteration(vow_loop_ev(loop));
    it->ran++;
}

static void imm_queue(struct imm_turn *it) {
    it->queued_in = ev_iteration(vow_loop_ev(it->loop));
    VOW_ASSERT_CODE(vow_set_immediate(it->loop, imm_note, it, NULL), 0);
}

static void imm_from_timer(vow_loop_t *loop, void *arg) {
    (void)loop;
    imm_queue(arg);
}

static void imm_from_app_io(struct ev_loop *evl, ev_io *w, int revents) {
    (void)revents;
    char c;
    cr_assert_eq(read(w->fd, &c, 1), 1);
    ev_io_stop(evl, w);
    imm_queue(w->data);
}

Test(loop_turn, an_immediate_queued_by_a_timer_runs_in_the_same_turn) {
    vow_loop_t *loop = vow_test_loop();
    struct imm_turn it = {.loop = loop};
    cr_assert_eq(vow_loop_verify(loop), 0);
    VOW_ASSERT_CODE(vow_set_timeout(loop, imm_from_timer, &it, 1, NULL), 0);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(it.ran, 1);
    VOW_ASSERT_EQ(it.ran_in, it.queued_in, "queued in turn %u, ran in turn %u", it.queued_in,
                  it.ran_in);
    VOW_TEST_END(loop); /* (vow_loop_verify: the check watcher is off again) */
}

Test(loop_turn, an_immediate_queued_by_an_application_watcher_runs_in_the_same_turn) {
    vow_loop_t *loop = vow_test_loop();
    struct imm_turn it = {.loop = loop};
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    ev_io io;
    ev_io_init(&io, imm_from_app_io, fds[0], EV_READ);
    io.data = &it;
    ev_io_start(vow_loop_ev(loop), &io);
    cr_assert_eq(write(fds[1], "x", 1), 1);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(it.ran, 1);
    VOW_ASSERT_EQ(it.ran_in, it.queued_in);
    close(fds[0]);
    close(fds[1]);
    VOW_TEST_END(loop);
}

Test(loop_turn, an_immediate_queued_before_the_run_runs_in_its_first_turn) {
    vow_loop_t *loop = vow_test_loop();
    struct imm_turn it = {.loop = loop};
    imm_queue(&it);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(it.ran, 1);
    VOW_ASSERT_EQ(it.ran_in, it.queued_in + 1, "libev counts the turn when it starts it");
    VOW_TEST_END(loop);
}

/* An immediate queued after the check phase's last immediate ran, by work that immediate
 * left behind (a microtask drained after it: Node's queueMicrotask in a setImmediate
 * callback), runs in the next turn: vow/timer.h, "one queued from inside an immediate runs
 * on the next loop turn" (Node's processImmediate runs only the queue it took). The check
 * watcher, stopped when the last immediate ran, must not be fed then: libev would invoke it
 * again in the same turn. */
static void imm_from_microtask(vow_loop_t *loop, void *arg) {
    (void)loop;
    imm_queue(arg);
}

static void imm_leaves_a_microtask(vow_loop_t *loop, void *arg) {
    VOW_ASSERT_CODE(vow_microtask(loop, imm_from_microtask, arg), 0);
}

Test(loop_turn, an_immediate_queued_by_the_last_immediates_microtask_waits_a_turn) {
    vow_loop_t *loop = vow_test_loop();
    struct imm_turn it = {.loop = loop};
    VOW_ASSERT_CODE(vow_set_immediate(loop, imm_leaves_a_microtask, &it, NULL), 0);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(it.ran, 1);
    VOW_ASSERT_EQ(it.ran_in, it.queued_in + 1, "queued in turn %u, ran in turn %u", it.queued_in,
                  it.ran_in);
    VOW_TEST_END(loop);
}

/* The common way to yield to the loop, `await new Promise(r => setImmediate(r))`, in a
 * loop: each immediate settles a promise whose reaction queues the next one. Each step is
 * a turn, so timers and I/O still run between steps; here a 1 ms timer ends the chain.
 * (Were the next immediate run in the same turn, the chain would never let libev poll
 * again: the timer would never fire, and the chain would run for ever.) */
enum { YIELD_MAX = 5000 };
struct yielder {
    vow_loop_t *loop;
    int steps;
    int timer_fired;
};

static void yield_resolve(vow_loop_t *loop, void *arg) {
    (void)loop;
    VOW_ASSERT_CODE(vow_resolve(arg, vow_none()), 0);
    vow_unref(arg);
}

static vow_result_t yield_step(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)v;
    struct yielder *y = ctx;
    if (y->timer_fired || ++y->steps >= YIELD_MAX) return vow_ok_none();
    double until =
        vow_test_mono_s() + 20e-6; /* each step takes a little time: the timer comes due */
    while (vow_test_mono_s() < until) {
    }
    vow_t *p = vow_new(loop);
    cr_assert_not_null(p);
    VOW_ASSERT_CODE(vow_set_immediate(loop, yield_resolve, vow_ref(p), NULL), 0);
    return vow_follow(vow_then_ok(p, yield_step, y));
}

static void yield_timer(vow_loop_t *loop, void *arg) {
    (void)loop;
    ((struct yielder *)arg)->timer_fired = 1;
}

Test(loop_turn, a_chain_of_immediates_through_promises_lets_timers_run) {
    vow_loop_t *loop = vow_test_loop();
    struct yielder y = {.loop = loop};
    VOW_ASSERT_CODE(vow_set_timeout(loop, yield_timer, &y, 1, NULL), 0);
    vow_t *done = vow_then_ok(vow_resolved(loop, vow_none()), yield_step, &y);
    cr_assert_not_null(done);
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(loop, done, &out), 0);
    VOW_ASSERT_STATE(out.state, VOW_FULFILLED);
    cr_assert(y.timer_fired, "the 1 ms timer never ran during %d steps of the chain", y.steps);
    cr_assert_lt(y.steps, YIELD_MAX);
    vow_outcome_release(&out);
    VOW_TEST_END(loop);
}
