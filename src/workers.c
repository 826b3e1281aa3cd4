#define _POSIX_C_SOURCE 200809L
/* src/workers.c - a loop's thread pool (src/internal.h, "other threads").
 *
 * Made on first use: `threads_wanted` workers (default: the number of online cores, at
 * least 4), started with every asynchronous signal blocked (they inherit the mask of the
 * thread that creates them), so signals go to the application's threads. One queue of tasks under one
 * mutex, doubly linked so that a queued task is cancelled in O(1); a worker takes the
 * first, runs it outside the lock, marks it done and posts it to the loop's mailbox. At
 * teardown the queued tasks are dropped, the running ones see their cancel flag, and every
 * worker is joined before vow_loop_free returns.
 */
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include "internal.h"

struct vow__workers {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    vow__task *head, *tail; /* queued, under mu */
    struct {
        vow__task *head, *tail;
    } running;             /* running (linked through next/prev), under mu */
    int stop;              /* under mu */
    vow__mailbox *mailbox; /* one reference */
    unsigned n;
    pthread_t *threads;
};

static void unlink_task(struct vow__workers *w, vow__task *t) { VOW__DLIST_UNLINK(w, t); }

static void *worker_main(void *arg) {
    struct vow__workers *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (w->head == NULL && !w->stop) pthread_cond_wait(&w->cv, &w->mu);
        if (w->stop) break;
        vow__task *t = w->head;
        unlink_task(w, t);
        t->state = VOW__TASK_RUNNING;
        VOW__DLIST_PUSH(&w->running, t);
        pthread_mutex_unlock(&w->mu);
        t->run(t);
        pthread_mutex_lock(&w->mu);
        VOW__DLIST_UNLINK(&w->running, t);
        t->state = VOW__TASK_DONE;
        /* The mailbox closes only after every worker is joined: this post cannot fail. */
        (void)vow__mailbox_post(w->mailbox, &t->x);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static unsigned default_threads(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 4 ? 4 : n > 1024 ? 1024 : (unsigned)n;
}

static void workers_free(struct vow__workers *w) {
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    if (w->mailbox != NULL) vow__mailbox_unref(w->mailbox);
    vow__free(w->threads);
    vow__free(w);
}

/* Stops and joins the first `started` workers. */
static void workers_join(struct vow__workers *w, unsigned started) {
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    for (unsigned i = 0; i < started; i++) pthread_join(w->threads[i], NULL);
}

static int workers_start(vow_loop_t *loop) {
    vow__mailbox *m = vow__mailbox_get(loop);
    if (m == NULL) return VOW_ENOMEM;
    unsigned n = loop->threads_wanted != 0 ? loop->threads_wanted : default_threads();
    struct vow__workers *w = vow__calloc(1, sizeof *w);
    if (w == NULL) return VOW_ENOMEM;
    if ((w->threads = vow__calloc(n, sizeof *w->threads)) == NULL) {
        vow__free(w);
        return VOW_ENOMEM;
    }
    if (pthread_mutex_init(&w->mu, NULL) != 0) {
        vow__free(w->threads);
        vow__free(w);
        return VOW_ENOMEM;
    }
    if (pthread_cond_init(&w->cv, NULL) != 0) {
        pthread_mutex_destroy(&w->mu);
        vow__free(w->threads);
        vow__free(w);
        return VOW_ENOMEM;
    }
    vow__mailbox_ref(m);
    w->mailbox = m;
    w->n = n;
    /* Every signal but the synchronous ones, which a fault in a job raises on its own
     * thread: blocked, the kernel would kill the process without running a handler (a
     * sanitizer's report, the application's crash handler). */
    sigset_t all, old;
    sigfillset(&all);
    static const int faults[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS};
    for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++) sigdelset(&all, faults[i]);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    unsigned started = 0;
    while (started < n && pthread_create(&w->threads[started], NULL, worker_main, w) == 0)
        started++;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (started == 0) {
        workers_free(w);
        return VOW_EAGAIN;
    }
    w->n = started; /* fewer than asked when the system refused more: still a pool */
    loop->workers = w;
    return 0;
}

int vow__task_submit(vow_loop_t *loop, vow__task *t) {
    if (loop->workers == NULL) {
        int rc = workers_start(loop);
        if (rc != 0) return rc;
    }
    struct vow__workers *w = loop->workers;
    t->cancelled = 0;
    pthread_mutex_lock(&w->mu);
    t->state = VOW__TASK_QUEUED;
    VOW__DLIST_PUSH(w, t);
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return 0;
}

int vow__task_cancel(vow_loop_t *loop, vow__task *t) {
    struct vow__workers *w = loop->workers;
    int taken = 0;
    pthread_mutex_lock(&w->mu);
    if (t->state == VOW__TASK_QUEUED) {
        unlink_task(w, t);
        t->state = VOW__TASK_DONE;
        taken = 1;
    }
    __atomic_store_n(&t->cancelled, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&w->mu);
    return taken;
}

int vow__loop_set_threads(vow_loop_t *loop, unsigned n) {
    if (n == 0 || n > 1024) return VOW_EINVAL;
    if (loop->workers != NULL) return VOW_EBUSY;
    loop->threads_wanted = n;
    return 0;
}

void vow__workers_teardown(vow_loop_t *loop);
void vow__workers_teardown(vow_loop_t *loop) {
    struct vow__workers *w = loop->workers;
    if (w == NULL) return;
    /* Queued tasks never run: taken out now, dropped on this thread. Running ones are
     * told; the join waits for them. */
    pthread_mutex_lock(&w->mu);
    vow__task *dropped = w->head;
    for (vow__task *t = w->head; t != NULL; t = t->next) {
        t->state = VOW__TASK_DONE;
        __atomic_store_n(&t->cancelled, 1, __ATOMIC_RELEASE);
    }
    for (vow__task *t = w->running.head; t != NULL; t = t->next)
        __atomic_store_n(&t->cancelled, 1, __ATOMIC_RELEASE);
    w->head = w->tail = NULL;
    pthread_mutex_unlock(&w->mu);
    workers_join(w, w->n); /* the running ones finish and post */
    while (dropped != NULL) {
        vow__task *next = dropped->next;
        dropped->x.fn(loop, &dropped->x, VOW__JOB_DROP);
        dropped = next;
    }
    loop->workers = NULL;
    workers_free(w);
}
