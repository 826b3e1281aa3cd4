/* tests/net_helpers.h - socket helpers shared by the socket tests (test_net.c,
 * test_io_review.c):
 *
 * - run_sock(loop, p): runs p, which must fulfil with a socket; one reference to it.
 * - struct pair, pair_open(loop, host, &pr), pair_close(&pr): a connected pair over TCP on
 *   `host` (a server listening there on an ephemeral port, one connection accepted).
 *
 * A file whose every socket wait must be bounded defines NET_TEST_TIMEOUT_MS (a positive
 * number of milliseconds) before it includes this header: run_sock then runs p under a
 * vow_timeout of that length. Without it, run_sock waits as long as p does.
 */
#ifndef VOW_TEST_NET_HELPERS_H
#define VOW_TEST_NET_HELPERS_H

#include <stdint.h>

#include "helpers.h"
#include "vow/net.h"

#ifndef NET_TEST_TIMEOUT_MS
#define NET_TEST_TIMEOUT_MS 0
#endif

/* Runs p, which must fulfil with a socket: one reference to it. */
static inline vow_sock_t *run_sock(vow_loop_t *loop, vow_t *p) {
    vow_outcome_t o;
    cr_assert_not_null(p);
    if (NET_TEST_TIMEOUT_MS > 0) p = vow_timeout(p, NET_TEST_TIMEOUT_MS, 0);
    VOW_ASSERT_CODE(vow_run(loop, p, &o), 0);
    if (o.state == VOW_REJECTED) cr_assert_fail("rejected: %s", vow_error_message(o.error));
    vow_sock_t *s = vow_sock_ref(vow_value_ptr(&o.value));
    cr_assert_not_null(s);
    vow_outcome_release(&o);
    return s;
}

/* A connected pair over TCP on `host` (a server listening there, one connection). */
struct pair {
    vow_server_t *srv;
    vow_stream_t *conns;
    vow_sock_t *c, *s; /* client side, server side */
};

static inline void pair_open(vow_loop_t *loop, const char *host, struct pair *pr) {
    VOW_ASSERT_CODE(vow_tcp_listen(loop, host, 0, NULL, &pr->srv), 0);
    int port = vow_server_port(pr->srv);
    cr_assert(port > 0, "port %d", port);
    pr->conns = vow_server_accept(pr->srv);
    cr_assert_not_null(pr->conns);
    pr->c = run_sock(loop, vow_tcp_connect(loop, host, (uint16_t)port));
    pr->s = run_sock(loop, vow_stream_next(pr->conns));
}

static inline void pair_close(struct pair *pr) {
    vow_sock_unref(pr->c);
    vow_sock_unref(pr->s);
    vow_stream_unref(pr->conns);
    vow_server_close(pr->srv);
}

#endif /* VOW_TEST_NET_HELPERS_H */
