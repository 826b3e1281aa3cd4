/* bench/uv_bench.c - W10 and W10r on libuv (issue 15), the comparison for vow's thread pool:
 * what a libuv user writes for the same work. Built only when pkg-config finds libuv
 * (Debian's libuv1-dev, a bench-only dependency: scripts/bench.sh installs it).
 *
 * W10: N empty jobs through uv_queue_work, at most 64 in flight (each after-work callback
 *      submits the next); each job stores its index, the after-work callback checks it.
 * W10r: one settle from another thread: a second thread pushes N (index) records onto a
 *      mutex-protected list and calls uv_async_send; the loop's async callback takes the
 *      list and "settles" each (checks and counts it), as vow's mailbox does.
 *
 *   uv-bench <w10|w10r> [N] [--inject-wrong]
 */
#include <pthread.h>
#include <uv.h>

#include "bench.h"

enum { IN_FLIGHT = 64 };

typedef struct job {
    uv_work_t req;
    long i;
    int64_t value;
} job;

static const bench_args *A;
static uv_loop_t *L;
static job *jobs;
static long next_job, done_jobs, bad;

static void work(uv_work_t *req) {
    job *j = req->data;
    j->value = j->i == 0 && A->inject_wrong ? 1 : j->i;
}

static void submit(void);

static void after(uv_work_t *req, int status) {
    job *j = req->data;
    if (status != 0 || j->value != j->i) bad++;
    done_jobs++;
    if (next_job < A->n) submit();
}

static void submit(void) {
    job *j = &jobs[next_job];
    j->i = next_job++;
    j->req.data = j;
    uv_queue_work(L, &j->req, work, after);
}

static int w10(void) {
    jobs = calloc((size_t)A->n, sizeof *jobs);
    if (jobs == NULL) return BENCH_EXIT_ERROR;
    /* libuv starts its pool with the first job: one before the clock, as for vow. */
    job warm = {.i = 0};
    warm.req.data = &warm;
    long n = A->n;
    uv_queue_work(L, &warm.req, work, NULL);
    uv_run(L, UV_RUN_DEFAULT);
    uint64_t t0 = bench_wall_ns();
    for (int k = 0; k < IN_FLIGHT && next_job < n; k++) submit();
    uv_run(L, UV_RUN_DEFAULT);
    uint64_t ns = bench_wall_ns() - t0;
    free(jobs);
    if (done_jobs != n || bad != 0)
        return bench_wrong(A, "%ld jobs came back, %ld wrong; expected %ld, 0", done_jobs, bad, n);
    bench_report(A, (double)ns / (double)n, (double)ns / 1e6);
    return 0;
}

/* ---- W10r ------------------------------------------------------------------------------ */
typedef struct settle {
    struct settle *next;
    long i;
    int64_t value;
} settle;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static settle *head, *tail;
static uv_async_t wake;
static long seen;

static void on_wake(uv_async_t *h) {
    pthread_mutex_lock(&mu);
    settle *s = head;
    head = tail = NULL;
    pthread_mutex_unlock(&mu);
    while (s != NULL) {
        settle *next = s->next;
        if (s->value != s->i) bad++;
        seen++;
        free(s);
        s = next;
    }
    if (seen == A->n) uv_close((uv_handle_t *)h, NULL);
}

static void *settler(void *arg) {
    (void)arg;
    for (long i = 0; i < A->n; i++) {
        settle *s = malloc(sizeof *s);
        s->next = NULL;
        s->i = i;
        s->value = i == 0 && A->inject_wrong ? 1 : i;
        pthread_mutex_lock(&mu);
        if (tail != NULL)
            tail->next = s;
        else
            head = s;
        tail = s;
        uv_async_send(&wake);
        pthread_mutex_unlock(&mu);
    }
    return NULL;
}

static int w10r(void) {
    uv_async_init(L, &wake, on_wake);
    uint64_t t0 = bench_wall_ns();
    pthread_t th;
    if (pthread_create(&th, NULL, settler, NULL) != 0) return BENCH_EXIT_ERROR;
    uv_run(L, UV_RUN_DEFAULT);
    uint64_t ns = bench_wall_ns() - t0;
    pthread_join(th, NULL);
    if (seen != A->n || bad != 0)
        return bench_wrong(A, "%ld settles seen, %ld wrong; expected %ld, 0", seen, bad, A->n);
    bench_report(A, (double)ns / (double)A->n, (double)ns / 1e6);
    return 0;
}

int main(int argc, char **argv) {
    bench_args a;
    if (bench_parse(argc, argv, "libuv", &a) != 0) return BENCH_EXIT_USAGE;
    if (a.w != 10 && a.w != 110) return bench_unsupported(&a);
    A = &a;
    L = uv_default_loop();
    int rc = a.w == 10 ? w10() : w10r();
    uv_loop_close(L);
    return rc;
}
