/* tests/test_misuse_table.c - docs/misuse.md, walked: one case per row of its table "Every
 * public function", each in its own process (a Criterion parameterized test: a crash, an
 * abort or a sanitizer report fails that case alone and names it on stderr).
 *
 * MISUSE_TABLE lists the cases in the order of the document, each with the public
 * function it exercises; tests/misuse_doc.py (ctest `misuse_doc`) checks that the table
 * and the document list the same ids for the same functions, and that every public
 * function of include/vow/ has a row. Each case makes the call, checks the answer, that
 * what the call consumes was released exactly once (counted destructors), that no
 * callback ran, and that no vow allocation is left (the counting allocator of helpers.h).
 *
 * The promise-returning calls' rows (the MISUSE rule of vow/promise.h) are walked by
 * tests/test_misuse_rule.c, which sweeps each of them through out-of-memory too.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <ev.h>
#include <math.h>
#include <netdb.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>
#include <netinet/in.h>

#include <limits.h>

#include "helpers.h"

/* ---- the cases' shared state ----------------------------------------------------------- */
static vow_loop_t *L;  /* the case's loop */
static vow_t *HOLD;    /* a promise that keeps a closed loop's memory valid */
static int freed;      /* calls of count_free */
static int callbacks;  /* calls of any callback below */
static int inner_rc;   /* what a call made from inside a callback answered */
static int payload_at; /* an address to count a payload's destructor on */

static void count_free(void *p) {
    (void)p;
    freed++;
}

static vow_loop_t *live(void) { return L = vow_test_loop(); }

/* A loop freed with vow_loop_free while a promise of it is held: the handle's memory stays
 * valid (until done() drops the promise), and every call on it must answer "closed". */
static vow_loop_t *closed(void) {
    L = vow_test_loop();
    HOLD = vow_new(L);
    cr_assert_not_null(HOLD);
    cr_assert_eq(vow_loop_free(L), 0);
    return L;
}

static void done(void) {
    if (HOLD != NULL) {
        vow_unref(HOLD); /* the closed loop's last memory goes with it */
        HOLD = NULL;
    } else if (L != NULL) {
        VOW_TEST_END(L);
    }
    L = NULL;
    VOW_ASSERT_EQ(vow_test_live_allocs(), 0L, "vow allocations left");
}

static void timer_cb(vow_loop_t *loop, void *arg) {
    (void)loop, (void)arg;
    callbacks++;
}
static void micro_cb(vow_loop_t *loop, void *arg) {
    (void)loop, (void)arg;
    callbacks++;
}
static vow_result_t on_ok(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v, (void)ctx;
    callbacks++;
    return vow_ok_none();
}
static vow_t *task_body(vow_loop_t *loop, void *arg) {
    (void)arg;
    callbacks++;
    return vow_resolved(loop, vow_none());
}
static void cancel_cb(vow_loop_t *loop, void *ctx) {
    (void)loop, (void)ctx;
    callbacks++;
}
static int subscribe_ok(void *ctx, vow_resolver_t *r) {
    (void)ctx;
    return vow_resolver_resolve(r, vow_ok_int(1));
}
static void hook(vow_loop_t *loop, vow_t *p, vow_error_t *e, vow_rejection_event_t ev, void *ctx) {
    (void)loop, (void)p, (void)e, (void)ev, (void)ctx;
    callbacks++;
}

/* A pointer value whose destructor is counted. */
static vow_value_t counted_value(void) { return vow_ptr(&payload_at, count_free); }
/* An error whose payload destructor is counted (freeing the error counts once). */
static vow_error_t *counted_error(void) {
    vow_error_t *e = vow_error_new(VOW_EUSER, "counted");
    cr_assert_eq(vow_error_set_payload(e, &payload_at, count_free), 0);
    return e;
}

/* Runs the loop until it has nothing left, and checks it stopped cleanly. */
static void run_out(void) { VOW_ASSERT_CODE(vow_loop_run(L, VOW_RUN_DEFAULT), 0); }

/* Runs fn(L) from inside a callback of L (a timeout), keeping what it answers in
 * inner_rc. */
static int (*inside_fn)(vow_loop_t *);
static void inside_cb(vow_loop_t *loop, void *arg) {
    (void)arg;
    inner_rc = inside_fn(loop);
}
static void from_inside(int (*fn)(vow_loop_t *)) {
    inside_fn = fn;
    inner_rc = 1;
    VOW_ASSERT_CODE(vow_set_timeout(L, inside_cb, NULL, 1, NULL), 0);
    run_out();
}

#define CASE(id) static void case_##id(void)

/* ---- vow/common.h ---------------------------------------------------------------------- */
static void *m_(size_t n) { return malloc(n); }
CASE(replace_allocator_null) {
    VOW_ASSERT_CODE(vow_replace_allocator(NULL, realloc, calloc, free), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_replace_allocator(m_, NULL, calloc, free), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_replace_allocator(m_, realloc, NULL, free), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_replace_allocator(m_, realloc, calloc, NULL), VOW_EINVAL);
    /* Nothing changed: vow still allocates through the test's counting allocator. */
    vow_error_t *e = vow_error_new(VOW_EUSER, "x");
    VOW_ASSERT_EQ(vow_test_live_allocs(), 1L);
    vow_error_unref(e);
    done();
}
CASE(reset_allocator_twice) {
    vow_reset_allocator();
    vow_reset_allocator(); /* a no-op: the C library's allocator already */
    vow_error_t *e = vow_error_new(VOW_EUSER, "x");
    VOW_ASSERT_EQ(vow_test_live_allocs(), 0L, "the C library's allocator is not counted");
    vow_error_unref(e);
}

/* ---- vow/error.h ----------------------------------------------------------------------- */
CASE(strerror_unknown) {
    VOW_ASSERT_STR_EQ(vow_strerror(-4242), "unknown error");
    VOW_ASSERT_STR_EQ(vow_strerror(17), "unknown error");
    VOW_ASSERT_STR_EQ(vow_strerror(0), "success");
}
CASE(err_name_unknown) {
    VOW_ASSERT_STR_EQ(vow_err_name(-4242), "UNKNOWN");
    VOW_ASSERT_STR_EQ(vow_err_name(0), "OK");
}
CASE(error_new_null_message) {
    vow_error_t *e = vow_error_new(VOW_ETIMEDOUT, NULL);
    VOW_ASSERT_STR_EQ(vow_error_message(e), "timed out");
    vow_error_unref(e);
    done();
}
CASE(error_new_oom) {
    vow_test_fail_at(1);
    vow_error_t *e = vow_error_new(VOW_EUSER, "x");
    VOW_ASSERT_CODE(vow_error_code(e), VOW_ENOMEM);
    vow_error_unref(e); /* the immortal error ignores it */
    vow_error_unref(vow_error_ref(e));
    done();
}
CASE(error_newf_null_format) {
    vow_error_t *e = vow_error_newf(VOW_EBUSY, NULL);
    VOW_ASSERT_CODE(vow_error_code(e), VOW_EBUSY);
    VOW_ASSERT_STR_EQ(vow_error_message(e), "resource busy");
    vow_error_unref(e);
    done();
}
CASE(error_wrap_oom) {
    vow_error_t *cause = counted_error();
    vow_test_fail_at(vow_test_alloc_total() + 1);
    vow_error_t *e = vow_error_wrap(VOW_EUSER, "outer", cause);
    VOW_ASSERT_CODE(vow_error_code(e), VOW_ENOMEM);
    VOW_ASSERT_EQ(freed, 1, "the cause was released");
    done();
}
CASE(error_wrap_null_cause) {
    vow_error_t *e = vow_error_wrap(VOW_EUSER, "outer", NULL);
    VOW_ASSERT_EQ(vow_error_cause(e), (vow_error_t *)NULL);
    vow_error_unref(e);
    done();
}
CASE(error_aggregate_null_entry) {
    vow_error_t *in[3] = {vow_error_new(VOW_EBUSY, "a"), NULL, counted_error()};
    vow_error_t *e = vow_error_aggregate(NULL, in, 3);
    VOW_ASSERT_EQ(vow_error_count(e), (size_t)2, "the NULL entry is skipped");
    VOW_ASSERT_CODE(vow_error_code(vow_error_at(e, 1)), VOW_EUSER);
    vow_error_unref(e);
    VOW_ASSERT_EQ(freed, 1);
    done();
}
CASE(error_aggregate_oom) {
    vow_error_t *in[2] = {counted_error(), counted_error()};
    vow_test_fail_at(vow_test_alloc_total() + 1);
    vow_error_t *e = vow_error_aggregate("m", in, 2);
    VOW_ASSERT_CODE(vow_error_code(e), VOW_ENOMEM);
    VOW_ASSERT_EQ(freed, 2, "the inner errors were released");
    done();
}
CASE(error_set_payload_null) {
    VOW_ASSERT_CODE(vow_error_set_payload(NULL, &payload_at, count_free), VOW_EINVAL);
    VOW_ASSERT_EQ(freed, 1, "the payload's destructor ran");
    done();
}
CASE(error_set_payload_twice) {
    vow_error_t *e = counted_error();
    VOW_ASSERT_CODE(vow_error_set_payload(e, &payload_at, count_free), VOW_EBUSY);
    VOW_ASSERT_EQ(freed, 1, "the refused payload's destructor ran");
    vow_error_unref(e);
    VOW_ASSERT_EQ(freed, 2);
    done();
}
CASE(error_set_payload_oom_error) {
    vow_test_fail_at(1);
    vow_error_t *e = vow_error_new(VOW_EUSER, "x");
    VOW_ASSERT_CODE(vow_error_set_payload(e, &payload_at, count_free), VOW_ENOMEM);
    VOW_ASSERT_EQ(freed, 1);
    VOW_ASSERT_EQ(vow_error_payload(e), (void *)NULL);
    done();
}
CASE(error_ref_null) {
    VOW_ASSERT_EQ(vow_error_ref(NULL), (vow_error_t *)NULL);
    vow_error_unref(NULL);
}
CASE(error_inspect_null) {
    VOW_ASSERT_CODE(vow_error_code(NULL), VOW_EINVAL);
    VOW_ASSERT_STR_EQ(vow_error_message(NULL), "");
    VOW_ASSERT_EQ(vow_error_cause(NULL), (vow_error_t *)NULL);
    VOW_ASSERT_EQ(vow_error_payload(NULL), (void *)NULL);
    VOW_ASSERT_EQ(vow_error_count(NULL), (size_t)0);
    VOW_ASSERT_EQ(vow_error_at(NULL, 0), (vow_error_t *)NULL);
}
CASE(error_at_past_end) {
    vow_error_t *in[1] = {vow_error_new(VOW_EBUSY, "a")};
    vow_error_t *e = vow_error_aggregate(NULL, in, 1);
    VOW_ASSERT_EQ(vow_error_at(e, 1), (vow_error_t *)NULL);
    VOW_ASSERT_EQ(vow_error_at(e, SIZE_MAX), (vow_error_t *)NULL);
    vow_error_unref(e);
    done();
}
CASE(error_format_null) {
    char buf[16];
    VOW_ASSERT_EQ(vow_error_format(NULL, buf, sizeof buf), (size_t)6);
    VOW_ASSERT_STR_EQ(buf, "(null)");
    vow_error_t *e = vow_error_new(VOW_EBUSY, "busy now");
    size_t need = vow_error_format(e, NULL, 100); /* buf NULL: nothing written */
    VOW_ASSERT_EQ(need, strlen("EBUSY: busy now"));
    VOW_ASSERT_EQ(vow_error_format(e, buf, 0), need, "len 0: nothing written");
    VOW_ASSERT_EQ(vow_error_format(e, buf, 4), need);
    VOW_ASSERT_STR_EQ(buf, "EBU", "truncated, NUL-terminated");
    vow_error_unref(e);
    done();
}
CASE(error_print_null) {
    VOW_ASSERT_CODE(vow_error_print(NULL, stderr), VOW_EINVAL);
    vow_error_t *e = vow_error_new(VOW_EBUSY, NULL);
    VOW_ASSERT_CODE(vow_error_print(e, NULL), VOW_EINVAL);
    vow_error_unref(e);
    done();
}

/* ---- vow/loop.h ------------------------------------------------------------------------ */
CASE(loop_new_out_null) { VOW_ASSERT_CODE(vow_loop_new(NULL, VOW_BACKEND_AUTO), VOW_EINVAL); }
CASE(loop_new_two_bits) {
    vow_loop_t *l = (vow_loop_t *)&payload_at;
    VOW_ASSERT_CODE(vow_loop_new(&l, VOW_BACKEND_SELECT | VOW_BACKEND_POLL), VOW_EINVAL);
    VOW_ASSERT_EQ(l, (vow_loop_t *)NULL, "*out cleared");
    VOW_ASSERT_CODE(vow_loop_new(&l, 0x100u), VOW_EINVAL);
}
CASE(loop_new_bad_env) {
    vow_loop_t *l = NULL;
    cr_assert_eq(setenv("VOW_BACKEND", "carrier-pigeon", 1), 0);
    VOW_ASSERT_CODE(vow_loop_new(&l, VOW_BACKEND_AUTO), VOW_EINVAL);
    VOW_ASSERT_EQ(l, (vow_loop_t *)NULL);
    done();
}
CASE(loop_new_unsupported) {
    vow_loop_t *l = NULL;
    unsigned missing = 0;
    for (unsigned b = VOW_BACKEND_SELECT; b <= VOW_BACKEND_KQUEUE; b <<= 1)
        if (!(ev_supported_backends() & b)) missing = b;
    cr_assert_neq(missing, 0u, "every backend is supported here: nothing to test");
    VOW_ASSERT_CODE(vow_loop_new(&l, missing), VOW_ENOTSUP);
    VOW_ASSERT_EQ(l, (vow_loop_t *)NULL);
    done();
}
CASE(loop_new_oom) {
    vow_loop_t *l = NULL;
    vow_test_fail_at(1);
    VOW_ASSERT_CODE(vow_loop_new(&l, VOW_BACKEND_AUTO), VOW_ENOMEM);
    VOW_ASSERT_EQ(l, (vow_loop_t *)NULL);
    done();
}
CASE(loop_wrap_null) {
    vow_loop_t *l = (vow_loop_t *)&payload_at;
    struct ev_loop *evl = ev_loop_new(EVFLAG_AUTO);
    VOW_ASSERT_CODE(vow_loop_wrap(NULL, evl), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_loop_wrap(&l, NULL), VOW_EINVAL);
    VOW_ASSERT_EQ(l, (vow_loop_t *)NULL);
    ev_loop_destroy(evl);
    done();
}
CASE(loop_ev_null_or_closed) {
    VOW_ASSERT_EQ(vow_loop_ev(NULL), (struct ev_loop *)NULL);
    VOW_ASSERT_EQ(vow_loop_ev(closed()), (struct ev_loop *)NULL);
    done();
}
CASE(loop_backend_null_or_closed) {
    VOW_ASSERT_EQ(vow_loop_backend(NULL), 0u);
    VOW_ASSERT_EQ(vow_loop_backend(closed()), 0u);
    done();
}
CASE(loop_now_null_or_closed) {
    VOW_ASSERT_EQ(vow_loop_now(NULL), (uint64_t)0);
    VOW_ASSERT_EQ(vow_loop_now(closed()), (uint64_t)0);
    done();
}
CASE(loop_update_time_null_or_closed) {
    VOW_ASSERT_EQ(vow_loop_update_time(NULL), (uint64_t)0);
    VOW_ASSERT_EQ(vow_loop_update_time(closed()), (uint64_t)0);
    done();
}
CASE(loop_run_null) { VOW_ASSERT_CODE(vow_loop_run(NULL, VOW_RUN_DEFAULT), VOW_EINVAL); }
CASE(loop_run_bad_mode) {
    VOW_ASSERT_CODE(vow_loop_run(live(), (vow_run_mode_t)7), VOW_EINVAL);
    done();
}
CASE(loop_run_closed) {
    VOW_ASSERT_CODE(vow_loop_run(closed(), VOW_RUN_DEFAULT), VOW_ECLOSED);
    done();
}
static int run_inside(vow_loop_t *l) { return vow_loop_run(l, VOW_RUN_NOWAIT); }
CASE(loop_run_inside) {
    live();
    from_inside(run_inside);
    VOW_ASSERT_CODE(inner_rc, VOW_EREENTRANT);
    done();
}
CASE(loop_stop_null_closed_idle) {
    vow_loop_stop(NULL);
    vow_loop_stop(live()); /* not running: the next run starts afresh */
    VOW_ASSERT_CODE(vow_set_timeout(L, timer_cb, NULL, 1, NULL), 0);
    run_out();
    VOW_ASSERT_EQ(callbacks, 1, "the stop before the run did not stop it");
    done();
    vow_loop_stop(closed());
    done();
}
CASE(loop_alive_null_or_closed) {
    VOW_ASSERT_CODE(vow_loop_alive(NULL), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_loop_alive(closed()), VOW_ECLOSED);
    done();
}
CASE(loop_close_null) { VOW_ASSERT_CODE(vow_loop_close(NULL), VOW_EINVAL); }
CASE(loop_close_busy) {
    VOW_ASSERT_CODE(vow_set_timeout(live(), timer_cb, NULL, 1, NULL), 0);
    VOW_ASSERT_CODE(vow_loop_close(L), VOW_EBUSY);
    run_out();
    VOW_ASSERT_EQ(callbacks, 1, "nothing was cancelled");
    done();
}
CASE(loop_close_closed) {
    VOW_ASSERT_CODE(vow_loop_close(closed()), VOW_EINVAL);
    done();
}
static int close_inside(vow_loop_t *l) { return vow_loop_close(l); }
CASE(loop_close_inside) {
    live();
    from_inside(close_inside);
    VOW_ASSERT_CODE(inner_rc, VOW_EREENTRANT);
    done();
}
CASE(loop_free_null) { VOW_ASSERT_CODE(vow_loop_free(NULL), VOW_EINVAL); }
CASE(loop_free_closed) {
    VOW_ASSERT_CODE(vow_loop_free(closed()), VOW_EINVAL);
    done();
}
static int free_inside(vow_loop_t *l) { return vow_loop_free(l); }
CASE(loop_free_inside) {
    live();
    from_inside(free_inside);
    VOW_ASSERT_CODE(inner_rc, VOW_EREENTRANT);
    done();
}
CASE(microtask_null) {
    VOW_ASSERT_CODE(vow_microtask(NULL, micro_cb, NULL), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_microtask(live(), NULL, NULL), VOW_EINVAL);
    run_out();
    done();
}
static int drain_inside_rc = 1;
static void drain_inside(vow_loop_t *loop, void *arg) {
    (void)arg;
    drain_inside_rc = vow_loop_drain(loop);
}
CASE(loop_drain_null_closed_inside) {
    VOW_ASSERT_CODE(vow_loop_drain(NULL), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_loop_drain(live()), 0, "nothing queued: nothing to do");
    VOW_ASSERT_CODE(vow_microtask(L, drain_inside, NULL), 0);
    VOW_ASSERT_CODE(vow_loop_drain(L), 0);
    VOW_ASSERT_CODE(drain_inside_rc, VOW_EREENTRANT);
    done();
    VOW_ASSERT_CODE(vow_loop_drain(closed()), VOW_ECLOSED);
    done();
}
CASE(microtask_closed) {
    VOW_ASSERT_CODE(vow_microtask(closed(), micro_cb, NULL), VOW_ECLOSED);
    VOW_ASSERT_EQ(callbacks, 0);
    done();
}

/* ---- vow/timer.h ----------------------------------------------------------------------- */
typedef int (*set_fn)(vow_loop_t *, vow_timer_cb, void *, uint64_t, vow_timer_t *);
static int set_immediate_(vow_loop_t *l, vow_timer_cb cb, void *a, uint64_t ms, vow_timer_t *id) {
    (void)ms;
    return vow_set_immediate(l, cb, a, id);
}
static void set_null(set_fn set) {
    vow_timer_t id = 77;
    VOW_ASSERT_CODE(set(NULL, timer_cb, NULL, 1, &id), VOW_EINVAL);
    VOW_ASSERT_CODE(set(live(), NULL, NULL, 1, &id), VOW_EINVAL);
    VOW_ASSERT_EQ(id, (vow_timer_t)77, "*id untouched");
    VOW_ASSERT_EQ(vow_loop_alive(L), 0);
    done();
}
static void set_closed(set_fn set) {
    vow_timer_t id = 77;
    VOW_ASSERT_CODE(set(closed(), timer_cb, NULL, 1, &id), VOW_ECLOSED);
    VOW_ASSERT_EQ(id, (vow_timer_t)77, "*id untouched");
    done();
}
CASE(set_timeout_null) { set_null(vow_set_timeout); }
CASE(set_timeout_closed) { set_closed(vow_set_timeout); }
CASE(set_interval_null) { set_null(vow_set_interval); }
CASE(set_interval_closed) { set_closed(vow_set_interval); }
CASE(set_immediate_null) { set_null(set_immediate_); }
CASE(set_immediate_closed) { set_closed(set_immediate_); }

typedef int (*clear_fn)(vow_loop_t *, vow_timer_t);
/* The answers of a clear call: NULL loop, id 0, an id never given, a stale id (fired),
 * an id of the other kind, a closed loop. */
static void clear_rows(clear_fn clear, set_fn set_same, set_fn set_other) {
    vow_timer_t fired, other;
    VOW_ASSERT_CODE(clear(NULL, 1), VOW_EINVAL);
    live();
    VOW_ASSERT_CODE(clear(L, 0), VOW_ENOENT);
    VOW_ASSERT_CODE(clear(L, 0x0000002a00000007ull), VOW_ENOENT);
    VOW_ASSERT_CODE(set_same(L, timer_cb, NULL, 1, &fired), 0);
    run_out();
    VOW_ASSERT_CODE(clear(L, fired), VOW_ENOENT, "stale");
    VOW_ASSERT_CODE(set_other(L, timer_cb, NULL, 1, &other), 0);
    VOW_ASSERT_CODE(clear(L, other), VOW_EINVAL, "the other kind's id");
    run_out();
    VOW_ASSERT_EQ(callbacks, 2, "the other kind's timer still ran");
    done();
    VOW_ASSERT_CODE(clear(closed(), 1), VOW_ECLOSED);
    done();
}
CASE(clear_timeout_rows) { clear_rows(vow_clear_timeout, vow_set_timeout, set_immediate_); }
CASE(clear_interval_rows) { clear_rows(vow_clear_interval, vow_set_timeout, set_immediate_); }
CASE(clear_immediate_rows) { clear_rows(vow_clear_immediate, set_immediate_, vow_set_timeout); }
CASE(clear_timeout_of_interval) {
    vow_timer_t id;
    VOW_ASSERT_CODE(vow_set_interval(live(), timer_cb, NULL, 1, &id), 0);
    VOW_ASSERT_CODE(vow_clear_timeout(L, id), 0, "Node's clearTimeout clears an interval");
    VOW_ASSERT_CODE(vow_clear_interval(L, id), VOW_ENOENT, "twice");
    run_out();
    VOW_ASSERT_EQ(callbacks, 0);
    done();
}

/* ---- vow/promise.h: values and results ------------------------------------------------- */
CASE(values_no_misuse) {
    vow_value_t v = vow_int(INT64_MIN);
    VOW_ASSERT_EQ(vow_value_int(&v), INT64_MIN);
    v = vow_double(NAN);
    VOW_ASSERT_EQ(vow_value_kind(&v), VOW_VAL_DOUBLE);
    v = vow_none();
    VOW_ASSERT_EQ(vow_value_kind(&v), VOW_VAL_NONE);
}
CASE(ptr_null_with_dtor) {
    vow_value_t v = vow_ptr(NULL, count_free);
    VOW_ASSERT_EQ(vow_value_kind(&v), VOW_VAL_PTR);
    vow_value_release(&v);
    VOW_ASSERT_EQ(freed, 1, "dtor(NULL) ran once, as free(NULL) may");
}
CASE(value_share_null) {
    vow_value_t v = vow_value_share(NULL);
    VOW_ASSERT_EQ(vow_value_kind(&v), VOW_VAL_NONE);
}
CASE(value_release_null_and_twice) {
    vow_value_release(NULL);
    vow_value_t v = counted_value();
    vow_value_release(&v);
    vow_value_release(&v); /* v is vow_none() now */
    VOW_ASSERT_EQ(freed, 1);
    VOW_ASSERT_EQ(vow_value_kind(&v), VOW_VAL_NONE);
}
CASE(value_accessors_null) {
    VOW_ASSERT_EQ(vow_value_kind(NULL), VOW_VAL_NONE);
    VOW_ASSERT_EQ(vow_value_int(NULL), (int64_t)0);
    VOW_ASSERT_EQ(vow_value_double(NULL), 0.0);
    VOW_ASSERT_EQ(vow_value_ptr(NULL), (void *)NULL);
}
CASE(value_accessors_other_kind) {
    vow_value_t p = vow_ptr(&payload_at, NULL), i = vow_int(3);
    VOW_ASSERT_EQ(vow_value_int(&p), (int64_t)0);
    VOW_ASSERT_EQ(vow_value_double(&p), 0.0);
    VOW_ASSERT_EQ(vow_value_ptr(&i), (void *)NULL);
}
CASE(value_int_out_of_range) {
    vow_value_t v = vow_double(1e300);
    VOW_ASSERT_EQ(vow_value_int(&v), INT64_MAX);
    v = vow_double(-1e300);
    VOW_ASSERT_EQ(vow_value_int(&v), INT64_MIN);
    v = vow_double(9223372036854775808.0); /* 2^63: one past INT64_MAX */
    VOW_ASSERT_EQ(vow_value_int(&v), INT64_MAX);
    v = vow_double(-9223372036854775808.0); /* -2^63 is INT64_MIN exactly */
    VOW_ASSERT_EQ(vow_value_int(&v), INT64_MIN);
    v = vow_double(INFINITY);
    VOW_ASSERT_EQ(vow_value_int(&v), INT64_MAX);
    v = vow_double(-INFINITY);
    VOW_ASSERT_EQ(vow_value_int(&v), INT64_MIN);
    v = vow_double(NAN);
    VOW_ASSERT_EQ(vow_value_int(&v), (int64_t)0);
    v = vow_double(-2.9);
    VOW_ASSERT_EQ(vow_value_int(&v), (int64_t)-2, "toward zero");
}
CASE(results_no_misuse) {
    /* vow_ok / vow_ok_none / vow_ok_int / vow_ok_double take nothing that can be wrong;
     * a result that is never handed to vow is released by resolving a promise with it. */
    vow_t *p = vow_new(live());
    VOW_ASSERT_CODE(vow_resolve_with(p, vow_ok(counted_value())), 0);
    vow_unref(p);
    vow_result_t r[3] = {vow_ok_none(), vow_ok_int(1), vow_ok_double(2.5)};
    VOW_ASSERT_EQ(r[0].kind, VOW_RESULT_VALUE);
    VOW_ASSERT_EQ(r[2].kind, VOW_RESULT_VALUE);
    run_out();
    done();
    VOW_ASSERT_EQ(freed, 1);
}
/* Resolves a new promise of L with r, runs the loop, and checks it rejected with `code`. */
static void expect_rejects(vow_result_t r, int code) {
    vow_t *p = vow_new(L);
    VOW_ASSERT_CODE(vow_resolve_with(p, r), 0);
    run_out();
    VOW_ASSERT_STATE(vow_state(p), VOW_REJECTED);
    VOW_ASSERT_CODE(vow_error_code(vow_error(p)), code);
    vow_unref(p);
}
CASE(fail_null) {
    vow_set_unhandled_mode(live(), VOW_UNHANDLED_SILENT);
    expect_rejects(vow_fail(NULL), VOW_ETYPE);
    done();
}
CASE(fail_code_null_message) {
    vow_result_t r = vow_fail_code(VOW_EBUSY, NULL);
    VOW_ASSERT_STR_EQ(vow_error_message(r.error), "resource busy");
    vow_set_unhandled_mode(live(), VOW_UNHANDLED_SILENT);
    expect_rejects(r, VOW_EBUSY);
    done();
}
CASE(follow_null) {
    vow_set_unhandled_mode(live(), VOW_UNHANDLED_SILENT);
    expect_rejects(vow_follow(NULL), VOW_ENOMEM);
    done();
}
CASE(follow_itself) {
    vow_set_unhandled_mode(live(), VOW_UNHANDLED_SILENT);
    vow_t *p = vow_new(L);
    VOW_ASSERT_CODE(vow_resolve_with(p, vow_follow(vow_ref(p))), 0);
    run_out();
    VOW_ASSERT_CODE(vow_error_code(vow_error(p)), VOW_ETYPE);
    vow_unref(p);
    done();
}
static vow_t *other_promise;
static vow_result_t follow_other(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v, (void)ctx;
    return vow_follow(other_promise);
}
CASE(follow_other_loop) {
    vow_loop_t *other = vow_test_loop();
    vow_set_unhandled_mode(live(), VOW_UNHANDLED_SILENT);
    vow_t *p = vow_new(L);
    VOW_ASSERT_CODE(vow_resolve_with(p, vow_follow(vow_resolved(other, counted_value()))), 0);
    other_promise = vow_resolved(other, counted_value());
    vow_t *d = vow_then_ok(vow_resolved(L, vow_none()), follow_other, NULL);
    run_out();
    VOW_ASSERT_CODE(vow_error_code(vow_error(p)), VOW_EINVAL, "resolve_with");
    VOW_ASSERT_CODE(vow_error_code(vow_error(d)), VOW_EINVAL, "a reaction's result");
    VOW_ASSERT_EQ(freed, 2, "both promises of the other loop released");
    vow_unref(p);
    vow_unref(d);
    VOW_ASSERT_CODE(vow_loop_close(other), 0);
    done();
}
static vow_result_t give_bare_thenable(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v, (void)ctx;
    return vow_follow_thenable(vow_thenable_new(NULL, &payload_at, count_free));
}
static vow_result_t read_bare(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)ctx;
    VOW_ASSERT_EQ(vow_value_ptr(v), (void *)&payload_at);
    callbacks++;
    return vow_ok_none();
}
CASE(thenable_new_null_subscribe) {
    vow_thenable_t *t = vow_thenable_new(NULL, &payload_at, count_free);
    cr_assert_not_null(t, "NULL is only for out of memory");
    vow_t *p = vow_new(live());
    VOW_ASSERT_CODE(vow_resolve_with(p, vow_follow_thenable(t)), 0);
    run_out();
    VOW_ASSERT_EQ(vow_value_ptr(vow_value(p)), (void *)&payload_at,
                  "fulfilled with ctx (A+ 2.3.3.4)");
    VOW_ASSERT_EQ(freed, 0, "the value owns ctx");
    vow_unref(p);
    VOW_ASSERT_EQ(freed, 1, "ctx_free ran once, with the value");
    done();
    /* Returned by a reaction, in a chain nobody else holds: the job's record is the last
     * reference to the derived promise, which still settles and reaches the next step. */
    live();
    vow_t *chain = vow_then_ok(vow_then_ok(vow_resolved(L, vow_none()), give_bare_thenable, NULL),
                               read_bare, NULL);
    VOW_ASSERT_CODE(vow_run(L, chain, NULL), 0);
    VOW_ASSERT_EQ(callbacks, 1);
    VOW_ASSERT_EQ(freed, 2);
    done();
    /* Dropped before its job ran (the loop freed): ctx_free runs once too. */
    vow_t *q = vow_new(live());
    VOW_ASSERT_CODE(
        vow_resolve_with(q, vow_follow_thenable(vow_thenable_new(NULL, &payload_at, count_free))),
        0);
    vow_unref(q);
    cr_assert_eq(vow_loop_free(L), 0);
    L = NULL;
    VOW_ASSERT_EQ(freed, 3);
    done();
}
CASE(thenable_new_oom) {
    vow_test_fail_at(1);
    VOW_ASSERT_EQ(vow_thenable_new(subscribe_ok, &payload_at, count_free), (vow_thenable_t *)NULL);
    VOW_ASSERT_EQ(freed, 1);
}
CASE(follow_thenable_null) {
    vow_set_unhandled_mode(live(), VOW_UNHANDLED_SILENT);
    expect_rejects(vow_follow_thenable(NULL), VOW_ENOMEM);
    done();
}

/* ---- resolvers ------------------------------------------------------------------------- */
static vow_resolver_t *kept;
static int subscribe_keep(void *ctx, vow_resolver_t *r) {
    (void)ctx;
    kept = vow_resolver_ref(r);
    return 0;
}
/* A promise of L that follows a thenable whose resolver is kept in `kept`. */
static vow_t *keep_resolver(void) {
    vow_t *p = vow_new(L);
    VOW_ASSERT_CODE(
        vow_resolve_with(p, vow_follow_thenable(vow_thenable_new(subscribe_keep, NULL, NULL))), 0);
    run_out();
    cr_assert_not_null(kept);
    return p;
}
CASE(resolver_null) {
    VOW_ASSERT_CODE(vow_resolver_resolve(NULL, vow_ok(counted_value())), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_resolver_reject(NULL, counted_error()), VOW_EINVAL);
    VOW_ASSERT_EQ(freed, 2, "both consumed");
    VOW_ASSERT_EQ(vow_resolver_ref(NULL), (vow_resolver_t *)NULL);
    vow_resolver_unref(NULL);
    done();
}
CASE(resolver_twice) {
    live();
    vow_t *p = keep_resolver();
    VOW_ASSERT_CODE(vow_resolver_resolve(kept, vow_ok_int(1)), 0);
    VOW_ASSERT_CODE(vow_resolver_resolve(kept, vow_ok(counted_value())), VOW_ESETTLED);
    VOW_ASSERT_CODE(vow_resolver_reject(kept, counted_error()), VOW_ESETTLED);
    VOW_ASSERT_EQ(freed, 2, "the losers were released");
    run_out();
    VOW_ASSERT_EQ(vow_value_int(vow_value(p)), (int64_t)1);
    vow_resolver_unref(kept);
    vow_unref(p);
    done();
}
CASE(resolver_closed) {
    live();
    vow_t *p = keep_resolver();
    HOLD = p;
    cr_assert_eq(vow_loop_free(L), 0);
    VOW_ASSERT_CODE(vow_resolver_resolve(kept, vow_ok(counted_value())), VOW_ECLOSED);
    VOW_ASSERT_CODE(vow_resolver_reject(kept, counted_error()), VOW_ECLOSED);
    VOW_ASSERT_EQ(freed, 2);
    vow_resolver_unref(kept);
    done();
}
CASE(resolver_bad_kind) {
    live();
    vow_t *p = keep_resolver();
    vow_result_t bad = {.kind = (vow_result_kind_t)9};
    VOW_ASSERT_CODE(vow_resolver_resolve(kept, bad), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_resolver_resolve(kept, vow_ok_int(2)), 0, "the bad call did not count");
    run_out();
    vow_resolver_unref(kept);
    vow_unref(p);
    done();
}

/* ---- settling -------------------------------------------------------------------------- */
CASE(settle_null) {
    VOW_ASSERT_CODE(vow_resolve(NULL, counted_value()), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_reject(NULL, counted_error()), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_resolve_with(NULL, vow_ok(counted_value())), VOW_EINVAL);
    VOW_ASSERT_EQ(freed, 3, "all consumed");
    done();
}
CASE(settle_derived) {
    vow_t *d = vow_then(vow_new(live()), on_ok, NULL, NULL, NULL);
    VOW_ASSERT_CODE(vow_resolve(d, counted_value()), VOW_EPERM);
    VOW_ASSERT_CODE(vow_reject(d, counted_error()), VOW_EPERM);
    vow_t *s = vow_sleep(L, 1);
    VOW_ASSERT_CODE(vow_resolve_with(s, vow_ok(counted_value())), VOW_EPERM);
    VOW_ASSERT_EQ(freed, 3);
    vow_unref(d);
    vow_unref(s);
    run_out();
    done();
}
CASE(settle_twice) {
    vow_t *p = vow_new(live());
    VOW_ASSERT_CODE(vow_resolve(p, vow_int(1)), 0);
    VOW_ASSERT_CODE(vow_resolve(p, counted_value()), VOW_ESETTLED);
    VOW_ASSERT_CODE(vow_reject(p, counted_error()), VOW_ESETTLED);
    VOW_ASSERT_EQ(freed, 2);
    VOW_ASSERT_EQ(vow_value_int(vow_value(p)), (int64_t)1);
    vow_unref(p);
    done();
}
CASE(settle_locked) {
    vow_t *p = vow_new(live()), *q = vow_new(L);
    VOW_ASSERT_CODE(vow_resolve_with(p, vow_follow(vow_ref(q))), 0);
    VOW_ASSERT_CODE(vow_resolve(p, counted_value()), VOW_ESETTLED, "locked onto q");
    VOW_ASSERT_STATE(vow_state(p), VOW_PENDING);
    VOW_ASSERT_CODE(vow_resolve(q, vow_int(5)), 0);
    run_out();
    VOW_ASSERT_EQ(vow_value_int(vow_value(p)), (int64_t)5);
    VOW_ASSERT_EQ(freed, 1);
    vow_unref(p);
    vow_unref(q);
    done();
}
CASE(settle_closed) {
    closed();
    VOW_ASSERT_CODE(vow_resolve(HOLD, counted_value()), VOW_ECLOSED);
    VOW_ASSERT_CODE(vow_reject(HOLD, counted_error()), VOW_ECLOSED);
    VOW_ASSERT_CODE(vow_resolve_with(HOLD, vow_ok(counted_value())), VOW_ECLOSED);
    VOW_ASSERT_EQ(freed, 3);
    done();
}
CASE(reject_null_error) {
    vow_t *p = vow_new(live());
    vow_set_unhandled_mode(L, VOW_UNHANDLED_SILENT);
    VOW_ASSERT_CODE(vow_reject(p, NULL), 0);
    VOW_ASSERT_CODE(vow_error_code(vow_error(p)), VOW_ETYPE);
    vow_unref(p);
    run_out();
    done();
}

/* ---- reactions ------------------------------------------------------------------------- */
CASE(then_no_reactions) {
    vow_t *d = vow_then(vow_resolved(live(), vow_int(4)), NULL, NULL, &payload_at, count_free);
    vow_t *c = vow_catch(vow_rejected(L, vow_error_new(VOW_EBUSY, NULL)), NULL, NULL, NULL);
    run_out();
    VOW_ASSERT_EQ(vow_value_int(vow_value(d)), (int64_t)4, "passes through");
    VOW_ASSERT_CODE(vow_error_code(vow_error(c)), VOW_EBUSY, "passes through");
    VOW_ASSERT_EQ(freed, 1, "ctx_free ran once");
    vow_unref(d);
    vow_unref(c);
    done();
}
CASE(then_ok_null_closed) {
    VOW_ASSERT_EQ(vow_then_ok(NULL, on_ok, NULL), (vow_t *)NULL);
    closed();
    VOW_ASSERT_EQ(vow_then_ok(vow_ref(HOLD), on_ok, NULL), (vow_t *)NULL, "p released");
    done();
    vow_t *d = vow_then_ok(vow_resolved(live(), vow_int(2)), NULL, NULL);
    run_out();
    VOW_ASSERT_EQ(vow_value_int(vow_value(d)), (int64_t)2, "on_ok NULL: passes through");
    vow_unref(d);
    VOW_ASSERT_EQ(callbacks, 0);
    done();
}
CASE(finally_null_fn) {
    vow_t *d = vow_finally(vow_resolved(live(), vow_int(4)), NULL, &payload_at, count_free);
    run_out();
    VOW_ASSERT_EQ(vow_value_int(vow_value(d)), (int64_t)4, "passes through");
    VOW_ASSERT_EQ(freed, 1);
    vow_unref(d);
    done();
}

/* ---- cancellation ---------------------------------------------------------------------- */
CASE(cancel_null) { VOW_ASSERT_CODE(vow_cancel(NULL), VOW_EINVAL); }
CASE(cancel_settled) {
    vow_t *p = vow_resolved(live(), vow_int(1));
    VOW_ASSERT_CODE(vow_cancel(p), VOW_ESETTLED);
    VOW_ASSERT_STATE(vow_state(p), VOW_FULFILLED);
    vow_unref(p);
    done();
}
CASE(cancel_closed) {
    VOW_ASSERT_CODE(vow_cancel(closed() ? HOLD : NULL), VOW_ECLOSED);
    done();
}
static int cancel_action; /* what cancel_settles does: 0 resolve, 1 reject, 2 lock, 3 cancel */
static vow_t *lock_target;
static void cancel_settles(vow_loop_t *loop, void *ctx) {
    (void)loop;
    vow_t *p = ctx;
    callbacks++;
    switch (cancel_action) {
    case 0: VOW_ASSERT_CODE(vow_resolve(p, vow_int(9)), 0); break;
    case 1: VOW_ASSERT_CODE(vow_reject(p, vow_error_new(VOW_EBUSY, NULL)), 0); break;
    case 2: VOW_ASSERT_CODE(vow_resolve_with(p, vow_follow(vow_ref(lock_target))), 0); break;
    default: VOW_ASSERT_CODE(vow_reject(p, vow_error_new(VOW_ECANCELED, "mine")), 0); break;
    }
}
static vow_t *with_settling_cancel(int action) {
    cancel_action = action;
    vow_t *p = vow_new(L);
    VOW_ASSERT_CODE(vow_on_cancel(p, cancel_settles, p, NULL), 0);
    return p;
}
CASE(cancel_callback_resolves) {
    vow_set_unhandled_mode(live(), VOW_UNHANDLED_SILENT);
    vow_t *p = with_settling_cancel(0);
    VOW_ASSERT_CODE(vow_cancel(p), VOW_CANCEL_DECLINED);
    VOW_ASSERT_STATE(vow_state(p), VOW_FULFILLED);
    VOW_ASSERT_EQ(vow_value_int(vow_value(p)), (int64_t)9);
    vow_unref(p);
    p = with_settling_cancel(1);
    VOW_ASSERT_CODE(vow_cancel(p), VOW_CANCEL_DECLINED);
    VOW_ASSERT_CODE(vow_error_code(vow_error(p)), VOW_EBUSY);
    vow_unref(p);
    p = with_settling_cancel(3);
    VOW_ASSERT_CODE(vow_cancel(p), 0, "rejected as cancelled: cancelled");
    VOW_ASSERT_STR_EQ(vow_error_message(vow_error(p)), "mine");
    vow_unref(p);
    VOW_ASSERT_EQ(callbacks, 3);
    run_out();
    done();
}
/* A callback that settles its promise and then reads its own heap ctx (whose ctx_free
 * frees it): the ctx stays valid until the callback returns. */
struct settle_ctx {
    vow_t *p;
    int answer;
};
static void settle_then_read(vow_loop_t *loop, void *ctx) {
    (void)loop;
    struct settle_ctx *c = ctx;
    VOW_ASSERT_CODE(vow_resolve(c->p, vow_int(c->answer)), 0);
    callbacks += c->answer; /* read after the settle */
}
static void settle_ctx_free(void *ctx) {
    freed++;
    free(ctx);
}
CASE(cancel_callback_reads_its_ctx_after_settling) {
    struct settle_ctx *c = malloc(sizeof *c);
    cr_assert_not_null(c);
    c->p = vow_new(live());
    c->answer = 7;
    vow_t *p = vow_ref(c->p);
    VOW_ASSERT_CODE(vow_on_cancel(p, settle_then_read, c, settle_ctx_free), 0);
    VOW_ASSERT_CODE(vow_cancel(p), VOW_CANCEL_DECLINED);
    VOW_ASSERT_EQ(callbacks, 7);
    VOW_ASSERT_EQ(freed, 1, "ctx_free ran once, after the callback");
    VOW_ASSERT_EQ(vow_value_int(vow_value(p)), (int64_t)7);
    vow_unref(p);
    vow_unref(p);
    done();
}
/* Cancelling a combinator cancels its inputs in order; the first input's callback cancels
 * the second, already on the running cancellation's list. */
static vow_t *sibling;
static int sibling_rc = 99;
static void cancel_sibling(vow_loop_t *loop, void *ctx) {
    (void)loop, (void)ctx;
    sibling_rc = vow_cancel(sibling);
}
CASE(cancel_sibling_from_callback) {
    live();
    vow_t *a = vow_new(L), *b = vow_new(L);
    VOW_ASSERT_CODE(vow_on_cancel(a, cancel_sibling, NULL, NULL), 0);
    VOW_ASSERT_CODE(vow_on_cancel(b, cancel_cb, NULL, NULL), 0);
    sibling = b;
    vow_t *in[2] = {vow_ref(a), vow_ref(b)};
    vow_t *all = vow_all(L, in, 2);
    VOW_ASSERT_CODE(vow_cancel(all), 0);
    VOW_ASSERT_CODE(sibling_rc, 0, "under way: the running cancellation cancels it");
    VOW_ASSERT_STATE(vow_state(b), VOW_REJECTED);
    VOW_ASSERT_EQ(vow_is_cancellation(vow_error(b)), 1);
    VOW_ASSERT_EQ(callbacks, 1, "b's own callback ran once");
    vow_unref(a);
    vow_unref(b);
    vow_unref(all);
    run_out();
    done();
}
CASE(cancel_callback_locks) {
    live();
    lock_target = vow_new(L);
    vow_t *p = with_settling_cancel(2);
    VOW_ASSERT_CODE(vow_cancel(p), VOW_CANCEL_DECLINED);
    VOW_ASSERT_STATE(vow_state(p), VOW_PENDING);
    VOW_ASSERT_STATE(vow_state(lock_target), VOW_PENDING, "what p follows is not cancelled");
    VOW_ASSERT_CODE(vow_resolve(lock_target, vow_int(3)), 0);
    run_out();
    VOW_ASSERT_EQ(vow_value_int(vow_value(p)), (int64_t)3, "p settles as it follows");
    vow_unref(p);
    vow_unref(lock_target);
    done();
}
CASE(on_cancel_null) {
    VOW_ASSERT_CODE(vow_on_cancel(NULL, cancel_cb, &payload_at, count_free), VOW_EINVAL);
    vow_t *p = vow_new(live());
    VOW_ASSERT_CODE(vow_on_cancel(p, NULL, &payload_at, count_free), VOW_EINVAL);
    VOW_ASSERT_EQ(freed, 2, "ctx_free ran each time");
    vow_unref(p);
    done();
}
CASE(on_cancel_derived) {
    vow_t *s = vow_sleep(live(), 1);
    VOW_ASSERT_CODE(vow_on_cancel(s, cancel_cb, &payload_at, count_free), VOW_EPERM);
    VOW_ASSERT_EQ(freed, 1);
    vow_unref(s);
    run_out();
    done();
}
CASE(on_cancel_settled_twice_closed) {
    vow_t *p = vow_resolved(live(), vow_none());
    VOW_ASSERT_CODE(vow_on_cancel(p, cancel_cb, &payload_at, count_free), VOW_EPERM,
                    "vow_resolved's promise is not vow_new's");
    vow_unref(p);
    p = vow_new(L);
    VOW_ASSERT_CODE(vow_on_cancel(p, cancel_cb, NULL, NULL), 0);
    VOW_ASSERT_CODE(vow_on_cancel(p, cancel_cb, &payload_at, count_free), VOW_EBUSY);
    VOW_ASSERT_CODE(vow_resolve(p, vow_none()), 0);
    VOW_ASSERT_CODE(vow_on_cancel(p, cancel_cb, &payload_at, count_free), VOW_ESETTLED);
    vow_unref(p);
    done();
    VOW_ASSERT_CODE(vow_on_cancel(closed() ? HOLD : NULL, cancel_cb, &payload_at, count_free),
                    VOW_ECLOSED);
    VOW_ASSERT_EQ(freed, 4);
    VOW_ASSERT_EQ(callbacks, 0);
    done();
}
CASE(is_cancellation_null) { VOW_ASSERT_EQ(vow_is_cancellation(NULL), 0); }

/* ---- references and inspection --------------------------------------------------------- */
CASE(ref_null) {
    VOW_ASSERT_EQ(vow_ref(NULL), (vow_t *)NULL);
    vow_unref(NULL);
}
CASE(inspect_null) {
    VOW_ASSERT_STATE(vow_state(NULL), VOW_PENDING);
    VOW_ASSERT_EQ(vow_value(NULL), (const vow_value_t *)NULL);
    VOW_ASSERT_EQ(vow_error(NULL), (vow_error_t *)NULL);
    VOW_ASSERT_EQ(vow_loop_of(NULL), (vow_loop_t *)NULL);
}
CASE(inspect_wrong_state) {
    vow_t *p = vow_new(live());
    VOW_ASSERT_EQ(vow_value(p), (const vow_value_t *)NULL, "pending");
    VOW_ASSERT_EQ(vow_error(p), (vow_error_t *)NULL, "pending");
    VOW_ASSERT_CODE(vow_resolve(p, vow_none()), 0);
    VOW_ASSERT_EQ(vow_error(p), (vow_error_t *)NULL, "fulfilled");
    vow_unref(p);
    done();
}
CASE(inspect_closed) {
    vow_t *p = vow_resolved(live(), vow_int(3));
    HOLD = p;
    cr_assert_eq(vow_loop_free(L), 0);
    VOW_ASSERT_EQ(vow_loop_of(p), (vow_loop_t *)NULL);
    VOW_ASSERT_EQ(vow_value(p), (const vow_value_t *)NULL, "the value went with the loop");
    done();
}

/* ---- vow_run ----------------------------------------------------------------------------- */
static vow_outcome_t unset_outcome(void) {
    return (vow_outcome_t){.state = VOW_FULFILLED, .value = vow_int(1), .error = NULL};
}
CASE(run_null) {
    vow_outcome_t out = unset_outcome();
    VOW_ASSERT_CODE(vow_run(NULL, vow_resolved(live(), counted_value()), &out), VOW_EINVAL);
    VOW_ASSERT_STATE(out.state, VOW_PENDING);
    VOW_ASSERT_EQ(freed, 1, "p consumed");
    VOW_ASSERT_CODE(vow_run(L, NULL, &out), VOW_EINVAL);
    done();
}
CASE(run_foreign) {
    vow_loop_t *other = vow_test_loop();
    vow_outcome_t out = unset_outcome();
    VOW_ASSERT_CODE(vow_run(live(), vow_resolved(other, counted_value()), &out), VOW_EINVAL);
    VOW_ASSERT_STATE(out.state, VOW_PENDING);
    VOW_ASSERT_EQ(freed, 1);
    VOW_ASSERT_CODE(vow_loop_close(other), 0);
    done();
}
CASE(run_closed) {
    closed();
    vow_outcome_t out = unset_outcome();
    VOW_ASSERT_CODE(vow_run(L, vow_ref(HOLD), &out), VOW_ECLOSED);
    VOW_ASSERT_STATE(out.state, VOW_PENDING);
    done();
}
static int run_p_inside(vow_loop_t *l) {
    return vow_run(l, vow_resolved(l, counted_value()), NULL);
}
CASE(run_inside) {
    live();
    from_inside(run_p_inside);
    VOW_ASSERT_CODE(inner_rc, VOW_EREENTRANT);
    VOW_ASSERT_EQ(freed, 1);
    done();
}
CASE(run_never) {
    vow_t *p = vow_new(live());
    vow_outcome_t out = unset_outcome();
    VOW_ASSERT_CODE(vow_run(L, vow_ref(p), &out), VOW_ENEVER);
    VOW_ASSERT_STATE(out.state, VOW_PENDING);
    vow_unref(p);
    done();
}
static void stop_cb(vow_loop_t *loop, void *arg) {
    (void)arg;
    vow_loop_stop(loop);
}
CASE(run_stopped) {
    vow_t *p = vow_sleep(live(), 50);
    VOW_ASSERT_CODE(vow_set_timeout(L, stop_cb, NULL, 1, NULL), 0);
    VOW_ASSERT_CODE(vow_run(L, vow_ref(p), NULL), VOW_EINTR);
    VOW_ASSERT_CODE(vow_run(L, p, NULL), 0, "the next run starts afresh");
    done();
}
CASE(outcome_release_null_twice) {
    vow_outcome_release(NULL);
    vow_outcome_t out;
    live();
    VOW_ASSERT_CODE(vow_run(L, vow_resolved(L, counted_value()), &out), 0);
    vow_outcome_release(&out);
    vow_outcome_release(&out); /* emptied by the first */
    VOW_ASSERT_STATE(out.state, VOW_PENDING);
    VOW_ASSERT_EQ(freed, 1);
    done();
}
CASE(run_main_null) {
    vow_outcome_t out = unset_outcome();
    VOW_ASSERT_CODE(vow_run_main(NULL, vow_resolved(live(), counted_value()), &out), VOW_EINVAL);
    VOW_ASSERT_STATE(out.state, VOW_PENDING);
    VOW_ASSERT_EQ(freed, 1, "p consumed");
    VOW_ASSERT_CODE(vow_run_main(L, NULL, &out), VOW_EINVAL);
    L = NULL; /* freed by the call */
    done();
}
CASE(run_main_closed) {
    closed();
    VOW_ASSERT_CODE(vow_run_main(L, vow_ref(HOLD), NULL), VOW_ECLOSED);
    done(); /* the handle was not freed twice: HOLD still holds it */
}
static int run_main_p_inside(vow_loop_t *l) {
    return vow_run_main(l, vow_resolved(l, counted_value()), NULL);
}
CASE(run_main_inside) {
    live();
    from_inside(run_main_p_inside);
    VOW_ASSERT_CODE(inner_rc, VOW_EREENTRANT);
    VOW_ASSERT_EQ(freed, 1, "p consumed, the loop kept");
    done();
}
CASE(exit_status_any_code) {
    vow_outcome_t ok = {.state = VOW_FULFILLED, .value = vow_none(), .error = NULL};
    VOW_ASSERT_EQ(vow_exit_status(0, NULL), 1);
    VOW_ASSERT_EQ(vow_exit_status(-4242, NULL), 1);
    VOW_ASSERT_EQ(vow_exit_status(12, NULL), 1);
    VOW_ASSERT_EQ(vow_exit_status(-4242, &ok), 1);
    VOW_ASSERT_EQ(vow_exit_status(VOW_ENEVER, NULL), 13);
    VOW_ASSERT_EQ(vow_exit_status(0, &ok), 0);
}
CASE(main_null_fn) {
    fflush(stderr);
    VOW_ASSERT_EQ(vow_main(NULL, NULL), 1);
    done();
}

/* ---- unhandled rejections -------------------------------------------------------------- */
CASE(rejection_hook_null_closed) {
    VOW_ASSERT_CODE(vow_set_rejection_hook(NULL, hook, NULL), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_set_rejection_hook(live(), NULL, NULL), 0, "NULL removes the hook");
    done();
    VOW_ASSERT_CODE(vow_set_rejection_hook(closed(), hook, NULL), VOW_ECLOSED);
    done();
}
CASE(unhandled_mode_bad) {
    VOW_ASSERT_CODE(vow_set_unhandled_mode(NULL, VOW_UNHANDLED_SILENT), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_set_unhandled_mode(live(), (vow_unhandled_mode_t)3), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_set_unhandled_mode(L, (vow_unhandled_mode_t)-1), VOW_EINVAL);
    done();
    VOW_ASSERT_CODE(vow_set_unhandled_mode(closed(), VOW_UNHANDLED_SILENT), VOW_ECLOSED);
    done();
}

/* ---- vow/combinators.h: the list value ------------------------------------------------- */
CASE(list_of_not_a_list) {
    VOW_ASSERT_EQ(vow_list_of(NULL), (const vow_list_t *)NULL);
    vow_value_t i = vow_int(1), p = vow_ptr(&payload_at, NULL), b = counted_value();
    VOW_ASSERT_EQ(vow_list_of(&i), (const vow_list_t *)NULL);
    VOW_ASSERT_EQ(vow_list_of(&p), (const vow_list_t *)NULL);
    vow_t *q = vow_resolved(live(), b); /* a boxed pointer that is not a list */
    VOW_ASSERT_EQ(vow_list_of(vow_value(q)), (const vow_list_t *)NULL);
    vow_unref(q);
    done();
}
CASE(list_accessors_null_past_end) {
    VOW_ASSERT_EQ(vow_list_len(NULL), (size_t)0);
    VOW_ASSERT_STATE(vow_list_state(NULL, 0), VOW_PENDING);
    VOW_ASSERT_EQ(vow_list_value(NULL, 0), (const vow_value_t *)NULL);
    VOW_ASSERT_EQ(vow_list_error(NULL, 0), (vow_error_t *)NULL);
    live();
    vow_t *in[1] = {vow_resolved(L, vow_int(1))};
    vow_t *all = vow_all_settled(L, in, 1);
    run_out();
    const vow_list_t *l = vow_list_of(vow_value(all));
    cr_assert_not_null(l);
    VOW_ASSERT_STATE(vow_list_state(l, 1), VOW_PENDING);
    VOW_ASSERT_EQ(vow_list_value(l, 1), (const vow_value_t *)NULL);
    VOW_ASSERT_EQ(vow_list_error(l, 0), (vow_error_t *)NULL, "fulfilled");
    VOW_ASSERT_EQ(vow_list_error(l, SIZE_MAX), (vow_error_t *)NULL);
    vow_unref(all);
    done();
}

CASE(combinators_null_array_empty) {
    live();
    vow_t *p[4] = {vow_all(L, NULL, 0), vow_all_settled(L, NULL, 0), vow_race(L, NULL, 0, 0),
                   vow_any(L, NULL, 0, 0)};
    vow_set_unhandled_mode(L, VOW_UNHANDLED_SILENT);
    run_out();
    VOW_ASSERT_EQ(vow_list_len(vow_list_of(vow_value(p[0]))), (size_t)0);
    VOW_ASSERT_EQ(vow_list_len(vow_list_of(vow_value(p[1]))), (size_t)0);
    VOW_ASSERT_STATE(vow_state(p[2]), VOW_PENDING, "an empty race never settles");
    VOW_ASSERT_CODE(vow_error_code(vow_error(p[3])), VOW_EAGGREGATE);
    for (int i = 0; i < 4; i++) vow_unref(p[i]);
    done();
}

/* ---- vow/task.h: the wait result ------------------------------------------------------- */
CASE(wait_result_null_past_end) {
    VOW_ASSERT_EQ(vow_wait_result_of(NULL), (const vow_wait_result_t *)NULL);
    vow_value_t i = vow_int(1);
    VOW_ASSERT_EQ(vow_wait_result_of(&i), (const vow_wait_result_t *)NULL);
    VOW_ASSERT_EQ(vow_wait_done_count(NULL), (size_t)0);
    VOW_ASSERT_EQ(vow_wait_pending_count(NULL), (size_t)0);
    VOW_ASSERT_EQ(vow_wait_done(NULL, 0), (vow_t *)NULL);
    VOW_ASSERT_EQ(vow_wait_pending(NULL, 0), (vow_t *)NULL);
    VOW_ASSERT_EQ(vow_wait_done_index(NULL, 0), SIZE_MAX);
    VOW_ASSERT_EQ(vow_wait_pending_index(NULL, 0), SIZE_MAX);
    live();
    vow_t *in[2] = {vow_resolved(L, vow_int(1)), vow_new(L)};
    vow_t *pending = vow_ref(in[1]);
    vow_t *w = vow_wait(L, in, 2, VOW_FIRST_COMPLETED, VOW_NO_TIMEOUT, 0);
    run_out();
    const vow_wait_result_t *r = vow_wait_result_of(vow_value(w));
    cr_assert_not_null(r);
    VOW_ASSERT_EQ(vow_wait_done(r, 1), (vow_t *)NULL);
    VOW_ASSERT_EQ(vow_wait_pending(r, 1), (vow_t *)NULL);
    VOW_ASSERT_EQ(vow_wait_done_index(r, 1), SIZE_MAX);
    VOW_ASSERT_EQ(vow_wait_pending_index(r, 1), SIZE_MAX);
    VOW_ASSERT_EQ(vow_wait_pending_index(r, 0), (size_t)1);
    vow_unref(w);
    VOW_ASSERT_CODE(vow_resolve(pending, vow_none()), 0);
    vow_unref(pending);
    run_out();
    done();
}

/* ---- task groups ------------------------------------------------------------------------ */
CASE(task_group_new_null_closed) {
    VOW_ASSERT_EQ(vow_task_group_new(NULL), (vow_task_group_t *)NULL);
    VOW_ASSERT_EQ(vow_task_group_new(closed()), (vow_task_group_t *)NULL);
    done();
}
CASE(task_group_new_oom) {
    live();
    vow_test_fail_at(vow_test_alloc_total() + 1);
    VOW_ASSERT_EQ(vow_task_group_new(L), (vow_task_group_t *)NULL);
    vow_test_fail_at(0);
    done();
}
CASE(task_group_add_null) {
    VOW_ASSERT_CODE(vow_task_group_add(NULL, vow_resolved(live(), counted_value())), VOW_EINVAL);
    VOW_ASSERT_EQ(freed, 1, "p released");
    vow_task_group_t *g = vow_task_group_new(L);
    VOW_ASSERT_CODE(vow_task_group_add(g, NULL), VOW_EINVAL);
    vow_t *j = vow_task_group_join(g);
    vow_task_group_unref(g);
    VOW_ASSERT_CODE(vow_run(L, j, NULL), 0);
    done();
}
CASE(task_group_add_foreign) {
    vow_loop_t *other = vow_test_loop();
    vow_task_group_t *g = vow_task_group_new(live());
    VOW_ASSERT_CODE(vow_task_group_add(g, vow_resolved(other, counted_value())), VOW_EINVAL);
    VOW_ASSERT_EQ(freed, 1);
    vow_t *j = vow_task_group_join(g);
    vow_task_group_unref(g);
    VOW_ASSERT_CODE(vow_run(L, j, NULL), 0);
    VOW_ASSERT_CODE(vow_loop_close(other), 0);
    done();
}
CASE(task_group_add_after_join) {
    vow_task_group_t *g = vow_task_group_new(live());
    vow_t *j = vow_task_group_join(g);
    vow_t *late = vow_new(L);
    VOW_ASSERT_CODE(vow_task_group_add(g, vow_ref(late)), VOW_EPERM);
    VOW_ASSERT_STATE(vow_state(late), VOW_REJECTED, "cancelled, as asyncio closes it");
    VOW_ASSERT_EQ(vow_is_cancellation(vow_error(late)), 1);
    VOW_ASSERT_CODE(vow_task_group_spawn(g, task_body, &payload_at, count_free), VOW_EPERM);
    VOW_ASSERT_EQ(freed, 1, "arg_free ran");
    vow_unref(late);
    vow_task_group_unref(g);
    VOW_ASSERT_CODE(vow_run(L, j, NULL), 0);
    VOW_ASSERT_EQ(callbacks, 0);
    done();
}
CASE(task_group_add_closed) {
    vow_task_group_t *g = vow_task_group_new(live());
    vow_t *p = vow_new(L);
    HOLD = vow_ref(p);
    cr_assert_eq(vow_loop_free(L), 0);
    VOW_ASSERT_CODE(vow_task_group_add(g, p), VOW_ECLOSED);
    VOW_ASSERT_CODE(vow_task_group_spawn(g, task_body, &payload_at, count_free), VOW_ECLOSED);
    VOW_ASSERT_EQ(freed, 1);
    VOW_ASSERT_EQ(vow_task_group_join(g), (vow_t *)NULL);
    vow_task_group_unref(g);
    done();
}
CASE(task_group_spawn_null) {
    VOW_ASSERT_CODE(vow_task_group_spawn(NULL, task_body, &payload_at, count_free), VOW_EINVAL);
    vow_task_group_t *g = vow_task_group_new(live());
    VOW_ASSERT_CODE(vow_task_group_spawn(g, NULL, &payload_at, count_free), VOW_EINVAL);
    VOW_ASSERT_EQ(freed, 2, "arg_free ran each time");
    vow_t *j = vow_task_group_join(g);
    vow_task_group_unref(g);
    VOW_ASSERT_CODE(vow_run(L, j, NULL), 0);
    VOW_ASSERT_EQ(callbacks, 0);
    done();
}
CASE(task_group_ref_null) {
    VOW_ASSERT_EQ(vow_task_group_ref(NULL), (vow_task_group_t *)NULL);
    vow_task_group_unref(NULL);
}

/* ---- vow/sync.h ------------------------------------------------------------------------ */
CASE(sync_new_null_closed) {
    VOW_ASSERT_EQ(vow_lock_new(NULL), (vow_lock_t *)NULL);
    VOW_ASSERT_EQ(vow_event_new(NULL), (vow_event_t *)NULL);
    VOW_ASSERT_EQ(vow_sem_new(NULL, 1), (vow_sem_t *)NULL);
    VOW_ASSERT_EQ(vow_sem_bounded_new(NULL, 1), (vow_sem_t *)NULL);
    closed();
    VOW_ASSERT_EQ(vow_lock_new(L), (vow_lock_t *)NULL);
    VOW_ASSERT_EQ(vow_event_new(L), (vow_event_t *)NULL);
    VOW_ASSERT_EQ(vow_sem_new(L, 1), (vow_sem_t *)NULL);
    VOW_ASSERT_EQ(vow_sem_bounded_new(L, 1), (vow_sem_t *)NULL);
    done();
}
CASE(sync_new_oom) {
    L = vow_test_loop_without_pools();
    for (long k = 1; k <= 2; k++) {
        vow_test_fail_at(vow_test_alloc_total() + k);
        VOW_ASSERT_EQ(vow_lock_new(L), (vow_lock_t *)NULL);
        vow_test_fail_at(vow_test_alloc_total() + k);
        VOW_ASSERT_EQ(vow_event_new(L), (vow_event_t *)NULL);
        vow_test_fail_at(vow_test_alloc_total() + k);
        VOW_ASSERT_EQ(vow_sem_new(L, 1), (vow_sem_t *)NULL);
        vow_test_fail_at(vow_test_alloc_total() + k);
        VOW_ASSERT_EQ(vow_sem_bounded_new(L, 1), (vow_sem_t *)NULL);
        vow_test_fail_at(0);
    }
    done();
}
CASE(sync_null) {
    vow_lock_free(NULL);
    vow_event_free(NULL);
    vow_sem_free(NULL);
    VOW_ASSERT_EQ(vow_lock_acquire(NULL, NULL), (vow_t *)NULL);
    VOW_ASSERT_CODE(vow_lock_release(NULL, NULL), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_lock_locked(NULL), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_event_set(NULL), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_event_clear(NULL), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_event_is_set(NULL), VOW_EINVAL);
    VOW_ASSERT_EQ(vow_event_wait(NULL), (vow_t *)NULL);
    VOW_ASSERT_EQ(vow_sem_acquire(NULL), (vow_t *)NULL);
    VOW_ASSERT_CODE(vow_sem_release(NULL), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_sem_value(NULL), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_sem_locked(NULL), VOW_EINVAL);
    VOW_ASSERT_EQ(vow_test_live_allocs(), 0L);
}
CASE(sync_closed) {
    live();
    vow_lock_t *l = vow_lock_new(L);
    vow_event_t *e = vow_event_new(L);
    vow_sem_t *s = vow_sem_new(L, 0);
    vow_unref(vow_lock_acquire(l, NULL));
    vow_unref(vow_lock_acquire(l, NULL));
    vow_unref(vow_sem_acquire(s));
    vow_unref(vow_sem_acquire(s));
    VOW_ASSERT_CODE(vow_sem_release(s), 0); /* the first waiter reserved */
    vow_unref(vow_event_wait(e));
    HOLD = vow_new(L);
    cr_assert_eq(vow_loop_free(L), 0);
    VOW_ASSERT_EQ(vow_lock_acquire(l, NULL), (vow_t *)NULL);
    VOW_ASSERT_CODE(vow_lock_release(l, NULL), VOW_ECLOSED);
    VOW_ASSERT_CODE(vow_lock_locked(l), VOW_ECLOSED);
    VOW_ASSERT_CODE(vow_event_set(e), VOW_ECLOSED);
    VOW_ASSERT_CODE(vow_event_clear(e), VOW_ECLOSED);
    VOW_ASSERT_CODE(vow_event_is_set(e), VOW_ECLOSED);
    VOW_ASSERT_EQ(vow_event_wait(e), (vow_t *)NULL);
    VOW_ASSERT_EQ(vow_sem_acquire(s), (vow_t *)NULL);
    VOW_ASSERT_CODE(vow_sem_release(s), VOW_ECLOSED);
    VOW_ASSERT_CODE(vow_sem_value(s), VOW_ECLOSED);
    VOW_ASSERT_CODE(vow_sem_locked(s), VOW_ECLOSED);
    vow_lock_free(l);
    vow_event_free(e);
    vow_sem_free(s);
    done();
}
CASE(sync_wait_oom) {
    L = vow_test_loop_without_pools();
    vow_lock_t *l = vow_lock_new(L);
    vow_event_t *e = vow_event_new(L);
    vow_sem_t *s = vow_sem_new(L, 0);
    vow_t *a = vow_lock_acquire(l, NULL);
    for (long k = 1; k <= 2; k++) { /* the promise, the waiter (its cancel record inside) */
        vow_test_fail_at(vow_test_alloc_total() + k);
        VOW_ASSERT_EQ(vow_lock_acquire(l, NULL), (vow_t *)NULL);
        vow_test_fail_at(vow_test_alloc_total() + k);
        VOW_ASSERT_EQ(vow_sem_acquire(s), (vow_t *)NULL);
        vow_test_fail_at(vow_test_alloc_total() + k);
        VOW_ASSERT_EQ(vow_event_wait(e), (vow_t *)NULL);
        vow_test_fail_at(0);
    }
    VOW_ASSERT_CODE(vow_lock_release(l, NULL), 0);
    VOW_ASSERT_CODE(vow_lock_locked(l), 0, "no waiter left in the line");
    VOW_ASSERT_CODE(vow_sem_release(s), 0);
    VOW_ASSERT_CODE(vow_sem_value(s), 1, "no waiter left in the line");
    vow_unref(a);
    vow_lock_free(l);
    vow_event_free(e);
    vow_sem_free(s);
    done();
}
CASE(lock_release_not_holder) {
    static const char a_tag[] = "a", b_tag[] = "b";
    vow_lock_t *l = vow_lock_new(live());
    VOW_ASSERT_CODE(vow_lock_release(l, a_tag), VOW_EPERM);
    vow_t *a = vow_lock_acquire(l, a_tag);
    vow_t *b = vow_lock_acquire(l, b_tag);
    VOW_ASSERT_CODE(vow_lock_release(l, b_tag), VOW_EPERM);
    VOW_ASSERT_CODE(vow_lock_release(l, a_tag), 0);
    VOW_ASSERT_CODE(vow_lock_release(l, b_tag), VOW_EPERM, "reserved, b has not seen it");
    VOW_ASSERT_CODE(vow_lock_locked(l), 1);
    run_out();
    VOW_ASSERT_STATE(vow_state(b), VOW_FULFILLED);
    VOW_ASSERT_CODE(vow_lock_release(l, b_tag), 0);
    vow_unref(a), vow_unref(b);
    vow_lock_free(l);
    done();
}
CASE(sem_release_over_bound) {
    vow_sem_t *s = vow_sem_bounded_new(live(), 1);
    VOW_ASSERT_CODE(vow_sem_release(s), VOW_ERANGE);
    VOW_ASSERT_CODE(vow_sem_value(s), 1);
    vow_sem_t *u = vow_sem_new(L, UINT32_MAX);
    VOW_ASSERT_CODE(vow_sem_release(u), VOW_ERANGE);
    VOW_ASSERT_EQ(vow_sem_value(u), (int64_t)UINT32_MAX);
    vow_sem_free(s);
    vow_sem_free(u);
    done();
}
CASE(sync_waiter_not_settleable) {
    vow_lock_t *l = vow_lock_new(live());
    vow_sem_t *s = vow_sem_new(L, 0);
    vow_event_t *e = vow_event_new(L);
    vow_t *a = vow_lock_acquire(l, NULL);
    vow_t *w[3] = {vow_lock_acquire(l, NULL), vow_sem_acquire(s), vow_event_wait(e)};
    for (int i = 0; i < 3; i++) {
        VOW_ASSERT_CODE(vow_resolve(w[i], counted_value()), VOW_EPERM);
        VOW_ASSERT_CODE(vow_reject(w[i], counted_error()), VOW_EPERM);
        VOW_ASSERT_CODE(vow_on_cancel(w[i], cancel_cb, &payload_at, count_free), VOW_EPERM);
        VOW_ASSERT_STATE(vow_state(w[i]), VOW_PENDING);
    }
    VOW_ASSERT_EQ(freed, 9, "values, errors and ctx_free released");
    VOW_ASSERT_CODE(vow_lock_release(l, NULL), 0);
    VOW_ASSERT_CODE(vow_sem_release(s), 0);
    VOW_ASSERT_CODE(vow_event_set(e), 0);
    run_out();
    for (int i = 0; i < 3; i++) {
        VOW_ASSERT_STATE(vow_state(w[i]), VOW_FULFILLED);
        vow_unref(w[i]);
    }
    VOW_ASSERT_EQ(callbacks, 0);
    vow_unref(a);
    vow_lock_free(l);
    vow_sem_free(s);
    vow_event_free(e);
    done();
}

CASE(cond_new_null_closed_foreign) {
    VOW_ASSERT_EQ(vow_cond_new(NULL, NULL), (vow_cond_t *)NULL);
    vow_loop_t *other = vow_test_loop();
    vow_lock_t *ol = vow_lock_new(other);
    VOW_ASSERT_EQ(vow_cond_new(live(), ol), (vow_cond_t *)NULL);
    vow_lock_free(ol);
    VOW_ASSERT_CODE(vow_loop_close(other), 0);
    VOW_TEST_END(L);
    closed();
    VOW_ASSERT_EQ(vow_cond_new(L, NULL), (vow_cond_t *)NULL);
    done();
}
CASE(cond_new_oom) {
    L = vow_test_loop_without_pools();
    for (long k = 1; k <= 4; k++) {
        vow_test_fail_at(vow_test_alloc_total() + k);
        VOW_ASSERT_EQ(vow_cond_new(L, NULL), (vow_cond_t *)NULL);
        vow_test_fail_at(0);
    }
    done();
}
static int never(void *ctx) {
    (void)ctx;
    callbacks++;
    return 0;
}
CASE(cond_null) {
    vow_cond_free(NULL);
    VOW_ASSERT_EQ(vow_cond_lock(NULL), (vow_lock_t *)NULL);
    VOW_ASSERT_EQ(vow_cond_wait(NULL, NULL), (vow_t *)NULL);
    VOW_ASSERT_EQ(vow_cond_wait_for(NULL, NULL, never, &payload_at, count_free), (vow_t *)NULL);
    VOW_ASSERT_EQ(freed, 1, "ctx_free ran");
    VOW_ASSERT_CODE(vow_cond_notify(NULL, NULL, 1), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_cond_notify_all(NULL, NULL), VOW_EINVAL);
    VOW_ASSERT_EQ(vow_test_live_allocs(), 0L);
}
CASE(cond_closed) {
    vow_cond_t *c = vow_cond_new(live(), NULL);
    vow_unref(vow_lock_acquire(vow_cond_lock(c), NULL));
    vow_unref(vow_cond_wait(c, NULL));
    HOLD = vow_new(L);
    cr_assert_eq(vow_loop_free(L), 0);
    VOW_ASSERT_EQ(vow_cond_wait(c, NULL), (vow_t *)NULL);
    VOW_ASSERT_EQ(vow_cond_wait_for(c, NULL, never, &payload_at, count_free), (vow_t *)NULL);
    VOW_ASSERT_EQ(freed, 1, "ctx_free ran");
    VOW_ASSERT_CODE(vow_cond_notify(c, NULL, 1), VOW_ECLOSED);
    VOW_ASSERT_CODE(vow_cond_notify_all(c, NULL), VOW_ECLOSED);
    vow_cond_free(c);
    done();
}
CASE(cond_not_holder) {
    static const char a_tag[] = "a", b_tag[] = "b";
    vow_cond_t *c = vow_cond_new(live(), NULL);
    vow_t *w = vow_cond_wait(c, a_tag);
    VOW_ASSERT_STATE(vow_state(w), VOW_REJECTED);
    VOW_ASSERT_CODE(vow_error_code(vow_error(w)), VOW_EPERM);
    VOW_ASSERT_CODE(vow_set_unhandled_mode(L, VOW_UNHANDLED_SILENT), 0);
    vow_unref(w);
    w = vow_cond_wait_for(c, a_tag, never, &payload_at, count_free);
    VOW_ASSERT_CODE(vow_error_code(vow_error(w)), VOW_EPERM);
    VOW_ASSERT_EQ(freed, 1, "ctx_free ran");
    vow_unref(w);
    VOW_ASSERT_CODE(vow_cond_notify(c, a_tag, 1), VOW_EPERM);
    vow_t *a = vow_lock_acquire(vow_cond_lock(c), a_tag);
    w = vow_cond_wait(c, b_tag);
    VOW_ASSERT_CODE(vow_error_code(vow_error(w)), VOW_EPERM);
    vow_unref(w);
    w = vow_cond_wait_for(c, a_tag, NULL, &payload_at, count_free);
    VOW_ASSERT_CODE(vow_error_code(vow_error(w)), VOW_EINVAL, "no predicate");
    VOW_ASSERT_EQ(freed, 2, "ctx_free ran");
    vow_unref(w);
    VOW_ASSERT_CODE(vow_cond_notify_all(c, b_tag), VOW_EPERM);
    VOW_ASSERT_CODE(vow_lock_locked(vow_cond_lock(c)), 1, "nothing changed");
    VOW_ASSERT_CODE(vow_lock_release(vow_cond_lock(c), a_tag), 0);
    vow_unref(a);
    run_out();
    VOW_ASSERT_EQ(callbacks, 0);
    vow_cond_free(c);
    done();
}

/* ---- streams and scopes (vow/stream.h, vow/scope.h) ------------------------------------- */
static vow_t *pull_none(vow_loop_t *loop, void *ctx) {
    (void)ctx;
    callbacks++;
    return vow_resolved(loop, vow_stream_end_value());
}
static vow_t *scope_acquire(vow_loop_t *loop, void *ctx) {
    (void)ctx;
    callbacks++;
    return vow_resolved(loop, vow_none());
}
static vow_t *scope_body(vow_loop_t *loop, const vow_value_t *r, void *ctx) {
    (void)r, (void)ctx;
    callbacks++;
    return vow_resolved(loop, vow_none());
}
static vow_t *scope_release(vow_loop_t *loop, const vow_value_t *r, vow_error_t *e, void *ctx) {
    (void)r, (void)e, (void)ctx;
    callbacks++;
    return vow_resolved(loop, vow_none());
}
CASE(stream_new_null_closed_oom) {
    VOW_ASSERT_EQ(vow_stream_new(NULL, 4, pull_none, NULL, &payload_at, count_free),
                  (vow_stream_t *)NULL);
    VOW_ASSERT_EQ(freed, 1, "ctx_free ran");
    VOW_ASSERT_EQ(vow_stream_new(live(), SIZE_MAX, NULL, NULL, &payload_at, count_free),
                  (vow_stream_t *)NULL, "a buffer too large");
    VOW_ASSERT_EQ(freed, 2);
    VOW_ASSERT_EQ(vow_stream_range(NULL, 0, 5, 1, 0), (vow_stream_t *)NULL);
    VOW_ASSERT_EQ(vow_stream_range(L, 0, 5, 0, 0), (vow_stream_t *)NULL, "step 0");
    VOW_TEST_END(L);
    L = vow_test_loop_without_pools();
    for (long k = 1; k <= 3; k++) {
        vow_test_fail_at(vow_test_alloc_total() + k);
        VOW_ASSERT_EQ(vow_stream_new(L, 4, NULL, NULL, &payload_at, count_free),
                      (vow_stream_t *)NULL);
        vow_test_fail_at(0);
        VOW_ASSERT_EQ(freed, 2 + (int)k);
    }
    VOW_TEST_END(L);
    closed();
    VOW_ASSERT_EQ(vow_stream_new(L, 4, NULL, NULL, &payload_at, count_free), (vow_stream_t *)NULL);
    VOW_ASSERT_EQ(vow_stream_range(L, 0, 5, 1, 0), (vow_stream_t *)NULL);
    VOW_ASSERT_EQ(freed, 6);
    VOW_ASSERT_EQ(callbacks, 0);
    done();
}
CASE(stream_null) {
    VOW_ASSERT_EQ(vow_stream_ref(NULL), (vow_stream_t *)NULL);
    vow_stream_unref(NULL);
    VOW_ASSERT_EQ(vow_stream_next(NULL), (vow_t *)NULL);
    VOW_ASSERT_EQ(vow_stream_push(NULL, counted_value()), (vow_t *)NULL);
    VOW_ASSERT_CODE(vow_stream_end(NULL), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_stream_fail(NULL, counted_error()), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_stream_close(NULL), VOW_EINVAL);
    VOW_ASSERT_EQ(vow_stream_for_each(NULL, on_ok, &payload_at, count_free), (vow_t *)NULL);
    VOW_ASSERT_EQ(vow_stream_collect(NULL), (vow_t *)NULL);
    VOW_ASSERT_EQ(vow_stream_map(NULL, on_ok, &payload_at, count_free, 2), (vow_stream_t *)NULL);
    VOW_ASSERT_EQ(freed, 4, "item, error and both ctx_free released");
    VOW_ASSERT_EQ(vow_stream_is_end(NULL), 0);
    vow_value_t end = vow_stream_end_value();
    VOW_ASSERT_EQ(vow_stream_is_end(&end), 1);
    vow_value_release(&end);
    vow_value_t other = vow_int(0);
    VOW_ASSERT_EQ(vow_stream_is_end(&other), 0);
    VOW_ASSERT_EQ(callbacks, 0);
    VOW_ASSERT_EQ(vow_test_live_allocs(), 0L);
}
CASE(stream_closed) {
    vow_stream_t *s = vow_stream_new(live(), 1, NULL, NULL, NULL, NULL);
    vow_unref(vow_stream_push(s, counted_value()));
    vow_t *waiting = vow_stream_push(s, counted_value());
    HOLD = vow_new(L);
    cr_assert_eq(vow_loop_free(L), 0);
    VOW_ASSERT_EQ(freed, 1, "the waiting push's item went with the loop");
    VOW_ASSERT_EQ(vow_stream_next(s), (vow_t *)NULL);
    VOW_ASSERT_EQ(vow_stream_push(s, counted_value()), (vow_t *)NULL);
    VOW_ASSERT_CODE(vow_stream_end(s), VOW_ECLOSED);
    VOW_ASSERT_CODE(vow_stream_fail(s, counted_error()), VOW_ECLOSED);
    VOW_ASSERT_CODE(vow_stream_close(s), VOW_ECLOSED);
    VOW_ASSERT_EQ(vow_stream_for_each(vow_stream_ref(s), on_ok, &payload_at, count_free),
                  (vow_t *)NULL);
    VOW_ASSERT_EQ(vow_stream_collect(vow_stream_ref(s)), (vow_t *)NULL);
    VOW_ASSERT_EQ(vow_stream_map(vow_stream_ref(s), on_ok, &payload_at, count_free, 1),
                  (vow_stream_t *)NULL);
    VOW_ASSERT_EQ(freed, 5);
    vow_unref(waiting);
    vow_stream_unref(s);
    VOW_ASSERT_EQ(freed, 6, "the buffered item goes with the last unref");
    VOW_ASSERT_EQ(callbacks, 0);
    done();
}
CASE(stream_producer_misuse) {
    vow_stream_t *s = vow_stream_new(live(), 1, NULL, NULL, NULL, NULL);
    VOW_ASSERT_CODE(vow_set_unhandled_mode(L, VOW_UNHANDLED_SILENT), 0);
    VOW_ASSERT_CODE(vow_stream_end(s), 0);
    VOW_ASSERT_CODE(vow_stream_end(s), VOW_EPERM);
    VOW_ASSERT_CODE(vow_stream_fail(s, counted_error()), VOW_EPERM);
    vow_t *p = vow_stream_push(s, counted_value());
    VOW_ASSERT_CODE(vow_error_code(vow_error(p)), VOW_EPERM);
    vow_unref(p);
    VOW_ASSERT_CODE(vow_stream_close(s), 0);
    VOW_ASSERT_CODE(vow_stream_close(s), 0, "twice");
    VOW_ASSERT_CODE(vow_stream_fail(s, NULL), VOW_ECLOSED);
    p = vow_stream_for_each(vow_stream_ref(s), NULL, &payload_at, count_free);
    VOW_ASSERT_CODE(vow_error_code(vow_error(p)), VOW_EINVAL, "fn NULL");
    vow_unref(p);
    VOW_ASSERT_EQ(vow_stream_map(vow_stream_ref(s), NULL, &payload_at, count_free, 1),
                  (vow_stream_t *)NULL, "fn NULL");
    VOW_ASSERT_EQ(vow_stream_map(vow_stream_ref(s), on_ok, &payload_at, count_free, 0),
                  (vow_stream_t *)NULL, "concurrency 0");
    VOW_ASSERT_EQ(freed, 5);
    vow_stream_unref(s);
    run_out();
    VOW_ASSERT_EQ(callbacks, 0);
    done();
}
CASE(stream_waiter_not_settleable) {
    vow_stream_t *s = vow_stream_new(live(), 0, NULL, NULL, NULL, NULL);
    vow_stream_t *t = vow_stream_new(L, 0, NULL, NULL, NULL, NULL);
    VOW_ASSERT_CODE(vow_set_unhandled_mode(L, VOW_UNHANDLED_SILENT), 0);
    vow_t *w[3] = {vow_stream_next(s), vow_stream_push(t, vow_none()),
                   vow_stream_collect(vow_stream_ref(s))};
    for (int i = 0; i < 3; i++) {
        VOW_ASSERT_STATE(vow_state(w[i]), VOW_PENDING);
        VOW_ASSERT_CODE(vow_resolve(w[i], counted_value()), VOW_EPERM);
        VOW_ASSERT_CODE(vow_reject(w[i], counted_error()), VOW_EPERM);
        VOW_ASSERT_CODE(vow_on_cancel(w[i], cancel_cb, &payload_at, count_free), VOW_EPERM);
    }
    VOW_ASSERT_EQ(freed, 9);
    vow_stream_unref(t);
    vow_stream_unref(s);
    run_out();
    for (int i = 0; i < 3; i++) vow_unref(w[i]);
    VOW_ASSERT_EQ(callbacks, 0);
    done();
}
CASE(scope_misuse) {
    VOW_ASSERT_EQ(
        vow_scope(NULL, scope_acquire, scope_body, scope_release, &payload_at, count_free),
        (vow_t *)NULL);
    VOW_ASSERT_EQ(freed, 1);
    live();
    VOW_ASSERT_CODE(vow_set_unhandled_mode(L, VOW_UNHANDLED_SILENT), 0);
    vow_t *p[3] = {vow_scope(L, NULL, scope_body, scope_release, &payload_at, count_free),
                   vow_scope(L, scope_acquire, NULL, scope_release, &payload_at, count_free),
                   vow_scope(L, scope_acquire, scope_body, NULL, &payload_at, count_free)};
    for (int i = 0; i < 3; i++) {
        VOW_ASSERT_CODE(vow_error_code(vow_error(p[i])), VOW_EINVAL);
        vow_unref(p[i]);
    }
    VOW_ASSERT_EQ(freed, 4);
    vow_t *ok = vow_scope(L, scope_acquire, scope_body, scope_release, NULL, NULL);
    VOW_ASSERT_CODE(vow_resolve(ok, counted_value()), VOW_EPERM);
    vow_unref(ok);
    run_out();
    VOW_ASSERT_EQ(callbacks, 3, "the valid scope ran its three steps");
    callbacks = 0;
    VOW_TEST_END(L);
    closed();
    VOW_ASSERT_EQ(vow_scope(L, scope_acquire, scope_body, scope_release, &payload_at, count_free),
                  (vow_t *)NULL);
    VOW_ASSERT_EQ(freed, 6);
    VOW_ASSERT_EQ(callbacks, 0);
    done();
}

/* ---- vow/ratelimit.h ------------------------------------------------------------------- */
CASE(rate_limiter_new_bad) {
    VOW_ASSERT_EQ(vow_rate_limiter_new(NULL, 10, 1), (vow_rate_limiter_t *)NULL);
    VOW_ASSERT_EQ(vow_rate_limiter_new(live(), 0, 1), (vow_rate_limiter_t *)NULL);
    VOW_ASSERT_EQ(vow_rate_limiter_new(L, (uint64_t)UINT32_MAX + 1, 1), (vow_rate_limiter_t *)NULL);
    VOW_ASSERT_EQ(vow_rate_limiter_new(L, 10, 0), (vow_rate_limiter_t *)NULL);
    VOW_TEST_END(L);
    closed();
    VOW_ASSERT_EQ(vow_rate_limiter_new(L, 10, 1), (vow_rate_limiter_t *)NULL);
    done();
}
CASE(rate_limiter_new_oom) {
    L = vow_test_loop_without_pools();
    for (long k = 1; k <= 2; k++) {
        vow_test_fail_at(vow_test_alloc_total() + k);
        VOW_ASSERT_EQ(vow_rate_limiter_new(L, 10, 1), (vow_rate_limiter_t *)NULL);
        vow_test_fail_at(0);
    }
    done();
}
CASE(rate_limiter_null) {
    vow_rate_limiter_free(NULL);
    VOW_ASSERT_EQ(vow_rate_limiter_acquire(NULL), (vow_t *)NULL);
    VOW_ASSERT_EQ(vow_test_live_allocs(), 0L);
}
/* Spins until the loop's clock has passed `until`. */
static void spin_past(uint64_t until) {
    while (vow_loop_update_time(L) <= until) {
    }
}
CASE(rate_limiter_closed) {
    vow_rate_limiter_t *rl = vow_rate_limiter_new(live(), 5, 1);
    uint64_t start = vow_loop_update_time(L);
    vow_unref(vow_rate_limiter_acquire(rl));
    vow_unref(vow_rate_limiter_acquire(rl));
    spin_past(start + 5);
    vow_unref(vow_rate_limiter_acquire(rl)); /* the first waiter is handed its grant */
    HOLD = vow_new(L);
    cr_assert_eq(vow_loop_free(L), 0);
    VOW_ASSERT_EQ(vow_rate_limiter_acquire(rl), (vow_t *)NULL);
    vow_rate_limiter_free(rl);
    done();
}
CASE(rate_limiter_acquire_oom) {
    L = vow_test_loop_without_pools();
    vow_rate_limiter_t *rl = vow_rate_limiter_new(L, 10000, 1);
    vow_t *a = vow_rate_limiter_acquire(rl);
    for (long k = 1; k <= 4; k++) {
        vow_test_fail_at(vow_test_alloc_total() + k);
        VOW_ASSERT_EQ(vow_rate_limiter_acquire(rl), (vow_t *)NULL, "allocation %ld", k);
        vow_test_fail_at(0);
        VOW_ASSERT_EQ(vow_loop_alive(L), 0, "nobody waits: no timer (allocation %ld)", k);
    }
    vow_unref(a);
    vow_rate_limiter_free(rl);
    done();
}
CASE(rate_limiter_waiter_not_settleable) {
    vow_rate_limiter_t *rl = vow_rate_limiter_new(live(), 1, 1);
    vow_t *a = vow_rate_limiter_acquire(rl);
    vow_t *w = vow_rate_limiter_acquire(rl);
    VOW_ASSERT_CODE(vow_resolve(w, counted_value()), VOW_EPERM);
    VOW_ASSERT_CODE(vow_reject(w, counted_error()), VOW_EPERM);
    VOW_ASSERT_CODE(vow_on_cancel(w, cancel_cb, &payload_at, count_free), VOW_EPERM);
    VOW_ASSERT_EQ(freed, 3, "value, error and ctx_free released");
    run_out();
    VOW_ASSERT_STATE(vow_state(w), VOW_FULFILLED);
    VOW_ASSERT_EQ(callbacks, 0);
    vow_unref(a), vow_unref(w);
    vow_rate_limiter_free(rl);
    done();
}

/* ---- vow/cache.h ----------------------------------------------------------------------- */
static vow_t *cache_fn(vow_loop_t *loop, const void *key, size_t len, void *ctx) {
    (void)key, (void)len, (void)ctx;
    callbacks++;
    return vow_new(loop);
}
static vow_t *cache_fn_null(vow_loop_t *loop, const void *key, size_t len, void *ctx) {
    (void)loop, (void)key, (void)len, (void)ctx;
    return NULL;
}
static vow_loop_t *cache_other;
static vow_t *cache_fn_foreign(vow_loop_t *loop, const void *key, size_t len, void *ctx) {
    (void)loop, (void)key, (void)len, (void)ctx;
    return vow_resolved(cache_other, counted_value());
}
CASE(cache_new_bad) {
    VOW_ASSERT_EQ(vow_cache_new(NULL, cache_fn, NULL, count_free, 1, 0), (vow_cache_t *)NULL);
    VOW_ASSERT_EQ(vow_cache_new(live(), NULL, NULL, count_free, 1, 0), (vow_cache_t *)NULL);
    VOW_TEST_END(L);
    closed();
    VOW_ASSERT_EQ(vow_cache_new(L, cache_fn, NULL, count_free, 1, 0), (vow_cache_t *)NULL);
    VOW_ASSERT_EQ(freed, 3, "ctx_free ran each time");
    done();
}
CASE(cache_new_oom) {
    L = vow_test_loop_without_pools();
    for (long k = 1; k <= 3; k++) {
        vow_test_fail_at(vow_test_alloc_total() + k);
        VOW_ASSERT_EQ(vow_cache_new(L, cache_fn, NULL, count_free, 1, 0), (vow_cache_t *)NULL);
        vow_test_fail_at(0);
    }
    VOW_ASSERT_EQ(freed, 3);
    done();
}
CASE(cache_null) {
    vow_cache_free(NULL);
    VOW_ASSERT_EQ(vow_cache_get(NULL, "k", 1), (vow_t *)NULL);
    VOW_ASSERT_CODE(vow_cache_invalidate(NULL, "k", 1), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_cache_clear(NULL), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_cache_size(NULL), VOW_EINVAL);
    VOW_ASSERT_EQ(vow_test_live_allocs(), 0L);
}
CASE(cache_invalidate_bad_key) {
    vow_cache_t *c = vow_cache_new(live(), cache_fn, NULL, NULL, 1000, 0);
    VOW_ASSERT_CODE(vow_cache_invalidate(c, NULL, 1), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_cache_invalidate(c, "k", 1), VOW_ENOENT);
    VOW_ASSERT_CODE(vow_cache_invalidate(c, NULL, 0), VOW_ENOENT, "the empty key is a key");
    VOW_ASSERT_EQ(callbacks, 0);
    vow_cache_free(c);
    done();
}
CASE(cache_closed) {
    vow_cache_t *c = vow_cache_new(live(), cache_fn, NULL, count_free, VOW_CACHE_FOREVER, 0);
    vow_t *p = vow_cache_get(c, "a", 1);
    vow_t *q = vow_new(L);
    cr_assert_eq(vow_loop_free(L), 0);
    HOLD = q;
    VOW_ASSERT_EQ(vow_cache_get(c, "a", 1), (vow_t *)NULL);
    VOW_ASSERT_CODE(vow_cache_invalidate(c, "a", 1), VOW_ECLOSED);
    VOW_ASSERT_CODE(vow_cache_clear(c), VOW_ECLOSED);
    VOW_ASSERT_CODE(vow_cache_size(c), VOW_ECLOSED);
    vow_cache_free(c);
    VOW_ASSERT_EQ(freed, 1, "ctx_free ran");
    vow_unref(p);
    callbacks = 0;
    done();
}
CASE(cache_get_oom) {
    L = vow_test_loop_without_pools();
    vow_cache_t *c = vow_cache_new(L, cache_fn, NULL, NULL, VOW_CACHE_FOREVER, 0);
    for (long k = 1; k <= 3; k++) { /* a miss: the entry, the waiter's two */
        vow_test_fail_at(vow_test_alloc_total() + k);
        VOW_ASSERT_EQ(vow_cache_get(c, "a", 1), (vow_t *)NULL, "allocation %ld", k);
        vow_test_fail_at(0);
        VOW_ASSERT_EQ(callbacks, 0, "fn not called (allocation %ld)", k);
        VOW_ASSERT_CODE(vow_cache_invalidate(c, "a", 1), VOW_ENOENT, "nothing kept");
    }
    vow_cache_free(c);
    c = vow_cache_new(L, cache_fn_null, NULL, NULL, VOW_CACHE_FOREVER, 0);
    VOW_ASSERT_CODE(vow_set_unhandled_mode(L, VOW_UNHANDLED_SILENT), 0);
    vow_unref(vow_cache_get(c, "a", 1));
    vow_cache_free(c);
    run_out();
    done();
}
CASE(cache_fn_bad_answer) {
    vow_cache_t *c = vow_cache_new(live(), cache_fn_null, NULL, NULL, VOW_CACHE_FOREVER, 0);
    VOW_ASSERT_CODE(vow_set_unhandled_mode(L, VOW_UNHANDLED_SILENT), 0);
    vow_t *p = vow_cache_get(c, "a", 1);
    VOW_ASSERT_CODE(vow_error_code(vow_error(p)), VOW_ENOMEM);
    VOW_ASSERT_CODE(vow_cache_size(c), 0);
    vow_unref(p);
    vow_cache_free(c);
    cache_other = vow_test_loop();
    c = vow_cache_new(L, cache_fn_foreign, NULL, NULL, VOW_CACHE_FOREVER, 0);
    p = vow_cache_get(c, "a", 1);
    VOW_ASSERT_CODE(vow_error_code(vow_error(p)), VOW_EINVAL);
    VOW_ASSERT_EQ(freed, 1, "the foreign promise (and its value) released");
    vow_unref(p);
    vow_cache_free(c);
    VOW_ASSERT_CODE(vow_loop_close(cache_other), 0);
    run_out();
    done();
}
CASE(cache_waiter_not_settleable) {
    vow_cache_t *c = vow_cache_new(live(), cache_fn, NULL, NULL, VOW_CACHE_FOREVER, 0);
    vow_t *w = vow_cache_get(c, "a", 1);
    VOW_ASSERT_CODE(vow_resolve(w, counted_value()), VOW_EPERM);
    VOW_ASSERT_CODE(vow_reject(w, counted_error()), VOW_EPERM);
    VOW_ASSERT_CODE(vow_on_cancel(w, cancel_cb, &payload_at, count_free), VOW_EPERM);
    VOW_ASSERT_EQ(freed, 3, "value, error and ctx_free released");
    VOW_ASSERT_STATE(vow_state(w), VOW_PENDING);
    vow_cache_free(c);
    VOW_ASSERT_STATE(vow_state(w), VOW_REJECTED, "freeing the cache cancelled it");
    vow_unref(w);
    run_out();
    callbacks = 0;
    done();
}

/* ---- vow/thread.h ---------------------------------------------------------------------- */
static vow_result_t job_ok(vow_work_t *job, void *arg) {
    (void)job, (void)arg;
    return vow_ok_none();
}
static void post_cb(vow_loop_t *loop, void *arg) {
    (void)loop, (void)arg;
    callbacks++;
}
CASE(work_misuse) {
    VOW_ASSERT_EQ(vow_work(NULL, job_ok, &payload_at, count_free), (vow_t *)NULL);
    VOW_ASSERT_EQ(freed, 1);
    VOW_ASSERT_CODE(vow_work_cancelled(NULL), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_loop_set_threads(NULL, 2), VOW_EINVAL);
    vow_t *p = vow_work(live(), NULL, &payload_at, count_free);
    VOW_ASSERT_CODE(vow_error_code(vow_error(p)), VOW_EINVAL);
    VOW_ASSERT_EQ(freed, 2);
    vow_set_unhandled_mode(L, VOW_UNHANDLED_SILENT);
    vow_unref(p);
    VOW_ASSERT_CODE(vow_loop_set_threads(L, 0), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_loop_set_threads(L, 1025), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_loop_set_threads(L, 1), 0);
    VOW_ASSERT_CODE(vow_run(L, vow_work(L, job_ok, NULL, NULL), NULL), 0);
    VOW_ASSERT_CODE(vow_loop_set_threads(L, 2), VOW_EBUSY, "the pool has started");
    VOW_TEST_END(L);
    closed();
    VOW_ASSERT_EQ(vow_work(L, job_ok, &payload_at, count_free), (vow_t *)NULL);
    VOW_ASSERT_EQ(freed, 3);
    VOW_ASSERT_CODE(vow_loop_set_threads(L, 2), VOW_ECLOSED);
    VOW_ASSERT_EQ(callbacks, 0);
    done();
}
CASE(work_oom) {
    L = vow_test_loop_without_pools();
    int want = 0;
    for (long k = 1; k <= 8; k++) {
        vow_test_fail_at(vow_test_alloc_total() + k);
        vow_t *p = vow_work(L, job_ok, &payload_at, count_free);
        vow_test_fail_at(0);
        if (p == NULL) {
            VOW_ASSERT_EQ(freed, ++want, "arg_free ran (k %ld)", k);
        } else {
            VOW_ASSERT_CODE(vow_run(L, p, NULL), 0);
            VOW_ASSERT_EQ(freed, ++want, "arg_free ran after the job (k %ld)", k);
        }
    }
    done();
}
CASE(remote_misuse) {
    vow_t *p = (vow_t *)&payload_at;
    VOW_ASSERT_EQ(vow_remote_new(NULL, &p), (vow_remote_t *)NULL);
    VOW_ASSERT_EQ(p, (vow_t *)NULL);
    VOW_ASSERT_EQ(vow_remote_new(live(), NULL), (vow_remote_t *)NULL);
    VOW_ASSERT_CODE(vow_remote_resolve(NULL, vow_ok(counted_value())), VOW_EINVAL);
    VOW_ASSERT_EQ(freed, 1, "the value released");
    VOW_ASSERT_CODE(vow_remote_reject(NULL, counted_error()), VOW_EINVAL);
    VOW_ASSERT_EQ(freed, 2, "the error released");
    vow_remote_free(NULL);
    vow_remote_t *r = vow_remote_new(L, &p);
    vow_t *other = vow_new(L);
    VOW_ASSERT_CODE(vow_remote_resolve(r, vow_follow(other)), VOW_EINVAL);
    VOW_ASSERT_STATE(vow_state(other), VOW_PENDING, "untouched");
    vow_unref(other);
    VOW_ASSERT_CODE(vow_remote_resolve(r, vow_ok_int(1)), 0);
    VOW_ASSERT_CODE(vow_remote_resolve(r, vow_ok(counted_value())), VOW_ESETTLED);
    VOW_ASSERT_EQ(freed, 3);
    vow_remote_free(r);
    VOW_ASSERT_CODE(vow_run(L, p, NULL), 0);
    vow_remote_t *late = vow_remote_new(L, &p);
    VOW_ASSERT_CODE(vow_loop_free(L), 0);
    HOLD = p;
    VOW_ASSERT_CODE(vow_remote_resolve(late, vow_ok(counted_value())), VOW_ECLOSED);
    VOW_ASSERT_EQ(freed, 4);
    vow_remote_free(late);
    VOW_ASSERT_EQ(vow_remote_new(L, &p), (vow_remote_t *)NULL);
    VOW_ASSERT_EQ(callbacks, 0);
    done();
}
CASE(poster_misuse) {
    VOW_ASSERT_EQ(vow_poster_new(NULL), (vow_poster_t *)NULL);
    VOW_ASSERT_CODE(vow_post(NULL, post_cb, &payload_at, count_free), VOW_EINVAL);
    VOW_ASSERT_EQ(freed, 1);
    vow_poster_t *h = vow_poster_new(live());
    VOW_ASSERT_CODE(vow_post(h, NULL, &payload_at, count_free), VOW_EINVAL);
    VOW_ASSERT_EQ(freed, 2);
    vow_poster_free(NULL);
    HOLD = vow_new(L);
    VOW_ASSERT_CODE(vow_loop_free(L), 0);
    VOW_ASSERT_CODE(vow_post(h, post_cb, &payload_at, count_free), VOW_ECLOSED);
    VOW_ASSERT_EQ(freed, 3);
    vow_poster_free(h);
    VOW_ASSERT_EQ(vow_poster_new(L), (vow_poster_t *)NULL);
    VOW_ASSERT_EQ(callbacks, 0);
    done();
}
CASE(thread_promise_not_settleable) {
    vow_t *rp;
    vow_remote_t *r = vow_remote_new(live(), &rp);
    vow_t *w[2] = {vow_work(L, job_ok, NULL, NULL), rp};
    for (int i = 0; i < 2; i++) {
        VOW_ASSERT_CODE(vow_resolve(w[i], counted_value()), VOW_EPERM);
        VOW_ASSERT_CODE(vow_reject(w[i], counted_error()), VOW_EPERM);
        VOW_ASSERT_CODE(vow_on_cancel(w[i], cancel_cb, &payload_at, count_free), VOW_EPERM);
    }
    VOW_ASSERT_EQ(freed, 6, "values, errors and ctx_free released");
    VOW_ASSERT_CODE(vow_remote_resolve(r, vow_ok_none()), 0);
    vow_remote_free(r);
    for (int i = 0; i < 2; i++) {
        VOW_ASSERT_CODE(vow_run(L, w[i], NULL), 0);
    }
    VOW_ASSERT_EQ(callbacks, 0);
    done();
}

/* ---- vow/async.h ----------------------------------------------------------------------- */
static vow_result_t co_ok(vow_loop_t *loop, void *arg) {
    (void)loop, (void)arg;
    callbacks++;
    return vow_ok_none();
}
static int co_rc[6];
static vow_loop_t *co_other;
static vow_result_t co_misuse(vow_loop_t *loop, void *arg) {
    (void)arg;
    co_rc[0] = vow_await(NULL, NULL);
    co_rc[1] = vow_await(vow_resolved(co_other, vow_none()), NULL); /* consumed */
    co_rc[2] = vow_await_next(NULL, NULL);
    co_rc[3] = vow_yield(counted_value()); /* not a generator: released */
    co_rc[4] = vow_uncancel();             /* nothing to take back */
    co_rc[5] = vow_cancelling();
    (void)loop;
    return vow_ok_none();
}
CASE(async_misuse) {
    VOW_ASSERT_EQ(vow_async(NULL, co_ok, &payload_at, count_free), (vow_t *)NULL);
    VOW_ASSERT_EQ(freed, 1);
    vow_t *p = vow_async(live(), NULL, &payload_at, count_free);
    VOW_ASSERT_EQ(freed, 2);
    VOW_ASSERT_CODE(vow_error_code(vow_error(p)), VOW_EINVAL);
    vow_unref(p);
    p = vow_async_ex(L, co_ok, &payload_at, count_free, 4096);
    VOW_ASSERT_EQ(freed, 3);
    VOW_ASSERT_CODE(vow_error_code(vow_error(p)), VOW_EINVAL);
    vow_unref(p);
    VOW_ASSERT_CODE(vow_async_set_stack_size(NULL, 0), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_async_set_stack_size(L, 1), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_async_live(NULL), VOW_EINVAL);
    VOW_ASSERT_EQ(vow_async_live(L), 0);
    VOW_ASSERT_EQ(callbacks, 0);
    done();
}
CASE(async_closed) {
    VOW_ASSERT_EQ(vow_async(closed(), co_ok, &payload_at, count_free), (vow_t *)NULL);
    VOW_ASSERT_EQ(vow_async_ex(L, co_ok, &payload_at, count_free, 0), (vow_t *)NULL);
    VOW_ASSERT_EQ(vow_create_task_async(L, co_ok, &payload_at, count_free), (vow_t *)NULL);
    VOW_ASSERT_EQ(vow_async_gen(L, co_ok, &payload_at, count_free), (vow_stream_t *)NULL);
    VOW_ASSERT_EQ(freed, 4);
    VOW_ASSERT_CODE(vow_async_set_stack_size(L, 0), VOW_ECLOSED);
    VOW_ASSERT_CODE(vow_async_live(L), VOW_ECLOSED);
    VOW_ASSERT_EQ(callbacks, 0);
    done();
}
CASE(async_oom) {
    /* Each allocation of a coroutine's start in turn: NULL, arg_free once, nothing left. */
    for (long n = 1; n <= 4; n++) {
        vow_loop_t *l = live();
        freed = 0;
        vow_test_reset_counts();
        vow_test_fail_at(n);
        vow_t *p = vow_async(l, co_ok, &payload_at, count_free);
        long failed = vow_test_failed_allocs();
        vow_test_fail_at(0);
        if (failed > 0) VOW_ASSERT_EQ(p, (vow_t *)NULL, "allocation %ld", n);
        VOW_ASSERT_EQ(freed, 1, "allocation %ld: arg_free", n);
        vow_unref(p);
        VOW_TEST_END(l);
        L = NULL;
    }
    callbacks = 0;
    done();
}
CASE(await_misuse) {
    vow_t *p = vow_resolved(live(), vow_int(1));
    vow_outcome_t o;
    VOW_ASSERT_CODE(vow_await(p, &o), VOW_EPERM, "outside a coroutine");
    VOW_ASSERT_STATE(o.state, VOW_PENDING);
    VOW_ASSERT_EQ(vow_value_int(vow_value(p)), 1, "not consumed");
    vow_unref(p);
    VOW_ASSERT_EQ(vow_in_coroutine(), 0);
    VOW_ASSERT_CODE(vow_uncancel(), VOW_EPERM);
    VOW_ASSERT_CODE(vow_cancelling(), VOW_EPERM);
    VOW_ASSERT_CODE(vow_yield(counted_value()), VOW_EPERM);
    VOW_ASSERT_EQ(freed, 1, "the item released");
    VOW_ASSERT_CODE(vow_await_next(NULL, NULL), VOW_EPERM);
    VOW_ASSERT_CODE(vow_loop_new(&co_other, VOW_BACKEND_AUTO), 0);
    VOW_ASSERT_CODE(vow_run(L, vow_async(L, co_misuse, NULL, NULL), NULL), 0);
    VOW_ASSERT_CODE(co_rc[0], VOW_ENOMEM);
    VOW_ASSERT_CODE(co_rc[1], VOW_EINVAL);
    VOW_ASSERT_CODE(co_rc[2], VOW_EINVAL);
    VOW_ASSERT_CODE(co_rc[3], VOW_EPERM);
    VOW_ASSERT_EQ(freed, 2, "the item released");
    VOW_ASSERT_EQ(co_rc[4], 0);
    VOW_ASSERT_EQ(co_rc[5], 0);
    VOW_ASSERT_CODE(vow_loop_close(co_other), 0);
    done();
}
CASE(rethrow_main_misuse) {
    vow_result_t r = vow_rethrow(VOW_EINVAL, NULL);
    VOW_ASSERT_EQ(r.kind, VOW_RESULT_ERROR);
    VOW_ASSERT_CODE(vow_error_code(r.error), VOW_EINVAL);
    vow_error_unref(r.error);
    vow_outcome_t empty = {VOW_PENDING, {0}, NULL};
    r = vow_rethrow(0, &empty);
    VOW_ASSERT_CODE(vow_error_code(r.error), VOW_EUSER);
    vow_error_unref(r.error);
    VOW_ASSERT_EQ(vow_main_async(NULL, NULL), 1);
    done();
}
CASE(async_gen_misuse) {
    VOW_ASSERT_EQ(vow_async_gen(NULL, co_ok, &payload_at, count_free), (vow_stream_t *)NULL);
    VOW_ASSERT_EQ(vow_async_gen(live(), NULL, &payload_at, count_free), (vow_stream_t *)NULL);
    VOW_ASSERT_EQ(freed, 2);
    VOW_ASSERT_EQ(vow_create_task_async(NULL, co_ok, &payload_at, count_free), (vow_t *)NULL);
    VOW_ASSERT_EQ(freed, 3);
    vow_t *p = vow_create_task_async(L, NULL, &payload_at, count_free);
    VOW_ASSERT_EQ(freed, 4);
    VOW_ASSERT_CODE(vow_error_code(vow_error(p)), VOW_EINVAL);
    vow_unref(p);
    VOW_ASSERT_EQ(callbacks, 0);
    done();
}
static vow_t *co_never;
static vow_result_t co_wait(vow_loop_t *loop, void *arg) {
    (void)loop, (void)arg;
    vow_await(vow_ref(co_never), NULL);
    return vow_ok_none();
}
CASE(async_promise_not_settleable) {
    co_never = vow_new(live());
    vow_t *p = vow_async(L, co_wait, NULL, NULL);
    VOW_ASSERT_CODE(vow_resolve(p, counted_value()), VOW_EPERM);
    VOW_ASSERT_CODE(vow_reject(p, counted_error()), VOW_EPERM);
    VOW_ASSERT_CODE(vow_on_cancel(p, cancel_cb, &payload_at, count_free), VOW_EPERM);
    VOW_ASSERT_EQ(freed, 3, "values, errors and ctx_free released");
    VOW_ASSERT_CODE(vow_resolve(co_never, vow_none()), 0);
    VOW_ASSERT_CODE(vow_run(L, p, NULL), 0);
    vow_unref(co_never);
    VOW_ASSERT_EQ(callbacks, 0);
    done();
}

/* ---- vow/net.h ------------------------------------------------------------------------- */
/* A connected pair of sockets of L (a socketpair, adopted). */
static void net_pair(vow_sock_t **a, vow_sock_t **b) {
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    VOW_ASSERT_CODE(vow_sock_wrap(L, sv[0], a), 0);
    VOW_ASSERT_CODE(vow_sock_wrap(L, sv[1], b), 0);
}
/* p is rejected with `code` (p released). */
static void net_rejects(vow_t *p, int code) {
    cr_assert_not_null(p);
    VOW_ASSERT_STATE(vow_state(p), VOW_REJECTED);
    VOW_ASSERT_CODE(vow_error_code(vow_error(p)), code);
    vow_unref(p);
}

CASE(net_value_bytes_not_bytes) {
    VOW_ASSERT_EQ(vow_value_bytes(NULL), (const vow_bytes_t *)NULL);
    vow_value_t i = vow_int(3), p = vow_ptr(&payload_at, NULL), c = counted_value();
    VOW_ASSERT_EQ(vow_value_bytes(&i), (const vow_bytes_t *)NULL);
    VOW_ASSERT_EQ(vow_value_bytes(&p), (const vow_bytes_t *)NULL);
    VOW_ASSERT_EQ(vow_value_bytes(&c), (const vow_bytes_t *)NULL);
    vow_value_release(&c);
    VOW_ASSERT_EQ(freed, 1);
    done();
}
CASE(net_tcp_connect_misuse) {
    VOW_ASSERT_EQ(vow_tcp_connect(NULL, "127.0.0.1", 1), (vow_t *)NULL);
    net_rejects(vow_tcp_connect(live(), NULL, 1), VOW_EINVAL);
    net_rejects(vow_tcp_connect(L, "", 1), VOW_EINVAL);
    net_rejects(vow_tcp_connect(L, "127.0.0.1", 0), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_loop_alive(L), 0, "nothing started");
    VOW_TEST_END(L);
    L = NULL;
    VOW_ASSERT_EQ(vow_tcp_connect(closed(), "127.0.0.1", 1), (vow_t *)NULL);
    done();
}
CASE(net_connect_addr_misuse) {
    struct sockaddr_in a4 = {.sin_family = AF_INET};
    struct sockaddr bad = {.sa_family = AF_UNSPEC};
    VOW_ASSERT_EQ(vow_connect_addr(NULL, (struct sockaddr *)&a4, sizeof a4), (vow_t *)NULL);
    net_rejects(vow_connect_addr(live(), NULL, sizeof a4), VOW_EINVAL);
    net_rejects(vow_connect_addr(L, (struct sockaddr *)&a4, sizeof a4 - 1), VOW_EINVAL);
    net_rejects(vow_connect_addr(L, &bad, sizeof bad), VOW_EINVAL);
    VOW_TEST_END(L);
    L = NULL;
    VOW_ASSERT_EQ(vow_connect_addr(closed(), (struct sockaddr *)&a4, sizeof a4), (vow_t *)NULL);
    done();
}
CASE(net_unix_connect_misuse) {
    char lng[200];
    memset(lng, 'a', sizeof lng - 1);
    lng[sizeof lng - 1] = '\0';
    VOW_ASSERT_EQ(vow_unix_connect(NULL, "/tmp/x"), (vow_t *)NULL);
    net_rejects(vow_unix_connect(live(), NULL), VOW_EINVAL);
    net_rejects(vow_unix_connect(L, ""), VOW_EINVAL);
    net_rejects(vow_unix_connect(L, lng), VOW_EINVAL);
    done();
}
CASE(net_sock_wrap_misuse) {
    vow_sock_t *s = (vow_sock_t *)&payload_at;
    VOW_ASSERT_CODE(vow_sock_wrap(NULL, 0, &s), VOW_EINVAL);
    VOW_ASSERT_EQ(s, (vow_sock_t *)NULL);
    VOW_ASSERT_CODE(vow_sock_wrap(live(), 0, NULL), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_sock_wrap(L, -1, &s), VOW_EINVAL);
    int fd = dup(0);
    cr_assert(fd >= 0);
    close(fd);
    VOW_ASSERT_CODE(vow_sock_wrap(L, fd, &s), VOW_EBADF, "a descriptor that is not open");
    VOW_ASSERT_EQ(s, (vow_sock_t *)NULL);
    VOW_TEST_END(L);
    L = NULL;
    VOW_ASSERT_CODE(vow_sock_wrap(closed(), 0, &s), VOW_ECLOSED);
    done();
}
CASE(net_sock_read_misuse) {
    vow_sock_t *a, *b;
    live();
    net_pair(&a, &b);
    VOW_ASSERT_EQ(vow_sock_read(NULL, 1), (vow_t *)NULL);
    VOW_ASSERT_EQ(vow_sock_read_exactly(NULL, 1), (vow_t *)NULL);
    VOW_ASSERT_EQ(vow_sock_read_until(NULL, "\n", 1, 0), (vow_t *)NULL);
    net_rejects(vow_sock_read(a, 0), VOW_EINVAL);
    net_rejects(vow_sock_read_exactly(a, 0), VOW_EINVAL);
    net_rejects(vow_sock_read_until(a, NULL, 1, 0), VOW_EINVAL);
    net_rejects(vow_sock_read_until(a, "\n", 0, 0), VOW_EINVAL);
    net_rejects(vow_sock_read_until(a, "ab", 2, 1), VOW_EINVAL);
    vow_t *r = vow_sock_read(a, 1);
    net_rejects(vow_sock_read_exactly(a, 1), VOW_EBUSY);
    VOW_ASSERT_CODE(vow_cancel(r), 0);
    vow_unref(r);
    VOW_ASSERT_CODE(vow_sock_close(a), 0);
    net_rejects(vow_sock_read(a, 1), VOW_ECLOSED);
    vow_sock_unref(a);
    vow_sock_unref(b);
    done();
}
CASE(net_sock_write_misuse) {
    vow_sock_t *a, *b;
    live();
    net_pair(&a, &b);
    VOW_ASSERT_EQ(vow_sock_write(NULL, "x", 1), (vow_t *)NULL);
    VOW_ASSERT_EQ(vow_sock_drain(NULL), (vow_t *)NULL);
    net_rejects(vow_sock_write(a, NULL, 1), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_run(L, vow_sock_shutdown(a), NULL), 0);
    net_rejects(vow_sock_write(a, "x", 1), VOW_EPIPE);
    VOW_ASSERT_CODE(vow_sock_close(a), 0);
    net_rejects(vow_sock_write(a, "x", 1), VOW_ECLOSED);
    net_rejects(vow_sock_drain(a), VOW_ECLOSED);
    vow_sock_unref(a);
    vow_sock_unref(b);
    done();
}
CASE(net_sock_set_write_limit_misuse) {
    vow_sock_t *a, *b;
    VOW_ASSERT_CODE(vow_sock_set_write_limit(NULL, 1), VOW_EINVAL);
    live();
    net_pair(&a, &b);
    VOW_ASSERT_CODE(vow_sock_set_write_limit(a, 0), 0);
    VOW_ASSERT_CODE(vow_sock_close(a), 0);
    VOW_ASSERT_CODE(vow_sock_set_write_limit(a, 1), VOW_ECLOSED);
    vow_sock_unref(a);
    vow_sock_unref(b);
    done();
}
CASE(net_sock_shutdown_misuse) {
    vow_sock_t *a, *b;
    VOW_ASSERT_EQ(vow_sock_shutdown(NULL), (vow_t *)NULL);
    live();
    net_pair(&a, &b);
    VOW_ASSERT_CODE(vow_run(L, vow_sock_shutdown(a), NULL), 0);
    vow_t *again = vow_sock_shutdown(a);
    VOW_ASSERT_STATE(vow_state(again), VOW_FULFILLED, "a second call answers as the first");
    vow_unref(again);
    VOW_ASSERT_CODE(vow_sock_close(b), 0);
    net_rejects(vow_sock_shutdown(b), VOW_ECLOSED);
    vow_sock_unref(a);
    vow_sock_unref(b);
    done();
}
CASE(net_sock_close_misuse) {
    vow_sock_t *a, *b;
    VOW_ASSERT_CODE(vow_sock_close(NULL), VOW_EINVAL);
    live();
    net_pair(&a, &b);
    VOW_ASSERT_CODE(vow_sock_close(a), 0);
    VOW_ASSERT_CODE(vow_sock_close(a), 0, "closed already");
    vow_sock_unref(a);
    vow_sock_unref(b);
    done();
}
CASE(net_sock_ref_null) {
    VOW_ASSERT_EQ(vow_sock_ref(NULL), (vow_sock_t *)NULL);
    vow_sock_unref(NULL);
    done();
}
CASE(net_sock_fd_misuse) {
    vow_sock_t *a, *b;
    VOW_ASSERT_CODE(vow_sock_fd(NULL), VOW_EINVAL);
    live();
    net_pair(&a, &b);
    cr_assert(vow_sock_fd(a) >= 0);
    VOW_ASSERT_CODE(vow_sock_close(a), 0);
    VOW_ASSERT_CODE(vow_sock_fd(a), VOW_ECLOSED);
    vow_sock_unref(a);
    vow_sock_unref(b);
    done();
}
CASE(net_sock_stats_misuse) {
    vow_sock_t *a, *b;
    vow_sock_stats_t st;
    VOW_ASSERT_CODE(vow_sock_stats(NULL, &st), VOW_EINVAL);
    live();
    net_pair(&a, &b);
    VOW_ASSERT_CODE(vow_sock_stats(a, NULL), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_sock_close(a), 0);
    VOW_ASSERT_CODE(vow_sock_stats(a, &st), 0, "a closed socket's counters");
    vow_sock_unref(a);
    vow_sock_unref(b);
    done();
}
CASE(net_sock_after_loop_free) {
    vow_sock_t *a, *b;
    live();
    net_pair(&a, &b);
    vow_t *r = vow_sock_read(a, 1); /* waiting when the loop goes */
    HOLD = vow_new(L);
    VOW_ASSERT_CODE(vow_loop_free(L), 0);
    VOW_ASSERT_EQ(vow_sock_read(a, 1), (vow_t *)NULL);
    VOW_ASSERT_EQ(vow_sock_write(a, "x", 1), (vow_t *)NULL);
    VOW_ASSERT_EQ(vow_sock_drain(a), (vow_t *)NULL);
    VOW_ASSERT_EQ(vow_sock_shutdown(a), (vow_t *)NULL);
    VOW_ASSERT_CODE(vow_sock_fd(a), VOW_ECLOSED);
    VOW_ASSERT_CODE(vow_sock_set_write_limit(a, 1), VOW_ECLOSED);
    VOW_ASSERT_CODE(vow_sock_close(a), 0);
    vow_unref(r);
    vow_sock_unref(a);
    vow_sock_unref(b);
    done();
}
CASE(net_tcp_listen_misuse) {
    vow_server_t *srv = (vow_server_t *)&payload_at;
    vow_listen_opts_t flag = {.flags = 0x80}, neg = {.backlog = -1};
    VOW_ASSERT_CODE(vow_tcp_listen(NULL, "127.0.0.1", 0, NULL, &srv), VOW_EINVAL);
    VOW_ASSERT_EQ(srv, (vow_server_t *)NULL);
    VOW_ASSERT_CODE(vow_tcp_listen(live(), NULL, 0, NULL, &srv), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_tcp_listen(L, "127.0.0.1", 0, NULL, NULL), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_tcp_listen(L, "localhost", 0, NULL, &srv), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_tcp_listen(L, "127.0.0.1", 0, &flag, &srv), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_tcp_listen(L, "127.0.0.1", 0, &neg, &srv), VOW_EINVAL);
    VOW_ASSERT_EQ(srv, (vow_server_t *)NULL);
    VOW_TEST_END(L);
    L = NULL;
    VOW_ASSERT_CODE(vow_tcp_listen(closed(), "127.0.0.1", 0, NULL, &srv), VOW_ECLOSED);
    done();
}
CASE(net_unix_listen_misuse) {
    vow_server_t *srv = (vow_server_t *)&payload_at;
    vow_listen_opts_t rp = {.flags = VOW_LISTEN_REUSEPORT};
    VOW_ASSERT_CODE(vow_unix_listen(NULL, "/tmp/x", NULL, &srv), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_unix_listen(live(), NULL, NULL, &srv), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_unix_listen(L, "", NULL, &srv), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_unix_listen(L, "/tmp/x", &rp, &srv), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_unix_listen(L, "/", NULL, &srv), VOW_EADDRINUSE, "the path exists");
    VOW_ASSERT_EQ(srv, (vow_server_t *)NULL);
    done();
}
CASE(net_server_misuse) {
    int last = 1;
    VOW_ASSERT_EQ(vow_server_accept(NULL), (vow_stream_t *)NULL);
    VOW_ASSERT_CODE(vow_server_port(NULL), VOW_EINVAL);
    VOW_ASSERT_EQ(vow_server_errors(NULL, &last), (long)VOW_EINVAL);
    vow_server_close(NULL);
    char dir[] = "/tmp/vow-misuse-XXXXXX", path[64];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/s", dir);
    vow_server_t *srv;
    VOW_ASSERT_CODE(vow_unix_listen(live(), path, NULL, &srv), 0);
    VOW_ASSERT_CODE(vow_server_port(srv), VOW_EINVAL, "a Unix server has no port");
    VOW_ASSERT_EQ(vow_server_errors(srv, &last), 0L);
    VOW_ASSERT_CODE(last, 0);
    vow_server_close(srv);
    rmdir(dir);
    done();
}
CASE(net_server_after_loop_free) {
    vow_server_t *srv;
    VOW_ASSERT_CODE(vow_tcp_listen(live(), "127.0.0.1", 0, NULL, &srv), 0);
    vow_stream_t *conns = vow_server_accept(srv);
    vow_t *n = vow_stream_next(conns); /* waiting when the loop goes */
    HOLD = vow_new(L);
    VOW_ASSERT_CODE(vow_loop_free(L), 0);
    VOW_ASSERT_EQ(vow_server_accept(srv), (vow_stream_t *)NULL);
    vow_unref(n);
    vow_stream_unref(conns);
    vow_server_close(srv);
    done();
}

/* ---- the table ------------------------------------------------------------------------- */
/* ---- vow/queue.h ----------------------------------------------------------------------- */
static int q_put_int(vow_queue_t *q, int64_t i) {
    vow_value_t v = vow_int(i);
    return vow_queue_put_nowait(q, &v);
}
static int q_take(vow_queue_t *q) {
    vow_value_t v;
    int rc = vow_queue_get_nowait(q, &v);
    vow_value_release(&v);
    return rc;
}
CASE(queue_new_null_closed) {
    VOW_ASSERT_EQ(vow_queue_new(NULL, 1), (vow_queue_t *)NULL);
    VOW_ASSERT_EQ(vow_queue_lifo_new(NULL, 1), (vow_queue_t *)NULL);
    VOW_ASSERT_EQ(vow_queue_priority_new(NULL, 1, NULL, NULL), (vow_queue_t *)NULL);
    closed();
    VOW_ASSERT_EQ(vow_queue_new(L, 1), (vow_queue_t *)NULL);
    VOW_ASSERT_EQ(vow_queue_lifo_new(L, 1), (vow_queue_t *)NULL);
    VOW_ASSERT_EQ(vow_queue_priority_new(L, 1, NULL, NULL), (vow_queue_t *)NULL);
    done();
}
CASE(queue_new_oom) {
    L = vow_test_loop_without_pools();
    for (long k = 1; k <= 2; k++) {
        vow_test_fail_at(vow_test_alloc_total() + k);
        VOW_ASSERT_EQ(vow_queue_new(L, 1), (vow_queue_t *)NULL);
        vow_test_fail_at(vow_test_alloc_total() + k);
        VOW_ASSERT_EQ(vow_queue_lifo_new(L, 1), (vow_queue_t *)NULL);
        vow_test_fail_at(vow_test_alloc_total() + k);
        VOW_ASSERT_EQ(vow_queue_priority_new(L, 1, NULL, NULL), (vow_queue_t *)NULL);
        vow_test_fail_at(0);
    }
    done();
}
CASE(queue_null) {
    vow_queue_free(NULL);
    VOW_ASSERT_EQ(vow_queue_put(NULL, counted_value()), (vow_t *)NULL);
    VOW_ASSERT_EQ(freed, 1, "the item released");
    vow_value_t v = counted_value();
    VOW_ASSERT_CODE(vow_queue_put_nowait(NULL, &v), VOW_EINVAL);
    VOW_ASSERT_EQ(freed, 1, "put_nowait's item untouched");
    VOW_ASSERT_EQ(vow_queue_get(NULL), (vow_t *)NULL);
    vow_value_t out = vow_int(3);
    VOW_ASSERT_CODE(vow_queue_get_nowait(NULL, &out), VOW_EINVAL);
    VOW_ASSERT_EQ(vow_value_kind(&out), VOW_VAL_NONE);
    VOW_ASSERT_CODE(vow_queue_task_done(NULL), VOW_EINVAL);
    VOW_ASSERT_EQ(vow_queue_join(NULL), (vow_t *)NULL);
    VOW_ASSERT_CODE(vow_queue_shutdown(NULL, 0), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_queue_size(NULL), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_queue_maxsize(NULL), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_queue_empty(NULL), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_queue_full(NULL), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_queue_is_shutdown(NULL), VOW_EINVAL);
    vow_queue_t *q = vow_queue_new(live(), 0);
    VOW_ASSERT_CODE(vow_queue_put_nowait(q, NULL), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_queue_get_nowait(q, NULL), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_queue_size(q), 0);
    vow_value_release(&v);
    VOW_ASSERT_EQ(freed, 2);
    vow_queue_free(q);
    VOW_ASSERT_EQ(callbacks, 0);
    done();
}
CASE(queue_closed) {
    vow_queue_t *q = vow_queue_new(live(), 1), *e = vow_queue_new(L, 0);
    vow_unref(vow_queue_put(q, counted_value()));
    vow_unref(vow_queue_put(q, counted_value())); /* waits */
    vow_unref(vow_queue_join(q));
    vow_unref(vow_queue_get(e));
    vow_unref(vow_queue_get(e));
    VOW_ASSERT_CODE(q_put_int(e, 1), 0); /* reserved */
    HOLD = vow_new(L);
    cr_assert_eq(vow_loop_free(L), 0);
    VOW_ASSERT_EQ(freed, 1, "the waiting put's item went with its promise");
    VOW_ASSERT_EQ(vow_queue_put(q, counted_value()), (vow_t *)NULL);
    VOW_ASSERT_EQ(freed, 2, "a refused put releases its item");
    vow_value_t v = counted_value();
    VOW_ASSERT_CODE(vow_queue_put_nowait(q, &v), VOW_ECLOSED);
    VOW_ASSERT_EQ(freed, 2, "put_nowait's item untouched");
    vow_value_release(&v);
    VOW_ASSERT_EQ(vow_queue_get(q), (vow_t *)NULL);
    VOW_ASSERT_CODE(vow_queue_get_nowait(q, &v), VOW_ECLOSED);
    VOW_ASSERT_CODE(vow_queue_task_done(q), VOW_ECLOSED);
    VOW_ASSERT_EQ(vow_queue_join(q), (vow_t *)NULL);
    VOW_ASSERT_CODE(vow_queue_shutdown(q, 1), VOW_ECLOSED);
    VOW_ASSERT_CODE(vow_queue_size(q), VOW_ECLOSED);
    VOW_ASSERT_CODE(vow_queue_maxsize(q), VOW_ECLOSED);
    VOW_ASSERT_CODE(vow_queue_empty(q), VOW_ECLOSED);
    VOW_ASSERT_CODE(vow_queue_full(q), VOW_ECLOSED);
    VOW_ASSERT_CODE(vow_queue_is_shutdown(q), VOW_ECLOSED);
    vow_queue_free(q);
    VOW_ASSERT_EQ(freed, 4, "the item inside released by the free");
    vow_queue_free(e);
    VOW_ASSERT_EQ(callbacks, 0);
    done();
}
CASE(queue_wait_oom) {
    L = vow_test_loop_without_pools();
    vow_queue_t *q = vow_queue_new(L, 1), *e = vow_queue_new(L, 0), *u = vow_queue_new(L, 0);
    VOW_ASSERT_CODE(q_put_int(q, 1), 0);
    int want = 0;
    for (long k = 1; k <= 4; k++) {
        vow_test_fail_at(vow_test_alloc_total() + k);
        vow_t *p = vow_queue_put(q, counted_value());
        vow_test_fail_at(0);
        if (p != NULL) { /* k past the allocations a waiting put makes */
            vow_cancel(p);
            vow_unref(p);
        }
        VOW_ASSERT_EQ(freed, ++want, "the put's item released (k %ld)", k);
        vow_test_fail_at(vow_test_alloc_total() + k);
        p = vow_queue_get(e);
        vow_test_fail_at(0);
        if (p != NULL) vow_cancel(p), vow_unref(p);
        vow_test_fail_at(vow_test_alloc_total() + k);
        p = vow_queue_join(q);
        vow_test_fail_at(0);
        if (p != NULL) vow_cancel(p), vow_unref(p);
    }
    /* put_nowait: the item's box, then the array. */
    for (long k = 1; k <= 2; k++) {
        vow_value_t v = counted_value();
        vow_test_fail_at(vow_test_alloc_total() + k);
        VOW_ASSERT_CODE(vow_queue_put_nowait(u, &v), VOW_ENOMEM, "k %ld", k);
        vow_test_fail_at(0);
        VOW_ASSERT_EQ(vow_value_kind(&v), VOW_VAL_NONE, "the item released");
        VOW_ASSERT_EQ(freed, ++want);
    }
    VOW_ASSERT_CODE(vow_queue_size(u), 0);
    VOW_ASSERT_CODE(q_take(q), 0);
    VOW_ASSERT_CODE(vow_queue_empty(q), 1, "no put was left in the line");
    vow_loop_drain(L);
    VOW_ASSERT_CODE(vow_queue_empty(q), 1, "no put was left in the line");
    vow_queue_free(q);
    vow_queue_free(e);
    vow_queue_free(u);
    done();
}
CASE(queue_task_done_too_many) {
    vow_queue_t *q = vow_queue_new(live(), 0);
    VOW_ASSERT_CODE(vow_queue_task_done(q), VOW_ERANGE);
    VOW_ASSERT_CODE(q_put_int(q, 1), 0);
    vow_t *j = vow_queue_join(q);
    VOW_ASSERT_CODE(vow_queue_task_done(q), 0);
    VOW_ASSERT_CODE(vow_queue_task_done(q), VOW_ERANGE);
    VOW_ASSERT_STATE(vow_state(j), VOW_FULFILLED);
    VOW_ASSERT_CODE(vow_queue_size(q), 1, "nothing changed: the item is still there");
    vow_unref(j);
    vow_queue_free(q);
    done();
}
CASE(queue_after_shutdown) {
    vow_queue_t *q = vow_queue_new(live(), 0);
    vow_set_unhandled_mode(L, VOW_UNHANDLED_SILENT);
    VOW_ASSERT_CODE(vow_queue_shutdown(q, 0), 0);
    vow_t *p = vow_queue_put(q, counted_value());
    VOW_ASSERT_STATE(vow_state(p), VOW_REJECTED);
    VOW_ASSERT_CODE(vow_error_code(vow_error(p)), VOW_ESHUTDOWN);
    VOW_ASSERT_EQ(freed, 1, "the item released");
    vow_value_t v = counted_value();
    VOW_ASSERT_CODE(vow_queue_put_nowait(q, &v), VOW_ESHUTDOWN);
    VOW_ASSERT_EQ(freed, 1, "untouched");
    vow_value_release(&v);
    vow_t *g = vow_queue_get(q);
    VOW_ASSERT_CODE(vow_error_code(vow_error(g)), VOW_ESHUTDOWN);
    VOW_ASSERT_CODE(vow_queue_get_nowait(q, &v), VOW_ESHUTDOWN);
    run_out();
    vow_unref(p), vow_unref(g);
    vow_queue_free(q);
    done();
}
CASE(queue_waiter_not_settleable) {
    vow_queue_t *q = vow_queue_new(live(), 1);
    VOW_ASSERT_CODE(q_put_int(q, 1), 0);
    vow_queue_t *e = vow_queue_new(L, 0);
    vow_t *w[3] = {vow_queue_get(e), vow_queue_put(q, vow_int(2)), vow_queue_join(q)};
    for (int i = 0; i < 3; i++) {
        VOW_ASSERT_CODE(vow_resolve(w[i], counted_value()), VOW_EPERM);
        VOW_ASSERT_CODE(vow_reject(w[i], counted_error()), VOW_EPERM);
        VOW_ASSERT_CODE(vow_on_cancel(w[i], cancel_cb, &payload_at, count_free), VOW_EPERM);
        VOW_ASSERT_STATE(vow_state(w[i]), VOW_PENDING);
    }
    VOW_ASSERT_EQ(freed, 9, "values, errors and ctx_free released");
    VOW_ASSERT_CODE(q_put_int(e, 3), 0);
    VOW_ASSERT_CODE(q_take(q), 0);
    VOW_ASSERT_CODE(vow_queue_task_done(q), 0);
    run_out();
    VOW_ASSERT_CODE(q_take(q), 0);
    VOW_ASSERT_CODE(vow_queue_task_done(q), 0);
    for (int i = 0; i < 3; i++) {
        VOW_ASSERT_STATE(vow_state(w[i]), VOW_FULFILLED);
        vow_unref(w[i]);
    }
    VOW_ASSERT_EQ(callbacks, 0);
    vow_queue_free(q);
    vow_queue_free(e);
    done();
}

/* ---- vow/net.h: the resolver ------------------------------------------------------------ */
static int resolver_hook(const char *host, const char *service, const struct addrinfo *hints,
                         struct addrinfo **res, void *ctx) {
    (void)host, (void)service, (void)hints, (void)res, (void)ctx;
    callbacks++; /* on a pool thread; read once the lookup has settled */
    return EAI_NONAME;
}
static void resolver_hook_free(struct addrinfo *res, void *ctx) {
    (void)res, (void)ctx;
    callbacks++;
}
static const struct addrinfo numeric_hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
CASE(set_resolver_misuse) {
    VOW_ASSERT_CODE(vow_set_resolver(NULL, resolver_hook, resolver_hook_free, NULL), VOW_EINVAL);
    VOW_ASSERT_CODE(vow_set_resolver(live(), resolver_hook, NULL, NULL), VOW_EINVAL,
                    "fn without free_fn");
    /* Nothing was installed: a lookup still goes to getaddrinfo. */
    VOW_ASSERT_CODE(vow_run(L, vow_getaddrinfo(L, "127.0.0.1", NULL, &numeric_hints), NULL), 0);
    VOW_TEST_END(L);
    closed();
    VOW_ASSERT_CODE(vow_set_resolver(L, resolver_hook, resolver_hook_free, NULL), VOW_ECLOSED);
    VOW_ASSERT_CODE(vow_set_resolver(L, NULL, NULL, NULL), VOW_ECLOSED);
    VOW_ASSERT_EQ(callbacks, 0);
    done();
}
CASE(getaddrinfo_misuse) {
    VOW_ASSERT_EQ(vow_getaddrinfo(NULL, "127.0.0.1", "80", NULL), (vow_t *)NULL);
    VOW_ASSERT_CODE(vow_set_resolver(live(), resolver_hook, resolver_hook_free, NULL), 0);
    vow_t *p = vow_getaddrinfo(L, NULL, NULL, &numeric_hints);
    VOW_ASSERT_STATE(vow_state(p), VOW_REJECTED);
    VOW_ASSERT_CODE(vow_error_code(vow_error(p)), VOW_EINVAL);
    vow_set_unhandled_mode(L, VOW_UNHANDLED_SILENT);
    vow_unref(p);
    /* The lookup's promise is vow's. */
    VOW_ASSERT_CODE(vow_set_resolver(L, NULL, NULL, NULL), 0);
    p = vow_getaddrinfo(L, "127.0.0.1", NULL, &numeric_hints);
    VOW_ASSERT_CODE(vow_resolve(p, counted_value()), VOW_EPERM);
    VOW_ASSERT_CODE(vow_reject(p, counted_error()), VOW_EPERM);
    VOW_ASSERT_CODE(vow_on_cancel(p, cancel_cb, &payload_at, count_free), VOW_EPERM);
    VOW_ASSERT_EQ(freed, 3, "values, errors and ctx_free released");
    vow_outcome_t out;
    VOW_ASSERT_CODE(vow_run(L, p, &out), 0);
    VOW_ASSERT_STATE(out.state, VOW_FULFILLED);
    vow_outcome_release(&out);
    VOW_TEST_END(L);
    closed();
    VOW_ASSERT_EQ(vow_getaddrinfo(L, "127.0.0.1", "80", NULL), (vow_t *)NULL);
    VOW_ASSERT_EQ(callbacks, 0, "the resolver never ran");
    done();
}
CASE(getaddrinfo_oom) {
    int fails = 0;
    for (long k = 1; k <= 64; k++) {
        L = vow_test_loop_without_pools();
        long before = vow_test_failed_allocs();
        vow_test_fail_at(vow_test_alloc_total() + k);
        vow_t *p = vow_getaddrinfo(L, "127.0.0.1", "80", &numeric_hints);
        vow_test_fail_at(0);
        if (p != NULL) {
            vow_outcome_t out;
            VOW_ASSERT_CODE(vow_run(L, p, &out), 0);
            if (out.state == VOW_REJECTED) {
                int code = vow_error_code(out.error);
                cr_assert(code == VOW_ENOMEM || code == VOW_EAGAIN, "k %ld: %s", k,
                          vow_err_name(code));
            }
            vow_outcome_release(&out);
        }
        VOW_TEST_END(L);
        L = NULL;
        if (vow_test_failed_allocs() == before) break;
        fails++;
    }
    cr_assert_gt(fails, 0, "no allocation failed");
    done();
}

/* ---- vow/io.h ---------------------------------------------------------------------------- */
#include <signal.h>
#include <unistd.h>

/* A promise of vow's: the user may not settle it nor set its cancel callback. */
static void not_settleable(vow_t *p) {
    int before = freed;
    VOW_ASSERT_CODE(vow_resolve(p, counted_value()), VOW_EPERM);
    VOW_ASSERT_CODE(vow_reject(p, counted_error()), VOW_EPERM);
    VOW_ASSERT_CODE(vow_on_cancel(p, cancel_cb, &payload_at, count_free), VOW_EPERM);
    VOW_ASSERT_EQ(freed, before + 3, "value, error and ctx_free released");
    VOW_ASSERT_STATE(vow_state(p), VOW_PENDING);
}

static int rejection_code(vow_t *p) {
    int code = vow_state(p) == VOW_REJECTED ? vow_error_code(vow_error(p)) : 0;
    vow_unref(p);
    return code;
}

CASE(io_fd_misuse) {
    VOW_ASSERT_EQ(vow_poll_fd(NULL, 0, VOW_READABLE), (vow_t *)NULL);
    VOW_ASSERT_EQ(vow_readable(NULL, 0), (vow_t *)NULL);
    VOW_ASSERT_EQ(vow_writable(NULL, 0), (vow_t *)NULL);
    live();
    vow_set_unhandled_mode(L, VOW_UNHANDLED_SILENT);
    VOW_ASSERT_CODE(rejection_code(vow_readable(L, -1)), VOW_EINVAL);
    VOW_ASSERT_CODE(rejection_code(vow_writable(L, -5)), VOW_EINVAL);
    VOW_ASSERT_CODE(rejection_code(vow_poll_fd(L, 0, 0)), VOW_EINVAL);
    VOW_ASSERT_CODE(rejection_code(vow_poll_fd(L, 0, VOW_READABLE | 0x10)), VOW_EINVAL);
    /* Not open: refused before the fd table grows to its number. */
    VOW_ASSERT_CODE(rejection_code(vow_readable(L, INT_MAX)), VOW_EBADF);
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    vow_t *p = vow_readable(L, fds[0]);
    not_settleable(p);
    VOW_ASSERT_CODE(vow_cancel(p), 0);
    vow_unref(p);
    VOW_ASSERT_EQ(vow_loop_alive(L), 0, "the watcher stopped");
    close(fds[0]), close(fds[1]);
    VOW_TEST_END(L);
    closed();
    VOW_ASSERT_EQ(vow_poll_fd(L, 0, VOW_READABLE), (vow_t *)NULL);
    VOW_ASSERT_EQ(vow_readable(L, 0), (vow_t *)NULL);
    VOW_ASSERT_EQ(vow_writable(L, 0), (vow_t *)NULL);
    VOW_ASSERT_EQ(callbacks, 0);
    done();
}
CASE(io_fd_oom) {
    L = vow_test_loop_without_pools();
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    int nulls = 0;
    for (long k = 1; k <= 8; k++) {
        vow_test_fail_at(vow_test_alloc_total() + k);
        vow_t *p = vow_readable(L, fds[0]);
        vow_test_fail_at(0);
        if (p == NULL) {
            nulls++;
            VOW_ASSERT_EQ(vow_loop_alive(L), 0, "k=%ld: nothing registered", k);
            continue;
        }
        VOW_ASSERT_CODE(vow_cancel(p), 0);
        vow_unref(p);
    }
    cr_assert_gt(nulls, 0);
    close(fds[0]), close(fds[1]);
    VOW_ASSERT_EQ(callbacks, 0);
    done();
}
CASE(signal_misuse) {
    VOW_ASSERT_EQ(vow_signal(NULL, SIGUSR1), (vow_t *)NULL);
    VOW_ASSERT_EQ(vow_signal_stream(NULL, SIGUSR1, 1), (vow_stream_t *)NULL);
    live();
    vow_set_unhandled_mode(L, VOW_UNHANDLED_SILENT);
    int bad[] = {0, -1, SIGKILL, SIGSTOP, 4096};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        VOW_ASSERT_CODE(rejection_code(vow_signal(L, bad[i])), VOW_EINVAL, "signo %d", bad[i]);
        VOW_ASSERT_EQ(vow_signal_stream(L, bad[i], 1), (vow_stream_t *)NULL, "signo %d", bad[i]);
    }
    /* Another loop (this thread's too) watches the signal: VOW_EBUSY. */
    vow_loop_t *other = NULL;
    cr_assert_eq(vow_loop_new(&other, VOW_BACKEND_AUTO), 0);
    vow_t *held = vow_signal(other, SIGUSR1);
    VOW_ASSERT_CODE(rejection_code(vow_signal(L, SIGUSR1)), VOW_EBUSY);
    VOW_ASSERT_EQ(vow_signal_stream(L, SIGUSR1, 1), (vow_stream_t *)NULL);
    not_settleable(held);
    VOW_ASSERT_CODE(vow_cancel(held), 0);
    vow_unref(held);
    VOW_ASSERT_CODE(vow_loop_close(other), 0);
    VOW_TEST_END(L);
    closed();
    VOW_ASSERT_EQ(vow_signal(L, SIGUSR1), (vow_t *)NULL);
    VOW_ASSERT_EQ(vow_signal_stream(L, SIGUSR1, 1), (vow_stream_t *)NULL);
    VOW_ASSERT_EQ(callbacks, 0);
    done();
}
CASE(child_exit_misuse) {
    VOW_ASSERT_EQ(vow_child_exit(NULL, 1), (vow_t *)NULL);
    live();
    vow_set_unhandled_mode(L, VOW_UNHANDLED_SILENT);
    VOW_ASSERT_CODE(rejection_code(vow_child_exit(L, 0)), VOW_EINVAL);
    VOW_ASSERT_CODE(rejection_code(vow_child_exit(L, -3)), VOW_EINVAL);
    VOW_ASSERT_CODE(rejection_code(vow_child_exit(L, getppid())), VOW_ECHILD, "not a child");
    VOW_TEST_END(L);
    closed();
    VOW_ASSERT_EQ(vow_child_exit(L, 1), (vow_t *)NULL);
    VOW_ASSERT_EQ(callbacks, 0);
    done();
}

#define MISUSE_TABLE(X)                                                                            \
    X(replace_allocator_null, vow_replace_allocator)                                               \
    X(reset_allocator_twice, vow_reset_allocator)                                                  \
    X(strerror_unknown, vow_strerror)                                                              \
    X(err_name_unknown, vow_err_name)                                                              \
    X(error_new_null_message, vow_error_new)                                                       \
    X(error_new_oom, vow_error_new)                                                                \
    X(error_newf_null_format, vow_error_newf)                                                      \
    X(error_wrap_oom, vow_error_wrap)                                                              \
    X(error_wrap_null_cause, vow_error_wrap)                                                       \
    X(error_aggregate_null_entry, vow_error_aggregate)                                             \
    X(error_aggregate_oom, vow_error_aggregate)                                                    \
    X(error_set_payload_null, vow_error_set_payload)                                               \
    X(error_set_payload_twice, vow_error_set_payload)                                              \
    X(error_set_payload_oom_error, vow_error_set_payload)                                          \
    X(error_ref_null, vow_error_ref)                                                               \
    X(error_inspect_null, vow_error_code)                                                          \
    X(error_at_past_end, vow_error_at)                                                             \
    X(error_format_null, vow_error_format)                                                         \
    X(error_print_null, vow_error_print)                                                           \
    X(loop_new_out_null, vow_loop_new)                                                             \
    X(loop_new_two_bits, vow_loop_new)                                                             \
    X(loop_new_bad_env, vow_loop_new)                                                              \
    X(loop_new_unsupported, vow_loop_new)                                                          \
    X(loop_new_oom, vow_loop_new)                                                                  \
    X(loop_wrap_null, vow_loop_wrap)                                                               \
    X(loop_ev_null_or_closed, vow_loop_ev)                                                         \
    X(loop_backend_null_or_closed, vow_loop_backend)                                               \
    X(loop_now_null_or_closed, vow_loop_now)                                                       \
    X(loop_update_time_null_or_closed, vow_loop_update_time)                                       \
    X(loop_run_null, vow_loop_run)                                                                 \
    X(loop_run_bad_mode, vow_loop_run)                                                             \
    X(loop_run_closed, vow_loop_run)                                                               \
    X(loop_run_inside, vow_loop_run)                                                               \
    X(loop_stop_null_closed_idle, vow_loop_stop)                                                   \
    X(loop_alive_null_or_closed, vow_loop_alive)                                                   \
    X(loop_close_null, vow_loop_close)                                                             \
    X(loop_close_busy, vow_loop_close)                                                             \
    X(loop_close_closed, vow_loop_close)                                                           \
    X(loop_close_inside, vow_loop_close)                                                           \
    X(loop_free_null, vow_loop_free)                                                               \
    X(loop_free_closed, vow_loop_free)                                                             \
    X(loop_free_inside, vow_loop_free)                                                             \
    X(microtask_null, vow_microtask)                                                               \
    X(microtask_closed, vow_microtask)                                                             \
    X(loop_drain_null_closed_inside, vow_loop_drain)                                               \
    X(set_timeout_null, vow_set_timeout)                                                           \
    X(set_timeout_closed, vow_set_timeout)                                                         \
    X(set_interval_null, vow_set_interval)                                                         \
    X(set_interval_closed, vow_set_interval)                                                       \
    X(set_immediate_null, vow_set_immediate)                                                       \
    X(set_immediate_closed, vow_set_immediate)                                                     \
    X(clear_timeout_rows, vow_clear_timeout)                                                       \
    X(clear_timeout_of_interval, vow_clear_timeout)                                                \
    X(clear_interval_rows, vow_clear_interval)                                                     \
    X(clear_immediate_rows, vow_clear_immediate)                                                   \
    X(values_no_misuse, vow_int)                                                                   \
    X(ptr_null_with_dtor, vow_ptr)                                                                 \
    X(value_share_null, vow_value_share)                                                           \
    X(value_release_null_and_twice, vow_value_release)                                             \
    X(value_accessors_null, vow_value_kind)                                                        \
    X(value_accessors_other_kind, vow_value_int)                                                   \
    X(value_int_out_of_range, vow_value_int)                                                       \
    X(results_no_misuse, vow_ok)                                                                   \
    X(fail_null, vow_fail)                                                                         \
    X(fail_code_null_message, vow_fail_code)                                                       \
    X(follow_null, vow_follow)                                                                     \
    X(follow_itself, vow_follow)                                                                   \
    X(follow_other_loop, vow_follow)                                                               \
    X(thenable_new_null_subscribe, vow_thenable_new)                                               \
    X(thenable_new_oom, vow_thenable_new)                                                          \
    X(follow_thenable_null, vow_follow_thenable)                                                   \
    X(resolver_null, vow_resolver_resolve)                                                         \
    X(resolver_twice, vow_resolver_resolve)                                                        \
    X(resolver_closed, vow_resolver_resolve)                                                       \
    X(resolver_bad_kind, vow_resolver_resolve)                                                     \
    X(settle_null, vow_resolve)                                                                    \
    X(settle_derived, vow_resolve)                                                                 \
    X(settle_twice, vow_resolve)                                                                   \
    X(settle_locked, vow_resolve)                                                                  \
    X(settle_closed, vow_resolve)                                                                  \
    X(reject_null_error, vow_reject)                                                               \
    X(then_no_reactions, vow_then)                                                                 \
    X(then_ok_null_closed, vow_then_ok)                                                            \
    X(finally_null_fn, vow_finally)                                                                \
    X(cancel_null, vow_cancel)                                                                     \
    X(cancel_settled, vow_cancel)                                                                  \
    X(cancel_closed, vow_cancel)                                                                   \
    X(cancel_callback_resolves, vow_cancel)                                                        \
    X(cancel_callback_reads_its_ctx_after_settling, vow_on_cancel)                                 \
    X(cancel_sibling_from_callback, vow_cancel)                                                    \
    X(cancel_callback_locks, vow_cancel)                                                           \
    X(on_cancel_null, vow_on_cancel)                                                               \
    X(on_cancel_derived, vow_on_cancel)                                                            \
    X(on_cancel_settled_twice_closed, vow_on_cancel)                                               \
    X(is_cancellation_null, vow_is_cancellation)                                                   \
    X(ref_null, vow_ref)                                                                           \
    X(inspect_null, vow_state)                                                                     \
    X(inspect_wrong_state, vow_value)                                                              \
    X(inspect_closed, vow_loop_of)                                                                 \
    X(run_null, vow_run)                                                                           \
    X(run_foreign, vow_run)                                                                        \
    X(run_closed, vow_run)                                                                         \
    X(run_inside, vow_run)                                                                         \
    X(run_never, vow_run)                                                                          \
    X(run_stopped, vow_run)                                                                        \
    X(outcome_release_null_twice, vow_outcome_release)                                             \
    X(run_main_null, vow_run_main)                                                                 \
    X(run_main_closed, vow_run_main)                                                               \
    X(run_main_inside, vow_run_main)                                                               \
    X(exit_status_any_code, vow_exit_status)                                                       \
    X(main_null_fn, vow_main)                                                                      \
    X(rejection_hook_null_closed, vow_set_rejection_hook)                                          \
    X(unhandled_mode_bad, vow_set_unhandled_mode)                                                  \
    X(list_of_not_a_list, vow_list_of)                                                             \
    X(list_accessors_null_past_end, vow_list_state)                                                \
    X(combinators_null_array_empty, vow_all)                                                       \
    X(wait_result_null_past_end, vow_wait_done_index)                                              \
    X(task_group_new_null_closed, vow_task_group_new)                                              \
    X(task_group_new_oom, vow_task_group_new)                                                      \
    X(task_group_add_null, vow_task_group_add)                                                     \
    X(task_group_add_foreign, vow_task_group_add)                                                  \
    X(task_group_add_after_join, vow_task_group_add)                                               \
    X(task_group_add_closed, vow_task_group_add)                                                   \
    X(task_group_spawn_null, vow_task_group_spawn)                                                 \
    X(task_group_ref_null, vow_task_group_ref)                                                     \
    X(sync_new_null_closed, vow_lock_new)                                                          \
    X(sync_new_oom, vow_lock_new)                                                                  \
    X(sync_null, vow_lock_acquire)                                                                 \
    X(sync_closed, vow_lock_acquire)                                                               \
    X(sync_wait_oom, vow_lock_acquire)                                                             \
    X(lock_release_not_holder, vow_lock_release)                                                   \
    X(sem_release_over_bound, vow_sem_release)                                                     \
    X(sync_waiter_not_settleable, vow_lock_acquire)                                                \
    X(cond_new_null_closed_foreign, vow_cond_new)                                                  \
    X(cond_new_oom, vow_cond_new)                                                                  \
    X(cond_null, vow_cond_wait)                                                                    \
    X(cond_closed, vow_cond_wait)                                                                  \
    X(cond_not_holder, vow_cond_wait)                                                              \
    X(queue_new_null_closed, vow_queue_new)                                                        \
    X(queue_new_oom, vow_queue_new)                                                                \
    X(queue_null, vow_queue_put)                                                                   \
    X(queue_closed, vow_queue_put)                                                                 \
    X(queue_wait_oom, vow_queue_put)                                                               \
    X(queue_task_done_too_many, vow_queue_task_done)                                               \
    X(queue_after_shutdown, vow_queue_put)                                                         \
    X(queue_waiter_not_settleable, vow_queue_get)                                                  \
    X(stream_new_null_closed_oom, vow_stream_new)                                                  \
    X(stream_null, vow_stream_next)                                                                \
    X(stream_closed, vow_stream_next)                                                              \
    X(stream_producer_misuse, vow_stream_end)                                                      \
    X(stream_waiter_not_settleable, vow_stream_next)                                               \
    X(scope_misuse, vow_scope)                                                                     \
    X(rate_limiter_new_bad, vow_rate_limiter_new)                                                  \
    X(rate_limiter_new_oom, vow_rate_limiter_new)                                                  \
    X(rate_limiter_null, vow_rate_limiter_acquire)                                                 \
    X(rate_limiter_closed, vow_rate_limiter_acquire)                                               \
    X(rate_limiter_acquire_oom, vow_rate_limiter_acquire)                                          \
    X(rate_limiter_waiter_not_settleable, vow_rate_limiter_acquire)                                \
    X(cache_new_bad, vow_cache_new)                                                                \
    X(cache_new_oom, vow_cache_new)                                                                \
    X(cache_null, vow_cache_get)                                                                   \
    X(cache_invalidate_bad_key, vow_cache_invalidate)                                              \
    X(cache_closed, vow_cache_get)                                                                 \
    X(cache_get_oom, vow_cache_get)                                                                \
    X(cache_fn_bad_answer, vow_cache_get)                                                          \
    X(cache_waiter_not_settleable, vow_cache_get)                                                  \
    X(work_misuse, vow_work)                                                                       \
    X(work_oom, vow_work)                                                                          \
    X(remote_misuse, vow_remote_resolve)                                                           \
    X(poster_misuse, vow_post)                                                                     \
    X(thread_promise_not_settleable, vow_work)                                                     \
    X(async_misuse, vow_async)                                                                     \
    X(async_closed, vow_async)                                                                     \
    X(async_oom, vow_async)                                                                        \
    X(await_misuse, vow_await)                                                                     \
    X(rethrow_main_misuse, vow_rethrow)                                                            \
    X(async_gen_misuse, vow_async_gen)                                                             \
    X(async_promise_not_settleable, vow_async)                                                     \
    X(net_value_bytes_not_bytes, vow_value_bytes)                                                  \
    X(net_tcp_connect_misuse, vow_tcp_connect)                                                     \
    X(net_connect_addr_misuse, vow_connect_addr)                                                   \
    X(net_unix_connect_misuse, vow_unix_connect)                                                   \
    X(net_sock_wrap_misuse, vow_sock_wrap)                                                         \
    X(net_sock_read_misuse, vow_sock_read)                                                         \
    X(net_sock_write_misuse, vow_sock_write)                                                       \
    X(net_sock_set_write_limit_misuse, vow_sock_set_write_limit)                                   \
    X(net_sock_shutdown_misuse, vow_sock_shutdown)                                                 \
    X(net_sock_close_misuse, vow_sock_close)                                                       \
    X(net_sock_ref_null, vow_sock_ref)                                                             \
    X(net_sock_fd_misuse, vow_sock_fd)                                                             \
    X(net_sock_stats_misuse, vow_sock_stats)                                                       \
    X(net_sock_after_loop_free, vow_sock_read)                                                     \
    X(net_tcp_listen_misuse, vow_tcp_listen)                                                       \
    X(net_unix_listen_misuse, vow_unix_listen)                                                     \
    X(net_server_misuse, vow_server_accept)                                                        \
    X(net_server_after_loop_free, vow_server_accept)                                               \
    X(set_resolver_misuse, vow_set_resolver)                                                       \
    X(getaddrinfo_misuse, vow_getaddrinfo)                                                         \
    X(getaddrinfo_oom, vow_getaddrinfo)                                                            \
    X(io_fd_misuse, vow_poll_fd)                                                                   \
    X(io_fd_oom, vow_readable)                                                                     \
    X(signal_misuse, vow_signal)                                                                   \
    X(child_exit_misuse, vow_child_exit)

struct misuse_case {
    const char *id, *fn;
    void (*run)(void);
};
#define ENTRY(id, fn) {#id, #fn, case_##id},
static const struct misuse_case cases[] = {MISUSE_TABLE(ENTRY)};
#define INDEX(id, fn) IDX_##id,
enum { MISUSE_TABLE(INDEX) N_CASES };
/* The parameters are indexes, not pointers: Criterion may run each case in a process of
 * its own that maps the binary elsewhere. */
static int indexes[] = {MISUSE_TABLE(INDEX)};

ParameterizedTestParameters(misuse, table) { return cr_make_param_array(int, indexes, N_CASES); }

ParameterizedTest(int *i, misuse, table, .init = vow_test_setup, .fini = vow_test_teardown,
                  .timeout = 20) {
    const struct misuse_case *c = &cases[*i];
    fprintf(stderr, "misuse case %s (%s)\n", c->id, c->fn);
    c->run();
}
