/* src/sock.h - non-blocking stream socket plumbing for the layers above the reactor
 * (promise/net.c): descriptors made non-blocking and close-on-exec, listening, accepting,
 * connecting, reading into a growable buffer, writing without SIGPIPE, one libev watcher
 * per socket, errno mapped to vow's negative codes. Promise-free, as all of src/.
 *
 * Every function answers 0 (or a byte count) or a negative code: vow's code for the errno
 * (VOW_ECONNRESET == -ECONNRESET...), VOW_EAGAIN when the call would block. */
#ifndef VOW_SRC_SOCK_H
#define VOW_SRC_SOCK_H

#include <sys/socket.h>
#include <sys/types.h>

#include "internal.h"

/* ---- a growable byte buffer: bytes at data[off .. off + len), room after them ---------- *
 * `head` bytes before data belong to its allocation too (0 by default; set it only while the
 * buffer has no memory): room for a header of the layer's, so that the whole block can be
 * handed over (vow__buf_take) without copying the bytes. */
typedef struct vow__buf {
    unsigned char *data;
    size_t off, len, cap;
    size_t head;
} vow__buf;

/* Makes room for `extra` more bytes after the held ones (moving them to the front first
 * when that is enough): 0 or VOW_ENOMEM (nothing changed). */
int vow__buf_reserve_slow(vow__buf *b, size_t extra);
static inline int vow__buf_reserve(vow__buf *b, size_t extra) {
    if (b->cap - b->off - b->len >= extra) return 0; /* the room is there */
    return vow__buf_reserve_slow(b, extra);
}
/* Appends n bytes: 0 or VOW_ENOMEM (nothing appended). */
int vow__buf_append(vow__buf *b, const void *p, size_t n);
/* Drops the first n held bytes. */
void vow__buf_consume(vow__buf *b, size_t n);
/* Frees the memory; the buffer is empty and usable again (its head kept). */
void vow__buf_free(vow__buf *b);
/* Hands the memory over: the allocation (the head's bytes first, then data), to be freed
 * with vow__free; the buffer is empty and usable again (its head kept). NULL when it had
 * none. */
unsigned char *vow__buf_take(vow__buf *b);
static inline unsigned char *vow__buf_head(const vow__buf *b) {
    return b->data != NULL ? b->data + b->off : NULL;
}

/* ---- descriptors ------------------------------------------------------------------------ */
/* vow's code for an errno value (-e; VOW_EAGAIN for EWOULDBLOCK). */
int vow__sock_code(int e);
/* A new stream socket of `family`, non-blocking and close-on-exec (SO_NOSIGPIPE where the
 * system has it): 0 and *fd, or a code. */
int vow__sock_open(int family, int *fd);
/* Makes an adopted descriptor non-blocking and close-on-exec: 0 or a code. */
int vow__sock_adopt(int fd);
/* A listening socket on addr: SO_REUSEADDR (not for AF_UNIX), SO_REUSEPORT when `reuseport`
 * (VOW_ENOTSUP where the system has none), IPV6_V6ONLY set to `v6only` for AF_INET6: 0 and
 * *fd, or a code (nothing left open). */
int vow__sock_listen(const struct sockaddr *addr, socklen_t len, int backlog, int reuseport,
                     int v6only, int *fd);
/* One pending connection of listening socket lfd: 0 and *fd (non-blocking, close-on-exec),
 * VOW_EAGAIN when none waits, or accept's code. */
int vow__sock_accept(int lfd, int *fd);
/* Starts connecting fd to addr: 0 (connected at once), 1 (in progress: wait until fd is
 * writable, then vow__sock_connect_result), or a code. */
int vow__sock_connect(int fd, const struct sockaddr *addr, socklen_t len);
/* The outcome of a connect in progress (SO_ERROR): 0 or a code. */
int vow__sock_connect_result(int fd);
/* Reads at most `max` bytes (at least 1) into the room after b's bytes (grown as needed):
 * the count (> 0), 0 at the end of the stream, VOW_EAGAIN, VOW_ENOMEM or read's code. */
ssize_t vow__sock_read(int fd, vow__buf *b, size_t max);
/* Writes up to n bytes (never SIGPIPE): the count, VOW_EAGAIN, or send's code. */
ssize_t vow__sock_send(int fd, const void *p, size_t n);
/* shutdown(SHUT_WR): 0 or a code. */
int vow__sock_shutdown_wr(int fd);
/* close(2), retried never (Linux closes the descriptor even when it reports EINTR). */
void vow__sock_close(int fd);

/* ---- one watcher per socket --------------------------------------------------------------
 * An ev_io that never keeps the loop alive by itself (unref'd while active): the layer
 * above says what does (vow__loop_keep). `events` is what it watches now (0: stopped). */
typedef struct vow__sockw {
    ev_io io;
    vow_loop_t *loop;
    int events;
} vow__sockw;

/* Sets the watcher up for fd (stopped); cb gets the ev_io, whose `data` is `data`. */
void vow__sockw_init(vow__sockw *w, vow_loop_t *loop, int fd,
                     void (*cb)(struct ev_loop *evl, ev_io *io, int revents), void *data);
/* Watches `events` (EV_READ | EV_WRITE; 0 stops). */
void vow__sockw_set(vow__sockw *w, int events);

#endif /* VOW_SRC_SOCK_H */
