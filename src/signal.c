/* src/signal.c - signal deliveries for the layers above: one ev_signal per signal that has
 * waiters on a loop, shared by them (src/io.h).
 *
 * libev lets one loop at a time watch a signal in the whole process, and asserts when a
 * second one tries. So vow keeps a process-wide table (under a mutex: loops live on many
 * threads) of the loop that watches each signal: a loop claims a signal when its watcher
 * starts and gives it back when it stops; another loop asking meanwhile gets VOW_EBUSY. So
 * does a loop asking for SIGCHLD while libev's default loop exists (libev watches it there
 * for its child watchers).
 *
 * A delivery fires every waiter registered when it is dispatched: the once waiters leave,
 * the repeating ones (a stream's) stay. Deliveries that arrive before the loop dispatches
 * them coalesce into one (libev's, and POSIX's, rule). When the last waiter goes the
 * watcher stops, and libev puts the signal's disposition back to SIG_DFL.
 */
#include <pthread.h>
#include <signal.h>
#include <string.h>

#include "io.h"

#ifndef NSIG
#define NSIG 65
#endif

struct vow__sigrec {
    ev_signal w; /* w.data: the loop */
    vow__io_list waiters;
    vow__io_list *firing; /* the batch being fired (NULL: none) */
    int started;
};

static pthread_mutex_t owners_lock = PTHREAD_MUTEX_INITIALIZER;
static vow_loop_t *owners[NSIG];

int vow__signal_catchable(int signo) {
    if (signo < 1 || signo >= NSIG || signo == SIGKILL || signo == SIGSTOP) return 0;
#if defined(__linux__) && defined(SIGRTMIN)
    /* glibc keeps the first real-time signals for its threads (sigaction refuses them). */
    if (signo > 31 && signo < SIGRTMIN) return 0;
#endif
    return 1;
}

vow_loop_t *vow__signal_owner(int signo) {
    if (signo < 1 || signo >= NSIG) return NULL;
    pthread_mutex_lock(&owners_lock);
    vow_loop_t *l = owners[signo];
    pthread_mutex_unlock(&owners_lock);
    return l;
}

static int claim(vow_loop_t *loop, int signo) {
    int rc = 0;
    pthread_mutex_lock(&owners_lock);
    if (owners[signo] != NULL && owners[signo] != loop)
        rc = VOW_EBUSY;
    else
        owners[signo] = loop;
    pthread_mutex_unlock(&owners_lock);
    return rc;
}

static void unclaim(vow_loop_t *loop, int signo) {
    pthread_mutex_lock(&owners_lock);
    if (owners[signo] == loop) owners[signo] = NULL;
    pthread_mutex_unlock(&owners_lock);
}

static void sig_stop(vow_loop_t *loop, struct vow__sigrec *r) {
    if (!r->started) return;
    /* A delivery caught but not dispatched yet (libev's process-wide pending flag) must not
     * reach the signal's next watcher, which came after it: feeding it here clears the flag
     * (the event fed to this watcher goes with the stop). */
    ev_feed_signal_event(loop->evl, r->w.signum);
    ev_ref(loop->evl);
    ev_signal_stop(loop->evl, &r->w);
    r->started = 0;
    unclaim(loop, r->w.signum);
}

/* Stops the watcher once no waiter is registered or being fired. */
static void sig_update(vow_loop_t *loop, struct vow__sigrec *r) {
    if (r->waiters.head == NULL && (r->firing == NULL || r->firing->head == NULL))
        sig_stop(loop, r);
}

static void sig_cb(struct ev_loop *evl, ev_signal *sw, int revents) {
    (void)evl;
    (void)revents;
    struct vow__sigrec *r = vow__container_of(sw, struct vow__sigrec, w);
    vow_loop_t *loop = sw->data;
    int signo = sw->signum;
    /* The batch: every waiter registered now (one added by a callback waits for the next
     * delivery). A repeating waiter goes back to the list before its callback runs. */
    vow__io_list fire = r->waiters;
    for (vow__io_waiter *w = fire.head; w != NULL; w = w->next) w->list = &fire;
    r->waiters.head = r->waiters.tail = NULL;
    r->firing = &fire;
    vow__io_waiter *w;
    while ((w = fire.head) != NULL) {
        vow__io_list_unlink(w);
        if (w->repeat)
            vow__io_list_push(&r->waiters, w);
        else
            vow__loop_unkeep(loop);
        w->cb(loop, w, signo);
    }
    r->firing = NULL;
    sig_update(loop, r);
    vow__drain(loop);
}

int vow__signal_add(vow_loop_t *loop, vow__io_waiter *w, int signo, int repeat, vow__io_cb cb) {
    if (loop->closed) return VOW_ECLOSED;
    if (!vow__signal_catchable(signo) || cb == NULL || w->list != NULL) return VOW_EINVAL;
#if EV_CHILD_ENABLE
    /* libev's default loop, once made, watches SIGCHLD itself (its child watchers). */
    struct ev_loop *dfl = ev_default_loop_uc_();
    if (signo == SIGCHLD && dfl != NULL && dfl != loop->evl) return VOW_EBUSY;
#endif
    vow__io *io = vow__io_state(loop);
    if (io == NULL) return VOW_ENOMEM;
    if (io->sigs == NULL && (io->sigs = vow__calloc(NSIG, sizeof *io->sigs)) == NULL)
        return VOW_ENOMEM;
    struct vow__sigrec *r = io->sigs[signo];
    if (r == NULL) {
        r = vow__calloc(1, sizeof *r);
        if (r == NULL) return VOW_ENOMEM;
        ev_signal_init(&r->w, sig_cb, signo);
        r->w.data = loop;
        io->sigs[signo] = r;
    }
    if (!r->started) {
        int rc = claim(loop, signo);
        if (rc != 0) return rc;
        ev_signal_start(loop->evl, &r->w);
        ev_unref(loop->evl); /* the waiters keep the loop alive (vow__loop_keep) */
        r->started = 1;
    }
    w->cb = cb;
    w->id = signo;
    w->events = 0;
    w->kind = VOW__IOW_SIGNAL;
    w->repeat = repeat ? 1 : 0;
    vow__io_list_push(&r->waiters, w);
    vow__loop_keep(loop);
    return 0;
}

void vow__signal_remove(vow_loop_t *loop, vow__io_waiter *w) {
    if (w->list == NULL) return;
    vow__assert(w->kind == VOW__IOW_SIGNAL, "a signal waiter");
    vow__io *io = vow__io_peek(loop);
    vow__assert(io != NULL && io->sigs != NULL && io->sigs[w->id] != NULL,
                "a signal waiter's signal has a record");
    struct vow__sigrec *r = io->sigs[w->id];
    vow__io_list_unlink(w);
    vow__loop_unkeep(loop);
    sig_update(loop, r);
}

void vow__signals_teardown(vow_loop_t *loop, vow__io *io) {
    if (io->sigs == NULL) return;
    for (int s = 1; s < NSIG; s++) {
        struct vow__sigrec *r = io->sigs[s];
        if (r == NULL) continue;
        vow__io_waiter *w;
        while ((w = r->waiters.head) != NULL) {
            vow__io_list_unlink(w);
            vow__loop_unkeep(loop);
            w->cb(loop, w, VOW_ECLOSED);
        }
        sig_stop(loop, r);
        ev_clear_pending(loop->evl, &r->w);
    }
    for (int s = 1; s < NSIG; s++) vow__free(io->sigs[s]);
    vow__free(io->sigs);
    io->sigs = NULL;
}

void vow__signals_each(vow_loop_t *loop, vow__io *io, void (*fn)(vow__io_waiter *w, void *ctx),
                       void *ctx) {
    (void)loop;
    if (io->sigs == NULL) return;
    for (int s = 1; s < NSIG; s++)
        if (io->sigs[s] != NULL)
            for (vow__io_waiter *w = io->sigs[s]->waiters.head; w != NULL; w = w->next) fn(w, ctx);
}
