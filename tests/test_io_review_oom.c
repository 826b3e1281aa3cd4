/* tests/test_io_review_oom.c - issue 17 asks that "the OOM sweep covers the I/O
 * allocations"; tests/test_io.c sweeps vow/io.h and tests/test_resolve.c the resolver, but
 * nothing swept vow/net.h's sockets and servers. One session (listen, accept stream,
 * connect, write, read_until, read_exactly, read, drain, shutdown, the end of the stream,
 * then a read, a next and a connect left pending for vow_loop_free) runs with each of its
 * allocations failing in turn: every call answers NULL or an error, nothing leaks. Passes
 * at 014e9e6 (pools on and, with VOW_POOL=off, off). */
#include <criterion/criterion.h>
#include <string.h>

#include "helpers.h"
#include "vow/net.h"

TestSuite(io_review_oom, .init = vow_test_setup, .fini = vow_test_teardown, .timeout = 300);

static vow_t *tmo(vow_t *p) { return p != NULL ? vow_timeout(p, 3000, 0) : NULL; }
/* Runs p (may be NULL): 1 when it fulfilled; *val gets its value's pointer ref'd as a socket
 * when want_sock. */
static int run_ok(vow_loop_t *loop, vow_t *p, vow_sock_t **sock) {
    p = tmo(p);
    if (p == NULL) return 0;
    vow_outcome_t o;
    if (vow_run(loop, p, &o) != 0) return 0;
    int ok = o.state == VOW_FULFILLED;
    if (ok && sock != NULL) *sock = vow_sock_ref(vow_value_ptr(&o.value));
    vow_outcome_release(&o);
    return ok;
}

static int net_program(void) {
    vow_loop_t *loop;
    int rc = vow_loop_new(&loop, VOW_BACKEND_AUTO);
    if (rc != 0) return 0;
    vow_set_unhandled_mode(loop, VOW_UNHANDLED_SILENT);
    vow_server_t *srv = NULL;
    vow_stream_t *cs = NULL;
    vow_sock_t *c = NULL, *s = NULL;
    if (vow_tcp_listen(loop, "127.0.0.1", 0, NULL, &srv) != 0) goto out;
    if ((cs = vow_server_accept(srv)) == NULL) goto out;
    vow_t *next = vow_stream_next(cs);
    if (!run_ok(loop, vow_tcp_connect(loop, "127.0.0.1", (uint16_t)vow_server_port(srv)), &c)) {
        vow_unref(next);
        goto out;
    }
    if (!run_ok(loop, next, &s)) goto out;
    (void)run_ok(loop, vow_sock_write(c, "hello\nworld\n", 12), NULL);
    (void)run_ok(loop, vow_sock_read_until(s, "\n", 1, 0), NULL);
    (void)run_ok(loop, vow_sock_read_exactly(s, 3), NULL);
    (void)run_ok(loop, vow_sock_read(s, 100), NULL);
    (void)run_ok(loop, vow_sock_drain(c), NULL);
    (void)run_ok(loop, vow_sock_shutdown(c), NULL);
    (void)run_ok(loop, vow_sock_read(s, 100), NULL);
    vow_t *pend = vow_sock_read(c, 10);
    vow_t *pend2 = vow_stream_next(cs);
    vow_t *pend3 = vow_tcp_connect(loop, "127.0.0.1", (uint16_t)vow_server_port(srv));
    for (int i = 0; i < 5; i++) vow_loop_run(loop, VOW_RUN_NOWAIT);
    vow_unref(pend);
    vow_unref(pend2);
    vow_unref(pend3);
out:
    vow_sock_unref(c);
    vow_sock_unref(s);
    vow_stream_unref(cs);
    vow_server_close(srv);
    vow_loop_free(loop);
    return 0;
}

Test(io_review_oom, every_allocation_of_a_socket_session_fails_once, .timeout = 300) {
    vow_test_reset_counts();
    net_program();
    VOW_ASSERT_EQ(vow_test_live_allocs(), 0L);
    cr_assert_gt(vow_test_alloc_total(), 10, "the session allocates");
    long total = vow_test_alloc_total();
    for (long k = 1; k <= total + 5; k++) {
        vow_test_reset_counts();
        vow_test_fail_at(k);
        net_program();
        vow_test_fail_at(0);
        VOW_ASSERT_EQ(vow_test_live_allocs(), 0L, "N=%ld: allocation(s) leaked", k);
    }
}
