/* reuseport_threads - one loop per thread, serving one port together (issue 17).
 *
 * Two threads each make a loop of their own (vow_loop_new) and listen on the same port of
 * 127.0.0.1 with VOW_LISTEN_REUSEPORT (SO_REUSEPORT): the kernel spreads the incoming
 * connections between their listening sockets, so a server can run one loop per core with
 * no lock between them. The first thread takes a port the kernel chooses; the second
 * listens on the same one. The main thread, on a loop of its own, runs forty clients; each
 * client's answer names the thread that served it.
 *
 * How the kernel splits the connections differs from run to run (it hashes each
 * connection's addresses and ports), so the program prints only what does not: every
 * client got an answer, the threads' own counts add up to the clients, and each thread
 * served as many connections as the answers that named it. Run it as
 * `reuseport_threads --split` to see the split too.
 *
 * Between the threads: a vow_remote (vow/thread.h) settles a promise of the main loop from
 * a server thread (its port once it listens, its count once it has stopped), and a
 * vow_poster runs a function on a server thread's loop from the main thread (the order to
 * stop: close the server, whose accept stream then ends).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vow.h"

#define N_THREADS 2
#define N_CLIENTS 40
#define MAX_LINE 64

/* ---- the server threads ---------------------------------------------------------------- */
typedef struct {
    int index;            /* 1, 2 */
    uint16_t port;        /* the port to listen on: 0 for the first (the kernel chooses) */
    vow_remote_t *ready;  /* the main loop's: fulfils with vow_int(port) once listening */
    vow_remote_t *done;   /* the main loop's: fulfils with vow_int(connections served) */
    vow_poster_t *poster; /* to this thread's loop; set before `ready` is settled */
    vow_server_t *srv;    /* this thread's */
    int served;
    pthread_t tid;
} worker_t;

/* Settles a remote and drops it (each remote is settled exactly once). */
static void settle(vow_remote_t **r, vow_result_t result) {
    vow_remote_resolve(*r, result);
    vow_remote_free(*r);
    *r = NULL;
}

typedef struct {
    worker_t *w;
    vow_sock_t *sock; /* owned */
} conn_t;

static void conn_free(void *arg) {
    conn_t *c = arg;
    vow_sock_unref(c->sock);
    free(c);
}

/* One connection: "hello N\n" in, "hello N, from thread T\n" out, then the end. A failure
 * ends this connection only; a cancellation is handed on. */
static vow_result_t handle(vow_loop_t *loop, void *arg) {
    (void)loop;
    conn_t *c = arg;
    vow_outcome_t o;
    int rc = vow_await(vow_sock_read_until(c->sock, "\n", 1, MAX_LINE), &o);
    if (rc == 0) {
        const vow_bytes_t *line = vow_value_bytes(&o.value);
        char reply[MAX_LINE + 32];
        int len = snprintf(reply, sizeof reply, "%.*s, from thread %d\n", (int)line->len - 1,
                           (const char *)line->data, c->w->index);
        vow_outcome_release(&o);
        c->w->served++;
        rc = vow_await(vow_sock_write(c->sock, reply, (size_t)len), &o);
    }
    if (rc == 0) {
        vow_outcome_release(&o);
        rc = vow_await(vow_sock_shutdown(c->sock), &o);
    }
    if (rc == VOW_ECANCELED) return vow_rethrow(rc, &o);
    vow_outcome_release(&o);
    return vow_ok_none();
}

/* A server thread's main coroutine: listen, tell the main thread, serve until stopped. */
static vow_result_t worker_serve(vow_loop_t *loop, void *arg) {
    worker_t *w = arg;
    vow_listen_opts_t opts = {.flags = VOW_LISTEN_REUSEPORT};
    int rc = vow_tcp_listen(loop, "127.0.0.1", w->port, &opts, &w->srv);
    if (rc == 0 && (w->poster = vow_poster_new(loop)) == NULL) rc = VOW_ENOMEM;
    if (rc != 0) {
        vow_server_close(w->srv);
        settle(&w->ready, vow_fail_code(rc, "listen with SO_REUSEPORT"));
        settle(&w->done, vow_fail_code(rc, NULL));
        return vow_fail_code(rc, NULL);
    }
    settle(&w->ready, vow_ok_int(vow_server_port(w->srv)));

    vow_stream_t *conns = vow_server_accept(w->srv);
    vow_task_group_t *group = vow_task_group_new(loop);
    vow_outcome_t it;
    while ((rc = vow_await_next(conns, &it)) > 0) {
        conn_t *c = malloc(sizeof *c);
        if (c == NULL) {
            vow_outcome_release(&it);
            continue;
        }
        c->w = w;
        c->sock = vow_sock_ref(vow_value_ptr(&it.value));
        vow_outcome_release(&it);
        vow_task_group_add(group, vow_async(loop, handle, c, conn_free));
    }
    vow_outcome_release(&it);
    vow_stream_unref(conns);
    if (rc == 0) rc = vow_await(vow_task_group_join(group), NULL);
    vow_task_group_unref(group);
    settle(&w->done, rc == 0 ? vow_ok_int(w->served) : vow_fail_code(rc, NULL));
    return vow_ok_none();
}

/* Posted by the main thread, run on the server thread: stop accepting. */
static void stop_worker(vow_loop_t *loop, void *arg) {
    (void)loop;
    worker_t *w = arg;
    vow_server_close(w->srv);
    w->srv = NULL;
}

static void *worker_main(void *arg) {
    worker_t *w = arg;
    vow_loop_t *loop;
    int rc = vow_loop_new(&loop, VOW_BACKEND_AUTO); /* this thread's own loop */
    if (rc != 0) {
        settle(&w->ready, vow_fail_code(rc, "vow_loop_new"));
        settle(&w->done, vow_fail_code(rc, NULL));
        return NULL;
    }
    vow_outcome_t o;
    vow_run_main(loop, vow_async(loop, worker_serve, w, NULL), &o); /* frees the loop */
    vow_outcome_release(&o);
    return NULL;
}

/* ---- the clients (main thread) --------------------------------------------------------- */
typedef struct {
    int id;
    uint16_t port;
    int thread; /* the thread the answer named */
} client_t;

static vow_result_t client(vow_loop_t *loop, void *arg) {
    client_t *c = arg;
    vow_outcome_t o;
    int rc = vow_await(vow_tcp_connect(loop, "127.0.0.1", c->port), &o);
    if (rc != 0) return vow_rethrow(rc, &o);
    vow_sock_t *s = vow_sock_ref(vow_value_ptr(&o.value));
    vow_outcome_release(&o);
    char line[32];
    int len = snprintf(line, sizeof line, "hello %d\n", c->id);
    rc = vow_await(vow_sock_write(s, line, (size_t)len), &o);
    if (rc == 0) {
        vow_outcome_release(&o);
        rc = vow_await(vow_sock_read_until(s, "\n", 1, MAX_LINE + 32), &o);
    }
    vow_sock_unref(s);
    if (rc != 0) return vow_rethrow(rc, &o);
    int id = 0;
    sscanf((const char *)vow_value_bytes(&o.value)->data, "hello %d, from thread %d", &id,
           &c->thread);
    vow_outcome_release(&o);
    if (id != c->id) return vow_fail_code(VOW_EUSER, "an answer to another client");
    return vow_ok_none();
}

/* ---- main ------------------------------------------------------------------------------ */
static vow_result_t amain(vow_loop_t *loop, void *arg) {
    int show_split = *(const int *)arg;
    static worker_t workers[N_THREADS]; /* shared with the threads, which main outlives */
    vow_t *done[N_THREADS] = {0};
    int started = 0, rc = 0;
    uint16_t port = 0;
    vow_outcome_t o = {0};

    /* Start the threads one after the other: the second listens on the first one's port. */
    for (; started < N_THREADS; started++) {
        worker_t *w = &workers[started];
        vow_t *ready = NULL;
        *w = (worker_t){.index = started + 1, .port = port};
        w->ready = vow_remote_new(loop, &ready);
        w->done = vow_remote_new(loop, &done[started]);
        if (w->ready == NULL || w->done == NULL)
            rc = VOW_ENOMEM;
        else if (pthread_create(&w->tid, NULL, worker_main, w) != 0)
            rc = VOW_EAGAIN;
        if (rc != 0) {
            vow_remote_free(w->ready);
            vow_remote_free(w->done);
            vow_unref(ready);
            break;
        }
        if ((rc = vow_await(ready, &o)) != 0) { /* the thread listens, or could not */
            started++;
            break;
        }
        port = (uint16_t)vow_value_int(&o.value);
        vow_outcome_release(&o);
    }
    int named[N_THREADS + 1] = {0}; /* answers naming thread t; [0]: naming none */
    if (rc == 0) {
        printf("%d threads, each with its own loop, listen on one port of 127.0.0.1 "
               "(SO_REUSEPORT)\n",
               N_THREADS);
        client_t clients[N_CLIENTS];
        vow_t *pending[N_CLIENTS];
        for (int i = 0; i < N_CLIENTS; i++) {
            clients[i] = (client_t){.id = i + 1, .port = port};
            pending[i] = vow_async(loop, client, &clients[i], NULL);
        }
        rc = vow_await(vow_all(loop, pending, N_CLIENTS), &o);
        if (rc == 0) {
            vow_outcome_release(&o);
            for (int i = 0; i < N_CLIENTS; i++) {
                int t = clients[i].thread;
                named[t >= 1 && t <= N_THREADS ? t : 0]++;
            }
            printf("%d clients: %d answers, each from thread 1 or thread 2\n", N_CLIENTS,
                   N_CLIENTS - named[0]);
        }
    }

    /* Stop every thread that listens (on every path: a listening server keeps its loop,
     * and so its thread, alive), then count what each served. */
    for (int t = 0; t < started; t++) {
        if (workers[t].poster == NULL) continue; /* it never listened: its loop has ended */
        vow_post(workers[t].poster, stop_worker, &workers[t], NULL);
        vow_poster_free(workers[t].poster);
    }
    int total = 0, agree = 1;
    for (int t = 0; t < started; t++) {
        vow_outcome_t d;
        int trc = vow_await(done[t], &d);
        done[t] = NULL;
        int served = trc == 0 ? (int)vow_value_int(&d.value) : 0;
        vow_outcome_release(&d);
        if (trc != 0 && rc == 0) rc = trc;
        total += served;
        agree = agree && served == named[t + 1];
    }
    if (rc == 0) {
        printf("the threads served %d connections in all\n", total);
        printf("each thread served as many connections as the answers naming it: %s\n",
               agree ? "yes" : "no");
        if (show_split) /* not deterministic: only on request */
            for (int t = 1; t <= N_THREADS; t++)
                printf("thread %d served %d (this split varies from run to run)\n", t, named[t]);
    }
    for (int t = 0; t < started; t++) pthread_join(workers[t].tid, NULL);
    for (int t = 0; t < N_THREADS; t++) vow_unref(done[t]);
    if (rc != 0) return vow_rethrow(rc, &o);
    printf("both threads stopped; their loops are freed\n");
    return vow_ok_none();
}

int main(int argc, char **argv) {
    int show_split = argc > 1 && strcmp(argv[1], "--split") == 0;
    return vow_main_async(amain, &show_split);
}
