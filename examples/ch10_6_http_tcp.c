/* Section 10.6, "HTTP requests", done as real TCP (issue 17): examples/ch10_6_http.c
 * simulates its requests with sleeps; here a tiny HTTP/1.0 server runs in the same program
 * on 127.0.0.1 (a port the kernel chose), and a client makes six real requests to it, with
 * the chapter's two other tools of section 10.6: a concurrency limit (a semaphore: at most
 * two requests at once, asyncio.Semaphore(2)) and a per-request timeout (vow_timeout,
 * asyncio.wait_for: 500 ms, from the connect to the last byte; the wait for a permit does
 * not count). The server answers each path after a delay of its own (at most 120 ms, far
 * below the timeout, so a slow machine or valgrind changes nothing); /slow answers after
 * 5 s, so its request times out and its client closes the connection.
 *
 * The results are kept per request and printed in request order once every request has
 * finished, so the output is the same on every run.
 *
 * Python (asyncio streams)                     vow, await form
 * reader.readuntil(b"\r\n\r\n")                vow_sock_read_until(s, "\r\n\r\n", 4, max)
 * reader.readexactly(n)                        vow_sock_read_exactly(s, n)
 * await asyncio.sleep(delay)                   vow_await(vow_sleep(loop, ms), NULL)
 * async with semaphore:                        vow_await(vow_sem_acquire(sem)) ...
 *                                              vow_sem_release(sem) on every path
 * await asyncio.wait_for(get(path), 0.5)       vow_await(vow_timeout(vow_async(loop,
 *                                              http_get, req, NULL), 500, 0), &o):
 *                                              VOW_ETIMEDOUT, and http_get's await was
 *                                              cancelled, so it closed its socket
 * await asyncio.gather(*requests)              vow_await(vow_all(loop, pending, n), &o)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vow.h"

#define LIMIT 2
#define TIMEOUT_MS 500
#define MAX_HEAD 4096

/* ---- the server ------------------------------------------------------------------------ */
typedef struct {
    const char *path;
    uint64_t delay_ms;
    const char *body;
} route_t;

static const route_t routes[] = {
    {"/users", 120, "{\"users\": [\"ada\", \"grace\", \"linus\"]}"},
    {"/posts", 40, "{\"posts\": 12}"},
    {"/comments", 80, "{\"comments\": 48}"},
    {"/photos", 60, "{\"photos\": 7}"},
    {"/slow", 5000, "{\"late\": true}"}, /* far beyond TIMEOUT_MS */
};
#define N_ROUTES (sizeof routes / sizeof routes[0])

typedef struct {
    vow_server_t *srv;
    int requests; /* request heads received */
    int answered; /* responses written */
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

/* How a handler ends after a failed await: a cancellation is handed on (the program is
 * ending); any other failure ends this connection only (its socket closes with the
 * handler), never the server: asyncio's start_server logs it and serves on. */
static vow_result_t conn_end(int rc, vow_outcome_t *o) {
    if (rc == VOW_ECANCELED) return vow_rethrow(rc, o);
    vow_outcome_release(o);
    return vow_ok_none();
}

/* One HTTP/1.0 exchange: the request head, the path's delay, the response, then the end
 * of the stream (HTTP/1.0 closes the connection after one response). */
static vow_result_t handle_http(vow_loop_t *loop, void *arg) {
    conn_t *c = arg;
    vow_outcome_t o;
    int rc = vow_await(vow_sock_read_until(c->sock, "\r\n\r\n", 4, MAX_HEAD), &o);
    if (rc != 0) return conn_end(rc, &o);
    char path[256] = "";
    const vow_bytes_t *head = vow_value_bytes(&o.value);
    int ok = sscanf((const char *)head->data, "GET %255s HTTP/1.", path) == 1;
    vow_outcome_release(&o);
    c->server->requests++;

    const route_t *route = NULL;
    for (size_t i = 0; ok && i < N_ROUTES; i++)
        if (strcmp(routes[i].path, path) == 0) route = &routes[i];
    rc = vow_await(vow_sleep(loop, route ? route->delay_ms : 10), &o); /* the work */
    if (rc != 0) return conn_end(rc, &o);

    char response[512];
    int len = snprintf(response, sizeof response,
                       "HTTP/1.0 %s\r\nContent-Type: application/json\r\n"
                       "Content-Length: %zu\r\n\r\n%s",
                       route ? "200 OK" : "404 Not Found",
                       strlen(route ? route->body : "{\"error\": \"no such path\"}"),
                       route ? route->body : "{\"error\": \"no such path\"}");
    c->server->answered++;
    rc = vow_await(vow_sock_write(c->sock, response, (size_t)len), &o);
    if (rc == 0) {
        vow_outcome_release(&o);
        rc = vow_await(vow_sock_shutdown(c->sock), &o); /* after the bytes: the end */
    }
    return conn_end(rc, &o); /* a client that gave up closed its end: nothing to tell it */
}

/* The accept loop: a handler per connection (in a task group), until the server closes. */
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
        vow_task_group_add(group, vow_async(loop, handle_http, c, conn_free));
    }
    vow_outcome_release(&it);
    vow_stream_unref(conns);
    int rc = vow_await(vow_task_group_join(group), NULL);
    vow_task_group_unref(group);
    return rc == 0 ? vow_ok_none() : vow_fail_code(rc, NULL);
}

/* ---- the client ------------------------------------------------------------------------ */
typedef struct {
    const char *path;
    uint16_t port;
    int status;      /* 200, 404...; 0 when no response came */
    char reason[32]; /* "OK", "Not Found" */
    char body[128];  /* the response's body */
    int error;       /* the request's failure: VOW_ETIMEDOUT... */
} request_t;

static vow_sem_t *limit;    /* asyncio.Semaphore(LIMIT) */
static int in_flight, most; /* requests holding a permit, and the most at once */

/* The text of `head` right after `name` (a header's value, up to the end of the head), or ""
 * when there is no such header. head is a bytes value's data: '\0'-terminated. */
static const char *header_value(const char *head, const char *name) {
    const char *p = strstr(head, name);
    return p ? p + strlen(name) : "";
}

/* async def get(path): one GET over a connection of its own */
static vow_result_t http_get(vow_loop_t *loop, void *arg) {
    request_t *r = arg;
    vow_outcome_t o;
    int rc = vow_await(vow_tcp_connect(loop, "127.0.0.1", r->port), &o);
    if (rc != 0) return vow_rethrow(rc, &o);
    vow_sock_t *s = vow_sock_ref(vow_value_ptr(&o.value));
    vow_outcome_release(&o);

    char request[512];
    int len =
        snprintf(request, sizeof request, "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", r->path);
    rc = vow_await(vow_sock_write(s, request, (size_t)len), &o);
    if (rc == 0) {
        vow_outcome_release(&o);
        rc = vow_await(vow_sock_read_until(s, "\r\n\r\n", 4, MAX_HEAD), &o);
    }
    if (rc != 0) {         /* a timeout arrives here: the await was cancelled */
        vow_sock_unref(s); /* closes the connection: the server's write will find it gone */
        return vow_rethrow(rc, &o);
    }
    const char *head = (const char *)vow_value_bytes(&o.value)->data;
    sscanf(head, "HTTP/1.%*d %d %31[^\r]", &r->status, r->reason);
    long body_len = strtol(header_value(head, "\r\nContent-Length: "), NULL, 10);
    vow_outcome_release(&o);
    if (body_len > 0) {
        rc = vow_await(vow_sock_read_exactly(s, (size_t)body_len), &o);
        if (rc != 0) {
            vow_sock_unref(s);
            return vow_rethrow(rc, &o);
        }
        const vow_bytes_t *body = vow_value_bytes(&o.value);
        snprintf(r->body, sizeof r->body, "%.*s", (int)body->len, (const char *)body->data);
        vow_outcome_release(&o);
    }
    vow_sock_unref(s);
    return vow_ok_none();
}

/* async def fetch(path): async with limit: return await wait_for(get(path), TIMEOUT) */
static vow_result_t fetch(vow_loop_t *loop, void *arg) {
    request_t *r = arg;
    int rc = vow_await(vow_sem_acquire(limit), NULL);
    if (rc != 0) return vow_fail_code(rc, NULL);
    most = ++in_flight > most ? in_flight : most;
    vow_outcome_t o;
    rc = vow_await(vow_timeout(vow_async(loop, http_get, r, NULL), TIMEOUT_MS, 0), &o);
    in_flight--;
    vow_sem_release(limit);                              /* the end of async with: on every path */
    if (rc == VOW_ECANCELED) return vow_rethrow(rc, &o); /* not ours to swallow */
    r->error = rc;                                       /* 0, VOW_ETIMEDOUT... */
    vow_outcome_release(&o);
    return vow_ok_none();
}

static vow_result_t demo_http(vow_loop_t *loop, void *arg) {
    (void)arg;
    static const char *const paths[] = {"/users",  "/posts", "/comments",
                                        "/photos", "/slow",  "/missing"};
    enum { N = sizeof paths / sizeof paths[0] };

    server_t server = {0};
    int rc = vow_tcp_listen(loop, "127.0.0.1", 0, NULL, &server.srv);
    if (rc != 0) return vow_fail_code(rc, "listen on 127.0.0.1");
    vow_t *serving = vow_async(loop, serve, &server, NULL);
    limit = vow_sem_new(loop, LIMIT);

    printf("%d GET requests to a local HTTP/1.0 server, at most %d at once, %d ms timeout each\n",
           N, LIMIT, TIMEOUT_MS);
    request_t requests[N];
    vow_t *pending[N];
    for (int i = 0; i < N; i++) {
        requests[i] = (request_t){.path = paths[i], .port = (uint16_t)vow_server_port(server.srv)};
        pending[i] = vow_async(loop, fetch, &requests[i], NULL);
    }
    vow_outcome_t o;
    rc = vow_await(vow_all(loop, pending, N), &o); /* await gather(*requests) */
    vow_sem_free(limit);
    vow_server_close(server.srv);
    if (rc != 0) {
        vow_unref(serving);
        return vow_rethrow(rc, &o);
    }
    vow_outcome_release(&o);

    printf("\n=== results ===\n");
    for (int i = 0; i < N; i++) {
        const request_t *r = &requests[i];
        if (r->error == VOW_ETIMEDOUT)
            printf("GET %s: timed out after %d ms\n", r->path, TIMEOUT_MS);
        else if (r->error != 0)
            printf("GET %s: failed: %s\n", r->path, vow_err_name(r->error));
        else
            printf("GET %s: %d %s %s\n", r->path, r->status, r->reason, r->body);
    }
    printf("\nat most %d requests were in flight at once\n", most);
    printf("server: %d requests received, %d answered (the client of /slow gave up first)\n",
           server.requests, server.answered);
    /* The handler of /slow still sleeps: it belongs to `serving`, which the way out of
     * vow_main_async cancels (as asyncio.run cancels the tasks left). */
    vow_unref(serving);
    return vow_ok_none();
}

int main(void) { return vow_main_async(demo_http, NULL); } /* asyncio.run(demo_http()) */
