/* tests/test_io.c - vow/io.h: fd readiness (pipes, socketpairs; several waiters on one fd
 * share one watcher; cancel and timeout stop it; an fd closed under a waiter), signals (a
 * delivery settles vow_signal; a stream's deliveries, drops and close; one loop per signal
 * in the process), child exits (pidfd, and libev's child watcher on the default loop),
 * teardown with waiters pending, vow_run_main's exit, a coroutine awaiting an fd, and the
 * out-of-memory sweep over the new allocations. Signals are raised in the test's own
 * process (each Criterion test runs in a process of its own) only while vow watches them. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ev.h>

#include "../src/io.h"
#include "helpers.h"

TestSuite(io, .init = vow_test_setup, .fini = vow_test_teardown, .timeout = 30);

/* ---- helpers -------------------------------------------------------------------------- */

static void make_pipe(int fds[2]) {
    cr_assert_eq(pipe(fds), 0);
    for (int i = 0; i < 2; i++) cr_assert_eq(fcntl(fds[i], F_SETFL, O_NONBLOCK), 0);
}

static void make_socketpair(int fds[2]) {
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
}

static void put_byte(int fd, char c) { cr_assert_eq(write(fd, &c, 1), 1); }

/* Runs p (consumed) to its outcome; the outcome must be `state`. */
static vow_outcome_t run_to(vow_loop_t *loop, vow_t *p, vow_state_t state) {
    cr_assert_not_null(p);
    vow_outcome_t o;
    VOW_ASSERT_CODE(vow_run(loop, p, &o), 0);
    VOW_ASSERT_STATE(o.state, state);
    return o;
}

static int64_t run_int(vow_loop_t *loop, vow_t *p) {
    vow_outcome_t o = run_to(loop, p, VOW_FULFILLED);
    int64_t v = vow_value_int(&o.value);
    vow_outcome_release(&o);
    return v;
}

static int run_code(vow_loop_t *loop, vow_t *p) {
    vow_outcome_t o = run_to(loop, p, VOW_REJECTED);
    int code = vow_error_code(o.error);
    vow_outcome_release(&o);
    return code;
}

/* Waiters on fd, and the events its watcher watches (0: stopped). */
static int waiters(vow_loop_t *loop, int fd, int *active) {
    return (int)vow__io_waiters(loop, fd, active);
}

/* pidfd_open works here (not under valgrind, which does not know the system call: vow then
 * answers VOW_ENOTSUP off the default loop, as the header says for a system without it). */
static int have_pidfd(void) {
    long fd = syscall(SYS_pidfd_open, getpid(), 0);
    if (fd < 0) return 0;
    close((int)fd);
    return 1;
}

/* libev's count of active, ref'd watchers: 0 once vow's are all stopped or unref'd (the
 * registry's reference balance: start, unref, and libev's own stop on a bad fd). */
static int libev_active(vow_loop_t *loop) { return ev_run(vow_loop_ev(loop), EVRUN_NOWAIT); }

static int disposition_is_default(int signo) {
    struct sigaction sa;
    cr_assert_eq(sigaction(signo, NULL, &sa), 0);
    return sa.sa_handler == SIG_DFL;
}

/* ---- fd readiness ------------------------------------------------------------------------ */

Test(io, readable_on_a_pipe_fulfils_once_data_arrives) {
    vow_loop_t *loop = vow_test_loop();
    int fds[2];
    make_pipe(fds);
    vow_t *p = vow_readable(loop, fds[0]);
    vow_loop_run(loop, VOW_RUN_NOWAIT);
    VOW_ASSERT_STATE(vow_state(p), VOW_PENDING, "nothing to read yet");
    VOW_ASSERT_EQ(vow_loop_alive(loop), 1, "the waiter keeps the loop alive");
    put_byte(fds[1], 'x');
    VOW_ASSERT_EQ(run_int(loop, p), (int64_t)VOW_READABLE);
    int active = -1;
    VOW_ASSERT_EQ(waiters(loop, fds[0], &active), 0);
    VOW_ASSERT_EQ(active, 0, "the watcher stopped with its last waiter");
    VOW_ASSERT_EQ(vow_loop_alive(loop), 0);
    close(fds[0]), close(fds[1]);
    VOW_TEST_END(loop);
}

Test(io, writable_and_poll_fd_on_a_socketpair) {
    vow_loop_t *loop = vow_test_loop();
    int sv[2];
    make_socketpair(sv);
    VOW_ASSERT_EQ(run_int(loop, vow_writable(loop, sv[0])), (int64_t)VOW_WRITABLE);
    /* Both asked for, only write ready: the value says which. */
    VOW_ASSERT_EQ(run_int(loop, vow_poll_fd(loop, sv[0], VOW_READABLE | VOW_WRITABLE)),
                  (int64_t)VOW_WRITABLE);
    put_byte(sv[1], 'y');
    VOW_ASSERT_EQ(run_int(loop, vow_poll_fd(loop, sv[0], VOW_READABLE | VOW_WRITABLE)),
                  (int64_t)(VOW_READABLE | VOW_WRITABLE));
    VOW_ASSERT_EQ(run_int(loop, vow_readable(loop, sv[0])), (int64_t)VOW_READABLE);
    close(sv[0]), close(sv[1]);
    VOW_TEST_END(loop);
}

Test(io, several_waiters_share_one_watcher_and_a_cancelled_one_leaves_the_others) {
    vow_loop_t *loop = vow_test_loop();
    int sv[2];
    make_socketpair(sv);
    /* Fill the send buffer so that sv[0] is not writable. */
    char buf[4096] = {0};
    while (write(sv[0], buf, sizeof buf) > 0) {
    }
    vow_t *r1 = vow_readable(loop, sv[0]);
    vow_t *r2 = vow_readable(loop, sv[0]);
    vow_t *w1 = vow_writable(loop, sv[0]);
    int active = 0;
    VOW_ASSERT_EQ(waiters(loop, sv[0], &active), 3, "three waiters on one record");
    VOW_ASSERT_EQ(active, VOW_READABLE | VOW_WRITABLE, "its watcher watches the union");
    VOW_ASSERT_EQ(vow_loop_alive(loop), 3);
    vow_loop_run(loop, VOW_RUN_NOWAIT);
    VOW_ASSERT_STATE(vow_state(r1), VOW_PENDING);
    VOW_ASSERT_STATE(vow_state(w1), VOW_PENDING);
    /* One readable waiter cancelled: the other still waits, the watcher still runs. */
    VOW_ASSERT_CODE(vow_cancel(r1), 0);
    VOW_ASSERT_EQ(waiters(loop, sv[0], &active), 2);
    VOW_ASSERT_EQ(active, VOW_READABLE | VOW_WRITABLE);
    put_byte(sv[1], 'z');
    VOW_ASSERT_EQ(run_int(loop, vow_ref(r2)), (int64_t)VOW_READABLE);
    VOW_ASSERT_STATE(vow_state(w1), VOW_PENDING, "the writer still waits");
    VOW_ASSERT_EQ(waiters(loop, sv[0], &active), 1);
    VOW_ASSERT_EQ(active, VOW_WRITABLE, "the readers are gone: write only");
    /* Drain the peer: sv[0] becomes writable. */
    while (read(sv[1], buf, sizeof buf) > 0) {
    }
    VOW_ASSERT_EQ(run_int(loop, vow_ref(w1)), (int64_t)VOW_WRITABLE);
    VOW_ASSERT_EQ(waiters(loop, sv[0], &active), 0);
    VOW_ASSERT_EQ(active, 0);
    VOW_ASSERT_CODE(vow_error_code(vow_error(r1)), VOW_ECANCELED);
    vow_unref(r1), vow_unref(r2), vow_unref(w1);
    close(sv[0]), close(sv[1]);
    VOW_TEST_END(loop);
}

Test(io, cancel_stops_the_watcher_and_the_loop_returns) {
    vow_loop_t *loop = vow_test_loop();
    int fds[2];
    make_pipe(fds);
    vow_t *p = vow_readable(loop, fds[0]);
    int active = 0;
    VOW_ASSERT_EQ(waiters(loop, fds[0], &active), 1);
    VOW_ASSERT_EQ(active, VOW_READABLE);
    VOW_ASSERT_CODE(vow_cancel(p), 0);
    VOW_ASSERT_EQ(waiters(loop, fds[0], &active), 0);
    VOW_ASSERT_EQ(active, 0);
    VOW_ASSERT_EQ(vow_loop_alive(loop), 0);
    VOW_ASSERT_EQ(vow_loop_run(loop, VOW_RUN_DEFAULT), 0, "nothing keeps the loop running");
    VOW_ASSERT_EQ(libev_active(loop), 0);
    /* Dropping the last reference without cancelling does not stop it (as a timer). */
    vow_unref(p);
    vow_unref(vow_readable(loop, fds[0]));
    VOW_ASSERT_EQ(vow_loop_alive(loop), 1);
    put_byte(fds[1], 'a');
    VOW_ASSERT_EQ(vow_loop_run(loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(waiters(loop, fds[0], &active), 0);
    close(fds[0]), close(fds[1]);
    VOW_TEST_END(loop);
}

Test(io, a_timeout_around_readable_cancels_the_waiter) {
    vow_loop_t *loop = vow_test_loop();
    int fds[2];
    make_pipe(fds);
    VOW_ASSERT_CODE(run_code(loop, vow_timeout(vow_readable(loop, fds[0]), 10, 0)), VOW_ETIMEDOUT);
    int active = 1;
    VOW_ASSERT_EQ(waiters(loop, fds[0], &active), 0);
    VOW_ASSERT_EQ(active, 0);
    VOW_ASSERT_EQ(vow_loop_alive(loop), 0);
    /* The data wins when it is there first. */
    put_byte(fds[1], 'b');
    VOW_ASSERT_EQ(run_int(loop, vow_timeout(vow_readable(loop, fds[0]), 10000, 0)),
                  (int64_t)VOW_READABLE);
    close(fds[0]), close(fds[1]);
    VOW_TEST_END(loop);
}

/* An fd closed under its waiters. select reports it (EBADF): every waiter of the fd rejects
 * with VOW_EBADF. epoll cannot (the kernel drops a closed fd from the epoll set without a
 * word): the waiters wait on until cancelled, here by a timeout. poll sees POLLNVAL, and
 * libev's poll backend asserts on it ("libev: poll found invalid fd in poll set"): the
 * process aborts, in a child here. The contract stays "cancel first, then close". */
static void closed_under_waiters(vow_loop_t *loop) {
    int fds[2];
    make_pipe(fds);
    unsigned backend = vow_loop_backend(loop);
    uint64_t ms = backend == VOW_BACKEND_EPOLL ? 20 : 10000;
    int want = backend == VOW_BACKEND_EPOLL ? VOW_ETIMEDOUT : VOW_EBADF;
    vow_set_unhandled_mode(loop, VOW_UNHANDLED_SILENT); /* b settles while a is run */
    vow_t *a = vow_timeout(vow_readable(loop, fds[0]), ms, 0);
    vow_t *b = vow_timeout(vow_readable(loop, fds[0]), ms, 0);
    vow_loop_run(loop, VOW_RUN_NOWAIT); /* the backend knows the fd */
    close(fds[0]);
    VOW_ASSERT_CODE(run_code(loop, a), want);
    VOW_ASSERT_CODE(run_code(loop, b), want);
    VOW_ASSERT_EQ(vow_loop_alive(loop), 0);
    VOW_ASSERT_EQ(libev_active(loop), 0);
    int active = 1;
    VOW_ASSERT_EQ(waiters(loop, fds[0], &active), 0);
    VOW_ASSERT_EQ(active, 0);
    /* The fd number comes back for another pipe: its waiter works. */
    int again[2];
    make_pipe(again);
    put_byte(again[1], 'c');
    VOW_ASSERT_EQ(run_int(loop, vow_readable(loop, again[0])), (int64_t)VOW_READABLE);
    close(again[0]), close(again[1]), close(fds[1]);
}

Test(io, an_fd_closed_under_its_waiters) {
    vow_loop_t *loop = vow_test_loop();
    if (vow_loop_backend(loop) != VOW_BACKEND_POLL) {
        closed_under_waiters(loop);
        VOW_TEST_END(loop);
        return;
    }
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 2); /* libev's assertion message */
        closed_under_waiters(loop);
        _exit(0);
    }
    int status = 0;
    VOW_ASSERT_EQ(waitpid(pid, &status, 0), pid);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
              "libev's poll backend aborts (status %#x)", status);
    VOW_TEST_END(loop);
}

Test(io, bad_arguments_reject_with_einval) {
    vow_loop_t *loop = vow_test_loop();
    VOW_ASSERT_CODE(run_code(loop, vow_readable(loop, -1)), VOW_EINVAL);
    VOW_ASSERT_CODE(run_code(loop, vow_poll_fd(loop, 0, 0)), VOW_EINVAL);
    VOW_ASSERT_CODE(run_code(loop, vow_poll_fd(loop, 0, 4)), VOW_EINVAL);
    VOW_ASSERT_EQ(vow_readable(NULL, 0), NULL);
    VOW_TEST_END(loop);
}

/* vow_await(vow_readable(...)) in a coroutine. */
static int coro_fd;
static vow_result_t read_when_ready(vow_loop_t *loop, void *arg) {
    (void)loop, (void)arg;
    vow_outcome_t o;
    int rc = vow_await(vow_readable(loop, coro_fd), &o);
    if (rc != 0) return vow_fail(o.error); /* (moved out) */
    int64_t ev = vow_value_int(&o.value);
    vow_outcome_release(&o);
    char c = 0;
    if (read(coro_fd, &c, 1) != 1) return vow_fail_code(VOW_EUSER, "read");
    return vow_ok(vow_int(ev * 1000 + c));
}

Test(io, a_coroutine_awaits_readable) {
    vow_loop_t *loop = vow_test_loop();
    int fds[2];
    make_pipe(fds);
    coro_fd = fds[0];
    vow_t *p = vow_async(loop, read_when_ready, NULL, NULL);
    VOW_ASSERT_STATE(vow_state(p), VOW_PENDING, "suspended in its await");
    put_byte(fds[1], 'q');
    VOW_ASSERT_EQ(run_int(loop, p), (int64_t)(VOW_READABLE * 1000 + 'q'));
    close(fds[0]), close(fds[1]);
    VOW_TEST_END(loop);
}

/* ---- signals ---------------------------------------------------------------------------- */

Test(io, a_signal_sent_to_the_process_settles_vow_signal) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *p = vow_signal(loop, SIGUSR1);
    VOW_ASSERT_STATE(vow_state(p), VOW_PENDING);
    VOW_ASSERT_EQ(vow__signal_owner(SIGUSR1), loop);
    VOW_ASSERT_EQ(vow_loop_alive(loop), 1);
    cr_assert_eq(kill(getpid(), SIGUSR1), 0); /* to the process; libev's handler catches it */
    VOW_ASSERT_EQ(run_int(loop, p), (int64_t)SIGUSR1);
    VOW_ASSERT_EQ(vow__signal_owner(SIGUSR1), NULL, "the last waiter gave the signal back");
    cr_assert(disposition_is_default(SIGUSR1), "SIG_DFL again");
    VOW_ASSERT_EQ(vow_loop_alive(loop), 0);
    /* Cancelled: the watcher stops too. */
    p = vow_signal(loop, SIGUSR1);
    VOW_ASSERT_CODE(vow_cancel(p), 0);
    vow_unref(p);
    VOW_ASSERT_EQ(vow__signal_owner(SIGUSR1), NULL);
    VOW_ASSERT_EQ(vow_loop_alive(loop), 0);
    VOW_TEST_END(loop);
}

Test(io, uncatchable_signals_reject_with_einval) {
    vow_loop_t *loop = vow_test_loop();
    int bad[] = {0, -1, SIGKILL, SIGSTOP, NSIG, 100000};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        VOW_ASSERT_CODE(run_code(loop, vow_signal(loop, bad[i])), VOW_EINVAL, "signo %d", bad[i]);
        VOW_ASSERT_EQ(vow_signal_stream(loop, bad[i], 1), NULL, "signo %d", bad[i]);
    }
    VOW_TEST_END(loop);
}

/* Settles once the loop has dispatched a delivery of signo (a second waiter on the same
 * watcher), so a test knows the stream has seen it. */
static void deliver(vow_loop_t *loop, int signo) {
    vow_t *p = vow_signal(loop, signo);
    cr_assert_eq(raise(signo), 0);
    VOW_ASSERT_EQ(run_int(loop, p), (int64_t)signo);
}

Test(io, a_signal_stream_gets_two_deliveries_drops_past_its_buffer_and_closes) {
    vow_loop_t *loop = vow_test_loop();
    vow_stream_t *s = vow_signal_stream(loop, SIGUSR2, 1);
    cr_assert_not_null(s);
    VOW_ASSERT_EQ(vow_loop_alive(loop), 1, "an open stream keeps the loop alive");
    deliver(loop, SIGUSR2);
    deliver(loop, SIGUSR2); /* the buffer holds one: dropped */
    VOW_ASSERT_EQ(run_int(loop, vow_stream_next(s)), (int64_t)SIGUSR2);
    vow_t *n = vow_stream_next(s);
    vow_loop_run(loop, VOW_RUN_NOWAIT);
    VOW_ASSERT_STATE(vow_state(n), VOW_PENDING, "the second delivery was dropped");
    deliver(loop, SIGUSR2);
    VOW_ASSERT_EQ(run_int(loop, n), (int64_t)SIGUSR2, "the next delivery");
    VOW_ASSERT_EQ(vow__signal_owner(SIGUSR2), loop);
    VOW_ASSERT_CODE(vow_stream_close(s), 0);
    VOW_ASSERT_EQ(vow__signal_owner(SIGUSR2), NULL);
    cr_assert(disposition_is_default(SIGUSR2));
    VOW_ASSERT_EQ(vow_loop_alive(loop), 0);
    vow_outcome_t o = run_to(loop, vow_stream_next(s), VOW_FULFILLED);
    cr_assert(vow_stream_is_end(&o.value));
    vow_outcome_release(&o);
    vow_stream_unref(s);
    /* Dropping the last reference closes it too. */
    s = vow_signal_stream(loop, SIGUSR2, 4);
    VOW_ASSERT_EQ(vow__signal_owner(SIGUSR2), loop);
    vow_stream_unref(s);
    VOW_ASSERT_EQ(vow__signal_owner(SIGUSR2), NULL);
    VOW_TEST_END(loop);
}

struct other_loop {
    int signal_code; /* vow_signal's rejection on the other loop */
    int stream_null; /* vow_signal_stream answered NULL */
    int later_state; /* vow_signal once the first loop gave the signal back */
    int later_owner; /* the other loop owned it then */
};

static void *try_on_another_loop(void *arg) {
    struct other_loop *r = arg;
    vow_loop_t *l = NULL;
    if (vow_loop_new(&l, VOW_BACKEND_AUTO) != 0) return NULL;
    vow_t *p = vow_signal(l, SIGUSR1);
    r->signal_code = vow_state(p) == VOW_REJECTED ? vow_error_code(vow_error(p)) : 0;
    vow_unref(p);
    vow_stream_t *s = vow_signal_stream(l, SIGUSR1, 1);
    r->stream_null = s == NULL;
    vow_stream_unref(s);
    vow_loop_free(l);
    return NULL;
}

static void *take_after_release(void *arg) {
    struct other_loop *r = arg;
    vow_loop_t *l = NULL;
    if (vow_loop_new(&l, VOW_BACKEND_AUTO) != 0) return NULL;
    vow_t *p = vow_signal(l, SIGUSR1);
    r->later_state = (int)vow_state(p);
    r->later_owner = vow__signal_owner(SIGUSR1) == l;
    vow_loop_free(l); /* gives it back */
    vow_unref(p);
    return NULL;
}

Test(io, a_second_loop_gets_ebusy_for_a_watched_signal) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *p = vow_signal(loop, SIGUSR1);
    struct other_loop r = {0, 0, -1, 0};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, try_on_another_loop, &r), 0);
    pthread_join(t, NULL);
    VOW_ASSERT_CODE(r.signal_code, VOW_EBUSY);
    VOW_ASSERT_EQ(r.stream_null, 1);
    VOW_ASSERT_EQ(vow__signal_owner(SIGUSR1), loop, "still ours");
    VOW_ASSERT_CODE(vow_cancel(p), 0);
    vow_unref(p);
    cr_assert_eq(pthread_create(&t, NULL, take_after_release, &r), 0);
    pthread_join(t, NULL);
    VOW_ASSERT_EQ(r.later_state, (int)VOW_PENDING, "free for another loop now");
    VOW_ASSERT_EQ(r.later_owner, 1);
    VOW_ASSERT_EQ(vow__signal_owner(SIGUSR1), NULL, "its teardown gave it back");
    VOW_TEST_END(loop);
}

static pid_t spawn_exit(int code);

Test(io, sigchld_belongs_to_the_default_loop_once_it_exists) {
    vow_loop_t *loop = vow_test_loop();
    vow_t *p = vow_signal(loop, SIGCHLD);
    VOW_ASSERT_STATE(vow_state(p), VOW_PENDING, "no libev default loop yet");
    VOW_ASSERT_CODE(vow_cancel(p), 0);
    vow_unref(p);
    vow_loop_t *dfl = vow_loop_default();
    cr_assert_not_null(dfl);
    VOW_ASSERT_CODE(run_code(loop, vow_signal(loop, SIGCHLD)), VOW_EBUSY);
    p = vow_signal(dfl, SIGCHLD);
    pid_t pid = spawn_exit(0);
    VOW_ASSERT_EQ(run_int(dfl, p), (int64_t)SIGCHLD);
    int status;
    waitpid(pid, &status, 0); /* (libev's handler may have reaped it) */
    cr_assert_eq(vow_loop_verify(dfl), 0);
    VOW_ASSERT_CODE(vow_loop_close(dfl), 0);
    VOW_TEST_END(loop);
}

/* ---- child processes --------------------------------------------------------------------- */

static pid_t spawn_exit(int code) {
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) _exit(code);
    return pid;
}

/* A child that exits when `fd` (a pipe's read end) sees end of file. */
static pid_t spawn_waiting(int fds[2]) {
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) vow_test_exit_at_eof(fds, 3);
    close(fds[0]);
    return pid;
}

static void child_scenarios(vow_loop_t *loop) {
    pid_t pid = spawn_exit(7);
    int64_t st = run_int(loop, vow_child_exit(loop, pid));
    cr_assert(WIFEXITED((int)st));
    VOW_ASSERT_EQ(WEXITSTATUS((int)st), 7);
    VOW_ASSERT_EQ(vow_loop_alive(loop), 0);
    /* Reaped: a second wait is ECHILD; so is a process that is not our child. */
    VOW_ASSERT_CODE(run_code(loop, vow_child_exit(loop, pid)), VOW_ECHILD);
    VOW_ASSERT_CODE(run_code(loop, vow_child_exit(loop, getppid())), VOW_ECHILD);
    VOW_ASSERT_CODE(run_code(loop, vow_child_exit(loop, 0)), VOW_EINVAL);
    /* Exited before the call: fulfilled at once. */
    pid = spawn_exit(9);
    siginfo_t si;
    cr_assert_eq(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0);
    vow_t *p = vow_child_exit(loop, pid);
    VOW_ASSERT_STATE(vow_state(p), VOW_FULFILLED);
    VOW_ASSERT_EQ(WEXITSTATUS((int)run_int(loop, p)), 9);
    /* Cancelled: the child is left unreaped. */
    int fds[2];
    pid = spawn_waiting(fds);
    p = vow_child_exit(loop, pid);
    VOW_ASSERT_EQ(vow_loop_alive(loop), 1);
    VOW_ASSERT_CODE(vow_cancel(p), 0);
    vow_unref(p);
    VOW_ASSERT_EQ(vow_loop_alive(loop), 0);
    close(fds[1]);
    int status = 0;
    VOW_ASSERT_EQ(waitpid(pid, &status, 0), pid, "still ours to reap");
    VOW_ASSERT_EQ(WEXITSTATUS(status), 3);
}

Test(io, child_exit_status_through_a_pidfd) {
    vow_loop_t *loop = vow_test_loop();
    if (have_pidfd()) {
        child_scenarios(loop);
    } else {
        pid_t pid = spawn_exit(7);
        VOW_ASSERT_CODE(run_code(loop, vow_child_exit(loop, pid)), VOW_ENOTSUP);
        int status;
        VOW_ASSERT_EQ(waitpid(pid, &status, 0), pid);
    }
    VOW_TEST_END(loop);
}

/* libev's default loop reaps every child itself (its SIGCHLD handler): vow waits there
 * with libev's ev_child. */
Test(io, child_exit_status_on_the_default_loop) {
    vow_loop_t *loop = vow_loop_default();
    cr_assert_not_null(loop);
    child_scenarios(loop);
    VOW_TEST_END(loop);
}

Test(io, child_exit_without_pidfd_off_the_default_loop_is_enotsup) {
    vow_loop_t *loop = vow_test_loop();
    vow__child_force_evchild(1);
    /* A child still running: one that exited already would be reaped at once, before the
     * means of waiting is chosen (and that raced here). */
    int cfds[2];
    pid_t pid = spawn_waiting(cfds);
    VOW_ASSERT_CODE(run_code(loop, vow_child_exit(loop, pid)), VOW_ENOTSUP);
    vow__child_force_evchild(0);
    close(cfds[1]);
    int status;
    VOW_ASSERT_EQ(waitpid(pid, &status, 0), pid);
    VOW_TEST_END(loop);
}

/* ---- teardown ---------------------------------------------------------------------------- */

Test(io, teardown_with_waiters_pending) {
    vow_loop_t *loop = vow_test_loop();
    int fds[2], cfds[2];
    make_pipe(fds);
    pid_t pid = spawn_waiting(cfds);
    vow_t *r = vow_readable(loop, fds[0]);
    vow_t *w = vow_readable(loop, fds[0]);
    vow_t *sg = vow_signal(loop, SIGUSR1);
    vow_stream_t *s = vow_signal_stream(loop, SIGUSR2, 2);
    vow_t *c = have_pidfd() ? vow_child_exit(loop, pid) : vow_sleep(loop, 100000);
    VOW_ASSERT_EQ(vow_loop_alive(loop), 5);
    VOW_ASSERT_CODE(vow_loop_close(loop), VOW_EBUSY);
    cr_assert_eq(vow_loop_verify(loop), 0);
    VOW_ASSERT_CODE(vow_loop_free(loop), 0);
    VOW_ASSERT_EQ(vow__signal_owner(SIGUSR1), NULL);
    VOW_ASSERT_EQ(vow__signal_owner(SIGUSR2), NULL);
    cr_assert(disposition_is_default(SIGUSR1) && disposition_is_default(SIGUSR2));
    VOW_ASSERT_EQ(vow_stream_next(s), NULL, "the loop is closed");
    vow_unref(r), vow_unref(w), vow_unref(sg), vow_unref(c);
    vow_stream_unref(s);
    VOW_ASSERT_EQ(vow_test_live_allocs(), 0L);
    close(cfds[1]);
    int status;
    VOW_ASSERT_EQ(waitpid(pid, &status, 0), pid, "left unreaped");
    close(fds[0]), close(fds[1]);
}

/* On a wrapped libev loop, which outlives vow's: the teardown leaves no watcher of vow's
 * active and libev's reference count as it found it. */
Test(io, teardown_of_a_wrapped_loop_leaves_libev_clean) {
    unsigned backend = vow_test_expected_backend();
    struct ev_loop *evl = ev_loop_new(backend != 0 ? backend | EVFLAG_NOENV : EVFLAG_AUTO);
    cr_assert_not_null(evl);
    if (backend != 0) VOW_ASSERT_EQ(ev_backend(evl), backend);
    cr_assert_not_null(evl);
    vow_loop_t *loop = NULL;
    VOW_ASSERT_CODE(vow_loop_wrap(&loop, evl), 0);
    int fds[2];
    make_socketpair(fds);
    vow_t *r = vow_readable(loop, fds[0]);
    vow_t *w = vow_writable(loop, fds[0]);
    vow_t *sg = vow_signal(loop, SIGUSR1);
    VOW_ASSERT_EQ(ev_run(evl, EVRUN_NOWAIT), 1, "vow keeps the loop alive with one reference");
    VOW_ASSERT_STATE(vow_state(w), VOW_FULFILLED, "the socket was writable");
    VOW_ASSERT_CODE(vow_loop_free(loop), 0);
    VOW_ASSERT_EQ(ev_run(evl, EVRUN_NOWAIT), 0, "nothing of vow's left active");
    put_byte(fds[1], 'w');
    VOW_ASSERT_EQ(ev_run(evl, EVRUN_NOWAIT), 0, "and no callback of vow's runs");
    cr_assert(disposition_is_default(SIGUSR1));
    vow_unref(r), vow_unref(w), vow_unref(sg);
    VOW_ASSERT_EQ(vow_test_live_allocs(), 0L);
    ev_loop_destroy(evl);
    close(fds[0]), close(fds[1]);
}

/* vow_run_main closes signal streams (a consumer that keeps asking ends) and cancels the
 * waiters left, so the program exits. */
static vow_stream_t *main_stream;
static int consumer_nexts, consumer_end;
static vow_result_t consumer(vow_loop_t *loop, void *arg) {
    (void)loop, (void)arg;
    for (;;) {
        vow_outcome_t o;
        int rc = vow_await(vow_stream_next(main_stream), &o);
        consumer_nexts++;
        int end = rc == 0 && vow_stream_is_end(&o.value);
        vow_outcome_release(&o);
        if (end) break; /* a cancellation is ignored: it asks again */
    }
    consumer_end = 1;
    return vow_ok_none();
}

static int cancel_codes[2];
Test(io, run_main_closes_signal_streams_and_cancels_waiters) {
    vow_loop_t *loop = vow_test_loop();
    int fds[2];
    make_pipe(fds);
    main_stream = vow_signal_stream(loop, SIGINT, 1);
    vow_t *consumer_p = vow_async(loop, consumer, NULL, NULL);
    vow_t *r = vow_catch_ex(vow_readable(loop, fds[0]), record_code, &cancel_codes[0], NULL,
                            VOW_CATCH_CANCELLED);
    vow_t *sg = vow_catch_ex(vow_signal(loop, SIGINT), record_code, &cancel_codes[1], NULL,
                             VOW_CATCH_CANCELLED);
    vow_outcome_t o;
    VOW_ASSERT_CODE(vow_run_main(loop, vow_sleep(loop, 1), &o), 0);
    VOW_ASSERT_STATE(o.state, VOW_FULFILLED);
    VOW_ASSERT_EQ(consumer_end, 1, "the consumer saw the end");
    VOW_ASSERT_CODE(cancel_codes[0], VOW_ECANCELED);
    VOW_ASSERT_CODE(cancel_codes[1], VOW_ECANCELED);
    VOW_ASSERT_EQ(vow__signal_owner(SIGINT), NULL);
    cr_assert(disposition_is_default(SIGINT));
    vow_unref(r), vow_unref(sg), vow_unref(consumer_p);
    vow_stream_unref(main_stream);
    vow_outcome_release(&o);
    VOW_ASSERT_EQ(vow_test_live_allocs(), 0L);
    close(fds[0]), close(fds[1]);
}

/* ---- out of memory ----------------------------------------------------------------------- */

/* Every function of vow/io.h once, with its allocations failing in turn: each call answers
 * NULL or works; nothing leaks; a signal is raised only while vow watches it. */
static int pidfd;
static int io_program(void) {
    vow_loop_t *loop;
    int rc = vow_loop_new(&loop, VOW_BACKEND_AUTO);
    if (rc != 0) return rc;
    vow_set_unhandled_mode(loop, VOW_UNHANDLED_SILENT);
    int result = 0;
    int fds[2];
    if (pipe(fds) != 0) return -1;
    /* A second fd of the pipe far above the first: the fd table grows. */
    int high = fcntl(fds[0], F_DUPFD, 200);

    vow_t *r = vow_readable(loop, fds[0]);
    vow_t *r2 = vow_readable(loop, high);
    vow_t *w = vow_writable(loop, fds[1]);
    vow_t *cancelled = vow_poll_fd(loop, fds[0], VOW_READABLE);
    vow_cancel(cancelled);
    char c = 'x';
    if (write(fds[1], &c, 1) != 1) result = -2;
    vow_t *sg = vow_signal(loop, SIGUSR1);
    vow_stream_t *s = vow_signal_stream(loop, SIGUSR1, 1);
    pid_t pid = fork();
    if (pid == 0) _exit(5);
    vow_t *ch = pidfd ? vow_child_exit(loop, pid) : vow_sleep(loop, 1);
    if (r == NULL || r2 == NULL || w == NULL || cancelled == NULL || sg == NULL || s == NULL ||
        ch == NULL)
        result = VOW_ENOMEM;
    if ((sg != NULL && vow_state(sg) == VOW_PENDING) || s != NULL) raise(SIGUSR1);
    vow_t *all[] = {r, r2, w, sg, ch};
    for (int i = 0; i < 5; i++) {
        if (all[i] == NULL) continue;
        vow_outcome_t o;
        int rr = vow_run(loop, vow_timeout(vow_ref(all[i]), 10000, 0), &o);
        if (rr == 0 && o.state == VOW_REJECTED) {
            int code = vow_error_code(o.error);
            if (code == VOW_ENOMEM) {
                if (result == 0) result = VOW_ENOMEM;
            } else if (result == 0)
                result = -10 - i;
        } else if (rr != 0 && result == 0)
            result = rr == VOW_EINVAL ? VOW_ENOMEM : rr;
        vow_outcome_release(&o);
    }
    if (s != NULL) {
        vow_outcome_t o;
        /* (A push that ran out of memory dropped the delivery: the next then times out.) */
        int rr = vow_run(loop, vow_timeout(vow_stream_next(s), 500, 0), &o);
        int oom = vow_test_failed_allocs() > 0;
        if (rr == VOW_EINVAL || (rr == 0 && o.state == VOW_REJECTED && oom)) {
            if (result == 0) result = VOW_ENOMEM;
        } else if (rr != 0 || o.state != VOW_FULFILLED) {
            if (result == 0) result = -20;
        }
        vow_outcome_release(&o);
    }
    vow_stream_unref(s);
    for (int i = 0; i < 5; i++) vow_unref(all[i]);
    vow_unref(cancelled);
    int status;
    waitpid(pid, &status, 0); /* (when its wait could not start: ECHILD once reaped) */
    vow_loop_free(loop);
    close(fds[0]), close(fds[1]), close(high);
    return result;
}

/* After each failed run: SIGUSR1 is no loop's any more. */
static void check_signal_released(long k) {
    if (k > 0) VOW_ASSERT_EQ(vow__signal_owner(SIGUSR1), NULL, "N=%ld", k);
}

static void sweep_io(void) {
    pidfd = have_pidfd();
    vow_test_sweep_allocations(io_program, check_signal_released);
}

Test(io, every_allocation_fails_once, .timeout = 120) { sweep_io(); }

Test(io, every_allocation_fails_once_without_pools, .timeout = 120) {
    vow_test_without_pools(sweep_io);
}
