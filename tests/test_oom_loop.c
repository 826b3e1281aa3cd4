/* tests/test_oom_loop.c - the allocation-failure sweep for the reactor: a representative
 * program (a loop, timers of several durations, an interval, immediates, microtasks,
 * errors with causes and aggregates, a cleared timer, close) runs once normally to count
 * vow's allocations, then once with the Nth allocation failed for every N up to that
 * count. Each run must either complete normally or see a clean VOW_ENOMEM from some call,
 * keep the callback contract (a call that failed never runs its callback; one that
 * succeeded runs exactly once), run every payload destructor exactly once, and end with
 * zero live vow allocations.
 *
 * libev's own allocations do not go through vow's allocator (libev aborts on failure),
 * so they are outside the sweep. */
#include <ev.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

TestSuite(oom_loop, .init = vow_test_setup, .fini = vow_test_teardown, .timeout = 120);

enum { NSLOTS = 512 };

struct slot {
    struct prog *p;
    int scheduled; /* the set_* / vow_microtask call returned 0 */
    int ran;
};

struct prog {
    vow_loop_t *loop;
    int enomem;        /* calls that answered VOW_ENOMEM */
    int oom_errors;    /* error constructors that gave the static OOM error */
    int dtor_expected; /* payload set attempts: each destructor must run exactly once */
    int dtor_calls;
    struct slot slots[NSLOTS];
    int nslots;
    /* the interval */
    vow_timer_t iv_id;
    int iv_scheduled;
    int iv_ticks;
    /* the timer cleared before it fires */
    vow_timer_t victim;
    int stop_early; /* variant: stop after the first timer and force-free the loop */
    int big;        /* variant: enough timers, durations, immediates and microtasks to grow
                     * every structure (timer slab, duration map, list heap, job ring) */
};

static void note(struct prog *p, int rc, const char *what) {
    if (rc == 0) return;
    VOW_ASSERT_CODE(rc, VOW_ENOMEM, "%s answered %s, not 0 or ENOMEM", what, vow_err_name(rc));
    p->enomem++;
}

static struct slot *new_slot(struct prog *p) {
    cr_assert_lt(p->nslots, NSLOTS);
    struct slot *s = &p->slots[p->nslots++];
    s->p = p;
    return s;
}

static void payload_dtor(void *arg) {
    struct prog *p = arg;
    p->dtor_calls++;
}

/* Errors with causes, a payload and an aggregate; formatted, then released. */
static void make_errors(struct prog *p) {
    vow_error_t *root = vow_error_new(VOW_ECANCELED, NULL);
    vow_error_t *mid = vow_error_wrap(VOW_ETIMEDOUT, "took too long", root);
    p->dtor_expected++;
    int rc = vow_error_set_payload(mid, p, payload_dtor);
    if (rc != 0) VOW_ASSERT_CODE(rc, VOW_ENOMEM, "set_payload: %s", vow_err_name(rc));
    vow_error_t *other = vow_error_newf(VOW_EUSER, "request %d failed", 7);
    vow_error_t *inner[2] = {mid, other};
    vow_error_t *agg = vow_error_aggregate(NULL, inner, 2);

    int code = vow_error_code(agg);
    if (code == VOW_ENOMEM) {
        p->oom_errors++;
    } else {
        VOW_ASSERT_CODE(code, VOW_EAGGREGATE);
        VOW_ASSERT_EQ(vow_error_count(agg), 2);
        /* Each inner is either what was asked for or the static OOM error. */
        int c0 = vow_error_code(vow_error_at(agg, 0));
        int c1 = vow_error_code(vow_error_at(agg, 1));
        cr_assert(c0 == VOW_ETIMEDOUT || c0 == VOW_ENOMEM, "inner 0: %d", c0);
        cr_assert(c1 == VOW_EUSER || c1 == VOW_ENOMEM, "inner 1: %d", c1);
        if (c0 == VOW_ENOMEM || c1 == VOW_ENOMEM)
            p->oom_errors++;
        else if (vow_error_code(vow_error_cause(vow_error_at(agg, 0))) != VOW_ECANCELED)
            p->oom_errors++; /* the root cause was the static OOM error */
    }
    char buf[256];
    size_t n = vow_error_format(agg, buf, sizeof buf);
    cr_assert_lt(n, sizeof buf);
    VOW_ASSERT_EQ(strlen(buf), n);
    vow_error_unref(agg);
}

static void on_microtask(vow_loop_t *loop, void *arg) {
    struct slot *s = arg;
    VOW_ASSERT_EQ(loop, s->p->loop);
    cr_assert(s->scheduled, "a microtask whose vow_microtask failed ran");
    s->ran++;
}

static void queue_microtask(struct prog *p) {
    struct slot *s = new_slot(p);
    int rc = vow_microtask(p->loop, on_microtask, s);
    note(p, rc, "vow_microtask");
    s->scheduled = rc == 0;
}

static void on_plain(vow_loop_t *loop, void *arg) {
    struct slot *s = arg;
    VOW_ASSERT_EQ(loop, s->p->loop);
    cr_assert(s->scheduled, "a callback whose set_* call failed ran");
    s->ran++;
}

static void on_immediate(vow_loop_t *loop, void *arg) {
    struct slot *s = arg;
    struct prog *p = s->p;
    on_plain(loop, arg);
    queue_microtask(p);
    struct slot *t = new_slot(p);
    int rc = vow_set_timeout(loop, on_plain, t, 1, NULL);
    note(p, rc, "vow_set_timeout from an immediate");
    t->scheduled = rc == 0;
}

static void on_timer(vow_loop_t *loop, void *arg) {
    struct slot *s = arg;
    struct prog *p = s->p;
    on_plain(loop, arg);
    make_errors(p);
    queue_microtask(p);
    struct slot *im = new_slot(p);
    int rc = vow_set_immediate(loop, on_plain, im, NULL);
    note(p, rc, "vow_set_immediate from a timer");
    im->scheduled = rc == 0;
    if (p->stop_early) vow_loop_stop(loop);
}

static void on_interval(vow_loop_t *loop, void *arg) {
    struct prog *p = arg;
    cr_assert(p->iv_scheduled, "an interval whose set call failed ticked");
    p->iv_ticks++;
    queue_microtask(p);
    if (p->iv_ticks == 3) VOW_ASSERT_CODE(vow_clear_interval(loop, p->iv_id), 0);
}

static void on_victim(vow_loop_t *loop, void *arg) {
    (void)loop;
    (void)arg;
    cr_assert_fail("a cleared timer fired");
}

/* variant 0: vow_loop_new, run to the end, vow_loop_close.
 * variant 1: the same on a wrapped application ev_loop driven by ev_run.
 * variant 2: vow_loop_new, stop after the first timer, vow_loop_free with work pending.
 * variant 3: variant 0 with many timers over many durations, so that every growth path
 *            (realloc of a full structure) meets the failing allocation. */
static void program(struct prog *p, int variant) {
    memset(p, 0, sizeof *p);
    p->stop_early = variant == 2;
    p->big = variant == 3;
    struct ev_loop *evl = NULL;
    int rc;
    if (variant == 1) {
        evl = ev_loop_new(EVFLAG_AUTO);
        cr_assert_not_null(evl);
        rc = vow_loop_wrap(&p->loop, evl);
    } else {
        rc = vow_loop_new(&p->loop, VOW_BACKEND_AUTO);
    }
    if (rc != 0) {
        VOW_ASSERT_CODE(rc, VOW_ENOMEM, "loop creation: %s", vow_err_name(rc));
        p->enomem++;
        if (evl) ev_loop_destroy(evl);
        return;
    }
    vow_loop_t *loop = p->loop;

    make_errors(p);
    static const uint64_t delays[] = {1, 2, 4, 4, 0};
    for (size_t i = 0; i < sizeof delays / sizeof delays[0]; i++) {
        struct slot *s = new_slot(p);
        rc = vow_set_timeout(loop, on_timer, s, delays[i], NULL);
        note(p, rc, "vow_set_timeout");
        s->scheduled = rc == 0;
    }
    rc = vow_set_interval(loop, on_interval, p, 1, &p->iv_id);
    note(p, rc, "vow_set_interval");
    p->iv_scheduled = rc == 0;
    for (int i = 0; i < 2; i++) {
        struct slot *s = new_slot(p);
        rc = vow_set_immediate(loop, on_immediate, s, NULL);
        note(p, rc, "vow_set_immediate");
        s->scheduled = rc == 0;
    }
    for (int i = 0; i < 20; i++) queue_microtask(p);
    if (p->big) {
        /* 80 timeouts over 20 durations (1..20 ms), 80 immediates, 60 more microtasks. */
        for (int i = 0; i < 80; i++) {
            struct slot *s = new_slot(p);
            rc = vow_set_timeout(loop, on_plain, s, (uint64_t)(i % 20) + 1, NULL);
            note(p, rc, "vow_set_timeout (big)");
            s->scheduled = rc == 0;
            s = new_slot(p);
            rc = vow_set_immediate(loop, on_plain, s, NULL);
            note(p, rc, "vow_set_immediate (big)");
            s->scheduled = rc == 0;
        }
        for (int i = 0; i < 60; i++) queue_microtask(p);
    }
    rc = vow_set_timeout(loop, on_victim, NULL, 1000, &p->victim);
    note(p, rc, "vow_set_timeout (victim)");
    if (rc == 0) VOW_ASSERT_CODE(vow_clear_timeout(loop, p->victim), 0);

    if (variant == 1) {
        ev_run(evl, 0);
        rc = vow_loop_alive(loop);
        VOW_ASSERT_CODE(rc, 0, "the app's ev_run returned with %d vow things alive", rc);
    } else {
        rc = vow_loop_run(loop, VOW_RUN_DEFAULT);
        if (variant != 2)
            VOW_ASSERT_CODE(rc, 0, "vow_loop_run: %d", rc);
        else
            cr_assert_geq(rc, 0, "vow_loop_run: %d", rc);
    }

    /* The callback contract. */
    for (int i = 0; i < p->nslots; i++) {
        struct slot *s = &p->slots[i];
        if (variant == 2)
            cr_assert_leq(s->ran, s->scheduled, "slot %d", i);
        else
            VOW_ASSERT_EQ(s->ran, s->scheduled, "slot %d: scheduled %d, ran %d", i, s->scheduled,
                          s->ran);
    }
    if (variant != 2) VOW_ASSERT_EQ(p->iv_ticks, p->iv_scheduled ? 3 : 0);

    if (variant == 2) {
        VOW_ASSERT_CODE(vow_loop_free(loop), 0);
    } else {
        rc = vow_loop_close(loop);
        VOW_ASSERT_CODE(rc, 0, "vow_loop_close after a complete run: %s", vow_err_name(rc));
    }
    if (evl) ev_loop_destroy(evl);
    VOW_ASSERT_EQ(p->dtor_calls, p->dtor_expected, "payload destructors: %d of %d ran",
                  p->dtor_calls, p->dtor_expected);
}

static void sweep(int variant) {
    vow_loop_t *loop = vow_test_loop();
    long baseline = vow_test_live_allocs();
    static struct prog p;

    /* The normal run: everything succeeds, and it allocates. */
    vow_test_reset_counts();
    program(&p, variant);
    long normal = vow_test_alloc_total();
    cr_assert_gt(normal, 0, "the program made no vow allocation");
    VOW_ASSERT_EQ(p.enomem, 0);
    VOW_ASSERT_EQ(p.oom_errors, 0);
    VOW_ASSERT_EQ(vow_test_live_allocs(), baseline);
    int normal_slots = p.nslots;
    if (variant != 2) {
        for (int i = 0; i < p.nslots; i++) VOW_ASSERT_EQ(p.slots[i].ran, 1);
        VOW_ASSERT_EQ(p.iv_ticks, 3);
    }

    int saw_failure = 0, absorbed = 0;
    for (long n = 1; n <= normal; n++) {
        vow_test_reset_counts();
        vow_test_fail_at(n);
        program(&p, variant);
        long failed = vow_test_failed_allocs();
        vow_test_fail_at(0);
        cr_assert_leq(failed, 1);
        if (failed == 1) {
            saw_failure++;
            /* A failed allocation must show somewhere: a code, or an OOM error object,
             * or a graceful absorption that leaves the program's visible result whole. */
            if (p.enomem == 0 && p.oom_errors == 0 && variant != 2) {
                absorbed++;
                int scheduled = 0;
                for (int i = 0; i < p.nslots; i++) scheduled += p.slots[i].scheduled;
                VOW_ASSERT_EQ(p.nslots, normal_slots, "variant %d, n=%ld: work silently lost",
                              variant, n);
                VOW_ASSERT_EQ(scheduled, normal_slots, "variant %d, n=%ld: work silently lost",
                              variant, n);
                cr_log_info("variant %d: failing allocation %ld was absorbed", variant, n);
            }
        }
        VOW_ASSERT_EQ(vow_test_live_allocs(), baseline,
                      "variant %d, n=%ld: %ld allocation(s) leaked", variant, n,
                      vow_test_live_allocs() - baseline);
    }
    cr_assert_gt(saw_failure, 0);
    cr_log_info("variant %d: %ld allocations in a normal run, %d failed runs, %d absorbed", variant,
                normal, saw_failure, absorbed);
    VOW_TEST_END(loop);
}

Test(oom_loop, sweep_new_run_close) { sweep(0); }
Test(oom_loop, sweep_wrapped_ev_run) { sweep(1); }
Test(oom_loop, sweep_stop_and_free) { sweep(2); }
Test(oom_loop, sweep_growth_paths) { sweep(3); }
