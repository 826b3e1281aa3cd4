#define _POSIX_C_SOURCE 200809L
/* src/workers.c - a loop's thread pool (src/internal.h, "other threads").
 *
 * Made on first use: `threads_wanted` workers (default: the number of online cores, at
 * least 4), started with every asynchronous signal blocked (they inherit the mask of the
 * thread that creates them), so signals go to the application's threads. One queue of tasks under one
 * mutex, doubly linked so that a queued task is cancelled in O(1); a worker takes the
 * first, runs it outside the lock, marks it done under the lock and posts it to the loop's
 * mailbox after letting go of the lock (the post may wake the loop: no submit waits behind
 * that). At teardown the queued tasks are dropped, the running ones see their cancel flag,
 * and every worker is joined before vow_loop_free returns.
 *
 * Wakeups cost more than an empty job (a futex call, then a thread switch, often on a core
 * that was idle), so the pool saves them three ways:
 *
 *   - Counted. `awake` counts the workers that are neither running a task nor asleep. A
 *     worker is woken only while more tasks are queued than awake workers will take. Each
 *     sleeper waits on its own condition variable on a stack of sleepers; the waker takes the
 *     top one off, marks it woken and counts it awake at once, so a burst of submits wakes
 *     each sleeper once and a spurious wakeup is told apart.
 *   - Deferred to the end of the loop's pass. A submit wakes a worker at once only when every
 *     worker sleeps (none awake, none running: nobody else would come for the task).
 *     Otherwise a worker is coming back (one running finishes, one awake looks), and the
 *     wakeups are left to `flush`, a prepare watcher of the lowest priority (after loop.c's
 *     prepare has drained the microtasks, which submit too): before the loop's thread blocks
 *     it wakes as many sleepers as tasks are still queued beyond the awake workers. So a job
 *     whose completion's reaction submits the next, as the pool hands back one job after
 *     another, costs no wakeup while a worker keeps up, and a burst of long jobs still has
 *     every worker on it by the end of the pass that submitted it.
 *   - A brief spin. A worker that finds the queue empty looks again, giving up its core
 *     (sched_yield) between looks, for up to SPIN_NS before it sleeps; one worker at a time.
 *     When the loop's thread submits the next job as each one lands, that worker takes it
 *     without sleeping and without anybody waking it. Yielding, not a pause loop: on a
 *     machine with fewer cores than threads the spinner would otherwise hold the core the
 *     loop's thread needs to submit; with the core to itself, a yield returns at once.
 *
 * No lost wakeup: a worker sleeps only under the lock after finding the queue empty, and
 * every awake worker looks at the queue again under the lock before it sleeps. A submit
 * under the same lock either wakes a sleeper itself (all asleep), or some worker is running
 * or awake and comes back to the queue, and flush wakes sleepers for what is left before the
 * loop's thread blocks.
 */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include "internal.h"

/* How long an idle worker keeps looking for the next task before it sleeps. */
#define SPIN_NS 20000

struct worker {
    struct vow__workers *pool;
    pthread_t thread;
    pthread_cond_t cv;
    struct worker *next_sleeper; /* on the stack of sleepers, under the pool's mu */
    int woken;                   /* under mu: taken off the stack by a waker */
};

struct vow__workers {
    pthread_mutex_t mu;
    vow__task *head, *tail; /* queued, under mu */
    struct {
        vow__task *head, *tail;
    } running;               /* running (linked through next/prev), under mu */
    unsigned queued;         /* tasks queued: written under mu, read without it by a spinner */
    unsigned awake;          /* workers neither running a task nor asleep, under mu */
    int spinning;            /* under mu: a worker spins (at most one) */
    struct worker *sleepers; /* under mu */
    int stop;                /* under mu */
    int deferred;            /* loop thread: flush has wakeups to consider */
    ev_prepare flush;        /* loop thread: started with the pool, unref'd */
    vow__mailbox *mailbox;   /* one reference */
    unsigned n;
    struct worker *workers;
};

static void set_queued(struct vow__workers *w, unsigned n) {
    __atomic_store_n(&w->queued, n, __ATOMIC_RELAXED);
}

static void unlink_task(struct vow__workers *w, vow__task *t) {
    VOW__DLIST_UNLINK(w, t);
    set_queued(w, w->queued - 1);
}

/* Under mu: if more tasks are queued than awake workers will take, takes a sleeper off the
 * stack, counts it awake and signals it. */
static int wake_one(struct vow__workers *w) {
    struct worker *s = w->sleepers;
    if (s == NULL || w->queued <= w->awake) return 0;
    w->sleepers = s->next_sleeper;
    s->woken = 1;
    w->awake++;
    pthread_cond_signal(&s->cv);
    return 1;
}

/* The mailbox closes only after every worker is joined: this post cannot fail. After it,
 * t is the loop thread's: nothing here touches it again. */
static void post(struct vow__workers *w, vow__task *t) {
    if (t != NULL) (void)vow__mailbox_post(w->mailbox, &t->x);
}

/* Without the lock: looks at the queue's length until it is not 0 or SPIN_NS have passed. */
static void spin_for_task(struct vow__workers *w) {
    uint64_t start = vow__clock_ns();
    while (__atomic_load_n(&w->queued, __ATOMIC_RELAXED) == 0 && vow__clock_ns() - start < SPIN_NS)
        sched_yield();
}

static void *worker_main(void *arg) {
    struct worker *me = arg;
    struct vow__workers *w = me->pool;
    vow__task *done = NULL; /* finished, posted once the lock is let go */
    pthread_mutex_lock(&w->mu);
    w->awake++;
    for (;;) {
        if (w->stop) break;
        vow__task *t = w->head;
        if (t != NULL) {
            unlink_task(w, t);
            w->awake--;
            t->state = VOW__TASK_RUNNING;
            VOW__DLIST_PUSH(&w->running, t);
            pthread_mutex_unlock(&w->mu);
            post(w, done);
            t->run(t);
            pthread_mutex_lock(&w->mu);
            VOW__DLIST_UNLINK(&w->running, t);
            t->state = VOW__TASK_DONE;
            w->awake++;
            done = t;
            continue;
        }
        if (done != NULL) { /* nothing queued: post before spinning or sleeping */
            pthread_mutex_unlock(&w->mu);
            post(w, done);
            done = NULL;
            pthread_mutex_lock(&w->mu);
            continue;
        }
        if (!w->spinning) {
            w->spinning = 1;
            pthread_mutex_unlock(&w->mu);
            spin_for_task(w);
            pthread_mutex_lock(&w->mu);
            w->spinning = 0;
            if (w->head != NULL || w->stop) continue;
        }
        /* Asleep: off the awake count, on the stack, until a waker takes it off (and counts
         * it awake again) or the pool stops. */
        w->awake--;
        me->woken = 0;
        me->next_sleeper = w->sleepers;
        w->sleepers = me;
        while (!me->woken && !w->stop) pthread_cond_wait(&me->cv, &w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    post(w, done);
    return NULL;
}

/* Before the loop's thread blocks (after every other prepare watcher of vow's): wakes as
 * many sleepers as tasks are still queued beyond the awake workers. */
static void flush_cb(struct ev_loop *evl, ev_prepare *p, int revents) {
    (void)evl, (void)revents;
    struct vow__workers *w = p->data;
    if (!w->deferred) return;
    w->deferred = 0;
    pthread_mutex_lock(&w->mu);
    while (wake_one(w)) continue;
    pthread_mutex_unlock(&w->mu);
}

static unsigned default_threads(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 4 ? 4 : n > 1024 ? 1024 : (unsigned)n;
}

/* Frees the pool; the condition variables of the first `cvs` workers were made. */
static void workers_free(struct vow__workers *w, unsigned cvs) {
    for (unsigned i = 0; i < cvs; i++) pthread_cond_destroy(&w->workers[i].cv);
    pthread_mutex_destroy(&w->mu);
    if (w->mailbox != NULL) vow__mailbox_unref(w->mailbox);
    vow__free(w->workers);
    vow__free(w);
}

/* Stops and joins the first `started` workers. */
static void workers_join(struct vow__workers *w, unsigned started) {
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    for (unsigned i = 0; i < started; i++) pthread_cond_signal(&w->workers[i].cv);
    pthread_mutex_unlock(&w->mu);
    for (unsigned i = 0; i < started; i++) pthread_join(w->workers[i].thread, NULL);
}

static int mutex_init(pthread_mutex_t *mu) {
    pthread_mutexattr_t a;
    if (pthread_mutexattr_init(&a) != 0) return -1;
#ifdef __GLIBC__
    /* Held for a few instructions at a time: a contender spins a little before it sleeps
     * in the kernel (and costs the holder a futex wake when it lets go). glibc declares
     * the type without _GNU_SOURCE. */
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ADAPTIVE_NP);
#endif
    int rc = pthread_mutex_init(mu, &a);
    pthread_mutexattr_destroy(&a);
    return rc;
}

static int workers_start(vow_loop_t *loop) {
    vow__mailbox *m = vow__mailbox_get(loop);
    if (m == NULL) return VOW_ENOMEM;
    unsigned n = loop->threads_wanted != 0 ? loop->threads_wanted : default_threads();
    struct vow__workers *w = vow__calloc(1, sizeof *w);
    if (w == NULL) return VOW_ENOMEM;
    if ((w->workers = vow__calloc(n, sizeof *w->workers)) == NULL) {
        vow__free(w);
        return VOW_ENOMEM;
    }
    if (mutex_init(&w->mu) != 0) {
        vow__free(w->workers);
        vow__free(w);
        return VOW_ENOMEM;
    }
    unsigned cvs = 0;
    while (cvs < n && pthread_cond_init(&w->workers[cvs].cv, NULL) == 0) cvs++;
    if (cvs < n) {
        workers_free(w, cvs);
        return VOW_ENOMEM;
    }
    vow__mailbox_ref(m);
    w->mailbox = m;
    /* Every signal but the synchronous ones, which a fault in a job raises on its own
     * thread: blocked, the kernel would kill the process without running a handler (a
     * sanitizer's report, the application's crash handler). */
    sigset_t all, old;
    sigfillset(&all);
    static const int faults[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS};
    for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++) sigdelset(&all, faults[i]);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    unsigned started = 0;
    for (; started < n; started++) {
        w->workers[started].pool = w;
        if (pthread_create(&w->workers[started].thread, NULL, worker_main, &w->workers[started]) !=
            0)
            break;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (started == 0) {
        workers_free(w, n);
        return VOW_EAGAIN;
    }
    /* Fewer than asked when the system refused more: still a pool. */
    for (unsigned i = started; i < n; i++) pthread_cond_destroy(&w->workers[i].cv);
    w->n = started;
    ev_prepare_init(&w->flush, flush_cb);
    ev_set_priority(&w->flush, EV_MINPRI);
    w->flush.data = w;
    ev_prepare_start(loop->evl, &w->flush);
    ev_unref(loop->evl); /* jobs in flight keep the loop alive (vow__loop_keep), not this */
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
    set_queued(w, w->queued + 1);
    if (w->awake == 0 && w->running.head == NULL)
        (void)wake_one(w); /* all asleep: nobody else would come for it */
    else if (w->queued > w->awake)
        w->deferred = 1; /* one is coming back, and may take it first: see at the pass's end */
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
    ev_ref(loop->evl);
    ev_prepare_stop(loop->evl, &w->flush);
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
    set_queued(w, 0);
    pthread_mutex_unlock(&w->mu);
    workers_join(w, w->n); /* the running ones finish and post */
    while (dropped != NULL) {
        vow__task *next = dropped->next;
        dropped->x.fn(loop, &dropped->x, VOW__JOB_DROP);
        dropped = next;
    }
    loop->workers = NULL;
    workers_free(w, w->n);
}
