/* tests/test_net.c - vow/net.h's sockets and servers (the resolver has tests of its own):
 * echo over 127.0.0.1 and ::1; read, read_exactly and read_until (ERANGE and EEOF keep
 * the bytes buffered); a read timed out or cancelled keeps its bytes for the next read and
 * stops watching; write back-pressure under a small write limit; shutdown (the peer reads
 * the end); close rejects what waits with VOW_ECLOSED; a refused connect; a peer that
 * resets; a peer that closes mid-write (EPIPE or ECONNRESET, never SIGPIPE); Unix domain
 * sockets through the same calls; vow_sock_wrap on a socketpair; liveness (an idle socket
 * or server does not keep the loop); teardown with everything pending (nothing leaks);
 * the same calls awaited in a coroutine. Sockets on 127.0.0.1 / ::1 with ephemeral ports;
 * every loop bounded. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "helpers.h"
#include "net_helpers.h"

TestSuite(net, .init = vow_test_setup, .fini = vow_test_teardown, .timeout = 30);

/* ---- helpers ------------------------------------------------------------------------------- */
/* Runs until p settles (consumed); the outcome in *o. */
static void run(vow_loop_t *loop, vow_t *p, vow_outcome_t *o) {
    cr_assert_not_null(p);
    VOW_ASSERT_CODE(vow_run(loop, p, o), 0);
}

/* Runs p, which must fulfil with the bytes `want` (n of them). */
static void expect_bytes_n(vow_loop_t *loop, vow_t *p, const char *want, size_t n) {
    vow_outcome_t o;
    run(loop, p, &o);
    if (o.state == VOW_REJECTED)
        cr_assert_fail("rejected: %s (%s)", vow_error_message(o.error),
                       vow_err_name(vow_error_code(o.error)));
    const vow_bytes_t *b = vow_value_bytes(&o.value);
    cr_assert_not_null(b, "not a bytes value");
    VOW_ASSERT_EQ(b->len, n);
    cr_assert(memcmp(b->data, want, n) == 0, "bytes differ: got '%.*s'", (int)b->len, b->data);
    VOW_ASSERT_EQ(b->data[n], 0, "bytes end with a NUL");
    vow_outcome_release(&o);
}
static void expect_bytes(vow_loop_t *loop, vow_t *p, const char *want) {
    expect_bytes_n(loop, p, want, strlen(want));
}

/* Runs p, which must reject with `code`. */
static void expect_code(vow_loop_t *loop, vow_t *p, int code) {
    vow_outcome_t o;
    run(loop, p, &o);
    VOW_ASSERT_STATE(o.state, VOW_REJECTED);
    VOW_ASSERT_CODE(vow_error_code(o.error), code);
    vow_outcome_release(&o);
}

static void expect_ok(vow_loop_t *loop, vow_t *p) {
    vow_outcome_t o;
    run(loop, p, &o);
    if (o.state == VOW_REJECTED)
        cr_assert_fail("rejected: %s (%s)", vow_error_message(o.error),
                       vow_err_name(vow_error_code(o.error)));
    vow_outcome_release(&o);
}

static size_t buffered_in(const vow_sock_t *s) {
    vow_sock_stats_t st;
    VOW_ASSERT_CODE(vow_sock_stats(s, &st), 0);
    return st.buffered_in;
}

/* Runs loop turns (bounded) until s holds at least n unread bytes; a read of s waits. */
static void run_until_buffered(vow_loop_t *loop, const vow_sock_t *s, size_t n) {
    for (int i = 0; i < 1000 && buffered_in(s) < n; i++) vow_loop_run(loop, VOW_RUN_ONCE);
    VOW_ASSERT_EQ(buffered_in(s), n);
}

static void echo_rounds(vow_loop_t *loop, struct pair *pr) {
    for (int i = 0; i < 5; i++) {
        char msg[32];
        snprintf(msg, sizeof msg, "ping %d\n", i);
        expect_ok(loop, vow_sock_write(pr->c, msg, strlen(msg)));
        expect_bytes(loop, vow_sock_read_until(pr->s, "\n", 1, 0), msg);
        expect_ok(loop, vow_sock_write(pr->s, msg, strlen(msg)));
        expect_bytes(loop, vow_sock_read_exactly(pr->c, strlen(msg)), msg);
    }
    vow_sock_stats_t st;
    VOW_ASSERT_CODE(vow_sock_stats(pr->c, &st), 0);
    VOW_ASSERT_EQ(st.bytes_written, st.bytes_read);
    cr_assert(st.bytes_written > 0);
}

static int have_ipv6_loopback(void) {
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    if (fd < 0) return 0;
    struct sockaddr_in6 a;
    memset(&a, 0, sizeof a);
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_loopback;
    int ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* ---- echo ------------------------------------------------------------------------------------ */
Test(net, echo_over_ipv4) {
    vow_loop_t *loop = vow_test_loop();
    struct pair pr;
    pair_open(loop, "127.0.0.1", &pr);
    echo_rounds(loop, &pr);
    pair_close(&pr);
    VOW_TEST_END(loop);
}

Test(net, echo_over_ipv6) {
    if (!have_ipv6_loopback()) {
        printf("net.echo_over_ipv6: skipped: this machine has no IPv6 loopback (::1)\n");
        cr_skip_test("no IPv6 loopback");
    }
    vow_loop_t *loop = vow_test_loop();
    struct pair pr;
    pair_open(loop, "::1", &pr);
    echo_rounds(loop, &pr);
    pair_close(&pr);
    VOW_TEST_END(loop);
}

/* ---- reading ----------------------------------------------------------------------------------- */
Test(net, read_forms_take_what_they_ask_and_keep_the_rest) {
    vow_loop_t *loop = vow_test_loop();
    struct pair pr;
    pair_open(loop, "127.0.0.1", &pr);
    const char *text = "alpha\nbeta\ngamma-delta";
    expect_ok(loop, vow_sock_write(pr.c, text, strlen(text)));
    expect_bytes(loop, vow_sock_read_until(pr.s, "\n", 1, 0), "alpha\n");
    expect_bytes(loop, vow_sock_read_exactly(pr.s, 3), "bet");
    expect_bytes(loop, vow_sock_read(pr.s, 2), "a\n");
    /* A delimiter of several bytes, found across what arrives later. */
    vow_t *until = vow_sock_read_until(pr.s, "--", 2, 0);
    expect_ok(loop, vow_sock_write(pr.c, "-x--y", 5));
    expect_bytes(loop, until, "gamma-delta-x--");
    /* ERANGE: max bytes came without the delimiter; they stay buffered. */
    expect_ok(loop, vow_sock_write(pr.c, "0123456789", 10));
    expect_code(loop, vow_sock_read_until(pr.s, "\n", 1, 8), VOW_ERANGE);
    cr_assert(buffered_in(pr.s) >= 8, "the bytes stay buffered");
    /* EEOF: the stream ends before the delimiter / before n bytes; bytes stay buffered. */
    expect_ok(loop, vow_sock_shutdown(pr.c));
    expect_code(loop, vow_sock_read_until(pr.s, "\n", 1, 0), VOW_EEOF);
    VOW_ASSERT_EQ(buffered_in(pr.s), 11);
    expect_code(loop, vow_sock_read_exactly(pr.s, 12), VOW_EEOF);
    VOW_ASSERT_EQ(buffered_in(pr.s), 11);
    expect_bytes(loop, vow_sock_read_exactly(pr.s, 11), "y0123456789");
    expect_bytes(loop, vow_sock_read(pr.s, 100), ""); /* the end: empty bytes */
    expect_bytes(loop, vow_sock_read(pr.s, 100), "");
    pair_close(&pr);
    VOW_TEST_END(loop);
}

Test(net, read_misuse) {
    vow_loop_t *loop = vow_test_loop();
    struct pair pr;
    pair_open(loop, "127.0.0.1", &pr);
    expect_code(loop, vow_sock_read(pr.s, 0), VOW_EINVAL);
    expect_code(loop, vow_sock_read_exactly(pr.s, 0), VOW_EINVAL);
    expect_code(loop, vow_sock_read_until(pr.s, NULL, 1, 0), VOW_EINVAL);
    expect_code(loop, vow_sock_read_until(pr.s, "ab", 2, 1), VOW_EINVAL);
    vow_t *first = vow_sock_read(pr.s, 10);
    VOW_ASSERT_STATE(vow_state(first), VOW_PENDING);
    expect_code(loop, vow_sock_read(pr.s, 10), VOW_EBUSY);
    expect_ok(loop, vow_sock_write(pr.c, "x", 1));
    expect_bytes(loop, first, "x");
    cr_assert_null(vow_sock_read(NULL, 1));
    pair_close(&pr);
    VOW_TEST_END(loop);
}

Test(net, a_timed_out_read_keeps_its_bytes_and_stops_watching) {
    vow_loop_t *loop = vow_test_loop();
    struct pair pr;
    pair_open(loop, "127.0.0.1", &pr);
    expect_ok(loop, vow_sock_write(pr.c, "abcd", 4));
    expect_code(loop, vow_timeout(vow_sock_read_exactly(pr.s, 10), 30, 0), VOW_ETIMEDOUT);
    VOW_ASSERT_EQ(buffered_in(pr.s), 4);
    VOW_ASSERT_CODE(vow_loop_alive(loop), 0, "nothing waits: the watcher stopped");
    expect_ok(loop, vow_sock_write(pr.c, "efghij", 6));
    expect_bytes(loop, vow_sock_read_exactly(pr.s, 10), "abcdefghij");
    pair_close(&pr);
    VOW_TEST_END(loop);
}

Test(net, a_cancelled_read_keeps_its_bytes) {
    vow_loop_t *loop = vow_test_loop();
    struct pair pr;
    pair_open(loop, "127.0.0.1", &pr);
    vow_t *r = vow_sock_read_until(pr.s, "\n", 1, 0);
    expect_ok(loop, vow_sock_write(pr.c, "abc", 3));
    run_until_buffered(loop, pr.s, 3);
    VOW_ASSERT_STATE(vow_state(r), VOW_PENDING);
    VOW_ASSERT_CODE(vow_cancel(r), 0);
    VOW_ASSERT_STATE(vow_state(r), VOW_REJECTED);
    VOW_ASSERT_CODE(vow_error_code(vow_error(r)), VOW_ECANCELED);
    vow_unref(r);
    VOW_ASSERT_EQ(buffered_in(pr.s), 3);
    VOW_ASSERT_CODE(vow_loop_alive(loop), 0);
    expect_ok(loop, vow_sock_write(pr.c, "d\n", 2));
    expect_bytes(loop, vow_sock_read_until(pr.s, "\n", 1, 0), "abcd\n");
    pair_close(&pr);
    VOW_TEST_END(loop);
}

/* ---- writing ----------------------------------------------------------------------------------- */
#define BIG (1u << 20)

static void small_sndbuf(vow_sock_t *s) {
    int small = 4096;
    cr_assert_eq(setsockopt(vow_sock_fd(s), SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
}

Test(net, a_write_waits_while_the_buffer_is_above_its_limit) {
    vow_loop_t *loop = vow_test_loop();
    struct pair pr;
    pair_open(loop, "127.0.0.1", &pr);
    small_sndbuf(pr.c);
    VOW_ASSERT_CODE(vow_sock_set_write_limit(pr.c, 1024), 0);
    unsigned char *data = malloc(BIG);
    for (size_t i = 0; i < BIG; i++) data[i] = (unsigned char)(i * 7 + 3);
    vow_t *w = vow_sock_write(pr.c, data, BIG);
    VOW_ASSERT_STATE(vow_state(w), VOW_PENDING, "the kernel cannot take 4 MiB at once");
    vow_sock_stats_t st;
    VOW_ASSERT_CODE(vow_sock_stats(pr.c, &st), 0);
    cr_assert(st.buffered_out > 1024, "buffered_out %zu", st.buffered_out);
    vow_t *d = vow_sock_drain(pr.c);
    /* The reader takes it all; the write fulfils once at most 1 KiB is left, the drain at 0. */
    vow_outcome_t o;
    run(loop, vow_sock_read_exactly(pr.s, BIG), &o);
    VOW_ASSERT_STATE(o.state, VOW_FULFILLED);
    const vow_bytes_t *b = vow_value_bytes(&o.value);
    VOW_ASSERT_EQ(b->len, (size_t)BIG);
    cr_assert(memcmp(b->data, data, BIG) == 0, "every byte arrives in order");
    vow_outcome_release(&o);
    expect_ok(loop, w);
    expect_ok(loop, d);
    VOW_ASSERT_CODE(vow_sock_stats(pr.c, &st), 0);
    VOW_ASSERT_EQ(st.buffered_out, 0);
    VOW_ASSERT_EQ(st.bytes_written, (uint64_t)BIG);
    cr_assert(st.partial_writes > 0, "partial writes resumed");
    VOW_ASSERT_CODE(vow_sock_stats(pr.s, &st), 0);
    VOW_ASSERT_EQ(st.bytes_read, (uint64_t)BIG);
    free(data);
    /* A write of 0 bytes fulfils when the buffer is below the limit; NULL data is misuse. */
    expect_ok(loop, vow_sock_write(pr.c, NULL, 0));
    expect_code(loop, vow_sock_write(pr.c, NULL, 1), VOW_EINVAL);
    pair_close(&pr);
    VOW_TEST_END(loop);
}

Test(net, shutdown_lets_the_peer_read_the_end_and_reading_goes_on) {
    vow_loop_t *loop = vow_test_loop();
    struct pair pr;
    pair_open(loop, "127.0.0.1", &pr);
    expect_ok(loop, vow_sock_write(pr.c, "bye", 3));
    vow_t *sh = vow_sock_shutdown(pr.c);
    cr_assert_not_null(sh);
    expect_ok(loop, sh);
    expect_ok(loop, vow_sock_shutdown(pr.c)); /* a second call answers as the first */
    expect_code(loop, vow_sock_write(pr.c, "x", 1), VOW_EPIPE);
    expect_bytes(loop, vow_sock_read(pr.s, 100), "bye");
    expect_bytes(loop, vow_sock_read(pr.s, 100), "");
    /* The other direction still works. */
    expect_ok(loop, vow_sock_write(pr.s, "back", 4));
    expect_bytes(loop, vow_sock_read_exactly(pr.c, 4), "back");
    pair_close(&pr);
    VOW_TEST_END(loop);
}

Test(net, close_rejects_what_waits_with_eclosed) {
    vow_loop_t *loop = vow_test_loop();
    struct pair pr;
    pair_open(loop, "127.0.0.1", &pr);
    VOW_ASSERT_CODE(vow_sock_set_write_limit(pr.c, 0), 0);
    small_sndbuf(pr.c);
    unsigned char *data = calloc(1, BIG);
    vow_t *r = vow_sock_read(pr.c, 10);
    vow_t *w = vow_sock_write(pr.c, data, BIG);
    vow_t *d = vow_sock_drain(pr.c);
    vow_t *sh = vow_sock_shutdown(pr.c);
    free(data);
    VOW_ASSERT_STATE(vow_state(r), VOW_PENDING);
    VOW_ASSERT_STATE(vow_state(w), VOW_PENDING);
    cr_assert(vow_loop_alive(loop) > 0, "a read and a write keep the loop alive");
    VOW_ASSERT_CODE(vow_loop_close(loop), VOW_EBUSY);
    /* Handled before they reject (no unhandled-rejection report). */
    int codes[4] = {0};
    vow_t *waits[4] = {r, w, d, sh};
    for (int i = 0; i < 4; i++) waits[i] = vow_catch(waits[i], record_code, &codes[i], NULL);
    VOW_ASSERT_CODE(vow_sock_close(pr.c), 0);
    VOW_ASSERT_CODE(vow_sock_close(pr.c), 0);
    for (int i = 0; i < 4; i++) expect_ok(loop, waits[i]);
    for (int i = 0; i < 4; i++) VOW_ASSERT_CODE(codes[i], VOW_ECLOSED, "waiter %d", i);
    expect_code(loop, vow_sock_read(pr.c, 1), VOW_ECLOSED);
    expect_code(loop, vow_sock_write(pr.c, "x", 1), VOW_ECLOSED);
    VOW_ASSERT_CODE(vow_sock_fd(pr.c), VOW_ECLOSED);
    VOW_ASSERT_CODE(vow_sock_set_write_limit(pr.c, 1), VOW_ECLOSED);
    vow_sock_stats_t st;
    VOW_ASSERT_CODE(vow_sock_stats(pr.c, &st), 0, "stats work on a closed socket");
    VOW_ASSERT_CODE(vow_loop_alive(loop), 0);
    /* The peer reads the end (after what the kernel took before the close). */
    for (int i = 0; i < 10000; i++) {
        vow_outcome_t o;
        run(loop, vow_sock_read(pr.s, 1u << 20), &o);
        if (o.state == VOW_REJECTED) { /* a reset: the close dropped unread bytes */
            VOW_ASSERT_CODE(vow_error_code(o.error), VOW_ECONNRESET);
            vow_outcome_release(&o);
            break;
        }
        size_t len = vow_value_bytes(&o.value)->len;
        vow_outcome_release(&o);
        if (len == 0) break;
    }
    pair_close(&pr);
    VOW_TEST_END(loop);
}

/* ---- errors ------------------------------------------------------------------------------------ */
Test(net, connect_to_a_closed_port_is_refused) {
    vow_loop_t *loop = vow_test_loop();
    vow_server_t *srv;
    VOW_ASSERT_CODE(vow_tcp_listen(loop, "127.0.0.1", 0, NULL, &srv), 0);
    int port = vow_server_port(srv);
    vow_server_close(srv); /* nobody listens there now */
    expect_code(loop, vow_tcp_connect(loop, "127.0.0.1", (uint16_t)port), VOW_ECONNREFUSED);
    VOW_TEST_END(loop);
}

Test(net, a_peer_that_resets) {
    vow_loop_t *loop = vow_test_loop();
    struct pair pr;
    pair_open(loop, "127.0.0.1", &pr);
    struct linger lg = {1, 0};
    cr_assert_eq(setsockopt(vow_sock_fd(pr.s), SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    vow_t *r = vow_sock_read(pr.c, 100);
    VOW_ASSERT_CODE(vow_sock_close(pr.s), 0);
    expect_code(loop, r, VOW_ECONNRESET);
    expect_code(loop, vow_sock_read(pr.c, 100), VOW_ECONNRESET); /* the same code again */
    expect_code(loop, vow_sock_write(pr.c, "x", 1), VOW_ECONNRESET);
    pair_close(&pr);
    VOW_TEST_END(loop);
}

/* A write whose send fails when its rejection cannot be allocated answers NULL (out of
 * memory), and the kernel's answer is not lost with it: the socket has failed, so the next
 * write rejects with that code (ECONNRESET), not with the EPIPE a second send would get. */
Test(net, a_send_failing_out_of_memory_keeps_the_sockets_error) {
    vow_loop_t *loop = vow_test_loop_without_pools(); /* a promise is an allocation */
    struct pair pr;
    pair_open(loop, "127.0.0.1", &pr);
    expect_ok(loop, vow_sock_write(pr.c, "x", 1)); /* the write buffer exists now */
    struct linger lg = {1, 0};
    cr_assert_eq(setsockopt(vow_sock_fd(pr.s), SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    VOW_ASSERT_CODE(vow_sock_close(pr.s), 0);
    struct pollfd pf = {.fd = vow_sock_fd(pr.c), .events = POLLIN};
    cr_assert_eq(poll(&pf, 1, 5000), 1, "the reset reached the client");
    vow_test_fail_at(vow_test_alloc_total() + 1);
    vow_t *w = vow_sock_write(pr.c, "y", 1);
    long failed = vow_test_failed_allocs();
    vow_test_fail_at(0);
    VOW_ASSERT_EQ(failed, 1L);
    cr_assert_null(w, "out of memory: NULL");
    expect_code(loop, vow_sock_write(pr.c, "z", 1), VOW_ECONNRESET);
    pair_close(&pr);
    VOW_TEST_END(loop);
}

Test(net, a_peer_that_closes_mid_write_gives_epipe_not_sigpipe) {
    signal(SIGPIPE, SIG_DFL); /* a SIGPIPE would kill the test */
    vow_loop_t *loop = vow_test_loop();
    struct pair pr;
    pair_open(loop, "127.0.0.1", &pr);
    VOW_ASSERT_CODE(vow_sock_close(pr.s), 0);
    static unsigned char chunk[65536];
    int code = 0;
    for (int i = 0; i < 10000 && code == 0; i++) {
        vow_outcome_t o;
        run(loop, vow_sock_write(pr.c, chunk, sizeof chunk), &o);
        if (o.state == VOW_REJECTED) code = vow_error_code(o.error);
        vow_outcome_release(&o);
    }
    cr_assert(code == VOW_EPIPE || code == VOW_ECONNRESET, "got %s", vow_err_name(code));
    pair_close(&pr);
    VOW_TEST_END(loop);
}

/* ---- Unix domain sockets, adopted sockets ------------------------------------------------------- */
Test(net, unix_domain_sockets_through_the_same_calls) {
    char dir[] = "/tmp/vow-net-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/sock", dir);
    vow_loop_t *loop = vow_test_loop();
    struct pair pr;
    VOW_ASSERT_CODE(vow_unix_listen(loop, path, NULL, &pr.srv), 0);
    VOW_ASSERT_CODE(vow_server_port(pr.srv), VOW_EINVAL);
    vow_server_t *again;
    VOW_ASSERT_CODE(vow_unix_listen(loop, path, NULL, &again), VOW_EADDRINUSE);
    cr_assert_null(again);
    vow_listen_opts_t bad = {.flags = VOW_LISTEN_REUSEPORT};
    VOW_ASSERT_CODE(vow_unix_listen(loop, "/tmp/x", &bad, &again), VOW_EINVAL);
    pr.conns = vow_server_accept(pr.srv);
    pr.c = run_sock(loop, vow_unix_connect(loop, path));
    pr.s = run_sock(loop, vow_stream_next(pr.conns));
    echo_rounds(loop, &pr);
    pair_close(&pr);
    struct stat stt;
    cr_assert(stat(path, &stt) != 0, "vow_server_close removes the path");
    expect_code(loop, vow_unix_connect(loop, path), VOW_ENOENT);
    expect_code(loop, vow_unix_connect(loop, ""), VOW_EINVAL);
    rmdir(dir);
    VOW_TEST_END(loop);
}

Test(net, wrap_adopts_a_socketpair) {
    vow_loop_t *loop = vow_test_loop();
    int sv[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct pair pr = {0};
    VOW_ASSERT_CODE(vow_sock_wrap(loop, sv[0], &pr.c), 0);
    VOW_ASSERT_CODE(vow_sock_wrap(loop, sv[1], &pr.s), 0);
    VOW_ASSERT_EQ(vow_sock_fd(pr.c), sv[0]);
    echo_rounds(loop, &pr);
    vow_sock_t *bad = (vow_sock_t *)1;
    VOW_ASSERT_CODE(vow_sock_wrap(loop, -1, &bad), VOW_EINVAL);
    cr_assert_null(bad);
    VOW_ASSERT_CODE(vow_sock_wrap(NULL, 0, &bad), VOW_EINVAL);
    vow_sock_unref(pr.c); /* the last reference closes it: the peer reads the end */
    expect_bytes(loop, vow_sock_read(pr.s, 10), "");
    vow_sock_unref(pr.s);
    VOW_TEST_END(loop);
}

/* ---- servers, liveness --------------------------------------------------------------------------- */
Test(net, idle_sockets_and_servers_do_not_keep_the_loop) {
    vow_loop_t *loop = vow_test_loop();
    struct pair pr;
    pair_open(loop, "127.0.0.1", &pr);
    VOW_ASSERT_CODE(vow_loop_alive(loop), 0, "open sockets and a server, nothing waits");
    vow_t *n = vow_stream_next(pr.conns);
    VOW_ASSERT_STATE(vow_state(n), VOW_PENDING);
    cr_assert(vow_loop_alive(loop) > 0, "a waiting accept keeps the loop");
    /* The accept asked for stays in flight for the stream when the next is cancelled (as a
     * stream's pull does); closing the stream lets the server go idle. */
    VOW_ASSERT_CODE(vow_cancel(n), 0);
    vow_unref(n);
    VOW_ASSERT_CODE(vow_stream_close(pr.conns), 0);
    VOW_ASSERT_CODE(vow_loop_alive(loop), 0, "closed: the server is idle again");
    vow_t *r = vow_sock_read(pr.c, 1);
    cr_assert(vow_loop_alive(loop) > 0, "a waiting read keeps the loop");
    VOW_ASSERT_CODE(vow_cancel(r), 0);
    vow_unref(r);
    VOW_ASSERT_CODE(vow_loop_alive(loop), 0);
    pair_close(&pr);
    VOW_TEST_END(loop);
}

Test(net, listen_misuse_and_options) {
    vow_loop_t *loop = vow_test_loop();
    vow_server_t *srv = (vow_server_t *)1;
    VOW_ASSERT_CODE(vow_tcp_listen(loop, "localhost", 0, NULL, &srv), VOW_EINVAL);
    cr_assert_null(srv);
    VOW_ASSERT_CODE(vow_tcp_listen(loop, NULL, 0, NULL, &srv), VOW_EINVAL);
    vow_listen_opts_t bad = {.flags = 0x100};
    VOW_ASSERT_CODE(vow_tcp_listen(loop, "127.0.0.1", 0, &bad, &srv), VOW_EINVAL);
    vow_listen_opts_t rp = {.flags = VOW_LISTEN_REUSEPORT, .backlog = 8, .accept_buffer = 2};
    VOW_ASSERT_CODE(vow_tcp_listen(loop, "127.0.0.1", 0, &rp, &srv), 0);
    vow_server_t *second;
    VOW_ASSERT_CODE(vow_tcp_listen(loop, "127.0.0.1", (uint16_t)vow_server_port(srv), &rp, &second),
                    0, "SO_REUSEPORT shares the port");
    vow_server_t *third;
    VOW_ASSERT_CODE(vow_tcp_listen(loop, "127.0.0.1", (uint16_t)vow_server_port(srv), NULL, &third),
                    VOW_EADDRINUSE);
    int last = 1;
    VOW_ASSERT_EQ(vow_server_errors(srv, &last), 0);
    VOW_ASSERT_CODE(last, 0);
    vow_server_close(second);
    vow_server_close(srv);
    vow_server_close(NULL);
    expect_code(loop, vow_tcp_connect(loop, "127.0.0.1", 0), VOW_EINVAL);
    expect_code(loop, vow_tcp_connect(loop, "", 80), VOW_EINVAL);
    VOW_TEST_END(loop);
}

Test(net, accept_stream_hands_out_each_connection_and_ends_on_close) {
    vow_loop_t *loop = vow_test_loop();
    vow_server_t *srv;
    vow_listen_opts_t opts = {.accept_buffer = 2};
    VOW_ASSERT_CODE(vow_tcp_listen(loop, "127.0.0.1", 0, &opts, &srv), 0);
    uint16_t port = (uint16_t)vow_server_port(srv);
    vow_stream_t *conns = vow_server_accept(srv);
    vow_sock_t *cs[5], *ss[5];
    for (int i = 0; i < 5; i++) cs[i] = run_sock(loop, vow_tcp_connect(loop, "127.0.0.1", port));
    for (int i = 0; i < 5; i++) {
        ss[i] = run_sock(loop, vow_stream_next(conns));
        char m[8];
        snprintf(m, sizeof m, "c%d", i);
        expect_ok(loop, vow_sock_write(ss[i], m, 2));
    }
    /* Each client gets exactly one server side: each hears one greeting. */
    int seen = 0;
    for (int i = 0; i < 5; i++) {
        vow_outcome_t o;
        run(loop, vow_sock_read_exactly(cs[i], 2), &o);
        VOW_ASSERT_STATE(o.state, VOW_FULFILLED);
        seen |= 1 << (vow_value_bytes(&o.value)->data[1] - '0');
        vow_outcome_release(&o);
    }
    VOW_ASSERT_EQ(seen, 31);
    vow_t *n = vow_stream_next(conns);
    VOW_ASSERT_STATE(vow_state(n), VOW_PENDING);
    vow_server_close(srv);
    vow_outcome_t o;
    run(loop, n, &o);
    cr_assert(vow_stream_is_end(&o.value), "closing the server ends the stream");
    vow_outcome_release(&o);
    for (int i = 0; i < 5; i++) {
        vow_sock_unref(cs[i]);
        vow_sock_unref(ss[i]);
    }
    vow_stream_unref(conns);
    VOW_TEST_END(loop);
}

Test(net, a_full_accept_buffer_stops_accepting) {
    vow_loop_t *loop = vow_test_loop();
    vow_server_t *srv;
    vow_listen_opts_t opts = {.accept_buffer = 1};
    VOW_ASSERT_CODE(vow_tcp_listen(loop, "127.0.0.1", 0, &opts, &srv), 0);
    uint16_t port = (uint16_t)vow_server_port(srv);
    vow_stream_t *conns = vow_server_accept(srv);
    vow_sock_t *cs[4];
    /* The kernel completes the handshakes (its backlog); the server takes at most the
     * buffer's one, plus the one whose push waits, then stops watching. */
    for (int i = 0; i < 4; i++) cs[i] = run_sock(loop, vow_tcp_connect(loop, "127.0.0.1", port));
    expect_ok(loop, vow_sleep(loop, 20));
    vow_server_close(srv); /* the stream ends after what was accepted; the rest is dropped */
    int accepted = 0;
    for (int i = 0; i < 10; i++) {
        vow_outcome_t o;
        run(loop, vow_stream_next(conns), &o);
        VOW_ASSERT_STATE(o.state, VOW_FULFILLED);
        int end = vow_stream_is_end(&o.value);
        vow_outcome_release(&o);
        if (end) break;
        accepted++;
    }
    cr_assert(accepted >= 1 && accepted <= 2, "accepted %d of 4 with a buffer of 1", accepted);
    for (int i = 0; i < 4; i++) vow_sock_unref(cs[i]);
    vow_stream_unref(conns);
    VOW_TEST_END(loop);
}

Test(net, a_cancelled_connect_closes_its_socket) {
    vow_loop_t *loop = vow_test_loop();
    vow_server_t *srv;
    VOW_ASSERT_CODE(vow_tcp_listen(loop, "127.0.0.1", 0, NULL, &srv), 0);
    vow_stream_t *conns = vow_server_accept(srv);
    vow_t *c = vow_tcp_connect(loop, "127.0.0.1", (uint16_t)vow_server_port(srv));
    if (vow_state(c) == VOW_PENDING) {
        VOW_ASSERT_CODE(vow_cancel(c), 0);
        VOW_ASSERT_CODE(vow_error_code(vow_error(c)), VOW_ECANCELED);
        VOW_ASSERT_CODE(vow_loop_alive(loop), 0, "the connect's watcher stopped");
    } else {
        printf("net.a_cancelled_connect_closes_its_socket: the connect completed at once\n");
    }
    vow_unref(c);
    vow_stream_unref(conns);
    vow_server_close(srv);
    VOW_TEST_END(loop);
}

/* ---- teardown --------------------------------------------------------------------------------- */
Test(net, loop_free_with_everything_pending_leaks_nothing) {
    vow_loop_t *loop = vow_test_loop();
    struct pair pr;
    pair_open(loop, "127.0.0.1", &pr);
    VOW_ASSERT_CODE(vow_sock_set_write_limit(pr.c, 0), 0);
    small_sndbuf(pr.c);
    unsigned char *data = calloc(1, BIG);
    vow_t *r = vow_sock_read(pr.s, 10);
    vow_t *w = vow_sock_write(pr.c, data, BIG);
    vow_t *next = vow_stream_next(pr.conns);
    vow_t *c = vow_tcp_connect(loop, "127.0.0.1", (uint16_t)vow_server_port(pr.srv));
    vow_t *r2 = vow_then(vow_sock_read_until(pr.c, "\n", 1, 0), NULL, NULL, NULL, NULL);
    free(data);
    VOW_ASSERT_CODE(vow_loop_close(loop), VOW_EBUSY);
    VOW_ASSERT_CODE(vow_loop_free(loop), 0);
    /* The handles still held answer VOW_ECLOSED or NULL, and go with their last release. */
    VOW_ASSERT_CODE(vow_sock_fd(pr.c), VOW_ECLOSED);
    cr_assert_null(vow_sock_read(pr.c, 1));
    cr_assert_null(vow_sock_write(pr.c, "x", 1));
    cr_assert_null(vow_server_accept(pr.srv));
    vow_unref(r);
    vow_unref(w);
    vow_unref(next);
    vow_unref(c);
    vow_unref(r2);
    pair_close(&pr);
    cr_assert_eq(vow_test_live_allocs(), 0, "%ld vow allocation(s) still live",
                 vow_test_live_allocs());
}

Test(net, loop_free_with_idle_sockets_closes_them) {
    vow_loop_t *loop = vow_test_loop();
    struct pair pr;
    pair_open(loop, "127.0.0.1", &pr);
    int fd = vow_sock_fd(pr.c);
    vow_sock_unref(pr.s); /* the server side dropped: it closes now */
    VOW_ASSERT_CODE(vow_loop_free(loop), 0);
    VOW_ASSERT_CODE(vow_sock_fd(pr.c), VOW_ECLOSED);
    cr_assert(fcntl(fd, F_GETFD) < 0, "the descriptor is closed");
    vow_sock_unref(pr.c);
    vow_stream_unref(pr.conns);
    vow_server_close(pr.srv);
    cr_assert_eq(vow_test_live_allocs(), 0, "%ld vow allocation(s) still live",
                 vow_test_live_allocs());
}

/* ---- await --------------------------------------------------------------------------------------- */
struct co_arg {
    uint16_t port;
    int rounds;
};

static vow_result_t client_co(vow_loop_t *loop, void *arg) {
    struct co_arg *a = arg;
    vow_outcome_t o;
    int rc = vow_await(vow_tcp_connect(loop, "127.0.0.1", a->port), &o);
    if (rc != 0) return vow_rethrow(rc, &o);
    vow_sock_t *s = vow_sock_ref(vow_value_ptr(&o.value));
    vow_outcome_release(&o);
    for (int i = 0; i < 3 && rc == 0; i++) {
        if ((rc = vow_await(vow_sock_write(s, "hi\n", 3), NULL)) != 0) break;
        if ((rc = vow_await(vow_sock_read_until(s, "\n", 1, 0), &o)) != 0) break;
        if (vow_value_bytes(&o.value)->len == 3) a->rounds++;
        vow_outcome_release(&o);
    }
    vow_sock_unref(s);
    return rc == 0 ? vow_ok_int(a->rounds) : vow_fail_code(rc, NULL);
}

static vow_result_t server_co(vow_loop_t *loop, void *arg) {
    (void)loop;
    vow_server_t *srv = arg;
    vow_stream_t *conns = vow_server_accept(srv);
    vow_outcome_t o;
    int rc = vow_await(vow_stream_next(conns), &o);
    vow_stream_unref(conns);
    if (rc != 0) return vow_rethrow(rc, &o);
    vow_sock_t *s = vow_sock_ref(vow_value_ptr(&o.value));
    vow_outcome_release(&o);
    for (;;) { /* echo until the end */
        if ((rc = vow_await(vow_sock_read(s, 100), &o)) != 0) break;
        const vow_bytes_t *b = vow_value_bytes(&o.value);
        size_t len = b->len;
        rc = len ? vow_await(vow_sock_write(s, b->data, len), NULL) : 0;
        vow_outcome_release(&o);
        if (len == 0 || rc != 0) break;
    }
    vow_sock_unref(s);
    return vow_ok_none();
}

Test(net, await_forms_in_coroutines) {
    vow_loop_t *loop = vow_test_loop();
    vow_server_t *srv;
    VOW_ASSERT_CODE(vow_tcp_listen(loop, "127.0.0.1", 0, NULL, &srv), 0);
    struct co_arg a = {(uint16_t)vow_server_port(srv), 0};
    vow_t *server = vow_async(loop, server_co, srv, NULL);
    vow_outcome_t o;
    run(loop, vow_async(loop, client_co, &a, NULL), &o);
    VOW_ASSERT_STATE(o.state, VOW_FULFILLED);
    VOW_ASSERT_EQ(vow_value_int(&o.value), 3);
    vow_outcome_release(&o);
    expect_ok(loop, server); /* the client's close ends the echo */
    vow_server_close(srv);
    VOW_TEST_END(loop);
}
