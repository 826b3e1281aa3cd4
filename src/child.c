#define _GNU_SOURCE
/* src/child.c - waiting for a child process to exit (src/io.h).
 *
 * Linux: pidfd_open(pid) gives an fd that becomes readable when the process exits; it is
 * registered as an fd waiter (src/io.c), and then waitpid(pid, WNOHANG) reaps the child.
 * No SIGCHLD handler is installed, so any loop of any thread can wait, and other children
 * of the process are nobody's business. Before waiting, waitpid(pid, WNOHANG) tells a
 * child that has exited already (reaped at once) from one that is not ours (ECHILD).
 *
 * libev's default loop installs its own SIGCHLD handler, which reaps every child with
 * waitpid(-1) at a higher priority than any fd watcher: a pidfd there would find its child
 * reaped already. So on the default loop (and where pidfd_open is missing) the wait is
 * libev's ev_child, which gets the status from that handler. Other loops without pidfd
 * answer VOW_ENOTSUP.
 */
#include <errno.h>
#include <sys/wait.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/syscall.h>
#endif

#include "io.h"

static int force_evchild;

void vow__child_force_evchild(int on) { force_evchild = on; }

/* A pidfd for pid: the fd, or a negative code (VOW_ENOSYS-like: VOW_ENOTSUP). */
static int pidfd_open_(pid_t pid) {
#if defined(__linux__) && defined(SYS_pidfd_open)
    if (force_evchild) return VOW_ENOTSUP;
    long fd = syscall(SYS_pidfd_open, pid, 0);
    if (fd >= 0) return (int)fd;
    if (errno == ESRCH) return VOW_ECHILD;
    if (errno == ENOSYS || errno == EPERM) return VOW_ENOTSUP; /* (EPERM: a seccomp filter) */
    return -errno;
#else
    (void)pid;
    return VOW_ENOTSUP;
#endif
}

/* waitpid(pid, WNOHANG): 1 reaped (*status), 0 still running, VOW_ECHILD. */
static int reap(pid_t pid, int *status) {
    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid) return 1;
        if (r == 0) return 0;
        if (errno != EINTR) return VOW_ECHILD;
    }
}

static void close_pidfd(vow__child *c) {
    if (c->pidfd >= 0) close(c->pidfd);
    c->pidfd = -1;
}

static void pidfd_cb(vow_loop_t *loop, vow__io_waiter *w, int res) {
    vow__child *c = vow__container_of(w, vow__child, w);
    if (res > 0) {
        int rc = reap(c->pid, &c->status);
        if (rc == 0) {
            /* Not yet (a spurious wakeup): wait on (the fd's record exists: no allocation). */
            rc = vow__io_add(loop, &c->w, c->pidfd, VOW__IO_READ, pidfd_cb);
            if (rc == 0) return;
        }
        res = rc == 1 ? 0 : rc;
    }
    close_pidfd(c);
    c->cb(loop, c, res);
}

#if EV_CHILD_ENABLE
static void evchild_cb(struct ev_loop *evl, ev_child *cw, int revents) {
    (void)revents;
    vow__child *c = vow__container_of(cw, vow__child, evc);
    vow_loop_t *loop = cw->data;
    ev_ref(evl);
    ev_child_stop(evl, cw);
    vow__io_list_unlink(&c->w);
    vow__loop_unkeep(loop);
    c->status = cw->rstatus;
    c->cb(loop, c, 0);
    vow__drain(loop);
}
#endif

static int evchild_start(vow_loop_t *loop, vow__child *c) {
#if EV_CHILD_ENABLE
    if (!ev_is_default_loop(loop->evl)) return VOW_ENOTSUP;
    vow__io *io = vow__io_state(loop);
    if (io == NULL) return VOW_ENOMEM;
    int rc = reap(c->pid, &c->status);
    if (rc != 0) return rc; /* reaped now, or not a child */
    /* Between this check and the watcher, libev's SIGCHLD handler cannot run: it runs on
     * this thread, inside the loop. */
    ev_child_init(&c->evc, evchild_cb, c->pid, 0);
    c->evc.data = loop;
    ev_child_start(loop->evl, &c->evc);
    ev_unref(loop->evl);
    c->w.kind = VOW__IOW_CHILD;
    c->w.id = (int)c->pid;
    vow__io_list_push(&io->children, &c->w);
    vow__loop_keep(loop);
    return 0;
#else
    (void)loop;
    (void)c;
    return VOW_ENOTSUP;
#endif
}

int vow__child_start(vow_loop_t *loop, vow__child *c, pid_t pid, vow__child_cb cb) {
    if (loop->closed) return VOW_ECLOSED;
    if (pid <= 0 || cb == NULL) return VOW_EINVAL;
    c->w.list = NULL;
    c->w.kind = 0;
    c->cb = cb;
    c->pid = pid;
    c->pidfd = -1;
    c->status = 0;
    if (ev_is_default_loop(loop->evl)) return evchild_start(loop, c);
    int fd = pidfd_open_(pid);
    if (fd == VOW_ENOTSUP) return evchild_start(loop, c);
    if (fd < 0) return fd;
    c->pidfd = fd;
    int rc = reap(pid, &c->status);
    if (rc == 0) rc = vow__io_add(loop, &c->w, fd, VOW__IO_READ, pidfd_cb);
    if (rc != 0) close_pidfd(c);
    return rc;
}

vow__child *vow__child_of(vow__io_waiter *w) {
    if (w->kind == VOW__IOW_CHILD || (w->kind == VOW__IOW_FD && w->cb == pidfd_cb))
        return vow__container_of(w, vow__child, w);
    return NULL;
}

void vow__child_stop(vow_loop_t *loop, vow__child *c) {
    if (c->w.list == NULL) return;
#if EV_CHILD_ENABLE
    if (c->w.kind == VOW__IOW_CHILD) {
        ev_ref(loop->evl);
        ev_child_stop(loop->evl, &c->evc);
        vow__io_list_unlink(&c->w);
        vow__loop_unkeep(loop);
        return;
    }
#endif
    vow__io_remove(loop, &c->w);
    close_pidfd(c);
}

void vow__children_teardown(vow_loop_t *loop, vow__io *io) {
    vow__io_waiter *w;
    while ((w = io->children.head) != NULL) {
        vow__child *c = vow__container_of(w, vow__child, w);
        vow__child_stop(loop, c);
        c->cb(loop, c, VOW_ECLOSED);
    }
}
