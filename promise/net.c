/* promise/net.c - stream sockets and servers as promises (vow/net.h): the promise face of
 * the reactor's socket plumbing (src/sock.h).
 *
 * A socket (struct vow_sock) owns its descriptor, one libev watcher, a read buffer and a
 * write buffer, and lines of waiters (promise/waiter.c): at most one read, the writes
 * waiting for the write buffer to fall to its limit, the drains and shutdowns waiting for
 * it to empty, and the connect that makes it. Each waiter holds a reference to the socket
 * (so vow_then(vow_sock_read(s), ...) and vow_sock_unref(s) still read); a socket handed
 * out in a value holds one more (vow_ptr with vow_sock_unref as destructor). The last
 * reference closes and frees it.
 *
 * The watcher never keeps the loop alive by itself: a socket takes one vow__loop_keep
 * while it watches anything, which is exactly while a read waits for bytes, written bytes
 * wait to go out, or a connect is in progress (net.h, LIVENESS). A server keeps the loop
 * while a consumer waits on its accept stream (a pull in flight).
 *
 * Servers. The accept stream is a stream (vow/stream.h) with a pull function: a pull (a
 * next waiting on an empty stream) gets a promise the next accepted connection fulfils,
 * and keeps the loop alive; connections accepted while no pull waits are pushed into the
 * stream's buffer (opts.accept_buffer). A push that has to wait means the buffer is full:
 * the server stops watching the listening socket until that push is taken (the kernel's
 * backlog holds the rest). Accept errors for want of descriptors or memory stop watching
 * for 50 ms, or until a socket of the loop closes.
 *
 * Teardown. The sockets and servers of a loop are listed in the net layer's state (a layer
 * registered on first use, slot VOW__LAYER_NET); vow_loop_free closes every socket (stops
 * its watcher, closes its descriptor) and detaches every server; the promise layer's
 * teardown has by then released the waiters and values, which drop their references. A
 * socket or server the user still holds answers VOW_ECLOSED and is freed by its last
 * unref / vow_server_close.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "../src/sock.h"
#include "internal.h"

#define READ_CHUNK 65536u
#define DEFAULT_WRITE_LIMIT 65536u
#define ACCEPT_RETRY_MS 50u
#define ACCEPT_BATCH 128

struct net_state {
    struct {
        vow_sock_t *head, *tail;
    } socks;
    struct {
        vow_server_t *head, *tail;
    } servers;
    void *small;    /* small bytes blocks kept for the next reads (linked through their
                      first pointer), at most SMALL_KEEP */
    size_t nsmall;  /* how many */
    vow_t *written; /* fulfilled with nothing: the answer of every write fulfilled at once
                       (write_now), shared (one reference, until the teardown) */
};

/* ---- errors -------------------------------------------------------------------------------- */
static vow_error_t *err_new(int code) {
    if (code > VOW_ERR_OWN_BASE && code < 0 && strcmp(vow_err_name(code), "UNKNOWN") == 0)
        return vow_error_new(code, strerror(-code));
    return vow_error_new(code, NULL);
}

static vow_t *rejected(vow_loop_t *loop, int code, const char *msg) {
    return vow_rejected(loop, msg != NULL ? vow_error_new(code, msg) : err_new(code));
}

/* ---- bytes values --------------------------------------------------------------------------- */
/* A read's bytes value is one allocation: the value's shared box (promise/internal.h), then
 * the bytes. The value is made boxed already (vow__value_store has nothing to add), and
 * vow_value_release frees the box, which is the whole block; the box's destructor only
 * marks the bytes gone (it must not free them, and it is distinct from any other). */
static void bytes_in_box(void *p) { ((vow_bytes_t *)p)->len = 0; }

#define BYTES_AT ((sizeof(struct vow__box) + 15) & ~(size_t)15)
/* Where a bytes value's first byte is in its block; the read buffer keeps that much room in
 * front of its bytes (vow__buf's head), so a read that takes everything buffered can take
 * the buffer's block as its value (give), without copying. */
#define BYTES_DATA_AT (BYTES_AT + offsetof(vow_bytes_t, data))

/* Small blocks: a read of at most SMALL_MAX bytes (a message, a line) gets a block of
 * SMALL_BLOCK bytes, which its release hands back to its loop's cache (at most SMALL_KEEP
 * blocks, 16 KiB, freed with the loop) when it is released on the thread running that
 * loop; anywhere else (another thread, after the loop's run, a loop whose pools are off:
 * VOW_POOL=off) it is freed. A ping-pong's read then costs no malloc and no free. */
enum { SMALL_BLOCK = 256, SMALL_KEEP = 64 };
#define SMALL_MAX (SMALL_BLOCK - BYTES_DATA_AT - 1)

static void bytes_small_free(void *p) {
    struct vow__box *box = (struct vow__box *)((unsigned char *)p - BYTES_AT);
    bytes_in_box(p);
    vow_loop_t *loop = box->owner; /* compared first: it may be gone (then not running) */
    if (vow__loop_running_here(loop)) {
        struct net_state *ns = vow__loop_layer(loop, VOW__LAYER_NET);
        if (ns != NULL && ns->nsmall < SMALL_KEEP) {
            *(void **)box = ns->small;
            ns->small = box;
            ns->nsmall++;
            /* Poisoned past its link while cached, as a pool's free slot (src/pool.c): a
             * read of bytes whose value was released is then AddressSanitizer's to see. */
            VOW__POISON((unsigned char *)box + sizeof(void *), SMALL_BLOCK - sizeof(void *));
            return;
        }
    }
    vow__free(box);
}

/* A small block: from the loop's cache when there is one, else allocated (NULL: out of
 * memory). */
static unsigned char *small_block(vow_loop_t *loop) {
    struct net_state *ns = vow__loop_layer(loop, VOW__LAYER_NET);
    if (ns->small != NULL && vow__loop_running_here(loop)) {
        unsigned char *blk = ns->small;
        ns->small = *(void **)blk;
        ns->nsmall--;
        VOW__UNPOISON(blk, SMALL_BLOCK);
        return blk;
    }
    return vow__malloc(SMALL_BLOCK);
}

static void small_cache_free(struct net_state *ns) {
    while (ns->small != NULL) {
        void *blk = ns->small;
        ns->small = *(void **)blk;
        VOW__UNPOISON(blk, SMALL_BLOCK);
        vow__free(blk);
    }
    ns->nsmall = 0;
}

/* The value of a block whose n bytes are in place at BYTES_DATA_AT (room for the NUL after
 * them): its box at the start, its vow_bytes_t header, the NUL. `loop`: a small block's
 * (bytes_small_free), else NULL. */
static inline vow_value_t bytes_in_block(unsigned char *blk, size_t n, vow_loop_t *loop) {
    struct vow__box *box = (struct vow__box *)blk;
    vow_bytes_t *b = (vow_bytes_t *)(blk + BYTES_AT);
    b->len = n;
    b->data[n] = '\0';
    box->refcnt = 1;
    box->p = b;
    box->dtor = loop != NULL ? bytes_small_free : bytes_in_box;
    box->inert = 1; /* its release runs no user code (promise.c's release short cut) */
    box->frees_itself = loop != NULL;
    box->owner = loop;
    return (vow_value_t){.kind = VOW_VAL_PTR, .u.p = b, .own.box = box, .boxed = 1};
}

/* A value of n bytes of loop's, copied from p (NULL: none yet); VOW_VAL_NONE when out of
 * memory. (Inline: a call returning the 32-byte value cost a read 15 instructions.) */
static inline __attribute__((always_inline)) vow_value_t
bytes_value(vow_loop_t *loop, const unsigned char *p, size_t n) {
    unsigned char *blk;
    if (n <= SMALL_MAX && !loop->pool_passthrough) {
        blk = small_block(loop);
    } else {
        if (n > SIZE_MAX - BYTES_AT - sizeof(vow_bytes_t) - 1) return vow__none();
        blk = vow__malloc(BYTES_AT + sizeof(vow_bytes_t) + n + 1);
        loop = NULL;
    }
    if (blk == NULL) return vow__none();
    if (n > 0 && p != NULL) memcpy(blk + BYTES_DATA_AT, p, n);
    return bytes_in_block(blk, n, loop);
}

const vow_bytes_t *vow_value_bytes(const vow_value_t *v) {
    if (v == NULL || v->kind != VOW_VAL_PTR || !v->boxed) return NULL;
    void (*dtor)(void *) = v->own.box->dtor;
    return dtor == bytes_in_box || dtor == bytes_small_free ? v->u.p : NULL;
}

/* ---- the layer ------------------------------------------------------------------------------ */
enum { RD_SOME = 1, RD_EXACTLY, RD_UNTIL };

/* A read's waiter: the socket's own record (rw) when it is free, else one from the pool. */
struct rwaiter {
    vow__waiter w; /* first; owner: the socket (one reference) */
    uint8_t kind;
    size_t n;             /* SOME: max; EXACTLY: n; UNTIL: max (0: none) */
    size_t scanned;       /* UNTIL: buffered bytes searched already */
    unsigned char *delim; /* UNTIL (owned) */
    size_t dlen;
};

struct vow_sock {
    vow_loop_t *loop;
    vow_t *anchor; /* keeps the loop's memory valid (owned) */
    size_t refs;   /* handles, values, waiters, and holds around internal work */
    int fd;        /* -1 once closed */
    int err;       /* the failure every later read and write answers (0: none) */
    int shut_rc;   /* the shutdown's outcome, once done */
    uint8_t closed, eof, connecting, shut_req, shut_done, kept, listed;
    uint8_t drained;   /* the last recv emptied the kernel's buffer: wait for readiness */
    uint8_t read_lazy; /* EV_READ stays on after a read is served, until readiness comes
                          with no read waiting (no epoll_ctl per read) */
    uint8_t in_io;     /* inside its callback's drain: the watcher and the keep are
                          brought up to date after it (sock_io) */
    uint8_t rw_busy;   /* rw is a read's waiter (until its release) */
    struct rwaiter rw;
    size_t limit;
    vow__sockw w;
    vow__buf rbuf, wbuf;
    vow__wline reads, writes, drains, shuts, conns;
    vow_sock_stats_t st;
    vow_sock_t *next, *prev; /* the loop's sockets */
};

struct link; /* what the accept stream and the push reactions know of their server */

struct vow_server {
    vow_loop_t *loop;
    vow_t *anchor;
    int fd;
    int port;     /* TCP: the port; -1 for a Unix server */
    char *path;   /* Unix: the path to remove (owned) */
    uint8_t full; /* a push waits: the stream's buffer is full */
    uint8_t backoff, failed, kept, listed, stream_gone;
    size_t accept_buffer;
    vow__sockw w;
    vow_stream_t *stream; /* one reference, made on first vow_server_accept */
    struct link *link;    /* owned reference */
    vow__waiter *pull_w;  /* the pull in flight (its promise fulfils with a connection) */
    vow_timer_t retry;    /* the backoff's timer, 0 */
    long errors;
    int last_err;
    vow_server_t *next, *prev;
};

struct link {
    size_t refs;
    vow_server_t *srv; /* NULL once the server is closed */
};

static void keep_set(vow_loop_t *loop, uint8_t *kept, int on) {
    if (on && loop->closed) on = 0;
    if (loop->evl == NULL) { /* after the teardown: nothing to balance any more */
        *kept = 0;
        return;
    }
    if ((*kept != 0) == (on != 0)) return;
    *kept = (uint8_t)(on != 0);
    if (on)
        vow__loop_keep(loop);
    else if (loop->keep > 0) /* (a teardown may have reset the count already) */
        vow__loop_unkeep(loop);
}

static void server_detach(vow_server_t *srv);

static void layer_teardown(vow_loop_t *loop, void *state) {
    struct net_state *ns = state;
    (void)loop;
    vow__unref(ns->written);
    ns->written = NULL;
    while (ns->socks.head != NULL) {
        vow_sock_t *s = ns->socks.head;
        VOW__DLIST_UNLINK(&ns->socks, s);
        s->listed = 0;
        s->refs++;
        vow_sock_close(s);
        vow_sock_unref(s);
    }
    while (ns->servers.head != NULL) server_detach(ns->servers.head);
}

static void layer_destroy(vow_loop_t *loop, void *state) {
    (void)loop;
    small_cache_free(state);
    vow__free(state);
}

static int wants(const vow_sock_t *s);

static void layer_verify(const vow_loop_t *loop, void *state) {
    (void)loop;
    struct net_state *ns = state;
    const vow_sock_t *prev = NULL;
    for (const vow_sock_t *s = ns->socks.head; s != NULL; prev = s, s = s->next) {
        vow__assert(s->prev == prev && s->listed && s->refs > 0, "net: socket list");
        vow__assert(s->reads.n <= 1, "net: one read at a time");
        vow__assert(!s->closed || (s->w.events == 0 && !s->kept), "net: a closed socket watches");
        /* (Inside its callback's drain the socket may still keep the loop for what it has
         * answered, and not watch yet for what it waits for: sock_io updates both once the
         * drain is over.) */
        vow__assert((wants(s) != 0) == (s->kept != 0) || s->in_io,
                    "net: a socket keeps the loop exactly while it waits for something");
        vow__assert((wants(s) & ~s->w.events) == 0 || s->in_io,
                    "net: a socket watches what it waits for");
    }
    vow__assert(prev == ns->socks.tail, "net: socket list tail");
}

static void each_in_line(const vow__wline *l, void (*fn)(vow_t *p, void *ctx), void *ctx) {
    for (vow__waiter *w = l->head; w != NULL; w = w->next) fn(w->p, ctx);
}

void vow__net_each_promise(vow_loop_t *loop, void (*fn)(vow_t *p, void *ctx), void *ctx) {
    struct net_state *ns = vow__loop_layer(loop, VOW__LAYER_NET);
    if (ns == NULL) return;
    for (vow_sock_t *s = ns->socks.head; s != NULL; s = s->next) {
        each_in_line(&s->conns, fn, ctx);
        each_in_line(&s->reads, fn, ctx);
        each_in_line(&s->writes, fn, ctx);
        each_in_line(&s->drains, fn, ctx);
        each_in_line(&s->shuts, fn, ctx);
    }
    for (vow_server_t *srv = ns->servers.head; srv != NULL; srv = srv->next)
        if (srv->pull_w != NULL) fn(srv->pull_w->p, ctx);
}

static const vow__layer net_layer = {
    .name = "net",
    .teardown = layer_teardown,
    .destroy = layer_destroy,
    .verify = layer_verify,
};

/* The net state of loop (registered on first use); NULL when out of memory. */
static struct net_state *net_state(vow_loop_t *loop) {
    struct net_state *ns = vow__loop_layer(loop, VOW__LAYER_NET);
    if (ns != NULL) return ns;
    if ((ns = vow__calloc(1, sizeof *ns)) == NULL) return NULL;
    int rc = vow__loop_add_layer(loop, VOW__LAYER_NET, &net_layer, ns);
    vow__assert(rc == 0, "the net layer's slot is taken");
    return ns;
}

/* ---- sockets: memory ------------------------------------------------------------------------- */
static void sock_io(struct ev_loop *evl, ev_io *io, int revents);

/* A socket on fd with one reference; NULL when out of memory (fd untouched). */
static vow_sock_t *sock_new(vow_loop_t *loop, int fd) {
    struct net_state *ns = net_state(loop);
    if (ns == NULL) return NULL;
    vow_sock_t *s = vow__calloc(1, sizeof *s);
    if (s == NULL) return NULL;
    if ((s->anchor = vow__promise_new(loop, 0)) == NULL) {
        vow__free(s);
        return NULL;
    }
    s->loop = loop;
    s->refs = 1;
    s->fd = fd;
    s->limit = DEFAULT_WRITE_LIMIT;
    s->rbuf.head = BYTES_DATA_AT;
    vow__sockw_init(&s->w, loop, fd, sock_io, s);
    VOW__DLIST_PUSH(&ns->socks, s);
    s->listed = 1;
    return s;
}

static void sock_free(vow_sock_t *s) {
    if (s->listed) {
        struct net_state *ns = vow__loop_layer(s->loop, VOW__LAYER_NET);
        VOW__DLIST_UNLINK(&ns->socks, s);
    }
    vow__buf_free(&s->rbuf);
    vow__buf_free(&s->wbuf);
    vow_t *anchor = s->anchor;
    vow__free(s);
    vow__unref(anchor); /* last: it may hold the loop's memory */
}

vow_sock_t *vow_sock_ref(vow_sock_t *s) {
    if (s != NULL) s->refs++;
    return s;
}

void vow_sock_unref(vow_sock_t *s) {
    if (s == NULL) return;
    vow__assert(s->refs > 0, "socket refcount underflow");
    if (s->refs > 1) {
        s->refs--;
        return;
    }
    vow_sock_close(s); /* with its last reference still held: closing may release waiters */
    if (--s->refs == 0) sock_free(s);
}

/* vow_sock_unref's common case inline: a reference that is not the last. */
static inline void sock_put(vow_sock_t *s) {
    if (s->refs > 1)
        s->refs--;
    else
        vow_sock_unref(s);
}

static void value_free(void *p) { vow_sock_unref(p); }

/* A value holding one new reference to s. */
static vow_value_t sock_value(vow_sock_t *s) { return vow_ptr(vow_sock_ref(s), value_free); }

/* ---- sockets: the watcher --------------------------------------------------------------------- */
/* What the socket waits for (EV_READ: a read waits for bytes; EV_WRITE: bytes wait to go
 * out, or a connect is in progress): exactly what keeps the loop alive. */
static inline int wants(const vow_sock_t *s) {
    if (s->closed || s->loop->closed) return 0;
    if (s->connecting) return EV_WRITE;
    if (s->err != 0) return 0;
    return (s->reads.head != NULL && !s->eof ? EV_READ : 0) | (s->wbuf.len > 0 ? EV_WRITE : 0);
}

/* Watches what the socket waits for (and, lazily, EV_READ after a read was served), and
 * keeps the loop alive exactly while it waits. */
static void update(vow_sock_t *s) {
    int want = wants(s), ev = want;
    if (want & EV_READ)
        s->read_lazy = 1;
    else if (s->read_lazy && !s->closed && !s->loop->closed && s->err == 0 && !s->eof)
        ev |= s->w.events & EV_READ;
    else
        s->read_lazy = 0;
    /* (Each call only when something changes: both are no-ops otherwise.) */
    if (ev != s->w.events) vow__sockw_set(&s->w, ev);
    if ((want != 0) != (s->kept != 0)) keep_set(s->loop, &s->kept, want != 0);
}

/* Settles the first waiter of a line (leaves it first: its release may run inside). */
static void answer_ok(vow__wline *l, vow_value_t v) {
    vow__waiter *w = l->head;
    vow__waiter_leave(w);
    vow__waiter_fulfil(w, v);
}

static void answer_err(vow__wline *l, int code) {
    vow__waiter *w = l->head;
    vow__waiter_leave(w);
    vow__waiter_reject(w, err_new(code));
}

static void answer_all_err(vow__wline *l, int code) {
    while (l->head != NULL) answer_err(l, code);
}

/* ---- reading --------------------------------------------------------------------------------- */

/* The read buffer's block as a value of its n bytes (all it holds, at its start, with room
 * for the NUL after them): the buffer is left without memory. */
static __attribute__((noinline)) vow_value_t bytes_take(vow__buf *rb, size_t n) {
    return bytes_in_block(vow__buf_take(rb), n, NULL);
}

/* Gives the first n buffered bytes to the read. When they are all it holds and fill at
 * least half its room, the buffer's block itself becomes the value (the next recv gets a
 * new one): no copy of large reads, and a value at most twice its bytes' size. Smaller
 * reads are copied into a block of their own. */
static void give(vow_sock_t *s, size_t n) {
    vow__buf *rb = &s->rbuf;
    if (n >= rb->cap / 2 && n == rb->len && rb->off == 0 && n < rb->cap) {
        answer_ok(&s->reads, bytes_take(rb, n));
        return;
    }
    vow_value_t v = bytes_value(s->loop, vow__buf_head(&s->rbuf), n);
    if (v.kind == VOW_VAL_NONE) {
        answer_err(&s->reads, VOW_ENOMEM); /* the bytes stay buffered */
        return;
    }
    vow__buf_consume(&s->rbuf, n);
    answer_ok(&s->reads, v);
}

static size_t find(const unsigned char *h, size_t hlen, size_t from, const unsigned char *d,
                   size_t dlen, int *found) {
    *found = 0;
    if (hlen < dlen) return 0;
    for (size_t i = from; i + dlen <= hlen;) {
        const unsigned char *c = memchr(h + i, d[0], hlen - dlen + 1 - i);
        if (c == NULL) break;
        i = (size_t)(c - h);
        if (memcmp(c, d, dlen) == 0) {
            *found = 1;
            return i;
        }
        i++;
    }
    return 0;
}

/* Answers the waiting read from the buffer, the end of the stream or the socket's error,
 * when it can: 1 when it did. */
static int satisfy(vow_sock_t *s) {
    struct rwaiter *r = (struct rwaiter *)s->reads.head;
    size_t len = s->rbuf.len;
    int fail = s->err;
    switch (r->kind) {
    case RD_SOME:
        if (len > 0) {
            give(s, len < r->n ? len : r->n);
            return 1;
        }
        if (fail == 0 && s->eof) {
            vow_value_t v = bytes_value(s->loop, NULL, 0);
            if (v.kind == VOW_VAL_NONE)
                answer_err(&s->reads, VOW_ENOMEM);
            else
                answer_ok(&s->reads, v);
            return 1;
        }
        break;
    case RD_EXACTLY:
        if (len >= r->n) {
            give(s, r->n);
            return 1;
        }
        break;
    default: { /* RD_UNTIL */
        int found;
        size_t from = r->scanned >= r->dlen ? r->scanned - r->dlen + 1 : 0;
        size_t at = find(vow__buf_head(&s->rbuf), len, from, r->delim, r->dlen, &found);
        if (found) {
            if (r->n != 0 && at + r->dlen > r->n) {
                answer_err(&s->reads, VOW_ERANGE);
            } else
                give(s, at + r->dlen);
            return 1;
        }
        r->scanned = len;
        if (r->n != 0 && len >= r->n) {
            answer_err(&s->reads, VOW_ERANGE);
            return 1;
        }
        break;
    }
    }
    if (fail != 0) {
        answer_err(&s->reads, fail);
        return 1;
    }
    if (s->eof) {
        answer_err(&s->reads, VOW_EEOF);
        return 1;
    }
    if (s->closed) {
        answer_err(&s->reads, VOW_ECLOSED);
        return 1;
    }
    return 0;
}

static void sock_fail(vow_sock_t *s, int code);

/* Serves the waiting read: from the buffer, else from the socket until it would block. */
static void pump_read(vow_sock_t *s) {
    while (s->reads.head != NULL) {
        /* An empty buffer serves no read until bytes, the end, an error or the close come
         * (satisfy would answer 0): straight to recv. */
        if ((s->rbuf.len > 0 || s->err != 0 || s->eof || s->closed) && satisfy(s)) continue;
        /* After a recv that found the kernel's buffer empty (or took less than it asked
         * for), wait for readiness rather than ask again at once (libuv's rule). */
        if (s->drained) break;
        ssize_t n = vow__sock_read(s->fd, &s->rbuf, READ_CHUNK);
        if (n > 0) {
            s->st.bytes_read += (uint64_t)n;
            if ((size_t)n < READ_CHUNK) s->drained = 1;
        } else if (n == 0) {
            s->eof = 1;
        } else if (n == VOW_EAGAIN) {
            s->drained = 1;
            break;
        } else if (n == VOW_ENOMEM)
            answer_err(&s->reads, VOW_ENOMEM);
        else
            sock_fail(s, (int)n);
    }
}

/* ---- writing --------------------------------------------------------------------------------- */
/* The write buffer fell: waiting writes, drains and a shutdown may go on. */
static void after_write(vow_sock_t *s) {
    if (s->wbuf.len <= s->limit)
        while (s->writes.head != NULL) answer_ok(&s->writes, vow__none());
    if (s->wbuf.len > 0) return;
    while (s->drains.head != NULL) answer_ok(&s->drains, vow__none());
    if (s->shut_req && !s->shut_done && s->err == 0 && !s->closed) {
        s->shut_done = 1;
        s->shut_rc = vow__sock_shutdown_wr(s->fd);
    }
    if (s->shut_done) {
        while (s->shuts.head != NULL) {
            if (s->shut_rc == 0)
                answer_ok(&s->shuts, vow__none());
            else
                answer_err(&s->shuts, s->shut_rc);
        }
    }
}

/* The socket failed with `code`: every later operation answers it; what waits on the write
 * side rejects now, and the read does once the buffer cannot serve it. */
static void sock_fail(vow_sock_t *s, int code) {
    if (s->err == 0) s->err = code;
    s->wbuf.len = 0;
    s->wbuf.off = 0;
    answer_all_err(&s->writes, s->err);
    answer_all_err(&s->drains, s->err);
    answer_all_err(&s->shuts, s->err);
    while (s->reads.head != NULL && satisfy(s)) {
    }
}

static void flush(vow_sock_t *s) {
    while (s->wbuf.len > 0 && s->err == 0) {
        ssize_t n = vow__sock_send(s->fd, vow__buf_head(&s->wbuf), s->wbuf.len);
        if (n == VOW_EAGAIN) break;
        if (n < 0) {
            sock_fail(s, (int)n);
            return;
        }
        s->st.bytes_written += (uint64_t)n;
        if ((size_t)n < s->wbuf.len) s->st.partial_writes++;
        vow__buf_consume(&s->wbuf, (size_t)n);
        if (s->wbuf.len > 0) break; /* the kernel is full: wait until it is writable */
    }
    after_write(s);
}

/* ---- connecting ------------------------------------------------------------------------------ */
static void conn_done(vow_sock_t *s, int rc) {
    s->connecting = 0;
    if (s->conns.head == NULL) return;
    if (rc == 0) {
        answer_ok(&s->conns, sock_value(s));
    } else {
        answer_err(&s->conns, rc);
        vow_sock_close(s);
    }
}

static void sock_io(struct ev_loop *evl, ev_io *io, int revents) {
    (void)evl;
    vow_sock_t *s = io->data;
    vow_loop_t *loop = s->loop;
    vow__callback_begin(loop);
    s->refs++;
    if (s->connecting) {
        conn_done(s, vow__sock_connect_result(s->fd));
    } else {
        if (revents & EV_WRITE) flush(s);
        if ((revents & EV_READ) && !s->closed) {
            s->drained = 0;
            if (s->reads.head != NULL)
                pump_read(s);
            else
                s->read_lazy = 0; /* nobody reads: stop watching (update below) */
        }
    }
    /* The reactions first: the one that took a read's bytes usually starts the next read,
     * and the watcher and the keep, updated after them, then stay as they are (no keep
     * released and taken again per read; start_read leaves the update to this one). */
    uint8_t in_io = s->in_io;
    s->in_io = 1;
    vow__drain(loop);
    s->in_io = in_io;
    update(s);
    if (s->refs > 1) {
        s->refs--;
        return;
    }
    vow__callback_begin(loop); /* what the last reference's close queues runs here too */
    vow_sock_unref(s);
    vow__drain(loop);
}

/* ---- waiters of a socket ----------------------------------------------------------------------- */
static void read_cancel(vow__waiter *w) {
    vow_sock_t *s = w->owner;
    vow__waiter_leave(w); /* the bytes received stay buffered */
    s->read_lazy = 0;     /* and the watcher stops at once */
    update(s);
}

static void read_release(vow__waiter *w) {
    struct rwaiter *r = (struct rwaiter *)w;
    vow_sock_t *s = w->owner;
    if (r->delim != NULL) vow__free(r->delim);
    r->delim = NULL;
    if (r == &s->rw) s->rw_busy = 0;
    sock_put(s);
}

static void plain_release(vow__waiter *w) { sock_put(w->owner); }

static void conn_cancel(vow__waiter *w) {
    vow__waiter_leave(w);
    vow_sock_close(w->owner); /* the socket being connected goes */
}

static const struct vow__waiter_ops read_ops = {read_cancel, read_release};
static const struct vow__waiter_ops write_ops = {NULL, plain_release};
static const struct vow__waiter_ops conn_ops = {conn_cancel, plain_release};

/* A waiter of s at the end of line l (holding a reference to s); NULL when out of memory. */
static vow_t *sock_waiter(vow_sock_t *s, size_t size, vow__wline *l,
                          const struct vow__waiter_ops *ops, vow__waiter **out) {
    vow_t *p = vow__waiter_new(s->loop, size, l, ops, s, out);
    if (p != NULL) s->refs++;
    return p;
}

/* ---- sockets: the public calls -------------------------------------------------------------- */
static int usable(const vow_sock_t *s) { return s != NULL && !s->loop->closed; }

/* (Inline in each of the three reads: their kind is then a constant, and the checks of the
 * other two kinds go.) */
static inline __attribute__((always_inline)) vow_t *start_read(vow_sock_t *s, int kind, size_t n,
                                                               const void *delim, size_t dlen) {
    if (!usable(s)) return NULL;
    vow_loop_t *loop = s->loop;
    if (kind == RD_SOME && n == 0) return rejected(loop, VOW_EINVAL, "read: max 0");
    if (kind == RD_EXACTLY && n == 0) return rejected(loop, VOW_EINVAL, "read_exactly: n 0");
    if (kind == RD_UNTIL && (delim == NULL || dlen == 0 || (n != 0 && n < dlen)))
        return rejected(loop, VOW_EINVAL, "read_until: delim NULL or empty, or max below it");
    if (s->reads.head != NULL) return rejected(loop, VOW_EBUSY, "a read waits already");
    if (s->closed) return rejected(loop, VOW_ECLOSED, "socket closed");
    unsigned char *d = NULL;
    if (kind == RD_UNTIL) {
        if ((d = vow__malloc(dlen)) == NULL) return NULL;
        memcpy(d, delim, dlen);
    }
    vow__waiter *w;
    vow_t *p;
    if (!s->rw_busy) { /* the socket's own record: no allocation, nothing to zero */
        w = &s->rw.w;
        if ((p = vow__waiter_init(loop, w, &s->reads, &read_ops, s)) != NULL) {
            s->refs++;
            s->rw_busy = 1;
        }
    } else { /* the last read's record is still held (its promise's cancel record) */
        p = sock_waiter(s, sizeof(struct rwaiter), &s->reads, &read_ops, &w);
    }
    if (p == NULL) {
        vow__free(d);
        return NULL;
    }
    struct rwaiter *r = (struct rwaiter *)w;
    r->kind = (uint8_t)kind;
    r->n = n;
    r->scanned = 0;
    r->delim = d;
    r->dlen = dlen;
    s->refs++;
    if (!s->drained || s->rbuf.len > 0 || s->err != 0 || s->eof || s->closed) pump_read(s);
    if (!s->in_io) update(s); /* (else sock_io does, after its drain) */
    sock_put(s);
    return p;
}

vow_t *vow_sock_read(vow_sock_t *s, size_t max) { return start_read(s, RD_SOME, max, NULL, 0); }

vow_t *vow_sock_read_exactly(vow_sock_t *s, size_t n) {
    return start_read(s, RD_EXACTLY, n, NULL, 0);
}

vow_t *vow_sock_read_until(vow_sock_t *s, const void *delim, size_t dlen, size_t max) {
    return start_read(s, RD_UNTIL, max, delim, dlen);
}

/* What a write-side call answers at once, or 0. */
static int write_check(const vow_sock_t *s) {
    if (s->closed) return VOW_ECLOSED;
    if (s->err != 0) return s->err;
    return 0;
}

/* A write whose promise fulfils at once, whatever the kernel takes: the bytes left will be
 * at most the limit (len <= limit - buffered; the room is reserved). No write waits then
 * (they wait only while the buffer is over the limit), so the promise needs no waiter: the
 * loop's shared fulfilled one (net_state's `written`: nothing to allocate, settle or free
 * per write), or a new one rejected if the send fails (sock_fail would have rejected a
 * waiter in the line). */
static vow_t *write_now(vow_sock_t *s, const unsigned char *b, size_t len) {
    struct net_state *ns = vow__loop_layer(s->loop, VOW__LAYER_NET);
    if (ns->written == NULL) { /* made before any byte goes out: nothing fails after */
        if ((ns->written = vow__promise_new(s->loop, 0)) == NULL) return NULL;
        vow__fulfil_new_plain(ns->written, vow__none());
    }
    ssize_t n = 0;
    if (s->wbuf.len == 0 && len > 0) {
        n = vow__sock_send(s->fd, b, len);
        if (n == (ssize_t)len) { /* all of it: nothing to watch, nothing else changes */
            s->st.bytes_written += (uint64_t)n;
            return vow__ref(ns->written);
        }
    }
    /* A failed send gets a promise of its own, to reject (NULL when out of memory: the
     * socket's failure is recorded all the same). */
    int failed = n < 0 && n != VOW_EAGAIN;
    vow_t *p = failed ? vow__promise_new(s->loop, 0) : vow__ref(ns->written);
    s->refs++;
    if (n > 0) {
        s->st.bytes_written += (uint64_t)n;
        s->st.partial_writes++;
        b += n;
        len -= (size_t)n;
    } else if (n < 0 && n != VOW_EAGAIN) {
        sock_fail(s, (int)n);
        len = 0;
    }
    if (len > 0) (void)vow__buf_append(&s->wbuf, b, len); /* reserved above */
    if (failed && p != NULL) vow__reject(p, err_new(s->err));
    after_write(s);
    update(s);
    vow_sock_unref(s);
    return p;
}

vow_t *vow_sock_write(vow_sock_t *s, const void *data, size_t len) {
    if (!usable(s)) return NULL;
    vow_loop_t *loop = s->loop;
    if (data == NULL && len > 0) return rejected(loop, VOW_EINVAL, "write: data NULL, len > 0");
    int rc = write_check(s);
    if (rc != 0) return rejected(loop, rc, rc == VOW_ECLOSED ? "socket closed" : NULL);
    if (s->shut_req) return rejected(loop, VOW_EPIPE, "write after shutdown");
    /* Room for every byte first, so that nothing fails once bytes went out. */
    if (vow__buf_reserve(&s->wbuf, len) != 0) return NULL;
    if (len <= s->limit - s->wbuf.len && s->wbuf.len <= s->limit) return write_now(s, data, len);
    vow__waiter *w;
    vow_t *p = sock_waiter(s, sizeof *w, &s->writes, &write_ops, &w);
    if (p == NULL) return NULL;
    s->refs++;
    const unsigned char *b = data;
    if (s->wbuf.len == 0 && len > 0) {
        ssize_t n = vow__sock_send(s->fd, b, len);
        if (n >= 0) {
            s->st.bytes_written += (uint64_t)n;
            if ((size_t)n < len && n > 0) s->st.partial_writes++;
            b += n;
            len -= (size_t)n;
        } else if (n != VOW_EAGAIN) {
            sock_fail(s, (int)n);
            len = 0;
        }
    }
    if (len > 0) (void)vow__buf_append(&s->wbuf, b, len); /* reserved above */
    after_write(s);
    update(s);
    vow_sock_unref(s);
    return p;
}

vow_t *vow_sock_drain(vow_sock_t *s) {
    if (!usable(s)) return NULL;
    int rc = write_check(s);
    if (rc != 0) return rejected(s->loop, rc, rc == VOW_ECLOSED ? "socket closed" : NULL);
    vow__waiter *w;
    vow_t *p = sock_waiter(s, sizeof *w, &s->drains, &write_ops, &w);
    if (p == NULL) return NULL;
    s->refs++;
    after_write(s);
    update(s);
    vow_sock_unref(s);
    return p;
}

int vow_sock_set_write_limit(vow_sock_t *s, size_t limit) {
    if (s == NULL) return VOW_EINVAL;
    if (s->closed || s->loop->closed) return VOW_ECLOSED;
    s->limit = limit;
    s->refs++;
    after_write(s);
    vow_sock_unref(s);
    return 0;
}

vow_t *vow_sock_shutdown(vow_sock_t *s) {
    if (!usable(s)) return NULL;
    if (s->shut_done && s->shuts.head == NULL) /* a second call answers as the first */
        return s->shut_rc == 0 ? vow_resolved(s->loop, vow__none())
                               : rejected(s->loop, s->shut_rc, NULL);
    int rc = write_check(s);
    if (rc != 0) return rejected(s->loop, rc, rc == VOW_ECLOSED ? "socket closed" : NULL);
    vow__waiter *w;
    vow_t *p = sock_waiter(s, sizeof *w, &s->shuts, &write_ops, &w);
    if (p == NULL) return NULL;
    s->refs++;
    s->shut_req = 1;
    after_write(s);
    update(s);
    vow_sock_unref(s);
    return p;
}

static void servers_resume(vow_loop_t *loop);

int vow_sock_close(vow_sock_t *s) {
    if (s == NULL) return VOW_EINVAL;
    if (s->closed) return 0;
    vow_loop_t *loop = s->loop;
    s->refs++;
    s->closed = 1;
    update(s); /* stops the watcher, lets the loop go */
    vow__sock_close(s->fd);
    s->fd = -1;
    s->connecting = 0;
    s->rbuf.len = s->wbuf.len = 0;
    vow__buf_free(&s->rbuf);
    vow__buf_free(&s->wbuf);
    vow__wline *lines[] = {&s->conns, &s->reads, &s->writes, &s->drains, &s->shuts};
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        while (lines[i]->head != NULL) {
            if (!loop->closed)
                answer_err(lines[i], VOW_ECLOSED);
            else
                vow__waiter_leave(lines[i]->head); /* the teardown releases it */
        }
    }
    if (!loop->closed) servers_resume(loop); /* a descriptor is free again */
    vow_sock_unref(s);
    return 0;
}

int vow_sock_fd(const vow_sock_t *s) {
    if (s == NULL) return VOW_EINVAL;
    if (s->closed) return VOW_ECLOSED;
    return s->fd;
}

int vow_sock_stats(const vow_sock_t *s, vow_sock_stats_t *out) {
    if (s == NULL || out == NULL) return VOW_EINVAL;
    *out = s->st;
    out->buffered_in = s->rbuf.len;
    out->buffered_out = s->wbuf.len;
    return 0;
}

int vow_sock_wrap(vow_loop_t *loop, int fd, vow_sock_t **out) {
    if (out != NULL) *out = NULL;
    if (loop == NULL || out == NULL || fd < 0) return VOW_EINVAL;
    if (loop->closed) return VOW_ECLOSED;
    vow_sock_t *s = sock_new(loop, fd);
    if (s == NULL) return VOW_ENOMEM;
    int rc = vow__sock_adopt(fd);
    if (rc != 0) {
        s->fd = -1; /* still the caller's */
        vow_sock_unref(s);
        return rc;
    }
    *out = s;
    return 0;
}

/* ---- connecting: the public calls ------------------------------------------------------------- */
static int addr_ok(const struct sockaddr *addr, socklen_t len) {
    if (addr == NULL) return 0;
    switch (addr->sa_family) {
    case AF_INET: return len >= (socklen_t)sizeof(struct sockaddr_in);
    case AF_INET6: return len >= (socklen_t)sizeof(struct sockaddr_in6);
    case AF_UNIX:
        return len > (socklen_t)offsetof(struct sockaddr_un, sun_path) &&
               len <= (socklen_t)sizeof(struct sockaddr_un);
    default: return 0;
    }
}

vow_t *vow_connect_addr(vow_loop_t *loop, const struct sockaddr *addr, socklen_t len) {
    if (loop == NULL || loop->closed) return NULL;
    if (!addr_ok(addr, len))
        return rejected(loop, VOW_EINVAL,
                        "connect: no address, or a length or family "
                        "that does not fit");
    int fd, rc = vow__sock_open(addr->sa_family, &fd);
    if (rc != 0) return rejected(loop, rc, NULL);
    vow_sock_t *s = sock_new(loop, fd);
    if (s == NULL) {
        vow__sock_close(fd);
        return NULL;
    }
    vow__waiter *w;
    vow_t *p = vow__waiter_new(loop, sizeof *w, &s->conns, &conn_ops, s, &w);
    if (p == NULL) {
        vow_sock_unref(s);
        return NULL;
    }
    /* The waiter holds the socket's first reference. */
    s->refs++;
    rc = vow__sock_connect(fd, addr, len);
    if (rc == 1) {
        s->connecting = 1;
        update(s);
    } else {
        conn_done(s, rc);
    }
    vow_sock_unref(s);
    return p;
}

vow_t *vow_unix_connect(vow_loop_t *loop, const char *path) {
    if (loop == NULL || loop->closed) return NULL;
    struct sockaddr_un sa;
    size_t n = path != NULL ? strlen(path) : 0;
    if (n == 0 || n >= sizeof sa.sun_path)
        return rejected(loop, VOW_EINVAL, "unix_connect: path NULL, empty or too long");
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, n);
    return vow_connect_addr(loop, (struct sockaddr *)&sa, (socklen_t)sizeof sa);
}

/* A literal host:port as an address: 1, or 0 when host is not a literal. */
static int literal(const char *host, uint16_t port, struct sockaddr_storage *ss, socklen_t *len) {
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons(port);
        *len = sizeof *a4;
        return 1;
    }
    if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons(port);
        *len = sizeof *a6;
        return 1;
    }
    return 0;
}

/* A name: each resolved address in turn until one connects. */
struct tconn {
    size_t refs;
    vow_value_t list; /* the resolver's value (owned) */
    const struct addrinfo *ai;
};

static void tconn_unref(void *p) {
    struct tconn *c = p;
    if (--c->refs > 0) return;
    vow_value_release(&c->list);
    vow__free(c);
}

static vow_result_t tconn_next(vow_loop_t *loop, struct tconn *c, vow_error_t *last);

static vow_result_t tconn_err(vow_loop_t *loop, vow_error_t *err, void *ctx) {
    return tconn_next(loop, ctx, vow_error_ref(err));
}

static vow_result_t tconn_next(vow_loop_t *loop, struct tconn *c, vow_error_t *last) {
    const struct addrinfo *ai = c->ai;
    while (ai != NULL && ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ai = ai->ai_next;
    if (ai == NULL) {
        return last != NULL ? vow_fail(last)
                            : vow_fail_code(VOW_ENOENT, "the name has no IPv4 or IPv6 address");
    }
    c->ai = ai->ai_next;
    vow_t *p = vow_connect_addr(loop, ai->ai_addr, ai->ai_addrlen);
    if (p == NULL) {
        vow_error_unref(last);
        return vow_fail_code(VOW_ENOMEM, NULL);
    }
    vow_error_unref(last);
    c->refs++;
    vow_t *q = vow_catch(p, tconn_err, c, tconn_unref);
    return q != NULL ? vow_follow(q) : vow_fail_code(VOW_ENOMEM, NULL);
}

static vow_result_t tconn_resolved(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    struct tconn *c = ctx;
    c->list = vow_value_share(v);
    c->ai = vow_value_ptr(&c->list);
    return tconn_next(loop, c, NULL);
}

vow_t *vow_tcp_connect(vow_loop_t *loop, const char *host, uint16_t port) {
    if (loop == NULL || loop->closed) return NULL;
    if (host == NULL || *host == '\0' || port == 0)
        return rejected(loop, VOW_EINVAL, "tcp_connect: host NULL or empty, or port 0");
    struct sockaddr_storage ss;
    socklen_t len;
    if (literal(host, port, &ss, &len)) return vow_connect_addr(loop, (struct sockaddr *)&ss, len);
    char service[8];
    snprintf(service, sizeof service, "%u", (unsigned)port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    struct tconn *c = vow__calloc(1, sizeof *c);
    if (c == NULL) return NULL;
    c->refs = 1;
    c->list = vow__none();
    vow_t *r = vow_getaddrinfo(loop, host, service, &hints);
    if (r == NULL) {
        tconn_unref(c);
        return NULL;
    }
    return vow_then(r, tconn_resolved, NULL, c, tconn_unref);
}

/* ---- servers ------------------------------------------------------------------------------------ */
static void link_unref(void *p) {
    struct link *l = p;
    if (--l->refs == 0) vow__free(l);
}

static void srv_io(struct ev_loop *evl, ev_io *io, int revents);

/* Watches the listening socket while it may accept; keeps the loop while a consumer
 * waits. */
static void srv_update(vow_server_t *srv) {
    int on = srv->fd >= 0 && srv->stream != NULL && !srv->loop->closed && !srv->failed &&
             !srv->stream_gone;
    vow__sockw_set(&srv->w, on && !srv->full && !srv->backoff ? EV_READ : 0);
    /* Only while a next waits: a pull whose next was cancelled stays in flight for the
     * stream (its connection goes to the buffer), but nobody waits for it. */
    keep_set(srv->loop, &srv->kept,
             on && srv->pull_w != NULL && vow__stream_nexts_waiting(srv->stream) > 0);
}

/* The stream's waiting nexts went from none to some, or back (vow__stream_on_demand). */
static void srv_demand(void *ctx) {
    struct link *l = ctx;
    if (l->srv != NULL) srv_update(l->srv);
}

static void pull_cancel(vow__waiter *w) {
    vow_server_t *srv = w->owner;
    vow__waiter_leave(w);
    if (srv != NULL && srv->pull_w == w) {
        srv->pull_w = NULL;
        srv_update(srv);
    }
}

static void pull_release(vow__waiter *w) {
    vow_server_t *srv = w->owner;
    if (srv != NULL && srv->pull_w == w) srv->pull_w = NULL;
}

static const struct vow__waiter_ops pull_ops = {pull_cancel, pull_release};

static vow_t *srv_pull(vow_loop_t *loop, void *ctx) {
    struct link *l = ctx;
    vow_server_t *srv = l->srv;
    if (srv == NULL || srv->fd < 0) return vow_resolved(loop, vow_stream_end_value());
    vow__waiter *w;
    vow_t *p = vow__waiter_new(loop, sizeof *w, NULL, &pull_ops, srv, &w);
    if (p == NULL) return NULL;
    srv->pull_w = w;
    srv_update(srv);
    return p;
}

static vow_result_t srv_room(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    (void)v;
    struct link *l = ctx;
    if (l->srv != NULL) {
        l->srv->full = 0;
        srv_update(l->srv);
    }
    return vow_ok_none();
}

static vow_result_t srv_push_failed(vow_loop_t *loop, vow_error_t *err, void *ctx) {
    (void)loop;
    (void)err;
    struct link *l = ctx;
    if (l->srv != NULL) { /* the consumer closed the stream: nobody takes connections */
        l->srv->full = 0;
        l->srv->stream_gone = 1;
        srv_update(l->srv);
    }
    return vow_ok_none();
}

/* Hands an accepted connection (one reference) to the consumer. */
static void srv_deliver(vow_server_t *srv, vow_sock_t *s) {
    if (srv->pull_w != NULL) {
        vow__waiter *w = srv->pull_w;
        srv->pull_w = NULL;
        vow__waiter_fulfil(w, vow_ptr(s, value_free));
        return;
    }
    vow_t *p = vow_stream_push(srv->stream, vow_ptr(s, value_free));
    if (p == NULL) return; /* out of memory: the connection went with its value */
    if (vow_state(p) == VOW_FULFILLED) {
        vow_unref(p);
        return;
    }
    if (vow_state(p) == VOW_PENDING) srv->full = 1;
    srv->link->refs++;
    vow_t *q =
        vow_then_ex(p, srv_room, srv_push_failed, srv->link, link_unref, VOW_CATCH_CANCELLED);
    if (q == NULL) { /* out of memory: take connections again on the next one closed */
        srv->full = 0;
        return;
    }
    vow_unref(q);
}

static void srv_retry(vow_loop_t *loop, void *arg) {
    (void)loop;
    vow_server_t *srv = arg;
    srv->retry = 0;
    srv->backoff = 0;
    srv_update(srv);
}

static void servers_resume(vow_loop_t *loop) {
    struct net_state *ns = vow__loop_layer(loop, VOW__LAYER_NET);
    if (ns == NULL) return;
    for (vow_server_t *srv = ns->servers.head; srv != NULL; srv = srv->next) {
        if (!srv->backoff) continue;
        if (srv->retry != 0) (void)vow__timer_clear(loop, srv->retry, 0);
        srv->retry = 0;
        srv->backoff = 0;
        srv_update(srv);
    }
}

static int passing(int rc) {
    return rc == VOW_EMFILE || rc == VOW_ENFILE || rc == VOW_ENOBUFS || rc == VOW_ENOMEM;
}

static void srv_accept(vow_server_t *srv) {
    for (int i = 0; i < ACCEPT_BATCH && srv->fd >= 0 && !srv->full && !srv->backoff &&
                    !srv->failed && !srv->stream_gone;
         i++) {
        int fd, rc = vow__sock_accept(srv->fd, &fd);
        vow_sock_t *s = NULL;
        if (rc == 0 && (s = sock_new(srv->loop, fd)) == NULL) {
            vow__sock_close(fd);
            rc = VOW_ENOMEM;
        }
        if (rc == VOW_EAGAIN) break;
        if (rc == VOW_ECONNABORTED) continue;
        if (passing(rc) && i > 0) {
            /* Not the accept that readiness was reported for: Linux answers EMFILE before it
             * looks at the queue, so nothing may be waiting. Poll again: a connection that
             * waits makes the next first accept fail, which counts. */
            break;
        }
        if (passing(rc)) {
            srv->errors++;
            srv->last_err = rc;
            srv->backoff = 1;
            if (vow__timer_start(srv->loop, VOW__T_TIMEOUT, ACCEPT_RETRY_MS, srv_retry, srv, 0,
                                 &srv->retry) != 0)
                srv->retry = 0; /* no timer: the next socket closed resumes it */
            break;
        }
        if (rc != 0) {
            srv->failed = 1;
            if (srv->pull_w != NULL) {
                vow__waiter *w = srv->pull_w;
                srv->pull_w = NULL;
                vow__waiter_reject(w, err_new(rc));
            } else {
                (void)vow_stream_fail(srv->stream, err_new(rc));
            }
            break;
        }
        srv_deliver(srv, s);
    }
    srv_update(srv);
}

static void srv_io(struct ev_loop *evl, ev_io *io, int revents) {
    (void)evl;
    (void)revents;
    vow_server_t *srv = io->data;
    vow_loop_t *loop = srv->loop;
    srv_accept(srv);
    vow__drain(loop);
}

static int listen_opts(const vow_listen_opts_t *opts, int *backlog, unsigned *flags, size_t *abuf) {
    *backlog = 511;
    *flags = 0;
    *abuf = 16;
    if (opts == NULL) return 0;
    if (opts->flags & ~(VOW_LISTEN_REUSEPORT | VOW_LISTEN_V6ONLY)) return VOW_EINVAL;
    if (opts->backlog > 0) *backlog = opts->backlog;
    if (opts->backlog < 0) return VOW_EINVAL;
    *flags = opts->flags;
    if (opts->accept_buffer > 0) *abuf = opts->accept_buffer;
    return 0;
}

static int server_new(vow_loop_t *loop, const struct sockaddr *addr, socklen_t len,
                      const vow_listen_opts_t *opts, const char *path, vow_server_t **out) {
    int backlog, fd, rc;
    unsigned flags;
    size_t abuf;
    if ((rc = listen_opts(opts, &backlog, &flags, &abuf)) != 0) return rc;
    if (path != NULL && flags != 0) return VOW_EINVAL;
    struct net_state *ns = net_state(loop);
    vow_server_t *srv = ns != NULL ? vow__calloc(1, sizeof *srv) : NULL;
    struct link *l = srv != NULL ? vow__calloc(1, sizeof *l) : NULL;
    char *p = NULL;
    if (l == NULL || (path != NULL && (p = vow__malloc(strlen(path) + 1)) == NULL) ||
        (srv->anchor = vow__promise_new(loop, 0)) == NULL) {
        rc = VOW_ENOMEM;
        goto fail;
    }
    if (p != NULL) strcpy(p, path);
    rc = vow__sock_listen(addr, len, backlog, (flags & VOW_LISTEN_REUSEPORT) != 0,
                          (flags & VOW_LISTEN_V6ONLY) != 0, &fd);
    if (rc != 0) goto fail;
    srv->loop = loop;
    srv->fd = fd;
    srv->path = p;
    srv->port = -1;
    srv->accept_buffer = abuf;
    if (path == NULL) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
            srv->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                       : ((struct sockaddr_in *)&ss)->sin_port);
    }
    l->refs = 1;
    l->srv = srv;
    srv->link = l;
    vow__sockw_init(&srv->w, loop, fd, srv_io, srv);
    VOW__DLIST_PUSH(&ns->servers, srv);
    srv->listed = 1;
    srv_update(srv);
    *out = srv;
    return 0;
fail:
    if (srv != NULL) vow__unref(srv->anchor);
    vow__free(p);
    vow__free(l);
    vow__free(srv);
    return rc;
}

int vow_tcp_listen(vow_loop_t *loop, const char *host, uint16_t port, const vow_listen_opts_t *opts,
                   vow_server_t **out) {
    if (out != NULL) *out = NULL;
    if (loop == NULL || host == NULL || out == NULL) return VOW_EINVAL;
    if (loop->closed) return VOW_ECLOSED;
    struct sockaddr_storage ss;
    socklen_t len;
    if (!literal(host, port, &ss, &len)) return VOW_EINVAL;
    return server_new(loop, (struct sockaddr *)&ss, len, opts, NULL, out);
}

int vow_unix_listen(vow_loop_t *loop, const char *path, const vow_listen_opts_t *opts,
                    vow_server_t **out) {
    if (out != NULL) *out = NULL;
    if (loop == NULL || path == NULL || out == NULL) return VOW_EINVAL;
    if (loop->closed) return VOW_ECLOSED;
    struct sockaddr_un sa;
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof sa.sun_path) return VOW_EINVAL;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, n);
    return server_new(loop, (struct sockaddr *)&sa, (socklen_t)sizeof sa, opts, path, out);
}

vow_stream_t *vow_server_accept(vow_server_t *srv) {
    if (srv == NULL || srv->loop->closed) return NULL;
    if (srv->stream == NULL) {
        srv->link->refs++;
        srv->stream =
            vow_stream_new(srv->loop, srv->accept_buffer, srv_pull, NULL, srv->link, link_unref);
        if (srv->stream == NULL) return NULL;
        vow__stream_on_demand(srv->stream, srv_demand, srv->link);
        if (srv->fd < 0) (void)vow_stream_end(srv->stream);
        srv_update(srv);
    }
    return vow_stream_ref(srv->stream);
}

int vow_server_port(const vow_server_t *srv) {
    if (srv == NULL || srv->port < 0) return VOW_EINVAL;
    return srv->port;
}

long vow_server_errors(const vow_server_t *srv, int *last) {
    if (srv == NULL) return VOW_EINVAL;
    if (last != NULL) *last = srv->last_err;
    return srv->errors;
}

/* Stops listening: the watcher, the descriptor, the path, the retry timer. */
static void server_stop(vow_server_t *srv) {
    vow__sockw_set(&srv->w, 0);
    keep_set(srv->loop, &srv->kept, 0);
    if (srv->fd >= 0) {
        vow__sock_close(srv->fd);
        srv->fd = -1;
        if (srv->path != NULL) (void)unlink(srv->path);
    }
    if (srv->retry != 0 && !srv->loop->closed) (void)vow__timer_clear(srv->loop, srv->retry, 0);
    srv->retry = 0;
    if (srv->listed) {
        struct net_state *ns = vow__loop_layer(srv->loop, VOW__LAYER_NET);
        VOW__DLIST_UNLINK(&ns->servers, srv);
        srv->listed = 0;
    }
    if (srv->pull_w != NULL) {
        srv->pull_w->owner = NULL;
        srv->pull_w = NULL;
    }
}

/* The loop's teardown: the server stays the user's, closed. */
static void server_detach(vow_server_t *srv) { server_stop(srv); }

void vow_server_close(vow_server_t *srv) {
    if (srv == NULL) return;
    vow__waiter *w = srv->pull_w;
    srv->pull_w = NULL;
    server_stop(srv);
    srv->link->srv = NULL;
    if (!srv->loop->closed) {
        if (w != NULL) {
            w->owner = NULL;
            vow__waiter_fulfil(w, vow_stream_end_value());
        } else if (srv->stream != NULL) {
            (void)vow_stream_end(srv->stream);
        }
    }
    vow_stream_unref(srv->stream);
    link_unref(srv->link);
    vow_t *anchor = srv->anchor;
    vow__free(srv->path);
    vow__free(srv);
    vow__unref(anchor);
}
