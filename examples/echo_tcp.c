/* echo_tcp - an echo server and its clients over real TCP, in one program (issue 17).
 *
 * The server listens on 127.0.0.1, port 0 (the kernel picks a free port: vow_server_port
 * tells which), and serves each connection in a coroutine of its own: read a line, write it
 * back, until the client shuts its side down; then it shuts its own side down. Three
 * clients run at the same time, each sending three lines and reading each echo before the
 * next line; then each half-closes and waits for the server's end of the stream. Once the
 * clients are done, the server closes: its accept stream ends, and it waits for the
 * connections it still serves (a task group) before it reports what it did.
 *
 * The clients run concurrently, so what each one saw is kept and printed afterwards, in
 * client order: the output is the same on every run.
 *
 * Python (asyncio streams)                     vow, await form
 * server = await asyncio.start_server(         vow_tcp_listen(loop, "127.0.0.1", 0, NULL,
 *     handle, "127.0.0.1", 0)                      &srv), and a coroutine that awaits each
 *                                              connection of vow_server_accept(srv)
 * line = await reader.readline()               vow_await(vow_sock_read_until(s, "\n", 1, max))
 * writer.write(line); await writer.drain()     vow_await(vow_sock_write(s, line, len))
 * writer.write_eof()                           vow_await(vow_sock_shutdown(s))
 * r, w = await asyncio.open_connection(h, p)   vow_await(vow_tcp_connect(loop, h, p), &o)
 * server.close(); await server.wait_closed()   vow_server_close(srv), then await the
 *                                              serving coroutine (its task group joined)
 * asyncio.run(main())                          vow_main_async(amain, NULL)
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vow.h"

#define N_CLIENTS 3
#define N_LINES 3
#define MAX_LINE 1024

/* A socket out of an outcome: the value (vow_ptr(socket)) holds one reference, which goes
 * with the outcome; take one of our own first. */
static vow_sock_t *take_sock(vow_outcome_t *o) {
    vow_sock_t *s = vow_sock_ref(vow_value_ptr(&o->value));
    vow_outcome_release(o);
    return s;
}

/* ---- the server ------------------------------------------------------------------------ */
typedef struct {
    vow_server_t *srv;
    int connections; /* accepted */
    int lines;       /* echoed, over all connections */
} server_t;

typedef struct {
    server_t *server;
    vow_sock_t *sock; /* owned: closed when the handler ends */
} conn_t;

static void conn_free(void *arg) {
    conn_t *c = arg;
    vow_sock_unref(c->sock);
    free(c);
}

/* How a handler ends after a failed await: a cancellation is handed on (the program is
 * ending); any other failure ends this connection only (its socket closes with the
 * handler), never the server: asyncio's start_server logs it and serves on. */
static vow_result_t conn_end(int rc, vow_outcome_t *o) {
    if (rc == VOW_ECANCELED) return vow_rethrow(rc, o);
    vow_outcome_release(o);
    return vow_ok_none();
}

/* async def handle(reader, writer): one connection, until the client's end of stream */
static vow_result_t echo_conn(vow_loop_t *loop, void *arg) {
    (void)loop;
    conn_t *c = arg;
    vow_outcome_t o;
    int rc;
    while ((rc = vow_await(vow_sock_read_until(c->sock, "\n", 1, MAX_LINE), &o)) == 0) {
        const vow_bytes_t *line = vow_value_bytes(&o.value);
        vow_t *w = vow_sock_write(c->sock, line->data, line->len); /* copies the bytes */
        vow_outcome_release(&o);
        if ((rc = vow_await(w, &o)) != 0) return conn_end(rc, &o);
        vow_outcome_release(&o);
        c->server->lines++;
    }
    if (rc != VOW_EEOF) return conn_end(rc, &o);
    vow_outcome_release(&o); /* the client shut its side down: no more lines */
    /* write_eof: the echoes still buffered go out first, then the client reads the end */
    rc = vow_await(vow_sock_shutdown(c->sock), &o);
    return conn_end(rc, &o);
}

/* The accept loop: one handler per connection, in a task group, until the server closes;
 * then waits for the handlers still running. Fulfils with nothing; the counts are in
 * *server. */
static vow_result_t serve(vow_loop_t *loop, void *arg) {
    server_t *server = arg;
    vow_stream_t *conns = vow_server_accept(server->srv);
    vow_task_group_t *group = vow_task_group_new(loop);
    if (conns == NULL || group == NULL) {
        vow_stream_unref(conns);
        vow_task_group_unref(group);
        return vow_fail_code(VOW_ENOMEM, NULL);
    }
    vow_outcome_t it;
    int rc;
    while ((rc = vow_await_next(conns, &it)) > 0) {
        conn_t *c = malloc(sizeof *c);
        if (c == NULL) {
            vow_outcome_release(&it);
            continue; /* the connection closes: its last reference went */
        }
        c->server = server;
        c->sock = take_sock(&it);
        server->connections++;
        vow_task_group_add(group, vow_async(loop, echo_conn, c, conn_free));
    }
    vow_stream_unref(conns);
    vow_outcome_t o;
    int jrc = vow_await(vow_task_group_join(group), &o); /* the connections in flight */
    vow_task_group_unref(group);
    if (rc < 0) {
        vow_outcome_release(&o);
        return vow_rethrow(rc, &it); /* the accept stream failed */
    }
    if (jrc != 0) return vow_rethrow(jrc, &o);
    vow_outcome_release(&o);
    return vow_ok_none();
}

/* ---- the clients ----------------------------------------------------------------------- */
typedef struct {
    int id;
    uint16_t port;
    char log[1024]; /* what the client saw, printed by main in client order */
    size_t used;
} client_t;

static void note(client_t *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(c->log + c->used, sizeof c->log - c->used, fmt, ap);
    va_end(ap);
    if (n > 0)
        c->used += (size_t)n < sizeof c->log - c->used ? (size_t)n : sizeof c->log - c->used - 1;
}

/* The bytes of a line without its '\n', for printing. */
static int text_len(const vow_bytes_t *b) {
    size_t n = b->len;
    if (n > 0 && b->data[n - 1] == '\n') n--;
    return (int)n;
}

static vow_result_t client(vow_loop_t *loop, void *arg) {
    client_t *c = arg;
    vow_outcome_t o;
    int rc = vow_await(vow_tcp_connect(loop, "127.0.0.1", c->port), &o);
    if (rc != 0) return vow_rethrow(rc, &o);
    vow_sock_t *s = take_sock(&o);
    for (int k = 1; k <= N_LINES; k++) {
        char line[64];
        int len = snprintf(line, sizeof line, "line %d of client %d\n", k, c->id);
        rc = vow_await(vow_sock_write(s, line, (size_t)len), NULL);
        if (rc != 0) goto fail;
        rc = vow_await(vow_sock_read_until(s, "\n", 1, MAX_LINE), &o);
        if (rc != 0) goto fail_o;
        const vow_bytes_t *echo = vow_value_bytes(&o.value);
        note(c, "client %d: sent \"%.*s\", got back \"%.*s\"\n", c->id, len - 1, line,
             text_len(echo), (const char *)echo->data);
        vow_outcome_release(&o);
    }
    rc = vow_await(vow_sock_shutdown(s), NULL); /* no more lines */
    if (rc != 0) goto fail;
    rc = vow_await(vow_sock_read(s, MAX_LINE), &o); /* the server's end of the stream */
    if (rc != 0) goto fail_o;
    const vow_bytes_t *rest = vow_value_bytes(&o.value);
    note(c, "client %d: %s\n", c->id,
         rest->len == 0 ? "the server closed its side after the last echo" : "unexpected bytes");
    vow_outcome_release(&o);
    vow_sock_unref(s);
    return vow_ok_none();
fail_o:
    vow_sock_unref(s);
    return vow_rethrow(rc, &o);
fail:
    vow_sock_unref(s);
    return vow_fail_code(rc, NULL);
}

/* ---- main ------------------------------------------------------------------------------ */
static vow_result_t amain(vow_loop_t *loop, void *arg) {
    (void)arg;
    server_t server = {0};
    int rc = vow_tcp_listen(loop, "127.0.0.1", 0, NULL, &server.srv);
    if (rc != 0) return vow_fail_code(rc, "listen on 127.0.0.1");
    printf("echo server: listening on 127.0.0.1, on a port the kernel chose\n");
    vow_t *serving = vow_async(loop, serve, &server, NULL);

    client_t clients[N_CLIENTS];
    vow_t *pending[N_CLIENTS];
    for (int i = 0; i < N_CLIENTS; i++) {
        clients[i] = (client_t){.id = i + 1, .port = (uint16_t)vow_server_port(server.srv)};
        pending[i] = vow_async(loop, client, &clients[i], NULL);
    }
    vow_outcome_t o;
    rc = vow_await(vow_all(loop, pending, N_CLIENTS), &o); /* await gather(*clients) */
    if (rc != 0) {
        vow_server_close(server.srv);
        vow_unref(serving);
        return vow_rethrow(rc, &o);
    }
    vow_outcome_release(&o);
    for (int i = 0; i < N_CLIENTS; i++) fputs(clients[i].log, stdout);

    vow_server_close(server.srv); /* server.close(); await server.wait_closed() */
    rc = vow_await(serving, &o);
    if (rc != 0) return vow_rethrow(rc, &o);
    vow_outcome_release(&o);
    printf("echo server: closed after %d connections and %d lines echoed\n", server.connections,
           server.lines);
    return vow_ok_none();
}

int main(void) { return vow_main_async(amain, NULL); }
