/* tests/test_wrap_drain.c - an application that owns its libev loop and uses vow through
 * vow_loop_wrap: where the reactions of a promise settled from the application's own
 * watcher callback run, with and without vow_loop_drain (vow/loop.h): right after that
 * callback, before the next one, as Node drains its microtasks after every callback.
 * Two ev_io watchers on two pipes are ready in the same iteration; the first callback
 * resolves a promise. */
#include <criterion/criterion.h>
#include <ev.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

TestSuite(wrap_drain, .init = vow_test_setup, .fini = vow_test_teardown, .timeout = 30);

static char order[16];
static size_t n_order;
static void mark(char c) {
    cr_assert_lt(n_order, sizeof order - 1);
    order[n_order++] = c;
}

struct app {
    vow_loop_t *vow;
    vow_t *p; /* settled from the first watcher */
    int drain;
    ev_io a, b;
    int fds_a[2], fds_b[2];
};

static vow_result_t reaction(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)v, (void)ctx;
    mark('R');
    return vow_ok_none();
}

/* Whichever watcher libev calls first settles the promise; the other only records. */
static void io_cb(struct ev_loop *evl, ev_io *w, int revents) {
    (void)revents;
    struct app *app = w->data;
    char c;
    cr_assert_eq(read(w->fd, &c, 1), 1);
    ev_io_stop(evl, w);
    if (app->p != NULL) {
        mark('1');
        VOW_ASSERT_CODE(vow_resolve(app->p, vow_none()), 0);
        vow_unref(app->p);
        app->p = NULL;
        if (app->drain) VOW_ASSERT_CODE(vow_loop_drain(app->vow), 0);
    } else {
        mark('2');
    }
}

static void run_app(int drain) {
    struct app app = {.drain = drain};
    struct ev_loop *evl = ev_loop_new(EVFLAG_AUTO);
    cr_assert_not_null(evl);
    VOW_ASSERT_CODE(vow_loop_wrap(&app.vow, evl), 0);
    app.p = vow_new(app.vow);
    vow_unref(vow_then_ok(vow_ref(app.p), reaction, NULL));
    cr_assert_eq(pipe(app.fds_a), 0);
    cr_assert_eq(pipe(app.fds_b), 0);
    ev_io_init(&app.a, io_cb, app.fds_a[0], EV_READ);
    ev_io_init(&app.b, io_cb, app.fds_b[0], EV_READ);
    app.a.data = app.b.data = &app;
    ev_io_start(evl, &app.a);
    ev_io_start(evl, &app.b);
    /* Both readable before the loop polls: one iteration sees both. */
    cr_assert_eq(write(app.fds_a[1], "x", 1), 1);
    cr_assert_eq(write(app.fds_b[1], "y", 1), 1);
    ev_run(evl, 0); /* the application's own run: ends when both watchers stopped */
    order[n_order] = '\0';
    VOW_ASSERT_CODE(vow_loop_close(app.vow), 0);
    ev_loop_destroy(evl);
    for (int i = 0; i < 2; i++) {
        close(app.fds_a[i]);
        close(app.fds_b[i]);
    }
    VOW_ASSERT_EQ(vow_test_live_allocs(), 0L);
}

Test(wrap_drain, vow_loop_drain_at_the_end_of_a_callback_runs_its_reactions_before_the_next) {
    run_app(1);
    VOW_ASSERT_STR_EQ(order, "1R2", "Node's order: the reaction runs right after its callback");
}

Test(wrap_drain, without_it_the_reactions_run_before_the_next_callback_too) {
    /* vow feeds its drain watcher when the callback queues the reaction: libev calls it
     * next (src/loop.c, drain_cb). */
    run_app(0);
    VOW_ASSERT_STR_EQ(order, "1R2", "Node's order: the reaction runs right after its callback");
}
