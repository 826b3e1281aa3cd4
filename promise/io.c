/* promise/io.c - the promise faces of the reactor's fd, signal and child waiters
 * (vow/io.h; the registries: src/io.h).
 *
 * Each promise is a waiter (promise/waiter.c: only vow settles it, its cancel callback is
 * the record's) with the reactor's intrusive node inside. The node is registered while the
 * promise waits; the record's release (whatever frees it: the settlement, a cancellation,
 * the teardown's strip) takes it out of the reactor, so cancelling stops the watcher when
 * no other waiter is left. The reactor's callback settles the promise, which frees the
 * record.
 *
 * A signal stream is a plain stream (vow/stream.h, no pull) fed by a repeating signal
 * waiter: each delivery pushes vow_int(signo); a push the buffer cannot take is cancelled
 * (the delivery dropped). The stream's cleanup (the consumer closing it, its last unref)
 * takes the waiter out.
 *
 * vow_run_main's exit (promise/run.c) cancels the promises still waiting here and closes
 * the signal streams (vow__io_each_promise, vow__signal_streams_close), as asyncio.run
 * cancels its tasks and removes its signal handlers.
 */
#include <errno.h>
#include <fcntl.h>

#include "internal.h"
#include "vow/io.h"
#include "../src/io.h"

_Static_assert(VOW_READABLE == VOW__IO_READ && VOW_WRITABLE == VOW__IO_WRITE,
               "the public event bits are the reactor's");

/* ---- fd readiness ----------------------------------------------------------------------- */

struct io_wait {
    vow__waiter w; /* first */
    vow__io_waiter iw;
    vow_loop_t *loop;
};

static void fd_fired(vow_loop_t *loop, vow__io_waiter *iw, int res) {
    (void)loop;
    struct io_wait *x = vow__container_of(iw, struct io_wait, iw);
    if (res > 0)
        vow__waiter_fulfil(&x->w, vow_int(res));
    else
        vow__waiter_reject(&x->w, vow_error_new(res, NULL));
}

static void fd_unregister(vow__waiter *w) {
    struct io_wait *x = (struct io_wait *)w;
    vow__io_remove(x->loop, &x->iw);
}

static const struct vow__waiter_ops fd_ops = {fd_unregister, fd_unregister};

/* A promise of the loop rejected with `code`; NULL only when out of memory. */
static vow_t *rejected(vow_loop_t *loop, int code, const char *msg) {
    return vow_rejected(loop, vow_error_new(code, msg));
}

/* Drops a waiter's promise that never waited (out of memory): its record goes with it. */
static vow_t *discard(vow_t *p) {
    vow__cancel_cb_release(p); /* the record (and its reference to p) */
    vow__unref(p);
    return NULL;
}

vow_t *vow_poll_fd(vow_loop_t *loop, int fd, int events) {
    if (loop == NULL || loop->closed) return NULL;
    if (fd < 0) return rejected(loop, VOW_EINVAL, "a negative fd");
    if (events == 0 || (events & ~(VOW_READABLE | VOW_WRITABLE)) != 0)
        return rejected(loop, VOW_EINVAL, "events must be VOW_READABLE and/or VOW_WRITABLE");
    /* A descriptor that is not open: refused before the registry grows to its number (an fd
     * of 2^31 - 1 would cost gigabytes) or libev's poll backend aborts on it. */
    if (fcntl(fd, F_GETFD) < 0 && errno == EBADF)
        return rejected(loop, VOW_EBADF, "the fd is not open");
    vow__waiter *w;
    vow_t *p = vow__waiter_new(loop, sizeof(struct io_wait), NULL, &fd_ops, NULL, &w);
    if (p == NULL) return NULL;
    struct io_wait *x = (struct io_wait *)w;
    x->loop = loop;
    int rc = vow__io_add(loop, &x->iw, fd, events, fd_fired);
    if (rc != 0) return discard(p); /* VOW_ENOMEM: the arguments were checked */
    return p;
}

vow_t *vow_readable(vow_loop_t *loop, int fd) { return vow_poll_fd(loop, fd, VOW_READABLE); }

vow_t *vow_writable(vow_loop_t *loop, int fd) { return vow_poll_fd(loop, fd, VOW_WRITABLE); }

/* ---- signals ---------------------------------------------------------------------------- */

/* A signal waiter is the fd waiter's record (struct io_wait) with another callback. */

static void sig_fired(vow_loop_t *loop, vow__io_waiter *iw, int res) {
    (void)loop;
    struct io_wait *x = vow__container_of(iw, struct io_wait, iw);
    if (res > 0)
        vow__waiter_fulfil(&x->w, vow_int(res));
    else
        vow__waiter_reject(&x->w, vow_error_new(res, NULL));
}

static void sig_unregister(vow__waiter *w) {
    struct io_wait *x = (struct io_wait *)w;
    vow__signal_remove(x->loop, &x->iw);
}

static const struct vow__waiter_ops sig_ops = {sig_unregister, sig_unregister};

vow_t *vow_signal(vow_loop_t *loop, int signo) {
    if (loop == NULL || loop->closed) return NULL;
    if (!vow__signal_catchable(signo))
        return rejected(loop, VOW_EINVAL, "not a signal that can be caught");
    vow__waiter *w;
    vow_t *p = vow__waiter_new(loop, sizeof(struct io_wait), NULL, &sig_ops, NULL, &w);
    if (p == NULL) return NULL;
    struct io_wait *x = (struct io_wait *)w;
    x->loop = loop;
    int rc = vow__signal_add(loop, &x->iw, signo, 0, sig_fired);
    if (rc == VOW_ENOMEM) return discard(p);
    if (rc != 0)
        vow__waiter_reject(
            w, vow_error_new(rc, rc == VOW_EBUSY ? "another loop watches this signal" : NULL));
    return p;
}

/* A signal stream's producer: the stream (weak: the stream owns this record, and its
 * cleanup takes the waiter out before the stream goes). */
struct sig_stream {
    vow__io_waiter iw;
    vow_loop_t *loop;
    vow_stream_t *s;
};

static void stream_fired(vow_loop_t *loop, vow__io_waiter *iw, int res) {
    (void)loop;
    struct sig_stream *x = vow__container_of(iw, struct sig_stream, iw);
    if (res <= 0) return; /* the loop's teardown: the stream stays as a closed handle */
    vow_t *p = vow_stream_push(x->s, vow_int(res));
    if (p == NULL) return; /* out of memory: this delivery is dropped */
    if (p->state == VOW_PENDING)
        vow__cancel(p); /* the buffer is full: dropped, as the header says */
    else if (p->state == VOW_REJECTED) {
        vow__tracker_handle(p); /* (a closed stream has no waiter: cannot happen) */
        p->flags |= VOW__F_HANDLED;
    }
    vow__unref(p);
}

static void stream_cleanup(vow_loop_t *loop, void *ctx) {
    (void)loop;
    struct sig_stream *x = ctx;
    vow__signal_remove(x->loop, &x->iw);
}

static void stream_ctx_free(void *ctx) {
    struct sig_stream *x = ctx;
    vow__signal_remove(x->loop, &x->iw); /* (out already, but for a stream never started) */
    vow__free(x);
}

vow_stream_t *vow_signal_stream(vow_loop_t *loop, int signo, size_t buffer) {
    if (loop == NULL || loop->closed || !vow__signal_catchable(signo)) return NULL;
    struct sig_stream *x = vow__calloc(1, sizeof *x);
    if (x == NULL) return NULL;
    x->loop = loop;
    vow_stream_t *s = vow_stream_new(loop, buffer, NULL, stream_cleanup, x, stream_ctx_free);
    if (s == NULL) return NULL; /* x freed */
    x->s = s;
    if (vow__signal_add(loop, &x->iw, signo, 1, stream_fired) != 0) {
        vow_stream_unref(s); /* EBUSY or ENOMEM */
        return NULL;
    }
    return s;
}

/* ---- child processes -------------------------------------------------------------------- */

struct child_wait {
    vow__waiter w; /* first */
    vow__child c;
    vow_loop_t *loop;
};

static void child_fired(vow_loop_t *loop, vow__child *c, int res) {
    (void)loop;
    struct child_wait *x = vow__container_of(c, struct child_wait, c);
    if (res == 0)
        vow__waiter_fulfil(&x->w, vow_int(c->status));
    else
        vow__waiter_reject(&x->w, vow_error_new(res, NULL));
}

static void child_unregister(vow__waiter *w) {
    struct child_wait *x = (struct child_wait *)w;
    vow__child_stop(x->loop, &x->c);
}

static const struct vow__waiter_ops child_ops = {child_unregister, child_unregister};

vow_t *vow_child_exit(vow_loop_t *loop, pid_t pid) {
    if (loop == NULL || loop->closed) return NULL;
    if (pid <= 0) return rejected(loop, VOW_EINVAL, "pid must be above 0");
    vow__waiter *w;
    vow_t *p = vow__waiter_new(loop, sizeof(struct child_wait), NULL, &child_ops, NULL, &w);
    if (p == NULL) return NULL;
    struct child_wait *x = (struct child_wait *)w;
    x->loop = loop;
    x->c.pidfd = -1;
    int rc = vow__child_start(loop, &x->c, pid, child_fired);
    if (rc == VOW_ENOMEM) return discard(p);
    if (rc == 1)
        vow__waiter_fulfil(w, vow_int(x->c.status));
    else if (rc != 0)
        vow__waiter_reject(w, vow_error_new(rc, NULL));
    return p;
}

/* ---- vow_run_main's exit ------------------------------------------------------------------ */

struct each {
    void (*fn)(vow_t *p, void *ctx);
    void *ctx;
};

static void each_waiter(vow__io_waiter *iw, void *arg) {
    struct each *e = arg;
    vow__waiter *w = NULL;
    if (iw->cb == fd_fired)
        w = &vow__container_of(iw, struct io_wait, iw)->w;
    else if (iw->cb == sig_fired)
        w = &vow__container_of(iw, struct io_wait, iw)->w;
    else {
        vow__child *c = vow__child_of(iw);
        if (c != NULL && c->cb == child_fired) w = &vow__container_of(c, struct child_wait, c)->w;
    }
    if (w != NULL) e->fn(w->p, e->ctx);
}

void vow__io_each_promise(vow_loop_t *loop, void (*fn)(vow_t *p, void *ctx), void *ctx) {
    struct each e = {fn, ctx};
    vow__io_each(loop, each_waiter, &e);
}

/* The streams, referenced, in a growing array. */
struct streams {
    vow_stream_t **s;
    size_t n, cap;
};

static void each_stream(vow__io_waiter *iw, void *arg) {
    struct streams *st = arg;
    if (iw->cb != stream_fired) return;
    if (st->n == st->cap) {
        size_t cap = st->cap ? 2 * st->cap : 8;
        vow_stream_t **ns = vow__realloc(st->s, cap * sizeof *ns);
        if (ns == NULL) return; /* out of memory: the forced teardown gets it */
        st->s = ns;
        st->cap = cap;
    }
    st->s[st->n++] = vow_stream_ref(vow__container_of(iw, struct sig_stream, iw)->s);
}

void vow__signal_streams_close(vow_loop_t *loop) {
    struct streams st = {NULL, 0, 0};
    vow__io_each(loop, each_stream, &st);
    for (size_t i = 0; i < st.n; i++) {
        vow_stream_close(st.s[i]);
        vow_stream_unref(st.s[i]);
    }
    vow__free(st.s);
}
