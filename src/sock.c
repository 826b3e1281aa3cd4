#define _GNU_SOURCE /* accept4, SOCK_NONBLOCK, SOCK_CLOEXEC */
/* src/sock.c - non-blocking stream socket plumbing (src/sock.h): the system calls and
 * their errno, the read/write buffer, one unref'd libev watcher per socket. */
#include "sock.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* ---- the buffer ----------------------------------------------------------------------- */
int vow__buf_reserve_slow(vow__buf *b, size_t extra) {
    if (b->len == 0) b->off = 0;
    if (b->cap - b->len >= extra && b->off >= b->len) {
        /* Enough room once the bytes move to the front (and cheap to move). */
        memmove(b->data, b->data + b->off, b->len);
        b->off = 0;
        return 0;
    }
    if (extra > SIZE_MAX - b->len) return VOW_ENOMEM;
    size_t need = b->len + extra, cap = b->cap ? b->cap : 256;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) {
            cap = need;
            break;
        }
        cap *= 2;
    }
    if (cap > SIZE_MAX - b->head) return VOW_ENOMEM;
    if (b->off > 0) {
        memmove(b->data, b->data + b->off, b->len);
        b->off = 0;
    }
    unsigned char *d = vow__realloc(b->data != NULL ? b->data - b->head : NULL, b->head + cap);
    if (d == NULL) return VOW_ENOMEM;
    b->data = d + b->head;
    b->cap = cap;
    return 0;
}

int vow__buf_append(vow__buf *b, const void *p, size_t n) {
    if (n == 0) return 0;
    if (vow__buf_reserve(b, n) != 0) return VOW_ENOMEM;
    memcpy(b->data + b->off + b->len, p, n);
    b->len += n;
    return 0;
}

void vow__buf_consume(vow__buf *b, size_t n) {
    vow__assert(n <= b->len, "buffer consumed past its bytes");
    b->len -= n;
    b->off = b->len == 0 ? 0 : b->off + n;
}

void vow__buf_free(vow__buf *b) { vow__free(vow__buf_take(b)); }

unsigned char *vow__buf_take(vow__buf *b) {
    unsigned char *blk = b->data != NULL ? b->data - b->head : NULL;
    *b = (vow__buf){.head = b->head};
    return blk;
}

/* ---- descriptors ------------------------------------------------------------------------ */
int vow__sock_code(int e) {
    if (e == EWOULDBLOCK || e == EAGAIN) return VOW_EAGAIN;
    return e > 0 ? -e : VOW_EINVAL;
}

static int set_flags(int fd) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return vow__sock_code(errno);
    int fdl = fcntl(fd, F_GETFD);
    if (fdl < 0 || fcntl(fd, F_SETFD, fdl | FD_CLOEXEC) < 0) return vow__sock_code(errno);
    return 0;
}

static void no_sigpipe(int fd) {
#ifdef SO_NOSIGPIPE
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#else
    (void)fd;
#endif
}

int vow__sock_open(int family, int *fd) {
#if defined(SOCK_NONBLOCK) && defined(SOCK_CLOEXEC)
    int s = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s < 0) return vow__sock_code(errno);
#else
    int s = socket(family, SOCK_STREAM, 0);
    if (s < 0) return vow__sock_code(errno);
    int rc = set_flags(s);
    if (rc != 0) {
        close(s);
        return rc;
    }
#endif
    no_sigpipe(s);
    *fd = s;
    return 0;
}

int vow__sock_adopt(int fd) {
    int rc = set_flags(fd);
    if (rc == 0) no_sigpipe(fd);
    return rc;
}

int vow__sock_listen(const struct sockaddr *addr, socklen_t len, int backlog, int reuseport,
                     int v6only, int *fd) {
    int s, rc, one = 1;
    if ((rc = vow__sock_open(addr->sa_family, &s)) != 0) return rc;
    if (addr->sa_family != AF_UNIX &&
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
        goto fail_errno;
    if (reuseport) {
#ifdef SO_REUSEPORT
        if (setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) goto fail_errno;
#else
        rc = VOW_ENOTSUP;
        goto fail;
#endif
    }
    if (addr->sa_family == AF_INET6) {
        int v = v6only ? 1 : 0;
        if (setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &v, sizeof v) != 0) goto fail_errno;
    }
    if (bind(s, addr, len) != 0 || listen(s, backlog) != 0) goto fail_errno;
    *fd = s;
    return 0;
fail_errno:
    rc = vow__sock_code(errno);
    goto fail;
fail:
    close(s);
    return rc;
}

int vow__sock_accept(int lfd, int *fd) {
    for (;;) {
#if defined(__linux__) || defined(__FreeBSD__) || defined(__NetBSD__) || defined(__OpenBSD__)
        int s = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (s < 0) {
            if (errno == EINTR) continue;
            return vow__sock_code(errno);
        }
        no_sigpipe(s);
#else
        int s = accept(lfd, NULL, NULL);
        if (s < 0) {
            if (errno == EINTR) continue;
            return vow__sock_code(errno);
        }
        int rc = vow__sock_adopt(s);
        if (rc != 0) {
            close(s);
            return rc;
        }
#endif
        *fd = s;
        return 0;
    }
}

int vow__sock_connect(int fd, const struct sockaddr *addr, socklen_t len) {
    if (connect(fd, addr, len) == 0) return 0;
    if (errno == EINPROGRESS || errno == EINTR) return 1;
    /* A Unix socket whose backlog is full answers EAGAIN at once: nothing will make it
     * writable later, so that is a refusal (as libuv and Node report it). */
    if (errno == EAGAIN && addr->sa_family == AF_UNIX) return VOW_ECONNREFUSED;
    return vow__sock_code(errno);
}

int vow__sock_connect_result(int fd) {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return vow__sock_code(errno);
    return err == 0 ? 0 : vow__sock_code(err);
}

ssize_t vow__sock_read(int fd, vow__buf *b, size_t max) {
    if (vow__buf_reserve(b, max) != 0) return VOW_ENOMEM;
    for (;;) {
        ssize_t n = recv(fd, b->data + b->off + b->len, max, 0);
        if (n >= 0) {
            b->len += (size_t)n;
            return n;
        }
        if (errno != EINTR) return vow__sock_code(errno);
    }
}

ssize_t vow__sock_send(int fd, const void *p, size_t n) {
#ifdef MSG_NOSIGNAL
    int flags = MSG_NOSIGNAL;
#else
    int flags = 0; /* SO_NOSIGPIPE is set on every socket */
#endif
    for (;;) {
        ssize_t w = send(fd, p, n, flags);
        if (w >= 0) return w;
        if (errno != EINTR) return vow__sock_code(errno);
    }
}

int vow__sock_shutdown_wr(int fd) {
    if (shutdown(fd, SHUT_WR) != 0) return vow__sock_code(errno);
    return 0;
}

void vow__sock_close(int fd) {
    if (fd >= 0) (void)close(fd);
}

/* ---- the watcher ---------------------------------------------------------------------- */
void vow__sockw_init(vow__sockw *w, vow_loop_t *loop, int fd,
                     void (*cb)(struct ev_loop *evl, ev_io *io, int revents), void *data) {
    ev_io_init(&w->io, cb, fd, 0);
    w->io.data = data;
    w->loop = loop;
    w->events = 0;
}

void vow__sockw_set(vow__sockw *w, int events) {
    if (events == w->events) return;
    struct ev_loop *evl = w->loop->evl;
    if (w->events != 0) {
        ev_ref(evl); /* undo the unref taken when it started */
        ev_io_stop(evl, &w->io);
    }
    w->events = events;
    if (events != 0) {
        ev_io_set(&w->io, w->io.fd, events);
        ev_io_start(evl, &w->io);
        ev_unref(evl); /* liveness is the layer's (vow__loop_keep) */
    }
}
