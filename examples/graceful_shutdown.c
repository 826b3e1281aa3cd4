/* graceful_shutdown - a server that stops on SIGINT without dropping what it is doing
 * (issue 17).
 *
 * The server serves connections until SIGINT comes: then it stops accepting (a client
 * connecting afterwards is refused), lets the requests in flight finish and answer, and
 * the program exits 0. So that it runs unattended (in the demo, in the tests), the program
 * sends itself the SIGINT, with kill(getpid(), SIGINT), once its three clients' requests
 * are in flight; pressing Ctrl-C would do the same.
 *
 * While a vow_signal promise waits for SIGINT, libev's handler catches the signal (the
 * default action, ending the process, does not happen); once it has fulfilled, SIGINT's
 * default action is back.
 *
 * Python (asyncio)                             vow, await form
 * loop.add_signal_handler(SIGINT, stop.set)    vow_signal(loop, SIGINT): a promise of the
 * await stop.wait()                            next delivery, awaited
 * server.close()                               vow_server_close(srv): the accept stream
 *                                              ends, the listening socket closes
 * async with TaskGroup() as tg:                the handlers in a vow_task_group; joining it
 *     tg.create_task(handle(r, w))             waits for the requests in flight
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vow.h"

#define N_CLIENTS 3
#define MAX_LINE 256
#define SIGNAL_WAIT_MS 10000 /* a bound, in case the signal never came */

/* Each job's work: long enough that every request is still in flight when SIGINT comes. */
static uint64_t work_ms(int job) { return 200 + 100 * (uint64_t)job; }

/* ---- the server ------------------------------------------------------------------------ */
typedef struct {
    vow_server_t *srv;
    vow_event_t *all_started; /* set once N_CLIENTS requests are in flight */
    int started, in_flight, finished;
} server_t;

typedef struct {
    server_t *server;
    vow_sock_t *sock; /* owned */
} conn_t;

static void conn_free(void *arg) {
    conn_t *c = arg;
    vow_sock_unref(c->sock);
    free(c);
}

/* A failed await ends this connection only; a cancellation is handed on. */
static vow_result_t conn_end(int rc, vow_outcome_t *o) {
    if (rc == VOW_ECANCELED) return vow_rethrow(rc, o);
    vow_outcome_release(o);
    return vow_ok_none();
}

/* One request: "job N\n", N's work, then "job N done\n" and the end of the stream. */
static vow_result_t handle(vow_loop_t *loop, void *arg) {
    conn_t *c = arg;
    server_t *server = c->server;
    vow_outcome_t o;
    int rc = vow_await(vow_sock_read_until(c->sock, "\n", 1, MAX_LINE), &o);
    if (rc != 0) return conn_end(rc, &o);
    int job = 0;
    sscanf((const char *)vow_value_bytes(&o.value)->data, "job %d", &job);
    vow_outcome_release(&o);

    server->in_flight++;
    if (++server->started == N_CLIENTS) vow_event_set(server->all_started);
    rc = vow_await(vow_sleep(loop, work_ms(job)), &o); /* the work: SIGINT comes meanwhile */
    server->in_flight--;
    if (rc != 0) return conn_end(rc, &o);
    server->finished++;

    char reply[64];
    int len = snprintf(reply, sizeof reply, "job %d done\n", job);
    rc = vow_await(vow_sock_write(c->sock, reply, (size_t)len), &o);
    if (rc == 0) {
        vow_outcome_release(&o);
        rc = vow_await(vow_sock_shutdown(c->sock), &o);
    }
    return conn_end(rc, &o);
}

/* The accept loop, until the server closes; then waits for the requests in flight. */
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
    while (vow_await_next(conns, &it) > 0) {
        conn_t *c = malloc(sizeof *c);
        if (c == NULL) {
            vow_outcome_release(&it);
            continue;
        }
        c->server = server;
        c->sock = vow_sock_ref(vow_value_ptr(&it.value));
        vow_outcome_release(&it);
        vow_task_group_add(group, vow_async(loop, handle, c, conn_free));
    }
    vow_outcome_release(&it);
    vow_stream_unref(conns);
    int rc = vow_await(vow_task_group_join(group), NULL); /* the requests in flight */
    vow_task_group_unref(group);
    return rc == 0 ? vow_ok_none() : vow_fail_code(rc, NULL);
}

/* Waits for SIGINT, then stops accepting. */
static vow_result_t on_sigint(vow_loop_t *loop, void *arg) {
    server_t *server = arg;
    vow_outcome_t o;
    int rc = vow_await(vow_timeout(vow_signal(loop, SIGINT), SIGNAL_WAIT_MS, 0), &o);
    if (rc != 0) return vow_rethrow(rc, &o);
    vow_outcome_release(&o);
    printf("SIGINT: the server stops accepting; %d requests in flight go on\n", server->in_flight);
    vow_server_close(server->srv);
    server->srv = NULL;
    return vow_ok_none();
}

/* ---- the clients ----------------------------------------------------------------------- */
typedef struct {
    int job;
    uint16_t port;
    char reply[MAX_LINE];
} client_t;

static vow_result_t client(vow_loop_t *loop, void *arg) {
    client_t *c = arg;
    vow_outcome_t o;
    int rc = vow_await(vow_tcp_connect(loop, "127.0.0.1", c->port), &o);
    if (rc != 0) return vow_rethrow(rc, &o);
    vow_sock_t *s = vow_sock_ref(vow_value_ptr(&o.value));
    vow_outcome_release(&o);
    char line[32];
    int len = snprintf(line, sizeof line, "job %d\n", c->job);
    rc = vow_await(vow_sock_write(s, line, (size_t)len), &o);
    if (rc == 0) {
        vow_outcome_release(&o);
        rc = vow_await(vow_sock_read_until(s, "\n", 1, MAX_LINE), &o);
    }
    vow_sock_unref(s);
    if (rc != 0) return vow_rethrow(rc, &o);
    const vow_bytes_t *reply = vow_value_bytes(&o.value);
    snprintf(c->reply, sizeof c->reply, "%.*s", (int)reply->len - 1, (const char *)reply->data);
    vow_outcome_release(&o);
    return vow_ok_none();
}

/* ---- main ------------------------------------------------------------------------------ */
static vow_result_t amain(vow_loop_t *loop, void *arg) {
    (void)arg;
    server_t server = {0};
    int rc = vow_tcp_listen(loop, "127.0.0.1", 0, NULL, &server.srv);
    if (rc != 0) return vow_fail_code(rc, "listen on 127.0.0.1");
    uint16_t port = (uint16_t)vow_server_port(server.srv);
    server.all_started = vow_event_new(loop);
    printf("server: listening on 127.0.0.1; SIGINT stops it\n");
    vow_t *serving = vow_async(loop, serve, &server, NULL);
    vow_t *stopping = vow_async(loop, on_sigint, &server, NULL); /* watches SIGINT now */

    client_t clients[N_CLIENTS];
    vow_t *pending[N_CLIENTS];
    for (int i = 0; i < N_CLIENTS; i++) {
        clients[i] = (client_t){.job = i + 1, .port = port};
        pending[i] = vow_async(loop, client, &clients[i], NULL);
    }
    vow_t *results = vow_all(loop, pending, N_CLIENTS);

    vow_outcome_t o;
    rc = vow_await(vow_timeout(vow_event_wait(server.all_started), SIGNAL_WAIT_MS, 0), &o);
    if (rc != 0) goto fail;
    printf("%d requests in flight: sending SIGINT to this process\n", server.started);
    kill(getpid(), SIGINT);
    rc = vow_await(stopping, &o); /* the server has stopped accepting */
    stopping = NULL;
    if (rc != 0) goto fail;

    /* a client that comes now finds no server */
    rc = vow_await(vow_tcp_connect(loop, "127.0.0.1", port), &o);
    if (rc == 0)
        printf("a new client: connected (unexpected)\n");
    else
        printf("a new client: %s (%s)\n", vow_err_name(rc), vow_strerror(rc));
    vow_outcome_release(&o);

    rc = vow_await(results, &o); /* the clients of the requests in flight */
    results = NULL;
    if (rc != 0) goto fail;
    vow_outcome_release(&o);
    for (int i = 0; i < N_CLIENTS; i++) printf("client %d: \"%s\"\n", i + 1, clients[i].reply);

    rc = vow_await(serving, &o); /* every handler has finished */
    serving = NULL;
    if (rc != 0) goto fail;
    vow_outcome_release(&o);
    printf("server: %d of %d requests finished after SIGINT, none dropped; exiting 0\n",
           server.finished, server.started);
    vow_event_free(server.all_started);
    return vow_ok_none();
fail:
    vow_server_close(server.srv);
    vow_unref(stopping);
    vow_unref(results);
    vow_unref(serving);
    vow_event_free(server.all_started);
    return vow_rethrow(rc, &o);
}

int main(void) { return vow_main_async(amain, NULL); }
