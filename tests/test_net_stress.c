/* tests/test_net_stress.c - vow/net.h under load (issue 17's list), on 127.0.0.1 with
 * ephemeral ports, every backend:
 *   - echo: 100 concurrent clients x 1,000 messages each, every byte checked;
 *   - 8 MB written through SO_SNDBUF=4096 to a slow reader (it reads a little, then
 *     sleeps with vow_sleep), with resumed partial writes counted (partial_writes > 0);
 *   - 500 connects in one burst to one server: all accepted and answered;
 *   - a 5 ms interval keeps ticking while vow_tcp_connect("localhost") waits on a 200 ms
 *     injected resolver (the hook answers 127.0.0.1);
 *   - fd exhaustion: a forked child lowers RLIMIT_NOFILE, connects until accept fails,
 *     checks that vow_server_errors counted EMFILE, frees descriptors and checks that the
 *     server accepts and serves again; it reports by its exit status.
 * Every test is bounded: loops have fixed counts, and waits poll with a bounded number of
 * short vow_sleeps (a count, never a time threshold). Under valgrind (RUNNING_ON_VALGRIND,
 * or VOW_TEST_NET_SMALL=1 in the environment) the counts are scaled down, and the fd
 * exhaustion test is skipped (valgrind does not enforce a lowered RLIMIT_NOFILE).
 *
 * The servers and clients are coroutines (vow/async.h): a server's accept loop awaits the
 * connection stream and starts one handler coroutine per connection. Failures inside
 * coroutines are counted in `fails` with the first one's description, and the test body
 * asserts none happened. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

TestSuite(net_stress, .init = vow_test_setup, .fini = vow_test_teardown, .timeout = 120);

/* 1 when the counts should be small (valgrind runs everything ~50 times slower). */
static int small(void) {
    const char *e = getenv("VOW_TEST_NET_SMALL");
    return RUNNING_ON_VALGRIND || (e != NULL && *e != '\0' && *e != '0');
}

/* ---- failures seen inside coroutines ------------------------------------------------------- */
static struct {
    int n;
    char first[256];
} fails;

__attribute__((format(printf, 1, 2))) static void fail(const char *fmt, ...) {
    if (fails.n++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(fails.first, sizeof fails.first, fmt, ap);
        va_end(ap);
    }
}
#define ASSERT_NO_FAILS()                                                                          \
    cr_assert_eq(fails.n, 0, "%d failure(s); the first: %s", fails.n, fails.first)

/* Awaits p; on a rejection records `what` with the code and answers the code. */
static int await_or_fail(vow_t *p, vow_outcome_t *out, const char *what) {
    vow_outcome_t o;
    int rc = vow_await(p, &o);
    if (rc != 0)
        fail("%s: %s (%s)", what, vow_err_name(rc), o.error ? vow_error_message(o.error) : "");
    if (out != NULL && rc == 0)
        *out = o;
    else
        vow_outcome_release(&o);
    return rc;
}

/* Sleeps 1 ms at a time until *counter reaches want, at most `tries` times: 1 when reached. */
static int wait_count(vow_loop_t *loop, const int *counter, int want, int tries) {
    for (int i = 0; *counter < want && i < tries; i++) vow_await(vow_sleep(loop, 1), NULL);
    return *counter >= want;
}

/* The byte at offset k of a stream numbered `id`: a function of both, so a byte lost,
 * doubled, reordered or crossed with another connection's shows. */
static unsigned char pattern(uint64_t id, uint64_t k) {
    uint64_t x = (k + 1) * 0x9E3779B97F4A7C15ull ^ (id + 1) * 0xBF58476D1CE4E5B9ull;
    return (unsigned char)(x >> 56 ^ x >> 23 ^ k);
}

/* ---- a server: an accept loop and one handler coroutine per connection ------------------ */
enum mode { ECHO, SLOW_READER };

struct server {
    vow_loop_t *loop;
    vow_server_t *srv;
    vow_stream_t *conns;
    vow_t *accepting; /* the accept loop's promise */
    int port;
    enum mode mode;
    int accepted;      /* connections the accept loop took */
    int handlers_live; /* handlers not finished */
    int handlers_done;
    /* SLOW_READER */
    uint64_t expect; /* bytes it reads before it stops */
    uint64_t got;    /* bytes read and checked */
};

struct conn {
    struct server *sv;
    vow_sock_t *s;
};

static void conn_free(void *arg) {
    struct conn *c = arg;
    vow_sock_unref(c->s);
    free(c);
}

/* Echoes every byte until the peer shuts down. */
static vow_result_t echo_handler(vow_loop_t *loop, void *arg) {
    struct conn *c = arg;
    (void)loop;
    for (;;) {
        vow_outcome_t o;
        if (await_or_fail(vow_sock_read(c->s, 65536), &o, "echo: read") != 0) break;
        const vow_bytes_t *b = vow_value_bytes(&o.value);
        if (b == NULL) {
            fail("echo: a read's value is not bytes");
            vow_outcome_release(&o);
            break;
        }
        if (b->len == 0) { /* the end of the stream */
            vow_outcome_release(&o);
            break;
        }
        int rc = await_or_fail(vow_sock_write(c->s, b->data, b->len), NULL, "echo: write");
        vow_outcome_release(&o);
        if (rc != 0) break;
    }
    vow_sock_close(c->s);
    c->sv->handlers_live--;
    c->sv->handlers_done++;
    return vow_ok_none();
}

/* Reads sv->expect bytes a little at a time (4 KiB at most a read), sleeping 1 ms after
 * every 8th read, and checks each byte. Its SO_RCVBUF is left alone: shrunk on an
 * established connection, below the window already advertised, it made the kernel drop
 * segments and the writer's retransmission backoff stalled the transfer for seconds. */
static vow_result_t slow_reader(vow_loop_t *loop, void *arg) {
    struct conn *c = arg;
    struct server *sv = c->sv;
    for (int reads = 0; sv->got < sv->expect; reads++) {
        vow_outcome_t o;
        if (await_or_fail(vow_sock_read(c->s, 4096), &o, "slow reader: read") != 0) break;
        const vow_bytes_t *b = vow_value_bytes(&o.value);
        if (b == NULL || b->len == 0) {
            fail("slow reader: the stream ended after %llu of %llu bytes",
                 (unsigned long long)sv->got, (unsigned long long)sv->expect);
            vow_outcome_release(&o);
            break;
        }
        for (size_t i = 0; i < b->len; i++)
            if (b->data[i] != pattern(0, sv->got + i)) {
                fail("slow reader: byte %llu is %u, want %u", (unsigned long long)(sv->got + i),
                     b->data[i], pattern(0, sv->got + i));
                break;
            }
        sv->got += b->len;
        vow_outcome_release(&o);
        /* ACK at once: with a 4 KiB send buffer the writer waits for every ACK, and delayed
         * ACKs (TCP_QUICKACK does not stick: set after each read) made 8 MB take 4 s. */
        int one = 1;
        setsockopt(vow_sock_fd(c->s), IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
        if (reads % 8 == 7) vow_await(vow_sleep(loop, 1), NULL);
    }
    vow_sock_close(c->s);
    sv->handlers_live--;
    sv->handlers_done++;
    return vow_ok_none();
}

static vow_result_t accept_loop(vow_loop_t *loop, void *arg) {
    struct server *sv = arg;
    vow_outcome_t it;
    int rc;
    while ((rc = vow_await_next(sv->conns, &it)) > 0) {
        vow_sock_t *s = vow_value_ptr(&it.value);
        if (s == NULL) {
            fail("accept: an item that is not a socket");
            vow_outcome_release(&it);
            continue;
        }
        struct conn *c = malloc(sizeof *c);
        cr_assert_not_null(c);
        c->sv = sv;
        c->s = vow_sock_ref(s);
        vow_outcome_release(&it);
        sv->accepted++;
        sv->handlers_live++;
        vow_t *h = vow_async(loop, sv->mode == ECHO ? echo_handler : slow_reader, c, conn_free);
        if (h == NULL) {
            fail("accept: vow_async answered NULL");
            sv->handlers_live--;
        }
        vow_unref(h);
    }
    if (rc < 0) {
        fail("accept: the stream failed: %s", vow_err_name(rc));
        vow_outcome_release(&it);
    }
    return vow_ok_none();
}

/* Listens on 127.0.0.1, an ephemeral port, and starts the accept loop. */
static void server_start(struct server *sv, vow_loop_t *loop, enum mode mode,
                         const vow_listen_opts_t *opts) {
    sv->loop = loop;
    sv->mode = mode;
    VOW_ASSERT_CODE(vow_tcp_listen(loop, "127.0.0.1", 0, opts, &sv->srv), 0);
    sv->port = vow_server_port(sv->srv);
    cr_assert_gt(sv->port, 0, "vow_server_port: %d", sv->port);
    sv->conns = vow_server_accept(sv->srv);
    cr_assert_not_null(sv->conns);
    sv->accepting = vow_async(loop, accept_loop, sv, NULL);
    cr_assert_not_null(sv->accepting);
}

/* Closes the server, runs the loop until the accept loop and every handler are done (each
 * handler ends when its peer shuts down: the clients must be closed first), and releases
 * the stream. */
static void server_stop(struct server *sv) {
    vow_server_close(sv->srv);
    sv->srv = NULL;
    VOW_ASSERT_CODE(vow_run(sv->loop, sv->accepting, NULL), 0);
    VOW_ASSERT_CODE(vow_loop_run(sv->loop, VOW_RUN_DEFAULT), 0);
    VOW_ASSERT_EQ(sv->handlers_live, 0, "handlers still running");
    vow_stream_unref(sv->conns);
    sv->conns = NULL;
}

/* Connects to 127.0.0.1:port; NULL (the failure recorded) on error. */
static vow_sock_t *connect_to(vow_loop_t *loop, int port, const char *what) {
    vow_outcome_t o;
    if (await_or_fail(vow_tcp_connect(loop, "127.0.0.1", (uint16_t)port), &o, what) != 0)
        return NULL;
    vow_sock_t *s = vow_sock_ref(vow_value_ptr(&o.value));
    vow_outcome_release(&o);
    if (s == NULL) fail("%s: the value is not a socket", what);
    return s;
}

/* ---- echo: many clients, many messages --------------------------------------------------- */
enum { MSG_MAX = 200 };

struct client {
    vow_loop_t *loop;
    int port, id, msgs;
    int ok;         /* messages echoed intact */
    uint64_t bytes; /* bytes echoed intact */
    int *done;      /* clients finished */
};

static vow_result_t echo_client(vow_loop_t *loop, void *arg) {
    struct client *c = arg;
    vow_sock_t *s = connect_to(loop, c->port, "echo client: connect");
    if (s != NULL) {
        unsigned char msg[MSG_MAX];
        uint64_t off = 0;
        for (int i = 0; i < c->msgs; i++) {
            size_t len = 1 + (size_t)(c->id * 7 + i * 13) % MSG_MAX;
            for (size_t k = 0; k < len; k++) msg[k] = pattern((uint64_t)c->id, off + k);
            if (await_or_fail(vow_sock_write(s, msg, len), NULL, "echo client: write") != 0) break;
            vow_outcome_t o;
            if (await_or_fail(vow_sock_read_exactly(s, len), &o, "echo client: read") != 0) break;
            const vow_bytes_t *b = vow_value_bytes(&o.value);
            if (b == NULL || b->len != len || memcmp(b->data, msg, len) != 0) {
                fail("echo client %d: message %d came back wrong (len %zu, want %zu)", c->id, i,
                     b != NULL ? b->len : 0, len);
                vow_outcome_release(&o);
                break;
            }
            vow_outcome_release(&o);
            c->ok++;
            c->bytes += len;
            off += len;
        }
        vow_sock_close(s);
        vow_sock_unref(s);
    }
    ++*c->done;
    return vow_ok_none();
}

Test(net_stress, echo_100_clients_1000_messages_every_byte_checked) {
    int nclients = small() ? 20 : 100, nmsgs = small() ? 200 : 1000;
    vow_loop_t *loop = vow_test_loop();
    struct server sv = {0};
    server_start(&sv, loop, ECHO, NULL);
    struct client *cl = calloc((size_t)nclients, sizeof *cl);
    vow_t **ps = calloc((size_t)nclients, sizeof *ps);
    cr_assert(cl != NULL && ps != NULL);
    int done = 0;
    for (int i = 0; i < nclients; i++) {
        cl[i] = (struct client){loop, sv.port, i, nmsgs, 0, 0, &done};
        ps[i] = vow_async(loop, echo_client, &cl[i], NULL);
        cr_assert_not_null(ps[i]);
    }
    VOW_ASSERT_CODE(vow_run(loop, vow_all(loop, ps, (size_t)nclients), NULL), 0);
    VOW_ASSERT_EQ(done, nclients);
    ASSERT_NO_FAILS();
    uint64_t want_bytes = 0;
    for (int i = 0; i < nclients; i++) {
        VOW_ASSERT_EQ(cl[i].ok, nmsgs, "client %d", i);
        for (int m = 0; m < nmsgs; m++) want_bytes += 1 + (uint64_t)(i * 7 + m * 13) % MSG_MAX;
    }
    uint64_t got_bytes = 0;
    for (int i = 0; i < nclients; i++) got_bytes += cl[i].bytes;
    VOW_ASSERT_EQ(got_bytes, want_bytes);
    server_stop(&sv);
    VOW_ASSERT_EQ(sv.accepted, nclients);
    VOW_ASSERT_EQ(sv.handlers_done, nclients);
    ASSERT_NO_FAILS();
    free(cl);
    free(ps);
    VOW_TEST_END(loop);
}

/* ---- 8 MB to a slow reader through a 4 KiB send buffer ------------------------------------ */

struct writer {
    int port;
    uint64_t total;
    vow_sock_stats_t stats; /* at the end */
    int sndbuf_set;
};

static vow_result_t bulk_writer(vow_loop_t *loop, void *arg) {
    struct writer *w = arg;
    vow_sock_t *s = connect_to(loop, w->port, "writer: connect");
    if (s == NULL) return vow_ok_none();
    int sz = 4096;
    if (setsockopt(vow_sock_fd(s), SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz) == 0) w->sndbuf_set = 1;
    enum { CHUNK = 256 * 1024 };
    unsigned char *buf = malloc(CHUNK);
    cr_assert_not_null(buf);
    for (uint64_t off = 0; off < w->total;) {
        size_t n = w->total - off < CHUNK ? (size_t)(w->total - off) : CHUNK;
        for (size_t k = 0; k < n; k++) buf[k] = pattern(0, off + k);
        /* Fulfils once at most the write limit (64 KiB) is unsent: the rest of each chunk
         * goes out in resumed partial writes. */
        if (await_or_fail(vow_sock_write(s, buf, n), NULL, "writer: write") != 0) break;
        off += n;
    }
    free(buf);
    await_or_fail(vow_sock_drain(s), NULL, "writer: drain");
    if (vow_sock_stats(s, &w->stats) != 0) fail("writer: vow_sock_stats");
    vow_sock_close(s);
    vow_sock_unref(s);
    return vow_ok_none();
}

Test(net_stress, eight_mb_through_a_4k_send_buffer_to_a_slow_reader) {
    uint64_t total = small() ? 2u << 20 : 8u << 20;
    vow_loop_t *loop = vow_test_loop();
    struct server sv = {.expect = total};
    server_start(&sv, loop, SLOW_READER, NULL);
    struct writer w = {.port = sv.port, .total = total};
    VOW_ASSERT_CODE(vow_run(loop, vow_async(loop, bulk_writer, &w, NULL), NULL), 0);
    server_stop(&sv);
    ASSERT_NO_FAILS();
    VOW_ASSERT_EQ(w.sndbuf_set, 1, "setsockopt(SO_SNDBUF) on vow_sock_fd");
    VOW_ASSERT_EQ(sv.got, total, "bytes the reader checked");
    VOW_ASSERT_EQ(w.stats.bytes_written, total);
    VOW_ASSERT_EQ(w.stats.buffered_out, (size_t)0);
    cr_assert_gt(w.stats.partial_writes, 0, "no resumed partial write was counted");
    VOW_ASSERT_EQ(sv.accepted, 1);
    VOW_TEST_END(loop);
}

/* ---- 500 connects in one burst ------------------------------------------------------------ */

struct burst {
    int port, id, answered;
    int *done;
};

static vow_result_t burst_client(vow_loop_t *loop, void *arg) {
    struct burst *b = arg;
    vow_sock_t *s = connect_to(loop, b->port, "burst: connect"); /* the first thing it does */
    if (s != NULL) {
        uint32_t id = htonl((uint32_t)b->id);
        vow_outcome_t o;
        if (await_or_fail(vow_sock_write(s, &id, sizeof id), NULL, "burst: write") == 0 &&
            await_or_fail(vow_sock_read_exactly(s, sizeof id), &o, "burst: read") == 0) {
            const vow_bytes_t *bytes = vow_value_bytes(&o.value);
            if (bytes != NULL && bytes->len == sizeof id &&
                memcmp(bytes->data, &id, sizeof id) == 0)
                b->answered = 1;
            else
                fail("burst: client %d got a wrong answer", b->id);
            vow_outcome_release(&o);
        }
        vow_sock_close(s);
        vow_sock_unref(s);
    }
    ++*b->done;
    return vow_ok_none();
}

/* Raises the soft RLIMIT_NOFILE to at least `want` (within the hard limit): the limit. */
static long fds_at_least(long want) {
    struct rlimit rl;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur != RLIM_INFINITY && (long)rl.rlim_cur < want) {
        rl.rlim_cur =
            rl.rlim_max == RLIM_INFINITY || (long)rl.rlim_max >= want ? (rlim_t)want : rl.rlim_max;
        cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
    }
    return rl.rlim_cur == RLIM_INFINITY ? want : (long)rl.rlim_cur;
}

Test(net_stress, five_hundred_connects_in_one_burst) {
    int n = small() ? 200 : 500;
    /* Two descriptors a connection (both ends live in this process), and some room. */
    long limit = fds_at_least(2L * n + 64);
    cr_assert_geq(limit, 2L * n + 64, "RLIMIT_NOFILE's hard limit is %ld", limit);
    vow_loop_t *loop = vow_test_loop();
    struct server sv = {0};
    server_start(&sv, loop, ECHO, NULL);
    struct burst *b = calloc((size_t)n, sizeof *b);
    vow_t **ps = calloc((size_t)n, sizeof *ps);
    cr_assert(b != NULL && ps != NULL);
    int done = 0;
    /* Each coroutine calls vow_tcp_connect before it first suspends: all n connects are
     * issued before the loop turns once. */
    for (int i = 0; i < n; i++) {
        b[i] = (struct burst){sv.port, i, 0, &done};
        ps[i] = vow_async(loop, burst_client, &b[i], NULL);
        cr_assert_not_null(ps[i]);
    }
    VOW_ASSERT_EQ(sv.accepted, 0, "nothing accepted before the loop ran");
    VOW_ASSERT_CODE(vow_run(loop, vow_all(loop, ps, (size_t)n), NULL), 0);
    VOW_ASSERT_EQ(done, n);
    ASSERT_NO_FAILS();
    int answered = 0;
    for (int i = 0; i < n; i++) answered += b[i].answered;
    VOW_ASSERT_EQ(answered, n);
    VOW_ASSERT_EQ(vow_server_errors(sv.srv, NULL), 0L, "accepts that failed");
    server_stop(&sv);
    VOW_ASSERT_EQ(sv.accepted, n);
    VOW_ASSERT_EQ(sv.handlers_done, n);
    ASSERT_NO_FAILS();
    free(b);
    free(ps);
    VOW_TEST_END(loop);
}

/* ---- the loop keeps ticking while a connect waits on a slow resolver ----------------------- */

struct slow_hook {
    atomic_int calls, frees;
    char host[64];
};

static int slow_resolve(const char *host, const char *service, const struct addrinfo *hints,
                        struct addrinfo **res, void *ctx) {
    struct slow_hook *h = ctx;
    (void)hints;
    snprintf(h->host, sizeof h->host, "%s", host != NULL ? host : "(null)");
    struct timespec ts = {0, 200 * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
    struct {
        struct addrinfo ai;
        struct sockaddr_in sin;
    } *a = calloc(1, sizeof *a);
    if (a == NULL) return EAI_MEMORY;
    a->sin.sin_family = AF_INET;
    a->sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a->sin.sin_port = htons((uint16_t)(service != NULL ? atoi(service) : 0));
    a->ai.ai_family = AF_INET;
    a->ai.ai_socktype = SOCK_STREAM;
    a->ai.ai_protocol = IPPROTO_TCP;
    a->ai.ai_addrlen = sizeof a->sin;
    a->ai.ai_addr = (struct sockaddr *)&a->sin;
    *res = &a->ai;
    atomic_fetch_add(&h->calls, 1);
    return 0;
}

static void slow_free(struct addrinfo *res, void *ctx) {
    struct slow_hook *h = ctx;
    free(res);
    atomic_fetch_add(&h->frees, 1);
}

static void tick(vow_loop_t *loop, void *arg) {
    (void)loop;
    ++*(int *)arg;
}

struct via_name {
    int port, ticks_at_connect, echoed;
    int *ticks;
};

static vow_result_t connect_by_name(vow_loop_t *loop, void *arg) {
    struct via_name *v = arg;
    vow_outcome_t o;
    if (await_or_fail(vow_tcp_connect(loop, "localhost", (uint16_t)v->port), &o,
                      "connect(localhost)") != 0)
        return vow_ok_none();
    v->ticks_at_connect = *v->ticks;
    vow_sock_t *s = vow_sock_ref(vow_value_ptr(&o.value));
    vow_outcome_release(&o);
    static const char hello[] = "hello through the hook";
    if (await_or_fail(vow_sock_write(s, hello, sizeof hello - 1), NULL, "write") == 0 &&
        await_or_fail(vow_sock_read_exactly(s, sizeof hello - 1), &o, "read") == 0) {
        const vow_bytes_t *b = vow_value_bytes(&o.value);
        v->echoed = b != NULL && b->len == sizeof hello - 1 && memcmp(b->data, hello, b->len) == 0;
        vow_outcome_release(&o);
    }
    vow_sock_close(s);
    vow_sock_unref(s);
    return vow_ok_none();
}

Test(net_stress, an_interval_ticks_while_connect_waits_on_a_slow_resolver) {
    vow_loop_t *loop = vow_test_loop();
    struct slow_hook h = {0};
    VOW_ASSERT_CODE(vow_set_resolver(loop, slow_resolve, slow_free, &h), 0);
    struct server sv = {0};
    server_start(&sv, loop, ECHO, NULL);
    int ticks = 0;
    vow_timer_t iv;
    VOW_ASSERT_CODE(vow_set_interval(loop, tick, &ticks, 5, &iv), 0);
    struct via_name v = {.port = sv.port, .ticks = &ticks};
    VOW_ASSERT_CODE(vow_run(loop, vow_async(loop, connect_by_name, &v, NULL), NULL), 0);
    VOW_ASSERT_CODE(vow_clear_interval(loop, iv), 0);
    server_stop(&sv);
    ASSERT_NO_FAILS();
    VOW_ASSERT_EQ(atomic_load(&h.calls), 1, "the connect resolved through the hook");
    VOW_ASSERT_STR_EQ(h.host, "localhost");
    VOW_ASSERT_EQ(v.echoed, 1);
    /* 200 ms of lookup at one tick per 5 ms: about 40; 10 asked (a count, not a time). */
    cr_assert_geq(v.ticks_at_connect, 10, "the interval ticked %d times while the name resolved",
                  v.ticks_at_connect);
    VOW_ASSERT_EQ(atomic_load(&h.frees), 1, "the hook's list freed with its free_fn");
    VOW_TEST_END(loop);
}

/* ---- fd exhaustion, in a child -------------------------------------------------------------- */
/* The child's exit statuses: 0 passed; each failed check its own number. */
enum {
    FX_OK = 0,
    FX_SETUP = 10,       /* loop, listen, accept stream, coroutine */
    FX_RLIMIT = 11,      /* getrlimit / setrlimit */
    FX_CONNECT = 12,     /* a connect failed with something else than EMFILE */
    FX_NO_EMFILE = 13,   /* accept never failed */
    FX_LAST_CODE = 14,   /* vow_server_errors' last code is not VOW_EMFILE */
    FX_NOT_RESUMED = 15, /* the pending connection was not accepted after fds freed */
    FX_NOT_SERVED = 16,  /* ... or not echoed */
    FX_NEW_CONN = 17,    /* a new connection afterwards was not accepted or served */
    FX_FAILS = 18,       /* a coroutine recorded a failure */
    FX_TEARDOWN = 19,    /* the loop did not close cleanly, or vow memory left */
    FX_RUN = 20,         /* vow_run of the scenario failed */
    FX_STREAM_ENDED = 21 /* the accept stream ended or failed on EMFILE */
};

enum { FX_MAX_CLIENTS = 512 };

struct fx {
    struct server sv;
    vow_sock_t *clients[FX_MAX_CLIENTS];
    int n;
    int status;
    long errors;
    int last;
};

/* Echoes `text` through s: 1 when it came back intact. */
static int echo_once(vow_sock_t *s, const char *text) {
    size_t len = strlen(text);
    vow_outcome_t o;
    if (await_or_fail(vow_sock_write(s, text, len), NULL, "fx: write") != 0) return 0;
    if (await_or_fail(vow_sock_read_exactly(s, len), &o, "fx: read") != 0) return 0;
    const vow_bytes_t *b = vow_value_bytes(&o.value);
    int ok = b != NULL && b->len == len && memcmp(b->data, text, len) == 0;
    vow_outcome_release(&o);
    return ok;
}

static vow_result_t fx_scenario(vow_loop_t *loop, void *arg) {
    struct fx *x = arg;
    struct server *sv = &x->sv;
    /* A spare descriptor: if a client socket finds no descriptor before accept did, closing
     * the spare gives it one, so that the next accept is the one to fail. */
    int spare = open("/dev/null", O_RDONLY);
    struct rlimit rl;
    if (spare < 0 || getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return x->status = FX_RLIMIT, vow_ok_none();
    /* What is open now (the loop's, the server's, the test runner's) plus room for about 20
     * connections. */
    int highest = spare;
    for (int fd = spare + 1; fd < 1024; fd++)
        if (fcntl(fd, F_GETFD) != -1) highest = fd;
    rl.rlim_cur = (rlim_t)highest + 1 + 40;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) return x->status = FX_RLIMIT, vow_ok_none();

    for (;;) {
        if (x->n == FX_MAX_CLIENTS) return x->status = FX_NO_EMFILE, vow_ok_none();
        vow_outcome_t o;
        int rc = vow_await(vow_tcp_connect(loop, "127.0.0.1", (uint16_t)sv->port), &o);
        if (rc == VOW_EMFILE && spare >= 0) { /* the client side ran out first */
            vow_outcome_release(&o);
            close(spare);
            spare = -1;
            continue;
        }
        if (rc != 0) {
            vow_outcome_release(&o);
            return x->status = FX_CONNECT, vow_ok_none();
        }
        x->clients[x->n++] = vow_sock_ref(vow_value_ptr(&o.value));
        vow_outcome_release(&o);
        /* Either the server accepts this one, or it is left waiting while the server's
         * accepts fail for want of fds (retried every 50 ms: the count grows). A count that
         * grew is not enough alone: Linux looks for a free descriptor before it looks at
         * the queue, so an accept right after the last descriptor went fails with EMFILE
         * when nothing waits at all. */
        long before = vow_server_errors(sv->srv, NULL);
        int refused = 0;
        for (int i = 0; i < 2000 && sv->accepted < x->n && !refused; i++) {
            refused = vow_server_errors(sv->srv, NULL) > before;
            if (!refused) vow_await(vow_sleep(loop, 1), NULL);
        }
        if (refused && sv->accepted < x->n) break;
        if (sv->accepted < x->n) return x->status = FX_NO_EMFILE, vow_ok_none();
    }
    x->errors = vow_server_errors(sv->srv, &x->last);
    if (x->last != VOW_EMFILE) return x->status = FX_LAST_CODE, vow_ok_none();
    /* Nothing frees a descriptor: the connection keeps waiting through the retries. */
    vow_await(vow_sleep(loop, 120), NULL);
    if (sv->accepted != x->n - 1 || vow_server_errors(sv->srv, NULL) <= x->errors)
        return x->status = FX_NO_EMFILE, vow_ok_none();

    /* Free descriptors: close the first four clients (their handlers see the end of the
     * stream and close their ends too). The last client's connection waits in the backlog. */
    if (x->n < 6) return x->status = FX_NO_EMFILE, vow_ok_none();
    for (int i = 0; i < 4; i++) {
        vow_sock_close(x->clients[i]);
        vow_sock_unref(x->clients[i]);
        x->clients[i] = NULL;
    }
    if (!wait_count(loop, &sv->accepted, x->n, 3000))
        return x->status = FX_NOT_RESUMED, vow_ok_none();
    if (!echo_once(x->clients[x->n - 1], "served again"))
        return x->status = FX_NOT_SERVED, vow_ok_none();
    /* And a new connection. */
    vow_sock_t *s = connect_to(loop, sv->port, "fx: new connect");
    if (s == NULL) return x->status = FX_NEW_CONN, vow_ok_none();
    int ok = wait_count(loop, &sv->accepted, x->n + 1, 3000) && echo_once(s, "a new one");
    vow_sock_close(s);
    vow_sock_unref(s);
    if (!ok) return x->status = FX_NEW_CONN, vow_ok_none();
    return vow_ok_none();
}

/* The child's body: answers its exit status. */
static int fx_child(void) {
    static struct fx x; /* static: large, and zeroed */
    vow_loop_t *loop = NULL;
    if (vow_loop_new(&loop, VOW_BACKEND_AUTO) != 0) return FX_SETUP;
    unsigned want = vow_test_expected_backend();
    if (want != 0 && vow_loop_backend(loop) != want) return FX_SETUP;
    struct server *sv = &x.sv;
    sv->loop = loop;
    sv->mode = ECHO;
    if (vow_tcp_listen(loop, "127.0.0.1", 0, NULL, &sv->srv) != 0) return FX_SETUP;
    sv->port = vow_server_port(sv->srv);
    sv->conns = vow_server_accept(sv->srv);
    sv->accepting = vow_async(loop, accept_loop, sv, NULL);
    if (sv->port <= 0 || sv->conns == NULL || sv->accepting == NULL) return FX_SETUP;
    vow_outcome_t out;
    int rc = vow_run(loop, vow_async(loop, fx_scenario, &x, NULL), &out);
    vow_outcome_release(&out);
    if (rc != 0) return FX_RUN;
    if (x.status != FX_OK) return x.status;
    if (vow_state(sv->accepting) != VOW_PENDING) return FX_STREAM_ENDED;
    for (int i = 0; i < x.n; i++) {
        if (x.clients[i] == NULL) continue;
        vow_sock_close(x.clients[i]);
        vow_sock_unref(x.clients[i]);
    }
    vow_server_close(sv->srv);
    if (vow_run(loop, sv->accepting, NULL) != 0) return FX_TEARDOWN;
    if (vow_loop_run(loop, VOW_RUN_DEFAULT) != 0 || sv->handlers_live != 0) return FX_TEARDOWN;
    vow_stream_unref(sv->conns);
    if (fails.n != 0) {
        fprintf(stderr, "fd exhaustion child: %d failure(s); the first: %s\n", fails.n,
                fails.first);
        return FX_FAILS;
    }
    if (vow_loop_close(loop) != 0 || vow_test_live_allocs() != 0) return FX_TEARDOWN;
    return FX_OK;
}

Test(net_stress, fd_exhaustion_answers_emfile_and_the_server_serves_again) {
    /* memcheck keeps its own descriptors above the limit and checks new ones against the
     * hard limit only: a lowered soft RLIMIT_NOFILE is recorded, never enforced, so no
     * accept can fail. The ASan and plain runs cover this test. */
    if (RUNNING_ON_VALGRIND) cr_skip_test("valgrind does not enforce a lowered RLIMIT_NOFILE");
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0, "fork: errno %d", errno);
    if (pid == 0) _exit(fx_child());
    int status = 0;
    pid_t w;
    while ((w = waitpid(pid, &status, 0)) < 0 && errno == EINTR) {
    }
    cr_assert_eq(w, pid);
    cr_assert(WIFEXITED(status), "the child died of signal %d",
              WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    static const char *const what[] = {
        [FX_SETUP] = "setting up the loop, the server or the accept loop",
        [FX_RLIMIT] = "getrlimit / setrlimit",
        [FX_CONNECT] = "a connect failed with something else than EMFILE",
        [FX_NO_EMFILE] = "accept never failed with EMFILE",
        [FX_LAST_CODE] = "vow_server_errors' last code is not VOW_EMFILE",
        [FX_NOT_RESUMED] = "the waiting connection was not accepted once fds were freed",
        [FX_NOT_SERVED] = "the waiting connection was accepted but not served",
        [FX_NEW_CONN] = "a new connection afterwards was not accepted or served",
        [FX_FAILS] = "a coroutine recorded a failure (see stderr)",
        [FX_TEARDOWN] = "the loop did not close cleanly, or vow memory was left",
        [FX_RUN] = "vow_run of the scenario failed",
        [FX_STREAM_ENDED] = "the accept stream ended after EMFILE",
    };
    int st = WEXITSTATUS(status);
    cr_assert_eq(st, 0, "the child failed (%d): %s", st,
                 st > 0 && st < (int)(sizeof what / sizeof what[0]) && what[st] ? what[st] : "?");
}
