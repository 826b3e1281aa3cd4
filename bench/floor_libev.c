/* bench/floor_libev.c - the bare libev floor for W4, W5 and W12: the same work in plain libev
 * callbacks, no promises.
 *
 * W4, W5: one ev_timer per timer in one array, no ordering guarantees for equal deadlines
 * (libev's 4-heap), timers measured from the loop's cached time (libev's rule; vow and Node
 * read the clock per timer). --inject-wrong: one timer fewer is started, so the count the
 * check expects never comes.
 * W12a, W12b (bench.h): a hand-written echo server and its clients on one loop, what a C
 * programmer writes with ev_io: non-blocking sockets, one read() per readiness into one
 * 64 KiB buffer that every connection shares, written straight back; a write the kernel
 * takes only part of keeps the rest (copied to the connection's own buffer), stops reading
 * and waits for EV_WRITE. A client writes from the pattern itself (no copy) and compares
 * what it reads where it landed. --inject-wrong: bench.h's wrong first message.
 *
 *   floor-libev <w4|w5|w12a|w12b> [N] [--inject-wrong]     (others exit 3: no floor here)
 */
#include <errno.h>
#include <stddef.h>
#include <ev.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"

static struct {
    long fired;
    uint64_t sum;
} st;

static void fire(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop;
    (void)revents;
    st.fired++;
    st.sum += (uintptr_t)w->data;
}

/* Starts `n` timers (one fewer with --inject-wrong) and runs the loop until they fired.
 * *ns_out: the wall time taken, *cpu_out: the CPU time. */
static int run_timers(const bench_args *a, struct ev_loop *loop, double (*delay_s)(long i),
                      uint64_t *ns_out, uint64_t *cpu_out) {
    uint64_t c0 = bench_cpu_ns(), t0 = bench_wall_ns();
    ev_now_update(loop); /* after t0: no timer can be due before t0 + its delay */
    ev_timer *t = malloc((size_t)a->n * sizeof *t);
    if (t == NULL) {
        fprintf(stderr, "W%d libev: out of memory\n", a->w);
        return BENCH_EXIT_ERROR;
    }
    long set = a->inject_wrong ? a->n - 1 : a->n;
    for (long i = 0; i < set; i++) {
        ev_timer_init(&t[i], fire, delay_s(i), 0.);
        t[i].data = (void *)(uintptr_t)i;
        ev_timer_start(loop, &t[i]);
    }
    ev_run(loop, 0);
    *cpu_out = bench_cpu_ns() - c0;
    *ns_out = bench_wall_ns() - t0;
    free(t);
    return 0;
}

static double w4_delay(long i) { return (double)bench_w4_delay(i) / 1e3; }
static double w5_delay(long i) {
    (void)i;
    return 0.1;
}

static int check(const bench_args *a) {
    uint64_t want_sum = (uint64_t)a->n * (uint64_t)(a->n - 1) / 2;
    if (st.fired != a->n || st.sum != want_sum)
        return bench_wrong(
            a, "%ld timers fired (ids summing to %" PRIu64 "), expected %ld (%" PRIu64 ")",
            st.fired, st.sum, a->n, want_sum);
    return 0;
}

/* ---- W12: TCP echo --------------------------------------------------------------------- */

typedef struct w12_conn {
    ev_io r, w; /* w: connect's completion, then writes the kernel did not take at once */
    int fd;
    int k; /* a client's index; -1 for the server's side */
    int connected;
    /* what is still to be written: the server's echo (in w12_buf, or in `pending` once a
     * write was short), a client's message */
    const unsigned char *out;
    size_t out_len;
    unsigned char *pending; /* the server's side: BENCH_W12_READ bytes, made on need */
    /* a client */
    long sent, msgs; /* messages started, messages to send */
    uint64_t got, want, bad;
    size_t have; /* W12a: bytes of the current reply in `reply` */
    unsigned char reply[BENCH_W12A_MSG];
    unsigned char spare[BENCH_W12B_MSG];
} w12_conn;

static unsigned char w12_buf[BENCH_W12_READ]; /* every read lands here */

static struct {
    const bench_args *a;
    struct ev_loop *loop;
    int lfd;
    ev_io accept_w;
    w12_conn *conns[BENCH_W12B_CONNS * 2 + 2]; /* clients first, then the server's sides */
    int nconns;
    int clients_left;
    int err;          /* errno of the first failure */
    const char *what; /* the call that failed */
} e;

static void w12_fail(const char *what, int err) {
    if (e.err == 0) {
        e.err = err;
        e.what = what;
    }
    ev_break(e.loop, EVBREAK_ALL);
}

static void w12_client_done(w12_conn *c) {
    ev_io_stop(e.loop, &c->r);
    ev_io_stop(e.loop, &c->w);
    if (--e.clients_left == 0) ev_break(e.loop, EVBREAK_ALL);
}

/* Writes what is pending (a W12b client: message after message) until the kernel says
 * EAGAIN, then waits for EV_WRITE; stops waiting once nothing is left. */
static void w12_flush(w12_conn *c) {
    for (;;) {
        if (c->out_len == 0) {
            if (c->k < 0 || e.a->w == 212 || c->sent == c->msgs) break;
            c->out = bench_w12_message(e.a, c->sent, c->k, BENCH_W12B_MSG, c->spare);
            c->out_len = BENCH_W12B_MSG;
            c->sent++;
        }
        ssize_t n = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) return w12_fail("send", errno);
            if (c->out >= w12_buf && c->out < w12_buf + sizeof w12_buf) { /* keep the rest */
                if (c->pending == NULL && (c->pending = malloc(BENCH_W12_READ)) == NULL)
                    return w12_fail("the server's write buffer", ENOMEM);
                memcpy(c->pending, c->out, c->out_len);
                c->out = c->pending;
            }
            ev_io_start(e.loop, &c->w);
            if (c->k < 0) ev_io_stop(e.loop, &c->r); /* the echo waits for its write */
            return;
        }
        c->out += n;
        c->out_len -= (size_t)n;
    }
    ev_io_stop(e.loop, &c->w);
    if (c->k < 0) ev_io_start(e.loop, &c->r);
}

/* The server's side: read what is there, write it back. */
static void w12_echo_read(struct ev_loop *loop, ev_io *w, int revents) {
    (void)loop;
    (void)revents;
    w12_conn *c = w->data;
    ssize_t n = read(c->fd, w12_buf, sizeof w12_buf);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
        return w12_fail("read (server)", errno);
    }
    if (n == 0) { /* the client closed: so does the server */
        ev_io_stop(e.loop, &c->r);
        close(c->fd);
        c->fd = -1;
        return;
    }
    c->out = w12_buf;
    c->out_len = (size_t)n;
    w12_flush(c);
}

static void w12_writable(struct ev_loop *loop, ev_io *w, int revents) {
    (void)loop;
    (void)revents;
    w12_conn *c = w->data;
    if (!c->connected) {
        int err = 0;
        socklen_t len = sizeof err;
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
        if (err != 0) return w12_fail("connect", err);
        c->connected = 1;
        ev_io_start(e.loop, &c->r);
        if (e.a->w == 212) {
            c->out = bench_w12_message(e.a, 0, 0, BENCH_W12A_MSG, c->spare);
            c->out_len = BENCH_W12A_MSG;
            c->sent = 1;
        }
    }
    w12_flush(c);
}

/* A client reads the echo and compares it where it lands. */
static void w12_client_read(struct ev_loop *loop, ev_io *w, int revents) {
    (void)loop;
    (void)revents;
    w12_conn *c = w->data;
    unsigned char *buf = e.a->w == 212 ? c->reply : w12_buf;
    size_t room = e.a->w == 212 ? BENCH_W12A_MSG - c->have : sizeof w12_buf;
    ssize_t n = read(c->fd, buf + (e.a->w == 212 ? c->have : 0), room);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
        return w12_fail("read (client)", errno);
    }
    if (n == 0) return w12_fail("read (client): the server closed early", ECONNRESET);
    if (e.a->w == 212) {
        c->have += (size_t)n;
        if (c->have < BENCH_W12A_MSG) return;
        c->have = 0;
        const unsigned char *want = bench_w12_expect((uint64_t)c->got * BENCH_W12A_MSG, 0);
        if (memcmp(buf, want, BENCH_W12A_MSG) != 0)
            for (int i = 0; i < BENCH_W12A_MSG; i++) c->bad += buf[i] != want[i];
        if (++c->got == c->want) return w12_client_done(c);
        c->out = bench_w12_message(e.a, c->sent++, 0, BENCH_W12A_MSG, c->spare);
        c->out_len = BENCH_W12A_MSG;
        w12_flush(c);
        return;
    }
    const unsigned char *want = bench_w12_expect(c->got, c->k);
    if (memcmp(buf, want, (size_t)n) != 0)
        for (ssize_t i = 0; i < n; i++) c->bad += buf[i] != want[i];
    c->got += (uint64_t)n;
    if (c->got >= c->want) w12_client_done(c);
}

static w12_conn *w12_conn_new(int fd, int k) {
    if (e.nconns == (int)(sizeof e.conns / sizeof e.conns[0])) return NULL;
    w12_conn *c = malloc(sizeof *c); /* spare needs no zeroing */
    if (c == NULL) return NULL;
    memset(c, 0, offsetof(w12_conn, spare));
    c->fd = fd;
    c->k = k;
    c->connected = k < 0;
    ev_io_init(&c->r, k < 0 ? w12_echo_read : w12_client_read, fd, EV_READ);
    ev_io_init(&c->w, w12_writable, fd, EV_WRITE);
    c->r.data = c->w.data = c;
    e.conns[e.nconns++] = c;
    return c;
}

static void w12_accept(struct ev_loop *loop, ev_io *w, int revents) {
    (void)loop;
    (void)w;
    (void)revents;
    for (;;) {
        int fd = accept4(e.lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
            return w12_fail("accept", errno);
        }
        w12_conn *c = w12_conn_new(fd, -1);
        if (c == NULL) {
            close(fd);
            return w12_fail("the server's connection", ENOMEM);
        }
        ev_io_start(e.loop, &c->r);
    }
}

/* Listens on 127.0.0.1 (an ephemeral port), then, on the clock, connects the clients and
 * runs the loop until every client has its bytes back and checked. */
static int w12(const bench_args *a, struct ev_loop *loop) {
    e.a = a;
    e.loop = loop;
    int nclients = a->w == 212 ? 1 : BENCH_W12B_CONNS;
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sin;
    int one = 1, rc = BENCH_EXIT_ERROR;
    e.lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (e.lfd < 0 || setsockopt(e.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(e.lfd, (struct sockaddr *)&sin, sizeof sin) != 0 || listen(e.lfd, 511) != 0 ||
        getsockname(e.lfd, (struct sockaddr *)&sin, &len) != 0) {
        fprintf(stderr, "W%s libev: listen: %s\n", bench_workload_of(a->w)->name, strerror(errno));
        goto out;
    }
    ev_io_init(&e.accept_w, w12_accept, e.lfd, EV_READ);
    ev_io_start(loop, &e.accept_w);
    bench_w12_pattern();

    uint64_t u0, s0, u1, s1, t0 = bench_wall_ns(), want_total = 0;
    bench_cpu_split_ns(&u0, &s0);
    e.clients_left = nclients;
    for (int k = 0; k < nclients; k++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        w12_conn *c = fd < 0 ? NULL : w12_conn_new(fd, k);
        if (c == NULL) {
            w12_fail("socket", fd < 0 ? errno : ENOMEM);
            if (fd >= 0) close(fd);
            break;
        }
        c->msgs = a->w == 212 ? a->n : bench_w12b_count(a, k);
        c->want = a->w == 212 ? (uint64_t)a->n : (uint64_t)c->msgs * BENCH_W12B_MSG;
        want_total += c->want;
        if (c->want == 0) { /* a W12b connection with nothing to send */
            e.clients_left--;
            continue;
        }
        if (connect(fd, (struct sockaddr *)&sin, sizeof sin) != 0 && errno != EINPROGRESS) {
            w12_fail("connect", errno);
            break;
        }
        ev_io_start(loop, &c->w); /* writable: connected (or failed: SO_ERROR) */
    }
    if (e.err == 0 && e.clients_left > 0) ev_run(loop, 0);
    bench_cpu_split_ns(&u1, &s1);
    uint64_t t1 = bench_wall_ns();

    if (e.err != 0) {
        fprintf(stderr, "W%s libev: %s: %s\n", bench_workload_of(a->w)->name, e.what,
                strerror(e.err));
        goto out;
    }
    uint64_t got = 0, bad = 0;
    for (int i = 0; i < e.nconns; i++)
        if (e.conns[i]->k >= 0) {
            got += e.conns[i]->got;
            bad += e.conns[i]->bad;
        }
    if ((rc = bench_w12_check(a, got, want_total, bad)) == 0)
        bench_w12_report(a, t1 - t0, u1 - u0, s1 - s0);
out:
    for (int i = 0; i < e.nconns; i++) {
        ev_io_stop(loop, &e.conns[i]->r);
        ev_io_stop(loop, &e.conns[i]->w);
        if (e.conns[i]->fd >= 0) close(e.conns[i]->fd);
        free(e.conns[i]->pending);
        free(e.conns[i]);
    }
    ev_io_stop(loop, &e.accept_w);
    if (e.lfd >= 0) close(e.lfd);
    return rc;
}

int main(int argc, char **argv) {
    bench_args a;
    if (bench_parse(argc, argv, "libev", &a) != 0) return BENCH_EXIT_USAGE;
    if (a.w != 4 && a.w != 5 && a.w != 212 && a.w != 512) return bench_unsupported(&a);
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    if (loop == NULL) {
        fprintf(stderr, "floor-libev: ev_loop_new failed\n");
        return BENCH_EXIT_ERROR;
    }
    if (a.w == 212 || a.w == 512) {
        int rc = w12(&a, loop);
        ev_loop_destroy(loop);
        return rc;
    }
    uint64_t ns, cpu;
    int rc = run_timers(&a, loop, a.w == 4 ? w4_delay : w5_delay, &ns, &cpu);
    ev_loop_destroy(loop);
    if (rc != 0) return rc;
    if ((rc = check(&a)) != 0) return rc;
    double ms = (double)ns / 1e6;
    if (a.w == 4) {
        /* 1 ms of slack: timers are kept in milliseconds by vow and Node, in doubles here. */
        uint64_t longest = bench_w4_delay(a.n > 1000 ? 1000 : a.n - 1);
        if (ms + 1.0 < (double)longest)
            return bench_wrong(&a, "all timers fired within %.1f ms; the longest is %" PRIu64 " ms",
                               ms, longest);
        bench_report(&a, (double)cpu / (double)a.n, ms);
    } else {
        if (ms + 1.0 < 100.0)
            return bench_wrong(&a, "the sleeps ended after %.1f ms, before 100 ms", ms);
        bench_report(&a, ms - 100.0, ms);
    }
    return 0;
}
