/* adopt_libev - an application that owns its libev loop adopts vow, one function at a time.
 *
 * The application makes its loop (ev_loop_new), starts its own watchers and runs it
 * itself (ev_run), as it did before vow. vow_loop_wrap puts vow on that loop without
 * taking it over: vow's timers are libev watchers on it, its queued reactions run after
 * each of vow's own callbacks and once per iteration, and the application's ev_run drives
 * everything. Here:
 *
 *   - the application's ev_timer (10 ms) writes a message into each of two pipes;
 *   - its ev_io watcher on pipe 1 resolves a promise (vow_new + vow_resolve), whose
 *     vow_then_ok reaction prints the message;
 *   - its ev_io watcher on pipe 2 only prints: it is the next callback of the same libev
 *     iteration, to show where the reaction runs;
 *   - a request nobody answers is a vow_new promise under vow_timeout (50 ms): the
 *     timeout cancels it (its cancel callback runs) and rejects with VOW_ETIMEDOUT.
 *
 * ev_run returns when no watcher is left (vow's own bookkeeping watchers do not count),
 * then vow_loop_close (vow's watchers stopped; the ev_loop stays the application's) and
 * ev_loop_destroy. No Python counterpart: examples/check.py runs it, and it must exit 0.
 *
 * Links libev itself (examples/CMakeLists.txt: vow::libev; by hand: -lev). */
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vow.h"

typedef struct {
    vow_loop_t *vow;
    vow_t *greeting; /* resolved from the pipe 1 callback; our reference until then */
    int pipe1[2], pipe2[2];
    ev_timer writer;
    ev_io reader1, reader2;
} app_t;

static void fail(const char *what, int rc) {
    fprintf(stderr, "adopt_libev: %s: %s\n", what, rc < 0 ? vow_strerror(rc) : "failed");
    exit(1);
}

/* ---- vow's side: reactions ------------------------------------------------------------ */
static vow_result_t print_greeting(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop, (void)ctx;
    printf("  vow reaction: the greeting is \"%s\"\n", (const char *)vow_value_ptr(v));
    return vow_ok_none();
}

static void request_cancelled(vow_loop_t *loop, void *ctx) {
    (void)loop, (void)ctx;
    printf("  vow: the unanswered request is cancelled by its timeout\n");
}

static vow_result_t request_timed_out(vow_loop_t *loop, vow_error_t *err, void *ctx) {
    (void)loop, (void)ctx;
    printf("  vow reaction: no answer within 50 ms: %s\n", vow_err_name(vow_error_code(err)));
    return vow_ok_none();
}

/* ---- the application's side: its own libev callbacks ---------------------------------- */
static void writer_cb(struct ev_loop *evl, ev_timer *w, int revents) {
    (void)evl, (void)revents;
    app_t *app = w->data;
    printf("app ev_timer: writes \"hello\" into pipe 1 and \"tick\" into pipe 2\n");
    if (write(app->pipe1[1], "hello", 5) != 5 || write(app->pipe2[1], "tick", 4) != 4)
        fail("write", 0);
}

static void reader1_cb(struct ev_loop *evl, ev_io *w, int revents) {
    (void)revents;
    app_t *app = w->data;
    char buf[32];
    ssize_t n = read(w->fd, buf, sizeof buf - 1);
    if (n <= 0) fail("read", 0);
    buf[n] = '\0';
    ev_io_stop(evl, w);
    printf("app ev_io (pipe 1): read \"%s\", resolves the promise\n", buf);
    char *text = strdup(buf);
    if (text == NULL) fail("strdup", 0);
    int rc = vow_resolve(app->greeting, vow_ptr(text, free)); /* the promise owns text */
    if (rc != 0) fail("vow_resolve", rc);
    vow_unref(app->greeting);
    app->greeting = NULL;
    /* The resolve only queued the reaction. It runs as soon as this callback returns,
     * before reader2_cb, as Node runs a callback's microtasks: vow fed libev a watcher of
     * its own when the reaction was queued, and libev calls it next. */
}

static void reader2_cb(struct ev_loop *evl, ev_io *w, int revents) {
    (void)revents;
    char buf[32];
    ssize_t n = read(w->fd, buf, sizeof buf - 1);
    if (n <= 0) fail("read", 0);
    buf[n] = '\0';
    ev_io_stop(evl, w);
    printf("app ev_io (pipe 2): read \"%s\", the next callback of the same iteration\n", buf);
}

int main(void) {
    app_t app = {0};
    struct ev_loop *evl = ev_loop_new(EVFLAG_AUTO); /* the application's own loop */
    if (evl == NULL) fail("ev_loop_new", 0);
    int rc = vow_loop_wrap(&app.vow, evl);
    if (rc != 0) fail("vow_loop_wrap", rc);
    if (pipe(app.pipe1) != 0 || pipe(app.pipe2) != 0) fail("pipe", 0);

    /* Its watchers. Pipe 1's has the higher priority, so when both pipes are readable in
     * one iteration libev calls it first (the order the output shows). */
    ev_timer_init(&app.writer, writer_cb, 0.010, 0.);
    ev_io_init(&app.reader1, reader1_cb, app.pipe1[0], EV_READ);
    ev_io_init(&app.reader2, reader2_cb, app.pipe2[0], EV_READ);
    ev_set_priority(&app.reader1, 1);
    app.writer.data = app.reader1.data = app.reader2.data = &app;
    ev_timer_start(evl, &app.writer);
    ev_io_start(evl, &app.reader1);
    ev_io_start(evl, &app.reader2);

    /* vow's side. The derived promises are not needed: dropping them cancels nothing. */
    app.greeting = vow_new(app.vow);
    vow_unref(vow_then_ok(vow_ref(app.greeting), print_greeting, NULL));
    vow_t *request = vow_new(app.vow); /* a request nobody will answer */
    if (app.greeting == NULL || request == NULL) fail("vow_new", VOW_ENOMEM);
    rc = vow_on_cancel(request, request_cancelled, NULL, NULL);
    if (rc != 0) fail("vow_on_cancel", rc);
    vow_unref(vow_catch(vow_timeout(request, 50, 0), request_timed_out, NULL, NULL));

    printf("app: ev_run (its own loop, wrapped by vow)\n");
    ev_run(evl, 0); /* returns when no watcher is left: vow's 50 ms timer counts */
    printf("app: ev_run returned\n");

    rc = vow_loop_close(app.vow); /* stops vow's watchers; evl stays the application's */
    if (rc != 0) fail("vow_loop_close", rc);
    ev_loop_destroy(evl);
    for (int i = 0; i < 2; i++) {
        close(app.pipe1[i]);
        close(app.pipe2[i]);
    }
    return 0;
}
