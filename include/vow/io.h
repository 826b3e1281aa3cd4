/* vow/io.h - file descriptors, signals and child processes as promises.
 *
 * The reactor part (one libev watcher per fd, per signal) lives in src/; these are its
 * promise faces. Every promise here keeps the loop alive while it waits (an active
 * watcher), as a timer does, and cancelling it (vow_cancel, a vow_timeout, the upstream
 * rule) takes its waiter away: the watcher stops when no waiter is left.
 *
 * THREADS. As every promise: the loop's thread only.
 */
#ifndef VOW_IO_H
#define VOW_IO_H

#include <sys/types.h>

#include "vow/common.h"
#include "vow/loop.h"
#include "vow/promise.h"
#include "vow/stream.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------
 * fd readiness (once).
 * --------------------------------------------------------------------------------- */

/* The events: libev's EV_READ and EV_WRITE bits. */
#define VOW_READABLE 0x01
#define VOW_WRITABLE 0x02

/* One reference to a promise that fulfils, once, with vow_int(the events of `events` that
 * are ready) the first time fd is ready for one of them. Several waiters on one fd share
 * one libev watcher, watching the union of their events; the watcher stops when the last
 * waiter settles or is cancelled. fd is borrowed: it must stay open while a waiter waits
 * (cancel first, then close); when the backend reports the fd bad (closed under a waiter),
 * every waiter on it rejects with VOW_EBADF. Of libev's backends, select reports it; epoll
 * cannot (the kernel forgets a closed fd: its waiters wait until cancelled); poll sees
 * POLLNVAL, on which libev asserts (the process aborts).
 * NULL when loop is NULL or closed, or out of memory; a promise rejected with VOW_EINVAL
 * when fd < 0 or `events` is 0 or has a bit other than VOW_READABLE | VOW_WRITABLE, with
 * VOW_EBADF when fd is not an open descriptor. */
VOW_EXTERN vow_t *vow_poll_fd(vow_loop_t *loop, int fd, int events);
/* vow_poll_fd(loop, fd, VOW_READABLE) and (..., VOW_WRITABLE). */
VOW_EXTERN vow_t *vow_readable(vow_loop_t *loop, int fd);
VOW_EXTERN vow_t *vow_writable(vow_loop_t *loop, int fd);

/* ---------------------------------------------------------------------------------
 * Signals (asyncio's loop.add_signal_handler; Node's process.on('SIGINT')).
 *
 * While a signal has a waiter or a stream, libev's handler catches it (the default action,
 * such as ending the process on SIGINT, does not happen); when the last one goes, the
 * signal's disposition returns to SIG_DFL (libev's rule). A signal is watched by one loop
 * at a time, in the whole process (libev's rule): another loop asking for it gets
 * VOW_EBUSY (SIGCHLD too, from any loop but the default one, once libev's default loop
 * exists: libev watches it there). Deliveries that arrive together coalesce into one, as POSIX signals do.
 * --------------------------------------------------------------------------------- */

/* One reference to a promise that fulfils with vow_int(signo) at the next delivery of
 * signo to the process. NULL when loop is NULL or closed, or out of memory; a promise
 * rejected with VOW_EINVAL (signo not a catchable signal: below 1, above the last,
 * SIGKILL, SIGSTOP), VOW_EBUSY (another loop watches signo). */
VOW_EXTERN vow_t *vow_signal(vow_loop_t *loop, int signo);

/* A stream (vow/stream.h) of deliveries of signo, each item vow_int(signo), buffering up
 * to `buffer` undelivered ones (more are dropped: a consumer that lags sees at most
 * `buffer`, then the next). One reference for the caller; closing it (or its last unref)
 * stops the watching. The stream keeps the loop alive while it is open: close it when done
 * (vow_run_main closes it on the way out, as asyncio removes its signal handlers). NULL
 * when loop is NULL or closed, signo is not catchable (see vow_signal), another loop
 * watches signo, or out of memory. */
VOW_EXTERN vow_stream_t *vow_signal_stream(vow_loop_t *loop, int signo, size_t buffer);

/* ---------------------------------------------------------------------------------
 * Child processes.
 * --------------------------------------------------------------------------------- */

/* One reference to a promise that fulfils with vow_int(status), the child's wait status
 * as waitpid reports it (WIFEXITED, WEXITSTATUS...), once the child `pid` of this process
 * exits; vow reaps it. On Linux any loop can wait (a pidfd: no SIGCHLD handler is
 * installed); elsewhere only the loop over libev's default loop can (libev's child
 * watcher), others get VOW_ENOTSUP. The loop over libev's default loop always uses libev's
 * child watcher: libev's SIGCHLD handler there reaps every child of the process (so, while
 * that loop runs, a child other loops wait for may be reaped by it: VOW_ECHILD). Cancelling stops the waiting; the child is then left
 * unreaped (wait for it again, or reap it yourself).
 * NULL when loop is NULL or closed, or out of memory; a promise rejected with VOW_EINVAL
 * (pid <= 0), VOW_ECHILD (not a child of this process, or reaped already), VOW_ENOTSUP,
 * VOW_EMFILE or VOW_ENFILE (no descriptor left for the pidfd). */
VOW_EXTERN vow_t *vow_child_exit(vow_loop_t *loop, pid_t pid);

#ifdef __cplusplus
}
#endif
#endif /* VOW_IO_H */
