/* bench/net.c - W12a and W12b on vow (issue 17): the TCP echo of bench/bench.h, written as a
 * user would with vow/net.h (vow.h only): vow_tcp_listen and its accept stream,
 * vow_tcp_connect, vow_sock_read / vow_sock_read_exactly and vow_sock_write, in two forms:
 *
 *   callbacks (the default): each step is a reaction (vow_then) that starts the next one.
 *       A write's promise that is fulfilled already when vow_sock_write returns (its bytes
 *       went to the kernel, or the buffer is under its limit) is not waited for through a
 *       reaction: the next step starts at once, as `await writer.drain()` goes on at once
 *       in asyncio when the transport is not paused, and as an await of a settled
 *       promise would (vow_state reads it: no job, no reaction).
 *   coroutines (VOW_BENCH_W12=coro in the environment): vow_async bodies awaiting each read
 *       and each write in a loop, asyncio's streams line for line.
 *
 * The server reads what is there (vow_sock_read, up to 64 KiB), writes it back and reads
 * again once the write's promise fulfils (the write buffer under its limit: back-pressure);
 * at the end of the stream it closes its side. A W12a client writes a message, reads
 * exactly 64 bytes and compares them; a W12b client writes its messages, each when the
 * previous write's promise has fulfilled, and reads (up to 64 KiB at a time) and compares
 * the echo at the same time. The clock and the CPU figures run from just before the first
 * vow_tcp_connect to the settling of the promise the last client resolves once it has
 * every byte back; closing and teardown come after.
 */
#include <stdlib.h>

#include "workloads.h"

typedef struct w12_conn w12_conn;

typedef struct w12_state {
    const bench_args *a;
    vow_loop_t *loop;
    vow_server_t *srv;
    vow_stream_t *accepts;
    uint16_t port;
    int nclients; /* the connections the server accepts (a W12b client with nothing to send
                   * does not connect) */
    int accepted;
    int clients_left;
    int finished; /* the clock stopped: errors from teardown are not the workload's */
    int coro;
    vow_t *done; /* resolved when every client has its bytes back, or at the first error */
    int err;     /* the first error's code, and where it came from */
    const char *what;
    w12_conn *conns[BENCH_W12B_CONNS * 2 + 2];
    int nconns;
} w12_state;

struct w12_conn {
    w12_state *st;
    vow_sock_t *s;
    int k; /* a client's index; -1 for the server's side */
    long sent, msgs;
    uint64_t got, want, bad;
    unsigned char spare[BENCH_W12B_MSG];
};

static void fail(w12_state *st, const char *what, int code) {
    if (st->finished || st->err != 0) return;
    st->err = code != 0 ? code : VOW_EUSER;
    st->what = what;
    vow_resolve(st->done, vow_none());
}

static void client_done(w12_conn *c) {
    if (--c->st->clients_left == 0) vow_resolve(c->st->done, vow_none());
}

static w12_conn *conn_new(w12_state *st, int k) {
    if (st->nconns == (int)(sizeof st->conns / sizeof st->conns[0])) return NULL;
    w12_conn *c = calloc(1, sizeof *c);
    if (c == NULL) return NULL;
    c->st = st;
    c->k = k;
    st->conns[st->nconns++] = c;
    return c;
}

/* Compares what came back at the client's offset, and counts it. */
static void client_check(w12_conn *c, const unsigned char *data, size_t len) {
    const unsigned char *want =
        bench_w12_expect(c->st->a->w == 212 ? c->got * BENCH_W12A_MSG : c->got, c->k);
    if (memcmp(data, want, len) != 0)
        for (size_t i = 0; i < len; i++) c->bad += data[i] != want[i];
}

/* ---- callbacks -------------------------------------------------------------------------- */

static vow_result_t on_err(vow_loop_t *loop, vow_error_t *err, void *ctx) {
    (void)loop;
    w12_conn *c = ctx;
    fail(c->st, c->k < 0 ? "the server's side" : "a client", vow_error_code(err));
    return vow_ok_none();
}

/* Arms `fn` on p (consumed) with c; a NULL from vow_then is out of memory. */
static void step(w12_conn *c, vow_t *p, vow_on_ok fn) {
    vow_t *d = vow_then(p, fn, on_err, c, NULL);
    if (d == NULL) fail(c->st, "vow_then", VOW_ENOMEM);
    vow_unref(d); /* the reaction stays: dropping the derived promise cancels nothing */
}

/* 1 when the write's promise p is fulfilled already (p dropped), else 0 (p still ours). */
static int written_now(w12_conn *c, vow_t *p) {
    if (p == NULL) {
        fail(c->st, "vow_sock_write", VOW_ENOMEM);
        vow_unref(p);
        return -1;
    }
    if (vow_state(p) != VOW_FULFILLED) return 0;
    vow_unref(p);
    return 1;
}

/* The server's side. */
static vow_result_t echo_got(vow_loop_t *loop, const vow_value_t *v, void *ctx);
static vow_result_t echo_written(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    (void)v;
    w12_conn *c = ctx;
    step(c, vow_sock_read(c->s, BENCH_W12_READ), echo_got);
    return vow_ok_none();
}
static vow_result_t echo_got(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    w12_conn *c = ctx;
    const vow_bytes_t *b = vow_value_bytes(v);
    if (b->len == 0) { /* the client closed: so does the server */
        vow_sock_close(c->s);
        return vow_ok_none();
    }
    vow_t *w = vow_sock_write(c->s, b->data, b->len);
    int now = written_now(c, w);
    if (now == 1) return echo_written(loop, NULL, c);
    if (now == 0) step(c, w, echo_written);
    return vow_ok_none();
}

/* A W12a client: write, read exactly 64 bytes back, compare, write the next. */
static vow_result_t pong(vow_loop_t *loop, const vow_value_t *v, void *ctx);
static vow_result_t ping_written(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    (void)v;
    w12_conn *c = ctx;
    step(c, vow_sock_read_exactly(c->s, BENCH_W12A_MSG), pong);
    return vow_ok_none();
}
static void ping(w12_conn *c) {
    const unsigned char *m = bench_w12_message(c->st->a, c->sent++, 0, BENCH_W12A_MSG, c->spare);
    vow_t *w = vow_sock_write(c->s, m, BENCH_W12A_MSG);
    int now = written_now(c, w);
    if (now == 1) ping_written(c->st->loop, NULL, c);
    if (now == 0) step(c, w, ping_written);
}
static vow_result_t pong(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    w12_conn *c = ctx;
    const vow_bytes_t *b = vow_value_bytes(v);
    client_check(c, b->data, b->len);
    if (++c->got == c->want)
        client_done(c);
    else
        ping(c);
    return vow_ok_none();
}

/* A W12b client: a writer and a reader on one socket. */
static vow_result_t stream_written(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    (void)v;
    w12_conn *c = ctx;
    while (c->sent < c->msgs) {
        const unsigned char *m =
            bench_w12_message(c->st->a, c->sent++, c->k, BENCH_W12B_MSG, c->spare);
        vow_t *w = vow_sock_write(c->s, m, BENCH_W12B_MSG);
        int now = written_now(c, w);
        if (now == 0) step(c, w, stream_written);
        if (now != 1) break;
    }
    return vow_ok_none();
}
static vow_result_t stream_got(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    w12_conn *c = ctx;
    const vow_bytes_t *b = vow_value_bytes(v);
    if (b->len == 0) {
        fail(c->st, "a client: the server closed early", VOW_ECONNRESET);
        return vow_ok_none();
    }
    client_check(c, b->data, b->len);
    c->got += b->len;
    if (c->got >= c->want)
        client_done(c);
    else
        step(c, vow_sock_read(c->s, BENCH_W12_READ), stream_got);
    return vow_ok_none();
}

static vow_result_t connected(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    w12_conn *c = ctx;
    c->s = vow_sock_ref(vow_value_ptr(v));
    if (c->st->a->w == 212) {
        ping(c);
    } else {
        step(c, vow_sock_read(c->s, BENCH_W12_READ), stream_got);
        stream_written(loop, NULL, c);
    }
    return vow_ok_none();
}

static vow_result_t accepted(vow_loop_t *loop, const vow_value_t *v, void *ctx);
static void accept_next(w12_state *st) {
    vow_t *d = vow_then(vow_stream_next(st->accepts), accepted, on_err, st->conns[0], NULL);
    if (d == NULL) fail(st, "vow_then", VOW_ENOMEM);
    vow_unref(d);
}
static vow_result_t accepted(vow_loop_t *loop, const vow_value_t *v, void *ctx) {
    (void)loop;
    w12_state *st = ((w12_conn *)ctx)->st;
    if (vow_stream_is_end(v)) {
        fail(st, "the accept stream ended", VOW_ECLOSED);
        return vow_ok_none();
    }
    w12_conn *c = conn_new(st, -1);
    if (c == NULL) {
        fail(st, "the server's connection", VOW_ENOMEM);
        return vow_ok_none();
    }
    c->s = vow_sock_ref(vow_value_ptr(v));
    step(c, vow_sock_read(c->s, BENCH_W12_READ), echo_got);
    if (++st->accepted < st->nclients) accept_next(st);
    return vow_ok_none();
}

/* ---- coroutines ------------------------------------------------------------------------- */

/* Awaits p; 0 and the value in *o, or records the error and returns it. */
static int await_ok(w12_conn *c, vow_t *p, vow_outcome_t *o, const char *what) {
    int rc = vow_await(p, o);
    if (rc != 0) {
        fail(c->st, what, rc);
        vow_outcome_release(o);
    }
    return rc;
}

static vow_result_t echo_body(vow_loop_t *loop, void *arg) {
    (void)loop;
    w12_conn *c = arg;
    for (;;) {
        vow_outcome_t o;
        if (await_ok(c, vow_sock_read(c->s, BENCH_W12_READ), &o, "the server's read") != 0) break;
        const vow_bytes_t *b = vow_value_bytes(&o.value);
        if (b->len == 0) {
            vow_outcome_release(&o);
            vow_sock_close(c->s);
            break;
        }
        vow_t *w = vow_sock_write(c->s, b->data, b->len);
        vow_outcome_release(&o);
        if (await_ok(c, w, &o, "the server's write") != 0) break;
        vow_outcome_release(&o);
    }
    return vow_ok_none();
}

static vow_result_t accept_body(vow_loop_t *loop, void *arg) {
    w12_state *st = arg;
    while (st->accepted < st->nclients) {
        vow_outcome_t o;
        if (await_ok(st->conns[0], vow_stream_next(st->accepts), &o, "accept") != 0) break;
        w12_conn *c = vow_stream_is_end(&o.value) ? NULL : conn_new(st, -1);
        if (c == NULL) {
            fail(st, "accept", vow_stream_is_end(&o.value) ? VOW_ECLOSED : VOW_ENOMEM);
            vow_outcome_release(&o);
            break;
        }
        c->s = vow_sock_ref(vow_value_ptr(&o.value));
        vow_outcome_release(&o);
        st->accepted++;
        vow_unref(vow_async(loop, echo_body, c, NULL));
    }
    return vow_ok_none();
}

static vow_result_t writer_body(vow_loop_t *loop, void *arg) {
    (void)loop;
    w12_conn *c = arg;
    while (c->sent < c->msgs) {
        vow_outcome_t o;
        const unsigned char *m =
            bench_w12_message(c->st->a, c->sent++, c->k, BENCH_W12B_MSG, c->spare);
        if (await_ok(c, vow_sock_write(c->s, m, BENCH_W12B_MSG), &o, "a client's write") != 0)
            break;
        vow_outcome_release(&o);
    }
    return vow_ok_none();
}

static vow_result_t client_body(vow_loop_t *loop, void *arg) {
    w12_conn *c = arg;
    w12_state *st = c->st;
    vow_outcome_t o;
    if (await_ok(c, vow_tcp_connect(loop, "127.0.0.1", st->port), &o, "connect") != 0)
        return vow_ok_none();
    c->s = vow_sock_ref(vow_value_ptr(&o.value));
    vow_outcome_release(&o);
    if (st->a->w == 212) {
        while (c->got < c->want) {
            const unsigned char *m =
                bench_w12_message(st->a, c->sent++, 0, BENCH_W12A_MSG, c->spare);
            if (await_ok(c, vow_sock_write(c->s, m, BENCH_W12A_MSG), &o, "a client's write") != 0)
                return vow_ok_none();
            vow_outcome_release(&o);
            if (await_ok(c, vow_sock_read_exactly(c->s, BENCH_W12A_MSG), &o, "a client's read") !=
                0)
                return vow_ok_none();
            const vow_bytes_t *b = vow_value_bytes(&o.value);
            client_check(c, b->data, b->len);
            c->got++;
            vow_outcome_release(&o);
        }
        client_done(c);
        return vow_ok_none();
    }
    vow_t *writer = vow_async(loop, writer_body, c, NULL);
    while (c->got < c->want) {
        if (await_ok(c, vow_sock_read(c->s, BENCH_W12_READ), &o, "a client's read") != 0) break;
        const vow_bytes_t *b = vow_value_bytes(&o.value);
        if (b->len == 0) {
            fail(st, "a client: the server closed early", VOW_ECONNRESET);
            vow_outcome_release(&o);
            break;
        }
        client_check(c, b->data, b->len);
        c->got += b->len;
        vow_outcome_release(&o);
    }
    if (vow_await(writer, NULL) != 0) fail(st, "a client's writer", VOW_EUSER);
    if (c->got >= c->want) client_done(c);
    return vow_ok_none();
}

/* ---- the run ---------------------------------------------------------------------------- */

int bench_w12(const bench_args *a, vow_loop_t *loop) {
    const char *name = bench_workload_of(a->w)->name;
    const char *form = getenv("VOW_BENCH_W12");
    w12_state st = {.a = a, .loop = loop, .coro = form != NULL && strcmp(form, "coro") == 0};
    const int nclients = a->w == 212 ? 1 : BENCH_W12B_CONNS;
    st.nclients = nclients;
    int rc = vow_tcp_listen(loop, "127.0.0.1", 0, NULL, &st.srv);
    if (rc != 0) {
        fprintf(stderr, "W%s vow: vow_tcp_listen: %s\n", name, vow_strerror(rc));
        return BENCH_EXIT_ERROR;
    }
    st.port = (uint16_t)vow_server_port(st.srv);
    st.accepts = vow_server_accept(st.srv);
    st.done = vow_new(loop);
    /* conns[0] is a placeholder the accept loop reports its errors through */
    if (st.accepts == NULL || st.done == NULL || conn_new(&st, -2) == NULL) {
        fprintf(stderr, "W%s vow: out of memory\n", name);
        rc = BENCH_EXIT_ERROR;
        goto out;
    }
    bench_w12_pattern();

    uint64_t u0, s0, u1, s1, t0 = bench_wall_ns(), want_total = 0;
    bench_cpu_split_ns(&u0, &s0);
    st.clients_left = st.nclients;
    if (st.coro)
        vow_unref(vow_async(loop, accept_body, &st, NULL));
    else
        accept_next(&st);
    for (int k = 0; k < nclients && st.err == 0; k++) {
        w12_conn *c = conn_new(&st, k);
        if (c == NULL) {
            fail(&st, "a client", VOW_ENOMEM);
            break;
        }
        c->msgs = a->w == 212 ? a->n : bench_w12b_count(a, k);
        c->want = a->w == 212 ? (uint64_t)a->n : (uint64_t)c->msgs * BENCH_W12B_MSG;
        want_total += c->want;
        if (c->want == 0) { /* a W12b connection with nothing to send */
            st.nclients--;
            client_done(c);
            continue;
        }
        if (st.coro)
            vow_unref(vow_async(loop, client_body, c, NULL));
        else
            step(c, vow_tcp_connect(loop, "127.0.0.1", st.port), connected);
    }
    vow_outcome_t out;
    int run_rc = vow_run(loop, vow_ref(st.done), &out);
    bench_cpu_split_ns(&u1, &s1);
    uint64_t t1 = bench_wall_ns();
    st.finished = 1;
    if (run_rc == 0) vow_outcome_release(&out);

    /* Teardown: the clients close, the server's sides read the end and close too. */
    vow_server_close(st.srv);
    st.srv = NULL;
    for (int i = 0; i < st.nconns; i++)
        if (st.conns[i]->k >= 0 && st.conns[i]->s != NULL) vow_sock_close(st.conns[i]->s);
    vow_loop_run(loop, VOW_RUN_DEFAULT);

    if (run_rc != 0) {
        fprintf(stderr, "W%s vow: vow_run failed: %s\n", name, vow_strerror(run_rc));
        rc = BENCH_EXIT_ERROR;
    } else if (st.err != 0) {
        fprintf(stderr, "W%s vow: %s: %s\n", name, st.what, vow_strerror(st.err));
        rc = BENCH_EXIT_ERROR;
    } else {
        uint64_t got = 0, bad = 0;
        for (int i = 0; i < st.nconns; i++)
            if (st.conns[i]->k >= 0) {
                got += st.conns[i]->got;
                bad += st.conns[i]->bad;
            }
        if ((rc = bench_w12_check(a, got, want_total, bad)) == 0)
            bench_w12_report(a, t1 - t0, u1 - u0, s1 - s0);
    }
out:
    for (int i = 0; i < st.nconns; i++) {
        vow_sock_unref(st.conns[i]->s);
        free(st.conns[i]);
    }
    vow_unref(st.done);
    vow_stream_unref(st.accepts);
    vow_server_close(st.srv);
    return rc;
}
