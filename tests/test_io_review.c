/* tests/test_io_review.c - review of issue 17 ("Real I/O"): one Test per defect found in
 * vow/io.h and vow/net.h's implementation. Each Test is named after its defect and FAILS on
 * the code it was written against (main at 014e9e6); it passes once the defect is fixed.
 * Sockets on 127.0.0.1 only, ephemeral ports, every run bounded by a vow_timeout. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define NET_TEST_TIMEOUT_MS 5000 /* every socket wait bounded */
#include "helpers.h"
#include "net_helpers.h"
#include "vow/io.h"
#include "vow/net.h"

TestSuite(io_review, .init = vow_test_setup, .fini = vow_test_teardown, .timeout = 60);

/* ---- DEFECT 1 -------------------------------------------------------------------------------
 * vow_run_main (promise/run.c:92-93) cancels fd, signal and child waiters
 * (vow__io_each_promise) but no socket waiter: a pending vow_sock_read, a write waiting
 * for its buffer, a connect or an accept stream's next. vow/promise.h says "everything
 * still pending that vow keeps the loop alive for is cancelled", and vow/net.h's LIVENESS
 * says a read keeps the loop alive. So a vow_catch_ex(..., VOW_CATCH_CANCELLED) on a
 * socket read never runs (the forced teardown drops it), while the same on vow_readable
 * of the same descriptor does: asyncio.run cancels a task blocked in reader.read(). */
Test(io_review, run_main_does_not_cancel_a_waiting_socket_read) {
    vow_loop_t *loop = vow_test_loop();
    struct pair pr;
    pair_open(loop, "127.0.0.1", &pr);
    int read_code = 0, readable_code = 0;
    vow_t *r =
        vow_catch_ex(vow_sock_read(pr.s, 16), record_code, &read_code, NULL, VOW_CATCH_CANCELLED);
    vow_t *rr = vow_catch_ex(vow_readable(loop, vow_sock_fd(pr.c)), record_code, &readable_code,
                             NULL, VOW_CATCH_CANCELLED);
    vow_outcome_t o;
    VOW_ASSERT_CODE(vow_run_main(loop, vow_sleep(loop, 1), &o), 0);
    vow_outcome_release(&o);
    vow_unref(r);
    vow_unref(rr);
    pair_close(&pr);
    VOW_ASSERT_EQ(vow_test_live_allocs(), 0L);
    VOW_ASSERT_CODE(readable_code, VOW_ECANCELED, "vow_readable's waiter (this works)");
    VOW_ASSERT_CODE(read_code, VOW_ECANCELED, "vow_sock_read's waiter was never cancelled");
}

/* ---- DEFECT 2 -------------------------------------------------------------------------------
 * The accept stream's pull keeps the loop alive after the only next waiting on it was
 * cancelled (promise/net.c srv_update: keep_set(... srv->pull_w != NULL); the pull stays
 * in flight). vow/net.h: "A next waiting on the stream keeps the loop alive" and "an idle
 * open socket or server does not": once the vow_timeout around vow_stream_next expired,
 * nothing waits, yet vow_loop_alive is 1, vow_loop_run(VOW_RUN_DEFAULT) would block until
 * some client connects and vow_loop_close answers VOW_EBUSY. (vow_sock_read's cancel
 * stops its watcher, as the header promises; the accept stream's does not.) */
Test(io_review, a_timed_out_accept_next_keeps_the_loop_alive) {
    vow_loop_t *loop = vow_test_loop();
    vow_server_t *srv;
    VOW_ASSERT_CODE(vow_tcp_listen(loop, "127.0.0.1", 0, NULL, &srv), 0);
    vow_stream_t *conns = vow_server_accept(srv);
    cr_assert_not_null(conns);
    VOW_ASSERT_EQ(vow_loop_alive(loop), 0, "an idle server");
    vow_outcome_t o;
    VOW_ASSERT_CODE(vow_run(loop, vow_timeout(vow_stream_next(conns), 20, 0), &o), 0);
    VOW_ASSERT_STATE(o.state, VOW_REJECTED);
    VOW_ASSERT_CODE(vow_error_code(o.error), VOW_ETIMEDOUT);
    vow_outcome_release(&o);
    int alive = vow_loop_alive(loop);
    int close_rc = vow_loop_close(loop);
    if (close_rc == 0) {
        vow_stream_unref(conns);
        vow_server_close(srv);
    } else { /* clean up for the leak check, then fail */
        vow_stream_unref(conns);
        vow_server_close(srv);
        for (int i = 0; i < 10 && vow_loop_alive(loop); i++) vow_loop_run(loop, VOW_RUN_NOWAIT);
        VOW_ASSERT_CODE(vow_loop_close(loop), 0, "closed once the server is closed");
    }
    VOW_ASSERT_EQ(alive, 0, "nothing waits on the server any more");
    VOW_ASSERT_CODE(close_rc, 0, "vow_loop_close with an idle server");
    VOW_ASSERT_EQ(vow_test_live_allocs(), 0L);
}

/* ---- DEFECT 3 -------------------------------------------------------------------------------
 * A loop that watches SIGCHLD (vow_signal or vow_signal_stream) and then vow_loop_default():
 * libev's default loop starts its own SIGCHLD watcher (childev) and libev aborts ("a
 * signal must not be attached to two different loops"). vow/io.h guards only the other
 * order (src/signal.c:115: VOW_EBUSY once the default loop exists); src/loop.c
 * vow__loop_default does not check src/signal.c's owners[SIGCHLD]. Run in a child
 * process so that the abort is reported as a failure. */
Test(io_review, sigchld_watched_then_the_default_loop_made_aborts) {
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        vow_loop_t *loop;
        if (vow_loop_new(&loop, VOW_BACKEND_AUTO) != 0) _exit(2);
        vow_t *p = vow_signal(loop, SIGCHLD);
        if (p == NULL || vow_state(p) != VOW_PENDING) _exit(3);
        vow_loop_t *dfl = vow_loop_default(); /* NULL would be a fine answer */
        (void)vow_cancel(p);
        vow_unref(p);
        if (dfl != NULL) (void)vow_loop_free(dfl);
        (void)vow_loop_free(loop);
        _exit(0);
    }
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "the process died (signal %d) or failed (exit %d) making the default loop",
              WIFSIGNALED(status) ? WTERMSIG(status) : 0,
              WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

/* ---- DEFECT 4 -------------------------------------------------------------------------------
 * vow_child_exit rejects with VOW_EMFILE (or VOW_ENFILE) when no descriptor is left for
 * the pidfd (src/child.c vow__child_start: `if (fd < 0) return fd;`), which vow/io.h's
 * contract did not name (it does now). Run in a child process whose descriptors are used
 * up; its exit status is the code's negation. */
Test(io_review, child_exit_out_of_descriptors_answers_emfile) {
    pid_t helper = fork();
    cr_assert(helper >= 0);
    if (helper == 0) {
        vow_loop_t *loop;
        if (vow_loop_new(&loop, VOW_BACKEND_AUTO) != 0) _exit(200);
        int fds[2];
        if (pipe(fds) != 0) _exit(201);
        pid_t kid = fork();
        if (kid == 0) vow_test_exit_at_eof(fds, 0);
        close(fds[0]);
        while (dup(0) >= 0) { /* use every descriptor up */
        }
        vow_t *p = vow_child_exit(loop, kid);
        if (p == NULL) _exit(202);
        int code = 0;
        if (vow_state(p) == VOW_REJECTED) {
            vow_outcome_t o;
            (void)vow_run(loop, p, &o);
            code = vow_error_code(o.error);
            vow_outcome_release(&o);
        } else {
            (void)vow_cancel(p);
            vow_unref(p);
        }
        close(fds[1]);
        _exit(code < 0 ? -code : 0);
    }
    int status = 0;
    cr_assert_eq(waitpid(helper, &status, 0), helper);
    cr_assert(WIFEXITED(status), "the helper died");
    int code = -WEXITSTATUS(status);
    cr_assert(code == 0 || code == VOW_EINVAL || code == VOW_ECHILD || code == VOW_ENOTSUP ||
                  code == VOW_EMFILE || code == VOW_ENFILE,
              "vow_child_exit rejected with %s (%d), which vow/io.h does not list",
              vow_err_name(code), code);
}

/* ---- DEFECT 5 -------------------------------------------------------------------------------
 * A stale signal delivery. SIGUSR1 arrives while a vow_signal waits (libev's handler sets
 * its process-wide `pending` flag), and the waiter is cancelled before the loop dispatched
 * it: src/signal.c sig_stop stops the ev_signal, so libev's dispatch (which only clears
 * `pending` for the loop the signal is attached to) skips it, and the flag stays set for
 * good. The next watcher of SIGUSR1, in this loop or another, made long after (here: after
 * five more loop turns), fulfils at the next wake-up of its loop for any signal (here
 * SIGUSR2), though SIGUSR1 was never raised after it existed. vow/io.h: "fulfils ... at the
 * next delivery of signo". */
Test(io_review, a_delivery_caught_before_the_last_waiter_left_fulfils_a_later_waiter) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *p1 = vow_signal(loop, SIGUSR1);
    raise(SIGUSR1);
    VOW_ASSERT_CODE(vow_cancel(p1), 0);
    vow_unref(p1);
    for (int i = 0; i < 5; i++) vow_loop_run(loop, VOW_RUN_NOWAIT);
    vow_t *p2 = vow_signal(loop, SIGUSR1);
    vow_t *p3 = vow_signal(loop, SIGUSR2);
    raise(SIGUSR2);
    vow_outcome_t o;
    VOW_ASSERT_CODE(vow_run(loop, vow_timeout(p3, 3000, 0), &o), 0);
    vow_outcome_release(&o);
    for (int i = 0; i < 5; i++) vow_loop_run(loop, VOW_RUN_NOWAIT);
    int st = vow_state(p2);
    if (st == VOW_PENDING) (void)vow_cancel(p2);
    vow_unref(p2);
    VOW_ASSERT_STATE(st, VOW_PENDING, "SIGUSR1 was raised before p2 existed");
    VOW_TEST_END(loop);
}
