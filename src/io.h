/* src/io.h - the reactor's registries of fd, signal and child waiters (src/io.c,
 * src/signal.c, src/child.c), for the layers above (promise/io.c, the sockets). Never
 * installed; promise-free.
 *
 * A waiter is an intrusive node the caller embeds in its own record: registering one
 * allocates nothing but, the first time an fd (signal) is used on a loop, that fd's
 * (signal's) record. Every fd with waiters has one ev_io, watching the union of their
 * events (per-event counts: O(1) per add and remove); every signal with waiters one
 * ev_signal. A waiter keeps the loop alive while it is registered (vow__loop_keep: it
 * counts in vow_loop_alive, so vow_loop_close answers VOW_EBUSY; the watchers themselves
 * are unref'd). The registry's state is a layer of the loop (slot VOW__LAYER_IO): its
 * teardown drops the waiters still registered (their callback gets VOW_ECLOSED), stops
 * every watcher and frees every record.
 *
 * CALLBACKS. cb(loop, w, res) runs on the loop's thread, from the watcher's callback (the
 * job queue is drained after it) or from the teardown. res > 0: the events ready among the
 * waiter's (fd) or the signal number (signal); res < 0: VOW_EBADF (the backend reported the
 * fd bad: every waiter of that fd gets it) or VOW_ECLOSED (the loop's teardown). The waiter
 * is out of the registry when cb runs, but for a repeating signal waiter given a delivery
 * (it stays). cb may add and remove any waiter, this one included, and may free w's record.
 */
#ifndef VOW_SRC_IO_H
#define VOW_SRC_IO_H

#include <sys/types.h>

#include "internal.h"

/* The registry's layer slot (the promise layer is slot 0). */
enum { VOW__LAYER_IO = 2 };

/* VOW_READABLE / VOW_WRITABLE (vow/io.h) are libev's EV_READ / EV_WRITE. */
#define VOW__IO_READ 0x01
#define VOW__IO_WRITE 0x02
_Static_assert(VOW__IO_READ == EV_READ && VOW__IO_WRITE == EV_WRITE, "events are libev's bits");

typedef struct vow__io_waiter vow__io_waiter;
typedef void (*vow__io_cb)(vow_loop_t *loop, vow__io_waiter *w, int res);

/* A list of waiters (an fd's, a signal's, a batch being fired). */
typedef struct vow__io_list {
    vow__io_waiter *head, *tail;
} vow__io_list;

struct vow__io_waiter {
    vow__io_waiter *next, *prev;
    vow__io_list *list; /* the list it is in; NULL: not registered */
    vow__io_cb cb;
    int id;               /* the fd, or the signal number */
    unsigned char events; /* fd: the events it waits for */
    unsigned char kind;   /* VOW__IOW_* (set while registered) */
    unsigned char repeat; /* signal: stays registered after a delivery */
};
enum { VOW__IOW_FD = 1, VOW__IOW_SIGNAL, VOW__IOW_CHILD };

/* Registers w for `events` (VOW__IO_READ | VOW__IO_WRITE, not 0) on fd (>= 0), once: it
 * leaves the registry when it fires. 0; VOW_EINVAL (bad fd or events, w registered);
 * VOW_ENOMEM (nothing registered); VOW_ECLOSED (the loop is closed). */
int vow__io_add(vow_loop_t *loop, vow__io_waiter *w, int fd, int events, vow__io_cb cb);
/* Takes w out of the registry (nothing when it is not in it); the fd's watcher watches
 * what the others still want, and stops when none is left. */
void vow__io_remove(vow_loop_t *loop, vow__io_waiter *w);
/* Waiters registered on fd (tests), and whether its watcher is active. */
size_t vow__io_waiters(const vow_loop_t *loop, int fd, int *active);

/* 1 when signo can be watched: 1..NSIG-1 but SIGKILL, SIGSTOP (and, on glibc, the two
 * real-time signals it keeps for itself). */
int vow__signal_catchable(int signo);
/* Registers w for the next delivery of signo (every delivery while registered, when
 * `repeat`). 0; VOW_EINVAL (not catchable, w registered); VOW_EBUSY (another loop watches
 * signo: one loop per signal in the process, libev's rule); VOW_ENOMEM; VOW_ECLOSED. */
int vow__signal_add(vow_loop_t *loop, vow__io_waiter *w, int signo, int repeat, vow__io_cb cb);
void vow__signal_remove(vow_loop_t *loop, vow__io_waiter *w);
/* The loop that watches signo now (tests), NULL when none. */
vow_loop_t *vow__signal_owner(int signo);

/* ---- child exits (src/child.c) -------------------------------------------------------------
 * On Linux a pidfd (pidfd_open) registered as an fd waiter, then waitpid(WNOHANG): no
 * SIGCHLD handler. On libev's default loop, whose own SIGCHLD handler reaps every child
 * (a pidfd there would race it), and where pidfd_open is missing: libev's ev_child (the
 * default loop only). Elsewhere VOW_ENOTSUP. */
typedef struct vow__child vow__child;
/* res: 0, c->status holds the wait status; or a code (VOW_ECHILD, VOW_EBADF, VOW_ECLOSED). */
typedef void (*vow__child_cb)(vow_loop_t *loop, vow__child *c, int res);
struct vow__child {
    vow__io_waiter w; /* the pidfd's waiter, or (kind VOW__IOW_CHILD) the ev_child's node */
#if EV_CHILD_ENABLE
    ev_child evc;
#endif
    vow__child_cb cb;
    pid_t pid;
    int pidfd;  /* -1: none */
    int status; /* the wait status, once reaped */
};
/* Starts waiting for child `pid` to exit. 1: it had exited, reaped now (c->status; cb never
 * runs); 0: waiting (cb runs once, unless vow__child_stop comes first); a code: VOW_EINVAL
 * (pid <= 0), VOW_ECHILD (not a child, or reaped already), VOW_ENOTSUP, VOW_ENOMEM,
 * VOW_EMFILE / VOW_ENFILE (no fd for the pidfd), VOW_ECLOSED. */
int vow__child_start(vow_loop_t *loop, vow__child *c, pid_t pid, vow__child_cb cb);
/* Stops waiting (the child is left unreaped); nothing when it is not waiting. */
void vow__child_stop(vow_loop_t *loop, vow__child *c);
/* Testing: 1 forces the ev_child path (as if pidfd_open were missing); 0 undoes it. */
void vow__child_force_evchild(int on);

/* Calls fn(w, ctx) for every registered waiter (fds, signals, children), in no particular
 * order; fn must not add or remove any (collect, then act). */
void vow__io_each(vow_loop_t *loop, void (*fn)(vow__io_waiter *w, void *ctx), void *ctx);
/* The child record a registered waiter belongs to (its pidfd's waiter, or an ev_child's
 * node), else NULL. */
vow__child *vow__child_of(vow__io_waiter *w);

/* ---- the registry's state (src/io.c; for src/signal.c and src/child.c) ------------------- */
struct vow__fdrec;
struct vow__sigrec;
typedef struct vow__io {
    struct vow__fdrec **fds; /* indexed by fd, grown on demand (NULL: never used) */
    size_t nfds;
    struct vow__sigrec **sigs; /* indexed by signal number, made on first use */
    vow__io_list children;     /* ev_child waiters (src/child.c) */
} vow__io;

/* The loop's registry, made (and its layer registered) on first use: NULL when out of
 * memory. */
vow__io *vow__io_state(vow_loop_t *loop);
/* The registry if made, else NULL. */
static inline vow__io *vow__io_peek(const vow_loop_t *loop) {
    return (vow__io *)vow__loop_layer(loop, VOW__LAYER_IO);
}
/* src/signal.c and src/child.c's parts of the teardown. */
void vow__signals_teardown(vow_loop_t *loop, vow__io *io);
void vow__children_teardown(vow_loop_t *loop, vow__io *io);

/* List helpers shared by the three files. */
static inline void vow__io_list_push(vow__io_list *l, vow__io_waiter *w) {
    VOW__DLIST_PUSH(l, w);
    w->list = l;
}
static inline void vow__io_list_unlink(vow__io_waiter *w) {
    vow__io_list *l = w->list;
    VOW__DLIST_UNLINK(l, w);
    w->list = NULL;
}

#endif /* VOW_SRC_IO_H */
