/* src/io.c - fd readiness for the layers above: one ev_io per fd that has waiters, shared
 * by them (src/io.h).
 *
 * Every fd ever waited on gets a record (its ev_io and its list of waiters), found through
 * an array indexed by fd and grown on demand, as libev's anfds and libuv's watchers are:
 * adding or removing a waiter is O(1). The record stays until the loop's teardown (an fd
 * number is reused soon, and the ev_io must not move while libev holds it: the array
 * holds pointers). The ev_io watches the union of its waiters' events, kept as two counts
 * (waiters wanting read, wanting write); when the union changes, the watcher is stopped,
 * set and started again (libev's rule for changing an active ev_io), and it stops when no
 * waiter is left.
 *
 * Liveness: each registered waiter holds vow__loop_keep (so vow_loop_alive counts it and
 * vow_loop_close answers VOW_EBUSY); the ev_io is unref'd. When a backend reports the fd
 * bad, libev stops the ev_io itself (fd_kill) and passes EV_ERROR: the reference it took
 * is given back (`started` says whether we think it runs) and every waiter of the fd gets
 * VOW_EBADF. select and poll report a closed fd that way (EBADF, POLLNVAL); epoll cannot:
 * the kernel drops a closed fd from the epoll set silently, so its waiters wait until they
 * are cancelled, unless the watcher changes (libev's epoll_ctl then fails with EBADF).
 */
#include <limits.h>
#include <string.h>

#include "io.h"

struct vow__fdrec {
    ev_io w;              /* w.data: the loop */
    vow__io_list waiters; /* registered, in arrival order */
    vow__io_list *firing; /* the batch its callback is firing (NULL: none) */
    uint32_t nread, nwrite;
    int started; /* we started w and libev has not stopped it (our reference balance) */
};

/* ---- the layer ---------------------------------------------------------------------------- */

static void drop_list(vow_loop_t *loop, vow__io_list *l) {
    vow__io_waiter *w;
    while ((w = l->head) != NULL) {
        vow__io_list_unlink(w);
        vow__loop_unkeep(loop);
        w->cb(loop, w, VOW_ECLOSED);
    }
}

static void io_teardown(vow_loop_t *loop, void *state) {
    vow__io *io = state;
    for (size_t fd = 0; fd < io->nfds; fd++) {
        struct vow__fdrec *r = io->fds[fd];
        if (r == NULL) continue;
        r->nread = r->nwrite = 0;
        drop_list(loop, &r->waiters);
        if (r->started) {
            r->started = 0;
            if (ev_is_active(&r->w)) {
                ev_ref(loop->evl);
                ev_io_stop(loop->evl, &r->w);
            } else {
                ev_ref(loop->evl); /* libev stopped it (fd_kill) */
            }
        }
        ev_clear_pending(loop->evl, &r->w);
    }
    vow__signals_teardown(loop, io);
    vow__children_teardown(loop, io);
    for (size_t fd = 0; fd < io->nfds; fd++) vow__free(io->fds[fd]);
    vow__free(io->fds);
    io->fds = NULL;
    io->nfds = 0;
}

static void io_destroy(vow_loop_t *loop, void *state) {
    (void)loop;
    vow__free(state);
}

static void io_verify(const vow_loop_t *loop, void *state) {
    const vow__io *io = state;
    (void)loop;
    for (size_t fd = 0; fd < io->nfds; fd++) {
        const struct vow__fdrec *r = io->fds[fd];
        if (r == NULL) continue;
        uint32_t nr = 0, nw = 0;
        for (const vow__io_waiter *w = r->waiters.head; w != NULL; w = w->next) {
            vow__assert(w->list == &r->waiters && w->id == (int)fd && w->kind == VOW__IOW_FD,
                        "an fd waiter is in its fd's list");
            nr += (w->events & VOW__IO_READ) != 0;
            nw += (w->events & VOW__IO_WRITE) != 0;
        }
        vow__assert(nr == r->nread && nw == r->nwrite, "an fd's event counts match its waiters");
        vow__assert(!ev_is_active(&r->w) || r->started, "an active fd watcher is ours");
        vow__assert((nr + nw == 0) == !r->started, "an fd watcher runs exactly while waited on");
    }
}

static const vow__layer io_layer = {
    .name = "io",
    .teardown = io_teardown,
    .destroy = io_destroy,
    .verify = io_verify,
};

vow__io *vow__io_state(vow_loop_t *loop) {
    vow__io *io = vow__io_peek(loop);
    if (io != NULL) return io;
    io = vow__calloc(1, sizeof *io);
    if (io == NULL) return NULL;
    int rc = vow__loop_add_layer(loop, VOW__LAYER_IO, &io_layer, io);
    vow__assert(rc == 0, "the io layer's slot is taken");
    return io;
}

/* ---- fds ---------------------------------------------------------------------------------- */

static struct vow__fdrec *fd_peek(const vow_loop_t *loop, int fd) {
    const vow__io *io = vow__io_peek(loop);
    if (io == NULL || fd < 0 || (size_t)fd >= io->nfds) return NULL;
    return io->fds[fd];
}

/* The watcher watches the union of what the registered waiters want. */
static void fd_update(vow_loop_t *loop, struct vow__fdrec *r) {
    int want = (r->nread ? EV_READ : 0) | (r->nwrite ? EV_WRITE : 0);
    if (r->started && !ev_is_active(&r->w)) {
        /* libev stopped it (fd_kill, EV_ERROR pending): give its reference back. */
        ev_ref(loop->evl);
        r->started = 0;
    }
    if (r->started) {
        if ((r->w.events & (EV_READ | EV_WRITE)) == want) return;
        ev_ref(loop->evl);
        ev_io_stop(loop->evl, &r->w);
        r->started = 0;
    }
    if (want != 0) {
        ev_io_set(&r->w, r->w.fd, want);
        ev_io_start(loop->evl, &r->w);
        ev_unref(loop->evl); /* the waiters keep the loop alive (vow__loop_keep) */
        r->started = 1;
    }
}

static void fd_count(struct vow__fdrec *r, const vow__io_waiter *w, int delta) {
    if (w->events & VOW__IO_READ) r->nread += (uint32_t)delta;
    if (w->events & VOW__IO_WRITE) r->nwrite += (uint32_t)delta;
}

static void fd_cb(struct ev_loop *evl, ev_io *iow, int revents) {
    (void)evl;
    struct vow__fdrec *r = vow__container_of(iow, struct vow__fdrec, w);
    vow_loop_t *loop = iow->data;
    int bad = (revents & EV_ERROR) != 0;
    /* The waiters this event answers leave the fd's list for a batch of their own; the
     * watcher is set for the others before any callback runs. */
    vow__io_list fire = {NULL, NULL};
    for (vow__io_waiter *w = r->waiters.head, *next; w != NULL; w = next) {
        next = w->next;
        if (bad || (w->events & revents) != 0) {
            vow__io_list_unlink(w);
            fd_count(r, w, -1);
            vow__io_list_push(&fire, w);
        }
    }
    fd_update(loop, r);
    r->firing = &fire;
    vow__io_waiter *w;
    while ((w = fire.head) != NULL) {
        vow__io_list_unlink(w);
        vow__loop_unkeep(loop);
        w->cb(loop, w, bad ? VOW_EBADF : (w->events & revents));
    }
    r->firing = NULL;
    vow__drain(loop);
}

static int fd_grow(vow_loop_t *loop, vow__io *io, int fd) {
    (void)loop;
    size_t n = io->nfds ? io->nfds : 64;
    while (n <= (size_t)fd) n *= 2;
    struct vow__fdrec **fds = vow__realloc(io->fds, n * sizeof *fds);
    if (fds == NULL) return VOW_ENOMEM;
    memset(fds + io->nfds, 0, (n - io->nfds) * sizeof *fds);
    io->fds = fds;
    io->nfds = n;
    return 0;
}

int vow__io_add(vow_loop_t *loop, vow__io_waiter *w, int fd, int events, vow__io_cb cb) {
    if (loop->closed) return VOW_ECLOSED;
    if (fd < 0 || events == 0 || (events & ~(VOW__IO_READ | VOW__IO_WRITE)) != 0 || cb == NULL ||
        w->list != NULL)
        return VOW_EINVAL;
    vow__io *io = vow__io_state(loop);
    if (io == NULL) return VOW_ENOMEM;
    if ((size_t)fd >= io->nfds && fd_grow(loop, io, fd) != 0) return VOW_ENOMEM;
    struct vow__fdrec *r = io->fds[fd];
    if (r == NULL) {
        r = vow__calloc(1, sizeof *r);
        if (r == NULL) return VOW_ENOMEM;
        ev_io_init(&r->w, fd_cb, fd, EV_READ);
        r->w.data = loop;
        io->fds[fd] = r;
    }
    w->cb = cb;
    w->id = fd;
    w->events = (unsigned char)events;
    w->kind = VOW__IOW_FD;
    w->repeat = 0;
    vow__io_list_push(&r->waiters, w);
    fd_count(r, w, +1);
    vow__loop_keep(loop);
    fd_update(loop, r);
    return 0;
}

void vow__io_remove(vow_loop_t *loop, vow__io_waiter *w) {
    if (w->list == NULL) return;
    vow__assert(w->kind == VOW__IOW_FD, "an fd waiter");
    struct vow__fdrec *r = fd_peek(loop, w->id);
    vow__assert(r != NULL, "an fd waiter's fd has a record");
    int in_fd_list = w->list == &r->waiters;
    vow__io_list_unlink(w);
    vow__loop_unkeep(loop);
    if (in_fd_list) {
        fd_count(r, w, -1);
        fd_update(loop, r);
    }
}

size_t vow__io_waiters(const vow_loop_t *loop, int fd, int *active) {
    const struct vow__fdrec *r = fd_peek(loop, fd);
    size_t n = 0;
    if (r != NULL)
        for (const vow__io_waiter *w = r->waiters.head; w != NULL; w = w->next) n++;
    if (active != NULL) *active = r != NULL && ev_is_active(&r->w);
    return n;
}

/* ---- walking the registry ---------------------------------------------------------------- */

void vow__signals_each(vow_loop_t *loop, vow__io *io, void (*fn)(vow__io_waiter *w, void *ctx),
                       void *ctx);

void vow__io_each(vow_loop_t *loop, void (*fn)(vow__io_waiter *w, void *ctx), void *ctx) {
    vow__io *io = vow__io_peek(loop);
    if (io == NULL) return;
    for (size_t fd = 0; fd < io->nfds; fd++) {
        struct vow__fdrec *r = io->fds[fd];
        if (r == NULL) continue;
        for (vow__io_waiter *w = r->waiters.head; w != NULL; w = w->next) fn(w, ctx);
    }
    vow__signals_each(loop, io, fn, ctx);
    for (vow__io_waiter *w = io->children.head; w != NULL; w = w->next) fn(w, ctx);
}
