/* tests/test_timer.c - setTimeout / setInterval / setImmediate as Node.js has them:
 * creation order for equal deadlines, deadline order otherwise, delay 0 is 1, clearing
 * from callbacks, ids that are never reused, immediates one pass per turn. */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* usleep under -std=c11 */
#endif
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

TestSuite(timer, .init = vow_test_setup, .fini = vow_test_teardown, .timeout = 10);

/* ---- a trace of events ---------------------------------------------------------------- */
static int trace[8192];
static int ntrace;
static void rec(int v) {
    cr_assert_lt(ntrace, (int)(sizeof trace / sizeof trace[0]));
    trace[ntrace++] = v;
}
static const char *trace_str(void) {
    static char buf[2048];
    char *p = buf;
    buf[0] = '\0';
    for (int i = 0; i < ntrace && p < buf + sizeof buf - 16; i++) p += sprintf(p, "%d ", trace[i]);
    return buf;
}
static void expect_trace(const int *want, int n) {
    VOW_ASSERT_EQ(ntrace, n, "trace has %d events, want %d: %s", ntrace, n, trace_str());
    for (int i = 0; i < n; i++)
        VOW_ASSERT_EQ(trace[i], want[i], "event %d is %d, want %d: %s", i, trace[i], want[i],
                      trace_str());
}
static void rec_arg(vow_loop_t *loop, void *arg) {
    (void)loop;
    rec((int)(intptr_t)arg);
}
#define TAG(x) ((void *)(intptr_t)(x))

/* ---- ordering ------------------------------------------------------------------------- */

Test(timer, sixty_four_equal_timers_fire_in_creation_order) {
    vow_loop_t *loop = vow_test_loop();
    ntrace = 0;
    int want[64];
    for (int i = 0; i < 64; i++) {
        VOW_ASSERT_CODE(vow_set_timeout(loop, rec_arg, TAG(i), 5, NULL), 0);
        want[i] = i;
    }
    VOW_ASSERT_EQ(vow_loop_alive(loop), 64);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    expect_trace(want, 64);
    VOW_TEST_END(loop);
}

static void make_64(vow_loop_t *loop, void *arg) {
    (void)arg;
    rec(-1);
    for (int i = 0; i < 64; i++)
        VOW_ASSERT_CODE(vow_set_timeout(loop, rec_arg, TAG(i), 3, NULL), 0);
}

Test(timer, equal_timers_created_inside_a_callback_fire_in_creation_order) {
    vow_loop_t *loop = vow_test_loop();
    ntrace = 0;
    VOW_ASSERT_CODE(vow_set_timeout(loop, make_64, NULL, 3, NULL), 0);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    int want[65];
    want[0] = -1;
    for (int i = 0; i < 64; i++) want[i + 1] = i;
    expect_trace(want, 65);
    VOW_TEST_END(loop);
}

/* A callback in the 5 ms list adds a 5 ms timer: it goes to the back of the list and
 * fires after the ones already waiting (not in the same pass, not before them). */
static void add_same_delay(vow_loop_t *loop, void *arg) {
    rec((int)(intptr_t)arg);
    VOW_ASSERT_CODE(vow_set_timeout(loop, rec_arg, TAG(99), 5, NULL), 0);
}

Test(timer, timer_created_in_a_callback_goes_after_waiting_ones) {
    vow_loop_t *loop = vow_test_loop();
    ntrace = 0;
    VOW_ASSERT_CODE(vow_set_timeout(loop, add_same_delay, TAG(1), 5, NULL), 0);
    VOW_ASSERT_CODE(vow_set_timeout(loop, rec_arg, TAG(2), 5, NULL), 0);
    VOW_ASSERT_CODE(vow_set_timeout(loop, rec_arg, TAG(3), 5, NULL), 0);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    const int want[] = {1, 2, 3, 99};
    expect_trace(want, 4);
    VOW_TEST_END(loop);
}

/* Timers made in one batch get their deadlines from the same millisecond only if the
 * batch does not straddle a tick of the loop clock (vow, like Node, may read the clock
 * for each new timer). make_batch() makes the batch; it is retried, after clearing what
 * it made, until the clock reads the same before and after it. */
static vow_timer_t batch_ids[256];
static int batch_n;
static void batch_timeout(vow_loop_t *loop, int tag, uint64_t ms) {
    cr_assert_lt(batch_n, 256);
    VOW_ASSERT_CODE(vow_set_timeout(loop, rec_arg, TAG(tag), ms, &batch_ids[batch_n++]), 0);
}
static void in_one_millisecond(vow_loop_t *loop, void (*make_batch)(vow_loop_t *)) {
    for (int attempt = 0; attempt < 1000; attempt++) {
        batch_n = 0;
        uint64_t t0 = vow_loop_update_time(loop);
        make_batch(loop);
        if (vow_loop_update_time(loop) == t0) return;
        for (int i = 0; i < batch_n; i++) VOW_ASSERT_CODE(vow_clear_timeout(loop, batch_ids[i]), 0);
    }
    cr_assert_fail("could not make the batch within one millisecond");
}

/* Node: a delay below 1 is 1, so 0 ms and 1 ms timers share one list and keep creation
 * order; a 2 ms timer created before them fires after them. */
static void zero_is_one_batch(vow_loop_t *loop) {
    batch_timeout(loop, 4, 2);
    batch_timeout(loop, 1, 0);
    batch_timeout(loop, 2, 1);
    batch_timeout(loop, 3, 0);
}

Test(timer, delay_zero_is_one) {
    vow_loop_t *loop = vow_test_loop();
    ntrace = 0;
    in_one_millisecond(loop, zero_is_one_batch);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    const int want[] = {1, 2, 3, 4};
    expect_trace(want, 4);
    VOW_TEST_END(loop);
}

struct stamp {
    vow_loop_t *loop;
    uint64_t set_at;
    uint64_t ms;
    int calls;
};
static void check_not_early(vow_loop_t *loop, void *arg) {
    struct stamp *s = arg;
    s->calls++;
    uint64_t now = vow_loop_now(loop);
    uint64_t want = s->set_at + (s->ms < 1 ? 1 : s->ms);
    cr_assert_geq(now, want, "a %llu ms timer fired after %llu ms", (unsigned long long)s->ms,
                  (unsigned long long)(now - s->set_at));
}

Test(timer, timers_never_fire_early) {
    vow_loop_t *loop = vow_test_loop();
    static const uint64_t delays[] = {0, 1, 2, 7, 25, 60};
    struct stamp st[6];
    for (int i = 0; i < 6; i++) {
        st[i] = (struct stamp){loop, vow_loop_now(loop), delays[i], 0};
        VOW_ASSERT_CODE(vow_set_timeout(loop, check_not_early, &st[i], delays[i], NULL), 0);
    }
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    for (int i = 0; i < 6; i++) VOW_ASSERT_EQ(st[i].calls, 1);
    VOW_TEST_END(loop);
}

enum { NDUR = 200 };
static int dur_delay[NDUR];
static void durations_batch(vow_loop_t *loop) {
    for (int i = 0; i < NDUR; i++) batch_timeout(loop, i, (uint64_t)dur_delay[i]);
}

Test(timer, different_durations_fire_in_deadline_order) {
    vow_loop_t *loop = vow_test_loop();
    ntrace = 0;
    /* All made in one millisecond: deadline order is delay order, and equal delays keep
     * creation order (a stable sort). */
    for (int i = 0; i < NDUR; i++) dur_delay[i] = (i * 7) % 13 + 1;
    in_one_millisecond(loop, durations_batch);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    int want[NDUR], k = 0;
    for (int d = 1; d <= 13; d++)
        for (int i = 0; i < NDUR; i++)
            if (dur_delay[i] == d) want[k++] = i;
    VOW_ASSERT_EQ(k, NDUR);
    expect_trace(want, NDUR);
    VOW_TEST_END(loop);
}

/* Timers of different durations that are all overdue when the loop gets to them (the
 * callback that made them blocked past every deadline) fire in deadline order, not in
 * creation order. They are made in one millisecond, so their deadlines are their delays'
 * order whatever the machine's speed. */
static void overdue_batch(vow_loop_t *loop) {
    batch_timeout(loop, 30, 30);
    batch_timeout(loop, 10, 10);
    batch_timeout(loop, 20, 20);
    batch_timeout(loop, 11, 10);
    batch_timeout(loop, 1, 1);
}
static void make_then_block(vow_loop_t *loop, void *arg) {
    (void)arg;
    rec(0);
    in_one_millisecond(loop, overdue_batch);
    usleep(60 * 1000);
}

Test(timer, overdue_timers_fire_in_deadline_order) {
    vow_loop_t *loop = vow_test_loop();
    ntrace = 0;
    VOW_ASSERT_CODE(vow_set_timeout(loop, make_then_block, NULL, 1, NULL), 0);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    const int want[] = {0, 1, 10, 11, 20, 30};
    expect_trace(want, 6);
    VOW_TEST_END(loop);
}

/* Two lists of different durations with exactly the same deadline: Node orders its
 * lists by (expiry, list id), so the list made first fires first. X (30 ms) is made at
 * t0 and Y (10 ms) when the loop clock reads exactly t0 + 20; each attempt that misses
 * its millisecond (the clock moved across the set call) is cleared and retried. */
Test(timer, equal_deadlines_across_lists_fire_in_list_creation_order) {
    vow_loop_t *loop = vow_test_loop();
    ntrace = 0;
    int made = 0;
    for (int attempt = 0; attempt < 200 && !made; attempt++) {
        vow_timer_t x, y;
        uint64_t t0 = vow_loop_update_time(loop);
        VOW_ASSERT_CODE(vow_set_timeout(loop, rec_arg, TAG(30), 30, &x), 0);
        if (vow_loop_update_time(loop) != t0) {
            VOW_ASSERT_CODE(vow_clear_timeout(loop, x), 0);
            continue;
        }
        uint64_t now;
        do now = vow_loop_update_time(loop);
        while (now < t0 + 20);
        if (now == t0 + 20) {
            VOW_ASSERT_CODE(vow_set_timeout(loop, rec_arg, TAG(10), 10, &y), 0);
            if (vow_loop_update_time(loop) == t0 + 20) {
                made = 1;
                break;
            }
            VOW_ASSERT_CODE(vow_clear_timeout(loop, y), 0);
        }
        VOW_ASSERT_CODE(vow_clear_timeout(loop, x), 0);
    }
    cr_assert(made, "could not hit the exact millisecond in 200 attempts");
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    const int want[] = {30, 10};
    expect_trace(want, 2);
    VOW_TEST_END(loop);
}

/* ---- microtasks and immediates between timers ------------------------------------------- */

static void rec_then_micro(vow_loop_t *loop, void *arg) {
    int v = (int)(intptr_t)arg;
    rec(v);
    VOW_ASSERT_CODE(vow_microtask(loop, rec_arg, TAG(v + 100)), 0);
}

Test(timer, microtasks_drain_between_two_timer_callbacks) {
    vow_loop_t *loop = vow_test_loop();
    ntrace = 0;
    VOW_ASSERT_CODE(vow_set_timeout(loop, rec_then_micro, TAG(1), 4, NULL), 0);
    VOW_ASSERT_CODE(vow_set_timeout(loop, rec_then_micro, TAG(2), 4, NULL), 0);
    VOW_ASSERT_CODE(vow_set_interval(loop, rec_then_micro, TAG(3), 4, NULL), 0);
    /* Let all three be due in one turn. */
    usleep(10 * 1000);
    cr_assert_gt(vow_loop_run(loop, VOW_RUN_ONCE), 0, "the interval is still active");
    const int want[] = {1, 101, 2, 102, 3, 103};
    expect_trace(want, 6);
    VOW_TEST_END_FORCED(loop); /* the interval is still active */
}

/* From inside a timer callback, an immediate runs before a 1 ms timer made in the same
 * callback (Node: the check phase of this turn comes before the next timers phase). */
static void timer_makes_immediate_and_timer(vow_loop_t *loop, void *arg) {
    (void)arg;
    rec(0);
    VOW_ASSERT_CODE(vow_set_timeout(loop, rec_arg, TAG(2), 0, NULL), 0);
    VOW_ASSERT_CODE(vow_set_immediate(loop, rec_arg, TAG(1), NULL), 0);
    VOW_ASSERT_CODE(vow_microtask(loop, rec_arg, TAG(-1)), 0);
}

Test(timer, immediate_from_timer_runs_before_a_new_one_ms_timer) {
    vow_loop_t *loop = vow_test_loop();
    ntrace = 0;
    VOW_ASSERT_CODE(vow_set_timeout(loop, timer_makes_immediate_and_timer, NULL, 1, NULL), 0);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    const int want[] = {0, -1, 1, 2};
    expect_trace(want, 4);
    VOW_TEST_END(loop);
}

/* ---- intervals ------------------------------------------------------------------------- */

struct iv_state {
    vow_timer_t id;
    int calls;
    int stop_at;
    int clear_rc;
    int clear_again_rc;
    uint64_t last;
    uint64_t ms;
    uint64_t observe_after; /* ms after the clear at which iv_observe looks */
    int seen_at_end;
};

static void iv_observe(vow_loop_t *loop, void *arg) {
    (void)loop;
    struct iv_state *s = arg;
    s->seen_at_end = s->calls;
}
/* Something that outlives the cleared interval by many periods, to see any extra tick. It
 * is made at the clear, not with the interval: made with it, it could look before the
 * last tick on a slow enough machine. */
static void observe_after_clear(vow_loop_t *loop, struct iv_state *s) {
    VOW_ASSERT_CODE(vow_set_timeout(loop, iv_observe, s, s->observe_after, NULL), 0);
}

static void iv_self_clear(vow_loop_t *loop, void *arg) {
    struct iv_state *s = arg;
    s->calls++;
    if (s->calls == s->stop_at) {
        s->clear_rc = vow_clear_interval(loop, s->id);
        s->clear_again_rc = vow_clear_interval(loop, s->id);
        observe_after_clear(loop, s);
    }
}

Test(timer, interval_cleared_from_its_own_callback_fires_no_more) {
    vow_loop_t *loop = vow_test_loop();
    struct iv_state s = {.stop_at = 3, .clear_rc = 1, .clear_again_rc = 1, .observe_after = 60};
    VOW_ASSERT_CODE(vow_set_interval(loop, iv_self_clear, &s, 2, &s.id), 0);
    cr_assert_neq(s.id, 0);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(s.clear_rc, 0, "clearInterval from its own callback: %d", s.clear_rc);
    VOW_ASSERT_CODE(s.clear_again_rc, VOW_ENOENT);
    VOW_ASSERT_EQ(s.calls, 3, "the interval ran %d times", s.calls);
    VOW_ASSERT_EQ(s.seen_at_end, 3);
    VOW_ASSERT_CODE(vow_clear_interval(loop, s.id), VOW_ENOENT);
    VOW_ASSERT_EQ(vow_loop_alive(loop), 0);
    VOW_TEST_END(loop);
}

/* clearTimeout works on an interval too (Node), from its own callback. */
static void iv_self_clear_with_timeout_api(vow_loop_t *loop, void *arg) {
    struct iv_state *s = arg;
    s->calls++;
    if (s->calls == s->stop_at) {
        s->clear_rc = vow_clear_timeout(loop, s->id);
        observe_after_clear(loop, s);
    }
}

Test(timer, clear_timeout_clears_an_interval) {
    vow_loop_t *loop = vow_test_loop();
    struct iv_state s = {.stop_at = 2, .clear_rc = 1, .observe_after = 30};
    VOW_ASSERT_CODE(vow_set_interval(loop, iv_self_clear_with_timeout_api, &s, 1, &s.id), 0);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(s.clear_rc, 0);
    VOW_ASSERT_EQ(s.calls, 2);
    VOW_ASSERT_EQ(s.seen_at_end, 2);
    VOW_TEST_END(loop);
}

static void iv_period(vow_loop_t *loop, void *arg) {
    struct iv_state *s = arg;
    uint64_t now = vow_loop_now(loop);
    if (s->calls > 0)
        cr_assert_geq(now - s->last, s->ms, "interval ticks %llu ms apart",
                      (unsigned long long)(now - s->last));
    s->last = now;
    s->calls++;
    if (s->calls == s->stop_at) VOW_ASSERT_CODE(vow_clear_interval(loop, s->id), 0);
}

Test(timer, interval_ticks_are_at_least_a_period_apart) {
    vow_loop_t *loop = vow_test_loop();
    struct iv_state s = {.stop_at = 6, .ms = 8};
    uint64_t start = vow_loop_now(loop);
    VOW_ASSERT_CODE(vow_set_interval(loop, iv_period, &s, s.ms, &s.id), 0);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(s.calls, 6);
    cr_assert_geq(s.last - start, 6 * s.ms);
    VOW_TEST_END(loop);
}

/* A callback that makes hundreds of timers and immediates grows vow's timer storage
 * while a list is being walked and an immediate batch is waiting: nothing is lost or
 * reordered, and nothing touches moved memory (ASan). */
static void grow_from_timer(vow_loop_t *loop, void *arg) {
    rec((int)(intptr_t)arg);
    for (int i = 0; i < 300; i++) {
        VOW_ASSERT_CODE(vow_set_timeout(loop, rec_arg, TAG(1000 + i), 7, NULL), 0);
        VOW_ASSERT_CODE(vow_set_immediate(loop, rec_arg, TAG(2000 + i), NULL), 0);
    }
}
static void grow_from_immediate(vow_loop_t *loop, void *arg) {
    rec((int)(intptr_t)arg);
    for (int i = 0; i < 300; i++)
        VOW_ASSERT_CODE(vow_set_immediate(loop, rec_arg, TAG(3000 + i), NULL), 0);
}

Test(timer, storage_grows_inside_callbacks) {
    /* The three 3 ms timers must start in the same millisecond to expire in one pass: a
     * timer is measured from the clock at the call, which can tick between two calls (the
     * first call allocates, slow under ASan). Such an attempt is dropped and redone. */
    vow_loop_t *loop = NULL;
    for (int attempt = 0;; attempt++) {
        cr_assert_lt(attempt, 20, "the clock ticked between the calls on every attempt");
        loop = vow_test_loop();
        ntrace = 0;
        VOW_ASSERT_CODE(vow_set_timeout(loop, grow_from_timer, TAG(1), 3, NULL), 0);
        uint64_t t1 = vow_loop_now(loop);
        VOW_ASSERT_CODE(vow_set_timeout(loop, rec_arg, TAG(2), 3, NULL), 0);
        VOW_ASSERT_CODE(vow_set_timeout(loop, rec_arg, TAG(3), 3, NULL), 0);
        if (vow_loop_now(loop) == t1) break;
        VOW_ASSERT_CODE(vow_loop_free(loop), 0);
    }
    int turns = 0;
    while (ntrace == 0) {
        cr_assert_gt(vow_loop_run(loop, VOW_RUN_ONCE), 0);
        cr_assert_lt(++turns, 1000);
    }
    /* Same pass: the rest of the 3 ms list, then this turn's immediates. */
    VOW_ASSERT_EQ(ntrace, 303, "%s", trace_str());
    VOW_ASSERT_EQ(trace[0], 1);
    VOW_ASSERT_EQ(trace[1], 2);
    VOW_ASSERT_EQ(trace[2], 3);
    for (int i = 0; i < 300; i++) VOW_ASSERT_EQ(trace[3 + i], 2000 + i);
    /* Every 7 ms timer overdue before the next turn: where they would land among the
     * immediates below otherwise depends on how fast the machine ran the 300 above. */
    usleep(20 * 1000);
    VOW_ASSERT_CODE(vow_set_immediate(loop, grow_from_immediate, TAG(4), NULL), 0);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(ntrace, 3 + 300 + 300 + 1 + 300);
    int k = 303;
    /* The next turn: its timers phase runs the 7 ms timers, in creation order; its check
     * phase the immediate queued before it, which queues 300 more for the turn after. */
    for (int i = 0; i < 300; i++) VOW_ASSERT_EQ(trace[k++], 1000 + i);
    VOW_ASSERT_EQ(trace[k++], 4);
    for (int i = 0; i < 300; i++) VOW_ASSERT_EQ(trace[k++], 3000 + i);
    VOW_TEST_END(loop);
}

/* An interval clears itself and starts a new one with the same period from its own
 * callback: the old one stops, the new one (a new id) runs. */
struct reiv {
    vow_timer_t id;
    int generation;
    int ticks[3];
};
static void reiv_cb(vow_loop_t *loop, void *arg) {
    struct reiv *r = arg;
    int g = r->generation;
    r->ticks[g]++;
    if (r->ticks[g] == 2) {
        VOW_ASSERT_CODE(vow_clear_interval(loop, r->id), 0);
        if (g < 2) {
            vow_timer_t old = r->id;
            r->generation++;
            VOW_ASSERT_CODE(vow_set_interval(loop, reiv_cb, r, 2, &r->id), 0);
            cr_assert_neq(r->id, old);
        }
    }
}

Test(timer, interval_restarts_itself_from_its_own_callback) {
    vow_loop_t *loop = vow_test_loop();
    struct reiv r = {0};
    VOW_ASSERT_CODE(vow_set_interval(loop, reiv_cb, &r, 2, &r.id), 0);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(r.generation, 2);
    for (int g = 0; g < 3; g++)
        VOW_ASSERT_EQ(r.ticks[g], 2, "generation %d ticked %d", g, r.ticks[g]);
    VOW_TEST_END(loop);
}

/* ---- clearing ------------------------------------------------------------------------------ */

struct clearer {
    vow_timer_t victims[4];
    int nvictims;
    int rcs[4];
    vow_timer_t self;
    int self_rc;
};
static void clear_others(vow_loop_t *loop, void *arg) {
    struct clearer *c = arg;
    rec(0);
    for (int i = 0; i < c->nvictims; i++) c->rcs[i] = vow_clear_timeout(loop, c->victims[i]);
    c->self_rc = vow_clear_timeout(loop, c->self);
}

Test(timer, a_timer_clears_other_pending_timers) {
    vow_loop_t *loop = vow_test_loop();
    ntrace = 0;
    struct clearer c = {.nvictims = 3};
    vow_timer_t later_iv;
    VOW_ASSERT_CODE(vow_set_timeout(loop, clear_others, &c, 5, &c.self), 0);
    /* Same list, due in the same pass, right behind the clearer. */
    VOW_ASSERT_CODE(vow_set_timeout(loop, rec_arg, TAG(1), 5, &c.victims[0]), 0);
    VOW_ASSERT_CODE(vow_set_timeout(loop, rec_arg, TAG(2), 5, NULL), 0);
    /* Another list, later. */
    VOW_ASSERT_CODE(vow_set_timeout(loop, rec_arg, TAG(3), 30, &c.victims[1]), 0);
    /* An interval. */
    VOW_ASSERT_CODE(vow_set_interval(loop, rec_arg, TAG(4), 10, &later_iv), 0);
    c.victims[2] = later_iv;
    VOW_ASSERT_CODE(vow_set_timeout(loop, rec_arg, TAG(5), 40, NULL), 0);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    for (int i = 0; i < 3; i++)
        VOW_ASSERT_EQ(c.rcs[i], 0, "clearing victim %d gave %d", i, c.rcs[i]);
    VOW_ASSERT_CODE(c.self_rc, VOW_ENOENT, "a timeout inside its own callback has fired");
    const int want[] = {0, 2, 5};
    expect_trace(want, 3);
    VOW_TEST_END(loop);
}

/* In one list, every even timer clears the odd one behind it while the list is being
 * walked. */
static vow_timer_t chain_ids[100];
static void clear_next(vow_loop_t *loop, void *arg) {
    int i = (int)(intptr_t)arg;
    rec(i);
    if (i % 2 == 0) VOW_ASSERT_CODE(vow_clear_timeout(loop, chain_ids[i + 1]), 0);
}

Test(timer, clearing_inside_the_list_being_walked) {
    vow_loop_t *loop = vow_test_loop();
    ntrace = 0;
    for (int i = 0; i < 100; i++)
        VOW_ASSERT_CODE(vow_set_timeout(loop, clear_next, TAG(i), 3, &chain_ids[i]), 0);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    int want[50];
    for (int i = 0; i < 50; i++) want[i] = 2 * i;
    expect_trace(want, 50);
    VOW_TEST_END(loop);
}

/* A timer clears every other timer of its list and itself: the list is emptied while
 * walked, the loop ends. */
static vow_timer_t all_ids[10];
static void clear_all(vow_loop_t *loop, void *arg) {
    (void)arg;
    rec(-1);
    for (int i = 0; i < 10; i++) vow_clear_timeout(loop, all_ids[i]);
}

Test(timer, clearing_the_whole_list_from_its_first_callback) {
    vow_loop_t *loop = vow_test_loop();
    ntrace = 0;
    for (int i = 0; i < 10; i++)
        VOW_ASSERT_CODE(vow_set_timeout(loop, i == 0 ? clear_all : rec_arg, TAG(i), 4, &all_ids[i]),
                        0);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    const int want[] = {-1};
    expect_trace(want, 1);
    VOW_ASSERT_EQ(vow_loop_alive(loop), 0);
    VOW_TEST_END(loop);
}

Test(timer, clearing_a_fired_or_cleared_timer_is_enoent) {
    vow_loop_t *loop = vow_test_loop();
    ntrace = 0;
    vow_timer_t a, b, iv, im;
    VOW_ASSERT_CODE(vow_set_timeout(loop, rec_arg, TAG(1), 1, &a), 0);
    VOW_ASSERT_CODE(vow_set_timeout(loop, rec_arg, TAG(2), 1000, &b), 0);
    VOW_ASSERT_CODE(vow_set_immediate(loop, rec_arg, TAG(3), &im), 0);
    VOW_ASSERT_CODE(vow_clear_timeout(loop, b), 0);
    VOW_ASSERT_CODE(vow_clear_timeout(loop, b), VOW_ENOENT, "cleared twice");
    /* `a` overdue: the first turn runs it (timers phase), then the immediate (check
     * phase), whatever the machine's speed. */
    usleep(5 * 1000);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    const int want[] = {1, 3};
    expect_trace(want, 2);
    /* Both fired: their memory is gone, their ids answer ENOENT (ASan checks the rest). */
    VOW_ASSERT_CODE(vow_clear_timeout(loop, a), VOW_ENOENT);
    VOW_ASSERT_CODE(vow_clear_interval(loop, a), VOW_ENOENT);
    VOW_ASSERT_CODE(vow_clear_immediate(loop, im), VOW_ENOENT);

    /* Ids are not reused: new timers do not make old ids valid again. */
    VOW_ASSERT_CODE(vow_set_interval(loop, rec_arg, TAG(4), 1000, &iv), 0);
    cr_assert_neq(iv, a);
    cr_assert_neq(iv, b);
    VOW_ASSERT_CODE(vow_clear_timeout(loop, a), VOW_ENOENT);
    VOW_ASSERT_CODE(vow_clear_timeout(loop, b), VOW_ENOENT);
    VOW_ASSERT_CODE(vow_clear_interval(loop, iv), 0);
    VOW_ASSERT_CODE(vow_clear_interval(loop, iv), VOW_ENOENT);

    /* Ids nobody ever handed out. */
    VOW_ASSERT_CODE(vow_clear_timeout(loop, 0), VOW_ENOENT);
    VOW_ASSERT_CODE(vow_clear_timeout(loop, 0x7fffffffffffULL), VOW_ENOENT);
    /* A slot the slab has room for but never handed out, with the generation a fresh slot
     * gets: slots are initialised only when first handed out, so this must not look. */
    VOW_ASSERT_CODE(vow_clear_timeout(loop, (1ULL << 32) | 40u), VOW_ENOENT);
    VOW_ASSERT_CODE(vow_clear_timeout(loop, UINT64_MAX), VOW_ENOENT);
    VOW_ASSERT_CODE(vow_clear_immediate(loop, 0), VOW_ENOENT);
    VOW_ASSERT_EQ(vow_loop_alive(loop), 0);
    VOW_TEST_END(loop);
}

Test(timer, ids_are_nonzero_and_unique) {
    vow_loop_t *loop = vow_test_loop();
    enum { N = 600 };
    static vow_timer_t ids[N];
    for (int i = 0; i < N; i++) {
        int rc;
        if (i % 3 == 0)
            rc = vow_set_timeout(loop, rec_arg, NULL, (uint64_t)(1000 + i % 7), &ids[i]);
        else if (i % 3 == 1)
            rc = vow_set_interval(loop, rec_arg, NULL, 1000, &ids[i]);
        else
            rc = vow_set_immediate(loop, rec_arg, NULL, &ids[i]);
        VOW_ASSERT_CODE(rc, 0);
        cr_assert_neq(ids[i], 0);
        /* Clear every other one at once, so freed slots could be recycled. */
        if (i % 2 == 0)
            VOW_ASSERT_EQ(i % 3 == 2 ? vow_clear_immediate(loop, ids[i])
                                     : vow_clear_timeout(loop, ids[i]),
                          0);
    }
    for (int i = 0; i < N; i++)
        for (int j = 0; j < i; j++) cr_assert_neq(ids[i], ids[j], "ids %d and %d", i, j);
    for (int i = 1; i < N; i += 2)
        VOW_ASSERT_EQ(
            i % 3 == 2 ? vow_clear_immediate(loop, ids[i]) : vow_clear_timeout(loop, ids[i]), 0);
    VOW_ASSERT_EQ(vow_loop_alive(loop), 0);
    VOW_TEST_END(loop);
}

Test(timer, timer_and_immediate_ids_are_not_interchangeable) {
    vow_loop_t *loop = vow_test_loop();
    ntrace = 0;
    vow_timer_t t, im;
    VOW_ASSERT_CODE(vow_set_timeout(loop, rec_arg, TAG(1), 1, &t), 0);
    VOW_ASSERT_CODE(vow_set_immediate(loop, rec_arg, TAG(2), &im), 0);
    VOW_ASSERT_CODE(vow_clear_timeout(loop, im), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_clear_interval(loop, im), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_clear_immediate(loop, t), VOW_EINVAL);
    /* Nothing changed: both still run, the overdue timer first (timers phase, then check). */
    VOW_ASSERT_EQ(vow_loop_alive(loop), 2);
    usleep(5 * 1000);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    const int want[] = {1, 2};
    expect_trace(want, 2);
    VOW_TEST_END(loop);
}

Test(timer, clear_everything_then_nothing_keeps_the_loop_alive) {
    vow_loop_t *loop = vow_test_loop();
    ntrace = 0;
    vow_timer_t ids[40];
    int n = 0;
    for (int i = 0; i < 20; i++)
        VOW_ASSERT_CODE(vow_set_timeout(loop, rec_arg, TAG(i), (uint64_t)(i % 5) * 10, &ids[n++]),
                        0);
    for (int i = 0; i < 5; i++)
        VOW_ASSERT_CODE(vow_set_interval(loop, rec_arg, TAG(100 + i), (uint64_t)i + 1, &ids[n++]),
                        0);
    int first_imm = n;
    for (int i = 0; i < 5; i++)
        VOW_ASSERT_CODE(vow_set_immediate(loop, rec_arg, TAG(200 + i), &ids[n++]), 0);
    VOW_ASSERT_EQ(vow_loop_alive(loop), n);
    for (int i = 0; i < n; i++)
        VOW_ASSERT_EQ(i >= first_imm ? vow_clear_immediate(loop, ids[i])
                                     : (i % 2 ? vow_clear_interval(loop, ids[i])
                                              : vow_clear_timeout(loop, ids[i])),
                      0, "clearing %d", i);
    VOW_ASSERT_EQ(vow_loop_alive(loop), 0);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(ntrace, 0, "a cleared callback ran: %s", trace_str());
    VOW_TEST_END(loop);
}

Test(timer, large_delay_can_be_set_and_cleared) {
    vow_loop_t *loop = vow_test_loop();
    vow_timer_t a, b;
    /* 20 days: below Node's TIMEOUT_MAX (2^31-1 ms), above which Node uses 1 ms. */
    VOW_ASSERT_CODE(vow_set_timeout(loop, rec_arg, NULL, 1000ULL * 60 * 60 * 24 * 20, &a), 0);
    VOW_ASSERT_CODE(vow_set_interval(loop, rec_arg, NULL, 1000ULL * 60 * 60 * 24, &b), 0);
    VOW_ASSERT_EQ(vow_loop_alive(loop), 2);
    cr_assert_gt(vow_loop_run(loop, VOW_RUN_NOWAIT), 0);
    VOW_ASSERT_CODE(vow_clear_timeout(loop, a), 0);
    VOW_ASSERT_CODE(vow_clear_interval(loop, b), 0);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_TEST_END(loop);
}

Test(timer, null_arguments) {
    vow_loop_t *loop = vow_test_loop();
    vow_timer_t id = 12345;
    VOW_ASSERT_CODE(vow_set_timeout(NULL, rec_arg, NULL, 1, &id), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_set_timeout(loop, NULL, NULL, 1, &id), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_set_interval(NULL, rec_arg, NULL, 1, &id), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_set_interval(loop, NULL, NULL, 1, &id), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_set_immediate(NULL, rec_arg, NULL, &id), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_set_immediate(loop, NULL, NULL, &id), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_clear_timeout(NULL, 1), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_clear_interval(NULL, 1), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_clear_immediate(NULL, 1), VOW_EINVAL);
    VOW_ASSERT_EQ(vow_loop_alive(loop), 0);
    /* A NULL id pointer is fine. */
    ntrace = 0;
    VOW_ASSERT_CODE(vow_set_timeout(loop, rec_arg, TAG(1), 1, NULL), 0);
    VOW_ASSERT_CODE(vow_set_immediate(loop, rec_arg, TAG(2), NULL), 0);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(ntrace, 2);
    VOW_TEST_END(loop);
}

/* ---- immediates ------------------------------------------------------------------------------ */

Test(timer, immediates_run_in_fifo_order) {
    vow_loop_t *loop = vow_test_loop();
    ntrace = 0;
    int want[100];
    for (int i = 0; i < 100; i++) {
        VOW_ASSERT_CODE(vow_set_immediate(loop, rec_arg, TAG(i), NULL), 0);
        want[i] = i;
    }
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_NOWAIT), 0, "all 100 run in one turn");
    expect_trace(want, 100);
    VOW_TEST_END(loop);
}

static void imm_requeue(vow_loop_t *loop, void *arg) {
    int v = (int)(intptr_t)arg;
    rec(v);
    if (v < 5) VOW_ASSERT_CODE(vow_set_immediate(loop, imm_requeue, TAG(v + 1), NULL), 0);
}

Test(timer, immediate_from_an_immediate_runs_on_the_next_turn) {
    vow_loop_t *loop = vow_test_loop();
    ntrace = 0;
    VOW_ASSERT_CODE(vow_set_immediate(loop, imm_requeue, TAG(1), NULL), 0);
    VOW_ASSERT_CODE(vow_set_immediate(loop, rec_arg, TAG(10), NULL), 0);
    /* Turn 1: the two queued before it, not the one the first one queues. */
    cr_assert_gt(vow_loop_run(loop, VOW_RUN_NOWAIT), 0);
    const int t1[] = {1, 10};
    expect_trace(t1, 2);
    /* Each later turn runs exactly one generation. */
    for (int turn = 2; turn <= 5; turn++) {
        int rc = vow_loop_run(loop, VOW_RUN_NOWAIT);
        VOW_ASSERT_EQ(ntrace, turn + 1, "turn %d: %s", turn, trace_str());
        VOW_ASSERT_EQ(trace[turn], turn);
        if (turn < 5)
            cr_assert_gt(rc, 0);
        else
            VOW_ASSERT_CODE(rc, 0);
    }
    VOW_TEST_END(loop);
}

Test(timer, immediate_chain_in_a_default_run) {
    vow_loop_t *loop = vow_test_loop();
    ntrace = 0;
    VOW_ASSERT_CODE(vow_set_immediate(loop, imm_requeue, TAG(1), NULL), 0);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    const int want[] = {1, 2, 3, 4, 5};
    expect_trace(want, 5);
    VOW_TEST_END(loop);
}

static vow_timer_t imm_self;
static int imm_self_rc = 1;
static void imm_clears_itself(vow_loop_t *loop, void *arg) {
    (void)arg;
    rec(7);
    imm_self_rc = vow_clear_immediate(loop, imm_self);
}

Test(timer, clearing_an_immediate_inside_its_own_callback_is_enoent) {
    vow_loop_t *loop = vow_test_loop();
    ntrace = 0;
    VOW_ASSERT_CODE(vow_set_immediate(loop, imm_clears_itself, NULL, &imm_self), 0);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_CODE(imm_self_rc, VOW_ENOENT);
    VOW_ASSERT_EQ(ntrace, 1);
    VOW_TEST_END(loop);
}

static vow_timer_t imm_victim;
static void imm_clears(vow_loop_t *loop, void *arg) {
    (void)arg;
    rec(0);
    VOW_ASSERT_CODE(vow_clear_immediate(loop, imm_victim), 0);
    VOW_ASSERT_CODE(vow_clear_immediate(loop, imm_victim), VOW_ENOENT);
}

Test(timer, an_immediate_clears_a_later_one_of_the_same_pass) {
    vow_loop_t *loop = vow_test_loop();
    ntrace = 0;
    vow_timer_t self;
    VOW_ASSERT_CODE(vow_set_immediate(loop, imm_clears, NULL, &self), 0);
    VOW_ASSERT_CODE(vow_set_immediate(loop, rec_arg, TAG(1), &imm_victim), 0);
    VOW_ASSERT_CODE(vow_set_immediate(loop, rec_arg, TAG(2), NULL), 0);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    const int want[] = {0, 2};
    expect_trace(want, 2);
    VOW_ASSERT_CODE(vow_clear_immediate(loop, self), VOW_ENOENT);
    VOW_TEST_END(loop);
}

Test(timer, microtasks_drain_between_immediates) {
    vow_loop_t *loop = vow_test_loop();
    ntrace = 0;
    VOW_ASSERT_CODE(vow_set_immediate(loop, rec_then_micro, TAG(1), NULL), 0);
    VOW_ASSERT_CODE(vow_set_immediate(loop, rec_then_micro, TAG(2), NULL), 0);
    VOW_ASSERT_CODE(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    const int want[] = {1, 101, 2, 102};
    expect_trace(want, 4);
    VOW_TEST_END(loop);
}

/* A pending immediate stops the loop from blocking on a far timer. */
Test(timer, a_queued_immediate_does_not_wait_for_timers) {
    vow_loop_t *loop = vow_test_loop();
    ntrace = 0;
    vow_timer_t far;
    VOW_ASSERT_CODE(vow_set_timeout(loop, rec_arg, TAG(1), 5000, &far), 0);
    VOW_ASSERT_CODE(vow_set_immediate(loop, rec_arg, TAG(2), NULL), 0);
    cr_assert_gt(vow_loop_run(loop, VOW_RUN_ONCE), 0);
    const int want[] = {2};
    expect_trace(want, 1);
    VOW_ASSERT_CODE(vow_clear_timeout(loop, far), 0);
    VOW_TEST_END(loop);
}
