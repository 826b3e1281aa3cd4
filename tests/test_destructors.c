/* Destructors that call back into vow while vow is destroying something (issue 12's
 * review): a reaction's context destructor run by a promise's destruction, or by forced
 * teardown, that settles or cancels another promise. Each case crashed or corrupted memory
 * (ASan) before its fix. */
#include <ev.h>
#include <string.h>

#include "helpers.h"

TestSuite(destructors, .init = vow_test_setup, .fini = vow_test_teardown, .timeout = 10);

static vow_result_t ok(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v, (void)ctx;
    return vow_ok_none();
}

/* ---- forced teardown: a destructor settles a combinator's input ------------------------- */

static vow_t *victim;
static int resolve_rc;
static void resolve_victim(void *ctx) {
    (void)ctx;
    resolve_rc = vow_resolve(victim, vow_int(1));
}

/* `a` is stripped before `victim` (made first): its record's ctx_free tries to resolve
 * victim, on which a wait / all / task group input waits. Teardown had stripped some
 * promises and not others, so the resolve queued the input's record, and freeing the
 * combinator's state then left the queue pointing into freed memory. Now teardown closes
 * every promise before any destructor runs: the resolve answers VOW_ECLOSED. */
static void settle_during_teardown(const char *kind) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *a = vow_new(loop);
    victim = vow_new(loop);
    vow_t *b = vow_then(vow_ref(a), ok, NULL, NULL, resolve_victim);
    vow_t *res = NULL;
    vow_task_group_t *g = NULL;
    vow_t *in[1] = {vow_ref(victim)};
    if (strcmp(kind, "wait") == 0)
        res = vow_wait(loop, in, 1, VOW_FIRST_COMPLETED, VOW_NO_TIMEOUT, 0);
    else if (strcmp(kind, "all") == 0)
        res = vow_all(loop, in, 1);
    else if (strcmp(kind, "race") == 0)
        res = vow_race(loop, in, 1, 0);
    else {
        g = vow_task_group_new(loop);
        VOW_ASSERT_CODE(vow_task_group_add(g, in[0]), 0);
    }
    resolve_rc = 1;
    VOW_ASSERT_CODE(vow_loop_free(loop), 0);
    VOW_ASSERT_CODE(resolve_rc, VOW_ECLOSED, "a destructor settled a promise during teardown");
    vow_unref(a);
    vow_unref(b);
    vow_unref(res);
    vow_unref(victim);
    vow_task_group_unref(g);
    VOW_ASSERT_EQ(vow_test_live_allocs(), 0);
}

Test(destructors, teardown_destructor_settles_a_wait_input) { settle_during_teardown("wait"); }
Test(destructors, teardown_destructor_settles_an_all_input) { settle_during_teardown("all"); }
Test(destructors, teardown_destructor_settles_a_race_input) { settle_during_teardown("race"); }
Test(destructors, teardown_destructor_settles_a_group_task) { settle_during_teardown("group"); }

/* ---- a promise's destruction: a destructor cancels a sibling waiter ---------------------- */

static vow_t *d2;
static int cancel_rc;
static void cancel_d2(void *ctx) {
    (void)ctx;
    cancel_rc = vow_cancel(d2);
}

/* p dies pending with two waiters; the first one's ctx_free cancels the second's derived
 * promise, whose record waits in p's list. The cancellation reached p again (dying, its
 * count at 0): it was brought back, rejected and freed a second time. */
Test(destructors, destruction_destructor_cancels_a_sibling_waiter) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *p = vow_new(loop);
    vow_t *d1 = vow_then(vow_ref(p), ok, NULL, NULL, cancel_d2);
    d2 = vow_then(vow_ref(p), ok, NULL, NULL, NULL);
    vow_unref(d1);
    cancel_rc = 1;
    vow_unref(p); /* p goes, pending: its records are dropped */
    VOW_ASSERT_CODE(cancel_rc, 0);
    VOW_ASSERT_STATE(vow_state(d2), VOW_REJECTED);
    VOW_ASSERT_CODE(vow_error_code(vow_error(d2)), VOW_ECANCELED);
    vow_unref(d2);
    VOW_TEST_END(loop);
}

/* ---- vow_loop_verify and close beside the application's own watchers ---------------------- */

static void idle_cb(struct ev_loop *evl, ev_idle *w, int revents) {
    (void)evl, (void)w, (void)revents;
}
static void imm(vow_loop_t *loop, void *arg) { (void)loop, (void)arg; }

/* libev's ev_is_active is a slot number: with the application's idle watcher first at the
 * same priority, vow's is 2, and verify took a healthy loop for a broken one. */
Test(destructors, verify_beside_the_applications_idle_watcher) {
    vow_loop_t *loop = vow_test_loop();
    ev_idle i;
    ev_idle_init(&i, idle_cb);
    ev_set_priority(&i, EV_MINPRI);
    ev_idle_start(vow_loop_ev(loop), &i);
    vow_timer_t id;
    VOW_ASSERT_CODE(vow_set_immediate(loop, imm, NULL, &id), 0);
    VOW_ASSERT_CODE(vow_loop_verify(loop), 0);
    VOW_ASSERT_CODE(vow_clear_immediate(loop, id), 0);
    ev_idle_stop(vow_loop_ev(loop), &i);
    VOW_TEST_END(loop);
}

static void timer_cb(struct ev_loop *evl, ev_timer *w, int revents) {
    (void)evl, (void)w, (void)revents;
}

/* Close after close: each refusal changes nothing, and a close after the watcher stopped
 * succeeds. */
Test(destructors, close_again_after_the_application_stops_its_watcher) {
    vow_loop_t *loop = vow_test_loop();
    struct ev_loop *evl = vow_loop_ev(loop);
    ev_timer t;
    ev_timer_init(&t, timer_cb, 10.0, 0.0);
    ev_timer_start(evl, &t);
    VOW_ASSERT_CODE(vow_loop_close(loop), VOW_EBUSY);
    VOW_ASSERT_CODE(vow_loop_close(loop), VOW_EBUSY);
    VOW_ASSERT_CODE(vow_loop_close(loop), VOW_EBUSY);
    ev_timer_stop(evl, &t);
    VOW_TEST_END(loop);
}

/* Watchers count as libev counts them: an unref'd one does not keep the loop (ev_run
 * would return with it active too), a referenced prepare watcher does; the application's
 * prepare callback never runs during the probe. */
static int prepares;
static void counting_prepare(struct ev_loop *evl, ev_prepare *w, int revents) {
    (void)evl, (void)w, (void)revents;
    prepares++;
}

Test(destructors, close_counts_watchers_as_libev_does) {
    vow_loop_t *loop = vow_test_loop();
    struct ev_loop *evl = vow_loop_ev(loop);
    ev_prepare pw;
    ev_prepare_init(&pw, counting_prepare);
    ev_prepare_start(evl, &pw);
    prepares = 0;
    VOW_ASSERT_CODE(vow_loop_close(loop), VOW_EBUSY);
    VOW_ASSERT_CODE(vow_loop_close(loop), VOW_EBUSY);
    VOW_ASSERT_EQ(prepares, 0, "the probe ran the application's prepare callback");
    /* The probe left the application's prepare watcher pending (libev queues every
     * prepare watcher before its prepare-phase invoke): libev invokes it on entering the
     * next ev_run, then again in that iteration's prepare phase. */
    ev_run(evl, EVRUN_NOWAIT);
    VOW_ASSERT_EQ(prepares, 2);
    ev_run(evl, EVRUN_NOWAIT);
    VOW_ASSERT_EQ(prepares, 3, "one call per iteration again");
    ev_unref(evl);
    VOW_ASSERT_CODE(vow_loop_verify(loop), 0);
    ev_ref(evl); /* (back to libev's count before stopping it) */
    ev_prepare_stop(evl, &pw);
    VOW_TEST_END(loop);
}
